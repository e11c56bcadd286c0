//! The hub task: one task owns the scheduler and talks to devices.
//!
//! Uplinks arrive through the [`Transport`]; the task drains whatever has
//! arrived, passes it through the [`Gate`], feeds the resulting events to the
//! scheduler in one batch, turns the decisions into signed commands
//! ([`dispatch`](super::dispatch)), publishes them, and hands what changed to
//! the store writer. Requests from people (through
//! [`HubHandle`](super::HubHandle)) and clock ticks go through the same path,
//! so every change is serialised in one place.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::time::{Duration, Instant};

use chrono::{DateTime, TimeDelta, Utc};
use hub_core::{
    AiringKey, AreaCode, Bulletin, BulletinState, DayPlanner, Decision, Delivery, DeliveryBook,
    DeliveryState, Device, DeviceId, DeviceLog, Event, Evidence, Horizon, Receipt,
    Report as CoreReport, Scheduler, Withdrawal,
};
use hub_proto::{
    Clock, Command, FailureReason, Message, Outcome, Report, Status, PROTOCOL_VERSION,
};
use hub_store::{DeviceHistory, PlayReceipt, Presence, PresenceCause, Store};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use super::broker::Passwords;
use super::dispatch::{report_spread_ms, Outbound, Round};
use super::gate::Gate;
use super::handle::{CommuneView, DayPlans, DeliveryTally, LinkStats, Request};
use super::identity::Identity;
use super::service::ServeError;
use super::settings::LinkSettings;
use super::transport::{Transport, Uplink};
use super::writer::{Changes, StoreWriter};
use crate::monitor::{DeviceWatch, LinkFigures};

/// Most uplinks handled in one round.
const MAX_ROUND: usize = 4096;

/// A device outside any known session is asked for a hello at most this often.
const RESYNC_EVERY: Duration = Duration::from_secs(5);

pub(super) struct Hub {
    pub(super) store: Store,
    pub(super) scheduler: Scheduler,
    pub(super) deliveries: DeliveryBook,
    pub(super) identity: Identity,
    pub(super) gate: Gate,
    pub(super) transport: Transport,
    pub(super) clock: Clock,
    pub(super) settings: LinkSettings,
    pub(super) online: HashSet<DeviceId>,
    pub(super) health: HashMap<DeviceId, Status>,
    /// Last seen, online/offline since, emergency first-audio latency.
    pub(super) watch: DeviceWatch,
    pub(super) stats: LinkStats,
    pub(super) writer: StoreWriter,
    /// Devices that said hello since the last tick; they get their settings
    /// and plan at the next one, and nothing before.
    pub(super) awaiting_sync: BTreeSet<DeviceId>,
    pub(super) observer: Option<mpsc::UnboundedSender<Delivery>>,
    pub(super) resync_asked: HashMap<DeviceId, Instant>,
    /// What media URLs in plan entries start with.
    pub(super) media_base: String,
    /// The broker's (and media server's) device passwords, shared with
    /// them: registering or revoking a device changes who they let in.
    pub(super) passwords: Passwords,
}

/// What a round of uplinks asks of the scheduler.
#[derive(Default)]
struct Intake {
    events: Vec<Event>,
    hellos: BTreeSet<DeviceId>,
    changed: Vec<Delivery>,
    /// Every proof-of-play message, for reports, repeated ones included
    /// (they land on the same record).
    receipts: Vec<PlayReceipt>,
    presence: Vec<Presence>,
}

/// What a round carries out besides the scheduler's decisions.
#[derive(Default)]
pub(super) struct Effects {
    /// Devices to send their settings and whole plan.
    pub(super) sync: BTreeSet<DeviceId>,
    /// Deliveries the round already moved (acks, reports, expiries).
    pub(super) changed: Vec<Delivery>,
}

/// The device whose log an event changes.
fn event_device(event: &Event) -> Option<&DeviceId> {
    match event {
        Event::Receipt(receipt) => Some(&receipt.device),
        Event::DeviceOnline(device) | Event::DeviceOffline(device) => Some(device),
        Event::DeviceAdded(device) => Some(&device.id),
        _ => None,
    }
}

