//! The content-addressed media store: each file lives at
//! `<data_dir>/media/<sha256>`, its facts in the sled store.
//!
//! A file is named by the SHA-256 of its bytes, so the same content is stored
//! once however often it is ingested, and a name never changes meaning (which
//! is what lets devices cache forever and the server send strong ETags). A
//! file is written to a temporary name, synced, then renamed into place, so
//! a crash never leaves a partial file under a hash. The file is written
//! before its facts: facts without a file never exist, a file without facts
//! (a crash in between) gets them when it is stored again.
//!
//! Each file's parts (`hub_proto::media::chunks_of`, which emergency plan
//! entries list so a device can play a file's verified beginning while the
//! rest arrives) are derived from its bytes, never recorded: [`chunks`]
//! computes them once per file per process, when the file is stored or
//! first asked for, with the first part's bytes as base64 ([`head`]) that
//! emergency commands to loudspeakers carry inline.

use std::collections::HashMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock};

use hub_proto::media::{chunks_of, encode_head, is_sha256_hex, MAX_HEAD_BYTES};
use hub_proto::MediaChunk;
use hub_store::{MediaFacts, Store, StoreError};
use sha2::{Digest, Sha256};

use crate::monitor::metrics::IngestTimes;

/// The media directory's name inside the data directory.
pub const MEDIA_DIR: &str = "media";

#[derive(Debug, thiserror::Error)]
pub enum MediaStoreError {
    #[error("media store {path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The bytes are not what the facts describe (a bug upstream).
    #[error("media {sha256}: the bytes hash to {actual} ({size} bytes), not to their name")]
    Mismatch {
        sha256: String,
        actual: String,
        size: u64,
    },
}

/// Files by content, with their facts. Cheap to clone.
#[derive(Clone, Debug)]
pub struct MediaStore {
    dir: PathBuf,
    store: Store,
    /// How long each ingest into this store took (for `/metrics`).
    ingest_times: Arc<IngestTimes>,
}

impl MediaStore {
    /// Where the files are.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// How long audio ingest into this store has taken, by kind.
    pub fn ingest_times(&self) -> &IngestTimes {
        &self.ingest_times
    }

    /// The media store of the data directory `data_dir`, whose records live
    /// in `store`; creates its directory if needed.
    pub fn open(data_dir: &Path, store: Store) -> Result<Self, MediaStoreError> {
        let dir = data_dir.join(MEDIA_DIR);
        std::fs::create_dir_all(&dir).map_err(|source| MediaStoreError::Io {
            path: dir.clone(),
            source,
        })?;
        let mut parts = parts();
        if !parts.dirs.contains(&dir) {
            parts.dirs.push(dir.clone());
        }
        drop(parts);
        Ok(Self {
            dir,
            store,
            ingest_times: Arc::default(),
        })
    }

    /// Stores `bytes` under their hash with `facts`, unless they are stored
    /// already; returns whether this call stored them. The facts recorded
    /// first are kept (they say when the file first arrived).
    pub fn put(&self, bytes: &[u8], facts: &MediaFacts) -> Result<bool, MediaStoreError> {
        let actual = sha256_hex(bytes);
        if actual != facts.sha256 || bytes.len() as u64 != facts.size {
            return Err(MediaStoreError::Mismatch {
                sha256: facts.sha256.clone(),
                actual,
                size: bytes.len() as u64,
            });
        }
        let path = self.dir.join(&facts.sha256);
        let on_disk = std::fs::metadata(&path).is_ok_and(|m| m.len() == facts.size);
        if !on_disk {
            self.write_atomically(&path, bytes)?;
        }
        let recorded = self.store.get::<MediaFacts>(facts.sha256.as_bytes())?;
        if recorded.is_none() {
            self.store.put(facts)?;
        }
        parts()
            .files
            .entry(facts.sha256.clone())
            .or_insert_with(|| Cut::of(bytes));
        let stored = !on_disk || recorded.is_none();
        if stored {
            tracing::info!(
                sha256 = %facts.sha256,
                size = facts.size,
                duration_ms = facts.duration_ms,
                "media stored"
            );
        }
        Ok(stored)
    }

    /// The facts of the file whose hash is `sha256`, if it is stored.
    pub fn facts(&self, sha256: &str) -> Result<Option<MediaFacts>, MediaStoreError> {
        if !is_sha256_hex(sha256) {
            return Ok(None);
        }
        Ok(self.store.get::<MediaFacts>(sha256.as_bytes())?)
    }

    /// Where the file whose hash is `sha256` lives (it may not exist); `None`
    /// for anything that is not a hash, so no other path can be named.
    pub fn file_path(&self, sha256: &str) -> Option<PathBuf> {
        is_sha256_hex(sha256).then(|| self.dir.join(sha256))
    }

