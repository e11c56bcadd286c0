//! The device link end to end: `hub serve`'s library entry point with its
//! embedded rumqttd broker (or an external Mosquitto), simulated devices from
//! `firmware-sim` over real MQTT connections on loopback, and a real sled
//! store. The hub's clock and the devices' run 60 times faster than real
//! time from 23 November 2026, 10:00.

use std::collections::BTreeSet;
use std::time::Duration;

use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine;
use chrono::TimeDelta;
use ed25519_dalek::{Signature, SigningKey, Verifier};
use firmware_sim::link::DeviceHandle;
use hub::link::BrokerChoice;
use hub_core::testkit::{emergency, priority, with_audio_secs};
use hub_core::{AreaLevel, Bulletin, DeliveryState, DeviceId, Event};
use hub_proto::downlink::{decode_public_key, DOWNLINK_CONTEXT};
use hub_proto::uplink::UplinkKey;
use hub_proto::{
    topic, Command, CommandSigner, Directive, Kind, Message, Outcome, Report, PROTOCOL_VERSION,
};
use rumqttc::{AsyncClient, EventLoop, MqttOptions, QoS};

use crate::support::link::{clock, eventually, free_port, spawn_hub, Mosquitto, TestHub};
use crate::support::tls::tls_certificates;

const WAIT: Duration = Duration::from_secs(20);

fn id(device: &str) -> DeviceId {
    DeviceId::parse(device).unwrap()
}

/// A flood warning for district 660 (communes 24611 and 24612) from 10:00:
/// one minute of audio, two of board text.
fn flood() -> Bulletin {
    with_audio_secs(
        emergency(
            "lu-660",
            AreaLevel::Province,
            "67",
            &["660"],
            "2026-11-23 10:00",
        ),
        60,
    )
}

async fn queue(hub: &TestHub, bulletin: Bulletin) {
    hub.handle
        .event(Event::Queue(bulletin))
        .await
        .expect("the hub runs")
        .expect("the bulletin is accepted");
}

async fn state_of(hub: &TestHub, device: &str, bulletin: &str) -> Option<DeliveryState> {
    let deliveries = hub
        .handle
        .deliveries(&id(device))
        .await
        .expect("the hub runs");
    deliveries
        .into_iter()
        .find(|d| d.airing.bulletin.as_str() == bulletin)
        .map(|d| d.state)
}

async fn wait_state(hub: &TestHub, device: &str, bulletin: &str, state: DeliveryState) {
    eventually(
        &format!("{bulletin} is {state:?} on {device}"),
        WAIT,
        || async { state_of(hub, device, bulletin).await == Some(state) },
    )
    .await;
}

async fn wait_at_least(hub: &TestHub, device: &str, bulletin: &str, state: DeliveryState) {
    eventually(
        &format!("{bulletin} is at least {state:?} on {device}"),
        WAIT,
        || async { state_of(hub, device, bulletin).await >= Some(state) },
    )
    .await;
}

async fn wait_online(hub: &TestHub, device: &str, online: bool) {
    eventually(&format!("{device} online = {online}"), WAIT, || async {
        hub.handle
            .is_online(&id(device))
            .await
            .expect("the hub runs")
            == online
    })
    .await;
}

/// `(bulletin, outcome)` of everything the device played.
fn played(device: &DeviceHandle) -> Vec<(String, Outcome)> {
    device
        .timeline()
        .into_iter()
        .map(|p| (p.airing.bulletin, p.outcome))
        .collect()
}

/// An MQTT client with `device`'s broker credentials, as an intruder who
/// got hold of them would have.
async fn client_as(hub: &TestHub, device: &str, port: u16) -> (AsyncClient, EventLoop) {
    let credentials = hub.credentials(device);
    let mut options = MqttOptions::new(device, "127.0.0.1", port);
    options.set_credentials(device, credentials.mqtt_password);
    options.set_max_packet_size(512 * 1024, 512 * 1024);
    let (client, mut eventloop) = AsyncClient::new(options, 16);
    // Drive the connection until the broker accepts it.
    loop {
        match eventloop.poll().await {
            Ok(rumqttc::Event::Incoming(rumqttc::Packet::ConnAck(_))) => break,
            Ok(_) => {}
            Err(error) => panic!("{device} could not connect: {error}"),
        }
    }
    (client, eventloop)
}

