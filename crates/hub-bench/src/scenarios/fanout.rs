//! Scenario `fanout`: one bulletin to every device, over real MQTT.
//!
//! 1. The hub runs in this process with its embedded broker; N devices from
//!    `firmware-sim` run in a child process (one socket each, so the two ends
//!    do not share the open-file limit). `connect_all_ms` is the time from
//!    starting the child until the hub has a session with every device.
//! 2. Once every device is synced, the hub's resident memory growth divided
//!    by N is `rss_per_device_kb`.
//! 3. One emergency for the whole country is queued; the time from queueing
//!    to each device's acknowledgement of the command carrying it (as the hub
//!    records it) gives the p50 / p99 / max. This is the first bulletin after
//!    connecting: there is no warm-up round.
//! 4. Baseline, in the same process afterwards: the same broker (same
//!    configuration and authentication) without the hub, the same devices as
//!    bare MQTT clients in a child process, one message of similar size per
//!    commune naming its devices, each device answering with one publish.
//!    `ratio_p99` is the hub's p99 over the baseline's.

pub mod devices;

use std::collections::{BTreeMap, HashSet};
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use anyhow::{bail, ensure, Context};
use chrono::{TimeDelta, Utc};
use hub::api::ApiSettings;
use hub::config::LoadedConfig;
use hub::link::{self, BrokerChoice, LinkSettings, ServeOptions};
use hub_core::{
    AreaCode, AreaLevel, AudioPart, AudioSource, Bulletin, BulletinId, BulletinState, Category,
    DeliveryState, Event, Language, PriorityClass, Programme, Validity, Variant, VisualKind,
    VisualPart,
};
use hub_proto::{topic, Clock, Provisioning};
use serde::Serialize;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};
use tokio::sync::mpsc;

use crate::load::{self, LoadParams};
use crate::rss;

#[derive(Clone, Debug)]
pub struct FanoutParams {
    pub devices: usize,
    pub devices_per_commune: usize,
    /// Connections per second the device process opens, at most.
    pub connect_rate: u32,
    /// Longest wait for connecting, and for acknowledgements.
    pub timeout: Duration,
}

#[derive(Clone, Debug, Serialize)]
pub struct FanoutSummary {
    pub scenario: &'static str,
    pub devices: usize,
    pub connect_all_ms: f64,
    pub ack_p50_ms: f64,
    pub ack_p99_ms: f64,
    pub ack_max_ms: f64,
    pub baseline_p99_ms: f64,
    pub ratio_p99: f64,
    pub rss_per_device_kb: f64,
    /// Runs summarised: 1, or the number of runs whose medians these are.
    pub runs: usize,
    #[serde(skip)]
    pub details: FanoutDetails,
}

#[derive(Clone, Debug)]
pub struct FanoutDetails {
    pub communes: usize,
    pub commands: u64,
    pub baseline_connect_ms: f64,
    pub baseline_p50_ms: f64,
    pub baseline_max_ms: f64,
    pub rss_before_kb: u64,
    pub rss_after_kb: u64,
    /// CPU time (user + system) spent during the broadcast, from its start
    /// to the last acknowledgement: by this process (hub and broker), and by
    /// the device process. Same for the baseline.
    pub hub_cpu_ms: u64,
    pub devices_cpu_ms: u64,
    pub baseline_broker_cpu_ms: u64,
    pub baseline_devices_cpu_ms: u64,
    /// What the device process counted, from its summary at the end.
    pub fleet: FleetCounts,
    /// Device reports the hub's gate dropped, by reason.
    pub gate_dropped: BTreeMap<&'static str, u64>,
}

/// The device process's own totals (part of `firmware_sim::Summary`).
#[derive(Clone, Debug, Default, serde::Deserialize)]
pub struct FleetCounts {
    pub connects: u64,
    pub commands_accepted: u64,
    pub duplicates: u64,
    pub refused: BTreeMap<String, u64>,
    pub dropped_reports: u64,
}

