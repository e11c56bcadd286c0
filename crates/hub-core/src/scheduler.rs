//! The scheduler as an event-driven state machine.
//!
//! Events go in (bulletin queued, approved, cancelled, chair reorders, device
//! receipts, clock ticks), each with the current instant; decisions come out
//! (play this on that device at T, withdraw, preempt, stop, bulletin state).
//! Nothing here reads a clock or touches I/O, so a given sequence of events
//! always yields the same decisions.
//!
//! Each call first *advances* to `now` (what the plans said would start or end
//! by now is taken as having happened), then applies the event, re-plans the
//! devices it concerns, advances again over the new plans (an emergency queued
//! for now preempts at once), and reports the differences.

use std::collections::{BTreeMap, BTreeSet};
use std::mem;
use std::sync::Arc;

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

use crate::history::{Evidence, Playing};
use crate::plan::{AiringKey, DayPlanner, Horizon};
use crate::{
    AreaCode, Bulletin, BulletinId, BulletinState, ChairOrder, CoreError, Device, DeviceId,
    DeviceLog, OptIn, PlanItem, PriorityClass, Programme, Province,
};

/// Something that happened, fed to [`Scheduler::handle`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Event {
    /// A new bulletin (or a new version of a draft).
    Queue(Bulletin),
    /// The editor submits a draft: sensitive ones wait for review, others are approved.
    Submit(BulletinId),
    Approve(BulletinId),
    Reject(BulletinId),
    Cancel(BulletinId),
    Reorder(ChairOrder),
    OptIn(OptIn),
    OptOut {
        commune: AreaCode,
        bulletin: BulletinId,
    },
    Receipt(Receipt),
    DeviceOffline(DeviceId),
    DeviceOnline(DeviceId),
    /// A device registered while the hub runs; offline until it says hello.
    DeviceAdded(Device),
    /// Nothing but the passing of time.
    Tick,
}

/// A device's own report about one airing.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Receipt {
    pub device: DeviceId,
    pub key: AiringKey,
    pub report: Report,
    /// The device's timestamp.
    pub at: DateTime<Utc>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Report {
    Started,
    Finished,
    Preempted,
    Failed,
    /// Stopped on the hub's order: the scheduler knows already, but the
    /// report shows it aired (its start may never have been reported, when
    /// a device's queue of reports overflowed).
    Stopped,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StopReason {
    Cancelled,
    Expired,
}

/// What the hub must do.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Decision {
    /// Play (or show) `item` on `device` at `item.start` (at once if that has passed).
    Play { device: DeviceId, item: PlanItem },
    /// A planned airing that has not started is off the plan.
    Withdraw { device: DeviceId, item: PlanItem },
    /// An emergency cut what `device` was playing.
    Preempt {
        device: DeviceId,
        stopped: AiringKey,
        by: AiringKey,
        at: DateTime<Utc>,
    },
    /// Stop what `device` is playing now.
    Stop {
        device: DeviceId,
        key: AiringKey,
        reason: StopReason,
        at: DateTime<Utc>,
    },
    /// A correction reaches one more device (its record changed).
    Reach {
        bulletin: BulletinId,
        device: DeviceId,
    },
    /// A bulletin moved to a new state.
    State {
        bulletin: BulletinId,
        state: BulletinState,
    },
}

/// A device's plan, and until when advancing it changes nothing.
struct Planned {
    items: Arc<[PlanItem]>,
    /// No item starts or ends before this instant after the last advance;
    /// `None`: not advanced since planned.
    quiet_until: Option<DateTime<Utc>>,
}

impl Planned {
    fn new(items: Arc<[PlanItem]>) -> Self {
        Self {
            items,
            quiet_until: None,
        }
    }
}

/// The first start or end in `items` after `now`.
fn next_boundary(items: &[PlanItem], now: DateTime<Utc>) -> DateTime<Utc> {
    items
        .iter()
        .flat_map(|i| [i.start, i.end])
        .filter(|t| *t > now)
        .min()
        .unwrap_or(DateTime::<Utc>::MAX_UTC)
}

/// The outcome of [`Scheduler::handle_all`].
#[derive(Debug)]
pub struct Handled {
    pub decisions: Vec<Decision>,
    /// Index of each refused event, with why.
    pub refused: Vec<(usize, CoreError)>,
}

/// Devices whose plans must be recomputed.
#[derive(Default)]
struct Dirty {
    all: bool,
    devices: BTreeSet<DeviceId>,
}

impl Dirty {
    fn merge(&mut self, other: Dirty) {
        self.all |= other.all;
        self.devices.extend(other.devices);
    }
}

