//! One device's downloads, as one tokio task.
//!
//! The link publishes the files the plan still needs, soonest entry first
//! ([`Wants`]); the fetcher takes the first one the device lacks, downloads
//! it (resuming after a cut, with backoff), verifies it and stores it, then
//! looks again. A file the plan stops needing is abandoned mid-way; a file
//! given up on (refused, or out of attempts) gets another try when the next
//! list arrives. While the device's network is down (a link-down or
//! power-loss fault) nothing is fetched and a download under way is cut.

use std::future::Future;
use std::time::Duration;

use hub_proto::MediaRef;
use rand::Rng;
use sha2::{Digest, Sha256};
use tokio::sync::watch;
use tokio::time::{sleep, sleep_until, Instant};
use tracing::{debug, info, warn};

use super::http::{GetError, Http, Transfer};
use super::picture::check_board_file;
use super::{MediaOptions, Storage};

/// The files the plan still needs, soonest entry first, each once.
pub(crate) type Wants = Vec<MediaRef>;

/// How one device fetches its plan's media.
pub(crate) struct Fetcher {
    device: String,
    http: Http,
    options: MediaOptions,
    storage: Storage,
    wants: watch::Receiver<Wants>,
    /// The device's network is down until then.
    offline: watch::Receiver<Instant>,
    /// A new list arrived since files were last given up on.
    fresh: bool,
    /// Whether a file must be playable Ogg Opus to be kept (loudspeakers).
    check_audio: bool,
    /// Whether a file must be a picture that decodes, or an MP4 (boards).
    check_board: bool,
}

/// How watching a piece of work ended.
enum Watched<T> {
    Done(T),
    /// The plan no longer needs the file.
    Unwanted,
    /// The network went down.
    Offline,
    /// The device stopped.
    Closed,
}

