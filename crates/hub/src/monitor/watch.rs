//! What the hub task watches besides the scheduler: when each device was
//! last heard from and since when it is online or offline, and how long
//! emergencies take to reach the air. The task calls it as reports arrive
//! (hub clock); people's requests read snapshots of it.

use std::collections::{BTreeMap, HashMap, HashSet};

use chrono::{DateTime, Utc};
use hub_core::{
    Bulletin, BulletinId, DeliveryState, Device, DeviceId, PriorityClass, Programme, Province,
};
use hub_proto::Status;

use super::metrics::{Histogram, FIRST_AUDIO_BOUNDS};
use crate::link::LinkStats;

/// One device's health as the hub task knows it.
#[derive(Clone, Debug)]
pub struct DeviceHealth {
    pub device: Device,
    /// In a session opened by its hello.
    pub online: bool,
    /// When it last went online or offline (the hub's start if it has not
    /// been heard from since).
    pub since: DateTime<Utc>,
    /// When the hub last admitted a report from it (hub clock).
    pub last_seen: Option<DateTime<Utc>>,
    /// Its last status report.
    pub status: Option<Status>,
    /// The title of the bulletin its status says it plays, if the hub knows it.
    pub playing_title: Option<String>,
}

/// The hub task's figures for `/metrics`.
#[derive(Clone, Debug)]
pub struct LinkFigures {
    /// Deliveries by state.
    pub deliveries: BTreeMap<DeliveryState, u64>,
    /// Seconds from an emergency's trigger to each device's start.
    pub first_audio: Histogram,
    /// Device sessions the hub holds.
    pub sessions: usize,
    pub stats: LinkStats,
}

/// Presence and emergency timing, kept by the hub task.
#[derive(Debug)]
pub struct DeviceWatch {
    started: DateTime<Utc>,
    last_seen: HashMap<DeviceId, DateTime<Utc>>,
    since: HashMap<DeviceId, DateTime<Utc>>,
    /// When each emergency queued while the hub runs was triggered: its
    /// `not_before`, which the API sets to the moment the operator acted.
    triggered: HashMap<BulletinId, DateTime<Utc>>,
    first_audio: Histogram,
}

impl DeviceWatch {
    /// Nothing heard yet; every device counts as offline since `started`.
    pub fn new(started: DateTime<Utc>) -> Self {
        Self {
            started,
            last_seen: HashMap::new(),
            since: HashMap::new(),
            triggered: HashMap::new(),
            first_audio: Histogram::new(FIRST_AUDIO_BOUNDS),
        }
    }

    /// The hub admitted a report from `device` at `now`.
    pub fn seen(&mut self, device: &DeviceId, now: DateTime<Utc>) {
        self.last_seen.insert(device.clone(), now);
    }

    /// `device` went online or offline at `now`.
    pub fn changed(&mut self, device: &DeviceId, now: DateTime<Utc>) {
        self.since.insert(device.clone(), now);
    }

    /// A bulletin was queued: an emergency's latency is measured from its trigger.
    pub fn queued(&mut self, bulletin: &Bulletin) {
        if bulletin.class == PriorityClass::Emergency {
            self.triggered
                .insert(bulletin.id.clone(), bulletin.validity.not_before);
        }
    }

    /// A device started `bulletin` for the first time at `now`.
    pub fn first_start(&mut self, bulletin: &BulletinId, now: DateTime<Utc>) {
        if let Some(triggered) = self.triggered.get(bulletin) {
            let waited = (now - *triggered).to_std().unwrap_or_default();
            self.first_audio.observe(waited.as_secs_f64());
        }
    }

    /// Forgets emergencies that will not start anywhere again (final, or
    /// refused and never in the programme).
    pub fn forget_settled(&mut self, programme: &Programme) {
        self.triggered
            .retain(|id, _| programme.bulletin(id).is_ok_and(|b| !b.state.is_final()));
    }

    pub fn first_audio(&self) -> &Histogram {
        &self.first_audio
    }

