//! Device health, alarms and `/metrics`, end to end: a hub with its API on
//! loopback, simulated devices over real MQTT, an operator watching.

use std::time::Duration;

use firmware_sim::faults::Fault;
use firmware_sim::link::DeviceHandle;
use hyper::header::{AUTHORIZATION, CONTENT_TYPE};
use hyper::{Method, StatusCode};
use serde_json::{json, Value};

use crate::support::api::{start_with, ApiHub};
use crate::support::http::fetch;
use crate::support::link::eventually;

/// Every offline device is alarmed at once, so a test need not wait.
const NO_GRACE: &str = "\n[health]\noffline_alarm_secs = 0\n";

const LIMIT: Duration = Duration::from_secs(20);

async fn health(api: &ApiHub, token: &str, area: &str) -> Value {
    let answer = api
        .call(
            Method::GET,
            &format!("/api/v1/health?area={area}"),
            token,
            None,
        )
        .await;
    assert_eq!(answer.status, StatusCode::OK, "{answer:?}");
    answer.body
}

/// The device `id` in a health tree.
fn find_device<'a>(area: &'a Value, id: &str) -> Option<&'a Value> {
    area["devices"]
        .as_array()?
        .iter()
        .find(|d| d["id"] == id)
        .or_else(|| {
            area["children"]
                .as_array()?
                .iter()
                .find_map(|child| find_device(child, id))
        })
}

/// The area `code` in a health tree.
fn find_area<'a>(area: &'a Value, code: &str) -> Option<&'a Value> {
    if area["code"] == code {
        return Some(area);
    }
    area["children"]
        .as_array()?
        .iter()
        .find_map(|child| find_area(child, code))
}

async fn alarms(api: &ApiHub, token: &str) -> Vec<Value> {
    let answer = api.call(Method::GET, "/api/v1/alarms", token, None).await;
    assert_eq!(answer.status, StatusCode::OK, "{answer:?}");
    answer.body.as_array().cloned().unwrap_or_default()
}

fn has_alarm(alarms: &[Value], commune: &str, device: Option<&str>, kind: &str) -> bool {
    alarms
        .iter()
        .any(|a| a["commune"] == commune && a["device"].as_str() == device && a["kind"] == kind)
}

/// `/metrics` as text, with `token` as the bearer (if any).
async fn metrics(api: &ApiHub, token: Option<&str>) -> (StatusCode, String) {
    let headers: Vec<_> = token
        .map(|t| (AUTHORIZATION, format!("Bearer {t}")))
        .into_iter()
        .collect();
    let fetched = fetch(api.addr, Method::GET, "/metrics", &headers).await;
    if fetched.status == StatusCode::OK {
        assert!(fetched
            .header(CONTENT_TYPE)
            .starts_with("text/plain; version=0.0.4"));
    }
    (fetched.status, String::from_utf8(fetched.body).unwrap())
}

