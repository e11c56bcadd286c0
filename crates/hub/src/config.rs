//! The hub's configuration: a province description plus where data lives.
//!
//! Defaults are compiled in; a TOML file (`configs/*.toml`) overrides them,
//! then `HUB_*` environment variables override the file. Every value is parsed
//! into a domain type here, at the edge, so the rest of the hub never sees a
//! malformed code, window or time.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use chrono::{DateTime, FixedOffset, NaiveTime, Utc};
use chrono_tz::Tz;
use hub_core::bulletin::MAX_PART_SECS;
use hub_core::{
    Area, AreaCode, AreaLevel, AreaTree, AudioPart, AudioSource, Bulletin, BulletinId,
    BulletinState, Category, ChairOrder, CommuneSettings, CoreError, DailyWindows, Device,
    DeviceId, DeviceKind, Language, OptIn, PriorityClass, Programme, Province, Recurrence,
    Validity, Variant, VisualKind, VisualPart, WindowPolicy,
};
use hub_media::BoardSize;
use serde::Deserialize;

use crate::api::settings::{ApiSettings, CapSettings, ENV_API_LISTEN};
use crate::backup_schedule::BackupSettings;
use crate::link::settings::{
    LinkSettings, MediaTls, ENV_MEDIA_LISTEN, ENV_MEDIA_TLS_CA, ENV_MEDIA_TLS_CERT,
    ENV_MEDIA_TLS_KEY, ENV_MQTT_LISTEN, ENV_PUBLIC_MEDIA_URL,
};
use crate::logging::LogSettings;
use crate::media::{AudioInput, AudioJob, VisualJob};
use crate::monitor::HealthSettings;

/// Environment variable overriding `data_dir`.
pub const ENV_DATA_DIR: &str = "HUB_DATA_DIR";

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path}: {source}")]
    Parse {
        path: PathBuf,
        source: Box<toml::de::Error>,
    },
    #[error("{path}: {context}: {source}")]
    Domain {
        path: PathBuf,
        context: String,
        source: CoreError,
    },
    #[error("{path}: {context}: {reason}")]
    Invalid {
        path: PathBuf,
        context: String,
        reason: String,
    },
}

impl ConfigError {
    /// A mapper from a domain error at `context` in the file at `path`.
    fn domain(path: &Path, context: impl Into<String>) -> impl FnOnce(CoreError) -> Self + '_ {
        let context = context.into();
        move |source| Self::Domain {
            path: path.to_owned(),
            context,
            source,
        }
    }

    fn invalid(path: &Path, context: impl Into<String>, reason: impl Into<String>) -> Self {
        Self::Invalid {
            path: path.to_owned(),
            context: context.into(),
            reason: reason.into(),
        }
    }
}

/// The configuration file, as written.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HubConfig {
    #[serde(default = "default_timezone")]
    pub timezone: Tz,
    /// Where the store lives; relative paths are relative to the working directory.
    #[serde(default = "default_data_dir")]
    pub data_dir: PathBuf,
    #[serde(default = "default_central")]
    pub central: AreaEntry,
    pub province: AreaEntry,
    #[serde(default)]
    pub windows: WindowsEntry,
    #[serde(default)]
    pub districts: Vec<AreaEntry>,
    pub communes: Vec<CommuneEntry>,
    #[serde(default)]
    pub bulletins: Vec<BulletinEntry>,
    #[serde(default)]
    pub chair_orders: Vec<ChairOrder>,
    #[serde(default)]
    pub opt_ins: Vec<OptIn>,
    #[serde(default)]
    pub link: LinkSettings,
    #[serde(default)]
    pub api: ApiSettings,
    /// CAP alerts posted to the API; carried in `api.cap`.
    #[serde(default)]
    pub cap: CapSettings,
    #[serde(default)]
    pub boards: BoardsEntry,
    #[serde(default)]
    pub backup: BackupSettings,
    /// Device health alarms.
    #[serde(default)]
    pub health: HealthSettings,
    /// Log output; read before the rest of the file (see [`crate::logging`]).
    #[serde(default)]
    pub log: LogSettings,
}

