//! Planning one device's day: the priority rules of PRODUCT.md as a pure function.
//!
//! 1. **Emergencies** ignore windows and start as soon as they are valid. When
//!    a newer emergency arrives while an older one plays, the newer one plays
//!    at once (it carries the latest information) and the older one is played
//!    again in full right after it, while it is still valid: an emergency is
//!    never silently dropped.
//! 2. **Routine** bulletins (priority, then opted-in normal) air inside the
//!    device's windows: at every free moment the highest-ordered bulletin that
//!    is due plays next. A bulletin that cannot finish before the window closes
//!    moves to the next window, and one that cannot finish before its deadline
//!    (expiry, or its next occurrence) is not planned at all. Routine bulletins
//!    never overtake each other around an emergency: when the next one would
//!    run into an emergency it waits until the emergency is over.
//! 3. An airing in progress keeps its place; if an emergency starts during it,
//!    it is cut there and planned again in full later.

use std::collections::HashMap;
use std::sync::Arc;

use chrono::{DateTime, Days, NaiveDate, TimeDelta, Utc};
use chrono_tz::Tz;
use hub_proto::{AiringRef, Class, Part, PlanEntry};
use serde::{Deserialize, Serialize};

use crate::window::{local_minute, local_to_utc, Interval};
use crate::{
    AreaCode, Bulletin, BulletinId, Device, DeviceId, DeviceKind, DeviceLog, Language,
    PriorityClass, Programme, Province,
};

/// One airing a device owes: a bulletin occurrence in one language.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct AiringKey {
    pub bulletin: BulletinId,
    pub occurrence: u32,
    pub language: Language,
}

/// One planned airing on one device.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PlanItem {
    pub key: AiringKey,
    pub class: PriorityClass,
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
    /// Cut at `end` by an emergency; planned again in full afterwards.
    pub preempted: bool,
}

impl AiringKey {
    /// The airing as the device protocol names it.
    pub fn to_wire(&self) -> AiringRef {
        AiringRef {
            bulletin: self.bulletin.to_string(),
            occurrence: self.occurrence,
            language: self.language.to_string(),
        }
    }

    /// The airing a device named, if its identifiers are valid.
    pub fn from_wire(airing: &AiringRef) -> Result<Self, crate::CoreError> {
        Ok(Self {
            bulletin: BulletinId::parse(&airing.bulletin)?,
            occurrence: airing.occurrence,
            language: Language::parse(&airing.language)?,
        })
    }
}

impl PlanItem {
    /// The wire form of this item for a device of `kind`.
    pub fn to_entry(&self, kind: DeviceKind) -> PlanEntry {
        PlanEntry {
            bulletin: self.key.bulletin.to_string(),
            occurrence: self.key.occurrence,
            language: self.key.language.to_string(),
            class: match self.class {
                PriorityClass::Emergency => Class::Emergency,
                PriorityClass::Priority => Class::Priority,
                PriorityClass::Normal => Class::Normal,
            },
            part: match kind {
                DeviceKind::Loudspeaker => Part::Audio,
                DeviceKind::LedBoard => Part::Visual,
            },
            start: self.start,
            end: self.end,
            preempted: self.preempted,
            media: None,
            subtitles: None,
            text: None,
        }
    }

    fn interval(&self) -> Interval {
        Interval {
            start: self.start,
            end: self.end,
        }
    }
}

/// What is planned: from `now` to the end of `now`'s local day.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Horizon {
    pub now: DateTime<Utc>,
    /// The local calendar day of `now`.
    pub date: NaiveDate,
    /// The next local midnight.
    pub end: DateTime<Utc>,
}

impl Horizon {
    pub fn new(now: DateTime<Utc>, tz: Tz) -> Self {
        let date = now.with_timezone(&tz).date_naive();
        let end = local_minute(date + Days::new(1), 0, tz);
        Self { now, date, end }
    }
}

/// Plans devices for one horizon, sharing the work between devices of the
/// same commune and kind that have no history of their own.
pub struct DayPlanner<'a> {
    province: &'a Province,
    programme: &'a Programme,
    horizon: Horizon,
    /// Per commune, the shared plan of each device kind (indexed by `DeviceKind as usize`).
    shared: HashMap<AreaCode, [Option<Arc<[PlanItem]>>; 2]>,
}

impl<'a> DayPlanner<'a> {
    pub fn new(province: &'a Province, programme: &'a Programme, now: DateTime<Utc>) -> Self {
        Self {
            province,
            programme,
            horizon: Horizon::new(now, province.tz),
            shared: HashMap::new(),
        }
    }

    pub fn horizon(&self) -> Horizon {
        self.horizon
    }

