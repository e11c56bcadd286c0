//! Fitting a text into a box: word wrapping at the largest size that fits.

use ab_glyph::{Font, FontRef, PxScale, ScaleFont};
use unicode_normalization::char::is_combining_mark;

use super::text;

/// The smallest size (pixels from descender to ascender) text is drawn at:
/// below it a letter's diacritics are no longer told apart.
pub const MIN_PX: f32 = 12.0;

/// Marks the end of a text cut because it does not fit even at [`MIN_PX`].
const ELLIPSIS: char = '…';

/// A text broken into lines that fit a box.
#[derive(Clone, Debug, PartialEq)]
pub struct Layout {
    /// Font size: pixels from descender to ascender.
    pub px: f32,
    /// Distance between the baselines of two lines.
    pub line_height: f32,
    /// Distance from the top of a line to its baseline.
    pub ascent: f32,
    /// The lines, in NFC, top to bottom.
    pub lines: Vec<String>,
}

impl Layout {
    /// Height of all the lines together.
    pub fn height(&self) -> f32 {
        self.lines.len() as f32 * self.line_height
    }
}

/// Breaks `text` into lines at spaces (and at its own line breaks) at the
/// largest size at which every line is at most `width` wide and all of them
/// at most `height` high together. A word wider than the box even at
/// [`MIN_PX`] is broken between letters, and lines that still do not fit are
/// left out, the last one kept ending in "…".
pub fn fit(text: &str, width: f32, height: f32) -> Layout {
    let font = text::font();
    let text = text::compose(text);
    let mut px = height.floor();
    while px > MIN_PX {
        let layout = at_size(&font, px);
        let fits = wrap(&font, px, &text, width, Words::Whole)
            .filter(|lines| lines.len() as f32 * layout.line_height <= height);
        if let Some(lines) = fits {
            return Layout { lines, ..layout };
        }
        px -= 1.0;
    }
    let layout = at_size(&font, MIN_PX);
    let mut lines = wrap(&font, MIN_PX, &text, width, Words::Broken).unwrap_or_default();
    let room = (height / layout.line_height).floor() as usize;
    if lines.len() > room {
        lines.truncate(room);
        if let Some(last) = lines.last_mut() {
            end_with_ellipsis(&font, MIN_PX, last, width);
        }
    }
    Layout { lines, ..layout }
}

/// A layout of no lines at size `px`.
fn at_size(font: &FontRef, px: f32) -> Layout {
    let scaled = font.as_scaled(PxScale::from(px));
    Layout {
        px,
        line_height: scaled.height() + scaled.line_gap(),
        ascent: scaled.ascent(),
        lines: Vec::new(),
    }
}

#[derive(Clone, Copy, PartialEq)]
enum Words {
    /// A word wider than a line makes the size too large.
    Whole,
    /// A word wider than a line is broken between letters.
    Broken,
}

/// Greedy word wrapping; `None` if a word is too wide and `words` is
/// [`Words::Whole`].
fn wrap(font: &FontRef, px: f32, text: &str, width: f32, words: Words) -> Option<Vec<String>> {
    let fits = |line: &str| text::width(font, px, line) <= width;
    let mut lines = Vec::new();
    for paragraph in text.lines() {
        let mut line = String::new();
        for word in paragraph.split_whitespace() {
            let pieces = if fits(word) {
                vec![word.to_string()]
            } else if words == Words::Broken {
                break_word(word, fits)
            } else {
                return None;
            };
            for piece in pieces {
                let joined = if line.is_empty() {
                    piece.clone()
                } else {
                    format!("{line} {piece}")
                };
                if line.is_empty() || fits(&joined) {
                    line = joined;
                } else {
                    lines.push(std::mem::replace(&mut line, piece));
                }
            }
        }
        if !line.is_empty() {
            lines.push(line);
        }
    }
    Some(lines)
}

/// Pieces of `word` that each `fit`, broken between letters (a combining
/// mark stays with its letter); a single letter too wide is a piece of its own.
fn break_word(word: &str, fits: impl Fn(&str) -> bool) -> Vec<String> {
    let mut pieces = Vec::new();
    let mut piece = String::new();
    for letter in letters(word) {
        let longer = format!("{piece}{letter}");
        if piece.is_empty() || fits(&longer) {
            piece = longer;
        } else {
            pieces.push(std::mem::replace(&mut piece, letter.to_string()));
        }
    }
    if !piece.is_empty() {
        pieces.push(piece);
    }
    pieces
}

