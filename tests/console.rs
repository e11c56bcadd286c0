//! The web console in real headless Chromium: each role logs in and does
//! its main task end to end, through the Playwright scenarios of
//! `tests/browser/`, against a hub serving its API and console on loopback
//! with the link-test province's simulated fleet connected over real MQTT.
//! What the people did is checked where it lands: in what the simulated
//! devices aired (their timelines), in the API's bulletin states and in the
//! audit log.
//!
//! The clock runs six times faster than real time: fast enough that a
//! priority bulletin due four minutes ahead airs after 40 s of real time
//! (by then editor, reviewer and chair are done), slow enough that an
//! emergency of about a minute of speech still plays while an operator
//! reaches its stop button. Live speech comes from Chromium's fake
//! microphone, encoded by the page with WebCodecs. Screenshots of every
//! main screen are kept in `target/console-screenshots/`.

use std::time::Duration;

use chrono::{DateTime, DurationRound, TimeDelta, Utc};
use firmware_sim::{Fleet, FleetOptions, LiveCounters, Played};
use hub_core::testkit::local;
use hub_core::DeviceId;
use hub_proto::{Clock, Outcome};
use hyper::{Method, StatusCode};
use serde_json::{json, Value};

use crate::support::api::{start_on, ApiHub, ADMIN, PASSWORD};
use crate::support::browser::{assert_screenshots, forget_screenshots, Browser};
use crate::support::link::{eventually, fast_link};
use crate::support::write_picture;

const SPEED: f64 = 6.0;
/// The day starts here (local time)…
const START: &str = "2026-11-23 10:00";
/// …the two colliding priority bulletins are due at the first whole minute
/// this long after the accounts are made (40 s of real time)…
const LEAD: TimeDelta = TimeDelta::minutes(4);
/// …and expire here.
const UNTIL: &str = "2026-11-23 12:00";
/// The link-test province's devices.
const DEVICES: [&str; 5] = [
    "24611-LS-01",
    "24611-LS-02",
    "24611-LB-01",
    "24612-LS-01",
    "24700-LS-01",
];
/// The loudspeakers of commune 24611, whose chair orders its programme.
const CHAIRS_SPEAKERS: [&str; 2] = ["24611-LS-01", "24611-LS-02"];
/// The loudspeakers of district 660, where the operator's emergency goes.
const DISTRICT_SPEAKERS: [&str; 3] = ["24611-LS-01", "24611-LS-02", "24612-LS-01"];
const WAIT: Duration = Duration::from_secs(30);

/// An instant as a `datetime-local` input takes it: local time, to the minute.
fn input(at: DateTime<Utc>) -> String {
    at.with_timezone(&chrono_tz::Asia::Ho_Chi_Minh)
        .format("%Y-%m-%dT%H:%M")
        .to_string()
}

/// A local time as the API's opt-ins take it (`2026-11-23T10:00:00`).
fn local_naive(at: DateTime<Utc>) -> String {
    at.with_timezone(&chrono_tz::Asia::Ho_Chi_Minh)
        .format("%Y-%m-%dT%H:%M:%S")
        .to_string()
}

/// The first whole minute at least [`LEAD`] after `now`.
fn due_after(now: DateTime<Utc>) -> DateTime<Utc> {
    let minute = TimeDelta::minutes(1);
    (now + LEAD + minute)
        .duration_trunc(minute)
        .expect("a whole minute")
}

/// A hub with its console, the fleet online, and the browser's settings.
struct Console {
    api: ApiHub,
    fleet: Fleet,
    browser: Browser,
    started: DateTime<Utc>,
}

