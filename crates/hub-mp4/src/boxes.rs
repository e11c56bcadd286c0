//! The boxes of an MP4 file (ISO/IEC 14496-12), read with every declared
//! length checked against the bytes really there before it is used.

use crate::error::{corrupt, Mp4Error};
use crate::FourCc;

/// Reads a big-endian u32 at a position already checked to be in range.
pub(crate) fn be_u32(data: &[u8], at: usize) -> u32 {
    let mut bytes = [0; 4];
    bytes.copy_from_slice(&data[at..at + 4]);
    u32::from_be_bytes(bytes)
}

pub(crate) fn be_u64(data: &[u8], at: usize) -> u64 {
    let mut bytes = [0; 8];
    bytes.copy_from_slice(&data[at..at + 8]);
    u64::from_be_bytes(bytes)
}

/// The first child of `parent` of type `kind`.
pub(crate) fn find<'a>(parent: Mp4Box<'a>, kind: &[u8; 4]) -> Result<Option<Mp4Box<'a>>, Mp4Error> {
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
pub(crate) struct Mp4Box<'a> {
    pub(crate) kind: [u8; 4],
    pub(crate) body: &'a [u8],
    /// Offset of the box in the file, for messages.
    pub(crate) offset: usize,
    /// Offset of the body in the file.
    pub(crate) body_offset: usize,
}

/// The boxes in a file, or in part of a container box's body.
pub(crate) struct Boxes<'a> {
    data: &'a [u8],
    pos: usize,
    /// File offset of `data[0]`.
    base: usize,
    /// The container; `None` for the file itself, where running out of
    /// bytes means the file was cut short.
    parent: Option<FourCc>,
}

impl<'a> Boxes<'a> {
    pub(crate) fn top_level(file: &'a [u8]) -> Self {
        Self {
            data: file,
            pos: 0,
            base: 0,
            parent: None,
        }
    }

    pub(crate) fn inside(parent: Mp4Box<'a>) -> Self {
        Self::inside_from(parent, 0)
    }

    /// The boxes in `parent`'s body after `skip` bytes of fields.
    pub(crate) fn inside_from(parent: Mp4Box<'a>, skip: usize) -> Self {
        let skip = skip.min(parent.body.len());
        Self {
            data: &parent.body[skip..],
            pos: 0,
            base: parent.body_offset + skip,
            parent: Some(FourCc(parent.kind)),
        }
    }

    fn read(&self, rest: &'a [u8]) -> Result<Mp4Box<'a>, Mp4Error> {
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
    ) -> Mp4Error {
        let what = kind.map_or_else(
            || "a box header".to_owned(),
            |kind| format!("the {kind} box"),
        );
        match self.parent {
            None => Mp4Error::Truncated {
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
    type Item = Result<Mp4Box<'a>, Mp4Error>;

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
pub(crate) struct Fields<'a> {
    pub(crate) data: &'a [u8],
    pub(crate) pos: usize,
    kind: FourCc,
    offset: usize,
}

impl<'a> Fields<'a> {
    pub(crate) fn new(of: Mp4Box<'a>) -> Self {
        Self {
            data: of.body,
            pos: 0,
            kind: FourCc(of.kind),
            offset: of.offset,
        }
    }

    /// Checks `len` more bytes are there, without reading them.
    pub(crate) fn ensure(&self, len: usize) -> Result<(), Mp4Error> {
        if self.data.len() - self.pos < len {
            return Err(corrupt(format!(
                "the {} box at byte {} is too short for what it declares",
                self.kind, self.offset
            )));
        }
        Ok(())
    }

    pub(crate) fn take(&mut self, len: usize) -> Result<&'a [u8], Mp4Error> {
        self.ensure(len)?;
        let taken = &self.data[self.pos..self.pos + len];
        self.pos += len;
        Ok(taken)
    }

    pub(crate) fn skip(&mut self, len: usize) -> Result<(), Mp4Error> {
        self.take(len).map(|_| ())
    }

    pub(crate) fn array<const N: usize>(&mut self) -> Result<[u8; N], Mp4Error> {
        let mut array = [0; N];
        array.copy_from_slice(self.take(N)?);
        Ok(array)
    }

    pub(crate) fn u16(&mut self) -> Result<u16, Mp4Error> {
        self.array().map(u16::from_be_bytes)
    }

    pub(crate) fn u32(&mut self) -> Result<u32, Mp4Error> {
        self.array().map(u32::from_be_bytes)
    }

    pub(crate) fn u64(&mut self) -> Result<u64, Mp4Error> {
        self.array().map(u64::from_be_bytes)
    }

    /// A full box's version; its flags are skipped.
    pub(crate) fn version(&mut self) -> Result<u8, Mp4Error> {
        let [version, ..] = self.array::<4>()?;
        Ok(version)
    }
}
