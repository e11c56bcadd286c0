//! Checking the stored media files when the hub starts: every file the
//! store has facts for must be on disk, of its recorded size, and hash to
//! its name. A damaged file is moved aside into `damaged/` so that it is
//! never served (devices would refuse it anyway, one download at a time);
//! a missing or damaged file is logged with what to do about it. Bulletins
//! whose file is gone stay scheduled: devices report `media_missing`, and
//! uploading the same file again, or restoring a backup, mends them.

use std::io::Read;
use std::path::Path;

use hub_store::{MediaFacts, Store, StoreError};
use sha2::{Digest, Sha256};

/// Where damaged files go, inside the media directory.
pub const DAMAGED_DIR: &str = "damaged";

/// What the check found.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct MediaCheck {
    /// Files that were whole.
    pub whole: usize,
    /// SHA-256 of files recorded but absent.
    pub missing: Vec<String>,
    /// SHA-256 of files of the wrong size or content (moved aside).
    pub damaged: Vec<String>,
}

/// Checks every recorded file of `store` in `dir`.
pub fn check_media(store: &Store, dir: &Path) -> Result<MediaCheck, StoreError> {
    let mut check = MediaCheck::default();
    for facts in store.all::<MediaFacts>()? {
        let path = dir.join(&facts.sha256);
        match file_hash(&path, facts.size) {
            Ok(Some(hash)) if hash == facts.sha256 => check.whole += 1,
            Ok(_) => {
                let aside = dir.join(DAMAGED_DIR);
                let moved = std::fs::create_dir_all(&aside)
                    .and_then(|()| std::fs::rename(&path, aside.join(&facts.sha256)));
                if let Err(error) = moved {
                    tracing::error!(file = %path.display(), %error, "could not move a damaged media file aside");
                }
                tracing::error!(
                    sha256 = %facts.sha256,
                    kind = ?facts.kind,
                    "media file damaged (moved to {DAMAGED_DIR}/): devices cannot play what uses it \
                     until it is uploaded again or restored from a backup"
                );
                check.damaged.push(facts.sha256);
            }
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => {
                tracing::error!(
                    sha256 = %facts.sha256,
                    kind = ?facts.kind,
                    "media file missing: devices cannot play what uses it until it is uploaded \
                     again or restored from a backup"
                );
                check.missing.push(facts.sha256);
            }
            Err(error) => {
                tracing::error!(file = %path.display(), %error, "media file unreadable");
                check.missing.push(facts.sha256);
            }
        }
    }
    Ok(check)
}

/// The file's SHA-256, or `None` when its size is not `size`.
fn file_hash(path: &Path, size: u64) -> std::io::Result<Option<String>> {
    let mut file = std::fs::File::open(path)?;
    if file.metadata()?.len() != size {
        return Ok(None);
    }
    let mut hash = Sha256::new();
    let mut buffer = vec![0; 64 * 1024];
    loop {
        let read = file.read(&mut buffer)?;
        if read == 0 {
            break;
        }
        hash.update(&buffer[..read]);
    }
    Ok(Some(
        hash.finalize().iter().map(|b| format!("{b:02x}")).collect(),
    ))
}

#[cfg(test)]
mod tests {
    use hub_store::MediaKind;

    use super::*;
    use crate::media::store::sha256_hex;

    fn facts(bytes: &[u8]) -> MediaFacts {
        MediaFacts {
            sha256: sha256_hex(bytes),
            size: bytes.len() as u64,
            kind: MediaKind::OggOpus,
            duration_ms: 1000,
            loudness: None,
            input: None,
            picture: None,
            created: chrono::Utc::now(),
        }
    }

    #[test]
    fn whole_missing_and_damaged_files_are_told_apart_and_damaged_ones_moved_aside() {
        let root = tempfile::tempdir().unwrap();
        let store = Store::open(&root.path().join("db")).unwrap();
        let dir = root.path().join("media");
        std::fs::create_dir_all(&dir).unwrap();
        let (whole, missing, damaged, short) = (
            b"whole file".as_slice(),
            b"missing file".as_slice(),
            b"damaged file".as_slice(),
            b"truncated file".as_slice(),
        );
        for bytes in [whole, missing, damaged, short] {
            store.put(&facts(bytes)).unwrap();
        }
        std::fs::write(dir.join(sha256_hex(whole)), whole).unwrap();
        std::fs::write(dir.join(sha256_hex(damaged)), b"damagex file").unwrap();
        std::fs::write(dir.join(sha256_hex(short)), b"truncated").unwrap();

        let check = check_media(&store, &dir).unwrap();
        assert_eq!(check.whole, 1);
        assert_eq!(check.missing, vec![sha256_hex(missing)]);
        let mut expected = vec![sha256_hex(damaged), sha256_hex(short)];
        expected.sort();
        assert_eq!(check.damaged, expected);
        for sha in &expected {
            assert!(!dir.join(sha).exists(), "a damaged file is never served");
            assert!(dir.join(DAMAGED_DIR).join(sha).exists(), "it is kept aside");
        }
        assert!(dir.join(sha256_hex(whole)).exists());
    }
}
