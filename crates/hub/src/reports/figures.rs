//! The report's figures for an area and every area below it, computed from
//! the devices' proof-of-play receipts and the hub's presence records only.
//! What was planned or scheduled never counts as aired.
//!
//! - **Airings**: a device's receipts of one airing, in time order, make
//!   segments: `started` opens one, the next `finished`, `preempted`,
//!   `stopped` or `failed` closes it. A segment belongs to the period its
//!   start falls in. It counts as *started*; as *finished* if it ended
//!   `finished`. An airing cut by an emergency and replayed is two segments:
//!   both count as started, only the replay as finished. A `finished` whose
//!   `started` never reached the hub still counts (started and finished)
//!   but adds no minutes; a `failed` without a start is a failure only.
//! - **Broadcast minutes**: the length of each segment, device's `started`
//!   to its closing receipt, summed over the devices of the area
//!   (device-minutes). A cut airing counts the minutes it played until the
//!   cut; a segment never closed counts none.
//! - **Uptime**: the share of the period each device was online (from a
//!   hello to the next offline record), averaged over the devices of the
//!   area; a period still running counts up to now.
//! - **Never seen**: devices with no time online and no receipt in the period.
//! - **Emergencies**: emergency bulletins whose validity starts (the moment
//!   they were triggered) within the period; latency is that moment to each
//!   targeted device's first reported start; the median is the lower one.
//! - **Failures**: `failed` receipts in the period, by the device's reason.

use std::collections::BTreeMap;

use chrono::{DateTime, NaiveDate, Utc};
use chrono_tz::Tz;
use hub_core::{
    AiringKey, Area, AreaCode, AreaTree, Bulletin, BulletinId, DeliveryState, Device, DeviceId,
    PriorityClass,
};
use hub_store::{PlayReceipt, Presence};
use serde::Serialize;

use super::period::Period;

/// What the figures are computed from.
pub struct Inputs<'a> {
    pub tree: &'a AreaTree,
    pub devices: &'a [Device],
    pub bulletins: &'a BTreeMap<BulletinId, Bulletin>,
    /// Receipts of the period and up to a day after (an airing started on
    /// the last evening ends after midnight), in any order.
    pub receipts: &'a [PlayReceipt],
    /// Presence records up to the period's end, from before its start too
    /// (whether a device was online when it began), in any order.
    pub presence: &'a [Presence],
    pub period: &'a Period,
    pub tz: Tz,
    /// Time online is counted up to here when the period is still running.
    pub now: DateTime<Utc>,
}

/// Airings that started, and how many of them finished.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Tally {
    pub started: u32,
    pub finished: u32,
}

/// One emergency in one area.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct EmergencyFigures {
    pub bulletin: String,
    pub title: String,
    pub triggered: DateTime<Utc>,
    /// Devices of the area it was meant for.
    pub devices: u32,
    /// Of those, devices that reported starting it.
    pub started: u32,
    pub latency_p50_secs: Option<f64>,
    pub latency_max_secs: Option<f64>,
    pub never_started: Vec<String>,
}

/// One area's figures for the period.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct AreaFigures {
    pub area: String,
    pub name: String,
    /// `province`, `district` or `commune`.
    pub level: String,
    pub devices: u32,
    pub airings: Tally,
    /// By the bulletin's issuing level.
    pub by_level: BTreeMap<String, Tally>,
    pub by_category: BTreeMap<String, Tally>,
    /// By priority class: `emergency`, `priority`, `normal`.
    pub by_class: BTreeMap<String, Tally>,
    pub by_language: BTreeMap<String, Tally>,
    /// Device-minutes on air.
    pub broadcast_minutes: f64,
    /// Percent of the period the devices were online; `None` before the
    /// period has begun or without devices.
    pub uptime_percent: Option<f64>,
    pub never_seen: Vec<String>,
    /// `failed` receipts by reason (`unstated` when the device gave none).
    pub failures: BTreeMap<String, u32>,
    pub emergencies: Vec<EmergencyFigures>,
}

/// An area's uptime, day by day.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct UptimeLine {
    pub area: String,
    pub name: String,
    pub points: Vec<UptimePoint>,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct UptimePoint {
    pub date: NaiveDate,
    pub percent: f64,
}

/// Every figure of a report.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Figures {
    /// The area asked for first, then the districts and communes below it.
    pub areas: Vec<AreaFigures>,
    /// The area asked for, then each district directly below it.
    pub uptime: Vec<UptimeLine>,
}

