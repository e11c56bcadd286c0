//! What each device has played, as far as the hub knows.
//!
//! The hub assumes a device follows its plan (it plays from a local copy even
//! when its link drops), so planned airings count as played once their time
//! passes; a device's own receipts confirm or correct that. When a device goes
//! offline, everything merely assumed is forgotten, so that what it missed is
//! planned again when it reconnects. An airing a device reports failed is
//! planned again only after a pause that doubles with each failure, so a
//! device that cannot play it (its file will not download) is not sent a
//! new plan at every tick.

use std::collections::BTreeMap;

use chrono::{DateTime, TimeDelta, Utc};
use serde::{Deserialize, Serialize};

use crate::plan::AiringKey;
use crate::PlanItem;

/// How the hub knows an airing happened.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Evidence {
    /// Its planned time passed while the device was online.
    Assumed,
    /// The device reported it.
    Reported,
}

/// The airing a device is playing now.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Playing {
    pub item: PlanItem,
    pub evidence: Evidence,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeviceLog {
    /// Airings that are over and need not be planned again. Serialised as a
    /// list of `{"airing", "evidence"}` pairs: JSON object keys must be
    /// strings and an airing key is a struct.
    #[serde(with = "done_as_list")]
    pub done: BTreeMap<AiringKey, Evidence>,
    pub playing: Option<Playing>,
    /// Offline devices are not assumed to play anything.
    pub offline: bool,
    /// Airings the device reported failed, not to be planned again before
    /// their time. Serialised as a list, like `done`.
    #[serde(
        default,
        with = "retries_as_list",
        skip_serializing_if = "BTreeMap::is_empty"
    )]
    pub retries: BTreeMap<AiringKey, Retry>,
}

/// When a failed airing may be planned again.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Retry {
    /// Failures reported in a row.
    pub failures: u32,
    pub not_before: DateTime<Utc>,
}

/// The pause after a first failure; it doubles with each further one…
const FIRST_RETRY: TimeDelta = TimeDelta::seconds(10);
/// …up to this.
const MAX_RETRY: TimeDelta = TimeDelta::minutes(10);

impl DeviceLog {
    /// A fresh device: nothing played, nothing playing, online.
    pub fn is_fresh(&self) -> bool {
        self.done.is_empty() && self.playing.is_none() && !self.offline
    }

    /// Marks `key` done unless it already is (a report is never downgraded);
    /// returns whether it was not done before.
    pub(crate) fn mark_done(&mut self, key: &AiringKey, evidence: Evidence) -> bool {
        match self.done.get_mut(key) {
            Some(known) => {
                if evidence == Evidence::Reported {
                    *known = Evidence::Reported;
                }
                false
            }
            None => {
                self.done.insert(key.clone(), evidence);
                true
            }
        }
    }

    /// The device went offline (or the hub restarted and nobody is
    /// connected yet): nothing is assumed to play on it any more.
    pub fn go_offline(&mut self) {
        self.offline = true;
        self.forget_assumed();
    }

    /// Forgets what was only assumed.
    pub(crate) fn forget_assumed(&mut self) {
        self.done.retain(|_, e| *e == Evidence::Reported);
        self.playing.take_if(|p| p.evidence == Evidence::Assumed);
    }

    /// The device reported `key` failed at `now`: it is owed again after a
    /// pause (10 s, doubling with each failure in a row, at most 10 min).
    pub(crate) fn note_failure(&mut self, key: &AiringKey, now: DateTime<Utc>) {
        let failures = self.retries.get(key).map_or(0, |r| r.failures) + 1;
        let pause = FIRST_RETRY
            .checked_mul(1 << failures.saturating_sub(1).min(16))
            .map_or(MAX_RETRY, |pause| pause.min(MAX_RETRY));
        self.retries.insert(
            key.clone(),
            Retry {
                failures,
                not_before: now + pause,
            },
        );
    }

    /// When `key` may be planned again, if it failed.
    pub fn retry_at(&self, key: &AiringKey) -> Option<DateTime<Utc>> {
        self.retries.get(key).map(|r| r.not_before)
    }

    /// Whether the device plays `key` at `now`.
    pub fn is_playing(&self, key: &AiringKey, now: DateTime<Utc>) -> bool {
        self.playing
            .as_ref()
            .is_some_and(|p| &p.item.key == key && p.item.end > now)
    }
}

