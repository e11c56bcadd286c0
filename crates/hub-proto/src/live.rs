//! Live voice: an operator's speech relayed to loudspeakers as it is spoken.
//!
//! A live emergency is an emergency bulletin whose loudspeaker entries have
//! [`Part::Live`](crate::Part::Live): no file, the sound arrives as it plays.
//! The hub groups the operator's Opus packets (48 kHz mono, 20 ms each) into
//! short chunks and publishes each chunk once per targeted commune on the
//! loudspeakers' downlink topic, beside the commands. On the wire a chunk is
//! `{"live":"<base64>","body":{…}}`: `live` is the hub's Ed25519 signature
//! over [`LIVE_CONTEXT`] followed by the exact bytes of `body`, the same key
//! commands are signed with, another context so neither verifies as the
//! other.
//!
//! A device takes a chunk ([`LiveGuard`]) only if it verifies, belongs to the
//! stream the device is airing or waiting for now (its plan's live entry)
//! and comes after the last chunk it took of that stream; a gap in the
//! numbers is lost audio, skipped over. The guards of a simulated fleet
//! share their signature checks ([`VerifiedChunks`]), keyed by a chunk's
//! exact bytes.

use std::sync::Arc;

use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine;
use ed25519_dalek::{Signature, Signer, Verifier, VerifyingKey};
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;

use crate::verified::Verified;
use crate::{check_version, CommandSigner, DecodeError};

/// Signed bytes of a chunk start with this.
pub const LIVE_CONTEXT: &[u8] = b"nguon/v1 live\n";

/// Largest chunk a device must accept.
pub const MAX_CHUNK_BYTES: usize = 64 * 1024;

/// How long one Opus packet of a live stream plays.
pub const PACKET_MS: u64 = 20;

/// Every chunk on the wire begins with these bytes (commands begin with
/// `{"sig":`), so a device tells them apart before parsing anything.
const WIRE_PREFIX: &[u8] = b"{\"live\":";

/// The signed part of a chunk.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LiveChunk {
    /// Payload version, [`crate::PROTOCOL_VERSION`].
    pub v: u16,
    /// The stream: the live emergency's bulletin id.
    pub stream: String,
    /// 1, 2, 3… in the order the hub sent the stream's chunks.
    pub seq: u64,
    /// Where the first packet lies in the stream, in milliseconds from its
    /// start ([`PACKET_MS`] per packet).
    pub position_ms: u64,
    /// Opus packets in playing order, each standard padded base64 on the wire.
    #[serde(with = "packets")]
    pub packets: Vec<Vec<u8>>,
    /// The stream ends with this chunk: the airing is over once it has played.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub end: bool,
}

/// Opus packets as base64 strings.
mod packets {
    use super::BASE64;
    use base64::Engine;
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(packets: &[Vec<u8>], serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_seq(packets.iter().map(|p| BASE64.encode(p)))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(
        deserializer: D,
    ) -> Result<Vec<Vec<u8>>, D::Error> {
        let texts = Vec::<String>::deserialize(deserializer)?;
        texts
            .iter()
            .map(|text| BASE64.decode(text).map_err(serde::de::Error::custom))
            .collect()
    }
}

impl LiveChunk {
    /// How long the chunk's packets play.
    pub fn duration_ms(&self) -> u64 {
        self.packets.len() as u64 * PACKET_MS
    }
}

impl CommandSigner {
    /// The wire form of `chunk`, signed with the hub's command key.
    pub fn sign_chunk(&self, chunk: &LiveChunk) -> Vec<u8> {
        let body = serde_json::to_vec(chunk).expect("a LiveChunk always serialises");
        let signature = self.key.sign(&signed_bytes(&body));
        crate::envelope("live", &signature.to_bytes(), &body)
    }
}

fn signed_bytes(body: &[u8]) -> Vec<u8> {
    [LIVE_CONTEXT, body].concat()
}

/// Whether a downlink payload is a live chunk rather than a command.
pub fn is_chunk(payload: &[u8]) -> bool {
    payload.starts_with(WIRE_PREFIX)
}

/// Why a chunk was not taken.
#[derive(Debug, thiserror::Error)]
pub enum LiveRefusal {
    #[error("chunk of {size} bytes is over the {max}-byte limit")]
    TooLarge { size: usize, max: usize },
    #[error("malformed chunk: {0}")]
    Malformed(serde_json::Error),
    #[error("unsupported chunk version {found} (this build speaks {supported})")]
    UnsupportedVersion { found: u16, supported: u16 },
    #[error("signature does not verify")]
    BadSignature,
    /// Not the stream the device airs or waits for now (another emergency's,
    /// one that ended, or none is due).
    #[error("chunk of stream {stream:?}, which this device is not airing")]
    OutOfStream { stream: String },
    #[error("chunk {seq} is not after the last one taken, {last}")]
    Replayed { seq: u64, last: u64 },
}

impl From<DecodeError> for LiveRefusal {
    fn from(error: DecodeError) -> Self {
        match error {
            DecodeError::Malformed(e) => Self::Malformed(e),
            DecodeError::UnsupportedVersion { found, supported } => {
                Self::UnsupportedVersion { found, supported }
            }
        }
    }
}

impl LiveRefusal {
    /// A short, stable name for the kind of refusal, for counters.
    pub fn code(&self) -> &'static str {
        match self {
            Self::TooLarge { .. } => "too_large",
            Self::Malformed(_) => "malformed",
            Self::UnsupportedVersion { .. } => "unsupported_version",
            Self::BadSignature => "bad_signature",
            Self::OutOfStream { .. } => "out_of_stream",
            Self::Replayed { .. } => "replayed",
        }
    }
}

