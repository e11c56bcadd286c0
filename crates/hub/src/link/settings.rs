//! The `[link]` section of the configuration: broker and device-link settings.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use serde::Deserialize;

/// Environment variable overriding `link.mqtt_listen`.
pub const ENV_MQTT_LISTEN: &str = "HUB_MQTT_LISTEN";
/// Environment variable overriding `link.media_listen`.
pub const ENV_MEDIA_LISTEN: &str = "HUB_MEDIA_LISTEN";
/// Environment variable overriding `link.public_media_url`.
pub const ENV_PUBLIC_MEDIA_URL: &str = "HUB_PUBLIC_MEDIA_URL";
/// Environment variables overriding `link.media_tls.cert`, `.key` and `.ca`.
pub const ENV_MEDIA_TLS_CERT: &str = "HUB_MEDIA_TLS_CERT";
pub const ENV_MEDIA_TLS_KEY: &str = "HUB_MEDIA_TLS_KEY";
pub const ENV_MEDIA_TLS_CA: &str = "HUB_MEDIA_TLS_CA";

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LinkSettings {
    /// Plain MQTT listener of the embedded broker.
    pub mqtt_listen: SocketAddr,
    /// Optional MQTT-over-TLS listener of the embedded broker.
    pub mqtts_listen: Option<SocketAddr>,
    /// PEM certificate chain and key for `mqtts_listen`.
    pub tls_cert: Option<PathBuf>,
    pub tls_key: Option<PathBuf>,
    /// The broker address devices are told to use in provisioning files;
    /// default: `mqtt://` + `mqtt_listen`.
    pub public_broker_url: Option<String>,
    /// HTTP listener of the media server devices download files from.
    pub media_listen: SocketAddr,
    /// Where devices reach the media server, before `/media/v1/…` (a proxy
    /// or a public name); default: `http://` + `media_listen`, or
    /// `https://` with `media_tls`.
    pub public_media_url: Option<String>,
    /// Serve media over HTTPS with this certificate instead of plain HTTP.
    pub media_tls: Option<MediaTls>,
    /// Connections the embedded broker accepts at most.
    pub max_connections: usize,
    /// A device that sends nothing for this long is offline (its Last Will
    /// usually says so sooner).
    pub heartbeat_timeout_secs: u64,
    /// Devices refuse a command this long after it was signed.
    pub command_ttl_secs: u64,
    /// A device that has not acknowledged a command after this long (real
    /// seconds) gets its plan again: the broker may drop messages to a slow
    /// subscriber, and nothing else would notice.
    pub ack_timeout_secs: u64,
    /// Output level sent to loudspeakers, 0–100.
    pub volume: u8,
}

impl Default for LinkSettings {
    fn default() -> Self {
        Self {
            mqtt_listen: SocketAddr::from(([127, 0, 0, 1], 1883)),
            mqtts_listen: None,
            tls_cert: None,
            tls_key: None,
            public_broker_url: None,
            media_listen: SocketAddr::from(([127, 0, 0, 1], 8080)),
            public_media_url: None,
            media_tls: None,
            max_connections: 20_000,
            heartbeat_timeout_secs: 90,
            command_ttl_secs: 300,
            ack_timeout_secs: 15,
            volume: 80,
        }
    }
}

/// `link.media_tls`: the media server's certificate. Paths in the
/// configuration file are relative to it.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MediaTls {
    /// PEM certificate chain, the server's own certificate first.
    pub cert: PathBuf,
    /// PEM private key of that certificate (PKCS#8, PKCS#1 or SEC1).
    pub key: PathBuf,
    /// PEM of the CA that signed `cert`, handed to devices in their
    /// provisioning files (`media_ca`): devices refuse `https://` media
    /// without it.
    pub ca: Option<PathBuf>,
}

impl MediaTls {
    /// The same files, relative paths taken from `base` (the
    /// configuration file's directory).
    pub fn relative_to(self, base: &Path) -> Self {
        Self {
            cert: base.join(self.cert),
            key: base.join(self.key),
            ca: self.ca.map(|ca| base.join(ca)),
        }
    }