/// One stretch of playing on one device, from its receipts (also what the
/// web console's commune page lists as aired).
#[derive(Clone, Debug, PartialEq)]
pub struct Segment<'a> {
    pub airing: &'a AiringKey,
    pub start: Option<DateTime<Utc>>,
    pub end: Option<DateTime<Utc>>,
    /// How it ended (`started` if it never did).
    pub outcome: DeliveryState,
    pub reason: Option<&'static str>,
}

impl Segment<'_> {
    /// The moment that places it in a period.
    pub fn moment(&self) -> Option<DateTime<Utc>> {
        self.start.or(self.end)
    }

    /// Whether the device played it (a failure before starting did not).
    pub fn aired(&self) -> bool {
        self.start.is_some()
            || matches!(
                self.outcome,
                DeliveryState::Finished | DeliveryState::Preempted | DeliveryState::Stopped
            )
    }

    fn seconds(&self) -> f64 {
        match (self.start, self.end) {
            (Some(start), Some(end)) if end > start => {
                (end - start).num_milliseconds() as f64 / 1e3
            }
            _ => 0.0,
        }
    }
}

/// From one instant to another.
type Span = (DateTime<Utc>, DateTime<Utc>);

/// What one device did in the period.
#[derive(Default)]
struct DeviceRecord<'a> {
    segments: Vec<Segment<'a>>,
    /// Time online, clipped to the period (and to now).
    online: Vec<Span>,
}

impl DeviceRecord<'_> {
    fn online_secs(&self, from: DateTime<Utc>, to: DateTime<Utc>) -> f64 {
        self.online
            .iter()
            .map(|(a, b)| ((*b).min(to) - (*a).max(from)).num_milliseconds().max(0) as f64 / 1e3)
            .sum()
    }
}

/// Computes every figure for `area` and the areas below it.
pub fn compute(inputs: &Inputs<'_>, area: &AreaCode) -> Figures {
    let period = inputs.period;
    let horizon = period.end.min(inputs.now);
    let mut records: BTreeMap<&DeviceId, DeviceRecord<'_>> = inputs
        .devices
        .iter()
        .filter(|d| inputs.tree.is_within(&d.commune, area))
        .map(|d| (&d.id, DeviceRecord::default()))
        .collect();
    for (device, segments) in segments(inputs.receipts) {
        if let Some(record) = records.get_mut(device) {
            record.segments = segments
                .into_iter()
                .filter(|s| s.moment().is_some_and(|m| period.contains(m)))
                .collect();
        }
    }
    for (device, online) in online_intervals(inputs.presence, period.start, horizon) {
        if let Some(record) = records.get_mut(device) {
            record.online = online;
        }
    }
    let mut areas: Vec<&Area> = inputs
        .tree
        .areas()
        .filter(|a| inputs.tree.is_within(&a.code, area))
        .collect();
    areas.sort_by(|a, b| (a.level, &a.code).cmp(&(b.level, &b.code)));
    let figures = areas
        .iter()
        .map(|a| area_figures(inputs, a, &records, horizon))
        .collect();
    let uptime = areas
        .iter()
        .filter(|a| {
            a.code == *area
                || (a.parent.as_ref() == Some(area) && a.level == hub_core::AreaLevel::District)
        })
        .map(|a| uptime_line(inputs, a, &records, horizon))
        .collect();
    Figures {
        areas: figures,
        uptime,
    }
}

