//! A bulletin's audio, from a recording or from text, into the media store.
//!
//! Recordings go through `hub_media::ingest_audio`; text is spoken by
//! espeak-ng in the variant's language (`hub_media::speak`) and goes through
//! the same pipeline. Both are CPU-bound (about a second per minute of audio
//! in release builds), so callers run this off the async runtime, and the
//! jobs of one call share the machine's cores. The same input in the same
//! language is encoded once per call; the result is stored once anyway, by
//! its hash.
//!
//! The slot rule: a part without `secs` takes its audio's length rounded up
//! to the second; a given `secs` shorter than the audio is refused (every
//! airing would be cut); a longer one is kept as the slot.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Instant;

use chrono::Utc;
use hub_core::{BulletinId, Language, StoredAudio};
use hub_media::{AudioSettings, EncodedAudio, MediaError};
use hub_store::{InputSummary, Loudness, MediaFacts, MediaKind};

use super::spoken;
use super::store::{MediaStore, MediaStoreError};

/// Where a variant's audio comes from.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum AudioInput {
    /// A recording in any format hub-media decodes.
    File(PathBuf),
    /// Text, spoken in the variant's language.
    Speech(String),
}

/// One variant's audio to ingest, as the configuration gives it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AudioJob {
    pub bulletin: BulletinId,
    pub language: Language,
    pub input: AudioInput,
    /// The slot the configuration gives (`secs`); `None`: the audio's length.
    pub declared_secs: Option<u32>,
}

/// A variant's audio, stored, with the slot it takes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IngestedAudio {
    pub media: StoredAudio,
    pub secs: u32,
}

/// Why a variant's audio could not be stored; every message names the
/// bulletin and variant, and the file when there is one.
#[derive(Debug, thiserror::Error)]
pub enum IngestError {
    #[error(
        "bulletin {bulletin}, variant {language}: cannot read the audio file {path}: {source}"
    )]
    Read {
        bulletin: BulletinId,
        language: Language,
        path: PathBuf,
        source: std::io::Error,
    },
    #[error(
        "bulletin {bulletin}, variant {language}: the audio file {path} cannot be used: {source}"
    )]
    BadFile {
        bulletin: BulletinId,
        language: Language,
        path: PathBuf,
        source: Box<MediaError>,
    },
    #[error("bulletin {bulletin}, variant {language}: its text cannot be spoken: {source}")]
    Speech {
        bulletin: BulletinId,
        language: Language,
        source: Box<MediaError>,
    },
    #[error(
        "bulletin {bulletin}, variant {language}: secs = {secs} is shorter than its audio \
         ({duration_ms} ms); give at least {needed} or leave secs out"
    )]
    SlotTooShort {
        bulletin: BulletinId,
        language: Language,
        secs: u32,
        duration_ms: u64,
        needed: u64,
    },
    #[error("bulletin {bulletin}, variant {language}: storing its audio: {source}")]
    Store {
        bulletin: BulletinId,
        language: Language,
        source: Box<MediaStoreError>,
    },
}

/// Encodes and stores the audio of every job, then applies the slot rule.
/// Results are in the order of `jobs`; the first failure (in that order) is
/// returned, and nothing is half-stored by it (files are whole or absent).
pub fn ingest_all(
    jobs: &[AudioJob],
    media: &MediaStore,
    settings: &AudioSettings,
) -> Result<Vec<IngestedAudio>, IngestError> {
    // One encoding per distinct input and language.
    let mut distinct: BTreeMap<(&AudioInput, &Language), usize> = BTreeMap::new();
    let mut firsts: Vec<&AudioJob> = Vec::new();
    let slots: Vec<usize> = jobs
        .iter()
        .map(|job| {
            *distinct
                .entry((&job.input, &job.language))
                .or_insert_with(|| {
                    firsts.push(job);
                    firsts.len() - 1
                })
        })
        .collect();
    let stored = run_parallel(&firsts, |job| store_one(job, media, settings));
    let stored: Vec<StoredAudio> = stored.into_iter().collect::<Result<_, _>>()?;
    jobs.iter()
        .zip(slots)
        .map(|(job, slot)| {
            let media = stored[slot].clone();
            Ok(IngestedAudio {
                secs: slot_secs(job, &media)?,
                media,
            })
        })
        .collect()
}

