//! What a loudspeaker checks of an audio file before keeping it: that it is
//! an Ogg Opus stream it can play (RFC 7845, mapping family 0: mono or
//! stereo), every packet decoding with libopus, and how long it really lasts.
//!
//! A file can have the size and SHA-256 its plan entry names and still be
//! unplayable (the hub stored a bad file): hashes prove only that the bytes
//! are the ones the hub meant.

use std::io::Cursor;
use std::time::Duration;

use ogg::reading::PacketReader;
use opus::{Channels, Decoder};

/// Granule positions of Ogg Opus count 48 kHz samples, whatever the input rate.
const OPUS_RATE: u32 = 48_000;
/// The longest Opus packet: 120 ms at 48 kHz.
const MAX_PACKET_FRAMES: usize = 5_760;

/// What the check learnt of a playable file.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AudioFacts {
    /// 1 or 2.
    pub channels: u8,
    /// How long it plays: the last granule position less the pre-skip.
    pub duration: Duration,
}

/// Why a file is not one the device can play or show.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct Undecodable(pub String);

fn bad(detail: impl Into<String>) -> Undecodable {
    Undecodable(format!("not a playable Ogg Opus file: {}", detail.into()))
}

/// Checks `bytes` is one playable mono or stereo Ogg Opus stream, decoding
/// every packet (cheap: about a thousand times real time), and returns its
/// channels and duration.
pub fn check_ogg_opus(bytes: &[u8]) -> Result<AudioFacts, Undecodable> {
    match read_ogg_opus(bytes, true)? {
        Read::Whole(facts) => Ok(facts),
        Read::Beginning => Err(bad("the stream stops before its last page")),
    }
}

/// Checks `bytes`, whole Ogg pages from a file's start, begin one playable
/// mono or stereo Ogg Opus stream: its headers are right and every packet
/// they hold decodes. What a device checks of a file's first verified part
/// before playing it while the rest arrives.
pub fn check_ogg_opus_beginning(bytes: &[u8]) -> Result<(), Undecodable> {
    read_ogg_opus(bytes, false).map(|_| ())
}

/// What reading found.
enum Read {
    /// The stream ended in `bytes`, with these facts.
    Whole(AudioFacts),
    /// `bytes` ran out first (only when not asked for the whole stream).
    Beginning,
}

fn read_ogg_opus(bytes: &[u8], whole: bool) -> Result<Read, Undecodable> {
    let mut reader = PacketReader::new(Cursor::new(bytes));
    let mut next = || {
        reader
            .read_packet()
            .map_err(|error| bad(format!("the Ogg stream is malformed ({error})")))
    };
    let head = next()?.ok_or_else(|| bad("no Ogg page"))?;
    let serial = head.stream_serial();
    let head_data = &head.data;
    if head_data.len() < 19 || !head_data.starts_with(b"OpusHead") {
        return Err(bad("the first packet is not an OpusHead"));
    }
    if head_data[8] >> 4 != 0 {
        return Err(bad(format!("Ogg Opus version {}", head_data[8])));
    }
    let channels = head_data[9];
    if head_data[18] != 0 || !(1..=2).contains(&channels) {
        return Err(bad(format!(
            "channel mapping family {} with {channels} channels, not mono or stereo",
            head_data[18]
        )));
    }
    let pre_skip = u64::from(u16::from_le_bytes([head_data[10], head_data[11]]));
    let tags = next()?.ok_or_else(|| bad("the stream ends before its OpusTags"))?;
    if tags.stream_serial() != serial || !tags.data.starts_with(b"OpusTags") {
        return Err(bad("the second packet is not OpusTags"));
    }
    let mut decoder = Decoder::new(
        OPUS_RATE,
        if channels == 1 {
            Channels::Mono
        } else {
            Channels::Stereo
        },
    )
    .map_err(|error| bad(format!("libopus decoder: {error}")))?;
    let mut pcm = vec![0i16; MAX_PACKET_FRAMES * usize::from(channels)];
    let mut decoded: u64 = 0;
    let mut last_granule = None;
    loop {
        let Some(packet) = next()? else {
            if whole {
                break;
            }
            return Ok(Read::Beginning);
        };
        if packet.stream_serial() != serial {
            return Err(bad("more than one Ogg stream"));
        }
        let frames = decoder
            .decode(&packet.data, &mut pcm, false)
            .map_err(|error| bad(format!("an Opus packet does not decode ({error})")))?;
        decoded += frames as u64;
        if packet.last_in_stream() {
            last_granule = Some(packet.absgp_page());
            break;
        }
    }
    let granule = last_granule.ok_or_else(|| bad("the stream stops before its last page"))?;
    if next()?.is_some() {
        return Err(bad("data after the end of the stream"));
    }
    // The last granule may trim the last packet's padding, never add audio.
    if granule < pre_skip || granule > decoded {
        return Err(bad(format!(
            "the last granule position {granule} does not fit {decoded} decoded samples \
             and a pre-skip of {pre_skip}"
        )));
    }
    let samples = granule - pre_skip;
    if samples == 0 {
        return Err(bad("no audio"));
    }
    Ok(Read::Whole(AudioFacts {
        channels,
        duration: Duration::from_nanos(samples * 1_000_000_000 / u64::from(OPUS_RATE)),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn what_is_not_ogg_opus_is_undecodable() {
        for bytes in [&b""[..], b"OggS", &[0x55; 4096], b"RIFF\0\0\0\0WAVEfmt "] {
            assert!(check_ogg_opus(bytes).is_err(), "{bytes:?}");
        }
    }
}
