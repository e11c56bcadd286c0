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
