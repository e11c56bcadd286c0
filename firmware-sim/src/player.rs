//! What one device plays, as a pure state machine.
//!
//! The player holds the device's local plan and decides, from the device's
//! time passed in by the caller, what starts, ends or is cut. It never reads a
//! clock and does no I/O: every call returns the proof-of-play [`Message`]s
//! the device must report, in order, and the link sends them. This keeps each
//! rule testable with exact instants.
//!
//! An entry is known by its airing and its planned start; the player never
//! starts the same one twice and never starts one whose end has passed.
//!
//! An entry with media plays only if the device holds its file (the link
//! tells the player which it holds, [`Player::hold_media`]) or, for sound,
//! the verified beginning of a file still arriving ([`Player::stream_media`]).
//! An entry due (planned, preempting, or ordered by [`Directive::Play`])
//! whose file is still on its way waits for it; one whose file the device
//! gave up on or found unplayable fails, reported [`Outcome::Failed`] with
//! the reason ([`FailureReason::MediaMissing`], or
//! [`FailureReason::MediaUndecodable`]), and cuts nothing. A preemption or
//! order cuts what plays at once, then waits. Sound playing from a file still
//! arriving fails if the rest of the file is given up on or found
//! unplayable: nothing unverified is played.
//! [`Player::media_needed`] names the files still to play, for prefetching.
//! An entry whose audio is shorter than its slot (the device knows the real
//! duration of the files it checked, [`Player::know_media`]) finishes when
//! its audio ends.

use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::time::Duration;

use chrono::{DateTime, NaiveDate, Utc};
use hub_proto::{
    AiringRef, Class, Directive, FailureReason, MediaRef, Message, Outcome, Part, PlanEntry, Power,
    Status,
};

/// One airing as the device played it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Played {
    /// Which airing.
    pub airing: AiringRef,
    /// Its priority class.
    pub class: Class,
    /// When the device started it (its own clock).
    pub start: DateTime<Utc>,
    /// When it ended; while it plays (`outcome` is [`Outcome::Started`]),
    /// when it is planned to end.
    pub end: DateTime<Utc>,
    /// [`Outcome::Started`] while it plays, then how it ended.
    pub outcome: Outcome,
    /// Why it [`Outcome::Failed`], when it did.
    pub reason: Option<FailureReason>,
}

/// Text shown on an LED board above its plan ([`Directive::Display`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Display {
    /// What to show.
    pub text: String,
    /// Shown up to this instant.
    pub until: DateTime<Utc>,
}

/// What an LED board shows at one instant.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Showing {
    /// The words on the board: a [`Directive::Display`]'s text, or the
    /// airing entry's [`PlanEntry::text`]. None for an entry without text
    /// (an image or video without a caption).
    pub text: Option<String>,
    /// The bulletin of the airing entry; none for a [`Directive::Display`].
    pub bulletin: Option<String>,
    /// The SHA-256 of the picture or video the entry shows, if it has one.
    pub media: Option<String>,
    /// The SHA-256 of the SRT file whose cues show over the video instead
    /// of its own subtitle track, if the entry has one.
    pub subtitles: Option<String>,
    /// When the airing began on the board (its own clock); a video plays
    /// from its start then. None for a [`Directive::Display`].
    pub since: Option<DateTime<Utc>>,
    /// The subtitle showing now, once the board has read the video's cues
    /// (`Showing::with_video`, in `board`); none between cues.
    pub subtitle: Option<String>,
    /// The video playing and where in it, once the board has checked it.
    pub video: Option<ShownVideo>,
}

/// A video on a board at one instant.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ShownVideo {
    /// How far into the video: the time since its airing began.
    pub position: Duration,
    /// The video's picture size.
    pub width: u32,
    /// The video's picture size.
    pub height: u32,
}

/// Where the entry being played came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Source {
    /// The plan for this local day.
    Plan(NaiveDate),
    /// A [`Directive::Play`].
    Order,
}

#[derive(Clone, Debug)]
struct Playing {
    entry: PlanEntry,
    source: Source,
    /// Index of its line in the timeline.
    line: usize,
    /// When its audio runs out, if before the end of its slot.
    audio_end: Option<DateTime<Utc>>,
}

impl Playing {
    /// When it stops by itself: its audio ends or its slot does.
    fn end(&self) -> DateTime<Utc> {
        self.audio_end
            .map_or(self.entry.end, |audio| audio.min(self.entry.end))
    }

    /// How it ends at [`Playing::end`]: cut if its slot was cut short
    /// before its audio ran out.
    fn natural_outcome(&self) -> Outcome {
        let audio_done = self.audio_end.is_some_and(|audio| audio <= self.entry.end);
        if self.entry.preempted && !audio_done {
            Outcome::Preempted
        } else {
            Outcome::Finished
        }
    }
}

/// An entry's identity: its airing and planned start.
type EntryKey = (AiringRef, DateTime<Utc>);

fn key(entry: &PlanEntry) -> EntryKey {
    (entry.airing(), entry.start)
}

/// The files an entry needs: what it plays or shows, then a video's SRT
/// subtitles.
fn files_of(entry: &PlanEntry) -> impl Iterator<Item = &MediaRef> {
    entry.media.iter().chain(&entry.subtitles)
}

/// Higher for more urgent classes.
fn rank(class: Class) -> u8 {
    match class {
        Class::Emergency => 2,
        Class::Priority => 1,
        Class::Normal => 0,
    }
}

/// The playing state of one device.
#[derive(Clone, Debug)]
pub struct Player {
    plans: BTreeMap<NaiveDate, Vec<PlanEntry>>,
    playing: Option<Playing>,
    started: HashSet<EntryKey>,
    timeline: Vec<Played>,
    volume: u8,
    windows: Vec<String>,
    display: Option<Display>,
    /// The latest instant the player was advanced to.
    seen: Option<DateTime<Utc>>,
    /// SHA-256 of the media files the device holds.
    held_media: HashSet<String>,
    /// Real durations of checked audio files, by SHA-256.
    durations: BTreeMap<String, Duration>,
    /// Files found unplayable, by SHA-256.
    undecodable: BTreeSet<String>,
    /// Files the device stopped downloading, by SHA-256. Any other file a
    /// planned entry needs and the device lacks is on its way: an entry due
    /// before its file arrives waits for it rather than failing.
    given_up: HashSet<String>,
    /// Entries due, not started, waiting for their file; one still waiting
    /// when its slot ends fails then.
    waiting: HashSet<EntryKey>,
    /// Files still arriving whose verified beginning sound may play from.
    streaming: HashSet<String>,
    /// Entries ordered by [`Directive::Play`] waiting for their file.
    orders: Vec<PlanEntry>,
    /// Airings played to their end: never started again, whatever a later
    /// plan says (a hub that lost their report in a crash plans them again).
    finished: HashSet<AiringRef>,
    /// Live streams (their bulletins) of which a verified chunk arrived: a
    /// live entry waits for that before it starts.
    live_heard: HashSet<String>,
}

impl Default for Player {
    fn default() -> Self {
        Self::new()
    }
}

impl Player {
    /// Volume before the hub sends a [`Directive::Config`].
    pub const DEFAULT_VOLUME: u8 = 70;

    /// A device with no plan, playing nothing.
    pub fn new() -> Self {
        Self {
            plans: BTreeMap::new(),
            playing: None,
            started: HashSet::new(),
            finished: HashSet::new(),
            timeline: Vec::new(),
            volume: Self::DEFAULT_VOLUME,
            windows: Vec::new(),
            display: None,
            seen: None,
            held_media: HashSet::new(),
            given_up: HashSet::new(),
            waiting: HashSet::new(),
            streaming: HashSet::new(),
            orders: Vec::new(),
            durations: BTreeMap::new(),
            undecodable: BTreeSet::new(),
            live_heard: HashSet::new(),
        }
    }

