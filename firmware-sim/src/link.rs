//! One device's link to the hub over MQTT, run as one tokio task.
//!
//! Each connection is a new report session: a random `session`, sequence
//! numbers from 1, a [`Message::Hello`] first, and a Last Will (the sealed
//! [`Message::Offline`] with [`WILL_SEQ`]) set before connecting, so the
//! broker speaks for the device when the link dies. Every downlink payload
//! goes through the device's [`CommandGuard`]; accepted commands drive the
//! [`Player`] and are acknowledged, refused ones are reported.
//!
//! Each device also runs a media fetcher ([`crate::media`]): after every
//! accepted command the link hands it the files the plan still needs, and
//! before the player runs the link tells it which files storage holds. A
//! link-down or power-loss fault takes the device's whole network down, so it
//! cuts a download under way too.
//!
//! The player keeps time on the shared [`Clock`] whether or not the link is
//! up. Reports wait in a bounded queue and are sent, sealed into the current
//! session, once the link is back; a report the broker has not acknowledged
//! when the link drops is sent again in the next session.

use std::collections::{BTreeMap, VecDeque};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use chrono::{DateTime, TimeDelta, Utc};
use hub_proto::downlink::{decode_public_key, MAX_COMMAND_BYTES};
use hub_proto::live::LiveGuard;
use hub_proto::uplink::{MAX_MESSAGES, MAX_REPORT_BYTES, WILL_SEQ};
use hub_proto::{
    topic, Clock, CommandGuard, DeviceCredentials, Directive, FailureReason, Kind, Message,
    Outcome, Provisioning, Refusal, Report, Status, UplinkKey,
};
use rand::Rng;
use rumqttc::{AsyncClient, Event, EventLoop, LastWill, MqttOptions, Outgoing, Packet, QoS};
use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;
use tokio::time::{sleep, sleep_until, Instant, MissedTickBehavior};
use tracing::{debug, info, warn};

use crate::broker::BrokerAddr;
use crate::faults::Fault;
use crate::live::{LiveCounters, LiveListener};
use crate::media::fetcher::{Fetcher, Wants};
use crate::media::{MediaCounters, MediaOptions, MediaTrust, MediaTrustError, Storage};
use crate::player::{Played, Player};

/// Reports handed to the MQTT client and not yet acknowledged by the broker.
const WINDOW: usize = 8;
/// How often (real time) a device whose due entry waits for its download
/// looks whether the file has arrived.
const MEDIA_POLL: Duration = Duration::from_millis(100);
/// Tokio's timers fire to the millisecond: a deadline moved by less is not moved.
const TIMER_GRAIN: Duration = Duration::from_millis(1);

/// How a device links to the hub: its broker, and its media downloads.
#[derive(Clone, Debug)]
pub struct LinkOptions {
    /// MQTT keep-alive (real time, at least one second).
    pub keep_alive: Duration,
    /// How often a connected device reports its [`Status`] (real time).
    pub heartbeat: Duration,
    /// Firmware name announced in [`Message::Hello`].
    pub firmware: String,
    /// Reports kept while the link is down; the oldest go first.
    pub max_pending: usize,
    /// First reconnect delay; it doubles on every failed attempt.
    pub backoff_min: Duration,
    /// Longest reconnect delay.
    pub backoff_max: Duration,
    /// How long a TCP connect plus MQTT handshake may take.
    pub connect_timeout: Duration,
    /// How it fetches and keeps media; devices started with clones of the
    /// same options share their download slots.
    pub media: MediaOptions,
}

impl Default for LinkOptions {
    fn default() -> Self {
        Self {
            keep_alive: Duration::from_secs(30),
            heartbeat: Duration::from_secs(30),
            firmware: concat!("firmware-sim/", env!("CARGO_PKG_VERSION")).to_string(),
            max_pending: 1000,
            backoff_min: Duration::from_millis(500),
            backoff_max: Duration::from_secs(30),
            connect_timeout: Duration::from_secs(10),
            media: MediaOptions::default(),
        }
    }
}

