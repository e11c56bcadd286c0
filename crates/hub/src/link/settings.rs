//! The `[link]` section of the configuration: broker and device-link settings.

use std::net::SocketAddr;
use std::path::PathBuf;

use serde::Deserialize;

/// Environment variable overriding `link.mqtt_listen`.
pub const ENV_MQTT_LISTEN: &str = "HUB_MQTT_LISTEN";
/// Environment variable overriding `link.media_listen`.
pub const ENV_MEDIA_LISTEN: &str = "HUB_MEDIA_LISTEN";
/// Environment variable overriding `link.public_media_url`.
pub const ENV_PUBLIC_MEDIA_URL: &str = "HUB_PUBLIC_MEDIA_URL";

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
    /// or a public name); default: `http://` + `media_listen`.
    pub public_media_url: Option<String>,
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
            max_connections: 20_000,
            heartbeat_timeout_secs: 90,
            command_ttl_secs: 300,
            ack_timeout_secs: 15,
            volume: 80,
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
        self.public_media_url.as_deref().map_or_else(
            || format!("http://{listening}"),
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
}
