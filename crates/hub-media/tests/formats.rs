//! Every upload format, end to end, checked by tools other than ours.

use hub_media::{ingest_audio, AudioSettings};

use crate::support::{
    ffmpeg_loudness, ffprobe, fixtures, opusinfo, sha256sum, write_temp, FORMATS, SIGNAL_SECS,
};

#[test]
fn every_format_becomes_mono_48k_ogg_opus_at_the_target_loudness() {
    let settings = AudioSettings::default();
    for format in FORMATS {
        let input = fixtures().signal(format.ext);
        let encoded = ingest_audio(&input, Some(format.ext), &settings)
            .unwrap_or_else(|err| panic!("{}: {err}", format.ext));
        let context = format!("{} -> {encoded:?}", format.ext);

        assert_eq!(encoded.input.codec, format.codec, "{context}");
        assert_eq!(encoded.input.channels, 2, "{context}");
        let expected_rate = if format.ext == "opus" { 48_000 } else { 44_100 };
        assert_eq!(encoded.input.sample_rate, expected_rate, "{context}");
        assert!(
            (encoded.input_lufs + 24.0).abs() < 2.0,
            "the signal is made at about -24 LUFS: {context}"
        );
        assert!(
            (encoded.duration_ms as f64 - SIGNAL_SECS * 1000.0).abs() <= 50.0,
            "{context}"
        );

        let path = write_temp(&format!("out-{}.opus", format.ext), &encoded.ogg);
        let probe = ffprobe(&path);
        assert_eq!(probe.codec, "opus", "{context}");
        assert_eq!(probe.sample_rate, 48_000, "{context}");
        assert_eq!(probe.channels, 1, "{context}");
        assert!(
            (probe.duration_secs - SIGNAL_SECS).abs() <= 0.050,
            "ffprobe says {} s: {context}",
            probe.duration_secs
        );
        opusinfo(&path);

        let target = settings.target_lufs;
        assert!((encoded.output_lufs - target).abs() <= 1.0, "{context}");
        let measured_by_ffmpeg = ffmpeg_loudness(&path);
        assert!(
            (measured_by_ffmpeg - target).abs() <= 1.0,
            "ffmpeg measures {measured_by_ffmpeg} LUFS: {context}"
        );
        assert!(
            encoded.output_true_peak_dbtp <= settings.true_peak_ceiling_dbtp + 0.5,
            "{context}"
        );

        assert_eq!(encoded.sha256_hex, sha256sum(&path), "{context}");
        assert_eq!(encoded.size_bytes, encoded.ogg.len());

        let again = ingest_audio(&input, Some(format.ext), &settings).unwrap();
        assert!(
            again.ogg == encoded.ogg,
            "{}: output differs between runs",
            format.ext
        );
    }
}

#[test]
fn output_size_follows_the_bitrate() {
    let input = fixtures().signal("wav");
    let size_at = |bitrate_bps| {
        let settings = AudioSettings {
            bitrate_bps,
            ..AudioSettings::default()
        };
        ingest_audio(&input, Some("wav"), &settings)
            .unwrap()
            .size_bytes
    };
    let small = size_at(16_000);
    let default = size_at(24_000);
    // 3 s at 24 kbit/s is 9 KB of audio plus Ogg and Opus headers.
    assert!((7_000..=12_000).contains(&default), "{default} bytes");
    assert!(
        small < default,
        "{small} bytes at 16 kbit/s, {default} at 24"
    );
}

#[test]
fn a_different_target_is_reached_too() {
    let settings = AudioSettings {
        target_lufs: -23.0,
        ..AudioSettings::default()
    };
    let encoded = ingest_audio(&fixtures().signal("mp3"), None, &settings).unwrap();
    assert!(
        (encoded.output_lufs + 23.0).abs() <= 1.0,
        "{}",
        encoded.output_lufs
    );
}

#[test]
fn the_output_can_be_ingested_again() {
    let settings = AudioSettings::default();
    let first = ingest_audio(&fixtures().signal("m4a"), Some("audio/mp4"), &settings).unwrap();
    let second = ingest_audio(&first.ogg, None, &settings).unwrap();
    assert_eq!(second.input.codec, "opus");
    assert_eq!(second.input.channels, 1);
    assert!((second.input_lufs - first.output_lufs).abs() < 0.01);
    assert!((second.duration_ms as i64 - first.duration_ms as i64).abs() <= 1);
}