    /// Everything started so far, in start order.
    pub fn timeline(&self) -> &[Played] {
        &self.timeline
    }

    /// The proof of play of every airing that started since `since`: its
    /// last outcome, at the moment it happened (when it started, if it is
    /// still playing). A device restates it after each hello, so a hub that
    /// lost reports in a crash gets them again; reports are idempotent for
    /// the hub.
    pub fn proof_of_play(&self, since: DateTime<Utc>) -> Vec<(DateTime<Utc>, Message)> {
        let mut last: BTreeMap<&AiringRef, &Played> = BTreeMap::new();
        for line in self.timeline.iter().filter(|line| line.start >= since) {
            last.insert(&line.airing, line);
        }
        let mut restated: Vec<(DateTime<Utc>, Message)> = last
            .into_values()
            .map(|line| {
                let at = if line.outcome == Outcome::Started {
                    line.start
                } else {
                    line.end
                };
                let message = Message::Played {
                    airing: line.airing.clone(),
                    outcome: line.outcome,
                    reason: line.reason,
                };
                (at, message)
            })
            .collect();
        restated.sort_by_key(|(at, _)| *at);
        restated
    }

    /// The airing playing now.
    pub fn playing(&self) -> Option<&AiringRef> {
        self.playing.as_ref().map(|p| &self.timeline[p.line].airing)
    }

    /// The plan held for `date`.
    pub fn plan(&self, date: NaiveDate) -> Option<&[PlanEntry]> {
        self.plans.get(&date).map(Vec::as_slice)
    }

    /// Output level and operating windows from the last [`Directive::Config`].
    pub fn settings(&self) -> (u8, &[String]) {
        (self.volume, &self.windows)
    }

    /// The text to show at `now`, if any.
    pub fn display(&self, now: DateTime<Utc>) -> Option<&str> {
        self.display
            .as_ref()
            .filter(|d| now <= d.until)
            .map(|d| d.text.as_str())
    }

    /// What an LED board shows at `now`, as of the last [`Player::advance`]:
    /// a [`Directive::Display`] still in force, else the visual entry airing,
    /// else nothing (a blank board).
    pub fn showing(&self, now: DateTime<Utc>) -> Option<Showing> {
        if let Some(text) = self.display(now) {
            return Some(Showing {
                text: Some(text.to_string()),
                bulletin: None,
                media: None,
                subtitles: None,
                since: None,
                subtitle: None,
                video: None,
            });
        }
        let playing = self.playing.as_ref()?;
        let entry = &playing.entry;
        (entry.part == Part::Visual && now < entry.end).then(|| Showing {
            text: entry.text.clone(),
            bulletin: Some(entry.bulletin.clone()),
            media: entry.media.as_ref().map(|m| m.sha256.clone()),
            subtitles: entry.subtitles.as_ref().map(|m| m.sha256.clone()),
            since: Some(self.timeline[playing.line].start),
            subtitle: None,
            video: None,
        })
    }

    /// Health as reported in heartbeats.
    pub fn status(&self) -> Status {
        Status {
            playing: self.playing().cloned(),
            volume: self.volume,
            power: Power::Mains,
            battery_percent: None,
            faults: Vec::new(),
        }
    }

    /// Which media files the device holds now (their SHA-256), as its
    /// storage says; entries needing any other file fail when due.
    pub fn hold_media(&mut self, held: impl IntoIterator<Item = String>) {
        self.held_media = held.into_iter().collect();
    }

    /// Which files the device stopped downloading (their SHA-256): entries
    /// needing them fail when due instead of waiting.
    pub fn give_up_media(&mut self, given_up: impl IntoIterator<Item = String>) {
        self.given_up = given_up.into_iter().collect();
    }

    /// Which files are still arriving with a verified beginning (their
    /// SHA-256): sound entries needing them may start.
    pub fn stream_media(&mut self, streaming: impl IntoIterator<Item = String>) {
        self.streaming = streaming.into_iter().collect();
    }

    /// Whether a due entry is waiting for its file, so the player must be
    /// advanced again as soon as the file may have arrived.
    pub fn awaiting_media(&self) -> bool {
        !self.waiting.is_empty() || !self.orders.is_empty()
    }

    /// What the device learnt of its files: the real duration of the audio
    /// it checked, and which files it found unplayable (entries needing
    /// them fail as [`FailureReason::MediaUndecodable`]).
    pub fn know_media(
        &mut self,
        durations: BTreeMap<String, Duration>,
        undecodable: BTreeSet<String>,
    ) {
        self.durations = durations;
        self.undecodable = undecodable;
        // Sound that started before its file was whole ends with its audio
        // once the device knows how long that is.
        if let Some(playing) = &mut self.playing {
            let known = playing
                .entry
                .media
                .as_ref()
                .and_then(|file| self.durations.get(&file.sha256))
                .and_then(|duration| chrono::TimeDelta::from_std(*duration).ok());
            if let (None, Some(duration)) = (playing.audio_end, known) {
                let line = &mut self.timeline[playing.line];
                let audio_end = line.start + duration;
                if audio_end < playing.entry.end {
                    playing.audio_end = Some(audio_end);
                    line.end = playing.end();
                }
            }
        }
    }

    /// The files of what plays and of every entry not yet started nor over,
    /// soonest entry first, each once: what the device must have in time.
    pub fn media_needed(&self) -> Vec<MediaRef> {
        let mut entries: Vec<&PlanEntry> = self
            .plans
            .values()
            .flatten()
            .filter(|e| self.seen.is_none_or(|seen| e.end > seen))
            .filter(|e| !self.started.contains(&key(e)))
            .chain(self.playing.as_ref().map(|p| &p.entry))
            .chain(&self.orders)
            .collect();
        entries.sort_by_key(|e| e.start);
        let mut listed = HashSet::new();
        entries
            .into_iter()
            .flat_map(files_of)
            .filter(|file| listed.insert(file.sha256.clone()))
            .cloned()
            .collect()
    }

    /// The next instant at which [`Player::advance`] has something to do:
    /// the end of what plays or the next planned start.
    pub fn next_wakeup(&self) -> Option<DateTime<Utc>> {
        let end = self.playing.as_ref().map(Playing::end);
        let start = self
            .plans
            .values()
            .flatten()
            .filter(|e| !self.started.contains(&key(e)))
            .filter_map(|e| {
                // A waiting entry next needs the player when its slot ends.
                let at = if self.waiting.contains(&key(e)) {
                    e.end
                } else {
                    e.start
                };
                self.seen.is_none_or(|seen| at > seen).then_some(at)
            })
            .min();
        // A waiting order next needs the player when its slot ends.
        let order = self.orders.iter().map(|e| e.end).min();
        [end, start, order].into_iter().flatten().min()
    }

    /// The live stream (its bulletin) the device airs, or waits for
    /// because its live entry is due, at `now`: the only stream whose
    /// chunks it takes.
    pub fn listening(&self, now: DateTime<Utc>) -> Option<&str> {
        if let Some(playing) = self.playing.as_ref().filter(|p| p.entry.part == Part::Live) {
            return Some(&playing.entry.bulletin);
        }
        self.plans
            .values()
            .flatten()
            .find(|e| {
                e.part == Part::Live
                    && e.start <= now
                    && now < e.end
                    && !self.started.contains(&key(e))
                    && !self.finished.contains(&e.airing())
            })
            .map(|e| e.bulletin.as_str())
    }

    /// A verified chunk of live stream `stream` arrived at `now`: its due
    /// entry starts (cutting what plays, as an emergency does); with `end`,
    /// the stream is over and the airing finishes.
    pub fn hear_live(&mut self, stream: &str, end: bool, now: DateTime<Utc>) -> Vec<Message> {
        self.live_heard.insert(stream.to_owned());
        let mut out = self.advance(now);
        let airs_it = self
            .playing
            .as_ref()
            .is_some_and(|p| p.entry.part == Part::Live && p.entry.bulletin == stream);
        if end && airs_it {
            self.end(now, Outcome::Finished, &mut out);
        }
        out
    }

