//! What the scenarios over real MQTT share: the hub in this process, N
//! simulated devices in a child process (`devices`), and the raw broker
//! broadcast measured as their baseline.
//!
//! The devices run in a process of their own so the two ends of 10,000
//! connections do not share one open-file limit. The child speaks one JSON
//! line at a time on its standard output (`connected`, then `summary` once
//! its standard input closes).

pub mod devices;

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use anyhow::{bail, ensure, Context};
use chrono::{TimeDelta, Utc};
use hub::api::ApiSettings;
use hub::config::LoadedConfig;
use hub::link::{self, BrokerChoice, HubHandle, LinkSettings, ServeOptions};
use hub_core::{
    AreaCode, AreaLevel, AudioPart, AudioSource, Bulletin, BulletinId, BulletinState, Category,
    Delivery, Language, PriorityClass, Programme, Province, StoredAudio, Validity, Variant,
    VisualKind, VisualPart,
};
use hub_proto::{topic, Clock, Provisioning};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};
use tokio::sync::mpsc;

/// How the device process runs.
#[derive(Clone, Debug)]
pub struct DeviceProcess {
    /// New connections per second, at most.
    pub connect_rate: u32,
    /// Media downloads at once over the whole fleet (each real device has a
    /// link of its own; the bound only keeps one process within its files).
    pub downloads: usize,
}

/// The hub, started with its embedded broker and media server on loopback.
pub struct Hub {
    pub handle: HubHandle,
    /// Every delivery change, as the hub records it.
    pub deliveries: mpsc::UnboundedReceiver<Delivery>,
    pub settings: LinkSettings,
    pub provisioning_path: PathBuf,
}

/// Starts the hub on `data_dir` for `province`; its provisioning file is
/// written beside the data.
pub async fn start_hub(
    province: &Province,
    data_dir: &Path,
    provisioning_path: PathBuf,
) -> anyhow::Result<Hub> {
    let devices = province.devices().count();
    let (events, deliveries) = mpsc::unbounded_channel();
    let settings = LinkSettings {
        mqtt_listen: "127.0.0.1:0".parse()?,
        media_listen: "127.0.0.1:0".parse()?,
        max_connections: devices + 100,
        ..LinkSettings::default()
    };
    let handle = link::start(ServeOptions {
        data_dir: data_dir.to_path_buf(),
        config: LoadedConfig {
            data_dir: data_dir.to_path_buf(),
            link: settings.clone(),
            api: ApiSettings {
                listen: "127.0.0.1:0".parse()?,
                ..ApiSettings::default()
            },
            province: province.clone(),
            programme: Programme::default(),
            audio: Vec::new(),
            visuals: Vec::new(),
            board: hub_media::BoardSize::new(384, 192)?,
            // The first scheduled backup comes a week after start: never in a run.
            backup: Default::default(),
            health: Default::default(),
        },
        broker: BrokerChoice::Embedded,
        clock: Clock::real(),
        tick: Duration::from_millis(250),
        delivery_events: Some(events),
    })
    .await?;
    std::fs::write(&provisioning_path, handle.provisioning.to_json())?;
    Ok(Hub {
        handle,
        deliveries,
        settings,
        provisioning_path,
    })
}