/// Why a device could not be set up from its provisioning.
#[derive(Debug, thiserror::Error)]
pub enum SetupError {
    /// The provisioned hub key does not decode.
    #[error("the hub public key is not a valid Ed25519 key")]
    HubKey,
    /// A device's uplink key does not decode.
    #[error("device {0}: the uplink key is not 32 bytes of base64")]
    UplinkKey(String),
    /// The broker address is not usable.
    #[error(transparent)]
    Broker(#[from] crate::broker::BrokerAddrError),
    /// The provisioned media CA (`media_ca`) is not usable.
    #[error("the provisioning file's {0}")]
    MediaCa(#[from] MediaTrustError),
}

/// What one device needs to run: who it is and the keys it holds.
pub struct DeviceConfig {
    /// Device id, also its MQTT client id and user name.
    pub id: String,
    /// Area code of its commune, which names its topics.
    pub commune: String,
    /// Also names the downlink topic it listens to.
    pub kind: Kind,
    /// Broker password.
    pub mqtt_password: String,
    /// Seals its reports.
    pub uplink_key: UplinkKey,
    /// Checks commands; holds the last accepted sequence number.
    pub guard: CommandGuard,
    /// Checks live chunks (loudspeakers).
    pub live: LiveListener,
    /// Whom it trusts to serve `https://` media: the provisioned CA
    /// ([`MediaTrust::of`]); none, and it fetches only `http://` media.
    pub media_trust: Option<MediaTrust>,
}

impl DeviceConfig {
    /// A device as provisioned, trusting the hub key `hub_public_key`
    /// (base64, as in [`hub_proto::Provisioning`]), with no command accepted yet.
    pub fn from_credentials(
        credentials: &DeviceCredentials,
        hub_public_key: &str,
    ) -> Result<Self, SetupError> {
        let hub_key = decode_public_key(hub_public_key).map_err(|_| SetupError::HubKey)?;
        let uplink_key = UplinkKey::from_text(&credentials.uplink_key)
            .map_err(|_| SetupError::UplinkKey(credentials.id.clone()))?;
        Ok(Self {
            id: credentials.id.clone(),
            commune: credentials.commune.clone(),
            kind: credentials.kind,
            mqtt_password: credentials.mqtt_password.clone(),
            uplink_key,
            guard: CommandGuard::new(credentials.id.clone(), hub_key, 0),
            live: LiveListener::new(LiveGuard::new(hub_key)),
            media_trust: None,
        })
    }

    /// A device as provisioned by the file `provisioning` (its hub key and
    /// media CA), with the credentials of the device `credentials`.
    pub fn from_provisioning(
        credentials: &DeviceCredentials,
        provisioning: &Provisioning,
    ) -> Result<Self, SetupError> {
        let mut config = Self::from_credentials(credentials, &provisioning.hub_public_key)?;
        config.media_trust = MediaTrust::of(provisioning)?;
        Ok(config)
    }

    /// What the device announces it can render.
    fn capabilities(&self) -> Vec<String> {
        let part = match self.kind {
            Kind::LedBoard => "visual",
            Kind::Loudspeaker => "audio",
        };
        vec![part.to_string()]
    }
}

/// What a device has done with its commands and its link.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Counters {
    /// Commands accepted and acknowledged.
    pub accepted: u64,
    /// Commands refused and reported, by [`hub_proto::Refusal::code`].
    pub refused: BTreeMap<&'static str, u64>,
    /// Redeliveries of the last accepted command, ignored without a report.
    pub duplicates: u64,
    /// Connections made (ConnAck received).
    pub connects: u64,
    /// Sessions opened: Hellos the broker acknowledged.
    pub sessions: u64,
    /// Reports dropped because the queue was full while the link was down.
    pub dropped_reports: u64,
    /// What its media downloads did.
    pub media: MediaCounters,
    /// What it did with live chunks.
    pub live: LiveCounters,
}

/// State the device task shares with its handle.
struct Shared {
    state: Mutex<State>,
    connected: AtomicBool,
    /// Sessions opened so far, for waiters.
    sessions: watch::Sender<u64>,
    /// The device's media storage, which survives power losses.
    storage: Storage,
    /// The device's network is down until then (link-down, power-loss).
    offline: watch::Sender<Instant>,
}

struct State {
    player: Player,
    /// What earlier power cycles played: a power loss takes the player's
    /// state, not what was heard from the loudspeaker.
    history: Vec<Played>,
    counters: Counters,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, State> {
        // A panic elsewhere cannot leave the state half-written in a way that
        // matters to a simulator; keep serving it.
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// The state, its player told which media files storage holds now (and
    /// which it may play from their verified beginning), how long their
    /// audio lasts, which were found unplayable and which it stopped
    /// downloading.
    fn lock_synced(&self) -> MutexGuard<'_, State> {
        let (held, streaming, durations, undecodable, given_up) = {
            let media = self.storage.lock();
            (
                media.cache.hashes(),
                media.streaming.keys().cloned().collect::<Vec<_>>(),
                media.durations.clone(),
                media.undecodable.clone(),
                media.given_up.clone(),
            )
        };
        let mut state = self.lock();
        state.player.hold_media(held);
        state.player.stream_media(streaming);
        state.player.know_media(durations, undecodable);
        state.player.give_up_media(given_up);
        state
    }

    /// The device's health: the player's, with what is wrong with its media.
    fn status(&self) -> Status {
        let (mut status, needed) = {
            let state = self.lock();
            (state.player.status(), state.player.media_needed())
        };
        status
            .faults
            .extend(self.storage.faults(&needed, Instant::now()));
        status
    }
}

enum Control {
    /// Close the TCP connection without DISCONNECT, then reconnect.
    DropLink,
    /// Close it the same way and stay down this long.
    LinkDown(Duration),
    /// Hold every report this long before sending it, until then.
    SlowLink { delay: Duration, until: Instant },
    /// Lose power (and what is not stored) for this long.
    PowerLoss(Duration),
    /// Move the device clock by this much.
    ClockSkew(TimeDelta),
    /// Disconnect cleanly and end the task.
    Stop,
}

/// The running device: read its state, drop its link, stop it.
pub struct DeviceHandle {
    id: String,
    shared: Arc<Shared>,
    control: mpsc::Sender<Control>,
    task: JoinHandle<()>,
    media_task: JoinHandle<()>,
}

impl DeviceHandle {
    /// Starts the device on the current tokio runtime (panics outside
    /// one); it connects at once.
    pub fn spawn(
        device: DeviceConfig,
        broker: &BrokerAddr,
        clock: Clock,
        options: &LinkOptions,
    ) -> Self {
        Self::spawn_after(device, broker, clock, options, Duration::ZERO)
    }

