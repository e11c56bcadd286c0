//! Property tests: random programmes and event sequences over a day, with the
//! scheduler's invariants checked after every event.

use std::collections::BTreeMap;

use chrono::{DateTime, NaiveTime, TimeDelta, Utc};
use proptest::prelude::*;

use crate::testkit::*;
use crate::*;

/// Who may issue what, as (level, issuer, targets).
const ISSUERS: [(AreaLevel, &str, &str); 7] = [
    (AreaLevel::Central, "VN", "VN"),
    (AreaLevel::Province, "67", "67"),
    (AreaLevel::District, "660", "660"),
    (AreaLevel::District, "661", "661"),
    (AreaLevel::Commune, "24611", "24611"),
    (AreaLevel::Commune, "24612", "24612"),
    (AreaLevel::Commune, "24700", "24700"),
];

fn day_start() -> DateTime<Utc> {
    local("2026-11-23 00:00")
}

#[derive(Clone, Debug)]
struct Spec {
    class: PriorityClass,
    issuer: usize,
    audio_secs: u32,
    visual_secs: u32,
    /// Minutes after the day starts (may be negative: valid since yesterday).
    not_before_min: i64,
    valid_min: i64,
    daily_at: Option<u32>,
}

fn spec() -> impl Strategy<Value = Spec> {
    (
        prop_oneof![1 => Just(PriorityClass::Emergency), 4 => Just(PriorityClass::Priority), 2 => Just(PriorityClass::Normal)],
        0..ISSUERS.len(),
        60u32..1800,
        30u32..300,
        -600i64..1200,
        20i64..2400,
        prop::option::weighted(0.2, 0u32..(24 * 60)),
    )
        .prop_map(|(class, issuer, audio_secs, visual_secs, not_before_min, valid_min, daily_at)| Spec {
            class,
            issuer,
            audio_secs,
            visual_secs,
            not_before_min,
            valid_min,
            daily_at,
        })
}

impl Spec {
    fn build(&self, id: String) -> Bulletin {
        let (level, issuer, target) = ISSUERS[self.issuer];
        let mut b = bulletin(&id, self.class, level, issuer, &[target]);
        b.variants[0].audio.as_mut().unwrap().secs = self.audio_secs;
        b.variants[0].visual.as_mut().unwrap().secs = self.visual_secs;
        b.validity.not_before = day_start() + TimeDelta::minutes(self.not_before_min);
        b.validity.expires = b.validity.not_before + TimeDelta::minutes(self.valid_min);
        b.recurrence = self.daily_at.map(|m| Recurrence {
            at: vec![NaiveTime::from_hms_opt(m / 60, m % 60, 0).unwrap()],
            days: 2,
        });
        b
    }
}

#[derive(Clone, Debug)]
enum Step {
    Tick,
    Cancel(usize),
    /// An emergency issued now by ISSUERS[i], lasting this many seconds.
    Emergency(usize, u32),
    Fail(usize, usize),
}

fn step() -> impl Strategy<Value = (u32, Step)> {
    (
        1u32..120,
        prop_oneof![
            6 => Just(Step::Tick),
            1 => (0usize..16).prop_map(Step::Cancel),
            1 => (0..ISSUERS.len(), 30u32..900).prop_map(|(i, s)| Step::Emergency(i, s)),
            1 => (0usize..16, 0usize..6).prop_map(|(b, d)| Step::Fail(b, d)),
        ],
    )
}