impl Hub {
    pub(super) async fn run(
        mut self,
        mut uplinks: mpsc::Receiver<Uplink>,
        mut inbox: mpsc::Receiver<Request>,
        tick: Duration,
        cancel: CancellationToken,
    ) -> Result<(), ServeError> {
        let mut ticker = tokio::time::interval(tick);
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let stopped = loop {
            let step = tokio::select! {
                _ = cancel.cancelled() => break Ok(()),
                Some(first) = uplinks.recv() => {
                    let mut batch = vec![first];
                    while batch.len() < MAX_ROUND {
                        match uplinks.try_recv() {
                            Ok(next) => batch.push(next),
                            Err(_) => break,
                        }
                    }
                    self.on_uplinks(batch).await
                }
                Some(request) = inbox.recv() => self.on_request(request).await,
                _ = ticker.tick() => self.on_tick().await,
                else => break Err(ServeError::Stopped),
            };
            if let Err(error) = step {
                break Err(error);
            }
        };
        // Who was online is offline from now: nobody is heard any more.
        let now = self.clock.now();
        let mut logged = Changes::default();
        logged.put_presence(
            self.online
                .iter()
                .map(|device| presence(device, now, PresenceCause::HubStopped))
                .collect(),
        );
        self.writer.write(logged);
        if self.writer.finish() == 0 {
            // Nothing this run wrote failed, the offline records above
            // included: the next start has no presence left to close.
            self.store.mark_stopped_in_order()?;
        }
        self.store.flush()?;
        if let Err(error) = &stopped {
            tracing::error!(%error, "hub stopped");
        }
        stopped
    }

    async fn on_uplinks(&mut self, batch: Vec<Uplink>) -> Result<(), ServeError> {
        let now = self.clock.now();
        let seen = Instant::now();
        let mut intake = Intake::default();
        for (topic, payload) in batch {
            match self.gate.admit(&topic, &payload, seen) {
                Ok((device, report)) => {
                    self.watch.seen(&device, now);
                    self.take(device, report, now, &mut intake)
                }
                Err(reason) => {
                    tracing::warn!(topic, reason = reason.as_str(), "uplink dropped")
                }
            }
        }
        let Intake {
            events,
            hellos,
            changed,
            receipts,
            presence,
        } = intake;
        // Hellos are answered at the next tick, together: devices of a
        // commune reconnecting at once share one sync command.
        self.awaiting_sync.extend(hellos);
        let effects = Effects {
            changed,
            ..Effects::default()
        };
        for (_, refused) in self.round(now, events, effects).await? {
            tracing::warn!(%refused, "device report refused by the scheduler");
        }
        let mut logged = Changes::default();
        logged.put_receipts(receipts);
        logged.put_presence(presence);
        self.writer.write(logged);
        self.ask_strays_to_resync(now, seen).await
    }

    /// Devices reporting outside any session the hub knows (it restarted, or
    /// missed their hello) are asked for a new hello, at most every few seconds.
    async fn ask_strays_to_resync(
        &mut self,
        now: DateTime<Utc>,
        seen: Instant,
    ) -> Result<(), ServeError> {
        let mut by_topic: BTreeMap<(hub_core::AreaCode, hub_core::DeviceKind), Vec<DeviceId>> =
            BTreeMap::new();
        for device in self.gate.take_strays() {
            let recently = self
                .resync_asked
                .get(&device)
                .is_some_and(|at| seen.duration_since(*at) < RESYNC_EVERY);
            if recently {
                continue;
            }
            if let Ok(known) = self.scheduler.province().device(&device) {
                by_topic
                    .entry((known.commune.clone(), known.kind))
                    .or_default()
                    .push(device.clone());
                self.resync_asked.insert(device, seen);
            }
        }
        for ((commune, kind), to) in by_topic {
            let outbound = Outbound {
                commune,
                kind,
                to,
                directive: hub_proto::Directive::Resync,
                airings: Vec::new(),
            };
            // A hello is wanted at once, however many are asked for.
            self.publish(now, outbound, None).await?;
        }
        Ok(())
    }

    /// Turns one admitted report into scheduler events and delivery changes.
    fn take(&mut self, device: DeviceId, report: Report, now: DateTime<Utc>, intake: &mut Intake) {
        for message in report.messages {
            self.take_message(&device, message, report.session, report.at, now, intake);
        }
    }