/// The devices of `area` with their records.
fn devices_of<'r, 'a>(
    inputs: &'r Inputs<'a>,
    area: &'r Area,
    records: &'r BTreeMap<&'a DeviceId, DeviceRecord<'a>>,
) -> impl Iterator<Item = (&'r Device, &'r DeviceRecord<'a>)> + 'r {
    inputs
        .devices
        .iter()
        .filter(move |d| inputs.tree.is_within(&d.commune, &area.code))
        .filter_map(move |d| records.get(&d.id).map(|r| (d, r)))
}

fn area_figures(
    inputs: &Inputs<'_>,
    area: &Area,
    records: &BTreeMap<&DeviceId, DeviceRecord<'_>>,
    horizon: DateTime<Utc>,
) -> AreaFigures {
    let mut figures = AreaFigures {
        area: area.code.to_string(),
        name: area.name.clone(),
        level: name_of(&area.level),
        devices: 0,
        airings: Tally::default(),
        by_level: BTreeMap::new(),
        by_category: BTreeMap::new(),
        by_class: BTreeMap::new(),
        by_language: BTreeMap::new(),
        broadcast_minutes: 0.0,
        uptime_percent: None,
        never_seen: Vec::new(),
        failures: BTreeMap::new(),
        emergencies: Vec::new(),
    };
    let mut seconds = 0.0;
    let mut online = 0.0;
    for (device, record) in devices_of(inputs, area, records) {
        figures.devices += 1;
        online += record.online_secs(inputs.period.start, horizon);
        if record.online.is_empty() && record.segments.is_empty() {
            figures.never_seen.push(device.id.to_string());
        }
        for segment in &record.segments {
            if segment.outcome == DeliveryState::Failed {
                *figures
                    .failures
                    .entry(segment.reason.unwrap_or("unstated").to_owned())
                    .or_default() += 1;
            }
            if !segment.aired() {
                continue;
            }
            seconds += segment.seconds();
            let finished = segment.outcome == DeliveryState::Finished;
            let bulletin = inputs.bulletins.get(&segment.airing.bulletin);
            let unknown = || "unknown".to_owned();
            let keys = [
                (
                    &mut figures.by_level,
                    bulletin.map_or_else(unknown, |b| name_of(&b.level)),
                ),
                (
                    &mut figures.by_category,
                    bulletin.map_or_else(unknown, |b| name_of(&b.category)),
                ),
                (
                    &mut figures.by_class,
                    bulletin.map_or_else(unknown, |b| name_of(&b.class)),
                ),
                (
                    &mut figures.by_language,
                    segment.airing.language.to_string(),
                ),
            ];
            for (map, key) in keys {
                count(map.entry(key).or_default(), finished);
            }
            count(&mut figures.airings, finished);
        }
    }
    figures.never_seen.sort();
    figures.broadcast_minutes = round1(seconds / 60.0);
    let span = (horizon - inputs.period.start).num_milliseconds() as f64 / 1e3;
    if figures.devices > 0 && span > 0.0 {
        figures.uptime_percent = Some(round1(100.0 * online / (span * f64::from(figures.devices))));
    }
    figures.emergencies = emergencies(inputs, area, records);
    figures
}

fn count(tally: &mut Tally, finished: bool) {
    tally.started += 1;
    if finished {
        tally.finished += 1;
    }
}

/// Each emergency triggered in the period that was meant for devices of `area`.
fn emergencies(
    inputs: &Inputs<'_>,
    area: &Area,
    records: &BTreeMap<&DeviceId, DeviceRecord<'_>>,
) -> Vec<EmergencyFigures> {
    let mut found: Vec<&Bulletin> = inputs
        .bulletins
        .values()
        .filter(|b| b.class == PriorityClass::Emergency)
        .filter(|b| inputs.period.contains(b.validity.not_before))
        .collect();
    found.sort_by_key(|b| (b.validity.not_before, b.id.clone()));
    found
        .into_iter()
        .filter_map(|bulletin| {
            let triggered = bulletin.validity.not_before;
            let mut latencies = Vec::new();
            let mut never_started = Vec::new();
            for (device, record) in devices_of(inputs, area, records) {
                let targeted = bulletin
                    .targets
                    .iter()
                    .any(|t| inputs.tree.is_within(&device.commune, t))
                    && bulletin.reaches(&device.id)
                    && bulletin
                        .variants
                        .iter()
                        .any(|v| v.secs_for(device.kind).is_some());
                if !targeted {
                    continue;
                }
                let first = record
                    .segments
                    .iter()
                    .filter(|s| s.airing.bulletin == bulletin.id)
                    .filter_map(|s| s.start)
                    .min();
                match first {
                    Some(start) => {
                        latencies.push(((start - triggered).num_milliseconds().max(0)) as f64 / 1e3)
                    }
                    None => never_started.push(device.id.to_string()),
                }
            }
            let devices = (latencies.len() + never_started.len()) as u32;
            if devices == 0 {
                return None;
            }
            latencies.sort_by(f64::total_cmp);
            never_started.sort();
            let median = latencies.len().div_ceil(2).checked_sub(1);
            Some(EmergencyFigures {
                bulletin: bulletin.id.to_string(),
                title: bulletin.title.clone(),
                triggered,
                devices,
                started: latencies.len() as u32,
                latency_p50_secs: median.map(|i| latencies[i]),
                latency_max_secs: latencies.last().copied(),
                never_started,
            })
        })
        .collect()
}

fn uptime_line(
    inputs: &Inputs<'_>,
    area: &Area,
    records: &BTreeMap<&DeviceId, DeviceRecord<'_>>,
    horizon: DateTime<Utc>,
) -> UptimeLine {
    let devices: Vec<&DeviceRecord<'_>> =
        devices_of(inputs, area, records).map(|(_, r)| r).collect();
    let points = inputs
        .period
        .each_day(inputs.tz)
        .into_iter()
        .filter(|(_, start, _)| *start < horizon && !devices.is_empty())
        .map(|(date, start, end)| {
            let end = end.min(horizon);
            let span = (end - start).num_milliseconds() as f64 / 1e3 * devices.len() as f64;
            let online: f64 = devices.iter().map(|r| r.online_secs(start, end)).sum();
            UptimePoint {
                date,
                percent: round1(100.0 * online / span),
            }
        })
        .collect();
    UptimeLine {
        area: area.code.to_string(),
        name: area.name.clone(),
        points,
    }
}

/// Each device's segments, from its receipts.
pub fn segments(receipts: &[PlayReceipt]) -> BTreeMap<&DeviceId, Vec<Segment<'_>>> {
    let mut by_airing: BTreeMap<(&DeviceId, &AiringKey), Vec<&PlayReceipt>> = BTreeMap::new();
    for receipt in receipts {
        by_airing
            .entry((&receipt.device, &receipt.airing))
            .or_default()
            .push(receipt);
    }
    let mut by_device: BTreeMap<&DeviceId, Vec<Segment<'_>>> = BTreeMap::new();
    for ((device, airing), mut receipts) in by_airing {
        // A start and its end at the same instant: the start first.
        receipts.sort_by_key(|r| (r.at, r.outcome != DeliveryState::Started));
        // A restated receipt is the same event again.
        receipts.dedup_by_key(|r| (r.at, r.outcome));
        let out = by_device.entry(device).or_default();
        let mut open: Option<DateTime<Utc>> = None;
        for receipt in receipts {
            if receipt.outcome == DeliveryState::Started {
                if let Some(start) = open.replace(receipt.at) {
                    // Started again without an end in between: the first
                    // stretch's end was never heard of.
                    out.push(Segment {
                        airing,
                        start: Some(start),
                        end: None,
                        outcome: DeliveryState::Started,
                        reason: None,
                    });
                }
                continue;
            }
            out.push(Segment {
                airing,
                start: open.take(),
                end: Some(receipt.at),
                outcome: receipt.outcome,
                reason: receipt.reason.map(|r| r.code()),
            });
        }
        if let Some(start) = open {
            out.push(Segment {
                airing,
                start: Some(start),
                end: None,
                outcome: DeliveryState::Started,
                reason: None,
            });
        }
    }
    by_device
}