    /// The plan of `device` given what it has played.
    pub fn plan(&mut self, device: &Device, log: &DeviceLog) -> Arc<[PlanItem]> {
        let (province, programme, horizon) = (self.province, self.programme, self.horizon);
        let compute = || -> Arc<[PlanItem]> {
            plan_device(
                province,
                programme,
                &device.commune,
                device.kind,
                Some(&device.id),
                log,
                horizon,
            )
            .into()
        };
        // Devices of a commune share a plan unless their logs differ or a
        // bulletin there is meant for some of them only.
        if !log.is_fresh() {
            return compute();
        }
        let slot = device.kind as usize;
        // Look up before cloning the key: most devices share an existing
        // plan. One is shared only in a commune without device lists, so
        // finding it spares asking the programme again.
        if let Some(plan) = self
            .shared
            .get(&device.commune)
            .and_then(|plans| plans[slot].clone())
        {
            return plan;
        }
        if programme.has_device_lists(&device.commune) {
            return compute();
        }
        let plan = compute();
        self.shared.entry(device.commune.clone()).or_default()[slot] = Some(plan.clone());
        plan
    }
}

/// What a device still owes for one bulletin occurrence in one language.
#[derive(Clone, Debug)]
struct Demand {
    key: AiringKey,
    class: PriorityClass,
    /// Position in the commune's priority order (0 for other classes).
    rank: u32,
    /// Position of the language in the commune's language list.
    language_rank: usize,
    earliest: DateTime<Utc>,
    deadline: DateTime<Utc>,
    span: TimeDelta,
}

impl Demand {
    fn airing_order(&self) -> impl Ord + '_ {
        (
            self.class,
            self.rank,
            self.earliest,
            &self.key.bulletin,
            self.key.occurrence,
            self.language_rank,
        )
    }

    /// Which of two emergencies is the newer one: later trigger first; at the
    /// same moment, the commune's first language counts as newer so it plays first.
    fn recency(&self) -> impl Ord + '_ {
        (
            self.earliest,
            &self.key.bulletin,
            self.key.occurrence,
            std::cmp::Reverse(self.language_rank),
        )
    }

    fn item(&self, start: DateTime<Utc>, end: DateTime<Utc>, preempted: bool) -> PlanItem {
        PlanItem {
            key: self.key.clone(),
            class: self.class,
            start,
            end,
            preempted,
        }
    }
}

/// Plans one device of `kind` in `commune` over `horizon`, given its log.
/// `device` names it, for bulletins meant for some devices only
/// ([`Bulletin::devices`](crate::Bulletin::devices)); without it, they are
/// left out. Items come in start order and never overlap.
pub fn plan_device(
    province: &Province,
    programme: &Programme,
    commune: &AreaCode,
    kind: DeviceKind,
    device: Option<&DeviceId>,
    log: &DeviceLog,
    horizon: Horizon,
) -> Vec<PlanItem> {
    let now = horizon.now;
    let mut demands = demands(province, programme, commune, kind, device, log, horizon);

    // The airing in progress, if its bulletin is still owed.
    let mut in_progress = None;
    if let Some(playing) = log.playing.as_ref().filter(|p| p.item.end > now) {
        if let Some(idx) = demands.iter().position(|d| d.key == playing.item.key) {
            in_progress = Some((demands.swap_remove(idx), playing.item.start));
        }
    }
    let (emergencies, mut routine): (Vec<_>, Vec<_>) = demands
        .into_iter()
        .partition(|d| d.class == PriorityClass::Emergency);

    let (running_emergency, running_routine) = match in_progress {
        Some((d, start)) if d.class == PriorityClass::Emergency => (Some((d, start)), None),
        other => (None, other),
    };
    let mut items = run_emergencies(emergencies, running_emergency, now);
    let mut busy: Vec<Interval> = items.iter().map(PlanItem::interval).collect();

    if let Some((d, start)) = running_routine {
        let full_end = start + d.span;
        let cut = items
            .iter()
            .map(|e| e.start)
            .filter(|&t| t >= start && t < full_end)
            .min();
        match cut {
            Some(at) => {
                items.push(d.item(start, at, true));
                routine.push(d);
            }
            None => {
                let item = d.item(start, full_end, false);
                busy.push(item.interval());
                items.push(item);
            }
        }
    }

    let windows = province
        .windows_for(commune, kind)
        .on(horizon.date, province.tz);
    items.extend(place_routine(routine, windows, busy, now));
    items.sort_by_key(|i| (i.start, i.end));
    items
}

