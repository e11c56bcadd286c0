//! Scenario `ingest`: how fast an upload becomes a broadcast file.
//!
//! 1. The input is exactly N seconds of Vietnamese speech as a phone sends it
//!    (see [`speech`]: espeak-ng, repeated, made a 44.1 kHz stereo MP3 by
//!    ffmpeg).
//! 2. Each repetition times [`hub_media::ingest_audio`] on the file's bytes
//!    (decode, downmix, resample, loudness, limiter, Opus encode, decode
//!    check), then the baseline on the same file (see [`baseline`]:
//!    `ffmpeg -c:a libopus`, a whole process, as an operator would run it).
//!    The two alternate so both see the same machine.
//! 3. The summary holds the medians: `rtf_x` is input seconds over wall
//!    seconds, `bitrate_kbps` the output's size over its duration, and
//!    `speedup_vs_ffmpeg_x` ffmpeg's wall time over ours. Without ffmpeg (or
//!    without its libopus) the baseline is skipped, said so, and its figures
//!    are null.

pub mod baseline;
pub mod speech;

use std::time::{Duration, Instant};

use anyhow::{ensure, Context};
use hub_media::{AudioSettings, EncodedAudio};
use serde::Serialize;

use super::fleet::cpu;

#[derive(Clone, Debug)]
pub struct IngestParams {
    /// Length of the speech input, in seconds.
    pub input_seconds: u32,
    /// Timed runs of each side; the summary holds the medians.
    pub repetitions: u32,
}

#[derive(Clone, Debug, Serialize)]
pub struct IngestSummary {
    pub scenario: &'static str,
    pub input_s: u32,
    /// Input seconds per wall second of `ingest_audio` (median).
    pub rtf_x: f64,
    /// Our output's bitrate, container included, in kbit/s.
    pub bitrate_kbps: f64,
    pub ffmpeg_rtf_x: Option<f64>,
    pub speedup_vs_ffmpeg_x: Option<f64>,
    pub ingest_ms: f64,
    pub ffmpeg_ms: Option<f64>,
    pub ffmpeg_bitrate_kbps: Option<f64>,
    /// Loudness and true peak of our output as decoded.
    pub output_lufs: f64,
    pub output_true_peak_dbtp: f64,
    /// Opus encodings the pipeline made (more than one when the first
    /// decoded with peaks over the ceiling).
    pub encodings: u32,
    pub repetitions: u32,
}

/// Builds the input, times both sides, and summarises; `progress` gets a
/// line as each step ends.
pub fn run(
    params: &IngestParams,
    progress: &mut dyn FnMut(String),
) -> anyhow::Result<IngestSummary> {
    ensure!(
        params.input_seconds > 0,
        "the input needs at least one second"
    );
    ensure!(params.repetitions > 0, "at least one repetition");
    let ffmpeg = baseline::availability();
    if let Err(why) = &ffmpeg {
        progress(format!("baseline skipped: {why}"));
    }
    let input = speech::build(params.input_seconds, ffmpeg.is_ok())?;
    progress(format!(
        "input: {} ({} bytes)",
        input.description,
        input.bytes.len()
    ));
    let input_s = f64::from(params.input_seconds);
    let settings = AudioSettings::default();
    let baseline_dir = tempfile::tempdir()?;
    let baseline_output = baseline_dir.path().join("ffmpeg.opus");

    let mut ours = Vec::new();
    let mut theirs = Vec::new();
    let mut first_output: Option<EncodedAudio> = None;
    let mut ffmpeg_output_bytes = 0;
    for repetition in 1..=params.repetitions {
        let cpu_before = cpu::of_process(None);
        let started = Instant::now();
        let encoded = hub_media::ingest_audio(&input.bytes, Some(input.hint), &settings)
            .context("hub_media::ingest_audio")?;
        let elapsed = started.elapsed();
        let cpu_ms = cpu::used_since(cpu_before, None);
        ours.push(elapsed);
        let mut line = format!(
            "repetition {repetition}/{}: ingest_audio {:.0} ms ({:.0}x real time, {} encodings, {:.2} cores busy)",
            params.repetitions,
            millis(elapsed),
            input_s / elapsed.as_secs_f64(),
            encoded.encodings,
            cpu_ms as f64 / millis(elapsed)
        );
        if let Some(first) = &first_output {
            ensure!(
                first.ogg == encoded.ogg,
                "ingest_audio gave different bytes in repetition {repetition}"
            );
        } else {
            first_output = Some(encoded);
        }
        if ffmpeg.is_ok() {
            let run = baseline::transcode(&input.path, &baseline_output)?;
            line.push_str(&format!(
                "; ffmpeg {:.0} ms ({:.0}x real time)",
                millis(run.elapsed),
                input_s / run.elapsed.as_secs_f64()
            ));
            theirs.push(run.elapsed);
            ffmpeg_output_bytes = run.output_bytes;
        }
        progress(line);
    }
    let output = first_output.context("no repetition ran")?;
    let output_s = output.duration_ms as f64 / 1000.0;
    progress(format!(
        "output: {} bytes, {:.3} s, {:.1} LUFS, {:.2} dBTP (input {:.1} LUFS, {} {} Hz, {} channels)",
        output.size_bytes,
        output_s,
        output.output_lufs,
        output.output_true_peak_dbtp,
        output.input_lufs,
        output.input.codec,
        output.input.sample_rate,
        output.input.channels
    ));

    let ours = median(&ours);
    let theirs = (!theirs.is_empty()).then(|| median(&theirs));
    Ok(IngestSummary {
        scenario: "ingest",
        input_s: params.input_seconds,
        rtf_x: round2(input_s / ours.as_secs_f64()),
        bitrate_kbps: round2(kbit_per_s(output.size_bytes as u64, output_s)),
        ffmpeg_rtf_x: theirs.map(|theirs| round2(input_s / theirs.as_secs_f64())),
        speedup_vs_ffmpeg_x: theirs.map(|theirs| round2(theirs.as_secs_f64() / ours.as_secs_f64())),
        ingest_ms: round2(millis(ours)),
        ffmpeg_ms: theirs.map(|theirs| round2(millis(theirs))),
        ffmpeg_bitrate_kbps: theirs.map(|_| round2(kbit_per_s(ffmpeg_output_bytes, input_s))),
        output_lufs: round2(output.output_lufs),
        output_true_peak_dbtp: round2(output.output_true_peak_dbtp),
        encodings: output.encodings,
        repetitions: params.repetitions,
    })
}

