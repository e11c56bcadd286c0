//! One device's downloads, as one tokio task.
//!
//! The link publishes the files the plan still needs, soonest entry first
//! ([`Wants`]); the fetcher takes the first one the device lacks, downloads
//! it (resuming after a cut, with backoff), verifies it and stores it, then
//! looks again. A file the plan stops needing is abandoned mid-way; a file
//! given up on (refused, or out of attempts) gets another try when the next
//! list arrives. While the device's network is down (a link-down or
//! power-loss fault) nothing is fetched and a download under way is cut.
//! A file whose parts are listed is verified part by part as it arrives
//! (see the `media` module); one whose first part came inline in a command
//! (storage's `heads`) starts from it and asks only for the rest.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use hub_proto::media::{chunks_fit, ogg_opus_playable};
use hub_proto::MediaRef;
use rand::Rng;
use sha2::{Digest, Sha256};
use tokio::sync::watch;
use tokio::time::{sleep, sleep_until, Instant};
use tracing::{debug, info, warn};

use super::http::{GetError, Http, Transfer};
use super::picture::{check_board_file, BoardFile};
use super::{MediaOptions, Storage};
use crate::link::DeviceConfig;

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
    /// The fetcher of `device`, with its credentials and provisioned media
    /// CA. A loudspeaker keeps only files that are playable Ogg Opus, a
    /// board only pictures that decode and MP4 videos, when
    /// [`MediaOptions::check_audio`] allows.
    pub fn new(
        device: &DeviceConfig,
        options: MediaOptions,
        storage: Storage,
        wants: watch::Receiver<Wants>,
        offline: watch::Receiver<Instant>,
    ) -> Self {
        let loudspeaker = device.kind == hub_proto::Kind::Loudspeaker;
        Self {
            check_audio: loudspeaker && options.check_audio,
            check_board: !loudspeaker && options.check_audio,
            device: device.id.clone(),
            http: Http::new(
                &device.id,
                &device.mqtt_password,
                device.media_trust.clone(),
                options.timeout,
            ),
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
        // Inline first parts of files the plan no longer needs are dropped,
        // and with them the right to play from them.
        let super::DeviceMedia {
            heads, streaming, ..
        } = &mut *media;
        heads.retain(|sha256, _| {
            let wanted = wants.iter().any(|file| &file.sha256 == sha256);
            if !wanted {
                streaming.remove(sha256);
            }
            wanted
        });
        wants
            .iter()
            .find(|file| {
                !media.cache.holds(&file.sha256)
                    && !media.given_up.contains(&file.sha256)
                    && !media.undecodable.contains(&file.sha256)
            })
            .cloned()
    }

    /// Fetches `file` until it is stored, given up on or unwanted; its
    /// verified beginning is playable only while this runs.
    async fn fetch(&mut self, file: &MediaRef) -> Fetched {
        let fetched = self.fetch_parts(file).await;
        self.storage.lock().streaming.remove(&file.sha256);
        self.storage.changed.notify_one();
        fetched
    }

    async fn fetch_parts(&mut self, file: &MediaRef) -> Fetched {
        let mut transfer = Transfer::default();
        if let Some((head, playable)) = self.playable_head(file) {
            match self.watched(file, sleep(rest_delay(playable))).await {
                Watched::Done(()) | Watched::Offline => {}
                Watched::Unwanted => return Fetched::Over,
                Watched::Closed => return Fetched::Closed,
            }
            // Copied only now: while an emergency starts, thousands of
            // devices of this process have better things to do.
            transfer.bytes = head.to_vec();
            transfer.verified = head.len() as u64;
            transfer.parts = 1;
        }
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
                if matches!(failure, Failure::Get(GetError::Untrusted(_))) {
                    media.counters.untrusted += 1;
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

    /// The file's first part if a command carried it inline and it verified
    /// (storage's `heads`), playable from now on, and how long it plays. A
    /// transfer starts from it, and its first GET asks only for the rest.
    fn playable_head(&self, file: &MediaRef) -> Option<(Arc<[u8]>, Duration)> {
        let mut media = self.storage.lock();
        let head = media.heads.get(&file.sha256).cloned()?;
        if !chunks_fit(file) || file.chunks[0].size != head.len() as u64 {
            return None;
        }
        media
            .streaming
            .insert(file.sha256.clone(), head.len() as u64);
        drop(media);
        self.storage.changed.notify_one();
        let playable = ogg_opus_playable(&head).unwrap_or_default();
        Some((head, playable))
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
        // A file whose one part came inline: nothing to ask for.
        if transfer.bytes.len() as u64 == file.size {
            return Watched::Done(self.keep(file, transfer));
        }
        let mut continued = false;
        loop {
            let got = self.get(file, transfer, continued).await;
            match got {
                // The first part alone was asked for and came: the rest
                // waits behind other devices' first parts for a slot.
                Watched::Done(Ok(()))
                    if !continued
                        && (transfer.bytes.len() as u64) < file.size
                        && transfer.parts == 1 =>
                {
                    continued = true;
                }
                Watched::Done(Ok(())) => return Watched::Done(self.keep(file, transfer)),
                Watched::Done(Err(failure)) => return Watched::Done(Err(failure)),
                Watched::Offline => return Watched::Offline,
                Watched::Unwanted => return Watched::Unwanted,
                Watched::Closed => return Watched::Closed,
            }
        }
    }

    /// One GET in a download slot: of the first part alone when the file's
    /// parts are listed and none has arrived (so every device waiting for
    /// an emergency gets a playable beginning before any gets the rest),
    /// else of all that is missing. `continued`: after such a first part,
    /// not a resumption after a cut.
    async fn get(
        &mut self,
        file: &MediaRef,
        transfer: &mut Transfer,
        continued: bool,
    ) -> Watched<Result<(), Failure>> {
        let slots = self.options.downloads.clone();
        let permit = match self.watched(file, slots.acquire_owned()).await {
            Watched::Done(Ok(permit)) => permit,
            // The semaphore is never closed; treat it like a stop.
            Watched::Done(Err(_)) | Watched::Closed => return Watched::Closed,
            Watched::Unwanted => return Watched::Unwanted,
            Watched::Offline => return Watched::Offline,
        };
        // Bytes held before anything was received came inline: not a resumption.
        if !transfer.bytes.is_empty() && transfer.received > 0 && !continued {
            self.storage.lock().counters.resumes += 1;
        }
        let until = (chunks_fit(file) && transfer.parts == 0 && file.chunks.len() > 1)
            .then(|| file.chunks[0].size);
        let received = transfer.received;
        let got = {
            let Self {
                http,
                wants,
                offline,
                fresh,
                storage,
                options,
                check_audio,
                ..
            } = self;
            let parts = Parts {
                storage: &*storage,
                contents: &options.contents,
                check_audio: *check_audio,
            };
            let get = http.get(file, transfer, until, |transfer| {
                parts.verify(file, transfer)
            });
            run_watched(wants, offline, fresh, file, get).await
        };
        drop(permit);
        self.storage.lock().counters.bytes += transfer.received - received;
        got
    }

    /// Verifies a complete transfer and stores it; a file that does not
    /// verify is discarded and fetched again from zero.
    fn keep(&mut self, file: &MediaRef, transfer: &mut Transfer) -> Result<(), Failure> {
        let mut bytes = std::mem::take(&mut transfer.bytes);
        transfer.restart();
        // A file verified part by part met the corrupt-media fault there.
        if !chunks_fit(file) && self.storage.lock().take_corruption() {
            corrupt(&mut bytes);
        }
        if bytes.len() as u64 != file.size {
            return Err(Failure::Mismatch("the file is not the size the plan gives"));
        }
        if !self.options.contents.verify(&file.sha256, &bytes) {
            return Err(Failure::Mismatch("the file does not hash to its SHA-256"));
        }
        let checked = if self.check_audio {
            let facts = self.options.contents.check_audio(&file.sha256, &bytes);
            facts.map(|facts| Some(facts.duration))
        } else if self.check_board {
            check_board_file(&bytes).map(|checked| {
                let mut media = self.storage.lock();
                match checked {
                    BoardFile::Video(video) => {
                        media.videos.insert(file.sha256.clone(), Arc::new(video));
                    }
                    BoardFile::Subtitles(cues) => {
                        media.subtitles.insert(file.sha256.clone(), Arc::new(cues));
                    }
                    BoardFile::Picture => {}
                }
                None
            })
        } else {
            Ok(None)
        };
        let duration = match checked {
            Ok(duration) => duration,
            Err(undecodable) => {
                let mut media = self.storage.lock();
                media.undecodable.insert(file.sha256.clone());
                media.streaming.remove(&file.sha256);
                media.heads.remove(&file.sha256);
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
        media.streaming.remove(&file.sha256);
        media.heads.remove(&file.sha256);
        drop(media);
        self.storage.changed.notify_one();
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

/// How long a device playing from an inline first part that plays for
/// `playable` waits before it asks for the rest: a random moment in the
/// second half of that part, leaving at least [`REST_LEAD`] of it to play.
/// Every targeted device receives an emergency within the same fraction of
/// a second; downloads asked for while the broker still hands the command
/// to the devices that have not started would slow exactly that, and the
/// hub would serve thousands of files at once. Later, they come after the
/// fan-out and spread over the half-second before the part runs out.
fn rest_delay(playable: Duration) -> Duration {
    let earliest = playable / 2;
    let latest = playable.saturating_sub(REST_LEAD).max(earliest);
    earliest + (latest - earliest).mul_f64(rand::thread_rng().gen_range(0.0..=1.0))
}

/// What a device playing from an inline first part keeps to play, at least,
/// when it asks for the rest: time for the next part to arrive.
const REST_LEAD: Duration = Duration::from_millis(600);

/// What verifies a file's parts as they arrive.
struct Parts<'a> {
    storage: &'a Storage,
    contents: &'a super::ContentPool,
    check_audio: bool,
}

impl Parts<'_> {
    /// Verifies every part of `file` that arrived whole since the last
    /// call; the beginning verified so far becomes playable (on a
    /// loudspeaker, once it begins a playable Ogg Opus stream). A part that
    /// does not hash right is dropped, so the next request resumes after
    /// the last good one. Files without usable parts are verified whole.
    fn verify(&self, file: &MediaRef, transfer: &mut Transfer) -> Result<(), Failure> {
        if !chunks_fit(file) {
            return Ok(());
        }
        let before = transfer.verified;
        while let Some(part) = file.chunks.get(transfer.parts) {
            let start = transfer.verified as usize;
            let end = start + part.size as usize;
            let Some(bytes) = transfer.bytes.get_mut(start..end) else {
                break;
            };
            if self.storage.lock().take_corruption() {
                corrupt_in_place(bytes);
            }
            if !self.contents.verify(&part.sha256, bytes) {
                transfer.bytes.truncate(start);
                return Err(Failure::Mismatch("a part does not hash to its SHA-256"));
            }
            transfer.verified = end as u64;
            transfer.parts += 1;
        }
        if transfer.verified == before || transfer.verified == file.size {
            // Nothing new, or the whole file: it is checked whole and stored.
            return Ok(());
        }
        let verified = &transfer.bytes[..transfer.verified as usize];
        if self.check_audio {
            if let Err(undecodable) = self.contents.check_audio_beginning(&file.sha256, verified) {
                let mut media = self.storage.lock();
                media.undecodable.insert(file.sha256.clone());
                media.counters.undecodable += 1;
                return Err(undecodable.into());
            }
        }
        let mut media = self.storage.lock();
        if media
            .streaming
            .insert(file.sha256.clone(), transfer.verified)
            .is_none()
        {
            media.counters.streamed += 1;
        }
        drop(media);
        self.storage.changed.notify_one();
        Ok(())
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
    if bytes.is_empty() {
        bytes.push(0);
    } else {
        corrupt_in_place(bytes);
    }
}

/// One byte of a non-empty part changed.
fn corrupt_in_place(bytes: &mut [u8]) {
    let middle = bytes.len() / 2;
    if let Some(byte) = bytes.get_mut(middle) {
        *byte ^= 0xff;
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
    fn the_rest_is_asked_for_late_in_the_head_but_before_it_runs_out() {
        let ms = Duration::from_millis;
        for _ in 0..200 {
            let delay = rest_delay(ms(1_800));
            assert!(delay >= ms(900) && delay <= ms(1_200), "{delay:?}");
            // A head shorter than twice the lead: at its middle.
            assert_eq!(rest_delay(ms(1_000)), ms(500));
        }
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
