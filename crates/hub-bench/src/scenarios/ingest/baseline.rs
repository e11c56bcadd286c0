//! The baseline of `ingest`: what an operator would run by hand,
//! `ffmpeg -i IN -ac 1 -ar 48000 -c:a libopus -b:a 24k -application voip OUT.opus`,
//! timed as a whole process (start-up included) on the same input file.

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use anyhow::{ensure, Context};

/// The same job as the pipeline's: mono, 48 kHz, libopus at 24 kbit/s in
/// VoIP mode (libopus's default complexity, 10, as ours).
const TRANSCODE_ARGS: &[&str] = &[
    "-ac",
    "1",
    "-ar",
    "48000",
    "-c:a",
    "libopus",
    "-b:a",
    "24k",
    "-application",
    "voip",
];

/// Whether ffmpeg is installed with libopus; if not, why not.
pub fn availability() -> Result<(), String> {
    let output = Command::new("ffmpeg")
        .args(["-hide_banner", "-encoders"])
        .output()
        .map_err(|err| match err.kind() {
            std::io::ErrorKind::NotFound => {
                "ffmpeg is not installed (on Debian: apt-get install ffmpeg)".to_owned()
            }
            _ => format!("ffmpeg could not start: {err}"),
        })?;
    if lists_libopus(&String::from_utf8_lossy(&output.stdout)) {
        Ok(())
    } else {
        Err("this ffmpeg has no libopus encoder".to_owned())
    }
}

/// Whether `ffmpeg -encoders` output names libopus (a line such as
/// ` A....D libopus   libopus Opus (codec opus)`).
fn lists_libopus(encoders: &str) -> bool {
    encoders
        .lines()
        .any(|line| line.split_whitespace().nth(1) == Some("libopus"))
}

/// One ffmpeg run: its wall time and the size of what it wrote.
pub struct FfmpegRun {
    pub elapsed: Duration,
    pub output_bytes: u64,
}

/// Transcodes `input` to `output` with ffmpeg, timing the whole process.
pub fn transcode(input: &Path, output: &Path) -> anyhow::Result<FfmpegRun> {
    let mut command = Command::new("ffmpeg");
    command
        .args(["-nostdin", "-hide_banner", "-loglevel", "error", "-y", "-i"])
        .arg(input)
        .args(TRANSCODE_ARGS)
        .arg(output);
    let started = Instant::now();
    let result = command.output().context("starting ffmpeg")?;
    let elapsed = started.elapsed();
    ensure!(
        result.status.success(),
        "ffmpeg failed ({}): {}",
        result.status,
        String::from_utf8_lossy(&result.stderr).trim()
    );
    let output_bytes = std::fs::metadata(output)
        .with_context(|| format!("ffmpeg wrote no {}", output.display()))?
        .len();
    Ok(FfmpegRun {
        elapsed,
        output_bytes,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn libopus_is_found_among_the_encoders() {
        let listing = "Encoders:\n V..... = Video\n ------\n A....D libmp3lame           libmp3lame MP3\n A....D libopus              libopus Opus (codec opus)\n";
        assert!(lists_libopus(listing));
        let without = "Encoders:\n A....D opus                 Opus\n A....D libvorbis            libvorbis\n";
        assert!(!lists_libopus(without));
    }
}
