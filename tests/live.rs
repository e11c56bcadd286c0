//! Live emergencies end to end: an operator streams real Opus speech
//! (espeak-ng through hub-media's encoder) over the API's WebSocket with
//! the command line's client, and simulated devices on the embedded broker
//! (Mosquitto when the hub restarts) play it as it arrives. The hub's clock
//! runs at real speed here: live audio cannot be hurried.

use std::time::{Duration, Instant};

use chrono::DateTime;
use firmware_sim::link::DeviceHandle;
use firmware_sim::LiveCounters;
use hub::client::ApiArgs;
use hub::link::BrokerChoice;
use hub::live::client::{reattach_path, stream_packets, LiveConnection, LiveStart};
use hub::live::restart::RESTART_REASON;
use hub_core::testkit::priority;
use hub_core::{AreaLevel, BulletinId, BulletinState, Event};
use hub_proto::live::LiveChunk;
use hub_proto::{AiringRef, Clock, CommandSigner, Outcome, PROTOCOL_VERSION};
use hyper::{Method, StatusCode};
use serde_json::{json, Value};

use crate::support::api::{call_at, login_at, ApiHub, ADMIN, PASSWORD};
use crate::support::link::{eventually, free_port, spawn_hub_with, Mosquitto, ORIGIN};

const WAIT: Duration = Duration::from_secs(30);
const SPEECH: &str = "Chú ý, chú ý. Nước sông đang lên nhanh. Bà con ven sông di chuyển \
    ngay lên vùng cao, mang theo giấy tờ, không đi qua ngầm tràn.";
const BOARD_TEXT: &str = "Lũ lên nhanh: sơ tán khỏi ven sông";

/// A hub on the link-test province whose clock runs at real speed from the
/// tests' usual morning, its administrator scoped to the province.
async fn start() -> ApiHub {
    let origin: DateTime<chrono::Utc> = ORIGIN.parse().unwrap();
    crate::support::api::start_on("", "67", Clock::simulated(origin, 1.0)).await
}

/// An operator's API token for `area`, as an administrator creates it.
async fn operator(api: &ApiHub, name: &str, area: &str) -> ApiArgs {
    let made = api
        .call(
            Method::POST,
            "/api/v1/tokens",
            &api.admin,
            Some(json!({"name": name, "role": "operator", "area": area})),
        )
        .await;
    assert_eq!(made.status, StatusCode::CREATED, "{made:?}");
    ApiArgs {
        api: format!("http://{}", api.addr),
        token: made.body["token"].as_str().unwrap().to_owned(),
    }
}

/// The speech as 20 ms Opus packets, mono, 48 kHz.
fn speech_packets() -> Vec<Vec<u8>> {
    let encoded = hub_media::speak(SPEECH, "vi", &hub_media::AudioSettings::default())
        .expect("espeak-ng speaks Vietnamese");
    hub::live::ogg_file::opus_packets(&encoded.ogg).expect("hub-media writes mono Ogg Opus")
}

fn played(device: &DeviceHandle) -> Vec<(String, Outcome)> {
    device
        .timeline()
        .into_iter()
        .map(|p| (p.airing.bulletin, p.outcome))
        .collect()
}

fn playing(device: &DeviceHandle) -> Option<String> {
    device.status().playing.map(|a: AiringRef| a.bulletin)
}

/// A long priority bulletin for the whole province, playing everywhere.
async fn priority_playing(api: &ApiHub, devices: &[&DeviceHandle]) {
    let long = priority("tin-tinh", AreaLevel::Province, "67", 1800);
    api.hub.event(Event::Queue(long)).await.unwrap().unwrap();
    for device in devices {
        eventually("the priority bulletin plays", WAIT, || async {
            playing(device).as_deref() == Some("tin-tinh")
        })
        .await;
    }
}

/// Starts streaming `packets` in the background; the bulletin id comes
/// once the hub has started the emergency.
fn stream_in_background(
    args: ApiArgs,
    start: LiveStart,
    packets: Vec<Vec<u8>>,
) -> (
    tokio::sync::oneshot::Receiver<String>,
    tokio::task::JoinHandle<anyhow::Result<Value>>,
) {
    let (started_tx, started) = tokio::sync::oneshot::channel();
    let streaming = tokio::spawn(async move {
        stream_packets(&args, &start, &packets, Duration::from_millis(20), |s| {
            let id = s["bulletin"]["bulletin"]["id"].as_str().unwrap().to_owned();
            let _ = started_tx.send(id);
        })
        .await
    });
    (started, streaming)
}

