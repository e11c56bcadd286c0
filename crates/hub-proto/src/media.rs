//! How devices fetch media: the HTTP side of [`crate::MediaRef`].
//!
//! The hub serves each stored file at `/media/v1/{sha256}` (lower-case hex),
//! so a URL names its content and never changes meaning. Devices
//! authenticate with HTTP Basic: user = device id, password = the device's
//! broker password from its provisioning; unknown or revoked devices are
//! refused. Responses carry a strong ETag, the quoted hash, and honour single
//! `Range` requests, so a download cut by a dropped 4G link resumes where it
//! stopped (`Range: bytes=N-` with `If-Range: "{sha256}"`).
//!
//! An entry may also list the file's parts ([`crate::MediaChunk`], made by
//! [`chunks_of`]): a device verifies each part as it arrives and may use the
//! verified beginning of a file before the rest has come, which an emergency
//! due now needs. The whole file's SHA-256 is still checked at the end.
//!
//! An Ogg file's first part is kept small ([`HEAD_BYTES`]: the Opus headers
//! and a second or two of speech) so the hub can carry it inside an
//! emergency's command (`MediaRef::head`, [`encode_head`]): a loudspeaker
//! then starts with no HTTP request at all, checks it with [`head_bytes`],
//! and fetches only the rest (`Range: bytes={head size}-`).

use std::sync::Arc;

use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine;
use sha2::{Digest, Sha256};

use crate::{MediaChunk, MediaRef};

/// The size parts aim at: a few seconds of broadcast speech (24 kbit/s),
/// small enough that the first arrives at once even over a slow 4G link.
pub const CHUNK_BYTES: u64 = 16 * 1024;
/// Parts per file at most: a longer file gets longer parts, so a plan entry
/// never carries more than this many hashes.
pub const MAX_CHUNKS: u64 = 64;
/// An Ogg file's first part ends at the first page boundary at or after
/// this many bytes: the Opus header pages and about a second of speech at
/// 24 kbit/s, small enough to travel inside a command.
pub const HEAD_BYTES: u64 = 4 * 1024;
/// The largest first part the hub inlines in a command (21,848 bytes of
/// base64); a file whose first part is longer (an Ogg file with huge pages,
/// or not Ogg) is fetched whole over HTTP as before.
pub const MAX_HEAD_BYTES: u64 = 16 * 1024;

/// Why an inlined first part ([`crate::MediaRef::head`]) cannot be used; the
/// device then fetches the file as if it were absent.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HeadError {
    #[error("the file's parts do not add up to it, so a head cannot be checked")]
    NoParts,
    #[error("the head is not base64")]
    NotBase64,
    #[error("the head is {actual} bytes, the first part {expected}")]
    WrongSize { actual: u64, expected: u64 },
    #[error("the head does not hash to the first part's SHA-256")]
    Mismatch,
}

/// The path under which media is served, before the hash.
pub const MEDIA_PATH_PREFIX: &str = "/media/v1/";

/// The path of the file whose SHA-256 is `sha256_hex`.
pub fn media_path(sha256_hex: &str) -> String {
    format!("{MEDIA_PATH_PREFIX}{sha256_hex}")
}

/// The hash a media path names, if it is one: the prefix then exactly 64
/// lower-case hex digits.
pub fn parse_media_path(path: &str) -> Option<&str> {
    let hash = path.strip_prefix(MEDIA_PATH_PREFIX)?;
    is_sha256_hex(hash).then_some(hash)
}

