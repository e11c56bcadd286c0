//! From scheduler decisions to device commands, as few as possible.
//!
//! Every command goes to a commune topic and names its devices, so devices of
//! one commune that must hear the same thing share one command: a bulletin
//! for a whole province is one publish per commune, not one per device.
//!
//! A loudspeaker's plan carries the first part of each emergency's file
//! inline (`MediaRef::head`, always, whether or not a device holds the
//! file: the hub does not track device caches and commands are shared), so
//! a device lacking the file starts at once and fetches only the rest.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use chrono::{DateTime, NaiveDate, Utc};
use hub_core::{
    AiringKey, AreaCode, AudioSource, Decision, Device, DeviceId, DeviceKind, Horizon, PlanItem,
    Programme, Scheduler, StopReason, Variant,
};
use hub_proto::media::media_path;
use hub_proto::{Class, Directive, MediaRef, Part, PlanEntry};

/// Bytes of inlined heads (base64) one command carries at most: with a
/// plan's other entries and the device list, far under the devices' 256 KiB
/// command limit (`MAX_COMMAND_BYTES`). Heads past it are left out, later
/// entries first; their devices download the whole file as before.
pub const MAX_INLINE_HEAD_BYTES: usize = 64 * 1024;

/// A round whose commands make the broker deliver at least this many bytes
/// asks the devices to spread their reports (`Command::report_spread_ms`):
/// 800 devices given an emergency's inline head, or 12,500 given small
/// commands. Even 1,000 devices' acks and reports arriving at once held up
/// the last loudspeakers' start of an emergency (`hub-bench emergency
/// --devices 1000`: p99 53–70 ms with them at once, 32–39 ms spread, in 5
/// interleaved pairs of runs); a round of small commands to 10,000 devices
/// is delivered quickly enough that reports arriving at once do not hold it
/// up (`hub-bench fanout`).
const SPREAD_REPORTS_FROM_BYTES: usize = 6 * 1024 * 1024;
/// A command's bytes besides its inline heads, about: envelope, signature,
/// a plan entry, the device ids.
const COMMAND_BYTES_BESIDES_HEADS: usize = 500;
/// The spread asked per byte delivered: one millisecond per 32 KiB, so an
/// emergency with its head to 10,000 loudspeakers (about 80 MB) is reported
/// over 1.2 to 2.4 s after the command, once the broker has delivered it
/// everywhere (about 0.5 s on two cores).
const SPREAD_BYTES_PER_MS: usize = 32 * 1024;
/// The spread asked at least and at most: at most 3 s keeps a delivery's
/// acknowledgement well inside `link.ack_timeout_secs` and the operator's
/// emergency status a few seconds behind the loudspeakers at worst.
const SPREAD_MS_RANGE: (usize, usize) = (500, 3_000);

/// How widely devices should spread their reports of a round of
/// `commands`; `None` when the round is small.
pub fn report_spread_ms(commands: &[Outbound]) -> Option<u32> {
    report_spread_for(commands.iter().map(Outbound::delivered_bytes).sum())
}

/// How widely devices should spread their reports of a round whose commands
/// make the broker deliver `bytes`; `None` when that is little.
pub fn report_spread_for(bytes: usize) -> Option<u32> {
    (bytes >= SPREAD_REPORTS_FROM_BYTES).then(|| {
        let ms = (bytes / SPREAD_BYTES_PER_MS).clamp(SPREAD_MS_RANGE.0, SPREAD_MS_RANGE.1);
        u32::try_from(ms).unwrap_or(u32::MAX)
    })
}

/// One command to sign and publish on `commune`'s downlink topic.
#[derive(Clone, Debug, PartialEq)]
pub struct Outbound {
    pub commune: AreaCode,
    /// With `commune`, the topic: devices of one kind share plans.
    pub kind: DeviceKind,
    pub to: Vec<DeviceId>,
    pub directive: Directive,
    /// The airings it delivers (a schedule's entries), for the delivery state.
    pub airings: Vec<AiringKey>,
}