    /// Writes `bytes` to a temporary file beside `path`, syncs it, renames it
    /// to `path` and syncs the directory, so `path` is whole or absent.
    fn write_atomically(&self, path: &Path, bytes: &[u8]) -> Result<(), MediaStoreError> {
        let io = |source| MediaStoreError::Io {
            path: path.to_owned(),
            source,
        };
        let mut temp = tempfile::Builder::new()
            .prefix(".incoming-")
            .tempfile_in(&self.dir)
            .map_err(io)?;
        temp.write_all(bytes).map_err(io)?;
        temp.as_file().sync_all().map_err(io)?;
        temp.persist(path).map_err(|e| io(e.error))?;
        // The rename is durable once the directory is.
        std::fs::File::open(&self.dir)
            .and_then(|dir| dir.sync_all())
            .map_err(io)
    }
}

/// The parts known in this process, and where to find files not yet cut.
#[derive(Default)]
struct Parts {
    files: HashMap<String, Cut>,
    /// The media directories of every store opened in this process.
    dirs: Vec<PathBuf>,
}

/// A file's parts, and its first part as a command inlines it.
#[derive(Clone)]
struct Cut {
    chunks: Arc<[MediaChunk]>,
    /// Base64 of the first part; `None` when it is over [`MAX_HEAD_BYTES`].
    head: Option<Arc<str>>,
}

impl Cut {
    fn of(bytes: &[u8]) -> Self {
        let chunks: Arc<[MediaChunk]> = chunks_of(bytes).into();
        let head = chunks
            .first()
            .filter(|first| first.size <= MAX_HEAD_BYTES)
            .map(|first| encode_head(&bytes[..first.size as usize]));
        Self { chunks, head }
    }
}

/// Parts are a pure function of content, so one memo serves every store
/// (and every hub a test process starts).
fn parts() -> std::sync::MutexGuard<'static, Parts> {
    static PARTS: OnceLock<Mutex<Parts>> = OnceLock::new();
    // Every entry is written whole; a poisoned map is still right.
    PARTS
        .get_or_init(Mutex::default)
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// The parts of the stored file whose SHA-256 is `sha256`, cut once per
/// process (from the stored bytes, read from the first media directory
/// holding them whose bytes still hash right); empty for a file no store of
/// this process holds, whose entries then verify it only whole.
pub fn chunks(sha256: &str) -> Arc<[MediaChunk]> {
    cut(sha256).map_or_else(|| Arc::new([]) as Arc<[MediaChunk]>, |cut| cut.chunks)
}

/// The first of [`chunks`] as `MediaRef::head` carries it (base64), if the
/// file is stored and that part is at most [`MAX_HEAD_BYTES`].
pub fn head(sha256: &str) -> Option<Arc<str>> {
    cut(sha256)?.head
}

/// The file's [`Cut`], made once per process.
fn cut(sha256: &str) -> Option<Cut> {
    if !is_sha256_hex(sha256) {
        return None;
    }
    let dirs = {
        let parts = parts();
        if let Some(known) = parts.files.get(sha256) {
            return Some(known.clone());
        }
        parts.dirs.clone()
    };
    // Read outside the lock: files are small, but other lookups need not wait.
    let bytes = dirs
        .iter()
        .filter_map(|dir| std::fs::read(dir.join(sha256)).ok())
        .find(|bytes| sha256_hex(bytes) == sha256)?;
    Some(
        parts()
            .files
            .entry(sha256.to_owned())
            .or_insert_with(|| Cut::of(&bytes))
            .clone(),
    )
}

/// Lower-case hex SHA-256 of `bytes`.
pub fn sha256_hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|byte| format!("{byte:02x}"))
        .collect()
}

#[cfg(test)]
mod tests {
    use hub_store::{InputSummary, Loudness, MediaKind};

    use super::*;

    fn facts_of(bytes: &[u8], created: &str) -> MediaFacts {
        MediaFacts {
            sha256: sha256_hex(bytes),
            kind: MediaKind::OggOpus,
            size: bytes.len() as u64,
            duration_ms: 1_000,
            loudness: Some(Loudness {
                input_lufs: -20.0,
                output_lufs: -16.0,
                output_true_peak_dbtp: -1.0,
            }),
            input: Some(InputSummary {
                container: "wave".into(),
                codec: "pcm_s16le".into(),
                sample_rate: 22_050,
                channels: 1,
            }),
            picture: None,
            created: created.parse().unwrap(),
        }
    }

