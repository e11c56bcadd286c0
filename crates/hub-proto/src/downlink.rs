//! Commands from the hub to devices, signed so that devices obey only the hub.
//!
//! On the wire a command is `{"sig":"<base64>","body":{…}}`, with
//! `"heads":{"<sha256>":"<base64>",…}` after the body when its entries'
//! files have their first parts inline. `sig` is the hub's Ed25519
//! signature over [`DOWNLINK_CONTEXT`] followed by the exact bytes of
//! `body`. The body names the devices it is for, a sequence number that
//! only grows, and an expiry, so a device refuses commands that are forged,
//! replayed, or stale, whoever published them on the broker.
//!
//! Heads are outside the signature: the signed body names each file's first
//! part by size and SHA-256 (`MediaRef::chunks`), and a head is used only
//! once it hashes to that ([`crate::media::head_bytes`]), as a downloaded
//! part is. Signing them too would hash an emergency's heads twice per
//! command at the hub (Ed25519) and once more at each device, for no
//! further proof.

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::sync::Arc;

use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine;
use chrono::{DateTime, NaiveDate, Utc};
use ed25519_dalek::{Signature, Signer, SigningKey, Verifier, VerifyingKey};
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;

use crate::verified::Verified;
use crate::{check_version, AiringRef, PlanEntry, Refusal};

/// Signed bytes start with this, so a signature made for anything else never
/// verifies as a command.
pub const DOWNLINK_CONTEXT: &[u8] = b"nguon/v1 downlink\n";

/// Largest command a device must accept.
pub const MAX_COMMAND_BYTES: usize = 256 * 1024;

/// The signed part of a command.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Command {
    /// Payload version, [`crate::PROTOCOL_VERSION`].
    pub v: u16,
    /// Grows with every command the hub signs; a device acts only on a
    /// sequence number above the last one it accepted.
    pub seq: u64,
    pub issued: DateTime<Utc>,
    /// Devices refuse the command after this instant (by their own clock).
    pub expires: DateTime<Utc>,
    /// Ids of the devices that must act on it; everyone else ignores it.
    pub to: Vec<String>,
    pub directive: Directive,
    /// The hub sent many devices large commands at once: each sends the ack and the
    /// reports this command causes at a random moment between half this
    /// many milliseconds and this many after accepting it, so thousands of
    /// reports do not reach the hub while its broker is still delivering
    /// the command. Playing is never delayed, only the telling.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub report_spread_ms: Option<u32>,
}

/// What a command tells its devices to do.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Directive {
    /// Replaces the device's plan for `date` (local day); entries are in start
    /// order. Entries already under way keep playing.
    Schedule {
        date: NaiveDate,
        entries: Vec<PlanEntry>,
    },
    /// Play (or show) this entry now, cutting whatever plays.
    Play { entry: PlanEntry },
    /// An emergency cut `stopped`; `by` plays instead.
    Preempt { stopped: AiringRef, by: AiringRef },
    /// Stop `airing` now.
    Stop {
        airing: AiringRef,
        reason: StopReason,
    },
    /// Show `text` on an LED board until `until`, above its plan.
    Display { text: String, until: DateTime<Utc> },
    /// The hub holds no session for the device (it restarted, or missed the
    /// hello while reconnecting to its broker): say hello again.
    Resync,
    /// Device settings.
    Config {
        /// Output level, 0–100.
        volume: u8,
        /// The commune's operating windows for this kind of device, local
        /// `HH:MM-HH:MM`, for the device's own display and fault checks.
        windows: Vec<String>,
    },
}

impl Directive {
    /// The entries it plays or shows: a schedule's, a play's one, or none.
    pub fn entries(&self) -> &[PlanEntry] {
        match self {
            Self::Schedule { entries, .. } => entries,
            Self::Play { entry } => std::slice::from_ref(entry),
            _ => &[],
        }
    }

