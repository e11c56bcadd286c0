//! The embedded rumqttd broker, with device authentication from the registry.
//!
//! rumqttd runs on its own threads and has no stop API, so it lives as long
//! as the process. Its accept delay is set to zero (the default sleeps after
//! every accept, about 850 connections/s) and every connection must present
//! a registered, unrevoked device id as client id and user name, with that
//! device's password.

use std::collections::HashMap;
use std::net::{SocketAddr, TcpListener};
use std::sync::{Arc, RwLock};
use std::thread;
use std::time::{Duration, Instant};

use rumqttd::local::{LinkRx, LinkTx};
use rumqttd::{Broker, Config, ConnectionSettings, RouterConfig, ServerSettings, TlsConfig};

use super::settings::LinkSettings;

/// Reports that may wait for the hub in its own link's buffer.
///
/// rumqttd's router serves connections in turn and keeps what a connection
/// has not read yet in the commit log of its subscription filter; when that
/// log is full (512 KiB here, about 1,500 reports) its oldest segment is
/// dropped and skipped by the readers behind it. During a broadcast
/// thousands of device connections are busy, and a hub link served in turn
/// lost reports that way. The hub's link is therefore a priority reader
/// (a patch of ours, `vendor/README.md`): served first whenever reports
/// arrive, with room for a burst in its buffer, which takes memory only
/// while the hub is behind.
const HUB_LINK_CAPACITY: usize = 200_000;

/// Device id → broker password, for devices that may connect.
pub type Passwords = Arc<RwLock<HashMap<String, String>>>;

#[derive(Debug, thiserror::Error)]
pub enum BrokerError {
    #[error("cannot listen on {addr}: {source}")]
    Listen {
        addr: SocketAddr,
        source: std::io::Error,
    },
    #[error("the broker did not start listening on {0} (is the port taken?)")]
    NotListening(SocketAddr),
    #[error("mqtts_listen needs both tls_cert and tls_key")]
    TlsFiles,
    #[error("the broker refused the hub's own link: {0}")]
    Link(String),
}

/// Addresses the broker listens on.
#[derive(Clone, Copy, Debug)]
pub struct Listening {
    pub mqtt: SocketAddr,
    pub mqtts: Option<SocketAddr>,
}

/// Starts the broker and returns the hub's in-process link to it.
pub fn start(
    settings: &LinkSettings,
    passwords: Passwords,
) -> Result<(LinkTx, LinkRx, Listening), BrokerError> {
    let mqtt = resolve_port(settings.mqtt_listen)?;
    let mut servers = HashMap::from([(
        "mqtt".to_string(),
        server("mqtt", mqtt, None, passwords.clone()),
    )]);
    let mqtts = match settings.mqtts_listen {
        None => None,
        Some(addr) => {
            let (Some(cert), Some(key)) = (&settings.tls_cert, &settings.tls_key) else {
                return Err(BrokerError::TlsFiles);
            };
            let addr = resolve_port(addr)?;
            let tls = TlsConfig::Rustls {
                capath: None,
                certpath: cert.display().to_string(),
                keypath: key.display().to_string(),
            };
            servers.insert(
                "mqtts".to_string(),
                server("mqtts", addr, Some(tls), passwords),
            );
            Some(addr)
        }
    };
    let config = Config {
        id: 0,
        router: RouterConfig {
            max_connections: settings.max_connections,
            max_outgoing_packet_count: 200,
            // Commit logs are per subscription filter, and device filters
            // name one commune topic each: keep each small, devices resync
            // from the hub rather than the broker. The hub's uplink filter
            // is read as soon as written (see HUB_LINK_CAPACITY).
            max_segment_size: 256 * 1024,
            max_segment_count: 2,
            custom_segment: None,
            initialized_filters: None,
            shared_subscriptions_strategy: Default::default(),
        },
        v4: Some(servers),
        ..Config::default()
    };
    let mut broker = Broker::new(config);
    let (tx, rx, _) = broker
        .link_builder("nguon-hub")
        .priority_reader(HUB_LINK_CAPACITY)
        .build()
        .map_err(|e| BrokerError::Link(e.to_string()))?;
    thread::Builder::new()
        .name("rumqttd".into())
        .spawn(move || {
            if let Err(error) = broker.start() {
                tracing::error!(%error, "embedded broker stopped");
            }
        })
        .expect("spawning the broker thread");
    for addr in std::iter::once(mqtt).chain(mqtts) {
        wait_listening(addr)?;
    }
    Ok((tx, rx, Listening { mqtt, mqtts }))
}

