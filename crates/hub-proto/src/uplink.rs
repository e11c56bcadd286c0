//! Reports from devices to the hub, each sealed with the device's own key.
//!
//! On the wire a report is `{"mac":"<base64>","body":{…}}`. `mac` is
//! HMAC-SHA256, keyed with the device's uplink key (32 random bytes known only
//! to the device and the hub), over [`UPLINK_CONTEXT`] followed by the exact
//! bytes of `body`. A device can therefore speak only for itself, and the
//! broker's own passwords are not enough to forge a report.

use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine;
use chrono::{DateTime, Utc};
use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;
use sha2::Sha256;

use crate::{check_version, AiringRef, Refusal, PROTOCOL_VERSION};

/// MAC'd bytes start with this, so a MAC made for anything else never checks.
pub const UPLINK_CONTEXT: &[u8] = b"nguon/v1 uplink\n";

/// Largest report the hub reads; anything larger is dropped unread.
pub const MAX_REPORT_BYTES: usize = 16 * 1024;

/// Sequence number of the Last Will: the last word of its session.
pub const WILL_SEQ: u64 = u64::MAX;

/// Most messages one report carries.
pub const MAX_MESSAGES: usize = 32;

/// The MAC'd part of a report.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Report {
    /// Payload version, [`crate::PROTOCOL_VERSION`].
    pub v: u16,
    pub device: String,
    /// Random per connection; starts with a [`Message::Hello`].
    pub session: u64,
    /// Grows within a session; the hub drops what does not.
    pub seq: u64,
    /// The device's clock when its messages arose.
    pub at: DateTime<Utc>,
    /// What arose at `at`, in order: one to [`MAX_MESSAGES`] messages, and a
    /// hello or offline only on its own.
    #[serde(deserialize_with = "messages::deserialize")]
    pub messages: Vec<Message>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Message {
    /// First report of every connection; the hub answers with the device's
    /// settings and current plan.
    Hello {
        firmware: String,
        capabilities: Vec<String>,
        /// Sequence number of the last command the device accepted.
        last_seq: u64,
        /// SHA-256 (hex) of the media files in its cache.
        cached_media: Vec<String>,
    },
    /// Periodic health.
    Status(Status),
    /// The command with this sequence number was accepted.
    Ack { seq: u64 },
    /// A command was refused (bad signature, replayed, expired, malformed).
    Refused {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        seq: Option<u64>,
        /// [`crate::Refusal::code`]: `bad_signature`, `replayed`, `expired`, …
        code: String,
        /// For people: what exactly was wrong.
        reason: String,
    },
    /// Proof of play.
    Played {
        airing: AiringRef,
        outcome: Outcome,
        /// Why an airing [`Outcome::Failed`]; absent otherwise, and from
        /// devices that do not say.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        reason: Option<FailureReason>,
    },
    /// The Last Will, published by the broker when the link dies.
    Offline,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Status {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub playing: Option<AiringRef>,
    pub volume: u8,
    pub power: Power,
    /// Battery charge in percent, when the device has a battery.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub battery_percent: Option<u8>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub faults: Vec<String>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Power {
    Mains,
    Battery,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    Started,
    Finished,
    Preempted,
    Failed,
    /// Stopped on the hub's order: a [`crate::Directive::Stop`], or a new
    /// schedule that no longer holds the airing.
    Stopped,
}

/// Why a device could not play an airing: a stable `snake_case` code.
///
/// A code this hub does not know (from newer firmware) reads as
/// [`FailureReason::Other`], so the proof of play still counts.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FailureReason {
    /// The entry's media file was not in the device's storage when due (not
    /// fetched: refused, no room, out of attempts, or still downloading).
    MediaMissing,
    /// The file arrived with the right size and SHA-256 but is not audio the
    /// device can play (not a valid mono or stereo Ogg Opus stream).
    MediaUndecodable,
    /// The device lost power while it played the airing.
    PowerLoss,
    /// A reason this version of the protocol does not name.
    #[serde(other)]
    Other,
}

impl FailureReason {
    /// The wire code, as in `docs/protocol.md`.
    pub fn code(self) -> &'static str {
        match self {
            Self::MediaMissing => "media_missing",
            Self::MediaUndecodable => "media_undecodable",
            Self::PowerLoss => "power_loss",
            Self::Other => "other",
        }
    }
}

