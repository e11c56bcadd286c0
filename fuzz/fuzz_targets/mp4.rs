//! An uploaded video: the hub's check (`ingest_video` under
//! `VideoSettings::default()`: hub-mp4's reader, the H.264 track, its
//! duration, the subtitle track's every cue), then what a board does with
//! the same bytes (firmware-sim's `check_video` and `frame_at`): the
//! decoder configuration and every H.264 sample as Annex B.

#![no_main]

use hub_media::{ingest_video, VideoSettings};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(video) = ingest_video(data, None, &VideoSettings::default()) {
        assert_eq!(video.size_bytes, data.len());
        assert!(video.duration_ms > 0);
    }
    let Ok(movie) = hub_mp4::read(data) else {
        return;
    };
    if let Ok((track, codec)) = movie.subtitle_track() {
        if let Ok(cues) = track.cues(data, codec) {
            assert!(cues
                .windows(2)
                .all(|pair| pair[0].start_ms <= pair[1].start_ms));
            assert!(cues.iter().all(|cue| cue.start_ms < cue.end_ms));
        }
    }
    let Ok(video) = movie.h264_track() else {
        return;
    };
    let _ = movie.video_duration_ms(video);
    let Ok(config) = video.avc_config(data) else {
        return;
    };
    let mut stream = config.parameter_sets_annex_b();
    let Ok(samples) = video.samples(data) else {
        return;
    };
    for sample in samples {
        let _ = video.start_ms(&sample);
        let _ = video.duration_ms(&sample);
        let Ok(bytes) = video.sample_data(data, &sample) else {
            return;
        };
        if config.annex_b(bytes, &mut stream).is_err() {
            return;
        }
        stream.clear();
    }
});