fn server(
    name: &str,
    listen: SocketAddr,
    tls: Option<TlsConfig>,
    passwords: Passwords,
) -> ServerSettings {
    let mut connections = ConnectionSettings {
        connection_timeout_ms: 10_000,
        max_payload_size: hub_proto::downlink::MAX_COMMAND_BYTES,
        max_inflight_count: 100,
        auth: None,
        external_auth: None,
        dynamic_filters: true,
    };
    connections.set_auth_handler(move |client_id: String, user: String, pass: String| {
        let allowed = client_id == user
            && passwords
                .read()
                .expect("password table lock")
                .get(&user)
                .is_some_and(|expected| constant_time_eq(expected.as_bytes(), pass.as_bytes()));
        if !allowed {
            tracing::warn!(
                client_id,
                "device refused by the broker: unknown id or wrong password"
            );
        }
        async move { allowed }
    });
    ServerSettings {
        name: name.into(),
        listen,
        tls,
        next_connection_delay_ms: 0,
        connections,
    }
}

/// Compares secrets in time independent of where they differ.
pub(crate) fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// rumqttd binds inside its own thread and cannot report the port it got or
/// a failure to bind, so the address is checked (and port 0 resolved to a
/// free port) here first.
fn resolve_port(addr: SocketAddr) -> Result<SocketAddr, BrokerError> {
    let probe = TcpListener::bind(addr).map_err(|source| BrokerError::Listen { addr, source })?;
    probe
        .local_addr()
        .map_err(|source| BrokerError::Listen { addr, source })
}

/// Waits until the broker listens on `addr`. (Connecting to find out would
/// make the broker log a failed handshake; binding would race with it.)
fn wait_listening(addr: SocketAddr) -> Result<(), BrokerError> {
    let deadline = Instant::now() + Duration::from_secs(5);
    while Instant::now() < deadline {
        if is_listening(addr) {
            return Ok(());
        }
        thread::sleep(Duration::from_millis(5));
    }
    Err(BrokerError::NotListening(addr))
}

/// Whether some socket listens on `addr`'s port: the kernel's socket table
/// on Linux, a connection attempt elsewhere.
fn is_listening(addr: SocketAddr) -> bool {
    const LISTEN: &str = "0A";
    let port = format!(":{:04X}", addr.port());
    let tables = ["/proc/net/tcp", "/proc/net/tcp6"].map(std::fs::read_to_string);
    if tables.iter().all(Result::is_err) {
        return std::net::TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_ok();
    }
    tables
        .iter()
        .flatten()
        .flat_map(|t| t.lines().skip(1))
        .any(|line| {
            let mut fields = line.split_whitespace();
            let local = fields.nth(1).unwrap_or_default();
            let state = fields.nth(1).unwrap_or_default();
            local.ends_with(&port) && state == LISTEN
        })
}

#[cfg(test)]
mod tests {
    use rumqttc::{AsyncClient, Event, EventLoop, MqttOptions, Packet, QoS};

    use super::*;

    const TOPIC: &str = "nguon/v1/down/24611/loudspeaker";

