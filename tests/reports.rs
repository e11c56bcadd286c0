//! The broadcasting report checked against a scripted day whose correct
//! numbers the test works out itself, from what each simulated device says
//! it played (its timeline) and when the test saw it connected — never from
//! the hub's own records.
//!
//! The link-test province (windows open all day, five devices) on a clock
//! 240 times faster than real time from 00:00 local: three bulletins of
//! different levels, categories and languages at 00:02 (one names a media
//! file the hub does not have, so the loudspeaker of 24700 fails it), one
//! loudspeaker's link down from 00:04 for about twelve minutes, an
//! emergency for district 660 at 00:05 that cuts what plays there, and the
//! board of 24611 never connecting.

use std::collections::BTreeMap;
use std::time::Duration;

use chrono::{DateTime, TimeDelta, Utc};
use firmware_sim::link::DeviceHandle;
use firmware_sim::{Fault, Played};
use hub::link::{BrokerChoice, HubHandle};
use hub_core::testkit::{emergency, lang, local, priority, with_audio_secs};
use hub_core::{AreaCode, AreaLevel, Bulletin, Category, Event, StoredAudio};
use hub_proto::{Clock, Outcome};
use hyper::header::AUTHORIZATION;
use hyper::{Method, StatusCode};
use serde_json::Value;

use crate::support::api::{login_at, ADMIN, PASSWORD};
use crate::support::fixture;
use crate::support::http::fetch;
use crate::support::link::{fast_link, spawn_hub_with};

const SPEED: f64 = 240.0;
const DAY: &str = "2026-11-23";
const CONNECTED: [&str; 4] = ["24611-LS-01", "24611-LS-02", "24612-LS-01", "24700-LS-01"];
const NEVER: &str = "24611-LB-01";
const FLAKY: &str = "24612-LS-01";
const WAIT: Duration = Duration::from_secs(30);

fn at(hh_mm: &str) -> DateTime<Utc> {
    local(&format!("{DAY} {hh_mm}"))
}

/// The day's bulletins, valid from `now`.
fn bulletins(now: DateTime<Utc>) -> Vec<Bulletin> {
    let mut province = priority("tin-tinh", AreaLevel::Province, "67", 240);
    province.category = Category::PolicyLaw;
    let mut district = priority("tin-huyen", AreaLevel::District, "660", 180);
    district.category = Category::SecurityMilitary;
    district.variants[0].language = lang("ede");
    // A file the hub does not have: the loudspeaker cannot fetch it and fails it.
    let mut missing = priority("tin-xa", AreaLevel::Commune, "24700", 60);
    missing.category = Category::DailyLife;
    missing.variants[0].audio.as_mut().unwrap().media = Some(StoredAudio {
        sha256: "ab".repeat(32),
        size: 1000,
        duration_ms: 50_000,
    });
    missing.validity.expires = at("00:15");
    for b in [&mut province, &mut district, &mut missing] {
        b.validity.not_before = now;
    }
    vec![province, district, missing]
}

/// The emergency for district 660, triggered `now`.
fn flood(now: DateTime<Utc>) -> Bulletin {
    let mut flood = with_audio_secs(
        emergency(
            "lu-660",
            AreaLevel::Province,
            "67",
            &["660"],
            "2026-11-23 00:00",
        ),
        120,
    );
    flood.validity.not_before = now;
    flood.validity.expires = now + TimeDelta::minutes(25);
    flood
}

/// From one instant to another.
type Span = (DateTime<Utc>, DateTime<Utc>);

/// What the test saw of each device's link: connected intervals, by polling.
#[derive(Default)]
struct Links {
    since: BTreeMap<String, DateTime<Utc>>,
    online: BTreeMap<String, Vec<Span>>,
}

