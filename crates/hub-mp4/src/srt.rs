//! SubRip (SRT) subtitles, read strictly: UTF-8 text of numbered cues, each
//! a `HH:MM:SS,mmm --> HH:MM:SS,mmm` line and at least one line of text,
//! separated by blank lines. Errors name the cue (counted from 1 in the
//! file's order) and the line.

use crate::text::without_markup;
use crate::Mp4Error;

/// One cue: where it is in the file, its timing and its words.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SrtCue {
    /// Position in the file, from 1.
    pub number: usize,
    /// The line of its timing, from 1.
    pub line: usize,
    pub start_ms: u64,
    pub end_ms: u64,
    /// Its lines, joined by `\n`, without markup (`<i>`, `{\an8}`).
    pub text: String,
}

/// Parses and checks an SRT file; it holds at least one cue.
pub fn parse(bytes: &[u8]) -> Result<Vec<SrtCue>, Mp4Error> {
    let text = std::str::from_utf8(bytes).map_err(|err| {
        let line = bytes[..err.valid_up_to()]
            .iter()
            .filter(|&&b| b == b'\n')
            .count()
            + 1;
        Mp4Error::InvalidSrt {
            detail: format!("line {line} is not UTF-8 text"),
        }
    })?;
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut lines = text
        .split('\n')
        .map(|line| line.strip_suffix('\r').unwrap_or(line))
        .zip(1..)
        .peekable();
    let mut cues = Vec::new();
    loop {
        while lines.next_if(|(line, _)| line.trim().is_empty()).is_some() {}
        let Some((number_line, number_at)) = lines.next() else {
            break;
        };
        let number = cues.len() + 1;
        let invalid = |line: usize, detail: String| Mp4Error::InvalidSrtCue {
            cue: number,
            line,
            detail,
        };
        let written = number_line.trim();
        if written.is_empty()
            || !written.bytes().all(|b| b.is_ascii_digit())
            || written.bytes().all(|b| b == b'0')
        {
            return Err(invalid(
                number_at,
                format!("expected the cue's number, found {written:?}"),
            ));
        }
        let Some((timing, timing_at)) = lines.next() else {
            return Err(invalid(
                number_at,
                "the file ends after the cue's number".to_owned(),
            ));
        };
        let (start_ms, end_ms) =
            parse_timing(timing).map_err(|detail| invalid(timing_at, detail))?;
        if end_ms <= start_ms {
            return Err(invalid(
                timing_at,
                format!(
                    "it ends at {} but starts at {}",
                    timestamp(end_ms),
                    timestamp(start_ms)
                ),
            ));
        }
        let mut text_lines = Vec::new();
        while let Some((line, _)) = lines.next_if(|(line, _)| !line.trim().is_empty()) {
            text_lines.push(line.trim());
        }
        if text_lines.is_empty() {
            return Err(invalid(timing_at, "it has no text".to_owned()));
        }
        cues.push(SrtCue {
            number,
            line: timing_at,
            start_ms,
            end_ms,
            text: without_overrides(&without_markup(&text_lines.join("\n"))),
        });
    }
    if cues.is_empty() {
        return Err(Mp4Error::InvalidSrt {
            detail: "it holds no cues".to_owned(),
        });
    }
    Ok(cues)
}

/// SRT text without the `{\an8}`-style overrides some editors write.
fn without_overrides(text: &str) -> String {
    let mut plain = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(open) = rest.find("{\\") {
        plain.push_str(&rest[..open]);
        rest = match rest[open..].find('}') {
            Some(close) => &rest[open + close + 1..],
            None => "",
        };
    }
    plain.push_str(rest);
    plain
}

/// `HH:MM:SS,mmm --> HH:MM:SS,mmm`, optionally followed by position
/// coordinates, which are ignored.
fn parse_timing(line: &str) -> Result<(u64, u64), String> {
    let expected = || format!("expected `HH:MM:SS,mmm --> HH:MM:SS,mmm`, found {line:?}");
    let (start, rest) = line.split_once("-->").ok_or_else(expected)?;
    let end = rest.split_whitespace().next().ok_or_else(expected)?;
    let start = parse_timestamp(start.trim())
        .ok_or_else(|| format!("the start time {:?} is not HH:MM:SS,mmm", start.trim()))?;
    let end =
        parse_timestamp(end).ok_or_else(|| format!("the end time {end:?} is not HH:MM:SS,mmm"))?;
    Ok((start, end))
}

