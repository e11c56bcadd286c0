//! Delivery state: where each planned airing stands on each device.
//!
//! `queued → sent → acknowledged → started → finished | preempted | stopped |
//! failed | expired`. The hub moves an airing to `sent` when it publishes a
//! command carrying it; only the device's own reports move it further, so an
//! offline device is never shown as having received anything. Reports are
//! idempotent and never move an airing backwards, except that an airing
//! preempted, stopped or failed starts again when the hub plans it again and
//! the device replays it.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use hub_proto::FailureReason;
use serde::{Deserialize, Serialize};

use crate::plan::AiringKey;
use crate::{BulletinId, DeviceId};

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DeliveryState {
    /// Planned, not yet sent (the device may be offline).
    Queued,
    /// In a command published to the device.
    Sent,
    /// The device accepted the command carrying it.
    Acknowledged,
    Started,
    Finished,
    /// Cut by an emergency; replayed later while valid.
    Preempted,
    /// Stopped on the hub's order (cancelled or expired while playing).
    Stopped,
    Failed,
    /// Its time passed before the device started it.
    Expired,
}

impl DeliveryState {
    /// Cut short: the scheduler may plan the airing again, and the device's
    /// report of starting it again counts.
    pub fn may_replay(self) -> bool {
        matches!(self, Self::Preempted | Self::Stopped | Self::Failed)
    }

    /// No report moves the airing further (but see [`Self::may_replay`]).
    pub fn is_final(self) -> bool {
        matches!(
            self,
            Self::Finished | Self::Stopped | Self::Failed | Self::Expired
        )
    }

    /// The device started airing it: people heard it, whatever came after.
    pub fn was_aired(self) -> bool {
        matches!(
            self,
            Self::Started | Self::Finished | Self::Preempted | Self::Stopped
        )
    }

    /// Sent to the device, which has not reported starting it yet (an
    /// emergency starts on arrival, so it may be airing).
    pub fn is_in_hand(self) -> bool {
        matches!(self, Self::Sent | Self::Acknowledged)
    }

    fn has_started(self) -> bool {
        self >= Self::Started
    }
}

/// One airing on one device.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Delivery {
    pub device: DeviceId,
    pub airing: AiringKey,
    pub state: DeliveryState,
    /// Sequence number of the last command that carried it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub seq: Option<u64>,
    /// When the state last changed (hub clock; the device's own time for its reports).
    pub at: DateTime<Utc>,
    /// Why the device says it [`DeliveryState::Failed`], if it said; only
    /// ever set while the state is `failed`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<FailureReason>,
}

impl Delivery {
    fn queued(device: &DeviceId, airing: &AiringKey, now: DateTime<Utc>) -> Self {
        Self {
            device: device.clone(),
            airing: airing.clone(),
            state: DeliveryState::Queued,
            seq: None,
            at: now,
            reason: None,
        }
    }
}

/// Every delivery, by device and airing.
#[derive(Clone, Debug, Default)]
pub struct DeliveryBook {
    deliveries: BTreeMap<DeviceId, Airings>,
}

/// One device's deliveries, in airing order. A device holds a few airings at
/// a time: a sorted vector costs one small allocation per device where a
/// map's first node costs about two kilobytes, which a broadcast to 10,000
/// devices would allocate (and the kernel zero) all at once.
#[derive(Clone, Debug, Default)]
struct Airings(Vec<Delivery>);

impl Airings {
    /// Where the airing's delivery is, or would go.
    fn find(&self, airing: &AiringKey) -> Result<usize, usize> {
        self.0.binary_search_by(|d| d.airing.cmp(airing))
    }

    fn get(&self, airing: &AiringKey) -> Option<&Delivery> {
        self.find(airing).ok().map(|i| &self.0[i])
    }

    /// Adds `delivery`, in place of the one of the same airing if any.
    fn put(&mut self, delivery: Delivery) {
        match self.find(&delivery.airing) {
            Ok(i) => self.0[i] = delivery,
            Err(i) => self.0.insert(i, delivery),
        }
    }

    /// The airing's delivery, made with `new` if there is none.
    fn get_or_insert_with(
        &mut self,
        airing: &AiringKey,
        new: impl FnOnce() -> Delivery,
    ) -> &mut Delivery {
        let i = self.find(airing).unwrap_or_else(|i| {
            self.0.insert(i, new());
            i
        });
        &mut self.0[i]
    }
}

impl DeliveryBook {
    pub fn from_records(records: impl IntoIterator<Item = Delivery>) -> Self {
        let mut book = Self::default();
        for delivery in records {
            book.deliveries
                .entry(delivery.device.clone())
                .or_default()
                .put(delivery);
        }
        book
    }

