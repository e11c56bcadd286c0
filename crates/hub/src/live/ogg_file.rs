//! The Opus packets of an Ogg Opus file (RFC 7845), for streaming a
//! recording as if it were spoken now (`hub emergency live --file`, tests).
//! The file must be mono; its packets are checked as the hub checks them.

use std::io::Cursor;

use super::packets::{self, PacketError};

/// Why a file cannot be streamed.
#[derive(Debug, thiserror::Error)]
pub enum OggOpusError {
    #[error("not an Ogg file: {0}")]
    NotOgg(String),
    #[error("not an Ogg Opus file: its first packet is not an OpusHead")]
    NotOpus,
    #[error("{0} channels: a live stream is mono")]
    NotMono(u8),
    #[error("packet {index}: {error}")]
    BadPacket { index: usize, error: PacketError },
    #[error("the file holds no audio")]
    Empty,
}

/// The audio packets of `file`, in playing order (the `OpusHead` and
/// `OpusTags` headers left out).
pub fn opus_packets(file: &[u8]) -> Result<Vec<Vec<u8>>, OggOpusError> {
    let mut reader = ogg::PacketReader::new(Cursor::new(file));
    let mut next = || {
        reader
            .read_packet()
            .map_err(|error| OggOpusError::NotOgg(error.to_string()))
    };
    let head = next()?.ok_or(OggOpusError::NotOpus)?;
    if !head.data.starts_with(b"OpusHead") || head.data.len() < 19 {
        return Err(OggOpusError::NotOpus);
    }
    let channels = head.data[9];
    if channels != 1 {
        return Err(OggOpusError::NotMono(channels));
    }
    // The comment header (it may span pages; the reader joins them).
    next()?.ok_or(OggOpusError::Empty)?;
    let mut audio = Vec::new();
    while let Some(packet) = next()? {
        packets::check(&packet.data).map_err(|error| OggOpusError::BadPacket {
            index: audio.len(),
            error,
        })?;
        audio.push(packet.data);
    }
    if audio.is_empty() {
        return Err(OggOpusError::Empty);
    }
    Ok(audio)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn files_that_are_not_mono_ogg_opus_are_refused() {
        assert!(matches!(
            opus_packets(b"RIFF....WAVE"),
            Err(OggOpusError::NotOgg(_) | OggOpusError::NotOpus)
        ));
        let mut writer = ogg::PacketWriter::new(Vec::new());
        let mut head = b"OpusHead".to_vec();
        head.extend([1, 2, 0, 0, 0x80, 0xbb, 0, 0, 0, 0, 0]);
        writer
            .write_packet(head, 1, ogg::PacketWriteEndInfo::EndStream, 0)
            .unwrap();
        let stereo = writer.into_inner();
        assert!(matches!(
            opus_packets(&stereo),
            Err(OggOpusError::NotMono(2))
        ));
    }
}
