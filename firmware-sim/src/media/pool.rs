//! File contents shared by every device of a process.
//!
//! A file is named by its SHA-256, so two devices holding the same hash hold
//! the same bytes: keeping one copy lets 10,000 simulated devices each
//! "store" a bulletin without 10,000 copies of it in memory. For the same
//! reason each file's audio check runs once per process: a real loudspeaker
//! decodes on its own CPU, simulated ones would all decode on the hub's.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard, Weak};

use super::audio::{check_ogg_opus, AudioFacts, Undecodable};

/// Contents by SHA-256, kept while some device holds them, and what the
/// audio check found in each.
#[derive(Clone, Debug, Default)]
pub struct ContentPool {
    files: Arc<Mutex<HashMap<String, Weak<[u8]>>>>,
    checks: Arc<Mutex<HashMap<String, Result<AudioFacts, Undecodable>>>>,
}

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
    fn a_file_is_checked_once_per_hash() {
        let pool = ContentPool::default();
        let first = pool.check_audio("h", b"not ogg");
        assert!(first.is_err());
        // The memo answers for the hash, whatever bytes come with it.
        assert_eq!(pool.check_audio("h", b"other bytes"), first);
        assert_eq!(pool.checks.lock().unwrap().len(), 1);
    }
}