/// Whether `text` is a SHA-256 written as the protocol writes it: 64
/// lower-case hex digits.
pub fn is_sha256_hex(text: &str) -> bool {
    text.len() == 64 && text.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

/// The strong ETag of the file whose SHA-256 is `sha256_hex`.
pub fn etag(sha256_hex: &str) -> String {
    format!("\"{sha256_hex}\"")
}

/// The parts the hub lists for `bytes`: consecutive, covering the file,
/// each at least `max(CHUNK_BYTES, size / (MAX_CHUNKS - 2))` bytes but the
/// last. An Ogg file (Ogg Opus audio) is cut only between pages, so every
/// part is whole pages and a verified beginning decodes on its own, and its
/// first part is only [`HEAD_BYTES`] (to the next page end), small enough
/// to inline; any other file, or an Ogg file whose pages do not parse, is
/// cut at that size. At most [`MAX_CHUNKS`] parts either way.
pub fn chunks_of(bytes: &[u8]) -> Vec<MediaChunk> {
    let size = bytes.len() as u64;
    let target = CHUNK_BYTES.max(size / (MAX_CHUNKS - 2));
    let cuts = ogg_page_ends(bytes).map_or_else(
        || {
            (1..=size.div_ceil(target))
                .map(|i| (i * target).min(size))
                .collect()
        },
        |pages| {
            let mut cuts = Vec::new();
            let mut from = 0;
            for end in pages {
                let least = if cuts.is_empty() { HEAD_BYTES } else { target };
                if end - from >= least || end == size {
                    cuts.push(end);
                    from = end;
                }
            }
            cuts
        },
    );
    let mut from = 0;
    cuts.into_iter()
        .map(|end| {
            let part = &bytes[from as usize..end as usize];
            from = end;
            MediaChunk {
                size: part.len() as u64,
                sha256: sha256_hex(part),
            }
        })
        .collect()
}

/// Where each Ogg page of `bytes` ends, if `bytes` is nothing but whole
/// Ogg pages (RFC 3533: a 27-byte header whose last byte counts the lacing
/// values, which add up to the body's length).
fn ogg_page_ends(bytes: &[u8]) -> Option<Vec<u64>> {
    let mut ends = Vec::new();
    let mut at = 0usize;
    while at < bytes.len() {
        let header = bytes.get(at..at + 27)?;
        if !header.starts_with(b"OggS") {
            return None;
        }
        let segments = usize::from(header[26]);
        let lacing = bytes.get(at + 27..at + 27 + segments)?;
        let body: usize = lacing.iter().map(|&l| usize::from(l)).sum();
        at += 27 + segments + body;
        if at > bytes.len() {
            return None;
        }
        ends.push(at as u64);
    }
    (!ends.is_empty()).then_some(ends)
}

/// How long the Ogg Opus bytes `head` (whole pages, as a file's first part
/// is cut) play: the last page's granule position, which counts 48 kHz
/// samples from the start of the stream (RFC 7845; the few milliseconds of
/// pre-skip are not taken off). `None` if `head` is not whole Ogg pages or
/// holds no audio yet (header pages carry granule position 0).
pub fn ogg_opus_playable(head: &[u8]) -> Option<std::time::Duration> {
    let ends = ogg_page_ends(head)?;
    let last_start = ends.len().checked_sub(2).map_or(0, |i| ends[i] as usize);
    let granule = head.get(last_start + 6..last_start + 14)?;
    let samples = i64::from_le_bytes(granule.try_into().ok()?);
    (samples > 0).then(|| std::time::Duration::from_secs_f64(samples as f64 / 48_000.0))
}

/// Whether `file`'s parts can be used: they cover exactly `size` bytes, none
/// is empty and each names a SHA-256. A device verifies a file whose parts
/// do not fit only whole.
pub fn chunks_fit(file: &MediaRef) -> bool {
    !file.chunks.is_empty()
        && file.chunks.iter().map(|c| c.size).sum::<u64>() == file.size
        && file
            .chunks
            .iter()
            .all(|c| c.size > 0 && is_sha256_hex(&c.sha256))
}

/// `first_part` as [`crate::MediaRef::head`] carries it.
pub fn encode_head(first_part: &[u8]) -> Arc<str> {
    BASE64.encode(first_part).into()
}

/// The first part `file` carries inline, checked: `None` without a head;
/// else its bytes if its parts fit the file ([`chunks_fit`]) and it is
/// exactly the first part, `chunks[0]`, by size and SHA-256: the proof a
/// head is genuine, since heads travel beside a command's signed body and
/// the body names the part. A device ignores a head that does not check
/// and downloads the file.
pub fn head_bytes(file: &MediaRef) -> Option<Result<Vec<u8>, HeadError>> {
    Some(decode_head(file)?.and_then(|bytes| {
        if sha256_hex(&bytes) == file.chunks[0].sha256 {
            Ok(bytes)
        } else {
            Err(HeadError::Mismatch)
        }
    }))
}

/// [`head_bytes`] but the hash: the decoded head if the parts fit and it
/// is the first part's size. For a reader that proves the bytes another
/// way (a simulator comparing with a copy it already hashed); anything
/// else uses [`head_bytes`].
pub fn decode_head(file: &MediaRef) -> Option<Result<Vec<u8>, HeadError>> {
    let head = file.head.as_deref()?;
    Some(decode_checked(file, head))
}

fn decode_checked(file: &MediaRef, head: &str) -> Result<Vec<u8>, HeadError> {
    if !chunks_fit(file) {
        return Err(HeadError::NoParts);
    }
    let first = &file.chunks[0];
    // Base64 of the first part, no more: a longer text is not that part.
    if head.len() as u64 > first.size.div_ceil(3) * 4 {
        return Err(HeadError::WrongSize {
            actual: head.len() as u64 / 4 * 3,
            expected: first.size,
        });
    }
    let bytes = BASE64.decode(head).map_err(|_| HeadError::NotBase64)?;
    if bytes.len() as u64 != first.size {
        return Err(HeadError::WrongSize {
            actual: bytes.len() as u64,
            expected: first.size,
        });
    }
    Ok(bytes)
}

/// Lower-case hex SHA-256, as the protocol writes it.
pub fn sha256_hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|byte| format!("{byte:02x}"))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// One Ogg page whose body is `body` bytes (lacing values of 255 then the rest).
    fn ogg_page(body: usize) -> Vec<u8> {
        let mut lacing = vec![255u8; body / 255];
        lacing.push((body % 255) as u8);
        let mut page = b"OggS".to_vec();
        page.extend_from_slice(&[0; 22]);
        page.push(lacing.len() as u8);
        page.extend_from_slice(&lacing);
        page.extend(std::iter::repeat_n(7u8, body));
        page
    }

    /// [`ogg_page`] with granule position `granule`.
    fn ogg_page_at(body: usize, granule: i64) -> Vec<u8> {
        let mut page = ogg_page(body);
        page[6..14].copy_from_slice(&granule.to_le_bytes());
        page
    }

    #[test]
    fn a_head_plays_as_long_as_its_last_pages_granule_position_says() {
        let head = [
            ogg_page_at(19, 0),
            ogg_page_at(40, 0),
            ogg_page_at(3000, 96_000),
        ]
        .concat();
        assert_eq!(
            ogg_opus_playable(&head),
            Some(std::time::Duration::from_secs(2))
        );
        // Headers alone hold no audio; a cut page is not a head.
        let headers = [ogg_page_at(19, 0), ogg_page_at(40, 0)].concat();
        assert_eq!(ogg_opus_playable(&headers), None);
        assert_eq!(ogg_opus_playable(&head[..head.len() - 1]), None);
    }

    fn file_of(bytes: &[u8]) -> MediaRef {
        MediaRef {
            sha256: sha256_hex(bytes),
            size: bytes.len() as u64,
            url: String::new(),
            chunks: chunks_of(bytes).into(),
            head: None,
        }
    }

    #[test]
    fn ogg_files_are_cut_between_pages() {
        let pages: Vec<Vec<u8>> = (0..12).map(|i| ogg_page(4000 + i * 10)).collect();
        let bytes = pages.concat();
        let chunks = chunks_of(&bytes);
        let mut page_ends = Vec::new();
        let mut at = 0;
        for page in &pages {
            at += page.len() as u64;
            page_ends.push(at);
        }
        let mut at = 0;
        for (i, chunk) in chunks.iter().enumerate() {
            at += chunk.size;
            assert!(page_ends.contains(&at), "part {i} ends inside a page");
            if i == 0 {
                // Up to the first page end at or after HEAD_BYTES: two pages here.
                assert_eq!(chunk.size, (pages[0].len() + pages[1].len()) as u64);
                assert!(chunk.size >= HEAD_BYTES && chunk.size <= MAX_HEAD_BYTES);
            } else if i + 1 < chunks.len() {
                assert!(chunk.size >= CHUNK_BYTES, "part {i}: {}", chunk.size);
            }
            let start = (at - chunk.size) as usize;
            assert_eq!(chunk.sha256, sha256_hex(&bytes[start..at as usize]));
        }
        assert_eq!(chunks.len(), 4, "{chunks:?}");
        assert!(chunks_fit(&file_of(&bytes)));
    }

    #[test]
    fn a_long_ogg_file_has_a_small_head_and_no_more_than_the_most_parts() {
        // 4 MiB of 1,000-byte pages: parts grow past CHUNK_BYTES, the head does not.
        let page = ogg_page(1_000);
        let bytes = page.repeat(4 * 1024 * 1024 / page.len());
        let chunks = chunks_of(&bytes);
        assert!(chunks.len() as u64 <= MAX_CHUNKS, "{}", chunks.len());
        assert!(chunks.len() as u64 >= MAX_CHUNKS - 2, "{}", chunks.len());
        assert_eq!(
            chunks[0].size,
            4 * page.len() as u64,
            "the first page end past 4 KiB"
        );
        assert!(chunks[1].size > CHUNK_BYTES);
        assert!(chunks_fit(&file_of(&bytes)));
    }

    #[test]
    fn an_inline_head_is_the_first_part_or_is_refused() {
        let pages: Vec<Vec<u8>> = (0..8).map(|i| ogg_page(3000 + i)).collect();
        let bytes = pages.concat();
        let mut file = file_of(&bytes);
        assert_eq!(head_bytes(&file), None, "no head inlined");
        let first = file.chunks[0].size as usize;
        file.head = Some(encode_head(&bytes[..first]));
        assert_eq!(head_bytes(&file), Some(Ok(bytes[..first].to_vec())));

        let mut changed = bytes[..first].to_vec();
        changed[first / 2] ^= 1;
        let cases = [
            (encode_head(&changed), HeadError::Mismatch),
            (
                encode_head(&bytes[..first - 1]),
                HeadError::WrongSize {
                    actual: first as u64 - 1,
                    expected: first as u64,
                },
            ),
            ("not base64!".into(), HeadError::NotBase64),
        ];
        for (head, error) in cases {
            let bad = MediaRef {
                head: Some(head),
                ..file.clone()
            };
            assert_eq!(head_bytes(&bad), Some(Err(error.clone())));
            if error == HeadError::Mismatch {
                assert_eq!(decode_head(&bad), Some(Ok(changed.clone())), "no hash");
            } else {
                assert_eq!(decode_head(&bad), Some(Err(error)));
            }
        }
        let too_long = MediaRef {
            head: Some(encode_head(&bytes)),
            ..file.clone()
        };
        assert!(matches!(
            head_bytes(&too_long),
            Some(Err(HeadError::WrongSize { .. }))
        ));
        let no_parts = MediaRef {
            chunks: Default::default(),
            ..file.clone()
        };
        assert_eq!(head_bytes(&no_parts), Some(Err(HeadError::NoParts)));
    }

    #[test]
    fn other_files_are_cut_at_the_part_size_and_large_ones_into_few_parts() {
        let bytes = vec![1u8; 40_000];
        let sizes: Vec<u64> = chunks_of(&bytes).iter().map(|c| c.size).collect();
        assert_eq!(sizes, [16_384, 16_384, 7_232]);
        // An Ogg header that does not parse is not Ogg.
        let mut fake = b"OggS".to_vec();
        fake.resize(20_000, 0xff);
        assert_eq!(chunks_of(&fake).len(), 2);
        let large = vec![0u8; 10 * 1024 * 1024];
        let chunks = chunks_of(&large);
        assert!(chunks.len() as u64 <= MAX_CHUNKS, "{}", chunks.len());
        assert!(chunks_of(&[]).is_empty());
    }

    #[test]
    fn parts_that_do_not_cover_the_file_are_not_used() {
        let bytes = vec![3u8; 20_000];
        let good = file_of(&bytes);
        let with_chunks = |edit: &dyn Fn(&mut Vec<MediaChunk>)| {
            let mut chunks = good.chunks.to_vec();
            edit(&mut chunks);
            MediaRef {
                chunks: chunks.into(),
                ..good.clone()
            }
        };
        let short = with_chunks(&|chunks| {
            chunks.pop();
        });
        let empty_part = with_chunks(&|chunks| {
            chunks.push(MediaChunk {
                size: 0,
                sha256: sha256_hex(b""),
            })
        });
        let not_a_hash = with_chunks(&|chunks| chunks[0].sha256 = "x".into());
        let none = MediaRef {
            chunks: Default::default(),
            ..good.clone()
        };
        assert!(chunks_fit(&good));
        for bad in [short, empty_part, not_a_hash, none] {
            assert!(!chunks_fit(&bad), "{bad:?}");
        }
    }

    const HASH: &str = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08";

    #[test]
    fn a_path_round_trips_to_its_hash() {
        assert_eq!(parse_media_path(&media_path(HASH)), Some(HASH));
        assert_eq!(etag(HASH), format!("\"{HASH}\""));
    }

    #[test]
    fn paths_that_are_not_one_hash_are_refused() {
        let upper = HASH.to_uppercase();
        for path in [
            format!("/media/v2/{HASH}"),
            format!("{MEDIA_PATH_PREFIX}{upper}"),
            format!("{MEDIA_PATH_PREFIX}{}", &HASH[1..]),
            format!("{MEDIA_PATH_PREFIX}{HASH}0"),
            format!("{MEDIA_PATH_PREFIX}../{}", &HASH[3..]),
        ] {
            assert_eq!(parse_media_path(&path), None, "{path}");
        }
    }
}
