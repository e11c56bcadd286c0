//! Bulletins: what editors queue, with their parts, languages, validity and recurrence.

use std::collections::BTreeSet;

use chrono::{DateTime, Days, NaiveDate, NaiveTime, TimeDelta, Utc};
use chrono_tz::Tz;
use serde::{Deserialize, Serialize};

use crate::window::local_to_utc;
use crate::{AreaCode, AreaLevel, AreaTree, BulletinId, CoreError, DeviceId, DeviceKind, Language};

/// Longest single part a bulletin may have; longer programmes are split.
pub const MAX_PART_SECS: u32 = 4 * 60 * 60;
/// Most days a recurrence may span.
pub const MAX_RECURRENCE_DAYS: u32 = 366;

/// Content categories of Article 6.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Category {
    PolicyLaw,
    LocalProjects,
    PoliticsEconomyCulture,
    SecurityMilitary,
    DisasterEmergency,
    GoodExamples,
    FightingCrime,
    DailyLife,
    Other,
}

/// Priority class (Article 8, Circular 39/2020), highest first.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PriorityClass {
    /// Plays immediately, preempting anything, at any hour.
    Emergency,
    /// Plays within the windows, by issuing level unless a commune chair reordered.
    Priority,
    /// Plays only where a commune chair opted it in.
    Normal,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BulletinState {
    Draft,
    /// Waiting for the editorial board (sensitive bulletins only).
    Submitted,
    Approved,
    Rejected,
    /// Planned on at least one device.
    Scheduled,
    /// Playing on at least one device now.
    Airing,
    /// Aired on every targeted device, every occurrence.
    Done,
    Cancelled,
    Expired,
}

impl BulletinState {
    /// May the scheduler place it on devices?
    pub fn is_schedulable(self) -> bool {
        matches!(self, Self::Approved | Self::Scheduled | Self::Airing)
    }

    /// No further transition is possible.
    pub fn is_final(self) -> bool {
        matches!(
            self,
            Self::Rejected | Self::Done | Self::Cancelled | Self::Expired
        )
    }
}

/// Where the sound comes from.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "source")]
pub enum AudioSource {
    /// An uploaded recording.
    Recorded,
    /// Text spoken by text-to-speech in the variant's language.
    Speech { text: String },
    /// An operator speaking live (a live emergency): the sound is relayed
    /// to loudspeakers as it is spoken, never stored; `secs` is the longest
    /// it may last.
    Live,
}

/// The part a loudspeaker plays.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AudioPart {
    #[serde(flatten)]
    pub source: AudioSource,
    /// The slot the part takes on a loudspeaker; at least the audio's length.
    pub secs: u32,
    /// The broadcast file, once the recording or speech has been ingested
    /// and stored; until then devices get no media for the part.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub media: Option<StoredAudio>,
}

/// A stored broadcast file (Ogg Opus), by content.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoredAudio {
    /// Lower-case hex SHA-256 of the file: its address in the media store.
    pub sha256: String,
    /// Size in bytes.
    pub size: u64,
    /// Playing time in milliseconds.
    pub duration_ms: u64,
}

impl StoredAudio {
    /// The playing time in whole seconds, rounded up: the shortest slot
    /// that holds it.
    pub fn secs_rounded_up(&self) -> u64 {
        self.duration_ms.div_ceil(1000)
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum VisualKind {
    Text,
    Image,
    /// Video with subtitles.
    Video,
    Infographic,
}

/// The part an LED board shows.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct VisualPart {
    pub kind: VisualKind,
    pub secs: u32,
    /// Text shown (text bulletins) or the caption of an image or video.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub text: Option<String>,
    /// The picture (fitted to the boards, PNG) or video (MP4) boards show,
    /// once stored; text parts have none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub media: Option<StoredVisual>,
}

/// A stored picture or video for LED boards, by content.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoredVisual {
    /// Lower-case hex SHA-256 of the file: its address in the media store.
    pub sha256: String,
    /// Size in bytes.
    pub size: u64,
    /// A video's playing time in milliseconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub duration_ms: Option<u64>,
    /// A video's subtitles as an SRT file uploaded beside it, shown by
    /// boards instead of any subtitle track in the video.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subtitles: Option<StoredSubtitles>,
}

