//! `hub-bench`: runs one scenario, prints a few human lines, then its summary
//! as one line of JSON (always the last line). Exits 2 on bad arguments (clap)
//! and 1 when the scenario fails, with the reason on stderr.

use std::process::ExitCode;

use anyhow::Context;
use chrono::{DateTime, Utc};
use clap::{Args, Parser, Subcommand};
use hub_bench::load::{
    LoadParams, DEFAULT_AT, DEFAULT_BULLETINS, DEFAULT_COMMUNES, DEFAULT_DEVICES_PER_COMMUNE,
    DEFAULT_SEED,
};
use hub_bench::scenarios::emergency::{self, EmergencyParams};
use hub_bench::scenarios::fanout::{self, FanoutParams};
use hub_bench::scenarios::fleet::{self, devices};
use hub_bench::scenarios::ingest::{self, IngestParams};
use hub_bench::scenarios::plan;

#[derive(Parser)]
#[command(name = "hub-bench", version, about = "Benchmarks for the Nguồn hub")]
struct Cli {
    #[command(subcommand)]
    scenario: Scenario,
}

#[derive(Subcommand)]
enum Scenario {
    /// Plan one day for every device of a national-scale load.
    Plan(LoadArgs),
    /// Connect N simulated devices (in a child process) to the hub, then send
    /// one bulletin to all; the same over the bare broker as the baseline.
    Fanout(FanoutArgs),
    /// An operator's emergency with a spoken file no device holds: from the
    /// trigger to the first audio on each of N devices (in a child process);
    /// the raw broadcast of one message to them, before and after, as the floor.
    Emergency(EmergencyArgs),
    /// Transcode N seconds of speech (a phone's MP3) to the broadcast Ogg
    /// Opus; the same with `ffmpeg -c:a libopus` as the baseline.
    Ingest(IngestArgs),
    /// The device process of `fanout` and `emergency` (started by them).
    #[command(hide = true)]
    FanoutDevices(DevicesArgs),
    /// Touches free memory before a measured broadcast (`hub_bench::free_memory`).
    #[command(hide = true)]
    TouchMemory(TouchArgs),
}

#[derive(Args)]
struct TouchArgs {
    /// MiB to touch.
    #[arg(long, default_value_t = hub_bench::free_memory::MIB)]
    mib: usize,
}

#[derive(Args)]
struct FanoutArgs {
    #[arg(long, default_value_t = 1000)]
    devices: usize,
    #[arg(long, default_value_t = DEFAULT_DEVICES_PER_COMMUNE)]
    devices_per_commune: usize,
    /// New connections per second from the device process, at most.
    #[arg(long, default_value_t = 4000)]
    connect_rate: u32,
    /// Longest wait for connecting and for acknowledgements, in seconds.
    #[arg(long, default_value_t = 60)]
    timeout_secs: u64,
    /// Independent runs, each in a fresh process (a fresh hub, devices,
    /// baseline and memory); the last line then holds the median of each
    /// figure over the runs.
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..))]
    runs: u32,
}

#[derive(Args)]
struct EmergencyArgs {
    #[arg(long, default_value_t = 1000)]
    devices: usize,
    #[arg(long, default_value_t = DEFAULT_DEVICES_PER_COMMUNE)]
    devices_per_commune: usize,
    /// New connections per second from the device process, at most.
    #[arg(long, default_value_t = 4000)]
    connect_rate: u32,
    /// Media downloads at once in the device process (open files: devices
    /// plus this must fit the limit).
    #[arg(long, default_value_t = 512)]
    downloads: usize,
    /// Longest wait for connecting and for every device to start, in seconds.
    #[arg(long, default_value_t = 60)]
    timeout_secs: u64,
    /// Independent runs, each in a fresh process; the last line then holds
    /// the median of each figure over the runs.
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..))]
    runs: u32,
}

#[derive(Args)]
struct IngestArgs {
    /// Length of the speech input; the pipeline accepts up to 10 minutes.
    #[arg(long, default_value_t = 60, value_parser = clap::value_parser!(u32).range(1..=600))]
    input_seconds: u32,
    /// Timed runs of each side; the summary holds the medians.
    #[arg(long, default_value_t = 5, value_parser = clap::value_parser!(u32).range(1..))]
    repetitions: u32,
}

#[derive(Args)]
struct DevicesArgs {
    #[arg(long, value_enum)]
    mode: devices::Mode,
    #[arg(long)]
    provisioning: std::path::PathBuf,
    #[arg(long)]
    broker: Option<String>,
    #[arg(long)]
    connect_rate: u32,
    #[arg(long, default_value_t = firmware_sim::MediaOptions::DEFAULT_DOWNLOADS)]
    downloads: usize,
}

