//! An SRT file sent beside a video (`ingest_video`'s SRT check, and what a
//! board reads): hub-mp4's strict parser, then each cue's times written
//! back the way an error message writes them.

#![no_main]

use hub_mp4::srt;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| match srt::parse(data) {
    Ok(cues) => {
        assert!(!cues.is_empty());
        for (index, cue) in cues.iter().enumerate() {
            assert_eq!(cue.number, index + 1);
            assert!(cue.start_ms < cue.end_ms);
            assert!(!srt::timestamp(cue.end_ms).is_empty());
        }
    }
    Err(error) => assert!(!error.to_string().is_empty()),
});