    /// Starts the device now; it first connects after `delay` (real time),
    /// which paces the connections of a fleet.
    pub fn spawn_after(
        device: DeviceConfig,
        broker: &BrokerAddr,
        clock: Clock,
        options: &LinkOptions,
        delay: Duration,
    ) -> Self {
        let shared = Arc::new(Shared {
            state: Mutex::new(State {
                player: Player::new(),
                history: Vec::new(),
                counters: Counters::default(),
            }),
            connected: AtomicBool::new(false),
            sessions: watch::Sender::new(0),
            storage: Storage::new(options.media.capacity),
            offline: watch::Sender::new(Instant::now()),
        });
        let (control, control_rx) = mpsc::channel(4);
        let id = device.id.clone();
        let (wants, wants_rx) = watch::channel(Wants::new());
        let fetcher = Fetcher::new(
            &device,
            options.media.clone(),
            shared.storage.clone(),
            wants_rx,
            shared.offline.subscribe(),
        );
        let media_task = tokio::spawn(fetcher.run());
        let (link, eventloop) = Link::new(device, broker, clock, options, shared.clone(), wants);
        let task = tokio::spawn(link.run(eventloop, control_rx, delay));
        Self {
            id,
            shared,
            control,
            task,
            media_task,
        }
    }

    /// The device id.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// Everything the device has started, in start order, across power
    /// losses (an airing cut by one ends [`Outcome::Failed`]).
    pub fn timeline(&self) -> Vec<Played> {
        let state = self.shared.lock();
        state
            .history
            .iter()
            .chain(state.player.timeline())
            .cloned()
            .collect()
    }

    /// The device's health, as its next heartbeat would report it.
    pub fn status(&self) -> Status {
        self.shared.status()
    }

    /// SHA-256 of the media files the device holds.
    pub fn cached_media(&self) -> Vec<String> {
        self.shared.storage.lock().cache.hashes()
    }

    /// The contents of the media file with this SHA-256, if the device holds it.
    pub fn media_file(&self, sha256: &str) -> Option<Arc<[u8]>> {
        self.shared.storage.lock().cache.file(sha256)
    }

    /// What an LED board shows at `now`: a display text, or the visual
    /// airing's words and, for a video it has checked, where in the video
    /// it is and the subtitle showing (from the entry's SRT file if it has
    /// one, else the video's track); `None` for a blank board.
    pub fn showing(&self, now: DateTime<Utc>) -> Option<crate::Showing> {
        let showing = self.shared.lock().player.showing(now)?;
        let (video, srt) = {
            let media = self.shared.storage.lock();
            let video = showing.media.as_ref().and_then(|f| media.videos.get(f));
            let srt = showing
                .subtitles
                .as_ref()
                .and_then(|f| media.subtitles.get(f));
            (video.cloned(), srt.cloned())
        };
        Some(match (video, srt) {
            // An SRT file beside the video replaces its own subtitle track.
            (Some(video), Some(cues)) => {
                let video = crate::media::video::BoardVideo {
                    cues: cues.to_vec(),
                    ..(*video).clone()
                };
                showing.with_video(&video, now)
            }
            (Some(video), None) => showing.with_video(&video, now),
            (None, _) => showing,
        })
    }

    /// What the device has done so far.
    pub fn counters(&self) -> Counters {
        let media = self.shared.storage.lock().counters.clone();
        Counters {
            media,
            ..self.shared.lock().counters.clone()
        }
    }

    /// Whether the device holds an MQTT connection now.
    pub fn is_connected(&self) -> bool {
        self.shared.connected.load(Ordering::Relaxed)
    }

    /// Waits until the device has connected and the broker took its first Hello.
    pub async fn wait_ready(&self) {
        self.wait_sessions(1).await;
    }

    /// Waits until `n` sessions have opened (their Hellos acknowledged).
    pub async fn wait_sessions(&self, n: u64) {
        let mut sessions = self.shared.sessions.subscribe();
        // The sender lives as long as `self`, so this only returns once reached.
        let _ = sessions.wait_for(|opened| *opened >= n).await;
    }

    /// Closes the TCP connection abruptly, without DISCONNECT, so the broker
    /// publishes the Last Will; the device then reconnects as usual.
    pub fn drop_link(&self) {
        if self.control.try_send(Control::DropLink).is_err() {
            debug!(device = %self.id, "link drop already pending");
        }
    }