/// A chunk a device took.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Accepted {
    /// Shared with the other guards of a fleet that took the same bytes.
    pub chunk: Arc<LiveChunk>,
    /// Chunks of the stream that never arrived between the previous one
    /// taken and this one: lost audio, skipped.
    pub lost: u64,
}

#[derive(Deserialize)]
struct Envelope<'a> {
    live: String,
    #[serde(borrow)]
    body: &'a RawValue,
}

/// Just the stream of a chunk body.
#[derive(Deserialize)]
struct OfStream<'a> {
    #[serde(borrow)]
    stream: std::borrow::Cow<'a, str>,
}

/// Chunks known to be genuine, shared by the guards of a simulated fleet
/// (see [`crate::verified`]): a chunk is remembered by its exact bytes,
/// signature included, so a chunk differing in any byte from one that
/// verified (a forged chunk with the same number) is checked anew.
pub type VerifiedChunks = Verified<LiveChunk>;

/// A device's side: checks every chunk on its downlink topic.
pub struct LiveGuard {
    hub_key: VerifyingKey,
    /// The stream of the last chunk taken, and that chunk's number.
    last: Option<(String, u64)>,
    verified: Option<VerifiedChunks>,
}

impl LiveGuard {
    pub fn new(hub_key: VerifyingKey) -> Self {
        Self {
            hub_key,
            last: None,
            verified: None,
        }
    }

    /// Shares signature checks (and the chunks read) with the other guards
    /// holding `verified`.
    pub fn sharing(mut self, verified: VerifiedChunks) -> Self {
        self.verified = Some(verified);
        self
    }

    /// Checks a chunk, given the stream the device airs or waits for now
    /// (`None`: no live entry is due, and every chunk is refused). Only a
    /// chunk of that stream has its signature checked, as devices read only
    /// the `to` of commands for others.
    pub fn check(
        &mut self,
        payload: &[u8],
        listening: Option<&str>,
    ) -> Result<Accepted, LiveRefusal> {
        if payload.len() > MAX_CHUNK_BYTES {
            return Err(LiveRefusal::TooLarge {
                size: payload.len(),
                max: MAX_CHUNK_BYTES,
            });
        }
        let remembered = self
            .verified
            .as_ref()
            .and_then(|verified| verified.get(&self.hub_key, payload));
        let chunk = match remembered {
            // Verified and read by another guard: whether it is this
            // device's stream is all that is left before the numbering.
            Some(known) if listening == Some(known.stream.as_str()) => known,
            Some(known) => {
                return Err(LiveRefusal::OutOfStream {
                    stream: known.stream.clone(),
                })
            }
            None => {
                let chunk = Arc::new(self.read(payload, listening)?);
                if let Some(verified) = &self.verified {
                    verified.insert(&self.hub_key, payload, chunk.clone());
                }
                chunk
            }
        };
        let lost = match &self.last {
            Some((stream, last)) if *stream == chunk.stream => {
                if chunk.seq <= *last {
                    return Err(LiveRefusal::Replayed {
                        seq: chunk.seq,
                        last: *last,
                    });
                }
                chunk.seq - last - 1
            }
            // Joining a stream under way: nothing before was meant for it.
            _ => 0,
        };
        self.last = Some((chunk.stream.clone(), chunk.seq));
        Ok(Accepted { chunk, lost })
    }

