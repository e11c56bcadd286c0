//! Every way an upload can be refused, and the message that says why.

use std::time::Duration;

use hub_media::{ingest_audio, AudioSettings, MediaError};

use crate::support::{fixtures, FORMATS};

fn ingest(bytes: &[u8], hint: Option<&str>) -> MediaError {
    ingest_audio(bytes, hint, &AudioSettings::default()).expect_err("this input must be refused")
}

#[test]
fn empty_input() {
    let err = ingest(&[], Some("mp3"));
    assert!(matches!(err, MediaError::Empty), "{err}");
    assert_eq!(err.to_string(), "the file is empty (0 bytes)");
}

#[test]
fn garbage_is_not_audio() {
    // A fixed pseudo-random sequence (xorshift), so the test is repeatable.
    let mut state = 0x2545_f491_4f6c_dd1du64;
    let garbage: Vec<u8> = (0..65_536)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            (state >> 24) as u8
        })
        .collect();
    for hint in [None, Some("mp3"), Some("wav")] {
        let err = ingest(&garbage, hint);
        assert!(
            matches!(
                err,
                MediaError::UnknownFormat { .. } | MediaError::Corrupt { .. }
            ),
            "{hint:?}: {err:?}"
        );
    }
}

#[test]
fn text_and_images_are_not_audio() {
    let text = "Bản tin sáng nay: lịch tiêm chủng tại trạm y tế xã.\n".repeat(20);
    for (bytes, hint) in [(text.as_bytes().to_vec(), "txt"), (fixtures().png(), "png")] {
        let err = ingest(&bytes, Some(hint));
        assert!(
            matches!(err, MediaError::UnknownFormat { .. }),
            "{hint}: {err:?}"
        );
        assert!(err.to_string().starts_with("not audio"), "{err}");
    }
}

#[test]
fn the_first_half_of_every_format_is_truncated() {
    for format in FORMATS {
        let whole = fixtures().signal(format.ext);
        let err = ingest(&whole[..whole.len() / 2], Some(format.ext));
        assert!(
            matches!(err, MediaError::Truncated { .. }),
            "{}: {err:?}",
            format.ext
        );
        assert!(
            err.to_string().starts_with("the file is truncated"),
            "{err}"
        );
    }
}

#[test]
fn too_long_is_refused_while_decoding() {
    let settings = AudioSettings {
        max_duration: Duration::from_secs(10),
        ..AudioSettings::default()
    };
    let err = ingest_audio(&fixtures().long_wav(), Some("wav"), &settings).unwrap_err();
    assert!(
        matches!(err, MediaError::TooLong { max_secs: 10 }),
        "{err:?}"
    );
    assert_eq!(
        err.to_string(),
        "the audio is longer than the limit of 10 s"
    );
    // The 3 s signal passes the same limit.
    assert!(ingest_audio(&fixtures().signal("wav"), None, &settings).is_ok());
}

#[test]
fn too_big_is_refused_before_decoding() {
    let settings = AudioSettings {
        max_input_bytes: 10_000,
        ..AudioSettings::default()
    };
    let mp3 = fixtures().signal("mp3");
    let err = ingest_audio(&mp3, Some("mp3"), &settings).unwrap_err();
    assert!(
        matches!(err, MediaError::TooBig { size, max: 10_000 } if size == mp3.len()),
        "{err:?}"
    );
    // Size is checked first: even bytes that are not audio get this answer.
    let err = ingest_audio(&[0u8; 10_001], None, &settings).unwrap_err();
    assert!(matches!(err, MediaError::TooBig { .. }), "{err:?}");
}

#[test]
fn silence_is_refused() {
    let err = ingest(&fixtures().silent_wav(), Some("wav"));
    assert!(matches!(err, MediaError::Silent), "{err:?}");
}

#[test]
fn opus_in_webm_names_its_codec() {
    let err = ingest(&fixtures().webm_opus(), Some("webm"));
    assert!(
        matches!(err, MediaError::UnsupportedCodec { .. }),
        "{err:?}"
    );
    assert!(err.to_string().contains("Opus"), "{err}");
}

#[test]
fn a_broken_opus_packet_is_corrupt() {
    let mut opus = fixtures().signal("opus");
    // Past the headers, into audio: Ogg's checksum catches the damage.
    let middle = opus.len() / 2;
    opus[middle] ^= 0xff;
    let err = ingest(&opus, Some("opus"));
    assert!(matches!(err, MediaError::Corrupt { .. }), "{err:?}");
}

#[test]
fn absurd_settings_are_refused() {
    for settings in [
        AudioSettings {
            target_lufs: 3.0,
            ..AudioSettings::default()
        },
        AudioSettings {
            bitrate_bps: 1_000,
            ..AudioSettings::default()
        },
        AudioSettings {
            max_duration: Duration::ZERO,
            ..AudioSettings::default()
        },
    ] {
        let err = ingest_audio(&fixtures().signal("wav"), None, &settings).unwrap_err();
        assert!(matches!(err, MediaError::InvalidSettings(_)), "{err:?}");
    }
}

#[test]
fn ogg_cut_between_pages_is_truncated() {
    for ext in ["ogg", "opus"] {
        let whole = fixtures().signal(ext);
        // Cut right before the last page: every page left is whole, only
        // the end-of-stream flag is missing.
        let last_page = whole
            .windows(4)
            .rposition(|window| window == b"OggS")
            .expect("an Ogg file has pages");
        let err = ingest(&whole[..last_page], Some(ext));
        assert!(
            matches!(err, MediaError::Truncated { .. }),
            "{ext}: {err:?}"
        );
    }
}
