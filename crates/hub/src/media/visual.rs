//! A bulletin's picture or video for LED boards, from a file into the
//! media store.
//!
//! A picture is fitted to the boards' resolution (`hub_media::ingest_image`:
//! letterboxed, PNG), so a board shows it without scaling; a video is checked
//! (`hub_media::ingest_video`: H.264 MP4 with subtitles) and stored as
//! uploaded. Both are stored by content, like audio.

use std::path::PathBuf;

use chrono::Utc;
use hub_core::{BulletinId, Language, StoredVisual, VisualKind};
use hub_media::{BoardSize, ImageSettings, MediaError, VideoSettings};
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
    #[error("storing it: {0}")]
    Store(#[from] MediaStoreError),
}

/// Fits a picture to `board` (or checks a video) and stores it; `hint` is
/// the file's extension, if known.
pub fn ingest_visual(
    kind: VisualKind,
    bytes: &[u8],
    hint: Option<&str>,
    board: BoardSize,
    media: &MediaStore,
) -> Result<StoredVisual, VisualError> {
    let now = Utc::now();
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
            let video = hub_media::ingest_video(bytes, None, &VideoSettings::default())?;
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
    ingest_visual(job.kind, &bytes, hint, board, media)
}
