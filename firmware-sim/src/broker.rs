//! Where the broker is: `mqtt://host:port` as written in provisioning files.

use std::fmt;
use std::str::FromStr;

/// Port of `mqtt://host` when none is given.
pub const DEFAULT_PORT: u16 = 1883;

/// A broker reachable over plain MQTT (TCP).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BrokerAddr {
    /// Host name or address; an IPv6 address keeps its brackets.
    pub host: String,
    /// TCP port.
    pub port: u16,
}

/// Why a broker address was not taken.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum BrokerAddrError {
    /// `mqtts://`: TLS is not implemented here yet.
    #[error("`{0}`: TLS brokers (mqtts://) are not supported by the simulator yet")]
    TlsNotSupported(String),
    /// Not an `mqtt://host[:port]` URL.
    #[error("`{0}`: expected mqtt://host:port")]
    Invalid(String),
}

impl FromStr for BrokerAddr {
    type Err = BrokerAddrError;

    fn from_str(url: &str) -> Result<Self, Self::Err> {
        let invalid = || BrokerAddrError::Invalid(url.to_string());
        if url.starts_with("mqtts://") {
            return Err(BrokerAddrError::TlsNotSupported(url.to_string()));
        }
        let rest = url.strip_prefix("mqtt://").ok_or_else(invalid)?;
        let rest = rest.strip_suffix('/').unwrap_or(rest);
        let (host, port) = match rest.rsplit_once(':') {
            // A colon inside brackets belongs to an IPv6 address, not a port.
            Some((host, port)) if !port.ends_with(']') => {
                (host, port.parse().map_err(|_| invalid())?)
            }
            _ => (rest, DEFAULT_PORT),
        };
        let bracketed = host.starts_with('[') && host.ends_with(']');
        let valid = !host.is_empty()
            && (bracketed || !host.contains(['[', ']', ':']))
            && !host.contains(['/', '@', ' '])
            && port != 0;
        if valid {
            Ok(Self {
                host: host.to_string(),
                port,
            })
        } else {
            Err(invalid())
        }
    }
}

impl fmt::Display for BrokerAddr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "mqtt://{}:{}", self.host, self.port)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn addr(host: &str, port: u16) -> BrokerAddr {
        BrokerAddr {
            host: host.into(),
            port,
        }
    }

    #[test]
    fn mqtt_urls_are_read() {
        assert_eq!("mqtt://127.0.0.1:1884".parse(), Ok(addr("127.0.0.1", 1884)));
        assert_eq!(
            "mqtt://broker.local".parse(),
            Ok(addr("broker.local", 1883))
        );
        assert_eq!("mqtt://[::1]:1885/".parse(), Ok(addr("[::1]", 1885)));
        assert_eq!("mqtt://[::1]".parse(), Ok(addr("[::1]", 1883)));
        assert_eq!(addr("h", 1).to_string(), "mqtt://h:1");
    }

    #[test]
    fn other_urls_are_refused_clearly() {
        assert!(matches!(
            "mqtts://hub:8883".parse::<BrokerAddr>(),
            Err(BrokerAddrError::TlsNotSupported(_))
        ));
        for bad in [
            "tcp://h:1",
            "h:1883",
            "mqtt://",
            "mqtt://h:x",
            "mqtt://h:0",
            "mqtt://h:99999",
            "mqtt://u@h:1",
            "mqtt://::1:1883",
        ] {
            assert_eq!(
                bad.parse::<BrokerAddr>(),
                Err(BrokerAddrError::Invalid(bad.into())),
                "{bad}"
            );
        }
    }
}