fn live_start(target: &str) -> LiveStart {
    LiveStart {
        targets: vec![target.into()],
        text: BOARD_TEXT.into(),
        ..LiveStart::default()
    }
}

/// A chunk of `stream` signed with a key that is not the hub's, published
/// by an MQTT client holding a real device's credentials.
async fn publish_forged_chunk(api: &ApiHub, as_device: &str, stream: &str) {
    let credentials = api
        .hub
        .provisioning
        .devices
        .iter()
        .find(|d| d.id == as_device)
        .unwrap();
    let intruder = CommandSigner::new(ed25519_dalek::SigningKey::generate(&mut rand::rngs::OsRng));
    let forged = intruder.sign_chunk(&LiveChunk {
        v: PROTOCOL_VERSION,
        stream: stream.into(),
        seq: 1_000_000,
        position_ms: 0,
        packets: vec![vec![0xf8, 0xff, 0xfe]],
        end: true,
    });
    let broker: firmware_sim::BrokerAddr = api.hub.provisioning.broker.parse().unwrap();
    let mut options = rumqttc::MqttOptions::new(as_device, broker.host, broker.port);
    options.set_credentials(as_device, &credentials.mqtt_password);
    let (client, mut events) = rumqttc::AsyncClient::new(options, 8);
    let topic = hub_proto::topic::downlink("24611", hub_proto::Kind::Loudspeaker);
    client
        .publish(topic, rumqttc::QoS::AtLeastOnce, false, forged)
        .await
        .unwrap();
    loop {
        match events.poll().await.expect("the broker takes the forger") {
            rumqttc::Event::Incoming(rumqttc::Packet::PubAck(_)) => break,
            _ => continue,
        }
    }
    client.disconnect().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_live_emergency_preempts_exactly_the_targeted_devices_and_ends_with_its_stream() {
    let api = start().await;
    let args = operator(&api, "truc-ban-660", "660").await;
    let here = api.device_online("24611-LS-01").await;
    let board = api.device_online("24611-LB-01").await;
    let neighbour = api.device_online("24612-LS-01").await;
    let elsewhere = api.device_online("24700-LS-01").await;
    priority_playing(&api, &[&here, &neighbour, &elsewhere]).await;
    let packets = speech_packets();
    assert!(packets.len() > 150, "a few seconds of speech");

    let triggered = Instant::now();
    let (started, streaming) = stream_in_background(args, live_start("24611"), packets.clone());
    let id = started.await.expect("the hub starts the stream");
    eventually("the first chunk plays on 24611-LS-01", WAIT, || async {
        here.counters().live.chunks > 0
    })
    .await;
    println!(
        "live emergency: trigger to first chunk on a device {:?}",
        triggered.elapsed()
    );
    assert_eq!(playing(&here).as_deref(), Some(id.as_str()));
    assert_eq!(
        played(&here)[0],
        ("tin-tinh".to_string(), Outcome::Preempted)
    );
    eventually("the board shows the operator's text", WAIT, || async {
        board
            .showing(api.clock.now())
            .and_then(|s| s.text)
            .as_deref()
            == Some(BOARD_TEXT)
    })
    .await;
    // Outside the targets, the programme goes on and no chunk arrives.
    for other in [&neighbour, &elsewhere] {
        assert_eq!(playing(other).as_deref(), Some("tin-tinh"));
        assert_eq!(other.counters().live, LiveCounters::default());
    }

    // Anyone with a device's password can publish; nobody can sign.
    publish_forged_chunk(&api, "24611-LS-02", &id).await;
    eventually("the forged chunk is refused", WAIT, || async {
        here.counters().live.refused.get("bad_signature") == Some(&1)
    })
    .await;
    assert_eq!(
        playing(&here).as_deref(),
        Some(id.as_str()),
        "the forged end changed nothing"
    );

    // A loudspeaker connecting mid-stream joins at the current chunk.
    let joiner = api.device_online("24611-LS-02").await;
    eventually("the late loudspeaker joins", WAIT, || async {
        playing(&joiner).as_deref() == Some(id.as_str())
    })
    .await;

    let ended = streaming.await.unwrap().expect("the stream ends well");
    assert_eq!(ended["type"], "ended", "{ended}");
    assert_eq!(ended["reason"], "closed");
    assert_eq!(ended["packets"], packets.len());
    assert_eq!(ended["refused"], 0);
    for speaker in [&here, &joiner] {
        eventually("the live airing finishes with its stream", WAIT, || async {
            played(speaker).contains(&(id.clone(), Outcome::Finished))
        })
        .await;
    }
    let heard = here.counters().live;
    assert!(heard.chunks >= packets.len() as u64 / 10, "{heard:?}");
    assert_eq!(heard.lost, 0, "nothing is lost on loopback");
    assert_eq!(joiner.counters().live.lost, 0, "joining is not losing");
    assert!(joiner.counters().live.chunks < heard.chunks);
    for other in [&neighbour, &elsewhere] {
        assert_eq!(played(other), [("tin-tinh".to_string(), Outcome::Started)]);
    }

    // Over: cancelled, so nobody airs it later; the operator answers for both.
    let bulletin = api
        .hub
        .bulletin(&BulletinId::parse(&id).unwrap())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(bulletin.state, BulletinState::Cancelled);
    let actions = audited(&api, &id).await;
    assert_eq!(
        actions,
        [
            ("trigger_emergency".to_owned(), String::new()),
            (
                "stop_emergency".to_owned(),
                "live stream ended: the operator ended it".to_owned()
            )
        ]
    );
    api.hub.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stopped_live_emergency_ends_on_devices_and_outsiders_are_refused() {
    let api = start().await;
    let operator_660 = operator(&api, "truc-ban-660", "660").await;
    let outsider = operator(&api, "truc-ban-661", "661").await;
    let here = api.device_online("24611-LS-01").await;
    priority_playing(&api, &[&here]).await;
    let speech = speech_packets();

    // An operator of another district: refused before anything airs.
    let refused = stream_packets(
        &outsider,
        &live_start("24611"),
        &speech,
        Duration::from_millis(20),
        |_| panic!("an outsider's stream never starts"),
    )
    .await
    .unwrap_err();
    assert!(refused.to_string().starts_with("403"), "{refused}");
    let bulletins = api.hub.bulletins().await.unwrap();
    assert!(bulletins
        .iter()
        .all(|b| !b.id.as_str().starts_with("live-")));
    assert_eq!(playing(&here).as_deref(), Some("tin-tinh"));

    // Stopped while the operator still speaks: devices stop at once.
    let long: Vec<Vec<u8>> = speech
        .iter()
        .cycle()
        .take(speech.len() * 4)
        .cloned()
        .collect();
    let (started, streaming) =
        stream_in_background(operator_660.clone(), live_start("24611"), long);
    let id = started.await.unwrap();
    eventually("the stream plays", WAIT, || async {
        playing(&here).as_deref() == Some(id.as_str())
    })
    .await;
    let stopped = api
        .call(
            Method::POST,
            &format!("/api/v1/emergencies/{id}/stop"),
            &operator_660.token,
            Some(json!({"reason": "the flood warning was lifted"})),
        )
        .await;
    assert_eq!(stopped.status, StatusCode::OK, "{stopped:?}");
    let ended = streaming.await.unwrap().unwrap();
    assert_eq!(ended["reason"], "stopped", "{ended}");
    eventually("the airing stops", WAIT, || async {
        played(&here).contains(&(id.clone(), Outcome::Stopped))
    })
    .await;
    // A loudspeaker connecting afterwards never hears of it.
    let late = api.device_online("24611-LS-02").await;
    eventually("the late loudspeaker plays the programme", WAIT, || async {
        playing(&late).as_deref() == Some("tin-tinh")
    })
    .await;
    assert!(played(&late).iter().all(|(b, _)| *b != id));

    // A stream reaching its maximum length ends there.
    let mut short = live_start("24611");
    short.max_secs = Some(2);
    let (started, streaming) = stream_in_background(operator_660, short, speech);
    let id = started.await.unwrap();
    let ended = streaming.await.unwrap().unwrap();
    assert_eq!(ended["reason"], "max_duration", "{ended}");
    eventually("the short stream finished", WAIT, || async {
        played(&here).contains(&(id.clone(), Outcome::Finished))
    })
    .await;
    api.hub.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hub_restarted_mid_stream_cancels_the_live_emergency_so_devices_stop_waiting() {
    // An external broker outlives the hub, and so do the devices' links.
    let port = free_port();
    let hub_pass = "hub-secret";
    let broker = || BrokerChoice::External {
        url: format!("mqtt://nguon-hub:{hub_pass}@127.0.0.1:{port}"),
        ca: None,
    };
    let origin: DateTime<chrono::Utc> = ORIGIN.parse().unwrap();
    let clock = Clock::simulated(origin, 1.0);
    let api = crate::support::api::start_on_broker("", "67", clock, broker()).await;
    let mut users: Vec<(&str, &str)> = api
        .hub
        .provisioning
        .devices
        .iter()
        .map(|d| (d.id.as_str(), d.mqtt_password.as_str()))
        .collect();
    users.push(("nguon-hub", hub_pass));
    let _mosquitto = Mosquitto::start(port, &users);
    let args = operator(&api, "truc-ban-660", "660").await;
    let here = api.device_online("24611-LS-01").await;
    let board = api.device_online("24611-LB-01").await;

    // Long enough to be under way when the hub stops.
    let speech = speech_packets();
    let long: Vec<Vec<u8>> = speech
        .iter()
        .cycle()
        .take(speech.len() * 4)
        .cloned()
        .collect();
    let (started, streaming) = stream_in_background(args, live_start("24611"), long);
    let id = started.await.expect("the hub starts the stream");
    eventually("the stream plays", WAIT, || async {
        playing(&here).as_deref() == Some(id.as_str())
    })
    .await;

    // The hub stops mid-stream: its relay cannot end the stream, so the
    // emergency stays valid in the store and the loudspeaker waits on.
    let ApiHub {
        hub, data, _dir, ..
    } = api;
    hub.shutdown().await.unwrap();
    let relayed = tokio::time::timeout(WAIT, streaming)
        .await
        .expect("the operator's client hears the stream is over")
        .unwrap();
    assert!(
        relayed.as_ref().map_or(true, |m| m["type"] != "ended"),
        "nobody ended the stream: {relayed:?}"
    );
    assert_eq!(playing(&here).as_deref(), Some(id.as_str()));

    let config = data.parent().unwrap().join("province.toml");
    let hub = spawn_hub_with(&config, &data, broker(), clock).await;
    let bulletin = BulletinId::parse(&id).unwrap();
    assert_eq!(
        hub.bulletin(&bulletin).await.unwrap().unwrap().state,
        BulletinState::Cancelled,
        "cancelled before the hub answers anyone"
    );
    eventually(
        "the loudspeaker stops waiting for the stream",
        WAIT,
        || async { played(&here).contains(&(id.clone(), Outcome::Stopped)) },
    )
    .await;
    assert_ne!(playing(&here).as_deref(), Some(id.as_str()));
    eventually(
        "the board no longer shows the operator's text",
        WAIT,
        || async { board.showing(clock.now()).and_then(|s| s.text).as_deref() != Some(BOARD_TEXT) },
    )
    .await;

    // The hub answers for the cancellation, and says why.
    let admin = login_at(hub.api_addr, ADMIN, PASSWORD).await;
    let audit = call_at(
        hub.api_addr,
        Method::GET,
        &format!("/api/v1/audit?bulletin={id}"),
        Some(&admin),
        None,
    )
    .await;
    let entries: Vec<(&Value, &str, &str)> = audit
        .body
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                &e["actor"]["subject"]["kind"],
                e["action"].as_str().unwrap(),
                e["reason"].as_str().unwrap_or_default(),
            )
        })
        .collect();
    assert_eq!(
        entries,
        [
            (&json!("token"), "trigger_emergency", ""),
            (&json!("hub"), "stop_emergency", RESTART_REASON),
        ]
    );
    hub.shutdown().await.unwrap();
}

