//! The input of `ingest`: exactly N seconds of Vietnamese speech, delivered
//! the way editors upload it.
//!
//! espeak-ng speaks one bulletin (a 22.05 kHz mono WAV); it is repeated, with
//! a pause between repetitions, and cut to exactly N seconds. ffmpeg then
//! makes it what a phone sends: a 44.1 kHz stereo MP3 at 128 kbit/s, so the
//! pipeline decodes, downmixes and resamples as it does for real uploads
//! (and ffmpeg, the baseline, has the same work). Without ffmpeg the looped
//! WAV itself is the input, and the description says so.

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{bail, ensure, Context};
use tempfile::TempDir;

/// A storm warning, as a commune would broadcast it (about 25 s at
/// espeak-ng's default speed).
const BULLETIN_TEXT: &str = "Thông báo khẩn của Ủy ban nhân dân xã. \
    Bão số ba đang di chuyển vào vùng biển phía bắc, gió mạnh cấp mười, giật cấp mười hai. \
    Bà con ngư dân không ra khơi, tàu thuyền phải vào nơi tránh trú an toàn trước mười bảy giờ hôm nay. \
    Các hộ gia đình ở vùng trũng thấp chuẩn bị di dời người và tài sản đến nơi cao ráo. \
    Đề nghị bà con theo dõi loa phát thanh của xã để nhận thông tin mới nhất.";

/// Silence between repetitions of the bulletin, as between two readings.
const PAUSE_SECS: f64 = 0.8;

/// What a phone's MP3 is: 44.1 kHz, stereo, 128 kbit/s constant bitrate.
const PHONE_MP3_ARGS: &[&str] = &[
    "-ar",
    "44100",
    "-ac",
    "2",
    "-c:a",
    "libmp3lame",
    "-b:a",
    "128k",
];

/// The input file, kept on disk (for ffmpeg) and in memory (for us).
pub struct SpeechInput {
    pub path: PathBuf,
    pub bytes: Vec<u8>,
    /// The extension, passed to `ingest_audio` as its hint.
    pub hint: &'static str,
    /// One line saying what the input is.
    pub description: String,
    /// Holds the files until the run is over.
    _dir: TempDir,
}

/// Speaks the bulletin with espeak-ng and builds `seconds` of input from it;
/// `with_ffmpeg` says whether ffmpeg can make the MP3.
pub fn build(seconds: u32, with_ffmpeg: bool) -> anyhow::Result<SpeechInput> {
    let dir = tempfile::tempdir().context("creating a temporary directory")?;
    let spoken = speak(&dir.path().join("bulletin.wav"))?;
    let looped = loop_to_length(&spoken, seconds);
    let wav_path = dir.path().join("speech.wav");
    std::fs::write(&wav_path, wav_bytes(&looped))?;

    let (path, hint, description) = if with_ffmpeg {
        let mp3_path = dir.path().join("speech.mp3");
        to_phone_mp3(&wav_path, &mp3_path)?;
        let description = format!(
            "{seconds} s of Vietnamese speech (espeak-ng, repeated), as a phone's MP3: 44.1 kHz stereo, 128 kbit/s"
        );
        (mp3_path, "mp3", description)
    } else {
        let description = format!(
            "{seconds} s of Vietnamese speech (espeak-ng, repeated), as espeak-ng's WAV ({} Hz mono): \
             without ffmpeg there is no MP3 encoder to make a phone's file",
            looped.sample_rate
        );
        (wav_path, "wav", description)
    };
    let bytes = std::fs::read(&path).with_context(|| format!("reading {}", path.display()))?;
    Ok(SpeechInput {
        path,
        bytes,
        hint,
        description,
        _dir: dir,
    })
}

fn speak(out: &Path) -> anyhow::Result<Pcm> {
    let output = Command::new("espeak-ng")
        .args(["-v", "vi", "-w"])
        .arg(out)
        .arg(BULLETIN_TEXT)
        .output();
    let output = match output {
        Ok(output) => output,
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => bail!(
            "the ingest scenario speaks its input with espeak-ng, which is not installed \
             (on Debian: apt-get install espeak-ng)"
        ),
        Err(err) => return Err(err).context("starting espeak-ng"),
    };
    ensure!(
        output.status.success(),
        "espeak-ng failed ({}): {}",
        output.status,
        String::from_utf8_lossy(&output.stderr).trim()
    );
    let bytes = std::fs::read(out).with_context(|| format!("reading {}", out.display()))?;
    parse_wav(&bytes).context("reading espeak-ng's WAV")
}

fn to_phone_mp3(wav: &Path, mp3: &Path) -> anyhow::Result<()> {
    let output = Command::new("ffmpeg")
        .args(["-nostdin", "-hide_banner", "-loglevel", "error", "-y", "-i"])
        .arg(wav)
        .args(PHONE_MP3_ARGS)
        .arg(mp3)
        .output()
        .context("starting ffmpeg")?;
    ensure!(
        output.status.success(),
        "ffmpeg could not make the MP3 input ({}): {}",
        output.status,
        String::from_utf8_lossy(&output.stderr).trim()
    );
    Ok(())
}

/// Interleaved 16-bit PCM.
#[derive(Clone, Debug, PartialEq)]
struct Pcm {
    sample_rate: u32,
    channels: u16,
    samples: Vec<i16>,
}

