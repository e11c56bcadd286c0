//! The typed record layer: which tree each domain type lives in, under which
//! key, and the versioned JSON envelope every value is wrapped in.

use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use hub_core::{
    AiringKey, Area, AreaCode, Bulletin, BulletinId, ChairOrder, CommuneSettings, Delivery, Device,
    DeviceId, DeviceLog, OptIn, WindowPolicy,
};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use crate::error::{show_key, StoreError};

/// Format version of the envelope and of the records inside it. Raise it
/// (together with a migration) when a stored shape changes incompatibly.
pub const RECORD_VERSION: u32 = 1;

/// A value the store can keep: one tree per type, one key per value.
///
/// Implemented here for every domain record, so the store has a single
/// generic put/get/all/remove instead of one per type.
pub trait Record: Serialize + DeserializeOwned {
    /// The sled tree holding every record of this type.
    const TREE: &'static str;

    /// The record's key in [`Self::TREE`]; iteration follows key byte order.
    fn key(&self) -> Vec<u8>;
}

impl Record for Area {
    const TREE: &'static str = "areas";
    fn key(&self) -> Vec<u8> {
        self.code.as_str().as_bytes().to_vec()
    }
}

impl Record for Device {
    const TREE: &'static str = "devices";
    fn key(&self) -> Vec<u8> {
        self.id.as_str().as_bytes().to_vec()
    }
}

impl Record for CommuneSettings {
    const TREE: &'static str = "commune_settings";
    fn key(&self) -> Vec<u8> {
        self.commune.as_str().as_bytes().to_vec()
    }
}

impl Record for Bulletin {
    const TREE: &'static str = "bulletins";
    fn key(&self) -> Vec<u8> {
        self.id.as_str().as_bytes().to_vec()
    }
}

impl Record for ChairOrder {
    const TREE: &'static str = "chair_orders";
    fn key(&self) -> Vec<u8> {
        self.commune.as_str().as_bytes().to_vec()
    }
}

impl Record for OptIn {
    const TREE: &'static str = "opt_ins";
    fn key(&self) -> Vec<u8> {
        opt_in_key(&self.commune, &self.bulletin)
    }
}

/// The key of a commune's opt-in of a bulletin: `commune \0 bulletin`, so a
/// commune's opt-ins are adjacent (neither id may contain `\0`).
pub fn opt_in_key(commune: &AreaCode, bulletin: &BulletinId) -> Vec<u8> {
    let mut key = Vec::with_capacity(commune.as_str().len() + 1 + bulletin.as_str().len());
    key.extend_from_slice(commune.as_str().as_bytes());
    key.push(0);
    key.extend_from_slice(bulletin.as_str().as_bytes());
    key
}

/// Province-wide settings: the one record that is not part of a collection.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProvinceSettings {
    /// Stored by name, e.g. `"Asia/Ho_Chi_Minh"`.
    pub timezone: Tz,
    pub windows: WindowPolicy,
}

impl ProvinceSettings {
    /// The singleton's key in the `settings` tree.
    pub const KEY: &'static [u8] = b"province";
}

impl Record for ProvinceSettings {
    const TREE: &'static str = "settings";
    fn key(&self) -> Vec<u8> {
        Self::KEY.to_vec()
    }
}

/// What one device has played, as a record of its own (the domain keeps
/// logs in a map by device id).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeviceHistory {
    pub device: DeviceId,
    pub log: DeviceLog,
}

impl Record for DeviceHistory {
    const TREE: &'static str = "device_logs";
    fn key(&self) -> Vec<u8> {
        self.device.as_str().as_bytes().to_vec()
    }
}

/// The envelope as written: `{"v":1,"record":{...}}`.
impl Record for Delivery {
    const TREE: &'static str = "deliveries";
    fn key(&self) -> Vec<u8> {
        delivery_key(&self.device, &self.airing)
    }
}

/// `device \0 bulletin \0 occurrence (8 hex digits) \0 language`: a device's
/// deliveries are adjacent, in airing order.
pub fn delivery_key(device: &DeviceId, airing: &AiringKey) -> Vec<u8> {
    format!(
        "{}\0{}\0{:08x}\0{}",
        device, airing.bulletin, airing.occurrence, airing.language
    )
    .into_bytes()
}

/// A device's secrets: its broker password and the key sealing its reports.
/// The hub must read both back in clear (to check a password and a MAC), so
/// the store's directory must be readable by the hub's user only.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeviceSecret {
    pub device: DeviceId,
    pub mqtt_password: String,
    /// The device's uplink (report-sealing) key as text.
    pub uplink_key: String,
    /// A revoked device is refused by the broker and its reports are dropped.
    #[serde(default)]
    pub revoked: bool,
}