    /// One message of a report that arose at the device's time `at`.
    fn take_message(
        &mut self,
        device: &DeviceId,
        message: Message,
        session: u64,
        at: DateTime<Utc>,
        now: DateTime<Utc>,
        intake: &mut Intake,
    ) {
        // A device is online exactly while the gate holds a session for it,
        // which only a hello opens.
        match message {
            Message::Hello { firmware, .. } => {
                tracing::info!(%device, firmware, session, "device said hello");
                // The scheduler hears of it when its plan is sent (next
                // tick): until then nothing may be assumed to play on it.
                if self.online.insert(device.clone()) {
                    self.watch.changed(device, now);
                }
                intake.hellos.insert(device.clone());
                intake
                    .presence
                    .push(presence(device, now, PresenceCause::Hello));
            }
            Message::Status(status) => {
                self.health.insert(device.clone(), status);
            }
            Message::Ack { seq } => {
                intake
                    .changed
                    .extend(self.deliveries.acknowledged(device, seq, now));
            }
            Message::Refused { seq, code, reason } => {
                tracing::warn!(%device, ?seq, code, reason, "device refused a command");
                *self.stats.refused_by_devices.entry(code).or_default() += 1;
            }
            Message::Played {
                airing,
                outcome,
                reason,
            } => {
                let Ok(key) = AiringKey::from_wire(&airing) else {
                    self.stats.unknown_airings += 1;
                    return;
                };
                let (state, core) = match outcome {
                    Outcome::Started => (DeliveryState::Started, CoreReport::Started),
                    Outcome::Finished => (DeliveryState::Finished, CoreReport::Finished),
                    Outcome::Preempted => (DeliveryState::Preempted, CoreReport::Preempted),
                    Outcome::Failed => (DeliveryState::Failed, CoreReport::Failed),
                    Outcome::Stopped => (DeliveryState::Stopped, CoreReport::Stopped),
                };
                intake.receipts.push(PlayReceipt {
                    device: device.clone(),
                    airing: key.clone(),
                    outcome: state,
                    at,
                    reason: reason.filter(|_| outcome == Outcome::Failed),
                });
                // Emergency latency counts each device's first start only,
                // not the replay after a newer emergency cut it.
                let first_start = outcome == Outcome::Started
                    && self
                        .deliveries
                        .get(device, &key)
                        .is_none_or(|d| d.state < DeliveryState::Started);
                if first_start {
                    self.watch.first_start(&key.bulletin, now);
                }
                if let Some(changed) = self
                    .deliveries
                    .reported_with(device, &key, state, reason, at)
                {
                    if outcome == Outcome::Failed {
                        // Counted once per failure, not per repeated report.
                        let code = reason.map_or("unstated", FailureReason::code);
                        tracing::info!(%device, airing = ?key, reason = code, "device failed an airing");
                        *self.stats.failed_by_reason.entry(code).or_default() += 1;
                    }
                    intake.changed.push(changed.clone());
                }
                intake.events.push(Event::Receipt(Receipt {
                    device: device.clone(),
                    key,
                    report: core,
                    at: at.min(now),
                }));
            }
            Message::Offline => {
                tracing::info!(%device, "device offline (last will)");
                if self.online.remove(device) {
                    self.watch.changed(device, now);
                    intake.events.push(Event::DeviceOffline(device.clone()));
                    intake
                        .presence
                        .push(presence(device, now, PresenceCause::LastWill));
                }
            }
        }
    }

