//! A compressed broadcast day: the hub with its embedded broker and a fleet
//! of 20 simulated devices (`tests/fixtures/day-province.toml`), on a clock
//! running 240 times faster than real time from 04:50 to 06:50 (half a
//! minute). Five priority bulletins are queued before the windows open, an
//! emergency for district 660 arrives at 05:15 while loudspeakers play, and
//! a bulletin planned for 06:00 is cancelled at 05:30.
//!
//! What every device should air comes from a second, pure `Scheduler` fed
//! the same events at the same clock times: the hub, the broker and the
//! devices together must do exactly what it decides.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use chrono::{DateTime, TimeDelta, Utc};
use firmware_sim::{Fault, Fleet, FleetOptions, Played, Target};
use hub::link::{BrokerChoice, HubHandle};
use hub_core::testkit::{emergency, local, priority, with_audio_secs};
use hub_core::{
    AiringKey, AreaLevel, Bulletin, BulletinId, Decision, DeliveryState, DeviceId, Event, PlanItem,
    Programme, Province, Scheduler,
};
use hub_proto::{Clock, Outcome};
use tempfile::TempDir;

use crate::support::link::{eventually, fast_link, spawn_hub_on};

const SPEED: f64 = 240.0;
/// Start and end of the day, local time.
const START: &str = "2026-11-23 04:50";
const END: &str = "2026-11-23 06:50";
/// Devices play planned airings on their own clocks within milliseconds;
/// the emergency reaches them after the hub heard of it, a few tens of
/// milliseconds later. Both stay well inside this (half a second of real time).
const TOLERANCE: TimeDelta = TimeDelta::minutes(2);
const WAIT: Duration = Duration::from_secs(30);

fn at(hh_mm: &str) -> DateTime<Utc> {
    local(&format!("2026-11-23 {hh_mm}"))
}

fn id(text: &str) -> DeviceId {
    DeviceId::parse(text).unwrap()
}

/// The programme queued before the windows open.
fn morning_bulletins() -> Vec<Bulletin> {
    let mut expiring = priority("e1-661", AreaLevel::District, "661", 300);
    expiring.validity.expires = at("05:12");
    let mut evening = priority("c1-67", AreaLevel::Province, "67", 120);
    evening.validity.not_before = at("05:50");
    vec![
        priority("p1-67", AreaLevel::Province, "67", 240),
        priority("p2-660", AreaLevel::District, "660", 180),
        priority("pl-660", AreaLevel::District, "660", 900),
        expiring,
        evening,
    ]
}

/// The emergency for district 660, from `now` for 25 minutes.
fn flood(now: DateTime<Utc>) -> Bulletin {
    let mut flood = with_audio_secs(
        emergency(
            "em-660",
            AreaLevel::Province,
            "67",
            &["660"],
            "2026-11-23 05:00",
        ),
        120,
    );
    flood.validity.not_before = now;
    flood.validity.expires = now + TimeDelta::minutes(25);
    flood
}

/// The hub, its fleet, and the reference scheduler with its decisions.
struct Day {
    hub: HubHandle,
    fleet: Fleet,
    clock: Clock,
    reference: Scheduler,
    decisions: Vec<Decision>,
    expiries: BTreeMap<BulletinId, DateTime<Utc>>,
    _dir: TempDir,
}