    /// Every registered device's health.
    pub fn devices(
        &self,
        province: &Province,
        programme: &Programme,
        online: &HashSet<DeviceId>,
        health: &HashMap<DeviceId, Status>,
    ) -> Vec<DeviceHealth> {
        province
            .devices()
            .map(|device| {
                let status = health.get(&device.id).cloned();
                let playing_title = status
                    .as_ref()
                    .and_then(|s| s.playing.as_ref())
                    .and_then(|airing| BulletinId::parse(&airing.bulletin).ok())
                    .and_then(|id| programme.bulletin(&id).ok())
                    .map(|bulletin| bulletin.title.clone());
                DeviceHealth {
                    device: device.clone(),
                    online: online.contains(&device.id),
                    since: self.since.get(&device.id).copied().unwrap_or(self.started),
                    last_seen: self.last_seen.get(&device.id).copied(),
                    status,
                    playing_title,
                }
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use hub_core::testkit::{self, local};
    use hub_core::{AreaLevel, PriorityClass};
    use hub_proto::{AiringRef, Power};

    use super::*;

    #[test]
    fn only_emergencies_queued_while_the_hub_runs_are_timed_from_their_trigger() {
        let province = testkit::province();
        let emergency =
            testkit::emergency("e1", AreaLevel::Province, "67", &["67"], "2026-11-23 05:00");
        let routine = testkit::bulletin(
            "p1",
            PriorityClass::Priority,
            AreaLevel::Province,
            "67",
            &["67"],
        );
        let mut watch = DeviceWatch::new(local("2026-11-23 04:00"));
        watch.queued(&emergency);
        watch.queued(&routine);
        watch.first_start(
            &emergency.id,
            local("2026-11-23 05:00") + chrono::TimeDelta::seconds(3),
        );
        watch.first_start(&routine.id, local("2026-11-23 05:30"));
        assert_eq!(watch.first_audio().count(), 1);
        assert_eq!(watch.first_audio().sum(), 3.0);
        // Once it is no longer in the programme, it is forgotten.
        watch.forget_settled(&testkit::programme(&province, [routine]));
        watch.first_start(&emergency.id, local("2026-11-23 05:01"));
        assert_eq!(watch.first_audio().count(), 1);
    }

    #[test]
    fn device_health_says_since_when_last_seen_and_what_plays() {
        let province = testkit::province();
        let bulletin = testkit::bulletin(
            "p1",
            PriorityClass::Priority,
            AreaLevel::Province,
            "67",
            &["67"],
        );
        let programme = testkit::programme(&province, [bulletin]);
        let started = local("2026-11-23 04:00");
        let mut watch = DeviceWatch::new(started);
        let heard = province.devices().next().unwrap().id.clone();
        watch.changed(&heard, local("2026-11-23 04:10"));
        watch.seen(&heard, local("2026-11-23 04:12"));
        let status = Status {
            playing: Some(AiringRef {
                bulletin: "p1".into(),
                occurrence: 0,
                language: "vi".into(),
            }),
            volume: 70,
            power: Power::Mains,
            battery_percent: None,
            faults: Vec::new(),
        };
        let online = HashSet::from([heard.clone()]);
        let health = HashMap::from([(heard.clone(), status)]);
        let devices = watch.devices(&province, &programme, &online, &health);
        assert_eq!(devices.len(), province.devices().count());
        let one = devices.iter().find(|d| d.device.id == heard).unwrap();
        assert!(one.online);
        assert_eq!(one.since, local("2026-11-23 04:10"));
        assert_eq!(one.last_seen, Some(local("2026-11-23 04:12")));
        assert_eq!(one.playing_title.as_deref(), Some("Bulletin p1"));
        let silent = devices.iter().find(|d| d.device.id != heard).unwrap();
        assert!(!silent.online);
        assert_eq!(silent.since, started);
        assert_eq!(silent.last_seen, None);
    }
}
