//! Backup files: every record of a store and every media file, in one file
//! that ends with the SHA-256 of all of it. The records are a
//! [`Store::snapshot`], so a backup taken while the hub runs holds whole
//! batches only. A backup is read and checked whole before anything is
//! restored, and is restored only into an empty directory, so a bad file
//! never overwrites anything; the restored store is read back and must have
//! the digest the backup recorded, or the directory is emptied again.
//!
//! Layout: the magic line, then frames of `kind` (1 byte), `length` (u64,
//! little-endian) and a payload: a record (tree name length u16, tree name,
//! key length u32, key, value), a media file (name length u16, name, bytes),
//! the summary (JSON), and last the checksum over every byte before it.

use std::fs::{self, File};
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::store::{records_digest, RawRecord};
use crate::{Store, StoreError, SCHEMA_VERSION};

const MAGIC: &[u8] = b"NGUON-BACKUP 1\n";
const RECORD: u8 = 1;
const MEDIA: u8 = 2;
const SUMMARY: u8 = 3;
const CHECKSUM: u8 = 0xff;

/// What a backup holds.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct BackupSummary {
    pub schema_version: u32,
    pub records: usize,
    pub media_files: usize,
    /// [`records_digest`] of the records: a store restored from the
    /// backup must have it.
    pub records_sha256: String,
}

#[derive(Debug, thiserror::Error)]
pub enum BackupError {
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{0}: not a Nguồn backup file")]
    NotABackup(PathBuf),
    #[error("{path}: the backup is damaged or truncated ({detail}); nothing was restored")]
    Damaged { path: PathBuf, detail: String },
    #[error(
        "{path}: the backup has store schema {found}, newer than this hub ({supported}); \
         upgrade the hub"
    )]
    TooNew {
        path: PathBuf,
        found: u32,
        supported: u32,
    },
    #[error("{0} is not empty: restore into a new, empty directory")]
    NotEmpty(PathBuf),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// A backup as read and checked.
pub struct Backup {
    pub summary: BackupSummary,
    pub records: Vec<RawRecord>,
    /// Media files by name (their SHA-256).
    pub media: Vec<(String, Vec<u8>)>,
}

fn io(path: &Path) -> impl Fn(std::io::Error) -> BackupError + '_ {
    move |source| BackupError::Io {
        path: path.to_owned(),
        source,
    }
}

/// Writes a backup of `store` and of the media files in `media_dir` to
/// `path` (through a temporary file, so `path` is whole or absent).
pub fn write_backup(
    store: &Store,
    media_dir: &Path,
    path: &Path,
) -> Result<BackupSummary, BackupError> {
    let records = store.snapshot()?;
    // Media files are written before the records naming them, and never
    // change: listed after the snapshot, they cover every file it names.
    let media = media_files(media_dir)?;
    let summary = BackupSummary {
        schema_version: SCHEMA_VERSION,
        records: records.len(),
        media_files: media.len(),
        records_sha256: records_digest(&records),
    };
    let partial = path.with_extension("partial");
    let file = File::create(&partial).map_err(io(&partial))?;
    let mut out = Framed::new(BufWriter::new(file));
    out.write_raw(MAGIC).map_err(io(&partial))?;
    for record in &records {
        let mut payload = Vec::with_capacity(6 + record.tree.len() + record.key.len());
        payload.extend_from_slice(&(record.tree.len() as u16).to_le_bytes());
        payload.extend_from_slice(record.tree.as_bytes());
        payload.extend_from_slice(&(record.key.len() as u32).to_le_bytes());
        payload.extend_from_slice(&record.key);
        payload.extend_from_slice(&record.value);
        out.frame(RECORD, &payload).map_err(io(&partial))?;
    }
    for name in &media {
        let bytes = fs::read(media_dir.join(name)).map_err(io(&media_dir.join(name)))?;
        let mut payload = Vec::with_capacity(2 + name.len() + bytes.len());
        payload.extend_from_slice(&(name.len() as u16).to_le_bytes());
        payload.extend_from_slice(name.as_bytes());
        payload.extend_from_slice(&bytes);
        out.frame(MEDIA, &payload).map_err(io(&partial))?;
    }
    let json = serde_json::to_vec(&summary).expect("a summary always serialises");
    out.frame(SUMMARY, &json).map_err(io(&partial))?;
    out.finish().map_err(io(&partial))?;
    fs::rename(&partial, path).map_err(io(path))?;
    Ok(summary)
}

