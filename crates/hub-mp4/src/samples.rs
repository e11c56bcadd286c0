//! A track's samples from its tables: where each one is (`stsz`, `stsc`,
//! `stco`/`co64`), when it is decoded and shown (`stts`, `ctts`) and
//! whether decoding can start at it (`stss`). Everything is read lazily,
//! one sample at a time, from tables whose lengths were checked against
//! the bytes there; [`crate::read`] already made sure the samples lie
//! inside the file and add up to no more than it.

use crate::boxes::{be_u32, be_u64, find, Fields, Mp4Box};
use crate::error::{corrupt, Mp4Error};
use crate::movie::Track;

/// One sample: a video frame, or one subtitle's text.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Sample {
    /// Its number in decoding order, from 1.
    pub number: u32,
    /// Where its bytes start in the file.
    pub offset: u64,
    pub size: u32,
    /// When it is decoded, in the track's timescale.
    pub decode_time: u64,
    /// How long it lasts, in the track's timescale.
    pub duration: u32,
    /// Added to `decode_time` to get when it is shown (B-frames).
    pub composition_offset: i32,
    /// Whether decoding can start at it (a key frame).
    pub sync: bool,
}

impl Track {
    /// The samples in decoding order. `file` must be the file the track
    /// was read from.
    pub fn samples<'a>(&self, file: &'a [u8]) -> Result<Samples<'a>, Mp4Error> {
        let stbl = self.sample_table.get(file)?;
        let tables = Tables::read(stbl, self.number)?;
        Ok(Samples {
            position: tables.as_ref().map(Position::new),
            tables,
        })
    }

    /// The bytes of `sample`, from `file`.
    pub fn sample_data<'a>(&self, file: &'a [u8], sample: &Sample) -> Result<&'a [u8], Mp4Error> {
        usize::try_from(sample.offset)
            .ok()
            .and_then(|start| file.get(start..start.checked_add(sample.size as usize)?))
            .ok_or_else(|| {
                corrupt(format!(
                    "sample {} of track {} lies past the end of the file",
                    sample.number, self.number
                ))
            })
    }

    /// When `sample` is shown, in milliseconds on the movie's timeline
    /// (the edit list applied); negative for a frame the edit list skips.
    pub fn start_ms(&self, sample: &Sample) -> i64 {
        let ticks = i128::from(sample.decode_time) + i128::from(sample.composition_offset);
        let ms = ticks * 1000 / i128::from(self.timescale.max(1));
        i64::try_from(ms)
            .unwrap_or(i64::MAX)
            .saturating_add(self.shift_ms)
    }

    /// How long `sample` lasts, in milliseconds.
    pub fn duration_ms(&self, sample: &Sample) -> u64 {
        u64::from(sample.duration) * 1000 / u64::from(self.timescale.max(1))
    }
}

/// A track's samples, in decoding order.
pub struct Samples<'a> {
    tables: Option<Tables<'a>>,
    position: Option<Position>,
}

impl Iterator for Samples<'_> {
    type Item = Sample;

    fn next(&mut self) -> Option<Sample> {
        let tables = self.tables.as_ref()?;
        self.position.as_mut()?.next(tables)
    }
}

/// The sample tables of one track, each checked to hold what it declares.
pub(crate) struct Tables<'a> {
    /// Samples in the track, from `stsz`.
    pub sample_count: u32,
    /// Every sample's size when they are all the same; 0 when `sizes` gives them.
    uniform_size: u32,
    /// One big-endian u32 per sample when `uniform_size` is 0.
    sizes: &'a [u8],
    /// `stsc` entries: first chunk, samples per chunk, description index.
    chunk_map: &'a [u8],
    /// `stco` (u32) or `co64` (u64) chunk offsets.
    offsets: &'a [u8],
    wide_offsets: bool,
    /// `stts` entries: sample count, duration.
    times: &'a [u8],
    /// `ctts` entries: sample count, composition offset.
    composition: &'a [u8],
    /// `stss` sample numbers, ascending; none means every sample is a sync sample.
    sync: Option<&'a [u8]>,
}

