//! `firmware-sim`: runs simulated devices against a hub's broker.

mod hub_config;
mod snapshot;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use chrono::{DateTime, Utc};
use clap::{Parser, Subcommand};
use firmware_sim::faults::parse_injection;
use firmware_sim::{Fleet, FleetOptions, LinkOptions, MediaOptions, Summary};
use hub_proto::{Clock, Provisioning};
use serde::Serialize;
use tokio::sync::Semaphore;

#[derive(Parser)]
#[command(version, about = "Simulated Nguồn field devices")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Runs every device of a provisioning file in this process.
    Fleet(FleetArgs),
    /// LED boards.
    #[command(subcommand)]
    Board(BoardCommand),
}

#[derive(Subcommand)]
enum BoardCommand {
    /// Runs one LED board until it has synced with the hub (hello answered
    /// with settings and plan), draws what it shows then to a PNG, prints one
    /// JSON line `{"event":"snapshot","device","text","bulletin","path"}` and
    /// disconnects.
    Snapshot(snapshot::SnapshotArgs),
}

#[derive(clap::Args)]
#[command(group = clap::ArgGroup::new("source").required(true).args(["provisioning", "config"]))]
struct FleetArgs {
    /// Provisioning file exported by the hub.
    #[arg(long)]
    provisioning: Option<PathBuf>,
    /// The hub's configuration file: runs every device of its province, with
    /// the provisioning file the hub keeps in its data directory.
    #[arg(long)]
    config: Option<PathBuf>,
    /// Broker to use instead of the provisioned one, `mqtt://host:port`.
    #[arg(long)]
    broker: Option<String>,
    /// What the device clock reads at start (RFC 3339); default: now.
    #[arg(long)]
    clock_origin: Option<DateTime<Utc>>,
    /// How many times faster than real time the device clock runs.
    #[arg(long, default_value_t = 1.0)]
    clock_speed: f64,
    /// New connections per second, at most.
    #[arg(long, default_value_t = 2000)]
    connect_rate: u32,
    /// Seconds (real time) between status reports.
    #[arg(long, default_value_t = 60)]
    heartbeat_secs: u64,
    /// Media downloads at once over the whole fleet.
    #[arg(long, default_value_t = MediaOptions::DEFAULT_DOWNLOADS)]
    media_downloads: usize,
    /// Stop after this many seconds (real time); default: run until ctrl-c.
    #[arg(long)]
    duration_secs: Option<u64>,
    /// A fault to inject, as FAULT@TARGET: `link-down:30s@20%`,
    /// `flapping:2s/1s*5@10%`, `slow-link:500ms/60s@5%`,
    /// `power-loss:10s@24611-LS-01`, `clock-skew:-90s@1%`,
    /// `corrupt-media:1@5%` (the next download arrives corrupted, is refused
    /// for its hash and fetched again), `full-storage:60s@5%` (no new media
    /// file is stored: entries without theirs fail, status says
    /// `storage_full`). Durations in real time; the target a share of the
    /// fleet or device ids. Repeatable.
    #[arg(long = "fault", value_name = "FAULT@TARGET")]
    faults: Vec<String>,
    /// Seconds (real time) after every device connected when the faults hit.
    #[arg(long, default_value_t = 10)]
    faults_after_secs: u64,
    /// Picks the devices a share of the fleet names; the same seed, the same devices.
    #[arg(long, default_value_t = 1)]
    seed: u64,
}

fn main() -> anyhow::Result<()> {
    hub_proto::check_cpu()?;
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
        )
        .init();
    let runtime = tokio::runtime::Runtime::new().context("starting the tokio runtime")?;
    match Cli::parse().command {
        Command::Fleet(args) => runtime.block_on(fleet(args)),
        Command::Board(BoardCommand::Snapshot(args)) => runtime.block_on(snapshot::run(args)),
    }
}

async fn fleet(args: FleetArgs) -> anyhow::Result<()> {
    anyhow::ensure!(
        args.clock_speed.is_finite() && args.clock_speed > 0.0,
        "--clock-speed must be a positive number"
    );
    let path = match (&args.provisioning, &args.config) {
        (Some(path), _) => path.clone(),
        (None, Some(config)) => hub_config::provisioning_path(config)?,
        (None, None) => unreachable!("clap requires one of them"),
    };
    let bytes = std::fs::read(&path).with_context(|| {
        format!(
            "reading the provisioning file {} (`hub serve` or `hub provision` writes it)",
            path.display()
        )
    })?;
    let provisioning =
        Provisioning::from_json(&bytes).with_context(|| format!("reading {}", path.display()))?;
    let faults = args
        .faults
        .iter()
        .map(|text| parse_injection(text, args.seed))
        .collect::<Result<Vec<_>, _>>()?;
    let clock = Clock::simulated(args.clock_origin.unwrap_or_else(Utc::now), args.clock_speed);
    let options = FleetOptions {
        connect_rate: args.connect_rate,
        link: LinkOptions {
            heartbeat: Duration::from_secs(args.heartbeat_secs.max(1)),
            media: MediaOptions {
                downloads: Arc::new(Semaphore::new(args.media_downloads.max(1))),
                ..MediaOptions::default()
            },
            ..LinkOptions::default()
        },
    };
    let fleet = Fleet::start(&provisioning, args.broker.as_deref(), clock, &options)?;
    let run_for = args.duration_secs.map(Duration::from_secs);
    let deadline = tokio::time::sleep(run_for.unwrap_or(Duration::MAX / 4));
    tokio::pin!(deadline);
    let ctrl_c = tokio::signal::ctrl_c();
    tokio::pin!(ctrl_c);

    tokio::select! {
        connected = fleet.wait_connected(Duration::MAX / 4) => {
            // Only a timeout fails, and this one never comes first.
            if let Ok(took) = connected {
                print_line(&Connected {
                    event: "connected",
                    devices: fleet.devices().len(),
                    connect_all_ms: took.as_millis(),
                });
            }
            let injecting = async {
                tokio::time::sleep(Duration::from_secs(args.faults_after_secs)).await;
                for (fault, target) in &faults {
                    let devices = fleet.inject(*fault, target).await?;
                    print_line(&Injected {
                        event: "fault",
                        fault: fault.to_string(),
                        devices,
                    });
                }
                std::future::pending::<anyhow::Result<()>>().await
            };
            tokio::select! {
                injected = injecting => injected?,
                () = &mut deadline => {}
                signal = &mut ctrl_c => signal.context("waiting for ctrl-c")?,
            }
        }
        () = &mut deadline => {}
        signal = &mut ctrl_c => signal.context("waiting for ctrl-c")?,
    }
    print_line(&SummaryLine::new(fleet.summary()));
    fleet.stop().await;
    Ok(())
}

/// The line printed once every device is connected.
#[derive(Serialize)]
struct Connected {
    event: &'static str,
    devices: usize,
    connect_all_ms: u128,
}

/// The line printed for each fault injected.
#[derive(Serialize)]
struct Injected {
    event: &'static str,
    fault: String,
    devices: Vec<String>,
}

/// The line printed at the end.
#[derive(Serialize)]
struct SummaryLine {
    event: &'static str,
    #[serde(flatten)]
    summary: Summary,
}

impl SummaryLine {
    fn new(summary: Summary) -> Self {
        Self {
            event: "summary",
            summary,
        }
    }
}

/// Prints one JSON line to stdout.
fn print_line(line: &impl Serialize) {
    match serde_json::to_string(line) {
        Ok(json) => println!("{json}"),
        Err(error) => tracing::error!(%error, "could not write an output line"),
    }
}
