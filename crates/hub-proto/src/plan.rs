//! The device plan: the hub's schedule for one device on one local day.
//!
//! A device keeps its latest plan locally and plays from it on its own clock,
//! so it stays on time when its 4G link drops.

use std::sync::Arc;

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

use crate::DecodeError;

/// Everything one device must play (loudspeaker) or show (LED board) on one local day.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DevicePlan {
    /// Payload version, [`crate::PROTOCOL_VERSION`].
    pub v: u16,
    pub device: String,
    /// The local (Asia/Ho_Chi_Minh) calendar day this plan covers.
    pub date: NaiveDate,
    /// When the hub computed the plan; entries before this instant are history.
    pub generated_at: DateTime<Utc>,
    /// Entries in start order; they never overlap.
    pub entries: Vec<PlanEntry>,
}

/// One airing: a bulletin (in one language) on a device from `start` to `end`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PlanEntry {
    pub bulletin: String,
    /// Which occurrence of a recurring bulletin this is; 0 for a one-off.
    pub occurrence: u32,
    /// Language of the variant to play, e.g. `vi`, `ede`, `mnong`.
    pub language: String,
    pub class: Class,
    pub part: Part,
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
    /// The airing stops at `end` because an emergency starts then; it is
    /// planned again in full later.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub preempted: bool,
    /// What to fetch and play or show; absent until the media is stored.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub media: Option<MediaRef>,
    /// A video's subtitles as an SRT file, fetched like `media`: an LED
    /// board shows these cues over the video instead of any subtitle track
    /// inside it. Absent for everything else.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subtitles: Option<MediaRef>,
    /// The text an LED board shows for a visual entry (a text bulletin, or
    /// the caption of an image or video); absent for sound, or when the
    /// variant has none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub text: Option<String>,
}

impl PlanEntry {
    /// Which airing this entry is.
    pub fn airing(&self) -> AiringRef {
        AiringRef {
            bulletin: self.bulletin.clone(),
            occurrence: self.occurrence,
            language: self.language.clone(),
        }
    }
}

/// Names one airing: a bulletin occurrence in one language.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct AiringRef {
    pub bulletin: String,
    pub occurrence: u32,
    pub language: String,
}

/// A media file by content: devices fetch `url` once, check `size` and
/// `sha256`, and cache it under the hash.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct MediaRef {
    /// Lower-case hex SHA-256 of the file.
    pub sha256: String,
    pub size: u64,
    pub url: String,
    /// The file cut in consecutive parts, each with its own SHA-256, so a
    /// device that lacks the file when the entry is due can verify and play
    /// the first part while the rest arrives (emergencies). Empty: the file
    /// is verified only whole. See [`crate::media::chunks_of`].
    /// Shared: every command of a broadcast, and every device's copy of
    /// the entry, lists the same parts.
    #[serde(default, skip_serializing_if = "no_chunks")]
    pub chunks: Arc<[MediaChunk]>,
    /// The first part's bytes themselves (`chunks[0]`), base64 (standard,
    /// padded), when the hub inlines them (emergencies on loudspeakers): a
    /// device lacking the file starts playing from them with no request and
    /// fetches only the rest. Never in the JSON of a `MediaRef`: a command
    /// carries its heads beside its signed body ([`crate::downlink`]), and
    /// a head is authentic only once it hashes to `chunks[0].sha256`
    /// ([`crate::media::head_bytes`]); a device downloads as usual if not.
    /// Shared: every command of a broadcast carries the same one.
    #[serde(skip)]
    pub head: Option<Arc<str>>,
}

fn no_chunks(chunks: &Arc<[MediaChunk]>) -> bool {
    chunks.is_empty()
}

/// One part of a [`MediaRef`]'s file: the next `size` bytes hash to `sha256`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct MediaChunk {
    pub size: u64,
    /// Lower-case hex SHA-256 of the part.
    pub sha256: String,
}

/// Priority class, highest first.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Class {
    Emergency,
    Priority,
    Normal,
}

/// A kind of field device.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    /// An IP loudspeaker cluster.
    Loudspeaker,
    /// A public LED board.
    LedBoard,
}

impl Kind {
    /// As in topics and provisioning files: `loudspeaker`, `led_board`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Loudspeaker => "loudspeaker",
            Self::LedBoard => "led_board",
        }
    }
}

/// Which part of a bulletin the device renders.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Part {
    /// Sound, for loudspeaker clusters.
    Audio,
    /// Sound spoken live by an operator (a live emergency): no file, the
    /// audio arrives as signed chunks while it plays ([`crate::live`]). A
    /// loudspeaker starts the entry at the first chunk it verifies.
    Live,
    /// Text, image, video or infographic, for LED boards.
    Visual,
}

impl DevicePlan {
    /// Serialises the plan as JSON.
    pub fn to_json(&self) -> Vec<u8> {
        serde_json::to_vec(self).expect("a DevicePlan always serialises")
    }

