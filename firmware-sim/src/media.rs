//! Media for the plan: fetched from the hub before it is due, kept in the
//! device's storage.
//!
//! When a device accepts a command, its link tells the device's fetcher
//! which files the plan still needs, soonest entry first. The fetcher
//! downloads each one the device lacks over HTTP (the contract in
//! `hub_proto::media`: Basic with the device id and broker password, ETag =
//! quoted hash, single ranges), one at a time per device and at most
//! [`MediaOptions::downloads`] at a time over all devices sharing the
//! options, so a fleet of 10,000 does not open 10,000 connections at once.
//! A file enters storage only once its size and SHA-256 check and, on a
//! loudspeaker, once it decodes as mono or stereo Ogg Opus (which also gives
//! its real duration); a cut download resumes from what arrived. The player
//! fails an entry whose file is not held when it is due, saying why
//! (`media_missing`, or `media_undecodable` for a file the check refused).
//!
//! # Layout
//! - `audio`: the loudspeaker's check of Ogg Opus files.
//! - `cache`: the device's storage: files by hash within a capacity, eviction, the full-storage fault.
//! - `pool`: file contents shared by all devices of a process.
//! - `http`: one GET, ranged or not.
//! - `fetcher`: the per-device task: order, retries, verification.

pub mod audio;
mod cache;
pub(crate) mod fetcher;
mod http;
pub mod picture;
mod pool;

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use hub_proto::MediaRef;
use tokio::sync::Semaphore;
use tokio::time::Instant;

use cache::MediaCache;
pub use pool::ContentPool;

/// Status fault: a full-storage fault lasts; no new file can be stored.
pub const FAULT_STORAGE_FULL: &str = "storage_full";
/// Status fault: the plan needs a file the device lacks and has given up
/// fetching (refused, no room, or out of attempts) until its next plan, or
/// found unplayable.
pub const FAULT_MEDIA_MISSING: &str = "media_missing";

/// How devices fetch and keep media.
#[derive(Clone, Debug)]
pub struct MediaOptions {
    /// Downloads at once over every device started with a clone of these
    /// options (a fleet shares one set).
    pub downloads: Arc<Semaphore>,
    /// Each device's storage, in bytes.
    pub capacity: u64,
    /// How long connecting, the answer, and each piece of the body may take
    /// (real time); a download that stalls longer is cut and resumed.
    pub timeout: Duration,
    /// First pause after a failed attempt; it doubles with every failure.
    pub backoff_min: Duration,
    /// Longest pause between attempts.
    pub backoff_max: Duration,
    /// Attempts per file before the device gives up on it until its next plan.
    pub max_attempts: u32,
    /// File contents, one copy per process.
    pub contents: ContentPool,
    /// Loudspeakers keep only files that decode as mono or stereo Ogg Opus,
    /// boards only pictures that decode and MP4 videos. Off only for tests
    /// of the transport that serve random bytes.
    pub check_audio: bool,
}

impl MediaOptions {
    /// Downloads at once, by default, in one process.
    pub const DEFAULT_DOWNLOADS: usize = 16;
}

impl Default for MediaOptions {
    fn default() -> Self {
        Self {
            downloads: Arc::new(Semaphore::new(Self::DEFAULT_DOWNLOADS)),
            capacity: 64 * 1024 * 1024,
            timeout: Duration::from_secs(10),
            backoff_min: Duration::from_secs(1),
            backoff_max: Duration::from_secs(60),
            max_attempts: 8,
            contents: ContentPool::default(),
            check_audio: true,
        }
    }
}

/// What a device's downloads have done.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct MediaCounters {
    /// Files downloaded, verified and stored.
    pub downloads: u64,
    /// Body bytes received, restarts and discarded files included.
    pub bytes: u64,
    /// Requests that resumed a cut download with a range.
    pub resumes: u64,
    /// Complete downloads discarded because their size or SHA-256 was wrong.
    pub mismatches: u64,
    /// Attempts that failed, for whatever reason (mismatches included).
    pub failures: u64,
    /// Files given up on until the next plan.
    pub abandoned: u64,
    /// Files with the right size and SHA-256 discarded because they are not
    /// playable Ogg Opus (loudspeakers only); never fetched again.
    pub undecodable: u64,
}

/// A device's storage and its downloads' state, shared by its link and its fetcher.
#[derive(Clone, Debug)]
pub(crate) struct Storage(Arc<Mutex<DeviceMedia>>);

#[derive(Debug)]
pub(crate) struct DeviceMedia {
    pub cache: MediaCache,
    pub counters: MediaCounters,
    /// Files the fetcher gave up on since the last new list.
    pub given_up: BTreeSet<String>,
    /// Files whose bytes are right but unplayable: their entries fail as
    /// `media_undecodable`, and they are not fetched again.
    pub undecodable: BTreeSet<String>,
    /// Real durations of the audio files checked, by SHA-256.
    pub durations: BTreeMap<String, Duration>,
    /// Downloads still to arrive corrupted (the corrupt-media fault).
    corrupt_next: u32,
}

impl DeviceMedia {
    /// Whether the download just completed is to be corrupted.
    pub fn take_corruption(&mut self) -> bool {
        let corrupt = self.corrupt_next > 0;
        self.corrupt_next = self.corrupt_next.saturating_sub(1);
        corrupt
    }

    /// The next `downloads` downloads arrive corrupted.
    pub fn corrupt_next(&mut self, downloads: u32) {
        self.corrupt_next = self.corrupt_next.saturating_add(downloads);
    }
}

impl Storage {
    pub fn new(capacity: u64) -> Self {
        Self(Arc::new(Mutex::new(DeviceMedia {
            cache: MediaCache::new(capacity),
            counters: MediaCounters::default(),
            given_up: BTreeSet::new(),
            undecodable: BTreeSet::new(),
            durations: BTreeMap::new(),
            corrupt_next: 0,
        })))
    }

    pub fn lock(&self) -> MutexGuard<'_, DeviceMedia> {
        // Counters and a cache map: nothing a panic elsewhere leaves half-done.
        self.0
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// What health reports say about media, for a plan needing `needed`.
    pub fn faults(&self, needed: &[MediaRef], now: Instant) -> Vec<String> {
        let media = self.lock();
        let full = media.cache.is_full(now);
        let missing = needed.iter().any(|file| {
            !media.cache.holds(&file.sha256)
                && (media.given_up.contains(&file.sha256)
                    || media.undecodable.contains(&file.sha256))
        });
        [(full, FAULT_STORAGE_FULL), (missing, FAULT_MEDIA_MISSING)]
            .into_iter()
            .filter(|(on, _)| *on)
            .map(|(_, fault)| fault.to_string())
            .collect()
    }
}
