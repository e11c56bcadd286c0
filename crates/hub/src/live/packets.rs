//! What the hub accepts as one packet of a live stream: an Opus packet
//! (RFC 6716) that libopus parses, mono, playing 20 ms at 48 kHz. Anything
//! else is refused before it reaches a device.

use hub_proto::live::PACKET_MS;

/// Samples of one 20 ms packet at 48 kHz.
const PACKET_SAMPLES: usize = (48 * PACKET_MS) as usize;

/// Longest Opus packet: 1275 bytes of frame data times the most frames a
/// 20 ms packet can hold (eight 2.5 ms frames), plus framing.
pub const MAX_PACKET_BYTES: usize = 8 * 1275 + 16;

/// Why a packet was refused.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum PacketError {
    #[error("an empty packet (an Opus packet has at least its TOC byte)")]
    Empty,
    #[error("{0} bytes: longer than any Opus packet ({MAX_PACKET_BYTES})")]
    TooLong(usize),
    #[error("not a valid Opus packet: {0}")]
    Invalid(String),
    #[error("a stereo packet: live streams are mono")]
    Stereo,
    #[error("plays {0} samples, not 20 ms (960 samples at 48 kHz)")]
    WrongDuration(usize),
}

/// Checks one packet the operator sent.
pub fn check(packet: &[u8]) -> Result<(), PacketError> {
    if packet.is_empty() {
        return Err(PacketError::Empty);
    }
    if packet.len() > MAX_PACKET_BYTES {
        return Err(PacketError::TooLong(packet.len()));
    }
    // libopus checks the TOC, the frame count and every frame's length
    // against the packet's size.
    opus::packet::parse(packet)
        .map(drop)
        .map_err(|error| PacketError::Invalid(error.to_string()))?;
    if opus::packet::get_nb_channels(packet).map_err(|e| PacketError::Invalid(e.to_string()))?
        != opus::Channels::Mono
    {
        return Err(PacketError::Stereo);
    }
    let samples = opus::packet::get_nb_samples(packet, 48_000)
        .map_err(|error| PacketError::Invalid(error.to_string()))?;
    if samples != PACKET_SAMPLES {
        return Err(PacketError::WrongDuration(samples));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `samples` per channel of a tone, encoded by libopus.
    fn encoded(channels: opus::Channels, samples: usize) -> Vec<u8> {
        let mut encoder =
            opus::Encoder::new(48_000, channels, opus::Application::Voip).expect("an encoder");
        let count = match channels {
            opus::Channels::Mono => samples,
            opus::Channels::Stereo => samples * 2,
        };
        let pcm: Vec<f32> = (0..count).map(|i| (i as f32 / 20.0).sin() * 0.3).collect();
        encoder.encode_vec_float(&pcm, 4000).expect("encodes")
    }

    #[test]
    fn a_mono_20_ms_opus_packet_passes() {
        assert_eq!(check(&encoded(opus::Channels::Mono, 960)), Ok(()));
    }

    #[test]
    fn other_packets_are_refused_saying_why() {
        assert_eq!(check(&[]), Err(PacketError::Empty));
        assert_eq!(
            check(&vec![0; MAX_PACKET_BYTES + 1]),
            Err(PacketError::TooLong(MAX_PACKET_BYTES + 1))
        );
        assert_eq!(
            check(&encoded(opus::Channels::Stereo, 960)),
            Err(PacketError::Stereo)
        );
        assert_eq!(
            check(&encoded(opus::Channels::Mono, 480)),
            Err(PacketError::WrongDuration(480))
        );
        // Code 3 (an arbitrary number of frames) with a count byte of zero
        // frames, which RFC 6716 forbids.
        let refused = check(&[0b0000_0011, 0]).unwrap_err();
        assert!(matches!(refused, PacketError::Invalid(_)), "{refused}");
        // Code 1 (two frames of equal size) whose data cannot be halved.
        let refused = check(&[0b0000_0001, 1, 2, 3]).unwrap_err();
        assert!(matches!(refused, PacketError::Invalid(_)), "{refused}");
    }
}