    pub fn get(&self, device: &DeviceId, airing: &AiringKey) -> Option<&Delivery> {
        self.deliveries.get(device)?.get(airing)
    }

    /// Every delivery of `device`, in airing order.
    pub fn of_device(&self, device: &DeviceId) -> impl Iterator<Item = &Delivery> {
        self.deliveries
            .get(device)
            .into_iter()
            .flat_map(|d| d.0.iter())
    }

    pub fn all(&self) -> impl Iterator<Item = &Delivery> {
        self.deliveries.values().flat_map(|d| d.0.iter())
    }

    /// Every delivery of `bulletin`, on any device.
    pub fn of_bulletin<'a>(
        &'a self,
        bulletin: &'a BulletinId,
    ) -> impl Iterator<Item = &'a Delivery> + 'a {
        self.all().filter(move |d| &d.airing.bulletin == bulletin)
    }

    /// The airing is on the device's plan. Returns the delivery if it changed.
    pub fn planned(
        &mut self,
        device: &DeviceId,
        airing: &AiringKey,
        now: DateTime<Utc>,
    ) -> Option<&Delivery> {
        let of_device = self.deliveries.entry(device.clone()).or_default();
        let Err(i) = of_device.find(airing) else {
            return None;
        };
        of_device.0.insert(i, Delivery::queued(device, airing, now));
        Some(&of_device.0[i])
    }

    /// The airing left the device's plan before it started: it is expired if
    /// its time is over (`expired`), otherwise forgotten (cancelled or moved).
    /// Returns the delivery if it is kept with a new state.
    pub fn withdrawn(
        &mut self,
        device: &DeviceId,
        airing: &AiringKey,
        expired: bool,
        now: DateTime<Utc>,
    ) -> Withdrawal {
        let Some(of_device) = self.deliveries.get_mut(device) else {
            return Withdrawal::Unchanged;
        };
        let Ok(i) = of_device.find(airing) else {
            return Withdrawal::Unchanged;
        };
        let delivery = &mut of_device.0[i];
        if delivery.state.has_started() {
            return Withdrawal::Unchanged;
        }
        if expired {
            delivery.state = DeliveryState::Expired;
            delivery.at = now;
            Withdrawal::Expired(delivery.clone())
        } else {
            of_device.0.remove(i);
            Withdrawal::Removed
        }
    }

    /// A command with sequence number `seq` carrying the airing was published.
    pub fn sent(
        &mut self,
        device: &DeviceId,
        airing: &AiringKey,
        seq: u64,
        now: DateTime<Utc>,
    ) -> Option<&Delivery> {
        let delivery = self.entry(device, airing, now);
        if delivery.state.has_started() && !delivery.state.may_replay() {
            return None;
        }
        delivery.seq = Some(seq);
        if delivery.state <= DeliveryState::Acknowledged {
            delivery.state = DeliveryState::Sent;
            delivery.at = now;
        }
        Some(delivery)
    }

    /// The device accepted command `seq`: what it carried is acknowledged.
    pub fn acknowledged(
        &mut self,
        device: &DeviceId,
        seq: u64,
        now: DateTime<Utc>,
    ) -> Vec<Delivery> {
        let mut changed = Vec::new();
        let Some(of_device) = self.deliveries.get_mut(device) else {
            return changed;
        };
        for delivery in &mut of_device.0 {
            if delivery.seq == Some(seq) && delivery.state == DeliveryState::Sent {
                delivery.state = DeliveryState::Acknowledged;
                delivery.at = now;
                changed.push(delivery.clone());
            }
        }
        changed
    }

    /// The device reports `state` (started or later) for the airing at its time `at`.
    /// Returns the delivery if it changed.
    pub fn reported(
        &mut self,
        device: &DeviceId,
        airing: &AiringKey,
        state: DeliveryState,
        at: DateTime<Utc>,
    ) -> Option<&Delivery> {
        self.reported_with(device, airing, state, None, at)
    }

    /// As [`Self::reported`], with the device's reason when `state` is
    /// [`DeliveryState::Failed`] (ignored for any other state).
    pub fn reported_with(
        &mut self,
        device: &DeviceId,
        airing: &AiringKey,
        state: DeliveryState,
        reason: Option<FailureReason>,
        at: DateTime<Utc>,
    ) -> Option<&Delivery> {
        debug_assert!(state.has_started(), "devices report started or later");
        let delivery = self.entry(device, airing, at);
        let replay = delivery.state.may_replay() && state == DeliveryState::Started;
        let forward = !delivery.state.is_final() && state > delivery.state;
        // A device that was offline played it from its plan before the hub
        // gave it up: its word outranks the hub's assumption.
        let played_before_expiry = delivery.state == DeliveryState::Expired && at < delivery.at;
        if !(replay || forward || played_before_expiry) {
            return None;
        }
        delivery.state = state;
        delivery.at = at;
        delivery.reason = reason.filter(|_| state == DeliveryState::Failed);
        Some(delivery)
    }

    fn entry(
        &mut self,
        device: &DeviceId,
        airing: &AiringKey,
        now: DateTime<Utc>,
    ) -> &mut Delivery {
        self.deliveries
            .entry(device.clone())
            .or_default()
            .get_or_insert_with(airing, || Delivery::queued(device, airing, now))
    }
}