impl Outbound {
    /// About how many bytes the broker delivers for this command: its size,
    /// inline heads and all, times the devices it is for (each reads it from
    /// the commune's topic).
    fn delivered_bytes(&self) -> usize {
        let heads: usize = self
            .directive
            .entries()
            .iter()
            .filter_map(|entry| entry.media.as_ref()?.head.as_ref())
            .map(|head| head.len())
            .sum();
        self.to.len() * (COMMAND_BYTES_BESIDES_HEADS + heads)
    }
}

/// What must be sent after a round of events.
pub struct Round<'a> {
    pub scheduler: &'a Scheduler,
    pub now: DateTime<Utc>,
    pub decisions: &'a [Decision],
    /// Devices that said hello: they get their settings and full plan.
    pub hellos: &'a BTreeSet<DeviceId>,
    pub volume: u8,
    /// What media URLs start with (the media server's public address).
    pub media_base: &'a str,
}

impl Round<'_> {
    /// The commands of this round, for devices that `online` says can hear them.
    pub fn commands(&self, online: impl Fn(&DeviceId) -> bool) -> Vec<Outbound> {
        let mut out = self.configs(&online);
        // Cuts go out before the plans: a new plan no longer holds an airing
        // an emergency cut, and a device reading it first would stop that
        // airing (as if the hub had withdrawn it) instead of reporting it
        // preempted.
        out.extend(self.cuts(&online));
        out.extend(self.schedules(&online));
        out
    }

    /// Settings for the devices that said hello, one command per commune and kind.
    fn configs(&self, online: impl Fn(&DeviceId) -> bool) -> Vec<Outbound> {
        let province = self.scheduler.province();
        let mut configs: BTreeMap<(&AreaCode, DeviceKind), Vec<DeviceId>> = BTreeMap::new();
        for id in self.hellos.iter().filter(|id| online(id)) {
            if let Ok(device) = province.device(id) {
                configs
                    .entry((&device.commune, device.kind))
                    .or_default()
                    .push(id.clone());
            }
        }
        configs
            .into_iter()
            .map(|((commune, kind), to)| {
                let windows = province.windows_for(commune, kind).windows();
                Outbound {
                    directive: Directive::Config {
                        volume: self.volume,
                        windows: windows.iter().map(ToString::to_string).collect(),
                    },
                    commune: commune.clone(),
                    kind,
                    to,
                    airings: Vec::new(),
                }
            })
            .collect()
    }

    /// Preemptions and stops; devices of a commune and kind given the same
    /// one share a command.
    fn cuts(&self, online: impl Fn(&DeviceId) -> bool) -> Vec<Outbound> {
        let province = self.scheduler.province();
        let mut cuts: BTreeMap<(&AreaCode, DeviceKind), Vec<Outbound>> = BTreeMap::new();
        for decision in self.decisions {
            let (device, directive) = match decision {
                Decision::Preempt {
                    device,
                    stopped,
                    by,
                    ..
                } => (
                    device,
                    Directive::Preempt {
                        stopped: stopped.to_wire(),
                        by: by.to_wire(),
                    },
                ),
                Decision::Stop {
                    device,
                    key,
                    reason,
                    ..
                } => (
                    device,
                    Directive::Stop {
                        airing: key.to_wire(),
                        reason: match reason {
                            StopReason::Cancelled => hub_proto::StopReason::Cancelled,
                            StopReason::Expired => hub_proto::StopReason::Expired,
                        },
                    },
                ),
                _ => continue,
            };
            if !online(device) {
                continue;
            }
            if let Ok(d) = province.device(device) {
                let shared = cuts.entry((&d.commune, d.kind)).or_default();
                match shared.iter_mut().find(|o| o.directive == directive) {
                    Some(outbound) => outbound.to.push(device.clone()),
                    None => shared.push(Outbound {
                        commune: d.commune.clone(),
                        kind: d.kind,
                        to: vec![device.clone()],
                        directive,
                        airings: Vec::new(),
                    }),
                }
            }
        }
        cuts.into_values().flatten().collect()
    }

    /// The whole remaining plan of every device whose plan changed or that
    /// said hello; devices of a commune and kind with equal plans share a
    /// command. Plans are compared as plan items, which map one to one to a
    /// kind's wire entries: each distinct plan is built once, and nothing is
    /// serialised to compare them.
    fn schedules(&self, online: impl Fn(&DeviceId) -> bool) -> Vec<Outbound> {
        let province = self.scheduler.province();
        let mut replanned: BTreeSet<&DeviceId> = self.hellos.iter().collect();
        for decision in self.decisions {
            if let Decision::Play { device, .. } | Decision::Withdraw { device, .. } = decision {
                replanned.insert(device);
            }
        }
        let date = Horizon::new(self.now, province.tz).date;
        // Per commune and kind: each distinct plan, with its command.
        type Shared<'p> = Vec<(Vec<&'p PlanItem>, Outbound)>;
        let mut schedules: BTreeMap<(&AreaCode, DeviceKind), Shared> = BTreeMap::new();
        for id in replanned.into_iter().filter(|id| online(id)) {
            let Ok(device) = province.device(id) else {
                continue;
            };
            let items: Vec<&PlanItem> = self
                .scheduler
                .plan(id)
                .iter()
                .filter(|i| i.end > self.now)
                .collect();
            let shared = schedules.entry((&device.commune, device.kind)).or_default();
            match shared.iter_mut().find(|(plan, _)| *plan == items) {
                Some((_, outbound)) => outbound.to.push(id.clone()),
                None => {
                    let outbound = self.schedule(device, &items, date);
                    shared.push((items, outbound));
                }
            }
        }
        schedules
            .into_values()
            .flatten()
            .map(|(_, outbound)| outbound)
            .collect()
    }

    /// The command giving `device` the plan `items` for `date`.
    fn schedule(&self, device: &Device, items: &[&PlanItem], date: NaiveDate) -> Outbound {
        let programme = self.scheduler.programme();
        let mut entries: Vec<PlanEntry> = items
            .iter()
            .map(|i| wire_entry(programme, i, device.kind, self.media_base))
            .collect();
        if device.kind == DeviceKind::Loudspeaker {
            inline_heads(&mut entries, crate::media::store::head);
        }
        Outbound {
            commune: device.commune.clone(),
            kind: device.kind,
            to: vec![device.id.clone()],
            directive: Directive::Schedule { date, entries },
            airings: items.iter().map(|i| i.key.clone()).collect(),
        }
    }
}

