//! Media end to end: bulletins configured with text (spoken by espeak-ng)
//! or a recording are ingested when the hub starts, stored once by content,
//! named in the plans loudspeakers get, and served over HTTP to devices with
//! their broker credentials only, with ranges, ETags and resumable downloads,
//! over plain HTTP or HTTPS (`link.media_tls`, certificates made by openssl).

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Command as Process;
use std::time::Duration;

use hub::link::BrokerChoice;
use hub_core::{Delivery, DeliveryState, DeviceId};
use hub_proto::media::{etag, media_path};
use hub_proto::uplink::UplinkKey;
use hub_proto::{
    topic, Command, Directive, FailureReason, Kind, MediaRef, Message, Outcome, PlanEntry, Report,
};
use hyper::header::{
    ACCEPT_RANGES, CACHE_CONTROL, CONTENT_LENGTH, CONTENT_RANGE, CONTENT_TYPE, ETAG, IF_NONE_MATCH,
    IF_RANGE, RANGE, WWW_AUTHENTICATE,
};
use hyper::{Method, StatusCode};
use rumqttc::{AsyncClient, MqttOptions, QoS};
use sha2::{Digest, Sha256};
use tempfile::TempDir;

use crate::support::http::{basic, fetch, start, Fetched};
use crate::support::link::{clock, eventually, free_port, spawn_hub_with, Mosquitto, TestHub};
use crate::support::relay::Relay;
use crate::support::tls::tls_certificates;
use crate::support::{fixture, hub, write_picture};

const WAIT: Duration = Duration::from_secs(20);
const SPEAKER: &str = "24611-LS-01";
/// Spoken by two bulletins: stored once.
const TEXT: &str = "Xin chào bà con. Đây là bản tin thử nghiệm của xã.";

/// A province configuration in a directory of its own (recordings are
/// relative to it): the link-test province plus `bulletins`.
struct Province {
    dir: TempDir,
    config: PathBuf,
}

impl Province {
    fn new(bulletins: &str) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let base = std::fs::read_to_string(fixture("link-province.toml")).unwrap();
        let config = dir.path().join("province.toml");
        std::fs::write(&config, format!("{base}\n{bulletins}")).unwrap();
        Self { dir, config }
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }
}

/// A commune bulletin for 24611's loudspeakers whose vi variant has `audio`.
fn bulletin(id: &str, audio: &str) -> String {
    format!(
        r#"
[[bulletins]]
id = "{id}"
title = "Bản tin {id}"
category = "other"
level = "province"
issuer = "67"
priority = "priority"
targets = ["24611"]
not_before = "2026-11-23T00:00:00+07:00"
expires = "2026-11-24T00:00:00+07:00"
  [[bulletins.variants]]
  language = "vi"
  audio = {audio}
"#
    )
}

/// A mono WAV of a 440 Hz tone lasting `secs`, made by ffmpeg.
fn write_tone(path: &Path, secs: u32) {
    let status = Process::new("ffmpeg")
        .args(["-nostdin", "-loglevel", "error", "-y", "-f", "lavfi", "-i"])
        .arg(format!("sine=frequency=440:duration={secs}"))
        .args(["-ac", "1", "-ar", "16000"])
        .arg(path)
        .status()
        .expect("ffmpeg runs (apt-get install ffmpeg)");
    assert!(status.success(), "ffmpeg made {}", path.display());
}