    /// Ends what is over and starts what is due at `now`.
    pub fn advance(&mut self, now: DateTime<Utc>) -> Vec<Message> {
        let mut out = Vec::new();
        self.seen = Some(self.seen.map_or(now, |seen| seen.max(now)));
        self.fail_unplayable(now, &mut out);
        if let Some(playing) = &self.playing {
            if now >= playing.end() {
                let outcome = playing.natural_outcome();
                // It ends when the device sees it end, which is also the
                // time its report gives.
                self.end(now, outcome, &mut out);
            }
        }
        self.fail_unfetched(now, &mut out);
        if let Some((date, entry)) = self.due(now) {
            let wins = self
                .playing
                .as_ref()
                .is_none_or(|p| rank(entry.class) >= rank(self.timeline[p.line].class));
            if wins && self.fetching(&entry) {
                self.waiting.insert(key(&entry));
            } else if let Some(reason) = self.lacks_media(&entry).filter(|_| wins) {
                self.fail(entry, reason, now, &mut out);
            } else if wins {
                self.end(now, Outcome::Preempted, &mut out);
                self.start(entry, Source::Plan(date), now, &mut out);
            }
        }
        self.start_orders(now, &mut out);
        out
    }

    /// Acts on a directive accepted at `now`.
    pub fn apply(&mut self, directive: Directive, now: DateTime<Utc>) -> Vec<Message> {
        let mut out = Vec::new();
        match directive {
            Directive::Schedule { date, entries } => self.schedule(date, entries, now, &mut out),
            Directive::Play { entry } => {
                let ordered = self.orders.iter().any(|o| key(o) == key(&entry));
                if now < entry.end && !self.started.contains(&key(&entry)) && !ordered {
                    if self.fetching(&entry) {
                        self.end(now, Outcome::Preempted, &mut out);
                        self.orders.push(entry);
                    } else if let Some(reason) = self.lacks_media(&entry) {
                        self.fail(entry, reason, now, &mut out);
                    } else {
                        self.end(now, Outcome::Preempted, &mut out);
                        self.start(entry, Source::Order, now, &mut out);
                    }
                }
            }
            Directive::Preempt { stopped, by } => {
                if self.playing() == Some(&stopped) {
                    let found = self.find(&by, now);
                    let lacking = found.as_ref().and_then(|(_, e)| self.lacks_media(e));
                    let fetching = found.as_ref().is_some_and(|(_, e)| self.fetching(e));
                    match (found, lacking) {
                        (Some((_, entry)), Some(_)) if fetching => {
                            // Cut now; the entry starts once its file (or
                            // its verified beginning) is there.
                            self.end(now, Outcome::Preempted, &mut out);
                            self.waiting.insert(key(&entry));
                        }
                        (Some((_, entry)), Some(reason)) => {
                            self.fail(entry, reason, now, &mut out);
                        }
                        (found, _) => {
                            self.end(now, Outcome::Preempted, &mut out);
                            if let Some((date, entry)) = found {
                                self.start(entry, Source::Plan(date), now, &mut out);
                            }
                        }
                    }
                }
            }
            Directive::Stop { airing, .. } => {
                if self.playing() == Some(&airing) {
                    self.end(now, Outcome::Stopped, &mut out);
                }
            }
            Directive::Display { text, until } => self.display = Some(Display { text, until }),
            Directive::Config { volume, windows } => {
                self.volume = volume.min(100);
                self.windows = windows;
            }
            // A matter of the link, not of what plays.
            Directive::Resync => {}
        }
        out.extend(self.advance(now));
        out
    }

    fn schedule(
        &mut self,
        date: NaiveDate,
        mut entries: Vec<PlanEntry>,
        now: DateTime<Utc>,
        out: &mut Vec<Message>,
    ) {
        // An emergency whose slot ended while its plan was on its way (the
        // hub planned it from the moment it was triggered) airs from now, for
        // its whole length, rather than not at all.
        for entry in entries.iter_mut().filter(|e| {
            e.class == Class::Emergency
                && e.end <= now
                && !self.started.contains(&key(e))
                && !self.finished.contains(&e.airing())
        }) {
            let length = entry.end - entry.start;
            entry.start = now;
            entry.end = now + length;
        }
        // What ended while the schedule was on its way ended normally: the
        // hub leaves airings that are over out of a new plan.
        if self.playing.as_ref().is_some_and(|p| p.end() <= now) {
            out.extend(self.advance(now));
        }
        if let Some(playing) = &mut self.playing {
            let airing = &self.timeline[playing.line].airing;
            let same = entries
                .iter()
                .filter(|e| &e.airing() == airing)
                .find(|e| e.start == playing.entry.start)
                .or_else(|| {
                    entries
                        .iter()
                        .find(|e| &e.airing() == airing && e.start <= now && now < e.end)
                });
            match same {
                // Still planned: it keeps playing, to the end the plan now gives.
                Some(entry) => {
                    self.started.insert(key(entry));
                    playing.entry.end = entry.end;
                    playing.entry.preempted = entry.preempted;
                    self.timeline[playing.line].end = playing.end();
                }
                None if playing.source == Source::Plan(date) => {
                    self.end(now, Outcome::Stopped, out);
                }
                None => {}
            }
        }
        self.plans.insert(date, entries);
        self.plans
            .retain(|_, entries| entries.last().is_none_or(|e| e.end > now));
    }

    /// The plan entry to start at `now`: the latest one under way that was
    /// never started.
    fn due(&self, now: DateTime<Utc>) -> Option<(NaiveDate, PlanEntry)> {
        self.plans
            .iter()
            .flat_map(|(date, entries)| entries.iter().map(move |e| (*date, e)))
            .filter(|(_, e)| {
                e.start <= now
                    && now < e.end
                    && !self.started.contains(&key(e))
                    && !self.finished.contains(&e.airing())
            })
            .max_by_key(|(_, e)| e.start)
            .map(|(date, e)| (date, e.clone()))
    }

    /// A planned entry for `airing` that was never started and is not over
    /// at `now`. (An entry from a [`Directive::Play`] is started when it
    /// arrives, so it can never be started again by a preemption.)
    fn find(&self, airing: &AiringRef, now: DateTime<Utc>) -> Option<(NaiveDate, PlanEntry)> {
        self.plans
            .iter()
            .flat_map(|(date, entries)| entries.iter().map(move |e| (*date, e)))
            .filter(|(_, e)| {
                &e.airing() == airing
                    && now < e.end
                    && !self.started.contains(&key(e))
                    && !self.finished.contains(airing)
            })
            .min_by_key(|(_, e)| e.start)
            .map(|(date, e)| (date, e.clone()))
    }

    fn start(
        &mut self,
        entry: PlanEntry,
        source: Source,
        now: DateTime<Utc>,
        out: &mut Vec<Message>,
    ) {
        self.waiting.remove(&key(&entry));
        self.started.insert(key(&entry));
        let airing = entry.airing();
        // The file plays from its beginning, cut at the end of the slot.
        let audio_end = entry
            .media
            .as_ref()
            .and_then(|file| self.durations.get(&file.sha256))
            .and_then(|duration| chrono::TimeDelta::from_std(*duration).ok())
            .map(|duration| now + duration)
            .filter(|audio_end| *audio_end < entry.end);
        let playing = Playing {
            entry,
            source,
            line: self.timeline.len(),
            audio_end,
        };
        self.timeline.push(Played {
            airing: airing.clone(),
            class: playing.entry.class,
            start: now,
            end: playing.end(),
            outcome: Outcome::Started,
            reason: None,
        });
        self.playing = Some(playing);
        out.push(Message::Played {
            airing,
            outcome: Outcome::Started,
            reason: None,
        });
    }

