//! Devices against a real broker (rumqttd on loopback) and a test hub that
//! signs commands and opens reports with the devices' keys.

use std::collections::HashSet;
use std::time::Duration;

use chrono::{NaiveDate, TimeDelta};
use ed25519_dalek::SigningKey;
use firmware_sim::faults::parse_injection;
use firmware_sim::{DeviceConfig, DeviceHandle, Fault, Fleet, FleetOptions, LinkOptions, Target};
use hub_proto::uplink::WILL_SEQ;
use hub_proto::{
    AiringRef, Class, Clock, CommandSigner, DeviceCredentials, Directive, Message, Outcome, Part,
    PlanEntry, Provisioning, SealedReport, UplinkKey,
};
use rand::rngs::OsRng;
use tokio::time::timeout;

use crate::support::mqtt::{command, credentials, origin, start_broker, users, Hub, PATIENCE};

fn config(volume: u8) -> Directive {
    Directive::Config {
        volume,
        windows: vec!["05:00-07:00".into()],
    }
}

fn entry(bulletin: &str, from_secs: i64, to_secs: i64) -> PlanEntry {
    PlanEntry {
        bulletin: bulletin.into(),
        occurrence: 0,
        language: "vi".into(),
        class: Class::Normal,
        part: Part::Audio,
        start: origin() + TimeDelta::seconds(from_secs),
        end: origin() + TimeDelta::seconds(to_secs),
        preempted: false,
        media: None,
        subtitles: None,
        text: None,
    }
}

fn played(bulletin: &str, outcome: Outcome) -> Message {
    Message::Played {
        airing: AiringRef {
            bulletin: bulletin.into(),
            occurrence: 0,
            language: "vi".into(),
        },
        outcome,
        reason: None,
    }
}

/// One device on its own broker with a connected hub.
async fn one_device(speed: f64) -> (Hub, DeviceCredentials, DeviceHandle, Clock) {
    one_device_with(speed, &LinkOptions::default()).await
}

async fn one_device_with(
    speed: f64,
    options: &LinkOptions,
) -> (Hub, DeviceCredentials, DeviceHandle, Clock) {
    let device = credentials("24611-LS-01");
    let broker = start_broker(&users(std::slice::from_ref(&device)));
    let hub = Hub::connect(&broker).await;
    let clock = Clock::simulated(origin(), speed);
    let config = DeviceConfig::from_credentials(&device, &hub.public_key()).unwrap();
    let handle = DeviceHandle::spawn(config, &broker, clock, options);
    (hub, device, handle, clock)
}

#[tokio::test]
async fn a_device_connects_and_says_hello_sealed_with_its_key() {
    let (mut hub, device, handle, _) = one_device(1.0).await;
    let hello = hub.next_report(&device).await;
    assert_eq!(hello.device, device.id);
    assert_eq!(hello.seq, 1);
    let Message::Hello {
        firmware,
        capabilities,
        last_seq,
        cached_media,
    } = hello.message
    else {
        panic!("expected a Hello, got {:?}", hello.message);
    };
    assert!(firmware.starts_with("firmware-sim/"), "{firmware}");
    assert_eq!(capabilities, ["audio"]);
    assert_eq!(last_seq, 0);
    assert!(cached_media.is_empty());
    timeout(PATIENCE, handle.wait_ready()).await.unwrap();
    assert!(handle.is_connected());
    assert_eq!(handle.counters().connects, 1);
    handle.stop().await;
}

