//! libopus encoding spread over the machine's cores, in segments.
//!
//! libopus codes one stream on one core, and at its best quality per bit it
//! is the slowest step of ingest. So the packets are encoded in segments on
//! as many threads as there are cores, and put back in order into one stream.
//!
//! Opus packets lean on what came before (prediction, band energies, mode
//! decisions), so a segment does not start from a fresh encoder: the encoder
//! of every segment but the first is first fed the second of audio before
//! the segment (the warm-up), and those packets are thrown away. By the seam
//! its state follows the audio as a continuous encoder's does, so the decoder
//! carries on without a click. Segment bounds depend only on the audio's
//! length, never on the number of cores: the bytes are the same on every
//! machine with the same libopus.

use std::num::NonZeroUsize;
use std::ops::Range;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;
use std::thread;

use opus::{Application, Bitrate, Channels, Encoder};

use crate::error::MediaError;
use crate::OUTPUT_SAMPLE_RATE;

/// 20 ms at 48 kHz: the frame size Opus is tuned for.
pub(super) const FRAME_SAMPLES: usize = 960;
/// Output buffer per packet, the size libopus's documentation recommends.
const MAX_PACKET_BYTES: usize = 4_000;
/// Packets per segment, at most: 10 s, short enough to share a minute
/// between cores, long enough that warm-ups cost a tenth of the work.
const MAX_SEGMENT_PACKETS: usize = 500;
/// Packets encoded and thrown away before a segment: 1 s, which covers the
/// encoder's slowest-settling state (its speech/music and bandwidth
/// decisions).
const WARM_UP_PACKETS: usize = 50;

/// A libopus encoder for broadcast speech.
pub(super) fn new_encoder(bitrate_bps: u32) -> Result<Encoder, MediaError> {
    // VoIP mode: libopus favours speech intelligibility at low bitrates.
    let mut encoder =
        Encoder::new(OUTPUT_SAMPLE_RATE, Channels::Mono, Application::Voip).map_err(failed)?;
    encoder
        .set_bitrate(Bitrate::Bits(bitrate_bps as i32))
        .map_err(failed)?;
    // Best quality per bit (libopus's default, stated so it cannot drift):
    // the cores, not a lower complexity, make up for its cost.
    encoder.set_complexity(10).map_err(failed)?;
    Ok(encoder)
}

pub(super) fn failed(err: opus::Error) -> MediaError {
    MediaError::Processing(format!("libopus encoder: {err}"))
}

/// One segment's packets, or why it could not be encoded.
type SegmentPackets = Result<Vec<Vec<u8>>, MediaError>;

/// Encodes `samples`, zero-padded, into `packet_count` packets of 20 ms.
pub(super) fn encode_packets(
    samples: &[f32],
    packet_count: usize,
    bitrate_bps: u32,
) -> Result<Vec<Vec<u8>>, MediaError> {
    let segments = segment_bounds(packet_count);
    let workers = thread::available_parallelism()
        .map_or(1, NonZeroUsize::get)
        .min(segments.len());
    let next_segment = AtomicUsize::new(0);
    let encoded: Vec<Mutex<Option<SegmentPackets>>> =
        segments.iter().map(|_| Mutex::new(None)).collect();
    let work = || loop {
        let index = next_segment.fetch_add(1, Ordering::Relaxed);
        let Some(packets) = segments.get(index) else {
            return;
        };
        let result = encode_segment(samples, packets.clone(), bitrate_bps);
        *encoded[index]
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner()) = Some(result);
    };
    thread::scope(|scope| {
        for _ in 1..workers {
            scope.spawn(work);
        }
        // The calling thread is one of the workers.
        work();
    });

    let mut packets = Vec::with_capacity(packet_count);
    for slot in encoded {
        let segment = slot
            .into_inner()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .ok_or_else(|| {
                MediaError::Processing("an Opus segment was not encoded".to_owned())
            })??;
        packets.extend(segment);
    }
    Ok(packets)
}

/// Packet ranges of equal length (within one), at most
/// [`MAX_SEGMENT_PACKETS`] each, in an even number so that two or four
/// cores share them evenly.
fn segment_bounds(packet_count: usize) -> Vec<Range<usize>> {
    let mut count = packet_count.div_ceil(MAX_SEGMENT_PACKETS).max(1);
    if count > 1 && count % 2 == 1 {
        count += 1;
    }
    (0..count)
        .map(|index| index * packet_count / count..(index + 1) * packet_count / count)
        .collect()
}