    /// Why `entry` cannot play, if it needs a media file (or a video's
    /// subtitles) the device does not hold (nor, for sound, the verified
    /// beginning of). An unplayable file outweighs a missing one.
    fn lacks_media(&self, entry: &PlanEntry) -> Option<FailureReason> {
        // Live sound has nothing to play before its first verified chunk.
        if entry.part == Part::Live {
            return (!self.live_heard.contains(&entry.bulletin))
                .then_some(FailureReason::MediaMissing);
        }
        self.lacking(entry)
            .map(|file| {
                if self.undecodable.contains(&file.sha256) {
                    FailureReason::MediaUndecodable
                } else {
                    FailureReason::MediaMissing
                }
            })
            .max_by_key(|reason| *reason == FailureReason::MediaUndecodable)
    }

    /// The files `entry` needs that the device cannot play from yet.
    fn lacking<'e>(&'e self, entry: &'e PlanEntry) -> impl Iterator<Item = &'e MediaRef> {
        files_of(entry).filter(move |file| {
            !(self.held_media.contains(&file.sha256)
                || (entry.part == Part::Audio && self.streaming.contains(&file.sha256)))
        })
    }

    /// Fails the waiting entries whose slot is over, or whose file the
    /// device stopped downloading, and forgets those no longer planned.
    fn fail_unfetched(&mut self, now: DateTime<Utc>, out: &mut Vec<Message>) {
        if self.waiting.is_empty() {
            return;
        }
        let planned: Vec<PlanEntry> = self
            .plans
            .values()
            .flatten()
            .filter(|e| self.waiting.contains(&key(e)))
            .cloned()
            .collect();
        self.waiting = planned.iter().map(key).collect();
        for entry in planned {
            let fetching = self.fetching(&entry);
            // A file that arrives with the slot over came too late all the
            // same; one that arrives in time lets the next `due` start it.
            let lacking = self.lacks_media(&entry);
            if now >= entry.end || (lacking.is_some() && !fetching) {
                let reason = lacking.unwrap_or(FailureReason::MediaMissing);
                self.fail(entry, reason, now, out);
            }
        }
    }

    /// Fails what plays from a file still arriving once the device gave the
    /// rest up or found it unplayable: what did not verify is not played.
    fn fail_unplayable(&mut self, now: DateTime<Utc>, out: &mut Vec<Message>) {
        let Some(playing) = &self.playing else {
            return;
        };
        let Some(reason) = self.lacks_media(&playing.entry) else {
            return;
        };
        if self.fetching(&playing.entry) {
            return;
        }
        if let Some(playing) = self.playing.take() {
            let line = &mut self.timeline[playing.line];
            line.end = now;
            line.outcome = Outcome::Failed;
            line.reason = Some(reason);
            out.push(Message::Played {
                airing: line.airing.clone(),
                outcome: Outcome::Failed,
                reason: Some(reason),
            });
        }
    }

    /// Starts the waiting order whose file is there (cutting what plays),
    /// and fails those whose slot ended or whose file will not come.
    fn start_orders(&mut self, now: DateTime<Utc>, out: &mut Vec<Message>) {
        for entry in std::mem::take(&mut self.orders) {
            let lacking = self.lacks_media(&entry);
            if now >= entry.end || (lacking.is_some() && !self.fetching(&entry)) {
                self.fail(
                    entry,
                    lacking.unwrap_or(FailureReason::MediaMissing),
                    now,
                    out,
                );
            } else if lacking.is_none() && !self.started.contains(&key(&entry)) {
                self.end(now, Outcome::Preempted, out);
                self.start(entry, Source::Order, now, out);
            } else if !self.started.contains(&key(&entry)) {
                self.orders.push(entry);
            }
        }
    }

    /// Whether `entry` lacks only files the device is still downloading.
    fn fetching(&self, entry: &PlanEntry) -> bool {
        self.lacks_media(entry) == Some(FailureReason::MediaMissing)
            && self
                .lacking(entry)
                .all(|file| !self.given_up.contains(&file.sha256))
    }

    /// Records `entry` as failed at `now` without touching what plays: the
    /// device has nothing to play instead. It is never tried again.
    fn fail(
        &mut self,
        entry: PlanEntry,
        reason: FailureReason,
        now: DateTime<Utc>,
        out: &mut Vec<Message>,
    ) {
        self.waiting.remove(&key(&entry));
        self.started.insert(key(&entry));
        let airing = entry.airing();
        self.timeline.push(Played {
            airing: airing.clone(),
            class: entry.class,
            start: now,
            end: now,
            outcome: Outcome::Failed,
            reason: Some(reason),
        });
        out.push(Message::Played {
            airing,
            outcome: Outcome::Failed,
            reason: Some(reason),
        });
    }

