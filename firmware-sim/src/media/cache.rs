//! A device's media storage: verified files by SHA-256, within a capacity.
//!
//! Pure bookkeeping, time passed in. A file enters only once it is verified;
//! to make room, files no entry of the current plan needs go first, oldest
//! first. While a full-storage fault lasts nothing new enters.

use std::collections::BTreeMap;
use std::sync::Arc;

use hub_proto::MediaRef;
use tokio::time::Instant;

/// The storage has no room for a file (full, or filled by files the plan needs).
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
#[error("no room for {size} bytes")]
pub struct NoRoom {
    /// The size of the file refused.
    pub size: u64,
}

#[derive(Debug)]
struct Stored {
    bytes: Arc<[u8]>,
    /// Order of arrival, for evicting the oldest first.
    arrival: u64,
}

/// The files one device holds.
#[derive(Debug)]
pub struct MediaCache {
    capacity: u64,
    used: u64,
    files: BTreeMap<String, Stored>,
    arrivals: u64,
    /// A full-storage fault refuses every new file until then.
    full_until: Option<Instant>,
}

impl MediaCache {
    /// An empty storage of `capacity` bytes.
    pub fn new(capacity: u64) -> Self {
        Self {
            capacity,
            used: 0,
            files: BTreeMap::new(),
            arrivals: 0,
            full_until: None,
        }
    }

    /// Whether the file with this SHA-256 is held.
    pub fn holds(&self, sha256: &str) -> bool {
        self.files.contains_key(sha256)
    }

    /// The contents of the file with this SHA-256, if held.
    pub fn file(&self, sha256: &str) -> Option<Arc<[u8]>> {
        self.files.get(sha256).map(|stored| stored.bytes.clone())
    }

    /// SHA-256 of every file held, in hash order.
    pub fn hashes(&self) -> Vec<String> {
        self.files.keys().cloned().collect()
    }

    /// Refuses every new file until `until` (the full-storage fault).
    pub fn fill_until(&mut self, until: Instant) {
        self.full_until = Some(until);
    }

    /// Whether a full-storage fault lasts at `now`.
    pub fn is_full(&self, now: Instant) -> bool {
        self.full_until.is_some_and(|until| now < until)
    }

    /// Whether a file of `size` bytes would fit at `now`, evicting only files
    /// `needed` does not name.
    pub fn has_room(&self, size: u64, needed: &[MediaRef], now: Instant) -> bool {
        if self.is_full(now) {
            return false;
        }
        let evictable: u64 = self
            .files
            .iter()
            .filter(|(hash, _)| !is_needed(hash, needed))
            .map(|(_, stored)| stored.bytes.len() as u64)
            .sum();
        self.used - evictable + size <= self.capacity
    }

    /// Keeps a verified file, evicting the oldest files `needed` does not
    /// name until it fits; returns the hashes evicted.
    pub fn insert(
        &mut self,
        sha256: &str,
        bytes: Arc<[u8]>,
        needed: &[MediaRef],
        now: Instant,
    ) -> Result<Vec<String>, NoRoom> {
        let size = bytes.len() as u64;
        if self.holds(sha256) {
            return Ok(Vec::new());
        }
        if !self.has_room(size, needed, now) {
            return Err(NoRoom { size });
        }
        let mut evicted = Vec::new();
        while self.used + size > self.capacity {
            let oldest = self
                .files
                .iter()
                .filter(|(hash, _)| !is_needed(hash, needed))
                .min_by_key(|(_, stored)| stored.arrival)
                .map(|(hash, _)| hash.clone());
            // `has_room` counted enough evictable bytes; stop rather than loop.
            let Some(hash) = oldest else { break };
            if let Some(stored) = self.files.remove(&hash) {
                self.used -= stored.bytes.len() as u64;
            }
            evicted.push(hash);
        }
        self.arrivals += 1;
        self.used += size;
        self.files.insert(
            sha256.to_string(),
            Stored {
                bytes,
                arrival: self.arrivals,
            },
        );
        Ok(evicted)
    }
}

fn is_needed(sha256: &str, needed: &[MediaRef]) -> bool {
    needed.iter().any(|file| file.sha256 == sha256)
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    fn file(name: &str, size: usize) -> (String, Arc<[u8]>) {
        (name.repeat(64), vec![0; size].into())
    }

    fn needing(names: &[&str]) -> Vec<MediaRef> {
        names
            .iter()
            .map(|name| MediaRef {
                sha256: name.repeat(64),
                size: 0,
                url: String::new(),
                chunks: Default::default(),
                head: None,
            })
            .collect()
    }

    #[test]
    fn files_the_plan_does_not_need_make_room_oldest_first() {
        let now = Instant::now();
        let mut cache = MediaCache::new(100);
        for name in ["a", "b", "c"] {
            let (hash, bytes) = file(name, 30);
            assert_eq!(cache.insert(&hash, bytes, &[], now), Ok(vec![]));
        }
        let (d, bytes) = file("d", 50);
        let evicted = cache.insert(&d, bytes, &needing(&["a"]), now).unwrap();
        assert_eq!(evicted, ["b".repeat(64), "c".repeat(64)]);
        assert_eq!(cache.hashes(), ["a".repeat(64), d]);
    }

    #[test]
    fn a_file_the_needed_ones_leave_no_room_for_is_refused() {
        let now = Instant::now();
        let mut cache = MediaCache::new(100);
        let (a, bytes) = file("a", 60);
        cache.insert(&a, bytes, &[], now).unwrap();
        let (b, bytes) = file("b", 50);
        assert!(!cache.has_room(50, &needing(&["a"]), now));
        assert_eq!(
            cache.insert(&b, bytes.clone(), &needing(&["a"]), now),
            Err(NoRoom { size: 50 })
        );
        assert!(cache.holds(&a));
        assert_eq!(cache.insert(&b, bytes, &[], now), Ok(vec![a]));
    }

    #[test]
    fn a_full_storage_fault_refuses_everything_until_it_ends() {
        let now = Instant::now();
        let mut cache = MediaCache::new(100);
        cache.fill_until(now + Duration::from_secs(5));
        let (a, bytes) = file("a", 1);
        assert!(cache.is_full(now));
        assert_eq!(
            cache.insert(&a, bytes.clone(), &[], now),
            Err(NoRoom { size: 1 })
        );
        let later = now + Duration::from_secs(5);
        assert!(!cache.is_full(later));
        assert_eq!(cache.insert(&a, bytes, &[], later), Ok(vec![]));
        assert_eq!(cache.file(&a).map(|f| f.len()), Some(1));
    }
}