pub struct Scheduler {
    province: Province,
    programme: Programme,
    logs: BTreeMap<DeviceId, DeviceLog>,
    plans: BTreeMap<DeviceId, Planned>,
    planned_date: Option<NaiveDate>,
    now: Option<DateTime<Utc>>,
    /// Decisions not yet handed out (kept when an event is refused after the clock advanced).
    outbox: Vec<Decision>,
    /// Bulletins planned, started or finished somewhere since the states were
    /// last updated: the only ones whose state can have moved.
    touched: BTreeSet<BulletinId>,
    /// A bulletin was cancelled or expired: the next advance looks at every
    /// device, since one may be playing it.
    stops_pending: bool,
}

impl Scheduler {
    /// Starts from stored state; the first [`handle`](Self::handle) plans every device.
    pub fn new(
        province: Province,
        programme: Programme,
        logs: BTreeMap<DeviceId, DeviceLog>,
    ) -> Self {
        Self {
            province,
            programme,
            logs,
            plans: BTreeMap::new(),
            planned_date: None,
            now: None,
            outbox: Vec::new(),
            touched: BTreeSet::new(),
            stops_pending: false,
        }
    }

    pub fn province(&self) -> &Province {
        &self.province
    }

    pub fn programme(&self) -> &Programme {
        &self.programme
    }

    pub fn log(&self, device: &DeviceId) -> Option<&DeviceLog> {
        self.logs.get(device)
    }

    /// The current plan of `device` (empty before the first event).
    pub fn plan(&self, device: &DeviceId) -> &[PlanItem] {
        self.plans.get(device).map_or(&[], |p| &p.items)
    }

    /// Applies `event` at `now` and returns what must be done. Time never runs
    /// backwards: an earlier `now` than the last one is taken as the last one.
    /// A refused event changes nothing but the passing of time; decisions the
    /// clock produced meanwhile come with the next call.
    pub fn handle(&mut self, now: DateTime<Utc>, event: Event) -> Result<Vec<Decision>, CoreError> {
        let mut handled = self.handle_all(now, vec![event]);
        match handled.refused.pop() {
            Some((_, refused)) => {
                self.outbox = handled.decisions;
                Err(refused)
            }
            None => Ok(handled.decisions),
        }
    }

    /// Applies `events` in order at `now`, re-planning each concerned device
    /// once: a burst of events (a thousand devices reconnecting) costs one
    /// pass over the fleet instead of one per event. Refused events are
    /// listed by index and change nothing.
    pub fn handle_all(&mut self, now: DateTime<Utc>, events: Vec<Event>) -> Handled {
        let now = self.now.map_or(now, |last| now.max(last));
        self.now = Some(now);
        self.advance(now);
        let mut dirty = Dirty::default();
        let mut refused = Vec::new();
        for (index, event) in events.into_iter().enumerate() {
            match self.apply(now, event) {
                Ok(more) => dirty.merge(more),
                Err(error) => refused.push((index, error)),
            }
        }
        let horizon = Horizon::new(now, self.province.tz);
        if self.planned_date != Some(horizon.date) {
            self.planned_date = Some(horizon.date);
            dirty.all = true;
        }
        self.replan(dirty, now);
        self.advance(now);
        self.update_states(now);
        Handled {
            decisions: mem::take(&mut self.outbox),
            refused,
        }
    }

    fn transition(
        &mut self,
        id: &BulletinId,
        from: &[BulletinState],
        to: BulletinState,
    ) -> Result<(), CoreError> {
        let bulletin = self.programme.bulletin_mut(id)?;
        if !from.contains(&bulletin.state) {
            return Err(CoreError::InvalidTransition {
                id: id.clone(),
                from: bulletin.state,
                to,
            });
        }
        bulletin.state = to;
        self.stops_pending |= to == BulletinState::Cancelled;
        self.outbox.push(Decision::State {
            bulletin: id.clone(),
            state: to,
        });
        Ok(())
    }

    fn devices_targeted(&self, id: &BulletinId) -> BTreeSet<DeviceId> {
        let Ok(bulletin) = self.programme.bulletin(id) else {
            return BTreeSet::new();
        };
        let tree = &self.province.tree;
        bulletin
            .targets
            .iter()
            .flat_map(|t| tree.communes_under(t))
            .flat_map(|c| self.province.devices_in(c))
            .filter(|device| bulletin.reaches(device))
            .cloned()
            .collect()
    }

