//! Steps 1 to 4 of the audio pipeline: everything that reads an upload's
//! bytes (size checks, decoding, downmix, resampling to 48 kHz). What comes
//! out is bounded by the settings (at most [`AudioSettings::max_duration`]
//! of finite mono samples), so the stages after it never see the upload.
//!
//! It is its own function so the fuzz target `audio_decode` (`fuzz/`,
//! feature `fuzzing`) runs exactly the code uploads go through, without the
//! encoding, whose input is already bounded.

use crate::decode::{self, InputFacts};
use crate::{resample, AudioSettings, MediaError};

/// An upload decoded to mono 48 kHz, with what it was and how loud.
pub struct DecodedUpload {
    pub facts: InputFacts,
    /// Integrated loudness of the input on its own channels, in LUFS.
    pub input_lufs: f64,
    /// Mono samples at [`crate::OUTPUT_SAMPLE_RATE`].
    pub samples: Vec<f32>,
}

/// Checks the upload's size, decodes it within the settings' limits and
/// resamples it; silence and an upload without samples are refused.
pub fn decode_upload(
    bytes: &[u8],
    hint: Option<&str>,
    settings: &AudioSettings,
) -> Result<DecodedUpload, MediaError> {
    settings.validate()?;
    if bytes.is_empty() {
        return Err(MediaError::Empty);
    }
    if bytes.len() > settings.max_input_bytes {
        return Err(MediaError::TooBig {
            size: bytes.len(),
            max: settings.max_input_bytes,
        });
    }

    let decoded = decode::decode(bytes, hint, settings.max_duration)?;
    if decoded.mono.is_empty() {
        return Err(MediaError::NoAudio);
    }
    if !decoded.loudness_lufs.is_finite() {
        return Err(MediaError::Silent);
    }
    Ok(DecodedUpload {
        samples: resample::to_output_rate(decoded.mono, decoded.facts.sample_rate)?,
        facts: decoded.facts,
        input_lufs: decoded.loudness_lufs,
    })
}
