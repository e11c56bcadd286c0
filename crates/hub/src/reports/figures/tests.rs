//! A hand-built day in province 67 (three-tier testkit province, one
//! loudspeaker `-LS` and one board `-LB` per commune), whose every figure is
//! worked out by hand in the comments.

use chrono::TimeDelta;
use hub_core::testkit::{self, bid, code, device_id, emergency, lang, local, priority, TZ};
use hub_core::{AreaLevel, Category, PriorityClass};
use hub_proto::FailureReason;
use hub_store::PresenceCause;

use super::*;

fn receipt(
    device: &str,
    bulletin: &str,
    language: &str,
    outcome: DeliveryState,
    at: &str,
) -> PlayReceipt {
    PlayReceipt {
        device: device_id(device),
        airing: AiringKey {
            bulletin: bid(bulletin),
            occurrence: 0,
            language: lang(language),
        },
        outcome,
        at: local(at),
        reason: None,
    }
}

fn presence(device: &str, online: bool, at: &str, cause: PresenceCause) -> Presence {
    Presence {
        device: device_id(device),
        at: local(at),
        online,
        cause,
    }
}

use DeliveryState::{Failed, Finished, Preempted, Started};

fn bulletins() -> BTreeMap<BulletinId, Bulletin> {
    let p1 = priority("p1", AreaLevel::Province, "67", 600);
    // The emergency for district 660, triggered at 05:02.
    let mut em = emergency(
        "em",
        AreaLevel::Province,
        "67",
        &["660"],
        "2026-11-23 05:02",
    );
    em.title = "Lũ".into();
    let mut d1 = priority("d1", AreaLevel::District, "661", 300);
    d1.category = Category::SecurityMilitary;
    d1.variants[0].language = lang("ede");
    // Scheduled everywhere, never reported anywhere: it must count nowhere.
    let s1 = testkit::bulletin(
        "s1",
        PriorityClass::Priority,
        AreaLevel::Province,
        "67",
        &["67"],
    );
    // An emergency of the next day: outside the period.
    let later = emergency(
        "em-later",
        AreaLevel::Province,
        "67",
        &["67"],
        "2026-11-24 05:00",
    );
    [p1, em, d1, s1, later]
        .into_iter()
        .map(|b| (b.id.clone(), b))
        .collect()
}

fn receipts() -> Vec<PlayReceipt> {
    let mut failed = receipt("24700-LB", "d1", "ede", Failed, "2026-11-23 17:00");
    failed.reason = Some(FailureReason::MediaMissing);
    vec![
        // The day before: outside the period.
        receipt("24611-LS", "p1", "vi", Started, "2026-11-22 05:00"),
        receipt("24611-LS", "p1", "vi", Finished, "2026-11-22 05:10"),
        // p1 cut by the emergency after 3 minutes, replayed in full (10).
        receipt("24611-LS", "p1", "vi", Started, "2026-11-23 05:00"),
        receipt("24611-LS", "p1", "vi", Preempted, "2026-11-23 05:03"),
        receipt("24611-LS", "p1", "vi", Started, "2026-11-23 05:10"),
        receipt("24611-LS", "p1", "vi", Finished, "2026-11-23 05:20"),
        // A restated receipt changes nothing.
        receipt("24611-LS", "p1", "vi", Finished, "2026-11-23 05:20"),
        // The emergency: 60 s late on the loudspeaker, 30 s on the board.
        receipt("24611-LS", "em", "vi", Started, "2026-11-23 05:03"),
        receipt("24611-LS", "em", "vi", Finished, "2026-11-23 05:05"),
        receipt("24611-LB", "em", "vi", Started, "2026-11-23 05:02")
            .shifted(TimeDelta::seconds(30)),
        receipt("24611-LB", "em", "vi", Finished, "2026-11-23 05:04")
            .shifted(TimeDelta::seconds(30)),
        // d1 in Ede, 5 minutes, on the loudspeaker of 24700; its board failed it.
        receipt("24700-LS", "d1", "ede", Started, "2026-11-23 17:00"),
        receipt("24700-LS", "d1", "ede", Finished, "2026-11-23 17:05"),
        failed,
    ]
}