    /// Injects `fault` now (see [`crate::faults`]).
    pub async fn inject(&self, fault: Fault) {
        info!(device = %self.id, %fault, "fault injected");
        let control = match fault {
            Fault::LinkDown { down } => Control::LinkDown(down),
            Fault::Flapping { up, down, cycles } => {
                let control = self.control.clone();
                tokio::spawn(async move {
                    for _ in 0..cycles {
                        sleep(up).await;
                        if control.send(Control::LinkDown(down)).await.is_err() {
                            return;
                        }
                        sleep(down).await;
                    }
                });
                return;
            }
            Fault::SlowLink { delay, lasting } => Control::SlowLink {
                delay,
                until: Instant::now() + lasting,
            },
            Fault::PowerLoss { off } => Control::PowerLoss(off),
            Fault::ClockSkew { by } => Control::ClockSkew(by),
            // Storage faults need nothing from the link task.
            Fault::CorruptMedia { downloads } => {
                self.shared.storage.lock().corrupt_next(downloads);
                return;
            }
            Fault::FullStorage { lasting } => {
                let until = Instant::now() + lasting;
                self.shared.storage.lock().cache.fill_until(until);
                return;
            }
        };
        if self.control.send(control).await.is_err() {
            debug!(device = %self.id, "device already stopped");
        }
    }

    /// Disconnects cleanly (the broker discards the Last Will) and ends the device.
    pub async fn stop(self) {
        self.request_stop();
        self.join().await;
    }

    /// Tells the device to stop without waiting for it.
    pub(crate) fn request_stop(&self) {
        // With the queue full the device is busy; dropping the handle's
        // sender in `join` stops it as well.
        let _ = self.control.try_send(Control::Stop);
    }

    /// Waits for the device task to end after [`DeviceHandle::request_stop`].
    pub(crate) async fn join(self) {
        drop(self.control);
        if let Err(error) = self.task.await {
            warn!(device = %self.id, %error, "device task failed");
        }
        // The link task's end closed the fetcher's list.
        if let Err(error) = self.media_task.await {
            warn!(device = %self.id, %error, "media task failed");
        }
    }
}

/// A report waiting to be sealed into a session.
struct Pending {
    at: DateTime<Utc>,
    message: Message,
    /// When it was queued (real time), for a slow link.
    queued: Instant,
    /// Held until then: a report of a command the hub asked to spread.
    not_before: Option<Instant>,
}

enum Step {
    Event(Result<Event, rumqttc::ConnectionError>),
    /// The link drops; the device reconnects after this long.
    LinkDown(Duration),
    PowerLoss(Duration),
    Stop,
}

/// The device task's own state.
struct Link {
    id: String,
    uplink_topic: String,
    downlink_topic: String,
    key: UplinkKey,
    guard: CommandGuard,
    live: LiveListener,
    capabilities: Vec<String>,
    clock: Clock,
    options: LinkOptions,
    shared: Arc<Shared>,
    /// The files the plan still needs, for the fetcher.
    wants: watch::Sender<Wants>,
    client: AsyncClient,
    session: u64,
    seq: u64,
    /// Subscribed and Hello queued: reports may flow.
    ready: bool,
    last_hello: Option<DateTime<Utc>>,
    /// Consecutive failed connection attempts.
    attempts: u32,
    queue: VecDeque<Pending>,
    /// A slow link: reports wait this long before they go, until then.
    slow: Option<(Duration, Instant)>,
    /// Reports handed to the client, not yet written to the socket.
    handed: VecDeque<Vec<Pending>>,
    /// Reports written with this packet id, not yet acknowledged.
    inflight: VecDeque<(u16, Vec<Pending>)>,
}

impl Link {
    fn new(
        device: DeviceConfig,
        broker: &BrokerAddr,
        clock: Clock,
        options: &LinkOptions,
        shared: Arc<Shared>,
        wants: watch::Sender<Wants>,
    ) -> (Self, EventLoop) {
        let mut mqtt = MqttOptions::new(device.id.clone(), broker.host.clone(), broker.port);
        mqtt.set_credentials(device.id.clone(), device.mqtt_password.clone())
            .set_clean_session(true)
            .set_keep_alive(options.keep_alive.max(Duration::from_secs(1)))
            // Room for a command a little over the limit, so the guard
            // refuses it instead of the client dropping the connection.
            .set_max_packet_size(MAX_COMMAND_BYTES + 64 * 1024, MAX_REPORT_BYTES + 1024)
            .set_inflight(WINDOW as u16);
        // The requests in flight at most: the window, a subscribe, a disconnect.
        let (client, mut eventloop) = AsyncClient::new(mqtt, WINDOW + 2);
        eventloop
            .network_options
            .set_connection_timeout(options.connect_timeout.as_secs().max(1));
        let capabilities = device.capabilities();
        let mut link = Self {
            uplink_topic: topic::uplink(&device.commune),
            downlink_topic: topic::downlink(&device.commune, device.kind),
            id: device.id,
            key: device.uplink_key,
            guard: device.guard,
            live: device.live,
            capabilities,
            clock,
            options: options.clone(),
            shared,
            wants,
            client,
            session: 0,
            seq: 0,
            ready: false,
            last_hello: None,
            attempts: 0,
            queue: VecDeque::new(),
            slow: None,
            handed: VecDeque::new(),
            inflight: VecDeque::new(),
        };
        link.new_session(&mut eventloop);
        (link, eventloop)
    }

