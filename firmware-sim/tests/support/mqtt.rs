//! A real broker (rumqttd on loopback) and a test hub that signs commands
//! and opens reports with the devices' keys.

use std::collections::{HashMap, VecDeque};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::time::Duration;

use chrono::{DateTime, Utc};
use ed25519_dalek::SigningKey;
use firmware_sim::BrokerAddr;
use hub_proto::downlink::encode_public_key;
use hub_proto::{
    topic, Command, CommandSigner, DeviceCredentials, Directive, Kind, Message, SealedReport,
    UplinkKey, PROTOCOL_VERSION,
};
use rand::rngs::OsRng;
use rand::RngCore;
use rumqttc::{AsyncClient, Event, MqttOptions, Packet, QoS};
use tokio::sync::mpsc;
use tokio::time::timeout;

const HUB_USER: &str = "hub";
const HUB_PASSWORD: &str = "hub-secret";
const COMMUNE: &str = "24611";
/// How long any single expected event may take.
pub const PATIENCE: Duration = Duration::from_secs(20);

pub fn origin() -> DateTime<Utc> {
    "2026-11-23T10:00:00Z".parse().unwrap()
}

/// A free loopback port: bound, read, released.
fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Starts rumqttd on loopback, accepting these user names and passwords.
/// rumqttd cannot be stopped; its thread ends with the test process.
pub fn start_broker(users: &[(String, String)]) -> BrokerAddr {
    let port = free_port();
    let listen: SocketAddr = ([127, 0, 0, 1], port).into();
    let mut auth: HashMap<String, String> = users.iter().cloned().collect();
    auth.insert(HUB_USER.into(), HUB_PASSWORD.into());
    let server = rumqttd::ServerSettings {
        name: "v4".into(),
        listen,
        tls: None,
        next_connection_delay_ms: 0,
        connections: rumqttd::ConnectionSettings {
            connection_timeout_ms: 10_000,
            max_payload_size: 512 * 1024,
            max_inflight_count: 100,
            auth: Some(auth),
            external_auth: None,
            dynamic_filters: true,
        },
    };
    let config = rumqttd::Config {
        router: rumqttd::RouterConfig {
            max_connections: 1000,
            max_outgoing_packet_count: 200,
            max_segment_size: 1024 * 1024,
            max_segment_count: 10,
            ..Default::default()
        },
        v4: Some(HashMap::from([("1".to_string(), server)])),
        ..Default::default()
    };
    std::thread::spawn(move || {
        let mut broker = rumqttd::Broker::new(config);
        // Only returns on failure; the test then times out waiting for it.
        if let Err(error) = broker.start() {
            eprintln!("broker stopped: {error}");
        }
    });
    for _ in 0..200 {
        if TcpStream::connect(listen).is_ok() {
            return BrokerAddr {
                host: "127.0.0.1".into(),
                port,
            };
        }
        std::thread::sleep(Duration::from_millis(25));
    }
    panic!("broker did not start on {listen}");
}

pub fn credentials(id: &str) -> DeviceCredentials {
    let mut key = [0; 32];
    OsRng.fill_bytes(&mut key);
    DeviceCredentials {
        id: id.into(),
        commune: COMMUNE.into(),
        kind: Kind::Loudspeaker,
        mqtt_password: format!("pw-{id}"),
        uplink_key: UplinkKey::from_bytes(key).to_text(),
    }
}

pub fn users(devices: &[DeviceCredentials]) -> Vec<(String, String)> {
    devices
        .iter()
        .map(|d| (d.id.clone(), d.mqtt_password.clone()))
        .collect()
}

/// The test hub: signs commands, publishes them, reads every uplink.
pub struct Hub {
    pub signer: CommandSigner,
    client: AsyncClient,
    pub uplink: mpsc::UnboundedReceiver<Vec<u8>>,
    /// Messages of a report read but not yet handed out.
    heard: VecDeque<Heard>,
}

/// One message of a report, with the report's header.
#[derive(Debug)]
pub struct Heard {
    pub device: String,
    pub session: u64,
    pub seq: u64,
    pub at: DateTime<Utc>,
    pub message: Message,
}

impl Hub {
    pub async fn connect(broker: &BrokerAddr) -> Self {
        let mut options = MqttOptions::new("test-hub", broker.host.clone(), broker.port);
        options
            .set_credentials(HUB_USER, HUB_PASSWORD)
            .set_max_packet_size(1024 * 1024, 1024 * 1024);
        let (client, mut eventloop) = AsyncClient::new(options, 100);
        client
            .subscribe(topic::UPLINK_FILTER, QoS::AtLeastOnce)
            .await
            .unwrap();
        let (tx, uplink) = mpsc::unbounded_channel();
        let (subscribed_tx, subscribed) = tokio::sync::oneshot::channel();
        tokio::spawn(async move {
            let mut subscribed_tx = Some(subscribed_tx);
            loop {
                match eventloop.poll().await {
                    Ok(Event::Incoming(Packet::SubAck(_))) => {
                        if let Some(tx) = subscribed_tx.take() {
                            let _ = tx.send(());
                        }
                    }
                    Ok(Event::Incoming(Packet::Publish(publish))) => {
                        if tx.send(publish.payload.to_vec()).is_err() {
                            return;
                        }
                    }
                    Ok(_) => {}
                    Err(_) => tokio::time::sleep(Duration::from_millis(50)).await,
                }
            }
        });
        timeout(PATIENCE, subscribed).await.unwrap().unwrap();
        Self {
            signer: CommandSigner::new(SigningKey::generate(&mut OsRng)),
            client,
            uplink,
            heard: VecDeque::new(),
        }
    }

    pub fn public_key(&self) -> String {
        encode_public_key(&self.signer.verifying_key())
    }

    pub async fn publish(&self, payload: Vec<u8>) {
        self.client
            .publish(
                topic::downlink(COMMUNE, Kind::Loudspeaker),
                QoS::AtLeastOnce,
                false,
                payload,
            )
            .await
            .unwrap();
    }

    /// The next message from `device`, from a report opened with its key;
    /// other devices and heartbeats are skipped.
    pub async fn next_report(&mut self, device: &DeviceCredentials) -> Heard {
        let key = UplinkKey::from_text(&device.uplink_key).unwrap();
        loop {
            if let Some(heard) = self.heard.pop_front() {
                return heard;
            }
            let payload = timeout(PATIENCE, self.uplink.recv())
                .await
                .expect("a report in time")
                .expect("the hub's client runs");
            let sealed = SealedReport::parse(&payload).unwrap();
            if sealed.device() != device.id {
                continue;
            }
            let report = sealed.open(&key).expect("sealed with the device's key");
            self.heard.extend(
                report
                    .messages
                    .into_iter()
                    .filter(|m| !matches!(m, Message::Status(_)))
                    .map(|message| Heard {
                        device: report.device.clone(),
                        session: report.session,
                        seq: report.seq,
                        at: report.at,
                        message,
                    }),
            );
        }
    }
}

pub fn command(seq: u64, to: &str, expires: DateTime<Utc>, directive: Directive) -> Command {
    Command {
        v: PROTOCOL_VERSION,
        seq,
        issued: origin(),
        expires,
        to: vec![to.into()],
        directive,
        report_spread_ms: None,
    }
}