#[tokio::test]
async fn a_signed_schedule_is_acked_then_played_on_time() {
    // 60× speed: a minute of device time takes a second.
    let (mut hub, device, handle, clock) = one_device(60.0).await;
    let hello = hub.next_report(&device).await;
    assert!(matches!(hello.message, Message::Hello { .. }));
    let date = NaiveDate::from_ymd_opt(2026, 11, 23).unwrap();
    let plan = vec![entry("a", 60, 120), entry("b", 120, 180)];
    let schedule = Directive::Schedule {
        date,
        entries: plan.clone(),
    };
    let expires = origin() + TimeDelta::hours(1);
    hub.publish(hub.signer.sign(&command(1, &device.id, expires, schedule)))
        .await;

    let expected = [
        Message::Ack { seq: 1 },
        played("a", Outcome::Started),
        played("a", Outcome::Finished),
        played("b", Outcome::Started),
        played("b", Outcome::Finished),
    ];
    let mut seqs = vec![hello.seq];
    for want in expected {
        let report = hub.next_report(&device).await;
        assert_eq!(report.message, want);
        assert_eq!(report.session, hello.session);
        seqs.push(report.seq);
    }
    // "a" finishing and "b" starting arose together: one report.
    let (hello_seq, ack, a_start, a_end, b_start, b_end) =
        (seqs[0], seqs[1], seqs[2], seqs[3], seqs[4], seqs[5]);
    assert_eq!(a_end, b_start);
    assert!(
        hello_seq < ack && ack < a_start && a_start < a_end && b_start < b_end,
        "sequence numbers grow within a session: {seqs:?}"
    );
    assert!(clock.now() >= plan[1].end);

    let timeline = handle.timeline();
    assert_eq!(timeline.len(), 2);
    for (line, planned) in timeline.iter().zip(&plan) {
        assert_eq!(line.airing, planned.airing());
        assert_eq!(line.outcome, Outcome::Finished);
        for (name, when, due) in [
            ("started", line.start, planned.start),
            ("ended", line.end, planned.end),
        ] {
            let late = when - due;
            assert!(
                late >= TimeDelta::zero() && late < TimeDelta::seconds(10),
                "{} {name} {late} late",
                planned.bulletin
            );
        }
    }
    assert_eq!(handle.counters().accepted, 1);
    handle.stop().await;
}

#[tokio::test]
async fn forged_replayed_and_expired_commands_are_refused_and_change_nothing() {
    let (mut hub, device, handle, _) = one_device(1.0).await;
    assert!(matches!(
        hub.next_report(&device).await.message,
        Message::Hello { .. }
    ));
    let later = origin() + TimeDelta::hours(1);
    let genuine = hub.signer.sign(&command(5, &device.id, later, config(40)));
    hub.publish(genuine.clone()).await;
    assert_eq!(
        hub.next_report(&device).await.message,
        Message::Ack { seq: 5 }
    );

    let intruder = CommandSigner::new(SigningKey::generate(&mut OsRng));
    hub.publish(intruder.sign(&command(6, &device.id, later, config(0))))
        .await;
    let Message::Refused { seq, code, reason } = hub.next_report(&device).await.message else {
        panic!("expected a refusal of the forged command");
    };
    assert_eq!((seq, code.as_str()), (Some(6), "bad_signature"));
    assert!(reason.contains("signature"), "{reason}");

    hub.publish(hub.signer.sign(&command(3, &device.id, later, config(0))))
        .await;
    let Message::Refused { seq, code, reason } = hub.next_report(&device).await.message else {
        panic!("expected a refusal of the replayed command");
    };
    assert_eq!((seq, code.as_str()), (Some(3), "replayed"));
    assert!(reason.contains("not above"), "{reason}");

    // A redelivery of the last command is no fault: no report for it.
    hub.publish(genuine).await;
    // Nor is garbage that names no device answered by every device.
    hub.publish(b"not a command".to_vec()).await;

    let expired = origin() - TimeDelta::seconds(1);
    hub.publish(hub.signer.sign(&command(7, &device.id, expired, config(0))))
        .await;
    let Message::Refused { seq, code, reason } = hub.next_report(&device).await.message else {
        panic!("expected a refusal of the expired command");
    };
    assert_eq!((seq, code.as_str()), (Some(7), "expired"));
    assert!(reason.contains("expired"), "{reason}");

    assert_eq!(
        handle.status().volume,
        40,
        "refused commands change nothing"
    );
    // Neither the forged 6 nor the expired 7 moved the device's sequence.
    hub.publish(hub.signer.sign(&command(6, &device.id, later, config(55))))
        .await;
    assert_eq!(
        hub.next_report(&device).await.message,
        Message::Ack { seq: 6 }
    );
    assert_eq!(handle.status().volume, 55);

    let counters = handle.counters();
    assert_eq!(counters.accepted, 2);
    assert_eq!(counters.duplicates, 1);
    assert_eq!(
        counters.refused,
        [
            ("bad_signature", 1),
            ("expired", 1),
            ("malformed", 1),
            ("replayed", 1)
        ]
        .into()
    );
    handle.stop().await;
}