/// `item` as a device of `kind` gets it: a board's entry carries the text
/// its bulletin variant shows (the whole text, or a picture's or video's
/// caption) and the picture or video to fetch from `media_base` (and a
/// video's SRT subtitles, if it has some); a loudspeaker's carries the
/// stored audio to fetch.
pub fn wire_entry(
    programme: &Programme,
    item: &PlanItem,
    kind: DeviceKind,
    media_base: &str,
) -> PlanEntry {
    let mut entry = item.to_entry(kind);
    let variant = variant_of(programme, &item.key);
    match kind {
        DeviceKind::LedBoard => {
            let visual = variant.and_then(|v| v.visual.as_ref());
            entry.text = visual.and_then(|v| v.text.clone());
            let stored = visual.and_then(|v| v.media.as_ref());
            entry.media = stored.map(|stored| media_ref(media_base, &stored.sha256, stored.size));
            entry.subtitles = stored
                .and_then(|stored| stored.subtitles.as_ref())
                .map(|srt| media_ref(media_base, &srt.sha256, srt.size));
        }
        DeviceKind::Loudspeaker => {
            let audio = variant.and_then(|v| v.audio.as_ref());
            // Live speech has no file: its chunks arrive as it plays.
            if audio.is_some_and(|a| a.source == AudioSource::Live) {
                entry.part = Part::Live;
            }
            entry.media = audio
                .and_then(|a| a.media.as_ref())
                .map(|stored| media_ref(media_base, &stored.sha256, stored.size));
        }
    }
    // An emergency is due now: a device lacking its file plays the verified
    // beginning while the rest arrives.
    if entry.class == hub_proto::Class::Emergency {
        if let Some(media) = &mut entry.media {
            media.chunks = crate::media::store::chunks(&media.sha256);
        }
    }
    entry
}