    /// [`entries`](Self::entries), to change.
    pub fn entries_mut(&mut self) -> &mut [PlanEntry] {
        match self {
            Self::Schedule { entries, .. } => entries,
            Self::Play { entry } => std::slice::from_mut(entry),
            _ => &mut [],
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StopReason {
    Cancelled,
    Expired,
}

/// The hub's side: signs commands.
pub struct CommandSigner {
    /// Also signs live chunks (`crate::live`).
    pub(crate) key: SigningKey,
}

impl CommandSigner {
    pub fn new(key: SigningKey) -> Self {
        Self { key }
    }

    /// The key devices are provisioned with.
    pub fn verifying_key(&self) -> VerifyingKey {
        self.key.verifying_key()
    }

    /// The wire form of `command`: its signed body, and its entries' inline
    /// heads beside it.
    pub fn sign(&self, command: &Command) -> Vec<u8> {
        // The body is written after the signing context, so the signed bytes
        // are one buffer without a copy (a kilobyte: most bodies fit).
        let mut signed = Vec::with_capacity(1024);
        signed.extend_from_slice(DOWNLINK_CONTEXT);
        serde_json::to_writer(&mut signed, command).expect("a Command always serialises");
        let signature = self.key.sign(&signed);
        let body = &signed[DOWNLINK_CONTEXT.len()..];
        let heads = heads_of(&command.directive);
        // Room for `,"heads":{"<sha256>":"<base64>",…}`: the payload of an
        // emergency to a thousand communes is written once, not grown.
        let room = 12
            + heads
                .iter()
                .map(|(hash, text)| hash.len() + text.len() + 6)
                .sum::<usize>();
        let mut wire = crate::open_envelope("sig", &signature.to_bytes(), body, room);
        if !heads.is_empty() {
            wire.extend_from_slice(b",\"heads\":");
            serde_json::to_writer(&mut wire, &heads).expect("text always serialises");
        }
        wire.push(b'}');
        wire
    }
}

/// The inline heads of `directive`'s files, by their first part's SHA-256.
fn heads_of(directive: &Directive) -> BTreeMap<&str, &str> {
    directive
        .entries()
        .iter()
        .filter_map(|entry| entry.media.as_ref())
        .filter_map(|file| Some((file.chunks.first()?.sha256.as_str(), file.head.as_deref()?)))
        .collect()
}

/// Gives each of `directive`'s files the head listed under its first
/// part's SHA-256, if any; whether it is that part is for the device to check.
/// A head with the same text as one of `known`'s shares its copy.
fn attach_heads(
    directive: &mut Directive,
    heads: &BTreeMap<Cow<'_, str>, Cow<'_, str>>,
    known: &[Arc<Command>],
) {
    let files = directive.entries_mut().iter_mut();
    for file in files.filter_map(|entry| entry.media.as_mut()) {
        let head = file
            .chunks
            .first()
            .and_then(|first| heads.get(first.sha256.as_str()));
        file.head =
            head.map(|text| known_head(known, text).unwrap_or_else(|| Arc::from(text.as_ref())));
    }
}

/// A head of `commands` whose text is `text`.
fn known_head(commands: &[Arc<Command>], text: &str) -> Option<Arc<str>> {
    let files = commands
        .iter()
        .flat_map(|command| command.directive.entries());
    let mut heads = files.filter_map(|entry| entry.media.as_ref()?.head.as_ref());
    heads.find(|head| ***head == *text).cloned()
}

/// Recent commands whose heads a command just read may share: every
/// loudspeaker command of an emergency carries the same head, and boards'
/// commands arrive between them.
const HEADS_SHARED_FROM: usize = 8;

fn signed_bytes(body: &[u8]) -> Vec<u8> {
    [DOWNLINK_CONTEXT, body].concat()
}

/// Just the addressees of a command body.
#[derive(Deserialize)]
struct Addressed<'a> {
    #[serde(borrow)]
    to: Vec<std::borrow::Cow<'a, str>>,
}

#[derive(Deserialize)]
struct Envelope<'a> {
    sig: String,
    #[serde(borrow)]
    body: &'a RawValue,
    #[serde(default, borrow)]
    heads: BTreeMap<Cow<'a, str>, Cow<'a, str>>,
}

/// A device's side: checks every command addressed to it. Keeps the last
/// accepted sequence number, which the device must persist.
pub struct CommandGuard {
    device: String,
    hub_key: VerifyingKey,
    last_seq: u64,
    verified: Option<VerifiedCommands>,
}

impl CommandGuard {
    pub fn new(device: impl Into<String>, hub_key: VerifyingKey, last_seq: u64) -> Self {
        Self {
            device: device.into(),
            hub_key,
            last_seq,
            verified: None,
        }
    }