    /// Reads a payload no guard has checked: the chunk, if it is of the
    /// stream `listening` and its signature verifies.
    fn read(&self, payload: &[u8], listening: Option<&str>) -> Result<LiveChunk, LiveRefusal> {
        let envelope: Envelope = serde_json::from_slice(payload).map_err(LiveRefusal::Malformed)?;
        let body = envelope.body.get().as_bytes();
        check_version(body)?;
        let OfStream { stream } = serde_json::from_slice(body).map_err(LiveRefusal::Malformed)?;
        if listening != Some(stream.as_ref()) {
            return Err(LiveRefusal::OutOfStream {
                stream: stream.into_owned(),
            });
        }
        let signature = BASE64
            .decode(&envelope.live)
            .ok()
            .and_then(|bytes| Signature::from_slice(&bytes).ok())
            .ok_or(LiveRefusal::BadSignature)?;
        self.hub_key
            .verify(&signed_bytes(body), &signature)
            .map_err(|_| LiveRefusal::BadSignature)?;
        serde_json::from_slice(body).map_err(LiveRefusal::Malformed)
    }
}

#[cfg(test)]
mod tests {
    use ed25519_dalek::SigningKey;
    use rand::rngs::OsRng;

    use super::*;
    use crate::PROTOCOL_VERSION;

    const STREAM: &str = "emergency-42";

    fn chunk(seq: u64) -> LiveChunk {
        LiveChunk {
            v: PROTOCOL_VERSION,
            stream: STREAM.into(),
            seq,
            position_ms: (seq - 1) * 200,
            packets: vec![vec![0xf8, 0xff, 0xfe], vec![0xf8, 1, 2, 3]],
            end: false,
        }
    }

    fn setup() -> (CommandSigner, LiveGuard) {
        let signer = CommandSigner::new(SigningKey::generate(&mut OsRng));
        let guard = LiveGuard::new(signer.verifying_key());
        (signer, guard)
    }

    #[test]
    fn a_chunk_round_trips_and_names_its_version() {
        let mut last = chunk(3);
        last.end = true;
        for sent in [chunk(1), last] {
            let json = serde_json::to_vec(&sent).unwrap();
            let read: LiveChunk = serde_json::from_slice(&json).unwrap();
            assert_eq!(read, sent);
            let value: serde_json::Value = serde_json::from_slice(&json).unwrap();
            assert_eq!(value["v"], 1);
            assert_eq!(value["packets"][0], "+P/+");
            assert_eq!(value.get("end").is_some(), sent.end);
        }
        assert_eq!(chunk(1).duration_ms(), 40);
    }

    #[test]
    fn signed_chunks_of_the_stream_are_taken_in_order_and_gaps_counted() {
        let (signer, mut guard) = setup();
        let first = signer.sign_chunk(&chunk(1));
        assert!(is_chunk(&first));
        assert_eq!(guard.check(&first, Some(STREAM)).unwrap().lost, 0);
        let fourth = guard
            .check(&signer.sign_chunk(&chunk(4)), Some(STREAM))
            .unwrap();
        assert_eq!(*fourth.chunk, chunk(4));
        assert_eq!(fourth.lost, 2, "chunks 2 and 3 were lost");
    }

    #[test]
    fn a_device_joining_mid_stream_takes_the_current_chunk() {
        let (signer, mut guard) = setup();
        let joined = guard
            .check(&signer.sign_chunk(&chunk(120)), Some(STREAM))
            .unwrap();
        assert_eq!(joined.lost, 0);
    }

    #[test]
    fn replayed_and_older_chunks_are_refused() {
        let (signer, mut guard) = setup();
        let wire = signer.sign_chunk(&chunk(5));
        guard.check(&wire, Some(STREAM)).unwrap();
        assert!(matches!(
            guard.check(&wire, Some(STREAM)),
            Err(LiveRefusal::Replayed { seq: 5, last: 5 })
        ));
        assert!(matches!(
            guard.check(&signer.sign_chunk(&chunk(4)), Some(STREAM)),
            Err(LiveRefusal::Replayed { seq: 4, last: 5 })
        ));
        assert!(guard
            .check(&signer.sign_chunk(&chunk(6)), Some(STREAM))
            .is_ok());
    }

