//! Payloads known to be genuine, shared by guards that run on one CPU.
//!
//! A real device checks and reads every command and live chunk on its own
//! processor. A simulator runs thousands of devices on a few cores, where
//! each of a commune's devices verifying and parsing the same payload again
//! costs more than the hub's own work (a live stream alone is five chunks a
//! second per device). Guards sharing a [`Verified`] remember the last
//! payloads that verified and parsed, by SHA-256 of the hub key and the
//! **whole payload** (signature and signed bytes), with what was read from
//! them: a payload differing in one byte, or another key, is checked anew.
//! Every other check (addressee, stream, sequence, expiry) stays each
//! guard's own.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex, PoisonError};

use ed25519_dalek::VerifyingKey;
use sha2::{Digest, Sha256};

/// Payloads that verified under a hub key, with what was read from them
/// (a [`Command`](crate::Command), a [`LiveChunk`](crate::live::LiveChunk)).
/// Cheap to clone: clones share the same memory.
pub struct Verified<T> {
    recent: Arc<Mutex<Recent<T>>>,
    capacity: usize,
}

struct Recent<T> {
    known: HashMap<[u8; 32], Arc<T>>,
    order: VecDeque<[u8; 32]>,
}

impl<T> Clone for Verified<T> {
    fn clone(&self) -> Self {
        Self {
            recent: self.recent.clone(),
            capacity: self.capacity,
        }
    }
}

impl<T> Default for Verified<T> {
    /// Room for a day of commands to a province's communes, or the last
    /// 13 minutes of a live stream's chunks, and then some.
    fn default() -> Self {
        Self::remembering(4096)
    }
}

impl<T> Verified<T> {
    /// Remembers up to `capacity` payloads, forgetting the oldest first.
    pub fn remembering(capacity: usize) -> Self {
        Self {
            recent: Arc::new(Mutex::new(Recent {
                known: HashMap::new(),
                order: VecDeque::new(),
            })),
            capacity,
        }
    }

    /// The key a payload is remembered by under `key`.
    pub(crate) fn digest(key: &VerifyingKey, payload: &[u8]) -> [u8; 32] {
        let mut hash = Sha256::new();
        hash.update(key.as_bytes());
        hash.update(payload);
        hash.finalize().into()
    }

    pub(crate) fn get(&self, digest: &[u8; 32]) -> Option<Arc<T>> {
        let recent = self.recent.lock().unwrap_or_else(PoisonError::into_inner);
        recent.known.get(digest).cloned()
    }

    pub(crate) fn insert(&self, digest: [u8; 32], read: Arc<T>) {
        let mut recent = self.recent.lock().unwrap_or_else(PoisonError::into_inner);
        if recent.known.insert(digest, read).is_none() {
            recent.order.push_back(digest);
            if recent.order.len() > self.capacity {
                if let Some(oldest) = recent.order.pop_front() {
                    recent.known.remove(&oldest);
                }
            }
        }
    }

    /// Payloads remembered now.
    pub fn len(&self) -> usize {
        let recent = self.recent.lock().unwrap_or_else(PoisonError::into_inner);
        recent.order.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}