fn check_invariants(
    s: &Scheduler,
    now: DateTime<Utc>,
    cancelled_at: &BTreeMap<BulletinId, DateTime<Utc>>,
) -> Result<(), TestCaseError> {
    let province = s.province();
    let programme = s.programme();
    // A bulletin is airing exactly while some device plays it.
    for b in programme.bulletins().filter(|b| b.state.is_schedulable()) {
        let playing_somewhere = province.devices().any(|d| {
            s.log(&d.id)
                .and_then(|l| l.playing.as_ref())
                .is_some_and(|p| p.item.key.bulletin == b.id && p.item.end > now)
        });
        prop_assert_eq!(
            playing_somewhere,
            b.state == BulletinState::Airing,
            "{} is {:?}",
            b.id,
            b.state
        );
    }
    for device in province.devices() {
        let plan = s.plan(&device.id);
        let windows: Vec<Interval> = province
            .windows_for(&device.commune, device.kind)
            .on(Horizon::new(now, TZ).date, TZ)
            .collect();
        for pair in plan.windows(2) {
            prop_assert!(
                pair[0].end <= pair[1].start,
                "{}: overlap {:?}",
                device.id,
                lines(plan)
            );
        }
        for item in plan {
            let b = programme.bulletin(&item.key.bulletin).unwrap();
            prop_assert!(
                item.end <= b.validity.expires,
                "{}: airs after expiry: {:?}",
                device.id,
                item
            );
            if item.end > now {
                prop_assert!(
                    item.start >= b.validity.not_before || item.start < now,
                    "{}: airs early: {:?}",
                    device.id,
                    item
                );
                if let Some(at) = cancelled_at.get(&b.id) {
                    prop_assert!(
                        item.start < *at && item.end <= now.max(*at),
                        "{}: airs after cancel: {:?}",
                        device.id,
                        item
                    );
                }
                if item.class != PriorityClass::Emergency && item.start >= now {
                    let inside = windows
                        .iter()
                        .any(|w| w.start <= item.start && item.end <= w.end);
                    prop_assert!(inside, "{}: routine outside windows: {:?}", device.id, item);
                }
            }
        }
        // Emergency always preempts: if one is due now and can still finish, an emergency plays now.
        let log = s.log(&device.id).cloned().unwrap_or_default();
        let due = programme
            .bulletins()
            .filter(|b| b.class == PriorityClass::Emergency && b.state.is_schedulable())
            .any(|b| {
                b.targets
                    .iter()
                    .any(|t| province.tree.is_within(&device.commune, t))
                    && b.occurrences(now, now + TimeDelta::seconds(1), TZ)
                        .iter()
                        .any(|o| {
                            let key = AiringKey {
                                bulletin: b.id.clone(),
                                occurrence: o.index,
                                language: lang("vi"),
                            };
                            let secs = b.variants[0].secs_for(device.kind).unwrap();
                            o.earliest <= now
                                && now + Bulletin::span(secs) <= o.deadline
                                && !log.done.contains_key(&key)
                        })
            });
        if due {
            let playing = plan.iter().find(|i| i.start <= now && now < i.end);
            prop_assert!(
                playing.is_some_and(|i| i.class == PriorityClass::Emergency),
                "{}: an emergency is due at {now} but the plan is {:?}",
                device.id,
                lines(plan)
            );
        }
        // Priority order: a bulletin placed after another in the same window was not available before it, or ranks lower.
        let ranks: BTreeMap<&BulletinId, usize> = programme
            .priority_order(&device.commune)
            .into_iter()
            .zip(0..)
            .collect();
        let future: Vec<&PlanItem> = plan
            .iter()
            .filter(|i| i.start > now && i.class == PriorityClass::Priority)
            .collect();
        for (i, a) in future.iter().enumerate() {
            for b in &future[i + 1..] {
                let same_window = windows.iter().any(|w| w.start <= a.start && b.end <= w.end);
                let b_bulletin = programme.bulletin(&b.key.bulletin).unwrap();
                let b_earliest = b_bulletin
                    .all_occurrences(TZ)
                    .into_iter()
                    .find(|o| o.index == b.key.occurrence)
                    .unwrap()
                    .earliest;
                if same_window && b_earliest <= a.start && a.key.bulletin != b.key.bulletin {
                    prop_assert!(
                        ranks[&a.key.bulletin] < ranks[&b.key.bulletin],
                        "{}: {} airs before higher-ranked {}: {:?}",
                        device.id,
                        a.key.bulletin,
                        b.key.bulletin,
                        lines(plan)
                    );
                }
            }
        }
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn scheduler_invariants_hold_through_a_day(
        specs in prop::collection::vec(spec(), 1..10),
        opt_in_minutes in prop::collection::vec(0u32..1440, 10),
        chair_shuffle in any::<prop::sample::Index>(),
        steps in prop::collection::vec(step(), 1..40),
    ) {
        let p = province();
        let bulletins: Vec<Bulletin> = specs.iter().enumerate().map(|(i, s)| s.build(format!("b{i}"))).collect();
        let mut prog = programme(&p, bulletins.clone());
        for (i, b) in bulletins.iter().enumerate().filter(|(_, b)| b.class == PriorityClass::Normal) {
            for commune in p.tree.communes_under(&b.targets[0]).to_vec() {
                let m = opt_in_minutes[i % opt_in_minutes.len()];
                let at = day_start().with_timezone(&TZ).naive_local() + TimeDelta::minutes(i64::from(m));
                prog.set_opt_in(&p, OptIn { commune, bulletin: b.id.clone(), at }).unwrap();
            }
        }
        // A chair in 24611 reorders every priority bulletin there, if one of them is the commune's own.
        let mut order: Vec<BulletinId> = prog.priority_order(&code("24611")).into_iter().cloned().collect();
        if !order.is_empty() {
            let k = chair_shuffle.index(order.len());
            order.rotate_left(k);
            let _ = prog.set_chair_order(&p, ChairOrder { commune: code("24611"), order });
        }
        let devices: Vec<DeviceId> = p.devices().map(|d| d.id.clone()).collect();
        let mut s = Scheduler::new(p, prog, BTreeMap::new());
        let mut now = day_start() + TimeDelta::hours(3);
        let mut cancelled_at = BTreeMap::new();
        s.handle(now, Event::Tick).unwrap();
        check_invariants(&s, now, &cancelled_at)?;
        for (n, (minutes, step)) in steps.into_iter().enumerate() {
            now += TimeDelta::minutes(i64::from(minutes));
            let event = match step {
                Step::Tick => Event::Tick,
                Step::Cancel(i) => Event::Cancel(bid(&format!("b{}", i % bulletins.len()))),
                Step::Emergency(issuer, secs) => {
                    let spec = Spec { class: PriorityClass::Emergency, issuer, audio_secs: secs, visual_secs: 60, not_before_min: 0, valid_min: 120, daily_at: None };
                    let mut e = spec.build(format!("e{n}"));
                    e.validity.not_before = now;
                    e.validity.expires = now + TimeDelta::hours(2);
                    Event::Queue(e)
                }
                Step::Fail(i, d) => {
                    let device = devices[d % devices.len()].clone();
                    let key = AiringKey { bulletin: bid(&format!("b{}", i % bulletins.len())), occurrence: 0, language: lang("vi") };
                    Event::Receipt(Receipt { device, key, report: Report::Failed, at: now })
                }
            };
            let cancelling = match &event { Event::Cancel(id) => Some(id.clone()), _ => None };
            if s.handle(now, event).is_ok() {
                if let Some(id) = cancelling {
                    cancelled_at.insert(id, now);
                }
            }
            check_invariants(&s, now, &cancelled_at)?;
            for device in &devices {
                if let Some(playing) = s.log(device).and_then(|l| l.playing.as_ref()) {
                    prop_assert!(!cancelled_at.contains_key(&playing.item.key.bulletin), "{device} still plays a cancelled bulletin");
                }
            }
        }
    }
}
