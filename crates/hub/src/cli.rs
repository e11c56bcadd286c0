//! The `hub` command line.

use std::io::Write;
use std::path::PathBuf;

use anyhow::Context;
use chrono::{DateTime, FixedOffset, Utc};
use clap::{Parser, Subcommand};
use hub_access::{Password, Username};
use hub_core::{AreaCode, AreaLevel, DayPlanner, DeviceLog};
use hub_store::{Store, StoreError};

use crate::client::ApiArgs;
use crate::config;
use crate::logging::{self, LogFormat};
use crate::media::MediaStore;
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
    /// Run the demo: the hub with its embedded broker and every device of the
    /// province simulated over real MQTT, on a fast clock, printing what airs.
    Demo {
        /// Province configuration file.
        #[arg(long, short, default_value = "configs/demo-province.toml")]
        config: PathBuf,
        /// Where the clock starts (RFC 3339).
        #[arg(long, default_value = "2026-11-23T05:00:00+07:00")]
        from: DateTime<FixedOffset>,
        /// How much faster than real time the clock runs.
        #[arg(long, default_value_t = 60.0)]
        speed: f64,
        /// How long the demo runs, in real seconds.
        #[arg(long, default_value_t = 90)]
        duration_secs: u64,
        /// Log lines for people (`human`) or one JSON object per line
        /// (`json`); overrides HUB_LOG_FORMAT and the file's [log] format.
        #[arg(long, value_enum)]
        log_format: Option<LogFormat>,
    },
    /// Run the hub: the embedded MQTT broker (or a client of an external one),
    /// the scheduler, and delivery to every device, until Ctrl-C or SIGTERM.
    Serve(ServeArgs),
    /// Write a backup of the store and its media files to one file, with a
    /// checksum. While `hub serve` runs on the store, the running hub takes
    /// it (a consistent snapshot, through the API: an administrator's
    /// HUB_TOKEN); otherwise the store is read directly.
    Backup {
        /// Province configuration file (for its data_dir and API address).
        #[arg(long, short, default_value = "configs/demo-province.toml")]
        config: PathBuf,
        /// Store directory; overrides the file's data_dir and HUB_DATA_DIR.
        #[arg(long)]
        data: Option<PathBuf>,
        /// The backup file to write.
        #[arg(long)]
        to: PathBuf,
        /// The running hub's API, http://host:port; default: the
        /// configuration's api.listen.
        #[arg(long, env = "HUB_API_URL")]
        api: Option<String>,
        /// An administrator's session or API token, for a running hub.
        #[arg(long, env = "HUB_TOKEN", hide_env_values = true)]
        token: Option<String>,
    },
    /// Print every record of a store, or of a backup file, one JSON line
    /// each in a fixed order: equal output, equal state.
    Export {
        /// Province configuration file (for its data_dir).
        #[arg(long, short, default_value = "configs/demo-province.toml")]
        config: PathBuf,
        /// Store directory; overrides the file's data_dir and HUB_DATA_DIR.
        #[arg(long, conflicts_with = "backup")]
        data: Option<PathBuf>,
        /// A backup file to export instead of a store (checked whole first).
        #[arg(long)]
        backup: Option<PathBuf>,
    },
    /// Check a backup whole, then restore it into a new, empty data
    /// directory; a damaged or truncated backup restores nothing.
    Restore {
        /// The backup file.
        #[arg(long)]
        from: PathBuf,
        /// The data directory to create (must be absent or empty).
        #[arg(long)]
        data: PathBuf,
    },
    /// Administrators' commands on the store.
    Admin {
        #[command(subcommand)]
        command: AdminCommand,
    },
    /// Accounts, through the API (HUB_API_URL, HUB_TOKEN).
    User {
        #[command(subcommand)]
        command: crate::people::UserCommand,
    },
    /// Devices, through the API: register (writing the provisioning file),
    /// credentials, revoke.
    Device {
        #[command(subcommand)]
        command: crate::people::DeviceCommand,
    },
    /// Bulletins, through the API: create (with an audio file or speech),
    /// approve, reject, cancel, list.
    Bulletin {
        #[command(subcommand)]
        command: crate::people::BulletinCommand,
    },
    /// Emergency broadcasts, through the API: trigger, stop, correct, and
    /// CAP 1.2 alert documents.
    Emergency {
        #[command(subcommand)]
        command: crate::people::EmergencyCommand,
    },
    /// Read the audit log, through the API.
    Audit(crate::people::AuditArgs),
    /// The broadcasting report of a period (2026-H2, or --from/--to) as
    /// JSON, CSV or a printable HTML page, through the API.
    Report(crate::people::ReportArgs),
    /// Write the provisioning file devices (and firmware-sim) join with: each
    /// device's credentials and the hub's public key. It holds secrets and is
    /// written readable by its owner only.
    Provision {
        /// Province configuration file.
        #[arg(long, short, default_value = "configs/demo-province.toml")]
        config: PathBuf,
        /// Store directory; overrides the file's data_dir and HUB_DATA_DIR.
        #[arg(long)]
        data: Option<PathBuf>,
        /// Where to write the file; default: provisioning.json in the data
        /// directory, where `hub serve` also keeps it up to date.
        #[arg(long)]
        out: Option<PathBuf>,
    },
}

