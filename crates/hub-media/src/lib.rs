//! Audio ingest for Nguồn: whatever an editor uploads (an MP3 from a phone, a
//! WAV from a studio, an M4A from a messaging app) or types (text for
//! text-to-speech) becomes one small, robust file for loudspeakers on 4G.
//!
//! # Pipeline
//!
//! [`ingest_audio`] runs, in order:
//!
//! 1. **Size check** before anything is parsed: empty input and input over
//!    [`AudioSettings::max_input_bytes`] are refused.
//! 2. **Decode** (`decode`): symphonia for MP3/MP2, WAV/AIFF, FLAC, Ogg
//!    Vorbis, AAC and ALAC in MP4/M4A; libopus for Ogg Opus (symphonia has no
//!    Opus decoder). Decoding stops as soon as the audio passes
//!    [`AudioSettings::max_duration`], so a hostile file cannot make us decode
//!    hours; panics inside a decoder become [`MediaError::Corrupt`]. MP3 is
//!    decoded in two halves on two cores (`decode/halves`: the second
//!    decoder starts a few frames early, and its first frames must match
//!    the first decoder's bit for bit, or the first decodes on alone). The
//!    input loudness is measured here, on the original channels, on a
//!    thread of its own while decoding goes on.
//! 3. **Downmix** to mono (the mean of all channels), as samples arrive: a
//!    loudspeaker cluster plays one channel, and at 24 kbit/s every bit should
//!    go to the voice, not to stereo.
//! 4. **Resample** to 48 kHz (`resample`, rubato's FFT resampler), the
//!    rate Opus works at internally; the two halves on two cores, split at
//!    one of the resampler's blocks so the result is the same as in one go.
//! 5. **Normalise loudness** (`loudness`) to
//!    [`AudioSettings::target_lufs`], measured as integrated loudness by
//!    ITU-R BS.1770 / EBU R128 (K-weighting, absolute and relative gates;
//!    tested against the `ebur128` crate), with a look-ahead peak limiter
//!    and a true-peak ceiling ([`AudioSettings::true_peak_ceiling_dbtp`])
//!    so raising quiet recordings never clips. The source is measured once
//!    (K-weighted energy per 100 ms, true-peak envelope); the gain search
//!    then works on those figures, and
//!    the limiter works on true peaks, so no round measures the samples again
//!    (a round works out only the limiter's gain; the samples are written
//!    once, with the gain found).
//! 6. **Encode** (`encode`) with libopus in VoIP (speech) mode, mono,
//!    [`AudioSettings::bitrate_bps`] (24 kbit/s by default), 20 ms frames, into
//!    an Ogg Opus file (RFC 7845: `OpusHead` with the encoder's pre-skip,
//!    `OpusTags`, 48 kHz granule positions, the end trimmed by the last
//!    granule, end-of-stream flag). The packets are encoded in segments of
//!    up to 20 s on all cores (`encode/segments`: each segment's encoder is
//!    warmed up on the second before it, so the seams do not show).
//! 7. **Check** the result by decoding it again (`encode/check`), while the
//!    later segments are still being encoded: one libopus decoder plays the
//!    packets in stream order as the encoders hand them over, a second at a
//!    time, and measures them as it goes (BS.1770 loudness and true peak,
//!    the same measurements as normalisation's); the written file is
//!    then read back (page checksums, headers, granule positions, end of
//!    stream) and must hold exactly the packets played. The loudness and
//!    true peak reported in [`EncodedAudio`] are measured on what
//!    loudspeakers will play. Lossy coding moves peaks (speech limited to
//!    -1 dBTP comes back from Opus at 24 kbit/s near 0 dBTP), so when the
//!    decoded peak is over
//!    the ceiling the limiter is set lower where it overshot (per 100 ms, so
//!    one unlucky peak in ten minutes does not cost the whole file its
//!    loudness) and the audio encoded again, at most three encodings in all;
//!    an output more than 0.5 LU off the target is encoded again too, with
//!    the loudness coding took added to the target. The first encoding
//!    already limits 2 dB under the ceiling, which makes one encoding enough
//!    for most speech.
//!
//! [`speak`] runs `espeak-ng` (`tts`) and feeds its WAV to the same pipeline.
//!
//! # Pictures and videos for LED boards
//!
//! [`ingest_image`] takes a PNG, JPEG or WebP (recognised by content; GIF,
//! BMP, TIFF, HEIC, SVG and the rest are refused by name), checks its size
//! and dimensions before decoding and decodes under `image::Limits`, so a
//! decompression bomb is refused, not allocated. It comes out as a PNG of
//! exactly one board model's [`BoardSize`], scaled with its aspect ratio
//! kept and letterboxed in black, the same bytes every time.
//!
//! [`ingest_video`] checks an MP4 without decoding it: an H.264 video track,
//! a duration within [`VideoSettings::max_duration`], media data inside the
//! file, and subtitles from a mov_text/WebVTT track or a strictly checked
//! SRT file whose cues fit the video. Boards play H.264 themselves, so the
//! file is stored exactly as uploaded.
//!
//! # Why -16 LUFS
//!
//! -16 LUFS integrated is the usual target for speech heard on small speakers
//! and phones (podcast and streaming platforms use -16 to -14): loud enough to
//! carry outdoors without the heavy limiting louder targets need. -23 LUFS
//! (EBU R128) is the target for broadcast television, which is played through
//! a volume control in a quiet room. Every bulletin at the same loudness means
//! a commune's loudspeakers need no per-bulletin volume adjustment.
//!
//! # Determinism
//!
//! The same input bytes and settings give the same output bytes on the same
//! build and machine (no clock, no randomness: the Ogg serial number is derived
//! from the encoded audio), so the SHA-256 can address the content. Other
//! libopus versions or CPUs with other SIMD paths may produce different bytes.
//!
//! # Layout
//! - `error`: [`MediaError`], one variant per thing that can be wrong.
//! - `decode`: input bytes to mono samples at the input rate, plus facts;
//!   `decode/ogg_opus`: Ogg Opus input through libopus; `decode/halves`: MP3
//!   on two cores.
//! - `resample`: mono samples to 48 kHz.
//! - `loudness`: BS.1770 measurement, gain and the peak limiter;
//!   `loudness/true_peak`: the 4x-oversampled true peak.
//! - `encode`: the Ogg Opus muxer; `encode/segments`: libopus encoding in
//!   parallel segments; `encode/check`: the decode check and the read-back.
//! - `tts`: text to WAV with espeak-ng.
//! - `picture`: pictures fitted to LED boards (named so as not to shadow the
//!   `image` crate).
//! - `video`: MP4 checks and the stored video, with the `hub-mp4` crate's
//!   bounds-checked box reader and SRT parser (shared with the boards).
//! - `upload`: steps 1 to 4, everything that reads an upload's bytes; public
//!   with the `fuzzing` feature for the fuzz targets (`fuzz/README.md`).

