//! Scenario `emergency`: from an operator's trigger to the first audio on
//! every device, against the raw broker broadcast as the floor.
//!
//! 1. Before any device connects, the emergency's announcement is spoken
//!    (espeak-ng, Vietnamese) and stored in the hub's media store, as an
//!    operator uploads or types it before triggering. No device holds it.
//! 2. The hub runs in this process with its embedded broker and media
//!    server; N `firmware-sim` devices run in a child process and connect
//!    (paced as in `fanout`); their hello syncs settle.
//! 3. The emergency for the whole country is queued: the first bulletin of
//!    the run, with no warm-up emergency or broadcast before it. Each
//!    loudspeaker gets the command with the file's first part inline
//!    (`MediaRef::head`), finds it lacks the file, verifies that part
//!    against `MediaRef::chunks` and starts playing at once, then fetches
//!    the rest over HTTP; an LED board shows the emergency's text at once. "First audio" of a
//!    device is the time its report of starting gives (its own clock, the
//!    same machine's) less the instant of the trigger.
//! 4. The floor, twice in the same run: once after the hub started and
//!    before its devices connect, once after the hub's run. Each time the
//!    same broker on a fresh start, the same devices as bare MQTT clients
//!    in a fresh child process, one message of about the emergency
//!    command's size per commune and kind; each device notes when it read
//!    it, and answers within the spread the hub would ask of reports after
//!    delivering as many bytes (so answers do not slow the broadcast where
//!    reports do not). Each measures the first message after its devices
//!    connected, on a broker of its own started cold, so none inherits
//!    another's warm state; the hub's broker has carried the hello syncs
//!    before (part of how the hub works), the floor's nothing.
//!    `ratio_p99` is the first-audio p99 over the lower of the two floor
//!    p99s. This VM at times runs everything much slower for some tens of
//!    seconds (1.5x and more, seen after other heavy work); two floors
//!    bracketing the hub's run show when that happened during a run, and
//!    taking the lower never credits the hub with it.
//! 5. Right before the trigger, and before each floor's message, a short
//!    process touches free memory and exits ([`crate::free_memory`]), so
//!    that none of the three broadcasts gets pages this VM handed back to
//!    its host, which cost about 10 µs each to touch again, at random.

use std::collections::{BTreeMap, HashMap};
use std::time::{Duration, Instant};

use anyhow::{bail, ensure, Context};
use chrono::{DateTime, Utc};
use hub::media::ingest::{ingest_all, AudioInput, AudioJob};
use hub::media::MediaStore;
use hub_core::{BulletinId, DeliveryState, DeviceKind, Event, Language, StoredAudio};
use serde::Serialize;

use super::fleet::{
    self, check_fd_limit, country_emergency, cpu, devices::Mode, fleet_summary, hub_provisioning,
    millis, ratio, settle, spawn_devices, start_hub, wait_online, DeviceProcess, FleetCounts,
    Percentiles,
};
use crate::free_memory;
use crate::load::{self, LoadParams};

/// What the emergency says, three times: about half a minute of speech,
/// several parts.
const ANNOUNCEMENT: &str = "Khẩn cấp. Lũ quét đang đến. Người dân khu vực ven sông \
    di chuyển ngay lên vùng cao, mang theo giấy tờ và thuốc men. Không ở lại trong nhà \
    thấp. Làm theo hướng dẫn của lực lượng cứu hộ.";

#[derive(Clone, Debug)]
pub struct EmergencyParams {
    pub devices: usize,
    pub devices_per_commune: usize,
    /// Connections per second the device process opens, at most.
    pub connect_rate: u32,
    /// Media downloads at once in the device process.
    pub downloads: usize,
    /// Longest wait for connecting, and for every device to start.
    pub timeout: Duration,
}

