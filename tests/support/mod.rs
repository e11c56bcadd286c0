//! Helpers shared by the end-to-end tests.

pub mod api;
pub mod browser;
pub mod http;
pub mod link;
pub mod relay;
pub mod tls;

use std::path::{Path, PathBuf};

use clap::Parser;
use hub::cli::{run, Cli};

/// A path under the workspace's `configs/` folder.
pub fn config(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../configs")
        .join(name)
}

/// A path under `tests/fixtures/`.
pub fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fixtures")
        .join(name)
}

/// Runs `hub` with `args` (without the program name) and returns its output.
pub fn hub(args: &[&str]) -> anyhow::Result<String> {
    let cli = Cli::try_parse_from(std::iter::once("hub").chain(args.iter().copied()))?;
    let mut out = Vec::new();
    run(cli, &mut out)?;
    Ok(String::from_utf8(out)?)
}

/// Writes a one-colour picture of `width` × `height` to `path` (its format
/// from the extension) with ffmpeg.
pub fn write_picture(path: &Path, colour: &str, width: u32, height: u32) {
    let status = std::process::Command::new("ffmpeg")
        .args(["-nostdin", "-loglevel", "error", "-y", "-f", "lavfi", "-i"])
        .arg(format!("color=c={colour}:s={width}x{height}"))
        .args(["-frames:v", "1"])
        .arg(path)
        .status()
        .expect("ffmpeg runs (apt-get install ffmpeg)");
    assert!(status.success(), "ffmpeg made {}", path.display());
}