impl FanoutSummary {
    pub fn describe(&self) -> Vec<String> {
        let d = &self.details;
        vec![
            format!(
                "hub: {} devices in {} communes connected in {:.0} ms; one bulletin took {} commands; acks p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms",
                self.devices, d.communes, self.connect_all_ms, d.commands, self.ack_p50_ms, self.ack_p99_ms, self.ack_max_ms
            ),
            format!(
                "hub memory: {} kB before devices, {} kB after: {:.1} kB per device",
                d.rss_before_kb, d.rss_after_kb, self.rss_per_device_kb
            ),
            format!(
                "baseline (same broker, bare clients): connected in {:.0} ms; acks p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms",
                d.baseline_connect_ms, d.baseline_p50_ms, self.baseline_p99_ms, d.baseline_max_ms
            ),
            format!(
                "CPU during the broadcast: hub process {} ms, device process {} ms; baseline: broker process {} ms, device process {} ms",
                d.hub_cpu_ms, d.devices_cpu_ms, d.baseline_broker_cpu_ms, d.baseline_devices_cpu_ms
            ),
            format!(
                "devices: {} connections, {} commands accepted, {} duplicates, refused {:?}, {} reports dropped; hub gate dropped {:?}",
                d.fleet.connects, d.fleet.commands_accepted, d.fleet.duplicates, d.fleet.refused, d.fleet.dropped_reports, d.gate_dropped
            ),
        ]
    }
}

