//! Scenario `plan`: plan one day for every device of a national-scale load.
//!
//! Builds the load (see [`crate::load`]), then times only the planning:
//! [`DayPlanner::new`] and [`DayPlanner::plan`] with an empty [`DeviceLog`]
//! for every device, the plans collected into a `Vec`. Devices of one commune
//! and kind with no history share one plan, so the planner computes one plan
//! per (commune, kind) and hands out clones of an `Arc` for the rest.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::{Duration, Instant};

use hub_core::{DayPlanner, DeviceKind, DeviceLog, PlanItem, PriorityClass};
use serde::Serialize;

use crate::load::{self, Load, LoadParams, LoadStats, TZ};
use crate::rss;

/// The plan scenario needs nothing beyond the load it plans.
pub type PlanParams = LoadParams;

/// The result of one run; serialises to the JSON summary line.
#[derive(Clone, Debug, Serialize)]
pub struct PlanSummary {
    pub scenario: &'static str,
    pub communes: usize,
    pub devices: usize,
    pub bulletins: usize,
    /// Wall time of planning every device, in ms, rounded to two decimals.
    pub plan_ms: f64,
    /// Peak resident memory of the run (load included), in kB; null where unknown.
    pub peak_rss_kb: Option<u64>,
    /// For the human-readable lines; not part of the JSON.
    #[serde(skip)]
    pub details: PlanDetails,
}

/// What was built and planned, beyond the JSON numbers.
#[derive(Clone, Debug)]
pub struct PlanDetails {
    pub params: PlanParams,
    pub load: LoadStats,
    pub build_ms: f64,
    /// Plan items over all devices.
    pub items: usize,
    pub emergency_items: usize,
    pub priority_items: usize,
    pub normal_items: usize,
    /// Items cut short by an emergency (and planned again in full).
    pub preempted_items: usize,
    pub loudspeaker_items: usize,
    pub board_items: usize,
    /// Plans actually computed (the others are shared).
    pub distinct_plans: usize,
    pub empty_plans: usize,
}

/// Every device's plan, in the order of `Province::devices()`.
pub struct Planned {
    pub plans: Vec<Arc<[PlanItem]>>,
    /// Time spent creating the planner and planning every device.
    pub elapsed: Duration,
}

/// Builds the load, plans every device, and summarises.
pub fn run(params: &PlanParams) -> anyhow::Result<PlanSummary> {
    let started = Instant::now();
    let load = load::build(params)?;
    let build_ms = millis(started.elapsed());
    let planned = plan_all(&load);
    let peak_rss_kb = rss::peak_rss_kb();

    let mut details = PlanDetails {
        params: params.clone(),
        load: load.stats.clone(),
        build_ms,
        items: 0,
        emergency_items: 0,
        priority_items: 0,
        normal_items: 0,
        preempted_items: 0,
        loudspeaker_items: 0,
        board_items: 0,
        distinct_plans: 0,
        empty_plans: 0,
    };
    let mut distinct = HashSet::new();
    for (device, plan) in load.province.devices().zip(&planned.plans) {
        details.items += plan.len();
        match device.kind {
            DeviceKind::Loudspeaker => details.loudspeaker_items += plan.len(),
            DeviceKind::LedBoard => details.board_items += plan.len(),
        }
        details.empty_plans += usize::from(plan.is_empty());
        for item in plan.iter() {
            match item.class {
                PriorityClass::Emergency => details.emergency_items += 1,
                PriorityClass::Priority => details.priority_items += 1,
                PriorityClass::Normal => details.normal_items += 1,
            }
            details.preempted_items += usize::from(item.preempted);
        }
        distinct.insert(Arc::as_ptr(plan).cast::<PlanItem>());
    }
    details.distinct_plans = distinct.len();

    Ok(PlanSummary {
        scenario: "plan",
        communes: load.stats.communes,
        devices: planned.plans.len(),
        bulletins: load.stats.bulletins(),
        plan_ms: millis(planned.elapsed),
        peak_rss_kb,
        details,
    })
}

/// Plans every device of `load` with no history, timing only the planning.
pub fn plan_all(load: &Load) -> Planned {
    let fresh = DeviceLog::default();
    let devices: Vec<_> = load.province.devices().collect();
    let mut plans = Vec::with_capacity(devices.len());
    let started = Instant::now();
    let mut planner = DayPlanner::new(&load.province, &load.programme, load.params.at);
    for device in devices {
        plans.push(planner.plan(device, &fresh));
    }
    let elapsed = started.elapsed();
    drop(planner);
    Planned { plans, elapsed }
}

/// Milliseconds, rounded to two decimals.
fn millis(elapsed: Duration) -> f64 {
    (elapsed.as_secs_f64() * 100_000.0).round() / 100.0
}

