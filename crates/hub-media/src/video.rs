//! Videos for LED boards: an MP4 with H.264 video and subtitles (a track in
//! the file, or an SRT file beside it), checked and stored as uploaded.
//! Boards play H.264 in hardware, so nothing is transcoded: the container
//! is read (`mp4`) to make sure a board will be able to play it, and to
//! learn its duration and picture size.

mod mp4;
mod srt;

use std::fmt;
use std::time::Duration;

use self::mp4::{FourCc, Movie, Track};
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

/// The subtitle formats a board can show from inside an MP4.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum SubtitleCodec {
    /// 3GPP timed text (`tx3g`), what ffmpeg writes as `mov_text`.
    MovText,
    /// WebVTT in MP4 (`wvtt`).
    WebVtt,
}

impl fmt::Display for SubtitleCodec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::MovText => "mov_text",
            Self::WebVtt => "WebVTT",
        })
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
                sha256_hex,
            } => f
                .debug_struct("Srt")
                .field("srt", &format_args!("<{} bytes>", srt.len()))
                .field("cues", cues)
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
    let movie = mp4::read(bytes)?;
    let video = h264_track(&movie)?;
    if video.width == 0 || video.height == 0 {
        return Err(MediaError::Corrupt {
            detail: format!(
                "the H.264 track says its pictures are {}x{} pixels",
                video.width, video.height
            ),
        });
    }
    let duration_ms = match movie.duration_ms {
        0 => video.duration_ms,
        known => known,
    };
    if duration_ms == 0 {
        let detail = if movie.fragmented {
            "it is a fragmented MP4 whose header does not give its length; save it as a \
             regular MP4 (for example with ffmpeg -movflags +faststart)"
        } else {
            "its movie and track headers say 0"
        };
        return Err(MediaError::NoVideoDuration {
            detail: detail.to_owned(),
        });
    }
    if u128::from(duration_ms) > settings.max_duration.as_millis() {
        return Err(MediaError::VideoTooLong {
            duration_ms,
            max_secs: settings.max_duration.as_secs(),
        });
    }
    let subtitles = match subtitles_srt {
        Some(srt) => srt_subtitles(srt, duration_ms, settings)?,
        None => track_subtitles(&movie)?,
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

/// The first H.264 video track; any other video codec is named.
fn h264_track(movie: &Movie) -> Result<&Track, MediaError> {
    let is_video = |track: &&Track| track.handler.0 == *b"vide";
    let first = movie
        .tracks
        .iter()
        .find(is_video)
        .ok_or(MediaError::NoVideoTrack)?;
    movie
        .tracks
        .iter()
        .filter(is_video)
        .find(|track| mp4::is_h264(track.codec))
        .ok_or_else(|| MediaError::UnsupportedVideoCodec {
            codec: video_codec_name(first.codec),
        })
}

fn video_codec_name(codec: FourCc) -> String {
    let name = match &codec.0 {
        b"hvc1" | b"hev1" => "H.265/HEVC",
        b"mp4v" => "MPEG-4 Part 2",
        b"vp08" => "VP8",
        b"vp09" => "VP9",
        b"av01" => "AV1",
        b"s263" | b"h263" => "H.263",
        b"jpeg" | b"mjpa" | b"mjpb" => "Motion JPEG",
        b"dvh1" | b"dvhe" => "Dolby Vision",
        b"encv" => "encrypted video",
        _ => return codec.to_string(),
    };
    format!("{name} ({codec})")
}

/// Handler types of tracks meant to be read as text on screen.
fn is_subtitle_handler(handler: FourCc) -> bool {
    matches!(&handler.0, b"sbtl" | b"subt" | b"text" | b"clcp")
}

fn track_subtitles(movie: &Movie) -> Result<Subtitles, MediaError> {
    let mut unreadable = None;
    for track in &movie.tracks {
        match &track.codec.0 {
            b"tx3g" => {
                return Ok(Subtitles::Track {
                    codec: SubtitleCodec::MovText,
                })
            }
            b"wvtt" => {
                return Ok(Subtitles::Track {
                    codec: SubtitleCodec::WebVtt,
                })
            }
            _ if is_subtitle_handler(track.handler) => {
                unreadable = unreadable.or(Some(track.codec));
            }
            _ => {}
        }
    }
    Err(match unreadable {
        Some(codec) => MediaError::UnsupportedSubtitleCodec {
            codec: subtitle_codec_name(codec),
        },
        None => MediaError::NoSubtitles,
    })
}

fn subtitle_codec_name(codec: FourCc) -> String {
    let name = match &codec.0 {
        b"stpp" => "TTML",
        b"c608" => "CEA-608 captions",
        b"c708" => "CEA-708 captions",
        b"text" => "QuickTime text",
        _ => return codec.to_string(),
    };
    format!("{name} ({codec})")
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
    let cues = srt::parse(srt)?;
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
        sha256_hex: sha256_hex(srt),
        srt: srt.to_vec(),
    })
}