    async fn run(
        mut self,
        mut eventloop: EventLoop,
        mut control: mpsc::Receiver<Control>,
        first_delay: Duration,
    ) {
        let period = self.options.heartbeat.max(Duration::from_millis(1));
        // Spread heartbeats over the period so a fleet does not beat in step.
        let offset = period.mul_f64(rand::thread_rng().gen_range(0.5..1.5));
        let mut heartbeat = tokio::time::interval_at(Instant::now() + offset, period);
        heartbeat.set_missed_tick_behavior(MissedTickBehavior::Delay);
        let mut delay = Some(first_delay).filter(|d| !d.is_zero());
        // The player's timer and the slow link's are moved at every turn,
        // not made anew: a timer registered and dropped per MQTT event is a
        // noticeable share of the work of thousands of devices in one process.
        let player_timer = sleep_until(self.wakeup());
        let release_timer = sleep_until(Instant::now());
        tokio::pin!(player_timer, release_timer);
        let media_changed = self.shared.storage.changed.clone();
        loop {
            let step = {
                let wait = delay.take();
                let poll = async {
                    if let Some(wait) = wait {
                        sleep(wait).await;
                    }
                    eventloop.poll().await
                };
                tokio::pin!(poll);
                loop {
                    // A timer is moved only when it must fire sooner (or
                    // has fired): moving it later costs a turn of the timer
                    // wheel per event, while firing early costs a look at a
                    // player with nothing due, after which it is set again.
                    let wakeup = self.wakeup();
                    if wakeup + TIMER_GRAIN < player_timer.deadline() || player_timer.is_elapsed() {
                        player_timer.as_mut().reset(wakeup);
                    }
                    let release = self.release_at();
                    if let Some(at) = release.filter(|at| *at != release_timer.deadline()) {
                        release_timer.as_mut().reset(at);
                    }
                    tokio::select! {
                        event = &mut poll => break Step::Event(event),
                        () = &mut player_timer => self.advance(),
                        // A file (or its verified beginning) arrived or was
                        // given up: an entry waiting for it goes on at once.
                        () = media_changed.notified() => self.advance(),
                        () = &mut release_timer, if release.is_some() => self.pump(),
                        _ = heartbeat.tick() => self.heartbeat(),
                        control = control.recv() => match control {
                            Some(Control::DropLink) => {
                                break Step::LinkDown(self.options.backoff_min);
                            }
                            Some(Control::LinkDown(down)) => break Step::LinkDown(down),
                            Some(Control::PowerLoss(off)) => break Step::PowerLoss(off),
                            Some(Control::SlowLink { delay, until }) => {
                                self.slow = Some((delay, until));
                            }
                            Some(Control::ClockSkew(by)) => self.clock = self.clock.skewed(by),
                            Some(Control::Stop) | None => break Step::Stop,
                        },
                    }
                }
            };
            match step {
                Step::Event(Ok(event)) => self.on_event(event),
                Step::Event(Err(error)) => {
                    if let rumqttc::ConnectionError::ConnectionRefused(code) = &error {
                        warn!(device = %self.id, ?code, "broker refused the connection");
                    } else if self.is_connected() {
                        info!(device = %self.id, %error, "link lost");
                    } else {
                        debug!(device = %self.id, %error, "connection attempt failed");
                    }
                    self.on_link_down(&mut eventloop);
                    delay = Some(self.backoff());
                }
                Step::LinkDown(down) => {
                    // Drops the socket without DISCONNECT: the broker
                    // publishes the Last Will.
                    self.shared.offline.send_replace(Instant::now() + down);
                    eventloop.clean();
                    self.on_link_down(&mut eventloop);
                    delay = Some(down);
                }
                Step::PowerLoss(off) => {
                    self.shared.offline.send_replace(Instant::now() + off);
                    eventloop.clean();
                    self.power_off(&mut eventloop);
                    delay = Some(off);
                }
                Step::Stop => {
                    self.shutdown(&mut eventloop).await;
                    return;
                }
            }
        }
    }

    fn is_connected(&self) -> bool {
        self.shared.connected.load(Ordering::Relaxed)
    }

    /// When the player next needs to run, as a real instant.
    fn wakeup(&self) -> Instant {
        let (next, awaiting) = {
            let state = self.shared.lock();
            (state.player.next_wakeup(), state.player.awaiting_media())
        };
        let mut wait = next.map_or(Duration::from_secs(24 * 3600), |at| {
            self.clock.real_until(at)
        });
        if awaiting {
            // A due entry waits for its download: look again soon.
            wait = wait.min(MEDIA_POLL);
        }
        Instant::now() + wait
    }

    fn advance(&mut self) {
        let now = self.clock.now();
        let messages = self.shared.lock_synced().player.advance(now);
        self.enqueue(now, messages);
    }

    fn heartbeat(&mut self) {
        if self.ready {
            let status = self.shared.status();
            self.enqueue(self.clock.now(), [Message::Status(status)]);
        }
    }