/// `word` as letters: each character with the combining marks after it.
fn letters(word: &str) -> Vec<&str> {
    let mut starts: Vec<usize> = word
        .char_indices()
        .filter(|(i, c)| *i == 0 || !is_combining_mark(*c))
        .map(|(i, _)| i)
        .collect();
    starts.push(word.len());
    starts.windows(2).map(|w| &word[w[0]..w[1]]).collect()
}

/// Shortens `line` until it fits `width` with "…" at its end.
fn end_with_ellipsis(font: &FontRef, px: f32, line: &mut String, width: f32) {
    loop {
        let candidate = format!("{}{ELLIPSIS}", line.trim_end());
        if line.is_empty() || text::width(font, px, &candidate) <= width {
            *line = candidate;
            return;
        }
        let cut = letters(line)
            .last()
            .map_or(0, |letter| line.len() - letter.len());
        line.truncate(cut);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(lines: &[String]) -> Vec<&str> {
        lines.iter().flat_map(|l| l.split_whitespace()).collect()
    }

    fn assert_inside(layout: &Layout, width: f32, height: f32) {
        let font = text::font();
        for line in &layout.lines {
            let w = text::width(&font, layout.px, line);
            assert!(w <= width, "{line:?} is {w} px wide, more than {width}");
        }
        assert!(
            layout.height() <= height,
            "{layout:?} is higher than {height}"
        );
    }

    #[test]
    fn a_short_text_is_drawn_as_large_as_fits() {
        let layout = fit("Lũ", 300.0, 100.0);
        assert_eq!(layout.lines, ["Lũ"]);
        assert!(layout.px > 70.0, "{layout:?}");
        assert_inside(&layout, 300.0, 100.0);
    }

    #[test]
    fn a_long_text_wraps_at_spaces_keeping_every_word_in_order() {
        let text = "Cảnh báo lũ quét: các hộ dân ven suối Đắk Nông sơ tán ngay lên vùng cao, \
                    mang theo giấy tờ và thuốc men, không quay lại cho đến khi có thông báo mới.";
        let layout = fit(text, 360.0, 140.0);
        assert!(layout.lines.len() > 3, "{layout:?}");
        assert!(layout.px >= MIN_PX);
        assert_eq!(
            words(&layout.lines),
            text.split_whitespace().collect::<Vec<_>>()
        );
        assert_inside(&layout, 360.0, 140.0);
    }

    #[test]
    fn line_breaks_of_the_text_are_kept() {
        let layout = fit("Thông báo\nmất điện", 1000.0, 400.0);
        assert_eq!(layout.lines, ["Thông báo", "mất điện"]);
    }

    #[test]
    fn a_decomposed_text_is_laid_out_composed() {
        let layout = fit("Ca\u{309}nh ba\u{301}o", 300.0, 100.0);
        assert_eq!(words(&layout.lines), ["Cảnh", "báo"]);
    }

    #[test]
    fn a_word_too_long_for_a_line_is_broken_between_letters() {
        let word = "Nghiêng".repeat(6);
        let layout = fit(&word, 100.0, 200.0);
        assert_eq!(layout.px, MIN_PX);
        assert!(layout.lines.len() > 1, "{layout:?}");
        assert_eq!(layout.lines.concat(), word);
        assert_inside(&layout, 100.0, 200.0);
    }

    #[test]
    fn what_does_not_fit_at_the_smallest_size_is_cut_with_an_ellipsis() {
        let text = "sơ tán ngay ".repeat(40);
        let layout = fit(&text, 120.0, 50.0);
        assert_eq!(layout.px, MIN_PX);
        assert!(!layout.lines.is_empty());
        assert!(
            layout.lines.last().unwrap().ends_with(ELLIPSIS),
            "{layout:?}"
        );
        assert_inside(&layout, 120.0, 50.0);
    }

    #[test]
    fn letters_keep_their_combining_marks() {
        assert_eq!(letters("e\u{323}\u{302}m"), ["e\u{323}\u{302}", "m"]);
        assert_eq!(letters(""), Vec::<&str>::new());
    }
}