/// Encodes the packets `packets` of the stream, after a warm-up on the
/// audio before them.
fn encode_segment(
    samples: &[f32],
    packets: Range<usize>,
    bitrate_bps: u32,
) -> Result<Vec<Vec<u8>>, MediaError> {
    let mut encoder = new_encoder(bitrate_bps)?;
    let mut frame = [0f32; FRAME_SAMPLES];
    let mut packet = [0u8; MAX_PACKET_BYTES];
    let mut kept = Vec::with_capacity(packets.len());
    for index in packets.start.saturating_sub(WARM_UP_PACKETS)..packets.end {
        let start = (index * FRAME_SAMPLES).min(samples.len());
        let end = (start + FRAME_SAMPLES).min(samples.len());
        frame.fill(0.0);
        frame[..end - start].copy_from_slice(&samples[start..end]);
        let len = encoder.encode_float(&frame, &mut packet).map_err(failed)?;
        if index >= packets.start {
            kept.push(packet[..len].to_vec());
        }
    }
    Ok(kept)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn segments_cover_every_packet_once() {
        for packet_count in [1, 2, 499, 500, 501, 3_001, 30_001] {
            let segments = segment_bounds(packet_count);
            assert_eq!(segments[0].start, 0);
            assert_eq!(segments.last().unwrap().end, packet_count);
            for pair in segments.windows(2) {
                assert_eq!(pair[0].end, pair[1].start);
            }
            let shortest = segments.iter().map(Range::len).min().unwrap();
            let longest = segments.iter().map(Range::len).max().unwrap();
            assert!(longest <= MAX_SEGMENT_PACKETS && longest - shortest <= 1);
            assert!(segments.len() == 1 || segments.len() % 2 == 0);
        }
    }

    #[test]
    fn a_minute_is_shared_evenly() {
        // 60 s and the look-ahead: 3,001 packets, in 8 segments of 375-376.
        assert_eq!(segment_bounds(3_001).len(), 8);
    }

    #[test]
    fn segmented_packets_decode_like_one_encoder() {
        // Two segments' worth of a steady tone: the stream must decode
        // seamlessly, i.e. as close to the continuous encoding as coding
        // noise allows, around the seam too.
        let rate = OUTPUT_SAMPLE_RATE as f32;
        let samples: Vec<f32> = (0..FRAME_SAMPLES * 2 * MAX_SEGMENT_PACKETS)
            .map(|n| 0.3 * (2.0 * std::f32::consts::PI * 220.0 * n as f32 / rate).sin())
            .collect();
        let packet_count = samples.len() / FRAME_SAMPLES;
        let segmented = encode_packets(&samples, packet_count, 24_000).unwrap();
        assert_eq!(segmented.len(), packet_count);

        let mut decoder = opus::Decoder::new(OUTPUT_SAMPLE_RATE, Channels::Mono).unwrap();
        let mut decoded = Vec::new();
        let mut pcm = [0f32; FRAME_SAMPLES];
        for packet in &segmented {
            let frames = decoder.decode_float(packet, &mut pcm, false).unwrap();
            decoded.extend_from_slice(&pcm[..frames]);
        }
        let lookahead = new_encoder(24_000).unwrap().get_lookahead().unwrap() as usize;
        // Signal-to-noise ratio over 40 ms each side of a point, against the
        // input the decoded samples stand for.
        let snr_db_around = |point: usize| {
            let span = point - 1_920..point + 1_920;
            let error: f32 = span
                .clone()
                .map(|n| (decoded[n] - samples[n - lookahead]).powi(2))
                .sum();
            let signal: f32 = span.map(|n| samples[n - lookahead].powi(2)).sum();
            10.0 * (signal / error).log10()
        };
        let seam = segment_bounds(packet_count)[1].start * FRAME_SAMPLES;
        let seam_snr = snr_db_around(seam);
        let inside_snr = snr_db_around(seam / 2);
        assert!(
            seam_snr > inside_snr - 3.0,
            "{seam_snr} dB around the seam, {inside_snr} dB inside a segment"
        );
    }
}
