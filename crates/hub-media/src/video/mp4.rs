//! A bounds-checked reader of the MP4 (ISO/IEC 14496-12) boxes that hold a
//! video's facts: the movie header, and each track's handler, media header,
//! sample description and sample tables. Media data is never decoded, only
//! checked to lie inside the file.
//!
//! Every length the file declares is checked against the bytes really there
//! before it is used, and nothing is allocated in proportion to a declared
//! size, so a hostile file costs at most one pass over its boxes.

use std::fmt;

use crate::MediaError;

/// What the container says about the movie.
pub(super) struct Movie {
    /// From the movie header (or, for a fragmented file, the movie extends
    /// header); 0 when neither gives one.
    pub duration_ms: u64,
    /// Whether the samples are in movie fragments (`mvex` present).
    pub fragmented: bool,
    pub tracks: Vec<Track>,
}

/// One track's facts.
pub(super) struct Track {
    /// The handler type: `vide`, `soun`, `sbtl`, `text`, `subt`, ...
    pub handler: FourCc,
    /// The first sample description's type: `avc1`, `hvc1`, `tx3g`, ...
    pub codec: FourCc,
    /// For visual sample entries, the coded picture size; 0 otherwise.
    pub width: u16,
    pub height: u16,
    /// From the track's media header.
    pub duration_ms: u64,
}

/// A box or codec type, shown as `'avc1'` in messages.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(super) struct FourCc(pub [u8; 4]);

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