/// Waits until the hub has a session with all `devices`; how long that took
/// since `started`.
pub async fn wait_online(
    hub: &HubHandle,
    devices: usize,
    started: Instant,
    timeout: Duration,
) -> anyhow::Result<Duration> {
    let deadline = started + timeout;
    while hub.stats().await?.online < devices {
        ensure!(
            Instant::now() < deadline,
            "only {} of {devices} devices connected to the hub in time",
            hub.stats().await?.online
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    Ok(started.elapsed())
}

/// The device process's own totals (part of `firmware_sim::Summary`).
#[derive(Clone, Debug, Default, serde::Deserialize)]
pub struct FleetCounts {
    pub connects: u64,
    pub commands_accepted: u64,
    pub duplicates: u64,
    pub refused: BTreeMap<String, u64>,
    pub dropped_reports: u64,
    #[serde(default)]
    pub media_downloads: u64,
    #[serde(default)]
    pub media_failures: u64,
}

/// A flat JSON summary with its fields in the order they were written
/// (the last line's field order is part of each scenario's contract).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Summary(pub Vec<(String, serde_json::Value)>);

impl Summary {
    pub fn parse(line: &str) -> serde_json::Result<Self> {
        serde_json::from_str(line)
    }

    fn get(&self, name: &str) -> Option<&serde_json::Value> {
        self.0.iter().find(|(n, _)| n == name).map(|(_, v)| v)
    }
}

impl<'de> serde::Deserialize<'de> for Summary {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Fields;
        impl<'de> serde::de::Visitor<'de> for Fields {
            type Value = Summary;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a JSON object")
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(
                self,
                mut map: A,
            ) -> Result<Summary, A::Error> {
                let mut fields = Vec::new();
                while let Some(field) = map.next_entry()? {
                    fields.push(field);
                }
                Ok(Summary(fields))
            }
        }
        deserializer.deserialize_map(Fields)
    }
}

impl serde::Serialize for Summary {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_map(self.0.iter().map(|(n, v)| (n, v)))
    }
}