impl Links {
    fn sample(&mut self, devices: &[DeviceHandle], now: DateTime<Utc>) {
        for device in devices {
            let id = device.id().to_owned();
            match (device.is_connected(), self.since.get(&id).copied()) {
                (true, None) => {
                    self.since.insert(id, now);
                }
                (false, Some(start)) => {
                    self.since.remove(&id);
                    self.online.entry(id).or_default().push((start, now));
                }
                _ => {}
            }
        }
    }

    /// Seconds `device` was connected from `from` to `to`.
    fn seconds(&self, device: &str, from: DateTime<Utc>, to: DateTime<Utc>) -> f64 {
        let open = self.since.get(device).map(|start| (*start, to));
        self.online
            .get(device)
            .into_iter()
            .flatten()
            .copied()
            .chain(open)
            .map(|(a, b)| (b.min(to) - a.max(from)).num_milliseconds().max(0) as f64 / 1e3)
            .sum()
    }
}

struct Day {
    hub: HubHandle,
    clock: Clock,
    devices: Vec<DeviceHandle>,
    links: Links,
    admin: String,
    _dir: tempfile::TempDir,
}

impl Day {
    async fn start() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let config = fixture("link-province.toml");
        let loaded = hub::config::load(&config).unwrap();
        let clock = Clock::simulated(at("00:00"), SPEED);
        let data = dir.path().join("data");
        {
            let store = hub_store::Store::open(&data).unwrap();
            hub::admin::create_admin(
                &store,
                &loaded.province.tree,
                hub_access::Username::parse(ADMIN).unwrap(),
                "Quản trị",
                AreaCode::parse("67").unwrap(),
                &hub_access::Password::new(PASSWORD),
                clock.now(),
            )
            .unwrap();
        }
        let hub = spawn_hub_with(&config, &data, BrokerChoice::Embedded, clock).await;
        let admin = login_at(hub.api_addr, ADMIN, PASSWORD).await;
        let provisioning = &hub.provisioning;
        let devices = CONNECTED
            .iter()
            .map(|id| {
                let credentials = provisioning.devices.iter().find(|d| d.id == *id).unwrap();
                let config = firmware_sim::link::DeviceConfig::from_credentials(
                    credentials,
                    &provisioning.hub_public_key,
                )
                .unwrap();
                let broker = provisioning.broker.parse().unwrap();
                DeviceHandle::spawn(config, &broker, clock, &fast_link())
            })
            .collect();
        Self {
            hub,
            clock,
            devices,
            links: Links::default(),
            admin,
            _dir: dir,
        }
    }

    /// Watches the links until `hh_mm` (hub clock).
    async fn until(&mut self, hh_mm: &str) {
        while self.clock.now() < at(hh_mm) {
            self.links.sample(&self.devices, self.clock.now());
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    fn device(&self, id: &str) -> &DeviceHandle {
        self.devices.iter().find(|d| d.id() == id).unwrap()
    }

    async fn report(&self, token: &str, query: &str) -> (StatusCode, Vec<u8>) {
        let headers = [(AUTHORIZATION, format!("Bearer {token}"))];
        let path = format!("/api/v1/reports?{query}");
        let fetched = fetch(self.hub.api_addr, Method::GET, &path, &headers).await;
        (fetched.status, fetched.body)
    }

    async fn json(&self, query: &str) -> Value {
        let (status, body) = self.report(&self.admin, query).await;
        assert_eq!(status, StatusCode::OK, "{}", String::from_utf8_lossy(&body));
        serde_json::from_slice(&body).unwrap()
    }
}

/// What the devices' own timelines say the report must show, per area.
#[derive(Debug, Default, PartialEq)]
struct Expected {
    started: u64,
    finished: u64,
    by: BTreeMap<(String, String), (u64, u64)>,
    /// Tenths of a minute.
    minutes_tenths: i64,
    failures: BTreeMap<String, u64>,
}

fn expected(timelines: &BTreeMap<String, Vec<Played>>, in_area: impl Fn(&str) -> bool) -> Expected {
    let attributes: BTreeMap<&str, [(&str, &str); 3]> = [
        (
            "tin-tinh",
            [
                ("level", "province"),
                ("category", "policy_law"),
                ("class", "priority"),
            ],
        ),
        (
            "tin-huyen",
            [
                ("level", "district"),
                ("category", "security_military"),
                ("class", "priority"),
            ],
        ),
        (
            "tin-xa",
            [
                ("level", "commune"),
                ("category", "daily_life"),
                ("class", "priority"),
            ],
        ),
        (
            "lu-660",
            [
                ("level", "province"),
                ("category", "disaster_emergency"),
                ("class", "emergency"),
            ],
        ),
    ]
    .into_iter()
    .collect();
    let mut want = Expected::default();
    let mut seconds = 0.0;
    for (device, lines) in timelines.iter().filter(|(d, _)| in_area(d)) {
        for line in lines {
            if line.outcome == Outcome::Failed {
                // Nobody lost power here: a failure is a file the device never had.
                let reason = line.reason.map_or("unstated", |r| r.code());
                *want.failures.entry(reason.to_owned()).or_default() += 1;
                continue;
            }
            assert_ne!(
                line.outcome,
                Outcome::Started,
                "{device} still plays {line:?}"
            );
            let finished = u64::from(line.outcome == Outcome::Finished);
            want.started += 1;
            want.finished += finished;
            seconds += (line.end - line.start).num_milliseconds() as f64 / 1e3;
            let mut keys = attributes[line.airing.bulletin.as_str()].to_vec();
            keys.push(("language", line.airing.language.as_str()));
            for (by, key) in keys {
                let tally = want.by.entry((by.to_owned(), key.to_owned())).or_default();
                tally.0 += 1;
                tally.1 += finished;
            }
        }
    }
    want.minutes_tenths = (seconds / 6.0).round() as i64;
    want
}

/// The same figures as the report states them for one area.
fn stated(area: &Value) -> Expected {
    let mut got = Expected {
        started: area["airings"]["started"].as_u64().unwrap(),
        finished: area["airings"]["finished"].as_u64().unwrap(),
        minutes_tenths: (area["broadcast_minutes"].as_f64().unwrap() * 10.0).round() as i64,
        ..Expected::default()
    };
    for by in ["level", "category", "class", "language"] {
        for (key, tally) in area[format!("by_{by}")].as_object().unwrap() {
            got.by.insert(
                (by.to_owned(), key.clone()),
                (
                    tally["started"].as_u64().unwrap(),
                    tally["finished"].as_u64().unwrap(),
                ),
            );
        }
    }
    for (reason, count) in area["failures"].as_object().unwrap() {
        got.failures.insert(reason.clone(), count.as_u64().unwrap());
    }
    got
}

fn area<'a>(report: &'a Value, code: &str) -> &'a Value {
    report["areas"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["area"] == code)
        .unwrap_or_else(|| panic!("no area {code} in {report}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_report_states_what_the_devices_say_they_aired_and_when_they_were_online() {
    let mut day = Day::start().await;
    day.until("00:02").await;
    for bulletin in bulletins(day.clock.now()) {
        day.hub
            .event(Event::Queue(bulletin))
            .await
            .unwrap()
            .unwrap();
    }
    day.until("00:04").await;
    let link_down = Fault::LinkDown {
        down: Duration::from_secs(3),
    };
    day.device(FLAKY).inject(link_down).await;
    day.until("00:05").await;
    let triggered = day.clock.now();
    day.hub
        .event(Event::Queue(flood(triggered)))
        .await
        .unwrap()
        .unwrap();
    day.until("00:30").await;
    // Everything is over by now; the flaky loudspeaker is back.
    assert!(day.devices.iter().all(|d| d.is_connected()));

    let timelines: BTreeMap<String, Vec<Played>> = day
        .devices
        .iter()
        .map(|d| (d.id().to_owned(), d.timeline()))
        .collect();
    let in_660 = |d: &str| d.starts_with("24611-") || d.starts_with("24612-");
    let province_want = expected(&timelines, |_| true);
    assert!(
        province_want.failures["media_missing"] >= 1,
        "{province_want:?}"
    );
    let query = format!("from={DAY}&to={DAY}&area=67");
    // Receipts reach the hub within moments (the flaky one's after its
    // reconnection): wait until the report has them all.
    let deadline = std::time::Instant::now() + WAIT;
    let report = loop {
        let report = day.json(&query).await;
        if stated(area(&report, "67")) == province_want || std::time::Instant::now() > deadline {
            break report;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    day.links.sample(&day.devices, day.clock.now());
    assert_eq!(stated(area(&report, "67")), province_want, "province 67");
    assert_eq!(
        stated(area(&report, "660")),
        expected(&timelines, in_660),
        "district 660"
    );
    assert_eq!(
        stated(area(&report, "24700")),
        expected(&timelines, |d| d.starts_with("24700-")),
        "commune 24700"
    );
    // The emergency cut what played in district 660, and the cut counts.
    let cut = timelines
        .iter()
        .filter(|(d, _)| in_660(d))
        .flat_map(|(_, lines)| lines)
        .any(|l| l.outcome == Outcome::Preempted);
    assert!(cut, "the emergency preempted nothing: {timelines:?}");

    // The emergency: latency from the trigger to each device's own start.
    let mut latencies: Vec<f64> = timelines
        .iter()
        .filter(|(d, _)| in_660(d))
        .filter_map(|(_, lines)| {
            lines
                .iter()
                .filter(|l| l.airing.bulletin == "lu-660")
                .map(|l| l.start)
                .min()
        })
        .map(|start| (start - triggered).num_milliseconds().max(0) as f64 / 1e3)
        .collect();
    latencies.sort_by(f64::total_cmp);
    let em = &area(&report, "67")["emergencies"][0];
    assert_eq!(em["bulletin"], "lu-660");
    assert_eq!(em["devices"], 4, "three loudspeakers and a board in 660");
    assert_eq!(em["started"].as_u64().unwrap() as usize, latencies.len());
    assert_eq!(em["never_started"], serde_json::json!([NEVER]));
    let p50 = latencies[latencies.len().div_ceil(2) - 1];
    assert!(
        (em["latency_p50_secs"].as_f64().unwrap() - p50).abs() < 1e-6,
        "{em} {latencies:?}"
    );
    let max = latencies[latencies.len() - 1];
    assert!(
        (em["latency_max_secs"].as_f64().unwrap() - max).abs() < 1e-6,
        "{em} {latencies:?}"
    );

    // Uptime from what the test saw of the links, up to the report's time;
    // the hub hears of a connection a moment after the device has it.
    let (start, until): (DateTime<Utc>, DateTime<Utc>) = (
        at("00:00"),
        report["generated_at"].as_str().unwrap().parse().unwrap(),
    );
    let span = (until - start).num_milliseconds() as f64 / 1e3;
    let percent = |devices: &[&str]| {
        let online: f64 = devices
            .iter()
            .map(|d| day.links.seconds(d, start, until))
            .sum();
        100.0 * online / (span * devices.len() as f64)
    };
    let all = [CONNECTED.as_slice(), &[NEVER]].concat();
    for (code, devices) in [
        ("67", all.clone()),
        ("24612", vec![FLAKY]),
        ("24611", vec!["24611-LS-01", "24611-LS-02", NEVER]),
    ] {
        let stated = area(&report, code)["uptime_percent"].as_f64().unwrap();
        let seen = percent(&devices);
        assert!(
            (stated - seen).abs() <= 2.0,
            "{code}: stated {stated} %, seen {seen:.1} %"
        );
    }
    assert!(percent(&[FLAKY]) < 80.0, "the flaky link was down a while");
    assert_eq!(
        area(&report, "67")["never_seen"],
        serde_json::json!([NEVER])
    );
    assert_eq!(
        area(&report, "24611")["never_seen"],
        serde_json::json!([NEVER])
    );
    let lines = report["uptime"].as_array().unwrap();
    let drawn: Vec<&str> = lines.iter().map(|l| l["area"].as_str().unwrap()).collect();
    assert_eq!(drawn, ["67", "660", "661"]);
    assert_eq!(
        lines[0]["points"].as_array().unwrap().len(),
        1,
        "one day so far"
    );

    // The same figures as CSV, and a printable page with both charts.
    let (status, csv) = day.report(&day.admin, &format!("{query}&format=csv")).await;
    assert_eq!(status, StatusCode::OK);
    let csv = String::from_utf8(csv).unwrap();
    assert!(
        csv.starts_with("period,area,area_name,level,figure,key,value\r\n"),
        "{csv}"
    );
    let row = format!(
        "{DAY}..{DAY},67,Tỉnh thử nghiệm,province,airings_started,,{}\r\n",
        province_want.started
    );
    assert!(csv.contains(&row), "no {row:?} in {csv}");
    let row = format!(
        "24700,Xã ba,commune,failures,media_missing,{}\r\n",
        province_want.failures["media_missing"]
    );
    assert!(csv.contains(&row), "no {row:?} in {csv}");
    let (status, html) = day
        .report(&day.admin, &format!("{query}&format=html&lang=en"))
        .await;
    assert_eq!(status, StatusCode::OK);
    let html = String::from_utf8(html).unwrap();
    assert!(
        html.starts_with("<!DOCTYPE html><html lang=\"en\">"),
        "{html}"
    );
    assert_eq!(html.matches("<svg").count(), 2, "{html}");
    assert!(html.contains("Xã ba") && html.contains("Broadcast minutes per commune"));

    // A commune chair sees their commune only; the reading is audited.
    let created = crate::support::api::call_at(
        day.hub.api_addr,
        Method::POST,
        "/api/v1/users",
        Some(&day.admin),
        Some(
            serde_json::json!({"username": "chu-tich", "display_name": "Chủ tịch",
            "password": PASSWORD, "role": "commune_chair", "area": "24611"}),
        ),
    )
    .await;
    assert_eq!(created.status, StatusCode::CREATED, "{created:?}");
    let chair = login_at(day.hub.api_addr, "chu-tich", PASSWORD).await;
    let (status, body) = day.report(&chair, &format!("from={DAY}&to={DAY}")).await;
    assert_eq!(status, StatusCode::OK);
    let own: Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(own["areas"].as_array().unwrap().len(), 1);
    assert_eq!(own["areas"][0]["area"], "24611");
    let (status, _) = day.report(&chair, &query).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, body) = day.report(&day.admin, "period=2026-H3").await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(String::from_utf8_lossy(&body).contains("\"field\":\"period\""));
    let audit = crate::support::api::call_at(
        day.hub.api_addr,
        Method::GET,
        "/api/v1/audit?user=chu-tich",
        Some(&day.admin),
        None,
    )
    .await;
    let actions: Vec<&str> = audit
        .body
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|e| e["action"].as_str())
        .collect();
    assert!(actions.contains(&"read_reports"), "{audit:?}");

    // The command line fetches the same report through the API.
    let args = [
        "report".to_owned(),
        format!("--api=http://{}", day.hub.api_addr),
        format!("--token={}", day.admin),
        format!("--from={DAY}"),
        format!("--to={DAY}"),
        "--area=67".to_owned(),
        "--format=csv".to_owned(),
    ];
    let out = tokio::task::spawn_blocking(move || {
        crate::support::hub(&args.iter().map(String::as_str).collect::<Vec<_>>())
    })
    .await
    .unwrap()
    .unwrap();
    assert!(
        out.contains(&format!(
            "province,airings_started,,{}",
            province_want.started
        )),
        "{out}"
    );

    for device in day.devices {
        device.stop().await;
    }
    day.hub.shutdown().await.unwrap();
}