    /// Shares signature checks (and the commands read) with the other guards
    /// holding `verified`.
    pub fn sharing(mut self, verified: VerifiedCommands) -> Self {
        self.verified = Some(verified);
        self
    }

    /// The sequence number of the last command accepted.
    pub fn last_seq(&self) -> u64 {
        self.last_seq
    }

    /// Checks a payload from the device's downlink topic at the device's time
    /// `now`. `Ok(None)`: a command for other devices (its signature is not
    /// even checked). `Ok(Some)`: a genuine, fresh command for this device.
    pub fn check(
        &mut self,
        payload: &[u8],
        now: DateTime<Utc>,
    ) -> Result<Option<Arc<Command>>, Refusal> {
        if payload.len() > MAX_COMMAND_BYTES {
            return Err(Refusal::TooLarge {
                size: payload.len(),
                max: MAX_COMMAND_BYTES,
            });
        }
        let remembered = self
            .verified
            .as_ref()
            .and_then(|verified| verified.get(&self.hub_key, payload));
        let command = match remembered {
            // Verified and read by another guard: whom it is for is all that
            // is left to see before this guard's own checks.
            Some(known) if names(&known.to, &self.device) => known,
            Some(_) => return Ok(None),
            None => {
                let Some(command) = self.read(payload)? else {
                    return Ok(None);
                };
                let command = Arc::new(command);
                if let Some(verified) = &self.verified {
                    verified.insert(&self.hub_key, payload, Arc::clone(&command));
                }
                command
            }
        };
        if command.seq <= self.last_seq {
            return Err(Refusal::Replayed {
                seq: command.seq,
                last: self.last_seq,
            });
        }
        if now > command.expires {
            return Err(Refusal::Expired {
                expires: command.expires,
            });
        }
        self.last_seq = command.seq;
        Ok(Some(command))
    }

    /// Reads a payload no guard has checked: the command, if it is addressed
    /// to this device and its signature verifies.
    fn read(&self, payload: &[u8]) -> Result<Option<Command>, Refusal> {
        let envelope: Envelope = serde_json::from_slice(payload).map_err(Refusal::Malformed)?;
        let body = envelope.body.get().as_bytes();
        check_version(body)?;
        // Devices see every command of their commune: read only whom it is
        // for, and the rest only once it is known to be genuine.
        let addressed: Addressed = serde_json::from_slice(body).map_err(Refusal::Malformed)?;
        if !names(&addressed.to, &self.device) {
            return Ok(None);
        }
        let signature = BASE64
            .decode(&envelope.sig)
            .ok()
            .and_then(|bytes| Signature::from_slice(&bytes).ok())
            .ok_or(Refusal::BadSignature)?;
        self.hub_key
            .verify(&signed_bytes(body), &signature)
            .map_err(|_| Refusal::BadSignature)?;
        let mut command: Command = serde_json::from_slice(body).map_err(Refusal::Malformed)?;
        // Guards sharing their checks share equal heads too: 10,000
        // simulated loudspeakers keep one copy of an emergency's head.
        let known = self.verified.as_ref().map(|v| v.newest(HEADS_SHARED_FROM));
        attach_heads(
            &mut command.directive,
            &envelope.heads,
            known.as_deref().unwrap_or(&[]),
        );
        Ok(Some(command))
    }
}

/// Whether the addressees `to` include `device`.
fn names(to: &[impl AsRef<str>], device: &str) -> bool {
    to.iter().any(|d| d.as_ref() == device)
}

/// Commands known to be genuine, shared by guards that run on one CPU
/// (see [`crate::verified`]): a command is remembered with its signature
/// and whole body, and a guard finding it still checks whom it is for,
/// its sequence number and its expiry.
pub type VerifiedCommands = Verified<Command>;

/// A public key as provisioned: standard base64 of its 32 bytes.
pub fn encode_public_key(key: &VerifyingKey) -> String {
    BASE64.encode(key.to_bytes())
}

/// Reads a key written by [`encode_public_key`].
pub fn decode_public_key(text: &str) -> Result<VerifyingKey, Refusal> {
    let bytes: [u8; 32] = BASE64
        .decode(text.trim())
        .ok()
        .and_then(|b| b.try_into().ok())
        .ok_or(Refusal::BadKey)?;
    VerifyingKey::from_bytes(&bytes).map_err(|_| Refusal::BadKey)
}

#[cfg(test)]
mod tests {
    use chrono::TimeDelta;
    use rand::rngs::OsRng;