    /// `current` with the files given on the command line or in the
    /// environment put in its place; `names` say where each came from,
    /// for the error when a certificate is given without its key.
    pub fn overridden(
        current: Option<Self>,
        cert: Option<PathBuf>,
        key: Option<PathBuf>,
        ca: Option<PathBuf>,
        names: [&str; 2],
    ) -> Result<Option<Self>, String> {
        match (current, cert, key) {
            (Some(tls), cert, key) => Ok(Some(Self {
                cert: cert.unwrap_or(tls.cert),
                key: key.unwrap_or(tls.key),
                ca: ca.or(tls.ca),
            })),
            (None, Some(cert), Some(key)) => Ok(Some(Self { cert, key, ca })),
            (None, None, None) if ca.is_none() => Ok(None),
            (None, _, _) => Err(format!(
                "{} and {} are needed together (there is no link.media_tls to complete)",
                names[0], names[1]
            )),
        }
    }
}

impl LinkSettings {
    /// What devices are told to connect to, when the embedded broker
    /// listens on `listening`.
    pub fn broker_url(&self, listening: SocketAddr) -> String {
        self.public_broker_url
            .clone()
            .unwrap_or_else(|| format!("mqtt://{listening}"))
    }

    /// What media URLs start with, when the media server listens on
    /// `listening`; without a trailing slash.
    pub fn media_base_url(&self, listening: SocketAddr) -> String {
        let scheme = if self.media_tls.is_some() {
            "https"
        } else {
            "http"
        };
        self.public_media_url.as_deref().map_or_else(
            || format!("{scheme}://{listening}"),
            |url| url.trim_end_matches('/').to_owned(),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn media_urls_default_to_the_listener_and_lose_a_trailing_slash() {
        let listening = SocketAddr::from(([127, 0, 0, 1], 8081));
        let mut settings = LinkSettings::default();
        assert_eq!(settings.media_base_url(listening), "http://127.0.0.1:8081");
        settings.public_media_url = Some("https://media.example/nguon/".into());
        assert_eq!(
            settings.media_base_url(listening),
            "https://media.example/nguon"
        );
    }

    #[test]
    fn media_urls_are_https_when_the_server_has_a_certificate() {
        let listening = SocketAddr::from(([127, 0, 0, 1], 8443));
        let settings: LinkSettings =
            toml::from_str("media_tls = { cert = \"media.pem\", key = \"media.key\" }").unwrap();
        assert_eq!(settings.media_base_url(listening), "https://127.0.0.1:8443");
        let tls = settings.media_tls.unwrap();
        assert_eq!(tls.ca, None);
        let placed = tls.relative_to(Path::new("/etc/nguon"));
        assert_eq!(placed.cert, Path::new("/etc/nguon/media.pem"));
        assert_eq!(placed.key, Path::new("/etc/nguon/media.key"));
        let absolute = MediaTls {
            cert: "/srv/c.pem".into(),
            key: "k.pem".into(),
            ca: Some("ca.pem".into()),
        }
        .relative_to(Path::new("conf"));
        assert_eq!(
            absolute.cert,
            Path::new("/srv/c.pem"),
            "absolute paths stay"
        );
        assert_eq!(absolute.ca.as_deref(), Some(Path::new("conf/ca.pem")));
        let names = [ENV_MEDIA_TLS_CERT, ENV_MEDIA_TLS_KEY];
        let from_env =
            MediaTls::overridden(None, Some("c".into()), Some("k".into()), None, names).unwrap();
        assert_eq!(
            from_env.as_ref().map(|t| t.key.as_path()),
            Some(Path::new("k"))
        );
        let ca_only = MediaTls::overridden(from_env, None, None, Some("ca".into()), names);
        assert_eq!(ca_only.unwrap().unwrap().ca, Some("ca".into()));
        let half = MediaTls::overridden(None, Some("c".into()), None, None, names).unwrap_err();
        assert!(half.contains("HUB_MEDIA_TLS_KEY"), "{half}");
        assert_eq!(
            MediaTls::overridden(None, None, None, None, names),
            Ok(None)
        );
        let typo = toml::from_str::<LinkSettings>("media_tls = { cert = \"c\", kye = \"k\" }");
        assert!(typo.unwrap_err().to_string().contains("kye"));
    }
}
