//! Ogg Opus input (RFC 7845), decoded with libopus: symphonia can demux Ogg
//! Opus but has no Opus decoder.
//!
//! Mapping family 0 only (mono or stereo), which is what phones, messaging
//! apps and `opusenc` write.

use std::io::{Cursor, ErrorKind};
use std::time::Duration;

use ogg::reading::{OggReadError, PacketReader};
use opus::{Channels, Decoder};

use super::{DecodedAudio, InputFacts, MonoCollector};
use crate::error::MediaError;

/// Opus always decodes at 48 kHz here; granule positions count at 48 kHz.
const OPUS_RATE: u32 = 48_000;
/// The longest Opus packet: 120 ms at 48 kHz.
const MAX_PACKET_FRAMES: usize = 5_760;

/// The first packet of the first page is an `OpusHead`.
pub(super) fn looks_like_ogg_opus(bytes: &[u8]) -> bool {
    // Page header: 27 bytes, then as many lacing values as byte 26 says.
    let Some(&segments) = bytes.get(26) else {
        return false;
    };
    let first_packet = 27 + usize::from(segments);
    bytes.starts_with(b"OggS")
        && bytes
            .get(first_packet..)
            .is_some_and(|rest| rest.starts_with(b"OpusHead"))
}

/// The fields of `OpusHead` that decoding needs.
struct OpusHead {
    channels: u8,
    pre_skip: u64,
    /// Output gain, Q7.8 dB, applied to every decoded sample.
    output_gain: i16,
}

impl OpusHead {
    fn parse(packet: &[u8]) -> Result<Self, MediaError> {
        let corrupt = |detail: &str| MediaError::Corrupt {
            detail: format!("OpusHead {detail}"),
        };
        if packet.len() < 19 || !packet.starts_with(b"OpusHead") {
            return Err(corrupt("is shorter than 19 bytes"));
        }
        // Major version 0 is the only one defined; minor versions stay compatible.
        if packet[8] >> 4 != 0 {
            return Err(MediaError::UnsupportedCodec {
                codec: format!("Ogg Opus version {}", packet[8]),
            });
        }
        let channels = packet[9];
        let mapping_family = packet[18];
        if mapping_family != 0 {
            return Err(MediaError::UnsupportedCodec {
                codec: format!(
                    "Opus with channel mapping family {mapping_family} ({channels} channels)"
                ),
            });
        }
        if !(1..=2).contains(&channels) {
            return Err(corrupt("declares a channel count family 0 cannot have"));
        }
        Ok(Self {
            channels,
            pre_skip: u64::from(u16::from_le_bytes([packet[10], packet[11]])),
            output_gain: i16::from_le_bytes([packet[16], packet[17]]),
        })
    }
}

pub(super) fn decode(bytes: &[u8], max_duration: Duration) -> Result<DecodedAudio, MediaError> {
    let mut reader = PacketReader::new(Cursor::new(bytes));
    let head_packet = next_packet(&mut reader)?.ok_or_else(|| MediaError::Truncated {
        detail: "the Ogg stream has no OpusHead".to_owned(),
    })?;
    let serial = head_packet.stream_serial();
    let head = OpusHead::parse(&head_packet.data)?;

    let tags = next_packet_of(&mut reader, serial)?.ok_or_else(|| MediaError::Truncated {
        detail: "the Ogg Opus stream ends before its OpusTags".to_owned(),
    })?;
    if !tags.data.starts_with(b"OpusTags") {
        return Err(MediaError::Corrupt {
            detail: "the second Ogg Opus packet is not OpusTags".to_owned(),
        });
    }

    let channels = usize::from(head.channels);
    let mut decoder = Decoder::new(
        OPUS_RATE,
        if channels == 1 {
            Channels::Mono
        } else {
            Channels::Stereo
        },
    )
    .map_err(|err| MediaError::Processing(format!("libopus decoder: {err}")))?;
    let gain = 10f32.powf(f32::from(head.output_gain) / (20.0 * 256.0));

    let mut collector = MonoCollector::new(OPUS_RATE, channels, max_duration)?;
    let mut packet_pcm = vec![0f32; MAX_PACKET_FRAMES * channels];
    // A page's audio is held back until the page ends: only then is its
    // granule position known, which on the last page trims the encoder's
    // padding from the end.
    let mut page_pcm: Vec<f32> = Vec::new();
    let mut decoded_frames: u64 = 0;
    let mut ended = false;
    while let Some(packet) = next_packet_of(&mut reader, serial)? {
        let frames = decoder
            .decode_float(&packet.data, &mut packet_pcm, false)
            .map_err(|err| MediaError::Corrupt {
                detail: format!("an Opus packet does not decode: {err}"),
            })?;
        // Pre-skip: the first samples are the encoder's warm-up, not audio.
        let skip = head
            .pre_skip
            .saturating_sub(decoded_frames)
            .min(frames as u64) as usize;
        decoded_frames += frames as u64;
        page_pcm.extend(
            packet_pcm[skip * channels..frames * channels]
                .iter()
                .map(|sample| sample * gain),
        );
        if packet.last_in_stream() {
            let valid = packet.absgp_page().saturating_sub(head.pre_skip);
            let held_from = collector.frames();
            let keep = valid
                .saturating_sub(held_from)
                .min((page_pcm.len() / channels) as u64);
            page_pcm.truncate(keep as usize * channels);
        }
        if packet.last_in_page() {
            collector.push_interleaved(&page_pcm)?;
            page_pcm.clear();
        }
        if packet.last_in_stream() {
            ended = true;
            break;
        }
    }
    if !ended {
        return Err(MediaError::Truncated {
            detail: "the Ogg Opus stream stops before its last page".to_owned(),
        });
    }
    if next_packet(&mut reader)?.is_some() {
        return Err(MediaError::UnsupportedCodec {
            codec: "several Ogg streams chained one after another".to_owned(),
        });
    }

    let facts = InputFacts {
        container: "ogg".to_owned(),
        codec: "opus".to_owned(),
        sample_rate: OPUS_RATE,
        channels: u16::from(head.channels),
    };
    collector.finish(facts)
}

fn next_packet(
    reader: &mut PacketReader<Cursor<&[u8]>>,
) -> Result<Option<ogg::Packet>, MediaError> {
    reader.read_packet().map_err(|err| match err {
        OggReadError::ReadError(io) if io.kind() == ErrorKind::UnexpectedEof => {
            MediaError::Truncated {
                detail: "the Ogg stream ends in the middle of a page".to_owned(),
            }
        }
        OggReadError::HashMismatch(..) => MediaError::Corrupt {
            detail: "an Ogg page fails its checksum".to_owned(),
        },
        other => MediaError::Corrupt {
            detail: format!("the Ogg stream is malformed ({other})"),
        },
    })
}

/// The next packet of the Opus stream, skipping other multiplexed streams.
fn next_packet_of(
    reader: &mut PacketReader<Cursor<&[u8]>>,
    serial: u32,
) -> Result<Option<ogg::Packet>, MediaError> {
    while let Some(packet) = next_packet(reader)? {
        if packet.stream_serial() == serial {
            return Ok(Some(packet));
        }
    }
    Ok(None)
}
