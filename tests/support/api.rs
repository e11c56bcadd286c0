//! A hub with its people's API for `tests/api.rs`: the first administrator
//! created as `hub admin create` does, a JSON client, and the province's
//! people logged in.

use std::net::SocketAddr;

use hub::link::BrokerChoice;
use hub_core::AreaCode;
use hub_proto::Clock;
use hyper::header::{HeaderName, AUTHORIZATION, CONTENT_TYPE};
use hyper::{Method, StatusCode};
use serde_json::{json, Value};
use tempfile::TempDir;

use super::fixture;
use super::http::{send, Fetched};
use firmware_sim::link::{DeviceConfig, DeviceHandle};

use super::link::{clock, eventually, fast_link, spawn_hub_with};

pub const ADMIN: &str = "admin";
/// Every test account's password (long enough for the policy).
pub const PASSWORD: &str = "mật khẩu đủ dài 2026";

/// A JSON answer.
#[derive(Debug)]
pub struct Answer {
    pub status: StatusCode,
    pub body: Value,
}

impl Answer {
    /// The error body's `code` ("" when there is none).
    pub fn code(&self) -> &str {
        self.body["code"].as_str().unwrap_or_default()
    }
}

/// The API of a running hub on the link-test province.
pub struct ApiHub {
    pub hub: hub::link::HubHandle,
    pub clock: Clock,
    pub addr: SocketAddr,
    /// The first administrator's session token.
    pub admin: String,
    /// The data directory.
    pub data: std::path::PathBuf,
    pub _dir: TempDir,
}

pub async fn start() -> ApiHub {
    start_with("", "67").await
}

/// A hub on the link-test province with `extra` appended to its
/// configuration, and its first administrator scoped to `admin_area`.
pub async fn start_with(extra: &str, admin_area: &str) -> ApiHub {
    start_on(extra, admin_area, clock()).await
}

/// [`start_with`], on `clock`.
pub async fn start_on(extra: &str, admin_area: &str, clock: Clock) -> ApiHub {
    start_on_broker(extra, admin_area, clock, BrokerChoice::Embedded).await
}

/// [`start_on`], with `broker`. The configuration is `province.toml` in
/// the data directory's parent, for a test that restarts the hub.
pub async fn start_on_broker(
    extra: &str,
    admin_area: &str,
    clock: Clock,
    broker: BrokerChoice,
) -> ApiHub {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let mut text = std::fs::read_to_string(fixture("link-province.toml")).unwrap();
    text.push_str(extra);
    let config = dir.path().join("province.toml");
    std::fs::write(&config, text).unwrap();
    let loaded = hub::config::load(&config).expect("the configuration loads");
    let data = dir.path().join("data");
    {
        let store = hub_store::Store::open(&data).expect("the store opens");
        hub::admin::create_admin(
            &store,
            &loaded.province.tree,
            hub_access::Username::parse(ADMIN).unwrap(),
            "Quản trị",
            AreaCode::parse(admin_area).unwrap(),
            &hub_access::Password::new(PASSWORD),
            clock.now(),
        )
        .expect("the first administrator is created");
    }
    let hub = spawn_hub_with(&config, &data, broker, clock).await;
    let addr = hub.api_addr;
    let admin = login_at(addr, ADMIN, PASSWORD).await;
    ApiHub {
        hub,
        clock,
        addr,
        admin,
        data,
        _dir: dir,
    }
}

/// One JSON request; `token` as the bearer.
pub async fn call_at(
    addr: SocketAddr,
    method: Method,
    path: &str,
    token: Option<&str>,
    body: Option<Value>,
) -> Answer {
    let mut headers: Vec<(HeaderName, String)> = Vec::new();
    if let Some(token) = token {
        headers.push((AUTHORIZATION, format!("Bearer {token}")));
    }
    let bytes = match body {
        Some(body) => {
            headers.push((CONTENT_TYPE, "application/json".into()));
            serde_json::to_vec(&body).unwrap()
        }
        None => Vec::new(),
    };
    answer(send(addr, method, path, &headers, bytes).await)
}

pub fn answer(fetched: Fetched) -> Answer {
    let body = if fetched.body.is_empty() {
        Value::Null
    } else {
        serde_json::from_slice(&fetched.body).unwrap_or_else(|_| {
            panic!(
                "a JSON body, got {:?}",
                String::from_utf8_lossy(&fetched.body)
            )
        })
    };
    Answer {
        status: fetched.status,
        body,
    }
}

