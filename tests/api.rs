//! The people's API over real HTTP against a running hub: who may do what
//! where (every role × every mutating endpoint × in and out of scope), the
//! audit entry each change leaves, the review workflow, bad requests, and
//! the OpenAPI document against the real routes.

use chrono::{DateTime, TimeDelta, Utc};
use hyper::{Method, StatusCode};
use serde_json::{json, Value};

use crate::support::api::{start, Answer, ApiHub, PASSWORD};

/// A person of the matrix, with the area they act in.
struct Person {
    name: &'static str,
    token: String,
}

/// An area's writers: who issues bulletins and triggers emergencies there,
/// and the commune their bulletins target.
struct Scope {
    commune: &'static str,
    writer: Person,
    operator: Person,
}

/// One row of the design per mutating endpoint (named as the audit log
/// names its action), one column per role in
/// the order Adm PEd DEd Rev Chr Opr: `Y` allowed inside the caller's area
/// and refused (403) outside it, `.` refused everywhere. A province-wide
/// account has no outside in a provincial hub, so only its inside is tried.
const DESIGN: &[(&str, &str)] = &[
    //                   Adm PEd DEd Rev Chr Opr
    ("create_user", "Y   .   .   .   .   ."),
    ("disable_user", "Y   .   .   .   .   ."),
    ("change_role", "Y   .   .   .   .   ."),
    ("change_password", "Y   .   .   .   .   ."),
    ("create_token", "Y   .   .   .   .   ."),
    ("revoke_token", "Y   .   .   .   .   ."),
    ("provision_device", "Y   .   .   .   .   ."),
    ("create_bulletin", ".   Y   Y   .   Y   ."),
    ("edit_draft", ".   Y   Y   .   Y   ."),
    ("submit_bulletin", ".   Y   Y   .   Y   ."),
    ("approve_bulletin", ".   .   .   Y   .   ."),
    ("reject_bulletin", ".   .   .   Y   .   ."),
    ("cancel_bulletin", ".   Y   Y   .   Y   ."),
    ("reorder_priority", ".   .   .   .   Y   ."),
    ("opt_in", ".   .   .   .   Y   ."),
    ("opt_out", ".   .   .   .   Y   ."),
    ("trigger_emergency", ".   .   .   .   .   Y"),
    ("stop_emergency", ".   .   .   .   .   Y"),
];

/// The callers, in the design's column order, with their role and area.
const CALLERS: [(&str, &str, &str); 6] = [
    ("admin", "administrator", "67"),
    ("pe", "provincial_editor", "67"),
    ("de", "district_editor", "660"),
    ("rev", "reviewer", "660"),
    ("chair", "commune_chair", "24611"),
    ("op", "operator", "660"),
];

fn in_days(clock_now: DateTime<Utc>, days: i64) -> String {
    (clock_now + TimeDelta::days(days)).to_rfc3339()
}

fn bulletin_body(api: &ApiHub, commune: &str, class: &str, category: &str) -> Value {
    let now = api.clock.now();
    json!({
        "title": format!("Tin {class} cho {commune}"),
        "category": category,
        "class": class,
        "targets": [commune],
        "not_before": now.to_rfc3339(),
        "expires": in_days(now, 2),
        "variants": [{"language": "vi",
            "visual": {"kind": "text", "secs": 20, "text": "Thông báo"}}],
    })
}

/// Writes a draft as `writer` targeting `commune`; its id.
async fn draft(
    api: &ApiHub,
    writer: &Person,
    commune: &str,
    class: &str,
    category: &str,
) -> String {
    let body = bulletin_body(api, commune, class, category);
    let made = api
        .call(Method::POST, "/api/v1/bulletins", &writer.token, Some(body))
        .await;
    assert_eq!(made.status, StatusCode::CREATED, "{made:?}");
    made.body["bulletin"]["id"].as_str().unwrap().to_owned()
}

async fn transition(api: &ApiHub, who: &Person, id: &str, verb: &str, reason: bool) -> Answer {
    let body = reason.then(|| json!({"reason": "kiểm tra"}));
    api.call(
        Method::POST,
        &format!("/api/v1/bulletins/{id}/{verb}"),
        &who.token,
        body,
    )
    .await
}

/// A bulletin by `scope`'s writer in `state`: draft, submitted (it is
/// sensitive) or approved (and so scheduled).
async fn bulletin_in(api: &ApiHub, scope: &Scope, state: &str) -> String {
    let category = if state == "submitted" {
        "policy_law"
    } else {
        "daily_life"
    };
    let id = draft(api, &scope.writer, scope.commune, "priority", category).await;
    if state != "draft" {
        let submitted = transition(api, &scope.writer, &id, "submit", false).await;
        let now = submitted.body["bulletin"]["state"]
            .as_str()
            .unwrap_or_default();
        // An approved bulletin is scheduled on its devices at once.
        let expected: &[&str] = match state {
            "submitted" => &["submitted"],
            _ => &["approved", "scheduled"],
        };
        assert!(expected.contains(&now), "{submitted:?}");
    }
    id
}