pub async fn run(params: &FanoutParams) -> anyhow::Result<FanoutSummary> {
    ensure!(params.devices > 0, "fanout needs at least one device");
    ensure!(
        params.devices_per_commune > 0,
        "at least one device per commune"
    );
    check_fd_limit(params.devices)?;
    let communes = params.devices.div_ceil(params.devices_per_commune);
    let load = load::build(&LoadParams {
        communes,
        devices_per_commune: params.devices_per_commune,
        bulletins: 0,
        ..LoadParams::default()
    })?;
    let devices = load.province.devices().count();
    let dir = tempfile::tempdir()?;
    // The hub.
    let (events, mut deliveries) = mpsc::unbounded_channel();
    let settings = LinkSettings {
        mqtt_listen: "127.0.0.1:0".parse()?,
        media_listen: "127.0.0.1:0".parse()?,
        max_connections: devices + 100,
        ..LinkSettings::default()
    };
    let hub = link::start(ServeOptions {
        data_dir: dir.path().join("hub"),
        config: LoadedConfig {
            data_dir: dir.path().join("hub"),
            link: settings.clone(),
            api: ApiSettings {
                listen: "127.0.0.1:0".parse()?,
                ..ApiSettings::default()
            },
            province: load.province.clone(),
            programme: Programme::default(),
            audio: Vec::new(),
            visuals: Vec::new(),
            board: hub_media::BoardSize::new(384, 192)?,
        },
        broker: BrokerChoice::Embedded,
        clock: Clock::real(),
        tick: Duration::from_millis(250),
        delivery_events: Some(events),
    })
    .await?;
    let provisioning_path = dir.path().join("provisioning.json");
    std::fs::write(&provisioning_path, hub.provisioning.to_json())?;
    let rss_before_kb = rss::current_rss_kb().context("reading this process's memory")?;

    let started = Instant::now();
    let mut child = spawn_devices("hub", &provisioning_path, None, params.connect_rate)?;
    let deadline = started + params.timeout;
    while hub.stats().await?.online < devices {
        ensure!(
            Instant::now() < deadline,
            "only {} of {devices} devices connected to the hub in time",
            hub.stats().await?.online
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let connect_all = started.elapsed();
    // Let the hellos' syncs and their acks settle before measuring.
    settle(&mut deliveries, Duration::from_millis(1500)).await;
    let published_before = hub.stats().await?.commands_published;
    let rss_after_kb = rss::current_rss_kb().context("reading this process's memory")?;

    let bulletin = country_emergency();
    let bulletin_id = bulletin.id.clone();
    let devices_pid = child.id().context("the device process's id")?;
    let cpu_before = (cpu::of_process(None), cpu::of_process(Some(devices_pid)));
    let queued = Instant::now();
    hub.event(Event::Queue(bulletin))
        .await?
        .context("queueing the emergency")?;
    let mut acked = HashSet::new();
    let mut latencies = Vec::with_capacity(devices);
    let deadline = queued + params.timeout;
    while acked.len() < devices {
        let Ok(Some(delivery)) = tokio::time::timeout_at(deadline.into(), deliveries.recv()).await
        else {
            bail!(
                "only {} of {devices} devices acknowledged in time",
                acked.len()
            );
        };
        if delivery.airing.bulletin == bulletin_id
            // Acknowledged, or already further: a device whose ack named an
            // older command carrying the bulletin may report it started first.
            && (DeliveryState::Acknowledged..=DeliveryState::Failed).contains(&delivery.state)
            && acked.insert(delivery.device)
        {
            latencies.push(queued.elapsed());
        }
    }
    let hub_cpu_ms = cpu::used_since(cpu_before.0, None);
    let devices_cpu_ms = cpu::used_since(cpu_before.1, Some(devices_pid));
    let stats = hub.stats().await?;
    let commands = stats.commands_published - published_before;
    let fleet = fleet_summary(&mut child).await?;
    child.kill().await.ok();
    hub.shutdown().await?;

    let baseline = baseline(
        &load.province,
        &hub_provisioning(&provisioning_path)?,
        &settings,
        params,
    )
    .await?;

    let hub_p = Percentiles::of(&mut latencies);
    let ratio = if baseline.latency.p99 > 0.0 {
        hub_p.p99 / baseline.latency.p99
    } else {
        f64::NAN
    };
    Ok(FanoutSummary {
        scenario: "fanout",
        devices,
        connect_all_ms: millis(connect_all),
        ack_p50_ms: hub_p.p50,
        ack_p99_ms: hub_p.p99,
        ack_max_ms: hub_p.max,
        baseline_p99_ms: baseline.latency.p99,
        ratio_p99: round2(ratio),
        rss_per_device_kb: round2(
            rss_after_kb.saturating_sub(rss_before_kb) as f64 / devices as f64,
        ),
        runs: 1,
        details: FanoutDetails {
            communes,
            commands,
            baseline_connect_ms: millis(baseline.connect_all),
            baseline_p50_ms: baseline.latency.p50,
            baseline_max_ms: baseline.latency.max,
            hub_cpu_ms,
            devices_cpu_ms,
            baseline_broker_cpu_ms: baseline.broker_cpu_ms,
            baseline_devices_cpu_ms: baseline.devices_cpu_ms,
            fleet,
            gate_dropped: stats.dropped,
            rss_before_kb,
            rss_after_kb,
        },
    })
}

/// The median of each figure over the JSON summaries of independent runs;
/// other fields (and figures equal in all runs) as in the first, and `runs`
/// their number. A single run on a
/// shared machine is noisy: the baseline's p99 alone varies by half.
pub fn median(runs: &[serde_json::Value]) -> serde_json::Value {
    let mut summary = runs.first().cloned().unwrap_or_default();
    if let Some(fields) = summary.as_object_mut() {
        for (name, value) in fields.iter_mut() {
            let mut figures: Vec<f64> = runs.iter().filter_map(|r| r[name].as_f64()).collect();
            let same = figures.windows(2).all(|w| w[0] == w[1]);
            if !value.is_number() || figures.len() != runs.len() || same {
                continue;
            }
            figures.sort_by(f64::total_cmp);
            let middle = figures.len() / 2;
            let median = if figures.len() % 2 == 0 {
                round2((figures[middle - 1] + figures[middle]) / 2.0)
            } else {
                figures[middle]
            };
            *value = serde_json::json!(median);
        }
        fields.insert("runs".into(), serde_json::json!(runs.len()));
    }
    summary
}

/// An emergency for the whole country, valid for an hour from now.
fn country_emergency() -> Bulletin {
    let vn = AreaCode::parse("VN").expect("a valid code");
    let now = Utc::now();
    Bulletin {
        id: BulletinId::parse("bench-fanout").expect("a valid id"),
        title: "Fan-out benchmark".into(),
        category: Category::DisasterEmergency,
        level: AreaLevel::Central,
        issuer: vn.clone(),
        class: PriorityClass::Emergency,
        targets: vec![vn],
        validity: Validity {
            not_before: now,
            expires: now + TimeDelta::hours(1),
        },
        recurrence: None,
        variants: vec![Variant {
            language: Language::parse("vi").expect("a valid language"),
            audio: Some(AudioPart {
                source: AudioSource::Recorded,
                secs: 60,
                media: None,
            }),
            visual: Some(VisualPart {
                kind: VisualKind::Text,
                secs: 60,
                text: Some("Cảnh báo".into()),
                media: None,
            }),
        }],
        sensitive: false,
        state: BulletinState::Approved,
    }
}

fn hub_provisioning(path: &Path) -> anyhow::Result<Provisioning> {
    Ok(Provisioning::from_json(&std::fs::read(path)?)?)
}

/// Drains delivery events until none came for `quiet`.
async fn settle<T>(events: &mut mpsc::UnboundedReceiver<T>, quiet: Duration) {
    while let Ok(Some(_)) = tokio::time::timeout(quiet, events.recv()).await {}
}

struct Baseline {
    connect_all: Duration,
    latency: Percentiles,
    broker_cpu_ms: u64,
    devices_cpu_ms: u64,
}

/// The same broadcast without the hub.
async fn baseline(
    province: &hub_core::Province,
    provisioning: &Provisioning,
    settings: &LinkSettings,
    params: &FanoutParams,
) -> anyhow::Result<Baseline> {
    let passwords = Arc::new(RwLock::new(
        provisioning
            .devices
            .iter()
            .map(|d| (d.id.clone(), d.mqtt_password.clone()))
            .collect(),
    ));
    let mut by_topic: BTreeMap<String, Vec<&str>> = BTreeMap::new();
    for device in province.devices() {
        by_topic
            .entry(topic::downlink(device.commune.as_str(), device.kind.wire()))
            .or_default()
            .push(device.id.as_str());
    }
    let (mut tx, mut rx, listening) = link::broker::start(settings, passwords)?;
    tx.subscribe(topic::UPLINK_FILTER)
        .map_err(|e| anyhow::anyhow!("subscribing the baseline link: {e}"))?;
    let (acks, mut ack_rx) = mpsc::unbounded_channel();
    tokio::spawn(async move {
        loop {
            match rx.next().await {
                Ok(Some(rumqttd::Notification::Forward(forward))) => {
                    if acks
                        .send((Instant::now(), forward.publish.payload))
                        .is_err()
                    {
                        break;
                    }
                }
                // A paused link resumes only when asked (as hub::link::transport does).
                Ok(Some(rumqttd::Notification::Unschedule)) => {
                    if rx.wake().await.is_err() {
                        break;
                    }
                }
                Ok(_) => {}
                Err(_) => break,
            }
        }
    });

    let dir = tempfile::tempdir()?;
    let path = dir.path().join("provisioning.json");
    std::fs::write(&path, provisioning.to_json())?;
    let started = Instant::now();
    let broker = format!("mqtt://{}", listening.mqtt);
    let mut child = spawn_devices("raw", &path, Some(&broker), params.connect_rate)?;
    wait_connected(&mut child, params.timeout).await?;
    let connect_all = started.elapsed();
    tokio::time::sleep(Duration::from_millis(500)).await;

    // One message per commune and kind naming its devices, about the size of
    // the hub's command.
    let devices_pid = child.id().context("the device process's id")?;
    let cpu_before = (cpu::of_process(None), cpu::of_process(Some(devices_pid)));
    let sent = Instant::now();
    for (topic, to) in &by_topic {
        let payload = serde_json::json!({"body": {"to": to, "pad": "x".repeat(400)}});
        tx.publish(topic.clone(), payload.to_string())
            .map_err(|e| anyhow::anyhow!("publishing the baseline message: {e}"))?;
    }
    let devices = province.devices().count();
    let mut acked = HashSet::new();
    let mut latencies = Vec::with_capacity(devices);
    let deadline = sent + params.timeout;
    while acked.len() < devices {
        let Ok(Some((at, payload))) = tokio::time::timeout_at(deadline.into(), ack_rx.recv()).await
        else {
            let missing: Vec<&str> = province
                .devices()
                .map(|d| d.id.as_str())
                .filter(|id| !acked.contains(id.as_bytes()))
                .take(10)
                .collect();
            bail!(
                "baseline: only {} of {devices} devices answered in time (missing {})",
                acked.len(),
                missing.join(", ")
            );
        };
        if acked.insert(payload) {
            latencies.push(at.duration_since(sent));
        }
    }
    let broker_cpu_ms = cpu::used_since(cpu_before.0, None);
    let devices_cpu_ms = cpu::used_since(cpu_before.1, Some(devices_pid));
    child.kill().await.ok();
    Ok(Baseline {
        connect_all,
        latency: Percentiles::of(&mut latencies),
        broker_cpu_ms,
        devices_cpu_ms,
    })
}

/// Starts this executable's hidden `fanout-devices` subcommand.
fn spawn_devices(
    mode: &str,
    provisioning: &Path,
    broker: Option<&str>,
    connect_rate: u32,
) -> anyhow::Result<Child> {
    let exe: PathBuf = std::env::current_exe()?;
    let mut command = Command::new(exe);
    command
        .arg("fanout-devices")
        .arg("--mode")
        .arg(mode)
        .arg("--provisioning")
        .arg(provisioning)
        .arg("--connect-rate")
        .arg(connect_rate.to_string())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .kill_on_drop(true);
    if let Some(broker) = broker {
        command.arg("--broker").arg(broker);
    }
    command.spawn().context("starting the device process")
}

/// Waits for the device process's `connected` line.
async fn wait_connected(child: &mut Child, timeout: Duration) -> anyhow::Result<()> {
    let stdout = child.stdout.take().context("the device process's output")?;
    let mut lines = BufReader::new(stdout).lines();
    let line = tokio::time::timeout(timeout, lines.next_line())
        .await
        .context("the devices did not connect in time")??
        .context("the device process ended before connecting")?;
    ensure!(
        line.contains("\"connected\""),
        "unexpected device output: {line}"
    );
    Ok(())
}

/// Ends the device process's run by closing its input, and reads the
/// summary it prints then.
async fn fleet_summary(child: &mut Child) -> anyhow::Result<FleetCounts> {
    #[derive(serde::Deserialize)]
    struct Line {
        event: String,
        fleet: Option<FleetCounts>,
    }
    drop(child.stdin.take());
    let stdout = child.stdout.take().context("the device process's output")?;
    let mut lines = BufReader::new(stdout).lines();
    let read = async {
        while let Some(line) = lines.next_line().await? {
            let line: Line = serde_json::from_str(&line)
                .with_context(|| format!("unexpected device output: {line}"))?;
            if let ("summary", Some(fleet)) = (line.event.as_str(), line.fleet) {
                return Ok(fleet);
            }
        }
        bail!("the device process ended without a summary")
    };
    tokio::time::timeout(Duration::from_secs(10), read)
        .await
        .context("the device process did not print its summary in time")?
}

/// The process may hold one socket per device plus some.
fn check_fd_limit(devices: usize) -> anyhow::Result<()> {
    let limits = std::fs::read_to_string("/proc/self/limits").unwrap_or_default();
    let soft = limits
        .lines()
        .find(|l| l.starts_with("Max open files"))
        .and_then(|l| l.split_whitespace().nth(3))
        .and_then(|v| v.parse::<usize>().ok());
    if let Some(soft) = soft {
        ensure!(
            soft >= devices + 200,
            "{devices} devices need about {} open files; the limit is {soft} (raise it with ulimit -n)",
            devices + 200
        );
    }
    Ok(())
}

/// Nearest-rank percentiles in milliseconds.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Percentiles {
    pub p50: f64,
    pub p99: f64,
    pub max: f64,
}

impl Percentiles {
    pub fn of(samples: &mut [Duration]) -> Self {
        samples.sort();
        let rank = |p: usize| {
            let n = samples.len();
            if n == 0 {
                return f64::NAN;
            }
            millis(samples[(p * n).div_ceil(100).clamp(1, n) - 1])
        };
        Self {
            p50: rank(50),
            p99: rank(99),
            max: rank(100),
        }
    }
}

fn millis(elapsed: Duration) -> f64 {
    round2(elapsed.as_secs_f64() * 1000.0)
}

fn round2(value: f64) -> f64 {
    (value * 100.0).round() / 100.0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_median_is_taken_per_figure() {
        let run = |ratio: f64, connect: f64| {
            serde_json::json!({"scenario": "fanout", "devices": 10, "ratio_p99": ratio,
                "connect_all_ms": connect, "runs": 1})
        };
        let odd = median(&[run(2.0, 30.0), run(1.2, 10.0), run(1.4, 20.0)]);
        assert_eq!(
            odd,
            serde_json::json!({"scenario": "fanout", "devices": 10, "ratio_p99": 1.4,
                "connect_all_ms": 20.0, "runs": 3})
        );
        let even = median(&[run(2.0, 30.0), run(1.0, 10.0)]);
        assert_eq!(
            (even["ratio_p99"].as_f64(), even["runs"].as_u64()),
            (Some(1.5), Some(2))
        );
    }

    #[test]
    fn percentiles_are_nearest_rank() {
        let mut samples: Vec<Duration> = (1..=100).rev().map(Duration::from_millis).collect();
        let p = Percentiles::of(&mut samples);
        assert_eq!((p.p50, p.p99, p.max), (50.0, 99.0, 100.0));
        let mut one = vec![Duration::from_millis(7)];
        assert_eq!(Percentiles::of(&mut one).p99, 7.0);
    }
}

/// CPU time of a process from `/proc/<pid>/stat` (Linux; zero elsewhere).
mod cpu {
    /// Clock ticks per second of `/proc` times (`getconf CLK_TCK`, 100 on Linux).
    const TICKS_PER_SEC: u64 = 100;

    /// User plus system CPU time so far, in ticks, of `pid` (this process if `None`).
    pub fn of_process(pid: Option<u32>) -> u64 {
        let path = pid.map_or_else(
            || "/proc/self/stat".to_string(),
            |p| format!("/proc/{p}/stat"),
        );
        let stat = std::fs::read_to_string(path).unwrap_or_default();
        // Fields after the parenthesised command name; utime and stime are
        // the 14th and 15th fields of the whole line.
        let after_name = stat.rsplit_once(')').map_or("", |(_, rest)| rest);
        let fields: Vec<&str> = after_name.split_whitespace().collect();
        let field = |i: usize| {
            fields
                .get(i)
                .and_then(|f| f.parse::<u64>().ok())
                .unwrap_or(0)
        };
        field(11) + field(12)
    }

    /// Milliseconds of CPU used since `before` (from [`of_process`]).
    pub fn used_since(before: u64, pid: Option<u32>) -> u64 {
        of_process(pid).saturating_sub(before) * 1000 / TICKS_PER_SEC
    }

    #[cfg(all(test, target_os = "linux"))]
    mod tests {
        #[test]
        fn this_process_uses_cpu() {
            let before = super::of_process(None);
            let mut x = 0u64;
            let start = std::time::Instant::now();
            while start.elapsed() < std::time::Duration::from_millis(50) {
                x = x.wrapping_mul(31).wrapping_add(7);
            }
            assert!(x != 1 && super::used_since(before, None) > 0);
        }
    }
}
