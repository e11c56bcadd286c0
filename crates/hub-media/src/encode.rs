//! Normalised 48 kHz samples to an Ogg Opus file (RFC 7845), with libopus,
//! checked by decoding it.
//!
//! The packets are encoded first (`segments`: in parallel, each segment
//! decoded and measured by `check` as soon as the segments before it are)
//! and the file written after, so the Ogg serial number can be derived from
//! the audio: the same audio always gives the same bytes, which content
//! addressing needs, while different files still get different serials.
//! The written file is then read back and must hold exactly the packets
//! that were decoded.

mod check;
mod segments;

use ogg::writing::{PacketWriteEndInfo, PacketWriter};
use sha2::{Digest, Sha256};

use crate::error::MediaError;
pub(crate) use check::Played;
use segments::FRAME_SAMPLES;

/// Packets per Ogg page: one second, so a player streaming the file starts
/// within a second and a damaged page loses at most a second.
const PACKETS_PER_PAGE: usize = 50;

/// An Ogg Opus file and what it decodes to.
pub(crate) struct Encoded {
    pub ogg: Vec<u8>,
    pub played: Played,
}

/// Encodes `samples` (mono, 48 kHz) into an Ogg Opus file and decodes it
/// again, measuring what it plays.
pub(crate) fn encode_ogg_opus(
    samples: &[f32],
    input_sample_rate: u32,
    bitrate_bps: u32,
) -> Result<Encoded, MediaError> {
    // The encoder's look-ahead: decoders drop this many samples (pre-skip).
    let lookahead = segments::new_encoder(bitrate_bps)?
        .get_lookahead()
        .map_err(segments::failed)?;
    let pre_skip = u16::try_from(lookahead)
        .map_err(|_| MediaError::Processing("libopus look-ahead out of range".to_owned()))?;

    // Encode the look-ahead's worth of padding too, so the last real sample
    // comes out of the decoder.
    let coded_samples = samples.len() + usize::from(pre_skip);
    let packet_count = coded_samples.div_ceil(FRAME_SAMPLES);
    let mut player = check::Player::new(usize::from(pre_skip), samples.len())?;
    let packets = segments::encode_packets(samples, packet_count, bitrate_bps, &mut player)?;
    let played = player.finish()?;

    let serial = serial_for(&packets);
    let head = opus_head(pre_skip, input_sample_rate);
    let tags = opus_tags();
    let mut writer = PacketWriter::new(Vec::new());
    let write_failed = |err: std::io::Error| MediaError::Processing(format!("Ogg writer: {err}"));
    // Each header on a page of its own, granule 0 (RFC 7845, section 3).
    for header in [&head, &tags] {
        writer
            .write_packet(header.as_slice(), serial, PacketWriteEndInfo::EndPage, 0)
            .map_err(write_failed)?;
    }
    for (index, data) in packets.iter().enumerate() {
        let end = if index + 1 == packet_count {
            PacketWriteEndInfo::EndStream
        } else if (index + 1) % PACKETS_PER_PAGE == 0 {
            PacketWriteEndInfo::EndPage
        } else {
            PacketWriteEndInfo::NormalPacket
        };
        writer
            .write_packet(
                data.as_slice(),
                serial,
                end,
                granule_after(index, packet_count, coded_samples),
            )
            .map_err(write_failed)?;
    }
    let ogg = writer.into_inner();
    check::verify_ogg(
        &ogg,
        &check::Expected {
            head: &head,
            tags: &tags,
            packets: &packets,
            serial,
            coded_samples,
        },
    )?;
    Ok(Encoded { ogg, played })
}

/// The granule position after packet `index` of `packet_count`: granules
/// count decoded samples, pre-skip included; the last one stops at the last
/// real sample, which trims the padding.
fn granule_after(index: usize, packet_count: usize, coded_samples: usize) -> u64 {
    if index + 1 == packet_count {
        coded_samples as u64
    } else {
        ((index + 1) * FRAME_SAMPLES) as u64
    }
}

/// RFC 7845 section 5.1, channel mapping family 0 (mono).
fn opus_head(pre_skip: u16, input_sample_rate: u32) -> Vec<u8> {
    let mut head = Vec::with_capacity(19);
    head.extend_from_slice(b"OpusHead");
    head.push(1); // version
    head.push(1); // channels
    head.extend_from_slice(&pre_skip.to_le_bytes());
    head.extend_from_slice(&input_sample_rate.to_le_bytes());
    head.extend_from_slice(&0i16.to_le_bytes()); // output gain: loudness is already set
    head.push(0); // mapping family
    head
}

/// RFC 7845 section 5.2: the vendor string and no comments.
fn opus_tags() -> Vec<u8> {
    let vendor = opus::version().as_bytes();
    let mut tags = Vec::with_capacity(16 + vendor.len());
    tags.extend_from_slice(b"OpusTags");
    tags.extend_from_slice(&(vendor.len() as u32).to_le_bytes());
    tags.extend_from_slice(vendor);
    tags.extend_from_slice(&0u32.to_le_bytes());
    tags
}

fn serial_for(packets: &[Vec<u8>]) -> u32 {
    let mut hasher = Sha256::new();
    for packet in packets {
        hasher.update(packet);
    }
    let digest = hasher.finalize();
    u32::from_le_bytes([digest[0], digest[1], digest[2], digest[3]])
}
