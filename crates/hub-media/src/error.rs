//! What can go wrong, said so an editor knows what to fix.

use thiserror::Error;

/// Why an upload or a text could not become broadcast audio.
///
/// The messages describe the input, the settings or the text-to-speech tool,
/// so the hub can show them to the editor as they are;
/// [`MediaError::Processing`] alone is a fault on our side.
#[derive(Debug, Error)]
pub enum MediaError {
    #[error("the file is empty (0 bytes)")]
    Empty,

    #[error("the file is {size} bytes, over the limit of {max} bytes")]
    TooBig { size: usize, max: usize },

    #[error("not audio, or an audio format we do not know ({detail})")]
    UnknownFormat { detail: String },

    #[error("the {container} file has no audio track")]
    NoAudioTrack { container: String },

    #[error("the audio codec is not supported: {codec}")]
    UnsupportedCodec { codec: String },

    #[error("the sample rate {rate} Hz is outside the supported {min}–{max} Hz")]
    UnsupportedSampleRate { rate: u32, min: u32, max: u32 },

    #[error("the file is truncated: {detail}")]
    Truncated { detail: String },

    #[error("the file is corrupt: {detail}")]
    Corrupt { detail: String },

    #[error("the file holds no audio samples")]
    NoAudio,

    #[error("the audio is silent (below the -70 LUFS gate of EBU R128)")]
    Silent,

    #[error("the audio is longer than the limit of {max_secs} s")]
    TooLong { max_secs: u64 },

    #[error("invalid audio settings: {0}")]
    InvalidSettings(String),

    #[error("audio processing failed: {0}")]
    Processing(String),

    #[error("there is no text to speak")]
    NoText,

    #[error("text-to-speech is unavailable: {hint}")]
    TtsUnavailable { hint: String },

    #[error("no text-to-speech voice for language {language:?} (voices exist for: {known})")]
    UnknownVoice { language: String, known: String },

    #[error("text-to-speech did not finish within {millis} ms and was stopped")]
    TtsTimeout { millis: u128 },

    #[error("text-to-speech failed: {0}")]
    TtsFailed(String),
}
