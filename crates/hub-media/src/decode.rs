//! Input bytes to mono samples at the input's own rate, with what we learnt
//! about the input on the way.
//!
//! Everything here treats the bytes as hostile: decoding stops once the audio
//! passes the maximum duration, runs of undecodable packets end it, a stream
//! that stops short of the length its header declares is truncated, and a
//! panic inside a decoder is reported as corrupt input instead of unwinding
//! into the caller.

mod halves;
mod ogg_opus;

use std::io::{Cursor, ErrorKind};
use std::panic::{self, AssertUnwindSafe};
use std::sync::mpsc::{self, SyncSender};
use std::thread::{self, JoinHandle};
use std::time::Duration;

use symphonia::core::codecs::audio::{
    well_known as codec_ids, AudioCodecId, AudioDecoder, AudioDecoderOptions,
};
use symphonia::core::errors::Error as SymphoniaError;
use symphonia::core::formats::probe::Hint;
use symphonia::core::formats::{FormatOptions, TrackType};
use symphonia::core::io::MediaSourceStream;
use symphonia::core::meta::MetadataOptions;
use symphonia::core::packet::Packet;

use crate::error::MediaError;
use crate::loudness::Meter;

/// Lowest and highest input sample rates accepted: below 8 kHz is not speech
/// quality, above 192 kHz is not a real recording.
const MIN_SAMPLE_RATE: u32 = 8_000;
const MAX_SAMPLE_RATE: u32 = 192_000;

/// Float samples beyond this (24 dB over full scale) are not real audio.
const MAX_SAMPLE_MAGNITUDE: f32 = 16.0;

/// More channels than any upload of speech has; also bounds the work per frame.
const MAX_CHANNELS: usize = 8;

/// Undecodable packets in a row after which the stream counts as corrupt
/// (a few bad packets are skipped, as players do).
const MAX_CONSECUTIVE_BAD_PACKETS: u32 = 16;

/// Samples (all channels) handed to the input meter at a time: about half
/// a second of stereo. Handing over each packet's samples woke the meter
/// for every packet, and the two threads spent a tenth of their time
/// switching.
const METER_CHUNK_SAMPLES: usize = 48 * 1024;

/// Chunks queued for the input meter at most (a few seconds of audio), so a
/// slow meter cannot make decoding hold the whole input twice.
const METER_BACKLOG: usize = 12;

/// How much shorter than its declared length a stream may decode to before it
/// counts as truncated, in milliseconds (headers count encoder padding).
const TRUNCATION_TOLERANCE_MS: u64 = 100;

/// What the input was, as decoded.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InputFacts {
    /// Container format, as symphonia names it (`wave`, `mp3`, `flac`,
    /// `isomp4`, `ogg`, ...).
    pub container: String,
    /// Audio codec (`pcm_s16le`, `mp3`, `aac`, `vorbis`, `flac`, `opus`, ...).
    pub codec: String,
    /// Sample rate of the decoded audio, in Hz.
    pub sample_rate: u32,
    /// Number of channels of the decoded audio.
    pub channels: u16,
}

/// Decoded input: mono samples at `facts.sample_rate`.
pub(crate) struct DecodedAudio {
    pub facts: InputFacts,
    pub mono: Vec<f32>,
    /// Integrated loudness on the original channels; `-inf` if silent.
    pub loudness_lufs: f64,
}

/// Decodes `bytes` into mono, refusing audio longer than `max_duration`.
pub(crate) fn decode(
    bytes: &[u8],
    hint: Option<&str>,
    max_duration: Duration,
) -> Result<DecodedAudio, MediaError> {
    // Decoders are written for well-formed streams; a panic on a malformed
    // one is a property of the input, not a bug to crash the hub over.
    panic::catch_unwind(AssertUnwindSafe(|| {
        if ogg_opus::looks_like_ogg_opus(bytes) {
            ogg_opus::decode(bytes, max_duration)
        } else {
            decode_with_symphonia(bytes, hint, max_duration, halves::MIN_SPLIT_PACKETS)
        }
    }))
    .unwrap_or_else(|_| {
        Err(MediaError::Corrupt {
            detail: "the decoder could not make sense of the data".to_owned(),
        })
    })
}

