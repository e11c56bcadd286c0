//! Videos for LED boards: an MP4 with H.264 video and subtitles (a track in
//! the file, or an SRT file beside it), checked and stored as uploaded.
//! Boards play H.264 in hardware, so nothing is transcoded: the container
//! is read (`hub-mp4`, the reader boards use too) to make sure a board will
//! be able to play it and read every subtitle cue, and to learn its
//! duration and picture size.

use std::fmt;
use std::time::Duration;

pub use hub_mp4::SubtitleCodec;
use hub_mp4::{srt, Movie, Mp4Error};

use crate::{sha256_hex, MediaError};

/// Limits for video uploads.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VideoSettings {
    /// Largest video accepted (200 MiB by default), checked before parsing.
    pub max_input_bytes: usize,
    /// Longest video accepted (10 minutes by default), from its header.
    pub max_duration: Duration,
    /// Largest SRT file accepted (1 MiB by default).
    pub max_subtitle_bytes: usize,
}

impl Default for VideoSettings {
    fn default() -> Self {
        Self {
            max_input_bytes: 200 * 1024 * 1024,
            max_duration: Duration::from_secs(10 * 60),
            max_subtitle_bytes: 1024 * 1024,
        }
    }
}

impl VideoSettings {
    /// Refuses limits of zero, which would refuse every video.
    pub fn validate(&self) -> Result<(), MediaError> {
        if self.max_input_bytes == 0 || self.max_duration.is_zero() || self.max_subtitle_bytes == 0
        {
            return Err(MediaError::InvalidVideoSettings(
                "limits must be greater than zero".to_owned(),
            ));
        }
        Ok(())
    }
}

/// Where a video's subtitles come from.
#[derive(Clone, PartialEq, Eq)]
pub enum Subtitles {
    /// A subtitle track inside the MP4.
    Track { codec: SubtitleCodec },
    /// An SRT file, checked against the video and stored beside it as given.
    Srt {
        srt: Vec<u8>,
        cues: usize,
        /// When the last cue ends, in milliseconds from the start: a video
        /// shorter than this cannot carry these subtitles.
        end_ms: u64,
        /// SHA-256 of `srt`, lowercase hex.
        sha256_hex: String,
    },
}

/// A checked video, kept byte for byte as uploaded, and its facts.
#[derive(Clone, PartialEq, Eq)]
pub struct StoredVideo {
    /// The MP4 as uploaded.
    pub mp4: Vec<u8>,
    /// SHA-256 of `mp4`, lowercase hex: the content address.
    pub sha256_hex: String,
    pub size_bytes: usize,
    pub duration_ms: u64,
    /// The coded picture size of the H.264 track.
    pub width: u32,
    pub height: u32,
    pub subtitles: Subtitles,
}

/// Everything but the files' bytes, which would drown the facts in logs.
impl fmt::Debug for StoredVideo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StoredVideo")
            .field("mp4", &format_args!("<{} bytes>", self.mp4.len()))
            .field("sha256_hex", &self.sha256_hex)
            .field("size_bytes", &self.size_bytes)
            .field("duration_ms", &self.duration_ms)
            .field("width", &self.width)
            .field("height", &self.height)
            .field("subtitles", &self.subtitles)
            .finish()
    }
}

impl fmt::Debug for Subtitles {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Track { codec } => f.debug_struct("Track").field("codec", codec).finish(),
            Self::Srt {
                srt,
                cues,
                end_ms,
                sha256_hex,
            } => f
                .debug_struct("Srt")
                .field("srt", &format_args!("<{} bytes>", srt.len()))
                .field("cues", cues)
                .field("end_ms", end_ms)
                .field("sha256_hex", sha256_hex)
                .finish(),
        }
    }
}