    fn apply(&mut self, now: DateTime<Utc>, event: Event) -> Result<Dirty, CoreError> {
        use BulletinState::*;
        let mut dirty = Dirty::default();
        match event {
            Event::Queue(bulletin) => {
                let id = bulletin.id.clone();
                self.programme.insert_bulletin(&self.province, bulletin)?;
                dirty.devices = self.devices_targeted(&id);
            }
            Event::Submit(id) => {
                let sensitive = self.programme.bulletin(&id)?.sensitive;
                self.transition(&id, &[Draft], if sensitive { Submitted } else { Approved })?;
                dirty.devices = self.devices_targeted(&id);
            }
            Event::Approve(id) => {
                self.transition(&id, &[Submitted], Approved)?;
                dirty.devices = self.devices_targeted(&id);
            }
            Event::Reject(id) => self.transition(&id, &[Submitted], Rejected)?,
            Event::Cancel(id) => {
                let open = [Draft, Submitted, Approved, Scheduled, Airing];
                self.transition(&id, &open, Cancelled)?;
                dirty.devices = self.devices_targeted(&id);
            }
            Event::Reorder(order) => {
                let commune = order.commune.clone();
                self.programme.set_chair_order(&self.province, order)?;
                dirty
                    .devices
                    .extend(self.province.devices_in(&commune).iter().cloned());
            }
            Event::OptIn(opt_in) => {
                let commune = opt_in.commune.clone();
                self.programme.set_opt_in(&self.province, opt_in)?;
                dirty
                    .devices
                    .extend(self.province.devices_in(&commune).iter().cloned());
            }
            Event::OptOut { commune, bulletin } => {
                if self.programme.remove_opt_in(&commune, &bulletin) {
                    dirty
                        .devices
                        .extend(self.province.devices_in(&commune).iter().cloned());
                }
            }
            Event::Receipt(receipt) => {
                let device = receipt.device.clone();
                let stopped = receipt.report == Report::Stopped;
                let aired =
                    (receipt.report != Report::Failed).then(|| receipt.key.bulletin.clone());
                self.apply_receipt(receipt, now)?;
                let reached =
                    aired.is_some_and(|aired| self.reach_correction(&aired, &device, now));
                // A stop the hub ordered changes no plan, unless it brought
                // a correction: a province's stop reports replan nothing.
                if !stopped || reached {
                    dirty.devices.insert(device);
                }
            }
            Event::DeviceOffline(id) => {
                self.province.device(&id)?;
                self.logs.entry(id.clone()).or_default().go_offline();
                dirty.devices.insert(id);
            }
            Event::DeviceAdded(device) => {
                let id = device.id.clone();
                self.province.add_device(device)?;
                self.logs.entry(id.clone()).or_default().go_offline();
                dirty.devices.insert(id);
            }
            Event::DeviceOnline(id) => {
                self.province.device(&id)?;
                self.logs.entry(id.clone()).or_default().offline = false;
                dirty.devices.insert(id);
            }
            Event::Tick => {}
        }
        Ok(dirty)
    }

    fn apply_receipt(&mut self, receipt: Receipt, now: DateTime<Utc>) -> Result<(), CoreError> {
        let device = self.province.device(&receipt.device)?;
        let bulletin = self.programme.bulletin(&receipt.key.bulletin)?;
        let variant = bulletin
            .variants
            .iter()
            .find(|v| v.language == receipt.key.language)
            .and_then(|v| v.secs_for(device.kind))
            .ok_or_else(|| CoreError::InvalidBulletin {
                id: bulletin.id.clone(),
                reason: format!(
                    "has nothing a {:?} plays in language {}",
                    device.kind, receipt.key.language
                ),
            })?;
        let planned = self
            .plan(&receipt.device)
            .iter()
            .find(|i| i.key == receipt.key)
            .cloned();
        let class = bulletin.class;
        self.touched.insert(receipt.key.bulletin.clone());
        let log = self.logs.entry(receipt.device.clone()).or_default();
        match receipt.report {
            Report::Started => {
                log.retries.remove(&receipt.key);
                let start = receipt.at.min(now);
                let item = planned.unwrap_or_else(|| PlanItem {
                    key: receipt.key.clone(),
                    class,
                    start,
                    end: start + Bulletin::span(variant),
                    preempted: false,
                });
                log.playing = Some(Playing {
                    item,
                    evidence: Evidence::Reported,
                });
            }
            Report::Stopped => {}
            Report::Finished => {
                log.mark_done(&receipt.key, Evidence::Reported);
                log.playing.take_if(|p| p.item.key == receipt.key);
            }
            Report::Preempted | Report::Failed => {
                log.done.remove(&receipt.key);
                log.playing.take_if(|p| p.item.key == receipt.key);
                // An emergency is tried again at once, whatever it costs.
                if receipt.report == Report::Failed && class != PriorityClass::Emergency {
                    log.note_failure(&receipt.key, now);
                }
                // A bulletin taken as done everywhere is owed again, while it is valid.
                let bulletin = self.programme.bulletin_mut(&receipt.key.bulletin)?;
                if bulletin.state == BulletinState::Done && !bulletin.is_expired_at(now) {
                    bulletin.state = BulletinState::Scheduled;
                    self.outbox.push(Decision::State {
                        bulletin: receipt.key.bulletin,
                        state: BulletinState::Scheduled,
                    });
                }
            }
        }
        Ok(())
    }

