//! The console over real HTTP against a real hub (store in a temporary
//! directory, embedded broker, API listener on port 0): sessions, CSRF,
//! scope, expiry, both languages.

use std::net::SocketAddr;
use std::time::Duration;

use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use hyper::client::conn::http1;
use hyper::header::{HeaderMap, HeaderName, CONTENT_TYPE, COOKIE, HOST, LOCATION, SET_COOKIE};
use hyper::{Method, Request, StatusCode};
use hyper_util::rt::TokioIo;
use serde_json::{json, Value};
use tempfile::TempDir;

use crate::link::{self, BrokerChoice, HubHandle, ServeOptions};

const PASSWORD: &str = "mật khẩu đủ dài 2026";
const FIXTURE: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../tests/fixtures/link-province.toml"
);

struct Answer {
    status: StatusCode,
    headers: HeaderMap,
    body: String,
    bytes: Bytes,
}

impl Answer {
    fn location(&self) -> &str {
        self.headers
            .get(LOCATION)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
    }

    /// The value `Set-Cookie` gives cookie `name`, with its attributes.
    fn set_cookie(&self, name: &str) -> Option<String> {
        self.headers
            .get_all(SET_COOKIE)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .find(|v| v.starts_with(&format!("{name}=")))
            .map(str::to_owned)
    }

    /// The form token in the page.
    fn csrf(&self) -> String {
        let marker = r#"name="csrf" value=""#;
        let start = self.body.find(marker).expect("a form with a token") + marker.len();
        self.body[start..].split('"').next().unwrap().to_owned()
    }
}

async fn send(
    addr: SocketAddr,
    method: Method,
    path: &str,
    headers: &[(HeaderName, String)],
    body: Vec<u8>,
) -> Answer {
    let stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    let (mut sender, connection) = http1::handshake(TokioIo::new(stream)).await.unwrap();
    tokio::spawn(connection);
    let mut request = Request::builder()
        .method(method)
        .uri(path)
        .header(HOST, addr.to_string());
    for (name, value) in headers {
        request = request.header(name, value);
    }
    let response = sender
        .send_request(request.body(Full::new(Bytes::from(body))).unwrap())
        .await
        .unwrap();
    let (parts, body) = response.into_parts();
    let body = body.collect().await.unwrap().to_bytes();
    Answer {
        status: parts.status,
        headers: parts.headers,
        body: String::from_utf8_lossy(&body).into_owned(),
        bytes: body,
    }
}

/// A hub on the link-test province with its first administrator.
struct Hub {
    hub: HubHandle,
    addr: SocketAddr,
    admin: String,
    /// Holds the store (and the media files, in `data/media`).
    dir: TempDir,
}

/// A browser: its cookies, as a person's browser keeps them.
struct Browser {
    addr: SocketAddr,
    cookies: Vec<(String, String)>,
}

impl Hub {
    /// `speed`: how fast the hub's clock runs.
    async fn start(speed: f64) -> Hub {
        Hub::start_in(speed, None).await
    }