/// Why an attempt failed.
#[derive(Debug, thiserror::Error)]
enum Failure {
    #[error(transparent)]
    Get(#[from] GetError),
    #[error("the device's network went down")]
    Offline,
    #[error("no room in storage")]
    NoRoom,
    #[error("{0}")]
    Mismatch(&'static str),
    /// Its bytes are right but no audio can be played from them: fetching
    /// the same bytes again cannot help.
    #[error(transparent)]
    Undecodable(#[from] super::audio::Undecodable),
}

/// How fetching one file ended.
enum Fetched {
    /// Stored, given up on, or no longer wanted: look at the list again.
    Over,
    Closed,
}

impl Fetcher {
    /// `check_audio`: keep only files that are playable Ogg Opus (as a
    /// loudspeaker does), else only pictures that decode and MP4 videos (as
    /// a board does), when [`MediaOptions::check_audio`] allows.
    pub fn new(
        device: &str,
        password: &str,
        options: MediaOptions,
        storage: Storage,
        wants: watch::Receiver<Wants>,
        offline: watch::Receiver<Instant>,
        check_audio: bool,
    ) -> Self {
        Self {
            check_audio: check_audio && options.check_audio,
            check_board: !check_audio && options.check_audio,
            device: device.to_string(),
            http: Http::new(device, password, options.timeout),
            options,
            storage,
            wants,
            offline,
            fresh: false,
        }
    }

    /// Fetches until the device stops (the link drops its list's sender).
    pub async fn run(mut self) {
        loop {
            match self.next_file() {
                Some(file) => {
                    if let Fetched::Closed = self.fetch(&file).await {
                        return;
                    }
                }
                None => {
                    if self.wants.changed().await.is_err() {
                        return;
                    }
                    self.fresh = true;
                }
            }
        }
    }

    /// The first wanted file neither held nor given up on.
    fn next_file(&mut self) -> Option<MediaRef> {
        let wants = self.wants.borrow_and_update();
        let mut media = self.storage.lock();
        if std::mem::take(&mut self.fresh) {
            media.given_up.clear();
        }
        wants
            .iter()
            .find(|file| {
                !media.cache.holds(&file.sha256)
                    && !media.given_up.contains(&file.sha256)
                    && !media.undecodable.contains(&file.sha256)
            })
            .cloned()
    }

    async fn fetch(&mut self, file: &MediaRef) -> Fetched {
        let mut transfer = Transfer::default();
        for attempt in 1..=self.options.max_attempts.max(1) {
            if attempt > 1 {
                let pause = self.backoff(attempt - 1);
                match self.watched(file, sleep(pause)).await {
                    Watched::Done(()) | Watched::Offline => {}
                    Watched::Unwanted => return Fetched::Over,
                    Watched::Closed => return Fetched::Closed,
                }
            }
            let failure = match self.attempt(file, &mut transfer).await {
                Watched::Done(Ok(())) => return Fetched::Over,
                Watched::Done(Err(failure)) => failure,
                Watched::Offline => Failure::Offline,
                Watched::Unwanted => return Fetched::Over,
                Watched::Closed => return Fetched::Closed,
            };
            {
                let mut media = self.storage.lock();
                media.counters.failures += 1;
                if matches!(
                    failure,
                    Failure::Mismatch(_) | Failure::Get(GetError::TooLong(_))
                ) {
                    media.counters.mismatches += 1;
                }
            }
            debug!(device = %self.device, file = %file.sha256, attempt, %failure, "download failed");
            if matches!(&failure, Failure::Get(error) if error.is_final()) {
                warn!(device = %self.device, file = %file.sha256, %failure, "download refused, given up");
                break;
            }
            if let Failure::Undecodable(_) = failure {
                warn!(device = %self.device, file = %file.sha256, %failure, "media discarded, given up");
                break;
            }
        }
        let mut media = self.storage.lock();
        media.given_up.insert(file.sha256.clone());
        media.counters.abandoned += 1;
        Fetched::Over
    }

    /// One try: wait for the network, room and a download slot, GET what is
    /// missing, verify and store.
    async fn attempt(
        &mut self,
        file: &MediaRef,
        transfer: &mut Transfer,
    ) -> Watched<Result<(), Failure>> {
        loop {
            let offline_until = *self.offline.borrow();
            if offline_until <= Instant::now() {
                break;
            }
            match self.watched(file, sleep_until(offline_until)).await {
                // Up again, or down for longer: look again.
                Watched::Done(()) | Watched::Offline => {}
                Watched::Unwanted => return Watched::Unwanted,
                Watched::Closed => return Watched::Closed,
            }
        }
        let room = {
            let needed = self.wants.borrow();
            self.storage
                .lock()
                .cache
                .has_room(file.size, &needed, Instant::now())
        };
        if !room {
            return Watched::Done(Err(Failure::NoRoom));
        }
        let slots = self.options.downloads.clone();
        let permit = match self.watched(file, slots.acquire_owned()).await {
            Watched::Done(Ok(permit)) => permit,
            // The semaphore is never closed; treat it like a stop.
            Watched::Done(Err(_)) | Watched::Closed => return Watched::Closed,
            Watched::Unwanted => return Watched::Unwanted,
            Watched::Offline => return Watched::Offline,
        };
        if !transfer.bytes.is_empty() {
            self.storage.lock().counters.resumes += 1;
        }
        let received = transfer.received;
        let got = {
            let Self {
                http,
                wants,
                offline,
                fresh,
                ..
            } = self;
            run_watched(wants, offline, fresh, file, http.get(file, transfer)).await
        };
        drop(permit);
        self.storage.lock().counters.bytes += transfer.received - received;
        match got {
            Watched::Done(Ok(())) => Watched::Done(self.keep(file, transfer)),
            Watched::Done(Err(error)) => Watched::Done(Err(error.into())),
            Watched::Offline => Watched::Offline,
            Watched::Unwanted => Watched::Unwanted,
            Watched::Closed => Watched::Closed,
        }
    }

    /// Verifies a complete transfer and stores it; a file that does not
    /// verify is discarded and fetched again from zero.
    fn keep(&mut self, file: &MediaRef, transfer: &mut Transfer) -> Result<(), Failure> {
        let mut bytes = std::mem::take(&mut transfer.bytes);
        if self.storage.lock().take_corruption() {
            corrupt(&mut bytes);
        }
        if bytes.len() as u64 != file.size {
            return Err(Failure::Mismatch("the file is not the size the plan gives"));
        }
        if sha256_hex(&bytes) != file.sha256 {
            return Err(Failure::Mismatch("the file does not hash to its SHA-256"));
        }
        let checked = if self.check_audio {
            let facts = self.options.contents.check_audio(&file.sha256, &bytes);
            facts.map(|facts| Some(facts.duration))
        } else if self.check_board {
            check_board_file(&bytes).map(|_| None)
        } else {
            Ok(None)
        };
        let duration = match checked {
            Ok(duration) => duration,
            Err(undecodable) => {
                let mut media = self.storage.lock();
                media.undecodable.insert(file.sha256.clone());
                media.counters.undecodable += 1;
                return Err(undecodable.into());
            }
        };
        let shared = self.options.contents.share(&file.sha256, bytes);
        let needed = self.wants.borrow();
        let mut media = self.storage.lock();
        let evicted = media
            .cache
            .insert(&file.sha256, shared, &needed, Instant::now())
            .map_err(|_| Failure::NoRoom)?;
        media.counters.downloads += 1;
        if let Some(duration) = duration {
            media.durations.insert(file.sha256.clone(), duration);
        }
        info!(device = %self.device, file = %file.sha256, size = file.size, ?duration, ?evicted, "media stored");
        Ok(())
    }

    async fn watched<T>(&mut self, file: &MediaRef, work: impl Future<Output = T>) -> Watched<T> {
        run_watched(
            &mut self.wants,
            &mut self.offline,
            &mut self.fresh,
            file,
            work,
        )
        .await
    }

    /// Exponential from `backoff_min`, capped at `backoff_max`, with jitter.
    fn backoff(&self, failures: u32) -> Duration {
        let ceiling = self
            .options
            .backoff_min
            .saturating_mul(1 << failures.saturating_sub(1).min(16))
            .min(self.options.backoff_max);
        ceiling.mul_f64(rand::thread_rng().gen_range(0.5..=1.0))
    }
}

/// Runs `work` unless the plan stops needing `file`, the network goes down
/// or the device stops first.
async fn run_watched<T>(
    wants: &mut watch::Receiver<Wants>,
    offline: &mut watch::Receiver<Instant>,
    fresh: &mut bool,
    file: &MediaRef,
    work: impl Future<Output = T>,
) -> Watched<T> {
    tokio::pin!(work);
    loop {
        tokio::select! {
            done = &mut work => return Watched::Done(done),
            changed = wants.changed() => {
                if changed.is_err() {
                    return Watched::Closed;
                }
                *fresh = true;
                if !wants.borrow().iter().any(|wanted| wanted.sha256 == file.sha256) {
                    return Watched::Unwanted;
                }
            }
            changed = offline.changed() => {
                if changed.is_err() {
                    return Watched::Closed;
                }
                if *offline.borrow() > Instant::now() {
                    return Watched::Offline;
                }
            }
        }
    }
}

/// What a corrupt-media fault does to a download: one byte changed (or one
/// added to an empty file), so size or hash no longer match.
fn corrupt(bytes: &mut Vec<u8>) {
    let middle = bytes.len() / 2;
    match bytes.get_mut(middle) {
        Some(byte) => *byte ^= 0xff,
        None => bytes.push(0),
    }
}

/// Lower-case hex SHA-256, as the protocol writes it.
pub(crate) fn sha256_hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|byte| format!("{byte:02x}"))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashes_are_lower_case_hex() {
        // SHA-256 of "test", as in hub_proto::media's tests.
        assert_eq!(
            sha256_hex(b"test"),
            "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"
        );
        assert!(hub_proto::media::is_sha256_hex(&sha256_hex(b"")));
    }

    #[test]
    fn corruption_always_changes_the_file() {
        for original in [vec![], vec![7], vec![1, 2, 3]] {
            let mut bytes = original.clone();
            corrupt(&mut bytes);
            assert_ne!(sha256_hex(&bytes), sha256_hex(&original));
        }
    }
}