impl std::fmt::Debug for DeviceSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DeviceSecret")
            .field("device", &self.device)
            .field("revoked", &self.revoked)
            .finish_non_exhaustive()
    }
}

impl Record for DeviceSecret {
    const TREE: &'static str = "device_secrets";
    fn key(&self) -> Vec<u8> {
        self.device.as_str().as_bytes().to_vec()
    }
}

/// The hub's own identity: its Ed25519 signing key and how far command
/// sequence numbers are reserved. Sequence numbers are taken in blocks so a
/// restarted hub continues above every number it may have used.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HubIdentity {
    /// The 32-byte Ed25519 secret key, standard base64.
    pub signing_key: String,
    /// Every sequence number used so far is below this.
    pub seq_reserved: u64,
}

impl HubIdentity {
    pub const KEY: &'static [u8] = b"identity";
}

impl std::fmt::Debug for HubIdentity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HubIdentity")
            .field("seq_reserved", &self.seq_reserved)
            .finish_non_exhaustive()
    }
}

impl Record for HubIdentity {
    const TREE: &'static str = "hub";
    fn key(&self) -> Vec<u8> {
        Self::KEY.to_vec()
    }
}

/// What is known about a stored media file, so nothing has to decode the
/// file again to know it: how long it plays, how loud it is, what it was made
/// from. The file itself lives outside the database, under its hash.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct MediaFacts {
    /// Lower-case hex SHA-256 of the file.
    pub sha256: String,
    pub kind: MediaKind,
    /// Size of the file in bytes.
    pub size: u64,
    /// Playing time (0 for a picture; for subtitles, when the last cue ends).
    pub duration_ms: u64,
    /// Sound only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub loudness: Option<Loudness>,
    /// Sound only: what was uploaded, or what text-to-speech produced.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub input: Option<InputSummary>,
    /// Pictures and videos only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub picture: Option<PictureFacts>,
    /// When the file was first stored.
    pub created: DateTime<Utc>,
}

impl Record for MediaFacts {
    const TREE: &'static str = "media";
    fn key(&self) -> Vec<u8> {
        self.sha256.as_bytes().to_vec()
    }
}

/// The format of a stored media file.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MediaKind {
    /// Mono Ogg Opus, what loudspeakers play.
    OggOpus,
    /// A picture fitted to the boards' size, what LED boards show.
    Png,
    /// An H.264 video as uploaded, what LED boards play.
    Mp4,
    /// SubRip subtitles uploaded beside a video, shown by LED boards over it.
    Srt,
}

impl MediaKind {
    /// The HTTP `Content-Type` of files of this kind.
    pub fn content_type(self) -> &'static str {
        match self {
            Self::OggOpus => "audio/ogg",
            Self::Png => "image/png",
            Self::Mp4 => "video/mp4",
            Self::Srt => "application/x-subrip",
        }
    }
}

/// A picture's or video's size in pixels and what it was made from.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PictureFacts {
    pub width: u32,
    pub height: u32,
    /// The upload's format (`png`, `jpeg`, `webp`, `mp4`).
    pub input_format: String,
}

/// Loudness of the input and of the stored file as decoded.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Loudness {
    /// Integrated loudness of the input, LUFS.
    pub input_lufs: f64,
    /// Integrated loudness of the stored file, LUFS.
    pub output_lufs: f64,
    /// True peak of the stored file, dBTP.
    pub output_true_peak_dbtp: f64,
}

/// The input a media file was made from, as decoded.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct InputSummary {
    /// Container format (`wave`, `mp3`, `isomp4`, `ogg`, ...).
    pub container: String,
    /// Codec (`pcm_s16le`, `mp3`, `aac`, `opus`, ...).
    pub codec: String,
    pub sample_rate: u32,
    pub channels: u16,
}

#[derive(Serialize)]
struct EnvelopeOut<'a, R> {
    v: u32,
    record: &'a R,
}

#[derive(Deserialize)]
struct EnvelopeIn<R> {
    v: u32,
    record: R,
}

/// Only the version, to explain why a full decode failed.
#[derive(Deserialize)]
struct EnvelopeVersion {
    v: u32,
}

/// Encodes `record` in its envelope.
pub(crate) fn encode<R: Record>(record: &R) -> Result<Vec<u8>, StoreError> {
    let envelope = EnvelopeOut {
        v: RECORD_VERSION,
        record,
    };
    serde_json::to_vec(&envelope).map_err(|source| StoreError::Encode {
        tree: R::TREE,
        key: show_key(&record.key()),
        source,
    })
}