impl std::fmt::Display for FailureReason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.code())
    }
}

impl Report {
    /// A report of one message.
    pub fn new(
        device: impl Into<String>,
        session: u64,
        seq: u64,
        at: DateTime<Utc>,
        message: Message,
    ) -> Self {
        Self::batch(device, session, seq, at, vec![message])
    }

    /// A report of several messages that arose at the same time `at` (a
    /// command's ack and the airing it started, say): one publish instead of
    /// several, which matters on a 4G link and to a hub hearing 10,000
    /// devices at once. The caller keeps to the rules of [`Report::messages`].
    pub fn batch(
        device: impl Into<String>,
        session: u64,
        seq: u64,
        at: DateTime<Utc>,
        messages: Vec<Message>,
    ) -> Self {
        Self {
            v: PROTOCOL_VERSION,
            device: device.into(),
            session,
            seq,
            at,
            messages,
        }
    }

    /// The session's opening hello, if that is what this is.
    pub fn hello(&self) -> Option<&Message> {
        match self.messages.as_slice() {
            [hello @ Message::Hello { .. }] => Some(hello),
            _ => None,
        }
    }

    /// Whether this is the Last Will.
    pub fn is_offline(&self) -> bool {
        self.messages == [Message::Offline]
    }

    /// The wire form, sealed with the device's uplink key.
    pub fn seal(&self, key: &UplinkKey) -> Vec<u8> {
        let body = serde_json::to_vec(self).expect("a Report always serialises");
        crate::envelope("mac", &key.mac(&body).finalize().into_bytes(), &body)
    }
}

/// Reads a report's messages, refusing a report that breaks their rules.
mod messages {
    use serde::de::Error;
    use serde::{Deserialize, Deserializer};

    use super::{Message, MAX_MESSAGES};

    pub fn deserialize<'de, D: Deserializer<'de>>(to: D) -> Result<Vec<Message>, D::Error> {
        let messages = Vec::<Message>::deserialize(to)?;
        if messages.is_empty() {
            return Err(D::Error::custom("a report carries at least one message"));
        }
        if messages.len() > MAX_MESSAGES {
            return Err(D::Error::custom(format_args!(
                "a report carries at most {MAX_MESSAGES} messages, this one {}",
                messages.len()
            )));
        }
        let alone = |m: &Message| matches!(m, Message::Hello { .. } | Message::Offline);
        if messages.len() > 1 && messages.iter().any(alone) {
            return Err(D::Error::custom(
                "a hello or offline message is a report of its own",
            ));
        }
        Ok(messages)
    }
}

/// A device's 32-byte uplink key.
#[derive(Clone, PartialEq, Eq)]
pub struct UplinkKey([u8; 32]);

impl UplinkKey {
    pub fn from_bytes(bytes: [u8; 32]) -> Self {
        Self(bytes)
    }

    /// Standard base64, as in provisioning files.
    pub fn to_text(&self) -> String {
        BASE64.encode(self.0)
    }

    pub fn from_text(text: &str) -> Result<Self, Refusal> {
        BASE64
            .decode(text.trim())
            .ok()
            .and_then(|b| b.try_into().ok())
            .map(Self)
            .ok_or(Refusal::BadKey)
    }

    fn mac(&self, body: &[u8]) -> Hmac<Sha256> {
        let mut mac = Hmac::<Sha256>::new_from_slice(&self.0).expect("HMAC takes any key length");
        mac.update(UPLINK_CONTEXT);
        mac.update(body);
        mac
    }
}

impl std::fmt::Debug for UplinkKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("UplinkKey(…)")
    }
}

/// A report read off the wire whose MAC is not yet checked: the hub needs
/// the claimed device to find the key to check it with.
pub struct SealedReport {
    mac: String,
    body: Vec<u8>,
    report: Report,
}