fn sha256_hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// The stored files (not temporary ones) of a data directory.
fn stored_files(data: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(data.join("media"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|name| !name.starts_with('.'))
        .collect();
    names.sort();
    names
}

/// The schedule the hub sends `device` (of `kind`) after its hello, as the
/// device's own MQTT client (with its credentials) receives it.
async fn schedule_for(handle: &hub::link::HubHandle, device: &str, kind: Kind) -> Vec<PlanEntry> {
    let credentials = handle
        .provisioning
        .devices
        .iter()
        .find(|d| d.id == device)
        .unwrap()
        .clone();
    let broker = handle.mqtt_addr.unwrap();
    let mut options = MqttOptions::new(device, "127.0.0.1", broker.port());
    options.set_credentials(device, credentials.mqtt_password.clone());
    options.set_max_packet_size(512 * 1024, 512 * 1024);
    let (client, mut eventloop) = AsyncClient::new(options, 16);
    client
        .subscribe(topic::downlink(&device[..5], kind), QoS::AtLeastOnce)
        .await
        .unwrap();
    let key = UplinkKey::from_text(&credentials.uplink_key).unwrap();
    let hello = Message::Hello {
        firmware: "media-test".into(),
        capabilities: vec![],
        last_seq: 0,
        cached_media: vec![],
    };
    let report = Report::new(device, 1, 1, clock().now(), hello);
    client
        .publish(
            topic::uplink(&device[..5]),
            QoS::AtLeastOnce,
            false,
            report.seal(&key),
        )
        .await
        .unwrap();
    let receive = async {
        loop {
            let event = eventloop.poll().await.expect("the broker keeps the link");
            let rumqttc::Event::Incoming(rumqttc::Packet::Publish(publish)) = event else {
                continue;
            };
            let wire: serde_json::Value = serde_json::from_slice(&publish.payload).unwrap();
            let command: Command = serde_json::from_value(wire["body"].clone()).unwrap();
            if let Directive::Schedule { entries, .. } = command.directive {
                if command.to.iter().any(|to| to == device) {
                    return entries;
                }
            }
        }
    };
    tokio::time::timeout(WAIT, receive)
        .await
        .expect("a schedule arrives")
}

/// The media of `bulletin`'s entry in `entries`.
fn media_of(entries: &[PlanEntry], bulletin: &str) -> MediaRef {
    entries
        .iter()
        .find(|e| e.bulletin == bulletin)
        .unwrap_or_else(|| panic!("{bulletin} is planned: {entries:?}"))
        .media
        .clone()
        .unwrap_or_else(|| panic!("{bulletin}'s entry names its media"))
}

/// Revokes `device` in the store of `data` before any hub runs on it,
/// returning the password it had.
fn revoke_before_start(config: &Path, data: &Path, device: &str) -> String {
    let loaded = hub::config::load(config).unwrap();
    let store = hub_store::Store::open(data).unwrap();
    store.import_province(&loaded.province).unwrap();
    let secrets = hub::link::identity::ensure_secrets(&store, &loaded.province).unwrap();
    let mut secret = secrets[&DeviceId::parse(device).unwrap()].clone();
    secret.revoked = true;
    store.put(&secret).unwrap();
    store.flush().unwrap();
    secret.mqtt_password
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn spoken_and_recorded_audio_is_stored_once_planned_and_served_to_devices_only() {
    let province = Province::new(&format!(
        "{}{}{}",
        bulletin("tin-noi", &format!("{{ speech = \"{TEXT}\" }}")),
        bulletin(
            "tin-noi-lai",
            &format!("{{ speech = \"{TEXT}\", secs = 120 }}")
        ),
        bulletin("tin-ghi-am", "{ file = \"tone.wav\" }"),
    ));
    write_tone(&province.path("tone.wav"), 4);
    let data = tempfile::tempdir().unwrap();
    let revoked_password = revoke_before_start(&province.config, data.path(), "24611-LS-02");
    let handle = spawn_hub_with(
        &province.config,
        data.path(),
        BrokerChoice::Embedded,
        clock(),
    )
    .await;
    let addr = handle.media_addr;

    // The same text twice is one file; the recording another.
    assert_eq!(
        stored_files(data.path()).len(),
        2,
        "{:?}",
        stored_files(data.path())
    );
    let entries = schedule_for(&handle, SPEAKER, Kind::Loudspeaker).await;
    let spoken = media_of(&entries, "tin-noi");
    assert_eq!(media_of(&entries, "tin-noi-lai"), spoken);
    let recorded = media_of(&entries, "tin-ghi-am");
    assert_ne!(recorded.sha256, spoken.sha256);
    assert_eq!(stored_files(data.path()), {
        let mut both = vec![spoken.sha256.clone(), recorded.sha256.clone()];
        both.sort();
        both
    });
    for media in [&spoken, &recorded] {
        assert_eq!(
            media.url,
            format!("http://{addr}{}", media_path(&media.sha256))
        );
    }
    // A slot without secs is the audio's length rounded up; secs given are kept.
    let slot = |bulletin: &str| {
        let entry = entries.iter().find(|e| e.bulletin == bulletin).unwrap();
        (entry.end - entry.start).num_seconds()
    };
    assert!(
        (4..=5).contains(&slot("tin-ghi-am")),
        "a 4 s tone takes its length rounded up: {}",
        slot("tin-ghi-am")
    );
    assert_eq!(slot("tin-noi-lai"), 120);
    assert!((1..120).contains(&slot("tin-noi")), "{}", slot("tin-noi"));

    let password = handle
        .provisioning
        .devices
        .iter()
        .find(|d| d.id == SPEAKER)
        .unwrap()
        .mqtt_password
        .clone();
    let auth = basic(SPEAKER, &password);
    let path = media_path(&spoken.sha256);
    let get = |headers: Vec<(hyper::header::HeaderName, String)>| {
        let path = path.clone();
        async move { fetch(addr, Method::GET, &path, &headers).await }
    };

    // The whole file, as the plan describes it.
    let whole = get(vec![auth.clone()]).await;
    assert_eq!(whole.status, StatusCode::OK);
    assert_eq!(sha256_hex(&whole.body), spoken.sha256);
    assert_eq!(whole.body.len() as u64, spoken.size);
    assert_eq!(whole.header(ETAG), etag(&spoken.sha256));
    assert_eq!(whole.header(CONTENT_TYPE), "audio/ogg");
    assert_eq!(whole.header(ACCEPT_RANGES), "bytes");
    assert_eq!(
        whole.header(CACHE_CONTROL),
        "private, max-age=31536000, immutable"
    );
    assert!(whole.body.starts_with(b"OggS"));
    let size = whole.body.len();

    // Strangers are refused alike, without saying why.
    let refused = [
        get(vec![basic(SPEAKER, "not-the-password")]).await,
        get(vec![basic("24699-LS-01", &password)]).await,
        get(vec![basic("24611-LS-02", &revoked_password)]).await,
        get(vec![]).await,
    ];
    for response in &refused {
        assert_eq!(response.status, StatusCode::UNAUTHORIZED);
        assert_eq!(
            response.header(WWW_AUTHENTICATE),
            "Basic realm=\"nguon-media\", charset=\"UTF-8\""
        );
        assert!(response.body.is_empty());
    }

    // Ranges.
    let part = get(vec![auth.clone(), (RANGE, "bytes=10-109".into())]).await;
    assert_eq!(part.status, StatusCode::PARTIAL_CONTENT);
    assert_eq!(part.header(CONTENT_RANGE), format!("bytes 10-109/{size}"));
    assert_eq!(part.body, whole.body[10..110]);
    let tail = get(vec![auth.clone(), (RANGE, "bytes=-100".into())]).await;
    assert_eq!(tail.status, StatusCode::PARTIAL_CONTENT);
    assert_eq!(tail.body, whole.body[size - 100..]);
    let beyond = get(vec![auth.clone(), (RANGE, format!("bytes={size}-"))]).await;
    assert_eq!(beyond.status, StatusCode::RANGE_NOT_SATISFIABLE);
    assert_eq!(beyond.header(CONTENT_RANGE), format!("bytes */{size}"));
    let several = get(vec![auth.clone(), (RANGE, "bytes=0-9,20-29".into())]).await;
    assert_eq!(several.status, StatusCode::OK);
    assert_eq!(several.body, whole.body);
    let stale = get(vec![
        auth.clone(),
        (RANGE, "bytes=10-".into()),
        (IF_RANGE, etag(&"0".repeat(64))),
    ])
    .await;
    assert_eq!(
        stale.status,
        StatusCode::OK,
        "another version: the whole file"
    );
    assert_eq!(stale.body, whole.body);

    // Conditional requests and HEAD.
    let cached = get(vec![auth.clone(), (IF_NONE_MATCH, etag(&spoken.sha256))]).await;
    assert_eq!(cached.status, StatusCode::NOT_MODIFIED);
    assert!(cached.body.is_empty());
    let head = fetch(addr, Method::HEAD, &path, std::slice::from_ref(&auth)).await;
    assert_eq!(head.status, StatusCode::OK);
    assert_eq!(head.header(CONTENT_LENGTH), size.to_string());
    assert_eq!(head.header(ETAG), etag(&spoken.sha256));
    assert!(head.body.is_empty());

    // Paths that are not one stored hash.
    let unknown = fetch(
        addr,
        Method::GET,
        &media_path(&"0".repeat(64)),
        std::slice::from_ref(&auth),
    )
    .await;
    assert_eq!(unknown.status, StatusCode::NOT_FOUND);
    let upper = media_path(&spoken.sha256.to_uppercase());
    let malformed: Fetched = fetch(addr, Method::GET, &upper, std::slice::from_ref(&auth)).await;
    assert_eq!(malformed.status, StatusCode::BAD_REQUEST);

    handle.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_download_cut_by_a_dropped_link_resumes_where_it_stopped() {
    let province = Province::new(&bulletin("tin-ghi-am", "{ file = \"tone.wav\" }"));
    write_tone(&province.path("tone.wav"), 20);
    let data = tempfile::tempdir().unwrap();
    let handle = spawn_hub_with(
        &province.config,
        data.path(),
        BrokerChoice::Embedded,
        clock(),
    )
    .await;
    let media = media_of(
        &schedule_for(&handle, SPEAKER, Kind::Loudspeaker).await,
        "tin-ghi-am",
    );
    let speaker = handle
        .provisioning
        .devices
        .iter()
        .find(|d| d.id == SPEAKER)
        .unwrap();
    let auth = basic(SPEAKER, &speaker.mqtt_password);
    let path = media_path(&media.sha256);
    let addr: SocketAddr = handle.media_addr;

    let first = start(addr, Method::GET, &path, std::slice::from_ref(&auth)).await;
    assert_eq!(first.response.status(), StatusCode::OK);
    let mut received = first.read_then_drop(1).await;
    // Whatever the socket buffered, the link died half-way through.
    received.truncate((media.size / 2) as usize);
    let resumed = fetch(
        addr,
        Method::GET,
        &path,
        &[
            auth,
            (RANGE, format!("bytes={}-", received.len())),
            (IF_RANGE, etag(&media.sha256)),
        ],
    )
    .await;
    assert_eq!(resumed.status, StatusCode::PARTIAL_CONTENT);
    assert_eq!(
        resumed.header(CONTENT_RANGE),
        format!("bytes {}-{}/{}", received.len(), media.size - 1, media.size)
    );
    received.extend_from_slice(&resumed.body);
    assert_eq!(received.len() as u64, media.size);
    assert_eq!(sha256_hex(&received), media.sha256);

    handle.shutdown().await.unwrap();
}

/// Runs `hub plan` on `province` in a fresh data directory; returns its error.
fn plan_error(province: &Province) -> String {
    let data = tempfile::tempdir().unwrap();
    let err = hub(&[
        "plan",
        "--config",
        province.config.to_str().unwrap(),
        "--data",
        data.path().to_str().unwrap(),
        "--at",
        "2026-11-23T10:00:00+07:00",
    ])
    .expect_err("the configuration is refused");
    format!("{err:#}")
}

#[test]
fn a_bad_recording_or_a_slot_shorter_than_its_audio_is_named() {
    let province = Province::new(&format!(
        "{}{}",
        bulletin("tin-tot", "{ file = \"tone.wav\" }"),
        bulletin("tin-hong", "{ file = \"broken.mp3\" }"),
    ));
    write_tone(&province.path("tone.wav"), 2);
    std::fs::write(province.path("broken.mp3"), b"this is not audio at all").unwrap();
    let err = plan_error(&province);
    assert!(err.contains("bulletin tin-hong, variant vi"), "{err}");
    assert!(err.contains("broken.mp3"), "{err}");
    assert!(err.contains("not audio"), "{err}");

    let province = Province::new(&bulletin("tin-ngan", "{ file = \"tone.wav\", secs = 2 }"));
    write_tone(&province.path("tone.wav"), 3);
    let err = plan_error(&province);
    assert!(
        err.contains("bulletin tin-ngan, variant vi: secs = 2 is shorter than its audio (")
            && err.contains("give at least 3"),
        "{err}"
    );
}

/// Set in the copy of this test binary that runs without espeak-ng.
const WITHOUT_ESPEAK: &str = "NGUON_TEST_WITHOUT_ESPEAK";

#[test]
fn without_espeak_ng_a_spoken_bulletin_is_refused_by_name() {
    if std::env::var_os(WITHOUT_ESPEAK).is_some() {
        let province = Province::new(&bulletin("tin-noi", "{ speech = \"Xin chào\" }"));
        let err = plan_error(&province);
        assert!(err.contains("bulletin tin-noi, variant vi"), "{err}");
        assert!(err.contains("espeak-ng is not installed"), "{err}");
        return;
    }
    // espeak-ng is found on PATH, which is one per process: this test runs
    // again in a child process whose PATH holds nothing.
    let empty = tempfile::tempdir().unwrap();
    let name = format!(
        "{}::without_espeak_ng_a_spoken_bulletin_is_refused_by_name",
        module_path!().split_once("::").map_or("", |(_, rest)| rest)
    );
    let child = Process::new(std::env::current_exe().unwrap())
        .args([name.as_str(), "--exact", "--test-threads=1", "--nocapture"])
        .env(WITHOUT_ESPEAK, "1")
        .env("PATH", empty.path())
        .output()
        .unwrap();
    let output = String::from_utf8_lossy(&child.stdout);
    assert!(
        child.status.success(),
        "{output}{}",
        String::from_utf8_lossy(&child.stderr)
    );
    assert!(
        output.contains("1 passed"),
        "the child ran the test: {output}"
    );
}

/// A hub on `province`'s configuration, in a fresh data directory, with the
/// embedded broker.
async fn start_hub(province: &Province) -> TestHub {
    let data = tempfile::tempdir().unwrap();
    let handle = spawn_hub_with(
        &province.config,
        data.path(),
        BrokerChoice::Embedded,
        clock(),
    )
    .await;
    TestHub {
        handle,
        clock: clock(),
        _dir: data,
    }
}

/// The hub's record of `bulletin` on `device`, once it is in `state`.
async fn delivery_once(
    hub: &TestHub,
    device: &str,
    bulletin: &str,
    state: DeliveryState,
) -> Delivery {
    let id = DeviceId::parse(device).unwrap();
    let find = || async {
        hub.handle
            .deliveries(&id)
            .await
            .unwrap()
            .into_iter()
            .find(|d| d.airing.bulletin.as_str() == bulletin)
    };
    eventually(
        &format!("{bulletin} is {state:?} on {device}"),
        WAIT,
        || async { find().await.is_some_and(|d| d.state == state) },
    )
    .await;
    find().await.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_simulated_loudspeaker_fetches_its_spoken_bulletin_plays_it_and_the_hub_records_it() {
    let province = Province::new(&bulletin("tin-noi", &format!("{{ speech = \"{TEXT}\" }}")));
    let hub = start_hub(&province).await;
    let [stored] = stored_files(hub._dir.path()).try_into().unwrap();
    let size = std::fs::metadata(hub._dir.path().join("media").join(&stored))
        .unwrap()
        .len();
    let speaker = hub.device(SPEAKER);

    let finished = delivery_once(&hub, SPEAKER, "tin-noi", DeliveryState::Finished).await;
    assert_eq!(finished.reason, None);
    assert_eq!(speaker.cached_media(), [stored]);
    let media = speaker.counters().media;
    assert!(media.downloads >= 1, "{media:?}");
    assert_eq!(media.bytes, size, "{media:?}");
    assert_eq!((media.mismatches, media.undecodable), (0, 0), "{media:?}");
    // The bulletin is due at once: until its file is in, the device fails
    // it for want of it and the hub plans it again.
    let mut timeline = speaker.timeline();
    let last = timeline.pop().unwrap();
    assert_eq!(
        (last.airing.bulletin.as_str(), last.outcome),
        ("tin-noi", Outcome::Finished)
    );
    assert_eq!(finished.at, last.end, "the device's time of the end");
    for early in &timeline {
        assert_eq!(
            (early.outcome, early.reason),
            (Outcome::Failed, Some(FailureReason::MediaMissing)),
            "{early:?}"
        );
    }
    speaker.stop().await;
    hub.handle.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_loudspeaker_the_media_server_refuses_fails_its_entry_as_media_missing_on_the_hub() {
    // The device's configured password is not the one the hub holds. Over an
    // external broker whose password file agrees with the device (out of
    // step with the hub), it still gets its plan, but the media server,
    // which checks the hub's registry, refuses it.
    let province = Province::new(&bulletin("tin-noi", &format!("{{ speech = \"{TEXT}\" }}")));
    let data = tempfile::tempdir().unwrap();
    let port = free_port();
    let hub_pass = "hub-secret";
    let url = format!("mqtt://nguon-hub:{hub_pass}@127.0.0.1:{port}");
    let handle = spawn_hub_with(
        &province.config,
        data.path(),
        BrokerChoice::External { url, ca: None },
        clock(),
    )
    .await;
    let hub = TestHub {
        handle,
        clock: clock(),
        _dir: data,
    };
    let wrong = "not-the-password-the-hub-holds";
    let _mosquitto = Mosquitto::start(port, &[(SPEAKER, wrong), ("nguon-hub", hub_pass)]);
    let mut credentials = hub.credentials(SPEAKER);
    credentials.mqtt_password = wrong.into();
    let config = firmware_sim::link::DeviceConfig::from_credentials(
        &credentials,
        &hub.handle.provisioning.hub_public_key,
    )
    .unwrap();
    let broker = hub.handle.provisioning.broker.parse().unwrap();
    let speaker = firmware_sim::DeviceHandle::spawn(
        config,
        &broker,
        hub.clock,
        &crate::support::link::fast_link(),
    );

    let failed = delivery_once(&hub, SPEAKER, "tin-noi", DeliveryState::Failed).await;
    assert_eq!(failed.reason, Some(FailureReason::MediaMissing));
    let stats = hub.handle.stats().await.unwrap();
    // The hub plans a failed airing again: it may have failed more than once.
    assert!(
        stats.failed_by_reason.get("media_missing") >= Some(&1),
        "{stats:?}"
    );
    assert_eq!(stats.failed_by_reason.len(), 1, "{stats:?}");
    assert!(speaker.cached_media().is_empty());
    let media = speaker.counters().media;
    assert_eq!((media.downloads, media.bytes), (0, 0), "{media:?}");
    assert!(media.abandoned >= 1, "{media:?}");
    let timeline = speaker.timeline();
    assert!(!timeline.is_empty());
    for line in &timeline {
        assert_eq!(
            (line.outcome, line.reason),
            (Outcome::Failed, Some(FailureReason::MediaMissing)),
            "{line:?}"
        );
    }
    speaker.stop().await;
    hub.handle.shutdown().await.unwrap();
}

/// A `width`×`height` picture of one colour, made by ffmpeg.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_board_fetches_its_picture_fitted_to_its_size_and_shows_it_with_the_caption() {
    const BOARD: &str = "24611-LB-01";
    let province = Province::new(
        r#"
[[bulletins]]
id = "anh"
title = "Lịch tiêm phòng"
category = "daily_life"
level = "province"
issuer = "67"
priority = "priority"
targets = ["24611"]
not_before = "2026-11-23T00:00:00+07:00"
expires = "2026-11-24T00:00:00+07:00"
  [[bulletins.variants]]
  language = "vi"
  visual = { kind = "image", file = "poster.jpg", secs = 60, text = "Tiêm phòng sáng thứ Bảy" }
"#,
    );
    // A 2:1 JPEG, as a phone sends it; the board is 384×192.
    write_picture(&province.path("poster.jpg"), "red", 400, 200);
    let hub = start_hub(&province).await;
    let [stored] = stored_files(hub._dir.path()).try_into().unwrap();
    let credentials = hub.credentials(BOARD);
    let served = fetch(
        hub.handle.media_addr,
        Method::HEAD,
        &media_path(&stored),
        &[basic(BOARD, &credentials.mqtt_password)],
    )
    .await;
    assert_eq!(served.header(CONTENT_TYPE), "image/png");
    let entries = schedule_for(&hub.handle, BOARD, Kind::LedBoard).await;
    let entry = entries
        .iter()
        .find(|e| e.bulletin == "anh")
        .expect("planned");
    assert_eq!(
        entry.media.as_ref().map(|m| m.sha256.as_str()),
        Some(stored.as_str())
    );
    assert_eq!(entry.text.as_deref(), Some("Tiêm phòng sáng thứ Bảy"));

    let board = hub.device(BOARD);
    let mut shown = None;
    eventually("the board shows the picture", WAIT, || {
        let showing = board.showing(hub.clock.now());
        let file = board.media_file(&stored);
        let now_shown = showing.filter(|s| s.media.as_deref() == Some(stored.as_str()));
        let found = now_shown.is_some() && file.is_some();
        shown = now_shown.zip(file);
        async move { found }
    })
    .await;
    let (showing, file) = shown.unwrap();
    let picture = firmware_sim::media::picture::decode_picture(&file).unwrap();
    assert_eq!(picture.dimensions(), (384, 192), "fitted to the board");
    let face = firmware_sim::board::render(
        Some(&showing),
        Some(&picture),
        hub.clock.now(),
        firmware_sim::board::Resolution::default(),
    );
    let red = face
        .pixels()
        .filter(|p| p.0[0] > 200 && p.0[1] < 60 && p.0[2] < 60)
        .count();
    assert!(
        red > 10_000,
        "the picture is on the board ({red} red pixels)"
    );
    assert_eq!(board.counters().media.undecodable, 0);
    board.stop().await;
    hub.handle.shutdown().await.unwrap();
}

/// Two cues of a 4 s video, the second from 2 s to 3.2 s.
const VIDEO_SRT: &str = "1\n00:00:00,500 --> 00:00:01,500\nCảnh báo lũ quét\n\n\
                         2\n00:00:02,000 --> 00:00:03,200\nSơ tán ngay khỏi bờ suối\n";

/// 4 s of ffmpeg's test pattern, 320×240 at 10 frames/s, H.264, without
/// any subtitle track.
fn write_plain_video(path: &Path) {
    let status = Process::new("ffmpeg")
        .args(["-nostdin", "-loglevel", "error", "-y", "-f", "lavfi"])
        .args(["-i", "testsrc=size=320x240:rate=10", "-t", "4"])
        .args(["-c:v", "libx264", "-pix_fmt", "yuv420p"])
        .arg(path)
        .status()
        .expect("ffmpeg runs (apt-get install ffmpeg)");
    assert!(status.success(), "ffmpeg made {}", path.display());
}

/// A `multipart/form-data` body of `parts` (name, file name, bytes), and
/// its content type.
fn form(parts: &[(&str, &str, &[u8])]) -> (String, Vec<u8>) {
    const BOUNDARY: &str = "nguon-test-7f3a9c";
    let mut body = Vec::new();
    for (name, file_name, bytes) in parts {
        body.extend_from_slice(
            format!(
                "--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"{name}\"; \
                 filename=\"{file_name}\"\r\nContent-Type: application/octet-stream\r\n\r\n"
            )
            .as_bytes(),
        );
        body.extend_from_slice(bytes);
        body.extend_from_slice(b"\r\n");
    }
    body.extend_from_slice(format!("--{BOUNDARY}--\r\n").as_bytes());
    (format!("multipart/form-data; boundary={BOUNDARY}"), body)
}

/// What Tesseract (Vietnamese) reads in the picture at `path`, words
/// joined by spaces, as the board snapshot tests of firmware-sim read a board.
fn ocr(path: &Path) -> String {
    let output = Process::new("tesseract")
        .arg(path)
        .arg("stdout")
        .args(["-l", "vie", "--psm", "6"])
        .output()
        .expect("tesseract runs (apt-get install tesseract-ocr tesseract-ocr-vie)");
    assert!(output.status.success(), "tesseract failed");
    let text = String::from_utf8(output.stdout).expect("tesseract prints UTF-8");
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_video_uploaded_with_an_srt_file_shows_its_cues_on_a_board_and_a_bad_srt_is_refused() {
    const BOARD: &str = "24611-LB-01";
    let api = crate::support::api::start().await;
    let chair = api.person("chair", "commune_chair", "24611").await;
    let dir = tempfile::tempdir().unwrap();
    let video_path = dir.path().join("plain.mp4");
    write_plain_video(&video_path);
    let video = std::fs::read(&video_path).unwrap();
    let upload = |content_type: String, body: Vec<u8>| {
        let headers = [
            (hyper::header::AUTHORIZATION, format!("Bearer {chair}")),
            (CONTENT_TYPE, content_type),
        ];
        let addr = api.addr;
        async move {
            let fetched = crate::support::http::send(
                addr,
                Method::POST,
                "/api/v1/uploads/video",
                &headers,
                body,
            )
            .await;
            crate::support::api::answer(fetched)
        }
    };

    // Without subtitles, as the raw body or as a form, the video is refused.
    let bare = upload("video/mp4".into(), video.clone()).await;
    assert_eq!(bare.status, StatusCode::UNPROCESSABLE_ENTITY, "{bare:?}");
    assert_eq!(bare.body["field"], "body");
    let (content_type, body) = form(&[("video", "plain.mp4", &video)]);
    let bare = upload(content_type, body).await;
    assert_eq!(bare.body["field"], "video", "{bare:?}");
    assert!(bare.body["message"].as_str().unwrap().contains("SRT"));

    // A broken cue (line 6) or a cue after the end of the video: 422 at
    // `subtitles`, with the line, and nothing stored.
    let broken = VIDEO_SRT.replace("00:00:02,000 -->", "00:00:02,000 ->");
    let late = VIDEO_SRT.replace("00:00:03,200", "00:00:09,000");
    for (srt, says) in [
        (broken.as_str(), "cue 2 (line 6)"),
        (late.as_str(), "after the video ends"),
    ] {
        let (content_type, body) = form(&[
            ("video", "plain.mp4", &video),
            ("subtitles", "lu.srt", srt.as_bytes()),
        ]);
        let refused = upload(content_type, body).await;
        assert_eq!(refused.status, StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(refused.body["field"], "subtitles", "{refused:?}");
        let message = refused.body["message"].as_str().unwrap();
        assert!(message.contains(says), "{message}");
    }
    assert!(stored_files(&api.data).is_empty(), "nothing was stored");

    let (content_type, body) = form(&[
        ("video", "plain.mp4", &video),
        ("subtitles", "lu.srt", VIDEO_SRT.as_bytes()),
    ]);
    let stored = upload(content_type, body).await;
    assert_eq!(stored.status, StatusCode::CREATED, "{stored:?}");
    let (video_sha, srt_sha) = (sha256_hex(&video), sha256_hex(VIDEO_SRT.as_bytes()));
    assert_eq!(stored.body["sha256"], video_sha.as_str());
    assert_eq!(stored.body["subtitles"], srt_sha.as_str());
    let mut both = vec![video_sha.clone(), srt_sha.clone()];
    both.sort();
    assert_eq!(stored_files(&api.data), both);

    let now = api.clock.now();
    let bulletin = serde_json::json!({
        "title": "Lũ quét",
        "category": "daily_life",
        "class": "priority",
        "targets": ["24611"],
        "not_before": now.to_rfc3339(),
        "expires": (now + chrono::TimeDelta::days(1)).to_rfc3339(),
        "variants": [{"language": "vi", "visual": {"kind": "video", "secs": 600,
            "text": "Bản tin khẩn", "upload": video_sha, "subtitles": srt_sha}}],
    });
    let made = api
        .call(Method::POST, "/api/v1/bulletins", &chair, Some(bulletin))
        .await;
    assert_eq!(made.status, StatusCode::CREATED, "{made:?}");
    let id = made.body["bulletin"]["id"].as_str().unwrap().to_owned();
    let submitted = api
        .call(
            Method::POST,
            &format!("/api/v1/bulletins/{id}/submit"),
            &chair,
            None,
        )
        .await;
    assert_eq!(submitted.status, StatusCode::OK, "{submitted:?}");

    let provisioning = &api.hub.provisioning;
    let credentials = provisioning.devices.iter().find(|d| d.id == BOARD).unwrap();
    let config = firmware_sim::link::DeviceConfig::from_credentials(
        credentials,
        &provisioning.hub_public_key,
    )
    .unwrap();
    let board = firmware_sim::DeviceHandle::spawn(
        config,
        &provisioning.broker.parse().unwrap(),
        api.clock,
        &crate::support::link::fast_link(),
    );
    let mut since = None;
    eventually("the board shows the video with its subtitles", WAIT, || {
        let showing = board.showing(api.clock.now());
        since = showing
            .filter(|s| s.media.as_deref() == Some(video_sha.as_str()) && s.video.is_some())
            .and_then(|s| s.since);
        async move { since.is_some() }
    })
    .await;
    let since = since.unwrap();
    let cue_of = |ms: i64| {
        let at = since + chrono::TimeDelta::milliseconds(ms);
        board.showing(at).and_then(|s| s.subtitle)
    };
    assert_eq!(cue_of(700).as_deref(), Some("Cảnh báo lũ quét"));
    assert_eq!(cue_of(1700), None, "between the cues");
    let at = since + chrono::TimeDelta::milliseconds(2500);
    let showing = board.showing(at).expect("the video still shows");
    assert_eq!(
        showing.subtitle.as_deref(),
        Some("Sơ tán ngay khỏi bờ suối")
    );
    let file = board
        .media_file(&video_sha)
        .expect("the board holds the video");
    let position = showing.video.expect("a video").position;
    let frame = firmware_sim::media::video::frame_at(&file, position).expect("decodes");
    let face = firmware_sim::board::render(
        Some(&showing),
        Some(&frame),
        at,
        firmware_sim::board::Resolution::default(),
    );
    let face_path = dir.path().join("board.png");
    face.save(&face_path).unwrap();
    let read = ocr(&face_path);
    assert!(
        read.contains("Sơ tán ngay"),
        "the cue is on the board: {read:?}"
    );
    board.stop().await;
    api.hub.shutdown().await.unwrap();
}

/// Makes `province` serve media over HTTPS with a certificate for
/// 127.0.0.1 made in its directory (paths relative to the configuration
/// file), devices reaching it at `public_media_url` if given. Returns the
/// CA's PEM.
fn serve_media_over_https(province: &Province, public_media_url: Option<&str>) -> String {
    let (ca, _, _) = tls_certificates(province.dir.path());
    let text = std::fs::read_to_string(&province.config).unwrap();
    let public = public_media_url.map_or(String::new(), |url| {
        format!("\npublic_media_url = \"{url}\"")
    });
    let listen = "media_listen = \"127.0.0.1:0\"";
    assert!(text.contains(listen), "the fixture's [link] section moved");
    let with_tls = text.replacen(
        listen,
        &format!(
            "{listen}\nmedia_tls = {{ cert = \"server.pem\", key = \"key.pem\", ca = \"ca.pem\" }}{public}"
        ),
        1,
    );
    std::fs::write(&province.config, with_tls).unwrap();
    std::fs::read_to_string(ca).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_loudspeaker_downloads_its_bulletin_over_https_resuming_after_a_cut() {
    let province = Province::new(&bulletin("tin-ghi-am", "{ file = \"tone.wav\" }"));
    write_tone(&province.path("tone.wav"), 20);
    // Devices reach the media server through a relay that drops the first
    // connection part-way through the file, as a 4G link would.
    let relay = Relay::start(30_000).await;
    let ca = serve_media_over_https(&province, Some(&format!("https://{}", relay.addr)));
    let data = tempfile::tempdir().unwrap();
    let handle = spawn_hub_with(
        &province.config,
        data.path(),
        BrokerChoice::Embedded,
        clock(),
    )
    .await;
    relay.forward_to(handle.media_addr);
    assert_eq!(handle.provisioning.media_ca.as_deref(), Some(ca.as_str()));
    let hub = TestHub {
        handle,
        clock: clock(),
        _dir: data,
    };
    let [stored] = stored_files(hub._dir.path()).try_into().unwrap();
    let size = std::fs::metadata(hub._dir.path().join("media").join(&stored))
        .unwrap()
        .len();
    assert!(size > 40_000, "the file outlasts the cut: {size} bytes");
    // Trusting the provisioned CA.
    let speaker = hub.device(SPEAKER);

    let finished = delivery_once(&hub, SPEAKER, "tin-ghi-am", DeliveryState::Finished).await;
    assert_eq!(finished.reason, None);
    assert_eq!(speaker.cached_media(), std::slice::from_ref(&stored));
    let file = speaker.media_file(&stored).unwrap();
    assert_eq!(sha256_hex(&file), stored);
    let media = speaker.counters().media;
    assert_eq!((media.downloads, media.resumes), (1, 1), "{media:?}");
    assert_eq!(media.bytes, size, "nothing was fetched twice: {media:?}");
    assert_eq!((media.untrusted, media.mismatches), (0, 0), "{media:?}");
    // Both connections, the cut one and the resumption, were TLS.
    assert_eq!(relay.first_bytes(), [0x16, 0x16], "TLS handshakes only");
    speaker.stop().await;
    hub.handle.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn loudspeakers_that_cannot_verify_the_media_server_refuse_it_and_fail_their_entry() {
    let province = Province::new(&bulletin("tin-noi", &format!("{{ speech = \"{TEXT}\" }}")));
    serve_media_over_https(&province, None);
    let hub = start_hub(&province).await;
    // One trusts a CA of its own, not the hub's; the other was provisioned
    // with no media CA at all.
    let elsewhere = tempfile::tempdir().unwrap();
    let (other_ca, _, _) = tls_certificates(elsewhere.path());
    let other_ca = std::fs::read_to_string(other_ca).unwrap();
    let spawn = |device: &str, trust: Option<firmware_sim::media::MediaTrust>| {
        let mut config = firmware_sim::link::DeviceConfig::from_credentials(
            &hub.credentials(device),
            &hub.handle.provisioning.hub_public_key,
        )
        .unwrap();
        config.media_trust = trust;
        let broker = hub.handle.provisioning.broker.parse().unwrap();
        firmware_sim::DeviceHandle::spawn(
            config,
            &broker,
            hub.clock,
            &crate::support::link::fast_link(),
        )
    };
    let misled = spawn(
        SPEAKER,
        Some(firmware_sim::media::MediaTrust::from_pem(&other_ca).unwrap()),
    );
    let unprovisioned = spawn("24611-LS-02", None);

    for (speaker, device) in [(&misled, SPEAKER), (&unprovisioned, "24611-LS-02")] {
        let failed = delivery_once(&hub, device, "tin-noi", DeliveryState::Failed).await;
        assert_eq!(failed.reason, Some(FailureReason::MediaMissing), "{device}");
        let media = speaker.counters().media;
        assert_eq!(
            (media.downloads, media.bytes),
            (0, 0),
            "{device}: {media:?}"
        );
        assert!(media.untrusted >= 1, "{device}: {media:?}");
        assert!(media.abandoned >= 1, "{device}: {media:?}");
        assert!(speaker.cached_media().is_empty());
        for line in speaker.timeline() {
            assert_eq!(
                (line.outcome, line.reason),
                (Outcome::Failed, Some(FailureReason::MediaMissing)),
                "{device}: {line:?}"
            );
        }
    }
    let stats = hub.handle.stats().await.unwrap();
    assert_eq!(stats.failed_by_reason.len(), 1, "{stats:?}");
    assert!(
        stats.failed_by_reason.contains_key("media_missing"),
        "{stats:?}"
    );
    misled.stop().await;
    unprovisioned.stop().await;
    hub.handle.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_media_key_that_is_not_the_certificates_stops_the_start_naming_both_files() {
    let province = Province::new("");
    serve_media_over_https(&province, None);
    let elsewhere = tempfile::tempdir().unwrap();
    let (_, _, other_key) = tls_certificates(elsewhere.path());
    std::fs::copy(other_key, province.path("key.pem")).unwrap();
    let config = hub::config::load(&province.config).unwrap();
    let data = tempfile::tempdir().unwrap();
    let started = hub::link::start(hub::link::ServeOptions {
        data_dir: data.path().to_path_buf(),
        config,
        broker: BrokerChoice::Embedded,
        clock: clock(),
        tick: Duration::from_millis(50),
        delivery_events: None,
    })
    .await;
    let err = format!("{:#}", anyhow::Error::from(started.err().expect("refused")));
    assert!(err.contains("link.media_tls"), "{err}");
    assert!(
        err.contains(&province.path("key.pem").display().to_string())
            && err.contains(&province.path("server.pem").display().to_string()),
        "{err}"
    );
    assert!(err.contains("does not belong"), "{err}");
}
