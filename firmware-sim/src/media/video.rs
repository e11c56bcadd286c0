//! What an LED board checks of a video when it arrives, and what it reads
//! from it: the same checks as the hub's (`hub-mp4`): the MP4 container
//! parses, holds an H.264 track with its decoder configuration, a picture
//! size and a duration, and its media data lies inside the file; the cues
//! of its subtitle track (mov_text or WebVTT) all read. A video without a
//! subtitle track the board can read still plays, without subtitles (the
//! hub refuses such uploads, so only a foreign file would be one).
//!
//! For a person looking at a board snapshot, [`frame_at`] decodes the
//! picture at a position with OpenH264 (Cisco's decoder, built from source
//! by the `openh264` crate). Real boards decode H.264 in hardware; the
//! simulator decodes only for snapshots, never to play.

use std::time::Duration;

use hub_mp4::{Cue, Mp4Error, Track};
use image::RgbaImage;
use openh264::decoder::{DecodedYUV, Decoder, DecoderConfig, Flush};
use openh264::formats::YUVSource;
use openh264::OpenH264API;

use super::audio::Undecodable;

/// A video a board checked, and its subtitles.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BoardVideo {
    /// Playing time, from the movie (or track) header.
    pub duration_ms: u64,
    /// The coded picture size.
    pub width: u32,
    /// The coded picture size.
    pub height: u32,
    /// The subtitle cues in start order, in milliseconds from the start of
    /// the video; empty without a subtitle track.
    pub cues: Vec<Cue>,
}

/// Checks `bytes` is a video a board can play and reads its subtitles.
pub fn check_video(bytes: &[u8]) -> Result<BoardVideo, Undecodable> {
    let refused = |error: Mp4Error| Undecodable(format!("not a video the board can play: {error}"));
    let movie = hub_mp4::read(bytes).map_err(refused)?;
    let video = movie.h264_track().map_err(refused)?;
    let duration_ms = movie.video_duration_ms(video).map_err(refused)?;
    video.avc_config(bytes).map_err(refused)?;
    let cues = match movie.subtitle_track() {
        Ok((track, codec)) => track.cues(bytes, codec).map_err(refused)?,
        Err(Mp4Error::NoSubtitles | Mp4Error::UnsupportedSubtitleCodec { .. }) => Vec::new(),
        Err(other) => return Err(refused(other)),
    };
    Ok(BoardVideo {
        duration_ms,
        width: u32::from(video.width),
        height: u32::from(video.height),
        cues,
    })
}

/// The picture of the video in `bytes` shown at `position` from its start
/// (its last picture past its end), decoded from the key frame before it.
pub fn frame_at(bytes: &[u8], position: Duration) -> Result<RgbaImage, Undecodable> {
    let failed = |what: String| Undecodable(format!("cannot decode the video's picture: {what}"));
    let refused = |error: Mp4Error| failed(error.to_string());
    let movie = hub_mp4::read(bytes).map_err(refused)?;
    let track = movie.h264_track().map_err(refused)?;
    let config = track.avc_config(bytes).map_err(refused)?;
    let position_ms = i64::try_from(position.as_millis()).unwrap_or(i64::MAX);
    let group = pictures_to_decode(track, bytes, position_ms).map_err(refused)?;
    let Some(wanted) = group
        .iter()
        .map(|&(_, shown_ms)| shown_ms)
        .filter(|&shown_ms| shown_ms <= position_ms)
        .max()
        .or_else(|| group.iter().map(|&(_, shown_ms)| shown_ms).min())
    else {
        return Err(failed("the H.264 track has no pictures".to_owned()));
    };
    // Output comes in the order pictures are shown: the wanted one is
    // preceded by every fed picture shown before it.
    let rank = group
        .iter()
        .filter(|&&(_, shown_ms)| shown_ms < wanted)
        .count();
    let decoder_config = DecoderConfig::new().flush_after_decode(Flush::NoFlush);
    let mut decoder = Decoder::with_api_config(OpenH264API::from_source(), decoder_config)
        .map_err(|error| failed(error.to_string()))?;
    let mut stream = config.parameter_sets_annex_b();
    let mut seen = 0;
    let mut picture = None;
    let mut keep = |decoded: &DecodedYUV<'_>| {
        if seen == rank {
            picture = Some(to_rgba(decoded));
        }
        seen += 1;
    };
    for (sample, _) in &group {
        let data = track.sample_data(bytes, sample).map_err(refused)?;
        config.annex_b(data, &mut stream).map_err(refused)?;
        let decoded = decoder
            .decode(&stream)
            .map_err(|error| failed(error.to_string()))?;
        if let Some(decoded) = decoded {
            keep(&decoded);
        }
        stream.clear();
    }
    for decoded in decoder
        .flush_remaining()
        .map_err(|error| failed(error.to_string()))?
    {
        keep(&decoded);
    }
    picture.ok_or_else(|| {
        failed(format!(
            "the decoder gave {seen} of {} pictures",
            group.len()
        ))
    })
}

/// The samples to feed a decoder, in decoding order, for the picture shown
/// at `position_ms`, each with when it is shown: from the last key frame
/// shown by then, up to the last sample (in decoding order) shown by then,
/// so that every picture it depends on comes first.
fn pictures_to_decode(
    track: &Track,
    bytes: &[u8],
    position_ms: i64,
) -> Result<Vec<(hub_mp4::Sample, i64)>, Mp4Error> {
    let mut group: Vec<(hub_mp4::Sample, i64)> = Vec::new();
    let mut needed = 0;
    for sample in track.samples(bytes)? {
        let shown_ms = track.start_ms(&sample);
        if sample.sync {
            if shown_ms > position_ms && !group.is_empty() {
                break;
            }
            group.clear();
            needed = 0;
        }
        if group.is_empty() && !sample.sync {
            // Pictures before the first key frame cannot be decoded.
            continue;
        }
        group.push((sample, shown_ms));
        if shown_ms <= position_ms {
            needed = group.len();
        }
    }
    group.truncate(needed.max(1));
    Ok(group)
}

/// The decoded picture in RGB, read as video is almost always coded:
/// limited range (16–235) with BT.601 colours, as ffmpeg shows a file that
/// does not say. (OpenH264's own conversion takes the full range, which
/// greys blacks and dims whites.)
fn to_rgba(decoded: &DecodedYUV<'_>) -> RgbaImage {
    let (width, height) = decoded.dimensions();
    let (y_stride, u_stride, v_stride) = decoded.strides();
    let (luma, blue, red) = (decoded.y(), decoded.u(), decoded.v());
    RgbaImage::from_fn(width as u32, height as u32, |x, y| {
        let (x, y) = (x as usize, y as usize);
        let sample = |plane: &[u8], at: usize| f32::from(plane.get(at).copied().unwrap_or(128));
        let luma = (sample(luma, y * y_stride + x) - 16.0) * 1.164;
        let blue = sample(blue, (y / 2) * u_stride + x / 2) - 128.0;
        let red = sample(red, (y / 2) * v_stride + x / 2) - 128.0;
        let channel = |value: f32| value.round().clamp(0.0, 255.0) as u8;
        image::Rgba([
            channel(luma + 1.596 * red),
            channel(luma - 0.813 * red - 0.391 * blue),
            channel(luma + 2.018 * blue),
            255,
        ])
    })
}
