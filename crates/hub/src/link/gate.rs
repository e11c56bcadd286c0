//! The uplink gate: which reports the hub believes.
//!
//! A report is taken only if it parses within the size limit, names a known
//! device that is not revoked, arrives on that device's own commune topic,
//! carries a MAC made with that device's key, and belongs to the device's
//! current session with a sequence number above the last one seen, and the
//! device stays within its allowance of reports per second. A session starts
//! with a hello newer than the previous hello. Everything else is dropped,
//! counted by reason, and disturbs nothing else.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::time::Instant;

use chrono::{DateTime, Utc};
use hub_core::{AreaCode, DeviceId};
use hub_proto::{topic, Report, SealedReport, UplinkKey};

/// Why a report was dropped.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Dropped {
    /// Not on an uplink topic.
    Topic,
    /// Oversize, not JSON, or an unknown version.
    Malformed,
    UnknownDevice,
    Revoked,
    /// Published on another commune's topic.
    WrongCommune,
    /// The MAC does not check with the device's key.
    BadMac,
    /// A hello not newer than the current session's.
    StaleHello,
    /// Not a hello, and not of the current session.
    NoSession,
    /// A sequence number not above the last one seen.
    Replayed,
    /// More reports than [`RATE_PER_SEC`] a second (beyond a burst of [`BURST`]).
    RateLimited,
}

impl Dropped {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Topic => "topic",
            Self::Malformed => "malformed",
            Self::UnknownDevice => "unknown_device",
            Self::Revoked => "revoked",
            Self::WrongCommune => "wrong_commune",
            Self::BadMac => "bad_mac",
            Self::StaleHello => "stale_hello",
            Self::NoSession => "no_session",
            Self::Replayed => "replayed",
            Self::RateLimited => "rate_limited",
        }
    }
}

/// What the gate knows about a device.
pub struct Known {
    pub commune: AreaCode,
    pub key: UplinkKey,
    pub revoked: bool,
}

struct Session {
    id: u64,
    last_seq: u64,
    last_seen: Instant,
}

#[derive(Default)]
pub struct Gate {
    devices: HashMap<DeviceId, Known>,
    sessions: HashMap<DeviceId, Session>,
    /// Hello times outlive sessions, so an old hello replayed after a Last
    /// Will cannot open a session again.
    last_hello: HashMap<DeviceId, DateTime<Utc>>,
    dropped: BTreeMap<Dropped, u64>,
    /// Devices whose genuine reports arrive outside any session the hub
    /// knows: they must be asked to say hello again.
    strays: BTreeSet<DeviceId>,
    buckets: HashMap<DeviceId, Bucket>,
}

/// Reports a device may send in a burst…
pub const BURST: f64 = 100.0;
/// …and per second after that: far above what a device needs (a heartbeat,
/// an ack and a few proofs of play), far below a flood.
pub const RATE_PER_SEC: f64 = 20.0;

/// A token bucket per device.
struct Bucket {
    tokens: f64,
    at: Instant,
}

impl Bucket {
    fn full(at: Instant) -> Self {
        Self { tokens: BURST, at }
    }

    /// Takes a token at `now`, if there is one.
    fn take(&mut self, now: Instant) -> bool {
        let refill = now.saturating_duration_since(self.at).as_secs_f64() * RATE_PER_SEC;
        self.tokens = (self.tokens + refill).min(BURST);
        self.at = self.at.max(now);
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            true
        } else {
            false
        }
    }
}

impl Gate {
    pub fn new(devices: HashMap<DeviceId, Known>) -> Self {
        Self {
            devices,
            ..Self::default()
        }
    }

    /// A device registered while the hub runs.
    pub fn add(&mut self, device: DeviceId, known: Known) {
        self.devices.insert(device, known);
    }

    /// From now on every report of `device` is dropped as revoked.
    pub fn revoke(&mut self, device: &DeviceId) {
        if let Some(known) = self.devices.get_mut(device) {
            known.revoked = true;
        }
        self.sessions.remove(device);
    }

    /// Checks a payload from `topic`, received at `seen`. A Last Will ends the session.
    pub fn admit(
        &mut self,
        topic: &str,
        payload: &[u8],
        seen: Instant,
    ) -> Result<(DeviceId, Report), Dropped> {
        let admitted = self.check(topic, payload, seen);
        if let Err(reason) = admitted {
            *self.dropped.entry(reason).or_default() += 1;
        }
        admitted
    }