/// The value of the sample written exactly as `series` (name and labels).
fn sample(text: &str, series: &str) -> Option<f64> {
    text.lines()
        .filter(|line| !line.starts_with('#'))
        .find_map(|line| line.strip_prefix(series)?.strip_prefix(' ')?.parse().ok())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn health_alarms_and_metrics_follow_devices_that_drop_fail_and_air_an_emergency() {
    let api = start_with(NO_GRACE, "67").await;
    let operator = api.person("truc-ban", "operator", "67").await;
    let chair = api.person("chu-tich", "commune_chair", "24611").await;
    let fleet: Vec<DeviceHandle> = ["24611-LS-01", "24611-LS-02", "24611-LB-01", "24612-LS-01"]
        .iter()
        .map(|id| api.device(id))
        .collect();
    for device in &fleet {
        device.wait_ready().await;
    }
    eventually("the four devices are online", LIMIT, || async {
        let tree = health(&api, &operator, "67").await;
        tree["area"]["counts"]["online"] == 4
    })
    .await;
    let tree = health(&api, &operator, "67").await;
    assert_eq!(tree["area"]["level"], "province");
    assert_eq!(tree["area"]["counts"]["devices"], 5, "{tree}");
    let lone = find_device(&tree["area"], "24612-LS-01").expect("listed");
    assert_eq!(lone["online"], true);
    assert!(lone["last_seen"].is_string(), "{lone}");
    let commune = find_area(&tree["area"], "24612").expect("under its district");
    assert_eq!(commune["alarms"], json!([]), "{commune}");
    // 24700's only loudspeaker never connected: offline since the start.
    let alarms_now = alarms(&api, &operator).await;
    assert!(has_alarm(
        &alarms_now,
        "24700",
        None,
        "no_working_loudspeaker"
    ));
    assert!(!has_alarm(
        &alarms_now,
        "24612",
        None,
        "no_working_loudspeaker"
    ));

    // An emergency in 24611: each device's start is one latency observation.
    let (status, before) = metrics(&api, Some(&operator)).await;
    assert_eq!(status, StatusCode::OK);
    let speakers = r#"nguon_devices_online{commune="24611",kind="loudspeaker"}"#;
    assert_eq!(sample(&before, speakers), Some(2.0), "{before}");
    assert_eq!(
        sample(&before, "nguon_emergency_first_audio_seconds_count"),
        Some(0.0)
    );
    let triggered = api
        .call(
            Method::POST,
            "/api/v1/emergencies",
            &operator,
            Some(json!({"title": "Lũ quét", "targets": ["24611"],
                "message": "Cảnh báo lũ quét, di chuyển lên vùng cao."})),
        )
        .await;
    assert_eq!(triggered.status, StatusCode::CREATED, "{triggered:?}");
    eventually("the emergency's starts are measured", LIMIT, || async {
        let (_, text) = metrics(&api, Some(&operator)).await;
        sample(&text, "nguon_emergency_first_audio_seconds_count").unwrap_or(0.0) >= 3.0
    })
    .await;
    let (_, after) = metrics(&api, Some(&operator)).await;
    let inf = r#"nguon_emergency_first_audio_seconds_bucket{le="+Inf"}"#;
    assert_eq!(sample(&after, inf), Some(3.0), "{after}");
    assert!(sample(&after, "nguon_emergency_first_audio_seconds_sum").unwrap() > 0.0);
    let speech = r#"nguon_ingest_duration_seconds_count{kind="speech"}"#;
    assert!(sample(&after, speech).unwrap_or(0.0) >= 1.0, "{after}");
    assert!(sample(&after, "nguon_store_size_bytes").unwrap() > 0.0);
    assert_eq!(sample(&after, "nguon_broker_connections"), Some(4.0));

    // The only loudspeaker of 24612 drops (its Last Will): the commune alarm.
    fleet[3]
        .inject(Fault::LinkDown {
            down: Duration::from_secs(60),
        })
        .await;
    eventually("24612 has no working loudspeaker", LIMIT, || async {
        let alarms = alarms(&api, &operator).await;
        has_alarm(&alarms, "24612", None, "no_working_loudspeaker")
            && has_alarm(&alarms, "24612", Some("24612-LS-01"), "device_offline")
    })
    .await;
    let tree = health(&api, &operator, "24612").await;
    assert_eq!(tree["area"]["level"], "commune");
    let lone = find_device(&tree["area"], "24612-LS-01").expect("listed");
    assert_eq!(lone["online"], false);
    assert!(lone["last_seen"].is_string(), "last seen stays: {lone}");
    assert_eq!(lone["alarm"]["kind"], "device_offline");
    assert_eq!(lone["alarm"]["since"], lone["since"]);
    let listed = api
        .call(Method::GET, "/api/v1/devices?area=24612", &operator, None)
        .await;
    assert_eq!(listed.body[0]["online"], false, "{listed:?}");
    assert_eq!(listed.body[0]["last_seen"], lone["last_seen"]);
    let (_, text) = metrics(&api, Some(&operator)).await;
    let dropped = r#"nguon_devices_online{commune="24612",kind="loudspeaker"}"#;
    assert_eq!(sample(&text, dropped), Some(0.0), "{text}");

    // A loudspeaker whose storage is full says so: a fault and its alarm,
    // while the commune keeps a working loudspeaker.
    fleet[0]
        .inject(Fault::FullStorage {
            lasting: Duration::from_secs(60),
        })
        .await;
    eventually("the fault shows", LIMIT, || async {
        let tree = health(&api, &chair, "24611").await;
        find_device(&tree["area"], "24611-LS-01")
            .is_some_and(|d| d["faults"] == json!(["storage_full"]))
    })
    .await;
    let tree = health(&api, &chair, "24611").await;
    let faulty = find_device(&tree["area"], "24611-LS-01").unwrap();
    assert_eq!(faulty["alarm"]["kind"], "device_faulty");
    assert_eq!(faulty["online"], true);
    assert_eq!(tree["area"]["counts"]["faulty"], 1);
    assert_eq!(tree["area"]["alarms"], json!([]), "LS-02 still works");

    // Scope and credentials: a chair sees only their commune, and no metrics.
    let outside = api
        .call(Method::GET, "/api/v1/health?area=24612", &chair, None)
        .await;
    assert_eq!(outside.status, StatusCode::FORBIDDEN, "{outside:?}");
    let chair_alarms = alarms(&api, &chair).await;
    assert!(
        chair_alarms.iter().all(|a| a["commune"] == "24611"),
        "{chair_alarms:?}"
    );
    assert_eq!(metrics(&api, None).await.0, StatusCode::UNAUTHORIZED);
    assert_eq!(metrics(&api, Some(&chair)).await.0, StatusCode::FORBIDDEN);
    let anonymous = api
        .call(Method::GET, "/api/v1/health", "not-a-token", None)
        .await;
    assert_eq!(anonymous.status, StatusCode::UNAUTHORIZED);

    for device in fleet {
        device.stop().await;
    }
    api.hub.shutdown().await.expect("the hub stops cleanly");
}