/// `DeviceLog::done` as a JSON-friendly list of pairs.
mod done_as_list {
    use std::collections::BTreeMap;

    use serde::{Deserialize, Deserializer, Serialize, Serializer};

    use super::Evidence;
    use crate::plan::AiringKey;

    #[derive(Serialize, Deserialize)]
    struct Done<K> {
        airing: K,
        evidence: Evidence,
    }

    pub fn serialize<S: Serializer>(
        done: &BTreeMap<AiringKey, Evidence>,
        serializer: S,
    ) -> Result<S::Ok, S::Error> {
        serializer.collect_seq(done.iter().map(|(airing, evidence)| Done {
            airing,
            evidence: *evidence,
        }))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(
        deserializer: D,
    ) -> Result<BTreeMap<AiringKey, Evidence>, D::Error> {
        let pairs = Vec::<Done<AiringKey>>::deserialize(deserializer)?;
        Ok(pairs.into_iter().map(|d| (d.airing, d.evidence)).collect())
    }
}

/// `DeviceLog::retries` as a list of `{"airing", "failures", "not_before"}`.
mod retries_as_list {
    use std::collections::BTreeMap;

    use serde::{Deserialize, Deserializer, Serialize, Serializer};

    use super::Retry;
    use crate::plan::AiringKey;

    #[derive(Serialize, Deserialize)]
    struct Entry<K> {
        airing: K,
        #[serde(flatten)]
        retry: Retry,
    }

    pub fn serialize<S: Serializer>(
        retries: &BTreeMap<AiringKey, Retry>,
        serializer: S,
    ) -> Result<S::Ok, S::Error> {
        serializer.collect_seq(retries.iter().map(|(airing, retry)| Entry {
            airing,
            retry: *retry,
        }))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(
        deserializer: D,
    ) -> Result<BTreeMap<AiringKey, Retry>, D::Error> {
        let entries = Vec::<Entry<AiringKey>>::deserialize(deserializer)?;
        Ok(entries.into_iter().map(|e| (e.airing, e.retry)).collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testkit::*;
    use crate::PriorityClass;

    #[test]
    fn a_log_round_trips_through_json_with_its_done_airings() {
        let key = AiringKey {
            bulletin: bid("news"),
            occurrence: 2,
            language: lang("ede"),
        };
        let mut log = DeviceLog::default();
        assert!(log.mark_done(&key, Evidence::Assumed));
        assert!(!log.mark_done(&key, Evidence::Reported), "already done");
        log.playing = Some(Playing {
            item: PlanItem {
                key: key.clone(),
                class: PriorityClass::Priority,
                start: local("2026-11-23 05:00"),
                end: local("2026-11-23 05:05"),
                preempted: false,
            },
            evidence: Evidence::Reported,
        });
        let json = serde_json::to_value(&log).unwrap();
        assert_eq!(json["done"][0]["airing"]["language"], "ede");
        assert_eq!(
            json["done"][0]["evidence"], "reported",
            "a report upgrades an assumption"
        );
        assert_eq!(
            serde_json::from_value::<DeviceLog>(json.clone()).unwrap(),
            log
        );
        assert!(json.get("retries").is_none(), "no retries, no field");

        // Failures in a row double the pause, up to its maximum.
        let at = local("2026-11-23 06:00");
        let pauses: Vec<i64> = (0..8)
            .map(|_| {
                log.note_failure(&key, at);
                (log.retry_at(&key).unwrap() - at).num_seconds()
            })
            .collect();
        assert_eq!(pauses, [10, 20, 40, 80, 160, 320, 600, 600]);
        let json = serde_json::to_value(&log).unwrap();
        assert_eq!(json["retries"][0]["failures"], 8);
        assert_eq!(serde_json::from_value::<DeviceLog>(json).unwrap(), log);
    }

    #[test]
    fn going_offline_forgets_only_assumptions() {
        let (assumed, reported) = (
            AiringKey {
                bulletin: bid("a"),
                occurrence: 0,
                language: lang("vi"),
            },
            AiringKey {
                bulletin: bid("b"),
                occurrence: 0,
                language: lang("vi"),
            },
        );
        let mut log = DeviceLog::default();
        log.mark_done(&assumed, Evidence::Assumed);
        log.mark_done(&reported, Evidence::Reported);
        log.forget_assumed();
        assert_eq!(log.done.keys().collect::<Vec<_>>(), [&reported]);
    }
}