    async fn on_request(&mut self, request: Request) -> Result<(), ServeError> {
        match request {
            Request::Event(mut event, staged, reply) => {
                let now = self.clock.now();
                if let Event::Queue(bulletin) = &mut event {
                    self.reach_reported(bulletin);
                    self.watch.queued(bulletin);
                }
                let (mut refused, mut changes) =
                    self.decide(now, vec![event], Effects::default()).await?;
                match refused.pop() {
                    Some((_, error)) => {
                        self.writer.write(changes);
                        let _ = reply.send(Err(error));
                    }
                    None => {
                        let programme = self.scheduler.programme();
                        changes.stage(self.store.programme_batch(programme)?);
                        match staged(programme) {
                            Ok(batch) => {
                                changes.stage(batch);
                                changes.reply_when_durable(reply);
                            }
                            // The reply is dropped: the change took effect
                            // but its records could not be made.
                            Err(error) => {
                                tracing::error!(%error, "staging a request's records failed")
                            }
                        }
                        self.writer.write(changes);
                    }
                }
            }
            Request::Deliveries(device, reply) => {
                let _ = reply.send(self.deliveries.of_device(&device).cloned().collect());
            }
            Request::BulletinDeliveries(bulletin, reply) => {
                let _ = reply.send(self.deliveries.of_bulletin(&bulletin).cloned().collect());
            }
            Request::Online(device, reply) => {
                let _ = reply.send(self.online.contains(&device));
            }
            Request::Health(device, reply) => {
                let _ = reply.send(self.health.get(&device).cloned());
            }
            Request::DeviceHealth(reply) => {
                let _ = reply.send(self.watch.devices(
                    self.scheduler.province(),
                    self.scheduler.programme(),
                    &self.online,
                    &self.health,
                ));
            }
            Request::Figures(reply) => {
                let mut deliveries = BTreeMap::new();
                for delivery in self.deliveries.all() {
                    *deliveries.entry(delivery.state).or_default() += 1;
                }
                let _ = reply.send(LinkFigures {
                    deliveries,
                    first_audio: self.watch.first_audio().clone(),
                    sessions: self.online.len(),
                    stats: self.link_stats(),
                });
            }
            Request::Tally(reply) => {
                let mut tally = DeliveryTally::new();
                for delivery in self.deliveries.all() {
                    *tally
                        .entry(delivery.airing.bulletin.clone())
                        .or_default()
                        .entry(delivery.state)
                        .or_default() += 1;
                }
                let _ = reply.send(tally);
            }
            Request::Bulletins(reply) => {
                let _ = reply.send(self.scheduler.programme().bulletins().cloned().collect());
            }
            Request::Bulletin(id, reply) => {
                let _ = reply.send(self.scheduler.programme().bulletin(&id).ok().cloned());
            }
            Request::Commune(commune, days, reply) => {
                let _ = reply.send(self.commune_view(&commune, days));
            }
            Request::Devices(reply) => {
                let _ = reply.send(self.scheduler.province().devices().cloned().collect());
            }
            Request::Device(id, reply) => {
                let _ = reply.send(self.scheduler.province().device(&id).ok().cloned());
            }
            Request::Register(device, reply) => {
                let registered = self.register(device).await?;
                let _ = reply.send(registered);
            }
            Request::Revoke(device, reply) => {
                let revoked = self.revoke(&device).await?;
                let _ = reply.send(revoked);
            }
            Request::Credentials(device, reply) => {
                let _ = reply.send(self.credentials(&device)?);
            }
            Request::Live(chunk, communes, reply) => {
                let _ = reply.send(self.publish_live(&chunk, communes).await);
            }
            Request::Stats(reply) => {
                let _ = reply.send(self.link_stats());
            }
        }
        Ok(())
    }

    /// The counters, with the gate's drops and the writer's failures.
    fn link_stats(&self) -> LinkStats {
        let mut stats = self.stats.clone();
        stats.dropped = self.gate.dropped();
        stats.online = self.online.len();
        stats.store_failures = self.writer.failures();
        stats
    }