    use super::*;
    use crate::PROTOCOL_VERSION;
    use crate::{Class, Part};

    fn at(s: &str) -> DateTime<Utc> {
        s.parse().unwrap()
    }

    fn entry() -> PlanEntry {
        PlanEntry {
            bulletin: "lu-serepok".into(),
            occurrence: 0,
            language: "vi".into(),
            class: Class::Emergency,
            part: Part::Audio,
            start: at("2026-11-23T10:40:00Z"),
            end: at("2026-11-23T10:42:00Z"),
            preempted: false,
            media: None,
            subtitles: None,
            text: None,
        }
    }

    fn command(seq: u64, to: &[&str]) -> Command {
        Command {
            v: PROTOCOL_VERSION,
            seq,
            issued: at("2026-11-23T10:40:00Z"),
            expires: at("2026-11-23T10:45:00Z"),
            to: to.iter().map(|d| d.to_string()).collect(),
            directive: Directive::Play { entry: entry() },
            report_spread_ms: None,
        }
    }

    fn setup() -> (CommandSigner, CommandGuard) {
        let signer = CommandSigner::new(SigningKey::generate(&mut OsRng));
        let guard = CommandGuard::new("24611-LS-01", signer.verifying_key(), 0);
        (signer, guard)
    }

    const NOW: &str = "2026-11-23T10:40:01Z";

    #[test]
    fn a_signed_command_for_the_device_is_accepted_once() {
        let (signer, mut guard) = setup();
        let wire = signer.sign(&command(7, &["24611-LS-01", "24611-LS-02"]));
        let accepted = guard.check(&wire, at(NOW)).unwrap().unwrap();
        assert_eq!(*accepted, command(7, &["24611-LS-01", "24611-LS-02"]));
        assert_eq!(guard.last_seq(), 7);
        assert!(matches!(
            guard.check(&wire, at(NOW)),
            Err(Refusal::Replayed { seq: 7, last: 7 })
        ));
    }

    #[test]
    fn commands_for_other_devices_are_ignored() {
        let (signer, mut guard) = setup();
        let wire = signer.sign(&command(7, &["24611-LS-02"]));
        assert_eq!(guard.check(&wire, at(NOW)).unwrap(), None);
        assert_eq!(guard.last_seq(), 0);
    }

    #[test]
    fn a_command_signed_by_another_key_is_refused() {
        let (_, mut guard) = setup();
        let intruder = CommandSigner::new(SigningKey::generate(&mut OsRng));
        let wire = intruder.sign(&command(7, &["24611-LS-01"]));
        assert!(matches!(
            guard.check(&wire, at(NOW)),
            Err(Refusal::BadSignature)
        ));
        assert_eq!(guard.last_seq(), 0, "a refused command moves nothing");
    }

