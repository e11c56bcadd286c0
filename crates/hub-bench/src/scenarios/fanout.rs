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
//! 5. Before the bulletin and before the baseline's message, a short process
//!    touches free memory ([`crate::free_memory`]): neither broadcast gets
//!    pages this VM handed back to its host at random.

use std::collections::{BTreeMap, HashSet};
use std::time::{Duration, Instant};

use anyhow::{bail, ensure, Context};
use hub_core::{BulletinId, DeliveryState, Event};
use serde::Serialize;

use super::fleet::{
    self, check_fd_limit, country_emergency, cpu, devices::Mode, fleet_summary, hub_provisioning,
    millis, ratio, round2, settle, spawn_devices, start_hub, wait_online, DeviceProcess,
    FleetCounts, Percentiles,
};
use crate::free_memory;
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
    let mut hub = start_hub(
        &load.province,
        &dir.path().join("hub"),
        dir.path().join("provisioning.json"),
    )
    .await?;
    let rss_before_kb = rss::current_rss_kb().context("reading this process's memory")?;

    let started = Instant::now();
    let process = DeviceProcess {
        connect_rate: params.connect_rate,
        downloads: firmware_sim::MediaOptions::DEFAULT_DOWNLOADS,
    };
    let mut child = spawn_devices(Mode::Hub, &hub.provisioning_path, None, &process)?;
    let connect_all = wait_online(&hub.handle, devices, started, params.timeout).await?;
    // Let the hellos' syncs and their acks settle before measuring.
    settle(&mut hub.deliveries, Duration::from_millis(1500)).await;
    let published_before = hub.handle.stats().await?.commands_published;
    let rss_after_kb = rss::current_rss_kb().context("reading this process's memory")?;

    let id = BulletinId::parse("bench-fanout").expect("a valid id");
    let bulletin = country_emergency(&id, "Fan-out benchmark", None, 60, "Cảnh báo");
    let bulletin_id = bulletin.id.clone();
    let devices_pid = child.id().context("the device process's id")?;
    free_memory::refresh().await?;
    let cpu_before = (cpu::of_process(None), cpu::of_process(Some(devices_pid)));
    let queued = Instant::now();
    hub.handle
        .event(Event::Queue(bulletin))
        .await?
        .context("queueing the emergency")?;
    let mut acked = HashSet::new();
    let mut latencies = Vec::with_capacity(devices);
    let deadline = queued + params.timeout;
    while acked.len() < devices {
        let Ok(Some(delivery)) =
            tokio::time::timeout_at(deadline.into(), hub.deliveries.recv()).await
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
    let stats = hub.handle.stats().await?;
    let commands = stats.commands_published - published_before;
    let fleet = fleet_summary(&mut child).await?;
    child.kill().await.ok();
    hub.handle.shutdown().await?;

    let baseline = fleet::raw_broadcast(
        &load.province,
        &hub_provisioning(&hub.provisioning_path)?,
        &hub.settings,
        params.connect_rate,
        400,
        false,
        params.timeout,
    )
    .await?;

    let hub_p = Percentiles::of(&mut latencies);
    Ok(FanoutSummary {
        scenario: "fanout",
        devices,
        connect_all_ms: millis(connect_all),
        ack_p50_ms: hub_p.p50,
        ack_p99_ms: hub_p.p99,
        ack_max_ms: hub_p.max,
        baseline_p99_ms: baseline.round_trip.p99,
        ratio_p99: ratio(hub_p.p99, baseline.round_trip.p99),
        rss_per_device_kb: round2(
            rss_after_kb.saturating_sub(rss_before_kb) as f64 / devices as f64,
        ),
        runs: 1,
        details: FanoutDetails {
            communes,
            commands,
            baseline_connect_ms: millis(baseline.connect_all),
            baseline_p50_ms: baseline.round_trip.p50,
            baseline_max_ms: baseline.round_trip.max,
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