mod decode;
mod encode;
mod error;
mod loudness;
mod picture;
mod resample;
mod tts;
mod upload;
mod video;

use std::fmt;
use std::time::Duration;

use sha2::{Digest, Sha256};

pub use decode::InputFacts;
pub use error::MediaError;
pub use picture::{
    ingest_image, BoardSize, FittedImage, ImageKind, ImageSettings, Placement, MAX_BOARD_SIDE,
};
pub use video::{ingest_video, StoredVideo, SubtitleCodec, Subtitles, VideoSettings};

/// The audio pipeline's untrusted-input half, for the fuzz targets in
/// `fuzz/` only (feature `fuzzing`): [`ingest_audio`] without the encoding.
#[cfg(feature = "fuzzing")]
pub use upload::{decode_upload, DecodedUpload};

/// The sample rate of everything after decoding, and of Opus itself.
pub const OUTPUT_SAMPLE_RATE: u32 = 48_000;

/// Encodings tried to bring the decoded output's peaks under the ceiling.
const MAX_ENCODE_ROUNDS: u32 = 3;
/// How far below the configured ceiling the limiter is set for the first
/// encoding, so that one encoding is usually enough: Opus at speech bitrates
/// decodes peaks about 1 dB over the limiter's ceiling, and holding the
/// loudness gives back about half of a lower ceiling.
const CODEC_HEADROOM_DB: f64 = 2.0;
/// How far below the configured ceiling the limiter may be set, anywhere, to
/// make up for the codec's overshoot.
const MAX_CEILING_DROP_DB: f64 = 6.0;
/// How far over the ceiling the decoded output's true peak may be.
const PEAK_TOLERANCE_DB: f64 = 0.1;
/// When an encoding overshot, sub-blocks whose decoded peaks came this close
/// to the ceiling have their limiter lowered too, so that the next encoding
/// does not overshoot next to where the last one did.
const RECHECK_MARGIN_DB: f64 = 0.3;
/// How far from the target the decoded output's loudness may be before it is
/// encoded again.
const OUTPUT_LOUDNESS_TOLERANCE_LU: f64 = 0.5;