    /// `commune`'s bulletins, its chair's decisions, and its devices' plans
    /// for today (as the scheduler keeps them) and the `days - 1` days after
    /// (as they would be planned now, each day taking the days before it as
    /// aired).
    fn commune_view(&self, commune: &AreaCode, days: u8) -> CommuneView {
        let programme = self.scheduler.programme();
        let province = self.scheduler.province();
        let devices: Vec<&Device> = province
            .devices_in(commune)
            .iter()
            .filter_map(|id| province.device(id).ok())
            .collect();
        let today = Horizon::new(self.clock.now(), province.tz);
        let mut plans = vec![DayPlans {
            date: today.date,
            devices: devices
                .iter()
                .map(|d| (d.id.clone(), self.scheduler.plan(&d.id).to_vec()))
                .collect(),
        }];
        let mut logs: Vec<DeviceLog> = devices
            .iter()
            .map(|d| self.scheduler.log(&d.id).cloned().unwrap_or_default())
            .collect();
        let mut day_start = today.end;
        for _ in 1..days.max(1) {
            let previous = plans.last().expect("today is planned");
            for (log, (_, items)) in logs.iter_mut().zip(&previous.devices) {
                log.playing = None;
                for item in items.iter().filter(|i| !i.preempted) {
                    log.done
                        .entry(item.key.clone())
                        .or_insert(Evidence::Assumed);
                }
            }
            let mut planner = DayPlanner::new(province, programme, day_start);
            let horizon = planner.horizon();
            let planned = devices
                .iter()
                .zip(&logs)
                .map(|(device, log)| (device.id.clone(), planner.plan(device, log).to_vec()))
                .collect();
            plans.push(DayPlans {
                date: horizon.date,
                devices: planned,
            });
            day_start = horizon.end;
        }
        CommuneView {
            bulletins: programme
                .bulletins_for(commune)
                .filter_map(|id| programme.bulletin(id).ok().cloned())
                .collect(),
            chair_order: programme.chair_order(commune).cloned(),
            opt_ins: programme
                .opt_ins()
                .filter(|o| &o.commune == commune)
                .cloned()
                .collect(),
            plans,
        }
    }

    async fn on_tick(&mut self) -> Result<(), ServeError> {
        let now = self.clock.now();
        let cutoff = Instant::now()
            .checked_sub(Duration::from_secs(self.settings.heartbeat_timeout_secs))
            .unwrap_or_else(Instant::now);
        self.watch.forget_settled(self.scheduler.programme());
        let mut events = vec![Event::Tick];
        let mut silent = Vec::new();
        for device in self.gate.silent_since(cutoff) {
            tracing::info!(%device, "device offline (silent)");
            self.gate.end_session(&device);
            if self.online.remove(&device) {
                self.watch.changed(&device, now);
                silent.push(presence(&device, now, PresenceCause::Silent));
                events.push(Event::DeviceOffline(device));
            }
        }
        let mut logged = Changes::default();
        logged.put_presence(silent);
        self.writer.write(logged);
        // Devices that said hello are online for the scheduler from the
        // round that sends them their plan.
        events.extend(
            self.awaiting_sync
                .iter()
                .filter(|device| self.online.contains(*device))
                .map(|device| Event::DeviceOnline(device.clone())),
        );
        let mut sync = self.unacknowledged(now);
        sync.append(&mut self.awaiting_sync);
        let effects = Effects {
            sync,
            changed: self.expire_unplayable(now),
        };
        self.round(now, events, effects).await?;
        Ok(())
    }

    /// Feeds `events` to the scheduler (if there are any: acks and status
    /// reports alone need no scheduler round), then carries out its
    /// decisions with `effects`. Returns the refused events, by index.
    pub(super) async fn round(
        &mut self,
        now: DateTime<Utc>,
        events: Vec<Event>,
        effects: Effects,
    ) -> Result<Vec<(usize, hub_core::CoreError)>, ServeError> {
        let (refused, changes) = self.decide(now, events, effects).await?;
        self.writer.write(changes);
        Ok(refused)
    }

    /// A [`round`](Self::round) whose changes are handed back instead of
    /// written, to be written together with more.
    async fn decide(
        &mut self,
        now: DateTime<Utc>,
        events: Vec<Event>,
        effects: Effects,
    ) -> Result<(Vec<(usize, hub_core::CoreError)>, Changes), ServeError> {
        // Device logs change only through events.
        let logs = events.iter().filter_map(event_device).cloned().collect();
        let (decisions, refused) = if events.is_empty() {
            (Vec::new(), Vec::new())
        } else {
            let handled = self.scheduler.handle_all(now, events);
            (handled.decisions, handled.refused)
        };
        let changes = self.carry_out(now, decisions, effects, logs).await?;
        Ok((refused, changes))
    }