/// The median of each figure over the JSON summaries of independent runs;
/// other fields (and figures equal in all runs) as in the first, and `runs`
/// their number; fields in the first run's order. A single run on a
/// shared machine is noisy: the baseline's p99 alone varies by half.
pub fn median(runs: &[Summary]) -> Summary {
    let mut summary = runs.first().cloned().unwrap_or_default();
    for (name, value) in summary.0.iter_mut() {
        if name == "runs" {
            *value = serde_json::json!(runs.len());
            continue;
        }
        let mut figures: Vec<f64> = runs
            .iter()
            .filter_map(|r| r.get(name).and_then(serde_json::Value::as_f64))
            .collect();
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
    if summary.get("runs").is_none() {
        summary
            .0
            .push(("runs".into(), serde_json::json!(runs.len())));
    }
    summary
}

/// Runs this executable's `scenario` once per run, each in a fresh process
/// (memory freed and a broker warmed by one run would flatter the next),
/// printing each run's output; returns the median of every figure.
pub fn run_repeatedly(scenario: &str, runs: u32, args: &[String]) -> anyhow::Result<String> {
    let mut summaries = Vec::new();
    for run in 1..=runs {
        println!("run {run} of {runs}:");
        let output = std::process::Command::new(std::env::current_exe()?)
            .args([scenario, "--runs", "1"])
            .args(args)
            .stderr(Stdio::inherit())
            .output()?;
        ensure!(output.status.success(), "run {run} failed");
        let text = String::from_utf8(output.stdout)?;
        print!("{text}");
        let last = text.lines().last().unwrap_or_default();
        summaries.push(Summary::parse(last)?);
    }
    Ok(serde_json::to_string(&median(&summaries))?)
}

pub fn hub_provisioning(path: &Path) -> anyhow::Result<Provisioning> {
    Ok(Provisioning::from_json(&std::fs::read(path)?)?)
}

/// Drains delivery events until none came for `quiet`.
pub async fn settle<T>(events: &mut mpsc::UnboundedReceiver<T>, quiet: Duration) {
    while let Ok(Some(_)) = tokio::time::timeout(quiet, events.recv()).await {}
}

/// One raw broadcast over the bare broker.
pub struct RawBroadcast {
    pub connect_all: Duration,
    /// From the publish to each device's answer arriving back here.
    pub round_trip: Percentiles,
    /// From the publish to each device reading the message (its own clock,
    /// the same machine's).
    pub one_way: Percentiles,
    pub broker_cpu_ms: u64,
    pub devices_cpu_ms: u64,
}

/// The broadcast without the hub: the same broker (same configuration and
/// authentication) on a fresh start, the same devices as bare MQTT clients
/// in a child process, one message of about `pad` bytes per commune and
/// kind naming its devices, each device answering with one publish of its
/// id and when it read the message. Like the hub's, this is the first
/// message after the devices connected. With `spread_answers`, the message
/// asks the devices to spread their answers as the hub asks of reports
/// after a round delivering as many bytes
/// ([`hub::link::dispatch::report_spread_for`]), so that answers do not
/// meet the broadcast on its way where reports would not.
pub async fn raw_broadcast(
    province: &Province,
    provisioning: &Provisioning,
    settings: &LinkSettings,
    connect_rate: u32,
    pad: usize,
    spread_answers: bool,
    timeout: Duration,
) -> anyhow::Result<RawBroadcast> {
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
    let process = DeviceProcess {
        connect_rate,
        downloads: 1,
    };
    let mut child = spawn_devices(devices::Mode::Raw, &path, Some(&broker), &process)?;
    wait_connected(&mut child, timeout).await?;
    let connect_all = started.elapsed();
    tokio::time::sleep(Duration::from_millis(500)).await;

    let devices_pid = child.id().context("the device process's id")?;
    crate::free_memory::refresh().await?;
    let cpu_before = (cpu::of_process(None), cpu::of_process(Some(devices_pid)));
    let sent_at = chrono::Utc::now();
    let sent = Instant::now();
    let devices = province.devices().count();
    let spread = spread_answers
        .then(|| link::dispatch::report_spread_for(pad * devices))
        .flatten();
    for (topic, to) in &by_topic {
        let body = serde_json::json!({"to": to, "pad": "x".repeat(pad)});
        // The spread first, where a device reads it without parsing the rest.
        let payload = match spread {
            Some(ms) => format!(r#"{{"spread_ms":{ms},"body":{body}}}"#),
            None => format!(r#"{{"body":{body}}}"#),
        };
        tx.publish(topic.clone(), payload)
            .map_err(|e| anyhow::anyhow!("publishing the baseline message: {e}"))?;
    }
    let mut answered: HashMap<String, ()> = HashMap::with_capacity(devices);
    let mut round_trip = Vec::with_capacity(devices);
    let mut one_way = Vec::with_capacity(devices);
    let deadline = sent + timeout;
    while answered.len() < devices {
        let Ok(Some((at, payload))) = tokio::time::timeout_at(deadline.into(), ack_rx.recv()).await
        else {
            let missing: Vec<&str> = province
                .devices()
                .map(|d| d.id.as_str())
                .filter(|id| !answered.contains_key(*id))
                .take(10)
                .collect();
            bail!(
                "baseline: only {} of {devices} devices answered in time (missing {})",
                answered.len(),
                missing.join(", ")
            );
        };
        let Some((id, read_at)) = devices::parse_answer(&payload) else {
            continue;
        };
        if answered.insert(id, ()).is_none() {
            round_trip.push(at.duration_since(sent));
            one_way.push((read_at - sent_at).to_std().unwrap_or_default());
        }
    }
    let broker_cpu_ms = cpu::used_since(cpu_before.0, None);
    let devices_cpu_ms = cpu::used_since(cpu_before.1, Some(devices_pid));
    child.kill().await.ok();
    Ok(RawBroadcast {
        connect_all,
        round_trip: Percentiles::of(&mut round_trip),
        one_way: Percentiles::of(&mut one_way),
        broker_cpu_ms,
        devices_cpu_ms,
    })
}

/// glibc's allocator settings for the device process: memory it frees
/// stays with it. When a broadcast arrives, thousands of its connections
/// free and allocate buffers of the same sizes at once; by default a thread
/// arena hands the pages freed at its top back to the kernel and faults
/// fresh zeroed ones in moments later (heap growth and page faults were 18 %
/// of the process while an emergency started). The hub's process keeps the
/// defaults; a `GLIBC_TUNABLES` already set is passed on instead.
const DEVICE_MALLOC_TUNABLES: &str =
    "glibc.malloc.trim_threshold=1073741824:glibc.malloc.top_pad=67108864";

/// Starts this executable's hidden `fanout-devices` subcommand.
pub fn spawn_devices(
    mode: devices::Mode,
    provisioning: &Path,
    broker: Option<&str>,
    process: &DeviceProcess,
) -> anyhow::Result<Child> {
    let exe: PathBuf = std::env::current_exe()?;
    let mut command = Command::new(exe);
    command
        .arg("fanout-devices")
        .arg("--mode")
        .arg(match mode {
            devices::Mode::Hub => "hub",
            devices::Mode::Raw => "raw",
        })
        .arg("--provisioning")
        .arg(provisioning)
        .arg("--connect-rate")
        .arg(process.connect_rate.to_string())
        .arg("--downloads")
        .arg(process.downloads.to_string())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .kill_on_drop(true);
    if std::env::var_os("GLIBC_TUNABLES").is_none() {
        command.env("GLIBC_TUNABLES", DEVICE_MALLOC_TUNABLES);
    }
    if let Some(broker) = broker {
        command.arg("--broker").arg(broker);
    }
    command.spawn().context("starting the device process")
}

/// Waits for the device process's `connected` line.
pub async fn wait_connected(child: &mut Child, timeout: Duration) -> anyhow::Result<()> {
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
pub async fn fleet_summary(child: &mut Child) -> anyhow::Result<FleetCounts> {
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
pub fn check_fd_limit(devices: usize) -> anyhow::Result<()> {
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

pub fn millis(elapsed: Duration) -> f64 {
    round2(elapsed.as_secs_f64() * 1000.0)
}

pub fn round2(value: f64) -> f64 {
    (value * 100.0).round() / 100.0
}

/// `a / b` to two places, NaN when `b` is not positive.
pub fn ratio(a: f64, b: f64) -> f64 {
    if b > 0.0 {
        round2(a / b)
    } else {
        f64::NAN
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_median_is_taken_per_figure_in_the_fields_order() {
        let run = |ratio: f64, connect: f64| {
            Summary::parse(&format!(
                r#"{{"scenario":"fanout","devices":10,"ratio_p99":{ratio},"connect_all_ms":{connect},"runs":1}}"#
            ))
            .unwrap()
        };
        let odd = median(&[run(2.0, 30.0), run(1.2, 10.0), run(1.4, 20.0)]);
        assert_eq!(
            serde_json::to_string(&odd).unwrap(),
            r#"{"scenario":"fanout","devices":10,"ratio_p99":1.4,"connect_all_ms":20.0,"runs":3}"#
        );
        let even = median(&[run(2.0, 30.0), run(1.0, 10.0)]);
        assert_eq!(
            (even.get("ratio_p99").cloned(), even.get("runs").cloned()),
            (Some(serde_json::json!(1.5)), Some(serde_json::json!(2)))
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

    #[test]
    fn ratios_are_rounded_and_undefined_over_nothing() {
        assert_eq!(ratio(3.0, 2.0), 1.5);
        assert!(ratio(1.0, 0.0).is_nan());
    }
}

/// CPU time of a process from `/proc/<pid>/stat` (Linux; zero elsewhere).
pub mod cpu {
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

/// An emergency for the whole country, valid for an hour from now: `audio`
/// (or a recording the devices will not find) for `secs` on loudspeakers,
/// `text` on boards.
pub fn country_emergency(
    id: &BulletinId,
    title: &str,
    audio: Option<StoredAudio>,
    secs: u32,
    text: &str,
) -> Bulletin {
    let vn = AreaCode::parse("VN").expect("a valid code");
    let now = Utc::now();
    Bulletin {
        id: id.clone(),
        title: title.into(),
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
                secs,
                media: audio,
            }),
            visual: Some(VisualPart {
                kind: VisualKind::Text,
                secs: secs.max(10),
                text: Some(text.into()),
                media: None,
            }),
        }],
        sensitive: false,
        state: BulletinState::Approved,
        devices: None,
        corrects: None,
    }
}
