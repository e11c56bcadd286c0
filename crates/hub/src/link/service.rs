//! The running hub: one task owns the scheduler and talks to devices.
//!
//! Uplinks arrive through the [`Transport`]; the task drains whatever has
//! arrived, passes it through the [`Gate`], feeds the resulting events to the
//! scheduler in one batch, turns the decisions into signed commands
//! ([`dispatch`](super::dispatch)), publishes them, and writes what changed to
//! the store. Requests from people (through [`HubHandle`]) and clock ticks go
//! through the same path, so every change is serialised in one place.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use chrono::{DateTime, TimeDelta, Utc};
use hub_core::{
    AiringKey, BulletinId, BulletinState, CoreError, Decision, Delivery, DeliveryBook,
    DeliveryState, DeviceId, Event, Language, Receipt, Report as CoreReport, Scheduler, Withdrawal,
};
use hub_proto::{Clock, Command, Message, Outcome, Provisioning, Report, Status, PROTOCOL_VERSION};
use hub_store::{Batch, DeviceHistory, Store, StoreError};
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use super::broker::{self, Passwords};
use super::dispatch::{Outbound, Round};
use super::gate::{Gate, Known};
use super::identity::{self, Identity};
use super::settings::LinkSettings;
use super::transport::{self, BrokerUrl, Transport, Uplink};
use super::writer::StoreWriter;
use crate::config::LoadedConfig;

/// Which broker the hub uses.
#[derive(Clone, Debug)]
pub enum BrokerChoice {
    /// rumqttd inside the hub process (the default).
    Embedded,
    /// An external broker, `mqtt://` or `mqtts://` (with an optional CA file).
    External { url: String, ca: Option<PathBuf> },
}

pub struct ServeOptions {
    pub data_dir: PathBuf,
    pub config: LoadedConfig,
    pub broker: BrokerChoice,
    pub clock: Clock,
    /// How often the clock is checked for airings starting, ending, expiring.
    pub tick: Duration,
    /// Receives every delivery-state change (benchmarks and monitoring).
    pub delivery_events: Option<mpsc::UnboundedSender<Delivery>>,
}

