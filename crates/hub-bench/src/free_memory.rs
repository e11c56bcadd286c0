//! Free memory the machine still holds, before each measured broadcast.
//!
//! This project's machine is a VM that hands free memory back to its host
//! (free page reporting: `page_reporting` in the kernel's log). A page the
//! host took back costs about 10 µs to touch again, against well under one
//! for a page the VM kept, and which kind a process gets depends on what ran
//! seconds before. Measured with `hub-bench emergency --devices 10000` on
//! 2026-12-04: the device process took the same 21,500 page faults in the
//! first 600 ms either way, and 580–620 ms of CPU with whatever pages came,
//! 310–380 ms with pages just freed; a raw floor measured right after a
//! large process had exited got the cheap kind, one measured before the cold
//! kind, and the two disagreed by up to 1.5x.
//!
//! So before each broadcast a scenario measures (the hub's and the raw
//! floor's alike) a short-lived process touches [`MIB`] and exits; the kernel
//! hands pages just freed out before those it reported to the host. Nothing
//! of the hub's or the devices' own memory is touched: they still fault in
//! every page they use for the first time, at the price a page costs on a
//! machine that keeps its memory.

use std::process::Stdio;

use anyhow::{ensure, Context};

/// MiB touched: several times what a broadcast to 10,000 devices faults in
/// (about 100 MiB in the device process, 15 in the hub's).
pub const MIB: usize = 384;

/// The body of the hidden `touch-memory` subcommand: touches `mib` MiB and
/// returns this process's peak resident size in kB.
pub fn touch(mib: usize) -> Option<u64> {
    let block = vec![1u8; mib << 20];
    std::hint::black_box(&block);
    crate::rss::peak_rss_kb()
}

/// Runs this executable's `touch-memory` subcommand to its end.
pub async fn refresh() -> anyhow::Result<()> {
    let status = tokio::process::Command::new(std::env::current_exe()?)
        .arg("touch-memory")
        .arg("--mib")
        .arg(MIB.to_string())
        .stdout(Stdio::null())
        .status()
        .await
        .context("starting the process that touches free memory")?;
    ensure!(
        status.success(),
        "the process touching free memory failed: {status}"
    );
    Ok(())
}
