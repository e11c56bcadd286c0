//! The `[link]` section of the configuration: broker and device-link settings.

use std::net::SocketAddr;
use std::path::PathBuf;

use serde::Deserialize;

/// Environment variable overriding `link.mqtt_listen`.
pub const ENV_MQTT_LISTEN: &str = "HUB_MQTT_LISTEN";

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
}
