//! A bulletin's picture or video for LED boards, from a file into the
//! media store.
//!
//! A picture is fitted to the boards' resolution (`hub_media::ingest_image`:
//! letterboxed, PNG), so a board shows it without scaling; a video is checked
//! (`hub_media::ingest_video`: H.264 MP4 with a subtitle track, or with an
//! SRT file whose every cue reads and ends by the end of the video) and
//! stored as uploaded, its SRT file stored beside it. All are stored by
//! content, like audio.

use std::path::PathBuf;

use chrono::Utc;
use hub_core::{BulletinId, Language, StoredSubtitles, StoredVisual, VisualKind};
use hub_media::{BoardSize, ImageSettings, MediaError, Subtitles, VideoSettings};
use hub_store::{MediaFacts, MediaKind, PictureFacts};

use super::store::{MediaStore, MediaStoreError};

/// One variant's picture or video to ingest, as the configuration gives it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VisualJob {
    pub bulletin: BulletinId,
    pub language: Language,
    pub kind: VisualKind,
    pub file: PathBuf,
}

/// Why a picture or video could not be stored.
#[derive(Debug, thiserror::Error)]
pub enum VisualError {
    #[error("cannot read {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{0}")]
    Media(#[from] MediaError),
    #[error("a {0:?} part shows no file")]
    NoFile(VisualKind),
    #[error("only a video has subtitles, not a {0:?}")]
    SubtitlesWithout(VisualKind),
    #[error("storing it: {0}")]
    Store(#[from] MediaStoreError),
}

/// Fits a picture to `board` (or checks a video and its SRT `subtitles`,
/// if given) and stores it; `hint` is the file's extension, if known.
/// Nothing is stored unless everything checks.
pub fn ingest_visual(
    kind: VisualKind,
    bytes: &[u8],
    subtitles: Option<&[u8]>,
    hint: Option<&str>,
    board: BoardSize,
    media: &MediaStore,
) -> Result<StoredVisual, VisualError> {
    if subtitles.is_some() && kind != VisualKind::Video {
        return Err(VisualError::SubtitlesWithout(kind));
    }
    let now = Utc::now();
    let mut stored_subtitles = None;
    let (facts, file) = match kind {
        VisualKind::Image | VisualKind::Infographic => {
            let fitted = hub_media::ingest_image(bytes, hint, board, &ImageSettings::default())?;
            let facts = MediaFacts {
                sha256: fitted.sha256_hex.clone(),
                kind: MediaKind::Png,
                size: fitted.size_bytes as u64,
                duration_ms: 0,
                loudness: None,
                input: None,
                picture: Some(PictureFacts {
                    width: fitted.width,
                    height: fitted.height,
                    input_format: fitted.input_format.name().to_owned(),
                }),
                created: now,
            };
            (facts, fitted.png)
        }
        VisualKind::Video => {
            let video = hub_media::ingest_video(bytes, subtitles, &VideoSettings::default())?;
            if let Subtitles::Srt {
                srt,
                end_ms,
                sha256_hex,
                ..
            } = &video.subtitles
            {
                let facts = MediaFacts {
                    sha256: sha256_hex.clone(),
                    kind: MediaKind::Srt,
                    size: srt.len() as u64,
                    duration_ms: *end_ms,
                    loudness: None,
                    input: None,
                    picture: None,
                    created: now,
                };
                media.put(srt, &facts)?;
                stored_subtitles = Some(StoredSubtitles {
                    sha256: facts.sha256,
                    size: facts.size,
                });
            }
            let facts = MediaFacts {
                sha256: video.sha256_hex.clone(),
                kind: MediaKind::Mp4,
                size: video.size_bytes as u64,
                duration_ms: video.duration_ms,
                loudness: None,
                input: None,
                picture: Some(PictureFacts {
                    width: video.width,
                    height: video.height,
                    input_format: "mp4".to_owned(),
                }),
                created: now,
            };
            (facts, video.mp4)
        }
        VisualKind::Text => return Err(VisualError::NoFile(kind)),
    };
    media.put(&file, &facts)?;
    tracing::info!(sha256 = %facts.sha256, kind = ?facts.kind, "board media ingested");
    Ok(StoredVisual {
        sha256: facts.sha256,
        size: facts.size,
        duration_ms: (kind == VisualKind::Video).then_some(facts.duration_ms),
        subtitles: stored_subtitles,
    })
}

/// [`ingest_visual`] for a configured file.
pub fn ingest_job(
    job: &VisualJob,
    board: BoardSize,
    media: &MediaStore,
) -> Result<StoredVisual, VisualError> {
    let bytes = std::fs::read(&job.file).map_err(|source| VisualError::Read {
        path: job.file.clone(),
        source,
    })?;
    let hint = job.file.extension().and_then(|e| e.to_str());
    ingest_visual(job.kind, &bytes, None, hint, board, media)
}