    /// Online devices that have not acknowledged a command within the ack
    /// timeout: they are sent their settings and plan again.
    fn unacknowledged(&self, now: DateTime<Utc>) -> BTreeSet<DeviceId> {
        let timeout = Duration::from_secs(self.settings.ack_timeout_secs);
        self.deliveries
            .all()
            .filter(|d| d.state == DeliveryState::Sent)
            // Waiting is checked before being online: during a broadcast
            // thousands of deliveries are sent and none has waited long.
            .filter(|d| {
                let waited = (now - d.at).to_std().unwrap_or_default();
                self.clock.real_duration(waited) >= timeout
            })
            .filter(|d| self.online.contains(&d.device))
            .map(|d| d.device.clone())
            .collect()
    }

    /// Airings not yet started whose bulletin can no longer air are expired.
    fn expire_unplayable(&mut self, now: DateTime<Utc>) -> Vec<Delivery> {
        let programme = self.scheduler.programme();
        let over: Vec<(DeviceId, AiringKey)> = self
            .deliveries
            .all()
            .filter(|d| d.state < DeliveryState::Started)
            .filter(|d| {
                programme.bulletin(&d.airing.bulletin).map_or(true, |b| {
                    b.state.is_final() && b.state != BulletinState::Done
                })
            })
            .map(|d| (d.device.clone(), d.airing.clone()))
            .collect();
        over.into_iter()
            .filter_map(|(device, airing)| {
                match self.deliveries.withdrawn(&device, &airing, true, now) {
                    Withdrawal::Expired(delivery) => Some(delivery),
                    _ => None,
                }
            })
            .collect()
    }

    /// A correction reaches the devices whose reports of airing what it
    /// corrects came in after its caller looked: those coming later, the
    /// scheduler adds.
    fn reach_reported(&self, correction: &mut Bulletin) {
        let Some(corrected) = correction.corrects.clone() else {
            return;
        };
        let province = self.scheduler.province();
        let aired: Vec<&DeviceId> = self
            .deliveries
            .of_bulletin(&corrected)
            .filter(|d| d.state.was_aired())
            .map(|d| &d.device)
            .collect();
        for device in aired {
            if let Ok(known) = province.device(device) {
                correction.reach(&province.tree, device, &known.commune);
            }
        }
    }

    /// Publishes what the decisions require; returns the records that changed.
    async fn carry_out(
        &mut self,
        now: DateTime<Utc>,
        decisions: Vec<Decision>,
        effects: Effects,
        mut devices: BTreeSet<DeviceId>,
    ) -> Result<Changes, ServeError> {
        let Effects {
            sync: hellos,
            mut changed,
        } = effects;
        // Commands go out first: what follows is the hub's own bookkeeping,
        // and during an emergency every device waits on the last publish.
        let round = Round {
            scheduler: &self.scheduler,
            now,
            decisions: &decisions,
            hellos: &hellos,
            volume: self.settings.volume,
            media_base: &self.media_base,
        };
        let awaiting = &self.awaiting_sync;
        let commands = round.commands(|id| self.online.contains(id) && !awaiting.contains(id));
        let spread = report_spread_ms(&commands);
        let mut published = Vec::with_capacity(commands.len());
        for outbound in commands {
            published.extend(self.publish(now, outbound, spread).await?);
        }
        let mut removed = Vec::new();
        let mut bulletins = Vec::new();
        for decision in &decisions {
            match decision {
                Decision::Play { device, item } => {
                    if let Some(delivery) = self.deliveries.planned(device, &item.key, now) {
                        changed.push(delivery.clone());
                    }
                }
                // An airing that only moved is withdrawn and played again
                // under the same key: its delivery stays.
                Decision::Withdraw { device, item }
                    if !self
                        .scheduler
                        .plan(device)
                        .iter()
                        .any(|i| i.key == item.key) =>
                {
                    let expired = self
                        .scheduler
                        .programme()
                        .bulletin(&item.key.bulletin)
                        .is_ok_and(|b| b.state == BulletinState::Expired);
                    match self.deliveries.withdrawn(device, &item.key, expired, now) {
                        Withdrawal::Expired(delivery) => changed.push(delivery),
                        Withdrawal::Removed => removed.push((device.clone(), item.key.clone())),
                        Withdrawal::Unchanged => {}
                    }
                }
                Decision::Withdraw { .. } => {}
                Decision::State { bulletin, .. } | Decision::Reach { bulletin, .. } => {
                    if let Ok(record) = self.scheduler.programme().bulletin(bulletin) {
                        bulletins.push(record.clone());
                    }
                }
                Decision::Preempt { device, .. } | Decision::Stop { device, .. } => {
                    devices.insert(device.clone());
                }
            }
        }
        // After `planned` above: a delivery is queued, then sent.
        for sent in published {
            for device in &sent.to {
                for airing in &sent.airings {
                    if let Some(delivery) = self.deliveries.sent(device, airing, sent.seq, now) {
                        changed.push(delivery.clone());
                    }
                }
            }
        }

        // Watchers hear of every change at once; the store, written behind on
        // its own thread, keeps only the last state of each delivery.
        if let Some(observer) = &self.observer {
            for delivery in &changed {
                let _ = observer.send(delivery.clone());
            }
        }
        let histories = devices
            .iter()
            .filter_map(|device| {
                let log = self.scheduler.log(device)?;
                Some(DeviceHistory {
                    device: device.clone(),
                    log: log.clone(),
                })
            })
            .collect();
        // The programme's records apart from the deliveries and device logs:
        // they touch different records, so their order between them is free.
        let mut records = Changes::default();
        records.put_bulletins(bulletins);
        let mut delivered = Changes::default();
        delivered.remove_deliveries(removed);
        delivered.put_deliveries(changed);
        delivered.put_histories(histories);
        match spread {
            // Devices report such a round from half the spread on, once the
            // broker has delivered it; its deliveries and logs wait as long,
            // out of the broker's way.
            Some(spread_ms) => {
                let after = Duration::from_millis(u64::from(spread_ms) / 2);
                records.then_held(delivered, Instant::now() + after);
            }
            None => records.append(delivered),
        }
        Ok(records)
    }

