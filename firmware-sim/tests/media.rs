//! Devices fetch their plan's media from a stand-in for the hub's media
//! server (`support::media_server`), over loopback sockets, and fail what
//! they could not fetch.

use std::sync::Arc;
use std::time::Duration;

use chrono::{NaiveDate, TimeDelta};
use firmware_sim::media::audio::check_ogg_opus;
use firmware_sim::media::{FAULT_MEDIA_MISSING, FAULT_STORAGE_FULL};
use firmware_sim::{
    DeviceConfig, DeviceHandle, Fault, Fleet, FleetOptions, LinkOptions, MediaOptions,
};
use hub_proto::media::etag;
use hub_proto::{
    AiringRef, Class, Clock, Command, DeviceCredentials, Directive, FailureReason, MediaRef,
    Message, Outcome, Part, PlanEntry, Provisioning, PROTOCOL_VERSION,
};
use rand::RngCore;
use tokio::sync::Semaphore;
use tokio::time::Instant;

use crate::support::media_server::{sha256_hex, MediaServer, Seen};
use crate::support::mqtt::{command, credentials, origin, start_broker, users, Hub, PATIENCE};

/// Quick retries, so refetches take milliseconds. The files of these tests
/// are random bytes: the transport is under test, not what a loudspeaker
/// makes of the audio (see `audio_options`).
fn media_options() -> MediaOptions {
    MediaOptions {
        timeout: Duration::from_secs(5),
        backoff_min: Duration::from_millis(20),
        backoff_max: Duration::from_millis(100),
        check_audio: false,
        ..MediaOptions::default()
    }
}

/// As a loudspeaker in the field: only playable Ogg Opus is kept.
fn audio_options() -> MediaOptions {
    MediaOptions {
        check_audio: true,
        ..media_options()
    }
}

/// Ogg Opus made by `tool` (`opusenc` or `ffmpeg`) from a 440 Hz tone of
/// `secs` seconds with `channels` channels.
fn ogg_opus(tool: &str, secs: f64, channels: u8) -> Vec<u8> {
    let dir = tempfile::tempdir().unwrap();
    let wav = dir.path().join("tone.wav");
    let out = dir.path().join("tone.opus");
    let run = |command: &mut std::process::Command| {
        let status = command.status().unwrap();
        assert!(status.success(), "{command:?}: {status}");
    };
    let tone = format!("sine=frequency=440:duration={secs}:sample_rate=48000");
    let ffmpeg = || {
        let mut ffmpeg = std::process::Command::new("ffmpeg");
        ffmpeg.args([
            "-nostdin",
            "-loglevel",
            "error",
            "-y",
            "-f",
            "lavfi",
            "-i",
            &tone,
        ]);
        ffmpeg.args(["-ac", &channels.to_string()]);
        ffmpeg
    };
    match tool {
        "opusenc" => {
            run(ffmpeg().arg(&wav));
            run(std::process::Command::new("opusenc")
                .args(["--quiet", "--bitrate", "24"])
                .arg(&wav)
                .arg(&out));
        }
        _ => run(ffmpeg().args(["-c:a", "libopus", "-b:a", "24k"]).arg(&out)),
    }
    std::fs::read(out).unwrap()
}

fn random_file(size: usize) -> Vec<u8> {
    let mut bytes = vec![0; size];
    rand::thread_rng().fill_bytes(&mut bytes);
    bytes
}

fn day() -> NaiveDate {
    NaiveDate::from_ymd_opt(2026, 11, 23).unwrap()
}

/// An audio entry of `file` starting `in_secs` (device time) after the
/// clock's now, lasting a minute.
fn entry_in(clock: Clock, bulletin: &str, file: &MediaRef, in_secs: i64) -> PlanEntry {
    let start = clock.now() + TimeDelta::seconds(in_secs);
    PlanEntry {
        bulletin: bulletin.into(),
        occurrence: 0,
        language: "vi".into(),
        class: Class::Normal,
        part: Part::Audio,
        start,
        end: start + TimeDelta::minutes(1),
        preempted: false,
        media: Some(file.clone()),
        subtitles: None,
        text: None,
    }
}