    /// A hub whose province is in time zone `zone` (default: the
    /// fixture's, Asia/Ho_Chi_Minh).
    async fn start_in(speed: f64, zone: Option<&str>) -> Hub {
        let dir = tempfile::tempdir().unwrap();
        let config = match zone {
            None => std::path::PathBuf::from(FIXTURE),
            Some(zone) => {
                let fixture = std::fs::read_to_string(FIXTURE).unwrap();
                let path = dir.path().join("province.toml");
                std::fs::write(&path, format!("timezone = \"{zone}\"\n{fixture}")).unwrap();
                path
            }
        };
        let loaded = crate::config::load(&config).expect("the fixture loads");
        let clock = hub_proto::Clock::simulated("2026-11-23T03:00:00Z".parse().unwrap(), speed);
        let data = dir.path().join("data");
        {
            let store = hub_store::Store::open(&data).unwrap();
            crate::admin::create_admin(
                &store,
                &loaded.province.tree,
                hub_access::Username::parse("admin").unwrap(),
                "Quản trị",
                hub_core::AreaCode::parse("67").unwrap(),
                &hub_access::Password::new(PASSWORD),
                clock.now(),
            )
            .unwrap();
        }
        let hub = link::start(ServeOptions {
            data_dir: data,
            config: loaded,
            broker: BrokerChoice::Embedded,
            clock,
            tick: Duration::from_millis(50),
            delivery_events: None,
        })
        .await
        .expect("the hub starts");
        let addr = hub.api_addr;
        let login = api(
            addr,
            Method::POST,
            "/api/v1/session",
            None,
            json!({"username": "admin", "password": PASSWORD}),
        )
        .await;
        let admin = login["token"]
            .as_str()
            .expect("the administrator logs in")
            .to_owned();
        Hub {
            hub,
            addr,
            admin,
            dir,
        }
    }

    /// Creates an account through the API and logs it in through the console.
    async fn person(&self, username: &str, role: &str, area: &str) -> Browser {
        let created = api(self.addr, Method::POST, "/api/v1/users", Some(&self.admin),
            json!({"username": username, "display_name": username, "password": PASSWORD, "role": role, "area": area})).await;
        assert_eq!(created["username"], username, "{created}");
        let mut browser = Browser {
            addr: self.addr,
            cookies: Vec::new(),
        };
        let answer = browser.log_in(username, PASSWORD).await;
        assert_eq!(answer.status, StatusCode::SEE_OTHER, "{}", answer.body);
        browser
    }
}

async fn api(
    addr: SocketAddr,
    method: Method,
    path: &str,
    bearer: Option<&str>,
    body: Value,
) -> Value {
    let mut headers = vec![(CONTENT_TYPE, "application/json".to_owned())];
    if let Some(token) = bearer {
        headers.push((hyper::header::AUTHORIZATION, format!("Bearer {token}")));
    }
    let answer = send(
        addr,
        method,
        path,
        &headers,
        serde_json::to_vec(&body).unwrap(),
    )
    .await;
    serde_json::from_str(&answer.body).unwrap_or(Value::Null)
}

impl Browser {
    fn new(addr: SocketAddr) -> Browser {
        Browser {
            addr,
            cookies: Vec::new(),
        }
    }

