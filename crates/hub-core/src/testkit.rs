//! Builders for tests, here and in crates that depend on `hub-core` (enable
//! the `testkit` feature in their dev-dependencies): identifiers, a small
//! three-tier province and bulletins with exact local times. Test code only:
//! every builder panics on input it was not meant for.

use chrono::{DateTime, NaiveDateTime, Utc};
use chrono_tz::Tz;

use crate::*;

pub const TZ: Tz = chrono_tz::Asia::Ho_Chi_Minh;

/// An instant from local Vietnam time, `"2026-11-23 05:00"`.
pub fn local(text: &str) -> DateTime<Utc> {
    local_to_utc(
        NaiveDateTime::parse_from_str(text, "%Y-%m-%d %H:%M").unwrap(),
        TZ,
    )
}

pub fn code(c: &str) -> AreaCode {
    AreaCode::parse(c).unwrap()
}

pub fn lang(l: &str) -> Language {
    Language::parse(l).unwrap()
}

pub fn device_id(d: &str) -> DeviceId {
    DeviceId::parse(d).unwrap()
}

pub fn bid(b: &str) -> BulletinId {
    BulletinId::parse(b).unwrap()
}

/// An area named after its code.
pub fn area(code: &str, level: AreaLevel, parent: Option<&str>) -> Area {
    Area {
        code: AreaCode::parse(code).unwrap(),
        name: format!("Area {code}"),
        level,
        parent: parent.map(|p| AreaCode::parse(p).unwrap()),
    }
}

/// VN → 67 → districts 660 (communes 24611, 24612) and 661 (commune 24700).
pub fn tree_three_tier() -> AreaTree {
    AreaTree::new([
        area("VN", AreaLevel::Central, None),
        area("67", AreaLevel::Province, Some("VN")),
        area("660", AreaLevel::District, Some("67")),
        area("661", AreaLevel::District, Some("67")),
        area("24611", AreaLevel::Commune, Some("660")),
        area("24612", AreaLevel::Commune, Some("660")),
        area("24700", AreaLevel::Commune, Some("661")),
    ])
    .unwrap()
}

/// The three-tier tree with one loudspeaker (`<commune>-LS`) and one board
/// (`<commune>-LB`) per commune, default windows.
pub fn province() -> Province {
    let tree = tree_three_tier();
    let devices: Vec<Device> = tree
        .communes()
        .flat_map(|c| {
            [
                (DeviceKind::Loudspeaker, "LS"),
                (DeviceKind::LedBoard, "LB"),
            ]
            .map(|(kind, tag)| Device {
                id: device_id(&format!("{}-{tag}", c.code)),
                kind,
                commune: c.code.clone(),
                name: format!("{tag} {}", c.code),
            })
        })
        .collect();
    Province::new(TZ, tree, WindowPolicy::default(), [], devices).unwrap()
}

/// An approved bulletin valid 2026-11-23 00:00 to 2026-11-30 00:00, 10 minutes
/// of Vietnamese audio and 2 minutes of board text.
pub fn bulletin(
    id: &str,
    class: PriorityClass,
    level: AreaLevel,
    issuer: &str,
    targets: &[&str],
) -> Bulletin {
    Bulletin {
        id: bid(id),
        title: format!("Bulletin {id}"),
        category: Category::PolicyLaw,
        level,
        issuer: code(issuer),
        class,
        targets: targets.iter().map(|t| code(t)).collect(),
        validity: Validity {
            not_before: local("2026-11-23 00:00"),
            expires: local("2026-11-30 00:00"),
        },
        recurrence: None,
        variants: vec![Variant {
            language: lang("vi"),
            audio: Some(AudioPart {
                source: AudioSource::Recorded,
                secs: 600,
                media: None,
            }),
            visual: Some(VisualPart {
                kind: VisualKind::Text,
                secs: 120,
                text: Some("Thông báo".into()),
                media: None,
            }),
        }],
        sensitive: false,
        state: BulletinState::Approved,
        devices: None,
        corrects: None,
    }
}

/// Sets the audio length of every variant.
pub fn with_audio_secs(mut b: Bulletin, secs: u32) -> Bulletin {
    for v in &mut b.variants {
        if let Some(a) = v.audio.as_mut() {
            a.secs = secs;
        }
    }
    b
}

pub fn emergency(
    id: &str,
    issuer_level: AreaLevel,
    issuer: &str,
    targets: &[&str],
    from: &str,
) -> Bulletin {
    let mut b = bulletin(id, PriorityClass::Emergency, issuer_level, issuer, targets);
    b.category = Category::DisasterEmergency;
    b.validity.not_before = local(from);
    b.validity.expires = local(from) + chrono::TimeDelta::hours(6);
    b
}

/// A programme holding `bulletins`, validated against `province`.
pub fn programme(province: &Province, bulletins: impl IntoIterator<Item = Bulletin>) -> Programme {
    let mut programme = Programme::default();
    for b in bulletins {
        programme.insert_bulletin(province, b).unwrap();
    }
    programme
}

/// A plan as readable lines: `"05:00-05:10 id"` in local time, `lang` appended
/// when not Vietnamese, `cut` when preempted.
pub fn lines(items: &[PlanItem]) -> Vec<String> {
    items
        .iter()
        .map(|i| {
            let clock = |t: DateTime<Utc>| t.with_timezone(&TZ).format("%H:%M").to_string();
            let mut line = format!("{}-{} {}", clock(i.start), clock(i.end), i.key.bulletin);
            if i.key.language.as_str() != "vi" {
                line += &format!(" {}", i.key.language);
            }
            if i.key.occurrence > 0 {
                line += &format!(" #{}", i.key.occurrence);
            }
            if i.preempted {
                line += " cut";
            }
            line
        })
        .collect()
}

/// The plan of `device` with no history, as [`lines`].
pub fn plan_lines(
    province: &Province,
    programme: &Programme,
    device: &str,
    now: &str,
) -> Vec<String> {
    let device = province.device(&device_id(device)).unwrap();
    let horizon = Horizon::new(local(now), TZ);
    lines(&plan_device(
        province,
        programme,
        &device.commune,
        device.kind,
        Some(&device.id),
        &DeviceLog::default(),
        horizon,
    ))
}

/// The three-tier tree with a single device of `kind` (`<commune>-LS` or
/// `<commune>-LB`) in the commune that `settings` configures.
pub fn one_device_province(settings: CommuneSettings, kind: DeviceKind) -> Province {
    let tag = match kind {
        DeviceKind::Loudspeaker => "LS",
        DeviceKind::LedBoard => "LB",
    };
    let device = Device {
        id: device_id(&format!("{}-{tag}", settings.commune)),
        kind,
        commune: settings.commune.clone(),
        name: tag.into(),
    };
    Province::new(
        TZ,
        tree_three_tier(),
        WindowPolicy::default(),
        [settings],
        [device],
    )
    .unwrap()
}

/// An approved priority bulletin issued by `area` for `area`, `secs` of audio.
pub fn priority(id: &str, level: AreaLevel, area: &str, secs: u32) -> Bulletin {
    with_audio_secs(
        bulletin(id, PriorityClass::Priority, level, area, &[area]),
        secs,
    )
}