    /// Ends what plays, if anything, at `at` with `outcome`.
    fn end(&mut self, at: DateTime<Utc>, outcome: Outcome, out: &mut Vec<Message>) {
        if let Some(playing) = self.playing.take() {
            let line = &mut self.timeline[playing.line];
            line.end = at;
            line.outcome = outcome;
            if outcome == Outcome::Finished {
                self.finished.insert(line.airing.clone());
            }
            out.push(Message::Played {
                airing: line.airing.clone(),
                outcome,
                reason: None,
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use hub_proto::StopReason;

    use super::*;

    fn at(hms: &str) -> DateTime<Utc> {
        format!("2026-11-23T{hms}Z").parse().unwrap()
    }

    fn day() -> NaiveDate {
        NaiveDate::from_ymd_opt(2026, 11, 23).unwrap()
    }

    fn entry(bulletin: &str, class: Class, start: &str, end: &str) -> PlanEntry {
        PlanEntry {
            bulletin: bulletin.into(),
            occurrence: 0,
            language: "vi".into(),
            class,
            part: Part::Audio,
            start: at(start),
            end: at(end),
            preempted: false,
            media: None,
            subtitles: None,
            text: None,
        }
    }

    fn normal(bulletin: &str, start: &str, end: &str) -> PlanEntry {
        entry(bulletin, Class::Normal, start, end)
    }

    fn airing(bulletin: &str) -> AiringRef {
        AiringRef {
            bulletin: bulletin.into(),
            occurrence: 0,
            language: "vi".into(),
        }
    }

    /// The reason the tests' failures have unless they say otherwise.
    fn usual_reason(outcome: Outcome) -> Option<FailureReason> {
        (outcome == Outcome::Failed).then_some(FailureReason::MediaMissing)
    }

    fn played(bulletin: &str, outcome: Outcome) -> Message {
        Message::Played {
            airing: airing(bulletin),
            outcome,
            reason: usual_reason(outcome),
        }
    }

    fn line(bulletin: &str, class: Class, start: &str, end: &str, outcome: Outcome) -> Played {
        Played {
            airing: airing(bulletin),
            class,
            start: at(start),
            end: at(end),
            outcome,
            reason: usual_reason(outcome),
        }
    }

    fn schedule(entries: Vec<PlanEntry>) -> Directive {
        Directive::Schedule {
            date: day(),
            entries,
        }
    }

    /// A player that has started `a`, planned 10:00–10:02, at 10:00.
    fn playing_a() -> Player {
        let mut player = Player::new();
        player.apply(
            schedule(vec![normal("a", "10:00:00", "10:02:00")]),
            at("09:59:00"),
        );
        assert_eq!(
            player.advance(at("10:00:00")),
            [played("a", Outcome::Started)]
        );
        player
    }

    #[test]
    fn entries_start_at_their_start_and_finish_at_their_end() {
        let mut player = Player::new();
        let plan = vec![
            normal("a", "10:00:00", "10:01:00"),
            normal("b", "10:01:00", "10:03:00"),
        ];
        assert_eq!(player.apply(schedule(plan), at("09:59:00")), []);
        assert_eq!(player.next_wakeup(), Some(at("10:00:00")));
        assert_eq!(player.advance(at("09:59:59")), []);
        assert_eq!(
            player.advance(at("10:00:00")),
            [played("a", Outcome::Started)]
        );
        assert_eq!(player.playing(), Some(&airing("a")));
        assert_eq!(player.next_wakeup(), Some(at("10:01:00")));
        assert_eq!(
            player.advance(at("10:01:00")),
            [
                played("a", Outcome::Finished),
                played("b", Outcome::Started)
            ]
        );
        assert_eq!(player.next_wakeup(), Some(at("10:03:00")));
        assert_eq!(
            player.advance(at("10:03:00")),
            [played("b", Outcome::Finished)]
        );
        assert_eq!(player.next_wakeup(), None);
        assert_eq!(player.playing(), None);
        assert_eq!(
            player.timeline(),
            [
                line(
                    "a",
                    Class::Normal,
                    "10:00:00",
                    "10:01:00",
                    Outcome::Finished
                ),
                line(
                    "b",
                    Class::Normal,
                    "10:01:00",
                    "10:03:00",
                    Outcome::Finished
                ),
            ]
        );
    }

    #[test]
    fn an_emergency_whose_slot_ended_on_its_way_airs_late_rather_than_never() {
        let mut player = Player::new();
        let plan = vec![
            normal("late", "10:00:00", "10:00:05"),
            entry("lu", Class::Emergency, "10:00:05", "10:00:10"),
        ];
        // The plan arrives at 10:00:12: both slots are over.
        let out = player.apply(schedule(plan), at("10:00:12"));
        assert_eq!(out, [played("lu", Outcome::Started)]);
        assert_eq!(player.next_wakeup(), Some(at("10:00:17")));
        assert_eq!(
            player.advance(at("10:00:17")),
            [played("lu", Outcome::Finished)]
        );
        assert_eq!(
            player.timeline(),
            [line(
                "lu",
                Class::Emergency,
                "10:00:12",
                "10:00:17",
                Outcome::Finished
            )],
            "only the emergency airs late"
        );
    }

    #[test]
    fn a_finished_airing_planned_again_is_not_aired_again_and_its_proof_is_restated() {
        let mut player = Player::new();
        player.apply(
            schedule(vec![normal("a", "10:00:00", "10:01:00")]),
            at("09:59:00"),
        );
        player.advance(at("10:00:00"));
        player.advance(at("10:01:00"));
        // A hub that lost the report plans the same airing again, later.
        let plan = vec![
            normal("a", "10:05:00", "10:06:00"),
            normal("b", "10:06:00", "10:07:00"),
        ];
        player.apply(schedule(plan), at("10:02:00"));
        assert_eq!(player.advance(at("10:05:00")), []);
        assert_eq!(
            player.advance(at("10:06:00")),
            [played("b", Outcome::Started)]
        );
        assert_eq!(
            player.proof_of_play(at("09:00:00")),
            [
                (at("10:01:00"), played("a", Outcome::Finished)),
                (at("10:06:00"), played("b", Outcome::Started)),
            ]
        );
        assert_eq!(
            player.proof_of_play(at("10:03:00")),
            [(at("10:06:00"), played("b", Outcome::Started))]
        );
    }

    #[test]
    fn an_entry_planned_as_preempted_reports_preempted_at_its_end() {
        let mut player = Player::new();
        let mut cut = normal("a", "10:00:00", "10:01:00");
        cut.preempted = true;
        let plan = vec![
            cut,
            entry("lu", Class::Emergency, "10:01:00", "10:02:00"),
            normal("a", "10:02:00", "10:05:00"),
        ];
        player.apply(schedule(plan), at("09:00:00"));
        assert_eq!(
            player.advance(at("10:00:00")),
            [played("a", Outcome::Started)]
        );
        assert_eq!(
            player.advance(at("10:01:00")),
            [
                played("a", Outcome::Preempted),
                played("lu", Outcome::Started)
            ]
        );
        assert_eq!(
            player.advance(at("10:02:00")),
            [
                played("lu", Outcome::Finished),
                played("a", Outcome::Started)
            ]
        );
        assert_eq!(
            player.advance(at("10:05:00")),
            [played("a", Outcome::Finished)]
        );
        assert_eq!(
            player.timeline(),
            [
                line(
                    "a",
                    Class::Normal,
                    "10:00:00",
                    "10:01:00",
                    Outcome::Preempted
                ),
                line(
                    "lu",
                    Class::Emergency,
                    "10:01:00",
                    "10:02:00",
                    Outcome::Finished
                ),
                line(
                    "a",
                    Class::Normal,
                    "10:02:00",
                    "10:05:00",
                    Outcome::Finished
                ),
            ]
        );
    }

    #[test]
    fn a_schedule_covering_now_starts_its_entry_at_once() {
        let mut player = Player::new();
        let plan = vec![normal("a", "10:00:00", "10:01:00")];
        assert_eq!(
            player.apply(schedule(plan), at("10:00:30")),
            [played("a", Outcome::Started)]
        );
        assert_eq!(
            player.advance(at("10:01:00")),
            [played("a", Outcome::Finished)]
        );
        assert_eq!(
            player.timeline(),
            [line(
                "a",
                Class::Normal,
                "10:00:30",
                "10:01:00",
                Outcome::Finished
            )]
        );
    }

    #[test]
    fn an_entry_whose_end_has_passed_is_never_started() {
        let mut player = Player::new();
        let plan = vec![normal("a", "10:00:00", "10:01:00")];
        assert_eq!(player.apply(schedule(plan), at("10:01:00")), []);
        assert_eq!(player.next_wakeup(), None);
        // A device that slept through an entry does not play it late.
        let mut player = Player::new();
        let plan = vec![
            normal("a", "10:00:00", "10:01:00"),
            normal("b", "10:02:00", "10:03:00"),
        ];
        player.apply(schedule(plan), at("09:00:00"));
        assert_eq!(
            player.advance(at("10:02:30")),
            [played("b", Outcome::Started)]
        );
        assert_eq!(player.timeline().len(), 1);
        let play = Directive::Play {
            entry: normal("c", "10:00:00", "10:01:00"),
        };
        assert_eq!(player.apply(play, at("10:02:40")), []);
    }

    #[test]
    fn the_same_entry_is_never_started_twice() {
        let mut player = playing_a();
        let plan = vec![normal("a", "10:00:00", "10:02:00")];
        assert_eq!(player.apply(schedule(plan.clone()), at("10:00:10")), []);
        let play = Directive::Play {
            entry: normal("a", "10:00:00", "10:02:00"),
        };
        assert_eq!(player.apply(play, at("10:00:20")), []);
        let stop = Directive::Stop {
            airing: airing("a"),
            reason: StopReason::Cancelled,
        };
        assert_eq!(
            player.apply(stop, at("10:01:00")),
            [played("a", Outcome::Stopped)]
        );
        assert_eq!(player.apply(schedule(plan), at("10:01:10")), []);
        assert_eq!(player.advance(at("10:01:20")), []);
        assert_eq!(player.timeline().len(), 1);
    }

    #[test]
    fn play_cuts_what_plays_and_starts_now() {
        let mut player = playing_a();
        let play = Directive::Play {
            entry: entry("lu", Class::Emergency, "10:00:30", "10:01:30"),
        };
        assert_eq!(
            player.apply(play, at("10:00:40")),
            [
                played("a", Outcome::Preempted),
                played("lu", Outcome::Started)
            ]
        );
        assert_eq!(player.next_wakeup(), Some(at("10:01:30")));
        // `a` still covers 10:01:30 but was already started: it does not resume.
        assert_eq!(
            player.advance(at("10:01:30")),
            [played("lu", Outcome::Finished)]
        );
        assert_eq!(
            player.timeline(),
            [
                line(
                    "a",
                    Class::Normal,
                    "10:00:00",
                    "10:00:40",
                    Outcome::Preempted
                ),
                line(
                    "lu",
                    Class::Emergency,
                    "10:00:40",
                    "10:01:30",
                    Outcome::Finished
                ),
            ]
        );
    }

    #[test]
    fn preempt_cuts_the_named_airing_and_starts_the_planned_one() {
        let mut player = Player::new();
        let plan = vec![
            normal("a", "10:00:00", "10:02:00"),
            entry("lu", Class::Emergency, "10:05:00", "10:06:00"),
        ];
        player.apply(schedule(plan), at("09:00:00"));
        player.advance(at("10:00:00"));
        let other = Directive::Preempt {
            stopped: airing("b"),
            by: airing("lu"),
        };
        assert_eq!(player.apply(other, at("10:00:20")), []);
        let preempt = Directive::Preempt {
            stopped: airing("a"),
            by: airing("lu"),
        };
        assert_eq!(
            player.apply(preempt, at("10:00:30")),
            [
                played("a", Outcome::Preempted),
                played("lu", Outcome::Started)
            ]
        );
        assert_eq!(player.advance(at("10:05:00")), []);
        assert_eq!(
            player.advance(at("10:06:00")),
            [played("lu", Outcome::Finished)]
        );
        assert_eq!(
            player.timeline(),
            [
                line(
                    "a",
                    Class::Normal,
                    "10:00:00",
                    "10:00:30",
                    Outcome::Preempted
                ),
                line(
                    "lu",
                    Class::Emergency,
                    "10:00:30",
                    "10:06:00",
                    Outcome::Finished
                ),
            ]
        );
    }

    #[test]
    fn preempt_by_an_unknown_airing_only_cuts() {
        let mut player = playing_a();
        let preempt = Directive::Preempt {
            stopped: airing("a"),
            by: airing("lu"),
        };
        assert_eq!(
            player.apply(preempt, at("10:00:30")),
            [played("a", Outcome::Preempted)]
        );
        assert_eq!(player.playing(), None);
    }

    #[test]
    fn a_played_emergency_is_not_restarted_by_its_preemption() {
        let mut player = playing_a();
        let play = Directive::Play {
            entry: entry("lu", Class::Emergency, "10:00:10", "10:00:50"),
        };
        assert_eq!(
            player.apply(play, at("10:00:10")),
            [
                played("a", Outcome::Preempted),
                played("lu", Outcome::Started)
            ]
        );
        let preempt = Directive::Preempt {
            stopped: airing("a"),
            by: airing("lu"),
        };
        assert_eq!(player.apply(preempt, at("10:00:11")), []);
        assert_eq!(
            player.advance(at("10:00:50")),
            [played("lu", Outcome::Finished)]
        );
        assert_eq!(player.playing(), None);
    }

    #[test]
    fn stop_ends_only_the_named_airing() {
        let mut player = playing_a();
        let other = Directive::Stop {
            airing: airing("b"),
            reason: StopReason::Expired,
        };
        assert_eq!(player.apply(other, at("10:00:30")), []);
        let stop = Directive::Stop {
            airing: airing("a"),
            reason: StopReason::Cancelled,
        };
        assert_eq!(
            player.apply(stop, at("10:00:40")),
            [played("a", Outcome::Stopped)]
        );
        assert_eq!(
            player.timeline(),
            [line(
                "a",
                Class::Normal,
                "10:00:00",
                "10:00:40",
                Outcome::Stopped
            )]
        );
        assert_eq!(player.next_wakeup(), None);
    }

    #[test]
    fn a_schedule_without_what_plays_stops_it() {
        let mut player = playing_a();
        let tomorrow = Directive::Schedule {
            date: day().succ_opt().unwrap(),
            entries: vec![normal("x", "23:00:00", "23:01:00")],
        };
        assert_eq!(player.apply(tomorrow, at("10:00:10")), []);
        let plan = vec![normal("b", "10:05:00", "10:06:00")];
        assert_eq!(
            player.apply(schedule(plan), at("10:00:20")),
            [played("a", Outcome::Stopped)]
        );
        assert_eq!(player.next_wakeup(), Some(at("10:05:00")));
        assert_eq!(
            player.advance(at("10:05:00")),
            [played("b", Outcome::Started)]
        );
    }

    #[test]
    fn a_schedule_arriving_just_after_an_airing_ended_lets_it_finish() {
        let mut player = playing_a();
        let later = vec![normal("b", "10:05:00", "10:06:00")];
        assert_eq!(
            player.apply(schedule(later), at("10:02:00.2")),
            [played("a", Outcome::Finished)]
        );
    }

    #[test]
    fn a_schedule_that_cuts_what_plays_shortens_it() {
        let mut player = playing_a();
        let mut cut = normal("a", "10:00:00", "10:01:00");
        cut.preempted = true;
        let plan = vec![
            cut,
            entry("lu", Class::Emergency, "10:01:00", "10:02:00"),
            normal("a", "10:02:00", "10:04:00"),
        ];
        assert_eq!(player.apply(schedule(plan), at("10:00:30")), []);
        assert_eq!(player.next_wakeup(), Some(at("10:01:00")));
        assert_eq!(
            player.advance(at("10:01:00")),
            [
                played("a", Outcome::Preempted),
                played("lu", Outcome::Started)
            ]
        );
    }

    #[test]
    fn a_due_entry_waits_for_a_more_urgent_one_then_joins_late() {
        let mut player = Player::new();
        player.apply(
            Directive::Play {
                entry: entry("lu", Class::Emergency, "09:59:00", "10:01:00"),
            },
            at("09:59:00"),
        );
        let plan = vec![normal("a", "10:00:00", "10:02:00")];
        assert_eq!(player.apply(schedule(plan), at("09:59:30")), []);
        assert_eq!(player.advance(at("10:00:00")), []);
        assert_eq!(player.next_wakeup(), Some(at("10:01:00")));
        assert_eq!(
            player.advance(at("10:01:00")),
            [
                played("lu", Outcome::Finished),
                played("a", Outcome::Started)
            ]
        );
    }

    #[test]
    fn config_and_display_are_kept() {
        let mut player = playing_a();
        let config = Directive::Config {
            volume: 80,
            windows: vec!["05:00-07:00".into()],
        };
        assert_eq!(player.apply(config, at("10:00:10")), []);
        assert_eq!(player.settings(), (80, &["05:00-07:00".to_string()][..]));
        let status = player.status();
        assert_eq!(status.volume, 80);
        assert_eq!(status.playing, Some(airing("a")));
        let display = Directive::Display {
            text: "Lũ".into(),
            until: at("10:30:00"),
        };
        assert_eq!(player.apply(display, at("10:00:20")), []);
        assert_eq!(player.display(at("10:30:00")), Some("Lũ"));
        assert_eq!(player.display(at("10:30:01")), None);
        assert_eq!(player.plan(day()).map(<[_]>::len), Some(1));
    }

    /// A board's entry for `bulletin` showing `text`.
    fn shown(bulletin: &str, text: Option<&str>, start: &str, end: &str) -> PlanEntry {
        PlanEntry {
            part: Part::Visual,
            text: text.map(Into::into),
            ..normal(bulletin, start, end)
        }
    }

    /// An airing's face (shown since `since`) or, without one, a display text's.
    fn showing(text: Option<&str>, bulletin: Option<&str>, since: Option<&str>) -> Option<Showing> {
        Some(Showing {
            text: text.map(Into::into),
            bulletin: bulletin.map(Into::into),
            media: None,
            subtitles: None,
            since: since.map(at),
            subtitle: None,
            video: None,
        })
    }

    #[test]
    fn a_board_shows_the_text_of_the_entry_airing_now() {
        let mut player = Player::new();
        let plan = vec![
            shown("lu", Some("Lũ quét"), "10:00:00", "10:01:00"),
            shown("anh", None, "10:02:00", "10:03:00"),
        ];
        player.apply(schedule(plan), at("09:00:00"));
        assert_eq!(player.showing(at("09:59:59")), None, "blank before");
        player.advance(at("10:00:00"));
        assert_eq!(
            player.showing(at("10:00:30")),
            showing(Some("Lũ quét"), Some("lu"), Some("10:00:00"))
        );
        assert_eq!(
            player.showing(at("10:01:00")),
            None,
            "over at its end, even before the player is advanced"
        );
        player.advance(at("10:02:00"));
        assert_eq!(
            player.showing(at("10:02:00")),
            showing(None, Some("anh"), Some("10:02:00")),
            "an image without caption: its bulletin, no text"
        );
    }

    #[test]
    fn a_display_shows_above_the_plan_until_it_ends() {
        let mut player = Player::new();
        let plan = vec![shown("lu", Some("Lũ quét"), "10:00:00", "10:05:00")];
        player.apply(schedule(plan), at("10:00:00"));
        let display = Directive::Display {
            text: "Mất điện 14:00".into(),
            until: at("10:02:00"),
        };
        player.apply(display, at("10:01:00"));
        assert_eq!(
            player.showing(at("10:02:00")),
            showing(Some("Mất điện 14:00"), None, None)
        );
        assert_eq!(
            player.showing(at("10:02:01")),
            showing(Some("Lũ quét"), Some("lu"), Some("10:00:00"))
        );
    }

    fn with_media(mut entry: PlanEntry, file: &str) -> PlanEntry {
        entry.media = Some(MediaRef {
            sha256: file.repeat(64),
            size: 10,
            url: format!("http://hub/media/v1/{}", file.repeat(64)),
            chunks: Default::default(),
            head: None,
        });
        entry
    }

    #[test]
    fn an_entry_whose_file_is_not_held_fails_when_due_and_cuts_nothing() {
        let mut player = playing_a();
        let plan = vec![
            normal("a", "10:00:00", "10:02:00"),
            with_media(entry("lu", Class::Emergency, "10:01:00", "10:01:30"), "e"),
            with_media(normal("b", "10:03:00", "10:04:00"), "b"),
        ];
        player.apply(schedule(plan), at("10:00:10"));
        player.give_up_media(["e".repeat(64)]);
        assert_eq!(
            player.advance(at("10:01:00")),
            [played("lu", Outcome::Failed)]
        );
        assert_eq!(player.playing(), Some(&airing("a")), "a plays on");
        assert_eq!(player.advance(at("10:01:10")), [], "never tried again");
        player.hold_media(["b".repeat(64)]);
        assert_eq!(
            player.advance(at("10:03:00")),
            [
                played("a", Outcome::Finished),
                played("b", Outcome::Started)
            ]
        );
        let failed = &player.timeline()[1];
        assert_eq!(
            (failed.start, failed.end, failed.outcome),
            (at("10:01:00"), at("10:01:00"), Outcome::Failed)
        );
    }

    #[test]
    fn an_entry_whose_file_is_still_downloading_waits_for_it_then_plays() {
        let mut player = Player::new();
        let plan = vec![
            with_media(normal("b", "10:00:00", "10:02:00"), "b"),
            with_media(normal("c", "10:03:00", "10:04:00"), "c"),
        ];
        player.apply(schedule(plan), at("09:59:00"));
        assert_eq!(player.advance(at("10:00:00")), [], "b waits");
        assert!(player.awaiting_media());
        assert_eq!(player.next_wakeup(), Some(at("10:02:00")), "b's slot end");
        player.hold_media(["b".repeat(64)]);
        assert_eq!(
            player.advance(at("10:00:20")),
            [played("b", Outcome::Started)],
            "b starts late, once its file is held"
        );
        assert!(!player.awaiting_media());
        assert_eq!(
            player.advance(at("10:02:00")),
            [played("b", Outcome::Finished)]
        );
        assert_eq!(player.advance(at("10:03:00")), [], "c waits");
        assert_eq!(
            player.advance(at("10:04:00")),
            [played("c", Outcome::Failed)],
            "c's file never came: it fails when its slot ends"
        );
        let failed = player
            .timeline()
            .last()
            .cloned()
            .map(|p| (p.start, p.reason));
        assert_eq!(
            failed,
            Some((at("10:04:00"), Some(FailureReason::MediaMissing)))
        );
    }

    #[test]
    fn a_waiting_entry_fails_at_once_when_its_download_is_given_up() {
        let mut player = Player::new();
        player.apply(
            schedule(vec![with_media(normal("b", "10:00:00", "10:02:00"), "b")]),
            at("09:59:00"),
        );
        assert_eq!(player.advance(at("10:00:00")), []);
        player.give_up_media(["b".repeat(64)]);
        assert_eq!(
            player.advance(at("10:00:05")),
            [played("b", Outcome::Failed)]
        );
        assert!(!player.awaiting_media());
    }

    #[test]
    fn play_and_preempt_with_a_file_given_up_fail_the_new_entry_only() {
        let mut player = playing_a();
        player.give_up_media(["e".repeat(64)]);
        let play = Directive::Play {
            entry: with_media(entry("lu", Class::Emergency, "10:00:30", "10:01:30"), "e"),
        };
        assert_eq!(
            player.apply(play, at("10:00:30")),
            [played("lu", Outcome::Failed)]
        );
        assert_eq!(player.playing(), Some(&airing("a")));
        let mut player = playing_a();
        let plan = vec![
            normal("a", "10:00:00", "10:02:00"),
            with_media(entry("lu", Class::Emergency, "10:05:00", "10:06:00"), "e"),
        ];
        player.apply(schedule(plan), at("10:00:10"));
        player.give_up_media(["e".repeat(64)]);
        let preempt = Directive::Preempt {
            stopped: airing("a"),
            by: airing("lu"),
        };
        assert_eq!(
            player.apply(preempt, at("10:00:20")),
            [played("lu", Outcome::Failed)]
        );
        assert_eq!(player.playing(), Some(&airing("a")));
    }

    #[test]
    fn a_preempting_emergency_cuts_at_once_and_starts_on_its_first_verified_part() {
        let mut player = playing_a();
        let plan = vec![
            normal("a", "10:00:00", "10:02:00"),
            with_media(entry("lu", Class::Emergency, "10:00:20", "10:01:00"), "e"),
        ];
        player.apply(schedule(plan), at("10:00:10"));
        let preempt = Directive::Preempt {
            stopped: airing("a"),
            by: airing("lu"),
        };
        assert_eq!(
            player.apply(preempt, at("10:00:20")),
            [played("a", Outcome::Preempted)],
            "the file is on its way: lu waits, a is cut"
        );
        assert!(player.awaiting_media());
        assert_eq!(player.media_needed()[0].sha256, "e".repeat(64));
        player.stream_media(["e".repeat(64)]);
        assert_eq!(
            player.advance(at("10:00:20.3")),
            [played("lu", Outcome::Started)]
        );
        // Its length becomes known once the file is whole.
        player.hold_media(["e".repeat(64)]);
        player.stream_media([]);
        let durations = [("e".repeat(64), Duration::from_secs(10))].into();
        player.know_media(durations, BTreeSet::new());
        assert_eq!(player.next_wakeup(), Some(at("10:00:30.3")));
        assert_eq!(
            player.advance(at("10:00:30.3")),
            [played("lu", Outcome::Finished)]
        );
    }

    #[test]
    fn an_ordered_entry_waits_for_its_file_and_fails_if_the_rest_is_given_up() {
        let mut player = playing_a();
        let play = Directive::Play {
            entry: with_media(entry("lu", Class::Emergency, "10:00:30", "10:01:30"), "e"),
        };
        assert_eq!(
            player.apply(play, at("10:00:30")),
            [played("a", Outcome::Preempted)]
        );
        assert!(player.awaiting_media());
        assert_eq!(player.next_wakeup(), Some(at("10:01:30")));
        assert_eq!(player.advance(at("10:00:31")), []);
        player.stream_media(["e".repeat(64)]);
        assert_eq!(
            player.advance(at("10:00:32")),
            [played("lu", Outcome::Started)]
        );
        // The rest of the file never verified: what plays stops, failed.
        player.stream_media([]);
        player.give_up_media(["e".repeat(64)]);
        assert_eq!(
            player.advance(at("10:00:40")),
            [played("lu", Outcome::Failed)]
        );
        assert_eq!(player.playing(), None);
        let line = player.timeline().last().cloned().unwrap();
        assert_eq!(
            (line.start, line.end, line.reason),
            (
                at("10:00:32"),
                at("10:00:40"),
                Some(FailureReason::MediaMissing)
            )
        );
    }

    #[test]
    fn a_board_does_not_show_a_file_before_it_is_whole() {
        let mut player = Player::new();
        let mut picture = with_media(normal("p", "10:00:00", "10:01:00"), "p");
        picture.part = Part::Visual;
        player.apply(schedule(vec![picture]), at("09:59:00"));
        player.stream_media(["p".repeat(64)]);
        assert_eq!(
            player.advance(at("10:00:00")),
            [],
            "waits for the whole file"
        );
        player.hold_media(["p".repeat(64)]);
        assert_eq!(
            player.advance(at("10:00:01")),
            [played("p", Outcome::Started)]
        );
    }

    #[test]
    fn a_video_with_subtitles_waits_for_both_files_and_fails_if_either_is_given_up() {
        let video = |bulletin: &str, srt: &str, start: &str, end: &str| {
            let mut entry = with_media(normal(bulletin, start, end), bulletin);
            entry.part = Part::Visual;
            entry.subtitles = with_media(normal(bulletin, start, end), srt).media;
            entry
        };
        let mut player = Player::new();
        let plan = vec![
            video("v", "5", "10:00:00", "10:01:00"),
            video("w", "6", "10:02:00", "10:03:00"),
        ];
        player.apply(schedule(plan), at("09:59:00"));
        let needed: Vec<String> = player
            .media_needed()
            .into_iter()
            .map(|f| f.sha256)
            .collect();
        let expected = ["v", "5", "w", "6"].map(|file| file.repeat(64));
        assert_eq!(needed, expected);
        player.hold_media(["v".repeat(64)]);
        assert_eq!(player.advance(at("10:00:00")), [], "waits for the SRT");
        player.hold_media(["v".repeat(64), "5".repeat(64)]);
        assert_eq!(
            player.advance(at("10:00:01")),
            [played("v", Outcome::Started)]
        );
        let showing = player.showing(at("10:00:02")).expect("the video shows");
        assert_eq!(showing.subtitles, Some("5".repeat(64)));
        player.hold_media(["v", "5", "w"].map(|file| file.repeat(64)));
        player.give_up_media(["6".repeat(64)]);
        assert_eq!(
            player.advance(at("10:02:00")),
            [played("v", Outcome::Finished), played("w", Outcome::Failed)],
            "no subtitles will come: the video is not shown without them"
        );
    }

    #[test]
    fn the_media_needed_is_what_is_still_to_play_soonest_first() {
        let mut player = Player::new();
        let plan = vec![
            with_media(normal("a", "10:00:00", "10:01:00"), "a"),
            with_media(normal("b", "10:02:00", "10:03:00"), "b"),
            normal("t", "10:03:00", "10:04:00"),
            with_media(normal("c", "10:05:00", "10:06:00"), "c"),
            with_media(normal("b", "10:07:00", "10:08:00"), "b"),
        ];
        player.apply(schedule(plan), at("09:00:00"));
        let hashes = |player: &Player| -> Vec<String> {
            player
                .media_needed()
                .into_iter()
                .map(|file| file.sha256[..1].to_string())
                .collect()
        };
        assert_eq!(hashes(&player), ["a", "b", "c"]);
        player.hold_media(["a".repeat(64)]);
        player.give_up_media(["b".repeat(64)]);
        player.advance(at("10:00:30"));
        assert_eq!(hashes(&player), ["a", "b", "c"], "a plays: still needed");
        player.advance(at("10:02:30"));
        assert_eq!(player.playing(), None, "b failed: not held");
        assert_eq!(hashes(&player), ["c", "b"], "the later b still needs it");
    }

    #[test]
    fn audio_shorter_than_its_slot_finishes_when_it_ends() {
        let mut player = Player::new();
        let mut cut = with_media(normal("c", "10:05:00", "10:05:20"), "x");
        cut.preempted = true;
        let plan = vec![with_media(normal("a", "10:00:00", "10:02:00"), "x"), cut];
        player.apply(schedule(plan), at("09:00:00"));
        player.hold_media(["x".repeat(64)]);
        let durations = [("x".repeat(64), Duration::from_secs(30))].into();
        player.know_media(durations, BTreeSet::new());
        assert_eq!(
            player.advance(at("10:00:00")),
            [played("a", Outcome::Started)]
        );
        assert_eq!(player.next_wakeup(), Some(at("10:00:30")));
        assert_eq!(player.timeline()[0].end, at("10:00:30"), "planned end");
        assert_eq!(
            player.advance(at("10:00:30")),
            [played("a", Outcome::Finished)]
        );
        // A slot cut before the audio runs out is preempted at its end.
        player.advance(at("10:05:00"));
        assert_eq!(
            player.advance(at("10:05:20")),
            [played("c", Outcome::Preempted)]
        );
        assert_eq!(
            player.timeline(),
            [
                line(
                    "a",
                    Class::Normal,
                    "10:00:00",
                    "10:00:30",
                    Outcome::Finished
                ),
                line(
                    "c",
                    Class::Normal,
                    "10:05:00",
                    "10:05:20",
                    Outcome::Preempted
                ),
            ]
        );
    }

    #[test]
    fn an_entry_whose_file_was_found_unplayable_fails_as_undecodable() {
        let mut player = Player::new();
        let plan = vec![
            with_media(normal("a", "10:00:00", "10:01:00"), "u"),
            with_media(normal("b", "10:02:00", "10:03:00"), "m"),
        ];
        player.apply(schedule(plan), at("09:00:00"));
        player.know_media(BTreeMap::new(), ["u".repeat(64)].into());
        player.give_up_media(["m".repeat(64)]);
        let failed = |bulletin: &str, reason| Message::Played {
            airing: airing(bulletin),
            outcome: Outcome::Failed,
            reason: Some(reason),
        };
        assert_eq!(
            player.advance(at("10:00:00")),
            [failed("a", FailureReason::MediaUndecodable)]
        );
        assert_eq!(
            player.advance(at("10:02:00")),
            [failed("b", FailureReason::MediaMissing)]
        );
        assert_eq!(
            player.timeline()[0].reason,
            Some(FailureReason::MediaUndecodable)
        );
    }

    #[test]
    fn a_sound_entry_shows_nothing() {
        let mut player = Player::new();
        let mut sound = normal("a", "10:00:00", "10:01:00");
        sound.text = Some("not for boards".into());
        player.apply(schedule(vec![sound]), at("10:00:00"));
        assert_eq!(player.playing(), Some(&airing("a")));
        assert_eq!(player.showing(at("10:00:10")), None);
    }
}