/// A hello as a bare test client sends it.
fn hello(firmware: &str) -> Message {
    Message::Hello {
        firmware: firmware.into(),
        capabilities: vec![],
        last_seq: 0,
        cached_media: vec![],
    }
}

/// Publishes `message` as `device`'s report `seq` of session 1, sealed with
/// its own key, on its commune's uplink topic.
async fn report_as(hub: &TestHub, client: &AsyncClient, device: &str, seq: u64, message: Message) {
    let key = UplinkKey::from_text(&hub.credentials(device).uplink_key).unwrap();
    let report = Report::new(device, 1, seq, hub.clock.now(), message);
    client
        .publish(
            topic::uplink(&device[..5]),
            QoS::AtLeastOnce,
            false,
            report.seal(&key),
        )
        .await
        .unwrap();
}

/// The sequence number of the next schedule addressed to `device` alone.
async fn next_schedule(
    heard: &mut tokio::sync::mpsc::UnboundedReceiver<Vec<u8>>,
    device: &str,
) -> u64 {
    loop {
        let payload = tokio::time::timeout(WAIT, heard.recv())
            .await
            .unwrap()
            .unwrap();
        let text = String::from_utf8(payload).unwrap();
        let body = &text[text.find("\"body\":").unwrap() + 7..text.len() - 1];
        let command: Command = serde_json::from_str(body).unwrap();
        if command.to == [device] && matches!(command.directive, Directive::Schedule { .. }) {
            return command.seq;
        }
    }
}

