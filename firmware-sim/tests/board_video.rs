//! Videos on a board: real MP4 files made by ffmpeg (H.264 with B-frames,
//! subtitles from an SRT as a mov_text track), checked and read as a board
//! does, their pictures decoded at a position and compared with ffmpeg's
//! own, and the board face read back by Tesseract. Needs `ffmpeg`,
//! `tesseract-ocr` and `tesseract-ocr-vie`.

use std::process::Command;
use std::sync::OnceLock;
use std::time::Duration;

use chrono::{DateTime, TimeDelta, Utc};
use firmware_sim::board::{render, Resolution};
use firmware_sim::media::picture::{check_board_file, BoardFile};
use firmware_sim::media::video::{check_video, frame_at, BoardVideo};
use firmware_sim::Player;
use hub_mp4::Cue;
use hub_proto::{Class, Directive, MediaRef, Part, PlanEntry};
use image::RgbaImage;

use crate::board_snapshot::{assert_reads, ocr};

const SUBTITLES: &str = "1\n00:00:00,500 --> 00:00:01,500\nCảnh báo lũ quét\n\n\
                         2\n00:00:02,000 --> 00:00:03,200\nSơ tán ngay khỏi bờ suối\n";

/// Files made once per test run.
struct Fixtures {
    dir: tempfile::TempDir,
}

impl Fixtures {
    fn path(&self, name: &str) -> String {
        self.dir.path().join(name).display().to_string()
    }

    fn file(&self, name: &str) -> Vec<u8> {
        std::fs::read(self.path(name)).expect("the fixture was made")
    }
}

fn ffmpeg(args: &[&str]) {
    let output = Command::new("ffmpeg")
        .args(["-v", "error", "-y"])
        .args(args)
        .output()
        .expect("ffmpeg runs (apt-get install ffmpeg)");
    assert!(
        output.status.success(),
        "ffmpeg {args:?}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
}

/// `subtitled.mp4`: 4 s of ffmpeg's test pattern at 10 frames/s, 320×240,
/// H.264 with x264's default B-frames, the SRT as a mov_text track;
/// `faststart.mp4`: the same with its movie header first; `frame23.png`:
/// ffmpeg's own decoding of the picture shown at 2.3 s (the 24th).
fn fixtures() -> &'static Fixtures {
    static FIXTURES: OnceLock<Fixtures> = OnceLock::new();
    FIXTURES.get_or_init(|| {
        let fixtures = Fixtures {
            dir: tempfile::tempdir().expect("a temporary directory"),
        };
        let srt = fixtures.path("subtitles.srt");
        std::fs::write(&srt, SUBTITLES).expect("writing the SRT");
        let video = |out: &str, extra: &[&str]| {
            let mut args = vec![
                "-f",
                "lavfi",
                "-i",
                "testsrc=size=320x240:rate=10",
                "-i",
                &srt,
                "-t",
                "4",
                "-c:v",
                "libx264",
                "-pix_fmt",
                "yuv420p",
                "-c:s",
                "mov_text",
            ];
            args.extend_from_slice(extra);
            let out = fixtures.path(out);
            args.push(&out);
            ffmpeg(&args);
        };
        video("subtitled.mp4", &[]);
        video("faststart.mp4", &["-movflags", "+faststart"]);
        ffmpeg(&[
            "-i",
            &fixtures.path("subtitled.mp4"),
            "-vf",
            "select=eq(n\\,23)",
            "-fps_mode",
            "passthrough",
            "-frames:v",
            "1",
            &fixtures.path("frame23.png"),
        ]);
        fixtures
    })
}

fn checked() -> BoardVideo {
    check_video(&fixtures().file("subtitled.mp4")).expect("a video the board plays")
}

/// Mean absolute difference per channel between two pictures of one size.
fn difference(a: &RgbaImage, b: &RgbaImage) -> f64 {
    assert_eq!(a.dimensions(), b.dimensions());
    let total: u64 = a
        .pixels()
        .zip(b.pixels())
        .flat_map(|(p, q)| (0..3).map(move |c| u64::from(p.0[c].abs_diff(q.0[c]))))
        .sum();
    total as f64 / (f64::from(a.width()) * f64::from(a.height()) * 3.0)
}

#[test]
fn a_board_reads_the_subtitle_cues_of_a_video_with_their_exact_times() {
    let video = checked();
    assert_eq!((video.width, video.height), (320, 240));
    assert!(video.duration_ms.abs_diff(4000) <= 100, "{video:?}");
    let cue = |start_ms, end_ms, text: &str| Cue {
        start_ms,
        end_ms,
        text: text.into(),
    };
    assert_eq!(
        video.cues,
        [
            cue(500, 1500, "Cảnh báo lũ quét"),
            cue(2000, 3200, "Sơ tán ngay khỏi bờ suối")
        ]
    );
    assert_eq!(
        check_board_file(&fixtures().file("faststart.mp4")),
        Ok(BoardFile::Video(video)),
        "the movie header first or last reads the same"
    );
}

