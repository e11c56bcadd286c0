//! Videos for LED boards: real MP4 files made by ffmpeg, with a subtitle
//! track or an SRT file, and every way a video or its subtitles can be
//! refused.

use std::time::{Duration, Instant};

use hub_media::{ingest_video, MediaError, StoredVideo, SubtitleCodec, Subtitles, VideoSettings};

use crate::support::sha256sum;
use crate::support::visual::{ffprobe_duration, mutations, visual, SUBTITLES_SRT, VIDEO_SECS};

fn store(name: &str, srt: Option<&[u8]>) -> StoredVideo {
    ingest_video(&visual().file(name), srt, &VideoSettings::default())
        .unwrap_or_else(|err| panic!("{name}: {err}"))
}

fn refuse(bytes: &[u8], srt: Option<&[u8]>) -> MediaError {
    ingest_video(bytes, srt, &VideoSettings::default()).expect_err("this video must be refused")
}

/// The SRT error for `srt` beside the plain H.264 video.
fn srt_error(srt: &str) -> (usize, usize, String, String) {
    let err = refuse(&visual().file("h264.mp4"), Some(srt.as_bytes()));
    let message = err.to_string();
    match err {
        MediaError::InvalidSrtCue { cue, line, detail } => (cue, line, detail, message),
        other => panic!("expected a cue error, got {other:?}"),
    }
}

fn assert_facts(video: &StoredVideo, name: &str) {
    let bytes = visual().file(name);
    assert_eq!(video.mp4, bytes, "stored as uploaded");
    assert_eq!(video.size_bytes, bytes.len());
    assert_eq!(video.sha256_hex, sha256sum(&visual().path(name)));
    assert_eq!((video.width, video.height), (320, 180));
    let probed_ms = ffprobe_duration(&visual().path(name)) * 1000.0;
    assert!(
        (video.duration_ms as f64 - probed_ms).abs() <= 50.0,
        "{name}: {} ms, ffprobe says {probed_ms} ms",
        video.duration_ms
    );
    assert!(video.duration_ms.abs_diff(VIDEO_SECS * 1000) <= 100);
}

#[test]
fn h264_with_a_mov_text_track_is_stored_as_is() {
    let video = store("h264_mov_text.mp4", None);
    assert_facts(&video, "h264_mov_text.mp4");
    assert_eq!(
        video.subtitles,
        Subtitles::Track {
            codec: SubtitleCodec::MovText
        }
    );
}

#[test]
fn h264_with_an_srt_file_keeps_the_file_and_counts_its_cues() {
    let video = store("h264.mp4", Some(SUBTITLES_SRT.as_bytes()));
    assert_facts(&video, "h264.mp4");
    match &video.subtitles {
        Subtitles::Srt {
            srt,
            cues,
            end_ms,
            sha256_hex,
        } => {
            assert_eq!(srt.as_slice(), SUBTITLES_SRT.as_bytes());
            assert_eq!(*cues, 2);
            assert_eq!(*end_ms, 3_500, "the second cue ends at 00:00:03,500");
            assert_eq!(*sha256_hex, sha256sum(&visual().path("subtitles.srt")));
        }
        other => panic!("expected the SRT file, got {other:?}"),
    }
}

#[test]
fn a_video_without_subtitles_is_refused() {
    let err = refuse(&visual().file("h264.mp4"), None);
    assert!(matches!(err, MediaError::NoSubtitles), "{err:?}");
    assert!(err.to_string().contains("SRT"), "{err}");
}

#[test]
fn other_video_codecs_are_refused_by_name() {
    for (name, codec) in [
        ("hevc_mov_text.mp4", "H.265/HEVC ('hvc1')"),
        ("mpeg4_mov_text.mp4", "MPEG-4 Part 2 ('mp4v')"),
    ] {
        let err = refuse(&visual().file(name), None);
        assert!(
            matches!(&err, MediaError::UnsupportedVideoCodec { codec: named } if named == codec),
            "{name}: {err:?}"
        );
        assert_eq!(
            err.to_string(),
            format!("the video codec {codec} is not supported (use H.264)")
        );
    }
}

#[test]
fn a_fragmented_video_without_a_length_is_refused_with_a_remedy() {
    let err = refuse(&visual().file("h264_fragmented.mp4"), None);
    assert!(matches!(err, MediaError::NoVideoDuration { .. }), "{err:?}");
    assert!(err.to_string().contains("fragmented MP4"), "{err}");
}

#[test]
fn cut_videos_are_truncated() {
    let whole = visual().file("h264_mov_text.mp4");
    for fraction in [0.1, 0.5, 0.9, 0.999] {
        let cut = &whole[..(whole.len() as f64 * fraction) as usize];
        let err = refuse(cut, None);
        assert!(
            matches!(err, MediaError::Truncated { .. }),
            "cut at {fraction}: {err:?}"
        );
    }
}

