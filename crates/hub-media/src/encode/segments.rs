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
use std::sync::{Condvar, Mutex, PoisonError};
use std::thread;

use opus::{Application, Bitrate, Channels, Encoder};

use super::check::Player;
use crate::error::MediaError;
use crate::OUTPUT_SAMPLE_RATE;

/// 20 ms at 48 kHz: the frame size Opus is tuned for.
pub(super) const FRAME_SAMPLES: usize = 960;
/// Output buffer per packet, the size libopus's documentation recommends.
const MAX_PACKET_BYTES: usize = 4_000;
/// Packets per segment, at most: 20 s, so a minute is four segments, which
/// two cores share with the decode check between them, and warm-ups cost a
/// twentieth of the work (10 s segments cost twice that in warm-ups and
/// saved nothing in waiting).
const MAX_SEGMENT_PACKETS: usize = 1_000;
/// Packets encoded and thrown away before a segment: 1 s, which covers the
/// encoder's slowest-settling state (its speech/music and bandwidth
/// decisions).
const WARM_UP_PACKETS: usize = 50;

/// Packets an encoder hands over at a time: a second, so the decode check
/// can follow the last segment closely.
const PUBLISH_PACKETS: usize = 50;

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

/// Which segments are being encoded and which played, shared by the
/// workers.
struct Schedule {
    /// The next segment to encode.
    next_encode: usize,
    /// Each segment's packets so far, and whether it is complete.
    encoded: Vec<(Vec<Vec<u8>>, bool)>,
    /// The next segment to play (segments are played in stream order), and
    /// how many of its packets are played.
    next_play: usize,
    played: usize,
    /// Whether a worker is playing now.
    playing: bool,
    /// The first thing that went wrong; the workers stop on it.
    failure: Option<MediaError>,
}