#[test]
fn the_picture_at_a_position_is_the_one_ffmpeg_shows_then() {
    let bytes = fixtures().file("subtitled.mp4");
    let reference = image::open(fixtures().path("frame23.png"))
        .expect("ffmpeg's picture")
        .to_rgba8();
    // The 24th picture is shown from 2.3 s to 2.4 s.
    for position_ms in [2300, 2399] {
        let decoded = frame_at(&bytes, Duration::from_millis(position_ms)).expect("decodes");
        let off = difference(&decoded, &reference);
        assert!(off < 4.0, "at {position_ms} ms: {off} off ffmpeg's picture");
    }
    let before = frame_at(&bytes, Duration::from_millis(2299)).expect("decodes");
    let after = frame_at(&bytes, Duration::from_millis(2400)).expect("decodes");
    let at = frame_at(&bytes, Duration::from_millis(2300)).expect("decodes");
    assert!(difference(&before, &at) > 0.0 && difference(&after, &at) > 0.0);
    assert!(difference(&before, &reference) > difference(&at, &reference));
    let last = frame_at(&bytes, Duration::from_secs(60)).expect("past the end: the last picture");
    assert_eq!(last.dimensions(), (320, 240));
}

fn at() -> DateTime<Utc> {
    "2026-11-23T10:40:00Z".parse().unwrap()
}

#[test]
fn the_board_face_shows_the_subtitle_over_the_picture_legibly() {
    let bytes = fixtures().file("subtitled.mp4");
    let video = checked();
    let file = MediaRef {
        sha256: "a".repeat(64),
        size: bytes.len() as u64,
        url: "http://hub/media/v1/a".into(),
        chunks: Default::default(),
        head: None,
    };
    let entry = PlanEntry {
        bulletin: "lu-quet".into(),
        occurrence: 0,
        language: "vi".into(),
        class: Class::Emergency,
        part: Part::Visual,
        start: at(),
        end: at() + TimeDelta::minutes(1),
        preempted: false,
        media: Some(file.clone()),
        subtitles: None,
        text: Some("Bản tin khẩn".into()),
    };
    let mut player = Player::new();
    player.hold_media([file.sha256]);
    let schedule = Directive::Schedule {
        date: at().date_naive(),
        entries: vec![entry],
    };
    player.apply(schedule, at() - TimeDelta::hours(1));
    player.advance(at());

    let now = at() + TimeDelta::milliseconds(2500);
    let showing = player.showing(now).unwrap().with_video(&video, now);
    assert_eq!(
        showing.subtitle.as_deref(),
        Some("Sơ tán ngay khỏi bờ suối")
    );
    let position = showing.video.expect("a video").position;
    assert_eq!(position, Duration::from_millis(2500));
    let frame = frame_at(&bytes, position).expect("decodes");
    let face = render(Some(&showing), Some(&frame), now, Resolution::default());
    assert_reads(&ocr(&face), &["Sơ tán ngay", "khỏi bờ suối", "lu-quet"]);

    let gap = at() + TimeDelta::milliseconds(1700);
    let showing = player.showing(gap).unwrap().with_video(&video, gap);
    assert_eq!(showing.subtitle, None);
    let frame = frame_at(&bytes, Duration::from_millis(1700)).expect("decodes");
    let face = render(Some(&showing), Some(&frame), gap, Resolution::default());
    let read = ocr(&face);
    assert_reads(&read, &["Bản tin khẩn"]);
    assert!(
        !read.contains("Sơ tán"),
        "no subtitle between cues: {read:?}"
    );
}

/// The reason a board gives for refusing `bytes`.
fn refusal(bytes: &[u8]) -> String {
    check_board_file(bytes)
        .expect_err("the board must refuse this file")
        .0
}

#[test]
fn cut_and_corrupt_videos_are_refused_with_their_reason() {
    // Cut inside its media data, with the movie header last or first.
    for name in ["subtitled.mp4", "faststart.mp4"] {
        let whole = fixtures().file(name);
        let cut = refusal(&whole[..whole.len() * 2 / 3]);
        assert!(
            cut.starts_with(
                "not a video the board can play: the file is truncated: the 'mdat' box"
            ),
            "{name}: {cut}"
        );
    }
    let first = fixtures().file("faststart.mp4");
    let cut = refusal(&first[..first.len() / 100]);
    assert!(cut.contains("truncated"), "{cut}");

    let mut broken = first.clone();
    let avcc = find(&broken, b"avcC");
    broken[avcc + 4] = 7; // configurationVersion must be 1
    let refused = refusal(&broken);
    assert!(refused.contains("no valid 'avcC'"), "{refused}");

    // A subtitle sample that says its text is longer than it is.
    let mut broken = first.clone();
    let text = find(&broken, "Cảnh báo lũ quét".as_bytes());
    broken[text - 2..text].copy_from_slice(&200u16.to_be_bytes());
    let refused = refusal(&broken);
    assert!(
        refused.starts_with("not a video the board can play: the file is corrupt")
            && refused.contains("says its text is 200 bytes"),
        "{refused}"
    );
}

fn find(haystack: &[u8], needle: &[u8]) -> usize {
    haystack
        .windows(needle.len())
        .position(|window| window == needle)
        .expect("present")
}
