//! The movie and its tracks: the movie header, and each track's handler,
//! media header, edit list, sample description and sample tables. Media
//! data is only checked to lie inside the file here; `samples` and `text`
//! read it.

use std::fmt;

use crate::boxes::{find, Boxes, Fields, Mp4Box};
use crate::error::{corrupt, Mp4Error};

/// What the container says about the movie.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Movie {
    /// From the movie header (or, for a fragmented file, the movie extends
    /// header); 0 when neither gives one.
    pub duration_ms: u64,
    /// Whether the samples are in movie fragments (`mvex` present).
    pub fragmented: bool,
    pub tracks: Vec<Track>,
}

/// One track's facts, and where its sample tables are in the file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Track {
    /// Its position among the tracks, from 1, for messages.
    pub number: usize,
    /// The handler type: `vide`, `soun`, `sbtl`, `text`, `subt`, ...
    pub handler: FourCc,
    /// The first sample description's type: `avc1`, `hvc1`, `tx3g`, ...
    pub codec: FourCc,
    /// For visual sample entries, the coded picture size; 0 otherwise.
    pub width: u16,
    pub height: u16,
    /// From the track's media header.
    pub duration_ms: u64,
    /// Ticks per second of the track's sample times.
    pub timescale: u32,
    /// Milliseconds to add to a sample's media time to place it on the
    /// movie's timeline, from the edit list (an initial empty edit delays
    /// the track; the first edit's media time skips its start, as ffmpeg
    /// writes for H.264 with B-frames). 0 without an edit list.
    pub shift_ms: i64,
    /// The sample table (`stbl`) box.
    pub(crate) sample_table: Span,
    /// The H.264 decoder configuration (`avcC`) box, for H.264 tracks.
    pub(crate) avc_config: Option<Span>,
}

/// Where a box is in the file, to find it again.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Span {
    kind: [u8; 4],
    offset: usize,
    body_offset: usize,
    body_len: usize,
}

impl Span {
    fn of(found: Mp4Box<'_>) -> Self {
        Self {
            kind: found.kind,
            offset: found.offset,
            body_offset: found.body_offset,
            body_len: found.body.len(),
        }
    }

    /// The box in `file`, which must be the file the track was read from.
    pub(crate) fn get<'a>(&self, file: &'a [u8]) -> Result<Mp4Box<'a>, Mp4Error> {
        let body = file
            .get(self.body_offset..self.body_offset.saturating_add(self.body_len))
            .ok_or_else(|| corrupt("the track was read from another file".to_owned()))?;
        Ok(Mp4Box {
            kind: self.kind,
            body,
            offset: self.offset,
            body_offset: self.body_offset,
        })
    }
}

/// A box or codec type, shown as `'avc1'` in messages.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct FourCc(pub [u8; 4]);

impl fmt::Display for FourCc {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("'")?;
        for &byte in &self.0 {
            if byte.is_ascii_graphic() || byte == b' ' {
                write!(f, "{}", char::from(byte))?;
            } else {
                write!(f, "\\x{byte:02x}")?;
            }
        }
        f.write_str("'")
    }
}

impl fmt::Debug for FourCc {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

/// The subtitle formats a board can show from inside an MP4.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum SubtitleCodec {
    /// 3GPP timed text (`tx3g`), what ffmpeg writes as `mov_text`.
    MovText,
    /// WebVTT in MP4 (`wvtt`, ISO/IEC 14496-30).
    WebVtt,
}

impl fmt::Display for SubtitleCodec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::MovText => "mov_text",
            Self::WebVtt => "WebVTT",
        })
    }
}