/// The `[boards]` section: the LED boards' resolution, which pictures are
/// fitted to when they are stored.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct BoardsEntry {
    pub width: u32,
    pub height: u32,
}

impl Default for BoardsEntry {
    /// 384×192: a wall of 12 × 12 P10 modules, what `firmware-sim` shows.
    fn default() -> Self {
        Self {
            width: 384,
            height: 192,
        }
    }
}

fn default_timezone() -> Tz {
    chrono_tz::Asia::Ho_Chi_Minh
}

fn default_data_dir() -> PathBuf {
    PathBuf::from("data")
}

fn default_central() -> AreaEntry {
    AreaEntry {
        code: AreaCode::parse("VN").expect("VN is a valid code"),
        name: "Trung ương".into(),
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AreaEntry {
    pub code: AreaCode,
    pub name: String,
}

/// Windows per device kind; a missing kind keeps the default of Article 10.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WindowsEntry {
    pub loudspeaker: Option<DailyWindows>,
    pub led_board: Option<DailyWindows>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CommuneEntry {
    pub code: AreaCode,
    pub name: String,
    /// Required when the province has districts; absent in two-tier provinces.
    pub district: Option<AreaCode>,
    /// Number of loudspeaker clusters; ids are `<code>-LS-01`, `-02`, …
    #[serde(default)]
    pub loudspeakers: u16,
    /// Number of LED boards; ids are `<code>-LB-01`, …
    #[serde(default)]
    pub led_boards: u16,
    pub languages: Option<Vec<Language>>,
    pub windows: Option<WindowsEntry>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BulletinEntry {
    pub id: BulletinId,
    pub title: String,
    pub category: Category,
    pub level: AreaLevel,
    pub issuer: AreaCode,
    pub priority: PriorityClass,
    pub targets: Vec<AreaCode>,
    pub not_before: DateTime<FixedOffset>,
    pub expires: DateTime<FixedOffset>,
    #[serde(default)]
    pub sensitive: bool,
    #[serde(default = "approved")]
    pub state: BulletinState,
    pub recurrence: Option<RecurrenceEntry>,
    pub variants: Vec<VariantEntry>,
}

fn approved() -> BulletinState {
    BulletinState::Approved
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RecurrenceEntry {
    /// Local times of day, `HH:MM`.
    pub at: Vec<String>,
    pub days: u32,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VariantEntry {
    pub language: Language,
    pub audio: Option<AudioEntry>,
    pub visual: Option<VisualEntry>,
}

/// An LED board part: text, or a picture or video `file` (relative to the
/// configuration file) with an optional caption.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VisualEntry {
    pub kind: VisualKind,
    /// The slot in seconds; a video's default is its length.
    pub secs: Option<u32>,
    /// The text shown, or the caption of a picture or video.
    pub text: Option<String>,
    pub file: Option<PathBuf>,
}

/// A loudspeaker part: a recording (`file`), text to speak (`speech`), or a
/// recording still to come (neither; `secs` then says how long it will be).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AudioEntry {
    /// The slot in seconds; default: the audio's length, rounded up. A slot
    /// shorter than the audio is refused.
    pub secs: Option<u32>,
    /// Text for text-to-speech, spoken in the variant's language.
    pub speech: Option<String>,
    /// A recording (MP3, WAV, FLAC, Ogg, M4A…), relative to the configuration file.
    pub file: Option<PathBuf>,
}

/// The slot of a part that takes its length from audio not ingested yet: the
/// longest allowed, so the bulletin validates; seeding sets the real one
/// before anything is planned with it.
pub(crate) const UNMEASURED_SLOT_SECS: u32 = MAX_PART_SECS;

/// A configuration file turned into the domain.
pub struct LoadedConfig {
    pub data_dir: PathBuf,
    pub link: LinkSettings,
    pub api: ApiSettings,
    /// Scheduled backups.
    pub backup: BackupSettings,
    /// When devices and communes raise alarms.
    pub health: HealthSettings,
    /// The boards' resolution: pictures are stored fitted to it.
    pub board: BoardSize,
    pub province: Province,
    /// The bulletins as configured: audio parts with a file or speech have no
    /// media yet (and, without `secs`, an unmeasured slot) until seeding
    /// ingests them from [`LoadedConfig::audio`].
    pub programme: Programme,
    /// The audio to ingest, one job per variant with a file or speech.
    pub audio: Vec<AudioJob>,
    /// The pictures and videos to ingest, one job per variant with a file.
    pub visuals: Vec<VisualJob>,
}

impl HubConfig {
    /// Reads `path`, then applies `HUB_*` overrides from the process environment.
    pub fn load(path: &Path) -> Result<Self, ConfigError> {
        Self::load_with_env(path, |name| std::env::var_os(name))
    }

    /// Reads `path`, then applies `HUB_*` overrides looked up with `env`.
    pub fn load_with_env(
        path: &Path,
        env: impl Fn(&str) -> Option<std::ffi::OsString>,
    ) -> Result<Self, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.to_owned(),
            source,
        })?;
        let mut config: HubConfig = toml::from_str(&text).map_err(|source| ConfigError::Parse {
            path: path.to_owned(),
            source: Box::new(source),
        })?;
        if let Some(dir) = env(ENV_DATA_DIR) {
            config.data_dir = PathBuf::from(dir);
        }
        let address = |name: &str, value: std::ffi::OsString| {
            let value = value.to_string_lossy();
            value.parse().map_err(|_| {
                ConfigError::invalid(path, name, format!("{value:?} is not an address:port"))
            })
        };
        if let Some(listen) = env(ENV_MQTT_LISTEN) {
            config.link.mqtt_listen = address(ENV_MQTT_LISTEN, listen)?;
        }
        if let Some(listen) = env(ENV_MEDIA_LISTEN) {
            config.link.media_listen = address(ENV_MEDIA_LISTEN, listen)?;
        }
        if let Some(listen) = env(ENV_API_LISTEN) {
            config.api.listen = address(ENV_API_LISTEN, listen)?;
        }
        if let Some(url) = env(ENV_PUBLIC_MEDIA_URL) {
            config.link.public_media_url = Some(url.to_string_lossy().into_owned());
        }
        // The file's certificate paths are relative to the file; the
        // environment's to the working directory, as data_dir's.
        let base = path.parent().unwrap_or(Path::new("."));
        let file_tls = config
            .link
            .media_tls
            .take()
            .map(|tls| tls.relative_to(base));
        config.link.media_tls = MediaTls::overridden(
            file_tls,
            env(ENV_MEDIA_TLS_CERT).map(PathBuf::from),
            env(ENV_MEDIA_TLS_KEY).map(PathBuf::from),
            env(ENV_MEDIA_TLS_CA).map(PathBuf::from),
            [ENV_MEDIA_TLS_CERT, ENV_MEDIA_TLS_KEY],
        )
        .map_err(|reason| ConfigError::invalid(path, "link.media_tls", reason))?;
        Ok(config)
    }

    /// Builds and validates the province and its programme. `path` names the
    /// file in error messages.
    pub fn into_domain(self, path: &Path) -> Result<LoadedConfig, ConfigError> {
        let province = self.build_province(path)?;
        let mut programme = Programme::default();
        let mut audio = Vec::new();
        let mut visuals = Vec::new();
        for (i, entry) in self.bulletins.into_iter().enumerate() {
            let context = format!("bulletins[{i}] ({})", entry.id);
            let (bulletin, jobs, visual_jobs) = entry.into_bulletin(path, &context)?;
            programme
                .insert_bulletin(&province, bulletin)
                .map_err(ConfigError::domain(path, context))?;
            audio.extend(jobs);
            visuals.extend(visual_jobs);
        }
        for (i, order) in self.chair_orders.into_iter().enumerate() {
            let context = format!("chair_orders[{i}] ({})", order.commune);
            programme
                .set_chair_order(&province, order)
                .map_err(ConfigError::domain(path, context))?;
        }
        for (i, opt_in) in self.opt_ins.into_iter().enumerate() {
            let context = format!("opt_ins[{i}] ({} in {})", opt_in.bulletin, opt_in.commune);
            programme
                .set_opt_in(&province, opt_in)
                .map_err(ConfigError::domain(path, context))?;
        }
        Ok(LoadedConfig {
            data_dir: self.data_dir,
            link: self.link,
            backup: self.backup,
            health: self.health,
            api: ApiSettings {
                cap: self.cap,
                ..self.api
            },
            board: BoardSize::new(self.boards.width, self.boards.height)
                .map_err(|e| ConfigError::invalid(path, "boards", e.to_string()))?,
            province,
            programme,
            audio,
            visuals,
        })
    }

    fn build_province(&self, path: &Path) -> Result<Province, ConfigError> {
        let invalid = |context, reason| ConfigError::invalid(path, context, reason);
        let area = |entry: &AreaEntry, level, parent: Option<&AreaCode>| Area {
            code: entry.code.clone(),
            name: entry.name.clone(),
            level,
            parent: parent.cloned(),
        };
        let mut areas = vec![
            area(&self.central, AreaLevel::Central, None),
            area(
                &self.province,
                AreaLevel::Province,
                Some(&self.central.code),
            ),
        ];
        let districts: BTreeSet<&AreaCode> = self.districts.iter().map(|d| &d.code).collect();
        areas.extend(
            self.districts
                .iter()
                .map(|d| area(d, AreaLevel::District, Some(&self.province.code))),
        );
        let mut settings = Vec::new();
        let mut devices = Vec::new();
        for (i, commune) in self.communes.iter().enumerate() {
            let context = format!("communes[{i}] ({})", commune.code);
            let parent = match (&commune.district, districts.is_empty()) {
                (Some(d), _) if districts.contains(d) => d,
                (Some(d), _) => {
                    return Err(invalid(
                        context,
                        format!("district {d} is not listed in [[districts]]"),
                    ))
                }
                (None, true) => &self.province.code,
                (None, false) => {
                    return Err(invalid(
                        context,
                        "names no district, but this province has districts".into(),
                    ))
                }
            };
            areas.push(Area {
                code: commune.code.clone(),
                name: commune.name.clone(),
                level: AreaLevel::Commune,
                parent: Some(parent.clone()),
            });
            let mut own = CommuneSettings::default_for(commune.code.clone());
            if let Some(languages) = &commune.languages {
                own.languages = languages.clone();
            }
            if let Some(windows) = &commune.windows {
                own.loudspeaker_windows = windows.loudspeaker.clone();
                own.led_board_windows = windows.led_board.clone();
            }
            settings.push(own);
            devices.extend(commune_devices(
                commune,
                DeviceKind::Loudspeaker,
                commune.loudspeakers,
                "LS",
                "Cụm loa",
            ));
            devices.extend(commune_devices(
                commune,
                DeviceKind::LedBoard,
                commune.led_boards,
                "LB",
                "Bảng tin",
            ));
        }
        let defaults = WindowPolicy::default();
        let windows = WindowPolicy {
            loudspeaker: self
                .windows
                .loudspeaker
                .clone()
                .unwrap_or(defaults.loudspeaker),
            led_board: self.windows.led_board.clone().unwrap_or(defaults.led_board),
        };
        let tree = AreaTree::new(areas).map_err(ConfigError::domain(path, "areas"))?;
        Province::new(self.timezone, tree, windows, settings, devices)
            .map_err(ConfigError::domain(path, "communes and devices"))
    }
}