    #[test]
    fn forged_and_tampered_chunks_are_refused() {
        let (signer, mut guard) = setup();
        let intruder = CommandSigner::new(SigningKey::generate(&mut OsRng));
        let forged = intruder.sign_chunk(&chunk(1));
        let refused = guard.check(&forged, Some(STREAM)).unwrap_err();
        assert_eq!(refused.code(), "bad_signature");

        let wire = String::from_utf8(signer.sign_chunk(&chunk(2))).unwrap();
        let tampered = wire.replace("\"seq\":2", "\"seq\":9");
        assert!(matches!(
            guard.check(tampered.as_bytes(), Some(STREAM)),
            Err(LiveRefusal::BadSignature)
        ));
        // A command's signature over the same body does not make a chunk.
        let body = serde_json::to_string(&chunk(3)).unwrap();
        let unsigned = format!(r#"{{"live":"AAAA","body":{body}}}"#);
        assert!(matches!(
            guard.check(unsigned.as_bytes(), Some(STREAM)),
            Err(LiveRefusal::BadSignature)
        ));
        // Nothing refused moved the guard: chunk 2 is still new.
        assert!(guard
            .check(&signer.sign_chunk(&chunk(2)), Some(STREAM))
            .is_ok());
    }

    #[test]
    fn chunks_of_another_stream_or_none_due_are_refused() {
        let (signer, mut guard) = setup();
        let wire = signer.sign_chunk(&chunk(1));
        for listening in [None, Some("emergency-7")] {
            let refused = guard.check(&wire, listening).unwrap_err();
            assert_eq!(refused.code(), "out_of_stream", "{listening:?}");
        }
        // A new stream starts its own numbering.
        guard.check(&wire, Some(STREAM)).unwrap();
        let mut other = chunk(1);
        other.stream = "emergency-43".into();
        assert!(guard
            .check(&signer.sign_chunk(&other), Some("emergency-43"))
            .is_ok());
    }

    #[test]
    fn unknown_versions_oversize_and_garbage_are_refused() {
        let (signer, mut guard) = setup();
        let mut future = chunk(1);
        future.v = PROTOCOL_VERSION + 1;
        assert!(matches!(
            guard.check(&signer.sign_chunk(&future), Some(STREAM)),
            Err(LiveRefusal::UnsupportedVersion { found: 2, .. })
        ));
        let huge = vec![b' '; MAX_CHUNK_BYTES + 1];
        assert_eq!(
            guard.check(&huge, Some(STREAM)).unwrap_err().code(),
            "too_large"
        );
        assert_eq!(
            guard
                .check(br#"{"live":"x","body":{"v":1}}"#, Some(STREAM))
                .unwrap_err()
                .code(),
            "malformed"
        );
        assert!(!is_chunk(br#"{"sig":"x","body":{}}"#));
    }

    #[test]
    fn guards_sharing_checks_still_refuse_what_was_not_verified() {
        let (signer, first) = setup();
        let verified = VerifiedChunks::default();
        let mut first = first.sharing(verified.clone());
        let mut second = LiveGuard::new(signer.verifying_key()).sharing(verified.clone());
        let wire = signer.sign_chunk(&chunk(7));
        assert_eq!(*first.check(&wire, Some(STREAM)).unwrap().chunk, chunk(7));
        assert_eq!(verified.len(), 1);
        assert_eq!(*second.check(&wire, Some(STREAM)).unwrap().chunk, chunk(7));
        assert_eq!(
            verified.len(),
            1,
            "the second guard used the first one's check"
        );

        // A forged chunk numbered as the verified one: other bytes, checked anew.
        let mut forged_body = chunk(8);
        forged_body.packets = vec![vec![0xf8, 0xde, 0xad]];
        let mut third = LiveGuard::new(signer.verifying_key()).sharing(verified.clone());
        let genuine_eighth = signer.sign_chunk(&chunk(8));
        assert!(first.check(&genuine_eighth, Some(STREAM)).is_ok());
        let intruder = CommandSigner::new(SigningKey::generate(&mut OsRng));
        let forged = intruder.sign_chunk(&forged_body);
        assert_eq!(
            third.check(&forged, Some(STREAM)).unwrap_err().code(),
            "bad_signature"
        );
        // The genuine signature over other bytes of the same number.
        let tampered = String::from_utf8(genuine_eighth.clone())
            .unwrap()
            .replace("+P/+", "+P/9");
        assert_ne!(tampered.as_bytes(), genuine_eighth.as_slice());
        assert_eq!(
            third
                .check(tampered.as_bytes(), Some(STREAM))
                .unwrap_err()
                .code(),
            "bad_signature"
        );
        // Each guard keeps its own stream and numbering.
        assert_eq!(
            second.check(&wire, Some(STREAM)).unwrap_err().code(),
            "replayed"
        );
        assert_eq!(
            third.check(&wire, Some("emergency-7")).unwrap_err().code(),
            "out_of_stream"
        );
        assert!(third.check(&genuine_eighth, Some(STREAM)).is_ok());
        // Another hub's key does not find the first key's entries.
        let mut fooled = LiveGuard::new(intruder.verifying_key()).sharing(verified.clone());
        assert_eq!(
            fooled.check(&wire, Some(STREAM)).unwrap_err().code(),
            "bad_signature"
        );
        assert_eq!(verified.len(), 2, "only what verified is remembered");
    }
}