/// Everything `commune`'s device of `kind` still owes over the horizon.
fn demands(
    province: &Province,
    programme: &Programme,
    commune: &AreaCode,
    kind: DeviceKind,
    device: Option<&DeviceId>,
    log: &DeviceLog,
    horizon: Horizon,
) -> Vec<Demand> {
    let languages = &province.settings(commune).languages;
    let priority_rank: HashMap<&BulletinId, u32> = programme
        .priority_order(commune)
        .into_iter()
        .zip(0..)
        .collect();
    let mut demands = Vec::new();
    for id in programme.bulletins_for(commune) {
        let Ok(bulletin) = programme.bulletin(id) else {
            continue;
        };
        if !bulletin.state.is_schedulable() || bulletin.is_expired_at(horizon.now) {
            continue;
        }
        if bulletin.devices.is_some() && !device.is_some_and(|d| bulletin.reaches(d)) {
            continue;
        }
        let (rank, not_before) = match bulletin.class {
            PriorityClass::Emergency => (0, None),
            PriorityClass::Priority => (priority_rank[id], None),
            PriorityClass::Normal => match programme.opt_in(commune, id) {
                Some(opt_in) => (0, Some(local_to_utc(opt_in.at, province.tz))),
                None => continue,
            },
        };
        let variants = bulletin.variants_for(kind, languages);
        for occurrence in bulletin.occurrences(horizon.now, horizon.end, province.tz) {
            for (language_rank, variant) in variants.iter().enumerate() {
                let key = AiringKey {
                    bulletin: id.clone(),
                    occurrence: occurrence.index,
                    language: variant.language.clone(),
                };
                if log.done.contains_key(&key) {
                    continue;
                }
                let secs = variant
                    .secs_for(kind)
                    .expect("variants_for keeps playable variants");
                // A failed airing waits out its pause.
                let earliest = [not_before, log.retry_at(&key)]
                    .into_iter()
                    .flatten()
                    .fold(occurrence.earliest, DateTime::max);
                demands.push(Demand {
                    key,
                    class: bulletin.class,
                    rank,
                    language_rank,
                    earliest,
                    deadline: occurrence.deadline,
                    span: Bulletin::span(secs),
                });
            }
        }
    }
    demands
}

/// Emergencies from `now` on, newest first; a preempted one replays in full
/// after the one that cut it. `running` is the emergency playing since `start`.
fn run_emergencies(
    mut pending: Vec<Demand>,
    mut running: Option<(Demand, DateTime<Utc>)>,
    now: DateTime<Utc>,
) -> Vec<PlanItem> {
    pending.sort_by(|a, b| a.recency().cmp(&b.recency()));
    let newer = |a: &Demand, b: &Demand| a.recency() > b.recency();
    let mut arrivals = pending.into_iter().peekable();
    let mut waiting: Vec<Demand> = Vec::new();
    let mut items = Vec::new();
    let mut t = now;
    loop {
        while let Some(d) = arrivals.next_if(|d| d.earliest <= t) {
            waiting.push(d);
        }
        // One that can no longer finish before its deadline will never air.
        waiting.retain(|d| t + d.span <= d.deadline);
        let newest = (0..waiting.len()).reduce(|a, b| {
            if newer(&waiting[b], &waiting[a]) {
                b
            } else {
                a
            }
        });
        if let Some(idx) = newest {
            if running
                .as_ref()
                .is_none_or(|(r, _)| newer(&waiting[idx], r))
            {
                let next = waiting.swap_remove(idx);
                if let Some((cut, start)) = running.take() {
                    if t > start {
                        items.push(cut.item(start, t, true));
                    }
                    waiting.push(cut);
                }
                running = Some((next, t));
            }
        }
        let Some((current, start)) = &running else {
            match arrivals.peek() {
                Some(d) => t = d.earliest,
                None => break,
            }
            continue;
        };
        let end = *start + current.span;
        match arrivals.peek() {
            Some(d) if d.earliest < end => t = d.earliest,
            _ => {
                items.push(current.item(*start, end, false));
                t = end;
                running = None;
            }
        }
    }
    items
}

/// Routine airings inside `windows`, around the `busy` intervals.
fn place_routine(
    mut routine: Vec<Demand>,
    windows: impl Iterator<Item = Interval>,
    busy: Vec<Interval>,
    now: DateTime<Utc>,
) -> Vec<PlanItem> {
    routine.sort_by(|a, b| a.airing_order().cmp(&b.airing_order()));
    let mut open = vec![true; routine.len()];
    let mut items = Vec::new();
    for window in windows.filter(|w| w.end > now) {
        let mut fits_window = open.clone();
        let mut t = window.start.max(now);
        while t < window.end {
            if let Some(b) = busy.iter().find(|b| b.start <= t && t < b.end) {
                t = b.end;
                continue;
            }
            let next = (0..routine.len()).find(|&i| fits_window[i] && routine[i].earliest <= t);
            let Some(i) = next else {
                // Nothing is due yet: wait for the next one that becomes due.
                let due = (0..routine.len())
                    .filter(|&i| fits_window[i])
                    .map(|i| routine[i].earliest)
                    .min();
                match due {
                    Some(at) if at < window.end => t = at,
                    _ => break,
                }
                continue;
            };
            let demand = &routine[i];
            let end = t + demand.span;
            if end > demand.deadline {
                // Its deadline only gets closer: it will not air at all.
                open[i] = false;
                fits_window[i] = false;
            } else if end > window.end {
                fits_window[i] = false;
            } else if let Some(b) = busy.iter().filter(|b| b.start > t && b.start < end).min() {
                t = b.end;
            } else {
                items.push(demand.item(t, end, false));
                open[i] = false;
                fits_window[i] = false;
                t = end;
            }
        }
    }
    items
}

#[cfg(test)]
mod tests;