    /// A command playing a file whose first part is inline.
    fn command_with_head(first_part: &[u8]) -> Command {
        let mut command = command(7, &["24611-LS-01"]);
        let Directive::Play { entry } = &mut command.directive else {
            unreachable!("command() plays an entry")
        };
        let chunks = [first_part, b"and the rest"].map(|part| crate::MediaChunk {
            size: part.len() as u64,
            sha256: crate::media::sha256_hex(part),
        });
        entry.media = Some(crate::MediaRef {
            sha256: "ab".repeat(32),
            size: chunks.iter().map(|c| c.size).sum(),
            url: "https://hub.example/media/abab".into(),
            chunks: Arc::from(chunks),
            head: Some(crate::media::encode_head(first_part)),
        });
        command
    }

    fn head_of(command: &Command) -> Option<&crate::MediaRef> {
        command.directive.entries()[0].media.as_ref()
    }

    #[test]
    fn inline_heads_travel_beside_the_signed_body_and_prove_themselves_by_hash() {
        let (signer, mut guard) = setup();
        let sent = command_with_head(b"first part");
        let wire = String::from_utf8(signer.sign(&sent)).unwrap();
        let envelope: serde_json::Value = serde_json::from_str(&wire).unwrap();
        let head = crate::media::encode_head(b"first part");
        assert!(envelope["body"].to_string().find(&*head).is_none());
        let accepted = guard.check(wire.as_bytes(), at(NOW)).unwrap().unwrap();
        assert_eq!(*accepted, sent, "the head is back in its entry");
        let file = head_of(&accepted).unwrap();
        assert_eq!(
            crate::media::head_bytes(file).unwrap().unwrap(),
            b"first part"
        );

        // Another head passes the signature but not the part's hash.
        let (signer, mut guard) = setup();
        let wire = String::from_utf8(signer.sign(&command_with_head(b"first part"))).unwrap();
        let forged = wire.replace(&*head, &crate::media::encode_head(b"first pXrt"));
        let accepted = guard.check(forged.as_bytes(), at(NOW)).unwrap().unwrap();
        let file = head_of(&accepted).unwrap();
        assert!(file.head.is_some());
        assert!(matches!(
            crate::media::head_bytes(file),
            Some(Err(crate::media::HeadError::Mismatch))
        ));

        // A head listed under a part the body does not name is no head.
        let (signer, mut guard) = setup();
        let wire = String::from_utf8(signer.sign(&command_with_head(b"first part"))).unwrap();
        let first = &head_of(&sent).unwrap().chunks[0].sha256;
        let elsewhere = wire.replace(
            &format!("\"{first}\":"),
            &format!("\"{}\":", "cd".repeat(32)),
        );
        let accepted = guard.check(elsewhere.as_bytes(), at(NOW)).unwrap().unwrap();
        assert_eq!(head_of(&accepted).unwrap().head, None);
    }

    #[test]
    fn a_tampered_body_is_refused() {
        let (signer, mut guard) = setup();
        let wire = String::from_utf8(signer.sign(&command(7, &["24611-LS-01"]))).unwrap();
        let tampered = wire.replace("lu-serepok", "lu-serepoc");
        assert!(matches!(
            guard.check(tampered.as_bytes(), at(NOW)),
            Err(Refusal::BadSignature)
        ));
    }

    /// The guard of [`setup`] and one of `second_device`, sharing checks.
    fn sharing_with(
        second_device: &str,
    ) -> (CommandSigner, CommandGuard, CommandGuard, VerifiedCommands) {
        let (signer, first) = setup();
        let verified = VerifiedCommands::default();
        let second =
            CommandGuard::new(second_device, signer.verifying_key(), 0).sharing(verified.clone());
        (signer, first.sharing(verified.clone()), second, verified)
    }