/// Puts the first part of each emergency audio file, as `head_of` gives it
/// (base64), into its entry, soonest first, within [`MAX_INLINE_HEAD_BYTES`].
fn inline_heads(entries: &mut [PlanEntry], head_of: impl Fn(&str) -> Option<Arc<str>>) {
    let mut budget = MAX_INLINE_HEAD_BYTES;
    let emergencies = entries
        .iter_mut()
        .filter(|e| e.class == Class::Emergency && e.part == Part::Audio);
    for entry in emergencies {
        let Some(media) = entry.media.as_mut().filter(|m| !m.chunks.is_empty()) else {
            continue;
        };
        let Some(head) = head_of(&media.sha256).filter(|head| head.len() <= budget) else {
            continue;
        };
        budget -= head.len();
        media.head = Some(head);
    }
}

/// Where a device fetches a stored file.
fn media_ref(media_base: &str, sha256: &str, size: u64) -> MediaRef {
    MediaRef {
        url: format!("{media_base}{}", media_path(sha256)),
        sha256: sha256.to_owned(),
        size,
        chunks: Default::default(),
        head: None,
    }
}

/// The airing's bulletin variant.
fn variant_of<'a>(programme: &'a Programme, key: &AiringKey) -> Option<&'a Variant> {
    programme
        .bulletin(&key.bulletin)
        .ok()?
        .variants
        .iter()
        .find(|v| v.language == key.language)
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use hub_core::testkit::*;
    use hub_core::{AreaLevel, Device, Event, Province, Receipt, Report, WindowPolicy};

    use super::*;

    const MEDIA_BASE: &str = "http://hub.test:8080";

    #[test]
    fn only_a_round_delivering_many_bytes_spreads_their_reports() {
        // One commune's command to `devices` loudspeakers, with an inline
        // head of `head` bytes or none.
        let command = |devices: usize, head: Option<usize>| {
            let at = local("2026-11-23 10:00");
            let entry = PlanEntry {
                bulletin: "flood".into(),
                occurrence: 0,
                language: "vi".into(),
                class: Class::Emergency,
                part: Part::Audio,
                start: at,
                end: at,
                preempted: false,
                media: Some(MediaRef {
                    sha256: "a".repeat(64),
                    size: 10,
                    url: String::new(),
                    chunks: Default::default(),
                    head: head.map(|size| "A".repeat(size).into()),
                }),
                subtitles: None,
                text: None,
            };
            Outbound {
                commune: code("24611"),
                kind: DeviceKind::Loudspeaker,
                to: (0..devices)
                    .map(|i| device_id(&format!("24611-LS-{i:05}")))
                    .collect(),
                directive: Directive::Play { entry },
                airings: Vec::new(),
            }
        };
        // Small commands to 10,000 devices: reported at once.
        assert_eq!(report_spread_ms(&[command(10_000, None)]), None);
        // An emergency's 7.5 KB head to 500 devices: at once; to 1,000
        // devices in 50 communes: spread over the least, half a second.
        assert_eq!(report_spread_ms(&[command(500, Some(7_500))]), None);
        let district = vec![command(20, Some(7_500)); 50];
        assert_eq!(report_spread_ms(&district), Some(500));
        // To 10,000 devices in 500 communes: spread over 2.4 s.
        let province = vec![command(20, Some(7_500)); 500];
        assert_eq!(report_spread_ms(&province), Some(2_441));
        // Bounded: a spread never runs past 3 s.
        assert_eq!(
            report_spread_ms(&[command(100_000, Some(7_500))]),
            Some(3_000)
        );
    }

    /// Two loudspeakers and a board in 24611, one loudspeaker in 24612 and 24700.
    fn province() -> Province {
        let device = |id: &str, kind| Device {
            id: device_id(id),
            kind,
            commune: code(&id[..5]),
            name: id.into(),
        };
        Province::new(
            TZ,
            tree_three_tier(),
            WindowPolicy::default(),
            [],
            [
                device("24611-LS-01", DeviceKind::Loudspeaker),
                device("24611-LS-02", DeviceKind::Loudspeaker),
                device("24611-LB-01", DeviceKind::LedBoard),
                device("24612-LS-01", DeviceKind::Loudspeaker),
                device("24700-LS-01", DeviceKind::Loudspeaker),
            ],
        )
        .unwrap()
    }

    fn scheduler_with_flood() -> (Scheduler, Vec<Decision>, DateTime<Utc>) {
        let province = province();
        let programme = programme(&province, []);
        let mut scheduler = Scheduler::new(province, programme, BTreeMap::new());
        let now = local("2026-11-23 10:00");
        scheduler.handle(now, Event::Tick).unwrap();
        let flood = emergency(
            "lu",
            AreaLevel::Province,
            "67",
            &["660"],
            "2026-11-23 10:00",
        );
        let decisions = scheduler.handle(now, Event::Queue(flood)).unwrap();
        (scheduler, decisions, now)
    }

    /// The commands for `decisions` when 24612-LS-01 is offline.
    fn commands_with_24612_offline(
        scheduler: &Scheduler,
        now: DateTime<Utc>,
        decisions: &[Decision],
    ) -> Vec<Outbound> {
        let round = Round {
            scheduler,
            now,
            decisions,
            hellos: &BTreeSet::new(),
            volume: 80,
            media_base: MEDIA_BASE,
        };
        round.commands(|id| id.as_str() != "24612-LS-01")
    }

    fn ids(to: &[DeviceId]) -> Vec<&str> {
        to.iter().map(|d| d.as_str()).collect()
    }

    #[test]
    fn devices_with_the_same_plan_share_one_command_per_commune() {
        let (scheduler, decisions, now) = scheduler_with_flood();
        let commands = commands_with_24612_offline(&scheduler, now, &decisions);
        let mut sent: Vec<(&str, Vec<&str>)> = commands
            .iter()
            .map(|c| (c.commune.as_str(), ids(&c.to)))
            .collect();
        sent.sort();
        assert_eq!(
            sent,
            [
                ("24611", vec!["24611-LB-01"]),
                ("24611", vec!["24611-LS-01", "24611-LS-02"]),
            ],
            "one command per commune and plan; offline 24612 and untargeted 24700 get none"
        );
        for command in &commands {
            let Directive::Schedule { entries, .. } = &command.directive else {
                panic!("expected a schedule, got {:?}", command.directive);
            };
            assert_eq!(entries.len(), 1);
            assert_eq!(entries[0].bulletin, "lu");
            assert_eq!(command.airings.len(), 1);
        }
    }

    #[test]
    fn devices_of_a_commune_with_different_plans_get_one_command_each() {
        let (mut scheduler, _, now) = scheduler_with_flood();
        let heard = Receipt {
            device: device_id("24611-LS-01"),
            key: AiringKey {
                bulletin: bid("lu"),
                occurrence: 0,
                language: lang("vi"),
            },
            report: Report::Finished,
            at: now,
        };
        scheduler.handle(now, Event::Receipt(heard)).unwrap();
        let commands = hello_round(&scheduler, now, &["24611-LS-01", "24611-LS-02"], 80);
        let schedules: Vec<(Vec<&str>, usize)> = commands
            .iter()
            .filter_map(|c| match &c.directive {
                Directive::Schedule { entries, .. } => Some((ids(&c.to), entries.len())),
                _ => None,
            })
            .collect();
        assert_eq!(
            schedules,
            [(vec!["24611-LS-01"], 0), (vec!["24611-LS-02"], 1)],
            "the one that played the flood warning has nothing left to play"
        );
    }

    /// The commands of a round in which `devices` said hello.
    fn hello_round(
        scheduler: &Scheduler,
        now: DateTime<Utc>,
        devices: &[&str],
        volume: u8,
    ) -> Vec<Outbound> {
        let hellos: BTreeSet<DeviceId> = devices.iter().map(|d| device_id(d)).collect();
        let round = Round {
            scheduler,
            now,
            decisions: &[],
            hellos: &hellos,
            volume,
            media_base: MEDIA_BASE,
        };
        round.commands(|_| true)
    }

    #[test]
    fn a_hello_brings_settings_and_the_full_plan() {
        let (scheduler, _, now) = scheduler_with_flood();
        let commands = hello_round(&scheduler, now, &["24611-LS-01"], 65);
        assert_eq!(commands.len(), 2, "{commands:?}");
        assert_eq!(
            commands[0].directive,
            Directive::Config {
                volume: 65,
                windows: vec!["05:00-06:30".into(), "17:00-18:30".into()],
            }
        );
        assert!(
            matches!(&commands[1].directive, Directive::Schedule { entries, .. } if entries.len() == 1)
        );
        assert_eq!(ids(&commands[1].to), ["24611-LS-01"]);
    }

    #[test]
    fn boards_get_the_text_of_their_variant_and_loudspeakers_none() {
        let province = province();
        let mut flood = emergency(
            "lu",
            AreaLevel::Province,
            "67",
            &["660"],
            "2026-11-23 10:00",
        );
        let mut ede = flood.variants[0].clone();
        ede.language = lang("ede");
        ede.visual.as_mut().unwrap().text = Some("Hlăm êa lik".into());
        flood.variants[0].visual.as_mut().unwrap().text =
            Some("Cảnh báo lũ quét: sơ tán ngay".into());
        flood.variants.insert(0, ede);
        let programme = programme(&province, [flood]);
        let mut scheduler = Scheduler::new(province, programme, BTreeMap::new());
        let now = local("2026-11-23 10:00");
        scheduler.handle(now, Event::Tick).unwrap();
        let commands = hello_round(&scheduler, now, &["24611-LB-01", "24611-LS-01"], 80);
        let plan_of = |device: &str| {
            commands
                .iter()
                .filter(|c| ids(&c.to).contains(&device))
                .find_map(|c| match &c.directive {
                    Directive::Schedule { entries, .. } => Some(entries.clone()),
                    _ => None,
                })
                .unwrap_or_else(|| panic!("no schedule for {device}: {commands:?}"))
        };
        let board = plan_of("24611-LB-01");
        let shown: Vec<(&str, Option<&str>)> = board
            .iter()
            .map(|e| (e.language.as_str(), e.text.as_deref()))
            .collect();
        assert_eq!(
            shown,
            [("vi", Some("Cảnh báo lũ quét: sơ tán ngay"))],
            "24611 broadcasts in Vietnamese only: the text of the vi variant, not the first"
        );
        let speaker = plan_of("24611-LS-01");
        assert!(!speaker.is_empty());
        assert!(speaker.iter().all(|e| e.text.is_none()), "{speaker:?}");
        assert!(
            speaker.iter().all(|e| e.media.is_none()),
            "no audio is stored yet: {speaker:?}"
        );
        assert!(board.iter().all(|e| e.media.is_none()), "{board:?}");
    }

    #[test]
    fn loudspeakers_get_the_stored_audio_of_their_variant() {
        let province = province();
        let mut flood = emergency(
            "lu",
            AreaLevel::Province,
            "67",
            &["660"],
            "2026-11-23 10:00",
        );
        let sha256 = "0f".repeat(32);
        let audio = flood.variants[0].audio.as_mut().unwrap();
        audio.media = Some(hub_core::StoredAudio {
            sha256: sha256.clone(),
            size: 48_213,
            duration_ms: 59_400,
        });
        let programme = programme(&province, [flood]);
        let mut scheduler = Scheduler::new(province, programme, BTreeMap::new());
        let now = local("2026-11-23 10:00");
        scheduler.handle(now, Event::Tick).unwrap();
        let item = scheduler.plan(&device_id("24611-LS-01"))[0].clone();
        let entry = wire_entry(
            scheduler.programme(),
            &item,
            DeviceKind::Loudspeaker,
            MEDIA_BASE,
        );
        assert_eq!(
            entry.media,
            Some(MediaRef {
                url: format!("{MEDIA_BASE}/media/v1/{sha256}"),
                sha256,
                size: 48_213,
                chunks: Default::default(),
                head: None,
            })
        );
        let board = wire_entry(
            scheduler.programme(),
            &item,
            DeviceKind::LedBoard,
            MEDIA_BASE,
        );
        assert_eq!(board.media, None, "boards show the visual part");
    }

    /// Whole Ogg pages, `pages` of them with 3,000 bytes of body each, unique by `fill`.
    fn ogg_pages(pages: usize, fill: u8) -> Vec<u8> {
        let mut page = b"OggS".to_vec();
        page.extend_from_slice(&[0; 22]);
        page.push(12);
        page.extend_from_slice(&[250; 12]);
        page.extend(std::iter::repeat_n(fill, 3_000));
        page.repeat(pages)
    }

    #[test]
    fn emergency_plans_of_loudspeakers_carry_the_first_part_inline() {
        let dir = tempfile::tempdir().unwrap();
        let store = hub_store::Store::open(&dir.path().join("db")).unwrap();
        let media = crate::media::MediaStore::open(dir.path(), store).unwrap();
        let bytes = ogg_pages(12, 0x5a);
        let sha256 = hub_proto::media::sha256_hex(&bytes);
        let facts = hub_store::MediaFacts {
            sha256: sha256.clone(),
            kind: hub_store::MediaKind::OggOpus,
            size: bytes.len() as u64,
            duration_ms: 12_000,
            loudness: None,
            input: None,
            picture: None,
            created: "2026-11-23T00:00:00Z".parse().unwrap(),
        };
        media.put(&bytes, &facts).unwrap();

        let province = province();
        let mut flood = emergency(
            "lu",
            AreaLevel::Province,
            "67",
            &["660"],
            "2026-11-23 10:00",
        );
        flood.variants[0].audio.as_mut().unwrap().media = Some(hub_core::StoredAudio {
            sha256: sha256.clone(),
            size: bytes.len() as u64,
            duration_ms: 12_000,
        });
        let programme = programme(&province, [flood]);
        let mut scheduler = Scheduler::new(province, programme, BTreeMap::new());
        let now = local("2026-11-23 10:00");
        scheduler.handle(now, Event::Tick).unwrap();
        let commands = hello_round(&scheduler, now, &["24611-LS-01", "24611-LB-01"], 80);
        let media_of = |device: &str| {
            commands
                .iter()
                .filter(|c| ids(&c.to).contains(&device))
                .find_map(|c| match &c.directive {
                    Directive::Schedule { entries, .. } => Some(entries[0].media.clone()),
                    _ => None,
                })
                .unwrap_or_else(|| panic!("no schedule for {device}"))
        };
        let speaker = media_of("24611-LS-01").expect("the audio is stored");
        let first = speaker.chunks[0].size as usize;
        assert_eq!(first, 2 * 3_039, "the first part is small");
        assert_eq!(
            hub_proto::media::head_bytes(&speaker),
            Some(Ok(bytes[..first].to_vec())),
            "the head is the first part"
        );
        assert_eq!(media_of("24611-LB-01"), None, "boards show the visual part");
    }

    #[test]
    fn heads_are_inlined_for_emergency_audio_only_and_within_the_budget() {
        let entry = |bulletin: &str, class, part, chunked: bool| {
            let chunks = if chunked {
                vec![hub_proto::MediaChunk {
                    size: 10,
                    sha256: bulletin.repeat(64),
                }]
            } else {
                Vec::new()
            };
            let at = local("2026-11-23 10:00");
            PlanEntry {
                bulletin: bulletin.into(),
                occurrence: 0,
                language: "vi".into(),
                class,
                part,
                start: at,
                end: at,
                preempted: false,
                media: Some(MediaRef {
                    sha256: bulletin.repeat(64),
                    size: 10,
                    url: String::new(),
                    chunks: chunks.into(),
                    head: None,
                }),
                subtitles: None,
                text: None,
            }
        };
        let mut entries = vec![
            entry("a", Class::Emergency, Part::Audio, true),
            entry("b", Class::Normal, Part::Audio, true),
            entry("c", Class::Emergency, Part::Visual, true),
            entry("d", Class::Emergency, Part::Audio, false),
            entry("e", Class::Emergency, Part::Audio, true),
            entry("f", Class::Emergency, Part::Audio, true),
        ];
        // Each head takes 40 % of the budget: the third one is left out.
        let size = MAX_INLINE_HEAD_BYTES * 2 / 5;
        inline_heads(&mut entries, |sha256| Some(sha256[..1].repeat(size).into()));
        let inlined: Vec<(&str, usize)> = entries
            .iter()
            .filter_map(|e| Some((e.bulletin.as_str(), e.media.as_ref()?.head.as_ref()?.len())))
            .collect();
        assert_eq!(inlined, [("a", size), ("e", size)]);
    }

    #[test]
    fn a_preemption_goes_out_before_the_plan_that_follows_it() {
        let province = province();
        let programme = programme(
            &province,
            [priority("tin", AreaLevel::District, "660", 600)],
        );
        let mut scheduler = Scheduler::new(province, programme, BTreeMap::new());
        let now = local("2026-11-23 05:05");
        scheduler.handle(now, Event::Tick).unwrap();
        let flood = emergency(
            "lu",
            AreaLevel::Province,
            "67",
            &["660"],
            "2026-11-23 05:05",
        );
        let decisions = scheduler.handle(now, Event::Queue(flood)).unwrap();
        let commands = commands_with_24612_offline(&scheduler, now, &decisions);
        let to_speakers: Vec<&Directive> = commands
            .iter()
            .filter(|c| ids(&c.to).contains(&"24611-LS-01"))
            .map(|c| &c.directive)
            .collect();
        assert!(
            matches!(
                to_speakers.as_slice(),
                [Directive::Preempt { stopped, by }, Directive::Schedule { .. }]
                    if stopped.bulletin == "tin" && by.bulletin == "lu"
            ),
            "{to_speakers:?}"
        );
    }

    #[test]
    fn preemptions_and_stops_are_grouped_and_skip_offline_devices() {
        let (scheduler, _, now) = scheduler_with_flood();
        let key = |b: &str| AiringKey {
            bulletin: bid(b),
            occurrence: 0,
            language: lang("vi"),
        };
        let decisions: Vec<Decision> = ["24611-LS-01", "24611-LS-02", "24612-LS-01"]
            .into_iter()
            .map(|d| Decision::Stop {
                device: device_id(d),
                key: key("tin"),
                reason: StopReason::Cancelled,
                at: now,
            })
            .collect();
        let commands = commands_with_24612_offline(&scheduler, now, &decisions);
        assert_eq!(commands.len(), 1);
        assert_eq!(ids(&commands[0].to), ["24611-LS-01", "24611-LS-02"]);
        assert!(matches!(
            &commands[0].directive,
            Directive::Stop { airing, reason: hub_proto::StopReason::Cancelled } if airing.bulletin == "tin"
        ));
    }
}