/// Publishes what is queued on `client`, and collects downlink payloads.
fn drive(mut eventloop: EventLoop) -> tokio::sync::mpsc::UnboundedReceiver<Vec<u8>> {
    let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
    tokio::spawn(async move {
        while let Ok(event) = eventloop.poll().await {
            if let rumqttc::Event::Incoming(rumqttc::Packet::Publish(p)) = event {
                let _ = tx.send(p.payload.to_vec());
            }
        }
    });
    rx
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn devices_sync_play_and_report_and_the_hub_records_exactly_that() {
    let hub = spawn_hub(BrokerChoice::Embedded).await;
    let ids = [
        "24611-LS-01",
        "24611-LS-02",
        "24611-LB-01",
        "24612-LS-01",
        "24700-LS-01",
    ];
    let devices: Vec<DeviceHandle> = ids.iter().map(|d| hub.device(d)).collect();
    for (name, device) in ids.iter().zip(&devices) {
        device.wait_ready().await;
        wait_online(&hub, name, true).await;
    }

    queue(&hub, flood()).await;
    for device in &ids[..4] {
        wait_state(&hub, device, "lu-660", DeliveryState::Finished).await;
    }

    for (name, device) in ids.iter().zip(&devices) {
        let deliveries = hub.handle.deliveries(&id(name)).await.unwrap();
        let recorded: Vec<(String, DeliveryState)> = deliveries
            .iter()
            .map(|d| (d.airing.bulletin.to_string(), d.state))
            .collect();
        let timeline: Vec<(String, DeliveryState)> = played(device)
            .into_iter()
            .map(|(b, outcome)| {
                assert_eq!(outcome, Outcome::Finished, "{name} played {b} to the end");
                (b, DeliveryState::Finished)
            })
            .collect();
        assert_eq!(
            recorded, timeline,
            "{name}: the hub's record is the device's timeline"
        );
        assert!(
            device.counters().accepted >= 2,
            "{name} took its config and schedule"
        );
        assert!(
            device.counters().refused.is_empty(),
            "{name} refused nothing"
        );
    }
    assert!(
        played(&devices[4]).is_empty(),
        "24700 is outside district 660"
    );

    // Boards show the two-minute visual part (from when they joined), not the audio.
    let board = &devices[2].timeline()[0];
    assert!(
        board.end - board.start > TimeDelta::seconds(60),
        "{board:?}"
    );
    eventually("the heartbeat arrives", WAIT, || async {
        hub.handle
            .health(&id("24611-LS-01"))
            .await
            .unwrap()
            .is_some()
    })
    .await;
    let stats = hub.handle.stats().await.unwrap();
    assert_eq!(stats.online, 5);
    assert!(stats.dropped.is_empty(), "{:?}", stats.dropped);
    hub.handle.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forged_replayed_and_expired_commands_are_refused_by_devices() {
    let hub = spawn_hub(BrokerChoice::Embedded).await;
    let port = hub.handle.mqtt_addr.unwrap().port();
    let target = hub.device("24611-LS-01");
    target.wait_ready().await;
    wait_online(&hub, "24611-LS-01", true).await;

    // An intruder with a neighbour's broker password listens to the commune.
    let (intruder, eventloop) = client_as(&hub, "24611-LB-01", port).await;
    intruder
        .subscribe(
            topic::downlink("24611", Kind::Loudspeaker),
            QoS::AtLeastOnce,
        )
        .await
        .unwrap();
    let mut overheard = drive(eventloop);
    tokio::time::sleep(Duration::from_millis(200)).await;
    queue(
        &hub,
        with_audio_secs(priority("tin-a", AreaLevel::Commune, "24611", 60), 60),
    )
    .await;
    let captured = tokio::time::timeout(WAIT, overheard.recv())
        .await
        .unwrap()
        .unwrap();
    queue(
        &hub,
        with_audio_secs(priority("tin-b", AreaLevel::Commune, "24611", 60), 60),
    )
    .await;
    wait_state(&hub, "24611-LS-01", "tin-b", DeliveryState::Finished).await;
    let accepted = target.counters().accepted;

    // Replayed: a genuine but older command.
    intruder
        .publish(
            topic::downlink("24611", Kind::Loudspeaker),
            QoS::AtLeastOnce,
            false,
            captured,
        )
        .await
        .unwrap();
    // Forged: signed with the intruder's own key, a sequence number far ahead.
    let forger = CommandSigner::new(SigningKey::from_bytes(&[7; 32]));
    let now = hub.clock.now();
    let fake = with_audio_secs(priority("tin-gia", AreaLevel::Commune, "24611", 60), 60);
    let fake_entry = hub_core::PlanItem {
        key: hub_core::AiringKey {
            bulletin: fake.id.clone(),
            occurrence: 0,
            language: hub_core::Language::parse("vi").unwrap(),
        },
        class: fake.class,
        start: now,
        end: now + TimeDelta::minutes(1),
        preempted: false,
    }
    .to_entry(hub_core::DeviceKind::Loudspeaker);
    let forged = forger.sign(&Command {
        v: PROTOCOL_VERSION,
        seq: u64::MAX - 1,
        issued: now,
        expires: now + TimeDelta::minutes(5),
        to: vec!["24611-LS-01".into()],
        directive: Directive::Play { entry: fake_entry },
        report_spread_ms: None,
    });
    intruder
        .publish(
            topic::downlink("24611", Kind::Loudspeaker),
            QoS::AtLeastOnce,
            false,
            forged.clone(),
        )
        .await
        .unwrap();
    // Unsigned: the body alone.
    let text = String::from_utf8(forged).unwrap();
    let body = &text[text.find("\"body\":").unwrap() + 7..text.len() - 1];
    intruder
        .publish(
            topic::downlink("24611", Kind::Loudspeaker),
            QoS::AtLeastOnce,
            false,
            format!("{{\"body\":{body}}}"),
        )
        .await
        .unwrap();

    eventually("the target refused three commands", WAIT, || async {
        target.counters().refused.values().sum::<u64>() >= 3
    })
    .await;
    let counters = target.counters();
    assert_eq!(counters.refused.get("replayed"), Some(&1), "{counters:?}");
    assert_eq!(
        counters.refused.get("bad_signature"),
        Some(&1),
        "{counters:?}"
    );
    assert_eq!(counters.refused.get("malformed"), Some(&1), "{counters:?}");
    assert_eq!(counters.accepted, accepted, "nothing forged was accepted");
    assert!(
        !played(&target).iter().any(|(b, _)| b == "tin-gia"),
        "the forged bulletin never played"
    );
    eventually("the hub hears of the refusals", WAIT, || async {
        hub.handle
            .stats()
            .await
            .unwrap()
            .refused_by_devices
            .values()
            .sum::<u64>()
            >= 2
    })
    .await;

    // Expired: a device whose clock runs an hour ahead finds every command stale.
    let ahead = hub_proto::Clock::simulated(
        clock().now() + TimeDelta::hours(1),
        crate::support::link::SPEED,
    );
    let late = hub.device_on("24612-LS-01", None, Some(ahead));
    late.wait_ready().await;
    eventually("the late device refuses its sync", WAIT, || async {
        late.counters()
            .refused
            .get("expired")
            .is_some_and(|n| *n >= 2)
    })
    .await;
    assert_eq!(late.counters().accepted, 0);
    hub.handle.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_device_publishing_as_another_is_ignored() {
    let hub = spawn_hub(BrokerChoice::Embedded).await;
    let port = hub.handle.mqtt_addr.unwrap().port();
    let victim = hub.device("24611-LS-01");
    victim.wait_ready().await;
    wait_online(&hub, "24611-LS-01", true).await;
    queue(
        &hub,
        with_audio_secs(priority("tin-a", AreaLevel::Commune, "24611", 60), 60),
    )
    .await;
    wait_at_least(&hub, "24611-LS-01", "tin-a", DeliveryState::Acknowledged).await;

    let (impostor, eventloop) = client_as(&hub, "24611-LB-01", port).await;
    let _ = drive(eventloop);
    let own_key = UplinkKey::from_text(&hub.credentials("24611-LB-01").uplink_key).unwrap();
    let at = hub.clock.now();
    let send = |topic: String, payload: Vec<u8>| {
        let impostor = impostor.clone();
        async move {
            impostor
                .publish(topic, QoS::AtLeastOnce, false, payload)
                .await
                .unwrap()
        }
    };
    // The victim "went offline" and "failed" the bulletin, sealed with the impostor's key.
    for (seq, message) in [
        (1, Message::Offline),
        (
            2,
            Message::Played {
                airing: hub_proto::AiringRef {
                    bulletin: "tin-a".into(),
                    occurrence: 0,
                    language: "vi".into(),
                },
                outcome: Outcome::Failed,
                reason: None,
            },
        ),
    ] {
        let report = Report::new("24611-LS-01", 1, seq, at, message);
        send(topic::uplink("24611"), report.seal(&own_key)).await;
    }
    // Its own hello, on another commune's topic.
    let own_hello = Report::new("24611-LB-01", 1, 1, at, hello("x"));
    send(topic::uplink("24700"), own_hello.seal(&own_key)).await;
    send(topic::uplink("24611"), b"\xff not json".to_vec()).await;

    eventually("the hub dropped the four reports", WAIT, || async {
        hub.handle
            .stats()
            .await
            .unwrap()
            .dropped
            .values()
            .sum::<u64>()
            >= 4
    })
    .await;
    let stats = hub.handle.stats().await.unwrap();
    assert_eq!(
        stats.dropped.get("bad_mac"),
        Some(&2),
        "{:?}",
        stats.dropped
    );
    assert_eq!(
        stats.dropped.get("wrong_commune"),
        Some(&1),
        "{:?}",
        stats.dropped
    );
    assert_eq!(
        stats.dropped.get("malformed"),
        Some(&1),
        "{:?}",
        stats.dropped
    );
    assert!(hub.handle.is_online(&id("24611-LS-01")).await.unwrap());
    assert!(!hub.handle.is_online(&id("24611-LB-01")).await.unwrap());
    wait_state(&hub, "24611-LS-01", "tin-a", DeliveryState::Finished).await;
    hub.handle.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_offline_device_catches_up_on_reconnect_but_never_with_expired_or_cancelled() {
    let hub = spawn_hub(BrokerChoice::Embedded).await;
    let stays = hub.device("24611-LS-01");
    let leaves = hub.device("24611-LS-02");
    stays.wait_ready().await;
    leaves.wait_ready().await;
    wait_online(&hub, "24611-LS-02", true).await;
    leaves.stop().await;
    wait_online(&hub, "24611-LS-02", false).await;

    // While it is away: a short-lived warning, a bulletin valid all week,
    // and one cancelled before it can air.
    let mut brief = flood();
    brief.id = hub_core::BulletinId::parse("canh-bao-ngan").unwrap();
    brief.validity.expires = hub.clock.now() + TimeDelta::minutes(3);
    queue(&hub, brief).await;
    queue(
        &hub,
        with_audio_secs(priority("tin-tuan", AreaLevel::Commune, "24611", 60), 60),
    )
    .await;
    let mut cancelled = with_audio_secs(priority("tin-huy", AreaLevel::Commune, "24611", 60), 60);
    cancelled.validity.not_before = hub.clock.now() + TimeDelta::minutes(30);
    queue(&hub, cancelled).await;
    hub.handle
        .event(Event::Cancel(
            hub_core::BulletinId::parse("tin-huy").unwrap(),
        ))
        .await
        .unwrap()
        .unwrap();
    wait_state(&hub, "24611-LS-01", "tin-tuan", DeliveryState::Finished).await;
    wait_state(&hub, "24611-LS-02", "canh-bao-ngan", DeliveryState::Expired).await;
    assert_eq!(
        state_of(&hub, "24611-LS-02", "tin-tuan").await,
        Some(DeliveryState::Queued)
    );

    let back = hub.device("24611-LS-02");
    back.wait_ready().await;
    wait_state(&hub, "24611-LS-02", "tin-tuan", DeliveryState::Finished).await;
    let caught_up: BTreeSet<String> = played(&back).into_iter().map(|(b, _)| b).collect();
    assert_eq!(caught_up, BTreeSet::from(["tin-tuan".to_string()]));
    assert_eq!(
        state_of(&hub, "24611-LS-02", "canh-bao-ngan").await,
        Some(DeliveryState::Expired)
    );
    assert!(matches!(
        state_of(&hub, "24611-LS-02", "tin-huy").await,
        None | Some(DeliveryState::Expired)
    ));
    let stayed: BTreeSet<String> = played(&stays).into_iter().map(|(b, _)| b).collect();
    assert!(
        stayed.contains("canh-bao-ngan") && stayed.contains("tin-tuan"),
        "{stayed:?}"
    );
    assert!(!stayed.contains("tin-huy"));
    hub.handle.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_same_exchange_runs_over_an_external_mosquitto() {
    // Credentials exist before the broker starts: provision into the store first.
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let hub_pass = "hub-secret";
    let url = format!("mqtt://nguon-hub:{hub_pass}@127.0.0.1:{port}");
    let handle = crate::support::link::spawn_hub_in(
        dir.path(),
        BrokerChoice::External { url, ca: None },
        clock(),
    )
    .await;
    let hub = TestHub {
        handle,
        clock: clock(),
        _dir: dir,
    };
    assert_eq!(
        hub.handle.provisioning.broker,
        format!("mqtt://127.0.0.1:{port}")
    );
    let mut users: Vec<(String, String)> = hub
        .handle
        .provisioning
        .devices
        .iter()
        .map(|d| (d.id.clone(), d.mqtt_password.clone()))
        .collect();
    users.push(("nguon-hub".into(), hub_pass.into()));
    let users: Vec<(&str, &str)> = users
        .iter()
        .map(|(u, p)| (u.as_str(), p.as_str()))
        .collect();
    let mosquitto = Mosquitto::start(port, &users);

    let ids = ["24611-LS-01", "24611-LB-01", "24700-LS-01"];
    let devices: Vec<DeviceHandle> = ids.iter().map(|d| hub.device(d)).collect();
    for (name, device) in ids.iter().zip(&devices) {
        device.wait_ready().await;
        wait_online(&hub, name, true).await;
    }
    // Commands at most once to the device (the hub resends what a dropped
    // link lost); reports at least once to the hub.
    let commune = &ids[0][..5];
    assert_eq!(
        mosquitto.subscription_qos(ids[0], &topic::downlink(commune, Kind::Loudspeaker)),
        Some(0)
    );
    assert_eq!(
        mosquitto.subscription_qos(ids[1], &topic::downlink(commune, Kind::LedBoard)),
        Some(0)
    );
    assert_eq!(
        mosquitto.subscription_qos("nguon-hub", topic::UPLINK_FILTER),
        Some(1)
    );
    queue(&hub, flood()).await;
    for device in &ids[..2] {
        wait_state(&hub, device, "lu-660", DeliveryState::Finished).await;
    }
    assert_eq!(
        played(&devices[0]),
        [("lu-660".to_string(), Outcome::Finished)]
    );
    assert!(played(&devices[2]).is_empty());
    assert!(hub
        .handle
        .deliveries(&id("24700-LS-01"))
        .await
        .unwrap()
        .is_empty());
    hub.handle.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mosquitto_sub_with_device_credentials_receives_verifiable_commands() {
    let hub = spawn_hub(BrokerChoice::Embedded).await;
    let port = hub.handle.mqtt_addr.unwrap().port();
    let listener = hub.credentials("24611-LB-01");
    let sub = tokio::process::Command::new("mosquitto_sub")
        .args(["-h", "127.0.0.1", "-p", &port.to_string()])
        .args([
            "-i",
            &listener.id,
            "-u",
            &listener.id,
            "-P",
            &listener.mqtt_password,
        ])
        .args([
            "-t",
            &topic::downlink("24611", Kind::Loudspeaker),
            "-q",
            "1",
            "-C",
            "1",
            "-W",
            "20",
        ])
        .stdout(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("mosquitto_sub runs (apt-get install mosquitto-clients)");
    // Give mosquitto_sub time to subscribe, then bring a neighbour online.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let neighbour = hub.device("24611-LS-01");
    neighbour.wait_ready().await;
    let output = tokio::time::timeout(WAIT, sub.wait_with_output())
        .await
        .expect("mosquitto_sub printed a command in time")
        .unwrap();
    assert!(
        output.status.success(),
        "mosquitto_sub: {:?}",
        output.status
    );
    let line = String::from_utf8(output.stdout).unwrap();
    let line = line.trim_end_matches('\n');

    // Verification as documented in docs/protocol.md, from the text alone.
    let sig_start = line.find("\"sig\":\"").unwrap() + 7;
    let sig_end = sig_start + line[sig_start..].find('"').unwrap();
    let signature =
        Signature::from_slice(&BASE64.decode(&line[sig_start..sig_end]).unwrap()).unwrap();
    let body = &line[line.find("\"body\":").unwrap() + 7..line.len() - 1];
    let key = decode_public_key(&hub.handle.provisioning.hub_public_key).unwrap();
    let signed = [DOWNLINK_CONTEXT, body.as_bytes()].concat();
    key.verify(&signed, &signature)
        .expect("the hub's signature verifies");
    let tampered = [DOWNLINK_CONTEXT, body.replace("24611", "24612").as_bytes()].concat();
    assert!(key.verify(&tampered, &signature).is_err());
    let command: Command = serde_json::from_str(body).unwrap();
    assert_eq!(command.to, ["24611-LS-01"]);
    hub.handle.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_and_revoked_devices_are_refused_by_the_broker() {
    let dir = tempfile::tempdir().unwrap();
    let revoked_password = {
        // Provision, then revoke one device, as an administrator would.
        let store = hub_store::Store::open(dir.path()).unwrap();
        let loaded = hub::config::load(&crate::support::fixture("link-province.toml")).unwrap();
        store.import_province(&loaded.province).unwrap();
        let mut secrets = hub::link::identity::ensure_secrets(&store, &loaded.province).unwrap();
        let mut revoked = secrets.remove(&id("24700-LS-01")).unwrap();
        revoked.revoked = true;
        store.put(&revoked).unwrap();
        store.flush().unwrap();
        revoked.mqtt_password
    };
    let handle =
        crate::support::link::spawn_hub_in(dir.path(), BrokerChoice::Embedded, clock()).await;
    let port = handle.mqtt_addr.unwrap().port();
    assert!(
        handle
            .provisioning
            .devices
            .iter()
            .all(|d| d.id != "24700-LS-01"),
        "revoked devices are not provisioned"
    );

    let connects = |client: &str, user: &str, pass: &str| {
        let mut options = MqttOptions::new(client, "127.0.0.1", port);
        options.set_credentials(user, pass);
        async move {
            let (_client, mut eventloop) = AsyncClient::new(options, 4);
            loop {
                match tokio::time::timeout(WAIT, eventloop.poll()).await.unwrap() {
                    Ok(rumqttc::Event::Incoming(rumqttc::Packet::ConnAck(ack))) => {
                        return ack.code == rumqttc::ConnectReturnCode::Success
                    }
                    Ok(_) => {}
                    Err(_) => return false,
                }
            }
        }
    };
    let good = handle
        .provisioning
        .devices
        .iter()
        .find(|d| d.id == "24612-LS-01")
        .unwrap()
        .clone();
    assert!(connects(&good.id, &good.id, &good.mqtt_password).await);
    assert!(
        !connects(&good.id, &good.id, "wrong").await,
        "wrong password"
    );
    assert!(
        !connects("24612-LS-09", "24612-LS-09", "x").await,
        "unknown device"
    );
    assert!(
        !connects("other", &good.id, &good.mqtt_password).await,
        "client id must be the device id"
    );
    assert!(
        !connects("24700-LS-01", "24700-LS-01", &revoked_password).await,
        "revoked device"
    );
    handle.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_command_never_acknowledged_is_sent_again() {
    let hub = spawn_hub(BrokerChoice::Embedded).await;
    let port = hub.handle.mqtt_addr.unwrap().port();
    // Half an hour of audio: still to play when the command is sent again.
    queue(
        &hub,
        with_audio_secs(priority("tin-a", AreaLevel::Commune, "24611", 60), 1800),
    )
    .await;

    // A device whose acknowledgements are lost: it says hello and stays silent.
    let device = "24611-LS-02";
    let (client, eventloop) = client_as(&hub, device, port).await;
    client
        .subscribe(
            topic::downlink("24611", Kind::Loudspeaker),
            QoS::AtLeastOnce,
        )
        .await
        .unwrap();
    let mut heard = drive(eventloop);
    tokio::time::sleep(Duration::from_millis(200)).await;
    report_as(&hub, &client, device, 1, hello("silent")).await;

    let first = next_schedule(&mut heard, device).await;
    let again = next_schedule(&mut heard, device).await;
    assert!(again > first, "sent again under a new number");
    assert_eq!(
        state_of(&hub, device, "tin-a").await,
        Some(DeliveryState::Sent)
    );

    // The link recovers: the device acknowledges what it gets from now on.
    let mut seq = 2;
    let mut latest = again;
    let deadline = std::time::Instant::now() + WAIT;
    while state_of(&hub, device, "tin-a").await != Some(DeliveryState::Acknowledged) {
        assert!(std::time::Instant::now() < deadline, "never acknowledged");
        report_as(&hub, &client, device, seq, Message::Ack { seq: latest }).await;
        seq += 1;
        tokio::select! {
            next = next_schedule(&mut heard, device) => latest = next,
            _ = tokio::time::sleep(Duration::from_millis(300)) => {}
        }
    }
    hub.handle.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn devices_can_connect_over_tls() {
    let dir = tempfile::tempdir().unwrap();
    let (ca, cert, key) = tls_certificates(dir.path());
    let mut config = hub::config::load(&crate::support::fixture("link-province.toml")).unwrap();
    config.link.mqtts_listen = Some("127.0.0.1:0".parse().unwrap());
    config.link.tls_cert = Some(cert.clone());
    config.link.tls_key = Some(key);
    let handle = hub::link::start(hub::link::ServeOptions {
        data_dir: dir.path().join("store"),
        config,
        broker: BrokerChoice::Embedded,
        clock: clock(),
        tick: Duration::from_millis(50),
        delivery_events: None,
    })
    .await
    .unwrap();
    let tls_port = handle.mqtts_addr.expect("a TLS listener").port();
    let hub = TestHub {
        handle,
        clock: clock(),
        _dir: dir,
    };

    let device = "24611-LS-01";
    let credentials = hub.credentials(device);
    let mut options = MqttOptions::new(device, "127.0.0.1", tls_port);
    options.set_credentials(device, credentials.mqtt_password.clone());
    options.set_transport(rumqttc::Transport::Tls(rumqttc::TlsConfiguration::Simple {
        ca: std::fs::read(&ca).unwrap(),
        alpn: None,
        client_auth: None,
    }));
    let (client, mut eventloop) = AsyncClient::new(options, 16);
    loop {
        match tokio::time::timeout(WAIT, eventloop.poll()).await.unwrap() {
            Ok(rumqttc::Event::Incoming(rumqttc::Packet::ConnAck(_))) => break,
            Ok(_) => {}
            Err(error) => panic!("TLS connection failed: {error}"),
        }
    }
    let mut heard = drive(eventloop);
    client
        .subscribe(
            topic::downlink("24611", Kind::Loudspeaker),
            QoS::AtLeastOnce,
        )
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(200)).await;
    report_as(&hub, &client, device, 1, hello("tls")).await;
    wait_online(&hub, device, true).await;
    let schedule = next_schedule(&mut heard, device).await;
    assert!(schedule > 0, "the device got its plan over TLS");
    hub.handle.shutdown().await.unwrap();
}

/// Presence across restarts: a hub that stops in order records what it held
/// online as offline, and the next start adds nothing; a start after a hub
/// that died with devices online records every device offline.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_start_closes_presence_only_after_a_hub_that_died() {
    use hub_store::{Presence, PresenceCause, Store};
    let causes = |dir: &std::path::Path| {
        let store = Store::open(dir).unwrap();
        let mut causes = std::collections::BTreeMap::<PresenceCause, usize>::new();
        for presence in store.all::<Presence>().unwrap() {
            *causes.entry(presence.cause).or_default() += 1;
        }
        causes
    };
    let hub = spawn_hub(BrokerChoice::Embedded).await;
    let devices = hub.handle.provisioning.devices.len();
    let device = hub.device("24611-LS-01");
    tokio::time::timeout(WAIT, device.wait_ready())
        .await
        .unwrap();
    eventually("the hub holds the device online", WAIT, || async {
        hub.handle.stats().await.unwrap().online == 1
    })
    .await;
    let TestHub {
        handle,
        clock,
        _dir: dir,
    } = hub;
    handle.shutdown().await.unwrap();
    device.stop().await;
    let after_stop = causes(dir.path());
    assert_eq!(after_stop.get(&PresenceCause::Hello), Some(&1));
    assert_eq!(after_stop.get(&PresenceCause::HubStopped), Some(&1));
    assert_eq!(after_stop.get(&PresenceCause::HubStarted), None);

    // A start after the orderly stop: nothing to close.
    let again = crate::support::link::spawn_hub_in(dir.path(), BrokerChoice::Embedded, clock).await;
    again.shutdown().await.unwrap();
    assert_eq!(causes(dir.path()), after_stop);

    // What a hub killed with the device online leaves: it took the mark of
    // the orderly stop when it started, and the device's hello is last.
    {
        let store = Store::open(dir.path()).unwrap();
        assert!(!store.take_presence_left_open().unwrap());
        store
            .put(&Presence {
                device: id("24611-LS-01"),
                at: clock.now(),
                online: true,
                cause: PresenceCause::Hello,
            })
            .unwrap();
        store.flush().unwrap();
    }
    let after_kill =
        crate::support::link::spawn_hub_in(dir.path(), BrokerChoice::Embedded, clock).await;
    after_kill.shutdown().await.unwrap();
    assert_eq!(
        causes(dir.path()).get(&PresenceCause::HubStarted),
        Some(&devices),
        "every device is offline from the start"
    );
}
