//! What each device has played, as far as the hub knows.
//!
//! The hub assumes a device follows its plan (it plays from a local copy even
//! when its link drops), so planned airings count as played once their time
//! passes; a device's own receipts confirm or correct that. When a device goes
//! offline, everything merely assumed is forgotten, so that what it missed is
//! planned again when it reconnects.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
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
    /// Airings that are over and need not be planned again.
    pub done: BTreeMap<AiringKey, Evidence>,
    pub playing: Option<Playing>,
    /// Offline devices are not assumed to play anything.
    pub offline: bool,
}

impl DeviceLog {
    /// A fresh device: nothing played, nothing playing, online.
    pub fn is_fresh(&self) -> bool {
        self.done.is_empty() && self.playing.is_none() && !self.offline
    }

    /// Marks `key` done unless it already is (a report is never downgraded).
    pub(crate) fn mark_done(&mut self, key: &AiringKey, evidence: Evidence) {
        let entry = self.done.entry(key.clone()).or_insert(evidence);
        if evidence == Evidence::Reported {
            *entry = Evidence::Reported;
        }
    }

    /// Forgets what was only assumed; returns whether anything changed.
    pub(crate) fn forget_assumed(&mut self) -> bool {
        let before = self.done.len();
        self.done.retain(|_, e| *e == Evidence::Reported);
        let dropped_playing = self
            .playing
            .take_if(|p| p.evidence == Evidence::Assumed)
            .is_some();
        dropped_playing || before != self.done.len()
    }

    /// Whether the device plays `key` at `now`.
    pub fn is_playing(&self, key: &AiringKey, now: DateTime<Utc>) -> bool {
        self.playing
            .as_ref()
            .is_some_and(|p| &p.item.key == key && p.item.end > now)
    }
}
