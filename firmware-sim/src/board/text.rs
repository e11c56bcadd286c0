//! Letters on the board: the embedded font, measuring and drawing one line.

use ab_glyph::{point, Font, FontRef, GlyphId, PxScale, ScaleFont};
use image::{Rgba, RgbaImage};
use unicode_normalization::UnicodeNormalization;

/// DejaVu Sans Bold (licence beside it in `assets/`): every Vietnamese letter
/// with its diacritics as one glyph. Embedded so that a snapshot looks the
/// same on every machine, fonts installed or not.
const FONT: &[u8] = include_bytes!("../../assets/DejaVuSans-Bold.ttf");

/// The board's font.
pub(super) fn font() -> FontRef<'static> {
    FontRef::try_from_slice(FONT).expect("the embedded font is a valid TrueType file")
}

/// `text` in Unicode NFC. The rasterizer maps one character to one glyph and
/// does not position combining marks, so "ệ" written as `e` + U+0323 + U+0302
/// must become the one precomposed letter the font draws.
pub(super) fn compose(text: &str) -> String {
    text.nfc().collect()
}

/// Width in pixels of `text` at size `px` (the height from descender to
/// ascender).
pub(super) fn width(font: &FontRef, px: f32, text: &str) -> f32 {
    glyphs(font, px, text).last().map_or(0.0, |(id, x)| {
        x + font.as_scaled(PxScale::from(px)).h_advance(id)
    })
}

/// Draws `text` at size `px` from `x`, on the baseline `baseline`, blending
/// `colour` into the image by coverage. Pixels outside the image are skipped.
pub(super) fn draw(
    image: &mut RgbaImage,
    font: &FontRef,
    px: f32,
    (x, baseline): (f32, f32),
    text: &str,
    colour: [u8; 3],
) {
    for (id, offset) in glyphs(font, px, text) {
        let glyph = id.with_scale_and_position(px, point(x + offset, baseline));
        let Some(outline) = font.outline_glyph(glyph) else {
            continue; // a space
        };
        let bounds = outline.px_bounds();
        outline.draw(|gx, gy, coverage| {
            let (px_x, px_y) = (
                bounds.min.x as i64 + gx as i64,
                bounds.min.y as i64 + gy as i64,
            );
            let inside = (0..image.width() as i64).contains(&px_x)
                && (0..image.height() as i64).contains(&px_y);
            if inside {
                let pixel = image.get_pixel_mut(px_x as u32, px_y as u32);
                blend(pixel, colour, coverage.clamp(0.0, 1.0));
            }
        });
    }
}

/// Every glyph of `text` with its pen position from the start of the line.
fn glyphs<'a>(
    font: &'a FontRef,
    px: f32,
    text: &'a str,
) -> impl Iterator<Item = (GlyphId, f32)> + 'a {
    let scaled = font.as_scaled(PxScale::from(px));
    let mut pen = 0.0;
    let mut previous: Option<GlyphId> = None;
    text.chars().map(move |c| {
        let id = scaled.glyph_id(c);
        if let Some(previous) = previous {
            pen += scaled.h_advance(previous) + scaled.kern(previous, id);
        }
        previous = Some(id);
        (id, pen)
    })
}

fn blend(pixel: &mut Rgba<u8>, colour: [u8; 3], coverage: f32) {
    for (channel, target) in pixel.0.iter_mut().zip(colour) {
        let mixed = f32::from(*channel) * (1.0 - coverage) + f32::from(target) * coverage;
        *channel = mixed.round() as u8;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_font_has_every_vietnamese_letter() {
        let font = font();
        let vowels = "aăâeêioôơuưyAĂÂEÊIOÔƠUƯY";
        let tones = ["", "\u{300}", "\u{301}", "\u{303}", "\u{309}", "\u{323}"];
        let mut letters: Vec<String> = vec!["đ".into(), "Đ".into()];
        for vowel in vowels.chars() {
            letters.extend(tones.iter().map(|tone| compose(&format!("{vowel}{tone}"))));
        }
        for letter in letters {
            let mut chars = letter.chars();
            let (Some(c), None) = (chars.next(), chars.next()) else {
                panic!("{letter:?} does not compose to one character");
            };
            assert_ne!(
                font.glyph_id(c).0,
                0,
                "no glyph for {c} (U+{:04X})",
                c as u32
            );
        }
    }

    #[test]
    fn decomposed_text_is_composed_to_one_letter_each() {
        assert_eq!(compose("e\u{323}\u{302}"), "ệ");
        assert_eq!(compose("Ca\u{309}nh ba\u{301}o"), "Cảnh báo");
    }

    #[test]
    fn a_longer_text_is_wider() {
        let font = font();
        let short = width(&font, 20.0, "Lũ");
        assert!(short > 10.0, "{short}");
        assert!(width(&font, 20.0, "Lũ quét") > short);
        assert!(width(&font, 40.0, "Lũ") > 1.9 * short);
        assert_eq!(width(&font, 20.0, ""), 0.0);
    }
}
