//! Real files made by real tools (ffmpeg, ffprobe, opusinfo, sha256sum), once
//! per test run, in a temporary directory.
//!
//! The tools are required, not optional: a missing one fails the test with
//! the package to install (`.ci/run` installs them).

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::OnceLock;

use tempfile::TempDir;

pub mod visual;

/// The duration of the main test signal, in seconds.
pub const SIGNAL_SECS: f64 = 3.0;

/// An uploadable format: file extension, ffmpeg encoder arguments, and the
/// codec our decoder should report.
pub struct Format {
    pub ext: &'static str,
    pub ffmpeg_args: &'static [&'static str],
    pub codec: &'static str,
}

pub const FORMATS: &[Format] = &[
    Format {
        ext: "wav",
        ffmpeg_args: &["-c:a", "pcm_s16le"],
        codec: "pcm_s16le",
    },
    Format {
        ext: "mp3",
        ffmpeg_args: &["-c:a", "libmp3lame", "-b:a", "64k"],
        codec: "mp3",
    },
    Format {
        ext: "flac",
        ffmpeg_args: &["-c:a", "flac"],
        codec: "flac",
    },
    Format {
        ext: "ogg",
        ffmpeg_args: &["-c:a", "libvorbis", "-q:a", "3"],
        codec: "vorbis",
    },
    Format {
        ext: "m4a",
        ffmpeg_args: &["-c:a", "aac", "-b:a", "64k"],
        codec: "aac",
    },
    Format {
        ext: "opus",
        ffmpeg_args: &["-c:a", "libopus", "-b:a", "32k"],
        codec: "opus",
    },
];

pub struct Fixtures {
    dir: TempDir,
}

impl Fixtures {
    /// The 3 s stereo 44.1 kHz test signal converted to `ext`.
    pub fn signal(&self, ext: &str) -> Vec<u8> {
        read(&self.dir.path().join(format!("signal.{ext}")))
    }

    /// A 0.5 s mono version in `ext`: small seeds for the fuzz test.
    pub fn short_signal(&self, ext: &str) -> Vec<u8> {
        read(&self.dir.path().join(format!("short.{ext}")))
    }

    /// A 12 s version of the signal, as WAV.
    pub fn long_wav(&self) -> Vec<u8> {
        read(&self.dir.path().join("long.wav"))
    }

    /// 2 s of digital silence, as WAV.
    pub fn silent_wav(&self) -> Vec<u8> {
        read(&self.dir.path().join("silent.wav"))
    }

    /// The signal as Opus in WebM, which symphonia demuxes but cannot decode.
    pub fn webm_opus(&self) -> Vec<u8> {
        read(&self.dir.path().join("signal.webm"))
    }

    /// A real PNG image.
    pub fn png(&self) -> Vec<u8> {
        read(&self.dir.path().join("image.png"))
    }

    pub fn dir(&self) -> &Path {
        self.dir.path()
    }
}

/// The fixtures, made on first use.
pub fn fixtures() -> &'static Fixtures {
    static FIXTURES: OnceLock<Fixtures> = OnceLock::new();
    FIXTURES.get_or_init(make_fixtures)
}

/// Speech-like: two voices (one per channel) with harmonics at speech
/// fundamentals, amplitude-modulated at syllable rate, about -24 LUFS so
/// normalising has to raise it.
fn speech_like(secs: f64) -> String {
    format!(
        "aevalsrc=exprs='0.1*(sin(2*PI*180*t)+0.5*sin(2*PI*360*t)+0.25*sin(2*PI*720*t))*(0.55+0.45*sin(2*PI*4*t))\
         |0.1*(sin(2*PI*200*t)+0.5*sin(2*PI*400*t)+0.25*sin(2*PI*1000*t))*(0.55+0.45*sin(2*PI*3*t))'\
         :s=44100:d={secs}"
    )
}

fn make_fixtures() -> Fixtures {
    let dir = tempfile::tempdir().expect("temporary directory");
    let path = |name: &str| dir.path().join(name).to_string_lossy().into_owned();
    let lavfi = |source: &str, out: &str, extra: &[&str]| {
        let mut args = vec!["-f", "lavfi", "-i", source];
        args.extend_from_slice(extra);
        let out = path(out);
        args.push(&out);
        ffmpeg(&args);
    };
    lavfi(
        &speech_like(SIGNAL_SECS),
        "signal.wav",
        &["-c:a", "pcm_s16le"],
    );
    lavfi(
        &speech_like(0.5),
        "short.wav",
        &["-ac", "1", "-c:a", "pcm_s16le"],
    );
    lavfi(&speech_like(12.0), "long.wav", &["-c:a", "pcm_s16le"]);
    lavfi(
        "anullsrc=r=44100:cl=stereo",
        "silent.wav",
        &["-t", "2", "-c:a", "pcm_s16le"],
    );
    lavfi(
        "color=c=red:s=64x64",
        "image.png",
        &["-frames:v", "1", "-c:v", "png"],
    );
    for format in FORMATS.iter().filter(|format| format.ext != "wav") {
        for stem in ["signal", "short"] {
            let input = path(&format!("{stem}.wav"));
            let output = path(&format!("{stem}.{}", format.ext));
            let mut args = vec!["-i", input.as_str()];
            args.extend_from_slice(format.ffmpeg_args);
            args.push(&output);
            ffmpeg(&args);
        }
    }
    let input = path("signal.wav");
    let output = path("signal.webm");
    ffmpeg(&["-i", &input, "-c:a", "libopus", "-b:a", "32k", &output]);
    Fixtures { dir }
}

