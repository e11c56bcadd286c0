//! Subtitle cues from a timed-text track: 3GPP timed text (`tx3g`, what
//! ffmpeg writes as mov_text) and WebVTT in MP4 (`wvtt`). Each sample is
//! one stretch of time and the text shown during it; an empty sample is a
//! gap between cues.

use crate::boxes::{Boxes, Mp4Box};
use crate::error::{corrupt, Mp4Error};
use crate::movie::{SubtitleCodec, Track};

/// A subtitle and when it shows, in milliseconds from the start of the video.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Cue {
    pub start_ms: u64,
    /// Shown up to, not including, this instant.
    pub end_ms: u64,
    /// The words, lines separated by `\n`, without markup.
    pub text: String,
}

/// The cue showing at `position_ms` from the start of the video: of cues
/// that overlap there, the one that started last. `cues` are in start order.
pub fn cue_at(cues: &[Cue], position_ms: u64) -> Option<&Cue> {
    let started = cues.partition_point(|cue| cue.start_ms <= position_ms);
    cues[..started]
        .iter()
        .rev()
        .find(|cue| position_ms < cue.end_ms)
}

impl Track {
    /// Every cue of this subtitle track, in start order; empty samples and
    /// samples of no duration show nothing and give none.
    pub fn cues(&self, file: &[u8], codec: SubtitleCodec) -> Result<Vec<Cue>, Mp4Error> {
        let mut cues = Vec::new();
        for sample in self.samples(file)? {
            let data = self.sample_data(file, &sample)?;
            let text = match codec {
                SubtitleCodec::MovText => mov_text(data),
                SubtitleCodec::WebVtt => webvtt_text(data),
            }
            .map_err(|detail| {
                corrupt(format!(
                    "subtitle sample {} of track {} {detail}",
                    sample.number, self.number
                ))
            })?;
            let text = text.trim();
            let start_ms = u64::try_from(self.start_ms(&sample)).unwrap_or(0);
            let end_ms = start_ms.saturating_add(self.duration_ms(&sample));
            if !text.is_empty() && end_ms > start_ms {
                cues.push(Cue {
                    start_ms,
                    end_ms,
                    text: text.to_owned(),
                });
            }
        }
        cues.sort_by_key(|cue| cue.start_ms);
        Ok(cues)
    }
}

/// A `tx3g` sample: a 16-bit text length, the text (UTF-8, or UTF-16
/// after a byte-order mark), then style boxes, which are not read. An
/// error says what is wrong with the sample.
fn mov_text(data: &[u8]) -> Result<String, String> {
    if data.is_empty() {
        return Ok(String::new());
    }
    let length = match data {
        [high, low, ..] => usize::from(u16::from_be_bytes([*high, *low])),
        _ => return Err("is shorter than its text length".to_owned()),
    };
    let text = data.get(2..2 + length).ok_or_else(|| {
        format!(
            "says its text is {length} bytes but holds {}",
            data.len() - 2
        )
    })?;
    match text {
        [0xFE, 0xFF, utf16 @ ..] => {
            let units: Vec<u16> = utf16
                .chunks_exact(2)
                .map(|pair| u16::from_be_bytes([pair[0], pair[1]]))
                .collect();
            String::from_utf16(&units).map_err(|_| "is not valid UTF-16 text".to_owned())
        }
        _ => std::str::from_utf8(text)
            .map(str::to_owned)
            .map_err(|_| "is not UTF-8 text".to_owned()),
    }
}