/// Reads and checks the container.
pub(super) fn read(file: &[u8]) -> Result<Movie, MediaError> {
    let mut boxes = Boxes::top_level(file);
    match boxes.next() {
        Some(Ok(first)) if first.kind == *b"ftyp" => {}
        Some(Err(err @ MediaError::Truncated { .. }))
            if file.get(4..8) == Some(b"ftyp".as_slice()) =>
        {
            return Err(err)
        }
        _ => {
            return Err(MediaError::NotMp4 {
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
        return Err(MediaError::Truncated {
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

fn read_movie(movie_box: Mp4Box<'_>, file_len: usize) -> Result<Movie, MediaError> {
    let mut header = None;
    let mut fragment_duration = None;
    let mut tracks = Vec::new();
    for child in Boxes::inside(movie_box) {
        let child = child?;
        match &child.kind {
            b"mvhd" => header = Some(movie_header(child)?),
            b"mvex" => fragment_duration = Some(movie_extends_duration(child)?),
            b"trak" => tracks.push(read_track(child, tracks.len() + 1, file_len)?),
            _ => {}
        }
    }
    let Some((timescale, duration)) = header else {
        return Err(corrupt(
            "the 'moov' box has no 'mvhd' (movie header)".to_owned(),
        ));
    };
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
fn movie_header(mvhd: Mp4Box<'_>) -> Result<(u32, u64), MediaError> {
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
fn movie_extends_duration(mvex: Mp4Box<'_>) -> Result<u64, MediaError> {
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
fn timed_header(fields: &mut Fields<'_>) -> Result<(u32, u64), MediaError> {
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

fn read_track(trak: Mp4Box<'_>, number: usize, file_len: usize) -> Result<Track, MediaError> {
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
    Ok(Track {
        handler,
        codec: entry.codec,
        width: entry.width,
        height: entry.height,
        duration_ms: if timescale == 0 {
            0
        } else {
            to_ms(duration, timescale)
        },
    })
}

struct SampleEntry {
    codec: FourCc,
    width: u16,
    height: u16,
}

/// Bytes of a visual sample entry before its width: reserved (6), data
/// reference index (2), pre-defined and reserved (16).
const VISUAL_ENTRY_BEFORE_SIZE: usize = 24;
/// Bytes of a visual sample entry before its child boxes (ISO 14496-12
/// `VisualSampleEntry`).
const VISUAL_ENTRY_FIXED: usize = 78;

/// The first sample description: the codec, and for video the picture size.
/// An H.264 entry must carry its decoder configuration (`avcC`).
fn first_sample_entry(stsd: Mp4Box<'_>, track: usize) -> Result<SampleEntry, MediaError> {
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
    if is_h264(codec) && !(is_visual && has_avc_config(entry)?) {
        return Err(corrupt(format!(
            "the H.264 track {track} has no valid 'avcC' decoder configuration"
        )));
    }
    Ok(SampleEntry {
        codec,
        width,
        height,
    })
}

/// Whether a visual sample entry holds an `avcC` box: configurationVersion
/// 1, then profile, compatibility, level and the NAL length size.
fn has_avc_config(entry: Mp4Box<'_>) -> Result<bool, MediaError> {
    for child in Boxes::inside_from(entry, VISUAL_ENTRY_FIXED) {
        let child = child?;
        if child.kind == *b"avcC" && child.body.len() >= 5 && child.body[0] == 1 {
            return Ok(true);
        }
    }
    Ok(false)
}

pub(super) fn is_h264(codec: FourCc) -> bool {
    matches!(&codec.0, b"avc1" | b"avc3")
}

/// Walks the sample tables (`stsz`, `stsc`, `stco`/`co64`) and checks every
/// chunk of samples lies inside the file: a file cut inside its media data
/// is truncated even when its boxes look whole. Costs one step per chunk and
/// per sample; a fragmented file's empty tables cost nothing.
fn check_media_inside_file(
    stbl: Mp4Box<'_>,
    track: usize,
    file_len: usize,
) -> Result<(), MediaError> {
    let Some(sizes) = find(stbl, b"stsz")? else {
        return Ok(());
    };
    let mut sizes = Fields::new(sizes);
    sizes.version()?;
    let uniform_size = sizes.u32()?;
    let sample_count = sizes.u32()?;
    if sample_count == 0 {
        return Ok(());
    }
    if uniform_size == 0 {
        sizes.ensure((sample_count as usize).saturating_mul(4))?;
    }

    let chunk_map = find(stbl, b"stsc")?.ok_or_else(|| missing(track, "stsc"))?;
    let mut chunk_map = Fields::new(chunk_map);
    chunk_map.version()?;
    let map_entries = chunk_map.u32()? as usize;
    chunk_map.ensure(map_entries.saturating_mul(12))?;
    let map_start = chunk_map.pos;
    let map_entry = |index: usize| -> (u32, u32) {
        let at = map_start + index * 12;
        let data = chunk_map.data;
        (be_u32(data, at), be_u32(data, at + 4))
    };
    if map_entries == 0 {
        return Err(corrupt(format!(
            "track {track} has samples but an empty 'stsc' table"
        )));
    }

    let (offsets, wide) = match find(stbl, b"stco")? {
        Some(offsets) => (offsets, false),
        None => (
            find(stbl, b"co64")?.ok_or_else(|| missing(track, "stco"))?,
            true,
        ),
    };
    let mut offsets = Fields::new(offsets);
    offsets.version()?;
    let chunk_count = offsets.u32()? as usize;
    let offset_width = if wide { 8 } else { 4 };
    offsets.ensure(chunk_count.saturating_mul(offset_width))?;

    let mut sample = 0u32;
    let mut map_index = 0;
    for chunk in 0..chunk_count {
        let chunk_number = chunk as u64 + 1;
        while map_index + 1 < map_entries && u64::from(map_entry(map_index + 1).0) <= chunk_number {
            map_index += 1;
        }
        let in_chunk = map_entry(map_index).1.min(sample_count - sample);
        let bytes: u64 = if uniform_size != 0 {
            u64::from(in_chunk) * u64::from(uniform_size)
        } else {
            (sample..sample + in_chunk)
                .map(|index| u64::from(be_u32(sizes.data, sizes.pos + index as usize * 4)))
                .sum()
        };
        let at = offsets.pos + chunk * offset_width;
        let start = if wide {
            be_u64(offsets.data, at)
        } else {
            u64::from(be_u32(offsets.data, at))
        };
        let end = start.saturating_add(bytes);
        if end > file_len as u64 {
            return Err(MediaError::Truncated {
                detail: format!(
                    "track {track}'s media data (chunk {chunk_number}, bytes {start}..{end}) \
                     lies past the end of the file ({file_len} bytes)"
                ),
            });
        }
        sample += in_chunk;
        if sample == sample_count {
            break;
        }
    }
    Ok(())
}

/// Reads a big-endian u32 at a position already checked to be in range.
fn be_u32(data: &[u8], at: usize) -> u32 {
    let mut bytes = [0; 4];
    bytes.copy_from_slice(&data[at..at + 4]);
    u32::from_be_bytes(bytes)
}

fn be_u64(data: &[u8], at: usize) -> u64 {
    let mut bytes = [0; 8];
    bytes.copy_from_slice(&data[at..at + 8]);
    u64::from_be_bytes(bytes)
}

fn to_ms(duration: u64, timescale: u32) -> u64 {
    let ms = (u128::from(duration) * 1000 + u128::from(timescale) / 2) / u128::from(timescale);
    u64::try_from(ms).unwrap_or(u64::MAX)
}

fn corrupt(detail: String) -> MediaError {
    MediaError::Corrupt { detail }
}

fn missing(track: usize, kind: &str) -> MediaError {
    corrupt(format!("track {track} has no '{kind}' box"))
}

/// The first child of `parent` of type `kind`.
fn find<'a>(parent: Mp4Box<'a>, kind: &[u8; 4]) -> Result<Option<Mp4Box<'a>>, MediaError> {
    for child in Boxes::inside(parent) {
        let child = child?;
        if child.kind == *kind {
            return Ok(Some(child));
        }
    }
    Ok(None)
}

/// A box: its type, its body (after the header) and where it starts.
#[derive(Clone, Copy)]
struct Mp4Box<'a> {
    kind: [u8; 4],
    body: &'a [u8],
    /// Offset of the box in the file, for messages.
    offset: usize,
    /// Offset of the body in the file.
    body_offset: usize,
}

/// The boxes in a file, or in part of a container box's body.
struct Boxes<'a> {
    data: &'a [u8],
    pos: usize,
    /// File offset of `data[0]`.
    base: usize,
    /// The container; `None` for the file itself, where running out of
    /// bytes means the file was cut short.
    parent: Option<FourCc>,
}

impl<'a> Boxes<'a> {
    fn top_level(file: &'a [u8]) -> Self {
        Self {
            data: file,
            pos: 0,
            base: 0,
            parent: None,
        }
    }

    fn inside(parent: Mp4Box<'a>) -> Self {
        Self::inside_from(parent, 0)
    }

    /// The boxes in `parent`'s body after `skip` bytes of fields.
    fn inside_from(parent: Mp4Box<'a>, skip: usize) -> Self {
        let skip = skip.min(parent.body.len());
        Self {
            data: &parent.body[skip..],
            pos: 0,
            base: parent.body_offset + skip,
            parent: Some(FourCc(parent.kind)),
        }
    }

    fn read(&self, rest: &'a [u8]) -> Result<Mp4Box<'a>, MediaError> {
        let offset = self.base + self.pos;
        if rest.len() < 8 {
            return Err(self.overrun(offset, None, 8, rest.len()));
        }
        let declared = be_u32(rest, 0);
        let mut kind = [0; 4];
        kind.copy_from_slice(&rest[4..8]);
        let (header_len, size) = match declared {
            // Size 0: the box runs to the end of its container.
            0 => (8, rest.len() as u64),
            1 if rest.len() < 16 => {
                return Err(self.overrun(offset, Some(FourCc(kind)), 16, rest.len()))
            }
            1 => (16, be_u64(rest, 8)),
            size => (8, u64::from(size)),
        };
        if size < header_len as u64 {
            return Err(corrupt(format!(
                "the {} box at byte {offset} says it is {size} bytes long, shorter than its header",
                FourCc(kind)
            )));
        }
        if size > rest.len() as u64 {
            return Err(self.overrun(offset, Some(FourCc(kind)), size, rest.len()));
        }
        let size = size as usize;
        Ok(Mp4Box {
            kind,
            body: &rest[header_len..size],
            offset,
            body_offset: offset + header_len,
        })
    }

    fn overrun(
        &self,
        offset: usize,
        kind: Option<FourCc>,
        needed: u64,
        available: usize,
    ) -> MediaError {
        let what = kind.map_or_else(
            || "a box header".to_owned(),
            |kind| format!("the {kind} box"),
        );
        match self.parent {
            None => MediaError::Truncated {
                detail: format!(
                    "{what} at byte {offset} needs {needed} bytes but only {available} remain"
                ),
            },
            Some(parent) => corrupt(format!(
                "{what} at byte {offset} runs past the end of its {parent} box"
            )),
        }
    }
}

impl<'a> Iterator for Boxes<'a> {
    type Item = Result<Mp4Box<'a>, MediaError>;

    fn next(&mut self) -> Option<Self::Item> {
        let data = self.data;
        let rest = &data[self.pos..];
        // QuickTime ends some containers with a 32-bit zero terminator.
        if rest.is_empty()
            || (self.parent.is_some() && rest.len() < 8 && rest.iter().all(|&b| b == 0))
        {
            return None;
        }
        let found = self.read(rest);
        self.pos = match &found {
            Ok(found) => found.body_offset - self.base + found.body.len(),
            Err(_) => self.data.len(),
        };
        Some(found)
    }
}

/// Big-endian fields of one box, each read checked against its length.
struct Fields<'a> {
    data: &'a [u8],
    pos: usize,
    kind: FourCc,
    offset: usize,
}

impl<'a> Fields<'a> {
    fn new(of: Mp4Box<'a>) -> Self {
        Self {
            data: of.body,
            pos: 0,
            kind: FourCc(of.kind),
            offset: of.offset,
        }
    }

    /// Checks `len` more bytes are there, without reading them.
    fn ensure(&self, len: usize) -> Result<(), MediaError> {
        if self.data.len() - self.pos < len {
            return Err(corrupt(format!(
                "the {} box at byte {} is too short for what it declares",
                self.kind, self.offset
            )));
        }
        Ok(())
    }

    fn take(&mut self, len: usize) -> Result<&'a [u8], MediaError> {
        self.ensure(len)?;
        let taken = &self.data[self.pos..self.pos + len];
        self.pos += len;
        Ok(taken)
    }

    fn skip(&mut self, len: usize) -> Result<(), MediaError> {
        self.take(len).map(|_| ())
    }

    fn array<const N: usize>(&mut self) -> Result<[u8; N], MediaError> {
        let mut array = [0; N];
        array.copy_from_slice(self.take(N)?);
        Ok(array)
    }

    fn u16(&mut self) -> Result<u16, MediaError> {
        self.array().map(u16::from_be_bytes)
    }

    fn u32(&mut self) -> Result<u32, MediaError> {
        self.array().map(u32::from_be_bytes)
    }

    fn u64(&mut self) -> Result<u64, MediaError> {
        self.array().map(u64::from_be_bytes)
    }

    /// A full box's version; its flags are skipped.
    fn version(&mut self) -> Result<u8, MediaError> {
        let [version, ..] = self.array::<4>()?;
        Ok(version)
    }
}