/// Reads and checks the container: its boxes, every track's tables, and
/// that every track's media data lies inside the file.
pub fn read(file: &[u8]) -> Result<Movie, Mp4Error> {
    let mut boxes = Boxes::top_level(file);
    match boxes.next() {
        Some(Ok(first)) if first.kind == *b"ftyp" => {}
        Some(Err(err @ Mp4Error::Truncated { .. }))
            if file.get(4..8) == Some(b"ftyp".as_slice()) =>
        {
            return Err(err)
        }
        _ => {
            return Err(Mp4Error::NotMp4 {
                detail: "the file does not start with an MP4 'ftyp' box".to_owned(),
            })
        }
    }
    let mut movie_box = None;
    let mut has_media_data = false;
    for found in boxes {
        let found = found?;
        match &found.kind {
            b"moov" if movie_box.is_some() => {
                return Err(corrupt(format!(
                    "a second 'moov' box at byte {}",
                    found.offset
                )))
            }
            b"moov" => movie_box = Some(found),
            b"mdat" | b"moof" => has_media_data = true,
            _ => {}
        }
    }
    let Some(movie_box) = movie_box else {
        return Err(Mp4Error::Truncated {
            detail: "there is no 'moov' box (the movie header): the file is cut short or \
                     the recording was never finished"
                .to_owned(),
        });
    };
    if !has_media_data {
        return Err(corrupt(
            "there is no 'mdat' box: the file holds no media data".to_owned(),
        ));
    }
    read_movie(movie_box, file.len())
}

impl Movie {
    /// The first H.264 video track; any other video codec is named.
    pub fn h264_track(&self) -> Result<&Track, Mp4Error> {
        let is_video = |track: &&Track| track.handler.0 == *b"vide";
        let first = self
            .tracks
            .iter()
            .find(is_video)
            .ok_or(Mp4Error::NoVideoTrack)?;
        let video = self
            .tracks
            .iter()
            .filter(is_video)
            .find(|track| is_h264(track.codec))
            .ok_or_else(|| Mp4Error::UnsupportedVideoCodec {
                codec: video_codec_name(first.codec),
            })?;
        if video.width == 0 || video.height == 0 {
            return Err(corrupt(format!(
                "the H.264 track says its pictures are {}x{} pixels",
                video.width, video.height
            )));
        }
        Ok(video)
    }

    /// How long `video` plays: the movie header's duration, else the
    /// track's; never 0.
    pub fn video_duration_ms(&self, video: &Track) -> Result<u64, Mp4Error> {
        let duration_ms = match self.duration_ms {
            0 => video.duration_ms,
            known => known,
        };
        if duration_ms == 0 {
            let detail = if self.fragmented {
                "it is a fragmented MP4 whose header does not give its length; save it as a \
                 regular MP4 (for example with ffmpeg -movflags +faststart)"
            } else {
                "its movie and track headers say 0"
            };
            return Err(Mp4Error::NoVideoDuration {
                detail: detail.to_owned(),
            });
        }
        Ok(duration_ms)
    }

    /// The first subtitle track a board can read; a subtitle track in any
    /// other format is named.
    pub fn subtitle_track(&self) -> Result<(&Track, SubtitleCodec), Mp4Error> {
        let mut unreadable = None;
        for track in &self.tracks {
            match &track.codec.0 {
                b"tx3g" => return Ok((track, SubtitleCodec::MovText)),
                b"wvtt" => return Ok((track, SubtitleCodec::WebVtt)),
                _ if is_subtitle_handler(track.handler) => {
                    unreadable = unreadable.or(Some(track.codec));
                }
                _ => {}
            }
        }
        Err(match unreadable {
            Some(codec) => Mp4Error::UnsupportedSubtitleCodec {
                codec: subtitle_codec_name(codec),
            },
            None => Mp4Error::NoSubtitles,
        })
    }
}