    /// A device reported airing `aired`: if a correction of it is out, the
    /// correction reaches the device too, however late the report came.
    /// Whether it newly does.
    fn reach_correction(
        &mut self,
        aired: &BulletinId,
        device: &DeviceId,
        now: DateTime<Utc>,
    ) -> bool {
        let Some(correction) = self
            .programme
            .reach_correction(&self.province, aired, device, now)
        else {
            return false;
        };
        self.touched.insert(correction.clone());
        let record = self
            .programme
            .bulletin_mut(&correction)
            .expect("just reached");
        // A correction taken as aired everywhere is owed here now.
        if record.state == BulletinState::Done {
            record.state = BulletinState::Scheduled;
            self.outbox.push(Decision::State {
                bulletin: correction.clone(),
                state: BulletinState::Scheduled,
            });
        }
        self.outbox.push(Decision::Reach {
            bulletin: correction,
            device: device.clone(),
        });
        true
    }

    /// Re-plans dirty devices and reports how their plans changed.
    fn replan(&mut self, dirty: Dirty, now: DateTime<Utc>) {
        let ids: Vec<DeviceId> = if dirty.all {
            self.province.devices().map(|d| d.id.clone()).collect()
        } else {
            dirty.devices.into_iter().collect()
        };
        let mut planner = DayPlanner::new(&self.province, &self.programme, now);
        let fresh = DeviceLog::default();
        for id in ids {
            let Ok(device) = self.province.device(&id) else {
                continue;
            };
            let plan = planner.plan(device, self.logs.get(&id).unwrap_or(&fresh));
            let old = self
                .plans
                .insert(id.clone(), Planned::new(plan.clone()))
                .map_or_else(|| Arc::from([]), |p| p.items);
            for item in plan.iter().filter(|i| !old.contains(i)) {
                // Looked up first: a broadcast is new in thousands of plans.
                if !self.touched.contains(&item.key.bulletin) {
                    self.touched.insert(item.key.bulletin.clone());
                }
                self.outbox.push(Decision::Play {
                    device: id.clone(),
                    item: item.clone(),
                });
            }
            for item in old.iter().filter(|i| i.start > now && !plan.contains(i)) {
                self.outbox.push(Decision::Withdraw {
                    device: id.clone(),
                    item: item.clone(),
                });
            }
        }
    }