/// Collects decoded audio: checks the length, downmixes to mono as it goes,
/// so all channels are never held in memory at once, and hands the original
/// channels to a [`MeterThread`].
struct MonoCollector {
    channels: usize,
    max_frames: u64,
    max_secs: u64,
    mono: Vec<f32>,
    meter: MeterThread,
}

impl MonoCollector {
    fn new(sample_rate: u32, channels: usize, max_duration: Duration) -> Result<Self, MediaError> {
        if !(MIN_SAMPLE_RATE..=MAX_SAMPLE_RATE).contains(&sample_rate) {
            return Err(MediaError::UnsupportedSampleRate {
                rate: sample_rate,
                min: MIN_SAMPLE_RATE,
                max: MAX_SAMPLE_RATE,
            });
        }
        if channels == 0 {
            return Err(MediaError::Corrupt {
                detail: "the audio declares zero channels".to_owned(),
            });
        }
        if channels > MAX_CHANNELS {
            return Err(MediaError::UnsupportedCodec {
                codec: format!("audio with {channels} channels (at most {MAX_CHANNELS})"),
            });
        }
        let max_frames = max_duration.as_millis() as u64 * u64::from(sample_rate) / 1000;
        Ok(Self {
            channels,
            max_frames,
            max_secs: max_duration.as_secs_f64().ceil() as u64,
            mono: Vec::new(),
            meter: MeterThread::start(channels, sample_rate)?,
        })
    }

    /// Adds interleaved frames; fails once the audio is too long.
    fn push_interleaved(&mut self, samples: &[f32]) -> Result<(), MediaError> {
        let frames = samples.len() / self.channels;
        if self.mono.len() as u64 + frames as u64 > self.max_frames {
            return Err(MediaError::TooLong {
                max_secs: self.max_secs,
            });
        }
        // Float formats can carry NaN, infinity or absurd values, which
        // would poison every sum after them: NaN becomes silence, the rest is
        // held within 24 dB over full scale.
        let whole_frames = &samples[..frames * self.channels];
        let finite = self.meter.stage(whole_frames.iter().map(|&sample| {
            if sample.is_nan() {
                0.0
            } else {
                sample.clamp(-MAX_SAMPLE_MAGNITUDE, MAX_SAMPLE_MAGNITUDE)
            }
        }));
        let scale = 1.0 / self.channels as f32;
        self.mono.extend(
            finite
                .chunks_exact(self.channels)
                .map(|frame| frame.iter().sum::<f32>() * scale),
        );
        self.meter.hand_over_when_full();
        Ok(())
    }

    fn frames(&self) -> u64 {
        self.mono.len() as u64
    }

    fn finish(self, facts: InputFacts) -> Result<DecodedAudio, MediaError> {
        Ok(DecodedAudio {
            facts,
            loudness_lufs: self.meter.finish()?,
            mono: self.mono,
        })
    }
}

/// The input's loudness, measured on the original channels on a thread of
/// its own: metering costs about as much as decoding an MP3, so the two
/// share the cores instead of taking turns.
struct MeterThread {
    chunks: Option<SyncSender<Vec<f32>>>,
    /// Interleaved frames not yet handed over.
    staged: Vec<f32>,
    thread: JoinHandle<f64>,
}

impl MeterThread {
    fn start(channels: usize, sample_rate: u32) -> Result<Self, MediaError> {
        let mut meter = Meter::new(channels, sample_rate)?;
        let (chunks, received) = mpsc::sync_channel::<Vec<f32>>(METER_BACKLOG);
        let thread = thread::Builder::new()
            .name("input-meter".to_owned())
            .spawn(move || {
                for chunk in received {
                    meter.add(&chunk);
                }
                meter.integrated_lufs()
            })
            .map_err(|err| MediaError::Processing(format!("starting the input meter: {err}")))?;
        Ok(Self {
            chunks: Some(chunks),
            staged: Vec::with_capacity(METER_CHUNK_SAMPLES),
            thread,
        })
    }

    /// Stages interleaved samples for metering; the slice they now fill.
    fn stage(&mut self, interleaved: impl Iterator<Item = f32>) -> &[f32] {
        let from = self.staged.len();
        self.staged.extend(interleaved);
        &self.staged[from..]
    }

