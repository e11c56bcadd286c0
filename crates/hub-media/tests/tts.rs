//! Text-to-speech with espeak-ng through the same pipeline.

use std::time::Duration;

use hub_media::{speak, AudioSettings, MediaError};

use crate::support::{ffprobe, opusinfo, write_temp};

#[test]
fn vietnamese_text_becomes_a_bulletin() {
    let settings = AudioSettings::default();
    let encoded = speak("Xin chào, đây là bản tin thử nghiệm", "vi", &settings)
        .unwrap_or_else(|err| panic!("{err}"));
    assert!(
        (1_000..=10_000).contains(&encoded.duration_ms),
        "{} ms",
        encoded.duration_ms
    );
    assert!(
        encoded.input.codec.starts_with("pcm"),
        "{:?}",
        encoded.input
    );
    assert_eq!(encoded.input.channels, 1);
    assert!(
        (encoded.output_lufs - settings.target_lufs).abs() <= 1.0,
        "{encoded:?}"
    );
    // Synthetic speech is peaky: normalising it up needs the limiter, and
    // the decoded output must still stay under full scale.
    assert!(encoded.output_true_peak_dbtp < 0.0, "{encoded:?}");

    let path = write_temp("speech.opus", &encoded.ogg);
    let probe = ffprobe(&path);
    assert_eq!(
        (probe.codec.as_str(), probe.sample_rate, probe.channels),
        ("opus", 48_000, 1)
    );
    assert!((probe.duration_secs * 1000.0 - encoded.duration_ms as f64).abs() <= 50.0);
    opusinfo(&path);
}

#[test]
fn a_language_without_a_voice_is_refused() {
    let err = speak("Bản tin", "mnong", &AudioSettings::default()).unwrap_err();
    assert!(matches!(err, MediaError::UnknownVoice { .. }), "{err:?}");
}

#[test]
fn empty_text_is_refused() {
    let err = speak("  \n", "vi", &AudioSettings::default()).unwrap_err();
    assert!(matches!(err, MediaError::NoText), "{err:?}");
}

#[test]
fn a_slow_synthesis_is_stopped() {
    let settings = AudioSettings {
        tts_timeout: Duration::from_millis(1),
        ..AudioSettings::default()
    };
    let text = "Đây là bản tin rất dài của xã. ".repeat(200);
    let err = speak(&text, "vi", &settings).unwrap_err();
    assert!(
        matches!(err, MediaError::TtsTimeout { millis: 1 }),
        "{err:?}"
    );
}