fn read(path: &Path) -> Vec<u8> {
    std::fs::read(path).unwrap_or_else(|err| panic!("reading {}: {err}", path.display()))
}

/// Runs a tool that must be installed; panics with the package to install.
pub fn run(program: &str, args: &[&str], package: &str) -> Output {
    Command::new(program)
        .args(args)
        .output()
        .unwrap_or_else(|err| panic!("{program} did not run ({err}): apt-get install {package}"))
}

fn ffmpeg(args: &[&str]) {
    let mut all = vec!["-hide_banner", "-loglevel", "error", "-y"];
    all.extend_from_slice(args);
    let output = run("ffmpeg", &all, "ffmpeg");
    assert!(
        output.status.success(),
        "ffmpeg {args:?} failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
}

/// Writes `bytes` to a file of its own in the fixtures directory.
pub fn write_temp(name: &str, bytes: &[u8]) -> PathBuf {
    let path = fixtures().dir().join(name);
    std::fs::write(&path, bytes).expect("writing a temporary file");
    path
}

/// What ffprobe says about a file's first audio stream.
pub struct Probe {
    pub codec: String,
    pub sample_rate: u32,
    pub channels: u32,
    pub duration_secs: f64,
}

pub fn ffprobe(path: &Path) -> Probe {
    let output = run(
        "ffprobe",
        &[
            "-v",
            "error",
            "-select_streams",
            "a:0",
            "-show_entries",
            "stream=codec_name,sample_rate,channels:format=duration",
            "-of",
            "json",
            &path.to_string_lossy(),
        ],
        "ffmpeg",
    );
    assert!(
        output.status.success(),
        "ffprobe refused {}: {}",
        path.display(),
        String::from_utf8_lossy(&output.stderr)
    );
    let json: serde_json::Value =
        serde_json::from_slice(&output.stdout).expect("ffprobe prints JSON");
    let stream = &json["streams"][0];
    let number = |value: &serde_json::Value| -> f64 {
        value
            .as_str()
            .and_then(|text| text.parse().ok())
            .or_else(|| value.as_f64())
            .unwrap_or_else(|| panic!("ffprobe gave no number: {json}"))
    };
    Probe {
        codec: stream["codec_name"].as_str().unwrap_or_default().to_owned(),
        sample_rate: number(&stream["sample_rate"]) as u32,
        channels: number(&stream["channels"]) as u32,
        duration_secs: number(&json["format"]["duration"]),
    }
}

/// Integrated loudness as ffmpeg's own EBU R128 meter measures it.
pub fn ffmpeg_loudness(path: &Path) -> f64 {
    let output = run(
        "ffmpeg",
        &[
            "-hide_banner",
            "-nostats",
            "-i",
            &path.to_string_lossy(),
            "-af",
            "ebur128",
            "-f",
            "null",
            "-",
        ],
        "ffmpeg",
    );
    let log = String::from_utf8_lossy(&output.stderr);
    // The summary at the end: "Integrated loudness:\n    I:   -16.0 LUFS".
    let summary = log
        .rsplit("Integrated loudness:")
        .next()
        .unwrap_or_else(|| panic!("no ebur128 summary in: {log}"));
    summary
        .split_whitespace()
        .skip_while(|word| *word != "I:")
        .nth(1)
        .and_then(|number| number.parse().ok())
        .unwrap_or_else(|| panic!("no integrated loudness in: {summary}"))
}

/// opusinfo's verdict: success and no warnings or errors in its report.
pub fn opusinfo(path: &Path) -> String {
    let output = run("opusinfo", &[&path.to_string_lossy()], "opus-tools");
    let report = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(output.status.success(), "opusinfo refused it: {report}");
    assert!(
        !report.contains("WARNING") && !report.contains("ERROR"),
        "opusinfo complains: {report}"
    );
    report
}

/// `sha256sum`'s hash of a file.
pub fn sha256sum(path: &Path) -> String {
    let output = run("sha256sum", &[&path.to_string_lossy()], "coreutils");
    String::from_utf8_lossy(&output.stdout)
        .split_whitespace()
        .next()
        .unwrap_or_default()
        .to_owned()
}
