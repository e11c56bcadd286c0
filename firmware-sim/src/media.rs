//! Media for the plan: fetched from the hub before it is due, kept in the
//! device's storage.
//!
//! When a device accepts a command, its link tells the device's fetcher
//! which files the plan still needs, soonest entry first. The fetcher
//! downloads each one the device lacks over HTTP or HTTPS (verifying the
//! server against the provisioned media CA, [`MediaTrust`]; the contract in
//! `hub_proto::media`: Basic with the device id and broker password, ETag =
//! quoted hash, single ranges), one at a time per device and at most
//! [`MediaOptions::downloads`] at a time over all devices sharing the
//! options, so a fleet of 10,000 does not open 10,000 connections at once.
//! A file enters storage only once its size and SHA-256 check and, on a
//! loudspeaker, once it decodes as mono or stereo Ogg Opus (which also gives
//! its real duration), on a board once it decodes as a picture or checks
//! as an H.264 MP4 (which also gives its subtitle cues) or reads as the SRT
//! subtitles of a video (`PlanEntry::subtitles`); a cut download
//! resumes from what arrived. An entry
//! due before its file has arrived waits for it; the player fails it when
//! its slot ends without the file or once the file is given up, saying why
//! (`media_missing`, or `media_undecodable` for a file the check refused).
//!
//! A file whose plan entry lists its parts (`MediaRef::chunks`, on
//! emergencies) is verified part by part as it arrives: a part that does not
//! hash right is dropped and fetched again from the end of the last good one,
//! and a loudspeaker may start playing once the first part has verified and
//! its audio begins a playable Ogg Opus stream ([`Storage`]'s `streaming`),
//! long before the whole file is there. Nothing that did not verify is ever
//! played.
//!
//! An emergency's command may carry that first part itself
//! (`MediaRef::head`): the link hands it to [`Storage::take_heads`] before
//! the player sees the command, and a head that is the first part (size and
//! SHA-256 of `chunks[0]`) and, on a loudspeaker, begins a playable Ogg
//! Opus stream becomes the file's verified beginning at once, with no
//! request; the fetcher then asks only for the rest (`Range: bytes={head
//! size}-`), verifying each later part as above. A head that does not
//! check is ignored and the file is downloaded as if it had none.
//!
//! # Layout
//! - `audio`: the loudspeaker's check of Ogg Opus files.
//! - `picture`: the board's check of its files; `video`: of videos, their
//!   subtitles, and a video's picture at a position (for snapshots).
//! - `cache`: the device's storage: files by hash within a capacity, eviction, the full-storage fault.
//! - `pool`: file contents shared by all devices of a process.
//! - `http`: one GET, ranged or not, over TCP or TLS.
//! - `trust`: the provisioned media CA, as TLS client settings.
//! - `fetcher`: the per-device task: order, retries, verification.

pub mod audio;
mod cache;
pub(crate) mod fetcher;
mod http;
pub mod picture;
mod pool;
pub mod trust;
pub mod video;

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use hub_mp4::Cue;
use hub_proto::{Directive, MediaRef, Part};
use tokio::sync::{Notify, Semaphore};
use tokio::time::Instant;
use video::BoardVideo;

use cache::MediaCache;
pub use pool::ContentPool;
pub use trust::{MediaTrust, MediaTrustError};

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
    /// Attempts refused because an `https://` media server's certificate
    /// did not verify against the provisioned CA and the URL's host (or no
    /// CA was provisioned): each gives the file up (`abandoned`).
    pub untrusted: u64,
    /// Files with the right size and SHA-256 discarded because they are not
    /// playable Ogg Opus (loudspeakers only); never fetched again.
    pub undecodable: u64,
    /// Files playable from their verified first part before they were whole.
    pub streamed: u64,
    /// First parts that came inline in a command and verified: playable
    /// with no request (counted in `streamed` too).
    pub heads: u64,
    /// Inline first parts refused (not the file's first part, or not the
    /// beginning of playable audio): the file is downloaded instead.
    pub heads_refused: u64,
}