/// `HH:MM:SS,mmm` in milliseconds; minutes and seconds under 60.
fn parse_timestamp(text: &str) -> Option<u64> {
    let bytes = text.as_bytes();
    if bytes.len() != 12 || bytes[2] != b':' || bytes[5] != b':' || bytes[8] != b',' {
        return None;
    }
    let field = |range: std::ops::Range<usize>| -> Option<u64> {
        let digits = text.get(range)?;
        digits
            .bytes()
            .all(|b| b.is_ascii_digit())
            .then(|| digits.parse().ok())
            .flatten()
    };
    let (hours, minutes, seconds, millis) =
        (field(0..2)?, field(3..5)?, field(6..8)?, field(9..12)?);
    if minutes >= 60 || seconds >= 60 {
        return None;
    }
    Some(((hours * 60 + minutes) * 60 + seconds) * 1000 + millis)
}

/// Milliseconds as `HH:MM:SS,mmm`, the way an SRT file writes them.
pub fn timestamp(ms: u64) -> String {
    let (hours, rest) = (ms / 3_600_000, ms % 3_600_000);
    let (minutes, rest) = (rest / 60_000, rest % 60_000);
    format!(
        "{hours:02}:{minutes:02}:{:02},{:03}",
        rest / 1000,
        rest % 1000
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cue_error(srt: &str) -> (usize, usize, String) {
        match parse(srt.as_bytes()) {
            Err(Mp4Error::InvalidSrtCue { cue, line, detail }) => (cue, line, detail),
            other => panic!("expected a cue error, got {other:?}"),
        }
    }

    #[test]
    fn reads_cues_with_crlf_bom_and_position() {
        let srt = "\u{feff}1\r\n00:00:00,500 --> 00:00:02,000\r\nXin chào\r\n\r\n\
                   2\r\n00:00:02,000 --> 00:01:03,250 X1:10 X2:20\r\nhai dòng\r\nthứ hai\r\n";
        let cues = parse(srt.as_bytes()).expect("valid SRT");
        assert_eq!(
            cues,
            vec![
                SrtCue {
                    number: 1,
                    line: 2,
                    start_ms: 500,
                    end_ms: 2000,
                    text: "Xin chào".to_owned(),
                },
                SrtCue {
                    number: 2,
                    line: 6,
                    start_ms: 2000,
                    end_ms: 63_250,
                    text: "hai dòng\nthứ hai".to_owned(),
                },
            ]
        );
    }

    #[test]
    fn a_bad_timestamp_names_its_cue_and_line() {
        let (cue, line, detail) = cue_error(
            "1\n00:00:01,000 --> 00:00:02,000\nA\n\n2\n00:00:03.000 --> 00:00:04,000\nB\n",
        );
        assert_eq!((cue, line), (2, 6));
        assert!(detail.contains("00:00:03.000"), "{detail}");
    }

    #[test]
    fn an_end_before_the_start_is_refused() {
        let (cue, line, detail) = cue_error("1\n00:00:05,000 --> 00:00:04,000\nA\n");
        assert_eq!((cue, line), (1, 2));
        assert_eq!(detail, "it ends at 00:00:04,000 but starts at 00:00:05,000");
    }

    #[test]
    fn missing_numbers_text_and_out_of_range_minutes_are_refused() {
        assert_eq!(cue_error("00:00:01,000 --> 00:00:02,000\nA\n").1, 1);
        assert_eq!(
            cue_error("1\n00:00:01,000 --> 00:00:02,000\n\n").2,
            "it has no text"
        );
        assert!(cue_error("1\n00:61:01,000 --> 00:62:02,000\nA\n")
            .2
            .contains("start time"));
    }

    #[test]
    fn not_utf8_and_empty_files_are_refused() {
        let err = parse(b"1\n00:00:01,000 --> 00:00:02,000\n\xff\xfe\n").unwrap_err();
        assert_eq!(
            err.to_string(),
            "the subtitle file is not valid SRT: line 3 is not UTF-8 text"
        );
        assert!(matches!(
            parse(b"\n\n").unwrap_err(),
            Mp4Error::InvalidSrt { .. }
        ));
    }

    #[test]
    fn timestamps_are_written_back_as_srt() {
        assert_eq!(timestamp(3_723_004), "01:02:03,004");
        assert_eq!(parse_timestamp("01:02:03,004"), Some(3_723_004));
    }
}