#[derive(Clone, Debug, Serialize)]
pub struct EmergencySummary {
    pub scenario: &'static str,
    pub devices: usize,
    pub first_audio_p50_ms: f64,
    pub first_audio_p99_ms: f64,
    pub first_audio_max_ms: f64,
    pub floor_p99_ms: f64,
    pub ratio_p99: f64,
    pub connect_all_ms: f64,
    /// The loudspeakers' figures alone (boards show text, no file to fetch).
    pub speakers: usize,
    pub speakers_p99_ms: f64,
    /// Devices that failed the airing instead of starting it (the figures
    /// above are over those that started); any is a failed run's mark.
    pub failed: usize,
    pub audio_bytes: u64,
    pub first_part_bytes: u64,
    /// Base64 bytes of the first part inlined in each loudspeaker command
    /// (0: the hub inlined nothing, devices fetch the first part over HTTP).
    pub inline_head_bytes: u64,
    /// Runs summarised: 1, or the number of runs whose medians these are.
    pub runs: usize,
    #[serde(skip)]
    pub details: EmergencyDetails,
}

#[derive(Clone, Debug)]
pub struct EmergencyDetails {
    pub communes: usize,
    pub audio_ms: u64,
    pub parts: usize,
    /// From the trigger to the hub receiving each device's ack of the
    /// command (a round trip; the part of first audio that is MQTT).
    pub acks: Percentiles,
    /// The floor's p99 before the hub's devices connected and after the
    /// hub's run; `floor_p99_ms` is the lower.
    pub floor_before_p99_ms: f64,
    pub floor_after_p99_ms: f64,
    pub floor_p50_ms: f64,
    pub floor_max_ms: f64,
    pub floor_connect_ms: f64,
    /// CPU time from the trigger until the last start report (the floor:
    /// the last answer) arrived, which the spread puts seconds after the
    /// broadcast itself.
    pub hub_cpu_ms: u64,
    pub devices_cpu_ms: u64,
    pub floor_broker_cpu_ms: u64,
    pub floor_devices_cpu_ms: u64,
    pub fleet: FleetCounts,
}

impl EmergencySummary {
    pub fn describe(&self) -> Vec<String> {
        let d = &self.details;
        vec![
            format!(
                "hub: {} devices in {} communes connected in {:.0} ms; emergency audio {} bytes ({} ms) in {} parts, the first {} bytes, inline in commands as {} bytes of base64",
                self.devices, d.communes, self.connect_all_ms, self.audio_bytes, d.audio_ms, d.parts, self.first_part_bytes, self.inline_head_bytes
            ),
            format!(
                "trigger to first audio: p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms; loudspeakers alone ({}): p99 {:.1} ms; {} devices failed instead",
                self.first_audio_p50_ms, self.first_audio_p99_ms, self.first_audio_max_ms, self.speakers, self.speakers_p99_ms, self.failed
            ),
            format!(
                "of which the command: trigger to the hub holding each ack p50 {:.1} ms, p99 {:.1} ms (a loudspeaker starts from the inline first part before it acks)",
                d.acks.p50, d.acks.p99
            ),
            format!(
                "floor (same broker, bare clients, one message read; p99 {:.1} ms before the hub, {:.1} ms after, the lower counts): connected in {:.0} ms; p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms; ratio p99 {:.2}",
                d.floor_before_p99_ms, d.floor_after_p99_ms, d.floor_connect_ms, d.floor_p50_ms, self.floor_p99_ms, d.floor_max_ms, self.ratio_p99
            ),
            drift_warning(d.floor_before_p99_ms, d.floor_after_p99_ms),
            format!(
                "CPU from the trigger until the last start was reported (reports spread over seconds): hub process {} ms, device process {} ms; floor, until the last answer: broker process {} ms, device process {} ms",
                d.hub_cpu_ms, d.devices_cpu_ms, d.floor_broker_cpu_ms, d.floor_devices_cpu_ms
            ),
            format!(
                "devices: {} connections, {} commands accepted, {} files whole by the last start, {} download attempts failed (and retried), refused {:?}",
                d.fleet.connects, d.fleet.commands_accepted, d.fleet.media_downloads, d.fleet.media_failures, d.fleet.refused
            ),
        ]
    }
}

/// Two floors this far apart tell of a machine that changed speed during
/// the run.
const FLOOR_DRIFT: f64 = 1.25;

/// Whether the two floors agree, in words.
fn drift_warning(before_ms: f64, after_ms: f64) -> String {
    if before_ms.max(after_ms) > FLOOR_DRIFT * before_ms.min(after_ms) {
        format!(
            "the machine changed speed during this run (floor p99 {before_ms:.1} ms before, {after_ms:.1} ms after): its ratio is not comparable, run again"
        )
    } else {
        "the two floors agree: the machine kept its speed through the run".to_string()
    }
}