impl SealedReport {
    pub fn parse(payload: &[u8]) -> Result<Self, Refusal> {
        if payload.len() > MAX_REPORT_BYTES {
            return Err(Refusal::TooLarge {
                size: payload.len(),
                max: MAX_REPORT_BYTES,
            });
        }
        #[derive(Deserialize)]
        struct Envelope<'a> {
            mac: String,
            #[serde(borrow)]
            body: &'a RawValue,
        }
        let envelope: Envelope = serde_json::from_slice(payload).map_err(Refusal::Malformed)?;
        let body = envelope.body.get().as_bytes();
        let report = read_report(body)?;
        Ok(Self {
            mac: envelope.mac,
            body: body.to_vec(),
            report,
        })
    }

    /// The device the report claims to come from.
    pub fn device(&self) -> &str {
        &self.report.device
    }

    /// The report, if `key` sealed it.
    pub fn open(self, key: &UplinkKey) -> Result<Report, Refusal> {
        let mac = BASE64
            .decode(&self.mac)
            .map_err(|_| Refusal::BadSignature)?;
        key.mac(&self.body)
            .verify_slice(&mac)
            .map_err(|_| Refusal::BadSignature)?;
        Ok(self.report)
    }
}

/// Reads a report body in one pass. Only a body that is not this version's
/// report is read again, for its `v`: a report of another version is
/// refused as such, not as malformed.
fn read_report(body: &[u8]) -> Result<Report, Refusal> {
    match serde_json::from_slice::<Report>(body) {
        Ok(report) if report.v == PROTOCOL_VERSION => Ok(report),
        Ok(report) => Err(Refusal::UnsupportedVersion {
            found: report.v,
            supported: PROTOCOL_VERSION,
        }),
        Err(error) => {
            check_version(body)?;
            Err(Refusal::Malformed(error))
        }
    }
}

#[cfg(test)]
mod tests {
    use rand::RngCore;

    use super::*;

    fn key() -> UplinkKey {
        let mut bytes = [0; 32];
        rand::thread_rng().fill_bytes(&mut bytes);
        UplinkKey::from_bytes(bytes)
    }

    fn at(s: &str) -> DateTime<Utc> {
        s.parse().unwrap()
    }

    fn messages() -> Vec<Message> {
        let airing = AiringRef {
            bulletin: "lu-serepok".into(),
            occurrence: 0,
            language: "vi".into(),
        };
        vec![
            Message::Hello {
                firmware: "sim-0.1".into(),
                capabilities: vec!["opus".into()],
                last_seq: 41,
                cached_media: vec!["ab".repeat(32)],
            },
            Message::Status(Status {
                playing: Some(airing.clone()),
                volume: 80,
                power: Power::Battery,
                battery_percent: Some(64),
                faults: vec!["amplifier_hot".into()],
            }),
            Message::Ack { seq: 42 },
            Message::Refused {
                seq: Some(43),
                code: "bad_signature".into(),
                reason: "signature does not verify".into(),
            },
            Message::Played {
                airing: airing.clone(),
                outcome: Outcome::Preempted,
                reason: None,
            },
            Message::Played {
                airing,
                outcome: Outcome::Failed,
                reason: Some(FailureReason::MediaUndecodable),
            },
            Message::Offline,
        ]
    }

    #[test]
    fn every_message_round_trips_sealed() {
        let key = key();
        for (seq, message) in (1..).zip(messages()) {
            let report = Report::new("24611-LS-01", 7, seq, at("2026-11-23T10:40:00Z"), message);
            let sealed = SealedReport::parse(&report.seal(&key)).unwrap();
            assert_eq!(sealed.device(), "24611-LS-01");
            let opened = sealed.open(&key).unwrap();
            assert_eq!(opened.hello().is_some(), seq == 1);
            assert_eq!(opened.is_offline(), seq == 7);
            assert_eq!(opened, report);
        }
    }

    #[test]
    fn messages_that_arose_together_round_trip_in_one_report() {
        let key = key();
        let together: Vec<Message> = messages()
            .into_iter()
            .filter(|m| !matches!(m, Message::Hello { .. } | Message::Offline))
            .collect();
        let report = Report::batch("24611-LS-01", 7, 3, at("2026-11-23T10:40:00Z"), together);
        let opened = SealedReport::parse(&report.seal(&key))
            .unwrap()
            .open(&key)
            .unwrap();
        assert_eq!(opened.messages.len(), 5);
        assert_eq!(opened, report);
        assert!(opened.hello().is_none() && !opened.is_offline());
    }

