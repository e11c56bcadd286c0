//! What can go wrong, said so an editor knows what to fix.

use thiserror::Error;

/// Why an upload or a text could not become broadcast audio, a board picture
/// or a stored video.
///
/// The messages describe the input, the settings or the text-to-speech tool,
/// so the hub can show them to the editor as they are;
/// [`MediaError::Processing`] alone is a fault on our side. [`MediaError::Empty`],
/// [`MediaError::TooBig`], [`MediaError::Truncated`] and [`MediaError::Corrupt`]
/// serve images and videos too.
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

    #[error("not an image: {detail}")]
    NotAnImage { detail: String },

    #[error("the image format {format} is not supported (use PNG, JPEG or WebP)")]
    UnsupportedImageFormat { format: String },

    #[error("the image is {width}x{height} pixels, over the limit of {max_width}x{max_height}")]
    ImageTooLarge {
        width: u32,
        height: u32,
        max_width: u32,
        max_height: u32,
    },

    #[error("decoding the image needs more memory than the limit of {max} bytes")]
    ImageNeedsTooMuchMemory { max: u64 },

    #[error("this {format} image uses something we cannot decode: {detail}")]
    UnsupportedImageFeature { format: String, detail: String },

    #[error("the board size {width}x{height} is invalid: {detail}")]
    InvalidBoardSize {
        width: u32,
        height: u32,
        detail: String,
    },

    #[error("invalid image settings: {0}")]
    InvalidImageSettings(String),

    #[error("not an MP4 video: {detail}")]
    NotMp4 { detail: String },

    #[error("the MP4 file has no video track")]
    NoVideoTrack,

    #[error("the video codec {codec} is not supported (use H.264)")]
    UnsupportedVideoCodec { codec: String },

    #[error("the video has no duration: {detail}")]
    NoVideoDuration { detail: String },

    #[error("the video lasts {duration_ms} ms, over the limit of {max_secs} s")]
    VideoTooLong { duration_ms: u64, max_secs: u64 },

    #[error(
        "the video has no subtitles: add a subtitle track (mov_text or WebVTT) or give an SRT file"
    )]
    NoSubtitles,

    #[error("the video's subtitle track is {codec}, which we cannot read (use mov_text or WebVTT, or give an SRT file)")]
    UnsupportedSubtitleCodec { codec: String },

    #[error("the subtitle file is {size} bytes, over the limit of {max} bytes")]
    SubtitlesTooBig { size: usize, max: usize },

    #[error("the subtitle file is not valid SRT: {detail}")]
    InvalidSrt { detail: String },

    #[error("subtitle cue {cue} (line {line}) is invalid: {detail}")]
    InvalidSrtCue {
        cue: usize,
        line: usize,
        detail: String,
    },

    #[error("invalid video settings: {0}")]
    InvalidVideoSettings(String),
}
