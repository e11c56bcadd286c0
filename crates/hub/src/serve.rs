//! `hub serve`: runs the hub until a shutdown signal.

use std::io::Write;
use std::path::Path;
use std::time::Duration;

use anyhow::Context;
use chrono::Utc;
use hub_proto::provision::PROVISIONING_FILE_NAME;
use hub_proto::Clock;

use crate::cli::ServeArgs;
use crate::config;
use crate::link::settings::MediaTls;
use crate::link::{self, BrokerChoice, ServeOptions};

pub async fn serve(args: ServeArgs, out: &mut dyn Write) -> anyhow::Result<()> {
    let mut loaded = config::load(&args.config)?;
    if let Some(listen) = args.mqtt_listen {
        loaded.link.mqtt_listen = listen;
    }
    if let Some(listen) = args.media_listen {
        loaded.link.media_listen = listen;
    }
    loaded.link.media_tls = MediaTls::overridden(
        loaded.link.media_tls.take(),
        args.media_tls_cert,
        args.media_tls_key,
        args.media_tls_ca,
        ["--media-tls-cert", "--media-tls-key"],
    )
    .map_err(anyhow::Error::msg)?;
    if let Some(listen) = args.api_listen {
        loaded.api.listen = listen;
    }
    let data_dir = args.data.unwrap_or_else(|| loaded.data_dir.clone());
    anyhow::ensure!(args.clock_speed > 0.0, "--clock-speed must be above 0");
    let origin = args
        .clock_origin
        .map_or_else(Utc::now, |t| t.with_timezone(&Utc));
    let broker = match args.broker {
        Some(url) => BrokerChoice::External {
            url,
            ca: args.broker_ca,
        },
        None => BrokerChoice::Embedded,
    };
    let provisioning_path = data_dir.join(PROVISIONING_FILE_NAME);
    let hub = link::start(ServeOptions {
        data_dir,
        config: loaded,
        broker,
        clock: Clock::simulated(origin, args.clock_speed),
        tick: Duration::from_millis(250),
        delivery_events: None,
    })
    .await
    .context("starting the hub")?;
    // The broker's address is known only now (the port may have been 0).
    for path in std::iter::once(&provisioning_path).chain(&args.provisioning_out) {
        write_secret_file(path, &hub.provisioning.to_json())?;
    }
    let listening = serde_json::json!({
        "event": "listening",
        "mqtt": hub.mqtt_addr.map(|a| a.to_string()),
        "mqtts": hub.mqtts_addr.map(|a| a.to_string()),
        "media": hub.media_addr.to_string(),
        "api": hub.api_addr.to_string(),
        "devices": hub.provisioning.devices.len(),
        "provisioning": provisioning_path,
    });
    writeln!(out, "{listening}")?;
    out.flush()?;

    let cancel = hub.cancel_token();
    let duration = args.duration_secs.map(Duration::from_secs);
    tokio::spawn(async move {
        tokio::select! {
            _ = shutdown_signal() => {}
            _ = sleep_or_forever(duration) => {}
        }
        cancel.cancel();
    });
    hub.wait().await?;
    writeln!(out, "{}", serde_json::json!({"event": "stopped"}))?;
    Ok(())
}

async fn sleep_or_forever(duration: Option<Duration>) {
    match duration {
        Some(duration) => tokio::time::sleep(duration).await,
        None => std::future::pending().await,
    }
}

/// Ctrl-C or SIGTERM.
async fn shutdown_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
            .expect("installing the SIGTERM handler");
        tokio::select! {
            _ = ctrl_c => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    let _ = ctrl_c.await;
}

/// Writes a file that holds secrets, readable by its owner only.
pub fn write_secret_file(path: &Path, bytes: &[u8]) -> anyhow::Result<()> {
    use std::fs::OpenOptions;
    let mut options = OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options
        .open(path)
        .with_context(|| format!("writing {}", path.display()))?;
    file.write_all(bytes)?;
    Ok(())
}