/// A device's storage and its downloads' state, shared by its link and its
/// fetcher, and a bell the fetcher rings when what the player may play
/// changed (a file stored, playable from its beginning, or given up).
#[derive(Clone, Debug)]
pub(crate) struct Storage {
    media: Arc<Mutex<DeviceMedia>>,
    pub changed: Arc<Notify>,
}

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
    /// Files still arriving whose verified beginning a loudspeaker may play,
    /// with how many bytes of it verified, by SHA-256.
    pub streaming: BTreeMap<String, u64>,
    /// Verified first parts that came inline in commands, by the file's
    /// SHA-256: the fetcher starts from them, until the file is stored or
    /// no longer needed.
    pub heads: BTreeMap<String, Arc<[u8]>>,
    /// The videos a board checked (size, subtitles), by SHA-256.
    pub videos: BTreeMap<String, Arc<BoardVideo>>,
    /// The cues of the SRT files a board checked, by SHA-256.
    pub subtitles: BTreeMap<String, Arc<Vec<Cue>>>,
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
        Self {
            media: Arc::new(Mutex::new(DeviceMedia {
                cache: MediaCache::new(capacity),
                counters: MediaCounters::default(),
                given_up: BTreeSet::new(),
                undecodable: BTreeSet::new(),
                durations: BTreeMap::new(),
                streaming: BTreeMap::new(),
                heads: BTreeMap::new(),
                videos: BTreeMap::new(),
                subtitles: BTreeMap::new(),
                corrupt_next: 0,
            })),
            changed: Arc::new(Notify::new()),
        }
    }

    pub fn lock(&self) -> MutexGuard<'_, DeviceMedia> {
        // Counters and a cache map: nothing a panic elsewhere leaves half-done.
        self.media
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Takes the first parts that `directive`'s sound entries carry inline
    /// (`MediaRef::head`), and returns the directive for the player,
    /// without them (it needs only the reference; storage keeps one shared
    /// copy of the bytes). A head of a file the device neither holds nor
    /// already streams becomes the file's verified beginning (`streaming`)
    /// if it is exactly the first part and, with `check_audio`, begins a
    /// playable Ogg Opus stream; otherwise it is counted in
    /// `heads_refused` and the file is fetched as usual.
    pub fn take_heads(
        &self,
        directive: &Directive,
        contents: &ContentPool,
        check_audio: bool,
    ) -> Directive {
        let mut for_player = directive.clone();
        let mut taken = false;
        for entry in for_player.entries_mut() {
            let sound = entry.part == Part::Audio;
            let Some(file) = entry.media.as_mut().filter(|file| file.head.is_some()) else {
                continue;
            };
            if !sound || self.holds_or_streams(&file.sha256) {
                file.head = None;
                continue;
            }
            // The proof: the bytes hash to the first part's SHA-256 (or
            // equal a copy that did), and begin audio that plays.
            let verified = contents.verified_head(file).filter(|bytes| {
                !check_audio || contents.check_audio_beginning(&file.sha256, bytes).is_ok()
            });
            file.head = None;
            let mut media = self.lock();
            match verified {
                Some(bytes) => {
                    media
                        .streaming
                        .insert(file.sha256.clone(), bytes.len() as u64);
                    media.heads.insert(file.sha256.clone(), bytes);
                    media.counters.heads += 1;
                    media.counters.streamed += 1;
                    taken = true;
                }
                None => {
                    media.counters.heads_refused += 1;
                    tracing::warn!(file = %file.sha256, "an inline first part does not check; downloading the file");
                }
            }
        }
        if taken {
            self.changed.notify_one();
        }
        for_player
    }

    /// Whether the device holds `sha256`, or may play its beginning already.
    fn holds_or_streams(&self, sha256: &str) -> bool {
        let media = self.lock();
        media.cache.holds(sha256)
            || media.streaming.contains_key(sha256)
            || media.heads.contains_key(sha256)
            || media.undecodable.contains(sha256)
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