trait Shift {
    fn shifted(self, by: TimeDelta) -> Self;
}

impl Shift for PlayReceipt {
    fn shifted(mut self, by: TimeDelta) -> Self {
        self.at += by;
        self
    }
}

fn presence_records() -> Vec<Presence> {
    use PresenceCause::*;
    vec![
        // Online since the day before, all day: 24 h.
        presence("24611-LS", true, "2026-11-22 20:00", Hello),
        // 00:00-06:00 and 18:00-24:00: 12 h.
        presence("24611-LB", true, "2026-11-23 00:00", Hello),
        presence("24611-LB", false, "2026-11-23 06:00", LastWill),
        presence("24611-LB", true, "2026-11-23 18:00", Hello),
        // From noon: 12 h.
        presence("24612-LS", true, "2026-11-23 12:00", Hello),
        // 24612-LB never connects.
        // The hub stops 12:00-12:30, the device says hello again at 13:00: 23 h.
        presence("24700-LS", true, "2026-11-23 00:00", Hello),
        presence("24700-LS", false, "2026-11-23 12:00", HubStopped),
        presence("24700-LS", false, "2026-11-23 12:30", HubStarted),
        presence("24700-LS", true, "2026-11-23 13:00", Hello),
        // 00:00-06:00, then silent: 6 h.
        presence("24700-LB", true, "2026-11-23 00:00", Hello),
        presence("24700-LB", false, "2026-11-23 06:00", Silent),
    ]
}

fn figures_of(area: &str) -> Figures {
    let province = testkit::province();
    let devices: Vec<Device> = province.devices().cloned().collect();
    let bulletins = bulletins();
    let (receipts, presence) = (receipts(), presence_records());
    let period = Period::range("2026-11-23", "2026-11-23", TZ).unwrap();
    let inputs = Inputs {
        tree: &province.tree,
        devices: &devices,
        bulletins: &bulletins,
        receipts: &receipts,
        presence: &presence,
        period: &period,
        tz: TZ,
        now: local("2026-11-25 00:00"),
    };
    compute(&inputs, &code(area))
}

fn tally(started: u32, finished: u32) -> Tally {
    Tally { started, finished }
}

fn map<V: Clone>(pairs: &[(&str, V)]) -> BTreeMap<String, V> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.clone()))
        .collect()
}

#[test]
fn the_province_counts_what_devices_reported_and_nothing_else() {
    let figures = figures_of("67");
    let order: Vec<&str> = figures.areas.iter().map(|a| a.area.as_str()).collect();
    assert_eq!(order, ["67", "660", "661", "24611", "24612", "24700"]);
    let province = &figures.areas[0];
    assert_eq!(province.devices, 6);
    // p1 twice (cut, replayed), em twice, d1 once; the failed board and
    // the day before are not airings; s1 was never reported.
    assert_eq!(province.airings, tally(5, 4));
    assert_eq!(
        province.by_level,
        map(&[("district", tally(1, 1)), ("province", tally(4, 3))])
    );
    assert_eq!(
        province.by_class,
        map(&[("emergency", tally(2, 2)), ("priority", tally(3, 2))])
    );
    assert_eq!(
        province.by_category,
        map(&[
            ("disaster_emergency", tally(2, 2)),
            ("policy_law", tally(2, 1)),
            ("security_military", tally(1, 1)),
        ])
    );
    assert_eq!(
        province.by_language,
        map(&[("ede", tally(1, 1)), ("vi", tally(4, 3))])
    );
    // p1: 3 minutes until the cut + 10 replayed; em: 2 + 2; d1: 5.
    assert_eq!(province.broadcast_minutes, 22.0);
    assert_eq!(province.failures, map(&[("media_missing", 1)]));
    assert_eq!(province.never_seen, ["24612-LB"]);
    // (24 + 12 + 12 + 0 + 23 + 6) h of 6 × 24 h = 53.47 %.
    assert_eq!(province.uptime_percent, Some(53.5));
}