    /// Hands the staged samples to the meter once they fill a chunk,
    /// waiting if the meter is far behind.
    fn hand_over_when_full(&mut self) {
        if self.staged.len() >= METER_CHUNK_SAMPLES {
            self.hand_over();
        }
    }

    fn hand_over(&mut self) {
        let chunk = std::mem::replace(&mut self.staged, Vec::with_capacity(METER_CHUNK_SAMPLES));
        if let Some(chunks) = &self.chunks {
            // A meter that stopped panicked, which `finish` reports.
            let _ = chunks.send(chunk);
        }
    }

    /// Integrated loudness in LUFS, once every frame is measured.
    fn finish(mut self) -> Result<f64, MediaError> {
        self.hand_over();
        // Hanging up ends the meter's loop.
        self.chunks = None;
        self.thread
            .join()
            .map_err(|_| MediaError::Processing("the input meter panicked".to_owned()))
    }
}

/// What one packet gave.
#[derive(Clone, Copy, Debug)]
enum Decoded {
    /// Damaged and skipped, as players do.
    Skipped,
    /// No samples (a decoder's priming packet).
    Nothing,
    /// Samples, now in [`StreamDecoder::interleaved`].
    Samples { rate: u32, channels: usize },
}

/// Decodes a track's packets in order into a [`MonoCollector`]: skips a
/// few damaged packets, refuses a stream that changes its rate or
/// channels.
struct StreamDecoder {
    decoder: Box<dyn AudioDecoder>,
    codec: String,
    max_duration: Duration,
    collected: Option<(MonoCollector, u32)>,
    /// The samples of the last packet, interleaved.
    interleaved: Vec<f32>,
    bad_in_a_row: u32,
    last_bad: String,
}

impl StreamDecoder {
    /// Decodes the next packet and collects its samples.
    fn decode(&mut self, packet: &Packet) -> Result<Decoded, MediaError> {
        let buffer = match self.decoder.decode(packet) {
            Ok(buffer) => {
                self.bad_in_a_row = 0;
                buffer
            }
            // A damaged packet is skipped, as players do, unless damage is
            // all there is.
            Err(err @ (SymphoniaError::DecodeError(_) | SymphoniaError::IoError(_))) => {
                self.bad_in_a_row += 1;
                self.last_bad = err.to_string();
                if self.bad_in_a_row > MAX_CONSECUTIVE_BAD_PACKETS {
                    return Err(MediaError::Corrupt {
                        detail: self.last_bad.clone(),
                    });
                }
                return Ok(Decoded::Skipped);
            }
            Err(err) => return Err(stream_error(err)),
        };
        if buffer.frames() == 0 {
            return Ok(Decoded::Nothing);
        }
        let rate = buffer.spec().rate();
        let channels = buffer.spec().channels().count();
        buffer.copy_to_vec_interleaved(&mut self.interleaved);
        self.collect(rate, channels)?;
        Ok(Decoded::Samples { rate, channels })
    }

    /// Collects what another decoder made of the next packet, as if this
    /// one had decoded it.
    fn push(&mut self, audio: halves::PacketAudio) -> Result<(), MediaError> {
        self.bad_in_a_row = 0;
        if let halves::PacketAudio::Samples {
            rate,
            channels,
            interleaved,
        } = audio
        {
            self.interleaved = interleaved;
            self.collect(rate, channels)?;
        }
        Ok(())
    }

    /// Collects [`Self::interleaved`].
    fn collect(&mut self, rate: u32, channels: usize) -> Result<(), MediaError> {
        let (collector, collector_rate) = match &mut self.collected {
            Some(existing) => existing,
            None => self
                .collected
                .insert((MonoCollector::new(rate, channels, self.max_duration)?, rate)),
        };
        if rate != *collector_rate || channels != collector.channels {
            return Err(MediaError::UnsupportedCodec {
                codec: format!(
                    "{} whose sample rate or channels change mid-stream",
                    self.codec
                ),
            });
        }
        collector.push_interleaved(&self.interleaved)
    }
}