    fn on_event(&mut self, event: Event) {
        match event {
            Event::Incoming(Packet::ConnAck(_)) => {
                self.shared.connected.store(true, Ordering::Relaxed);
                self.shared.lock().counters.connects += 1;
                self.attempts = 0;
                debug!(device = %self.id, session = self.session, "connected");
                // At most once: the hub resends what a dropped connection
                // lost, and a QoS 1 subscription would only add a PUBACK per
                // command for the broker to read (docs/protocol.md).
                if let Err(error) = self
                    .client
                    .try_subscribe(self.downlink_topic.clone(), QoS::AtMostOnce)
                {
                    warn!(device = %self.id, %error, "could not subscribe");
                }
            }
            Event::Incoming(Packet::SubAck(ack)) => {
                let granted = ack
                    .return_codes
                    .iter()
                    .all(|code| matches!(code, rumqttc::SubscribeReasonCode::Success(_)));
                if !granted {
                    warn!(device = %self.id, topic = %self.downlink_topic, "subscription refused");
                }
                if !self.ready {
                    self.say_hello();
                }
            }
            Event::Incoming(Packet::Publish(publish)) if publish.topic == self.downlink_topic => {
                self.on_command(&publish.payload);
            }
            Event::Incoming(Packet::PubAck(ack)) => {
                if let Some(index) = self.inflight.iter().position(|(id, _)| *id == ack.pkid) {
                    if let Some((_, report)) = self.inflight.remove(index) {
                        if report
                            .iter()
                            .any(|p| matches!(p.message, Message::Hello { .. }))
                        {
                            self.shared.lock().counters.sessions += 1;
                            self.shared.sessions.send_modify(|opened| *opened += 1);
                        }
                    }
                }
                self.pump();
            }
            Event::Outgoing(Outgoing::Publish(pkid)) => {
                if let Some(report) = self.handed.pop_front() {
                    self.inflight.push_back((pkid, report));
                }
            }
            _ => {}
        }
    }

    /// Opens the session: Hello first, the day's proof of play restated,
    /// then whatever waited.
    fn say_hello(&mut self) {
        let now = self.clock.now();
        let at = match self.last_hello {
            Some(last) => now.max(last + TimeDelta::milliseconds(1)),
            None => now,
        };
        self.last_hello = Some(at);
        let hello = Message::Hello {
            firmware: self.options.firmware.clone(),
            capabilities: self.capabilities.clone(),
            last_seq: self.guard.last_seq(),
            cached_media: self.shared.storage.lock().cache.hashes(),
        };
        self.queue.push_front(Pending {
            at,
            message: hello,
            queued: Instant::now(),
            not_before: None,
        });
        // Then the day's proof of play again: whatever the hub lost (it
        // may have restarted after a crash) it hears once more.
        let restated = self
            .shared
            .lock()
            .player
            .proof_of_play(now - TimeDelta::hours(24));
        for (i, (at, message)) in restated.into_iter().enumerate() {
            let pending = Pending {
                at,
                message,
                queued: Instant::now(),
                not_before: None,
            };
            self.queue.insert(1 + i, pending);
        }
        self.ready = true;
        self.pump();
    }

    /// A live chunk: taken if it is the hub's and of the stream the
    /// player airs (`crate::live`); what it starts or ends is reported.
    fn on_live_chunk(&mut self, payload: &[u8]) {
        let now = self.clock.now();
        let messages = {
            let mut state = self.shared.lock_synced();
            let State {
                player, counters, ..
            } = &mut *state;
            self.live
                .take(&self.id, payload, player, &mut counters.live, now)
        };
        self.enqueue(now, messages);
    }