    #[test]
    fn guards_sharing_checks_still_refuse_what_was_not_verified() {
        let (signer, mut first, mut second, verified) = sharing_with("24611-LS-02");
        let wire = signer.sign(&command(7, &["24611-LS-01", "24611-LS-02"]));
        assert!(first.check(&wire, at(NOW)).unwrap().is_some());
        assert_eq!(verified.len(), 1);
        assert_eq!(
            second.check(&wire, at(NOW)).unwrap(),
            Some(Arc::new(command(7, &["24611-LS-01", "24611-LS-02"])))
        );
        assert_eq!(
            verified.len(),
            1,
            "the second guard used the first one's check"
        );
        // A remembered command is still only for the devices it names.
        let mut bystander =
            CommandGuard::new("24611-LS-03", signer.verifying_key(), 0).sharing(verified.clone());
        assert_eq!(bystander.check(&wire, at(NOW)).unwrap(), None);
        assert_eq!(bystander.last_seq(), 0);

        // The remembered signature with another body, or replayed: refused.
        let tampered = String::from_utf8(wire.clone())
            .unwrap()
            .replace("lu-serepok", "lu-serepoc");
        let mut third =
            CommandGuard::new("24611-LS-01", signer.verifying_key(), 0).sharing(verified.clone());
        assert!(matches!(
            third.check(tampered.as_bytes(), at(NOW)),
            Err(Refusal::BadSignature)
        ));
        assert!(matches!(
            second.check(&wire, at(NOW)),
            Err(Refusal::Replayed { seq: 7, last: 7 })
        ));
        // Another hub's key does not find the first key's entries.
        let intruder = CommandSigner::new(SigningKey::generate(&mut OsRng));
        let mut fooled =
            CommandGuard::new("24611-LS-01", intruder.verifying_key(), 0).sharing(verified.clone());
        assert!(matches!(
            fooled.check(&wire, at(NOW)),
            Err(Refusal::BadSignature)
        ));
    }

    #[test]
    fn guards_sharing_checks_keep_one_copy_of_equal_heads() {
        let (signer, mut first, mut second, _) = sharing_with("24612-LS-01");
        // One emergency's commands to two communes: other bodies, one head.
        let to_second = |mut command: Command| {
            command.to = vec!["24612-LS-01".into()];
            command
        };
        let wires = [
            signer.sign(&command_with_head(b"first part")),
            signer.sign(&to_second(command_with_head(b"first part"))),
            signer.sign(&Command {
                seq: 8,
                ..to_second(command_with_head(b"other part"))
            }),
        ];
        let heard = first.check(&wires[0], at(NOW)).unwrap().unwrap();
        let same = second.check(&wires[1], at(NOW)).unwrap().unwrap();
        let (heard, same) = (head_of(&heard).unwrap(), head_of(&same).unwrap());
        assert!(Arc::ptr_eq(
            heard.head.as_ref().unwrap(),
            same.head.as_ref().unwrap()
        ));
        let other = second.check(&wires[2], at(NOW)).unwrap().unwrap();
        let other = head_of(&other).unwrap().head.as_deref();
        assert_eq!(
            other,
            Some(&*crate::media::encode_head(b"other part")),
            "another text is its own"
        );
    }

    #[test]
    fn shared_checks_forget_the_oldest() {
        let (signer, guard) = setup();
        let verified = VerifiedCommands::remembering(2);
        let mut guard = guard.sharing(verified.clone());
        let wires: Vec<Vec<u8>> = (1..=3)
            .map(|seq| signer.sign(&command(seq, &["24611-LS-01", "24611-LS-02"])))
            .collect();
        for wire in &wires {
            assert!(guard.check(wire, at(NOW)).unwrap().is_some());
        }
        assert_eq!(verified.len(), 2);
        // A forgotten command is simply checked again.
        let mut other =
            CommandGuard::new("24611-LS-02", signer.verifying_key(), 0).sharing(verified.clone());
        assert!(other.check(&wires[0], at(NOW)).unwrap().is_some());
        assert_eq!(verified.len(), 2);
    }

