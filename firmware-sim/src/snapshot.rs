//! `firmware-sim board snapshot`: one LED board joins the hub, takes the
//! hub's answer to its hello (settings and plan), and what it shows then is
//! drawn to a PNG: text, a picture, or a video's picture at that moment
//! (decoded with OpenH264) under the subtitle showing then.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use chrono::{DateTime, Utc};
use firmware_sim::board::{self, Resolution};
use firmware_sim::media::picture::{check_board_file, decode_picture, BoardFile};
use firmware_sim::media::video::frame_at;
use firmware_sim::{BrokerAddr, DeviceConfig, DeviceHandle, LinkOptions};
use hub_proto::{Clock, Kind, Provisioning};
use image::{ImageFormat, RgbaImage};
use serde::Serialize;

/// Commands the hub answers a hello with: the settings, then the plan.
const SYNC_COMMANDS: u64 = 2;

#[derive(clap::Args)]
pub struct SnapshotArgs {
    /// Provisioning file exported by the hub.
    #[arg(long)]
    provisioning: PathBuf,
    /// The LED board to run, by its id in the provisioning file. It must not
    /// be running elsewhere: the broker would drop one of the two.
    #[arg(long)]
    device: String,
    /// Where to write the PNG.
    #[arg(long, value_name = "FILE.png")]
    out: PathBuf,
    /// Broker to use instead of the provisioned one, `mqtt://host:port`.
    #[arg(long)]
    broker: Option<String>,
    /// What the board's clock reads at start (RFC 3339), to match a hub run
    /// with `--clock-origin`; default: now.
    #[arg(long)]
    clock_origin: Option<DateTime<Utc>>,
    /// Seconds (real time) to wait for the hub's settings and plan.
    #[arg(long, default_value_t = 15)]
    wait_secs: u64,
    /// The board's size in pixels (LEDs), WIDTHxHEIGHT.
    #[arg(long, default_value_t = Resolution::default())]
    size: Resolution,
}

/// The line printed once the PNG is written.
#[derive(Serialize)]
struct Snapshot<'a> {
    event: &'static str,
    device: &'a str,
    /// The words on the board; null when it shows none.
    text: Option<&'a str>,
    /// The bulletin on the board; null for a blank board or a display text.
    bulletin: Option<&'a str>,
    /// The subtitle over the video on the board; null without one.
    subtitle: Option<&'a str>,
    /// Milliseconds into the video on the board; null without one.
    video_position_ms: Option<u128>,
    path: &'a std::path::Path,
}

/// Runs the board, waits for the sync, writes the PNG and prints its line.
pub async fn run(args: SnapshotArgs) -> anyhow::Result<()> {
    let bytes = std::fs::read(&args.provisioning)
        .with_context(|| format!("reading {}", args.provisioning.display()))?;
    let provisioning = Provisioning::from_json(&bytes)
        .with_context(|| format!("reading {}", args.provisioning.display()))?;
    let credentials = provisioning
        .devices
        .iter()
        .find(|d| d.id == args.device)
        .with_context(|| {
            format!(
                "no device {} in {}",
                args.device,
                args.provisioning.display()
            )
        })?;
    anyhow::ensure!(
        credentials.kind == Kind::LedBoard,
        "{} is a {}, not an LED board",
        args.device,
        credentials.kind.as_str()
    );
    let config = DeviceConfig::from_provisioning(credentials, &provisioning)?;
    let broker: BrokerAddr = args
        .broker
        .as_deref()
        .unwrap_or(&provisioning.broker)
        .parse()?;
    let clock = match args.clock_origin {
        Some(origin) => Clock::simulated(origin, 1.0),
        None => Clock::real(),
    };
    let device = DeviceHandle::spawn(config, &broker, clock, &LinkOptions::default());

    let wait = Duration::from_secs(args.wait_secs);
    if tokio::time::timeout(wait, synced(&device)).await.is_err() {
        let (connected, accepted) = (device.is_connected(), device.counters().accepted);
        device.stop().await;
        anyhow::bail!(
            "{} did not sync with the hub in {} s (connected: {connected}, commands accepted: \
             {accepted} of {SYNC_COMMANDS})",
            args.device,
            args.wait_secs
        );
    }
    let now = clock.now();
    let mut showing = device.showing(now);
    let mut picture = None;
    if let Some(sha256) = showing.as_ref().and_then(|s| s.media.clone()) {
        if let Some(file) = file_of(&device, &sha256, wait).await {
            // Checked now, a video gives its position and subtitle.
            showing = device.showing(now);
            let position = showing.as_ref().and_then(|s| s.video).map(|v| v.position);
            picture = picture_of(&file, position);
        }
    }
    device.stop().await;

    board::render(showing.as_ref(), picture.as_ref(), now, args.size)
        .save_with_format(&args.out, ImageFormat::Png)
        .with_context(|| format!("writing {}", args.out.display()))?;
    super::print_line(&Snapshot {
        event: "snapshot",
        device: &args.device,
        text: showing.as_ref().and_then(|s| s.text.as_deref()),
        bulletin: showing.as_ref().and_then(|s| s.bulletin.as_deref()),
        subtitle: showing.as_ref().and_then(|s| s.subtitle.as_deref()),
        video_position_ms: showing
            .as_ref()
            .and_then(|s| s.video)
            .map(|video| video.position.as_millis()),
        path: &args.out,
    });
    Ok(())
}

/// The file the board shows, once downloaded (within `wait`).
async fn file_of(device: &DeviceHandle, sha256: &str, wait: Duration) -> Option<Arc<[u8]>> {
    tokio::time::timeout(wait, async {
        loop {
            if let Some(file) = device.media_file(sha256) {
                return file;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    })
    .await
    .ok()
}

/// The picture in `file`, or the video's picture at `position`; none for
/// a video picture that does not decode (the board is then drawn with a
/// box of the video's shape).
fn picture_of(file: &[u8], position: Option<Duration>) -> Option<RgbaImage> {
    match check_board_file(file) {
        Ok(BoardFile::Picture) => decode_picture(file).ok(),
        Ok(BoardFile::Video(_)) => frame_at(file, position.unwrap_or_default())
            .inspect_err(|error| tracing::warn!(%error, "the video's picture is not drawn"))
            .ok(),
        // The entry's `media` is its picture or video, never subtitles.
        Ok(BoardFile::Subtitles(_)) | Err(_) => None,
    }
}

/// Waits until the device has said hello and accepted the hub's answer.
async fn synced(device: &DeviceHandle) {
    device.wait_ready().await;
    while device.counters().accepted < SYNC_COMMANDS {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
