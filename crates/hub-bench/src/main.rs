//! `hub-bench`: runs one scenario, prints a few human lines, then its summary
//! as one line of JSON (always the last line). Exits 2 on bad arguments (clap)
//! and 1 when the scenario fails, with the reason on stderr.

use std::process::ExitCode;

use chrono::{DateTime, Utc};
use clap::{Args, Parser, Subcommand};
use hub_bench::load::{
    LoadParams, DEFAULT_AT, DEFAULT_BULLETINS, DEFAULT_COMMUNES, DEFAULT_DEVICES_PER_COMMUNE,
    DEFAULT_SEED,
};
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
    let cli = Cli::parse();
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
            for line in summary.describe() {
                println!("{line}");
            }
            println!("{}", serde_json::to_string(&summary)?);
        }
    }
    Ok(())
}