/// Encodes `samples`, zero-padded, into `packet_count` packets of 20 ms,
/// and plays them with `player` in stream order.
///
/// Encoders hand their packets over a second at a time. A worker plays
/// whatever is ready to play before it takes the next segment to encode,
/// and plays as packets come once nothing is left to encode: playing is a
/// fifth of the cost of encoding, so it hides between encodings, and once
/// the last segment is encoded about a second of it is left to play.
pub(super) fn encode_packets(
    samples: &[f32],
    packet_count: usize,
    bitrate_bps: u32,
    player: &mut Player,
) -> Result<Vec<Vec<u8>>, MediaError> {
    let segments = segment_bounds(packet_count);
    let workers = thread::available_parallelism()
        .map_or(1, NonZeroUsize::get)
        .min(segments.len());
    let schedule = Mutex::new(Schedule {
        next_encode: 0,
        encoded: segments
            .iter()
            .map(|packets| (Vec::with_capacity(packets.len()), false))
            .collect(),
        next_play: 0,
        played: 0,
        playing: false,
        failure: None,
    });
    let changed = Condvar::new();
    let player = Mutex::new(player);
    let lock_schedule = || schedule.lock().unwrap_or_else(PoisonError::into_inner);
    let work = || {
        let mut state = lock_schedule();
        loop {
            if state.failure.is_some() || state.next_play == segments.len() {
                return;
            }
            let (next_play, played) = (state.next_play, state.played);
            let (packets, complete) = &state.encoded[next_play];
            if *complete && packets.len() == played {
                state.next_play += 1;
                state.played = 0;
            } else if !state.playing && packets.len() > played {
                let batch = packets[played..].to_vec();
                state.playing = true;
                drop(state);
                let result = player
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .play(&batch);
                state = lock_schedule();
                state.playing = false;
                state.played += batch.len();
                if let Err(err) = result {
                    state.failure.get_or_insert(err);
                }
                changed.notify_all();
            } else if state.next_encode < segments.len() {
                let index = state.next_encode;
                state.next_encode += 1;
                drop(state);
                let result = encode_segment(
                    samples,
                    segments[index].clone(),
                    bitrate_bps,
                    |batch, last| {
                        let mut state = lock_schedule();
                        let (packets, complete) = &mut state.encoded[index];
                        packets.extend(batch);
                        *complete = last;
                        changed.notify_all();
                    },
                );
                state = lock_schedule();
                if let Err(err) = result {
                    state.failure.get_or_insert(err);
                    changed.notify_all();
                }
            } else {
                state = changed.wait(state).unwrap_or_else(PoisonError::into_inner);
            }
        }
    };
    thread::scope(|scope| {
        for _ in 1..workers {
            scope.spawn(work);
        }
        // The calling thread is one of the workers.
        work();
    });

    let state = schedule
        .into_inner()
        .unwrap_or_else(PoisonError::into_inner);
    if let Some(err) = state.failure {
        return Err(err);
    }
    let mut packets = Vec::with_capacity(packet_count);
    for (segment, complete) in state.encoded {
        if !complete {
            return Err(MediaError::Processing(
                "an Opus segment was not encoded".to_owned(),
            ));
        }
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
/// audio before them, handing them to `publish` [`PUBLISH_PACKETS`] at a
/// time (the last batch marked).
fn encode_segment(
    samples: &[f32],
    packets: Range<usize>,
    bitrate_bps: u32,
    mut publish: impl FnMut(Vec<Vec<u8>>, bool),
) -> Result<(), MediaError> {
    let mut encoder = new_encoder(bitrate_bps)?;
    let mut frame = [0f32; FRAME_SAMPLES];
    let mut packet = [0u8; MAX_PACKET_BYTES];
    let mut batch = Vec::with_capacity(PUBLISH_PACKETS);
    for index in packets.start.saturating_sub(WARM_UP_PACKETS)..packets.end {
        let start = (index * FRAME_SAMPLES).min(samples.len());
        let end = (start + FRAME_SAMPLES).min(samples.len());
        frame.fill(0.0);
        frame[..end - start].copy_from_slice(&samples[start..end]);
        let len = encoder.encode_float(&frame, &mut packet).map_err(failed)?;
        if index >= packets.start {
            batch.push(packet[..len].to_vec());
            let last = index + 1 == packets.end;
            if batch.len() == PUBLISH_PACKETS || last {
                publish(std::mem::take(&mut batch), last);
            }
        }
    }
    if packets.is_empty() {
        publish(batch, true);
    }
    Ok(())
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
        // 60 s and the look-ahead: 3,001 packets, in 4 segments of 750-751.
        assert_eq!(segment_bounds(3_001).len(), 4);
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
        let lookahead = new_encoder(24_000).unwrap().get_lookahead().unwrap() as usize;
        // The player decodes with one decoder for the whole stream, as a
        // player would, and drops the look-ahead: sample n stands for
        // input sample n.
        let mut player = Player::new(lookahead, samples.len() - lookahead).unwrap();
        let segmented = encode_packets(&samples, packet_count, 24_000, &mut player).unwrap();
        assert_eq!(segmented.len(), packet_count);
        let decoded = player.finish().unwrap().mono;
        assert_eq!(decoded.len(), samples.len() - lookahead);
        // Signal-to-noise ratio over 40 ms each side of a point, against the
        // input the decoded samples stand for.
        let snr_db_around = |point: usize| {
            let span = point - 1_920..point + 1_920;
            let error: f32 = span
                .clone()
                .map(|n| (decoded[n] - samples[n]).powi(2))
                .sum();
            let signal: f32 = span.map(|n| samples[n].powi(2)).sum();
            10.0 * (signal / error).log10()
        };
        // The seam in the input: the packet that starts the second segment
        // codes from the look-ahead before its first sample.
        let seam = segment_bounds(packet_count)[1].start * FRAME_SAMPLES - lookahead;
        let seam_snr = snr_db_around(seam);
        let inside_snr = snr_db_around(seam / 2);
        assert!(
            seam_snr > inside_snr - 3.0,
            "{seam_snr} dB around the seam, {inside_snr} dB inside a segment"
        );
    }
}