/// Reads a 16-bit PCM WAV (what espeak-ng writes).
fn parse_wav(bytes: &[u8]) -> anyhow::Result<Pcm> {
    ensure!(
        bytes.len() >= 12 && &bytes[..4] == b"RIFF" && &bytes[8..12] == b"WAVE",
        "not a RIFF/WAVE file"
    );
    let mut format = None;
    let mut offset = 12;
    while offset + 8 <= bytes.len() {
        let id = &bytes[offset..offset + 4];
        let size = u32::from_le_bytes(bytes[offset + 4..offset + 8].try_into()?) as usize;
        let body = &bytes[offset + 8..(offset + 8 + size).min(bytes.len())];
        match id {
            b"fmt " => {
                ensure!(body.len() >= 16, "the fmt chunk is too short");
                let tag = u16::from_le_bytes([body[0], body[1]]);
                let channels = u16::from_le_bytes([body[2], body[3]]);
                let sample_rate = u32::from_le_bytes(body[4..8].try_into()?);
                let bits = u16::from_le_bytes([body[14], body[15]]);
                ensure!(
                    tag == 1 && bits == 16 && channels > 0,
                    "expected 16-bit PCM, found format {tag}, {bits} bits, {channels} channels"
                );
                format = Some((sample_rate, channels));
            }
            b"data" => {
                let (sample_rate, channels) = format.context("the data chunk comes before fmt")?;
                let samples = body
                    .chunks_exact(2)
                    .map(|pair| i16::from_le_bytes([pair[0], pair[1]]))
                    .collect();
                return Ok(Pcm {
                    sample_rate,
                    channels,
                    samples,
                });
            }
            _ => {}
        }
        // Chunks are padded to an even size.
        offset += 8 + size + size % 2;
    }
    bail!("no data chunk")
}

/// Repeats `speech` with a pause after each repetition, cut to exactly
/// `seconds`.
fn loop_to_length(speech: &Pcm, seconds: u32) -> Pcm {
    let channels = usize::from(speech.channels);
    let pause = (PAUSE_SECS * f64::from(speech.sample_rate)) as usize * channels;
    let total = seconds as usize * speech.sample_rate as usize * channels;
    let one_reading = speech
        .samples
        .iter()
        .copied()
        .chain(std::iter::repeat_n(0, pause));
    let samples = one_reading.cycle().take(total).collect();
    Pcm {
        sample_rate: speech.sample_rate,
        channels: speech.channels,
        samples,
    }
}

/// A canonical 44-byte-header WAV.
fn wav_bytes(pcm: &Pcm) -> Vec<u8> {
    let data_len = (pcm.samples.len() * 2) as u32;
    let block_align = pcm.channels * 2;
    let mut wav = Vec::with_capacity(44 + data_len as usize);
    wav.extend_from_slice(b"RIFF");
    wav.extend_from_slice(&(36 + data_len).to_le_bytes());
    wav.extend_from_slice(b"WAVEfmt ");
    wav.extend_from_slice(&16u32.to_le_bytes());
    wav.extend_from_slice(&1u16.to_le_bytes());
    wav.extend_from_slice(&pcm.channels.to_le_bytes());
    wav.extend_from_slice(&pcm.sample_rate.to_le_bytes());
    wav.extend_from_slice(&(pcm.sample_rate * u32::from(block_align)).to_le_bytes());
    wav.extend_from_slice(&block_align.to_le_bytes());
    wav.extend_from_slice(&16u16.to_le_bytes());
    wav.extend_from_slice(b"data");
    wav.extend_from_slice(&data_len.to_le_bytes());
    for sample in &pcm.samples {
        wav.extend_from_slice(&sample.to_le_bytes());
    }
    wav
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pcm(samples: Vec<i16>) -> Pcm {
        Pcm {
            sample_rate: 10,
            channels: 1,
            samples,
        }
    }

    #[test]
    fn a_written_wav_reads_back() {
        let original = Pcm {
            sample_rate: 22_050,
            channels: 2,
            samples: vec![1, -1, 300, -300, i16::MAX, i16::MIN],
        };
        assert_eq!(parse_wav(&wav_bytes(&original)).unwrap(), original);
    }

    #[test]
    fn chunks_before_the_data_are_skipped() {
        let mut wav = wav_bytes(&pcm(vec![5, 6]));
        // A LIST chunk of odd size (padded) between fmt and data.
        let list = [b"LIST".as_slice(), &3u32.to_le_bytes(), b"abc\0"].concat();
        wav.splice(36..36, list);
        assert_eq!(parse_wav(&wav).unwrap().samples, [5, 6]);
    }

    #[test]
    fn other_formats_are_refused() {
        assert!(parse_wav(b"not a wav file at all").is_err());
        let mut float_wav = wav_bytes(&pcm(vec![1]));
        float_wav[20] = 3; // format tag 3: IEEE float
        assert!(parse_wav(&float_wav).is_err());
    }

    #[test]
    fn looping_repeats_with_pauses_to_the_exact_length() {
        // 10 Hz: the pause is 8 frames.
        let looped = loop_to_length(&pcm(vec![1, 2, 3]), 3);
        assert_eq!(looped.samples.len(), 30);
        let expected: Vec<i16> = [1, 2, 3, 0, 0, 0, 0, 0, 0, 0, 0]
            .into_iter()
            .cycle()
            .take(30)
            .collect();
        assert_eq!(looped.samples, expected);
    }

    #[test]
    fn looping_keeps_channels_together() {
        let stereo = Pcm {
            sample_rate: 10,
            channels: 2,
            samples: vec![1, -1],
        };
        let looped = loop_to_length(&stereo, 1);
        assert_eq!(looped.samples.len(), 20);
        assert_eq!(&looped.samples[..2], [1, -1]);
        // One reading and its 8-frame pause take 18 samples; the next
        // reading starts on a whole frame.
        assert_eq!(&looped.samples[2..18], [0; 16]);
        assert_eq!(&looped.samples[18..], [1, -1]);
    }
}
