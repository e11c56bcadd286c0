//! The `[api]` section of the configuration, and `[cap]` (CAP alerts
//! posted to the API), which the API carries in [`ApiSettings::cap`].

use std::net::SocketAddr;

use serde::Deserialize;

/// Environment variable overriding `api.listen`.
pub const ENV_API_LISTEN: &str = "HUB_API_LISTEN";

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ApiSettings {
    /// Where the HTTP API listens. Put TLS in front of it (a reverse proxy)
    /// whenever it is reachable beyond the host.
    pub listen: SocketAddr,
    /// Largest JSON request body.
    pub max_json_bytes: usize,
    /// Largest audio upload (ten minutes of uncompressed stereo WAV is
    /// about 110 MB).
    pub max_upload_bytes: usize,
    /// A request taking longer is answered 408 (uploads are encoded within it).
    pub request_timeout_secs: u64,
    /// How long a login lasts.
    pub session_hours: u32,
    /// The web console is reached over HTTPS (a TLS reverse proxy in front):
    /// its cookies are marked `Secure`, so browsers never send them in clear.
    pub secure_cookies: bool,
    /// The `[cap]` section, set from its own section of the file.
    #[serde(skip)]
    pub cap: CapSettings,
}

/// The `[cap]` section: CAP 1.2 alerts posted to `POST /api/v1/cap`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct CapSettings {
    /// Air alerts whose status is Test, Exercise or Draft, as if they were
    /// Actual: for exercising the chain end to end on a test installation.
    /// Off, they are validated, recorded and answered, and never aired.
    pub test_mode: bool,
    /// Largest CAP document (embedded audio is base64 inside it).
    pub max_bytes: usize,
}

impl Default for CapSettings {
    fn default() -> Self {
        Self {
            test_mode: false,
            max_bytes: 16 * 1024 * 1024,
        }
    }
}

impl Default for ApiSettings {
    fn default() -> Self {
        Self {
            listen: SocketAddr::from(([127, 0, 0, 1], 8081)),
            max_json_bytes: 256 * 1024,
            max_upload_bytes: 128 * 1024 * 1024,
            request_timeout_secs: 120,
            session_hours: 12,
            secure_cookies: false,
            cap: CapSettings::default(),
        }
    }
}
