//! Payloads known to be genuine, shared by guards that run on one CPU.
//!
//! A real device checks and reads every command and live chunk on its own
//! processor. A simulator runs thousands of devices on a few cores, where
//! each of a commune's devices verifying and parsing the same payload again
//! costs more than the hub's own work (a live stream alone is five chunks a
//! second per device). Guards sharing a [`Verified`] remember the last
//! payloads that verified and parsed, under the hub key, with what was read
//! from them. A payload is found again only if it is the **whole payload**
//! (signature and signed bytes) byte for byte, under the same key: a payload
//! differing in one byte, or another key, is checked anew. Hashing every
//! payload (SHA-256 of an emergency's 8 KB, 10,000 times) cost more than
//! comparing it with the one copy kept, so a hash of the payload's two ends
//! only picks where to look. Every other check (addressee, stream, sequence,
//! expiry) stays each guard's own.

use std::collections::hash_map::DefaultHasher;
use std::collections::{HashMap, VecDeque};
use std::hash::{Hash, Hasher};
use std::sync::{Arc, Mutex, PoisonError};

use ed25519_dalek::VerifyingKey;

/// Bytes at each end of a payload that pick where it is looked for: a
/// signed payload carries its signature at one end.
const SAMPLED_END_BYTES: usize = 96;
/// Bytes of payloads kept for comparing, at most, whatever the count.
const MAX_REMEMBERED_BYTES: usize = 64 * 1024 * 1024;

/// Payloads that verified under a hub key, with what was read from them
/// (a [`Command`](crate::Command), a [`LiveChunk`](crate::live::LiveChunk)).
/// Cheap to clone: clones share the same memory.
pub struct Verified<T> {
    recent: Arc<Mutex<Recent<T>>>,
    capacity: usize,
}

struct Recent<T> {
    /// By [`bucket`]: payloads with the same ends share one.
    known: HashMap<u64, Vec<Remembered<T>>>,
    /// Oldest first: each payload's bucket and its copy.
    order: VecDeque<(u64, Arc<[u8]>)>,
    bytes: usize,
}

struct Remembered<T> {
    key: [u8; 32],
    payload: Arc<[u8]>,
    read: Arc<T>,
}

impl<T> Remembered<T> {
    fn is(&self, key: &[u8; 32], payload: &[u8]) -> bool {
        self.key == *key && *self.payload == *payload
    }
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
                bytes: 0,
            })),
            capacity,
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Recent<T>> {
        self.recent.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// What was read from `payload`, if it verified under `key` before.
    pub(crate) fn get(&self, key: &VerifyingKey, payload: &[u8]) -> Option<Arc<T>> {
        let (key, bucket) = (key.as_bytes(), bucket(key.as_bytes(), payload));
        let recent = self.lock();
        recent
            .known
            .get(&bucket)?
            .iter()
            .find(|remembered| remembered.is(key, payload))
            .map(|remembered| remembered.read.clone())
    }

    /// Remembers that `payload` verified under `key`, and what it read.
    pub(crate) fn insert(&self, key: &VerifyingKey, payload: &[u8], read: Arc<T>) {
        let (key, bucket) = (key.as_bytes(), bucket(key.as_bytes(), payload));
        let mut recent = self.lock();
        let entries = recent.known.entry(bucket).or_default();
        if entries.iter().any(|remembered| remembered.is(key, payload)) {
            return;
        }
        let payload: Arc<[u8]> = payload.into();
        entries.push(Remembered {
            key: *key,
            payload: payload.clone(),
            read,
        });
        recent.bytes += payload.len();
        recent.order.push_back((bucket, payload));
        while recent.order.len() > self.capacity || recent.bytes > MAX_REMEMBERED_BYTES {
            let Some((bucket, oldest)) = recent.order.pop_front() else {
                break;
            };
            recent.bytes -= oldest.len();
            if let Some(entries) = recent.known.get_mut(&bucket) {
                entries.retain(|remembered| !Arc::ptr_eq(&remembered.payload, &oldest));
                if entries.is_empty() {
                    recent.known.remove(&bucket);
                }
            }
        }
    }

    /// What was read from the `count` payloads remembered last, newest first.
    pub(crate) fn newest(&self, count: usize) -> Vec<Arc<T>> {
        let recent = self.lock();
        recent
            .order
            .iter()
            .rev()
            .take(count)
            .filter_map(|(bucket, payload)| {
                let remembered = recent.known.get(bucket)?.iter();
                let mut found = remembered.filter(|r| Arc::ptr_eq(&r.payload, payload));
                found.next().map(|r| r.read.clone())
            })
            .collect()
    }

    /// Payloads remembered now.
    pub fn len(&self) -> usize {
        self.lock().order.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Where a payload under `key` is looked for: its length and its two ends.
fn bucket(key: &[u8; 32], payload: &[u8]) -> u64 {
    let sampled = SAMPLED_END_BYTES.min(payload.len());
    let mut hasher = DefaultHasher::new();
    key.hash(&mut hasher);
    payload.len().hash(&mut hasher);
    hasher.write(&payload[..sampled]);
    hasher.write(&payload[payload.len() - sampled..]);
    hasher.finish()
}

#[cfg(test)]
mod tests {
    use ed25519_dalek::SigningKey;

    use super::*;

    fn key(seed: u8) -> VerifyingKey {
        SigningKey::from_bytes(&[seed; 32]).verifying_key()
    }

    #[test]
    fn a_payload_is_found_only_whole_and_under_its_key() {
        let verified = Verified::remembering(8);
        // Long enough that the two payloads differ only between the ends
        // that pick where they are looked for.
        let payload = vec![b'a'; 4 * SAMPLED_END_BYTES];
        let mut middle_changed = payload.clone();
        middle_changed[2 * SAMPLED_END_BYTES] = b'b';
        verified.insert(&key(1), &payload, Arc::new("read"));
        assert_eq!(verified.get(&key(1), &payload).as_deref(), Some(&"read"));
        assert_eq!(verified.get(&key(1), &middle_changed), None);
        assert_eq!(verified.get(&key(2), &payload), None);
        // Both can be remembered side by side.
        verified.insert(&key(1), &middle_changed, Arc::new("other"));
        assert_eq!(verified.get(&key(1), &payload).as_deref(), Some(&"read"));
        assert_eq!(
            verified.get(&key(1), &middle_changed).as_deref(),
            Some(&"other")
        );
        assert_eq!(verified.len(), 2);
        let newest: Vec<&str> = verified.newest(3).iter().map(|read| **read).collect();
        assert_eq!(newest, ["other", "read"]);
    }

    #[test]
    fn remembered_bytes_are_bounded_whatever_the_count() {
        let verified = Verified::remembering(100);
        let third = MAX_REMEMBERED_BYTES / 3 + 1;
        let payloads: Vec<Vec<u8>> = (0..3u8).map(|n| vec![n; third]).collect();
        for payload in &payloads {
            verified.insert(&key(1), payload, Arc::new(()));
        }
        assert_eq!(verified.len(), 2);
        assert_eq!(verified.get(&key(1), &payloads[0]), None, "the oldest went");
        assert!(verified.get(&key(1), &payloads[2]).is_some());
    }
}
