//! File contents shared by every device of a process.
//!
//! A file is named by its SHA-256, so two devices holding the same hash hold
//! the same bytes: keeping one copy lets 10,000 simulated devices each
//! "store" a bulletin without 10,000 copies of it in memory. For the same
//! reason each file's audio check runs once per process: a real loudspeaker
//! decodes on its own CPU, simulated ones would all decode on the hub's.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard, Weak};

use hub_proto::media::{chunks_fit, decode_head};
use hub_proto::MediaRef;

use super::audio::{check_ogg_opus, check_ogg_opus_beginning, AudioFacts, Undecodable};
use super::fetcher::sha256_hex;

/// Contents by SHA-256, kept while some device holds them, and what the
/// audio check found in each.
#[derive(Clone, Debug, Default)]
pub struct ContentPool {
    files: Arc<Mutex<HashMap<String, Weak<[u8]>>>>,
    checks: Arc<Mutex<HashMap<String, Result<AudioFacts, Undecodable>>>>,
    /// Checks of verified beginnings, by the file's SHA-256 and their length.
    beginnings: Arc<Mutex<HashMap<Beginning, Result<(), Undecodable>>>>,
    /// Parts of files some device verified, by their SHA-256.
    parts: Arc<Mutex<HashMap<String, Arc<[u8]>>>>,
    /// Inline heads some device decoded and verified, by their first
    /// part's SHA-256.
    heads: Arc<Mutex<HashMap<String, VerifiedHead>>>,
}

/// An inline head's base64 text, and the verified part it decodes to.
type VerifiedHead = (Arc<str>, Arc<[u8]>);

/// A file's SHA-256 and how many of its first bytes.
type Beginning = (String, u64);

/// Bytes of verified parts kept for comparing, at most; past this, parts are hashed.
const MAX_PART_BYTES_KEPT: usize = 64 * 1024 * 1024;
/// Inline heads remembered, at most: an emergency's, a few bulletins'.
const MAX_HEADS_KEPT: usize = 64;

/// A poisoned lock still holds a usable map: every entry is written whole.
fn locked<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

impl ContentPool {
    /// The shared copy of `bytes`, verified to hash to `sha256`.
    pub(crate) fn share(&self, sha256: &str, bytes: Vec<u8>) -> Arc<[u8]> {
        let mut files = locked(&self.files);
        if let Some(shared) = files.get(sha256).and_then(Weak::upgrade) {
            return shared;
        }
        files.retain(|_, file| file.strong_count() > 0);
        let shared: Arc<[u8]> = bytes.into();
        files.insert(sha256.to_string(), Arc::downgrade(&shared));
        shared
    }

    /// [`check_ogg_opus`] of `bytes`, verified to hash to `sha256`, run
    /// once per hash in this process.
    pub(crate) fn check_audio(
        &self,
        sha256: &str,
        bytes: &[u8],
    ) -> Result<AudioFacts, Undecodable> {
        if let Some(known) = locked(&self.checks).get(sha256) {
            return known.clone();
        }
        // Outside the lock: two devices finishing the same file at once may
        // both decode it, which is harmless.
        let checked = check_ogg_opus(bytes);
        locked(&self.checks).insert(sha256.to_string(), checked.clone());
        checked
    }
}

impl ContentPool {
    /// Whether `bytes` hash to `sha256` (a whole file or a part). Bytes that
    /// another device of this process verified under that hash are compared
    /// with its copy instead: the same proof for a fraction of the work (a
    /// real device hashes on its own processor; simulated ones share one).
    pub(crate) fn verify(&self, sha256: &str, bytes: &[u8]) -> bool {
        let known = locked(&self.files)
            .get(sha256)
            .and_then(Weak::upgrade)
            .or_else(|| locked(&self.parts).get(sha256).cloned());
        if let Some(known) = known {
            return *known == *bytes;
        }
        if sha256_hex(bytes) != sha256 {
            return false;
        }
        let mut parts = locked(&self.parts);
        let kept: usize = parts.values().map(|part| part.len()).sum();
        if kept + bytes.len() <= MAX_PART_BYTES_KEPT {
            parts.insert(sha256.to_string(), bytes.into());
        }
        true
    }

    /// `bytes` as one shared copy if they hash to `sha256` (a part carried
    /// inline by a command, which every device of a commune receives): the
    /// copy kept for comparing when there is one, so 10,000 devices keep one.
    pub(crate) fn verified_part(&self, sha256: &str, bytes: Vec<u8>) -> Option<Arc<[u8]>> {
        if !self.verify(sha256, &bytes) {
            return None;
        }
        Some(
            locked(&self.parts)
                .get(sha256)
                .cloned()
                .unwrap_or_else(|| bytes.into()),
        )
    }