impl Day {
    async fn start() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let clock = Clock::simulated(local(START), SPEED);
        let hub = spawn_hub_on(
            "day-province.toml",
            dir.path(),
            BrokerChoice::Embedded,
            clock,
        )
        .await;
        let options = FleetOptions {
            connect_rate: 2000,
            link: fast_link(),
        };
        let fleet = Fleet::start(&hub.provisioning, None, clock, &options).unwrap();
        let province: Province = hub::config::load(&crate::support::fixture("day-province.toml"))
            .unwrap()
            .province;
        let mut day = Self {
            hub,
            fleet,
            clock,
            reference: Scheduler::new(province, Programme::default(), BTreeMap::new()),
            decisions: Vec::new(),
            expiries: BTreeMap::new(),
            _dir: dir,
        };
        day.wait_online(&day.ids(), true).await;
        assert!(
            day.clock.now() < at("05:00"),
            "the fleet connected too late"
        );
        for bulletin in morning_bulletins() {
            day.queue(bulletin).await;
        }
        day
    }

    fn ids(&self) -> Vec<String> {
        self.fleet
            .devices()
            .iter()
            .map(|d| d.id().to_string())
            .collect()
    }

    /// Applies `event` to the hub and, at the same clock time, to the reference.
    async fn apply(&mut self, event: Event) {
        let now = self.clock.now();
        self.hub.event(event.clone()).await.unwrap().unwrap();
        let handled = self.reference.handle_all(now, vec![event]);
        assert!(handled.refused.is_empty(), "{:?}", handled.refused);
        self.decisions.extend(handled.decisions);
    }

    async fn queue(&mut self, bulletin: Bulletin) {
        self.expiries
            .insert(bulletin.id.clone(), bulletin.validity.expires);
        self.apply(Event::Queue(bulletin)).await;
    }

    async fn until(&self, hh_mm: &str) {
        tokio::time::sleep(self.clock.real_until(at(hh_mm))).await;
    }

    async fn wait_online(&self, devices: &[String], online: bool) {
        for device in devices {
            eventually(&format!("{device} online = {online}"), WAIT, || async {
                self.hub.is_online(&id(device)).await.unwrap() == online
            })
            .await;
        }
    }

    /// The emergency at 05:15, the cancellation at 05:30, then the rest of the day.
    async fn run_to_the_end(&mut self) {
        self.until("05:15").await;
        let flood = flood(self.clock.now());
        self.queue(flood).await;
        self.until("05:30").await;
        self.apply(Event::Cancel(BulletinId::parse("c1-67").unwrap()))
            .await;
        tokio::time::sleep(self.clock.real_until(local(END))).await;
        let handled = self.reference.handle_all(local(END), vec![Event::Tick]);
        self.decisions.extend(handled.decisions);
    }

    /// What the reference scheduler had `device` air: its last word on each
    /// airing start, without the ones it withdrew.
    fn planned(&self, device: &str) -> Vec<PlanItem> {
        let mut planned: BTreeMap<(DateTime<Utc>, AiringKey), PlanItem> = BTreeMap::new();
        for decision in &self.decisions {
            match decision {
                Decision::Play { device: d, item } if d.as_str() == device => {
                    planned.insert((item.start, item.key.clone()), item.clone());
                }
                Decision::Withdraw { device: d, item } if d.as_str() == device => {
                    planned.remove(&(item.start, item.key.clone()));
                }
                _ => {}
            }
        }
        planned
            .into_values()
            .filter(|item| item.start < local(END))
            .collect()
    }

    fn timeline(&self, device: &str) -> Vec<Played> {
        self.fleet.device(device).unwrap().timeline()
    }

    /// The hub's deliveries of `device` that a device report moved past `sent`.
    async fn reported(&self, device: &str) -> BTreeMap<String, (DeliveryState, DateTime<Utc>)> {
        self.hub
            .deliveries(&id(device))
            .await
            .unwrap()
            .into_iter()
            .filter(|d| d.state >= DeliveryState::Started && d.state != DeliveryState::Expired)
            .map(|d| (d.airing.bulletin.to_string(), (d.state, d.at)))
            .collect()
    }

    /// The hub's proof of play must equal each device's timeline: for every
    /// airing its last outcome, at the device's own time. An airing a power
    /// loss cut last is left out: the device lost the memory of it, and the
    /// hub still holds its last report.
    async fn assert_proof_of_play_matches_timelines(&self) {
        for device in self.ids() {
            let mut from_device: BTreeMap<String, (DeliveryState, DateTime<Utc>)> = BTreeMap::new();
            for line in self.timeline(&device) {
                let state = match line.outcome {
                    Outcome::Started => DeliveryState::Started,
                    Outcome::Finished => DeliveryState::Finished,
                    Outcome::Preempted => DeliveryState::Preempted,
                    Outcome::Stopped => DeliveryState::Stopped,
                    Outcome::Failed => DeliveryState::Failed,
                };
                let at = if line.outcome == Outcome::Started {
                    line.start
                } else {
                    line.end
                };
                from_device.insert(line.airing.bulletin, (state, at));
            }
            let forgotten: BTreeSet<String> = from_device
                .iter()
                .filter(|(_, (state, _))| *state == DeliveryState::Failed)
                .map(|(airing, _)| airing.clone())
                .collect();
            from_device.retain(|airing, _| !forgotten.contains(airing));
            let deadline = std::time::Instant::now() + WAIT;
            loop {
                let mut reported = self.reported(&device).await;
                reported.retain(|airing, _| !forgotten.contains(airing));
                if reported == from_device {
                    break;
                }
                if std::time::Instant::now() > deadline {
                    assert_eq!(reported, from_device, "the hub's record of {device}");
                }
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
    }

    async fn stop(self) {
        self.fleet.stop().await;
        self.hub.shutdown().await.unwrap();
    }
}

fn bulletins_of(timeline: &[Played]) -> Vec<&str> {
    timeline
        .iter()
        .map(|p| p.airing.bulletin.as_str())
        .collect()
}

fn in_district_660(device: &str) -> bool {
    device.starts_with("24611-") || device.starts_with("24612-")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_day_airs_on_every_device_exactly_what_the_scheduler_planned() {
    let mut day = Day::start().await;
    day.run_to_the_end().await;

    for device in day.ids() {
        let planned = day.planned(&device);
        let timeline = day.timeline(&device);
        assert!(!planned.is_empty(), "{device} had nothing planned");
        assert_eq!(
            timeline.len(),
            planned.len(),
            "{device} aired {:?}, planned {:?}",
            bulletins_of(&timeline),
            planned
                .iter()
                .map(|i| i.key.bulletin.as_str())
                .collect::<Vec<_>>()
        );
        for (played, item) in timeline.iter().zip(&planned) {
            let what = format!("{device}: aired {played:?}, planned {item:?}");
            assert_eq!(played.airing, item.key.to_wire(), "{what}");
            assert!((played.start - item.start).abs() <= TOLERANCE, "{what}");
            assert!((played.end - item.end).abs() <= TOLERANCE, "{what}");
            let outcome = if item.preempted {
                Outcome::Preempted
            } else {
                Outcome::Finished
            };
            assert_eq!(played.outcome, outcome, "{what}");
        }
        // The emergency aired in district 660 only, cutting what loudspeakers played.
        let aired = bulletins_of(&timeline);
        assert_eq!(
            aired.contains(&"em-660"),
            in_district_660(&device),
            "{device}: {aired:?}"
        );
        let cut = timeline.iter().any(|p| p.outcome == Outcome::Preempted);
        assert_eq!(
            cut,
            in_district_660(&device) && device.contains("-LS-"),
            "{device}: {timeline:?}"
        );
        // Nothing after expiry or cancellation.
        assert!(
            !aired.contains(&"c1-67"),
            "{device} aired a cancelled bulletin"
        );
        for line in &timeline {
            let expires = day.expiries[&BulletinId::parse(&line.airing.bulletin).unwrap()];
            assert!(line.end <= expires, "{device} aired past expiry: {line:?}");
        }
    }
    day.assert_proof_of_play_matches_timelines().await;
    day.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_day_with_link_drops_and_a_power_loss_still_airs_what_was_due() {
    let mut day = Day::start().await;
    // 20 % of the fleet loses its link from 05:03 to about 05:19 (4 s real),
    // across the emergency's arrival; a loudspeaker in district 661 loses
    // power from 05:02 to about 05:10.
    day.until("05:02").await;
    let powerless = "24700-LS-02".to_string();
    let power_loss = Fault::PowerLoss {
        off: Duration::from_secs(2),
    };
    day.fleet
        .inject(power_loss, &Target::Devices(vec![powerless.clone()]))
        .await
        .unwrap();
    day.until("05:03").await;
    let link_down = Fault::LinkDown {
        down: Duration::from_secs(4),
    };
    let share = Target::Share {
        share: 0.2,
        seed: 11,
    };
    let dropped = day.fleet.inject(link_down, &share).await.unwrap();
    assert_eq!(dropped.len(), 4);

    // The hub sees exactly the injected devices offline, from their Last Wills.
    day.until("05:06").await;
    let down: BTreeSet<String> = dropped.iter().cloned().chain([powerless.clone()]).collect();
    for device in day.ids() {
        let online = day.hub.is_online(&id(&device)).await.unwrap();
        assert_eq!(online, !down.contains(&device), "{device} at 05:06");
    }
    day.run_to_the_end().await;
    day.wait_online(&day.ids(), true).await;

    for device in day.ids() {
        let timeline = day.timeline(&device);
        let aired = bulletins_of(&timeline);
        let finished: BTreeSet<&str> = timeline
            .iter()
            .filter(|p| p.outcome == Outcome::Finished)
            .map(|p| p.airing.bulletin.as_str())
            .collect();
        // Every bulletin still valid after the device was back played in full.
        let mut due = vec!["p1-67"];
        if in_district_660(&device) {
            due.extend(["p2-660", "pl-660", "em-660"]);
        }
        for bulletin in due {
            assert!(
                finished.contains(bulletin),
                "{device} never finished {bulletin}: {timeline:?}"
            );
        }
        assert!(
            !aired.contains(&"c1-67"),
            "{device} aired a cancelled bulletin"
        );
        for line in &timeline {
            let expires = day.expiries[&BulletinId::parse(&line.airing.bulletin).unwrap()];
            assert!(
                line.start < expires,
                "{device} started past expiry: {line:?}"
            );
        }
    }
    // The power loss cut what played, and the device said so to nobody: the
    // hub planned it again once the device was back.
    let cut = day.timeline(&powerless);
    assert!(cut.iter().any(|p| p.outcome == Outcome::Failed), "{cut:?}");
    day.assert_proof_of_play_matches_timelines().await;
    day.stop().await;
}
