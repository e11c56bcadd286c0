//! The people's API over real HTTP against a running hub: who may do what
//! where (every role × every mutating endpoint × in and out of scope), the
//! audit entry each change leaves, the review workflow, bad requests, and
//! the OpenAPI document against the real routes.

use chrono::{DateTime, TimeDelta, Utc};
use hyper::{Method, StatusCode};
use serde_json::{json, Value};

use crate::support::api::{answer, call_at, start, tone_wav, Answer, ApiHub, PASSWORD};
use crate::support::http::send;

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
/// and refused (403) outside it, `O` allowed for the caller's own area
/// (uploads name no other area, so their row has no outside), `.` refused
/// everywhere. A province-wide
/// account has no outside in a provincial hub, so only its inside is tried.
const DESIGN: &[(&str, &str)] = &[
    //                   Adm PEd DEd Rev Chr Opr
    ("create_user", "Y   .   .   .   .   ."),
    ("disable_user", "Y   .   .   .   .   ."),
    ("change_role", "Y   .   .   .   .   ."),
    ("change_password", "Y   .   .   .   .   ."),
    ("create_token", "Y   .   .   .   .   ."),
    ("revoke_token", "Y   .   .   .   .   ."),
    ("register_device", "Y   .   .   .   .   ."),
    ("provision_device", "Y   .   .   .   .   ."),
    ("revoke_device", "Y   .   .   .   .   ."),
    ("upload_media", ".   O   O   .   O   O"),
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
        "register_device" => {
            let body = json!({"id": format!("{c}-LS-N{n}"), "kind": "loudspeaker",
                "commune": c, "name": "Loa mới"});
            api.call(Method::POST, "/api/v1/devices", &caller.token, Some(body))
                .await
        }
        "revoke_device" => {
            let body = json!({"id": format!("{c}-LS-R{n}"), "kind": "loudspeaker",
                "commune": c, "name": "Loa cũ"});
            let made = api
                .call(Method::POST, "/api/v1/devices", &api.admin, Some(body))
                .await;
            assert_eq!(made.status, StatusCode::CREATED, "{made:?}");
            let path = format!("/api/v1/devices/{c}-LS-R{n}/revoke");
            api.call(
                Method::POST,
                &path,
                &caller.token,
                Some(json!({"reason": "mất trộm"})),
            )
            .await
        }
        "upload_media" => api.upload_audio(&caller.token, tone_wav()).await,
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
        let own_area_only = cells.contains(&"O");
        for ((caller, cell), (inside, outside)) in callers.iter().zip(&cells).zip(&scopes) {
            let outside = outside.as_ref().filter(|_| !own_area_only);
            for (scope, is_inside) in [(Some(inside), true), (outside, false)] {
                let Some(scope) = scope else { continue };
                n += 1;
                let allowed = *cell != "." && is_inside;
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
    // 21 endpoints × (6 insides + 4 outsides), and uploads: 6 insides.
    assert_eq!(checked, (DESIGN.len() - 1) * 10 + 6);
    api.hub.shutdown().await.unwrap();
}

/// The documented operations, as (method, path).
async fn documented(api: &ApiHub) -> Vec<(String, String)> {
    let doc = call_at(api.addr, Method::GET, "/api/v1/openapi.json", None, None).await;
    assert_eq!(doc.status, StatusCode::OK);
    assert!(doc.body["openapi"].as_str().unwrap().starts_with("3."));
    let mut operations = Vec::new();
    for (path, item) in doc.body["paths"].as_object().unwrap() {
        for method in item.as_object().unwrap().keys() {
            operations.push((method.clone(), path.clone()));
        }
    }
    operations.sort();
    operations
}

/// A documented path with its parameters filled in.
fn concrete(path: &str) -> String {
    path.replace("{username}", "admin")
        .replace("{name}", "some-token")
        .replace("{id}", "b-1")
        .replace("{code}", "24611")
        .replace("{bulletin}", "b-1")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_openapi_document_lists_exactly_the_served_routes_and_all_need_a_login() {
    let api = start().await;
    let operations = documented(&api).await;
    let mut routed: Vec<(String, String)> = hub::api::routes::endpoints()
        .into_iter()
        .map(|e| (e.method.to_owned(), e.path.to_owned()))
        .collect();
    routed.sort();
    assert_eq!(
        operations, routed,
        "the document and the route table differ"
    );
    assert!(operations.len() >= 30, "{operations:?}");

    // A device's own credentials are no API login.
    let device = &api.hub.provisioning.devices[0];
    for (method, path) in &operations {
        let method: Method = method.to_uppercase().parse().unwrap();
        let path = concrete(path);
        let anonymous = call_at(api.addr, method.clone(), &path, None, None).await;
        if path == "/api/v1/session" && method == Method::POST {
            // Logging in is the one call without a token; without a body it is refused.
            assert_eq!(anonymous.status, StatusCode::UNSUPPORTED_MEDIA_TYPE);
            continue;
        }
        assert_eq!(
            anonymous.status,
            StatusCode::UNAUTHORIZED,
            "{method} {path}"
        );
        assert_eq!(anonymous.code(), "unauthenticated", "{method} {path}");
        let as_device = call_at(
            api.addr,
            method.clone(),
            &path,
            Some(&device.mqtt_password),
            None,
        )
        .await;
        assert_eq!(
            as_device.status,
            StatusCode::UNAUTHORIZED,
            "{method} {path}"
        );
    }
    let nowhere = call_at(api.addr, Method::GET, "/api/v1/nowhere", None, None).await;
    assert_eq!(
        (nowhere.status, nowhere.code()),
        (StatusCode::NOT_FOUND, "not_found")
    );
    api.hub.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn logins_fail_cleanly_and_disabled_accounts_and_revoked_tokens_stop_at_once() {
    let api = start().await;
    let chair = api.person("chair", "commune_chair", "24611").await;
    let wrong = call_at(
        api.addr,
        Method::POST,
        "/api/v1/session",
        None,
        Some(json!({"username": "chair", "password": "not the password"})),
    )
    .await;
    assert_eq!(
        (wrong.status, wrong.code()),
        (StatusCode::UNAUTHORIZED, "unauthenticated")
    );
    // Five failures lock the name out, the right password included.
    let attempt = |password: &'static str| {
        call_at(
            api.addr,
            Method::POST,
            "/api/v1/session",
            None,
            Some(json!({"username": "chair", "password": password})),
        )
    };
    for _ in 0..4 {
        assert_eq!(
            attempt("still wrong").await.status,
            StatusCode::UNAUTHORIZED
        );
    }
    let locked = attempt(PASSWORD).await;
    assert_eq!(
        (locked.status, locked.code()),
        (StatusCode::TOO_MANY_REQUESTS, "locked_out")
    );

    let areas = api.call(Method::GET, "/api/v1/areas", &chair, None).await;
    assert_eq!(areas.status, StatusCode::OK);
    let in_scope: Vec<&str> = areas
        .body
        .as_array()
        .unwrap()
        .iter()
        .filter(|a| a["in_scope"] == true)
        .map(|a| a["code"].as_str().unwrap())
        .collect();
    assert_eq!(in_scope, ["24611"]);

    let disabled = api
        .call(
            Method::POST,
            "/api/v1/users/chair/disable",
            &api.admin,
            Some(json!({"reason": "nghỉ hưu"})),
        )
        .await;
    assert_eq!(disabled.status, StatusCode::OK, "{disabled:?}");
    let after = api.call(Method::GET, "/api/v1/areas", &chair, None).await;
    assert_eq!(after.status, StatusCode::UNAUTHORIZED);

    let made = api
        .call(
            Method::POST,
            "/api/v1/tokens",
            &api.admin,
            Some(json!({"name": "central-feed", "role": "provincial_editor", "area": "67"})),
        )
        .await;
    assert_eq!(made.status, StatusCode::CREATED, "{made:?}");
    let token = made.body["token"].as_str().unwrap().to_owned();
    assert_eq!(
        api.call(Method::GET, "/api/v1/bulletins", &token, None)
            .await
            .status,
        StatusCode::OK
    );
    let no_reason = api
        .call(
            Method::POST,
            "/api/v1/tokens/central-feed/revoke",
            &api.admin,
            Some(json!({"reason": " "})),
        )
        .await;
    assert_eq!(
        (no_reason.status, no_reason.body["field"].as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, Some("reason"))
    );
    let revoked = api
        .call(
            Method::POST,
            "/api/v1/tokens/central-feed/revoke",
            &api.admin,
            Some(json!({"reason": "lộ"})),
        )
        .await;
    assert_eq!(revoked.status, StatusCode::OK);
    assert_eq!(
        api.call(Method::GET, "/api/v1/bulletins", &token, None)
            .await
            .status,
        StatusCode::UNAUTHORIZED
    );

    let logout = api
        .call(Method::DELETE, "/api/v1/session", &api.admin, None)
        .await;
    assert_eq!(logout.status, StatusCode::NO_CONTENT);
    assert_eq!(
        api.call(Method::GET, "/api/v1/areas", &api.admin, None)
            .await
            .status,
        StatusCode::UNAUTHORIZED
    );
    api.hub.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sensitive_bulletins_wait_for_a_reviewer_who_is_not_their_author() {
    let api = start().await;
    let editor = api.person("editor", "provincial_editor", "67").await;
    let reviewer = api.person("reviewer", "reviewer", "67").await;
    let writer = Person {
        name: "editor",
        token: editor.clone(),
    };
    // Law is a sensitive category: it goes to the board whatever the editor says.
    let id = draft(&api, &writer, "24611", "priority", "policy_law").await;
    let submitted = transition(&api, &writer, &id, "submit", false).await;
    assert_eq!(submitted.body["bulletin"]["state"], "submitted");
    let by_editor = transition(&api, &writer, &id, "approve", false).await;
    assert_eq!(by_editor.status, StatusCode::FORBIDDEN);

    // The author, made a reviewer, still may not approve their own bulletin.
    let promoted = api
        .call(
            Method::PUT,
            "/api/v1/users/editor/role",
            &api.admin,
            Some(json!({"role": "reviewer", "area": "67"})),
        )
        .await;
    assert_eq!(promoted.status, StatusCode::OK, "{promoted:?}");
    let own = transition(&api, &writer, &id, "approve", false).await;
    assert_eq!(own.status, StatusCode::FORBIDDEN);
    assert!(
        own.body["message"].as_str().unwrap().contains("author"),
        "{own:?}"
    );

    let reviewer = Person {
        name: "reviewer",
        token: reviewer,
    };
    let unexplained = api
        .call(
            Method::POST,
            &format!("/api/v1/bulletins/{id}/reject"),
            &reviewer.token,
            Some(json!({})),
        )
        .await;
    assert_eq!(
        (unexplained.status, unexplained.body["field"].as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, Some("reason"))
    );
    let approved = transition(&api, &reviewer, &id, "approve", false).await;
    assert_eq!(approved.status, StatusCode::OK, "{approved:?}");
    assert_ne!(approved.body["bulletin"]["state"], "submitted");
    let again = transition(&api, &reviewer, &id, "approve", false).await;
    assert_eq!(
        again.status,
        StatusCode::FORBIDDEN,
        "only submitted bulletins are reviewed"
    );

    // Its history: who did what, from which state to which.
    let history = api
        .call(
            Method::GET,
            &format!("/api/v1/audit?bulletin={id}"),
            &api.admin,
            None,
        )
        .await;
    let steps: Vec<(&str, &str, &str)> = history
        .body
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["action"].as_str().unwrap(),
                e["actor"]["subject"]["name"].as_str().unwrap(),
                e["after"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        steps[..2],
        [
            ("create_bulletin", "editor", "draft"),
            ("submit_bulletin", "editor", "submitted")
        ]
    );
    assert_eq!(steps[2].0, "approve_bulletin");
    assert_eq!(steps[2].1, "reviewer");
    assert_eq!(steps.len(), 3, "refusals leave no entry: {steps:?}");
    api.hub.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_requests_are_refused_with_the_field_named_and_change_nothing() {
    let api = start().await;
    let editor = api.person("editor", "district_editor", "660").await;
    let before = api
        .call(Method::GET, "/api/v1/bulletins", &api.admin, None)
        .await
        .body;
    let audit_before = api
        .audit_of("editor", api.clock.now() - TimeDelta::days(1))
        .await
        .len();
    let raw = |body: Vec<u8>, content_type: &'static str| {
        let token = editor.clone();
        let addr = api.addr;
        async move {
            let headers = [
                (hyper::header::AUTHORIZATION, format!("Bearer {token}")),
                (hyper::header::CONTENT_TYPE, content_type.to_owned()),
            ];
            answer(send(addr, Method::POST, "/api/v1/bulletins", &headers, body).await)
        }
    };
    let broken = raw(b"{\"title\": ".to_vec(), "application/json").await;
    assert_eq!(
        (broken.status, broken.code()),
        (StatusCode::BAD_REQUEST, "malformed")
    );
    let not_json = raw(b"title=x".to_vec(), "application/x-www-form-urlencoded").await;
    assert_eq!(not_json.status, StatusCode::UNSUPPORTED_MEDIA_TYPE);
    let huge = raw(vec![b' '; 300 * 1024], "application/json").await;
    assert_eq!(
        (huge.status, huge.code()),
        (StatusCode::PAYLOAD_TOO_LARGE, "too_large")
    );

    let good = bulletin_body(&api, "24611", "priority", "daily_life");
    let with = |field: &str, value: Value| {
        let mut body = good.clone();
        body[field] = value;
        body
    };
    let cases = [
        (with("colour", json!("red")), "colour"),
        (with("class", json!(7)), "class"),
        (with("category", json!("gossip")), "category"),
        (with("targets", json!(["99999"])), "targets[0]"),
        (with("targets", json!(["bad code!"])), "targets[0]"),
        (with("expires", json!("tomorrow")), "expires"),
        (with("level", json!("province")), "level"),
        (with("targets", json!([])), "targets"),
        (
            with(
                "variants",
                json!([{"language": "VI", "visual": {"kind": "text", "secs": 5}}]),
            ),
            "variants[0].language",
        ),
        (
            with(
                "variants",
                json!([{"language": "vi", "audio": {"upload": "ab".repeat(32)}}]),
            ),
            "variants[0].audio.upload",
        ),
    ];
    for (body, field) in cases {
        let refused = api
            .call(Method::POST, "/api/v1/bulletins", &editor, Some(body))
            .await;
        assert_eq!(
            refused.status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{field}: {refused:?}"
        );
        assert_eq!(refused.body["field"], field, "{refused:?}");
        assert!(!refused.body["message"].as_str().unwrap().is_empty());
    }
    // Outside the district: refused by the policy, not by validation.
    let outside = api
        .call(
            Method::POST,
            "/api/v1/bulletins",
            &editor,
            Some(with("targets", json!(["24700"]))),
        )
        .await;
    assert_eq!(outside.status, StatusCode::FORBIDDEN);
    for path in [
        "/api/v1/bulletins/b-404/submit",
        "/api/v1/bulletins/NOT%20AN%20ID/submit",
    ] {
        let unknown = api.call(Method::POST, path, &editor, None).await;
        assert_eq!(
            (unknown.status, unknown.code()),
            (StatusCode::NOT_FOUND, "not_found"),
            "{path}"
        );
    }
    let unknown_param = api
        .call(Method::GET, "/api/v1/audit?colour=red", &api.admin, None)
        .await;
    assert_eq!(unknown_param.status, StatusCode::UNPROCESSABLE_ENTITY);

    assert_eq!(
        api.call(Method::GET, "/api/v1/bulletins", &api.admin, None)
            .await
            .body,
        before
    );
    let audit_after = api
        .audit_of("editor", api.clock.now() - TimeDelta::days(1))
        .await
        .len();
    assert_eq!(
        audit_after, audit_before,
        "nothing was recorded, since nothing changed"
    );
    api.hub.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_uploaded_recording_becomes_a_bulletins_audio_and_bad_audio_is_refused() {
    let api = start().await;
    let chair = api.person("chair", "commune_chair", "24611").await;
    let garbage = api
        .upload_audio(&chair, b"RIFF but not really a wave file".to_vec())
        .await;
    assert_eq!(
        (garbage.status, garbage.body["field"].as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, Some("body"))
    );

    let stored = api.upload_audio(&chair, tone_wav()).await;
    assert_eq!(stored.status, StatusCode::CREATED, "{stored:?}");
    let sha256 = stored.body["sha256"].as_str().unwrap().to_owned();
    let duration_ms = stored.body["duration_ms"].as_u64().unwrap();
    assert!((900..=1_100).contains(&duration_ms), "{duration_ms}");

    let mut body = bulletin_body(&api, "24611", "priority", "daily_life");
    body["variants"] = json!([{"language": "vi", "audio": {"upload": sha256, "secs": 5}}]);
    let made = api
        .call(Method::POST, "/api/v1/bulletins", &chair, Some(body))
        .await;
    assert_eq!(made.status, StatusCode::CREATED, "{made:?}");
    let audio = &made.body["bulletin"]["variants"][0]["audio"];
    assert_eq!(audio["media"]["sha256"], sha256.as_str());
    assert_eq!(audio["secs"], 5);
    // The file is what devices download from the media server.
    let media = crate::support::http::fetch(
        api.hub.media_addr,
        Method::HEAD,
        &format!("/media/v1/{sha256}"),
        &[crate::support::http::basic(
            &api.hub.provisioning.devices[0].id,
            &api.hub.provisioning.devices[0].mqtt_password,
        )],
    )
    .await;
    assert_eq!(media.status, StatusCode::OK);
    api.hub.shutdown().await.unwrap();
}

#[test]
fn hub_admin_create_writes_the_first_administrator() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().to_str().unwrap();
    let config = crate::support::fixture("link-province.toml");
    let config = config.to_str().unwrap();
    // Read by `hub admin create` only; no other test sets it.
    std::env::set_var("HUB_ADMIN_PASSWORD", PASSWORD);
    let args = ["admin", "create", "--config", config, "--data", data];
    let out = crate::support::hub(
        &[
            &args[..],
            &["--username", "quan.tri", "--display-name", "Quản trị"],
        ]
        .concat(),
    )
    .expect("the administrator is created");
    assert!(
        out.contains("created administrator quan.tri for area 67"),
        "{out}"
    );
    let again = crate::support::hub(
        &[
            &args[..],
            &["--username", "quan.tri", "--display-name", "X"],
        ]
        .concat(),
    )
    .expect_err("the name is taken");
    assert!(again.to_string().contains("already exists"), "{again}");
    let misplaced = crate::support::hub(
        &[
            &args[..],
            &["--username", "b", "--display-name", "B", "--area", "24611"],
        ]
        .concat(),
    )
    .expect_err("an administrator is not scoped to a commune");
    assert!(misplaced.to_string().contains("24611"), "{misplaced}");

    let store = hub_store::Store::open(dir.path()).unwrap();
    let access = hub_access::AccessStore::new(store);
    let account = access
        .account(&hub_access::Username::parse("quan.tri").unwrap())
        .unwrap()
        .expect("stored");
    assert_eq!(account.role, hub_access::Role::Administrator);
    assert!(account
        .password
        .verify(&hub_access::Password::new(PASSWORD)));
}

/// Runs `hub` with `args` on a thread of its own (it starts its own runtime).
async fn hub_cli(args: Vec<String>) -> anyhow::Result<String> {
    let run = move || {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        crate::support::hub(&args)
    };
    tokio::task::spawn_blocking(move || std::thread::spawn(run).join().expect("no panic"))
        .await
        .expect("joined")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_command_line_writes_bulletins_and_triggers_emergencies_through_the_api() {
    let api = start().await;
    let chair = api.person("chair", "commune_chair", "24611").await;
    let operator = api.person("op", "operator", "660").await;
    let dir = tempfile::tempdir().unwrap();
    let recording = dir.path().join("thong-bao.wav");
    std::fs::write(&recording, tone_wav()).unwrap();
    let url = format!("http://{}", api.addr);
    let with = |token: &str, args: &[&str]| -> Vec<String> {
        let mut all: Vec<String> = args.iter().map(|a| a.to_string()).collect();
        // `--token=…`: a token may begin with '-'.
        all.extend(["--api".into(), url.clone(), format!("--token={token}")]);
        all
    };

    let created = hub_cli(with(
        &chair,
        &[
            "bulletin",
            "create",
            "--title",
            "Lịch tiêm phòng",
            "--target",
            "24611",
            "--level",
            "commune",
            "--priority",
            "priority",
            "--audio",
            recording.to_str().unwrap(),
        ],
    ))
    .await
    .expect("the bulletin is created and submitted");
    let created: Value = serde_json::from_str(&created).unwrap();
    assert_eq!(created["author"], "user:chair");
    assert_ne!(created["bulletin"]["state"], "draft");
    assert!(created["bulletin"]["variants"][0]["audio"]["media"]["sha256"].is_string());

    let outside = hub_cli(with(
        &chair,
        &[
            "bulletin",
            "create",
            "--title",
            "Ngoài xã",
            "--target",
            "24612",
            "--speech",
            "Xin chào",
        ],
    ))
    .await
    .expect_err("another commune is out of scope");
    assert!(outside.to_string().contains("403"), "{outside}");

    let triggered = hub_cli(with(
        &operator,
        &[
            "emergency",
            "trigger",
            "--title",
            "Lũ",
            "--target",
            "660",
            "--message",
            "Cảnh báo lũ",
        ],
    ))
    .await
    .expect("the emergency is triggered");
    let triggered: Value = serde_json::from_str(&triggered).unwrap();
    let id = triggered["bulletin"]["id"].as_str().unwrap().to_owned();
    assert_eq!(triggered["bulletin"]["class"], "emergency");
    let stopped = hub_cli(with(
        &operator,
        &["emergency", "stop", &id, "--reason", "nước rút"],
    ))
    .await
    .expect("the emergency stops");
    assert!(stopped.contains("cancelled"), "{stopped}");

    let file = dir.path().join("24700-LS-05.json");
    let registered = hub_cli(with(
        &api.admin,
        &[
            "device",
            "register",
            "--id",
            "24700-LS-05",
            "--kind",
            "loudspeaker",
            "--commune",
            "24700",
            "--name",
            "Loa bến đò",
            "--out",
            file.to_str().unwrap(),
        ],
    ))
    .await
    .expect("the device is registered");
    assert!(
        registered.contains("wrote the provisioning file"),
        "{registered}"
    );
    let provisioning: hub_proto::Provisioning =
        serde_json::from_slice(&std::fs::read(&file).unwrap()).unwrap();
    assert_eq!(provisioning.devices.len(), 1);
    assert_eq!(provisioning.devices[0].id, "24700-LS-05");

    let audit = hub_cli(with(&api.admin, &["audit", "--user", "op"]))
        .await
        .expect("the audit log reads");
    let audit: Value = serde_json::from_str(&audit).unwrap();
    let actions: Vec<&str> = audit
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    assert_eq!(actions, ["log_in", "trigger_emergency", "stop_emergency"]);
    api.hub.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_registered_device_joins_at_once_and_a_revoked_one_is_shut_out() {
    use crate::support::link::{eventually, fast_link};
    use firmware_sim::link::{DeviceConfig, DeviceHandle};
    use std::time::Duration;

    let api = start().await;
    let body = json!({"id": "24611-LS-09", "kind": "loudspeaker", "commune": "24611",
        "name": "Loa chợ mới"});
    let made = api
        .call(
            Method::POST,
            "/api/v1/devices",
            &api.admin,
            Some(body.clone()),
        )
        .await;
    assert_eq!(made.status, StatusCode::CREATED, "{made:?}");
    let again = api
        .call(Method::POST, "/api/v1/devices", &api.admin, Some(body))
        .await;
    assert_eq!(
        (again.status, again.body["field"].as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, Some("id"))
    );
    let nowhere = api
        .call(
            Method::POST,
            "/api/v1/devices",
            &api.admin,
            Some(json!({"id": "X-1", "kind": "loudspeaker", "commune": "660", "name": "x"})),
        )
        .await;
    assert_eq!(
        nowhere.body["field"], "commune",
        "a district is no commune: {nowhere:?}"
    );

    let file: hub_proto::Provisioning = serde_json::from_value(made.body).unwrap();
    let credentials = file.devices[0].clone();
    let start_device = || {
        let config = DeviceConfig::from_credentials(&credentials, &file.hub_public_key).unwrap();
        DeviceHandle::spawn(
            config,
            &file.broker.parse().unwrap(),
            api.clock,
            &fast_link(),
        )
    };
    let id = hub_core::DeviceId::parse("24611-LS-09").unwrap();
    let device = start_device();
    eventually(
        "the new device is online",
        Duration::from_secs(10),
        || async { api.hub.is_online(&id).await.unwrap() },
    )
    .await;
    let media_login = [crate::support::http::basic(
        &credentials.id,
        &credentials.mqtt_password,
    )];
    let probe = format!("/media/v1/{}", "0".repeat(64));
    let before =
        crate::support::http::fetch(api.hub.media_addr, Method::GET, &probe, &media_login).await;
    assert_eq!(
        before.status,
        StatusCode::NOT_FOUND,
        "its password opens the media server"
    );

    let revoked = api
        .call(
            Method::POST,
            "/api/v1/devices/24611-LS-09/revoke",
            &api.admin,
            Some(json!({"reason": "mất trộm"})),
        )
        .await;
    assert_eq!(revoked.status, StatusCode::NO_CONTENT, "{revoked:?}");
    assert!(!api.hub.is_online(&id).await.unwrap());
    let after =
        crate::support::http::fetch(api.hub.media_addr, Method::GET, &probe, &media_login).await;
    assert_eq!(after.status, StatusCode::UNAUTHORIZED);
    let reissue = api
        .call(
            Method::POST,
            "/api/v1/devices/24611-LS-09/credentials",
            &api.admin,
            None,
        )
        .await;
    assert_eq!(reissue.status, StatusCode::NOT_FOUND);
    // The connection it had stays until it drops, but nothing it says counts.
    eventually(
        "its reports are dropped as revoked",
        Duration::from_secs(10),
        || async {
            api.hub
                .stats()
                .await
                .unwrap()
                .dropped
                .get("revoked")
                .copied()
                .unwrap_or(0)
                > 0
        },
    )
    .await;
    device.stop().await;
    let returning = start_device();
    tokio::time::sleep(Duration::from_millis(1_500)).await;
    assert!(!returning.is_connected(), "the broker refuses its password");
    assert!(!api.hub.is_online(&id).await.unwrap());
    returning.stop().await;
    api.hub.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_chair_sees_the_week_ahead_and_opts_a_normal_bulletin_in() {
    let api = start().await;
    let chair = api.person("chair", "commune_chair", "24611").await;
    let editor = Person {
        name: "pe",
        token: api.person("pe", "provincial_editor", "67").await,
    };
    let now = api.clock.now();
    let mut body = bulletin_body(&api, "24611", "normal", "daily_life");
    body["not_before"] = json!(in_days(now, 2));
    body["expires"] = json!(in_days(now, 4));
    let made = api
        .call(Method::POST, "/api/v1/bulletins", &editor.token, Some(body))
        .await;
    assert_eq!(made.status, StatusCode::CREATED, "{made:?}");
    let id = made.body["bulletin"]["id"].as_str().unwrap().to_owned();
    transition(&api, &editor, &id, "submit", false).await;

    let week = |days: &str| {
        let path = format!("/api/v1/communes/24611/programme?days={days}");
        let token = chair.clone();
        let api = &api;
        async move { api.call(Method::GET, &path, &token, None).await }
    };
    let airs = |answer: &Answer| -> Vec<String> {
        answer.body["days"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|day| {
                day["devices"].as_array().unwrap().iter().any(|d| {
                    d["plan"]
                        .as_array()
                        .unwrap()
                        .iter()
                        .any(|i| i["key"]["bulletin"] == id.as_str())
                })
            })
            .map(|day| day["date"].as_str().unwrap().to_owned())
            .collect()
    };
    let before = week("7").await;
    assert_eq!(before.status, StatusCode::OK, "{before:?}");
    assert_eq!(before.body["days"].as_array().unwrap().len(), 7);
    assert!(
        airs(&before).is_empty(),
        "a normal bulletin airs only once opted in"
    );
    assert_eq!(week("8").await.body["field"], "days");

    let from = (now + TimeDelta::days(2))
        .with_timezone(&chrono_tz::Asia::Ho_Chi_Minh)
        .date_naive()
        .and_hms_opt(17, 0, 0)
        .unwrap();
    let opted = api
        .call(
            Method::PUT,
            &format!("/api/v1/communes/24611/opt-ins/{id}"),
            &chair,
            Some(json!({"at": from.format("%Y-%m-%dT%H:%M:%S").to_string()})),
        )
        .await;
    assert_eq!(opted.status, StatusCode::NO_CONTENT, "{opted:?}");
    let after = week("7").await;
    assert_eq!(after.body["opt_ins"][0]["bulletin"], id.as_str());
    assert_eq!(
        airs(&after),
        [from.date().to_string()],
        "it airs on the day it was opted in for"
    );

    // Per device: today's plan, as the device itself is sent it (an LED
    // board: the bulletin has text only).
    let today = bulletin_in(
        &api,
        &Scope {
            commune: "24611",
            writer: editor,
            operator: Person {
                name: "chair",
                token: chair.clone(),
            },
        },
        "approved",
    )
    .await;
    let device = api
        .call(Method::GET, "/api/v1/devices/24611-LB-01", &chair, None)
        .await;
    assert_eq!(device.status, StatusCode::OK, "{device:?}");
    let planned: Vec<&str> = device.body["plan"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["key"]["bulletin"].as_str().unwrap())
        .collect();
    assert!(planned.contains(&today.as_str()), "{planned:?}");
    api.hub.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_uploaded_picture_is_fitted_to_the_boards_and_shown_by_a_bulletin() {
    let api = start().await;
    let chair = api.person("chair", "commune_chair", "24611").await;
    let dir = tempfile::tempdir().unwrap();
    let poster = dir.path().join("poster.jpg");
    let made = std::process::Command::new("ffmpeg")
        .args(["-nostdin", "-loglevel", "error", "-y", "-f", "lavfi"])
        .args(["-i", "color=c=blue:s=300x300", "-frames:v", "1"])
        .arg(&poster)
        .status()
        .expect("ffmpeg runs (apt-get install ffmpeg)");
    assert!(made.success());
    let upload = |bytes: Vec<u8>, content_type: &'static str| {
        let headers = [
            (hyper::header::AUTHORIZATION, format!("Bearer {chair}")),
            (hyper::header::CONTENT_TYPE, content_type.to_owned()),
        ];
        let addr = api.addr;
        async move {
            let path = "/api/v1/uploads/image?filename=poster.jpg";
            answer(send(addr, Method::POST, path, &headers, bytes).await)
        }
    };
    let garbage = upload(b"\xff\xd8\xff not really a jpeg".to_vec(), "image/jpeg").await;
    assert_eq!(
        (garbage.status, garbage.body["field"].as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, Some("body"))
    );
    let wrong_type = upload(std::fs::read(&poster).unwrap(), "text/plain").await;
    assert_eq!(wrong_type.status, StatusCode::UNSUPPORTED_MEDIA_TYPE);
    let stored = upload(std::fs::read(&poster).unwrap(), "image/jpeg").await;
    assert_eq!(stored.status, StatusCode::CREATED, "{stored:?}");
    let sha256 = stored.body["sha256"].as_str().unwrap().to_owned();

    let with_visual = |visual: Value| {
        let mut body = bulletin_body(&api, "24611", "priority", "daily_life");
        body["variants"] = json!([{"language": "vi", "visual": visual}]);
        body
    };
    let refusals = [
        (
            json!({"kind": "text", "secs": 20, "text": "x", "upload": sha256}),
            "variants[0].visual.upload",
        ),
        (
            json!({"kind": "image", "secs": 20}),
            "variants[0].visual.upload",
        ),
        (
            json!({"kind": "video", "secs": 20, "upload": sha256}),
            "variants[0].visual.upload",
        ),
        (
            json!({"kind": "image", "upload": sha256}),
            "variants[0].visual.secs",
        ),
    ];
    for (visual, field) in refusals {
        let refused = api
            .call(
                Method::POST,
                "/api/v1/bulletins",
                &chair,
                Some(with_visual(visual)),
            )
            .await;
        assert_eq!(
            (refused.status, refused.body["field"].as_str()),
            (StatusCode::UNPROCESSABLE_ENTITY, Some(field)),
            "{refused:?}"
        );
    }
    let visual = json!({"kind": "image", "secs": 30, "text": "Ngày hội", "upload": sha256});
    let made = api
        .call(
            Method::POST,
            "/api/v1/bulletins",
            &chair,
            Some(with_visual(visual)),
        )
        .await;
    assert_eq!(made.status, StatusCode::CREATED, "{made:?}");
    let part = &made.body["bulletin"]["variants"][0]["visual"];
    assert_eq!(part["media"]["sha256"], sha256.as_str());
    assert_eq!(part["text"], "Ngày hội");
    // Stored fitted to the boards: a 384×192 PNG.
    let board = &api
        .hub
        .provisioning
        .devices
        .iter()
        .find(|d| d.id == "24611-LB-01")
        .unwrap();
    let file = crate::support::http::fetch(
        api.hub.media_addr,
        Method::GET,
        &format!("/media/v1/{sha256}"),
        &[crate::support::http::basic(&board.id, &board.mqtt_password)],
    )
    .await;
    assert_eq!(file.header(hyper::header::CONTENT_TYPE), "image/png");
    assert_eq!(&file.body[..8], b"\x89PNG\r\n\x1a\n");
    let (width, height) = (
        u32::from_be_bytes(file.body[16..20].try_into().unwrap()),
        u32::from_be_bytes(file.body[20..24].try_into().unwrap()),
    );
    assert_eq!((width, height), (384, 192));
    api.hub.shutdown().await.unwrap();
}
