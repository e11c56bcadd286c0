//! Which bytes a media request gets: `Range`, `If-Range` and
//! `If-None-Match` by RFC 9110 (sections 13.1.2, 13.1.5, 14.2), on header
//! text and a file size only, so every rule is tested without a socket.
//!
//! One range is served as asked; several ranges get the whole file (allowed
//! by RFC 9110, and what a resuming device never asks for); a header that
//! does not parse is ignored, as the RFC says.

/// What to send for a `GET`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Selection {
    /// The whole file: 200.
    Full,
    /// Bytes `start..=end` of the file: 206.
    Partial { start: u64, end: u64 },
    /// No byte of the file was asked for: 416.
    Unsatisfiable,
}

impl Selection {
    /// What a `Range` header (if any) selects of a file of `size` bytes.
    pub fn of(range: Option<&str>, size: u64) -> Self {
        let Some(spec) = range.and_then(single_byte_range) else {
            return Self::Full;
        };
        match spec {
            Spec::From(start) if start < size => Self::Partial {
                start,
                end: size - 1,
            },
            Spec::Between(start, end) if start < size => Self::Partial {
                start,
                end: end.min(size - 1),
            },
            Spec::Last(count) if count > 0 && size > 0 => Self::Partial {
                start: size.saturating_sub(count),
                end: size - 1,
            },
            _ => Self::Unsatisfiable,
        }
    }
}

/// One byte range as written.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Spec {
    /// `a-`
    From(u64),
    /// `a-b`, with `a <= b`
    Between(u64, u64),
    /// `-n`: the last `n` bytes.
    Last(u64),
}

/// The one range of a `bytes=` header; `None` for other units, several
/// ranges, or anything malformed.
fn single_byte_range(header: &str) -> Option<Spec> {
    let (unit, set) = header.trim().split_once('=')?;
    if !unit.trim().eq_ignore_ascii_case("bytes") || set.contains(',') {
        return None;
    }
    let (first, last) = set.trim().split_once('-')?;
    let number = |text: &str| -> Option<u64> {
        let text = text.trim();
        if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        text.parse().ok()
    };
    match (first.trim().is_empty(), last.trim().is_empty()) {
        (true, false) => number(last).map(Spec::Last),
        (false, true) => number(first).map(Spec::From),
        (false, false) => {
            let (start, end) = (number(first)?, number(last)?);
            (start <= end).then_some(Spec::Between(start, end))
        }
        (true, true) => None,
    }
}

/// Whether a `Range` may be honoured given the request's `If-Range`: only
/// if there is none, or it is exactly our strong `etag`. A date or another
/// tag means the client's partial copy may be of something else, so it gets
/// the whole file.
pub fn if_range_allows(if_range: Option<&str>, etag: &str) -> bool {
    if_range.is_none_or(|value| value.trim() == etag)
}

/// Whether `If-None-Match` names `etag` (weak comparison, or `*`): then the
/// client has the file and gets 304.
pub fn if_none_match_hits(if_none_match: Option<&str>, etag: &str) -> bool {
    let Some(value) = if_none_match else {
        return false;
    };
    let opaque = |tag: &str| {
        let tag = tag.trim();
        tag.strip_prefix("W/").unwrap_or(tag).to_owned()
    };
    value.trim() == "*" || value.split(',').any(|tag| opaque(tag) == opaque(etag))
}

#[cfg(test)]
mod tests {
    use super::*;

    const SIZE: u64 = 1000;

    fn of(range: &str) -> Selection {
        Selection::of(Some(range), SIZE)
    }

    fn part(start: u64, end: u64) -> Selection {
        Selection::Partial { start, end }
    }

    #[test]
    fn one_range_of_each_form_selects_its_bytes() {
        assert_eq!(of("bytes=0-99"), part(0, 99));
        assert_eq!(of("bytes=500-"), part(500, 999));
        assert_eq!(of("bytes=-100"), part(900, 999));
        assert_eq!(of("bytes=999-999"), part(999, 999));
        assert_eq!(of(" Bytes = 10 - 19 "), part(10, 19));
    }

    #[test]
    fn ranges_past_the_end_are_clipped_or_unsatisfiable() {
        assert_eq!(of("bytes=900-5000"), part(900, 999));
        assert_eq!(of("bytes=-5000"), part(0, 999));
        assert_eq!(of("bytes=1000-"), Selection::Unsatisfiable);
        assert_eq!(of("bytes=1000-1001"), Selection::Unsatisfiable);
        assert_eq!(of("bytes=-0"), Selection::Unsatisfiable);
        assert_eq!(
            Selection::of(Some("bytes=-10"), 0),
            Selection::Unsatisfiable
        );
        assert_eq!(Selection::of(Some("bytes=0-"), 0), Selection::Unsatisfiable);
    }

    #[test]
    fn no_range_several_ranges_and_malformed_ones_get_the_whole_file() {
        assert_eq!(Selection::of(None, SIZE), Selection::Full);
        for header in [
            "bytes=0-1,5-6",
            "bytes=0-1,",
            "items=0-1",
            "bytes=5-1",
            "bytes=-",
            "bytes=a-b",
            "bytes=+1-2",
            "bytes 0-1",
            "bytes=1-2-3",
            "bytes=99999999999999999999999-",
        ] {
            assert_eq!(of(header), Selection::Full, "{header}");
        }
    }

    #[test]
    fn if_range_must_be_exactly_our_strong_etag() {
        let etag = "\"abc\"";
        assert!(if_range_allows(None, etag));
        assert!(if_range_allows(Some("\"abc\""), etag));
        assert!(!if_range_allows(Some("\"abd\""), etag));
        assert!(!if_range_allows(Some("W/\"abc\""), etag));
        assert!(!if_range_allows(
            Some("Sun, 06 Nov 1994 08:49:37 GMT"),
            etag
        ));
    }

    #[test]
    fn if_none_match_compares_weakly_and_takes_lists_and_stars() {
        let etag = "\"abc\"";
        assert!(!if_none_match_hits(None, etag));
        assert!(if_none_match_hits(Some("\"abc\""), etag));
        assert!(if_none_match_hits(Some("W/\"abc\""), etag));
        assert!(if_none_match_hits(Some("\"x\", \"abc\""), etag));
        assert!(if_none_match_hits(Some("*"), etag));
        assert!(!if_none_match_hits(Some("\"abd\""), etag));
    }
}
