//! Emergencies end to end: an operator's, from a recording or from text
//! (`POST /api/v1/emergencies`), CAP 1.2 alerts (`POST /api/v1/cap` with
//! documents shaped like the OASIS CAP 1.2 examples, `crates/hub/src/cap/
//! examples/`), and corrections (`POST /api/v1/emergencies/{id}/correct`),
//! against a running hub with simulated devices on the embedded broker, on
//! the link-test province (VN → 67 → 660: 24611, 24612; 661: 24700), its
//! clock 60 times faster than real time. Live emergencies: `tests/live.rs`.

use std::collections::BTreeSet;
use std::time::Duration;

use chrono::{DateTime, SecondsFormat, TimeDelta, Utc};
use firmware_sim::faults::Fault;
use firmware_sim::link::DeviceHandle;
use hub_core::testkit::{priority, with_audio_secs};
use hub_core::{AreaLevel, DeliveryState, DeviceId, Event};
use hub_proto::Outcome;
use hyper::header::{HeaderName, AUTHORIZATION, CONTENT_TYPE};
use hyper::{Method, StatusCode};
use serde_json::{json, Value};

use crate::support::api::{answer, tone_wav, Answer, ApiHub};
use crate::support::http::send;
use crate::support::link::eventually;

const WAIT: Duration = Duration::from_secs(30);
/// Messages long enough to be heard at 60 times real time: a device
/// downloads the audio before its slot is over.
const LONG_WARNING: &str = "Lũ quét sắp đến khu vực ven suối. Bà con di chuyển ngay lên \
    vùng cao, mang theo giấy tờ và thuốc men, không đi qua ngầm tràn, theo hướng dẫn của \
    lực lượng cứu hộ và chính quyền địa phương.";
const LONG_CORRECTION: &str = "Đính chính: cảnh báo lũ quét vừa phát là nhầm lẫn. Không có \
    lũ quét. Bà con yên tâm sinh hoạt bình thường và tiếp tục theo dõi thông tin chính \
    thức của chính quyền địa phương.";
const HOMELAND: &str = include_str!("../crates/hub/src/cap/examples/homeland-security.xml");
const THUNDERSTORM: &str = include_str!("../crates/hub/src/cap/examples/thunderstorm.xml");
const EARTHQUAKE: &str = include_str!("../crates/hub/src/cap/examples/earthquake.xml");

/// A hub whose first administrator is national (scoped to `VN`), so it may
/// create the central system's token; `extra` is appended to the
/// link-test province's configuration.
async fn start(extra: &str) -> ApiHub {
    crate::support::api::start_with(extra, "VN").await
}

/// An API token of `role` in `area`, as an administrator creates it.
async fn token(api: &ApiHub, name: &str, role: &str, area: &str) -> String {
    let made = api
        .call(
            Method::POST,
            "/api/v1/tokens",
            &api.admin,
            Some(json!({"name": name, "role": role, "area": area})),
        )
        .await;
    assert_eq!(made.status, StatusCode::CREATED, "{made:?}");
    made.body["token"].as_str().unwrap().to_owned()
}

/// A CAP instant `minutes` from the hub's now, at +07:00.
fn at(api: &ApiHub, minutes: i64) -> String {
    let tz = chrono::FixedOffset::east_opt(7 * 3600).unwrap();
    (api.clock.now() + TimeDelta::minutes(minutes))
        .with_timezone(&tz)
        .to_rfc3339_opts(SecondsFormat::Secs, false)
}

/// An example with its placeholders set: sent now, expiring in two hours,
/// Actual Alert for commune 24611 unless `overrides` says otherwise.
fn alert(api: &ApiHub, template: &str, overrides: &[(&str, &str)]) -> String {
    let sent = at(api, 0);
    let expires = at(api, 120);
    let defaults = [
        ("identifier", "A-1"),
        ("sent", sent.as_str()),
        ("status", "Actual"),
        ("msgType", "Alert"),
        ("references", ""),
        ("expires", expires.as_str()),
        ("area", "24611"),
    ];
    let mut text = template.to_owned();
    for (key, default) in defaults {
        let value = overrides
            .iter()
            .find(|(k, _)| *k == key)
            .map_or(default, |(_, v)| v);
        text = text.replace(&format!("{{{{{key}}}}}"), value);
    }
    text
}