/// A stored SRT file, by content.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoredSubtitles {
    /// Lower-case hex SHA-256 of the file: its address in the media store.
    pub sha256: String,
    /// Size in bytes.
    pub size: u64,
}

/// The bulletin in one language.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Variant {
    pub language: Language,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub audio: Option<AudioPart>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub visual: Option<VisualPart>,
}

impl Variant {
    /// How long this variant occupies a device of `kind`, if it has a part for it.
    pub fn secs_for(&self, kind: DeviceKind) -> Option<u32> {
        match kind {
            DeviceKind::Loudspeaker => self.audio.as_ref().map(|a| a.secs),
            DeviceKind::LedBoard => self.visual.as_ref().map(|v| v.secs),
        }
    }
}

fn require_sha256(sha256: &str) -> Result<(), String> {
    let is_sha256 = sha256.len() == 64
        && sha256
            .bytes()
            .all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'));
    if is_sha256 {
        Ok(())
    } else {
        Err(format!("media {sha256:?} is not a lower-case hex SHA-256"))
    }
}

/// A stored file must be named by a SHA-256 and fit the part's slot: a
/// slot shorter than its audio would cut the end of every airing.
fn validate_media(audio: &AudioPart) -> Result<(), String> {
    let Some(media) = &audio.media else {
        return Ok(());
    };
    if audio.source == AudioSource::Live {
        return Err("live audio has no stored file".into());
    }
    require_sha256(&media.sha256)?;
    if media.secs_rounded_up() > u64::from(audio.secs) {
        return Err(format!(
            "the audio lasts {} ms, longer than its {} s slot",
            media.duration_ms, audio.secs
        ));
    }
    Ok(())
}

/// A board's file must suit its kind (text shows no file, only a video
/// has subtitles) and, for a video, fit the slot.
fn validate_visual(visual: &VisualPart) -> Result<(), String> {
    let Some(media) = &visual.media else {
        return Ok(());
    };
    require_sha256(&media.sha256)?;
    if let Some(subtitles) = &media.subtitles {
        if visual.kind != VisualKind::Video {
            return Err("only a video has subtitles".into());
        }
        require_sha256(&subtitles.sha256)?;
    }
    match (visual.kind, media.duration_ms) {
        (VisualKind::Text, _) => Err("a text part shows no file".into()),
        (VisualKind::Video, None) => Err("a video needs its playing time".into()),
        (VisualKind::Video, Some(ms)) if ms.div_ceil(1000) > u64::from(visual.secs) => {
            Err(format!(
                "the video lasts {ms} ms, longer than its {} s slot",
                visual.secs
            ))
        }
        _ => Ok(()),
    }
}

/// Not before / expires: a bulletin never airs outside `[not_before, expires)`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Validity {
    pub not_before: DateTime<Utc>,
    pub expires: DateTime<Utc>,
}

/// Airs every day at the given local times, for `days` days from the local
/// date of `not_before`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Recurrence {
    pub at: Vec<NaiveTime>,
    pub days: u32,
}

/// One airing a bulletin asks for: from `earliest`, and over by `deadline`
/// (the next occurrence or expiry, whichever is first).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Occurrence {
    pub index: u32,
    pub earliest: DateTime<Utc>,
    pub deadline: DateTime<Utc>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Bulletin {
    pub id: BulletinId,
    pub title: String,
    pub category: Category,
    /// Issuing level; equals the level of `issuer`.
    pub level: AreaLevel,
    /// The issuing area; targets must lie inside it.
    pub issuer: AreaCode,
    pub class: PriorityClass,
    pub targets: Vec<AreaCode>,
    pub validity: Validity,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub recurrence: Option<Recurrence>,
    /// One per language; the first is the primary variant.
    pub variants: Vec<Variant>,
    /// Needs the editorial board's approval before it may air.
    #[serde(default)]
    pub sensitive: bool,
    pub state: BulletinState,
    /// When set, only these devices of the targets air it: a correction
    /// goes exactly where the erroneous emergency aired, not to a device of
    /// the same commune that missed it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub devices: Option<BTreeSet<DeviceId>>,
    /// The erroneous emergency this one corrects. A device of the corrected
    /// one's targets that reports having aired it joins `devices` (and its
    /// commune the targets), however late its report comes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub corrects: Option<BulletinId>,
}