fn played(bulletin: &str, outcome: Outcome) -> Message {
    failed_as(bulletin, outcome, None)
}

/// A proof of play; the failures of these tests are for want of the file,
/// unless `reason` says otherwise.
fn failed_as(bulletin: &str, outcome: Outcome, reason: Option<FailureReason>) -> Message {
    Message::Played {
        airing: AiringRef {
            bulletin: bulletin.into(),
            occurrence: 0,
            language: "vi".into(),
        },
        outcome,
        reason: reason.or((outcome == Outcome::Failed).then_some(FailureReason::MediaMissing)),
    }
}

/// Polls `check` until it holds; fails the test after [`PATIENCE`].
async fn eventually(what: &str, mut check: impl FnMut() -> bool) {
    let deadline = Instant::now() + PATIENCE;
    while !check() {
        assert!(Instant::now() < deadline, "{what}: not within {PATIENCE:?}");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// One device that has said hello, its hub and broker, and a media server.
struct Rig {
    hub: Hub,
    server: MediaServer,
    device: DeviceCredentials,
    handle: DeviceHandle,
    clock: Clock,
}

/// The media server knows the device by `server_password`, by default its
/// broker password.
async fn rig(speed: f64, server_password: Option<&str>) -> Rig {
    rig_with(speed, server_password, media_options()).await
}

async fn rig_with(speed: f64, server_password: Option<&str>, media: MediaOptions) -> Rig {
    let device = credentials("24611-LS-01");
    let broker = start_broker(&users(std::slice::from_ref(&device)));
    let mut hub = Hub::connect(&broker).await;
    let password = server_password.map_or(device.mqtt_password.clone(), str::to_string);
    let server = MediaServer::start(&[(device.id.clone(), password)]).await;
    let clock = Clock::simulated(origin(), speed);
    let config = DeviceConfig::from_credentials(&device, &hub.public_key()).unwrap();
    let options = LinkOptions {
        media,
        ..LinkOptions::default()
    };
    let handle = DeviceHandle::spawn(config, &broker, clock, &options);
    let hello = hub.next_report(&device).await;
    assert!(matches!(hello.message, Message::Hello { .. }));
    Rig {
        hub,
        server,
        device,
        handle,
        clock,
    }
}

impl Rig {
    /// Sends a plan of `entries` under `seq` and waits for its ack.
    async fn schedule(&mut self, seq: u64, entries: Vec<PlanEntry>) {
        let schedule = Directive::Schedule {
            date: day(),
            entries,
        };
        let expires = self.clock.now() + TimeDelta::hours(1);
        let signed = self
            .hub
            .signer
            .sign(&command(seq, &self.device.id, expires, schedule));
        self.hub.publish(signed).await;
        assert_eq!(
            self.hub.next_report(&self.device).await.message,
            Message::Ack { seq }
        );
    }

    async fn wait_cached(&self, file: &MediaRef) {
        eventually("the file is cached", || {
            self.handle.cached_media() == [file.sha256.clone()]
        })
        .await;
        let bytes = self.handle.media_file(&file.sha256).unwrap();
        assert_eq!(sha256_hex(&bytes), file.sha256, "the bytes kept hash right");
    }

    fn full_answer(&self) -> Seen {
        Seen {
            user: Some(self.device.id.clone()),
            range: None,
            if_range: None,
            status: 200,
        }
    }
}

#[tokio::test]
async fn media_is_fetched_when_the_schedule_arrives_and_plays_when_due() {
    // 60×: the entry is due two seconds (real) after the schedule.
    let mut rig = rig(60.0, None).await;
    let file = rig.server.add(random_file(50_000));
    let entry = entry_in(rig.clock, "a", &file, 120);
    rig.schedule(1, vec![entry.clone()]).await;
    rig.wait_cached(&file).await;
    assert!(rig.clock.now() < entry.start, "fetched before it was due");
    assert_eq!(rig.server.requests(), [rig.full_answer()]);
    let counters = rig.handle.counters().media;
    assert_eq!((counters.downloads, counters.bytes), (1, 50_000));
    assert_eq!((counters.resumes, counters.mismatches), (0, 0));

    let started = rig.hub.next_report(&rig.device).await;
    assert_eq!(started.message, played("a", Outcome::Started));
    assert!(started.at >= entry.start);
    assert_eq!(
        rig.hub.next_report(&rig.device).await.message,
        played("a", Outcome::Finished)
    );

    // The next session's hello says what the device holds.
    rig.handle.drop_link();
    assert_eq!(
        rig.hub.next_report(&rig.device).await.message,
        Message::Offline
    );
    let Message::Hello { cached_media, .. } = rig.hub.next_report(&rig.device).await.message else {
        panic!("expected a hello");
    };
    assert_eq!(cached_media, [file.sha256]);
    rig.handle.stop().await;
}

#[tokio::test]
async fn a_cut_download_resumes_from_where_it_stopped() {
    let mut rig = rig(1.0, None).await;
    let file = rig.server.add(random_file(100_000));
    rig.server.cut_next_after(40_000);
    rig.schedule(1, vec![entry_in(rig.clock, "a", &file, 3600)])
        .await;
    rig.wait_cached(&file).await;
    let resumed = Seen {
        range: Some("bytes=40000-".into()),
        if_range: Some(etag(&file.sha256)),
        status: 206,
        ..rig.full_answer()
    };
    assert_eq!(rig.server.requests(), [rig.full_answer(), resumed]);
    let counters = rig.handle.counters().media;
    assert_eq!((counters.downloads, counters.resumes), (1, 1));
    assert_eq!(counters.bytes, 100_000, "nothing was fetched twice");
    rig.handle.stop().await;
}

#[tokio::test]
async fn a_full_answer_to_a_ranged_request_starts_the_file_again() {
    let mut rig = rig(1.0, None).await;
    let file = rig.server.add(random_file(100_000));
    rig.server.cut_next_after(40_000);
    rig.server.ignore_ranges();
    rig.schedule(1, vec![entry_in(rig.clock, "a", &file, 3600)])
        .await;
    rig.wait_cached(&file).await;
    let requests = rig.server.requests();
    assert_eq!(requests.len(), 2, "{requests:?}");
    assert_eq!(requests[1].range.as_deref(), Some("bytes=40000-"));
    assert_eq!(requests[1].status, 200);
    let counters = rig.handle.counters().media;
    assert_eq!((counters.downloads, counters.mismatches), (1, 0));
    assert_eq!(counters.bytes, 140_000);
    rig.handle.stop().await;
}

#[tokio::test]
async fn corrupt_bytes_are_refused_then_fetched_again() {
    let mut rig = rig(1.0, None).await;
    let file = rig.server.add(random_file(30_000));
    rig.server.corrupt_next();
    rig.schedule(1, vec![entry_in(rig.clock, "a", &file, 3600)])
        .await;
    rig.wait_cached(&file).await;
    // Both times from the start: nothing of a bad file is kept.
    assert_eq!(
        rig.server.requests(),
        [rig.full_answer(), rig.full_answer()]
    );
    let counters = rig.handle.counters().media;
    assert_eq!((counters.downloads, counters.mismatches), (1, 1));
    rig.handle.stop().await;
}

#[tokio::test]
async fn a_corrupt_media_fault_makes_the_device_fetch_again() {
    let mut rig = rig(1.0, None).await;
    let file = rig.server.add(random_file(30_000));
    rig.handle
        .inject("corrupt-media:1".parse::<Fault>().unwrap())
        .await;
    rig.schedule(1, vec![entry_in(rig.clock, "a", &file, 3600)])
        .await;
    rig.wait_cached(&file).await;
    assert_eq!(rig.server.requests().len(), 2);
    let counters = rig.handle.counters().media;
    assert_eq!((counters.downloads, counters.mismatches), (1, 1));
    rig.handle.stop().await;
}

#[tokio::test]
async fn a_device_the_server_refuses_holds_no_file_and_fails_the_entry_when_due() {
    // 10×: the entry is due three seconds (real) after the schedule.
    let mut rig = rig(10.0, Some("not-the-broker-password")).await;
    let file = rig.server.add(random_file(10_000));
    rig.schedule(1, vec![entry_in(rig.clock, "a", &file, 30)])
        .await;
    eventually("the status reports the missing media", || {
        rig.handle
            .status()
            .faults
            .contains(&FAULT_MEDIA_MISSING.to_string())
    })
    .await;
    let refused = Seen {
        status: 401,
        ..rig.full_answer()
    };
    assert_eq!(rig.server.requests(), [refused], "refused: not asked again");

    assert_eq!(
        rig.hub.next_report(&rig.device).await.message,
        played("a", Outcome::Failed)
    );
    assert!(rig.handle.cached_media().is_empty());
    let counters = rig.handle.counters().media;
    assert_eq!((counters.downloads, counters.abandoned), (0, 1));
    assert!(
        rig.handle.status().faults.is_empty(),
        "no entry left needs the file"
    );
    rig.handle.stop().await;
}

#[tokio::test]
async fn full_storage_fails_the_entry_and_shows_in_the_status() {
    let mut rig = rig(10.0, None).await;
    let file = rig.server.add(random_file(10_000));
    rig.handle
        .inject(Fault::FullStorage {
            lasting: Duration::from_secs(60),
        })
        .await;
    assert!(rig
        .handle
        .status()
        .faults
        .contains(&FAULT_STORAGE_FULL.to_string()));
    rig.schedule(1, vec![entry_in(rig.clock, "a", &file, 30)])
        .await;
    assert_eq!(
        rig.hub.next_report(&rig.device).await.message,
        played("a", Outcome::Failed)
    );
    assert!(rig.handle.cached_media().is_empty());
    assert!(
        rig.server.requests().is_empty(),
        "no download without room for it"
    );
    let counters = rig.handle.counters().media;
    assert_eq!(counters.downloads, 0);
    assert!(counters.failures >= 1, "{counters:?}");
    rig.handle.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_fleet_downloads_no_more_files_at_once_than_its_slots() {
    const SLOTS: usize = 3;
    let devices: Vec<DeviceCredentials> = (0..12)
        .map(|i| credentials(&format!("24611-LS-{i:03}")))
        .collect();
    let broker = start_broker(&users(&devices));
    let hub = Hub::connect(&broker).await;
    let server = MediaServer::start(&users(&devices)).await;
    // Answers held back long enough for downloads to overlap.
    server.hold_answers(Duration::from_millis(300));
    let file = server.add(random_file(20_000));
    let provisioning = Provisioning::new(broker.to_string(), hub.public_key(), devices.clone());
    let clock = Clock::simulated(origin(), 1.0);
    let options = FleetOptions {
        link: LinkOptions {
            media: MediaOptions {
                downloads: Arc::new(Semaphore::new(SLOTS)),
                ..media_options()
            },
            ..LinkOptions::default()
        },
        ..FleetOptions::default()
    };
    let fleet = Fleet::start(&provisioning, None, clock, &options).unwrap();
    fleet.wait_connected(PATIENCE).await.unwrap();

    let schedule = Command {
        v: PROTOCOL_VERSION,
        seq: 1,
        issued: clock.now(),
        expires: clock.now() + TimeDelta::hours(1),
        to: devices.iter().map(|d| d.id.clone()).collect(),
        directive: Directive::Schedule {
            date: day(),
            entries: vec![entry_in(clock, "a", &file, 3600)],
        },
        report_spread_ms: None,
    };
    hub.publish(hub.signer.sign(&schedule)).await;
    eventually("every device holds the file", || {
        fleet
            .devices()
            .iter()
            .all(|device| device.cached_media() == [file.sha256.clone()])
    })
    .await;
    assert_eq!(server.most_at_once(), SLOTS);
    assert_eq!(server.requests().len(), devices.len());
    let summary = fleet.summary();
    assert_eq!(summary.media_downloads, 12);
    assert_eq!(summary.media_bytes, 12 * 20_000);
    fleet.stop().await;
}

#[test]
fn ogg_opus_from_opusenc_and_ffmpeg_checks_with_its_real_duration() {
    for (tool, secs, channels) in [("opusenc", 2.5, 1), ("ffmpeg", 1.5, 2), ("ffmpeg", 3.0, 1)] {
        let facts = check_ogg_opus(&ogg_opus(tool, secs, channels)).unwrap();
        assert_eq!(facts.channels, channels, "{tool}");
        let error = (facts.duration.as_secs_f64() - secs).abs();
        // Pre-skip and the last granule trim the encoder's padding exactly;
        // allow one 20 ms frame for tools that round.
        assert!(error <= 0.021, "{tool}: {:?} for {secs} s", facts.duration);
    }
}

#[test]
fn what_a_loudspeaker_cannot_play_is_undecodable() {
    let good = ogg_opus("ffmpeg", 1.0, 1);
    // A byte of audio changed: the page checksum fails.
    let mut flipped = good.clone();
    let middle = flipped.len() / 2;
    flipped[middle] ^= 0xff;
    // Cut before its last page.
    let truncated = good[..good.len() * 2 / 3].to_vec();
    // Six channels: mapping family 1, not mono or stereo.
    let surround = ogg_opus("ffmpeg", 1.0, 6);
    for (what, bytes) in [
        ("flipped", flipped),
        ("truncated", truncated),
        ("surround", surround),
        ("random", random_file(4096)),
    ] {
        assert!(check_ogg_opus(&bytes).is_err(), "{what} passed the check");
    }
}

#[tokio::test]
async fn a_loudspeaker_plays_checked_audio_and_finishes_when_it_ends() {
    // 10×: the entry is due two seconds (real) after the schedule; its
    // 3 s of audio end 0.3 s (real) later, long before its minute is over.
    let mut rig = rig_with(10.0, None, audio_options()).await;
    let audio = ogg_opus("opusenc", 3.0, 1);
    let size = audio.len() as u64;
    let file = rig.server.add(audio);
    let entry = entry_in(rig.clock, "a", &file, 20);
    rig.schedule(1, vec![entry.clone()]).await;
    rig.wait_cached(&file).await;
    let counters = rig.handle.counters().media;
    assert_eq!((counters.downloads, counters.bytes), (1, size));
    assert_eq!((counters.mismatches, counters.undecodable), (0, 0));

    let started = rig.hub.next_report(&rig.device).await;
    assert_eq!(started.message, played("a", Outcome::Started));
    let finished = rig.hub.next_report(&rig.device).await;
    assert_eq!(finished.message, played("a", Outcome::Finished));
    let lasted = (finished.at - started.at).to_std().unwrap();
    assert!(
        lasted >= Duration::from_secs(3) && lasted < Duration::from_secs(10),
        "played {lasted:?} of 3 s of audio in a 60 s slot"
    );
    let line = rig.handle.timeline().remove(0);
    assert_eq!(line.outcome, Outcome::Finished);
    assert!(line.end < entry.end, "{line:?}");
    rig.handle.stop().await;
}

#[tokio::test]
async fn a_file_with_the_right_hash_that_does_not_decode_fails_the_entry_as_undecodable() {
    let mut rig = rig_with(10.0, None, audio_options()).await;
    let mut audio = ogg_opus("ffmpeg", 2.0, 1);
    let middle = audio.len() / 2;
    audio[middle] ^= 0xff;
    // The server names the corrupt bytes by their own hash: size and
    // SHA-256 check, the audio does not.
    let file = rig.server.add(audio);
    rig.schedule(1, vec![entry_in(rig.clock, "a", &file, 30)])
        .await;
    eventually("the status reports the missing media", || {
        rig.handle
            .status()
            .faults
            .contains(&FAULT_MEDIA_MISSING.to_string())
    })
    .await;
    assert_eq!(
        rig.hub.next_report(&rig.device).await.message,
        failed_as("a", Outcome::Failed, Some(FailureReason::MediaUndecodable))
    );
    assert!(rig.handle.cached_media().is_empty(), "discarded");
    assert_eq!(
        rig.server.requests(),
        [rig.full_answer()],
        "the same bytes are not fetched again"
    );
    let counters = rig.handle.counters().media;
    assert_eq!(
        (
            counters.downloads,
            counters.mismatches,
            counters.undecodable
        ),
        (0, 0, 1)
    );
    let line = rig.handle.timeline().remove(0);
    assert_eq!(line.reason, Some(FailureReason::MediaUndecodable));
    rig.handle.stop().await;
}

/// An emergency entry of `file` for `bulletin`, under way from now for a minute.
fn emergency_now(clock: Clock, bulletin: &str, file: &MediaRef) -> PlanEntry {
    PlanEntry {
        class: Class::Emergency,
        ..entry_in(clock, bulletin, file, 0)
    }
}

#[tokio::test]
async fn an_emergency_preempting_plays_its_file_after_the_first_verified_part() {
    let mut rig = rig_with(1.0, None, audio_options()).await;
    // What plays before: an entry without a file.
    let mut normal = entry_in(rig.clock, "a", &rig.server.add(random_file(10)), 0);
    normal.media = None;
    rig.schedule(1, vec![normal.clone()]).await;
    assert_eq!(
        rig.hub.next_report(&rig.device).await.message,
        played("a", Outcome::Started)
    );

    let audio = ogg_opus("opusenc", 30.0, 1);
    let file = rig.server.add_in_parts(audio);
    assert!(file.chunks.len() >= 2, "{} parts", file.chunks.len());
    // The rest of the file comes long after its first part.
    let first = file.chunks[0].size as usize;
    rig.server.hold_next_from(first, Duration::from_secs(3));
    let lu = emergency_now(rig.clock, "lu", &file);
    let airing = |e: &PlanEntry| e.airing();
    let expires = rig.clock.now() + TimeDelta::hours(1);
    let preempt = Directive::Preempt {
        stopped: airing(&normal),
        by: airing(&lu),
    };
    let signed = rig
        .hub
        .signer
        .sign(&command(2, &rig.device.id, expires, preempt));
    rig.hub.publish(signed).await;
    assert_eq!(
        rig.hub.next_report(&rig.device).await.message,
        Message::Ack { seq: 2 }
    );
    assert_eq!(
        rig.hub.next_report(&rig.device).await.message,
        played("a", Outcome::Preempted),
        "cut at once"
    );
    let mut cut = normal.clone();
    cut.end = lu.start;
    cut.preempted = true;
    rig.schedule(3, vec![cut, lu.clone()]).await;
    assert_eq!(
        rig.hub.next_report(&rig.device).await.message,
        played("lu", Outcome::Started)
    );
    assert!(
        rig.handle.cached_media().is_empty(),
        "started before the file was whole"
    );
    rig.wait_cached(&file).await;
    let counters = rig.handle.counters().media;
    assert_eq!(
        (counters.downloads, counters.streamed, counters.mismatches),
        (1, 1, 0)
    );
    let first_part = Seen {
        range: Some(format!("bytes=0-{}", first - 1)),
        if_range: Some(etag(&file.sha256)),
        status: 206,
        ..rig.full_answer()
    };
    let rest = Seen {
        range: Some(format!("bytes={first}-")),
        ..first_part.clone()
    };
    assert_eq!(
        rig.server.requests(),
        [first_part, rest],
        "the first part alone, then the rest"
    );
    assert_eq!(rig.handle.status().playing, Some(airing(&lu)));
    rig.handle.stop().await;
}

#[tokio::test]
async fn an_emergency_whose_parts_do_not_verify_plays_nothing_and_fails() {
    let options = MediaOptions {
        max_attempts: 2,
        ..audio_options()
    };
    let mut rig = rig_with(1.0, None, options).await;
    let file = rig.server.add_in_parts(ogg_opus("opusenc", 20.0, 1));
    // Every attempt's first part arrives corrupted.
    rig.handle
        .inject("corrupt-media:2".parse::<Fault>().unwrap())
        .await;
    rig.schedule(1, vec![emergency_now(rig.clock, "lu", &file)])
        .await;
    assert_eq!(
        rig.hub.next_report(&rig.device).await.message,
        played("lu", Outcome::Failed),
        "failed for want of its file, never started"
    );
    assert!(rig.handle.cached_media().is_empty());
    assert!(rig
        .handle
        .timeline()
        .iter()
        .all(|line| line.outcome == Outcome::Failed));
    let counters = rig.handle.counters().media;
    assert_eq!(
        (counters.mismatches, counters.streamed, counters.abandoned),
        (2, 0, 1)
    );
    // Nothing of the bad part was kept: both requests asked for the first
    // part from the start.
    let first_part = Seen {
        range: Some(format!("bytes=0-{}", file.chunks[0].size - 1)),
        if_range: Some(etag(&file.sha256)),
        status: 206,
        ..rig.full_answer()
    };
    assert_eq!(rig.server.requests(), [first_part.clone(), first_part]);
    rig.handle.stop().await;
}

#[tokio::test]
async fn a_bad_part_is_fetched_again_from_the_end_of_the_last_good_one() {
    let mut rig = rig(1.0, None).await;
    let file = rig.server.add_in_parts(random_file(50_000));
    assert_eq!(file.chunks.len(), 4);
    // One wrong byte in the second part.
    rig.server.corrupt_byte(25_000);
    rig.schedule(1, vec![entry_in(rig.clock, "a", &file, 3600)])
        .await;
    rig.wait_cached(&file).await;
    let good = file.chunks[0].size;
    let first_part = Seen {
        range: Some(format!("bytes=0-{}", good - 1)),
        if_range: Some(etag(&file.sha256)),
        status: 206,
        ..rig.full_answer()
    };
    let rest = Seen {
        range: Some(format!("bytes={good}-")),
        ..first_part.clone()
    };
    assert_eq!(
        rig.server.requests(),
        [first_part, rest.clone(), rest],
        "the rest asked for again from the end of the first part"
    );
    let counters = rig.handle.counters().media;
    assert_eq!((counters.downloads, counters.mismatches), (1, 1));
    rig.handle.stop().await;
}

/// `file` as the hub sends it in an emergency: its first part inline.
fn with_head(file: &MediaRef, head: &[u8]) -> MediaRef {
    MediaRef {
        head: Some(hub_proto::media::encode_head(head)),
        ..file.clone()
    }
}

#[tokio::test]
async fn an_emergency_with_its_first_part_inline_starts_with_no_download_then_finishes() {
    // 10×: the 10 s file ends a second (real) after it starts.
    let mut rig = rig_with(10.0, None, audio_options()).await;
    let audio = ogg_opus("opusenc", 10.0, 1);
    let file = rig.server.add_in_parts(audio.clone());
    assert!(file.chunks.len() >= 2, "{} parts", file.chunks.len());
    let first = file.chunks[0].size as usize;
    assert!(first as u64 <= hub_proto::media::MAX_HEAD_BYTES, "{first}");
    // No file byte leaves the server until the airing has started.
    rig.server.close_gate();
    let lu = emergency_now(rig.clock, "lu", &with_head(&file, &audio[..first]));
    rig.schedule(1, vec![lu.clone()]).await;
    assert_eq!(
        rig.hub.next_report(&rig.device).await.message,
        played("lu", Outcome::Started),
        "started from the command alone"
    );
    assert_eq!(rig.server.bytes_sent(), 0, "nothing downloaded yet");
    assert!(rig.handle.cached_media().is_empty());
    let counters = rig.handle.counters().media;
    assert_eq!((counters.heads, counters.streamed), (1, 1));

    rig.server.open_gate();
    rig.wait_cached(&file).await;
    let rest = Seen {
        range: Some(format!("bytes={first}-")),
        if_range: Some(etag(&file.sha256)),
        status: 206,
        ..rig.full_answer()
    };
    assert_eq!(
        rig.server.requests(),
        [rest],
        "the first part is never asked for"
    );
    assert_eq!(rig.server.bytes_sent(), audio.len() - first);
    let counters = rig.handle.counters().media;
    assert_eq!(
        (
            counters.downloads,
            counters.streamed,
            counters.resumes,
            counters.mismatches,
            counters.bytes
        ),
        (1, 1, 0, 0, (audio.len() - first) as u64)
    );
    assert_eq!(
        rig.hub.next_report(&rig.device).await.message,
        played("lu", Outcome::Finished),
        "the airing ends with its audio"
    );
    rig.handle.stop().await;
}

#[tokio::test]
async fn an_inline_first_part_that_does_not_hash_right_is_refused_and_the_file_downloaded() {
    let mut rig = rig_with(1.0, None, audio_options()).await;
    let audio = ogg_opus("opusenc", 10.0, 1);
    let file = rig.server.add_in_parts(audio.clone());
    let first = file.chunks[0].size as usize;
    let mut wrong = audio[..first].to_vec();
    // A byte of audio, past the headers: it would still decode.
    wrong[first - 10] ^= 0x01;
    rig.server.close_gate();
    let lu = emergency_now(rig.clock, "lu", &with_head(&file, &wrong));
    rig.schedule(1, vec![lu.clone()]).await;
    // The command is taken before its ack: what it started would be known.
    let counters = rig.handle.counters().media;
    assert_eq!((counters.heads, counters.heads_refused), (0, 1));
    assert!(rig.handle.timeline().is_empty(), "nothing plays from it");
    assert_eq!(rig.handle.status().playing, None);

    rig.server.open_gate();
    assert_eq!(
        rig.hub.next_report(&rig.device).await.message,
        played("lu", Outcome::Started),
        "started from the downloaded first part"
    );
    rig.wait_cached(&file).await;
    let first_part = Seen {
        range: Some(format!("bytes=0-{}", first - 1)),
        if_range: Some(etag(&file.sha256)),
        status: 206,
        ..rig.full_answer()
    };
    let rest = Seen {
        range: Some(format!("bytes={first}-")),
        ..first_part.clone()
    };
    assert_eq!(
        rig.server.requests(),
        [first_part, rest],
        "downloaded as without a head"
    );
    let counters = rig.handle.counters().media;
    assert_eq!((counters.downloads, counters.streamed), (1, 1));
    rig.handle.stop().await;
}

#[tokio::test]
async fn a_device_holding_the_file_ignores_an_inline_first_part() {
    let mut rig = rig_with(1.0, None, audio_options()).await;
    let audio = ogg_opus("opusenc", 10.0, 1);
    let file = rig.server.add_in_parts(audio.clone());
    let first = file.chunks[0].size as usize;
    rig.schedule(1, vec![entry_in(rig.clock, "a", &file, 3600)])
        .await;
    rig.wait_cached(&file).await;
    let lu = emergency_now(rig.clock, "lu", &with_head(&file, &audio[..first]));
    rig.schedule(2, vec![lu]).await;
    assert_eq!(
        rig.hub.next_report(&rig.device).await.message,
        played("lu", Outcome::Started)
    );
    let counters = rig.handle.counters().media;
    assert_eq!(
        (counters.heads, counters.heads_refused, counters.downloads),
        (0, 0, 1)
    );
    assert_eq!(rig.server.requests().len(), 2, "the first download only");
    rig.handle.stop().await;
}

#[tokio::test]
async fn an_inline_first_part_that_is_not_audio_plays_nothing() {
    let mut rig = rig_with(1.0, None, audio_options()).await;
    // The right hashes, but no Ogg Opus: the hub would never send it.
    let bytes = random_file(40_000);
    let file = rig.server.add_in_parts(bytes.clone());
    let first = file.chunks[0].size as usize;
    rig.server.close_gate();
    rig.schedule(
        1,
        vec![emergency_now(
            rig.clock,
            "lu",
            &with_head(&file, &bytes[..first]),
        )],
    )
    .await;
    let counters = rig.handle.counters().media;
    assert_eq!((counters.heads, counters.heads_refused), (0, 1));
    assert!(rig.handle.timeline().is_empty(), "nothing plays from it");
    rig.server.open_gate();
    assert_eq!(
        rig.hub.next_report(&rig.device).await.message,
        failed_as("lu", Outcome::Failed, Some(FailureReason::MediaUndecodable)),
        "the downloaded beginning does not decode either"
    );
    rig.handle.stop().await;
}