/// One chunk of samples.
pub(crate) struct Chunk {
    /// From 1.
    pub number: u64,
    pub start: u64,
    pub bytes: u64,
    pub samples: u32,
}

impl<'a> Tables<'a> {
    /// The tables of `stbl`; none for a track without samples (a
    /// fragmented file's).
    pub fn read(stbl: Mp4Box<'a>, track: usize) -> Result<Option<Self>, Mp4Error> {
        let Some(sizes) = find(stbl, b"stsz")? else {
            return Ok(None);
        };
        let mut sizes = Fields::new(sizes);
        sizes.version()?;
        let uniform_size = sizes.u32()?;
        let sample_count = sizes.u32()?;
        if sample_count == 0 {
            return Ok(None);
        }
        let sizes = if uniform_size == 0 {
            sizes.take((sample_count as usize).saturating_mul(4))?
        } else {
            &[]
        };

        let chunk_map = find(stbl, b"stsc")?.ok_or_else(|| missing(track, "stsc"))?;
        let chunk_map = table(chunk_map, 12)?;
        if chunk_map.is_empty() {
            return Err(corrupt(format!(
                "track {track} has samples but an empty 'stsc' table"
            )));
        }
        let (offsets, wide_offsets) = match find(stbl, b"stco")? {
            Some(offsets) => (table(offsets, 4)?, false),
            None => (
                table(
                    find(stbl, b"co64")?.ok_or_else(|| missing(track, "stco"))?,
                    8,
                )?,
                true,
            ),
        };
        let times = find(stbl, b"stts")?
            .map(|stts| table(stts, 8))
            .transpose()?
            .unwrap_or_default();
        let composition = find(stbl, b"ctts")?
            .map(|ctts| table(ctts, 8))
            .transpose()?
            .unwrap_or_default();
        let sync = find(stbl, b"stss")?
            .map(|stss| table(stss, 4))
            .transpose()?;
        Ok(Some(Self {
            sample_count,
            uniform_size,
            sizes,
            chunk_map,
            offsets,
            wide_offsets,
            times,
            composition,
            sync,
        }))
    }

    fn chunk_count(&self) -> usize {
        self.offsets.len() / if self.wide_offsets { 8 } else { 4 }
    }

    fn chunk_offset(&self, chunk: usize) -> u64 {
        if self.wide_offsets {
            be_u64(self.offsets, chunk * 8)
        } else {
            u64::from(be_u32(self.offsets, chunk * 4))
        }
    }

    /// Entry `index` of `stsc`: (first chunk, samples per chunk).
    fn map_entry(&self, index: usize) -> (u32, u32) {
        (
            be_u32(self.chunk_map, index * 12),
            be_u32(self.chunk_map, index * 12 + 4),
        )
    }

    fn size(&self, sample: u32) -> u32 {
        if self.uniform_size != 0 {
            self.uniform_size
        } else {
            be_u32(self.sizes, sample as usize * 4)
        }
    }

    /// The chunks, in order, up to the last one holding a sample.
    pub fn chunks(&self) -> impl Iterator<Item = Chunk> + '_ {
        let mut map_index = 0;
        let mut sample = 0u32;
        (0..self.chunk_count()).map_while(move |chunk| {
            if sample == self.sample_count {
                return None;
            }
            let number = chunk as u64 + 1;
            let map_entries = self.chunk_map.len() / 12;
            while map_index + 1 < map_entries
                && u64::from(self.map_entry(map_index + 1).0) <= number
            {
                map_index += 1;
            }
            let samples = self.map_entry(map_index).1.min(self.sample_count - sample);
            let bytes = if self.uniform_size != 0 {
                u64::from(samples) * u64::from(self.uniform_size)
            } else {
                (sample..sample + samples)
                    .map(|index| u64::from(self.size(index)))
                    .sum()
            };
            sample += samples;
            Some(Chunk {
                number,
                start: self.chunk_offset(chunk),
                bytes,
                samples,
            })
        })
    }
}

