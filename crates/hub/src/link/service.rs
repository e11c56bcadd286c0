//! Starting the hub: the store, the broker link, the hub task.
//!
//! [`start`] opens the store and imports the province, seeds the programme
//! (ingesting new bulletins' audio on a blocking thread), creates the
//! signing identity and device secrets, starts the embedded broker (or
//! connects to an external one), the media server and the people's API,
//! and spawns the
//! [hub task](super::task) that owns the scheduler from then on. It returns
//! a [`HubHandle`].

use std::collections::{BTreeSet, HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use hub_access::{AccessStore, AuditLog, LoginThrottle, ThrottlePolicy};
use hub_core::{Delivery, DeliveryBook, Event, Scheduler};
use hub_proto::Clock;
use hub_store::{PresenceCause, Store, StoreError};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use super::broker::{self, Passwords};
use super::gate::{Gate, Known};
use super::handle::{HubClient, HubHandle, LinkStats};
use super::identity::{self, Identity};
use super::task::{presence, Effects, Hub};
use super::transport::{self, BrokerUrl};
use super::writer::{Changes, StoreWriter};
use crate::api::ApiContext;
use crate::backup_schedule::{self, BackupSettings};
use crate::config::LoadedConfig;
use crate::http_server::HttpServer;
use crate::media::check::check_media;
use crate::media::tls::{self as media_tls, MediaTlsError};
use crate::media::{MediaStore, MediaStoreError};
use crate::monitor::DeviceWatch;
use crate::seed::{self, SeedError};

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
    #[error("media store")]
    MediaStore(#[from] MediaStoreError),
    #[error("adding the configured bulletins")]
    Seed(#[from] SeedError),
    #[error("API server: cannot listen on {addr}")]
    ApiListen {
        addr: std::net::SocketAddr,
        source: std::io::Error,
    },
    #[error("media server over HTTPS (link.media_tls)")]
    MediaTls(#[from] MediaTlsError),
    #[error("media server: cannot listen on {addr}")]
    MediaListen {
        addr: std::net::SocketAddr,
        source: std::io::Error,
    },
    #[error("the hub has stopped")]
    Stopped,
    #[error("ending the live emergencies the last run left under way: {0}")]
    LiveEnd(String),
    #[error(
        "the hub could not confirm that the change was stored (it stopped, or its store \
         failed); look before repeating it"
    )]
    NotRecorded,
}

/// Checks the media files, then takes scheduled backups, beside the hub.
fn background_upkeep(
    data_dir: &Path,
    store: &Store,
    media_dir: PathBuf,
    backup: BackupSettings,
    cancel: CancellationToken,
) {
    let backups_dir = backup
        .dir
        .clone()
        .unwrap_or_else(|| data_dir.join("backups"));
    let store = store.clone();
    tokio::spawn(async move {
        let checked = {
            let (store, media_dir) = (store.clone(), media_dir.clone());
            tokio::task::spawn_blocking(move || check_media(&store, &media_dir)).await
        };
        match checked {
            Ok(Ok(check)) => tracing::info!(
                whole = check.whole,
                missing = check.missing.len(),
                damaged = check.damaged.len(),
                "media files checked"
            ),
            Ok(Err(error)) => tracing::error!(%error, "checking the media files failed"),
            Err(error) => tracing::error!(%error, "checking the media files failed"),
        }
        backup_schedule::run(store, media_dir, backups_dir, backup, cancel).await;
    });
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
    // Certificate files are checked before anything slow or lasting starts.
    let media_tls = config
        .link
        .media_tls
        .as_ref()
        .map(media_tls::server_config)
        .transpose()?;
    let media_ca = media_tls::provisioned_ca(config.link.media_tls.as_ref())?;
    let store = Store::open(&data_dir)?;
    store.import_province(&config.province)?;
    let media = MediaStore::open(&data_dir, store.clone())?;
    let media_dir = media.dir().to_owned();
    let (api_store, backup, health) = (store.clone(), config.backup.clone(), config.health);
    let (programme, audio, visuals, board) =
        (config.programme, config.audio, config.visuals, config.board);
    {
        let (store, media) = (store.clone(), media.clone());
        tokio::task::spawn_blocking(move || {
            let jobs = seed::MediaJobs {
                audio: &audio,
                visuals: &visuals,
                board,
            };
            seed::seed_programme(&store, &programme, &jobs, &media)
        })
        .await
        .map_err(|_| ServeError::Stopped)??;
    }
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
    // What started below stops again if a later step fails.
    let stop_on_error = cancel.clone().drop_guard();
    let settings = config.link.clone();
    let media_app = crate::media::server::router(media.clone(), passwords.clone());
    let media_server = match media_tls {
        None => {
            HttpServer::start(
                "media server",
                settings.media_listen,
                media_app,
                cancel.clone(),
            )
            .await
        }
        Some(tls) => {
            HttpServer::start_tls(
                "media server",
                settings.media_listen,
                media_app,
                tls,
                cancel.clone(),
            )
            .await
        }
    }
    .map_err(|source| ServeError::MediaListen {
        addr: settings.media_listen,
        source,
    })?;
    let media_base = settings.media_base_url(media_server.addr);
    let (transport, uplinks, mqtt_addr, mqtts_addr, broker_url) = match choice {
        BrokerChoice::Embedded => {
            let (tx, rx, listening) = broker::start(&settings, passwords.clone())?;
            let (transport, uplinks) = transport::embedded(tx, rx, cancel.clone())?;
            let url = settings.broker_url(listening.mqtt);
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
        identity::provisioning(&province, &secrets, broker_url, identity.public_key_text())
            .with_media_ca(media_ca);

    // Nobody is connected yet: nothing is assumed to play until devices say hello.
    for device in province.devices() {
        logs.entry(device.id.clone()).or_default().go_offline();
    }
    let (requests, inbox) = mpsc::channel(256);
    let client = HubClient { requests };
    let api_listen = config.api.listen;
    let api = ApiContext {
        settings: config.api,
        store: store.clone(),
        access: AccessStore::new(store.clone()),
        audit: AuditLog::new(store.clone()),
        media,
        hub: client.clone(),
        tree: Arc::new(province.tree.clone()),
        broker_url: provisioning.broker.clone(),
        hub_public_key: provisioning.hub_public_key.clone(),
        media_ca: provisioning.media_ca.clone(),
        board,
        clock,
        tz: province.tz,
        throttle: Mutex::new(LoginThrottle::new(ThrottlePolicy::default())),
        health,
        account_writes: tokio::sync::Mutex::new(()),
        live: crate::live::LiveStreams::default(),
    };
    let api = Arc::new(api);
    let api_server = HttpServer::start(
        "API server",
        api_listen,
        crate::api::server::router(api.clone()),
        cancel.clone(),
    )
    .await
    .map_err(|source| ServeError::ApiListen {
        addr: api_listen,
        source,
    })?;
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
        watch: DeviceWatch::new(clock.now()),
        stats: LinkStats::default(),
        writer,
        awaiting_sync: BTreeSet::new(),
        observer: delivery_events,
        resync_asked: HashMap::new(),
        media_base,
        passwords: passwords.clone(),
    };
    let now = hub.clock.now();
    // Presence starts over: a device the last run left online (it died
    // without saying) counts offline from now until it says hello. After
    // an orderly stop, or on a new store, none was left online.
    if hub.store.take_presence_left_open()? {
        let mut restarted = Changes::default();
        restarted.put_presence(
            hub.scheduler
                .province()
                .devices()
                .map(|device| presence(&device.id, now, PresenceCause::HubStarted))
                .collect(),
        );
        hub.writer.write(restarted);
    }
    // The first round plans every device.
    hub.round(now, vec![Event::Tick], Effects::default())
        .await?;

    let task = tokio::spawn(hub.run(uplinks, inbox, tick, cancel.clone()));
    // No stream survives a restart: the last run's live emergencies end as
    // soon as the hub task runs, while devices count offline until their hello.
    crate::live::end_interrupted(&api)
        .await
        .map_err(|error| ServeError::LiveEnd(error.body.message))?;
    background_upkeep(&data_dir, &api_store, media_dir, backup, cancel.clone());
    stop_on_error.disarm();
    Ok(HubHandle {
        mqtt_addr,
        mqtts_addr,
        media_addr: media_server.addr,
        media_server,
        api_addr: api_server.addr,
        api_server,
        provisioning,
        client,
        cancel,
        task,
    })
}