impl PlanSummary {
    /// The human-readable lines printed before the JSON line.
    pub fn describe(&self) -> Vec<String> {
        let d = &self.details;
        let s = &d.load;
        vec![
            format!(
                "load: seed {}, VN -> {} provinces -> {} communes ({}-{} per province, two-tier), built in {:.0} ms",
                d.params.seed,
                s.provinces,
                s.communes,
                s.min_communes_per_province,
                s.max_communes_per_province,
                d.build_ms
            ),
            format!(
                "devices: {} ({} loudspeakers, {} LED boards; {} per commune)",
                s.devices(),
                s.loudspeakers,
                s.led_boards,
                d.params.devices_per_commune
            ),
            format!(
                "bulletins: {} approved: emergency {}, priority {} (central {}, province {} of which {} recur daily at 05:30, commune {}), normal {} (opted in {}); chair orders in {} communes",
                s.bulletins(),
                s.emergencies,
                s.priority(),
                s.central_priority,
                s.province_priority,
                s.province_recurring,
                s.commune_priority,
                s.commune_normal,
                s.opt_ins,
                s.chair_orders
            ),
            format!(
                "plan: {} devices from {} to midnight: {} items (emergency {}, priority {}, normal {}; {} cut by an emergency), loudspeakers {}, boards {}; {} distinct plans, {} empty",
                self.devices,
                d.params.at.with_timezone(&TZ).to_rfc3339(),
                d.items,
                d.emergency_items,
                d.priority_items,
                d.normal_items,
                d.preempted_items,
                d.loudspeaker_items,
                d.board_items,
                d.distinct_plans,
                d.empty_plans
            ),
        ]
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use hub_core::{Bulletin, DeviceId};

    use super::*;

    fn small() -> PlanParams {
        PlanParams {
            communes: 40,
            devices_per_commune: 5,
            bulletins: 60,
            ..PlanParams::default()
        }
    }

    #[test]
    fn the_json_line_matches_the_params() {
        let summary = run(&small()).unwrap();
        let line = serde_json::to_string(&summary).unwrap();
        assert!(
            line.starts_with(
                r#"{"scenario":"plan","communes":40,"devices":200,"bulletins":60,"plan_ms":"#
            ),
            "{line}"
        );
        assert!(!line.contains('\n'));
        let json: serde_json::Value = serde_json::from_str(&line).unwrap();
        let mut keys: Vec<&str> = json
            .as_object()
            .unwrap()
            .keys()
            .map(|k| k.as_str())
            .collect();
        keys.sort();
        assert_eq!(
            keys,
            [
                "bulletins",
                "communes",
                "devices",
                "peak_rss_kb",
                "plan_ms",
                "scenario"
            ]
        );
        assert!(json["plan_ms"].as_f64().unwrap() >= 0.0);
        if cfg!(target_os = "linux") {
            assert!(json["peak_rss_kb"].as_u64().unwrap() > 0);
        }

        let d = &summary.details;
        assert_eq!(d.empty_plans, 0);
        assert_eq!(d.distinct_plans, 80, "one per commune and kind");
        assert_eq!(
            d.items,
            d.emergency_items + d.priority_items + d.normal_items
        );
        assert!(d.emergency_items > 0 && d.priority_items > 0);
        let lines = summary.describe();
        assert_eq!(lines.len(), 4);
        assert!(lines.iter().all(|l| !l.starts_with('{')));
    }

    #[test]
    fn every_device_gets_a_plan_without_overlaps() {
        let load = load::build(&small()).unwrap();
        let planned = plan_all(&load);
        assert_eq!(planned.plans.len(), 200);
        for (device, plan) in load.province.devices().zip(&planned.plans) {
            assert!(!plan.is_empty(), "{} has an empty plan", device.id);
            for item in plan.iter() {
                assert!(item.start < item.end, "{}: {item:?}", device.id);
                assert!(item.start >= load.params.at, "{}: {item:?}", device.id);
            }
            for pair in plan.windows(2) {
                assert!(
                    pair[0].end <= pair[1].start,
                    "{}: {:?} overlaps {:?}",
                    device.id,
                    pair[0],
                    pair[1]
                );
            }
        }
    }

    #[test]
    fn emergencies_reach_their_targets_only() {
        let load = load::build(&small()).unwrap();
        let planned = plan_all(&load);
        let plans: HashMap<&DeviceId, &Arc<[PlanItem]>> = load
            .province
            .devices()
            .map(|d| &d.id)
            .zip(&planned.plans)
            .collect();
        let emergencies: Vec<&Bulletin> = load
            .programme
            .bulletins()
            .filter(|b| b.class == PriorityClass::Emergency)
            .collect();
        assert_eq!(emergencies.len(), load.stats.emergencies);
        assert!(!emergencies.is_empty());
        for b in &emergencies {
            let mut reached = 0;
            for target in &b.targets {
                for commune in load.province.tree.communes_under(target) {
                    for id in load.province.devices_in(commune) {
                        assert!(
                            plans[id]
                                .iter()
                                .any(|i| i.key.bulletin == b.id && !i.preempted),
                            "emergency {} is missing from {id}",
                            b.id
                        );
                        reached += 1;
                    }
                }
            }
            assert!(reached > 0, "emergency {} reaches no device", b.id);
        }
        for device in load.province.devices() {
            for item in plans[&device.id].iter() {
                let b = load.programme.bulletin(&item.key.bulletin).unwrap();
                let targeted = b
                    .targets
                    .iter()
                    .any(|t| load.province.tree.is_within(&device.commune, t));
                assert!(targeted, "{} plans {} not meant for it", device.id, b.id);
                if b.class == PriorityClass::Normal {
                    let opt_in = load.programme.opt_in(&device.commune, &b.id).unwrap();
                    assert!(item.start >= hub_core::local_to_utc(opt_in.at, TZ));
                }
            }
        }
    }
}