impl Bulletin {
    /// Whether `device` airs this bulletin, given that it lies in a target.
    pub fn reaches(&self, device: &DeviceId) -> bool {
        self.devices
            .as_ref()
            .is_none_or(|devices| devices.contains(device))
    }

    /// Makes this bulletin, aired by a device list, reach `device` of
    /// `commune` too. False when it reached it already (or every device).
    pub fn reach(&mut self, tree: &AreaTree, device: &DeviceId, commune: &AreaCode) -> bool {
        let Some(devices) = self.devices.as_mut() else {
            return false;
        };
        if !devices.insert(device.clone()) {
            return false;
        }
        if !self.targets.iter().any(|t| tree.is_within(commune, t)) {
            self.targets.push(commune.clone());
        }
        true
    }

    /// Checks everything that can be checked without the rest of the programme.
    pub fn validate(&self, tree: &AreaTree) -> Result<(), CoreError> {
        let fail = |reason: String| CoreError::InvalidBulletin {
            id: self.id.clone(),
            reason,
        };
        if self.title.trim().is_empty() {
            return Err(fail("title must not be empty".into()));
        }
        let issuer = tree.require(&self.issuer)?;
        if issuer.level != self.level {
            return Err(fail(format!(
                "issuing level {:?} does not match issuer {} which is a {:?}",
                self.level, self.issuer, issuer.level
            )));
        }
        if self.targets.is_empty() {
            return Err(fail("needs at least one target area".into()));
        }
        for target in &self.targets {
            tree.require(target)?;
            if !tree.is_within(target, &self.issuer) {
                return Err(fail(format!(
                    "target {target} lies outside the issuing area {}",
                    self.issuer
                )));
            }
        }
        if self.validity.expires <= self.validity.not_before {
            return Err(fail("expires must be after not_before".into()));
        }
        if let Some(rec) = &self.recurrence {
            if rec.at.is_empty() {
                return Err(fail("recurrence needs at least one time of day".into()));
            }
            if rec.days == 0 || rec.days > MAX_RECURRENCE_DAYS {
                return Err(fail(format!(
                    "recurrence days must be 1 to {MAX_RECURRENCE_DAYS}, not {}",
                    rec.days
                )));
            }
        }
        if self.variants.is_empty() {
            return Err(fail("needs at least one language variant".into()));
        }
        let mut languages = BTreeSet::new();
        for variant in &self.variants {
            let lang = &variant.language;
            if !languages.insert(lang) {
                return Err(fail(format!("language {lang} appears twice")));
            }
            if variant.audio.is_none() && variant.visual.is_none() {
                return Err(fail(format!(
                    "variant {lang} has neither audio nor visual part"
                )));
            }
            for secs in DeviceKind::ALL.iter().filter_map(|k| variant.secs_for(*k)) {
                if secs == 0 || secs > MAX_PART_SECS {
                    return Err(fail(format!(
                        "variant {lang}: duration must be 1 to {MAX_PART_SECS} seconds, not {secs}"
                    )));
                }
            }
            if let Some(AudioSource::Speech { text }) = variant.audio.as_ref().map(|a| &a.source) {
                if text.trim().is_empty() {
                    return Err(fail(format!("variant {lang}: text to speak is empty")));
                }
            }
            if let Some(audio) = &variant.audio {
                validate_media(audio)
                    .map_err(|reason| fail(format!("variant {lang}: {reason}")))?;
            }
            if let Some(visual) = &variant.visual {
                validate_visual(visual)
                    .map_err(|reason| fail(format!("variant {lang}: {reason}")))?;
            }
        }
        Ok(())
    }