/// How uploads and speech become broadcast audio.
#[derive(Clone, Debug, PartialEq)]
pub struct AudioSettings {
    /// Integrated loudness of the output, in LUFS; -16 by default (see the
    /// crate docs for why).
    pub target_lufs: f64,
    /// Highest true peak of the output as decoded, in dBTP; -1 by default.
    pub true_peak_ceiling_dbtp: f64,
    /// Opus bitrate in bit/s; 24,000 by default, plenty for one voice.
    pub bitrate_bps: u32,
    /// Longest audio accepted (10 minutes by default); decoding stops once
    /// past it.
    pub max_duration: Duration,
    /// Largest upload accepted (50 MiB by default), checked before decoding.
    pub max_input_bytes: usize,
    /// Longest `espeak-ng` may run before it is killed (30 s by default).
    pub tts_timeout: Duration,
}

impl Default for AudioSettings {
    fn default() -> Self {
        Self {
            target_lufs: -16.0,
            true_peak_ceiling_dbtp: -1.0,
            bitrate_bps: 24_000,
            max_duration: Duration::from_secs(10 * 60),
            max_input_bytes: 50 * 1024 * 1024,
            tts_timeout: Duration::from_secs(30),
        }
    }
}

impl AudioSettings {
    /// Refuses settings that would make a broken or absurd file.
    pub fn validate(&self) -> Result<(), MediaError> {
        let invalid = |what: String| Err(MediaError::InvalidSettings(what));
        if !(-40.0..=-5.0).contains(&self.target_lufs) {
            return invalid(format!(
                "target loudness {} LUFS is outside -40..-5 LUFS",
                self.target_lufs
            ));
        }
        if !(-20.0..=0.0).contains(&self.true_peak_ceiling_dbtp) {
            return invalid(format!(
                "true-peak ceiling {} dBTP is outside -20..0 dBTP",
                self.true_peak_ceiling_dbtp
            ));
        }
        if !(6_000..=510_000).contains(&self.bitrate_bps) {
            return invalid(format!(
                "bitrate {} bit/s is outside what Opus supports (6000..510000)",
                self.bitrate_bps
            ));
        }
        if self.max_duration.is_zero() || self.max_input_bytes == 0 || self.tts_timeout.is_zero() {
            return invalid("limits must be greater than zero".to_owned());
        }
        Ok(())
    }
}

/// A broadcast-ready Ogg Opus file and what is known about it.
#[derive(Clone, PartialEq)]
pub struct EncodedAudio {
    /// The Ogg Opus file (mono, 48 kHz).
    pub ogg: Vec<u8>,
    /// Playing time, rounded to the millisecond.
    pub duration_ms: u64,
    /// What was uploaded (or what `espeak-ng` produced).
    pub input: InputFacts,
    /// Integrated loudness of the input on its own channels, in LUFS.
    pub input_lufs: f64,
    /// Integrated loudness of `ogg` once decoded, in LUFS.
    pub output_lufs: f64,
    /// True peak of `ogg` once decoded, in dBTP.
    pub output_true_peak_dbtp: f64,
    /// SHA-256 of `ogg`, lowercase hex: the content address.
    pub sha256_hex: String,
    /// Size of `ogg` in bytes.
    pub size_bytes: usize,
    /// Opus encodings made: more than one when an encoding decoded with
    /// peaks over the ceiling.
    pub encodings: u32,
}

/// Everything but the file's bytes, which would drown the facts in logs.
impl fmt::Debug for EncodedAudio {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EncodedAudio")
            .field("ogg", &format_args!("<{} bytes>", self.ogg.len()))
            .field("duration_ms", &self.duration_ms)
            .field("input", &self.input)
            .field("input_lufs", &self.input_lufs)
            .field("output_lufs", &self.output_lufs)
            .field("output_true_peak_dbtp", &self.output_true_peak_dbtp)
            .field("sha256_hex", &self.sha256_hex)
            .field("size_bytes", &self.size_bytes)
            .field("encodings", &self.encodings)
            .finish()
    }
}

/// Turns an uploaded audio file into a normalised mono Ogg Opus file.
///
/// `hint` is the file's extension (`"mp3"`, `".m4a"`) or MIME type
/// (`"audio/mpeg"`); the content decides in the end, the hint only helps
/// ambiguous cases.
pub fn ingest_audio(
    bytes: &[u8],
    hint: Option<&str>,
    settings: &AudioSettings,
) -> Result<EncodedAudio, MediaError> {
    let upload::DecodedUpload {
        facts,
        input_lufs,
        samples,
    } = upload::decode_upload(bytes, hint, settings)?;
    let output = normalise_and_encode(&samples, facts.sample_rate, settings)?;

    Ok(EncodedAudio {
        duration_ms: (samples.len() as u64 * 1000 + u64::from(OUTPUT_SAMPLE_RATE) / 2)
            / u64::from(OUTPUT_SAMPLE_RATE),
        input: facts,
        input_lufs,
        output_lufs: output.lufs,
        output_true_peak_dbtp: output.true_peak_dbtp,
        sha256_hex: sha256_hex(&output.ogg),
        size_bytes: output.ogg.len(),
        encodings: output.encodings,
        ogg: output.ogg,
    })
}