    fn check(
        &mut self,
        topic: &str,
        payload: &[u8],
        seen: Instant,
    ) -> Result<(DeviceId, Report), Dropped> {
        let commune = topic::uplink_commune(topic).ok_or(Dropped::Topic)?;
        let sealed = SealedReport::parse(payload).map_err(|_| Dropped::Malformed)?;
        let id = DeviceId::parse(sealed.device()).map_err(|_| Dropped::UnknownDevice)?;
        let known = self.devices.get(&id).ok_or(Dropped::UnknownDevice)?;
        if known.revoked {
            return Err(Dropped::Revoked);
        }
        if known.commune.as_str() != commune {
            return Err(Dropped::WrongCommune);
        }
        let report = sealed.open(&known.key).map_err(|_| Dropped::BadMac)?;
        // Counted only once the MAC checks, so nobody can spend another
        // device's allowance.
        if !self
            .buckets
            .entry(id.clone())
            .or_insert_with(|| Bucket::full(seen))
            .take(seen)
        {
            return Err(Dropped::RateLimited);
        }
        if report.hello().is_some() {
            if self
                .last_hello
                .get(&id)
                .is_some_and(|last| report.at <= *last)
            {
                return Err(Dropped::StaleHello);
            }
            self.last_hello.insert(id.clone(), report.at);
            self.sessions.insert(
                id.clone(),
                Session {
                    id: report.session,
                    last_seq: report.seq,
                    last_seen: seen,
                },
            );
            return Ok((id, report));
        }
        let Some(session) = self
            .sessions
            .get_mut(&id)
            .filter(|s| s.id == report.session)
        else {
            if !report.is_offline() {
                self.strays.insert(id);
            }
            return Err(Dropped::NoSession);
        };
        if report.seq <= session.last_seq {
            return Err(Dropped::Replayed);
        }
        session.last_seq = report.seq;
        session.last_seen = seen;
        if report.is_offline() {
            self.sessions.remove(&id);
        }
        Ok((id, report))
    }

    /// Devices heard from outside any known session since the last call.
    pub fn take_strays(&mut self) -> BTreeSet<DeviceId> {
        std::mem::take(&mut self.strays)
    }

    /// Ends `device`'s session (it went silent).
    pub fn end_session(&mut self, device: &DeviceId) {
        self.sessions.remove(device);
    }

    /// Devices with a session and nothing heard since `cutoff`.
    pub fn silent_since(&self, cutoff: Instant) -> Vec<DeviceId> {
        self.sessions
            .iter()
            .filter(|(_, s)| s.last_seen < cutoff)
            .map(|(id, _)| id.clone())
            .collect()
    }

    /// Dropped reports so far, by reason.
    pub fn dropped(&self) -> BTreeMap<&'static str, u64> {
        self.dropped
            .iter()
            .map(|(reason, n)| (reason.as_str(), *n))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use hub_proto::uplink::WILL_SEQ;
    use hub_proto::{Message, Power, Status};

    use super::*;

    fn at(s: &str) -> DateTime<Utc> {
        s.parse().unwrap()
    }

    fn key(byte: u8) -> UplinkKey {
        UplinkKey::from_bytes([byte; 32])
    }

    fn gate() -> Gate {
        let known = |commune: &str, byte, revoked| Known {
            commune: AreaCode::parse(commune).unwrap(),
            key: key(byte),
            revoked,
        };
        Gate::new(HashMap::from([
            (
                DeviceId::parse("24611-LS-01").unwrap(),
                known("24611", 1, false),
            ),
            (
                DeviceId::parse("24611-LS-02").unwrap(),
                known("24611", 2, false),
            ),
            (
                DeviceId::parse("24611-LS-03").unwrap(),
                known("24611", 3, true),
            ),
        ]))
    }

    fn hello() -> Message {
        Message::Hello {
            firmware: "t".into(),
            capabilities: vec![],
            last_seq: 0,
            cached_media: vec![],
        }
    }

    fn report(device: &str, session: u64, seq: u64, when: &str, message: Message) -> Report {
        Report::new(device, session, seq, at(when), message)
    }

    fn status() -> Message {
        Message::Status(Status {
            playing: None,
            volume: 80,
            power: Power::Mains,
            battery_percent: None,
            faults: vec![],
        })
    }

    const UP: &str = "nguon/v1/up/24611";
    const T1: &str = "2026-11-23T00:00:01Z";
    const T2: &str = "2026-11-23T00:00:02Z";

    fn admit(gate: &mut Gate, topic: &str, r: &Report, byte: u8) -> Result<Report, Dropped> {
        gate.admit(topic, &r.seal(&key(byte)), Instant::now())
            .map(|(_, report)| report)
    }