/// `<references>` naming the alert `identifier` of `sender` sent at `sent`.
fn references(sender: &str, identifier: &str, sent: &str) -> String {
    format!("<references>{sender},{identifier},{sent}</references>")
}

async fn post_as(api: &ApiHub, token: Option<&str>, content_type: &str, body: &str) -> Answer {
    let mut headers: Vec<(HeaderName, String)> = vec![(CONTENT_TYPE, content_type.to_owned())];
    if let Some(token) = token {
        headers.push((AUTHORIZATION, format!("Bearer {token}")));
    }
    answer(
        send(
            api.addr,
            Method::POST,
            "/api/v1/cap",
            &headers,
            body.as_bytes().to_vec(),
        )
        .await,
    )
}

async fn post(api: &ApiHub, token: &str, body: &str) -> Answer {
    post_as(api, Some(token), "application/cap+xml", body).await
}

async fn state_of(api: &ApiHub, device: &str, bulletin: &str) -> Option<DeliveryState> {
    api.hub
        .deliveries(&DeviceId::parse(device).unwrap())
        .await
        .unwrap()
        .into_iter()
        .find(|d| d.airing.bulletin.as_str() == bulletin)
        .map(|d| d.state)
}

async fn wait_state(api: &ApiHub, device: &str, bulletin: &str, state: DeliveryState) {
    eventually(
        &format!("{bulletin} is {state:?} on {device}"),
        WAIT,
        || async { state_of(api, device, bulletin).await == Some(state) },
    )
    .await;
}

/// The bulletins the device started, with how each ended.
fn played(device: &DeviceHandle) -> Vec<(String, Outcome)> {
    device
        .timeline()
        .into_iter()
        .map(|p| (p.airing.bulletin, p.outcome))
        .collect()
}

/// The hub's record of bulletin `id`.
async fn stored_bulletin(api: &ApiHub, id: &str) -> hub_core::Bulletin {
    let id = hub_core::BulletinId::parse(id).unwrap();
    api.hub.bulletin(&id).await.unwrap().unwrap()
}

async fn bulletin_ids(api: &ApiHub) -> BTreeSet<String> {
    api.hub
        .bulletins()
        .await
        .unwrap()
        .into_iter()
        .map(|b| b.id.to_string())
        .collect()
}

async fn audit(api: &ApiHub, query: &str) -> Vec<Value> {
    let answer = api
        .call(
            Method::GET,
            &format!("/api/v1/audit?{query}"),
            &api.admin,
            None,
        )
        .await;
    assert_eq!(answer.status, StatusCode::OK, "{answer:?}");
    answer.body.as_array().unwrap().clone()
}

fn actions(entries: &[Value]) -> Vec<&str> {
    entries
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect()
}

/// Waits `minutes` of the hub's clock.
async fn let_pass(api: &ApiHub, minutes: i64) {
    let until: DateTime<Utc> = api.clock.now() + TimeDelta::minutes(minutes);
    eventually("time passes", WAIT, || async { api.clock.now() >= until }).await;
}

