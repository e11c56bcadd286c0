//! What can be wrong with a video or its subtitles, said so an editor (or a
//! board's report) knows what to fix. The messages are the ones the hub
//! shows for an upload.

use thiserror::Error;

/// Why a file is not a video a board can play, or its subtitles cannot be read.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum Mp4Error {
    #[error("not an MP4 video: {detail}")]
    NotMp4 { detail: String },

    #[error("the file is truncated: {detail}")]
    Truncated { detail: String },

    #[error("the file is corrupt: {detail}")]
    Corrupt { detail: String },

    #[error("the MP4 file has no video track")]
    NoVideoTrack,

    #[error("the video codec {codec} is not supported (use H.264)")]
    UnsupportedVideoCodec { codec: String },

    #[error("the video has no duration: {detail}")]
    NoVideoDuration { detail: String },

    #[error(
        "the video has no subtitles: add a subtitle track (mov_text or WebVTT) or give an SRT file"
    )]
    NoSubtitles,

    #[error("the video's subtitle track is {codec}, which we cannot read (use mov_text or WebVTT, or give an SRT file)")]
    UnsupportedSubtitleCodec { codec: String },

    #[error("the subtitle file is not valid SRT: {detail}")]
    InvalidSrt { detail: String },

    #[error("subtitle cue {cue} (line {line}) is invalid: {detail}")]
    InvalidSrtCue {
        cue: usize,
        line: usize,
        detail: String,
    },
}

pub(crate) fn corrupt(detail: String) -> Mp4Error {
    Mp4Error::Corrupt { detail }
}