/// The size and shape of the generated load.
#[derive(Args)]
struct LoadArgs {
    #[arg(long, default_value_t = DEFAULT_COMMUNES)]
    communes: usize,
    /// Loudspeaker clusters plus LED boards (about one in ten) per commune.
    #[arg(long, default_value_t = DEFAULT_DEVICES_PER_COMMUNE)]
    devices_per_commune: usize,
    #[arg(long, default_value_t = DEFAULT_BULLETINS)]
    bulletins: usize,
    /// Seed of the generator: the same seed builds the same load.
    #[arg(long, default_value_t = DEFAULT_SEED)]
    seed: u64,
    /// The instant to plan from (RFC 3339); plans run to the next local midnight.
    #[arg(long, default_value = DEFAULT_AT, value_parser = parse_at)]
    at: DateTime<Utc>,
}

impl From<LoadArgs> for LoadParams {
    fn from(args: LoadArgs) -> Self {
        Self {
            communes: args.communes,
            devices_per_commune: args.devices_per_commune,
            bulletins: args.bulletins,
            seed: args.seed,
            at: args.at,
        }
    }
}

fn parse_at(text: &str) -> Result<DateTime<Utc>, String> {
    DateTime::parse_from_rfc3339(text)
        .map(|t| t.with_timezone(&Utc))
        .map_err(|e| format!("expected an RFC 3339 instant such as {DEFAULT_AT}: {e}"))
}

fn main() -> ExitCode {
    if let Err(err) = hub_proto::check_cpu() {
        eprintln!("hub-bench: {err}");
        return ExitCode::FAILURE;
    }
    let cli = Cli::parse();
    // Warnings (a device giving up, the store failing) belong in a
    // benchmark's output; not the broker's complaints about the device
    // process ending. HUB_LOG asks for more, as with `hub`.
    let filter = tracing_subscriber::EnvFilter::try_from_env("HUB_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn,rumqttd=off"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .init();
    match run(cli.scenario) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("hub-bench: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn run(scenario: Scenario) -> anyhow::Result<()> {
    match scenario {
        Scenario::Plan(args) => {
            let summary = plan::run(&args.into())?;
            report(summary.describe(), &summary)?;
        }
        Scenario::Fanout(args) => {
            let params = FanoutParams {
                devices: args.devices,
                devices_per_commune: args.devices_per_commune,
                connect_rate: args.connect_rate,
                timeout: std::time::Duration::from_secs(args.timeout_secs),
            };
            if args.runs == 1 {
                let summary = runtime()?.block_on(fanout::run(&params))?;
                report(summary.describe(), &summary)?;
            } else {
                let flags = [
                    ("--devices", args.devices.to_string()),
                    (
                        "--devices-per-commune",
                        args.devices_per_commune.to_string(),
                    ),
                    ("--connect-rate", args.connect_rate.to_string()),
                    ("--timeout-secs", args.timeout_secs.to_string()),
                ];
                println!(
                    "{}",
                    fleet::run_repeatedly("fanout", args.runs, &flat(&flags))?
                );
            }
        }
        Scenario::Emergency(args) => {
            let params = EmergencyParams {
                devices: args.devices,
                devices_per_commune: args.devices_per_commune,
                connect_rate: args.connect_rate,
                downloads: args.downloads,
                timeout: std::time::Duration::from_secs(args.timeout_secs),
            };
            if args.runs == 1 {
                let summary = runtime()?.block_on(emergency::run(&params))?;
                report(summary.describe(), &summary)?;
            } else {
                let flags = [
                    ("--devices", args.devices.to_string()),
                    (
                        "--devices-per-commune",
                        args.devices_per_commune.to_string(),
                    ),
                    ("--connect-rate", args.connect_rate.to_string()),
                    ("--downloads", args.downloads.to_string()),
                    ("--timeout-secs", args.timeout_secs.to_string()),
                ];
                let median = fleet::run_repeatedly("emergency", args.runs, &flat(&flags))?;
                println!("{median}");
            }
        }
        Scenario::Ingest(args) => {
            let params = IngestParams {
                input_seconds: args.input_seconds,
                repetitions: args.repetitions,
            };
            let summary = ingest::run(&params, &mut |line| println!("{line}"))?;
            println!("{}", serde_json::to_string(&summary)?);
        }
        Scenario::FanoutDevices(args) => {
            let provisioning =
                hub_proto::Provisioning::from_json(&std::fs::read(&args.provisioning)?)?;
            runtime()?.block_on(devices::run(
                args.mode,
                &provisioning,
                args.broker.as_deref(),
                args.connect_rate,
                args.downloads,
            ))?;
        }
        Scenario::TouchMemory(args) => {
            let peak = hub_bench::free_memory::touch(args.mib)
                .context("reading this process's peak memory")?;
            println!("touched {} MiB; peak resident {peak} kB", args.mib);
        }
    }
    Ok(())
}

/// `[(flag, value)]` as command-line arguments.
fn flat(flags: &[(&str, String)]) -> Vec<String> {
    flags
        .iter()
        .flat_map(|(flag, value)| [flag.to_string(), value.clone()])
        .collect()
}

fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    Ok(tokio::runtime::Runtime::new()?)
}

/// Prints a scenario's lines for people, then its JSON summary as the last line.
fn report(lines: Vec<String>, summary: &impl serde::Serialize) -> anyhow::Result<()> {
    for line in lines {
        println!("{line}");
    }
    println!("{}", serde_json::to_string(summary)?);
    Ok(())
}