/// Why an uploaded recording was not stored.
#[derive(Debug, thiserror::Error)]
pub enum UploadError {
    #[error("the upload cannot be used: {0}")]
    BadFile(#[from] MediaError),
    #[error("storing the upload: {0}")]
    Store(#[from] MediaStoreError),
}

/// Encodes an uploaded recording (`hint`: its file extension, if known) and
/// stores the broadcast file. CPU-bound like [`ingest_all`].
pub fn ingest_upload(
    bytes: &[u8],
    hint: Option<&str>,
    media: &MediaStore,
    settings: &AudioSettings,
) -> Result<StoredAudio, UploadError> {
    let started = Instant::now();
    let encoded = hub_media::ingest_audio(bytes, hint, settings)?;
    media.put(&encoded.ogg, &facts(&encoded))?;
    media.ingest_times().observe("upload", started.elapsed());
    tracing::info!(sha256 = %encoded.sha256_hex, duration_ms = encoded.duration_ms, "upload ingested");
    Ok(StoredAudio {
        sha256: encoded.sha256_hex,
        size: encoded.size_bytes as u64,
        duration_ms: encoded.duration_ms,
    })
}

/// Encodes one job's input and stores the file.
fn store_one(
    job: &AudioJob,
    media: &MediaStore,
    settings: &AudioSettings,
) -> Result<StoredAudio, IngestError> {
    let started = Instant::now();
    let encoded = encode(job, settings)?;
    media
        .put(&encoded.ogg, &facts(&encoded))
        .map_err(|source| IngestError::Store {
            bulletin: job.bulletin.clone(),
            language: job.language.clone(),
            source: Box::new(source),
        })?;
    let kind = match job.input {
        AudioInput::Speech(_) => "speech",
        AudioInput::File(_) => "file",
    };
    media.ingest_times().observe(kind, started.elapsed());
    tracing::info!(
        bulletin = %job.bulletin,
        language = %job.language,
        sha256 = %encoded.sha256_hex,
        duration_ms = encoded.duration_ms,
        took_ms = started.elapsed().as_millis() as u64,
        "bulletin audio ingested"
    );
    Ok(StoredAudio {
        sha256: encoded.sha256_hex,
        size: encoded.size_bytes as u64,
        duration_ms: encoded.duration_ms,
    })
}

fn encode(job: &AudioJob, settings: &AudioSettings) -> Result<EncodedAudio, IngestError> {
    match &job.input {
        AudioInput::Speech(text) => {
            // espeak-ng picks the voice from the variant's language code.
            spoken::speak(text, job.language.as_str(), settings).map_err(|source| {
                IngestError::Speech {
                    bulletin: job.bulletin.clone(),
                    language: job.language.clone(),
                    source: Box::new(source),
                }
            })
        }
        AudioInput::File(path) => {
            let bytes =
                read_limited(path, settings.max_input_bytes).map_err(|failure| match failure {
                    ReadFailure::Io(source) => IngestError::Read {
                        bulletin: job.bulletin.clone(),
                        language: job.language.clone(),
                        path: path.clone(),
                        source,
                    },
                    ReadFailure::TooBig(size) => IngestError::BadFile {
                        bulletin: job.bulletin.clone(),
                        language: job.language.clone(),
                        path: path.clone(),
                        source: Box::new(MediaError::TooBig {
                            size,
                            max: settings.max_input_bytes,
                        }),
                    },
                })?;
            let hint = path.extension().and_then(|e| e.to_str());
            hub_media::ingest_audio(&bytes, hint, settings).map_err(|source| IngestError::BadFile {
                bulletin: job.bulletin.clone(),
                language: job.language.clone(),
                path: path.clone(),
                source: Box::new(source),
            })
        }
    }
}

enum ReadFailure {
    Io(std::io::Error),
    TooBig(usize),
}

/// The file's bytes, refusing files over `max` before reading them.
fn read_limited(path: &Path, max: usize) -> Result<Vec<u8>, ReadFailure> {
    let size = std::fs::metadata(path).map_err(ReadFailure::Io)?.len();
    let size = usize::try_from(size).unwrap_or(usize::MAX);
    if size > max {
        return Err(ReadFailure::TooBig(size));
    }
    std::fs::read(path).map_err(ReadFailure::Io)
}

/// The record of an encoded file.
fn facts(encoded: &EncodedAudio) -> MediaFacts {
    MediaFacts {
        sha256: encoded.sha256_hex.clone(),
        kind: MediaKind::OggOpus,
        size: encoded.size_bytes as u64,
        duration_ms: encoded.duration_ms,
        loudness: Some(Loudness {
            input_lufs: encoded.input_lufs,
            output_lufs: encoded.output_lufs,
            output_true_peak_dbtp: encoded.output_true_peak_dbtp,
        }),
        input: Some(InputSummary {
            container: encoded.input.container.clone(),
            codec: encoded.input.codec.clone(),
            sample_rate: encoded.input.sample_rate,
            channels: encoded.input.channels,
        }),
        picture: None,
        created: Utc::now(),
    }
}

/// The slot rule (see the module docs).
fn slot_secs(job: &AudioJob, media: &StoredAudio) -> Result<u32, IngestError> {
    let needed = media.secs_rounded_up();
    match job.declared_secs {
        Some(secs) if u64::from(secs) < needed => Err(IngestError::SlotTooShort {
            bulletin: job.bulletin.clone(),
            language: job.language.clone(),
            secs,
            duration_ms: media.duration_ms,
            needed,
        }),
        Some(secs) => Ok(secs),
        // hub-media refuses audio over its maximum (minutes), far below u32.
        None => Ok(u32::try_from(needed).unwrap_or(u32::MAX)),
    }
}

/// Runs `work` on every item, on as many threads as the machine has cores,
/// and returns the results in the order of `items`; stops starting new items
/// after the first failure (those are left out: the failure comes first).
fn run_parallel<T: Sync, R: Send, E: Send>(
    items: &[T],
    work: impl Fn(&T) -> Result<R, E> + Sync,
) -> Vec<Result<R, E>> {
    let next = AtomicUsize::new(0);
    let failed = AtomicBool::new(false);
    let workers = std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .min(items.len());
    let mut done: Vec<(usize, Result<R, E>)> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..workers)
            .map(|_| {
                scope.spawn(|| {
                    let mut done = Vec::new();
                    loop {
                        let index = next.fetch_add(1, Ordering::Relaxed);
                        if index >= items.len() || failed.load(Ordering::Relaxed) {
                            break done;
                        }
                        let result = work(&items[index]);
                        if result.is_err() {
                            failed.store(true, Ordering::Relaxed);
                        }
                        done.push((index, result));
                    }
                })
            })
            .collect();
        handles
            .into_iter()
            // A panic in `work` is a bug; carry it to the caller.
            .flat_map(|handle| {
                handle
                    .join()
                    .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
            })
            .collect()
    });
    done.sort_by_key(|(index, _)| *index);
    done.into_iter().map(|(_, result)| result).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn job(secs: Option<u32>) -> AudioJob {
        AudioJob {
            bulletin: BulletinId::parse("tin-a").unwrap(),
            language: Language::parse("vi").unwrap(),
            input: AudioInput::Speech("Xin chào".into()),
            declared_secs: secs,
        }
    }

    fn lasting(duration_ms: u64) -> StoredAudio {
        StoredAudio {
            sha256: "ab".repeat(32),
            size: 100,
            duration_ms,
        }
    }

    #[test]
    fn the_slot_is_the_audio_rounded_up_unless_a_longer_one_is_given() {
        assert_eq!(slot_secs(&job(None), &lasting(61_001)).unwrap(), 62);
        assert_eq!(slot_secs(&job(None), &lasting(61_000)).unwrap(), 61);
        assert_eq!(slot_secs(&job(Some(300)), &lasting(61_000)).unwrap(), 300);
        let err = slot_secs(&job(Some(60)), &lasting(61_500))
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("tin-a") && err.contains("secs = 60") && err.contains("61500 ms"),
            "{err}"
        );
    }

    #[test]
    fn parallel_work_keeps_the_order_and_stops_after_a_failure() {
        let ok: Vec<Result<u32, ()>> = run_parallel(&[1, 2, 3, 4, 5], |n| Ok(n * 10));
        assert_eq!(ok, [Ok(10), Ok(20), Ok(30), Ok(40), Ok(50)]);
        let failing = run_parallel(&[1, 2, 3], |n| if *n == 1 { Err(*n) } else { Ok(*n) });
        assert!(failing.contains(&Err(1)));
    }
}