    /// Takes what the plans said would happen by `now` as having happened,
    /// expires bulletins, and stops airings of cancelled or expired ones.
    fn advance(&mut self, now: DateTime<Utc>) {
        let expired: Vec<BulletinId> = self
            .programme
            .bulletins()
            .filter(|b| !b.state.is_final() && b.is_expired_at(now))
            .map(|b| b.id.clone())
            .collect();
        for id in expired {
            self.programme
                .bulletin_mut(&id)
                .expect("listed above")
                .state = BulletinState::Expired;
            self.stops_pending = true;
            self.outbox.push(Decision::State {
                bulletin: id,
                state: BulletinState::Expired,
            });
        }

        let stops = mem::take(&mut self.stops_pending);
        for (id, planned) in &mut self.plans {
            if !stops && planned.quiet_until.is_some_and(|quiet| now < quiet) {
                continue;
            }
            planned.quiet_until = Some(next_boundary(&planned.items, now));
            let plan = &planned.items;
            // Most devices at most moments: offline, or nothing planned nor playing.
            let idle = self.logs.get(id).map_or(plan.is_empty(), |log| {
                log.offline || (plan.is_empty() && log.playing.is_none())
            });
            if idle {
                continue;
            }
            if !self.logs.contains_key(id) {
                self.logs.insert(id.clone(), DeviceLog::default());
            }
            let log = self.logs.get_mut(id).expect("inserted above");
            let stopped = log.playing.as_ref().and_then(|p| {
                let state = self.programme.bulletin(&p.item.key.bulletin).ok()?.state;
                let reason = match state {
                    BulletinState::Cancelled => StopReason::Cancelled,
                    BulletinState::Expired => StopReason::Expired,
                    _ => return None,
                };
                Some((p.item.key.clone(), reason))
            });
            if let Some((key, reason)) = stopped {
                log.playing = None;
                self.outbox.push(Decision::Stop {
                    device: id.clone(),
                    key,
                    reason,
                    at: now,
                });
            }
            let mut previous: Option<&PlanItem> = None;
            for item in plan.iter().take_while(|i| i.start <= now) {
                let is_playing = log
                    .playing
                    .as_ref()
                    .is_some_and(|p| p.item.key == item.key && p.item.start == item.start);
                let first_seen = !is_playing && !log.done.contains_key(&item.key);
                if first_seen && item.class == PriorityClass::Emergency {
                    if let Some(cut) = previous.filter(|p| p.preempted && p.end == item.start) {
                        self.outbox.push(Decision::Preempt {
                            device: id.clone(),
                            stopped: cut.key.clone(),
                            by: item.key.clone(),
                            at: item.start,
                        });
                    }
                }
                let changed = if item.end <= now {
                    let newly_done = !item.preempted && log.mark_done(&item.key, Evidence::Assumed);
                    if is_playing {
                        log.playing = None;
                    }
                    newly_done || is_playing
                } else if first_seen {
                    log.playing = Some(Playing {
                        item: item.clone(),
                        evidence: Evidence::Assumed,
                    });
                    true
                } else {
                    false
                };
                if changed {
                    self.touched.insert(item.key.bulletin.clone());
                }
                previous = Some(item);
            }
        }
    }

    /// Moves the touched schedulable bulletins between scheduled, airing and done.
    fn update_states(&mut self, now: DateTime<Utc>) {
        let touched = mem::take(&mut self.touched);
        let schedulable: Vec<&Bulletin> = touched
            .iter()
            .filter_map(|id| self.programme.bulletin(id).ok())
            .filter(|b| b.state.is_schedulable())
            .collect();
        if schedulable.is_empty() {
            return;
        }
        let airing = self.airing(schedulable.iter().map(|b| &b.id).collect(), now);
        let mut changes = Vec::new();
        for bulletin in schedulable {
            let state = if airing.contains(&bulletin.id) {
                BulletinState::Airing
            } else if self.has_aired_everywhere(bulletin) {
                BulletinState::Done
            } else {
                BulletinState::Scheduled
            };
            if state != bulletin.state {
                changes.push((bulletin.id.clone(), state));
            }
        }
        for (id, state) in changes {
            self.programme
                .bulletin_mut(&id)
                .expect("listed above")
                .state = state;
            self.outbox.push(Decision::State {
                bulletin: id,
                state,
            });
        }
    }

    /// Which of `bulletins` some device plays at `now`. The search ends once
    /// all are found: during a broadcast, after a few devices instead of the
    /// whole fleet at every round of receipts.
    fn airing<'a>(
        &self,
        bulletins: BTreeSet<&'a BulletinId>,
        now: DateTime<Utc>,
    ) -> BTreeSet<&'a BulletinId> {
        let mut unseen = bulletins;
        let mut airing = BTreeSet::new();
        for playing in self.logs.values().filter_map(|log| log.playing.as_ref()) {
            if unseen.is_empty() {
                break;
            }
            if playing.item.end > now {
                if let Some(id) = unseen.take(&playing.item.key.bulletin) {
                    airing.insert(id);
                }
            }
        }
        airing
    }

    /// Every targeted device has played every occurrence in every language it airs.
    fn has_aired_everywhere(&self, bulletin: &Bulletin) -> bool {
        let occurrences = bulletin.all_occurrences(self.province.tz);
        let mut any_device = false;
        for device_id in self.devices_targeted(&bulletin.id) {
            let Ok(device) = self.province.device(&device_id) else {
                continue;
            };
            let languages = &self.province.settings(&device.commune).languages;
            let variants = bulletin.variants_for(device.kind, languages);
            if variants.is_empty() {
                continue;
            }
            any_device = true;
            let Some(log) = self.logs.get(&device_id) else {
                return false;
            };
            for occurrence in &occurrences {
                for variant in &variants {
                    let key = AiringKey {
                        bulletin: bulletin.id.clone(),
                        occurrence: occurrence.index,
                        language: variant.language.clone(),
                    };
                    if !log.done.contains_key(&key) {
                        return false;
                    }
                }
            }
        }
        any_device
    }
}

#[cfg(test)]
mod tests;

#[cfg(test)]
mod props;
