//! Many simulated devices in one tokio runtime.
//!
//! Every device is one task with one socket and small buffers, all on one
//! shared [`Clock`]. Connections are paced: device `i` first connects
//! `i / connect_rate` seconds after the start, so the broker is never asked
//! to accept more than `connect_rate` connections a second. The devices
//! share their signature checks and what they read from checked payloads,
//! commands ([`VerifiedCommands`]) and live chunks ([`VerifiedChunks`]: a
//! live stream is five chunks a second to every loudspeaker): real devices
//! each have a processor of their own, simulated ones share the hub's
//! machine.
//! They also share their download slots and file contents
//! ([`crate::media::MediaOptions`]): every device gets a clone of the same
//! options.

use std::collections::BTreeMap;
use std::time::Duration;

use hub_proto::live::VerifiedChunks;
use hub_proto::{Clock, Outcome, Provisioning, VerifiedCommands};
use rand::rngs::StdRng;
use rand::SeedableRng;
use tokio::time::Instant;

use crate::broker::BrokerAddr;
use crate::faults::{Fault, Target};
use crate::link::{DeviceConfig, DeviceHandle, LinkOptions, SetupError};
use crate::media::MediaTrust;

/// How a fleet runs.
#[derive(Clone, Debug)]
pub struct FleetOptions {
    /// New connections per second, at most.
    pub connect_rate: u32,
    /// How each device links to the broker.
    pub link: LinkOptions,
}

impl Default for FleetOptions {
    fn default() -> Self {
        Self {
            connect_rate: 2000,
            link: LinkOptions::default(),
        }
    }
}

/// Not every device connected in time.
#[derive(Debug, thiserror::Error)]
#[error("{connected} of {devices} devices connected in time")]
pub struct NotConnected {
    /// Devices connected when the wait gave up.
    pub connected: usize,
    /// Devices in the fleet.
    pub devices: usize,
}

/// A fault named a device the fleet does not run.
#[derive(Debug, thiserror::Error)]
#[error("no device {0} in this fleet")]
pub struct UnknownDevice(pub String);

/// Totals over a fleet.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct Summary {
    /// Devices in the fleet.
    pub devices: usize,
    /// Devices holding a connection now.
    pub connected: usize,
    /// Commands accepted and acknowledged.
    pub commands_accepted: u64,
    /// Refused commands by kind ([`hub_proto::Refusal::code`]).
    pub refused: BTreeMap<&'static str, u64>,
    /// Redeliveries of accepted commands, ignored.
    pub duplicates: u64,
    /// Connections made, reconnections included.
    pub connects: u64,
    /// Reports dropped from full queues while links were down.
    pub dropped_reports: u64,
    /// Airings started, and those that failed at their start for want of
    /// their media.
    pub airings_started: u64,
    /// Airings that ran to their end.
    pub airings_finished: u64,
    /// Airings cut by an emergency.
    pub airings_preempted: u64,
    /// Airings stopped on the hub's order.
    pub airings_stopped: u64,
    /// Airings that failed: cut by a power loss, or due without their media.
    pub airings_failed: u64,
    /// Media files downloaded, verified and stored.
    pub media_downloads: u64,
    /// Media body bytes received.
    pub media_bytes: u64,
    /// Media requests that resumed a cut download.
    pub media_resumes: u64,
    /// Media downloads discarded for a wrong size or SHA-256.
    pub media_mismatches: u64,
    /// Media download attempts that failed.
    pub media_failures: u64,
    /// Media files given up on until the device's next plan.
    pub media_abandoned: u64,
}

/// A running fleet of simulated devices.
pub struct Fleet {
    devices: Vec<DeviceHandle>,
    started: Instant,
}

