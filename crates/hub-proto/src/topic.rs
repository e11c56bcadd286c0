//! MQTT topics: three per commune, never one per device.
//!
//! rumqttd scans every subscription filter the first time a topic is
//! published to, so the number of topics must grow with areas, not devices.
//! Every device subscribes to the downlink topic of its commune and kind
//! (loudspeakers and boards get different plans, so neither reads the
//! other's) and picks out the commands addressed to it; all devices of a
//! commune publish to its uplink topic, and the hub subscribes to
//! [`UPLINK_FILTER`].

use crate::Kind;

/// Version prefix of every topic; a new major protocol gets a new prefix so
/// old and new devices can share one broker during a migration.
pub const PREFIX: &str = "nguon/v1";

/// The filter the hub subscribes to for every device's uplink.
pub const UPLINK_FILTER: &str = "nguon/v1/up/+";

/// Signed commands for the devices of `kind` in `commune`.
pub fn downlink(commune: &str, kind: Kind) -> String {
    format!("{PREFIX}/down/{commune}/{}", kind.as_str())
}

/// Reports from the devices of `commune`.
pub fn uplink(commune: &str) -> String {
    format!("{PREFIX}/up/{commune}")
}

/// The commune an uplink topic belongs to, or `None` for any other topic.
pub fn uplink_commune(topic: &str) -> Option<&str> {
    let commune = topic.strip_prefix(PREFIX)?.strip_prefix("/up/")?;
    let valid = !commune.is_empty() && commune.bytes().all(|b| b.is_ascii_alphanumeric());
    valid.then_some(commune)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uplink_topics_name_their_commune() {
        assert_eq!(uplink_commune(&uplink("24611")), Some("24611"));
        assert_eq!(
            downlink("24611", Kind::LedBoard),
            "nguon/v1/down/24611/led_board"
        );
    }

    #[test]
    fn other_topics_name_no_commune() {
        for topic in [
            "nguon/v1/down/24611/loudspeaker",
            "nguon/v1/up/",
            "nguon/v1/up/24611/x",
            "nguon/v2/up/24611",
            "nguon/v1/up/+",
        ] {
            assert_eq!(uplink_commune(topic), None, "{topic}");
        }
    }
}