    fn on_command(&mut self, payload: &[u8]) {
        if hub_proto::live::is_chunk(payload) {
            return self.on_live_chunk(payload);
        }
        let now = self.clock.now();
        match self.guard.check(payload, now) {
            Ok(None) => {}
            Ok(Some(command)) if command.directive == Directive::Resync => {
                self.shared.lock().counters.accepted += 1;
                debug!(device = %self.id, seq = command.seq, "the hub asks for a hello");
                self.enqueue(now, [Message::Ack { seq: command.seq }]);
                self.say_hello();
            }
            Ok(Some(command)) => {
                // An emergency's inline first part is playable before the
                // player looks at storage.
                let directive = self.shared.storage.take_heads(
                    &command.directive,
                    &self.options.media.contents,
                    self.options.media.check_audio,
                );
                let (messages, needed) = {
                    let mut state = self.shared.lock_synced();
                    state.counters.accepted += 1;
                    let messages = state.player.apply(directive, now);
                    (messages, state.player.media_needed())
                };
                // Every accepted command, even an unchanged plan, gives
                // files given up on another try.
                self.wants.send_replace(needed);
                debug!(device = %self.id, seq = command.seq, "command accepted");
                // The ack and what the command started go out together, when
                // the hub asked for reports to be spread at a random moment
                // within that spread.
                let ack = Message::Ack { seq: command.seq };
                let not_before = command.report_spread_ms.map(|ms| {
                    let spread = Duration::from_millis(u64::from(ms));
                    Instant::now() + spread.mul_f64(rand::thread_rng().gen_range(0.5..=1.0))
                });
                self.enqueue_held(now, std::iter::once(ack).chain(messages), not_before);
            }
            Err(Refusal::Replayed { seq, last }) if seq == last => {
                self.shared.lock().counters.duplicates += 1;
                debug!(device = %self.id, seq, "duplicate command ignored");
            }
            Err(refusal) => {
                let kind = refusal.code();
                *self.shared.lock().counters.refused.entry(kind).or_default() += 1;
                let claim = Claim::read(payload, &self.id);
                // Signature, replay and expiry are checked only for commands
                // addressed to this device; a payload unreadable before that
                // is reported only if it names the device, so one bad publish
                // does not make a whole commune answer.
                let addressed = matches!(
                    refusal,
                    Refusal::BadSignature | Refusal::Replayed { .. } | Refusal::Expired { .. }
                ) || claim.to_me;
                if addressed {
                    warn!(device = %self.id, reason = %refusal, "command refused");
                    let refused = Message::Refused {
                        seq: claim.seq,
                        code: refusal.code().to_string(),
                        reason: refusal.to_string(),
                    };
                    self.enqueue(now, [refused]);
                } else {
                    debug!(device = %self.id, reason = %refusal, "unreadable downlink payload ignored");
                }
            }
        }
    }

    fn enqueue(&mut self, at: DateTime<Utc>, messages: impl IntoIterator<Item = Message>) {
        self.enqueue_held(at, messages, None);
    }

    /// Queues `messages`, none to be sent before `not_before`; what is
    /// queued after them waits behind them, so reports keep their order.
    fn enqueue_held(
        &mut self,
        at: DateTime<Utc>,
        messages: impl IntoIterator<Item = Message>,
        not_before: Option<Instant>,
    ) {
        for message in messages {
            self.queue.push_back(Pending {
                at,
                message,
                queued: Instant::now(),
                not_before,
            });
        }
        self.trim();
        self.pump();
    }

    /// Keeps at most `max_pending` reports waiting, dropping the oldest.
    fn trim(&mut self) {
        let excess = self.queue.len().saturating_sub(self.options.max_pending);
        if excess > 0 {
            self.queue.drain(..excess);
            self.shared.lock().counters.dropped_reports += excess as u64;
            debug!(device = %self.id, excess, "report queue full, oldest dropped");
        }
    }

    /// Seals waiting messages into reports of the session and hands them to
    /// the client, keeping at most [`WINDOW`] reports unacknowledged.
    fn pump(&mut self) {
        let held_since = match self.slow {
            Some((delay, until)) if Instant::now() < until => Instant::now().checked_sub(delay),
            _ => None,
        };
        while self.ready && self.handed.len() + self.inflight.len() < WINDOW {
            if let Some(next) = self.queue.front() {
                let slowed = held_since.is_some_and(|cutoff| next.queued > cutoff);
                let held = next.not_before.is_some_and(|due| due > Instant::now());
                if slowed || held {
                    break;
                }
            }
            let batch = self.next_report();
            let Some(first) = batch.first() else {
                break;
            };
            let report = Report::batch(
                self.id.clone(),
                self.session,
                self.seq + 1,
                first.at,
                batch.iter().map(|p| p.message.clone()).collect(),
            );
            let sealed = report.seal(&self.key);
            match self.client.try_publish(
                self.uplink_topic.clone(),
                QoS::AtLeastOnce,
                false,
                sealed,
            ) {
                Ok(()) => {
                    self.seq += 1;
                    self.handed.push_back(batch);
                }
                Err(error) => {
                    debug!(device = %self.id, %error, "client busy, report kept");
                    for pending in batch.into_iter().rev() {
                        self.queue.push_front(pending);
                    }
                    break;
                }
            }
        }
    }

    /// Takes the next report's messages off the queue: a hello alone, or
    /// the messages that arose at the same time as the first, up to
    /// [`MAX_MESSAGES`].
    fn next_report(&mut self) -> Vec<Pending> {
        let Some(first) = self.queue.pop_front() else {
            return Vec::new();
        };
        let alone = |p: &Pending| matches!(p.message, Message::Hello { .. });
        let mut batch = vec![first];
        while !alone(&batch[0]) && batch.len() < MAX_MESSAGES {
            match self.queue.front() {
                Some(next) if next.at == batch[0].at && !alone(next) => {
                    batch.extend(self.queue.pop_front());
                }
                _ => break,
            }
        }
        batch
    }

    /// When the oldest report, held back by a slow link or a spread the hub
    /// asked for, may go, if one is held.
    fn release_at(&self) -> Option<Instant> {
        let first = self.queue.front().filter(|_| self.ready)?;
        let now = Instant::now();
        let slowed = self
            .slow
            .filter(|(_, until)| now < *until)
            .map(|(delay, _)| first.queued + delay);
        let held = first.not_before.filter(|due| *due > now);
        slowed.into_iter().chain(held).max()
    }