/// What [`DeliveryBook::withdrawn`] did.
#[derive(Debug, PartialEq, Eq)]
pub enum Withdrawal {
    Unchanged,
    Removed,
    Expired(Delivery),
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testkit::{bid, device_id, lang};

    fn at(s: &str) -> DateTime<Utc> {
        s.parse().unwrap()
    }

    fn airing(bulletin: &str) -> AiringKey {
        AiringKey {
            bulletin: bid(bulletin),
            occurrence: 0,
            language: lang("vi"),
        }
    }

    const T: &str = "2026-11-23T00:00:00Z";

    fn state(book: &DeliveryBook, device: &str, bulletin: &str) -> Option<DeliveryState> {
        book.get(&device_id(device), &airing(bulletin))
            .map(|d| d.state)
    }

    #[test]
    fn an_airing_moves_from_queued_to_finished_on_the_devices_word() {
        let (dev, a) = (device_id("24611-LS-01"), airing("tin-a"));
        let mut book = DeliveryBook::default();
        book.planned(&dev, &a, at(T));
        assert_eq!(
            state(&book, "24611-LS-01", "tin-a"),
            Some(DeliveryState::Queued)
        );
        book.sent(&dev, &a, 7, at(T));
        assert_eq!(book.acknowledged(&dev, 6, at(T)), vec![], "another command");
        assert_eq!(book.acknowledged(&dev, 7, at(T)).len(), 1);
        book.reported(&dev, &a, DeliveryState::Started, at(T));
        book.reported(&dev, &a, DeliveryState::Finished, at(T));
        assert_eq!(
            state(&book, "24611-LS-01", "tin-a"),
            Some(DeliveryState::Finished)
        );
    }

    #[test]
    fn reports_are_idempotent_and_never_go_backwards() {
        let (dev, a) = (device_id("24611-LS-01"), airing("tin-a"));
        let mut book = DeliveryBook::default();
        book.sent(&dev, &a, 7, at(T));
        assert!(book
            .reported(&dev, &a, DeliveryState::Finished, at(T))
            .is_some());
        assert!(book
            .reported(&dev, &a, DeliveryState::Finished, at(T))
            .is_none());
        assert!(book
            .reported(&dev, &a, DeliveryState::Started, at(T))
            .is_none());
        assert!(
            book.sent(&dev, &a, 8, at(T)).is_none(),
            "a finished airing is not re-sent"
        );
        assert_eq!(book.acknowledged(&dev, 7, at(T)), vec![]);
        assert_eq!(
            state(&book, "24611-LS-01", "tin-a"),
            Some(DeliveryState::Finished)
        );
    }

    #[test]
    fn stopped_and_failed_airings_start_again_when_replayed_but_finished_ones_never() {
        let dev = device_id("24611-LS-01");
        let mut book = DeliveryBook::default();
        for (bulletin, cut) in [
            ("stopped", DeliveryState::Stopped),
            ("failed", DeliveryState::Failed),
            ("finished", DeliveryState::Finished),
        ] {
            let a = airing(bulletin);
            book.reported(&dev, &a, DeliveryState::Started, at(T));
            book.reported(&dev, &a, cut, at(T));
            book.reported(&dev, &a, DeliveryState::Started, at(T));
            let again = state(&book, "24611-LS-01", bulletin);
            let want = if cut == DeliveryState::Finished {
                DeliveryState::Finished
            } else {
                DeliveryState::Started
            };
            assert_eq!(again, Some(want), "{bulletin}");
        }
    }

    #[test]
    fn a_report_of_playing_before_the_hub_expired_the_airing_counts() {
        let dev = device_id("24611-LS-01");
        let mut book = DeliveryBook::default();
        let (early, late) = (airing("early"), airing("late"));
        for a in [&early, &late] {
            book.sent(&dev, a, 3, at(T));
        }
        let gave_up = at(T) + chrono::TimeDelta::minutes(10);
        for a in [&early, &late] {
            let withdrawn = book.withdrawn(&dev, a, true, gave_up);
            assert!(matches!(withdrawn, Withdrawal::Expired(_)), "{withdrawn:?}");
        }
        let before = gave_up - chrono::TimeDelta::minutes(5);
        book.reported(&dev, &early, DeliveryState::Started, before);
        book.reported(
            &dev,
            &late,
            DeliveryState::Started,
            gave_up + chrono::TimeDelta::seconds(1),
        );
        assert_eq!(
            state(&book, "24611-LS-01", "early"),
            Some(DeliveryState::Started)
        );
        assert_eq!(
            state(&book, "24611-LS-01", "late"),
            Some(DeliveryState::Expired)
        );
    }