/// An operator's emergency spoken from text and one from a recording each
/// cut the bulletin playing on their target's devices, board included, and
/// nowhere else.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn recorded_and_spoken_emergencies_preempt_a_playing_bulletin_on_exactly_their_targets() {
    let api = start("").await;
    let operator = api.person("truc-ban", "operator", "67").await;
    let communes = ["24611", "24612", "24700"];
    let mut speakers = Vec::new();
    for commune in communes {
        speakers.push(api.device_online(&format!("{commune}-LS-01")).await);
    }
    let board = api.device_online("24611-LB-01").await;
    // A twenty-minute commune bulletin plays in each commune, and shows on
    // 24611's board.
    for commune in communes {
        let long = priority(&format!("tin-{commune}"), AreaLevel::Commune, commune, 1200);
        api.hub.event(Event::Queue(long)).await.unwrap().unwrap();
    }
    let devices = communes.map(|c| (format!("{c}-LS-01"), c));
    for (device, commune) in devices
        .iter()
        .chain([&("24611-LB-01".to_string(), "24611")])
    {
        let bulletin = format!("tin-{commune}");
        wait_state(&api, device, &bulletin, DeliveryState::Started).await;
    }

    // A text spoken by the hub, to 24611 only (its board shows the text);
    // then the operator's own recording, to 24612 only.
    let request = json!({"title": "Sạt lở", "targets": ["24611"],
        "message": "Nguy cơ sạt lở đất, người dân tránh xa sườn đồi."});
    let spoken = trigger(&api, &operator, request).await;
    wait_state(&api, "24611-LS-01", &spoken, DeliveryState::Finished).await;
    let uploaded = api.upload_audio(&operator, tone_wav()).await;
    assert_eq!(uploaded.status, StatusCode::CREATED, "{uploaded:?}");
    let recording = uploaded.body["sha256"].as_str().unwrap().to_owned();
    let request = json!({"title": "Xả lũ", "targets": ["24612"], "upload": recording});
    let recorded = trigger(&api, &operator, request).await;
    wait_state(&api, "24612-LS-01", &recorded, DeliveryState::Finished).await;

    for ((commune, speaker), emergency) in communes.iter().zip(&speakers).zip([&spoken, &recorded])
    {
        let heard = played(speaker);
        assert_eq!(
            heard[..2],
            [
                (format!("tin-{commune}"), Outcome::Preempted),
                (emergency.clone(), Outcome::Finished)
            ],
            "{heard:?}"
        );
    }
    let bulletin = stored_bulletin(&api, &recorded).await;
    let audio = bulletin.variants[0].audio.as_ref().unwrap();
    assert_eq!(
        audio.media.as_ref().map(|m| m.sha256.as_str()),
        Some(recording.as_str()),
        "the operator's recording is what aired"
    );
    // Each emergency stayed in its target, and 24700's bulletin plays on.
    wait_state(&api, "24611-LB-01", &spoken, DeliveryState::Finished).await;
    let shown = played(&board);
    assert_eq!(
        shown[..2],
        [
            ("tin-24611".to_string(), Outcome::Preempted),
            (spoken.clone(), Outcome::Finished)
        ],
        "the board showed the text in the bulletin's place: {shown:?}"
    );
    assert_eq!(state_of(&api, "24611-LS-01", &recorded).await, None);
    assert_eq!(state_of(&api, "24612-LS-01", &spoken).await, None);
    for emergency in [&recorded, &spoken] {
        assert_eq!(state_of(&api, "24700-LS-01", emergency).await, None);
    }
    assert_eq!(
        played(&speakers[2]),
        [("tin-24700".to_string(), Outcome::Started)]
    );
    api.hub.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cap_alert_airs_on_exactly_the_targeted_devices_preempting_and_only_once() {
    let api = start("").await;
    let operator = token(&api, "truc-ban-660", "operator", "660").await;
    let here = api.device_online("24611-LS-01").await;
    let neighbour = api.device_online("24612-LS-01").await;
    let elsewhere = api.device_online("24700-LS-01").await;

    // A ten-minute commune bulletin is playing when the storm warning comes.
    let long = with_audio_secs(priority("tin-dai", AreaLevel::Commune, "24611", 600), 600);
    api.hub.event(Event::Queue(long)).await.unwrap().unwrap();
    wait_state(&api, "24611-LS-01", "tin-dai", DeliveryState::Started).await;

    let storm = alert(&api, THUNDERSTORM, &[("identifier", "KTTV-1")]);
    let posted = post(&api, &operator, &storm).await;
    assert_eq!(posted.status, StatusCode::CREATED, "{posted:?}");
    assert_eq!(posted.body["broadcast"], true);
    assert_eq!(posted.body["class"], "emergency");
    assert_eq!(posted.body["duplicate"], false);
    let id = posted.body["bulletin"].as_str().unwrap().to_owned();
    assert_eq!(posted.body["outcome"], format!("broadcast as {id}"));

    wait_state(&api, "24611-LS-01", &id, DeliveryState::Finished).await;
    let here_played = played(&here);
    assert_eq!(
        here_played[0],
        ("tin-dai".to_string(), Outcome::Preempted),
        "{here_played:?}"
    );
    assert!(
        here_played.contains(&(id.clone(), Outcome::Finished)),
        "{here_played:?}"
    );
    let bulletin = stored_bulletin(&api, &id).await;
    assert_eq!(bulletin.title, "CẢNH BÁO DÔNG MẠNH");
    let languages: Vec<&str> = bulletin
        .variants
        .iter()
        .map(|v| v.language.as_str())
        .collect();
    assert_eq!(languages, ["vi", "en"]);
    for other in ["24612-LS-01", "24700-LS-01"] {
        assert_eq!(
            state_of(&api, other, &id).await,
            None,
            "{other} is not targeted"
        );
    }
    assert!(played(&neighbour).is_empty() && played(&elsewhere).is_empty());

    // The same alert again: the same answer, nothing new.
    let before = bulletin_ids(&api).await;
    let again = post(&api, &operator, &storm).await;
    assert_eq!(again.status, StatusCode::OK, "{again:?}");
    assert_eq!(again.body["duplicate"], true);
    assert_eq!(again.body["bulletin"], id.as_str());
    assert_eq!(bulletin_ids(&api).await, before);

    let entries = audit(&api, "token=truc-ban-660").await;
    assert_eq!(
        actions(&entries),
        ["ingest_cap", "ingest_cap"],
        "the bulletin, then the alert"
    );
    assert_eq!(entries[1]["bulletin"], id.as_str());
    assert_eq!(entries[1]["after"], format!("broadcast as {id}"));
    api.hub.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_update_supersedes_and_a_cancel_retracts_copies_queued_on_devices() {
    let api = start("").await;
    let operator = token(&api, "truc-ban-tinh", "operator", "67").await;
    let speaker = api.device_online("24611-LS-01").await;
    let sender = "dongdat@igp.vast.vn";

    // An earthquake report that takes effect in five minutes: queued on the device.
    let effective = at(&api, 5);
    let later = |xml: String| {
        xml.replace(
            "<expires>",
            &format!("<effective>{effective}</effective>\n    <expires>"),
        )
    };
    let first_sent = at(&api, 0);
    let first = later(alert(
        &api,
        EARTHQUAKE,
        &[("identifier", "Q-1"), ("sent", &first_sent)],
    ));
    let posted = post(&api, &operator, &first).await;
    assert_eq!(posted.status, StatusCode::CREATED, "{posted:?}");
    assert_eq!(posted.body["class"], "priority", "a past, minor event");
    let first_id = posted.body["bulletin"].as_str().unwrap().to_owned();
    wait_state(&api, "24611-LS-01", &first_id, DeliveryState::Acknowledged).await;

    // The update replaces it: the old copy leaves the device, the new one arrives.
    let update_sent = at(&api, 1);
    let update = later(alert(
        &api,
        EARTHQUAKE,
        &[
            ("identifier", "Q-2"),
            ("sent", &update_sent),
            ("msgType", "Update"),
            ("references", &references(sender, "Q-1", &first_sent)),
        ],
    ));
    let updated = post(&api, &operator, &update).await;
    assert_eq!(updated.status, StatusCode::CREATED, "{updated:?}");
    let second_id = updated.body["bulletin"].as_str().unwrap().to_owned();
    assert_eq!(updated.body["cancelled"], json!([first_id]));
    assert_eq!(
        updated.body["outcome"],
        format!("broadcast as {second_id}, replacing {first_id}")
    );
    wait_state(&api, "24611-LS-01", &second_id, DeliveryState::Acknowledged).await;
    eventually("the first copy is retracted", WAIT, || async {
        state_of(&api, "24611-LS-01", &first_id).await.is_none()
    })
    .await;

    // The cancel retracts the update's queued copy before it can play.
    let cancel = alert(
        &api,
        EARTHQUAKE,
        &[
            ("identifier", "Q-3"),
            ("sent", &at(&api, 2)),
            ("msgType", "Cancel"),
            ("references", &references(sender, "Q-2", &update_sent)),
        ],
    );
    let cancelled = post(&api, &operator, &cancel).await;
    assert_eq!(cancelled.status, StatusCode::CREATED, "{cancelled:?}");
    assert_eq!(cancelled.body["cancelled"], json!([second_id]));
    assert_eq!(cancelled.body["bulletin"], Value::Null);
    eventually("the update's copy is retracted", WAIT, || async {
        state_of(&api, "24611-LS-01", &second_id).await.is_none()
    })
    .await;
    for id in [&first_id, &second_id] {
        let bulletin = stored_bulletin(&api, id).await;
        assert_eq!(bulletin.state, hub_core::BulletinState::Cancelled, "{id}");
    }
    // Past the time they would have aired, neither did.
    let_pass(&api, 7).await;
    assert!(played(&speaker).is_empty(), "{:?}", played(&speaker));

    // A cancel naming nothing the hub broadcast is refused.
    let stray = alert(
        &api,
        EARTHQUAKE,
        &[
            ("identifier", "Q-4"),
            ("msgType", "Cancel"),
            ("references", &references(sender, "Q-404", &first_sent)),
        ],
    );
    let refused = post(&api, &operator, &stray).await;
    assert_eq!(
        refused.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "{refused:?}"
    );
    assert_eq!(refused.body["field"], "alert/references");

    let entries = audit(&api, &format!("bulletin={first_id}")).await;
    assert_eq!(
        actions(&entries),
        ["ingest_cap", "ingest_cap", "ingest_cap"],
        "{entries:?}"
    );
    assert!(
        entries[2]["reason"]
            .as_str()
            .unwrap()
            .contains("CAP Update Q-2"),
        "{entries:?}"
    );
    api.hub.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn test_alerts_are_recorded_but_reach_devices_only_in_test_mode() {
    for test_mode in [false, true] {
        let api = start(&format!("\n[cap]\ntest_mode = {test_mode}\n")).await;
        let operator = token(&api, "truc-ban", "operator", "67").await;
        let speaker = api.device_online("24611-LS-01").await;
        let test = alert(&api, HOMELAND, &[("identifier", "T-1"), ("status", "Test")]);
        let posted = post(&api, &operator, &test).await;
        assert_eq!(posted.status, StatusCode::CREATED, "{posted:?}");
        assert_eq!(posted.body["broadcast"], test_mode);
        let entries = audit(&api, "token=truc-ban").await;
        assert!(actions(&entries).contains(&"ingest_cap"), "{entries:?}");
        if test_mode {
            let id = posted.body["bulletin"].as_str().unwrap().to_owned();
            wait_state(&api, "24611-LS-01", &id, DeliveryState::Finished).await;
            let bulletin = stored_bulletin(&api, &id).await;
            assert!(bulletin.title.starts_with("[Test] "), "{}", bulletin.title);
        } else {
            assert_eq!(posted.body["outcome"], "not broadcast: test");
            assert_eq!(posted.body["bulletin"], Value::Null);
            // `hub emergency cap FILE` posts a document the same way.
            let exercise = alert(
                &api,
                HOMELAND,
                &[("identifier", "T-2"), ("status", "Exercise")],
            );
            let file = tempfile::NamedTempFile::new().unwrap();
            std::fs::write(file.path(), exercise).unwrap();
            let args: Vec<String> = vec![
                "emergency".into(),
                "cap".into(),
                "--api".into(),
                format!("http://{}", api.addr),
                // `--token=…`: a token may begin with '-'.
                format!("--token={operator}"),
                file.path().display().to_string(),
            ];
            let out = tokio::task::spawn_blocking(move || {
                crate::support::hub(&args.iter().map(String::as_str).collect::<Vec<_>>())
            })
            .await
            .unwrap()
            .unwrap();
            assert!(out.contains("not broadcast: exercise"), "{out}");
            assert!(bulletin_ids(&api).await.is_empty());
            let_pass(&api, 3).await;
            assert!(played(&speaker).is_empty());
            assert!(api
                .hub
                .deliveries(&DeviceId::parse("24611-LS-01").unwrap())
                .await
                .unwrap()
                .is_empty());
        }
        api.hub.shutdown().await.unwrap();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_documents_and_unauthorised_senders_are_refused_and_change_nothing() {
    let api = start("").await;
    let operator = token(&api, "truc-ban-660", "operator", "660").await;
    let editor = token(&api, "cms-tinh", "provincial_editor", "67").await;
    let central = token(&api, "trung-uong", "operator", "VN").await;
    let ok = alert(&api, HOMELAND, &[]);

    let cases: Vec<(String, StatusCode, &str)> = vec![
        (
            ok.replace("<urgency>Immediate</urgency>", ""),
            StatusCode::UNPROCESSABLE_ENTITY,
            "alert/info[1]/urgency",
        ),
        (
            ok.replace("<urgency>Immediate</urgency>", "<urgency>Soon</urgency>"),
            StatusCode::UNPROCESSABLE_ENTITY,
            "alert/info[1]/urgency",
        ),
        (
            alert(&api, HOMELAND, &[("area", "99999")]),
            StatusCode::UNPROCESSABLE_ENTITY,
            "alert/info[1]/area[1]/geocode[1]/value",
        ),
        (
            alert(&api, HOMELAND, &[("sent", "2026-11-23T03:00:00Z")]),
            StatusCode::UNPROCESSABLE_ENTITY,
            "alert/sent",
        ),
        (
            alert(&api, HOMELAND, &[("identifier", "A 1")]),
            StatusCode::UNPROCESSABLE_ENTITY,
            "alert/identifier",
        ),
        (
            ok.replace("cap:1.2", "cap:1.1"),
            StatusCode::UNPROCESSABLE_ENTITY,
            "alert",
        ),
        (
            ok.replace("</headline>", "</head>"),
            StatusCode::BAD_REQUEST,
            "alert/info/headline",
        ),
    ];
    for (document, status, field) in cases {
        let refused = post(&api, &operator, &document).await;
        assert_eq!(
            (refused.status, refused.body["field"].as_str()),
            (status, Some(field)),
            "{refused:?}"
        );
    }
    let as_json = post_as(&api, Some(&operator), "application/json", &ok).await;
    assert_eq!(
        as_json.status,
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
        "{as_json:?}"
    );

    // Who may post: operators within their area; nobody without a token.
    let anonymous = post_as(&api, None, "application/cap+xml", &ok).await;
    assert_eq!(anonymous.status, StatusCode::UNAUTHORIZED);
    let by_editor = post(&api, &editor, &ok).await;
    assert_eq!(by_editor.status, StatusCode::FORBIDDEN, "{by_editor:?}");
    let outside = post(
        &api,
        &operator,
        &alert(&api, HOMELAND, &[("area", "24700")]),
    )
    .await;
    assert_eq!(outside.status, StatusCode::FORBIDDEN, "{outside:?}");
    // A test alert outside one's area is refused too, though it would not air.
    let test_outside = alert(&api, HOMELAND, &[("area", "24700"), ("status", "Exercise")]);
    assert_eq!(
        post(&api, &operator, &test_outside).await.status,
        StatusCode::FORBIDDEN
    );

    // Nothing was stored or audited.
    assert!(bulletin_ids(&api).await.is_empty());
    assert!(audit(&api, "token=truc-ban-660").await.is_empty());

    // The central system's request plays immediately, anywhere in the province.
    let speaker = api.device_online("24700-LS-01").await;
    let request = alert(&api, HOMELAND, &[("identifier", "TW-1"), ("area", "VN")]);
    let posted = post(&api, &central, &request).await;
    assert_eq!(posted.status, StatusCode::CREATED, "{posted:?}");
    assert_eq!(posted.body["class"], "emergency");
    let id = posted.body["bulletin"].as_str().unwrap().to_owned();
    wait_state(&api, "24700-LS-01", &id, DeliveryState::Finished).await;
    assert_eq!(played(&speaker), [(id.clone(), Outcome::Finished)]);
    let bulletin = stored_bulletin(&api, &id).await;
    assert_eq!(
        (bulletin.issuer.as_str(), bulletin.level),
        ("VN", AreaLevel::Central)
    );

    // A revoked token stops at once.
    let revoked = api
        .call(
            Method::POST,
            "/api/v1/tokens/trung-uong/revoke",
            &api.admin,
            Some(json!({"reason": "thay khoá"})),
        )
        .await;
    assert_eq!(revoked.status, StatusCode::OK, "{revoked:?}");
    let after = post(
        &api,
        &central,
        &alert(&api, HOMELAND, &[("identifier", "TW-2"), ("area", "VN")]),
    )
    .await;
    assert_eq!(after.status, StatusCode::UNAUTHORIZED);
    api.hub.shutdown().await.unwrap();
}

/// Triggers the operator's emergency `request`; its id.
async fn trigger(api: &ApiHub, operator: &str, request: Value) -> String {
    let triggered = api
        .call(Method::POST, "/api/v1/emergencies", operator, Some(request))
        .await;
    assert_eq!(triggered.status, StatusCode::CREATED, "{triggered:?}");
    triggered.body["bulletin"]["id"]
        .as_str()
        .unwrap()
        .to_owned()
}

/// An operator's (false) flash-flood alert to district 660; its id.
async fn false_alert_to_660(api: &ApiHub, operator: &str) -> String {
    let request = json!({"title": "Lũ quét", "targets": ["660"], "message": LONG_WARNING});
    trigger(api, operator, request).await
}

/// The operator corrects `false_alert`.
async fn correct(api: &ApiHub, operator: &str, false_alert: &str) -> Answer {
    api.call(
        Method::POST,
        &format!("/api/v1/emergencies/{false_alert}/correct"),
        operator,
        Some(json!({"title": "Đính chính", "reason": "cảnh báo nhầm",
            "message": LONG_CORRECTION})),
    )
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_correction_reaches_the_devices_whose_reports_of_the_false_alert_come_late() {
    let api = start("").await;
    let operator = api.person("truc-ban", "operator", "67").await;
    // Their reports take seconds to arrive, as over a congested 4G link or
    // held by the spread the hub asks after a broadcast to a province.
    let mut devices = Vec::new();
    for id in ["24611-LS-01", "24612-LS-01"] {
        let device = api.device_online(id).await;
        device
            .inject(Fault::SlowLink {
                delay: Duration::from_secs(6),
                lasting: WAIT,
            })
            .await;
        devices.push((id, device));
    }

    let false_alert = false_alert_to_660(&api, &operator).await;
    for (id, device) in &devices {
        eventually(&format!("{id} airs the false alert"), WAIT, || async {
            !played(device).is_empty()
        })
        .await;
        assert!(
            matches!(
                state_of(&api, id, &false_alert).await,
                Some(DeliveryState::Sent | DeliveryState::Acknowledged)
            ),
            "the hub has not heard from {id} yet"
        );
    }

    let corrected = correct(&api, &operator, &false_alert).await;
    assert_eq!(corrected.status, StatusCode::CREATED, "{corrected:?}");
    assert_eq!(corrected.body["devices"], json!([]));
    assert_eq!(
        corrected.body["awaited"],
        json!(["24611-LS-01", "24612-LS-01"])
    );
    assert_eq!(corrected.body["communes"], json!(["24611", "24612"]));
    let correction = corrected.body["correction"]["bulletin"]["id"]
        .as_str()
        .unwrap()
        .to_owned();

    // Their reports of the false alert come after the correction went out:
    // it airs on each as the report comes.
    for (id, device) in &devices {
        eventually(&format!("{id} airs the correction"), WAIT, || async {
            played(device).len() == 2
        })
        .await;
        let heard: Vec<String> = played(device).into_iter().map(|(b, _)| b).collect();
        assert_eq!(heard, [false_alert.clone(), correction.clone()], "{id}");
    }
    let record = api
        .call(
            Method::GET,
            &format!("/api/v1/bulletins/{correction}"),
            &operator,
            None,
        )
        .await;
    assert_eq!(
        record.body["bulletin"]["devices"],
        json!(["24611-LS-01", "24612-LS-01"]),
        "{record:?}"
    );
    api.hub.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_correction_airs_only_where_the_false_alert_aired() {
    let api = start("").await;
    let operator = api.person("truc-ban", "operator", "67").await;
    let first = api.device_online("24611-LS-01").await;

    // 24611-LS-02 and 24612's loudspeaker are offline when the false alert
    // goes out to 660.
    let false_alert = false_alert_to_660(&api, &operator).await;
    wait_state(&api, "24611-LS-01", &false_alert, DeliveryState::Finished).await;
    assert_eq!(
        state_of(&api, "24612-LS-01", &false_alert).await,
        Some(DeliveryState::Queued)
    );

    let corrected = correct(&api, &operator, &false_alert).await;
    assert_eq!(corrected.status, StatusCode::CREATED, "{corrected:?}");
    assert_eq!(corrected.body["communes"], json!(["24611"]));
    assert_eq!(corrected.body["devices"], json!(["24611-LS-01"]));
    assert_eq!(
        corrected.body["corrected"]["bulletin"]["state"],
        "cancelled"
    );
    let correction = corrected.body["correction"]["bulletin"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    wait_state(&api, "24611-LS-01", &correction, DeliveryState::Finished).await;
    let heard: Vec<String> = played(&first).into_iter().map(|(b, _)| b).collect();
    assert_eq!(heard, [false_alert.clone(), correction.clone()]);

    // Back online, the devices that missed it get neither the false alert
    // nor the correction, in the corrected commune as elsewhere.
    for missed in ["24611-LS-02", "24612-LS-01"] {
        let late = api.device_online(missed).await;
        let_pass(&api, 3).await;
        assert!(played(&late).is_empty(), "{missed}: {:?}", played(&late));
        assert_eq!(state_of(&api, missed, &correction).await, None);
        assert!(!matches!(
            state_of(&api, missed, &false_alert).await,
            Some(DeliveryState::Started | DeliveryState::Finished)
        ));
    }

    // The audit trail links both ways.
    let of_false = audit(&api, &format!("bulletin={false_alert}")).await;
    let stop = of_false
        .iter()
        .find(|e| e["action"] == "stop_emergency")
        .expect("the stop is audited");
    assert!(
        stop["reason"].as_str().unwrap().contains(&correction),
        "{stop}"
    );
    let of_correction = audit(&api, &format!("bulletin={correction}")).await;
    assert!(
        of_correction
            .iter()
            .any(|e| e["object"].as_str().unwrap().contains(&false_alert)
                && e["reason"] == "cảnh báo nhầm"),
        "{of_correction:?}"
    );

    // Correcting what nobody heard is refused: stop it instead.
    let unheard = api
        .call(
            Method::POST,
            "/api/v1/emergencies",
            &operator,
            Some(json!({"title": "Thử", "targets": ["24700"], "message": "Thử."})),
        )
        .await;
    let unheard = unheard.body["bulletin"]["id"].as_str().unwrap().to_owned();
    let refused = api
        .call(
            Method::POST,
            &format!("/api/v1/emergencies/{unheard}/correct"),
            &operator,
            Some(json!({"title": "Đính chính", "reason": "nhầm", "message": "Nhầm."})),
        )
        .await;
    assert_eq!(refused.status, StatusCode::CONFLICT, "{refused:?}");
    api.hub.shutdown().await.unwrap();
}