fn commune_devices(
    commune: &CommuneEntry,
    kind: DeviceKind,
    count: u16,
    tag: &str,
    label: &str,
) -> Vec<Device> {
    (1..=count)
        .map(|n| Device {
            id: DeviceId::parse(&format!("{}-{tag}-{n:02}", commune.code))
                .expect("built from a valid area code"),
            kind,
            commune: commune.code.clone(),
            name: format!("{label} {n} – {}", commune.name),
        })
        .collect()
}

impl BulletinEntry {
    /// The bulletin, and the audio its variants need ingested.
    fn into_bulletin(
        self,
        path: &Path,
        context: &str,
    ) -> Result<(Bulletin, Vec<AudioJob>, Vec<VisualJob>), ConfigError> {
        let invalid = |reason: String| ConfigError::invalid(path, context, reason);
        let recurrence = match self.recurrence {
            None => None,
            Some(rec) => {
                let at = rec
                    .at
                    .iter()
                    .map(|t| {
                        NaiveTime::parse_from_str(t, "%H:%M")
                            .map_err(|_| invalid(format!("recurrence time {t:?} is not HH:MM")))
                    })
                    .collect::<Result<_, _>>()?;
                Some(Recurrence { at, days: rec.days })
            }
        };
        let mut variants = Vec::with_capacity(self.variants.len());
        let mut jobs = Vec::new();
        let mut visual_jobs = Vec::new();
        for v in self.variants {
            let audio = match v.audio {
                None => None,
                Some(entry) => {
                    let declared_secs = entry.secs;
                    let (part, input) = audio_part(entry, path)
                        .map_err(|reason| invalid(format!("variant {}: {reason}", v.language)))?;
                    if let Some(input) = input {
                        jobs.push(AudioJob {
                            bulletin: self.id.clone(),
                            language: v.language.clone(),
                            input,
                            declared_secs,
                        });
                    }
                    Some(part)
                }
            };
            let visual = match v.visual {
                None => None,
                Some(entry) => {
                    let (part, file) = visual_part(entry, path)
                        .map_err(|reason| invalid(format!("variant {}: {reason}", v.language)))?;
                    if let Some(file) = file {
                        visual_jobs.push(VisualJob {
                            bulletin: self.id.clone(),
                            language: v.language.clone(),
                            kind: part.kind,
                            file,
                        });
                    }
                    Some(part)
                }
            };
            variants.push(Variant {
                language: v.language,
                audio,
                visual,
            });
        }
        let bulletin = Bulletin {
            id: self.id,
            title: self.title,
            category: self.category,
            level: self.level,
            issuer: self.issuer,
            class: self.priority,
            targets: self.targets,
            validity: Validity {
                not_before: self.not_before.with_timezone(&Utc),
                expires: self.expires.with_timezone(&Utc),
            },
            recurrence,
            variants,
            sensitive: self.sensitive,
            state: self.state,
            devices: None,
            corrects: None,
        };
        Ok((bulletin, jobs, visual_jobs))
    }
}