#[test]
fn an_emergency_reports_its_latency_and_the_devices_that_never_started_it() {
    let figures = figures_of("67");
    let province = &figures.areas[0];
    assert_eq!(
        province.emergencies.len(),
        1,
        "em-later is outside the period"
    );
    let em = &province.emergencies[0];
    assert_eq!((em.bulletin.as_str(), em.title.as_str()), ("em", "Lũ"));
    assert_eq!(em.triggered, local("2026-11-23 05:02"));
    assert_eq!((em.devices, em.started), (4, 2));
    assert_eq!(
        em.latency_p50_secs,
        Some(30.0),
        "the lower median of 30 s and 60 s"
    );
    assert_eq!(em.latency_max_secs, Some(60.0));
    assert_eq!(em.never_started, ["24612-LB", "24612-LS"]);
    let district_661 = &figures.areas[2];
    assert!(
        district_661.emergencies.is_empty(),
        "em was not meant for 661"
    );
}

#[test]
fn districts_and_communes_add_up_their_own_devices() {
    let figures = figures_of("67");
    let find = |code: &str| figures.areas.iter().find(|a| a.area == code).unwrap();
    let (d660, d661) = (find("660"), find("661"));
    assert_eq!((d660.level.as_str(), d660.devices), ("district", 4));
    assert_eq!(d660.airings, tally(4, 3));
    assert_eq!(d660.broadcast_minutes, 17.0);
    assert_eq!(d660.uptime_percent, Some(50.0), "(24 + 12 + 12 + 0) / 96");
    assert_eq!(d661.airings, tally(1, 1));
    assert_eq!(d661.uptime_percent, Some(60.4), "(23 + 6) / 48");
    let commune = find("24700");
    assert_eq!(commune.level, "commune");
    assert_eq!(commune.failures, map(&[("media_missing", 1)]));
    assert!(commune.never_seen.is_empty());
    let quiet = find("24612");
    assert_eq!(quiet.airings, tally(0, 0));
    assert_eq!(quiet.never_seen, ["24612-LB"]);
    // A commune's chair asks for the commune only.
    let own = figures_of("24611");
    assert_eq!(own.areas.len(), 1);
    assert_eq!(own.areas[0].uptime_percent, Some(75.0), "36 of 48 h");
    assert_eq!(own.areas[0].broadcast_minutes, 17.0);
}

#[test]
fn uptime_is_drawn_for_the_area_and_each_district_a_point_a_day() {
    let figures = figures_of("67");
    let lines: Vec<(&str, Vec<f64>)> = figures
        .uptime
        .iter()
        .map(|l| {
            (
                l.area.as_str(),
                l.points.iter().map(|p| p.percent).collect(),
            )
        })
        .collect();
    assert_eq!(
        lines,
        [("67", vec![53.5]), ("660", vec![50.0]), ("661", vec![60.4])]
    );
}

#[test]
fn a_running_period_counts_uptime_up_to_now_and_draws_no_future_days() {
    let province = testkit::province();
    let devices: Vec<Device> = province.devices().cloned().collect();
    let bulletins = bulletins();
    let presence = presence_records();
    let period = Period::range("2026-11-23", "2026-11-24", TZ).unwrap();
    let inputs = Inputs {
        tree: &province.tree,
        devices: &devices,
        bulletins: &bulletins,
        receipts: &[],
        presence: &presence,
        period: &period,
        tz: TZ,
        now: local("2026-11-23 06:00"),
    };
    let figures = compute(&inputs, &code("24611"));
    // Both devices were online the whole six hours so far.
    assert_eq!(figures.areas[0].uptime_percent, Some(100.0));
    assert_eq!(
        figures.uptime[0].points.len(),
        1,
        "tomorrow has no point yet"
    );
}
