//! `hub demo`: the hub with its embedded broker and a simulated fleet of the
//! whole province, on a fast clock, printing what the devices do.

use std::io::Write;
use std::time::{Duration, Instant};

use anyhow::Context;
use chrono::{DateTime, FixedOffset, Utc};
use firmware_sim::fleet::{Fleet, FleetOptions};
use hub_access::{Password, SecretToken, Username};
use hub_proto::Clock;

use crate::config;
use crate::link::{self, BrokerChoice, ServeOptions};

/// What `hub demo` runs.
pub struct DemoOptions {
    pub config: std::path::PathBuf,
    pub from: DateTime<FixedOffset>,
    pub speed: f64,
    pub duration: Duration,
    pub report_every: Duration,
}

/// The demo's administrator, so the API can be tried while it runs.
const DEMO_ADMIN: &str = "demo";

/// Creates the demo's administrator (scoped to the province) in the fresh
/// store at `data`, with a random password, which it returns.
fn demo_administrator(
    data: &std::path::Path,
    province: &hub_core::Province,
    now: chrono::DateTime<Utc>,
) -> anyhow::Result<SecretToken> {
    let store = hub_store::Store::open(data)
        .with_context(|| format!("opening the demo store in {}", data.display()))?;
    let area = province
        .tree
        .areas()
        .find(|a| a.level == hub_core::AreaLevel::Province)
        .context("the configuration has no province")?
        .code
        .clone();
    // A session-token generator makes a good random password.
    let password = SecretToken::generate();
    crate::admin::create_admin(
        &store,
        &province.tree,
        Username::parse(DEMO_ADMIN)?,
        "Demo administrator",
        area,
        &Password::new(password.expose()),
        now,
    )?;
    Ok(password)
}

pub async fn demo(options: DemoOptions, out: &mut dyn Write) -> anyhow::Result<()> {
    anyhow::ensure!(options.speed > 0.0, "--speed must be above 0");
    let mut loaded = config::load(&options.config)?;
    // Ports of its own, so the demo runs beside a real hub.
    loaded.link.mqtt_listen = "127.0.0.1:0".parse().expect("a valid address");
    loaded.link.media_listen = "127.0.0.1:0".parse().expect("a valid address");
    loaded.api.listen = "127.0.0.1:0".parse().expect("a valid address");
    loaded.link.public_media_url = None;
    let data = std::env::temp_dir().join(format!("nguon-demo-{}", std::process::id()));
    let clock = Clock::simulated(options.from.with_timezone(&Utc), options.speed);
    let tz = loaded.province.tz;
    let admin_password = demo_administrator(&data, &loaded.province, clock.now())?;
    let hub = link::start(ServeOptions {
        data_dir: data.clone(),
        config: loaded,
        broker: BrokerChoice::Embedded,
        clock,
        tick: Duration::from_millis(100),
        delivery_events: None,
    })
    .await
    .context("starting the hub")?;
    let devices = hub.provisioning.devices.len();
    writeln!(
        out,
        "hub: embedded broker on {}, media on http://{}, {devices} devices; clock from {} at {}x",
        hub.provisioning.broker,
        hub.media_addr,
        options.from.to_rfc3339(),
        options.speed
    )?;
    writeln!(
        out,
        "api: http://{}/api/v1 (openapi.json there); log in as {DEMO_ADMIN} with password {}",
        hub.api_addr,
        admin_password.expose()
    )?;

    let fleet = Fleet::start(&hub.provisioning, None, clock, &FleetOptions::default())?;
    let connected = fleet.wait_connected(Duration::from_secs(60)).await?;
    writeln!(
        out,
        "fleet: {devices} simulated devices connected in {} ms",
        connected.as_millis()
    )?;

    let started = Instant::now();
    while started.elapsed() < options.duration {
        tokio::time::sleep(
            options
                .report_every
                .min(options.duration - started.elapsed()),
        )
        .await;
        let devices = fleet.summary();
        let stats = hub.stats().await?;
        writeln!(
            out,
            "{}  online {:>3}  commands {:>4}  airings started {:>4}, finished {:>4}, preempted {:>3}",
            clock.now().with_timezone(&tz).format("%H:%M"),
            stats.online,
            stats.commands_published,
            devices.airings_started,
            devices.airings_finished,
            devices.airings_preempted,
        )?;
    }

    writeln!(
        out,
        "\ndeliveries by bulletin (devices per state, as the devices reported):"
    )?;
    for (bulletin, states) in hub.tally().await? {
        let states: Vec<String> = states
            .iter()
            .map(|(state, n)| format!("{n} {}", format!("{state:?}").to_lowercase()))
            .collect();
        writeln!(out, "  {bulletin}: {}", states.join(", "))?;
    }
    let failed = hub.stats().await?.failed_by_reason;
    if !failed.is_empty() {
        let reasons: Vec<String> = failed
            .iter()
            .map(|(reason, n)| format!("{n} {reason}"))
            .collect();
        writeln!(out, "failed airings by reason: {}", reasons.join(", "))?;
    }
    fleet.stop().await;
    hub.shutdown().await?;
    let _ = std::fs::remove_dir_all(&data);
    Ok(())
}