/// The middle value (the mean of the two middle ones for an even count).
fn median(durations: &[Duration]) -> Duration {
    let mut sorted = durations.to_vec();
    sorted.sort();
    let middle = sorted.len() / 2;
    if sorted.len() % 2 == 0 {
        (sorted[middle - 1] + sorted[middle]) / 2
    } else {
        sorted[middle]
    }
}

fn kbit_per_s(bytes: u64, seconds: f64) -> f64 {
    bytes as f64 * 8.0 / seconds / 1000.0
}

fn millis(elapsed: Duration) -> f64 {
    elapsed.as_secs_f64() * 1000.0
}

fn round2(value: f64) -> f64 {
    (value * 100.0).round() / 100.0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn median_takes_the_middle() {
        let ms = |values: &[u64]| -> Vec<Duration> {
            values.iter().map(|&v| Duration::from_millis(v)).collect()
        };
        assert_eq!(median(&ms(&[30, 10, 20])), Duration::from_millis(20));
        assert_eq!(median(&ms(&[40, 10, 30, 20])), Duration::from_millis(25));
        assert_eq!(median(&ms(&[7])), Duration::from_millis(7));
    }

    #[test]
    fn bitrate_counts_every_byte() {
        // 60 s at 24 kbit/s is 180,000 bytes.
        assert_eq!(kbit_per_s(180_000, 60.0), 24.0);
        assert_eq!(round2(kbit_per_s(1_000, 3.0)), 2.67);
    }

    #[test]
    fn the_json_line_starts_with_the_agreed_fields() {
        let summary = IngestSummary {
            scenario: "ingest",
            input_s: 60,
            rtf_x: 150.5,
            bitrate_kbps: 24.9,
            ffmpeg_rtf_x: None,
            speedup_vs_ffmpeg_x: None,
            ingest_ms: 398.67,
            ffmpeg_ms: None,
            ffmpeg_bitrate_kbps: None,
            output_lufs: -16.02,
            output_true_peak_dbtp: -1.3,
            encodings: 1,
            repetitions: 5,
        };
        let line = serde_json::to_string(&summary).unwrap();
        assert!(
            line.starts_with(
                r#"{"scenario":"ingest","input_s":60,"rtf_x":150.5,"bitrate_kbps":24.9,"ffmpeg_rtf_x":null,"speedup_vs_ffmpeg_x":null,"#
            ),
            "{line}"
        );
        assert!(!line.contains('\n'));
    }

    #[test]
    fn a_short_run_reports_every_figure() {
        let params = IngestParams {
            input_seconds: 3,
            repetitions: 2,
        };
        let mut lines = Vec::new();
        let summary = run(&params, &mut |line| lines.push(line)).unwrap();
        assert_eq!(summary.input_s, 3);
        assert!(summary.rtf_x > 0.0);
        // 24 kbit/s plus Ogg and Opus headers, which weigh more in 3 s.
        assert!((20.0..40.0).contains(&summary.bitrate_kbps), "{summary:?}");
        assert!((summary.output_lufs + 16.0).abs() <= 1.0, "{summary:?}");
        assert_eq!(
            summary.ffmpeg_rtf_x.is_some(),
            baseline::availability().is_ok()
        );
        assert_eq!(
            lines
                .iter()
                .filter(|line| line.starts_with("repetition"))
                .count(),
            2,
            "{lines:?}"
        );
    }
}