#[derive(Debug, Subcommand)]
pub enum AdminCommand {
    /// Create an administrator account in the store, before the first
    /// `hub serve` (the store is locked while the hub runs; later accounts
    /// are created through the API). The password is read from
    /// HUB_ADMIN_PASSWORD, or else from the first line of standard input.
    Create {
        /// Province configuration file.
        #[arg(long, short, default_value = "configs/demo-province.toml")]
        config: PathBuf,
        /// Store directory; overrides the file's data_dir and HUB_DATA_DIR.
        #[arg(long)]
        data: Option<PathBuf>,
        /// Account name: lower-case letters, digits, '.', '_', '-'.
        #[arg(long)]
        username: String,
        /// The person's full name.
        #[arg(long)]
        display_name: String,
        /// The area the administrator is scoped to; default: the province.
        #[arg(long)]
        area: Option<String>,
    },
}

#[derive(Debug, clap::Args)]
pub struct ServeArgs {
    /// Province configuration file.
    #[arg(long, short, default_value = "configs/demo-province.toml")]
    pub config: PathBuf,
    /// Store directory; overrides the file's data_dir and HUB_DATA_DIR.
    #[arg(long)]
    pub data: Option<PathBuf>,
    /// Use an external broker, mqtt://[user:pass@]host:port or mqtts://…,
    /// instead of the embedded one.
    #[arg(long)]
    pub broker: Option<String>,
    /// CA certificate (PEM) for an mqtts:// external broker.
    #[arg(long, requires = "broker")]
    pub broker_ca: Option<PathBuf>,
    /// Listen address of the embedded broker; overrides link.mqtt_listen.
    #[arg(long)]
    pub mqtt_listen: Option<std::net::SocketAddr>,
    /// Listen address of the media server; overrides link.media_listen.
    #[arg(long)]
    pub media_listen: Option<std::net::SocketAddr>,
    /// Serve media over HTTPS with this PEM certificate chain; overrides
    /// link.media_tls.cert (and HUB_MEDIA_TLS_CERT).
    #[arg(long)]
    pub media_tls_cert: Option<PathBuf>,
    /// The PEM private key of --media-tls-cert; overrides link.media_tls.key.
    #[arg(long)]
    pub media_tls_key: Option<PathBuf>,
    /// The CA (PEM) devices are told to trust for media; overrides
    /// link.media_tls.ca.
    #[arg(long)]
    pub media_tls_ca: Option<PathBuf>,
    /// Listen address of the people's API; overrides api.listen.
    #[arg(long)]
    pub api_listen: Option<std::net::SocketAddr>,
    /// Also write the provisioning file here once the broker listens (it is
    /// always written to provisioning.json in the data directory).
    #[arg(long)]
    pub provisioning_out: Option<PathBuf>,
    /// Start the hub's clock at this instant (RFC 3339) instead of now: demos and tests.
    #[arg(long)]
    pub clock_origin: Option<DateTime<FixedOffset>>,
    /// Run the clock this many times faster than real time: demos and tests.
    #[arg(long, default_value_t = 1.0)]
    pub clock_speed: f64,
    /// Stop by itself after this many real seconds.
    #[arg(long)]
    pub duration_secs: Option<u64>,
    /// Log lines for people (`human`) or one JSON object per line
    /// (`json`); overrides HUB_LOG_FORMAT and the file's [log] format.
    #[arg(long, value_enum)]
    pub log_format: Option<LogFormat>,
}

