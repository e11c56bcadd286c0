//! An uploaded recording, as `POST /api/v1/uploads/audio` hands it to
//! hub-media: size checks, probing, decoding (symphonia or libopus),
//! downmix and resampling, under the hub's own limits
//! (`AudioSettings::default()`: 50 MiB, 10 minutes). The encoding after it
//! only sees these bounded samples.
//!
//! The file name's extension the hub passes as a hint is picked from the
//! input's length, so that seeds stay plain files.

#![no_main]

use hub_media::{decode_upload, AudioSettings, OUTPUT_SAMPLE_RATE};
use libfuzzer_sys::fuzz_target;

const HINTS: [Option<&str>; 7] = [
    None,
    Some("mp3"),
    Some("wav"),
    Some("ogg"),
    Some("m4a"),
    Some("flac"),
    Some("audio/mpeg"),
];

fuzz_target!(|data: &[u8]| {
    let settings = AudioSettings::default();
    let hint = HINTS[data.len() % HINTS.len()];
    // An error is a fine answer; a panic, a hang or a blow-up is not.
    if let Ok(upload) = decode_upload(data, hint, &settings) {
        let max_samples =
            settings.max_duration.as_secs() as usize * OUTPUT_SAMPLE_RATE as usize + 1;
        assert!(!upload.samples.is_empty());
        assert!(upload.samples.len() <= max_samples, "longer than allowed");
        assert!(upload.samples.iter().all(|sample| sample.is_finite()));
        assert!(upload.input_lufs.is_finite());
        assert!((1..=8).contains(&upload.facts.channels));
    }
});