impl Fleet {
    /// Starts every device of `provisioning` on the current tokio runtime,
    /// connecting to `broker_override` if given, else to the provisioned broker.
    pub fn start(
        provisioning: &Provisioning,
        broker_override: Option<&str>,
        clock: Clock,
        options: &FleetOptions,
    ) -> Result<Self, SetupError> {
        let broker: BrokerAddr = broker_override.unwrap_or(&provisioning.broker).parse()?;
        let verified = VerifiedCommands::default();
        let chunks = VerifiedChunks::default();
        // One set of TLS client settings for the whole fleet.
        let media_trust = MediaTrust::of(provisioning)?;
        let configs = provisioning
            .devices
            .iter()
            .map(|device| {
                let mut config =
                    DeviceConfig::from_credentials(device, &provisioning.hub_public_key)?;
                config.guard = config.guard.sharing(verified.clone());
                config.live = config.live.sharing(chunks.clone());
                config.media_trust = media_trust.clone();
                Ok(config)
            })
            .collect::<Result<Vec<_>, SetupError>>()?;
        let rate = f64::from(options.connect_rate.max(1));
        let started = Instant::now();
        let devices = configs
            .into_iter()
            .enumerate()
            .map(|(i, config)| {
                let delay = Duration::from_secs_f64(i as f64 / rate);
                DeviceHandle::spawn_after(config, &broker, clock, &options.link, delay)
            })
            .collect();
        Ok(Self { devices, started })
    }

    /// Every device, in provisioning order.
    pub fn devices(&self) -> &[DeviceHandle] {
        &self.devices
    }

    /// The device with this id.
    pub fn device(&self, id: &str) -> Option<&DeviceHandle> {
        self.devices.iter().find(|d| d.id() == id)
    }

    /// Waits until every device has connected and said Hello; returns how
    /// long that took from the start of the fleet.
    pub async fn wait_connected(&self, timeout: Duration) -> Result<Duration, NotConnected> {
        let all = async {
            for device in &self.devices {
                device.wait_ready().await;
            }
        };
        match tokio::time::timeout(timeout, all).await {
            Ok(()) => Ok(self.started.elapsed()),
            Err(_) => Err(NotConnected {
                connected: self.devices.iter().filter(|d| d.is_connected()).count(),
                devices: self.devices.len(),
            }),
        }
    }

    /// Injects `fault` into the devices `target` names, now; returns their
    /// ids, in fleet order. Unknown ids are an error and nothing is injected.
    pub async fn inject(
        &self,
        fault: Fault,
        target: &Target,
    ) -> Result<Vec<String>, UnknownDevice> {
        let chosen: Vec<&DeviceHandle> = match target {
            Target::Share { share, seed } => {
                let count = (share * self.devices.len() as f64).round() as usize;
                let mut rng = StdRng::seed_from_u64(*seed);
                let mut picked: Vec<usize> =
                    rand::seq::index::sample(&mut rng, self.devices.len(), count).into_vec();
                picked.sort_unstable();
                picked.into_iter().map(|i| &self.devices[i]).collect()
            }
            Target::Devices(ids) => ids
                .iter()
                .map(|id| self.device(id).ok_or_else(|| UnknownDevice(id.clone())))
                .collect::<Result<_, _>>()?,
        };
        for device in &chosen {
            device.inject(fault).await;
        }
        Ok(chosen.iter().map(|d| d.id().to_string()).collect())
    }

    /// Totals over all devices now.
    pub fn summary(&self) -> Summary {
        let mut summary = Summary {
            devices: self.devices.len(),
            ..Summary::default()
        };
        for device in &self.devices {
            summary.connected += usize::from(device.is_connected());
            let counters = device.counters();
            summary.commands_accepted += counters.accepted;
            for (kind, count) in counters.refused {
                *summary.refused.entry(kind).or_default() += count;
            }
            summary.duplicates += counters.duplicates;
            summary.connects += counters.connects;
            summary.dropped_reports += counters.dropped_reports;
            summary.media_downloads += counters.media.downloads;
            summary.media_bytes += counters.media.bytes;
            summary.media_resumes += counters.media.resumes;
            summary.media_mismatches += counters.media.mismatches;
            summary.media_failures += counters.media.failures;
            summary.media_abandoned += counters.media.abandoned;
            for line in device.timeline() {
                summary.airings_started += 1;
                match line.outcome {
                    Outcome::Finished => summary.airings_finished += 1,
                    Outcome::Preempted => summary.airings_preempted += 1,
                    Outcome::Stopped => summary.airings_stopped += 1,
                    Outcome::Failed => summary.airings_failed += 1,
                    Outcome::Started => {}
                }
            }
        }
        summary
    }

    /// Disconnects every device cleanly and waits for them to end.
    pub async fn stop(self) {
        for device in &self.devices {
            device.request_stop();
        }
        for device in self.devices {
            device.join().await;
        }
    }
}