    /// The variants a commune with `languages` airs on a device of `kind`:
    /// every variant in one of its languages, in the commune's order; if none
    /// matches, the first variant that has a part for the device.
    pub fn variants_for<'a>(
        &'a self,
        kind: DeviceKind,
        languages: &[Language],
    ) -> Vec<&'a Variant> {
        let playable = |v: &&Variant| v.secs_for(kind).is_some();
        let chosen: Vec<_> = languages
            .iter()
            .filter_map(|lang| {
                self.variants
                    .iter()
                    .filter(playable)
                    .find(|v| &v.language == lang)
            })
            .collect();
        if chosen.is_empty() {
            self.variants.iter().filter(playable).take(1).collect()
        } else {
            chosen
        }
    }

    /// The occurrences whose span `[earliest, deadline)` overlaps `[from, until)`.
    pub fn occurrences(
        &self,
        from: DateTime<Utc>,
        until: DateTime<Utc>,
        tz: Tz,
    ) -> Vec<Occurrence> {
        let Validity {
            not_before,
            expires,
        } = self.validity;
        let Some(rec) = &self.recurrence else {
            let one = Occurrence {
                index: 0,
                earliest: not_before,
                deadline: expires,
            };
            return if one.earliest < until && one.deadline > from {
                vec![one]
            } else {
                vec![]
            };
        };
        let mut times = rec.at.clone();
        times.sort();
        times.dedup();
        let first_day = not_before.with_timezone(&tz).date_naive();
        let per_day = times.len() as u32;
        let instant = |k: u32| -> Option<DateTime<Utc>> {
            let day = k / per_day;
            if day >= rec.days {
                return None;
            }
            let date: NaiveDate = first_day + Days::new(u64::from(day));
            let at = local_to_utc(date.and_time(times[(k as usize) % times.len()]), tz);
            Some(at.max(not_before))
        };
        // Start from the day before `from` (its last occurrence may still be
        // due), or from the very last occurrence, which runs until expiry.
        let total = rec.days * per_day;
        let days_before = (from.with_timezone(&tz).date_naive() - first_day).num_days() - 1;
        let first_day_index = u32::try_from(days_before.max(0)).unwrap_or(u32::MAX);
        let mut k = first_day_index
            .min(rec.days)
            .saturating_mul(per_day)
            .min(total - 1);
        let mut found = Vec::new();
        while let Some(earliest) = instant(k) {
            if earliest >= until || earliest >= expires {
                break;
            }
            let deadline = instant(k + 1).map_or(expires, |next| next.min(expires));
            if deadline > from && earliest < deadline {
                found.push(Occurrence {
                    index: k,
                    earliest,
                    deadline,
                });
            }
            k += 1;
        }
        found
    }

    /// Every occurrence the bulletin has, from not_before to expiry.
    pub fn all_occurrences(&self, tz: Tz) -> Vec<Occurrence> {
        self.occurrences(self.validity.not_before, self.validity.expires, tz)
    }

    pub fn is_expired_at(&self, now: DateTime<Utc>) -> bool {
        now >= self.validity.expires
    }

    /// The duration of `secs` as a time span.
    pub fn span(secs: u32) -> TimeDelta {
        TimeDelta::seconds(i64::from(secs))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testkit::*;

    #[test]
    fn a_one_off_bulletin_has_one_occurrence_over_its_validity() {
        let b = bulletin(
            "b",
            PriorityClass::Priority,
            AreaLevel::Province,
            "67",
            &["67"],
        );
        let occ = b.occurrences(local("2026-11-23 00:00"), local("2026-11-24 00:00"), TZ);
        assert_eq!(occ.len(), 1);
        assert_eq!(occ[0].earliest, b.validity.not_before);
        assert_eq!(occ[0].deadline, b.validity.expires);
        assert!(b
            .occurrences(local("2026-12-30 00:00"), local("2026-12-31 00:00"), TZ)
            .is_empty());
    }

    #[test]
    fn a_recurrence_yields_one_occurrence_per_day_until_the_next() {
        let mut b = bulletin(
            "b",
            PriorityClass::Priority,
            AreaLevel::Province,
            "67",
            &["67"],
        );
        b.validity.not_before = local("2026-11-23 00:00");
        b.validity.expires = local("2026-12-31 00:00");
        b.recurrence = Some(Recurrence {
            at: vec![NaiveTime::from_hms_opt(5, 30, 0).unwrap()],
            days: 7,
        });
        let day3 = b.occurrences(local("2026-11-25 00:00"), local("2026-11-26 00:00"), TZ);
        // Yesterday's occurrence is still due until today's 05:30.
        assert_eq!(day3.len(), 2);
        assert_eq!(day3[0].index, 1);
        assert_eq!(day3[1].index, 2);
        assert_eq!(day3[1].earliest, local("2026-11-25 05:30"));
        assert_eq!(day3[1].deadline, local("2026-11-26 05:30"));
        let all = b.all_occurrences(TZ);
        assert_eq!(all.len(), 7);
        assert_eq!(
            all[6].deadline, b.validity.expires,
            "the last one runs to expiry"
        );
    }

    #[test]
    fn validation_names_the_problem() {
        let tree = tree_three_tier();
        let mut b = bulletin(
            "b",
            PriorityClass::Priority,
            AreaLevel::District,
            "660",
            &["24700"],
        );
        let err = b.validate(&tree).unwrap_err().to_string();
        assert!(
            err.contains("target 24700 lies outside the issuing area 660"),
            "{err}"
        );
        b.targets = vec![code("24611")];
        b.validate(&tree).unwrap();
        b.level = AreaLevel::Province;
        assert!(b
            .validate(&tree)
            .unwrap_err()
            .to_string()
            .contains("does not match issuer"));
        b.level = AreaLevel::District;
        b.variants[0].audio.as_mut().unwrap().secs = 0;
        assert!(b
            .validate(&tree)
            .unwrap_err()
            .to_string()
            .contains("duration must be"));
        b.variants[0].audio = None;
        b.variants[0].visual = None;
        assert!(b
            .validate(&tree)
            .unwrap_err()
            .to_string()
            .contains("neither audio nor visual"));
    }

    #[test]
    fn stored_audio_must_fit_its_slot() {
        let tree = tree_three_tier();
        let mut b = bulletin(
            "b",
            PriorityClass::Priority,
            AreaLevel::Province,
            "67",
            &["67"],
        );
        let audio = b.variants[0].audio.as_mut().unwrap();
        audio.secs = 60;
        audio.media = Some(StoredAudio {
            sha256: "ab".repeat(32),
            size: 1000,
            duration_ms: 60_000,
        });
        b.validate(&tree).unwrap();
        b.variants[0].audio.as_mut().unwrap().secs = 59;
        let err = b.validate(&tree).unwrap_err().to_string();
        assert!(err.contains("60000 ms, longer than its 59 s slot"), "{err}");
        let audio = b.variants[0].audio.as_mut().unwrap();
        audio.secs = 60;
        audio.media.as_mut().unwrap().sha256 = "AB".repeat(32);
        let err = b.validate(&tree).unwrap_err().to_string();
        assert!(err.contains("not a lower-case hex SHA-256"), "{err}");
    }

    #[test]
    fn variants_follow_the_commune_languages() {
        let mut b = bulletin(
            "b",
            PriorityClass::Priority,
            AreaLevel::Province,
            "67",
            &["67"],
        );
        b.variants.push(Variant {
            language: lang("ede"),
            audio: b.variants[0].audio.clone(),
            visual: None,
        });
        let langs = |vs: Vec<&Variant>| {
            vs.iter()
                .map(|v| v.language.to_string())
                .collect::<Vec<_>>()
        };
        assert_eq!(
            langs(b.variants_for(DeviceKind::Loudspeaker, &[lang("vi"), lang("ede")])),
            ["vi", "ede"]
        );
        assert_eq!(
            langs(b.variants_for(DeviceKind::Loudspeaker, &[lang("mnong")])),
            ["vi"]
        );
        // The ede variant has no visual part, so boards in an ede commune show the primary one.
        assert_eq!(
            langs(b.variants_for(DeviceKind::LedBoard, &[lang("ede")])),
            ["vi"]
        );
    }
}