/// An encoded file with the loudness and true peak it decodes to.
struct CheckedOutput {
    ogg: Vec<u8>,
    lufs: f64,
    true_peak_dbtp: f64,
    encodings: u32,
}

/// Normalises and encodes, then checks what was encoded.
///
/// Lossy coding moves peaks: at 24 kbit/s, speech limited to -1 dBTP comes
/// back from Opus at about 0 dBTP, where a loudspeaker's 16-bit output would
/// clip. So when the decoded output overshoots the ceiling, the limiter's
/// ceiling is lowered where it overshot (100 ms at a time, not everywhere:
/// over ten minutes one unlucky peak would otherwise cost the whole file its
/// loudness) and the audio encoded again. Coding also takes a little
/// loudness away; what it took is added to the target of the next encoding,
/// and an output off the target by more than [`OUTPUT_LOUDNESS_TOLERANCE_LU`]
/// is encoded again too.
fn normalise_and_encode(
    samples: &[f32],
    input_sample_rate: u32,
    settings: &AudioSettings,
) -> Result<CheckedOutput, MediaError> {
    let analysis = loudness::Analysis::new(samples, OUTPUT_SAMPLE_RATE)?;
    let ceiling_dbtp = settings.true_peak_ceiling_dbtp - CODEC_HEADROOM_DB;
    let mut scale = loudness::CeilingScale::flat(analysis.sub_blocks());
    let mut target_lufs = settings.target_lufs;
    let mut normalised = vec![0f32; samples.len()];
    let mut round = 1;
    loop {
        analysis.normalise_into(&mut normalised, target_lufs, ceiling_dbtp, &scale);
        // Measure what was written, not what was meant to be written.
        let encode::Encoded { ogg, played } =
            encode::encode_ogg_opus(&normalised, input_sample_rate, settings.bitrate_bps)?;
        let true_peak_dbtp = played.true_peak_dbtp;
        let overshoot = true_peak_dbtp - settings.true_peak_ceiling_dbtp;
        let missing_lu = settings.target_lufs - played.loudness_lufs;
        let peaks_ok = overshoot <= PEAK_TOLERANCE_DB;
        let loudness_ok = missing_lu.abs() <= OUTPUT_LOUDNESS_TOLERANCE_LU;
        if (peaks_ok && loudness_ok) || round == MAX_ENCODE_ROUNDS {
            return Ok(CheckedOutput {
                ogg,
                lufs: played.loudness_lufs,
                true_peak_dbtp,
                encodings: round,
            });
        }
        if !peaks_ok {
            // The gain that holds the loudness raises the peaks again, so
            // only about half of a lower ceiling reaches the decoded peaks;
            // sub-blocks just under the ceiling get a margin too.
            let sub_block_peaks =
                loudness::true_peak_per_sub_block(&played.mono, analysis.sub_block_len());
            let mut drops_db = vec![0f64; sub_block_peaks.len() + 1];
            for (sub, peak_dbtp) in sub_block_peaks.into_iter().enumerate() {
                let over = peak_dbtp - settings.true_peak_ceiling_dbtp + RECHECK_MARGIN_DB;
                // The limiter looks ahead across sub-block edges.
                for drop_db in &mut drops_db[sub.saturating_sub(1)..=sub + 1] {
                    *drop_db = drop_db.max(2.0 * over);
                }
            }
            for (sub, drop_db) in drops_db.into_iter().enumerate() {
                if drop_db > 0.0 {
                    scale.lower(sub, drop_db, MAX_CEILING_DROP_DB - CODEC_HEADROOM_DB);
                }
            }
        }
        target_lufs += missing_lu;
        round += 1;
    }
}

/// Speaks `text` in `language` (an ISO 639 code such as `vi`) with
/// `espeak-ng` and runs the result through [`ingest_audio`]'s pipeline.
pub fn speak(
    text: &str,
    language: &str,
    settings: &AudioSettings,
) -> Result<EncodedAudio, MediaError> {
    settings.validate()?;
    let wav = tts::synthesise_wav(text, language, settings)?;
    ingest_audio(&wav, Some("wav"), settings)
}

fn sha256_hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|byte| format!("{byte:02x}"))
        .collect()
}