async fn emergency_by(api: &ApiHub, operator: &Person, commune: &str) -> Answer {
    api.call(
        Method::POST,
        "/api/v1/emergencies",
        &operator.token,
        Some(json!({"title": "Lũ quét", "targets": [commune],
            "message": "Cảnh báo lũ quét, di chuyển lên vùng cao."})),
    )
    .await
}

/// A fresh chair account in `commune`, made by the first administrator.
async fn account_in(api: &ApiHub, n: usize, commune: &str) -> String {
    let name = format!("target-{n}");
    let made = api
        .call(
            Method::POST,
            "/api/v1/users",
            &api.admin,
            Some(
                json!({"username": name, "display_name": name, "password": PASSWORD,
                "role": "commune_chair", "area": commune}),
            ),
        )
        .await;
    assert_eq!(made.status, StatusCode::CREATED, "{made:?}");
    name
}

/// Tries `endpoint` as `caller` against `scope`; the answer.
async fn attempt(api: &ApiHub, endpoint: &str, caller: &Person, scope: &Scope, n: usize) -> Answer {
    let c = scope.commune;
    match endpoint {
        "create_user" => {
            let body = json!({"username": format!("new-{n}"), "display_name": "Mới",
                "password": PASSWORD, "role": "commune_chair", "area": c});
            api.call(Method::POST, "/api/v1/users", &caller.token, Some(body))
                .await
        }
        "disable_user" => {
            let target = account_in(api, n, c).await;
            let path = format!("/api/v1/users/{target}/disable");
            api.call(
                Method::POST,
                &path,
                &caller.token,
                Some(json!({"reason": "nghỉ"})),
            )
            .await
        }
        "change_role" => {
            let target = account_in(api, n, c).await;
            let path = format!("/api/v1/users/{target}/role");
            let body = json!({"role": "operator", "area": c});
            api.call(Method::PUT, &path, &caller.token, Some(body))
                .await
        }
        "change_password" => {
            let target = account_in(api, n, c).await;
            let path = format!("/api/v1/users/{target}/password");
            let body = json!({"password": "một mật khẩu mới khác"});
            api.call(Method::PUT, &path, &caller.token, Some(body))
                .await
        }
        "create_token" => {
            let body = json!({"name": format!("token-{n}"), "role": "operator", "area": c});
            api.call(Method::POST, "/api/v1/tokens", &caller.token, Some(body))
                .await
        }
        "revoke_token" => {
            let name = format!("token-{n}");
            let body = json!({"name": name, "role": "operator", "area": c});
            let made = api
                .call(Method::POST, "/api/v1/tokens", &api.admin, Some(body))
                .await;
            assert_eq!(made.status, StatusCode::CREATED, "{made:?}");
            let path = format!("/api/v1/tokens/{name}/revoke");
            api.call(
                Method::POST,
                &path,
                &caller.token,
                Some(json!({"reason": "lộ"})),
            )
            .await
        }
        "provision_device" => {
            let path = format!("/api/v1/devices/{c}-LS-01/credentials");
            api.call(Method::POST, &path, &caller.token, None).await
        }
        "create_bulletin" => {
            let body = bulletin_body(api, c, "priority", "daily_life");
            api.call(Method::POST, "/api/v1/bulletins", &caller.token, Some(body))
                .await
        }
        "edit_draft" => {
            let id = bulletin_in(api, scope, "draft").await;
            let body = bulletin_body(api, c, "priority", "daily_life");
            let path = format!("/api/v1/bulletins/{id}");
            api.call(Method::PUT, &path, &caller.token, Some(body))
                .await
        }
        "submit_bulletin" => {
            let id = bulletin_in(api, scope, "draft").await;
            transition(api, caller, &id, "submit", false).await
        }
        "approve_bulletin" => {
            let id = bulletin_in(api, scope, "submitted").await;
            transition(api, caller, &id, "approve", false).await
        }
        "reject_bulletin" => {
            let id = bulletin_in(api, scope, "submitted").await;
            transition(api, caller, &id, "reject", true).await
        }
        "cancel_bulletin" => {
            let id = bulletin_in(api, scope, "approved").await;
            transition(api, caller, &id, "cancel", true).await
        }
        "reorder_priority" => {
            let id = bulletin_in(api, scope, "approved").await;
            let path = format!("/api/v1/communes/{c}/order");
            api.call(
                Method::PUT,
                &path,
                &caller.token,
                Some(json!({"order": [id]})),
            )
            .await
        }
        "opt_in" | "opt_out" => {
            let id = draft(api, &scope.writer, c, "normal", "daily_life").await;
            transition(api, &scope.writer, &id, "submit", false).await;
            let path = format!("/api/v1/communes/{c}/opt-ins/{id}");
            if endpoint == "opt_in" {
                let at = json!({"at": "2026-11-23T17:00:00"});
                api.call(Method::PUT, &path, &caller.token, Some(at)).await
            } else {
                api.call(Method::DELETE, &path, &caller.token, None).await
            }
        }
        "trigger_emergency" => emergency_by(api, caller, c).await,
        "stop_emergency" => {
            let made = emergency_by(api, &scope.operator, c).await;
            assert_eq!(made.status, StatusCode::CREATED, "{made:?}");
            let id = made.body["bulletin"]["id"].as_str().unwrap();
            let path = format!("/api/v1/emergencies/{id}/stop");
            api.call(
                Method::POST,
                &path,
                &caller.token,
                Some(json!({"reason": "hết lũ"})),
            )
            .await
        }
        other => panic!("no attempt written for {other}"),
    }
}

