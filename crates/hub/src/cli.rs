//! The `hub` command line.

use std::io::Write;
use std::path::PathBuf;

use anyhow::Context;
use chrono::{DateTime, FixedOffset, Utc};
use clap::{Parser, Subcommand};
use hub_core::{DayPlanner, DeviceLog};
use hub_store::Store;

use crate::config;
use crate::report::DayPlan;

/// Nguồn: the provincial hub that broadcasts bulletins to commune
/// loudspeakers and public LED boards.
#[derive(Debug, Parser)]
#[command(name = "hub", version, about, long_about = None)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Print what every loudspeaker and LED board will play for the rest of a day.
    ///
    /// Imports the province from the configuration file into the store (areas,
    /// devices and windows are updated; bulletins, chair orders and opt-ins are
    /// added only if the store does not have them yet), then plans from the
    /// store.
    Plan {
        /// Province configuration file.
        #[arg(long, short, default_value = "configs/demo-province.toml")]
        config: PathBuf,
        /// The moment to plan from, RFC 3339 (e.g. 2026-11-23T05:00:00+07:00); default: now.
        #[arg(long)]
        at: Option<DateTime<FixedOffset>>,
        /// Store directory; overrides the file's data_dir and HUB_DATA_DIR.
        #[arg(long)]
        data: Option<PathBuf>,
        /// Print one device-plan JSON document (the wire payload) per line instead of text.
        #[arg(long)]
        json: bool,
    },
}

/// Runs a parsed command, writing its output to `out`.
pub fn run(cli: Cli, out: &mut dyn Write) -> anyhow::Result<()> {
    match cli.command {
        Command::Plan {
            config,
            at,
            data,
            json,
        } => {
            let now = at.map_or_else(Utc::now, |t| t.with_timezone(&Utc));
            plan(&config, now, data, json, out)
        }
    }
}

fn plan(
    config_path: &std::path::Path,
    now: DateTime<Utc>,
    data: Option<PathBuf>,
    json: bool,
    out: &mut dyn Write,
) -> anyhow::Result<()> {
    let loaded = config::load(config_path)?;
    let data_dir = data.unwrap_or(loaded.data_dir);
    let store = Store::open(&data_dir)
        .with_context(|| format!("opening the store in {}", data_dir.display()))?;
    store.import_province(&loaded.province)?;
    crate::seed::seed_programme(&store, &loaded.programme)?;
    store.flush()?;

    let province = store.load_province()?;
    let programme = store.load_programme(&province)?;
    let logs = store.load_logs()?;
    let fresh = DeviceLog::default();
    let mut planner = DayPlanner::new(&province, &programme, now);
    let plans = province
        .devices()
        .map(|d| (&d.id, planner.plan(d, logs.get(&d.id).unwrap_or(&fresh))))
        .collect();
    let day = DayPlan {
        province: &province,
        programme: &programme,
        horizon: planner.horizon(),
        plans,
    };
    let text = if json {
        day.to_json_lines()
    } else {
        day.to_text()
    };
    out.write_all(text.as_bytes())?;
    Ok(())
}