    /// Signs a live chunk once and publishes it to the loudspeakers of
    /// `communes`; how many publishes went out. A failed publish is that
    /// commune's lost chunk: devices skip over it.
    async fn publish_live(
        &mut self,
        chunk: &hub_proto::live::LiveChunk,
        communes: Vec<AreaCode>,
    ) -> usize {
        let wire = self.identity.signer().sign_chunk(chunk);
        let mut published = 0;
        for commune in communes {
            let topic = hub_proto::topic::downlink(commune.as_str(), hub_proto::Kind::Loudspeaker);
            match self.transport.publish(topic, wire.clone()).await {
                Ok(()) => published += 1,
                Err(error) => tracing::error!(%error, %commune, "publishing a live chunk failed"),
            }
        }
        published
    }

    /// Signs and publishes one command; what went out, unless the publish failed.
    async fn publish(
        &mut self,
        now: DateTime<Utc>,
        outbound: Outbound,
        report_spread_ms: Option<u32>,
    ) -> Result<Option<Published>, ServeError> {
        let seq = self.identity.next_seq(&self.store)?;
        let command = Command {
            v: PROTOCOL_VERSION,
            seq,
            issued: now,
            expires: now + TimeDelta::seconds(self.settings.command_ttl_secs as i64),
            to: outbound.to.iter().map(ToString::to_string).collect(),
            directive: outbound.directive,
            report_spread_ms,
        };
        let wire = self.identity.signer().sign(&command);
        let topic = hub_proto::topic::downlink(outbound.commune.as_str(), outbound.kind.wire());
        if let Err(error) = self.transport.publish(topic, wire).await {
            // Devices resync on reconnect; the deliveries stay queued.
            tracing::error!(%error, "publishing a command failed");
            return Ok(None);
        }
        self.stats.commands_published += 1;
        Ok(Some(Published {
            seq,
            to: outbound.to,
            airings: outbound.airings,
        }))
    }
}

/// A command that went out: the airings it delivers are sent to its devices.
struct Published {
    seq: u64,
    to: Vec<DeviceId>,
    airings: Vec<AiringKey>,
}

/// `device` went offline at `at` for `cause` (came online, for a hello).
pub(super) fn presence(device: &DeviceId, at: DateTime<Utc>, cause: PresenceCause) -> Presence {
    Presence {
        device: device.clone(),
        at,
        online: cause == PresenceCause::Hello,
        cause,
    }
}
