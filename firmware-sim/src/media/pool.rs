//! File contents shared by every device of a process.
//!
//! A file is named by its SHA-256, so two devices holding the same hash hold
//! the same bytes: keeping one copy lets 10,000 simulated devices each
//! "store" a bulletin without 10,000 copies of it in memory.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, Weak};

/// Contents by SHA-256, kept while some device holds them.
#[derive(Clone, Debug, Default)]
pub struct ContentPool(Arc<Mutex<HashMap<String, Weak<[u8]>>>>);

impl ContentPool {
    /// The shared copy of `bytes`, verified to hash to `sha256`.
    pub(crate) fn share(&self, sha256: &str, bytes: Vec<u8>) -> Arc<[u8]> {
        let mut files = self
            .0
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if let Some(shared) = files.get(sha256).and_then(Weak::upgrade) {
            return shared;
        }
        files.retain(|_, file| file.strong_count() > 0);
        let shared: Arc<[u8]> = bytes.into();
        files.insert(sha256.to_string(), Arc::downgrade(&shared));
        shared
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
        assert_eq!(pool.0.lock().unwrap().len(), 1);
    }
}