    /// A device-like client subscribed to [`TOPIC`].
    async fn subscriber(addr: SocketAddr, id: &str) -> (AsyncClient, EventLoop) {
        let mut options = MqttOptions::new(id, addr.ip().to_string(), addr.port());
        options.set_credentials(id, id);
        options.set_max_packet_size(1 << 20, 1 << 20);
        let (client, mut events) = AsyncClient::new(options, 10);
        client.subscribe(TOPIC, QoS::AtMostOnce).await.unwrap();
        while !matches!(
            events.poll().await.unwrap(),
            Event::Incoming(Packet::SubAck(_))
        ) {}
        (client, events)
    }

    /// The payloads of the next `count` publishes `events` receives.
    async fn payloads(events: &mut EventLoop, count: usize) -> Vec<Vec<u8>> {
        let mut received = Vec::new();
        while received.len() < count {
            if let Event::Incoming(Packet::Publish(publish)) = events.poll().await.unwrap() {
                received.push(publish.payload.to_vec());
            }
        }
        received
    }

    /// The broker sends a large payload from the one copy every subscriber
    /// shares (a patch of ours); a subscriber that reads late gets it whole
    /// all the same, after its socket's buffers filled up.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_broadcast_reaches_every_subscriber_whole_however_late_it_reads() {
        let settings = LinkSettings {
            mqtt_listen: SocketAddr::from(([127, 0, 0, 1], 0)),
            ..LinkSettings::default()
        };
        let ids = ["24611-LS-01", "24611-LS-02"];
        let passwords: Passwords = Arc::new(RwLock::new(
            ids.iter()
                .map(|id| (id.to_string(), id.to_string()))
                .collect(),
        ));
        let (mut tx, _rx, listening) = start(&settings, passwords).unwrap();
        let (_prompt_client, mut prompt) = subscriber(listening.mqtt, ids[0]).await;
        let (_late_client, mut late) = subscriber(listening.mqtt, ids[1]).await;

        // 6 MB: more than loopback buffers hold unread.
        let sent: Vec<Vec<u8>> = (0..24u32)
            .map(|n| {
                (0..250 * 1024u32)
                    .map(|i| (i.wrapping_mul(31) ^ n) as u8)
                    .collect()
            })
            .collect();
        // One at a time, as the broker's commit log keeps only 512 KiB.
        for payload in &sent {
            tx.publish(TOPIC, payload.clone()).unwrap();
            assert_eq!(
                &payloads(&mut prompt, 1).await[..],
                std::slice::from_ref(payload)
            );
        }
        assert_eq!(payloads(&mut late, sent.len()).await, sent);
    }

    /// A client's read buffer makes room for a packet that does not fit
    /// after the ones read before it (a patch of ours to rumqttc): packets
    /// of every size, small and near or above the buffer's 10 KiB, arrive
    /// whole and in order however they fall across reads.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn packets_of_mixed_sizes_reach_a_client_whole_and_in_order() {
        let settings = LinkSettings {
            mqtt_listen: SocketAddr::from(([127, 0, 0, 1], 0)),
            ..LinkSettings::default()
        };
        let id = "24611-LS-01";
        let passwords: Passwords = Arc::new(RwLock::new([(id.to_string(), id.to_string())].into()));
        let (mut tx, _rx, listening) = start(&settings, passwords).unwrap();
        let (_client, mut events) = subscriber(listening.mqtt, id).await;

        let sizes = [
            200, 3_000, 9_000, 100, 9_500, 10_240, 12_000, 5_000, 30_000, 1, 8_000,
        ];
        let sent: Vec<Vec<u8>> = (0..4u32)
            .flat_map(|round| sizes.map(move |size| (round, size)))
            .enumerate()
            .map(|(n, (round, size))| {
                (0..size as u32)
                    .map(|i| (i.wrapping_mul(7) ^ round ^ n as u32) as u8)
                    .collect()
            })
            .collect();
        // All at once, so that several wait in the socket for each read.
        for payload in &sent {
            tx.publish(TOPIC, payload.clone()).unwrap();
        }
        assert_eq!(payloads(&mut events, sent.len()).await, sent);
    }
}