    #[test]
    fn reports_breaking_the_message_rules_are_malformed() {
        let key = key();
        let when = at("2026-11-23T10:40:00Z");
        let hello = messages().remove(0);
        let cases = [
            (Vec::new(), "at least one message"),
            (vec![hello, Message::Ack { seq: 1 }], "of its own"),
            (
                vec![Message::Ack { seq: 1 }, Message::Offline],
                "of its own",
            ),
            (
                vec![Message::Ack { seq: 1 }; MAX_MESSAGES + 1],
                "at most 32 messages, this one 33",
            ),
        ];
        for (messages, why) in cases {
            let wire = Report::batch("24611-LS-01", 7, 1, when, messages).seal(&key);
            match SealedReport::parse(&wire) {
                Err(Refusal::Malformed(error)) => {
                    assert!(error.to_string().contains(why), "{error}")
                }
                other => panic!("expected malformed ({why}), got {:?}", other.err()),
            }
        }
    }

    #[test]
    fn another_devices_key_does_not_open_a_report() {
        let report = Report::new(
            "24611-LS-01",
            7,
            1,
            at("2026-11-23T10:40:00Z"),
            Message::Offline,
        );
        let sealed = SealedReport::parse(&report.seal(&key())).unwrap();
        assert!(matches!(sealed.open(&key()), Err(Refusal::BadSignature)));
    }

    #[test]
    fn a_report_rewritten_to_claim_another_device_fails() {
        let mine = key();
        let report = Report::new(
            "24611-LS-01",
            7,
            1,
            at("2026-11-23T10:40:00Z"),
            Message::Offline,
        );
        let wire = String::from_utf8(report.seal(&mine)).unwrap();
        let forged = wire.replace("24611-LS-01", "24611-LS-02");
        let sealed = SealedReport::parse(forged.as_bytes()).unwrap();
        assert_eq!(sealed.device(), "24611-LS-02");
        assert!(matches!(sealed.open(&mine), Err(Refusal::BadSignature)));
    }

    #[test]
    fn malformed_and_oversize_reports_are_refused() {
        for bad in [&b"not json"[..], b"{}", br#"{"mac":"x","body":{"v":1}}"#] {
            assert!(
                matches!(SealedReport::parse(bad), Err(Refusal::Malformed(_))),
                "{}",
                String::from_utf8_lossy(bad)
            );
        }
        assert!(matches!(
            SealedReport::parse(br#"{"mac":"x","body":{"v":9}}"#),
            Err(Refusal::UnsupportedVersion { found: 9, .. })
        ));
        let mut future = Report::new(
            "24611-LS-01",
            7,
            1,
            at("2026-11-23T10:40:00Z"),
            Message::Offline,
        );
        future.v = PROTOCOL_VERSION + 1;
        assert!(matches!(
            SealedReport::parse(&future.seal(&key())),
            Err(Refusal::UnsupportedVersion { found, .. }) if found == PROTOCOL_VERSION + 1
        ));
        assert!(matches!(
            SealedReport::parse(&vec![b' '; MAX_REPORT_BYTES + 1]),
            Err(Refusal::TooLarge { .. })
        ));
    }

    #[test]
    fn failure_reasons_are_optional_snake_case_codes_and_unknown_ones_still_read() {
        let played = |json: &str| -> Message { serde_json::from_str(json).unwrap() };
        let airing = r#""airing":{"bulletin":"lu","occurrence":0,"language":"vi"}"#;
        // Before reasons existed: still reads, with none.
        let old = played(&format!(
            r#"{{"type":"played",{airing},"outcome":"failed"}}"#
        ));
        assert!(matches!(old, Message::Played { reason: None, .. }));
        let text = serde_json::to_string(&old).unwrap();
        assert!(!text.contains("reason"), "{text}");
        for reason in [
            FailureReason::MediaMissing,
            FailureReason::MediaUndecodable,
            FailureReason::PowerLoss,
            FailureReason::Other,
        ] {
            let json = serde_json::to_string(&reason).unwrap();
            assert_eq!(json, format!("\"{reason}\""));
            assert_eq!(
                serde_json::from_str::<FailureReason>(&json).unwrap(),
                reason
            );
        }
        let newer = played(&format!(
            r#"{{"type":"played",{airing},"outcome":"failed","reason":"amplifier_burnt"}}"#
        ));
        assert!(matches!(
            newer,
            Message::Played {
                outcome: Outcome::Failed,
                reason: Some(FailureReason::Other),
                ..
            }
        ));
    }

    #[test]
    fn keys_round_trip_as_text() {
        let key = key();
        assert_eq!(UplinkKey::from_text(&key.to_text()).unwrap(), key);
        assert!(UplinkKey::from_text("AAAA").is_err());
    }
}
