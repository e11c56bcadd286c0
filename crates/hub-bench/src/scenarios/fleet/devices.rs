//! The device process of the scenarios over MQTT (`hub-bench
//! fanout-devices`, started by them).
//!
//! Mode `hub`: every provisioned device as a `firmware-sim` device (signed
//! commands checked, acks sealed, media fetched and verified). Mode `raw`:
//! bare MQTT clients for the baseline, which answer every message naming
//! them with one publish of their id and when they read it. Both print `{"event":"connected",…}` once every device is
//! connected, then run until killed or until standard input closes (the
//! benchmark ended); mode `hub` then prints the fleet's
//! `{"event":"summary",…}`.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{ensure, Context};
use firmware_sim::fleet::{Fleet, FleetOptions};
use firmware_sim::link::LinkOptions;
use firmware_sim::MediaOptions;
use hub_proto::{topic, Clock, DeviceCredentials, Provisioning};
use rumqttc::{AsyncClient, Event, MqttOptions, Packet, QoS};
use tokio::io::AsyncReadExt;

#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Mode {
    Hub,
    Raw,
}

pub async fn run(
    mode: Mode,
    provisioning: &Provisioning,
    broker: Option<&str>,
    connect_rate: u32,
    downloads: usize,
) -> anyhow::Result<()> {
    let started = Instant::now();
    let timeout = Duration::from_secs(120);
    match mode {
        Mode::Hub => {
            let options = FleetOptions {
                connect_rate,
                link: LinkOptions {
                    media: MediaOptions {
                        downloads: Arc::new(tokio::sync::Semaphore::new(downloads.max(1))),
                        ..MediaOptions::default()
                    },
                    ..LinkOptions::default()
                },
            };
            let fleet = Fleet::start(provisioning, broker, Clock::real(), &options)?;
            fleet.wait_connected(timeout).await?;
            connected(provisioning.devices.len(), started);
            until_stdin_closes().await;
            let summary = serde_json::json!({"event": "summary", "fleet": fleet.summary()});
            println!("{summary}");
            fleet.stop().await;
        }
        Mode::Raw => {
            let url = broker.unwrap_or(&provisioning.broker);
            let (host, port) = url
                .strip_prefix("mqtt://")
                .and_then(|rest| rest.rsplit_once(':'))
                .context("the baseline needs an mqtt://host:port broker")?;
            let port: u16 = port.parse().context("the broker port")?;
            let ready = Arc::new(AtomicUsize::new(0));
            let pause = Duration::from_secs_f64(1.0 / f64::from(connect_rate.max(1)));
            for (i, device) in provisioning.devices.iter().enumerate() {
                tokio::spawn(raw_device(
                    device.clone(),
                    host.to_string(),
                    port,
                    pause * i as u32,
                    ready.clone(),
                ));
            }
            let deadline = Instant::now() + timeout;
            while ready.load(Ordering::Relaxed) < provisioning.devices.len() {
                ensure!(
                    Instant::now() < deadline,
                    "baseline devices did not connect in time"
                );
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
            connected(provisioning.devices.len(), started);
            until_stdin_closes().await;
        }
    }
    Ok(())
}

fn connected(devices: usize, started: Instant) {
    let line = serde_json::json!({
        "event": "connected",
        "devices": devices,
        "connect_all_ms": started.elapsed().as_secs_f64() * 1000.0,
    });
    println!("{line}");
}

async fn until_stdin_closes() {
    let mut sink = [0u8; 64];
    let mut stdin = tokio::io::stdin();
    while matches!(stdin.read(&mut sink).await, Ok(n) if n > 0) {}
}

/// A raw device's answer: `{id} {unix time in microseconds when it read the message}`.
fn answer(id: &str) -> String {
    format!("{id} {}", chrono::Utc::now().timestamp_micros())
}

/// The device and the instant of a raw device's answer.
pub fn parse_answer(payload: &[u8]) -> Option<(String, chrono::DateTime<chrono::Utc>)> {
    let text = std::str::from_utf8(payload).ok()?;
    let (id, micros) = text.split_once(' ')?;
    let at = chrono::DateTime::from_timestamp_micros(micros.parse().ok()?)?;
    Some((id.to_string(), at))
}

/// The spread a raw broadcast asks of the answers to it, as the hub asks
/// devices to spread their reports of a large round: the message begins
/// `{"spread_ms":N,`.
pub fn spread_of(payload: &[u8]) -> Option<u64> {
    let rest = payload.strip_prefix(br#"{"spread_ms":"#)?;
    let digits = rest.iter().take_while(|b| b.is_ascii_digit()).count();
    std::str::from_utf8(&rest[..digits]).ok()?.parse().ok()
}

/// A bare MQTT client: subscribes to its commune and answers every message
/// that names it with one publish of its id and when it read it: at once,
/// or at a moment within the second half of the spread the message asks
/// (as a device of the hub's reports).
async fn raw_device(
    device: DeviceCredentials,
    host: String,
    port: u16,
    delay: Duration,
    ready: Arc<AtomicUsize>,
) {
    tokio::time::sleep(delay).await;
    let mut options = MqttOptions::new(&device.id, host, port);
    options.set_credentials(&device.id, &device.mqtt_password);
    options.set_keep_alive(Duration::from_secs(30));
    let (client, mut eventloop) = AsyncClient::new(options, 10);
    let downlink = topic::downlink(&device.commune, device.kind);
    let uplink = topic::uplink(&device.commune);
    let needle = format!("\"{}\"", device.id);
    let mut subscribed = false;
    loop {
        match eventloop.poll().await {
            Ok(Event::Incoming(Packet::ConnAck(_))) => {
                // As a device subscribes (firmware-sim's link).
                let _ = client.try_subscribe(&downlink, QoS::AtMostOnce);
            }
            Ok(Event::Incoming(Packet::SubAck(_))) if !subscribed => {
                subscribed = true;
                ready.fetch_add(1, Ordering::Relaxed);
            }
            Ok(Event::Incoming(Packet::Publish(publish))) => {
                let text = String::from_utf8_lossy(&publish.payload);
                if text.contains(&needle) {
                    let answer = answer(&device.id);
                    match spread_of(&publish.payload) {
                        Some(ms) => {
                            let hold = Duration::from_millis(held_ms(&device.id, ms));
                            let (client, uplink) = (client.clone(), uplink.clone());
                            tokio::spawn(async move {
                                tokio::time::sleep(hold).await;
                                let _ = client.try_publish(uplink, QoS::AtLeastOnce, false, answer);
                            });
                        }
                        None => {
                            let _ = client.try_publish(&uplink, QoS::AtLeastOnce, false, answer);
                        }
                    }
                }
            }
            Ok(_) => {}
            Err(_) => tokio::time::sleep(Duration::from_millis(500)).await,
        }
    }
}

/// How long `device` holds its answer within a spread of `spread_ms`: in
/// its second half, the same for the same device.
fn held_ms(device: &str, spread_ms: u64) -> u64 {
    let seed = device
        .bytes()
        .fold(0u64, |h, b| h.wrapping_mul(31) ^ u64::from(b));
    let half = u32::try_from(spread_ms / 2).unwrap_or(u32::MAX);
    u64::from(crate::rng::Rng::new(seed).between(half, half.saturating_mul(2)))
}

#[cfg(test)]
mod tests {
    #[test]
    fn an_answer_names_its_device_and_when_it_read() {
        let (id, _) = super::parse_answer(super::answer("24611-LS-01").as_bytes()).unwrap();
        assert_eq!(id, "24611-LS-01");
        let (_, at) = super::parse_answer(b"x 1500000").unwrap();
        assert_eq!(at.timestamp_millis(), 1500);
        assert_eq!(super::parse_answer(b"24611-LS-01"), None);
        assert_eq!(super::parse_answer(b"x notanumber"), None);
    }

    #[test]
    fn a_raw_broadcast_may_ask_its_answers_to_spread() {
        assert_eq!(
            super::spread_of(br#"{"spread_ms":2441,"body":{}}"#),
            Some(2441)
        );
        assert_eq!(super::spread_of(br#"{"body":{"to":["x"]}}"#), None);
        assert_eq!(super::spread_of(br#"{"spread_ms":,"body":{}}"#), None);
        for device in ["24611-LS-01", "24611-LS-02", "24700-LB-01"] {
            let held = super::held_ms(device, 2441);
            assert!((1220..=2440).contains(&held), "{device}: {held}");
            assert_eq!(super::held_ms(device, 2441), held);
        }
    }
}