fn video_codec_name(codec: FourCc) -> String {
    let name = match &codec.0 {
        b"hvc1" | b"hev1" => "H.265/HEVC",
        b"mp4v" => "MPEG-4 Part 2",
        b"vp08" => "VP8",
        b"vp09" => "VP9",
        b"av01" => "AV1",
        b"s263" | b"h263" => "H.263",
        b"jpeg" | b"mjpa" | b"mjpb" => "Motion JPEG",
        b"dvh1" | b"dvhe" => "Dolby Vision",
        b"encv" => "encrypted video",
        _ => return codec.to_string(),
    };
    format!("{name} ({codec})")
}

/// Handler types of tracks meant to be read as text on screen.
fn is_subtitle_handler(handler: FourCc) -> bool {
    matches!(&handler.0, b"sbtl" | b"subt" | b"text" | b"clcp")
}

fn subtitle_codec_name(codec: FourCc) -> String {
    let name = match &codec.0 {
        b"stpp" => "TTML",
        b"c608" => "CEA-608 captions",
        b"c708" => "CEA-708 captions",
        b"text" => "QuickTime text",
        _ => return codec.to_string(),
    };
    format!("{name} ({codec})")
}

fn read_movie(movie_box: Mp4Box<'_>, file_len: usize) -> Result<Movie, Mp4Error> {
    let mut header = None;
    let mut fragment_duration = None;
    let mut traks = Vec::new();
    for child in Boxes::inside(movie_box) {
        let child = child?;
        match &child.kind {
            b"mvhd" => header = Some(movie_header(child)?),
            b"mvex" => fragment_duration = Some(movie_extends_duration(child)?),
            b"trak" => traks.push(child),
            _ => {}
        }
    }
    let Some((timescale, duration)) = header else {
        return Err(corrupt(
            "the 'moov' box has no 'mvhd' (movie header)".to_owned(),
        ));
    };
    let tracks = traks
        .into_iter()
        .zip(1..)
        .map(|(trak, number)| read_track(trak, number, timescale, file_len))
        .collect::<Result<_, _>>()?;
    let duration = if duration == 0 {
        fragment_duration.unwrap_or(0)
    } else {
        duration
    };
    Ok(Movie {
        duration_ms: to_ms(duration, timescale),
        fragmented: fragment_duration.is_some(),
        tracks,
    })
}

/// The movie's timescale and duration; an unknown duration is 0.
fn movie_header(mvhd: Mp4Box<'_>) -> Result<(u32, u64), Mp4Error> {
    let mut fields = Fields::new(mvhd);
    let (timescale, duration) = timed_header(&mut fields)?;
    if timescale == 0 {
        return Err(corrupt(format!(
            "the 'mvhd' box at byte {} has a timescale of 0",
            mvhd.offset
        )));
    }
    Ok((timescale, duration))
}

/// The `mehd` fragment duration inside `mvex`, in the movie's timescale.
fn movie_extends_duration(mvex: Mp4Box<'_>) -> Result<u64, Mp4Error> {
    for child in Boxes::inside(mvex) {
        let child = child?;
        if child.kind == *b"mehd" {
            let mut fields = Fields::new(child);
            let version = fields.version()?;
            return if version == 1 {
                fields.u64()
            } else {
                fields.u32().map(u64::from)
            };
        }
    }
    Ok(0)
}

/// The fields shared by `mvhd` and `mdhd`: after version and flags, the
/// creation and modification times, the timescale and the duration, 32 or
/// 64 bits wide by version. An all-ones 32-bit duration means unknown.
fn timed_header(fields: &mut Fields<'_>) -> Result<(u32, u64), Mp4Error> {
    if fields.version()? == 1 {
        fields.skip(16)?;
        let timescale = fields.u32()?;
        let duration = fields.u64()?;
        Ok((timescale, if duration == u64::MAX { 0 } else { duration }))
    } else {
        fields.skip(8)?;
        let timescale = fields.u32()?;
        let duration = fields.u32()?;
        Ok((
            timescale,
            if duration == u32::MAX {
                0
            } else {
                u64::from(duration)
            },
        ))
    }
}