/// Decodes with symphonia; MP3 of at least `min_split_packets` packets in
/// two halves on two cores.
fn decode_with_symphonia(
    bytes: &[u8],
    hint: Option<&str>,
    max_duration: Duration,
    min_split_packets: usize,
) -> Result<DecodedAudio, MediaError> {
    let source = MediaSourceStream::new(Box::new(Cursor::new(bytes)), Default::default());
    let mut format = symphonia::default::get_probe()
        .probe(
            &probe_hint(hint),
            source,
            FormatOptions::default(),
            MetadataOptions::default(),
        )
        .map_err(|err| match err {
            SymphoniaError::IoError(io) if io.kind() == ErrorKind::UnexpectedEof => {
                MediaError::Truncated {
                    detail: "the file ends inside its headers".to_owned(),
                }
            }
            // MP4 writers put the index (moov) after the audio, so a cut
            // upload is an MP4 without an index: not unknown, truncated.
            _ if mp4_box_runs_past_end(bytes) => MediaError::Truncated {
                detail: "an MP4 box runs past the end of the file".to_owned(),
            },
            // A format was recognised but its headers are broken.
            SymphoniaError::DecodeError(why) => MediaError::Corrupt {
                detail: why.to_owned(),
            },
            other => MediaError::UnknownFormat {
                detail: other.to_string(),
            },
        })?;
    let container = format.format_info().short_name.to_owned();

    let track = format
        .default_track(TrackType::Audio)
        .or_else(|| format.first_track(TrackType::Audio))
        .ok_or_else(|| MediaError::NoAudioTrack {
            container: container.clone(),
        })?;
    let track_id = track.id;
    let declared_frames = track.num_frames;
    let params = track
        .codec_params
        .as_ref()
        .and_then(|params| params.audio())
        .ok_or_else(|| MediaError::NoAudioTrack {
            container: container.clone(),
        })?
        .clone();
    let decoder = symphonia::default::get_codecs()
        .make_audio_decoder(&params, &AudioDecoderOptions::default())
        .map_err(|_| MediaError::UnsupportedCodec {
            codec: codec_name(params.codec),
        })?;
    let codec = decoder.codec_info().short_name.to_owned();

    let second_decoder = || {
        symphonia::default::get_codecs()
            .make_audio_decoder(&params, &AudioDecoderOptions::default())
            .ok()
    };
    let mut next_packet = || loop {
        match format.next_packet() {
            Ok(Some(packet)) if packet.track_id != track_id => continue,
            Ok(packet) => return Ok(packet),
            Err(err) => return Err(stream_error(err)),
        }
    };
    let mut stream = StreamDecoder {
        decoder,
        codec,
        max_duration,
        collected: None,
        interleaved: Vec::new(),
        bad_in_a_row: 0,
        last_bad: String::new(),
    };
    // MP3 is read whole first (reading is cheap next to decoding), so that
    // its second half can be decoded on a core of its own; a stream too
    // long to be accepted is not, and the rest of it is read as it is
    // decoded.
    let mut packets = Vec::new();
    let mut read_error = None;
    let mut read_whole = false;
    if let Some(limit) = halves::packet_limit(params.codec, params.sample_rate, max_duration) {
        while packets.len() <= limit {
            match next_packet() {
                Ok(Some(packet)) => packets.push(packet),
                Ok(None) => {
                    read_whole = true;
                    break;
                }
                Err(err) => {
                    read_error = Some(err);
                    break;
                }
            }
        }
    }
    let split = read_whole && packets.len() >= min_split_packets;
    match split.then(second_decoder).flatten() {
        Some(second) => {
            halves::decode(&mut stream, second, &packets)?;
        }
        None => {
            for packet in &packets {
                stream.decode(packet)?;
            }
            if let Some(err) = read_error {
                return Err(err);
            }
            if !read_whole {
                while let Some(packet) = next_packet()? {
                    stream.decode(&packet)?;
                }
            }
        }
    }

    let StreamDecoder {
        codec,
        collected,
        last_bad,
        ..
    } = stream;
    let Some((collector, rate)) = collected else {
        return Err(if last_bad.is_empty() {
            MediaError::NoAudio
        } else {
            MediaError::Corrupt { detail: last_bad }
        });
    };
    if let Some(declared) = declared_frames {
        let tolerance = TRUNCATION_TOLERANCE_MS * u64::from(rate) / 1000;
        if collector.frames() + tolerance < declared {
            return Err(MediaError::Truncated {
                detail: format!(
                    "it holds {} ms of the {} ms its header declares",
                    collector.frames() * 1000 / u64::from(rate),
                    declared * 1000 / u64::from(rate)
                ),
            });
        }
    }
    let facts = InputFacts {
        container,
        codec,
        sample_rate: rate,
        channels: collector.channels as u16,
    };
    collector.finish(facts)
}