impl Console {
    async fn start() -> Self {
        let clock = Clock::simulated(local(START), SPEED);
        let api = start_on("", "67", clock).await;
        let options = FleetOptions {
            connect_rate: 2000,
            link: fast_link(),
        };
        let fleet =
            Fleet::start(&api.hub.provisioning, None, clock, &options).expect("the fleet starts");
        for device in DEVICES {
            let id = DeviceId::parse(device).unwrap();
            eventually(&format!("{device} is online"), WAIT, || async {
                api.hub.is_online(&id).await.unwrap()
            })
            .await;
        }
        let mut browser = Browser::new(&format!("http://{}", api.addr));
        browser.account("admin", ADMIN, PASSWORD);
        browser.set("devices", json!(DEVICES));
        browser.set("communes", json!(["24611", "24612", "24700"]));
        let started = api.clock.now();
        Self {
            api,
            fleet,
            browser,
            started,
        }
    }

    /// Creates account `username` and hands it to the scenarios as `who`;
    /// answers its API session token.
    async fn person(&mut self, who: &str, username: &str, role: &str, area: &str) -> String {
        let token = self.api.person(username, role, area).await;
        self.browser.account(who, username, PASSWORD);
        token
    }

    async fn bulletin(&self, id: &str, token: &str) -> Value {
        let path = format!("/api/v1/bulletins/{id}");
        let answer = self.api.call(Method::GET, &path, token, None).await;
        assert_eq!(answer.status, StatusCode::OK, "{answer:?}");
        answer.body["bulletin"].clone()
    }

    fn timeline(&self, device: &str) -> Vec<Played> {
        self.fleet
            .device(device)
            .unwrap_or_else(|| panic!("{device} is in the fleet"))
            .timeline()
    }

    /// What `device` did with live chunks.
    fn device_live(&self, device: &str) -> LiveCounters {
        self.fleet
            .device(device)
            .unwrap_or_else(|| panic!("{device} is in the fleet"))
            .counters()
            .live
    }

    /// How `device` aired `bulletin`, if it did.
    fn outcome(&self, device: &str, bulletin: &str) -> Option<Outcome> {
        self.timeline(device)
            .iter()
            .find(|played| played.airing.bulletin == bulletin)
            .map(|played| played.outcome)
    }

    /// The actions of `user`'s audit entries since the test started.
    async fn actions(&self, user: &str) -> Vec<String> {
        self.api
            .audit_of(user, self.started)
            .await
            .iter()
            .map(|entry| entry["action"].as_str().unwrap_or_default().to_owned())
            .collect()
    }

    async fn stop(self) {
        self.fleet.stop().await;
        self.api.hub.shutdown().await.unwrap();
    }
}

/// Fails unless `wanted` appear in `actions` in this order.
fn assert_in_order(actions: &[String], wanted: &[&str], who: &str) {
    let mut rest = actions.iter();
    for action in wanted {
        assert!(
            rest.any(|a| a == action),
            "{who}'s audit log lacks {action} (in order {wanted:?}): {actions:?}"
        );
    }
}

/// A spoken recording of `text` as WAV, made by espeak-ng.
fn recording(dir: &std::path::Path, text: &str) -> std::path::PathBuf {
    let path = dir.join("tin.wav");
    let status = std::process::Command::new("espeak-ng")
        .args(["-v", "vi", "-w"])
        .arg(&path)
        .arg(text)
        .status()
        .expect("espeak-ng runs (apt-get install espeak-ng)");
    assert!(status.success(), "espeak-ng made no recording");
    path
}

/// What a bulletin seeded through the API is: its class (`priority`,
/// `normal`), issuing level, title and the words spoken.
struct Seed<'a> {
    class: &'a str,
    level: &'a str,
    title: &'a str,
    speech: &'a str,
}

/// A spoken bulletin for commune 24611, due at `due`, made and submitted
/// through the API with `token`; its id.
async fn seeded(console: &Console, token: &str, seed: Seed<'_>, due: DateTime<Utc>) -> String {
    let body = json!({
        "title": seed.title,
        "category": "daily_life",
        "class": seed.class,
        "level": seed.level,
        "targets": ["24611"],
        "not_before": due.to_rfc3339(),
        "expires": local(UNTIL).to_rfc3339(),
        "variants": [{"language": "vi", "audio": {"speech": seed.speech}}],
    });
    let made = console
        .api
        .call(Method::POST, "/api/v1/bulletins", token, Some(body))
        .await;
    assert_eq!(made.status, StatusCode::CREATED, "{made:?}");
    let id = made.body["bulletin"]["id"].as_str().unwrap().to_owned();
    let path = format!("/api/v1/bulletins/{id}/submit");
    let submitted = console.api.call(Method::POST, &path, token, None).await;
    assert_eq!(submitted.status, StatusCode::OK, "{submitted:?}");
    id
}