    /// The power went: the player and everything not stored are lost. What
    /// was playing ends as failed; the sequence number of the last command
    /// (which a device stores) and the media cache stay.
    fn power_off(&mut self, eventloop: &mut EventLoop) {
        let now = self.clock.now();
        {
            let mut state = self.shared.lock();
            let mut timeline = state.player.timeline().to_vec();
            if let Some(cut) = timeline
                .last_mut()
                .filter(|p| p.outcome == Outcome::Started)
            {
                cut.end = now;
                cut.outcome = Outcome::Failed;
                cut.reason = Some(FailureReason::PowerLoss);
            }
            state.history.extend(timeline);
            state.player = Player::new();
        }
        // The plan is gone, so is the need for its files.
        self.wants.send_replace(Wants::new());
        info!(device = %self.id, "power lost");
        self.shared.connected.store(false, Ordering::Relaxed);
        self.ready = false;
        self.slow = None;
        self.queue.clear();
        self.handed.clear();
        self.inflight.clear();
        eventloop.pending.clear();
        self.new_session(eventloop);
    }

    /// The connection is gone: keep what the broker did not take, and get a
    /// new session (and its Last Will) ready for the next connection.
    fn on_link_down(&mut self, eventloop: &mut EventLoop) {
        self.shared.connected.store(false, Ordering::Relaxed);
        self.ready = false;
        // The client's own copies are sealed into the dead session.
        eventloop.pending.clear();
        let unsent: Vec<Pending> = self
            .inflight
            .drain(..)
            .map(|(_, report)| report)
            .chain(self.handed.drain(..))
            .flatten()
            .filter(|p| !matches!(p.message, Message::Hello { .. } | Message::Status(_)))
            .collect();
        for pending in unsent.into_iter().rev() {
            self.queue.push_front(pending);
        }
        self.trim();
        self.new_session(eventloop);
    }

    fn new_session(&mut self, eventloop: &mut EventLoop) {
        self.session = rand::thread_rng().gen();
        self.seq = 0;
        let will = Report::new(
            self.id.clone(),
            self.session,
            WILL_SEQ,
            self.clock.now(),
            Message::Offline,
        )
        .seal(&self.key);
        eventloop.mqtt_options.set_last_will(LastWill::new(
            self.uplink_topic.clone(),
            will,
            QoS::AtLeastOnce,
            false,
        ));
    }

    /// The delay before the next connection attempt: exponential, capped,
    /// with jitter so a fleet does not reconnect in step.
    fn backoff(&mut self) -> Duration {
        let exponent = self.attempts.min(16);
        self.attempts = self.attempts.saturating_add(1);
        let ceiling = self
            .options
            .backoff_min
            .saturating_mul(1 << exponent)
            .min(self.options.backoff_max);
        ceiling.mul_f64(rand::thread_rng().gen_range(0.5..=1.0))
    }

    /// Disconnects cleanly if connected, giving the broker a moment to read it.
    async fn shutdown(&mut self, eventloop: &mut EventLoop) {
        if self.is_connected() && self.client.try_disconnect().is_ok() {
            let flushed = tokio::time::timeout(Duration::from_secs(1), async {
                loop {
                    match eventloop.poll().await {
                        Ok(Event::Outgoing(Outgoing::Disconnect)) | Err(_) => break,
                        Ok(_) => {}
                    }
                }
            });
            if flushed.await.is_err() {
                debug!(device = %self.id, "disconnect not flushed in time");
            }
        }
        self.shared.connected.store(false, Ordering::Relaxed);
    }
}

/// What a refused payload claims about itself, as far as it can be read.
#[derive(Debug, Default, PartialEq, Eq)]
struct Claim {
    seq: Option<u64>,
    /// Its `to` names the device.
    to_me: bool,
}

impl Claim {
    fn read(payload: &[u8], device: &str) -> Self {
        if payload.len() > MAX_COMMAND_BYTES {
            return Self::default();
        }
        let Ok(value) = serde_json::from_slice::<serde_json::Value>(payload) else {
            return Self::default();
        };
        let body = value.get("body");
        let to_me = body
            .and_then(|b| b.get("to"))
            .and_then(|to| to.as_array())
            .is_some_and(|to| to.iter().any(|id| id.as_str() == Some(device)));
        Self {
            seq: body.and_then(|b| b.get("seq")).and_then(|seq| seq.as_u64()),
            to_me,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_refused_payload_is_read_as_far_as_it_goes() {
        let read = |payload: &[u8]| Claim::read(payload, "d1");
        assert_eq!(
            read(br#"{"sig":"x","body":{"seq":12,"to":["d0","d1"]}}"#),
            Claim {
                seq: Some(12),
                to_me: true
            }
        );
        assert_eq!(
            read(br#"{"sig":"x","body":{"seq":"12","to":["d2"]}}"#),
            Claim::default()
        );
        assert_eq!(read(br#"{"body":{"to":"d1"}}"#), Claim::default());
        assert_eq!(read(b"not json"), Claim::default());
        assert_eq!(read(&vec![b' '; MAX_COMMAND_BYTES + 1]), Claim::default());
    }
}