/// Whether `bytes` start like an MP4 (an `ftyp` box) and one of its
/// top-level boxes declares more bytes than the file has.
fn mp4_box_runs_past_end(bytes: &[u8]) -> bool {
    if bytes.get(4..8) != Some(b"ftyp".as_slice()) {
        return false;
    }
    let mut offset: u64 = 0;
    let len = bytes.len() as u64;
    while offset + 8 <= len {
        let at = offset as usize;
        let declared = u64::from(u32::from_be_bytes([
            bytes[at],
            bytes[at + 1],
            bytes[at + 2],
            bytes[at + 3],
        ]));
        let size = match declared {
            // Size 0: the box runs to the end of the file, by definition.
            0 => return false,
            // Size 1: a 64-bit size follows the type.
            1 => match bytes.get(at + 8..at + 16) {
                Some(large) => u64::from_be_bytes(large.try_into().unwrap_or([0; 8])),
                None => return true,
            },
            size => size,
        };
        if size < 8 {
            return false;
        }
        offset = offset.saturating_add(size);
        if offset > len {
            return true;
        }
    }
    false
}

/// A hint is an extension (`mp3`, `.m4a`) or a MIME type (`audio/mpeg`).
fn probe_hint(hint: Option<&str>) -> Hint {
    let mut probe_hint = Hint::new();
    if let Some(hint) = hint.map(str::trim).filter(|hint| !hint.is_empty()) {
        if hint.contains('/') {
            probe_hint.mime_type(hint);
        } else {
            probe_hint.with_extension(&hint.trim_start_matches('.').to_ascii_lowercase());
        }
    }
    probe_hint
}

/// An error from the demuxer, which cannot skip ahead the way a decoder can.
fn stream_error(err: SymphoniaError) -> MediaError {
    match err {
        SymphoniaError::IoError(io) if io.kind() == ErrorKind::UnexpectedEof => {
            MediaError::Truncated {
                detail: "the audio stops before the end its headers announce".to_owned(),
            }
        }
        SymphoniaError::IoError(io) => MediaError::Corrupt {
            detail: io.to_string(),
        },
        SymphoniaError::DecodeError(why) | SymphoniaError::LimitError(why) => MediaError::Corrupt {
            detail: why.to_owned(),
        },
        SymphoniaError::Unsupported(what) => MediaError::UnsupportedCodec {
            codec: what.to_owned(),
        },
        SymphoniaError::ResetRequired => MediaError::UnsupportedCodec {
            codec: "several streams chained one after another".to_owned(),
        },
        other => MediaError::Corrupt {
            detail: other.to_string(),
        },
    }
}

/// Names the codecs an editor may meet that have no decoder here.
fn codec_name(id: AudioCodecId) -> String {
    let name = match id {
        codec_ids::CODEC_ID_OPUS => "Opus in a container other than plain Ogg (e.g. WebM or MP4)",
        codec_ids::CODEC_ID_AC3 => "AC-3 (Dolby Digital)",
        codec_ids::CODEC_ID_EAC3 => "E-AC-3 (Dolby Digital Plus)",
        codec_ids::CODEC_ID_WMA => "WMA",
        codec_ids::CODEC_ID_SPEEX => "Speex",
        codec_ids::CODEC_ID_DCA => "DTS",
        codec_ids::CODEC_ID_WAVPACK => "WavPack",
        codec_ids::CODEC_ID_MONKEYS_AUDIO => "Monkey's Audio",
        codec_ids::CODEC_ID_TRUEHD => "Dolby TrueHD",
        _ => return format!("codec {id}"),
    };
    name.to_owned()
}
