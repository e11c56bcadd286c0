//! What reports are built from: every proof-of-play receipt a device sent
//! and every moment a device came online or went offline, as two
//! append-only logs keyed by time.
//!
//! A [`Delivery`](hub_core::Delivery) keeps only an airing's last state; a
//! report needs when each airing started *and* ended (an airing cut by an
//! emergency and replayed has two starts), so every receipt is kept as it
//! came. Keys begin with the time ([`time_key`]), so a period is one range
//! read ([`Store::range`](crate::Store::range)); the rest of the key makes a
//! repeated receipt (devices restate their proof of play after every hello,
//! at the original times) land on the same key, so it is stored once.

use chrono::{DateTime, Utc};
use hub_core::{AiringKey, DeliveryState, DeviceId};
use hub_proto::FailureReason;
use serde::{Deserialize, Serialize};

use crate::record::Record;

/// `at` as fixed-width RFC 3339 in UTC with nanoseconds, so byte order is
/// time order (for years 0 to 9999).
pub fn time_key(at: DateTime<Utc>) -> String {
    at.format("%Y-%m-%dT%H:%M:%S%.9fZ").to_string()
}

/// One proof-of-play message, as the device sent it: the outcome at the
/// device's own time.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PlayReceipt {
    pub device: DeviceId,
    pub airing: AiringKey,
    /// `started`, `finished`, `preempted`, `stopped` or `failed`.
    pub outcome: DeliveryState,
    /// The device's time of the event.
    pub at: DateTime<Utc>,
    /// Why it failed, when the device said.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<FailureReason>,
}

impl Record for PlayReceipt {
    const TREE: &'static str = "receipts";
    /// `time \0 device \0 bulletin \0 occurrence (8 hex) \0 language \0 outcome`.
    fn key(&self) -> Vec<u8> {
        let outcome = serde_json::to_value(self.outcome)
            .ok()
            .and_then(|v| v.as_str().map(str::to_owned))
            .unwrap_or_default();
        format!(
            "{}\0{}\0{}\0{:08x}\0{}\0{}",
            time_key(self.at),
            self.device,
            self.airing.bulletin,
            self.airing.occurrence,
            self.airing.language,
            outcome
        )
        .into_bytes()
    }
}

/// Why a device's presence changed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PresenceCause {
    /// The device opened a session.
    Hello,
    /// The broker published its Last Will.
    LastWill,
    /// Nothing was heard from it within the heartbeat timeout.
    Silent,
    /// Its credentials were revoked.
    Revoked,
    /// The hub stopped in order.
    HubStopped,
    /// The hub started: nobody is connected until they say hello, and a
    /// device left online by a hub that died is offline from here.
    HubStarted,
}

/// A device came online or went offline, at the hub's clock.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Presence {
    pub device: DeviceId,
    pub at: DateTime<Utc>,
    pub online: bool,
    pub cause: PresenceCause,
}

impl Record for Presence {
    const TREE: &'static str = "presence";
    /// `time \0 device`.
    fn key(&self) -> Vec<u8> {
        format!("{}\0{}", time_key(self.at), self.device).into_bytes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::{decode_record, encode};
    use crate::Store;
    use hub_core::testkit::{bid, device_id, lang};

    fn at(s: &str) -> DateTime<Utc> {
        s.parse().unwrap()
    }

    fn receipt(device: &str, outcome: DeliveryState, time: &str) -> PlayReceipt {
        PlayReceipt {
            device: device_id(device),
            airing: AiringKey {
                bulletin: bid("tin-a"),
                occurrence: 0,
                language: lang("vi"),
            },
            outcome,
            at: at(time),
            reason: None,
        }
    }

    #[test]
    fn time_keys_sort_as_times() {
        let early = time_key(at("2026-06-20T23:59:59.5Z"));
        let late = time_key(at("2026-06-21T00:00:00Z"));
        assert!(early < late, "{early} {late}");
        assert_eq!(late, "2026-06-21T00:00:00.000000000Z");
    }

    #[test]
    fn a_restated_receipt_lands_on_its_own_key_and_a_period_is_one_range() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        let started = receipt(
            "24611-LS-01",
            DeliveryState::Started,
            "2026-11-23T05:00:00Z",
        );
        let finished = receipt(
            "24611-LS-01",
            DeliveryState::Finished,
            "2026-11-23T05:04:00Z",
        );
        let next_day = receipt(
            "24611-LS-01",
            DeliveryState::Started,
            "2026-11-24T05:00:00Z",
        );
        for r in [&started, &finished, &started, &next_day] {
            store.put(r).unwrap();
        }
        assert_eq!(store.all::<PlayReceipt>().unwrap().len(), 3, "stored once");
        let day = store
            .range::<PlayReceipt>(
                time_key(at("2026-11-23T00:00:00Z")).as_bytes(),
                time_key(at("2026-11-24T00:00:00Z")).as_bytes(),
                usize::MAX,
            )
            .unwrap();
        assert_eq!(day, vec![started.clone(), finished]);
        let bytes = encode(&started).unwrap();
        let json: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
        assert_eq!(json["record"]["outcome"], "started");
        assert_eq!(
            decode_record::<PlayReceipt>(&started.key(), &bytes).unwrap(),
            started
        );
    }

    #[test]
    fn presence_round_trips_with_its_cause() {
        let presence = Presence {
            device: device_id("24611-LS-01"),
            at: at("2026-11-23T05:00:00Z"),
            online: false,
            cause: PresenceCause::LastWill,
        };
        let bytes = encode(&presence).unwrap();
        let json: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
        assert_eq!(json["record"]["cause"], "last_will");
        assert_eq!(
            decode_record::<Presence>(&presence.key(), &bytes).unwrap(),
            presence
        );
    }

    #[test]
    fn presence_is_left_open_only_by_a_hub_that_did_not_stop_in_order() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        // A new store: nobody was ever online.
        assert!(!store.take_presence_left_open().unwrap());
        store
            .put(&Presence {
                device: device_id("24611-LS-01"),
                at: at("2026-11-23T05:00:00Z"),
                online: true,
                cause: PresenceCause::Hello,
            })
            .unwrap();
        // Its hub was killed with the device online.
        assert!(store.take_presence_left_open().unwrap());
        // Its hub stopped in order: the mark holds for one start only.
        store.mark_stopped_in_order().unwrap();
        assert!(!store.take_presence_left_open().unwrap());
        assert!(store.take_presence_left_open().unwrap());
        // The mark is kept on disk.
        store.mark_stopped_in_order().unwrap();
        store.flush().unwrap();
        drop(store);
        let reopened = Store::open(dir.path()).unwrap();
        assert!(!reopened.take_presence_left_open().unwrap());
    }
}