/// Each device's time online within `[from, to)`.
fn online_intervals(
    presence: &[Presence],
    from: DateTime<Utc>,
    to: DateTime<Utc>,
) -> BTreeMap<&DeviceId, Vec<Span>> {
    let mut by_device: BTreeMap<&DeviceId, Vec<&Presence>> = BTreeMap::new();
    for record in presence {
        by_device.entry(&record.device).or_default().push(record);
    }
    let clip = |a: DateTime<Utc>, b: DateTime<Utc>| {
        let (a, b) = (a.max(from), b.min(to));
        (a < b).then_some((a, b))
    };
    by_device
        .into_iter()
        .map(|(device, mut records)| {
            records.sort_by_key(|r| r.at);
            let mut intervals = Vec::new();
            let mut since: Option<DateTime<Utc>> = None;
            for record in records {
                match (record.online, since) {
                    (true, None) => since = Some(record.at),
                    (false, Some(start)) => {
                        intervals.extend(clip(start, record.at));
                        since = None;
                    }
                    _ => {}
                }
            }
            if let Some(start) = since {
                intervals.extend(clip(start, to));
            }
            (device, intervals)
        })
        .collect()
}

/// A unit-like enum's serde name (`district_editor`, `policy_law`).
fn name_of<T: Serialize>(value: &T) -> String {
    serde_json::to_value(value)
        .ok()
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_default()
}

fn round1(value: f64) -> f64 {
    (value * 10.0).round() / 10.0
}

#[cfg(test)]
mod tests;