    #[test]
    fn the_same_content_is_stored_once_and_keeps_its_first_facts() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("db")).unwrap();
        let media = MediaStore::open(dir.path(), store).unwrap();
        let bytes = b"OggS not really";
        let first = facts_of(bytes, "2026-11-23T00:00:00Z");
        assert!(media.put(bytes, &first).unwrap());
        assert!(!media
            .put(bytes, &facts_of(bytes, "2026-11-24T00:00:00Z"))
            .unwrap());
        assert_eq!(media.facts(&first.sha256).unwrap(), Some(first.clone()));
        let path = media.file_path(&first.sha256).unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), bytes);
        let names: Vec<_> = std::fs::read_dir(dir.path().join(MEDIA_DIR))
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, [first.sha256.as_str()], "no temporary files remain");
    }

    #[test]
    fn a_lost_file_is_written_again() {
        let dir = tempfile::tempdir().unwrap();
        let media =
            MediaStore::open(dir.path(), Store::open(&dir.path().join("db")).unwrap()).unwrap();
        let bytes = b"abc";
        let facts = facts_of(bytes, "2026-11-23T00:00:00Z");
        media.put(bytes, &facts).unwrap();
        std::fs::remove_file(media.file_path(&facts.sha256).unwrap()).unwrap();
        assert!(media.put(bytes, &facts).unwrap());
        assert_eq!(
            std::fs::read(media.file_path(&facts.sha256).unwrap()).unwrap(),
            bytes
        );
    }

    #[test]
    fn bytes_that_are_not_their_name_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let media =
            MediaStore::open(dir.path(), Store::open(&dir.path().join("db")).unwrap()).unwrap();
        let facts = facts_of(b"abc", "2026-11-23T00:00:00Z");
        let err = media.put(b"abd", &facts).unwrap_err();
        assert!(matches!(err, MediaStoreError::Mismatch { .. }), "{err}");
        assert!(media.facts(&facts.sha256).unwrap().is_none());
    }

    #[test]
    fn parts_come_from_the_stored_bytes_whether_stored_now_or_before() {
        let dir = tempfile::tempdir().unwrap();
        let media =
            MediaStore::open(dir.path(), Store::open(&dir.path().join("db")).unwrap()).unwrap();
        // Unique to this test: the memo is shared by the whole process.
        let bytes: Vec<u8> = (0..40_000u32).map(|i| (i * 7 + 13) as u8).collect();
        let facts = facts_of(&bytes, "2026-11-23T00:00:00Z");
        media.put(&bytes, &facts).unwrap();
        let expected = chunks_of(&bytes);
        assert_eq!(expected.len(), 3);
        assert_eq!(&chunks(&facts.sha256)[..], &expected[..]);
        // A file already on disk (stored by an earlier process) is cut when first asked for.
        let other: Vec<u8> = (0..20_000u32).map(|i| (i * 11 + 5) as u8).collect();
        let hash = sha256_hex(&other);
        std::fs::write(media.file_path(&hash).unwrap(), &other).unwrap();
        assert_eq!(&chunks(&hash)[..], &chunks_of(&other)[..]);
        assert!(chunks(&"0".repeat(64)).is_empty(), "not stored");
        assert!(chunks("../db").is_empty());
        assert_eq!(head(&"0".repeat(64)), None);
    }

    #[test]
    fn the_head_is_the_first_part_of_an_ogg_file_and_checks_as_one() {
        let dir = tempfile::tempdir().unwrap();
        let media =
            MediaStore::open(dir.path(), Store::open(&dir.path().join("db")).unwrap()).unwrap();
        // Ogg pages of 3,000 bytes of body, unique to this test.
        let page = |fill: u8| {
            let mut page = b"OggS".to_vec();
            page.extend_from_slice(&[0; 22]);
            page.push(12);
            page.extend_from_slice(&[250; 12]);
            page.extend(std::iter::repeat_n(fill, 3_000));
            page
        };
        let bytes: Vec<u8> = (0..10).flat_map(page).collect();
        let facts = facts_of(&bytes, "2026-11-23T00:00:00Z");
        media.put(&bytes, &facts).unwrap();
        let parts = chunks(&facts.sha256);
        assert_eq!(parts[0].size, 2 * 3_039, "two pages reach 4 KiB");
        let file = hub_proto::MediaRef {
            sha256: facts.sha256.clone(),
            size: facts.size,
            url: String::new(),
            chunks: parts,
            head: head(&facts.sha256),
        };
        assert_eq!(
            hub_proto::media::head_bytes(&file),
            Some(Ok(bytes[..2 * 3_039].to_vec()))
        );
        // An Ogg file whose first page is over MAX_HEAD_BYTES has no head.
        let mut huge = b"OggS".to_vec();
        huge.extend_from_slice(&[0; 22]);
        huge.push(79);
        huge.extend_from_slice(&[255; 78]);
        huge.push(110);
        huge.extend(std::iter::repeat_n(4u8, 20_000));
        let huge: Vec<u8> = [huge, page(5)].concat();
        let hash = sha256_hex(&huge);
        media
            .put(&huge, &facts_of(&huge, "2026-11-23T00:00:00Z"))
            .unwrap();
        assert_eq!(chunks(&hash)[0].size, 27 + 79 + 20_000);
        assert_eq!(head(&hash), None);
    }

    #[test]
    fn only_hashes_name_files() {
        let dir = tempfile::tempdir().unwrap();
        let media =
            MediaStore::open(dir.path(), Store::open(&dir.path().join("db")).unwrap()).unwrap();
        assert!(media.file_path("../db").is_none());
        assert!(media.facts("../db").unwrap().is_none());
    }
}