#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    #[error("store")]
    Store(#[from] StoreError),
    #[error("hub identity")]
    Identity(#[from] identity::IdentityError),
    #[error("embedded broker")]
    Broker(#[from] broker::BrokerError),
    #[error("broker link")]
    Transport(#[from] transport::TransportError),
    #[error("the hub has stopped")]
    Stopped,
}

/// Counters of the device link.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct LinkStats {
    /// Uplinks dropped by the gate, by reason.
    pub dropped: BTreeMap<&'static str, u64>,
    /// Commands devices refused, by their stated reason.
    pub refused_by_devices: BTreeMap<String, u64>,
    /// Proofs of play naming an airing the hub does not know.
    pub unknown_airings: u64,
    pub online: usize,
    pub commands_published: u64,
    /// Batches of state the store could not write.
    pub store_failures: u64,
}

enum Request {
    Event(Event, oneshot::Sender<Result<(), CoreError>>),
    Deliveries(DeviceId, oneshot::Sender<Vec<Delivery>>),
    Online(DeviceId, oneshot::Sender<bool>),
    Health(DeviceId, oneshot::Sender<Option<Status>>),
    Stats(oneshot::Sender<LinkStats>),
    Tally(oneshot::Sender<DeliveryTally>),
}

/// How many devices each bulletin stands at, by delivery state.
pub type DeliveryTally = BTreeMap<BulletinId, BTreeMap<DeliveryState, usize>>;

/// A running hub.
pub struct HubHandle {
    /// The embedded broker's plain MQTT address (`None` with an external broker).
    pub mqtt_addr: Option<SocketAddr>,
    pub mqtts_addr: Option<SocketAddr>,
    /// Credentials of every device and the hub's public key.
    pub provisioning: Provisioning,
    requests: mpsc::Sender<Request>,
    cancel: CancellationToken,
    task: JoinHandle<Result<(), ServeError>>,
}

impl HubHandle {
    async fn ask<T>(
        &self,
        make: impl FnOnce(oneshot::Sender<T>) -> Request,
    ) -> Result<T, ServeError> {
        let (reply, answer) = oneshot::channel();
        self.requests
            .send(make(reply))
            .await
            .map_err(|_| ServeError::Stopped)?;
        answer.await.map_err(|_| ServeError::Stopped)
    }

    /// Feeds a scheduler event (a new bulletin, an approval, a cancellation…).
    pub async fn event(&self, event: Event) -> Result<Result<(), CoreError>, ServeError> {
        self.ask(|reply| Request::Event(event, reply)).await
    }

    /// Where each airing of `device` stands.
    pub async fn deliveries(&self, device: &DeviceId) -> Result<Vec<Delivery>, ServeError> {
        self.ask(|reply| Request::Deliveries(device.clone(), reply))
            .await
    }

    pub async fn is_online(&self, device: &DeviceId) -> Result<bool, ServeError> {
        self.ask(|reply| Request::Online(device.clone(), reply))
            .await
    }

    /// The device's last status report.
    pub async fn health(&self, device: &DeviceId) -> Result<Option<Status>, ServeError> {
        self.ask(|reply| Request::Health(device.clone(), reply))
            .await
    }

    pub async fn stats(&self) -> Result<LinkStats, ServeError> {
        self.ask(Request::Stats).await
    }

    /// Every bulletin's deliveries, counted by state.
    pub async fn tally(&self) -> Result<DeliveryTally, ServeError> {
        self.ask(Request::Tally).await
    }

    /// A token that stops the hub when cancelled.
    pub fn cancel_token(&self) -> CancellationToken {
        self.cancel.clone()
    }

    /// Runs until the hub stops (by its cancel token, or an error).
    pub async fn wait(self) -> Result<(), ServeError> {
        self.task.await.map_err(|_| ServeError::Stopped)?
    }

    /// Stops the hub and waits for it to write its state.
    pub async fn shutdown(self) -> Result<(), ServeError> {
        self.cancel.cancel();
        self.wait().await
    }
}

/// Opens the store, starts the broker link and the hub task.
pub async fn start(options: ServeOptions) -> Result<HubHandle, ServeError> {
    let ServeOptions {
        data_dir,
        config,
        broker: choice,
        clock,
        tick,
        delivery_events,
    } = options;
    let store = Store::open(&data_dir)?;
    store.import_province(&config.province)?;
    crate::seed::seed_programme(&store, &config.programme)?;
    let province = store.load_province()?;
    let programme = store.load_programme(&province)?;
    let mut logs = store.load_logs()?;
    let identity = Identity::load_or_create(&store)?;
    let secrets = identity::ensure_secrets(&store, &province)?;
    store.flush()?;

    let passwords: Passwords = Passwords::default();
    passwords.write().expect("fresh lock").extend(
        secrets
            .values()
            .filter(|s| !s.revoked)
            .map(|s| (s.device.to_string(), s.mqtt_password.clone())),
    );
    let mut known = HashMap::new();
    for secret in secrets.values() {
        let Ok(device) = province.device(&secret.device) else {
            continue;
        };
        let key = hub_proto::UplinkKey::from_text(&secret.uplink_key)
            .map_err(|_| identity::IdentityError::BadKey)?;
        known.insert(
            secret.device.clone(),
            Known {
                commune: device.commune.clone(),
                key,
                revoked: secret.revoked,
            },
        );
    }

    let cancel = CancellationToken::new();
    let settings = config.link.clone();
    let (transport, uplinks, mqtt_addr, mqtts_addr, broker_url) = match choice {
        BrokerChoice::Embedded => {
            let (tx, rx, listening) = broker::start(&settings, passwords)?;
            let (transport, uplinks) = transport::embedded(tx, rx, cancel.clone())?;
            let url = settings
                .public_broker_url
                .clone()
                .unwrap_or_else(|| format!("mqtt://{}", listening.mqtt));
            (
                transport,
                uplinks,
                Some(listening.mqtt),
                listening.mqtts,
                url,
            )
        }
        BrokerChoice::External { url, ca } => {
            let parsed = BrokerUrl::parse(&url)?;
            let (transport, uplinks) = transport::external(&parsed, ca, cancel.clone())?;
            let scheme = if parsed.tls { "mqtts" } else { "mqtt" };
            let public = format!("{scheme}://{}:{}", parsed.host, parsed.port);
            (
                transport,
                uplinks,
                None,
                None,
                settings.public_broker_url.clone().unwrap_or(public),
            )
        }
    };
    let provisioning =
        identity::provisioning(&province, &secrets, broker_url, identity.public_key_text());

    // Nobody is connected yet: nothing is assumed to play until devices say hello.
    for log in logs.values_mut() {
        log.offline = true;
    }
    let offline: Vec<Event> = province
        .devices()
        .map(|d| Event::DeviceOffline(d.id.clone()))
        .collect();
    let scheduler = Scheduler::new(province, programme, logs);
    let deliveries = DeliveryBook::from_records(store.all::<Delivery>()?);
    let writer = StoreWriter::start(store.clone());
    let mut hub = Hub {
        store,
        scheduler,
        deliveries,
        identity,
        gate: Gate::new(known),
        transport,
        clock,
        settings,
        online: HashSet::new(),
        health: HashMap::new(),
        stats: LinkStats::default(),
        writer,
        awaiting_sync: BTreeSet::new(),
        observer: delivery_events,
        resync_asked: HashMap::new(),
    };
    let now = hub.clock.now();
    let handled = hub.scheduler.handle_all(now, offline);
    hub.carry_out(
        now,
        handled.decisions,
        BTreeSet::new(),
        Vec::new(),
        BTreeSet::new(),
    )
    .await?;

    let (requests, inbox) = mpsc::channel(256);
    let task = tokio::spawn(hub.run(uplinks, inbox, tick, cancel.clone()));
    Ok(HubHandle {
        mqtt_addr,
        mqtts_addr,
        provisioning,
        requests,
        cancel,
        task,
    })
}

/// Most uplinks handled in one round.
const MAX_ROUND: usize = 4096;

/// A device outside any known session is asked for a hello at most this often.
const RESYNC_EVERY: Duration = Duration::from_secs(5);

struct Hub {
    store: Store,
    scheduler: Scheduler,
    deliveries: DeliveryBook,
    identity: Identity,
    gate: Gate,
    transport: Transport,
    clock: Clock,
    settings: LinkSettings,
    online: HashSet<DeviceId>,
    health: HashMap<DeviceId, Status>,
    stats: LinkStats,
    writer: StoreWriter,
    /// Devices that said hello since the last tick; they get their settings
    /// and plan at the next one, and nothing before.
    awaiting_sync: BTreeSet<DeviceId>,
    observer: Option<mpsc::UnboundedSender<Delivery>>,
    resync_asked: HashMap<DeviceId, Instant>,
}

/// What a round of uplinks asks of the scheduler.
#[derive(Default)]
struct Intake {
    events: Vec<Event>,
    hellos: BTreeSet<DeviceId>,
    changed: Vec<Delivery>,
}

/// The device whose log an event changes.
fn event_device(event: &Event) -> Option<&DeviceId> {
    match event {
        Event::Receipt(receipt) => Some(&receipt.device),
        Event::DeviceOnline(device) | Event::DeviceOffline(device) => Some(device),
        _ => None,
    }
}

impl Hub {
    async fn run(
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
        self.writer.finish();
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
                Ok((device, report)) => self.take(device, report, now, &mut intake),
                Err(reason) => {
                    tracing::warn!(topic, reason = reason.as_str(), "uplink dropped")
                }
            }
        }
        let Intake {
            events,
            hellos,
            changed,
        } = intake;
        // Logs change only through events; acks and status reports alone
        // need no scheduler round.
        let devices = events.iter().filter_map(event_device).cloned().collect();
        let decisions = if events.is_empty() {
            Vec::new()
        } else {
            let handled = self.scheduler.handle_all(now, events);
            for (_, refused) in &handled.refused {
                tracing::warn!(%refused, "device report refused by the scheduler");
            }
            handled.decisions
        };
        // Hellos are answered at the next tick, together: devices of a
        // commune reconnecting at once share one sync command.
        self.awaiting_sync.extend(hellos);
        self.carry_out(now, decisions, BTreeSet::new(), changed, devices)
            .await?;
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
            self.publish(now, outbound).await?;
        }
        Ok(())
    }

    /// Turns one admitted report into scheduler events and delivery changes.
    fn take(&mut self, device: DeviceId, report: Report, now: DateTime<Utc>, intake: &mut Intake) {
        let mut went_online = || {
            if self.online.insert(device.clone()) {
                intake.events.push(Event::DeviceOnline(device.clone()));
            }
        };
        match report.message {
            Message::Hello { firmware, .. } => {
                tracing::info!(%device, firmware, session = report.session, "device said hello");
                went_online();
                intake.hellos.insert(device.clone());
            }
            Message::Status(status) => {
                went_online();
                self.health.insert(device.clone(), status);
            }
            Message::Ack { seq } => {
                intake
                    .changed
                    .extend(self.deliveries.acknowledged(&device, seq, now));
            }
            Message::Refused { seq, code, reason } => {
                tracing::warn!(%device, ?seq, code, reason, "device refused a command");
                *self.stats.refused_by_devices.entry(code).or_default() += 1;
            }
            Message::Played { airing, outcome } => {
                let key = match (
                    BulletinId::parse(&airing.bulletin),
                    Language::parse(&airing.language),
                ) {
                    (Ok(bulletin), Ok(language)) => AiringKey {
                        bulletin,
                        occurrence: airing.occurrence,
                        language,
                    },
                    _ => {
                        self.stats.unknown_airings += 1;
                        return;
                    }
                };
                let (state, core) = match outcome {
                    Outcome::Started => (DeliveryState::Started, Some(CoreReport::Started)),
                    Outcome::Finished => (DeliveryState::Finished, Some(CoreReport::Finished)),
                    Outcome::Preempted => (DeliveryState::Preempted, Some(CoreReport::Preempted)),
                    Outcome::Failed => (DeliveryState::Failed, Some(CoreReport::Failed)),
                    // The scheduler ordered the stop and knows already.
                    Outcome::Stopped => (DeliveryState::Stopped, None),
                };
                if let Some(changed) = self.deliveries.reported(&device, &key, state, report.at) {
                    intake.changed.push(changed.clone());
                }
                if let Some(report_kind) = core {
                    intake.events.push(Event::Receipt(Receipt {
                        device: device.clone(),
                        key,
                        report: report_kind,
                        at: report.at.min(now),
                    }));
                }
            }
            Message::Offline => {
                tracing::info!(%device, "device offline (last will)");
                if self.online.remove(&device) {
                    intake.events.push(Event::DeviceOffline(device.clone()));
                }
            }
        }
    }

    async fn on_request(&mut self, request: Request) -> Result<(), ServeError> {
        match request {
            Request::Event(event, reply) => {
                let now = self.clock.now();
                let mut handled = self.scheduler.handle_all(now, vec![event]);
                let outcome = handled.refused.pop().map_or(Ok(()), |(_, e)| Err(e));
                if outcome.is_ok() {
                    self.store.save_programme(self.scheduler.programme())?;
                }
                self.carry_out(
                    now,
                    handled.decisions,
                    BTreeSet::new(),
                    Vec::new(),
                    BTreeSet::new(),
                )
                .await?;
                let _ = reply.send(outcome);
            }
            Request::Deliveries(device, reply) => {
                let _ = reply.send(self.deliveries.of_device(&device).cloned().collect());
            }
            Request::Online(device, reply) => {
                let _ = reply.send(self.online.contains(&device));
            }
            Request::Health(device, reply) => {
                let _ = reply.send(self.health.get(&device).cloned());
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
            Request::Stats(reply) => {
                let mut stats = self.stats.clone();
                stats.dropped = self.gate.dropped();
                stats.online = self.online.len();
                stats.store_failures = self.writer.failures();
                let _ = reply.send(stats);
            }
        }
        Ok(())
    }

    async fn on_tick(&mut self) -> Result<(), ServeError> {
        let now = self.clock.now();
        let cutoff = Instant::now()
            .checked_sub(Duration::from_secs(self.settings.heartbeat_timeout_secs))
            .unwrap_or_else(Instant::now);
        let mut events = vec![Event::Tick];
        let mut devices = BTreeSet::new();
        for device in self.gate.silent_since(cutoff) {
            tracing::info!(%device, "device offline (silent)");
            self.gate.end_session(&device);
            if self.online.remove(&device) {
                events.push(Event::DeviceOffline(device.clone()));
                devices.insert(device);
            }
        }
        let handled = self.scheduler.handle_all(now, events);
        let changed = self.expire_unplayable(now);
        let mut sync = self.unacknowledged(now);
        sync.append(&mut self.awaiting_sync);
        self.carry_out(now, handled.decisions, sync, changed, devices)
            .await
    }

    /// Online devices that have not acknowledged a command within the ack
    /// timeout: they are sent their settings and plan again.
    fn unacknowledged(&self, now: DateTime<Utc>) -> BTreeSet<DeviceId> {
        let timeout = Duration::from_secs(self.settings.ack_timeout_secs);
        self.deliveries
            .all()
            .filter(|d| d.state == DeliveryState::Sent && self.online.contains(&d.device))
            .filter(|d| {
                let waited = (now - d.at).to_std().unwrap_or_default();
                self.clock.real_duration(waited) >= timeout
            })
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

    /// Publishes what the decisions require and records what changed.
    async fn carry_out(
        &mut self,
        now: DateTime<Utc>,
        decisions: Vec<Decision>,
        hellos: BTreeSet<DeviceId>,
        mut changed: Vec<Delivery>,
        mut devices: BTreeSet<DeviceId>,
    ) -> Result<(), ServeError> {
        let mut batch = Batch::new();
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
                        Withdrawal::Removed => {
                            batch.remove::<Delivery>(&hub_store::delivery_key(device, &item.key));
                        }
                        Withdrawal::Unchanged => {}
                    }
                }
                Decision::Withdraw { .. } => {}
                Decision::State { bulletin, .. } => {
                    if let Ok(record) = self.scheduler.programme().bulletin(bulletin) {
                        batch.put(record)?;
                    }
                }
                Decision::Preempt { device, .. } | Decision::Stop { device, .. } => {
                    devices.insert(device.clone());
                }
            }
        }
        let round = Round {
            scheduler: &self.scheduler,
            now,
            decisions: &decisions,
            hellos: &hellos,
            volume: self.settings.volume,
        };
        let awaiting = &self.awaiting_sync;
        let commands = round.commands(|id| self.online.contains(id) && !awaiting.contains(id));
        for outbound in commands {
            changed.extend(self.publish(now, outbound).await?);
        }

        for delivery in &changed {
            batch.put(delivery)?;
        }
        for device in &devices {
            if let Some(log) = self.scheduler.log(device) {
                batch.put(&DeviceHistory {
                    device: device.clone(),
                    log: log.clone(),
                })?;
            }
        }
        self.writer.write(batch);
        if let Some(observer) = &self.observer {
            for delivery in changed {
                let _ = observer.send(delivery);
            }
        }
        Ok(())
    }

    /// Signs and publishes one command; returns the deliveries it moved to `sent`.
    async fn publish(
        &mut self,
        now: DateTime<Utc>,
        outbound: Outbound,
    ) -> Result<Vec<Delivery>, ServeError> {
        let seq = self.identity.next_seq(&self.store)?;
        let command = Command {
            v: PROTOCOL_VERSION,
            seq,
            issued: now,
            expires: now + TimeDelta::seconds(self.settings.command_ttl_secs as i64),
            to: outbound.to.iter().map(ToString::to_string).collect(),
            directive: outbound.directive,
        };
        let wire = self.identity.signer().sign(&command);
        let topic = hub_proto::topic::downlink(outbound.commune.as_str(), outbound.kind.wire());
        if let Err(error) = self.transport.publish(topic, wire).await {
            // Devices resync on reconnect; the deliveries stay queued.
            tracing::error!(%error, "publishing a command failed");
            return Ok(Vec::new());
        }
        self.stats.commands_published += 1;
        let mut sent = Vec::new();
        for device in &outbound.to {
            for airing in &outbound.airings {
                if let Some(delivery) = self.deliveries.sent(device, airing, seq, now) {
                    sent.push(delivery.clone());
                }
            }
        }
        Ok(sent)
    }
}
