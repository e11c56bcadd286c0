//! Running a hub with its device link, simulated devices, and a Mosquitto
//! broker for the tests of `tests/link.rs`.

use std::fs::Permissions;
use std::future::Future;
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use firmware_sim::link::{DeviceConfig, DeviceHandle, LinkOptions};
use hub::link::{self, BrokerChoice, HubHandle, ServeOptions};
use hub_proto::{Clock, DeviceCredentials};
use tempfile::TempDir;

use super::fixture;

/// Tests start their day here (local time)…
pub const ORIGIN: &str = "2026-11-23T10:00:00+07:00";
/// …and run it 60 times faster: a minute of audio plays in a second.
pub const SPEED: f64 = 60.0;

pub fn clock() -> Clock {
    let origin: DateTime<Utc> = ORIGIN.parse().expect("a valid instant");
    Clock::simulated(origin, SPEED)
}

/// A hub on the test province, its store in a temporary directory.
pub struct TestHub {
    pub handle: HubHandle,
    pub clock: Clock,
    pub _dir: TempDir,
}

pub async fn spawn_hub(broker: BrokerChoice) -> TestHub {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let clock = clock();
    let handle = spawn_hub_in(dir.path(), broker, clock).await;
    TestHub {
        handle,
        clock,
        _dir: dir,
    }
}

pub async fn spawn_hub_in(data: &Path, broker: BrokerChoice, clock: Clock) -> HubHandle {
    spawn_hub_on("link-province.toml", data, broker, clock).await
}

/// A hub on the province of fixture `province`, with `data` as its data directory.
pub async fn spawn_hub_on(
    province: &str,
    data: &Path,
    broker: BrokerChoice,
    clock: Clock,
) -> HubHandle {
    spawn_hub_with(&fixture(province), data, broker, clock).await
}

/// A hub on the province of the configuration file `config`, with `data`
/// as its data directory.
pub async fn spawn_hub_with(
    config: &Path,
    data: &Path,
    broker: BrokerChoice,
    clock: Clock,
) -> HubHandle {
    // `TEST_LOG=debug cargo test …` shows what hub and devices log.
    if let Ok(filter) = std::env::var("TEST_LOG") {
        let _ = tracing_subscriber::fmt()
            .with_env_filter(filter)
            .with_test_writer()
            .try_init();
    }
    let config = hub::config::load(config).expect("the configuration loads");
    link::start(ServeOptions {
        data_dir: data.to_path_buf(),
        config,
        broker,
        clock,
        tick: Duration::from_millis(50),
        delivery_events: None,
    })
    .await
    .expect("the hub starts")
}

impl TestHub {
    pub fn credentials(&self, device: &str) -> DeviceCredentials {
        self.handle
            .provisioning
            .devices
            .iter()
            .find(|d| d.id == device)
            .unwrap_or_else(|| panic!("{device} is provisioned"))
            .clone()
    }

    /// Starts simulated device `id` against `broker` (default: the hub's own),
    /// on `clock` (default: the hub's).
    pub fn device_on(&self, id: &str, broker: Option<&str>, clock: Option<Clock>) -> DeviceHandle {
        let provisioning = &self.handle.provisioning;
        let config = DeviceConfig::from_provisioning(&self.credentials(id), provisioning)
            .expect("valid credentials");
        let broker = broker
            .unwrap_or(&provisioning.broker)
            .parse()
            .expect("a plain MQTT broker");
        DeviceHandle::spawn(config, &broker, clock.unwrap_or(self.clock), &fast_link())
    }

    pub fn device(&self, id: &str) -> DeviceHandle {
        self.device_on(id, None, None)
    }
}

/// Device link options for tests: quick heartbeats and reconnects.
pub fn fast_link() -> LinkOptions {
    LinkOptions {
        heartbeat: Duration::from_millis(500),
        backoff_min: Duration::from_millis(50),
        backoff_max: Duration::from_millis(200),
        ..LinkOptions::default()
    }
}

/// Polls `check` until it holds, failing the test with `what` after `limit`.
pub async fn eventually<F, Fut>(what: &str, limit: Duration, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: Future<Output = bool>,
{
    let deadline = Instant::now() + limit;
    while !check().await {
        assert!(Instant::now() < deadline, "timed out waiting until {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// A free loopback port (for servers that cannot report the one they bound).
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

/// A Mosquitto broker on loopback with a password file, logging every
/// subscription; stopped on drop.
pub struct Mosquitto {
    child: Child,
    log: PathBuf,
    _dir: TempDir,
}

impl Mosquitto {
    /// Starts `mosquitto` (Debian package) on `port`, accepting only `users`.
    pub fn start(port: u16, users: &[(&str, &str)]) -> Self {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let passwords = dir.path().join("passwd");
        for (i, (user, pass)) in users.iter().enumerate() {
            let mut command = Command::new("mosquitto_passwd");
            if i == 0 {
                command.arg("-c");
            }
            let status = command
                .arg("-b")
                .arg(&passwords)
                .arg(user)
                .arg(pass)
                .status()
                .expect("mosquitto_passwd runs (apt-get install mosquitto)");
            assert!(status.success(), "mosquitto_passwd for {user}");
        }
        // Started as root, mosquitto drops to its own user before it opens
        // the log: it may pass through the directory and write that file.
        let log = dir.path().join("subscriptions.log");
        std::fs::write(&log, "").expect("creating the log");
        std::fs::set_permissions(&log, Permissions::from_mode(0o666)).expect("opening the log");
        std::fs::set_permissions(dir.path(), Permissions::from_mode(0o711))
            .expect("opening the directory");
        let conf = dir.path().join("mosquitto.conf");
        std::fs::write(
            &conf,
            format!(
                "listener {port} 127.0.0.1\nallow_anonymous false\npassword_file {}\npersistence false\n\
                 log_dest file {}\nlog_type subscribe\nlog_timestamp false\n",
                passwords.display(),
                log.display()
            ),
        )
        .expect("writing mosquitto.conf");
        let child = Command::new("mosquitto")
            .arg("-c")
            .arg(&conf)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("mosquitto runs (apt-get install mosquitto)");
        let addr = SocketAddr::from(([127, 0, 0, 1], port));
        let deadline = Instant::now() + Duration::from_secs(10);
        while TcpStream::connect(addr).is_err() {
            assert!(
                Instant::now() < deadline,
                "mosquitto did not start on {addr}"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        Self {
            child,
            log,
            _dir: dir,
        }
    }

    /// The QoS `client` subscribed `filter` with, if it did.
    pub fn subscription_qos(&self, client: &str, filter: &str) -> Option<u8> {
        // One line per subscription: `{client} {qos} {filter}`.
        let log = std::fs::read_to_string(&self.log).expect("reading mosquitto's log");
        log.lines().find_map(|line| {
            let mut words = line.split(' ');
            let (who, qos, what) = (words.next()?, words.next()?, words.next()?);
            (who == client && what == filter).then(|| qos.parse().ok())?
        })
    }
}

impl Drop for Mosquitto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
