//! Mono 48 kHz samples to an Ogg Opus file (RFC 7845), with libopus.
//!
//! The packets are encoded first (`segments`: in parallel) and the file
//! written after, so the Ogg serial number can be derived from the audio: the
//! same audio always gives the same bytes, which content addressing needs,
//! while different files still get different serials.

mod segments;

use ogg::writing::{PacketWriteEndInfo, PacketWriter};
use sha2::{Digest, Sha256};

use crate::error::MediaError;
use segments::FRAME_SAMPLES;

/// Packets per Ogg page: one second, so a player streaming the file starts
/// within a second and a damaged page loses at most a second.
const PACKETS_PER_PAGE: usize = 50;

pub(crate) fn encode_ogg_opus(
    samples: &[f32],
    input_sample_rate: u32,
    bitrate_bps: u32,
) -> Result<Vec<u8>, MediaError> {
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
    let packets = segments::encode_packets(samples, packet_count, bitrate_bps)?;

    let serial = serial_for(&packets);
    let mut writer = PacketWriter::new(Vec::new());
    let write_failed = |err: std::io::Error| MediaError::Processing(format!("Ogg writer: {err}"));
    // Each header on a page of its own, granule 0 (RFC 7845, section 3).
    writer
        .write_packet(
            opus_head(pre_skip, input_sample_rate),
            serial,
            PacketWriteEndInfo::EndPage,
            0,
        )
        .map_err(write_failed)?;
    writer
        .write_packet(opus_tags(), serial, PacketWriteEndInfo::EndPage, 0)
        .map_err(write_failed)?;
    for (index, data) in packets.into_iter().enumerate() {
        let last = index + 1 == packet_count;
        // Granules count decoded samples, pre-skip included; the last one
        // stops at the last real sample, which trims the padding.
        let granule = if last {
            coded_samples
        } else {
            (index + 1) * FRAME_SAMPLES
        };
        let end = if last {
            PacketWriteEndInfo::EndStream
        } else if (index + 1) % PACKETS_PER_PAGE == 0 {
            PacketWriteEndInfo::EndPage
        } else {
            PacketWriteEndInfo::NormalPacket
        };
        writer
            .write_packet(data, serial, end, granule as u64)
            .map_err(write_failed)?;
    }
    Ok(writer.into_inner())
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