/// Logs in and returns the session token.
pub async fn login_at(addr: SocketAddr, user: &str, password: &str) -> String {
    let answer = call_at(
        addr,
        Method::POST,
        "/api/v1/session",
        None,
        Some(json!({"username": user, "password": password})),
    )
    .await;
    assert_eq!(answer.status, StatusCode::OK, "login of {user}: {answer:?}");
    answer.body["token"].as_str().unwrap().to_owned()
}

impl ApiHub {
    /// Starts simulated device `id` of the hub, on the hub's clock.
    pub fn device(&self, id: &str) -> DeviceHandle {
        let provisioning = &self.hub.provisioning;
        let credentials = provisioning
            .devices
            .iter()
            .find(|d| d.id == id)
            .unwrap_or_else(|| panic!("{id} is provisioned"));
        let config =
            DeviceConfig::from_provisioning(credentials, provisioning).expect("valid credentials");
        let broker = provisioning.broker.parse().expect("a plain MQTT broker");
        DeviceHandle::spawn(config, &broker, self.clock, &fast_link())
    }

    /// [`Self::device`], once it is connected and the hub holds it online.
    pub async fn device_online(&self, id: &str) -> DeviceHandle {
        let device = self.device(id);
        device.wait_ready().await;
        let device_id = hub_core::DeviceId::parse(id).expect("a valid device id");
        eventually(
            &format!("{id} is online"),
            std::time::Duration::from_secs(30),
            || async { self.hub.is_online(&device_id).await.unwrap() },
        )
        .await;
        device
    }

    pub async fn call(
        &self,
        method: Method,
        path: &str,
        token: &str,
        body: Option<Value>,
    ) -> Answer {
        call_at(self.addr, method, path, Some(token), body).await
    }

    /// Creates an account (as the first administrator) and logs it in.
    pub async fn person(&self, username: &str, role: &str, area: &str) -> String {
        let created = self
            .call(
                Method::POST,
                "/api/v1/users",
                &self.admin,
                Some(json!({"username": username, "display_name": username,
                    "password": PASSWORD, "role": role, "area": area})),
            )
            .await;
        assert_eq!(created.status, StatusCode::CREATED, "{created:?}");
        login_at(self.addr, username, PASSWORD).await
    }

    /// Uploads `wav` as the holder of `token`, as an editor's recording.
    pub async fn upload_audio(&self, token: &str, wav: Vec<u8>) -> Answer {
        let headers = [
            (AUTHORIZATION, format!("Bearer {token}")),
            (CONTENT_TYPE, "audio/wav".to_owned()),
        ];
        let path = "/api/v1/uploads/audio?filename=tin.wav";
        answer(send(self.addr, Method::POST, path, &headers, wav).await)
    }

    /// Audit entries of `user` recorded at or after `from`.
    pub async fn audit_of(&self, user: &str, from: chrono::DateTime<chrono::Utc>) -> Vec<Value> {
        let from = from.to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
        let path = format!(
            "/api/v1/audit?user={user}&from={}",
            from.replace('+', "%2B")
        );
        let answer = self.call(Method::GET, &path, &self.admin, None).await;
        assert_eq!(answer.status, StatusCode::OK, "{answer:?}");
        answer.body.as_array().unwrap().clone()
    }
}

/// One second of a 440 Hz tone as 16-bit mono WAV at 16 kHz.
pub fn tone_wav() -> Vec<u8> {
    let rate = 16_000u32;
    let samples: Vec<i16> = (0..rate)
        .map(|i| {
            let t = f64::from(i) / f64::from(rate);
            ((t * 440.0 * std::f64::consts::TAU).sin() * 8_000.0) as i16
        })
        .collect();
    let data_len = (samples.len() * 2) as u32;
    let mut wav = Vec::new();
    wav.extend_from_slice(b"RIFF");
    wav.extend_from_slice(&(36 + data_len).to_le_bytes());
    wav.extend_from_slice(b"WAVEfmt ");
    wav.extend_from_slice(&16u32.to_le_bytes());
    wav.extend_from_slice(&1u16.to_le_bytes());
    wav.extend_from_slice(&1u16.to_le_bytes());
    wav.extend_from_slice(&rate.to_le_bytes());
    wav.extend_from_slice(&(rate * 2).to_le_bytes());
    wav.extend_from_slice(&2u16.to_le_bytes());
    wav.extend_from_slice(&16u16.to_le_bytes());
    wav.extend_from_slice(b"data");
    wav.extend_from_slice(&data_len.to_le_bytes());
    for sample in samples {
        wav.extend_from_slice(&sample.to_le_bytes());
    }
    wav
}