    #[test]
    fn a_failure_keeps_the_devices_reason_until_the_airing_is_replayed() {
        let (dev, a) = (device_id("24611-LS-01"), airing("tin-a"));
        let mut book = DeliveryBook::default();
        book.sent(&dev, &a, 7, at(T));
        let why = Some(FailureReason::MediaMissing);
        // A reason given with any other state is not kept.
        book.reported_with(&dev, &a, DeliveryState::Started, why, at(T));
        assert_eq!(book.get(&dev, &a).unwrap().reason, None);
        let failed = book
            .reported_with(&dev, &a, DeliveryState::Failed, why, at(T))
            .cloned()
            .unwrap();
        assert_eq!((failed.state, failed.reason), (DeliveryState::Failed, why));
        let json = serde_json::to_string(&failed).unwrap();
        assert!(json.contains(r#""reason":"media_missing""#), "{json}");
        assert_eq!(serde_json::from_str::<Delivery>(&json).unwrap(), failed);
        book.reported(&dev, &a, DeliveryState::Started, at(T));
        assert_eq!(book.get(&dev, &a).unwrap().reason, None, "replayed");
    }

    #[test]
    fn a_preempted_airing_starts_again_when_replayed() {
        let (dev, a) = (device_id("24611-LS-01"), airing("tin-a"));
        let mut book = DeliveryBook::default();
        book.reported(&dev, &a, DeliveryState::Started, at(T));
        book.reported(&dev, &a, DeliveryState::Preempted, at(T));
        assert!(book.sent(&dev, &a, 9, at(T)).is_some());
        assert_eq!(
            state(&book, "24611-LS-01", "tin-a"),
            Some(DeliveryState::Preempted)
        );
        book.reported(&dev, &a, DeliveryState::Started, at(T));
        book.reported(&dev, &a, DeliveryState::Finished, at(T));
        assert_eq!(
            state(&book, "24611-LS-01", "tin-a"),
            Some(DeliveryState::Finished)
        );
    }

    #[test]
    fn withdrawn_airings_expire_or_are_forgotten_unless_started() {
        let dev = device_id("24611-LS-01");
        let mut book = DeliveryBook::default();
        for b in ["old", "moved", "playing"] {
            book.sent(&dev, &airing(b), 3, at(T));
        }
        book.reported(&dev, &airing("playing"), DeliveryState::Started, at(T));
        assert!(matches!(
            book.withdrawn(&dev, &airing("old"), true, at(T)),
            Withdrawal::Expired(_)
        ));
        assert_eq!(
            book.withdrawn(&dev, &airing("moved"), false, at(T)),
            Withdrawal::Removed
        );
        assert_eq!(
            book.withdrawn(&dev, &airing("playing"), true, at(T)),
            Withdrawal::Unchanged
        );
        let states: Vec<_> = book.of_device(&dev).map(|d| d.state).collect();
        assert_eq!(states, [DeliveryState::Expired, DeliveryState::Started]);
    }

    #[test]
    fn stored_deliveries_come_back_in_airing_order_the_last_of_each_kept() {
        let dev = device_id("24611-LS-01");
        let record = |bulletin: &str, seq| Delivery {
            seq: Some(seq),
            ..Delivery::queued(&dev, &airing(bulletin), at(T))
        };
        let book = DeliveryBook::from_records([
            record("tin-c", 1),
            record("tin-a", 2),
            record("tin-c", 3),
            record("tin-b", 4),
        ]);
        let stored: Vec<_> = book
            .of_device(&dev)
            .map(|d| (d.airing.bulletin.as_str(), d.seq))
            .collect();
        assert_eq!(
            stored,
            [("tin-a", Some(2)), ("tin-b", Some(4)), ("tin-c", Some(3))]
        );
    }

    #[test]
    fn deliveries_of_a_device_do_not_include_its_neighbours() {
        let mut book = DeliveryBook::default();
        for d in ["24611-LS-01", "24611-LS-02", "24611-LS-10"] {
            book.planned(&device_id(d), &airing("tin-a"), at(T));
        }
        let dev = device_id("24611-LS-01");
        assert_eq!(book.of_device(&dev).count(), 1);
        assert_eq!(book.all().count(), 3);
    }
}