/// A configured audio part, and what to ingest for it if it has a file or
/// speech. `config` is the configuration file, which recordings are
/// relative to.
fn audio_part(entry: AudioEntry, config: &Path) -> Result<(AudioPart, Option<AudioInput>), String> {
    let (source, input) = match (entry.speech, entry.file) {
        (Some(_), Some(_)) => return Err("audio has both speech and file; give one".into()),
        (Some(text), None) => (
            AudioSource::Speech { text: text.clone() },
            Some(AudioInput::Speech(text)),
        ),
        (None, Some(file)) => {
            let base = config.parent().unwrap_or(Path::new("."));
            (
                AudioSource::Recorded,
                Some(AudioInput::File(base.join(file))),
            )
        }
        (None, None) => (AudioSource::Recorded, None),
    };
    let secs = match (entry.secs, &input) {
        (Some(secs), _) => secs,
        (None, Some(_)) => UNMEASURED_SLOT_SECS,
        (None, None) => {
            return Err(
                "audio needs secs (the length of a recording still to come), \
                 or a file or speech to take its length from"
                    .into(),
            )
        }
    };
    let part = AudioPart {
        source,
        secs,
        media: None,
    };
    Ok((part, input))
}

/// A configured board part, and the file to ingest for it, relative to
/// the configuration file `config`.
fn visual_part(entry: VisualEntry, config: &Path) -> Result<(VisualPart, Option<PathBuf>), String> {
    let shows_file = matches!(
        entry.kind,
        VisualKind::Image | VisualKind::Video | VisualKind::Infographic
    );
    let file = match (entry.file, shows_file) {
        (Some(_), false) => return Err("a text part shows no file".into()),
        (Some(file), true) => Some(config.parent().unwrap_or(Path::new(".")).join(file)),
        (None, _) => None,
    };
    let secs = match (entry.secs, entry.kind, &file) {
        (Some(secs), _, _) => secs,
        // Set from the video's length when it is stored.
        (None, VisualKind::Video, Some(_)) => UNMEASURED_SLOT_SECS,
        (None, _, _) => return Err("the visual part needs secs (how long boards show it)".into()),
    };
    let part = VisualPart {
        kind: entry.kind,
        secs,
        text: entry.text,
        media: None,
    };
    Ok((part, file))
}