async fn people(api: &ApiHub) -> (Vec<Person>, Vec<(Scope, Option<Scope>)>) {
    let mut callers = vec![Person {
        name: "admin",
        token: api.admin.clone(),
    }];
    for (name, role, area) in &CALLERS[1..] {
        callers.push(Person {
            name,
            token: api.person(name, role, area).await,
        });
    }
    let person = |name: &'static str, role: &'static str, area: &'static str| async move {
        Person {
            name,
            token: api.person(name, role, area).await,
        }
    };
    let scope = |commune, writer, operator| Scope {
        commune,
        writer,
        operator,
    };
    // Per caller (in CALLERS order): the inside and, below the province, an outside.
    let province = || async {
        scope(
            "24611",
            person("pe-2", "provincial_editor", "67").await,
            person("op-67", "operator", "67").await,
        )
    };
    let mut scopes = Vec::new();
    scopes.push((province().await, None));
    scopes.push((
        scope(
            "24611",
            person("pe-3", "provincial_editor", "67").await,
            person("op-67b", "operator", "67").await,
        ),
        None,
    ));
    for (i, _) in CALLERS[2..4].iter().enumerate() {
        let inside = scope(
            "24611",
            person(["de-660a", "de-660b"][i], "district_editor", "660").await,
            person(["op-660a", "op-660b"][i], "operator", "660").await,
        );
        let outside = scope(
            "24700",
            person(["de-661a", "de-661b"][i], "district_editor", "661").await,
            person(["op-661a", "op-661b"][i], "operator", "661").await,
        );
        scopes.push((inside, Some(outside)));
    }
    scopes.push((
        scope(
            "24611",
            person("ch-24611", "commune_chair", "24611").await,
            person("op-24611", "operator", "24611").await,
        ),
        Some(scope(
            "24612",
            person("ch-24612", "commune_chair", "24612").await,
            person("op-24612", "operator", "24612").await,
        )),
    ));
    scopes.push((
        scope(
            "24611",
            person("de-660c", "district_editor", "660").await,
            person("op-660c", "operator", "660").await,
        ),
        Some(scope(
            "24700",
            person("de-661c", "district_editor", "661").await,
            person("op-661c", "operator", "661").await,
        )),
    ));
    (callers, scopes)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_role_acts_only_within_its_role_and_area_and_every_change_is_audited() {
    let api = start().await;
    let (callers, scopes) = people(&api).await;
    let mut n = 0;
    let mut checked = 0;
    for (endpoint, row) in DESIGN {
        let cells: Vec<&str> = row.split_whitespace().collect();
        assert_eq!(cells.len(), callers.len(), "row {endpoint}");
        for ((caller, cell), (inside, outside)) in callers.iter().zip(&cells).zip(&scopes) {
            for (scope, is_inside) in [(Some(inside), true), (outside.as_ref(), false)] {
                let Some(scope) = scope else { continue };
                n += 1;
                let allowed = *cell == "Y" && is_inside;
                let from = api.clock.now();
                let answer = attempt(&api, endpoint, caller, scope, n).await;
                let place = if is_inside { "inside" } else { "outside" };
                let context = format!("{endpoint} by {} {place}: {answer:?}", caller.name);
                let audited: Vec<Value> = api
                    .audit_of(caller.name, from)
                    .await
                    .into_iter()
                    .filter(|e| e["action"] == *endpoint)
                    .collect();
                if allowed {
                    assert!(answer.status.is_success(), "{context}");
                    assert_eq!(audited.len(), 1, "one audit entry for {context}");
                } else {
                    assert_eq!(answer.status, StatusCode::FORBIDDEN, "{context}");
                    assert_eq!(answer.code(), "forbidden", "{context}");
                    assert!(audited.is_empty(), "a refusal changes nothing: {context}");
                }
                checked += 1;
            }
        }
    }
    // 18 endpoints × (6 insides + 4 outsides).
    assert_eq!(checked, DESIGN.len() * 10);
    api.hub.shutdown().await.unwrap();
}