fn read_track(
    trak: Mp4Box<'_>,
    number: usize,
    movie_timescale: u32,
    file_len: usize,
) -> Result<Track, Mp4Error> {
    let media = find(trak, b"mdia")?.ok_or_else(|| missing(number, "mdia"))?;
    let mut handler = None;
    let mut timing = None;
    let mut sample_table = None;
    for child in Boxes::inside(media) {
        let child = child?;
        match &child.kind {
            b"hdlr" => {
                let mut fields = Fields::new(child);
                fields.version()?;
                fields.skip(4)?;
                handler = Some(FourCc(fields.array()?));
            }
            b"mdhd" => timing = Some(timed_header(&mut Fields::new(child))?),
            b"minf" => sample_table = find(child, b"stbl")?,
            _ => {}
        }
    }
    let handler = handler.ok_or_else(|| missing(number, "hdlr"))?;
    let (timescale, duration) = timing.ok_or_else(|| missing(number, "mdhd"))?;
    let sample_table = sample_table.ok_or_else(|| missing(number, "stbl"))?;
    let description = find(sample_table, b"stsd")?.ok_or_else(|| missing(number, "stsd"))?;
    let entry = first_sample_entry(description, number)?;
    check_media_inside_file(sample_table, number, file_len)?;
    let shift_ms = match find(trak, b"edts")? {
        Some(edits) if timescale != 0 => edit_shift_ms(edits, movie_timescale, timescale)?,
        _ => 0,
    };
    Ok(Track {
        number,
        handler,
        codec: entry.codec,
        width: entry.width,
        height: entry.height,
        duration_ms: if timescale == 0 {
            0
        } else {
            to_ms(duration, timescale)
        },
        timescale,
        shift_ms,
        sample_table: Span::of(sample_table),
        avc_config: entry.avc_config,
    })
}

/// The shift an edit list (`elst`) gives a track: empty edits before the
/// first real one delay it, and that edit's media time skips its start.
/// Later edits (cuts, repeats) are not followed: the files boards get
/// have at most one edit after the empty ones.
fn edit_shift_ms(edts: Mp4Box<'_>, movie_timescale: u32, timescale: u32) -> Result<i64, Mp4Error> {
    let Some(list) = find(edts, b"elst")? else {
        return Ok(0);
    };
    let mut fields = Fields::new(list);
    let wide = fields.version()? == 1;
    let entries = fields.u32()?;
    let mut delay_ms: i64 = 0;
    for _ in 0..entries {
        let (segment, media_time) = if wide {
            (fields.u64()?, i64::from_be_bytes(fields.array()?))
        } else {
            (
                u64::from(fields.u32()?),
                i64::from(i32::from_be_bytes(fields.array()?)),
            )
        };
        fields.skip(4)?;
        if media_time == -1 {
            let segment_ms = i64::try_from(to_ms(segment, movie_timescale)).unwrap_or(i64::MAX);
            delay_ms = delay_ms.saturating_add(segment_ms);
            continue;
        }
        let skipped_ms = i64::try_from(to_ms(media_time.unsigned_abs(), timescale))
            .unwrap_or(i64::MAX)
            .saturating_mul(media_time.signum());
        return Ok(delay_ms.saturating_sub(skipped_ms));
    }
    Ok(delay_ms)
}

struct SampleEntry {
    codec: FourCc,
    width: u16,
    height: u16,
    avc_config: Option<Span>,
}

/// Bytes of a visual sample entry before its width: reserved (6), data
/// reference index (2), pre-defined and reserved (16).
const VISUAL_ENTRY_BEFORE_SIZE: usize = 24;
/// Bytes of a visual sample entry before its child boxes (ISO 14496-12
/// `VisualSampleEntry`).
const VISUAL_ENTRY_FIXED: usize = 78;