/// Loads a configuration file and builds its domain in one step.
pub fn load(path: &Path) -> Result<LoadedConfig, ConfigError> {
    HubConfig::load(path)?.into_domain(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn configs_dir() -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../configs")
    }

    #[test]
    fn every_file_in_configs_parses_and_validates() {
        let mut seen = 0;
        for entry in std::fs::read_dir(configs_dir()).unwrap() {
            let path = entry.unwrap().path();
            if path.extension().is_some_and(|e| e == "toml") {
                let loaded = load(&path).unwrap_or_else(|e| panic!("{e}"));
                assert!(loaded.province.devices().count() > 0, "{}", path.display());
                seen += 1;
            }
        }
        assert!(seen >= 2, "expected the demo configs, found {seen}");
    }

    #[test]
    fn the_demo_province_has_the_promised_shape() {
        let loaded = load(&configs_dir().join("demo-province.toml")).unwrap();
        let p = &loaded.province;
        let count = |level| p.tree.areas().filter(|a| a.level == level).count();
        assert_eq!(count(AreaLevel::District), 3);
        assert!((25..=35).contains(&count(AreaLevel::Commune)));
        let kind = |k| p.devices().filter(|d| d.kind == k).count();
        assert!((120..=180).contains(&kind(DeviceKind::Loudspeaker)));
        assert!((20..=40).contains(&kind(DeviceKind::LedBoard)));
        assert!(loaded.programme.chair_orders().count() >= 1);
        assert_eq!(loaded.link.media_listen.port(), 8080);
        assert!(
            loaded
                .audio
                .iter()
                .any(|job| matches!(job.input, AudioInput::Speech(_))),
            "the demo speaks some of its bulletins"
        );

        let two_tier = load(&configs_dir().join("demo-two-tier.toml")).unwrap();
        assert_eq!(
            two_tier
                .province
                .tree
                .areas()
                .filter(|a| a.level == AreaLevel::District)
                .count(),
            0
        );
    }

    fn write(text: &str) -> (tempfile::TempDir, PathBuf) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("p.toml");
        std::fs::write(&path, text).unwrap();
        (dir, path)
    }

    const MINIMAL: &str = r#"
        [province]
        code = "68"
        name = "Lâm Đồng"
        [[communes]]
        code = "25000"
        name = "Xã A"
        loudspeakers = 2
    "#;

    #[test]
    fn a_minimal_two_tier_file_gets_the_defaults() {
        let (_dir, path) = write(MINIMAL);
        let loaded = load(&path).unwrap();
        assert_eq!(loaded.province.windows, WindowPolicy::default());
        assert_eq!(loaded.province.tz, chrono_tz::Asia::Ho_Chi_Minh);
        let ids: Vec<_> = loaded
            .province
            .devices()
            .map(|d| d.id.to_string())
            .collect();
        assert_eq!(ids, ["25000-LS-01", "25000-LS-02"]);
    }

    #[test]
    fn the_environment_overrides_the_file() {
        let (_dir, path) = write(&format!("data_dir = \"from-file\"\n{MINIMAL}"));
        let from_file = HubConfig::load_with_env(&path, |_| None).unwrap();
        assert_eq!(from_file.data_dir, PathBuf::from("from-file"));
        let overridden = HubConfig::load_with_env(&path, |name| {
            (name == ENV_DATA_DIR).then(|| "from-env".into())
        })
        .unwrap();
        assert_eq!(overridden.data_dir, PathBuf::from("from-env"));
    }

    #[test]
    fn mistakes_are_reported_with_file_and_place() {
        let cases = [
            (
                MINIMAL.replace("loudspeakers", "loudspeekers"),
                "unknown field `loudspeekers`",
            ),
            (
                MINIMAL.replace("\"25000\"\n", "\"25000\"\n        district = \"999\"\n"),
                "communes[0] (25000): district 999 is not listed",
            ),
            (
                format!("{MINIMAL}\n[windows]\nloudspeaker = [\"06:30-05:00\"]"),
                "must end after it starts",
            ),
            (MINIMAL.replace("\"68\"", "\"6 8\""), "invalid area code"),
        ];
        for (text, expected) in cases {
            let (_dir, path) = write(&text);
            let err = load(&path).err().expect("must be refused").to_string();
            assert!(err.contains(expected), "expected {expected:?} in: {err}");
            assert!(err.contains("p.toml"), "the file is named: {err}");
        }
    }

    #[test]
    fn an_invalid_bulletin_names_its_index_and_id() {
        let text = format!(
            r#"{MINIMAL}
            [[bulletins]]
            id = "x"
            title = "T"
            category = "other"
            level = "commune"
            issuer = "25000"
            priority = "priority"
            targets = ["68"]
            not_before = "2026-11-23T00:00:00+07:00"
            expires = "2026-11-24T00:00:00+07:00"
              [[bulletins.variants]]
              language = "vi"
              audio = {{ secs = 60 }}
            "#
        );
        let (_dir, path) = write(&text);
        let err = load(&path).err().unwrap().to_string();
        assert!(err.contains("bulletins[0] (x)"), "{err}");
        assert!(
            err.contains("target 68 lies outside the issuing area 25000"),
            "{err}"
        );
    }

    /// MINIMAL with one commune bulletin whose vi variant has `audio`.
    fn with_audio(audio: &str) -> String {
        format!(
            r#"{MINIMAL}
            [[bulletins]]
            id = "x"
            title = "T"
            category = "other"
            level = "commune"
            issuer = "25000"
            priority = "priority"
            targets = ["25000"]
            not_before = "2026-11-23T00:00:00+07:00"
            expires = "2026-11-24T00:00:00+07:00"
              [[bulletins.variants]]
              language = "vi"
              audio = {audio}
            "#
        )
    }

    #[test]
    fn recordings_and_speech_become_audio_to_ingest() {
        let (dir, path) = write(&with_audio(r#"{ file = "rec/tin.wav" }"#));
        let loaded = load(&path).unwrap();
        assert_eq!(
            loaded.audio,
            [AudioJob {
                bulletin: BulletinId::parse("x").unwrap(),
                language: Language::vietnamese(),
                input: AudioInput::File(dir.path().join("rec/tin.wav")),
                declared_secs: None,
            }],
            "the file is relative to the configuration file"
        );
        let (_dir, path) = write(&with_audio(r#"{ speech = "Xin chào", secs = 30 }"#));
        let loaded = load(&path).unwrap();
        assert_eq!(loaded.audio[0].input, AudioInput::Speech("Xin chào".into()));
        assert_eq!(loaded.audio[0].declared_secs, Some(30));
        let (_dir, path) = write(&with_audio("{ secs = 30 }"));
        assert!(
            load(&path).unwrap().audio.is_empty(),
            "nothing to ingest yet"
        );
    }

    #[test]
    fn pictures_and_videos_become_board_files_to_ingest() {
        let visual = |v: &str| {
            with_audio("{ secs = 5 }").replace("audio = { secs = 5 }", &format!("visual = {v}"))
        };
        let (dir, path) = write(&visual(
            r#"{ kind = "image", file = "img/a.png", secs = 20, text = "Chú thích" }"#,
        ));
        let loaded = load(&path).unwrap();
        assert_eq!(
            loaded.visuals,
            [VisualJob {
                bulletin: BulletinId::parse("x").unwrap(),
                language: Language::parse("vi").unwrap(),
                kind: VisualKind::Image,
                file: dir.path().join("img/a.png"),
            }]
        );
        assert_eq!((loaded.board.width(), loaded.board.height()), (384, 192));
        let (_dir, path) = write(&visual(r#"{ kind = "video", file = "v.mp4" }"#));
        assert_eq!(
            load(&path).unwrap().visuals.len(),
            1,
            "a video's slot is its length"
        );
        for (entry, expected) in [
            (
                r#"{ kind = "text", secs = 5, text = "t", file = "a.png" }"#,
                "a text part shows no file",
            ),
            (
                r#"{ kind = "image", file = "a.png" }"#,
                "the visual part needs secs",
            ),
        ] {
            let (_dir, path) = write(&visual(entry));
            let err = load(&path).err().expect("refused").to_string();
            assert!(err.contains(expected), "expected {expected:?} in: {err}");
        }
        let (_dir, path) = write(&format!(
            "{}
[boards]
width = 0
height = 10
",
            with_audio("{ secs = 5 }")
        ));
        let err = load(&path).err().expect("refused").to_string();
        assert!(err.contains("boards"), "{err}");
    }

    #[test]
    fn audio_without_a_length_or_with_two_sources_is_refused() {
        for (audio, expected) in [
            ("{ }", "variant vi: audio needs secs"),
            (
                r#"{ speech = "a", file = "b.wav" }"#,
                "variant vi: audio has both speech and file",
            ),
        ] {
            let (_dir, path) = write(&with_audio(audio));
            let err = load(&path).err().expect("refused").to_string();
            assert!(err.contains("bulletins[0] (x)"), "{err}");
            assert!(err.contains(expected), "expected {expected:?} in: {err}");
        }
    }

    #[test]
    fn the_environment_overrides_the_http_settings() {
        let (_dir, path) = write(MINIMAL);
        let config = HubConfig::load_with_env(&path, |name| match name {
            ENV_MEDIA_LISTEN => Some("127.0.0.1:0".into()),
            ENV_API_LISTEN => Some("127.0.0.1:0".into()),
            ENV_PUBLIC_MEDIA_URL => Some("https://media.example".into()),
            _ => None,
        })
        .unwrap();
        assert_eq!(config.link.media_listen.port(), 0);
        assert_eq!(config.api.listen.port(), 0);
        assert_eq!(
            config.link.public_media_url.as_deref(),
            Some("https://media.example")
        );
        let err = HubConfig::load_with_env(&path, |name| {
            (name == ENV_MEDIA_LISTEN).then(|| "nowhere".into())
        })
        .err()
        .unwrap()
        .to_string();
        assert!(err.contains("HUB_MEDIA_LISTEN"), "{err}");
    }

    #[test]
    fn media_certificates_are_found_beside_the_file_or_where_the_environment_says() {
        let (dir, path) = write(&format!(
            "{MINIMAL}\n[link]\nmedia_tls = {{ cert = \"tls/media.pem\", key = \"tls/media.key\" }}\n"
        ));
        let tls = HubConfig::load_with_env(&path, |_| None)
            .unwrap()
            .link
            .media_tls
            .unwrap();
        assert_eq!(tls.cert, dir.path().join("tls/media.pem"));
        assert_eq!(tls.key, dir.path().join("tls/media.key"));
        let tls = HubConfig::load_with_env(&path, |name| {
            (name == ENV_MEDIA_TLS_CA).then(|| "ca.pem".into())
        })
        .unwrap()
        .link
        .media_tls
        .unwrap();
        assert_eq!(tls.ca, Some(PathBuf::from("ca.pem")));

        let (_dir, plain) = write(MINIMAL);
        let err = HubConfig::load_with_env(&plain, |name| {
            (name == ENV_MEDIA_TLS_CERT).then(|| "media.pem".into())
        })
        .err()
        .unwrap()
        .to_string();
        assert!(
            err.contains("link.media_tls") && err.contains("HUB_MEDIA_TLS_KEY"),
            "{err}"
        );
    }
}