/// Sends `packets` at the pace they play.
async fn send_paced(connection: &mut LiveConnection, packets: &[Vec<u8>]) {
    let mut ticks = tokio::time::interval(Duration::from_millis(20));
    for packet in packets {
        ticks.tick().await;
        connection.send_packet(packet).await.unwrap();
    }
}

/// The audit log's entries about bulletin `id`: action and reason.
async fn audited(api: &ApiHub, id: &str) -> Vec<(String, String)> {
    let audit = api
        .call(
            Method::GET,
            &format!("/api/v1/audit?bulletin={id}"),
            &api.admin,
            None,
        )
        .await;
    audit
        .body
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["action"].as_str().unwrap().to_owned(),
                e["reason"].as_str().unwrap_or_default().to_owned(),
            )
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_operator_whose_connection_broke_reattaches_and_the_stream_goes_on() {
    let api = start().await;
    let args = operator(&api, "truc-ban-660", "660").await;
    let colleague = operator(&api, "truc-ban-660-b", "660").await;
    let here = api.device_online("24611-LS-01").await;
    let speech = speech_packets();
    let (before, after) = speech.split_at(speech.len() / 2);

    let mut connection = LiveConnection::open(&args, &live_start("24611").path())
        .await
        .unwrap();
    let started = connection.next_json().await.unwrap();
    assert_eq!(started["type"], "started", "{started}");
    let id = started["bulletin"]["bulletin"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    send_paced(&mut connection, before).await;
    eventually("the stream plays", WAIT, || async {
        playing(&here).as_deref() == Some(id.as_str())
    })
    .await;
    // The phone loses its link: the socket goes without a close frame.
    drop(connection);

    // Nobody else takes the stream over; a stream must be under way.
    let taken = LiveConnection::open(&colleague, &reattach_path(&id))
        .await
        .err()
        .expect("another operator is refused");
    assert!(taken.to_string().starts_with("403"), "{taken}");
    let unknown = LiveConnection::open(&args, &reattach_path("live-999999"))
        .await
        .err()
        .expect("no such stream");
    assert!(unknown.to_string().starts_with("404"), "{unknown}");

    let mut connection = LiveConnection::open(&args, &reattach_path(&id))
        .await
        .expect("the operator reattaches within the silence allowance");
    let reattached = connection.next_json().await.unwrap();
    assert_eq!(reattached["type"], "reattached", "{reattached}");
    assert_eq!(reattached["bulletin"]["bulletin"]["id"], id.as_str());
    send_paced(&mut connection, after).await;
    let ended = connection.finish().await.unwrap();
    assert_eq!(ended["type"], "ended", "{ended}");
    assert_eq!(ended["reason"], "closed");
    assert_eq!(
        ended["packets"],
        speech.len(),
        "every packet of both sockets"
    );
    eventually("the airing finishes with the stream", WAIT, || async {
        played(&here).contains(&(id.clone(), Outcome::Finished))
    })
    .await;
    let airings: Vec<Outcome> = played(&here)
        .into_iter()
        .filter(|(bulletin, _)| *bulletin == id)
        .map(|(_, outcome)| outcome)
        .collect();
    assert_eq!(airings, [Outcome::Finished], "one airing, never cut");
    assert_eq!(
        audited(&api, &id).await,
        [
            ("trigger_emergency".to_owned(), String::new()),
            (
                "stop_emergency".to_owned(),
                "live stream ended: the operator ended it".to_owned()
            ),
        ]
    );

    // A broken connection nobody comes back to ends the stream once the
    // silence allowance is over.
    let mut connection = LiveConnection::open(&args, &live_start("24611").path())
        .await
        .unwrap();
    let started = connection.next_json().await.unwrap();
    let id = started["bulletin"]["bulletin"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    send_paced(&mut connection, before).await;
    drop(connection);
    eventually(
        "the abandoned stream finishes on the device",
        WAIT,
        || async { played(&here).contains(&(id.clone(), Outcome::Finished)) },
    )
    .await;
    // The stop's audit entry is written with its records, which may land
    // just after the device heard the stop.
    eventually("the stop is audited", WAIT, || async {
        audited(&api, &id).await.len() == 2
    })
    .await;
    assert_eq!(
        audited(&api, &id).await[1],
        (
            "stop_emergency".to_owned(),
            "live stream ended: the operator's connection broke and they did not come \
             back within 5 s"
                .to_owned()
        )
    );
    api.hub.shutdown().await.unwrap();
}
