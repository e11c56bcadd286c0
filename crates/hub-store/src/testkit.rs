//! Fixtures for the store's tests: a small province with both tree shapes,
//! a programme touching every record type, and a device history.

use chrono::{DateTime, NaiveDate, NaiveDateTime, NaiveTime, TimeZone, Utc};
pub use hub_core::testkit::{area, bid, bulletin, code, device_id, lang, TZ};
use hub_core::*;

use crate::DeviceHistory;

fn utc(y: i32, m: u32, d: u32, h: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(y, m, d, h, 0, 0).unwrap()
}

fn local(y: i32, m: u32, d: u32, h: u32, min: u32) -> NaiveDateTime {
    NaiveDate::from_ymd_opt(y, m, d)
        .unwrap()
        .and_hms_opt(h, min, 0)
        .unwrap()
}

/// VN → 67 → district 660 (communes 24611, 24612), and commune 24700
/// directly under the province (the post-2025 shape).
pub fn areas() -> Vec<Area> {
    vec![
        area("VN", AreaLevel::Central, None),
        area("67", AreaLevel::Province, Some("VN")),
        area("660", AreaLevel::District, Some("67")),
        area("24611", AreaLevel::Commune, Some("660")),
        area("24612", AreaLevel::Commune, Some("660")),
        area("24700", AreaLevel::Commune, Some("67")),
    ]
}

/// One loudspeaker (`<commune>-LS`) and one board (`<commune>-LB`) per commune.
pub fn devices() -> Vec<Device> {
    ["24611", "24612", "24700"]
        .into_iter()
        .flat_map(|c| {
            [
                (DeviceKind::Loudspeaker, "LS"),
                (DeviceKind::LedBoard, "LB"),
            ]
            .map(|(kind, tag)| Device {
                id: device_id(&format!("{c}-{tag}")),
                kind,
                commune: code(c),
                name: format!("{tag} {c}"),
            })
        })
        .collect()
}

fn daily(spans: &[&str]) -> DailyWindows {
    DailyWindows::new(spans.iter().map(|s| s.parse().unwrap()).collect()).unwrap()
}

/// Not the Article 10 defaults, so a lost policy would show.
pub fn windows() -> WindowPolicy {
    WindowPolicy {
        loudspeaker: daily(&["05:30-06:30", "17:00-18:00"]),
        led_board: daily(&["06:00-22:00"]),
    }
}

/// Commune 24700 speaks Ê Đê too and has its own loudspeaker hours.
pub fn commune_settings() -> Vec<CommuneSettings> {
    vec![CommuneSettings {
        commune: code("24700"),
        languages: vec![lang("vi"), lang("ede")],
        loudspeaker_windows: Some(daily(&["04:30-05:30"])),
        led_board_windows: None,
    }]
}

pub fn province() -> Province {
    Province::new(
        TZ,
        AreaTree::new(areas()).unwrap(),
        windows(),
        commune_settings(),
        devices(),
    )
    .unwrap()
}

/// A province priority bulletin, a commune's own priority bulletin, a
/// recurring normal bulletin in two languages and an emergency.
pub fn bulletins() -> Vec<Bulletin> {
    let province_news = bulletin(
        "tinh-01",
        PriorityClass::Priority,
        AreaLevel::Province,
        "67",
        &["67"],
    );
    let commune_news = bulletin(
        "xa-24611-01",
        PriorityClass::Priority,
        AreaLevel::Commune,
        "24611",
        &["24611"],
    );
    let mut daily_life = bulletin(
        "doi-song-01",
        PriorityClass::Normal,
        AreaLevel::District,
        "660",
        &["24611", "24612"],
    );
    daily_life.category = Category::DailyLife;
    daily_life.recurrence = Some(Recurrence {
        at: vec![NaiveTime::from_hms_opt(5, 30, 0).unwrap()],
        days: 3,
    });
    daily_life.variants.push(Variant {
        language: lang("ede"),
        audio: Some(AudioPart {
            source: AudioSource::Speech {
                text: "Klei hriê".into(),
            },
            secs: 300,
            media: None,
        }),
        visual: None,
    });
    daily_life.sensitive = true;
    daily_life.state = BulletinState::Submitted;
    let mut flood = bulletin(
        "lu-01",
        PriorityClass::Emergency,
        AreaLevel::Province,
        "67",
        &["660", "24700"],
    );
    flood.category = Category::DisasterEmergency;
    flood.state = BulletinState::Airing;
    vec![province_news, commune_news, daily_life, flood]
}

pub fn chair_orders() -> Vec<ChairOrder> {
    vec![ChairOrder {
        commune: code("24611"),
        order: vec![bid("xa-24611-01"), bid("tinh-01")],
    }]
}

pub fn opt_ins() -> Vec<OptIn> {
    ["24611", "24612"]
        .into_iter()
        .map(|c| OptIn {
            commune: code(c),
            bulletin: bid("doi-song-01"),
            at: local(2026, 11, 23, 5, 0),
        })
        .collect()
}

pub fn programme(province: &Province) -> Programme {
    let mut programme = Programme::default();
    for b in bulletins() {
        programme.insert_bulletin(province, b).unwrap();
    }
    for order in chair_orders() {
        programme.set_chair_order(province, order).unwrap();
    }
    for opt_in in opt_ins() {
        programme.set_opt_in(province, opt_in).unwrap();
    }
    programme
}

/// A device that reported one airing, assumed another and is playing a third.
pub fn history(device: &str) -> DeviceHistory {
    let key = |b: &str, occurrence| AiringKey {
        bulletin: bid(b),
        occurrence,
        language: lang("vi"),
    };
    let mut log = DeviceLog::default();
    log.done.insert(key("tinh-01", 0), Evidence::Reported);
    log.done.insert(key("doi-song-01", 1), Evidence::Assumed);
    log.playing = Some(Playing {
        item: PlanItem {
            key: key("lu-01", 0),
            class: PriorityClass::Emergency,
            start: utc(2026, 11, 23, 1),
            end: utc(2026, 11, 23, 2),
            preempted: false,
        },
        evidence: Evidence::Reported,
    });
    DeviceHistory {
        device: device_id(device),
        log,
    }
}