    fn cookie(&self, name: &str) -> Option<&str> {
        self.cookies
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    fn keep_cookies(&mut self, answer: &Answer) {
        for value in answer
            .headers
            .get_all(SET_COOKIE)
            .iter()
            .filter_map(|v| v.to_str().ok())
        {
            let Some((name, rest)) = value.split_once('=') else {
                continue;
            };
            let value = rest.split(';').next().unwrap_or_default().to_owned();
            self.cookies.retain(|(n, _)| n != name);
            if !value.is_empty() {
                self.cookies.push((name.to_owned(), value));
            }
        }
    }

    async fn request(
        &mut self,
        method: Method,
        path: &str,
        form: Option<String>,
        extra: &[(HeaderName, String)],
    ) -> Answer {
        let mut headers = extra.to_vec();
        if !self.cookies.is_empty() {
            let jar: Vec<String> = self
                .cookies
                .iter()
                .map(|(n, v)| format!("{n}={v}"))
                .collect();
            headers.push((COOKIE, jar.join("; ")));
        }
        if form.is_some() {
            headers.push((CONTENT_TYPE, "application/x-www-form-urlencoded".to_owned()));
        }
        let answer = send(
            self.addr,
            method,
            path,
            &headers,
            form.unwrap_or_default().into_bytes(),
        )
        .await;
        self.keep_cookies(&answer);
        answer
    }

    async fn get(&mut self, path: &str) -> Answer {
        self.request(Method::GET, path, None, &[]).await
    }

    /// A `GET` with a `Range` header, as a media player sends it.
    async fn get_range(&mut self, path: &str, range: &str) -> Answer {
        let range = [(hyper::header::RANGE, range.to_owned())];
        self.request(Method::GET, path, None, &range).await
    }

    /// The session token, which the API takes as a bearer token too.
    fn token(&self) -> String {
        self.cookie("nguon_session").expect("a session").to_owned()
    }

    /// Posts `fields` as a browser posts a form, exactly as given.
    async fn post(&mut self, path: &str, fields: &[(&str, &str)]) -> Answer {
        let mut body = form_urlencoded::Serializer::new(String::new());
        body.extend_pairs(fields);
        self.request(Method::POST, path, Some(body.finish()), &[])
            .await
    }

    /// Posts `fields` with the token of the page at `page`, as its form does.
    async fn submit(&mut self, page: &str, path: &str, fields: &[(&str, &str)]) -> Answer {
        let token = self.get(page).await.csrf();
        let mut all = vec![("csrf", token.as_str())];
        all.extend_from_slice(fields);
        self.post(path, &all).await
    }

    async fn log_in(&mut self, username: &str, password: &str) -> Answer {
        let page = self.get("/console/login").await;
        let token = page.csrf();
        self.post(
            "/console/login",
            &[
                ("csrf", &token),
                ("username", username),
                ("password", password),
            ],
        )
        .await
    }
}

#[tokio::test]
async fn login_sets_a_strict_http_only_cookie_and_each_role_goes_home() {
    let hub = Hub::start(1.0).await;
    let mut browser = Browser::new(hub.addr);
    let page = browser.get("/console/login").await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.body.contains(r#"data-test="login-username""#));
    let login = browser.log_in("admin", PASSWORD).await;
    assert_eq!(login.status, StatusCode::SEE_OTHER, "{}", login.body);
    assert_eq!(login.location(), "/console/");
    let cookie = login.set_cookie("nguon_session").expect("a session cookie");
    assert!(
        cookie.contains("; Path=/; HttpOnly; SameSite=Strict"),
        "{cookie}"
    );
    assert!(!cookie.contains("Secure"), "plain HTTP here: {cookie}");
    assert_eq!(browser.get("/console/").await.location(), "/console/health");

    let mut chair = hub.person("chair", "commune_chair", "24611").await;
    assert_eq!(
        chair.get("/console/").await.location(),
        "/console/communes/24611"
    );
    let mut editor = hub.person("editor", "provincial_editor", "67").await;
    assert_eq!(
        editor.get("/console/").await.location(),
        "/console/bulletins"
    );
    // The API's answers for unknown paths are still its JSON.
    let unknown = send(hub.addr, Method::GET, "/api/v1/nothing", &[], Vec::new()).await;
    assert_eq!(unknown.status, StatusCode::NOT_FOUND);
    assert!(unknown.body.contains(r#""code":"not_found""#));
    hub.hub.shutdown().await.unwrap();
}

#[tokio::test]
async fn a_login_without_its_form_token_is_refused_and_wrong_passwords_say_so() {
    let hub = Hub::start(1.0).await;
    let mut browser = Browser::new(hub.addr);
    // A forged login from another site: no token cookie, no form token.
    let forged = browser
        .post(
            "/console/login",
            &[("username", "admin"), ("password", PASSWORD)],
        )
        .await;
    assert_eq!(forged.status, StatusCode::FORBIDDEN);
    assert!(forged.set_cookie("nguon_session").is_none());
    let wrong = browser.log_in("admin", "not the password").await;
    assert_eq!(wrong.status, StatusCode::UNAUTHORIZED);
    assert!(wrong.body.contains(r#"data-test="error""#));
    assert!(
        wrong.body.contains(r#"value="admin""#),
        "the name typed is kept"
    );
    assert!(browser.cookie("nguon_session").is_none());
    hub.hub.shutdown().await.unwrap();
}

#[tokio::test]
async fn a_post_without_or_with_a_wrong_token_is_refused_and_changes_nothing() {
    let hub = Hub::start(1.0).await;
    let mut editor = hub.person("editor", "provincial_editor", "67").await;
    // A draft for boards only (no speech), written through the API with the
    // same session: the console's cookie is the API's session token.
    let token = editor.cookie("nguon_session").unwrap().to_owned();
    let draft = api(hub.addr, Method::POST, "/api/v1/bulletins", Some(&token), json!({
        "title": "Lịch tiêm chủng", "category": "daily_life", "class": "priority", "targets": ["24611"],
        "not_before": "2026-11-23T03:00:00Z", "expires": "2026-11-30T03:00:00Z",
        "variants": [{"language": "vi", "visual": {"kind": "text", "secs": 20, "text": "Tiêm chủng sáng thứ Hai"}}]})).await;
    let id = draft["bulletin"]["id"]
        .as_str()
        .expect("a draft")
        .to_owned();
    let page = format!("/console/bulletins/{id}");
    let submit = format!("{page}/submit");

    let without = editor.post(&submit, &[]).await;
    assert_eq!(without.status, StatusCode::FORBIDDEN);
    let wrong = editor.post(&submit, &[("csrf", &"0".repeat(64))]).await;
    assert_eq!(wrong.status, StatusCode::FORBIDDEN);
    assert!(wrong.body.contains(r#"data-test="error""#));
    let shown = editor.get(&page).await;
    assert!(
        shown.body.contains(r#"data-state="draft""#),
        "still a draft"
    );
    assert!(shown.body.contains(r#"data-test="board-preview""#));

    let done = editor.submit(&page, &submit, &[]).await;
    assert_eq!(done.status, StatusCode::SEE_OTHER, "{}", done.body);
    assert_eq!(done.location(), format!("{page}?flash=submitted"));
    let shown = editor.get(done.location()).await;
    assert!(shown.body.contains(r#"data-test="flash""#));
    assert!(!shown.body.contains(r#"data-state="draft""#));
    // The board preview is a PNG at the boards' resolution.
    let preview = editor.get(&format!("{page}/board.png")).await;
    assert_eq!(preview.status, StatusCode::OK);
    assert_eq!(preview.headers[CONTENT_TYPE], "image/png");
    hub.hub.shutdown().await.unwrap();
}

#[tokio::test]
async fn a_chair_sees_only_their_own_commune() {
    let hub = Hub::start(1.0).await;
    let mut chair = hub.person("chair", "commune_chair", "24611").await;
    let own = chair.get("/console/communes/24611").await;
    assert_eq!(own.status, StatusCode::OK, "{}", own.body);
    for hook in ["programme-today", "programme-week", "aired-list"] {
        assert!(
            own.body.contains(&format!(r#"data-test="{hook}""#)),
            "{hook}"
        );
    }
    let other = chair.get("/console/communes/24612").await;
    assert_eq!(other.status, StatusCode::FORBIDDEN);
    assert!(other.body.contains(r#"data-test="error""#));
    let opted = chair
        .submit(
            "/console/communes/24611",
            "/console/communes/24612/opt-ins/b-1",
            &[("choice", "in")],
        )
        .await;
    assert_eq!(
        opted.status,
        StatusCode::FORBIDDEN,
        "the API's rules refuse it"
    );
    hub.hub.shutdown().await.unwrap();
}

#[tokio::test]
async fn an_expired_or_closed_session_goes_back_to_the_login_page() {
    // A day passes every real second: a 12-hour session lasts half a second.
    let hub = Hub::start(86_400.0).await;
    let mut browser = Browser::new(hub.addr);
    assert_eq!(
        browser.log_in("admin", PASSWORD).await.status,
        StatusCode::SEE_OTHER
    );
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let expired = browser.get("/console/health").await;
    assert_eq!(expired.status, StatusCode::SEE_OTHER);
    assert_eq!(expired.location(), "/console/login?flash=session_ended");
    assert!(
        browser.cookie("nguon_session").is_none(),
        "the cookie is cleared"
    );
    let page = browser.get(expired.location()).await;
    assert!(page.body.contains(r#"data-test="flash""#));
    // Without any cookie: just the login page.
    assert_eq!(
        Browser::new(hub.addr)
            .get("/console/review")
            .await
            .location(),
        "/console/login"
    );
    hub.hub.shutdown().await.unwrap();
}

#[tokio::test]
async fn logging_out_ends_the_session_for_the_api_too() {
    let hub = Hub::start(1.0).await;
    let mut reviewer = hub.person("reviewer", "reviewer", "67").await;
    let token = reviewer.cookie("nguon_session").unwrap().to_owned();
    let out = reviewer
        .submit("/console/review", "/console/logout", &[])
        .await;
    assert_eq!(out.location(), "/console/login?flash=logged_out");
    let api_answer = api(
        hub.addr,
        Method::GET,
        "/api/v1/areas",
        Some(&token),
        Value::Null,
    )
    .await;
    assert_eq!(api_answer["code"], "unauthenticated");
    hub.hub.shutdown().await.unwrap();
}

#[tokio::test]
async fn pages_render_in_vietnamese_and_in_english() {
    let hub = Hub::start(1.0).await;
    let mut operator = hub.person("operator", "operator", "67").await;
    let vi = operator.get("/console/emergency").await;
    assert!(vi.body.contains(r#"<html lang="vi">"#));
    assert!(vi.body.contains("Phát khẩn cấp"));
    assert!(vi.body.contains(r#"data-test="emergency-target-24611""#));
    let switched = operator.get("/console/lang/en").await;
    assert_eq!(switched.location(), "/console/");
    let en = operator.get("/console/emergency").await;
    assert!(en.body.contains(r#"<html lang="en">"#));
    assert!(en.body.contains("Emergency broadcast"));
    assert!(en.body.contains(r#"data-test="lang-vi""#));
    let health = operator.get("/console/health").await;
    assert!(
        health.body.contains(r#"data-test="health-commune-24611""#),
        "{}",
        health.body
    );
    assert!(health.body.contains("Device health"));
    hub.hub.shutdown().await.unwrap();
}

/// A section of a page, from its `data-test` hook to the next one named.
fn section<'a>(page: &'a str, hook: &str, next: &str) -> &'a str {
    let from = page
        .find(&format!(r#"data-test="{hook}""#))
        .unwrap_or_else(|| panic!("no {hook} in {page}"));
    let to = page[from..]
        .find(&format!(r#"data-test="{next}""#))
        .map_or(page.len(), |to| from + to);
    &page[from..to]
}

/// Polls the page at `path` until `done` holds for it; fails after 60 s.
async fn page_until(
    browser: &mut Browser,
    path: &str,
    what: &str,
    done: impl Fn(&str) -> bool,
) -> Answer {
    for _ in 0..600 {
        let page = browser.get(path).await;
        if done(&page.body) {
            return page;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("{what}: {}", browser.get(path).await.body);
}

#[tokio::test]
async fn media_previews_answer_ranges_so_players_know_the_length() {
    let hub = Hub::start(1.0).await;
    let mut editor = hub.person("editor", "provincial_editor", "67").await;
    let draft = api(hub.addr, Method::POST, "/api/v1/bulletins", Some(&editor.token()), json!({
        "title": "Lịch tiêm chủng", "category": "daily_life", "class": "priority", "targets": ["24611"],
        "not_before": "2026-11-23T03:10:00Z", "expires": "2026-11-30T03:00:00Z",
        "variants": [{"language": "vi", "audio": {"speech": "Tiêm chủng sáng thứ Hai"}}]})).await;
    let sha256 = draft["bulletin"]["variants"][0]["audio"]["media"]["sha256"]
        .as_str()
        .unwrap_or_else(|| panic!("spoken and stored: {draft}"))
        .to_owned();
    let stored = std::fs::read(hub.dir.path().join("data/media").join(&sha256)).unwrap();
    let size = stored.len();
    let path = format!("/console/media/{sha256}");

    let whole = editor.get(&path).await;
    assert_eq!(whole.status, StatusCode::OK);
    assert_eq!(whole.headers["accept-ranges"], "bytes");
    assert_eq!(whole.headers[CONTENT_TYPE], "audio/ogg");
    assert_eq!(whole.bytes.as_ref(), stored.as_slice());
    // What Chromium asks for to find an Ogg file's length: its end.
    let tail = editor.get_range(&path, "bytes=-200").await;
    assert_eq!(tail.status, StatusCode::PARTIAL_CONTENT);
    assert_eq!(
        tail.headers["content-range"],
        format!("bytes {}-{}/{size}", size - 200, size - 1)
    );
    assert_eq!(tail.bytes.as_ref(), &stored[size - 200..]);
    let head = editor.get_range(&path, "bytes=0-3").await;
    assert_eq!(head.status, StatusCode::PARTIAL_CONTENT);
    assert_eq!(head.bytes.as_ref(), b"OggS");
    let past = editor.get_range(&path, &format!("bytes={size}-")).await;
    assert_eq!(past.status, StatusCode::RANGE_NOT_SATISFIABLE);
    assert_eq!(past.headers["content-range"], format!("bytes */{size}"));

    let unknown = editor
        .get(&format!("/console/media/{}", "0".repeat(64)))
        .await;
    assert_eq!(unknown.status, StatusCode::NOT_FOUND);
    assert!(unknown.body.contains(r#"data-test="error""#));
    // Without a session: the login page, not the file.
    let stranger = Browser::new(hub.addr).get(&path).await;
    assert_eq!(stranger.location(), "/console/login");
    hub.hub.shutdown().await.unwrap();
}

#[tokio::test]
async fn a_chairs_programme_shows_loudspeakers_before_boards_in_the_provinces_own_zone() {
    // Tokyo is two hours ahead of Vietnam: 03:10 UTC is 12:10 there.
    let hub = Hub::start_in(1.0, Some("Asia/Tokyo")).await;
    let mut editor = hub.person("editor", "provincial_editor", "67").await;
    let token = editor.token();
    let draft = api(hub.addr, Method::POST, "/api/v1/bulletins", Some(&token), json!({
        "title": "Lịch cắt điện", "category": "daily_life", "class": "priority", "targets": ["24611"],
        "not_before": "2026-11-23T03:10:00Z", "expires": "2026-11-23T09:00:00Z",
        "variants": [{"language": "vi", "audio": {"speech": "Cắt điện"},
            "visual": {"kind": "text", "secs": 30, "text": "Cắt điện chiều nay"}}]})).await;
    let id = draft["bulletin"]["id"]
        .as_str()
        .unwrap_or_else(|| panic!("a draft: {draft}"))
        .to_owned();
    let submitted = api(
        hub.addr,
        Method::POST,
        &format!("/api/v1/bulletins/{id}/submit"),
        Some(&token),
        Value::Null,
    )
    .await;
    assert_eq!(submitted["bulletin"]["state"], "scheduled", "{submitted}");

    let mut chair = hub.person("chair", "commune_chair", "24611").await;
    let page = chair.get("/console/communes/24611").await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.body);
    let today = section(&page.body, "programme-today", "programme-week");
    let speakers = today
        .find(r#"data-kind="loudspeaker""#)
        .expect("loudspeaker rows");
    let boards = today.find(r#"data-kind="led_board""#).expect("board rows");
    assert!(speakers < boards, "loudspeakers first: {today}");
    // The bulletin's hook is on its loudspeaker row, which reads in Tokyo
    // time with seconds (the speech is shorter than a minute).
    let hook = format!(r#"data-test="slot-{id}" data-kind="loudspeaker"><td>12:10:00–12:10:0"#);
    assert!(today.contains(&hook), "{today}");
    assert!(
        today.contains("12:10:00–12:10:30"),
        "the board's 30 s: {today}"
    );
    assert!(!today.contains("10:10"), "Vietnam's time: {today}");

    let detail = editor.get(&format!("/console/bulletins/{id}")).await;
    assert!(
        detail.body.contains("23/11/2026 12:10 – 23/11/2026 18:00"),
        "{}",
        detail.body
    );
    let compose = editor.get("/console/bulletins/new").await;
    assert!(
        compose.body.contains(r#"value="2026-11-23T12:0"#),
        "{}",
        compose.body
    );
    hub.hub.shutdown().await.unwrap();
}

#[tokio::test]
async fn the_emergency_page_counts_how_far_it_got_and_the_commune_page_lists_what_aired() {
    use firmware_sim::fleet::{Fleet, FleetOptions};
    use firmware_sim::link::LinkOptions;

    let hub = Hub::start(1.0).await;
    let clock = hub_proto::Clock::simulated("2026-11-23T03:00:00Z".parse().unwrap(), 1.0);
    let options = FleetOptions {
        connect_rate: 2000,
        // Heartbeats well inside the fixture's 3 s timeout.
        link: LinkOptions {
            heartbeat: Duration::from_millis(500),
            backoff_min: Duration::from_millis(50),
            backoff_max: Duration::from_millis(200),
            ..LinkOptions::default()
        },
    };
    let fleet = Fleet::start(&hub.hub.provisioning, None, clock, &options).unwrap();
    fleet
        .wait_connected(Duration::from_secs(30))
        .await
        .expect("the fleet connects");

    let mut operator = hub.person("operator", "operator", "67").await;
    let triggered = api(
        hub.addr,
        Method::POST,
        "/api/v1/emergencies",
        Some(&operator.token()),
        json!({"title": "Lũ quét", "targets": ["24612"], "message": "Sơ tán ngay"}),
    )
    .await;
    let id = triggered["bulletin"]["id"]
        .as_str()
        .unwrap_or_else(|| panic!("triggered: {triggered}"))
        .to_owned();
    let status = format!("/console/emergencies/{id}");
    let count = |page: &str, hook: &str| {
        let marker = format!(r#"data-test="emergency-count-{hook}">"#);
        let from = page.find(&marker).map(|at| at + marker.len());
        from.and_then(|at| page[at..].split('<').next())
            .and_then(|n| n.parse::<usize>().ok())
    };
    // Commune 24612 has one loudspeaker; it speaks the message to the end.
    let done = page_until(&mut operator, &status, "the emergency finished", |page| {
        count(page, "finished") == Some(1)
    })
    .await;
    assert_eq!(count(&done.body, "targeted"), Some(1), "{}", done.body);
    assert_eq!(count(&done.body, "started"), Some(1));
    assert_eq!(count(&done.body, "failed"), Some(0));
    assert!(done
        .body
        .contains(r#"data-test="emergency-device-24612-LS-01""#));

    // What aired, from proof of play: for the commune's chair, and for a
    // provincial editor, who may read reports but not device health.
    let mut chair = hub.person("chair", "commune_chair", "24612").await;
    let mut editor = hub.person("editor", "provincial_editor", "67").await;
    for person in [&mut chair, &mut editor] {
        let page = page_until(
            person,
            "/console/communes/24612",
            "the airing is listed",
            |page| page.contains(&format!(r#"data-test="aired-{id}""#)),
        )
        .await;
        let aired = section(&page.body, "aired-list", "logout");
        assert!(aired.contains("Lũ quét"), "{aired}");
        assert!(aired.contains("24612-LS-01"), "the device: {aired}");
    }
    fleet.stop().await;
    hub.hub.shutdown().await.unwrap();
}
