//! MP3 decoded on two cores, with exactly the samples of one decoder.
//!
//! An MP3 decoder remembers little: the bit reservoir (a frame's data may
//! start up to 511 bytes back, in the frames before it), the second half of
//! the last granule's transform and the synthesis filter's last 512
//! samples. So a second decoder started [`WARM_UP_PACKETS`] before the
//! middle has forgotten that it started late by the middle: from there on it
//! gives the same samples as the decoder that went through the first half.
//! That is checked, not assumed: the last [`COMPARED_PACKETS`] packets
//! before the middle, which both decoders decode, must come out of both
//! bit for bit the same. If they do not (or the second decoder meets a
//! damaged packet, whose handling depends on what came before), the first
//! decoder goes on through the second half itself, as if there were one
//! core.

use std::thread;
use std::time::Duration;

use symphonia::core::codecs::audio::{well_known as codec_ids, AudioCodecId, AudioDecoder};
use symphonia::core::packet::Packet;

use super::{Decoded, StreamDecoder};
use crate::error::MediaError;

/// Packets the second decoder decodes before its half and throws away: the
/// bit reservoir reaches back 511 bytes, four frames at the lowest MPEG-1
/// bitrate (144 bytes a frame) and at most four at MPEG-2's (255 bytes
/// back); twice as many more leave the transform and the filter settled.
const WARM_UP_PACKETS: usize = 16;
/// The last of those, which must come out as the first decoder's did.
const COMPARED_PACKETS: usize = 4;
/// Streams shorter than this (about 5 s) are decoded on one core: a thread
/// and the warm-up would cost more than they save.
pub(super) const MIN_SPLIT_PACKETS: usize = 200;
/// Packets an MP3 holds beyond its playing time: the encoder's delay and
/// the decoder's (LAME: 1,105 samples) before the audio, and the last
/// frame's padding. Without them a file exactly as long as allowed would
/// not count as read whole, and be decoded on one core. The length itself
/// is checked on the decoded samples.
const DELAY_AND_PADDING_PACKETS: usize = 3;

/// What one packet decoded to, kept for later.
#[derive(Clone, Debug, PartialEq)]
pub(super) enum PacketAudio {
    Nothing,
    Samples {
        rate: u32,
        channels: usize,
        interleaved: Vec<f32>,
    },
}

/// How many packets of `codec` may be read before decoding without
/// reading more than `max_duration` holds (then decoding says it is too
/// long); `None` for codecs not decoded in halves.
pub(super) fn packet_limit(
    codec: AudioCodecId,
    sample_rate: Option<u32>,
    max_duration: Duration,
) -> Option<usize> {
    if codec != codec_ids::CODEC_ID_MP3 {
        return None;
    }
    // MPEG-1 (32 kHz and up) frames hold 1,152 samples, MPEG-2 and 2.5
    // frames 576.
    let rate = sample_rate?;
    let frame = if rate >= 32_000 { 1_152 } else { 576 };
    let max_frames = max_duration.as_millis() * u128::from(rate) / 1000;
    usize::try_from(max_frames.div_ceil(frame))
        .ok()?
        .checked_add(DELAY_AND_PADDING_PACKETS)
}

/// Decodes all of `packets` (read to the end of the stream) into `first`:
/// the first half on this thread, the second on another with `second`.
/// Says whether the second decoder's half was kept.
pub(super) fn decode(
    first: &mut StreamDecoder,
    second: Box<dyn AudioDecoder>,
    packets: &[Packet],
) -> Result<bool, MediaError> {
    let middle = packets.len() / 2;
    let compared_from = middle.saturating_sub(COMPARED_PACKETS);
    let warm_up_from = middle.saturating_sub(WARM_UP_PACKETS);
    let (first_half, second_half) = thread::scope(|scope| {
        let second_half = scope.spawn(|| decode_apart(second, &packets[warm_up_from..]));
        let mut compared = Vec::with_capacity(COMPARED_PACKETS);
        let first_half = packets[..middle]
            .iter()
            .enumerate()
            .try_for_each(|(index, packet)| {
                let decoded = first.decode(packet)?;
                if index >= compared_from {
                    compared.push(match decoded {
                        Decoded::Skipped => None,
                        Decoded::Nothing => Some(PacketAudio::Nothing),
                        Decoded::Samples { rate, channels } => Some(PacketAudio::Samples {
                            rate,
                            channels,
                            interleaved: first.interleaved.clone(),
                        }),
                    });
                }
                Ok::<_, MediaError>(())
            })
            .map(|()| compared);
        (first_half, second_half.join())
    });
    let compared = first_half?;
    let seam = middle - warm_up_from;
    let agrees = |apart: &[PacketAudio]| {
        compared.len() == seam.min(COMPARED_PACKETS)
            && compared
                .iter()
                .zip(&apart[seam - compared.len()..seam])
                .all(|(first, second)| first.as_ref() == Some(second))
    };
    match second_half {
        Ok(Some(apart)) if agrees(&apart) => {
            for audio in apart.into_iter().skip(seam) {
                first.push(audio)?;
            }
            Ok(true)
        }
        _ => {
            for packet in &packets[middle..] {
                first.decode(packet)?;
            }
            Ok(false)
        }
    }
}