    /// Reads a plan, refusing versions this build does not speak.
    pub fn from_json(bytes: &[u8]) -> Result<Self, DecodeError> {
        crate::check_version(bytes)?;
        Ok(serde_json::from_slice(bytes)?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::PROTOCOL_VERSION;

    fn sample() -> DevicePlan {
        let at = |s: &str| s.parse::<DateTime<Utc>>().unwrap();
        DevicePlan {
            v: PROTOCOL_VERSION,
            device: "24611-LS-01".into(),
            date: NaiveDate::from_ymd_opt(2026, 11, 23).unwrap(),
            generated_at: at("2026-11-22T22:00:00Z"),
            entries: vec![
                PlanEntry {
                    bulletin: "tinh-thue-dat".into(),
                    occurrence: 0,
                    language: "vi".into(),
                    class: Class::Priority,
                    part: Part::Audio,
                    start: at("2026-11-22T22:00:00Z"),
                    end: at("2026-11-22T22:03:00Z"),
                    preempted: true,
                    media: Some(MediaRef {
                        sha256: "ab".repeat(32),
                        size: 48_213,
                        url: "https://hub.example/media/abab".into(),
                        chunks: Arc::from(vec![
                            MediaChunk {
                                size: 16_384,
                                sha256: "cd".repeat(32),
                            },
                            MediaChunk {
                                size: 31_829,
                                sha256: "ef".repeat(32),
                            },
                        ]),
                        head: Some("T2dnUw==".into()),
                    }),
                    subtitles: None,
                    text: None,
                },
                PlanEntry {
                    bulletin: "lu-krong-no".into(),
                    occurrence: 2,
                    language: "mnong".into(),
                    class: Class::Emergency,
                    part: Part::Visual,
                    start: at("2026-11-22T22:03:00Z"),
                    end: at("2026-11-22T22:05:00Z"),
                    preempted: false,
                    media: Some(MediaRef {
                        sha256: "12".repeat(32),
                        size: 1_048_576,
                        url: "https://hub.example/media/1212".into(),
                        chunks: Arc::default(),
                        head: None,
                    }),
                    subtitles: Some(MediaRef {
                        sha256: "34".repeat(32),
                        size: 96,
                        url: "https://hub.example/media/3434".into(),
                        chunks: Arc::default(),
                        head: None,
                    }),
                    text: Some("Lũ quét: sơ tán ngay".into()),
                },
            ],
        }
    }

    #[test]
    fn plan_round_trips_through_json_but_for_inline_heads() {
        let plan = sample();
        let mut headless = plan.clone();
        headless.entries[0].media.as_mut().unwrap().head = None;
        assert_eq!(DevicePlan::from_json(&plan.to_json()).unwrap(), headless);
    }

    #[test]
    fn plan_json_names_its_version_and_omits_default_flags() {
        let json: serde_json::Value = serde_json::from_slice(&sample().to_json()).unwrap();
        assert_eq!(json["v"], 1);
        assert_eq!(json["entries"][0]["preempted"], true);
        assert!(json["entries"][1].get("preempted").is_none());
        assert!(json["entries"][0].get("text").is_none());
        assert_eq!(json["entries"][1]["text"], "Lũ quét: sơ tán ngay");
        assert_eq!(json["entries"][1]["class"], "emergency");
        assert_eq!(json["entries"][0]["media"]["chunks"][1]["size"], 31_829);
        assert!(
            json["entries"][0]["media"].get("head").is_none(),
            "heads travel beside a command's signed body"
        );
        assert!(json["entries"][0].get("subtitles").is_none());
        assert_eq!(json["entries"][1]["subtitles"]["size"], 96);
    }

    #[test]
    fn media_without_chunks_or_head_omits_them_and_reads_as_none() {
        let mut plan = sample();
        let media = plan.entries[0].media.as_mut().unwrap();
        media.chunks = Arc::default();
        media.head = None;
        let json: serde_json::Value = serde_json::from_slice(&plan.to_json()).unwrap();
        assert!(json["entries"][0]["media"].get("chunks").is_none());
        assert!(json["entries"][0]["media"].get("head").is_none());
        assert_eq!(DevicePlan::from_json(&plan.to_json()).unwrap(), plan);
    }

    #[test]
    fn unknown_version_is_refused() {
        let mut json: serde_json::Value = serde_json::from_slice(&sample().to_json()).unwrap();
        json["v"] = 9.into();
        let err = DevicePlan::from_json(json.to_string().as_bytes()).unwrap_err();
        assert!(matches!(
            err,
            DecodeError::UnsupportedVersion {
                found: 9,
                supported: 1
            }
        ));
    }

    #[test]
    fn malformed_plan_names_the_problem() {
        let err = DevicePlan::from_json(br#"{"v":1,"device":"x"}"#).unwrap_err();
        assert!(err.to_string().contains("missing field"), "{err}");
    }
}