/// The `hub` program: parses the command line from the process, sets up
/// logging (HUB_LOG filter; human or JSON lines, see [`crate::logging`]),
/// runs the command and maps its error to the exit code. `main.rs` is only
/// this call (and the end-to-end tests build it into a program of their
/// own, to kill it).
pub fn entry() -> std::process::ExitCode {
    if let Err(err) = hub_proto::check_cpu() {
        eprintln!("hub: {err}");
        return std::process::ExitCode::FAILURE;
    }
    let cli = Cli::parse();
    let (flag, config) = match &cli.command {
        Command::Serve(args) => (args.log_format, Some(args.config.as_path())),
        Command::Demo {
            log_format, config, ..
        } => (*log_format, Some(config.as_path())),
        _ => (None, None),
    };
    match logging::choose(flag, std::env::var_os(logging::ENV_LOG_FORMAT), config) {
        Ok(format) => logging::init(format),
        Err(error) => {
            eprintln!("hub: {error}");
            return std::process::ExitCode::FAILURE;
        }
    }
    let stdout = std::io::stdout();
    match run(cli, &mut stdout.lock()) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("hub: {err:#}");
            std::process::ExitCode::FAILURE
        }
    }
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
        Command::Demo {
            config,
            from,
            speed,
            duration_secs,
            log_format: _,
        } => {
            let runtime = tokio::runtime::Runtime::new().context("starting the async runtime")?;
            let options = crate::demo::DemoOptions {
                config,
                from,
                speed,
                duration: std::time::Duration::from_secs(duration_secs),
                report_every: std::time::Duration::from_secs(10),
            };
            runtime.block_on(crate::demo::demo(options, out))
        }
        Command::Serve(args) => {
            let runtime = tokio::runtime::Runtime::new().context("starting the async runtime")?;
            runtime.block_on(crate::serve::serve(args, out))
        }
        Command::Backup {
            config,
            data,
            to,
            api,
            token,
        } => {
            let loaded = config::load(&config)?;
            let data_dir = data.unwrap_or(loaded.data_dir);
            match Store::open(&data_dir) {
                Ok(store) => {
                    let media = data_dir.join(crate::media::store::MEDIA_DIR);
                    let summary = hub_store::backup::write_backup(&store, &media, &to)?;
                    writeln!(
                        out,
                        "wrote {} records and {} media files to {}",
                        summary.records,
                        summary.media_files,
                        to.display()
                    )?;
                    Ok(())
                }
                Err(StoreError::InUse(_)) => {
                    let token = token.context(
                        "a hub is running on this store: give an administrator's token \
                         (HUB_TOKEN or --token) to take the backup through its API",
                    )?;
                    let api = ApiArgs {
                        api: api.unwrap_or_else(|| format!("http://{}", loaded.api.listen)),
                        token,
                    };
                    let runtime = api_runtime()?;
                    let bytes = runtime.block_on(api.download(
                        hyper::Method::POST,
                        "/api/v1/backups",
                        &to,
                    ))?;
                    // Checked here too: a backup is only as good as its copy.
                    let summary = hub_store::backup::read_backup(&to)?.summary;
                    writeln!(
                        out,
                        "wrote {} records and {} media files to {} ({bytes} bytes, taken by the running hub)",
                        summary.records,
                        summary.media_files,
                        to.display()
                    )?;
                    Ok(())
                }
                Err(other) => Err(anyhow::Error::new(other)
                    .context(format!("opening the store in {}", data_dir.display()))),
            }
        }
        Command::Export {
            config,
            data,
            backup,
        } => {
            let records = match backup {
                Some(file) => hub_store::backup::read_backup(&file)?.records,
                None => {
                    let data_dir = match data {
                        Some(data) => data,
                        None => config::load(&config)?.data_dir,
                    };
                    Store::open(&data_dir)
                        .with_context(|| format!("opening the store in {}", data_dir.display()))?
                        .snapshot()?
                }
            };
            hub_store::export::write_export(&records, out)?;
            Ok(())
        }
        Command::Restore { from, data } => {
            let summary =
                hub_store::backup::restore_backup(&from, &data, crate::media::store::MEDIA_DIR)?;
            writeln!(
                out,
                "restored {} records and {} media files into {}",
                summary.records,
                summary.media_files,
                data.display()
            )?;
            Ok(())
        }
        Command::Admin {
            command:
                AdminCommand::Create {
                    config,
                    data,
                    username,
                    display_name,
                    area,
                },
        } => {
            let loaded = config::load(&config)?;
            let data_dir = data.unwrap_or_else(|| loaded.data_dir.clone());
            let store = Store::open(&data_dir)
                .with_context(|| format!("opening the store in {}", data_dir.display()))?;
            store.import_province(&loaded.province)?;
            let tree = &loaded.province.tree;
            let area = match area {
                Some(code) => AreaCode::parse(&code)?,
                None => tree
                    .areas()
                    .find(|a| a.level == AreaLevel::Province)
                    .context("the configuration has no province")?
                    .code
                    .clone(),
            };
            let password = Password::new(crate::people::read_password("HUB_ADMIN_PASSWORD")?);
            let account = crate::admin::create_admin(
                &store,
                tree,
                Username::parse(&username)?,
                &display_name,
                area,
                &password,
                Utc::now(),
            )?;
            writeln!(
                out,
                "created administrator {} for area {}",
                account.name, account.area
            )?;
            Ok(())
        }
        Command::User { command } => api_runtime()?.block_on(crate::people::user(command, out)),
        Command::Device { command } => api_runtime()?.block_on(crate::people::device(command, out)),
        Command::Bulletin { command } => {
            api_runtime()?.block_on(crate::people::bulletin(command, out))
        }
        Command::Emergency { command } => {
            api_runtime()?.block_on(crate::people::emergency(command, out))
        }
        Command::Audit(args) => api_runtime()?.block_on(crate::people::audit(args, out)),
        Command::Report(args) => api_runtime()?.block_on(crate::people::report(args, out)),
        Command::Provision {
            config,
            data,
            out: path,
        } => {
            let loaded = config::load(&config)?;
            let data_dir = data.unwrap_or_else(|| loaded.data_dir.clone());
            let store = Store::open(&data_dir)
                .with_context(|| format!("opening the store in {}", data_dir.display()))?;
            let path =
                path.unwrap_or_else(|| data_dir.join(hub_proto::provision::PROVISIONING_FILE_NAME));
            store.import_province(&loaded.province)?;
            let identity = crate::link::identity::Identity::load_or_create(&store)?;
            let secrets = crate::link::identity::ensure_secrets(&store, &loaded.province)?;
            let file = crate::link::identity::provisioning(
                &loaded.province,
                &secrets,
                loaded.link.broker_url(loaded.link.mqtt_listen),
                identity.public_key_text(),
            )
            .with_media_ca(crate::media::tls::provisioned_ca(
                loaded.link.media_tls.as_ref(),
            )?);
            crate::serve::write_secret_file(&path, &file.to_json())?;
            writeln!(
                out,
                "wrote {} device credentials to {}",
                file.devices.len(),
                path.display()
            )?;
            Ok(())
        }
    }
}

/// A small runtime for the API-backed commands.
fn api_runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")
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
    let media = MediaStore::open(&data_dir, store.clone())?;
    let jobs = crate::seed::MediaJobs {
        audio: &loaded.audio,
        visuals: &loaded.visuals,
        board: loaded.board,
    };
    crate::seed::seed_programme(&store, &loaded.programme, &jobs, &media)
        .with_context(|| format!("adding the bulletins of {}", config_path.display()))?;
    store.flush()?;
    let media_base = loaded.link.media_base_url(loaded.link.media_listen);

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
        media_base: &media_base,
    };
    let text = if json {
        day.to_json_lines()
    } else {
        day.to_text()
    };
    out.write_all(text.as_bytes())?;
    Ok(())
}