/// The stored media files: names of 64 lower-case hex digits.
fn media_files(media_dir: &Path) -> Result<Vec<String>, BackupError> {
    let entries = match fs::read_dir(media_dir) {
        Ok(entries) => entries,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(error) => return Err(io(media_dir)(error)),
    };
    let mut names = Vec::new();
    for entry in entries {
        let name = entry.map_err(io(media_dir))?.file_name();
        if let Some(name) = name.to_str().filter(|n| is_sha256_name(n)) {
            names.push(name.to_owned());
        }
    }
    names.sort();
    Ok(names)
}

fn is_sha256_name(name: &str) -> bool {
    name.len() == 64 && name.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

/// Writes frames to a file, hashing every byte.
struct Framed {
    out: BufWriter<File>,
    hash: Sha256,
}

impl Framed {
    fn new(out: BufWriter<File>) -> Self {
        Self {
            out,
            hash: Sha256::new(),
        }
    }

    fn write_raw(&mut self, bytes: &[u8]) -> std::io::Result<()> {
        self.hash.update(bytes);
        self.out.write_all(bytes)
    }

    fn frame(&mut self, kind: u8, payload: &[u8]) -> std::io::Result<()> {
        self.write_raw(&[kind])?;
        self.write_raw(&(payload.len() as u64).to_le_bytes())?;
        self.write_raw(payload)
    }

    /// The checksum frame, then flush to disk.
    fn finish(mut self) -> std::io::Result<()> {
        let digest = self.hash.clone().finalize();
        self.out.write_all(&[CHECKSUM])?;
        self.out.write_all(&(digest.len() as u64).to_le_bytes())?;
        self.out.write_all(&digest)?;
        self.out.flush()?;
        let file = self.out.into_inner().map_err(|e| e.into_error())?;
        file.sync_all()
    }
}

/// Reads and checks a whole backup: magic, frames, checksum, media names.
pub fn read_backup(path: &Path) -> Result<Backup, BackupError> {
    let bytes = fs::read(path).map_err(io(path))?;
    let damaged = |detail: &str| BackupError::Damaged {
        path: path.to_owned(),
        detail: detail.to_owned(),
    };
    let rest = bytes
        .strip_prefix(MAGIC)
        .ok_or_else(|| BackupError::NotABackup(path.to_owned()))?;
    let mut at = MAGIC.len();
    let mut records = Vec::new();
    let mut media = Vec::new();
    let mut summary = None;
    let mut rest = rest;
    loop {
        let (kind, payload, next) = frame(rest).ok_or_else(|| damaged("it ends inside a part"))?;
        if kind == CHECKSUM {
            let expected = Sha256::digest(&bytes[..at]);
            if payload != expected.as_slice() || !next.is_empty() {
                return Err(damaged("its checksum does not match"));
            }
            break;
        }
        match kind {
            RECORD => {
                records.push(record(payload).ok_or_else(|| damaged("a record is malformed"))?)
            }
            MEDIA => {
                let (name, file) =
                    named(payload).ok_or_else(|| damaged("a media file is malformed"))?;
                let hash: String = Sha256::digest(file)
                    .iter()
                    .map(|b| format!("{b:02x}"))
                    .collect();
                if !is_sha256_name(&name) || hash != name {
                    return Err(damaged("a media file does not hash to its name"));
                }
                media.push((name, file.to_vec()));
            }
            SUMMARY => {
                summary = Some(
                    serde_json::from_slice::<BackupSummary>(payload)
                        .map_err(|_| damaged("its summary is malformed"))?,
                )
            }
            _ => return Err(damaged("it holds a part of an unknown kind")),
        }
        at = bytes.len() - next.len();
        rest = next;
    }
    let summary = summary.ok_or_else(|| damaged("it has no summary"))?;
    if summary.records != records.len() || summary.media_files != media.len() {
        return Err(damaged("its counts do not match its summary"));
    }
    if records_digest(&records) != summary.records_sha256 {
        return Err(damaged("its records do not match its summary"));
    }
    if summary.schema_version > SCHEMA_VERSION {
        return Err(BackupError::TooNew {
            path: path.to_owned(),
            found: summary.schema_version,
            supported: SCHEMA_VERSION,
        });
    }
    Ok(Backup {
        summary,
        records,
        media,
    })
}

/// One frame: kind, payload, what follows.
fn frame(bytes: &[u8]) -> Option<(u8, &[u8], &[u8])> {
    let (&kind, rest) = bytes.split_first()?;
    let len = u64::from_le_bytes(rest.get(..8)?.try_into().ok()?);
    let len = usize::try_from(len).ok()?;
    let payload = rest.get(8..8usize.checked_add(len)?)?;
    Some((kind, payload, &rest[8 + len..]))
}

fn record(payload: &[u8]) -> Option<RawRecord> {
    let (tree, rest) = named(payload)?;
    let key_len = u32::from_le_bytes(rest.get(..4)?.try_into().ok()?) as usize;
    let key = rest.get(4..4usize.checked_add(key_len)?)?;
    Some(RawRecord {
        tree,
        key: key.to_vec(),
        value: rest[4 + key_len..].to_vec(),
    })
}

/// A u16-length-prefixed UTF-8 name, and what follows it.
fn named(payload: &[u8]) -> Option<(String, &[u8])> {
    let len = u16::from_le_bytes(payload.get(..2)?.try_into().ok()?) as usize;
    let name = std::str::from_utf8(payload.get(2..2 + len)?).ok()?;
    Some((name.to_owned(), &payload[2 + len..]))
}

/// Checks the backup at `path` whole, then restores it into `data_dir`,
/// which must be absent or empty; media files go under `media_dir_name`
/// inside it.
pub fn restore_backup(
    path: &Path,
    data_dir: &Path,
    media_dir_name: &str,
) -> Result<BackupSummary, BackupError> {
    let backup = read_backup(path)?;
    let occupied = fs::read_dir(data_dir)
        .map(|mut entries| entries.next().is_some())
        .unwrap_or(false);
    if occupied {
        return Err(BackupError::NotEmpty(data_dir.to_owned()));
    }
    fs::create_dir_all(data_dir).map_err(io(data_dir))?;
    let restored = restore_into(&backup, path, data_dir, media_dir_name);
    if restored.is_err() {
        // Leave the directory as empty as it was found.
        empty_directory(data_dir);
    }
    restored?;
    Ok(backup.summary)
}

fn restore_into(
    backup: &Backup,
    path: &Path,
    data_dir: &Path,
    media_dir_name: &str,
) -> Result<(), BackupError> {
    let store = Store::open(data_dir)?;
    store.put_raw_records(&backup.records)?;
    if records_digest(&store.snapshot()?) != backup.summary.records_sha256 {
        return Err(BackupError::Damaged {
            path: path.to_owned(),
            detail: "the restored store does not read back as the backup recorded it".into(),
        });
    }
    let media_dir = data_dir.join(media_dir_name);
    fs::create_dir_all(&media_dir).map_err(io(&media_dir))?;
    for (name, bytes) in &backup.media {
        let file = media_dir.join(name);
        fs::write(&file, bytes).map_err(io(&file))?;
    }
    Ok(())
}

fn empty_directory(dir: &Path) {
    if let Ok(entries) = fs::read_dir(dir) {
        for entry in entries.flatten() {
            let path = entry.path();
            let _ = if path.is_dir() {
                fs::remove_dir_all(&path)
            } else {
                fs::remove_file(&path)
            };
        }
    }
}

#[cfg(test)]
mod tests;
