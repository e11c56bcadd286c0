//! How the hub reaches the broker: the embedded broker's in-process link, or
//! an MQTT client connection to an external broker. Both deliver uplink
//! messages into one channel and publish downlink commands the same way.

use std::path::PathBuf;
use std::time::Duration;

use bytes::Bytes;
use rumqttc::{AsyncClient, Event, MqttOptions, Packet, QoS, TlsConfiguration};
use rumqttd::local::{LinkRx, LinkTx};
use rumqttd::Notification;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use hub_proto::topic::UPLINK_FILTER;

/// One message from a device: its topic and payload.
pub type Uplink = (String, Bytes);

/// Uplinks waiting for the hub; when full, the broker link waits.
const UPLINK_QUEUE: usize = 16 * 1024;

pub enum Transport {
    Embedded(LinkTx),
    External(AsyncClient),
}

#[derive(Debug, thiserror::Error)]
pub enum TransportError {
    #[error("the embedded broker link failed: {0}")]
    Embedded(String),
    #[error("the external broker client failed: {0}")]
    External(#[from] rumqttc::ClientError),
    #[error("broker url {0:?}: expected mqtt://[user:password@]host:port or mqtts://…")]
    Url(String),
    #[error("cannot read the broker CA file {path}: {source}")]
    Ca {
        path: PathBuf,
        source: std::io::Error,
    },
}

impl Transport {
    /// Publishes `payload` to `topic`. Downlink commands carry their own
    /// signature, sequence and expiry, and devices resync on reconnect, so
    /// at-most-once from the embedded link is enough; external brokers get
    /// at-least-once.
    pub async fn publish(&mut self, topic: String, payload: Vec<u8>) -> Result<(), TransportError> {
        match self {
            Self::Embedded(tx) => tx
                .publish(topic, payload)
                .map(drop)
                .map_err(|e| TransportError::Embedded(e.to_string())),
            Self::External(client) => Ok(client
                .publish(topic, QoS::AtLeastOnce, false, payload)
                .await?),
        }
    }
}

/// Subscribes the embedded link to every uplink and forwards them.
pub fn embedded(
    mut tx: LinkTx,
    mut rx: LinkRx,
    cancel: CancellationToken,
) -> Result<(Transport, mpsc::Receiver<Uplink>), TransportError> {
    tx.subscribe(UPLINK_FILTER)
        .map_err(|e| TransportError::Embedded(e.to_string()))?;
    let (sender, receiver) = mpsc::channel(UPLINK_QUEUE);
    tokio::spawn(async move {
        loop {
            let notification = tokio::select! {
                _ = cancel.cancelled() => break,
                next = rx.next() => next,
            };
            match notification {
                Ok(Some(Notification::Forward(forward))) => {
                    let topic = String::from_utf8_lossy(&forward.publish.topic).into_owned();
                    if sender.send((topic, forward.publish.payload)).await.is_err() {
                        break;
                    }
                }
                // The router paused this link when its queue filled up; it
                // resumes only when asked.
                Ok(Some(Notification::Unschedule)) => {
                    if let Err(error) = rx.wake().await {
                        tracing::error!(%error, "embedded broker link closed");
                        break;
                    }
                }
                Ok(_) => {}
                Err(error) => {
                    tracing::error!(%error, "embedded broker link closed");
                    break;
                }
            }
        }
    });
    Ok((Transport::Embedded(tx), receiver))
}

/// Where an external broker is and how to reach it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BrokerUrl {
    pub host: String,
    pub port: u16,
    pub tls: bool,
    pub credentials: Option<(String, String)>,
}

impl BrokerUrl {
    pub fn parse(url: &str) -> Result<Self, TransportError> {
        let bad = || TransportError::Url(url.to_string());
        let (tls, rest) = if let Some(rest) = url.strip_prefix("mqtts://") {
            (true, rest)
        } else if let Some(rest) = url.strip_prefix("mqtt://") {
            (false, rest)
        } else {
            return Err(bad());
        };
        let (credentials, host_port) = match rest.rsplit_once('@') {
            Some((userinfo, host_port)) => {
                let (user, pass) = userinfo.split_once(':').ok_or_else(bad)?;
                (Some((user.to_string(), pass.to_string())), host_port)
            }
            None => (None, rest),
        };
        let (host, port) = host_port.rsplit_once(':').ok_or_else(bad)?;
        let port = port.trim_end_matches('/').parse().map_err(|_| bad())?;
        if host.is_empty() {
            return Err(bad());
        }
        Ok(Self {
            host: host.to_string(),
            port,
            tls,
            credentials,
        })
    }
}

/// Connects to an external broker as client `nguon-hub` and forwards every uplink.
pub fn external(
    url: &BrokerUrl,
    ca: Option<PathBuf>,
    cancel: CancellationToken,
) -> Result<(Transport, mpsc::Receiver<Uplink>), TransportError> {
    let mut options = MqttOptions::new("nguon-hub", &url.host, url.port);
    options.set_keep_alive(Duration::from_secs(30));
    options.set_max_packet_size(
        hub_proto::downlink::MAX_COMMAND_BYTES + 1024,
        hub_proto::downlink::MAX_COMMAND_BYTES + 1024,
    );
    if let Some((user, pass)) = &url.credentials {
        options.set_credentials(user, pass);
    }
    if url.tls {
        let transport = match ca {
            Some(path) => {
                let ca =
                    std::fs::read(&path).map_err(|source| TransportError::Ca { path, source })?;
                rumqttc::Transport::Tls(TlsConfiguration::Simple {
                    ca,
                    alpn: None,
                    client_auth: None,
                })
            }
            None => rumqttc::Transport::tls_with_default_config(),
        };
        options.set_transport(transport);
    }
    let (client, mut eventloop) = AsyncClient::new(options, 1024);
    let (sender, receiver) = mpsc::channel(UPLINK_QUEUE);
    let subscriber = client.clone();
    tokio::spawn(async move {
        loop {
            let event = tokio::select! {
                _ = cancel.cancelled() => break,
                event = eventloop.poll() => event,
            };
            match event {
                Ok(Event::Incoming(Packet::ConnAck(_))) => {
                    tracing::info!("connected to the external broker");
                    if let Err(error) = subscriber.try_subscribe(UPLINK_FILTER, QoS::AtLeastOnce) {
                        tracing::error!(%error, "cannot subscribe to device uplinks");
                    }
                }
                Ok(Event::Incoming(Packet::Publish(publish))) => {
                    if sender.send((publish.topic, publish.payload)).await.is_err() {
                        break;
                    }
                }
                Ok(_) => {}
                Err(error) => {
                    tracing::warn!(%error, "external broker connection lost; retrying");
                    tokio::time::sleep(Duration::from_secs(1)).await;
                }
            }
        }
    });
    Ok((Transport::External(client), receiver))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn broker_urls_parse() {
        assert_eq!(
            BrokerUrl::parse("mqtt://127.0.0.1:1883").unwrap(),
            BrokerUrl {
                host: "127.0.0.1".into(),
                port: 1883,
                tls: false,
                credentials: None
            }
        );
        let url = BrokerUrl::parse("mqtts://hub:s3cr:et@broker.tinh.vn:8883").unwrap();
        assert!(url.tls);
        assert_eq!(url.credentials, Some(("hub".into(), "s3cr:et".into())));
        assert_eq!(url.host, "broker.tinh.vn");
        for bad in ["http://x:1", "mqtt://x", "mqtt://:1883", "mqtt://x:port"] {
            assert!(BrokerUrl::parse(bad).is_err(), "{bad}");
        }
    }
}