    /// `file`'s inline head as the verified bytes of its first part, or
    /// `None` if it has none or it does not check: decoded ([`decode_head`])
    /// and verified ([`Self::verified_part`]) once per text in this process.
    /// Every device of a commune gets the same text; the same text decodes
    /// to the same bytes, so comparing it with a text that verified is the
    /// same proof.
    pub(crate) fn verified_head(&self, file: &MediaRef) -> Option<Arc<[u8]>> {
        let head = file.head.as_deref()?;
        let first = file.chunks.first()?;
        let known = locked(&self.heads)
            .get(&first.sha256)
            .filter(|(text, _)| **text == *head)
            .map(|(_, bytes)| bytes.clone());
        if let Some(bytes) = known {
            // What decoding checks of the file beside the text.
            return (chunks_fit(file) && bytes.len() as u64 == first.size).then_some(bytes);
        }
        let bytes = self.verified_part(&first.sha256, decode_head(file)?.ok()?)?;
        let mut heads = locked(&self.heads);
        if heads.len() >= MAX_HEADS_KEPT {
            heads.clear();
        }
        heads.insert(first.sha256.clone(), (head.into(), bytes.clone()));
        Some(bytes)
    }

    /// [`check_ogg_opus_beginning`] of the first `bytes.len()` bytes of the
    /// file whose SHA-256 is `sha256`, verified part by part; run once per
    /// file and length in this process.
    pub(crate) fn check_audio_beginning(
        &self,
        sha256: &str,
        bytes: &[u8],
    ) -> Result<(), Undecodable> {
        let key = (sha256.to_string(), bytes.len() as u64);
        if let Some(known) = locked(&self.beginnings).get(&key) {
            return known.clone();
        }
        let checked = check_ogg_opus_beginning(bytes);
        locked(&self.beginnings).insert(key, checked.clone());
        checked
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_same_hash_is_one_copy_while_held() {
        let pool = ContentPool::default();
        let first = pool.share("h", vec![1, 2, 3]);
        let second = pool.share("h", vec![1, 2, 3]);
        assert!(Arc::ptr_eq(&first, &second));
        drop((first, second));
        let third = pool.share("h", vec![1, 2, 3]);
        assert_eq!(&third[..], [1, 2, 3]);
        assert_eq!(pool.files.lock().unwrap().len(), 1);
    }

    #[test]
    fn bytes_verified_once_are_compared_after() {
        let pool = ContentPool::default();
        let part = b"one part".to_vec();
        let hash = sha256_hex(&part);
        assert!(!pool.verify(&hash, b"other bytes"), "hashed: wrong");
        assert!(pool.verify(&hash, &part));
        assert_eq!(pool.parts.lock().unwrap().len(), 1, "kept for comparing");
        assert!(pool.verify(&hash, &part));
        assert!(!pool.verify(&hash, b"one pXrt"), "compared: wrong");
        let shared = pool.share("f", part.clone());
        assert!(pool.verify("f", &part), "a shared file compares too");
        assert!(!pool.verify("f", b"x"));
        drop(shared);
    }

    #[test]
    fn a_verified_part_is_one_shared_copy() {
        let pool = ContentPool::default();
        let part = b"the head".to_vec();
        let hash = sha256_hex(&part);
        assert_eq!(pool.verified_part(&hash, b"the hexd".to_vec()), None);
        let first = pool.verified_part(&hash, part.clone()).unwrap();
        let second = pool.verified_part(&hash, part.clone()).unwrap();
        assert_eq!(&first[..], &part[..]);
        assert!(Arc::ptr_eq(&first, &second));
    }

    #[test]
    fn a_file_is_checked_once_per_hash() {
        let pool = ContentPool::default();
        let first = pool.check_audio("h", b"not ogg");
        assert!(first.is_err());
        // The memo answers for the hash, whatever bytes come with it.
        assert_eq!(pool.check_audio("h", b"other bytes"), first);
        assert_eq!(pool.checks.lock().unwrap().len(), 1);
    }
    #[test]
    fn a_head_verified_once_is_compared_after_and_still_checked() {
        let pool = ContentPool::default();
        let (part, rest) = (b"first part".to_vec(), b"rest".to_vec());
        let chunk = |bytes: &[u8]| hub_proto::MediaChunk {
            size: bytes.len() as u64,
            sha256: sha256_hex(bytes),
        };
        let file = MediaRef {
            sha256: "f".repeat(64),
            size: (part.len() + rest.len()) as u64,
            url: "/media/v1/f".to_owned(),
            chunks: vec![chunk(&part), chunk(&rest)].into(),
            head: Some(hub_proto::media::encode_head(&part)),
        };
        let first = pool.verified_head(&file).unwrap();
        assert_eq!(&first[..], part);
        let second = pool.verified_head(&file).unwrap();
        assert!(Arc::ptr_eq(&first, &second), "compared, not decoded again");
        // Another text under the same first part, or the same text in a
        // file whose parts do not fit: refused, as decoding refuses them.
        let mut forged = file.clone();
        forged.head = Some(hub_proto::media::encode_head(b"first pXrt"));
        assert_eq!(pool.verified_head(&forged), None);
        let mut unfit = file.clone();
        unfit.size += 1;
        assert_eq!(pool.verified_head(&unfit), None);
        assert_eq!(pool.verified_head(&file), Some(first));
    }
}