/// Checks an uploaded MP4 and its subtitles, to store them unchanged.
///
/// The video must be H.264 (`avc1`/`avc3`), last more than zero and at most
/// [`VideoSettings::max_duration`], and lie whole inside the file. The
/// subtitles are `subtitles_srt` when given (every cue must end by the end
/// of the video), otherwise a mov_text or WebVTT track in the file.
pub fn ingest_video(
    bytes: &[u8],
    subtitles_srt: Option<&[u8]>,
    settings: &VideoSettings,
) -> Result<StoredVideo, MediaError> {
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
    let movie = hub_mp4::read(bytes).map_err(media_error)?;
    let video = movie.h264_track().map_err(media_error)?;
    let duration_ms = movie.video_duration_ms(video).map_err(media_error)?;
    if u128::from(duration_ms) > settings.max_duration.as_millis() {
        return Err(MediaError::VideoTooLong {
            duration_ms,
            max_secs: settings.max_duration.as_secs(),
        });
    }
    let subtitles = match subtitles_srt {
        Some(srt) => srt_subtitles(srt, duration_ms, settings)?,
        None => track_subtitles(&movie, bytes)?,
    };
    Ok(StoredVideo {
        mp4: bytes.to_vec(),
        sha256_hex: sha256_hex(bytes),
        size_bytes: bytes.len(),
        duration_ms,
        width: u32::from(video.width),
        height: u32::from(video.height),
        subtitles,
    })
}

/// The subtitle track, whose every cue must read: a board shows them.
fn track_subtitles(movie: &Movie, bytes: &[u8]) -> Result<Subtitles, MediaError> {
    let (track, codec) = movie.subtitle_track().map_err(media_error)?;
    track.cues(bytes, codec).map_err(media_error)?;
    Ok(Subtitles::Track { codec })
}

/// The same complaint in the hub's words (the messages are the same).
fn media_error(error: Mp4Error) -> MediaError {
    match error {
        Mp4Error::NotMp4 { detail } => MediaError::NotMp4 { detail },
        Mp4Error::Truncated { detail } => MediaError::Truncated { detail },
        Mp4Error::Corrupt { detail } => MediaError::Corrupt { detail },
        Mp4Error::NoVideoTrack => MediaError::NoVideoTrack,
        Mp4Error::UnsupportedVideoCodec { codec } => MediaError::UnsupportedVideoCodec { codec },
        Mp4Error::NoVideoDuration { detail } => MediaError::NoVideoDuration { detail },
        Mp4Error::NoSubtitles => MediaError::NoSubtitles,
        Mp4Error::UnsupportedSubtitleCodec { codec } => {
            MediaError::UnsupportedSubtitleCodec { codec }
        }
        Mp4Error::InvalidSrt { detail } => MediaError::InvalidSrt { detail },
        Mp4Error::InvalidSrtCue { cue, line, detail } => {
            MediaError::InvalidSrtCue { cue, line, detail }
        }
    }
}

/// Parses the SRT file and checks every cue ends by the end of the video.
fn srt_subtitles(
    srt: &[u8],
    duration_ms: u64,
    settings: &VideoSettings,
) -> Result<Subtitles, MediaError> {
    if srt.len() > settings.max_subtitle_bytes {
        return Err(MediaError::SubtitlesTooBig {
            size: srt.len(),
            max: settings.max_subtitle_bytes,
        });
    }
    let cues = srt::parse(srt).map_err(media_error)?;
    if let Some(late) = cues.iter().find(|cue| cue.end_ms > duration_ms) {
        return Err(MediaError::InvalidSrtCue {
            cue: late.number,
            line: late.line,
            detail: format!(
                "it ends at {}, after the video ends at {}",
                srt::timestamp(late.end_ms),
                srt::timestamp(duration_ms)
            ),
        });
    }
    Ok(Subtitles::Srt {
        cues: cues.len(),
        end_ms: cues.iter().map(|cue| cue.end_ms).max().unwrap_or(0),
        sha256_hex: sha256_hex(srt),
        srt: srt.to_vec(),
    })
}