/// The commune's own priority bulletin, due with the editor's, written and
/// submitted by its chair through the API: the two collide.
async fn rival(console: &Console, chair: &str, title: &str, due: DateTime<Utc>) -> String {
    let seed = Seed {
        class: "priority",
        level: "commune",
        title,
        speech: "Xã thông báo lịch tiêm chủng cho trẻ em vào sáng thứ bảy.",
    };
    seeded(console, chair, seed, due).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_editors_bulletin_is_approved_reordered_by_the_chair_and_airs_in_that_order() {
    let shots = [
        "compose",
        "detail",
        "review-queue",
        "chair-programme",
        "chair-programme-reordered",
        "chair-fenced",
        "chair-aired",
    ];
    forget_screenshots(&shots);
    let mut console = Console::start().await;
    let editor = console
        .person("editor", "bientap", "provincial_editor", "67")
        .await;
    let reviewer = console
        .person("reviewer", "kiemduyet", "reviewer", "67")
        .await;
    let chair = console
        .person("chair", "chutich1", "commune_chair", "24611")
        .await;
    console
        .person("other_chair", "chutich2", "commune_chair", "24612")
        .await;
    let rival_title = "Lịch tiêm chủng của xã";
    let due = due_after(console.api.clock.now());
    let rival = rival(&console, &chair, rival_title, due).await;

    // The editor composes a sensitive priority bulletin with a recording.
    let dir = tempfile::tempdir().unwrap();
    let title = "Cảnh giác trộm cắp dịp cuối năm";
    let text = "Công an xã nhắc bà con khóa cửa, giữ gìn tài sản dịp cuối năm.";
    let audio = recording(dir.path(), text);
    console.browser.set(
        "compose",
        json!({
            "title": title, "text": text, "audio": audio,
            "category": "security_military", "level": "province", "priority": "priority",
            "language": "vi", "target": "24611",
            "valid_from": input(due), "valid_until": input(local(UNTIL)),
        }),
    );
    let composed = console.browser.result("editor").await;
    let id = composed["bulletin"]
        .as_str()
        .expect("the bulletin's id")
        .to_owned();
    let audio_secs = composed["audio_secs"].as_f64().unwrap_or_default();
    assert!(
        (3.0..5.0).contains(&audio_secs),
        "the preview plays {audio_secs} s of a 3.7 s recording"
    );
    let bulletin = console.bulletin(&id, &editor).await;
    assert_eq!(bulletin["state"], "submitted", "{bulletin}");
    assert_eq!(bulletin["title"], title);
    let not_before = bulletin["validity"]["not_before"]
        .as_str()
        .unwrap_or_default();
    assert_eq!(
        not_before.parse::<DateTime<Utc>>().ok(),
        Some(due),
        "valid from {not_before}: the typed local time"
    );
    assert!(
        bulletin["variants"][0]["audio"]["media"]["sha256"].is_string(),
        "the recording is the bulletin's audio: {bulletin}"
    );

    // The reviewer listens, is refused a rejection without a reason and a
    // POST without the CSRF token, then approves.
    console.browser.set("bulletin", json!(id));
    let reviewed = console.browser.result("reviewer").await;
    assert_eq!(reviewed["approved"], id.as_str());
    assert_eq!(reviewed["csrf_status"], 403, "{reviewed}");
    let state = console.bulletin(&id, &reviewer).await["state"].clone();
    assert!(state == "approved" || state == "scheduled", "{state}");

    // The chair, on a phone, moves the editor's bulletin after the commune's own.
    console.browser.set("commune", json!("24611"));
    console.browser.set(
        "order",
        json!({"move": id, "direction": "down", "expected": [rival, id],
            "titles": [rival_title, title]}),
    );
    console.browser.set("phase", json!("reorder"));
    let reordered = console.browser.result("chair").await;
    // By level, the province's bulletin came first.
    assert_eq!(reordered["before"], json!([id, rival]), "{reordered}");
    assert!(
        console.api.clock.now() < due,
        "the chair's order came after the bulletins were due: the machine is too slow for this test's clock"
    );
    let path = "/api/v1/communes/24611/programme";
    let programme = console.api.call(Method::GET, path, &chair, None).await;
    assert_eq!(
        programme.body["chair_order"],
        json!([rival, id]),
        "{programme:?}"
    );

    // Another commune's chair types this commune's address and sees nothing of it.
    console.browser.set(
        "fenced",
        json!({"commune": "24611", "secrets": ["Xã một", title, rival_title, id, rival]}),
    );
    let fenced = console.browser.result("chair-fenced").await;
    assert!(
        fenced["status"] == 403 || fenced["status"] == 404,
        "{fenced}"
    );

    // The commune's loudspeakers air the two in the chair's order; nobody else airs them.
    let limit = console.api.clock.real_until(due) + WAIT;
    eventually("the commune's loudspeakers aired both", limit, || async {
        CHAIRS_SPEAKERS.iter().all(|device| {
            [&rival, &id]
                .iter()
                .all(|b| console.outcome(device, b) == Some(Outcome::Finished))
        })
    })
    .await;
    for device in CHAIRS_SPEAKERS {
        let timeline = console.timeline(device);
        let aired: Vec<&str> = timeline
            .iter()
            .map(|played| played.airing.bulletin.as_str())
            .collect();
        assert_eq!(
            aired,
            [rival.as_str(), id.as_str()],
            "{device}: {timeline:?}"
        );
        assert!(
            timeline[0].end <= timeline[1].start && timeline[0].start >= due,
            "{device}: {timeline:?}"
        );
    }
    for device in ["24612-LS-01", "24700-LS-01"] {
        let timeline = console.timeline(device);
        assert!(timeline.is_empty(), "{device} aired {timeline:?}");
    }
    eventually("the editor's bulletin is done", WAIT, || async {
        console.bulletin(&id, &editor).await["state"] == "done"
    })
    .await;

    // The chair's page shows both as aired.
    console.browser.set("phase", json!("aired"));
    console.browser.result("chair").await;

    assert_in_order(
        &console.actions("bientap").await,
        &["create_bulletin", "submit_bulletin"],
        "the editor",
    );
    let reviewer_actions = console.actions("kiemduyet").await;
    assert_in_order(&reviewer_actions, &["approve_bulletin"], "the reviewer");
    assert!(
        !reviewer_actions.iter().any(|a| a == "reject_bulletin"),
        "a refused rejection was recorded: {reviewer_actions:?}"
    );
    assert_in_order(
        &console.actions("chutich1").await,
        &["log_in", "reorder_priority"],
        "the chair",
    );
    assert_screenshots(&shots);
    console.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_operators_emergency_plays_where_targeted_until_stopped() {
    let shots = [
        "login",
        "login-en",
        "emergency",
        "emergency-review",
        "emergency-status",
        "emergency-playing",
        "emergency-stopped",
        "health",
        "reports",
        "report",
    ];
    forget_screenshots(&shots);
    let mut console = Console::start().await;
    let operator = console
        .person("operator", "trucban", "operator", "67")
        .await;

    // The login page in English and back in Vietnamese.
    console.browser.result("language").await;

    // About a minute of speech: nine seconds of real time on this clock.
    let sentence = "Cảnh báo lũ quét tại huyện Một. Người dân khẩn trương di chuyển lên vùng cao, \
        mang theo giấy tờ, thuốc men và nước uống, tránh xa bờ suối và các ngầm tràn.";
    let text = [sentence; 6].join(" ");
    console.browser.set(
        "emergency",
        json!({"area": "660", "title": "Lũ quét", "text": text, "devices": 4}),
    );
    console.browser.set("phase", json!("trigger"));
    let triggered = console.browser.result("operator").await;
    let id = triggered["emergency"]
        .as_str()
        .expect("the emergency's id")
        .to_owned();
    eventually(
        "the district's loudspeakers play the emergency",
        WAIT,
        || async {
            DISTRICT_SPEAKERS
                .iter()
                .all(|device| console.outcome(device, &id) == Some(Outcome::Started))
        },
    )
    .await;

    console
        .browser
        .set("emergency", json!({"id": id, "started": DISTRICT_SPEAKERS}));
    console.browser.set("phase", json!("stop"));
    console.browser.result("operator").await;
    eventually("the stop reached every loudspeaker", WAIT, || async {
        DISTRICT_SPEAKERS
            .iter()
            .all(|device| console.outcome(device, &id) != Some(Outcome::Started))
    })
    .await;
    for device in DISTRICT_SPEAKERS {
        assert_eq!(
            console.outcome(device, &id),
            Some(Outcome::Stopped),
            "{device}: {:?}",
            console.timeline(device)
        );
    }
    assert_eq!(
        console.outcome("24700-LS-01", &id),
        None,
        "the emergency aired outside its district"
    );
    assert_eq!(console.bulletin(&id, &operator).await["state"], "cancelled");
    assert_in_order(
        &console.actions("trucban").await,
        &["log_in", "trigger_emergency", "stop_emergency"],
        "the operator",
    );

    // The administrator sees the whole fleet online, no alarms, and a report.
    console.browser.set(
        "report",
        json!({"from": "2026-11-23", "to": "2026-11-23", "area": "67"}),
    );
    let health = console.browser.result("administrator").await;
    assert_eq!(health["online"], json!(DEVICES), "{health}");
    assert_eq!(
        health["alarms"],
        json!({"24611": false, "24612": false, "24700": false}),
        "{health}"
    );
    assert_screenshots(&shots);
    console.stop().await;
}

/// What LED boards show while the operator speaks live.
const LIVE_BOARD_TEXT: &str = "Lũ quét: sơ tán khỏi bờ suối ngay";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_operator_speaks_live_to_the_district_until_they_stop() {
    let shots = [
        "emergency-live",
        "emergency-live-status",
        "emergency-live-ended",
    ];
    forget_screenshots(&shots);
    let mut console = Console::start().await;
    console
        .person("operator", "trucban", "operator", "67")
        .await;

    console.browser.set(
        "live",
        json!({"area": "660", "title": "Lũ quét (trực tiếp)", "text": LIVE_BOARD_TEXT,
            "devices": 4, "started": DISTRICT_SPEAKERS}),
    );
    let spoken = console.browser.result("operator-live").await;
    let id = spoken["emergency"]
        .as_str()
        .expect("the emergency's id")
        .to_owned();
    let notices = spoken["notices"].as_array().cloned().unwrap_or_default();
    let ended = notices
        .iter()
        .find(|notice| notice["type"] == "ended")
        .unwrap_or_else(|| panic!("the hub never said the stream ended: {notices:?}"));
    assert_eq!(ended["reason"], "closed", "{ended}");
    assert_eq!(
        ended["refused"], 0,
        "WebCodecs' Opus packets are refused: {notices:?}"
    );
    assert_eq!(
        ended["packets"], spoken["sent"],
        "every packet the page sent reached the relay: {ended}"
    );
    let packets = ended["packets"].as_u64().unwrap_or_default();
    assert!(packets >= 100, "{packets} packets: not seconds of speech");
    let chunks = ended["chunks"].as_u64().unwrap_or_default();

    // The district's loudspeakers aired the stream, to its end.
    eventually(
        "the live airing ends on the district's loudspeakers",
        WAIT,
        || async {
            DISTRICT_SPEAKERS
                .iter()
                .all(|device| console.outcome(device, &id) == Some(Outcome::Finished))
        },
    )
    .await;
    for device in DISTRICT_SPEAKERS {
        let heard = console.device_live(device);
        assert!(
            heard.chunks > 0 && heard.chunks <= chunks,
            "{device} took {heard:?} of {chunks} chunks"
        );
        assert_eq!(heard.lost, 0, "{device} lost chunks on loopback: {heard:?}");
        assert!(heard.refused.is_empty(), "{device}: {heard:?}");
    }
    assert!(
        console.outcome("24611-LB-01", &id).is_some(),
        "the district's board did not show the operator's text: {:?}",
        console.timeline("24611-LB-01")
    );
    assert_eq!(console.outcome("24700-LS-01", &id), None);
    assert_eq!(
        console.device_live("24700-LS-01"),
        LiveCounters::default(),
        "chunks reached a loudspeaker outside the district"
    );

    let audit: Vec<(String, String)> = console
        .api
        .audit_of("trucban", console.started)
        .await
        .iter()
        .filter(|entry| entry["action"] != "log_in")
        .map(|entry| {
            let text = |key: &str| entry[key].as_str().unwrap_or_default().to_owned();
            (text("action"), text("reason"))
        })
        .collect();
    assert_eq!(
        audit,
        [
            ("trigger_emergency".to_owned(), String::new()),
            (
                "stop_emergency".to_owned(),
                "live stream ended: the operator ended it".to_owned()
            ),
        ]
    );
    assert_screenshots(&shots);
    console.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_chair_opts_a_normal_bulletin_in_and_an_editors_picture_reaches_the_board() {
    const BOARD: &str = "24611-LB-01";
    let shots = [
        "chair-offers",
        "chair-opted-in",
        "compose-image",
        "detail-image",
    ];
    forget_screenshots(&shots);
    let mut console = Console::start().await;
    let editor = console
        .person("editor", "bientap", "provincial_editor", "67")
        .await;
    let chair = console
        .person("chair", "chutich1", "commune_chair", "24611")
        .await;

    // Two normal bulletins offered to the commune, due 20 s of real time
    // from now; the chair opted the second in earlier, through the API.
    let due = console.api.clock.now() + TimeDelta::minutes(2);
    let offer = |title, speech| Seed {
        class: "normal",
        level: "province",
        title,
        speech,
    };
    let wanted = seeded(
        &console,
        &editor,
        offer(
            "Chợ phiên cuối tuần",
            "Chợ phiên cuối tuần họp từ sáng sớm thứ bảy.",
        ),
        due,
    )
    .await;
    let unwanted = seeded(
        &console,
        &editor,
        offer(
            "Giải bóng đá thanh niên",
            "Giải bóng đá thanh niên khai mạc chiều chủ nhật.",
        ),
        due,
    )
    .await;
    let path = format!("/api/v1/communes/24611/opt-ins/{unwanted}");
    let at = json!({"at": local_naive(console.api.clock.now())});
    let opted = console.api.call(Method::PUT, &path, &chair, Some(at)).await;
    assert!(opted.status.is_success(), "{opted:?}");

    // On the phone, the chair opts the second out and the first in.
    console.browser.set("commune", json!("24611"));
    console
        .browser
        .set("opt", json!({"add": wanted, "remove": unwanted}));
    console.browser.set("phase", json!("opt"));
    let chose = console.browser.result("chair").await;
    assert!(
        console.api.clock.now() < due,
        "the chair chose after the offers were due: the machine is too slow for this test's clock"
    );
    assert_eq!(chose["after"].as_array().map(Vec::len), Some(1), "{chose}");
    let programme = console
        .api
        .call(
            Method::GET,
            "/api/v1/communes/24611/programme",
            &chair,
            None,
        )
        .await;
    let opt_ins: Vec<&str> = programme.body["opt_ins"]
        .as_array()
        .map(|opt_ins| {
            opt_ins
                .iter()
                .filter_map(|o| o["bulletin"].as_str())
                .collect()
        })
        .unwrap_or_default();
    assert_eq!(opt_ins, [wanted.as_str()], "{programme:?}");

    // Meanwhile an editor sends the commune's board a picture.
    let dir = tempfile::tempdir().unwrap();
    let poster = dir.path().join("poster.png");
    write_picture(&poster, "red", 400, 200);
    let now = console.api.clock.now();
    let resolution = firmware_sim::board::Resolution::default();
    console.browser.set(
        "compose",
        json!({
            "title": "Lịch tiêm phòng", "text": "Tiêm phòng sáng thứ Bảy",
            "image": poster, "board_secs": 120,
            "category": "daily_life", "level": "province", "priority": "priority",
            "language": "vi", "target": "24611",
            "valid_from": input(now), "valid_until": input(local(UNTIL)),
        }),
    );
    console.browser.set(
        "board",
        json!({"width": resolution.width, "height": resolution.height}),
    );
    let composed = console.browser.result("editor-image").await;
    let poster = composed["bulletin"]
        .as_str()
        .expect("the bulletin's id")
        .to_owned();
    let red = composed["red"].as_u64().unwrap_or_default();
    assert!(
        red > 5_000,
        "the board preview shows {red} red pixels of the picture"
    );
    let bulletin = console.bulletin(&poster, &editor).await;
    let visual = &bulletin["variants"][0]["visual"];
    assert_eq!(visual["kind"], "image", "{bulletin}");
    let fitted = visual["media"]["sha256"]
        .as_str()
        .expect("the fitted picture")
        .to_owned();

    // The commune's board shows the fitted picture with its caption.
    let board = console.fleet.device(BOARD).expect("the commune's board");
    let mut shown = None;
    eventually("the board shows the picture", WAIT, || {
        let showing = board
            .showing(console.api.clock.now())
            .filter(|s| s.media.as_deref() == Some(fitted.as_str()));
        shown = showing.zip(board.media_file(&fitted));
        let found = shown.is_some();
        async move { found }
    })
    .await;
    let (showing, file) = shown.expect("shown");
    assert_eq!(showing.bulletin.as_deref(), Some(poster.as_str()));
    assert_eq!(showing.text.as_deref(), Some("Tiêm phòng sáng thứ Bảy"));
    let picture = firmware_sim::media::picture::decode_picture(&file).expect("a PNG");
    assert_eq!(
        picture.dimensions(),
        (resolution.width, resolution.height),
        "fitted to the board"
    );
    let face = firmware_sim::board::render(
        Some(&showing),
        Some(&picture),
        console.api.clock.now(),
        resolution,
    );
    let red = face
        .pixels()
        .filter(|p| p.0[0] > 200 && p.0[1] < 60 && p.0[2] < 60)
        .count();
    assert!(
        red > 5_000,
        "{red} red pixels: the picture is not on the board's face"
    );

    // The opted-in offer airs on the commune's loudspeakers; the one opted
    // out never does.
    let limit = console.api.clock.real_until(due) + WAIT;
    eventually(
        "the commune's loudspeakers aired the offer",
        limit,
        || async {
            CHAIRS_SPEAKERS
                .iter()
                .all(|device| console.outcome(device, &wanted) == Some(Outcome::Finished))
        },
    )
    .await;
    let programme = console
        .api
        .call(
            Method::GET,
            "/api/v1/communes/24611/programme",
            &chair,
            None,
        )
        .await;
    let planned: Vec<&str> = programme.body["days"]
        .as_array()
        .into_iter()
        .flatten()
        .flat_map(|day| day["devices"].as_array().into_iter().flatten())
        .flat_map(|device| device["plan"].as_array().into_iter().flatten())
        .filter_map(|item| item["key"]["bulletin"].as_str())
        .collect();
    assert!(
        !planned.contains(&unwanted.as_str()),
        "the hub still plans the opted-out offer: {planned:?}"
    );
    for device in DEVICES {
        assert_eq!(
            console.outcome(device, &unwanted),
            None,
            "{device} aired it"
        );
    }
    assert_in_order(
        &console.actions("chutich1").await,
        &["log_in", "opt_out", "opt_in"],
        "the chair",
    );
    assert_in_order(
        &console.actions("bientap").await,
        &["create_bulletin", "submit_bulletin"],
        "the editor",
    );
    assert_screenshots(&shots);
    console.stop().await;
}