/// Decodes the value stored under `key` in `tree`, checking the envelope
/// version and that the record belongs under `key`.
fn decode<R: DeserializeOwned>(
    tree: &'static str,
    key: &[u8],
    value: &[u8],
) -> Result<R, StoreError> {
    let too_new = |found| StoreError::RecordTooNew {
        tree,
        key: show_key(key),
        found,
        supported: RECORD_VERSION,
    };
    match serde_json::from_slice::<EnvelopeIn<R>>(value) {
        Ok(envelope) if envelope.v > RECORD_VERSION => Err(too_new(envelope.v)),
        Ok(envelope) => Ok(envelope.record),
        Err(source) => match serde_json::from_slice::<EnvelopeVersion>(value) {
            Ok(head) if head.v > RECORD_VERSION => Err(too_new(head.v)),
            _ => Err(StoreError::Decode {
                tree,
                key: show_key(key),
                source,
            }),
        },
    }
}

/// [`decode`] for a [`Record`], which must also carry `key` as its own key.
pub(crate) fn decode_record<R: Record>(key: &[u8], value: &[u8]) -> Result<R, StoreError> {
    let record: R = decode(R::TREE, key, value)?;
    let own = record.key();
    if own != key {
        return Err(StoreError::MisplacedRecord {
            tree: R::TREE,
            key: show_key(key),
            own: show_key(&own),
        });
    }
    Ok(record)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testkit::*;

    #[test]
    fn values_are_wrapped_in_a_versioned_envelope() {
        let device = devices().remove(0);
        let bytes = encode(&device).unwrap();
        let json: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
        assert_eq!(json["v"], 1);
        assert_eq!(json["record"]["id"], device.id.as_str());
        let back: Device = decode_record(&device.key(), &bytes).unwrap();
        assert_eq!(back, device);
    }

    #[test]
    fn province_settings_store_the_zone_by_name() {
        let settings = ProvinceSettings {
            timezone: TZ,
            windows: WindowPolicy::default(),
        };
        let json: serde_json::Value = serde_json::from_slice(&encode(&settings).unwrap()).unwrap();
        assert_eq!(json["record"]["timezone"], "Asia/Ho_Chi_Minh");
    }

    #[test]
    fn device_history_with_done_airings_round_trips() {
        let history = history("24611-LS");
        assert!(!history.log.done.is_empty() && history.log.playing.is_some());
        let bytes = encode(&history).unwrap();
        let back: DeviceHistory = decode_record(&history.key(), &bytes).unwrap();
        assert_eq!(back, history);
    }

    #[test]
    fn a_newer_record_version_is_named_as_such() {
        let err = decode_record::<Device>(b"x", br#"{"v":2,"record":{"shape":"new"}}"#)
            .unwrap_err()
            .to_string();
        assert!(err.contains("format version 2"), "{err}");
        assert!(err.contains("upgrade the hub"), "{err}");
    }

    #[test]
    fn a_record_under_a_foreign_key_is_refused() {
        let device = devices().remove(0);
        let err = decode_record::<Device>(b"other", &encode(&device).unwrap())
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("\"other\"") && err.contains(device.id.as_str()),
            "{err}"
        );
    }

    #[test]
    fn media_facts_are_keyed_by_their_hash() {
        let facts = MediaFacts {
            sha256: "ab".repeat(32),
            kind: MediaKind::OggOpus,
            size: 48_213,
            duration_ms: 61_250,
            loudness: Some(Loudness {
                input_lufs: -23.5,
                output_lufs: -16.0,
                output_true_peak_dbtp: -1.2,
            }),
            input: Some(InputSummary {
                container: "wave".into(),
                codec: "pcm_s16le".into(),
                sample_rate: 22_050,
                channels: 1,
            }),
            picture: None,
            created: "2026-11-23T03:00:00Z".parse().unwrap(),
        };
        let bytes = encode(&facts).unwrap();
        let json: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
        assert_eq!(json["record"]["kind"], "ogg_opus");
        assert!(json["record"].get("picture").is_none(), "absent, not null");
        let back: MediaFacts = decode_record(facts.sha256.as_bytes(), &bytes).unwrap();
        assert_eq!(back, facts);
        assert_eq!(MediaKind::OggOpus.content_type(), "audio/ogg");
        assert_eq!(MediaKind::Png.content_type(), "image/png");

        let picture = MediaFacts {
            kind: MediaKind::Png,
            duration_ms: 0,
            loudness: None,
            input: None,
            picture: Some(PictureFacts {
                width: 384,
                height: 192,
                input_format: "jpeg".into(),
            }),
            ..facts
        };
        let back: MediaFacts =
            decode_record(picture.sha256.as_bytes(), &encode(&picture).unwrap()).unwrap();
        assert_eq!(back, picture);
    }

    #[test]
    fn opt_in_keys_group_by_commune() {
        let key = opt_in_key(&code("24611"), &bid("tin-a"));
        assert_eq!(key, b"24611\0tin-a");
    }
}
