//! The decode check: what loudspeakers will play, measured while the rest of
//! the file is still being encoded.
//!
//! [`Player`] decodes the packets with libopus in stream order, segment by
//! segment as [`super::segments`] finishes them, with one decoder for the
//! whole stream, exactly as a player would: the pre-skip is dropped and the
//! end stops at the last real sample. It measures the integrated loudness
//! and the true peak (BS.1770, `loudness::StreamMeter`) as it goes. Once the file is
//! muxed, [`verify_ogg`] reads it back (page checksums, headers, granule
//! positions, end of stream) and checks that it holds exactly the packets
//! that were decoded, so the figures are those of the file's own audio.

use std::io::Cursor;

use ogg::reading::PacketReader;
use opus::{Channels, Decoder};

use super::granule_after;
use super::segments::FRAME_SAMPLES;
use crate::error::MediaError;
use crate::loudness::StreamMeter;
use crate::OUTPUT_SAMPLE_RATE;

/// The largest Opus packet decodes to 120 ms at 48 kHz.
const MAX_PACKET_FRAMES: usize = 5_760;

/// What the encoded packets decode to.
pub(crate) struct Played {
    /// The decoded audio, pre-skip and padding removed: as long as the
    /// input.
    pub mono: Vec<f32>,
    /// Integrated loudness, in LUFS.
    pub loudness_lufs: f64,
    /// True peak, in dBTP.
    pub true_peak_dbtp: f64,
}

/// Decodes and measures a stream's packets, fed in order.
pub(super) struct Player {
    decoder: Decoder,
    meter: StreamMeter,
    pcm: Vec<f32>,
    mono: Vec<f32>,
    /// Decoded samples still to drop: the encoder's look-ahead.
    to_skip: usize,
    /// Samples the stream stands for.
    wanted: usize,
}

impl Player {
    pub(super) fn new(pre_skip: usize, wanted: usize) -> Result<Self, MediaError> {
        let decoder = Decoder::new(OUTPUT_SAMPLE_RATE, Channels::Mono).map_err(|err| {
            MediaError::Processing(format!("libopus decoder for the check: {err}"))
        })?;
        Ok(Self {
            decoder,
            meter: StreamMeter::new(OUTPUT_SAMPLE_RATE)?,
            pcm: vec![0f32; MAX_PACKET_FRAMES],
            mono: Vec::with_capacity(wanted),
            to_skip: pre_skip,
            wanted,
        })
    }

    /// Decodes the next packets of the stream and measures them.
    pub(super) fn play(&mut self, packets: &[Vec<u8>]) -> Result<(), MediaError> {
        let start = self.mono.len();
        for packet in packets {
            let frames = self
                .decoder
                .decode_float(packet, &mut self.pcm, false)
                .map_err(|err| {
                    MediaError::Processing(format!("an encoded Opus packet does not decode: {err}"))
                })?;
            if frames != FRAME_SAMPLES {
                return Err(MediaError::Processing(format!(
                    "an encoded Opus packet decodes to {frames} samples, not {FRAME_SAMPLES}"
                )));
            }
            let skip = self.to_skip.min(frames);
            self.to_skip -= skip;
            let keep = (frames - skip).min(self.wanted - self.mono.len());
            self.mono.extend_from_slice(&self.pcm[skip..skip + keep]);
        }
        self.meter.add(&self.mono, start);
        Ok(())
    }

    /// The figures, once every packet has been played.
    pub(super) fn finish(self) -> Result<Played, MediaError> {
        if self.mono.len() != self.wanted {
            return Err(MediaError::Processing(format!(
                "the encoded stream decodes to {} samples, not {}",
                self.mono.len(),
                self.wanted
            )));
        }
        let (loudness_lufs, true_peak_dbtp) = self.meter.finish(&self.mono);
        Ok(Played {
            loudness_lufs,
            true_peak_dbtp,
            mono: self.mono,
        })
    }
}

/// What an Ogg Opus file must hold: its two headers, then the packets, with
/// these granule positions.
pub(super) struct Expected<'a> {
    pub head: &'a [u8],
    pub tags: &'a [u8],
    pub packets: &'a [Vec<u8>],
    pub serial: u32,
    /// Samples coded, pre-skip included: the last granule position.
    pub coded_samples: usize,
}

/// Reads `ogg` back and checks it holds exactly `expected`: every page's
/// checksum, one stream, the headers on pages of their own, each packet's
/// bytes, the granule position of every page and the end-of-stream flag on
/// the last packet, with nothing after it.
pub(super) fn verify_ogg(ogg: &[u8], expected: &Expected<'_>) -> Result<(), MediaError> {
    let wrong = |what: String| MediaError::Processing(format!("the written Ogg file {what}"));
    let mut reader = PacketReader::new(Cursor::new(ogg));
    let mut next = || {
        reader
            .read_packet()
            .map_err(|err| wrong(format!("does not read back: {err}")))
    };
    for (name, header) in [("OpusHead", expected.head), ("OpusTags", expected.tags)] {
        let packet = next()?.ok_or_else(|| wrong(format!("has no {name}")))?;
        if packet.data != header
            || packet.stream_serial() != expected.serial
            || !packet.last_in_page()
            || packet.absgp_page() != 0
        {
            return Err(wrong(format!("has a wrong {name} page")));
        }
    }
    for (index, data) in expected.packets.iter().enumerate() {
        let packet = next()?.ok_or_else(|| wrong(format!("stops before packet {index}")))?;
        if packet.data != *data || packet.stream_serial() != expected.serial {
            return Err(wrong(format!("holds another packet {index}")));
        }
        let granule = granule_after(index, expected.packets.len(), expected.coded_samples);
        if packet.last_in_page() && packet.absgp_page() != granule {
            return Err(wrong(format!(
                "has a wrong granule position at packet {index}"
            )));
        }
        if packet.last_in_stream() != (index + 1 == expected.packets.len()) {
            return Err(wrong(format!("ends its stream at packet {index}")));
        }
    }
    if next()?.is_some() {
        return Err(wrong("goes on after its last packet".to_owned()));
    }
    Ok(())
}