pub async fn run(params: &EmergencyParams) -> anyhow::Result<EmergencySummary> {
    ensure!(params.devices > 0, "emergency needs at least one device");
    ensure!(
        params.devices_per_commune > 0,
        "at least one device per commune"
    );
    check_fd_limit(params.devices + params.downloads)?;
    let communes = params.devices.div_ceil(params.devices_per_commune);
    let load = load::build(&LoadParams {
        communes,
        devices_per_commune: params.devices_per_commune,
        bulletins: 0,
        ..LoadParams::default()
    })?;
    let devices = load.province.devices().count();
    let dir = tempfile::tempdir()?;
    let data_dir = dir.path().join("hub");
    let bulletin_id = BulletinId::parse("bench-emergency").context("a valid id")?;
    let language = Language::parse("vi").context("a valid language")?;
    // The operator's upload, before any device connects.
    let text = [ANNOUNCEMENT; 3].join(" ");
    let (audio, secs) =
        tokio::task::block_in_place(|| pre_ingest(&data_dir, &bulletin_id, &language, &text))?;
    let parts = hub::media::store::chunks(&audio.sha256);
    let first_part_bytes = parts.first().map_or(0, |p| p.size);
    let inline_head_bytes = hub::media::store::head(&audio.sha256).map_or(0, |h| h.len());

    let mut hub = start_hub(
        &load.province,
        &data_dir,
        dir.path().join("provisioning.json"),
    )
    .await?;
    // About the size of the hub's loudspeaker command: a signed schedule of
    // one entry carrying the file's parts and its first part inline, and
    // the commune's device ids.
    let pad = 600 + parts.len() * 90 + inline_head_bytes;
    let provisioning = hub_provisioning(&hub.provisioning_path)?;
    let floor = || {
        fleet::raw_broadcast(
            &load.province,
            &provisioning,
            &hub.settings,
            params.connect_rate,
            pad,
            true,
            params.timeout,
        )
    };
    let floor_before = floor().await?;

    let started = Instant::now();
    let process = DeviceProcess {
        connect_rate: params.connect_rate,
        downloads: params.downloads,
    };
    let mut child = spawn_devices(Mode::Hub, &hub.provisioning_path, None, &process)?;
    let connect_all = wait_online(&hub.handle, devices, started, params.timeout).await?;
    // The hello syncs and their acks, not a warm-up of anything measured.
    settle(&mut hub.deliveries, Duration::from_millis(1500)).await;

    let speakers: HashMap<String, bool> = load
        .province
        .devices()
        .map(|d| (d.id.to_string(), d.kind == DeviceKind::Loudspeaker))
        .collect();
    let bulletin = country_emergency(
        &bulletin_id,
        "Emergency benchmark",
        Some(audio.clone()),
        secs,
        "Khẩn cấp: lũ quét",
    );
    let devices_pid = child.id().context("the device process's id")?;
    free_memory::refresh().await?;
    let cpu_before = (cpu::of_process(None), cpu::of_process(Some(devices_pid)));
    let triggered_at = Utc::now();
    let triggered = Instant::now();
    hub.handle
        .event(Event::Queue(bulletin))
        .await?
        .context("queueing the emergency")?;
    let mut firsts: BTreeMap<String, DateTime<Utc>> = BTreeMap::new();
    let mut failed: BTreeMap<String, String> = BTreeMap::new();
    let mut acked: BTreeMap<String, Duration> = BTreeMap::new();
    let deadline = triggered + params.timeout;
    while firsts.len() + failed.len() < devices {
        let Ok(Some(delivery)) =
            tokio::time::timeout_at(deadline.into(), hub.deliveries.recv()).await
        else {
            bail!(
                "only {} of {devices} devices started the emergency in time ({} failed)",
                firsts.len(),
                failed.len()
            );
        };
        if delivery.airing.bulletin != bulletin_id {
            continue;
        }
        let device = delivery.device.to_string();
        match delivery.state {
            DeliveryState::Acknowledged => {
                acked.entry(device).or_insert_with(|| triggered.elapsed());
            }
            DeliveryState::Started => {
                firsts.entry(device).or_insert(delivery.at);
            }
            DeliveryState::Failed if !firsts.contains_key(&device) => {
                let reason = delivery.reason.map_or("unstated", |r| r.code());
                failed.insert(device, reason.to_string());
            }
            _ => {}
        }
    }
    let hub_cpu_ms = cpu::used_since(cpu_before.0, None);
    let devices_cpu_ms = cpu::used_since(cpu_before.1, Some(devices_pid));
    if !failed.is_empty() {
        eprintln!(
            "hub-bench: {} devices failed the emergency, e.g. {:?}",
            failed.len(),
            failed.iter().take(5).collect::<Vec<_>>()
        );
    }
    let fleet = fleet_summary(&mut child).await?;
    child.kill().await.ok();
    hub.handle.shutdown().await?;

    let since_trigger = |at: &DateTime<Utc>| (*at - triggered_at).to_std().unwrap_or_default();
    let mut all: Vec<Duration> = firsts.values().map(since_trigger).collect();
    let mut loud: Vec<Duration> = firsts
        .iter()
        .filter(|(id, _)| speakers.get(*id).copied().unwrap_or(false))
        .map(|(_, at)| since_trigger(at))
        .collect();
    let speaker_count = loud.len();

    let floor_after = floor().await?;
    // The lower floor: a slowdown of the whole machine during one of the
    // two broadcasts never counts in the hub's favour.
    let floor = if floor_after.one_way.p99 <= floor_before.one_way.p99 {
        &floor_after
    } else {
        &floor_before
    };

    let first = Percentiles::of(&mut all);
    let speakers_p = Percentiles::of(&mut loud);
    Ok(EmergencySummary {
        scenario: "emergency",
        devices,
        first_audio_p50_ms: first.p50,
        first_audio_p99_ms: first.p99,
        first_audio_max_ms: first.max,
        floor_p99_ms: floor.one_way.p99,
        ratio_p99: ratio(first.p99, floor.one_way.p99),
        connect_all_ms: millis(connect_all),
        speakers: speaker_count,
        speakers_p99_ms: speakers_p.p99,
        failed: failed.len(),
        audio_bytes: audio.size,
        first_part_bytes,
        inline_head_bytes: inline_head_bytes as u64,
        runs: 1,
        details: EmergencyDetails {
            communes,
            audio_ms: audio.duration_ms,
            parts: parts.len(),
            acks: Percentiles::of(&mut acked.into_values().collect::<Vec<_>>()),
            floor_before_p99_ms: floor_before.one_way.p99,
            floor_after_p99_ms: floor_after.one_way.p99,
            floor_p50_ms: floor.one_way.p50,
            floor_max_ms: floor.one_way.max,
            floor_connect_ms: millis(floor.connect_all),
            hub_cpu_ms,
            devices_cpu_ms,
            floor_broker_cpu_ms: floor.broker_cpu_ms,
            floor_devices_cpu_ms: floor.devices_cpu_ms,
            fleet,
        },
    })
}

/// Speaks `text` and stores it in the media store of `data_dir`, as the
/// hub's API does for an operator; returns the stored file and its slot.
fn pre_ingest(
    data_dir: &std::path::Path,
    bulletin: &BulletinId,
    language: &Language,
    text: &str,
) -> anyhow::Result<(StoredAudio, u32)> {
    std::fs::create_dir_all(data_dir)?;
    let store = hub_store::Store::open(data_dir)?;
    let media = MediaStore::open(data_dir, store)?;
    let job = AudioJob {
        bulletin: bulletin.clone(),
        language: language.clone(),
        input: AudioInput::Speech(text.to_string()),
        declared_secs: None,
    };
    let mut ingested = ingest_all(&[job], &media, &hub_media::AudioSettings::default())?;
    let ingested = ingested.pop().context("one variant ingested")?;
    Ok((ingested.media, ingested.secs))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn floors_far_apart_warn_that_the_run_is_not_comparable() {
        assert!(drift_warning(210.0, 250.0).starts_with("the two floors agree"));
        assert!(drift_warning(354.0, 229.0).contains("354.0 ms before, 229.0 ms after"));
        assert!(drift_warning(200.0, 260.0).contains("run again"));
    }
}