#[test]
fn media_data_outside_the_file_is_truncated_even_when_the_boxes_are_whole() {
    let mut video = visual().file("h264_mov_text.mp4");
    // Point the first track's first chunk past the end of the file.
    let stco = video
        .windows(4)
        .position(|window| window == b"stco")
        .expect("ffmpeg writes 32-bit chunk offsets");
    let first_offset = stco + 4 + 8;
    video[first_offset..first_offset + 4].copy_from_slice(&0x7FFF_0000u32.to_be_bytes());
    let err = refuse(&video, None);
    assert!(matches!(err, MediaError::Truncated { .. }), "{err:?}");
    assert!(
        err.to_string().contains("track 1's media data (chunk 1"),
        "{err}"
    );
}

#[test]
fn noise_pictures_and_nothing_are_not_videos() {
    let mut state = 0x2545_f491_4f6c_dd1du64;
    let noise: Vec<u8> = (0..65_536)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            (state >> 24) as u8
        })
        .collect();
    for (bytes, what) in [(noise, "noise"), (visual().file("detail.png"), "a PNG")] {
        let err = refuse(&bytes, Some(SUBTITLES_SRT.as_bytes()));
        assert!(matches!(err, MediaError::NotMp4 { .. }), "{what}: {err:?}");
    }
    assert!(matches!(refuse(&[], None), MediaError::Empty));
}

#[test]
fn oversized_and_overlong_videos_are_refused() {
    let bytes = visual().file("h264_mov_text.mp4");
    let small = VideoSettings {
        max_input_bytes: 1024,
        ..VideoSettings::default()
    };
    assert!(matches!(
        ingest_video(&bytes, None, &small),
        Err(MediaError::TooBig { max: 1024, .. })
    ));
    let short = VideoSettings {
        max_duration: Duration::from_secs(2),
        ..VideoSettings::default()
    };
    let err = ingest_video(&bytes, None, &short).unwrap_err();
    assert!(
        matches!(err, MediaError::VideoTooLong { max_secs: 2, duration_ms } if duration_ms > 3_900),
        "{err:?}"
    );
}

#[test]
fn an_srt_cue_with_a_bad_timestamp_is_named() {
    let (cue, line, detail, message) = srt_error(
        "1\n00:00:00,500 --> 00:00:01,000\nMột\n\n2\n00:00:01,500 --> 00:00:2,000\nHai\n",
    );
    assert_eq!((cue, line), (2, 6));
    assert!(detail.contains("\"00:00:2,000\""), "{detail}");
    assert!(
        message.starts_with("subtitle cue 2 (line 6) is invalid"),
        "{message}"
    );
}

#[test]
fn an_srt_cue_ending_before_it_starts_is_named() {
    let (cue, line, detail, _) = srt_error("1\n00:00:03,000 --> 00:00:01,000\nMột\n");
    assert_eq!((cue, line), (1, 2));
    assert_eq!(detail, "it ends at 00:00:01,000 but starts at 00:00:03,000");
}

#[test]
fn an_srt_cue_past_the_end_of_the_video_is_named() {
    let (cue, line, detail, _) = srt_error(
        "1\n00:00:00,500 --> 00:00:01,000\nMột\n\n\
         2\n00:00:01,000 --> 00:00:02,000\nHai\n\n\
         3\n00:00:03,500 --> 00:00:09,000\nBa\n",
    );
    assert_eq!((cue, line), (3, 10));
    assert!(
        detail.starts_with("it ends at 00:00:09,000, after the video ends at 00:00:04"),
        "{detail}"
    );
}

#[test]
fn srt_files_that_are_not_text_or_too_big_are_refused() {
    let video = visual().file("h264.mp4");
    let err = refuse(
        &video,
        Some(b"1\n00:00:00,500 --> 00:00:01,000\n\xC0\xAF\n"),
    );
    assert_eq!(
        err.to_string(),
        "the subtitle file is not valid SRT: line 3 is not UTF-8 text"
    );
    let err = refuse(&video, Some(b""));
    assert!(matches!(err, MediaError::InvalidSrt { .. }), "{err:?}");
    let settings = VideoSettings {
        max_subtitle_bytes: 16,
        ..VideoSettings::default()
    };
    let err = ingest_video(&video, Some(SUBTITLES_SRT.as_bytes()), &settings).unwrap_err();
    assert!(
        matches!(err, MediaError::SubtitlesTooBig { max: 16, .. }),
        "{err:?}"
    );
}

#[test]
fn damaged_videos_get_an_answer_quickly_not_a_panic() {
    let seed = visual().file("h264_mov_text.mp4");
    // The movie header is at the end of ffmpeg's files: damage it there too.
    let tail_start = seed.len().saturating_sub(4096);
    let (head, tail) = seed.split_at(tail_start);
    for (round, damaged_tail) in mutations(tail, 400).enumerate() {
        let damaged = [head, &damaged_tail].concat();
        let started = Instant::now();
        let _answer = ingest_video(&damaged, None, &VideoSettings::default());
        assert!(
            started.elapsed() < Duration::from_secs(1),
            "round {round} took {:?}",
            started.elapsed()
        );
    }
    for damaged in mutations(&seed, 200) {
        let _answer = ingest_video(
            &damaged,
            Some(SUBTITLES_SRT.as_bytes()),
            &VideoSettings::default(),
        );
    }
}