/// The first sample description: the codec, and for video the picture size.
/// An H.264 entry must carry its decoder configuration (`avcC`).
fn first_sample_entry(stsd: Mp4Box<'_>, track: usize) -> Result<SampleEntry, Mp4Error> {
    let mut fields = Fields::new(stsd);
    fields.version()?;
    let count = fields.u32()?;
    let entry = match Boxes::inside_from(stsd, fields.pos).next() {
        Some(entry) if count > 0 => entry?,
        _ => return Err(corrupt(format!("track {track} has no sample description"))),
    };
    let codec = FourCc(entry.kind);
    let is_visual = entry.body.len() >= VISUAL_ENTRY_FIXED;
    let (width, height) = if is_visual {
        let mut fields = Fields::new(entry);
        fields.skip(VISUAL_ENTRY_BEFORE_SIZE)?;
        (fields.u16()?, fields.u16()?)
    } else {
        (0, 0)
    };
    let avc_config = if is_h264(codec) && is_visual {
        avc_config(entry)?
    } else {
        None
    };
    if is_h264(codec) && avc_config.is_none() {
        return Err(corrupt(format!(
            "the H.264 track {track} has no valid 'avcC' decoder configuration"
        )));
    }
    Ok(SampleEntry {
        codec,
        width,
        height,
        avc_config,
    })
}

/// The `avcC` box of a visual sample entry, if it starts as one must:
/// configurationVersion 1, then profile, compatibility, level and the NAL
/// length size.
fn avc_config(entry: Mp4Box<'_>) -> Result<Option<Span>, Mp4Error> {
    for child in Boxes::inside_from(entry, VISUAL_ENTRY_FIXED) {
        let child = child?;
        if child.kind == *b"avcC" && child.body.len() >= 5 && child.body[0] == 1 {
            return Ok(Some(Span::of(child)));
        }
    }
    Ok(None)
}

/// Whether a sample description is H.264.
pub fn is_h264(codec: FourCc) -> bool {
    matches!(&codec.0, b"avc1" | b"avc3")
}

/// Walks the sample tables (`stsz`, `stsc`, `stco`/`co64`) and checks every
/// chunk of samples lies inside the file, every sample is in a chunk, and
/// the samples add up to no more bytes than the file holds: a file cut
/// inside its media data is truncated even when its boxes look whole, and
/// no later reading of the samples can be made to cost more than the file
/// is long. Costs one step per chunk and per sample; a fragmented file's
/// empty tables cost nothing.
fn check_media_inside_file(
    stbl: Mp4Box<'_>,
    track: usize,
    file_len: usize,
) -> Result<(), Mp4Error> {
    let Some(tables) = crate::samples::Tables::read(stbl, track)? else {
        return Ok(());
    };
    let mut total: u64 = 0;
    let mut located = 0u32;
    for chunk in tables.chunks() {
        let end = chunk.start.saturating_add(chunk.bytes);
        if end > file_len as u64 {
            return Err(Mp4Error::Truncated {
                detail: format!(
                    "track {track}'s media data (chunk {}, bytes {}..{end}) \
                     lies past the end of the file ({file_len} bytes)",
                    chunk.number, chunk.start
                ),
            });
        }
        total = total.saturating_add(chunk.bytes);
        located += chunk.samples;
    }
    if located < tables.sample_count {
        return Err(corrupt(format!(
            "track {track} has {} samples but its chunks hold only {located}",
            tables.sample_count
        )));
    }
    if total > file_len as u64 {
        return Err(corrupt(format!(
            "track {track}'s samples add up to {total} bytes, more than the file's {file_len}"
        )));
    }
    Ok(())
}

pub(crate) fn to_ms(duration: u64, timescale: u32) -> u64 {
    let ms = (u128::from(duration) * 1000 + u128::from(timescale) / 2) / u128::from(timescale);
    u64::try_from(ms).unwrap_or(u64::MAX)
}

fn missing(track: usize, kind: &str) -> Mp4Error {
    corrupt(format!("track {track} has no '{kind}' box"))
}