/// Decodes `packets` with a decoder of their own; `None` at the first
/// packet that does not decode.
fn decode_apart(
    mut decoder: Box<dyn AudioDecoder>,
    packets: &[Packet],
) -> Option<Vec<PacketAudio>> {
    packets
        .iter()
        .map(|packet| {
            let buffer = decoder.decode(packet).ok()?;
            if buffer.frames() == 0 {
                return Some(PacketAudio::Nothing);
            }
            let mut interleaved = Vec::new();
            buffer.copy_to_vec_interleaved(&mut interleaved);
            Some(PacketAudio::Samples {
                rate: buffer.spec().rate(),
                channels: buffer.spec().channels().count(),
                interleaved,
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use std::io::Cursor;
    use std::process::Command;

    use symphonia::core::codecs::audio::AudioDecoderOptions;
    use symphonia::core::formats::probe::Hint;
    use symphonia::core::formats::FormatOptions;
    use symphonia::core::io::MediaSourceStream;
    use symphonia::core::meta::MetadataOptions;

    use super::super::decode_with_symphonia;
    use super::*;

    /// An MP3 made by ffmpeg from a speech-like test signal.
    fn mp3(secs: u32, rate: u32, channels: u32, bitrate: &[&str]) -> Vec<u8> {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("test.mp3");
        let source = format!(
            "aevalsrc=exprs='0.2*(sin(2*PI*180*t)+0.5*sin(2*PI*2360*t))*(0.55+0.45*sin(2*PI*4*t))+0.05*(random(0)-0.5)':s={rate}:d={secs}"
        );
        let status = Command::new("ffmpeg")
            .args([
                "-nostdin",
                "-loglevel",
                "error",
                "-f",
                "lavfi",
                "-i",
                &source,
            ])
            .args(["-ac", &channels.to_string(), "-c:a", "libmp3lame"])
            .args(bitrate)
            .arg(&out)
            .status()
            .expect("ffmpeg is needed to make MP3 test files (apt-get install ffmpeg)");
        assert!(status.success());
        std::fs::read(out).unwrap()
    }

    /// A decoder for the file's track, another for its second half, and
    /// its packets.
    fn open(bytes: &[u8]) -> (StreamDecoder, Box<dyn AudioDecoder>, Vec<Packet>) {
        let source =
            MediaSourceStream::new(Box::new(Cursor::new(bytes.to_vec())), Default::default());
        let mut format = symphonia::default::get_probe()
            .probe(
                &Hint::new(),
                source,
                FormatOptions::default(),
                MetadataOptions::default(),
            )
            .unwrap();
        let params = format.tracks()[0]
            .codec_params
            .as_ref()
            .and_then(|params| params.audio())
            .unwrap()
            .clone();
        let decoder = || {
            symphonia::default::get_codecs()
                .make_audio_decoder(&params, &AudioDecoderOptions::default())
                .unwrap()
        };
        let mut packets = Vec::new();
        while let Some(packet) = format.next_packet().unwrap() {
            packets.push(packet);
        }
        let stream = StreamDecoder {
            decoder: decoder(),
            codec: "mp3".to_owned(),
            max_duration: Duration::from_secs(600),
            collected: None,
            interleaved: Vec::new(),
            bad_in_a_row: 0,
            last_bad: String::new(),
        };
        (stream, decoder(), packets)
    }

    /// The mono samples and loudness `stream` collected.
    fn collected(stream: StreamDecoder) -> (Vec<f32>, f64) {
        let (collector, _) = stream.collected.unwrap();
        let facts = super::super::InputFacts {
            container: String::new(),
            codec: String::new(),
            sample_rate: 0,
            channels: 0,
        };
        let decoded = collector.finish(facts).unwrap();
        (decoded.mono, decoded.loudness_lufs)
    }

    #[test]
    fn halves_decode_to_the_samples_of_one_decoder() {
        // A phone's MP3, a low-bitrate MPEG-2 one whose reservoir reaches
        // back over several frames, a mono VBR one.
        let cases: [(u32, u32, &[&str]); 3] = [
            (44_100, 2, &["-b:a", "128k"]),
            (22_050, 1, &["-b:a", "24k"]),
            (48_000, 1, &["-q:a", "7"]),
        ];
        for (rate, channels, bitrate) in cases {
            let bytes = mp3(20, rate, channels, bitrate);
            let (mut one, _, packets) = open(&bytes);
            for packet in &packets {
                one.decode(packet).unwrap();
            }
            let (mut two, second, _) = open(&bytes);
            assert!(
                decode(&mut two, second, &packets).unwrap(),
                "{rate} Hz {bitrate:?}: the halves did not join"
            );
            let (one, two) = (collected(one), collected(two));
            assert_eq!(one.0.len(), two.0.len(), "{rate} Hz {bitrate:?}");
            assert!(one.0 == two.0, "{rate} Hz {bitrate:?}");
            assert_eq!(one.1, two.1);

            // The same through `decode_with_symphonia`, on one core or two.
            let limit = Duration::from_secs(60);
            let serial = decode_with_symphonia(&bytes, None, limit, usize::MAX).unwrap();
            let split = decode_with_symphonia(&bytes, None, limit, MIN_SPLIT_PACKETS).unwrap();
            assert_eq!(serial.facts, split.facts);
            assert!(serial.mono == split.mono && serial.mono == one.0);
        }
    }

    #[test]
    fn a_damaged_packet_where_the_halves_meet_leaves_the_second_half_to_the_first_decoder() {
        let bytes = mp3(10, 44_100, 2, &["-b:a", "128k"]);
        let (mut one, _, mut packets) = open(&bytes);
        let middle = packets.len() / 2;
        packets[middle - 2].data = vec![0xAB; packets[middle - 2].data.len()].into();
        for packet in &packets {
            one.decode(packet).unwrap();
        }
        let (mut two, second, _) = open(&bytes);
        assert!(!decode(&mut two, second, &packets).unwrap());
        assert!(collected(one).0 == collected(two).0);
    }

    #[test]
    fn too_long_is_refused_before_it_is_read_whole() {
        let bytes = mp3(12, 44_100, 2, &["-b:a", "64k"]);
        let result =
            decode_with_symphonia(&bytes, None, Duration::from_secs(10), MIN_SPLIT_PACKETS);
        let Err(err) = result else {
            panic!("12 s decoded under a 10 s limit");
        };
        assert!(
            matches!(err, MediaError::TooLong { max_secs: 10 }),
            "{err:?}"
        );
    }

    #[test]
    fn an_mp3_as_long_as_allowed_is_read_whole() {
        for (rate, channels, bitrate) in [(44_100, 2, "128k"), (22_050, 1, "24k")] {
            let secs = 20;
            let bytes = mp3(secs, rate, channels, &["-b:a", bitrate]);
            let (_, _, packets) = open(&bytes);
            let limit = packet_limit(
                codec_ids::CODEC_ID_MP3,
                Some(rate),
                Duration::from_secs(secs.into()),
            )
            .unwrap();
            assert!(
                packets.len() <= limit,
                "{rate} Hz: {} packets, {limit} read ahead",
                packets.len()
            );
        }
    }

    #[test]
    fn only_mp3_is_read_ahead() {
        let ten_minutes = Duration::from_secs(600);
        assert_eq!(
            packet_limit(codec_ids::CODEC_ID_MP3, Some(44_100), ten_minutes),
            Some((600 * 44_100usize).div_ceil(1_152) + DELAY_AND_PADDING_PACKETS)
        );
        assert_eq!(
            packet_limit(codec_ids::CODEC_ID_MP3, Some(22_050), ten_minutes),
            Some((600 * 22_050usize).div_ceil(576) + DELAY_AND_PADDING_PACKETS)
        );
        assert_eq!(
            packet_limit(codec_ids::CODEC_ID_MP3, None, ten_minutes),
            None
        );
        assert_eq!(
            packet_limit(codec_ids::CODEC_ID_AAC, Some(44_100), ten_minutes),
            None
        );
    }
}