/// A full box's table of `entry_len`-byte entries after its entry count.
fn table<'a>(of: Mp4Box<'a>, entry_len: usize) -> Result<&'a [u8], Mp4Error> {
    let mut fields = Fields::new(of);
    fields.version()?;
    let entries = fields.u32()? as usize;
    fields.take(entries.saturating_mul(entry_len))
}

fn missing(track: usize, kind: &str) -> Mp4Error {
    corrupt(format!("track {track} has no '{kind}' box"))
}

/// Where the walk through the tables is.
struct Position {
    /// The next sample, from 0.
    sample: u32,
    /// The chunk of the next sample, from 0, its offset and the samples left in it.
    chunk: usize,
    map_index: usize,
    offset: u64,
    left_in_chunk: u32,
    decode_time: u64,
    /// Index into `stts` and the samples left in that entry.
    time_entry: usize,
    time_left: u32,
    composition_entry: usize,
    composition_left: u32,
    /// Index into `stss`.
    sync_index: usize,
}

impl Position {
    fn new(tables: &Tables<'_>) -> Self {
        let mut position = Self {
            sample: 0,
            chunk: 0,
            map_index: 0,
            offset: 0,
            left_in_chunk: 0,
            decode_time: 0,
            time_entry: 0,
            time_left: 0,
            composition_entry: 0,
            composition_left: 0,
            sync_index: 0,
        };
        position.enter_chunk(tables, 0);
        position.time_left = entry_count(tables.times, 0);
        position.composition_left = entry_count(tables.composition, 0);
        position
    }

    fn enter_chunk(&mut self, tables: &Tables<'_>, chunk: usize) {
        self.chunk = chunk;
        if chunk >= tables.chunk_count() {
            self.left_in_chunk = 0;
            return;
        }
        let number = chunk as u64 + 1;
        let map_entries = tables.chunk_map.len() / 12;
        while self.map_index + 1 < map_entries
            && u64::from(tables.map_entry(self.map_index + 1).0) <= number
        {
            self.map_index += 1;
        }
        self.offset = tables.chunk_offset(chunk);
        self.left_in_chunk = tables.map_entry(self.map_index).1;
    }

    fn next(&mut self, tables: &Tables<'_>) -> Option<Sample> {
        if self.sample >= tables.sample_count {
            return None;
        }
        while self.left_in_chunk == 0 {
            if self.chunk + 1 >= tables.chunk_count() {
                return None;
            }
            self.enter_chunk(tables, self.chunk + 1);
        }
        let number = self.sample + 1;
        let size = tables.size(self.sample);
        let duration = step(tables.times, &mut self.time_entry, &mut self.time_left);
        let composition_offset = step(
            tables.composition,
            &mut self.composition_entry,
            &mut self.composition_left,
        ) as i32;
        let sync = match tables.sync {
            None => true,
            Some(list) => {
                while self.sync_index * 4 < list.len() && be_u32(list, self.sync_index * 4) < number
                {
                    self.sync_index += 1;
                }
                self.sync_index * 4 < list.len() && be_u32(list, self.sync_index * 4) == number
            }
        };
        let sample = Sample {
            number,
            offset: self.offset,
            size,
            decode_time: self.decode_time,
            duration,
            composition_offset,
            sync,
        };
        self.sample += 1;
        self.left_in_chunk -= 1;
        self.offset = self.offset.saturating_add(u64::from(size));
        self.decode_time = self.decode_time.saturating_add(u64::from(duration));
        Some(sample)
    }
}

/// The sample count of entry `index` of a (count, value) table; 0 past its end.
fn entry_count(table: &[u8], index: usize) -> u32 {
    if (index + 1) * 8 <= table.len() {
        be_u32(table, index * 8)
    } else {
        0
    }
}

/// The value for the next sample from a (count, value) table (`stts`,
/// `ctts`), moving on through it; 0 past its end.
fn step(table: &[u8], entry: &mut usize, left: &mut u32) -> u32 {
    while *left == 0 {
        if (*entry + 1) * 8 >= table.len() {
            return 0;
        }
        *entry += 1;
        *left = entry_count(table, *entry);
    }
    *left -= 1;
    be_u32(table, *entry * 8 + 4)
}