/// A `wvtt` sample: `vttc` boxes (one per cue showing), each with its text
/// in a `payl` box, or one `vtte` box for a gap.
fn webvtt_text(data: &[u8]) -> Result<String, String> {
    let whole = Mp4Box {
        kind: *b"wvtt",
        body: data,
        offset: 0,
        body_offset: 0,
    };
    let mut lines = Vec::new();
    for cue in Boxes::inside(whole) {
        let cue = cue.map_err(|error| format!("has a broken box ({error})"))?;
        if cue.kind != *b"vttc" {
            continue;
        }
        for part in Boxes::inside(cue) {
            let part = part.map_err(|error| format!("has a broken box ({error})"))?;
            if part.kind == *b"payl" {
                let text =
                    std::str::from_utf8(part.body).map_err(|_| "is not UTF-8 text".to_owned())?;
                lines.push(without_markup(text));
            }
        }
    }
    Ok(lines.join("\n"))
}

/// WebVTT cue text as plain words: tags (`<i>`, `<c.yellow>`, `<00:01.000>`)
/// dropped, the character references WebVTT defines for markup resolved.
pub fn without_markup(text: &str) -> String {
    let mut plain = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(open) = rest.find('<') {
        plain.push_str(&rest[..open]);
        rest = match rest[open..].find('>') {
            Some(close) => &rest[open + close + 1..],
            None => "",
        };
    }
    plain.push_str(rest);
    plain
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&nbsp;", "\u{a0}")
        .replace("&amp;", "&")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mp4_box(kind: &[u8; 4], body: &[u8]) -> Vec<u8> {
        let size = u32::try_from(body.len() + 8).unwrap();
        [&size.to_be_bytes()[..], kind, body].concat()
    }

    #[test]
    fn mov_text_reads_utf8_and_utf16_and_ignores_styles() {
        let text = "Lũ quét".as_bytes();
        let length = u16::try_from(text.len()).unwrap().to_be_bytes();
        let styled = [&length[..], text, &mp4_box(b"styl", &[0; 10])].concat();
        assert_eq!(mov_text(&styled).unwrap(), "Lũ quét");
        let utf16: Vec<u8> = [0xFEFF_u16]
            .into_iter()
            .chain("Sơ tán".encode_utf16())
            .flat_map(u16::to_be_bytes)
            .collect();
        let length = u16::try_from(utf16.len()).unwrap().to_be_bytes();
        assert_eq!(mov_text(&[&length[..], &utf16].concat()).unwrap(), "Sơ tán");
        assert_eq!(mov_text(&[0, 0]).unwrap(), "", "a gap");
        assert_eq!(
            mov_text(&[0, 9, b'a']).unwrap_err(),
            "says its text is 9 bytes but holds 1"
        );
        assert_eq!(
            mov_text(&[0, 2, 0xff, 0xfe]).unwrap_err(),
            "is not UTF-8 text"
        );
    }

    #[test]
    fn webvtt_samples_give_their_payloads_without_markup() {
        let cue = |text: &str| {
            mp4_box(
                b"vttc",
                &[
                    mp4_box(b"sttg", b"line:0"),
                    mp4_box(b"payl", text.as_bytes()),
                ]
                .concat(),
            )
        };
        let sample = [cue("<i>Cảnh báo</i> &amp; sơ tán"), cue("ngay")].concat();
        assert_eq!(webvtt_text(&sample).unwrap(), "Cảnh báo & sơ tán\nngay");
        assert_eq!(webvtt_text(&mp4_box(b"vtte", &[])).unwrap(), "");
        let cut = &sample[..sample.len() - 2];
        assert!(webvtt_text(cut).unwrap_err().contains("broken box"));
    }

    #[test]
    fn the_cue_at_a_position_is_the_latest_started_still_showing() {
        let cue = |start_ms, end_ms, text: &str| Cue {
            start_ms,
            end_ms,
            text: text.into(),
        };
        let cues = [cue(0, 1000, "a"), cue(500, 700, "b"), cue(2000, 3000, "c")];
        let at = |ms| cue_at(&cues, ms).map(|cue| cue.text.as_str());
        assert_eq!(at(0), Some("a"));
        assert_eq!(at(600), Some("b"));
        assert_eq!(at(700), Some("a"));
        assert_eq!(at(1000), None);
        assert_eq!(at(2999), Some("c"));
        assert_eq!(at(3000), None);
    }
}
