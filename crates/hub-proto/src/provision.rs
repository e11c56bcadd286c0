//! What a device needs to join the hub, as the hub exports it.
//!
//! One file can provision a whole fleet (the simulator) or a single device
//! (a technician installing one loudspeaker cluster). It holds secrets: the
//! hub writes it readable by its owner only.

use serde::{Deserialize, Serialize};

use crate::{DecodeError, PROTOCOL_VERSION};

/// The hub keeps the file for all its devices under this name in its data
/// directory, where `firmware-sim fleet --config` finds it.
pub const PROVISIONING_FILE_NAME: &str = "provisioning.json";

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Provisioning {
    /// Payload version, [`crate::PROTOCOL_VERSION`].
    pub v: u16,
    /// `mqtt://host:port` or `mqtts://host:port`.
    pub broker: String,
    /// The hub's Ed25519 public key, standard base64 of 32 bytes.
    pub hub_public_key: String,
    pub devices: Vec<DeviceCredentials>,
    /// PEM of the CA that signed the media server's certificate, when the
    /// hub serves media over HTTPS: devices trust nothing else for
    /// `https://` media URLs. Absent from files written before it existed
    /// and from hubs serving plain HTTP.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub media_ca: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeviceCredentials {
    /// Also the MQTT client id and user name.
    pub id: String,
    pub commune: String,
    pub kind: crate::Kind,
    /// The broker password.
    pub mqtt_password: String,
    /// The key that seals the device's reports ([`crate::UplinkKey`] as text).
    pub uplink_key: String,
}

impl Provisioning {
    pub fn new(broker: String, hub_public_key: String, devices: Vec<DeviceCredentials>) -> Self {
        Self {
            v: PROTOCOL_VERSION,
            broker,
            hub_public_key,
            devices,
            media_ca: None,
        }
    }

    /// The same file, telling devices which CA signed the media server's
    /// certificate (PEM), or that media is plain HTTP (`None`).
    pub fn with_media_ca(mut self, media_ca: Option<String>) -> Self {
        self.media_ca = media_ca;
        self
    }

    pub fn to_json(&self) -> Vec<u8> {
        serde_json::to_vec_pretty(self).expect("provisioning always serialises")
    }

    pub fn from_json(bytes: &[u8]) -> Result<Self, DecodeError> {
        crate::check_version(bytes)?;
        Ok(serde_json::from_slice(bytes)?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn one_device() -> Vec<DeviceCredentials> {
        vec![DeviceCredentials {
            id: "24611-LS-01".into(),
            commune: "24611".into(),
            kind: crate::Kind::Loudspeaker,
            mqtt_password: "pw".into(),
            uplink_key: "uk".into(),
        }]
    }

    #[test]
    fn provisioning_round_trips() {
        let file = Provisioning::new("mqtt://127.0.0.1:1883".into(), "key".into(), one_device());
        assert_eq!(Provisioning::from_json(&file.to_json()).unwrap(), file);
        assert!(
            !String::from_utf8(file.to_json())
                .unwrap()
                .contains("media_ca"),
            "plain-HTTP files look as they did"
        );
        let pem = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n";
        let with_ca = file.with_media_ca(Some(pem.into()));
        let read = Provisioning::from_json(&with_ca.to_json()).unwrap();
        assert_eq!(read.media_ca.as_deref(), Some(pem));
        assert_eq!(read, with_ca);
    }

    #[test]
    fn files_written_before_the_media_ca_still_read() {
        let old = br#"{"v": 1, "broker": "mqtt://127.0.0.1:1883", "hub_public_key": "key",
            "devices": [{"id": "24611-LS-01", "commune": "24611", "kind": "loudspeaker",
            "mqtt_password": "pw", "uplink_key": "uk"}]}"#;
        let read = Provisioning::from_json(old).unwrap();
        assert_eq!(read.media_ca, None);
        assert_eq!(
            read,
            Provisioning::new("mqtt://127.0.0.1:1883".into(), "key".into(), one_device())
        );
    }
}