    #[test]
    fn unsigned_and_garbled_signatures_are_refused() {
        let (_, mut guard) = setup();
        let body = serde_json::to_string(&command(7, &["24611-LS-01"])).unwrap();
        for sig in ["", "not base64!", "AAAA"] {
            let wire = format!(r#"{{"sig":"{sig}","body":{body}}}"#);
            assert!(
                matches!(
                    guard.check(wire.as_bytes(), at(NOW)),
                    Err(Refusal::BadSignature)
                ),
                "{sig:?}"
            );
        }
        let missing = format!(r#"{{"body":{body}}}"#);
        assert!(matches!(
            guard.check(missing.as_bytes(), at(NOW)),
            Err(Refusal::Malformed(_))
        ));
    }

    #[test]
    fn an_expired_command_is_refused() {
        let (signer, mut guard) = setup();
        let wire = signer.sign(&command(7, &["24611-LS-01"]));
        let late = at("2026-11-23T10:45:00Z") + TimeDelta::seconds(1);
        assert!(matches!(
            guard.check(&wire, late),
            Err(Refusal::Expired { .. })
        ));
        assert_eq!(guard.last_seq(), 0);
    }

    #[test]
    fn an_older_sequence_number_is_refused() {
        let (signer, mut guard) = setup();
        guard
            .check(&signer.sign(&command(9, &["24611-LS-01"])), at(NOW))
            .unwrap();
        let older = signer.sign(&command(8, &["24611-LS-01"]));
        assert!(matches!(
            guard.check(&older, at(NOW)),
            Err(Refusal::Replayed { seq: 8, last: 9 })
        ));
    }

    #[test]
    fn unknown_versions_and_oversize_payloads_are_refused() {
        let (signer, mut guard) = setup();
        let mut future = command(7, &["24611-LS-01"]);
        future.v = PROTOCOL_VERSION + 1;
        assert!(matches!(
            guard.check(&signer.sign(&future), at(NOW)),
            Err(Refusal::UnsupportedVersion { .. })
        ));
        let huge = vec![b' '; MAX_COMMAND_BYTES + 1];
        assert!(matches!(
            guard.check(&huge, at(NOW)),
            Err(Refusal::TooLarge { .. })
        ));
    }

    #[test]
    fn every_directive_round_trips() {
        let directives = [
            Directive::Schedule {
                date: NaiveDate::from_ymd_opt(2026, 11, 23).unwrap(),
                entries: vec![entry()],
            },
            Directive::Play { entry: entry() },
            Directive::Preempt {
                stopped: entry().airing(),
                by: entry().airing(),
            },
            Directive::Stop {
                airing: entry().airing(),
                reason: StopReason::Cancelled,
            },
            Directive::Display {
                text: "Lũ trên sông Sêrêpốk".into(),
                until: at("2026-11-23T11:00:00Z"),
            },
            Directive::Config {
                volume: 80,
                windows: vec!["05:00-07:00".into(), "17:00-19:00".into()],
            },
            Directive::Resync,
        ];
        let (signer, mut guard) = setup();
        for (seq, directive) in (1..).zip(directives) {
            let mut sent = command(seq, &["24611-LS-01"]);
            sent.directive = directive;
            let got = guard.check(&signer.sign(&sent), at(NOW)).unwrap();
            assert_eq!(got, Some(Arc::new(sent)));
        }
    }

    #[test]
    fn a_report_spread_travels_signed_and_is_absent_unless_asked() {
        let (signer, mut guard) = setup();
        let plain = command(1, &["24611-LS-01"]);
        let wire = signer.sign(&plain);
        let text = String::from_utf8(wire.clone()).unwrap();
        assert!(!text.contains("report_spread_ms"), "{text}");
        assert_eq!(guard.check(&wire, at(NOW)).unwrap(), Some(Arc::new(plain)));

        let mut spread = command(2, &["24611-LS-01"]);
        spread.report_spread_ms = Some(2_500);
        let wire = signer.sign(&spread);
        assert!(String::from_utf8(wire.clone())
            .unwrap()
            .contains(r#""report_spread_ms":2500"#));
        assert_eq!(guard.check(&wire, at(NOW)).unwrap(), Some(Arc::new(spread)));
    }

    #[test]
    fn public_keys_round_trip_as_text() {
        let (signer, _) = setup();
        let text = encode_public_key(&signer.verifying_key());
        assert_eq!(decode_public_key(&text).unwrap(), signer.verifying_key());
        assert!(matches!(decode_public_key("short"), Err(Refusal::BadKey)));
    }
}