#[tokio::test]
async fn a_dropped_link_leaves_the_will_and_the_next_session_says_hello() {
    let (mut hub, device, handle, _) = one_device(1.0).await;
    let first = hub.next_report(&device).await;
    assert!(matches!(first.message, Message::Hello { .. }));
    timeout(PATIENCE, handle.wait_ready()).await.unwrap();

    handle.drop_link();
    let will = hub.next_report(&device).await;
    assert_eq!(will.message, Message::Offline);
    assert_eq!(will.session, first.session);
    assert_eq!(will.seq, WILL_SEQ);

    let second = hub.next_report(&device).await;
    let Message::Hello { last_seq, .. } = second.message else {
        panic!("expected a Hello, got {:?}", second.message);
    };
    assert_eq!(last_seq, 0);
    assert_ne!(second.session, first.session);
    assert_eq!(second.seq, 1);
    assert!(second.at > first.at);
    timeout(PATIENCE, handle.wait_sessions(2)).await.unwrap();
    let counters = handle.counters();
    assert_eq!((counters.connects, counters.sessions), (2, 2));
    assert!(handle.is_connected());
    handle.stop().await;
}

#[tokio::test]
async fn reports_made_while_the_link_is_down_are_sent_in_the_next_session_after_the_restated_proof()
{
    // At 600× speed the entry plays within the two (real) seconds offline.
    let options = LinkOptions {
        backoff_min: Duration::from_secs(2),
        ..LinkOptions::default()
    };
    let (mut hub, device, handle, clock) = one_device_with(600.0, &options).await;
    let first = hub.next_report(&device).await;
    let date = NaiveDate::from_ymd_opt(2026, 11, 23).unwrap();
    // Starts ~0.3 s (real) from now, lasts ~0.1 s.
    let now = (clock.now() - origin()).num_seconds();
    let schedule = Directive::Schedule {
        date,
        entries: vec![entry("a", now + 180, now + 240)],
    };
    let expires = origin() + TimeDelta::hours(24);
    hub.publish(hub.signer.sign(&command(1, &device.id, expires, schedule)))
        .await;
    assert_eq!(
        hub.next_report(&device).await.message,
        Message::Ack { seq: 1 }
    );
    handle.drop_link();
    assert_eq!(hub.next_report(&device).await.message, Message::Offline);

    // After the new Hello, the device restates its proof of play of the day
    // (the airing's last outcome), then whatever it reported meanwhile
    // arrives, in order.
    let second = hub.next_report(&device).await;
    assert!(matches!(second.message, Message::Hello { .. }));
    assert_ne!(second.session, first.session);
    for want in [
        played("a", Outcome::Finished),
        played("a", Outcome::Started),
        played("a", Outcome::Finished),
    ] {
        let report = hub.next_report(&device).await;
        assert_eq!(report.message, want);
        assert_eq!(report.session, second.session);
        assert!(report.at < second.at, "it was played while offline");
    }
    handle.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_fleet_of_two_hundred_devices_connects() {
    let devices: Vec<DeviceCredentials> = (0..200)
        .map(|i| credentials(&format!("24611-LS-{i:03}")))
        .collect();
    let broker = start_broker(&users(&devices));
    let mut hub = Hub::connect(&broker).await;
    let provisioning = Provisioning::new(broker.to_string(), hub.public_key(), devices.clone());
    let clock = Clock::simulated(origin(), 1.0);
    let fleet = Fleet::start(&provisioning, None, clock, &FleetOptions::default()).unwrap();
    let took = fleet.wait_connected(Duration::from_secs(60)).await.unwrap();
    assert!(took < Duration::from_secs(60));
    assert!(fleet.devices().iter().all(DeviceHandle::is_connected));

    let mut greeted = HashSet::new();
    while greeted.len() < devices.len() {
        let payload = timeout(PATIENCE, hub.uplink.recv()).await.unwrap().unwrap();
        let sealed = SealedReport::parse(&payload).unwrap();
        let device = devices.iter().find(|d| d.id == sealed.device()).unwrap();
        let report = sealed
            .open(&UplinkKey::from_text(&device.uplink_key).unwrap())
            .unwrap();
        if report.hello().is_some() {
            greeted.insert(report.device);
        }
    }

    let summary = fleet.summary();
    assert_eq!((summary.devices, summary.connected), (200, 200));
    assert_eq!(summary.connects, 200);
    assert!(fleet.device("24611-LS-007").is_some());
    fleet.stop().await;
}

#[tokio::test]
async fn a_link_down_fault_leaves_the_will_and_reconnects_only_after_the_period() {
    let (mut hub, device, handle, _) = one_device(1.0).await;
    let first = hub.next_report(&device).await;
    timeout(PATIENCE, handle.wait_ready()).await.unwrap();

    let down = Duration::from_millis(1500);
    let injected = std::time::Instant::now();
    handle.inject(Fault::LinkDown { down }).await;
    let will = hub.next_report(&device).await;
    assert_eq!(
        (will.message, will.session),
        (Message::Offline, first.session)
    );
    let hello = hub.next_report(&device).await;
    assert!(matches!(hello.message, Message::Hello { .. }));
    assert!(
        injected.elapsed() >= down,
        "reconnected after {:?}",
        injected.elapsed()
    );
    assert_eq!(handle.counters().connects, 2);
    handle.stop().await;
}

#[tokio::test]
async fn a_power_loss_cuts_the_airing_and_forgets_the_plan_but_not_the_last_sequence() {
    let (mut hub, device, handle, clock) = one_device(60.0).await;
    hub.next_report(&device).await;
    let date = NaiveDate::from_ymd_opt(2026, 11, 23).unwrap();
    let now = (clock.now() - origin()).num_seconds();
    // "a" plays for ten minutes from now; "b" would follow within seconds (real).
    let plan = vec![entry("a", now, now + 600), entry("b", now + 660, now + 720)];
    let schedule = Directive::Schedule {
        date,
        entries: plan.clone(),
    };
    let expires = origin() + TimeDelta::hours(1);
    hub.publish(hub.signer.sign(&command(5, &device.id, expires, schedule)))
        .await;
    assert_eq!(
        hub.next_report(&device).await.message,
        Message::Ack { seq: 5 }
    );
    assert_eq!(
        hub.next_report(&device).await.message,
        played("a", Outcome::Started)
    );

    handle
        .inject(Fault::PowerLoss {
            off: Duration::from_millis(500),
        })
        .await;
    assert_eq!(hub.next_report(&device).await.message, Message::Offline);
    let hello = hub.next_report(&device).await;
    let Message::Hello { last_seq, .. } = hello.message else {
        panic!("expected a Hello, got {:?}", hello.message);
    };
    assert_eq!(last_seq, 5, "the last sequence number survives");

    // Past "b"'s end: the forgotten plan played nothing more.
    tokio::time::sleep(clock.real_until(plan[1].end) + Duration::from_millis(200)).await;
    let timeline = handle.timeline();
    assert_eq!(timeline.len(), 1, "{timeline:?}");
    assert_eq!(timeline[0].airing, plan[0].airing());
    assert_eq!(timeline[0].outcome, Outcome::Failed);
    assert!(timeline[0].end < plan[0].end);
    handle.stop().await;
}

#[tokio::test]
async fn a_slow_link_holds_each_report_back() {
    let (mut hub, device, handle, _) = one_device(1.0).await;
    hub.next_report(&device).await;
    timeout(PATIENCE, handle.wait_ready()).await.unwrap();
    let delay = Duration::from_millis(800);
    handle
        .inject(Fault::SlowLink {
            delay,
            lasting: Duration::from_secs(30),
        })
        .await;
    let sent = std::time::Instant::now();
    let expires = origin() + TimeDelta::hours(1);
    hub.publish(
        hub.signer
            .sign(&command(1, &device.id, expires, config(40))),
    )
    .await;
    assert_eq!(
        hub.next_report(&device).await.message,
        Message::Ack { seq: 1 }
    );
    assert!(
        sent.elapsed() >= delay,
        "the ack came after {:?}",
        sent.elapsed()
    );
    handle.stop().await;
}

#[tokio::test]
async fn reports_the_hub_asked_to_spread_wait_but_the_airing_does_not() {
    let (mut hub, device, handle, clock) = one_device(1.0).await;
    hub.next_report(&device).await;
    timeout(PATIENCE, handle.wait_ready()).await.unwrap();
    let spread = Duration::from_millis(1_200);
    let expires = origin() + TimeDelta::hours(1);
    let mut play = command(
        1,
        &device.id,
        expires,
        Directive::Play {
            entry: entry("a", 0, 600),
        },
    );
    play.report_spread_ms = Some(spread.as_millis() as u32);
    let sent = std::time::Instant::now();
    hub.publish(hub.signer.sign(&play)).await;
    // A plain command right after: its ack waits behind the held reports.
    hub.publish(
        hub.signer
            .sign(&command(2, &device.id, expires, config(40))),
    )
    .await;

    let ack = hub.next_report(&device).await;
    assert_eq!(ack.message, Message::Ack { seq: 1 });
    let waited = sent.elapsed();
    assert!(waited >= spread / 2, "the ack came after {waited:?}");
    let started = hub.next_report(&device).await;
    assert_eq!(started.message, played("a", Outcome::Started));
    // It started when the command came, long before it was told.
    let told_after = (clock.now() - started.at).to_std().unwrap();
    assert!(
        told_after >= spread / 2 - Duration::from_millis(100),
        "{told_after:?}"
    );
    assert_eq!(handle.timeline()[0].outcome, Outcome::Started);
    assert_eq!(
        hub.next_report(&device).await.message,
        Message::Ack { seq: 2 }
    );
    handle.stop().await;
}

#[tokio::test]
async fn a_skewed_clock_shows_in_the_device_times() {
    let (mut hub, device, handle, clock) = one_device(1.0).await;
    hub.next_report(&device).await;
    timeout(PATIENCE, handle.wait_ready()).await.unwrap();
    handle
        .inject(Fault::ClockSkew {
            by: TimeDelta::hours(-1),
        })
        .await;
    let expires = origin() + TimeDelta::hours(3);
    // Sent until the device has taken the skew (faults and commands travel
    // different ways), each under a new sequence number.
    for seq in 1.. {
        hub.publish(
            hub.signer
                .sign(&command(seq, &device.id, expires, config(40))),
        )
        .await;
        let ack = hub.next_report(&device).await;
        assert_eq!(ack.message, Message::Ack { seq });
        let behind = clock.now() - ack.at;
        if behind >= TimeDelta::minutes(59) {
            assert!(behind <= TimeDelta::minutes(61), "{behind}");
            break;
        }
        assert!(seq < 5, "the clock never went back");
    }
    handle.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_fault_hits_the_share_of_the_fleet_its_seed_picks() {
    let devices: Vec<DeviceCredentials> = (0..20)
        .map(|i| credentials(&format!("24611-LS-{i:03}")))
        .collect();
    let broker = start_broker(&users(&devices));
    let mut hub = Hub::connect(&broker).await;
    let provisioning = Provisioning::new(broker.to_string(), hub.public_key(), devices.clone());
    let fleet = Fleet::start(
        &provisioning,
        None,
        Clock::simulated(origin(), 1.0),
        &FleetOptions::default(),
    )
    .unwrap();
    fleet.wait_connected(PATIENCE).await.unwrap();
    for device in fleet.devices() {
        timeout(PATIENCE, device.wait_ready()).await.unwrap();
    }

    let (fault, target) = parse_injection("link-down:1s@25%", 7).unwrap();
    let hit = fleet.inject(fault, &target).await.unwrap();
    assert_eq!(hit.len(), 5);
    let mut offline = HashSet::new();
    while offline.len() < hit.len() {
        let payload = timeout(PATIENCE, hub.uplink.recv()).await.unwrap().unwrap();
        let sealed = SealedReport::parse(&payload).unwrap();
        let device = devices.iter().find(|d| d.id == sealed.device()).unwrap();
        let report = sealed
            .open(&UplinkKey::from_text(&device.uplink_key).unwrap())
            .unwrap();
        if report.is_offline() {
            assert!(
                hit.contains(&report.device),
                "{} was not hit",
                report.device
            );
            offline.insert(report.device);
        }
    }

    // The same seed picks the same devices; unknown ids are refused.
    let again = fleet.inject(fault, &target).await.unwrap();
    assert_eq!(again, hit);
    let unknown = Target::Devices(vec!["24611-LS-999".into()]);
    assert!(fleet.inject(fault, &unknown).await.is_err());
    fleet.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_fleet_command_injects_the_faults_it_is_given() {
    let devices: Vec<DeviceCredentials> = (0..10)
        .map(|i| credentials(&format!("24611-LS-{i:03}")))
        .collect();
    let broker = start_broker(&users(&devices));
    let hub = Hub::connect(&broker).await;
    let provisioning = Provisioning::new(broker.to_string(), hub.public_key(), devices.clone());
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("provisioning.json");
    std::fs::write(&path, provisioning.to_json()).unwrap();

    let output = tokio::process::Command::new(env!("CARGO_BIN_EXE_firmware-sim"))
        .arg("fleet")
        .arg("--provisioning")
        .arg(&path)
        .args([
            "--fault",
            "link-down:500ms@30%",
            "--fault",
            "power-loss:500ms@24611-LS-009",
        ])
        .args([
            "--faults-after-secs",
            "0",
            "--duration-secs",
            "3",
            "--heartbeat-secs",
            "1",
        ])
        .output()
        .await
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let lines: Vec<serde_json::Value> = String::from_utf8(output.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let events: Vec<&str> = lines.iter().map(|l| l["event"].as_str().unwrap()).collect();
    assert_eq!(events, ["connected", "fault", "fault", "summary"]);
    assert_eq!(lines[1]["fault"], "link-down:500ms");
    assert_eq!(lines[1]["devices"].as_array().unwrap().len(), 3);
    assert_eq!(lines[2]["devices"], serde_json::json!(["24611-LS-009"]));
    // Every hit device came back: one more connection each.
    assert_eq!(lines[3]["connects"], 14);

    let bad = tokio::process::Command::new(env!("CARGO_BIN_EXE_firmware-sim"))
        .arg("fleet")
        .arg("--provisioning")
        .arg(&path)
        .args(["--fault", "unplugged:1s@10%"])
        .output()
        .await
        .unwrap();
    assert!(!bad.status.success());
    assert!(String::from_utf8_lossy(&bad.stderr).contains("unknown kind"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_fleet_command_finds_the_provisioning_file_from_the_hub_configuration() {
    let devices: Vec<DeviceCredentials> = (0..3)
        .map(|i| credentials(&format!("24611-LS-{i:03}")))
        .collect();
    let broker = start_broker(&users(&devices));
    let hub = Hub::connect(&broker).await;
    let provisioning = Provisioning::new(broker.to_string(), hub.public_key(), devices);
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    std::fs::create_dir(&data).unwrap();
    std::fs::write(data.join("provisioning.json"), provisioning.to_json()).unwrap();
    let config = dir.path().join("hub.toml");
    std::fs::write(
        &config,
        format!("data_dir = {:?}\n", data.display().to_string()),
    )
    .unwrap();

    let output = tokio::process::Command::new(env!("CARGO_BIN_EXE_firmware-sim"))
        .args(["fleet", "--duration-secs", "1", "--config"])
        .arg(&config)
        .env_remove("HUB_DATA_DIR")
        .output()
        .await
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let first: serde_json::Value = serde_json::from_str(
        String::from_utf8(output.stdout)
            .unwrap()
            .lines()
            .next()
            .unwrap(),
    )
    .unwrap();
    assert_eq!(
        (first["event"].as_str(), first["devices"].as_u64()),
        (Some("connected"), Some(3))
    );

    std::fs::remove_file(data.join("provisioning.json")).unwrap();
    let missing = tokio::process::Command::new(env!("CARGO_BIN_EXE_firmware-sim"))
        .args(["fleet", "--config"])
        .arg(&config)
        .env_remove("HUB_DATA_DIR")
        .output()
        .await
        .unwrap();
    assert!(!missing.status.success());
    assert!(
        String::from_utf8_lossy(&missing.stderr)
            .contains("`hub serve` or `hub provision` writes it"),
        "{}",
        String::from_utf8_lossy(&missing.stderr)
    );
}