    #[test]
    fn a_session_opens_with_a_hello_and_takes_growing_sequence_numbers() {
        let mut gate = gate();
        let h = report("24611-LS-01", 7, 1, T1, hello());
        assert!(admit(&mut gate, UP, &h, 1).is_ok());
        let s2 = report("24611-LS-01", 7, 2, T1, status());
        assert!(admit(&mut gate, UP, &s2, 1).is_ok());
        assert_eq!(admit(&mut gate, UP, &s2, 1), Err(Dropped::Replayed));
        let other_session = report("24611-LS-01", 8, 3, T1, status());
        assert_eq!(
            admit(&mut gate, UP, &other_session, 1),
            Err(Dropped::NoSession)
        );
        assert_eq!(
            gate.dropped(),
            BTreeMap::from([("no_session", 1), ("replayed", 1)])
        );
    }

    #[test]
    fn a_device_cannot_speak_for_another() {
        let mut gate = gate();
        let forged = report("24611-LS-02", 7, 1, T1, hello());
        assert_eq!(admit(&mut gate, UP, &forged, 1), Err(Dropped::BadMac));
        let elsewhere = report("24611-LS-01", 7, 1, T1, hello());
        assert_eq!(
            admit(&mut gate, "nguon/v1/up/24612", &elsewhere, 1),
            Err(Dropped::WrongCommune)
        );
        let revoked = report("24611-LS-03", 7, 1, T1, hello());
        assert_eq!(admit(&mut gate, UP, &revoked, 3), Err(Dropped::Revoked));
        let stranger = report("24611-LS-09", 7, 1, T1, hello());
        assert_eq!(
            admit(&mut gate, UP, &stranger, 9),
            Err(Dropped::UnknownDevice)
        );
        assert_eq!(
            gate.admit(UP, b"{not json", Instant::now()).map(|_| ()),
            Err(Dropped::Malformed)
        );
        assert_eq!(
            gate.admit("nguon/v1/down/24611", b"{}", Instant::now())
                .map(|_| ()),
            Err(Dropped::Topic)
        );
    }

    #[test]
    fn a_last_will_ends_the_session_and_old_hellos_cannot_reopen_it() {
        let mut gate = gate();
        let h = report("24611-LS-01", 7, 1, T1, hello());
        assert!(admit(&mut gate, UP, &h, 1).is_ok());
        let will = report("24611-LS-01", 7, WILL_SEQ, T1, Message::Offline);
        assert!(admit(&mut gate, UP, &will, 1).is_ok());
        let later = Instant::now() + std::time::Duration::from_secs(1);
        assert!(gate.silent_since(later).is_empty(), "no session left");
        assert_eq!(admit(&mut gate, UP, &h, 1), Err(Dropped::StaleHello));
        let newer = report("24611-LS-01", 8, 1, T2, hello());
        assert!(admit(&mut gate, UP, &newer, 1).is_ok());
    }

    #[test]
    fn a_flooding_device_is_limited_and_recovers() {
        let mut gate = gate();
        let start = Instant::now();
        let seal = |seq| report("24611-LS-01", 7, seq, T1, status()).seal(&key(1));
        let opening = report("24611-LS-01", 7, 1, T1, hello()).seal(&key(1));
        assert!(gate.admit(UP, &opening, start).is_ok());
        let admitted = (2..=200)
            .filter(|seq| gate.admit(UP, &seal(*seq), start).is_ok())
            .count();
        assert_eq!(admitted, BURST as usize - 1, "the burst, less the hello");
        assert_eq!(gate.dropped().get("rate_limited"), Some(&100));
        let later = start + std::time::Duration::from_secs(1);
        assert!(
            gate.admit(UP, &seal(201), later).is_ok(),
            "allowance refilled"
        );
        // Another device is unaffected.
        let other = report("24611-LS-02", 3, 1, T1, hello()).seal(&key(2));
        assert!(gate.admit(UP, &other, start).is_ok());
    }

    #[test]
    fn silent_devices_are_found() {
        let mut gate = gate();
        let h = report("24611-LS-01", 7, 1, T1, hello());
        admit(&mut gate, UP, &h, 1).unwrap();
        let later = Instant::now() + std::time::Duration::from_secs(1);
        assert_eq!(gate.silent_since(later).len(), 1);
        gate.end_session(&DeviceId::parse("24611-LS-01").unwrap());
        assert!(gate.silent_since(later).is_empty());
    }
}
