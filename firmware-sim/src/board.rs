//! What an LED board shows, drawn as a picture a person can look at.
//!
//! A board is drawn as it looks in the street: amber letters on a dark face,
//! the text word-wrapped at the largest size that fits and centred, with a
//! small footer giving the board's local time and the bulletin shown.

mod layout;
mod text;

use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, FixedOffset, Utc};
use image::{Rgba, RgbaImage};

pub use layout::Layout;

use crate::player::Showing;
use layout::{fit, MIN_PX};

/// The unlit face of the board.
pub const BACKGROUND: Rgba<u8> = Rgba([12, 10, 8, 255]);
/// Lit LEDs of the text.
const AMBER: [u8; 3] = [255, 176, 0];
/// The footer, dimmer so that it does not compete with the text.
const FOOTER: [u8; 3] = [170, 120, 20];

/// Vietnam's time (UTC+7 all year), which the footer shows.
const VIETNAM_SECS: i32 = 7 * 3600;

/// A board's size in pixels (LEDs).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Resolution {
    /// Pixels across.
    pub width: u32,
    /// Pixels down.
    pub height: u32,
}

impl Default for Resolution {
    /// 384×192: a wall of 12 × 12 P10 modules (32×16 LEDs each).
    fn default() -> Self {
        Self {
            width: 384,
            height: 192,
        }
    }
}

/// A resolution not written `WIDTHxHEIGHT`, smaller than one P10 module or
/// absurdly large.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
#[error("`{0}`: expected WIDTHxHEIGHT, at least 32x16 and at most 8192x8192, e.g. 384x192")]
pub struct BadResolution(String);

impl FromStr for Resolution {
    type Err = BadResolution;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let bad = || BadResolution(text.to_string());
        let (width, height) = text.split_once(['x', '×']).ok_or_else(bad)?;
        let (width, height): (u32, u32) = (
            width.trim().parse().map_err(|_| bad())?,
            height.trim().parse().map_err(|_| bad())?,
        );
        let sensible = (32..=8192).contains(&width) && (16..=8192).contains(&height);
        sensible.then_some(Self { width, height }).ok_or_else(bad)
    }
}

impl fmt::Display for Resolution {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}x{}", self.width, self.height)
    }
}

/// Draws a board of `resolution` showing `showing` (a blank board for
/// `None`) at `at`; `picture` is the picture it shows, if any, drawn above
/// its caption.
pub fn render(
    showing: Option<&Showing>,
    picture: Option<&RgbaImage>,
    at: DateTime<Utc>,
    resolution: Resolution,
) -> RgbaImage {
    let mut image = RgbaImage::from_pixel(resolution.width, resolution.height, BACKGROUND);
    let face = Face::of(resolution);
    let footer = footer_line(showing, at);
    let footer_layout = fit(&footer, face.footer.width, face.footer.height);
    draw_centred(&mut image, &footer_layout, face.footer, FOOTER);
    let text = showing.and_then(|s| s.text.as_deref());
    let body = match picture {
        Some(picture) => {
            let (above, caption) = face.body.split_for_caption(text.is_some());
            draw_picture(&mut image, picture, above);
            caption
        }
        None => Some(face.body),
    };
    if let (Some(text), Some(area)) = (text, body) {
        draw_centred(&mut image, &fit(text, area.width, area.height), area, AMBER);
    }
    image
}

/// Draws `picture` scaled to fit `area` with its aspect ratio kept, centred.
fn draw_picture(image: &mut RgbaImage, picture: &RgbaImage, area: Area) {
    let (width, height) = picture.dimensions();
    let scale = (area.width / width as f32).min(area.height / height as f32);
    let (w, h) = (
        ((width as f32 * scale) as u32).max(1),
        ((height as f32 * scale) as u32).max(1),
    );
    let scaled = image::imageops::resize(picture, w, h, image::imageops::FilterType::Triangle);
    let x = area.left + (area.width - w as f32) / 2.0;
    let y = area.top + (area.height - h as f32) / 2.0;
    image::imageops::overlay(image, &scaled, x as i64, y as i64);
}

/// How `text` is laid out on a board of `resolution`.
pub fn text_layout(text: &str, resolution: Resolution) -> Layout {
    let body = Face::of(resolution).body;
    fit(text, body.width, body.height)
}

/// Where things go on a board.
struct Face {
    /// The text, inside the margins.
    body: Area,
    /// The footer line, below the body.
    footer: Area,
}

impl Face {
    fn of(resolution: Resolution) -> Self {
        let (width, height) = (resolution.width as f32, resolution.height as f32);
        let margin = (width.min(height) / 24.0).max(2.0).floor();
        let footer_height = (height / 10.0).max(MIN_PX + 2.0).floor();
        let footer = Area {
            left: margin,
            top: height - footer_height,
            width: width - 2.0 * margin,
            height: footer_height,
        };
        let body = Area {
            left: margin,
            top: margin,
            width: footer.width,
            height: footer.top - 2.0 * margin,
        };
        Self { body, footer }
    }
}

/// The footer: the board's local time and the bulletin it shows.
fn footer_line(showing: Option<&Showing>, at: DateTime<Utc>) -> String {
    let vietnam = FixedOffset::east_opt(VIETNAM_SECS).expect("UTC+7 is a valid offset");
    let time = at.with_timezone(&vietnam).format("%H:%M:%S %d/%m/%Y");
    match showing.and_then(|s| s.bulletin.as_deref()) {
        Some(bulletin) => format!("{time} · {bulletin}"),
        None => time.to_string(),
    }
}

/// A rectangle of the image, in pixels.
#[derive(Clone, Copy)]
struct Area {
    left: f32,
    top: f32,
    width: f32,
    height: f32,
}

impl Area {
    /// The picture's part of a body and, with a caption, the caption's: a
    /// quarter of the height below the picture.
    fn split_for_caption(self, captioned: bool) -> (Area, Option<Area>) {
        if !captioned {
            return (self, None);
        }
        let caption_height = (self.height / 4.0).floor();
        let picture = Area {
            height: self.height - caption_height,
            ..self
        };
        let caption = Area {
            top: self.top + picture.height,
            height: caption_height,
            ..self
        };
        (picture, Some(caption))
    }
}

/// Draws the lines of `layout` centred in `area`, each line on its own.
fn draw_centred(image: &mut RgbaImage, layout: &Layout, area: Area, colour: [u8; 3]) {
    let font = text::font();
    let top = area.top + ((area.height - layout.height()) / 2.0).max(0.0);
    for (i, line) in layout.lines.iter().enumerate() {
        let line_width = text::width(&font, layout.px, line);
        let x = area.left + ((area.width - line_width) / 2.0).max(0.0);
        let baseline = top + i as f32 * layout.line_height + layout.ascent;
        // Whole pixels: glyphs rendered on pixel boundaries are sharper.
        text::draw(
            image,
            &font,
            layout.px,
            (x.round(), baseline.round()),
            line,
            colour,
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at() -> DateTime<Utc> {
        "2026-11-23T10:40:05Z".parse().unwrap()
    }

    fn showing(text: &str, bulletin: Option<&str>) -> Showing {
        Showing {
            text: Some(text.into()),
            bulletin: bulletin.map(Into::into),
            media: None,
        }
    }

    /// Pixels that are not the background colour.
    fn lit(image: &RgbaImage) -> usize {
        image.pixels().filter(|p| **p != BACKGROUND).count()
    }

    #[test]
    fn resolutions_read_as_width_by_height() {
        assert_eq!(
            "640x320".parse(),
            Ok(Resolution {
                width: 640,
                height: 320
            })
        );
        assert_eq!(Resolution::default().to_string(), "384x192");
        for bad in ["640", "x320", "0x0", "16x16", "640x-1", "99999x100"] {
            assert!(bad.parse::<Resolution>().is_err(), "{bad}");
        }
    }

    #[test]
    fn the_footer_gives_local_time_and_bulletin() {
        let board = showing("Lũ", Some("lu-krong-no"));
        assert_eq!(
            footer_line(Some(&board), at()),
            "17:40:05 23/11/2026 · lu-krong-no"
        );
        assert_eq!(footer_line(None, at()), "17:40:05 23/11/2026");
    }

    #[test]
    fn a_blank_board_lights_only_its_footer() {
        let image = render(None, None, at(), Resolution::default());
        assert_eq!(image.dimensions(), (384, 192));
        let footer_top = 192 - 19;
        let above = image
            .enumerate_pixels()
            .filter(|(_, y, p)| *y < footer_top && **p != BACKGROUND)
            .count();
        assert_eq!(above, 0);
        assert!(lit(&image) > 100, "the footer is drawn");
    }

    #[test]
    fn text_lights_the_board_inside_its_margins() {
        let resolution = Resolution::default();
        let image = render(
            Some(&showing("Cảnh báo lũ quét", Some("lu"))),
            None,
            at(),
            resolution,
        );
        let blank = render(None, None, at(), resolution);
        assert!(lit(&image) > lit(&blank) + 2000, "the text is drawn large");
        let margin = 8;
        let outside = image
            .enumerate_pixels()
            .filter(|(x, y, p)| {
                (*x < margin || *x >= 384 - margin || *y < margin) && **p != BACKGROUND
            })
            .count();
        assert_eq!(outside, 0, "nothing drawn in the margins");
    }

    #[test]
    fn a_board_of_one_module_still_draws_its_footer() {
        let smallest = "32x16".parse().unwrap();
        let image = render(
            Some(&showing("Cảnh báo lũ quét", None)),
            None,
            at(),
            smallest,
        );
        assert_eq!(image.dimensions(), (32, 16));
        assert!(lit(&image) > 0);
    }

    #[test]
    fn decomposed_and_composed_text_draw_the_same() {
        let composed = render(
            Some(&showing("Cảnh báo", None)),
            None,
            at(),
            Resolution::default(),
        );
        let decomposed = render(
            Some(&showing("Ca\u{309}nh ba\u{301}o", None)),
            None,
            at(),
            Resolution::default(),
        );
        assert!(composed == decomposed);
    }

    #[test]
    fn a_picture_fills_the_body_above_its_caption() {
        let red = Rgba([220, 20, 20, 255]);
        let picture = RgbaImage::from_pixel(384, 192, red);
        let resolution = Resolution::default();
        let captioned = render(
            Some(&showing("Lịch tiêm phòng", Some("anh"))),
            Some(&picture),
            at(),
            resolution,
        );
        let reds = |image: &RgbaImage, rows: std::ops::Range<u32>| {
            image
                .enumerate_pixels()
                .filter(|(_, y, p)| rows.contains(y) && **p == red)
                .count()
        };
        assert!(reds(&captioned, 0..96) > 10_000, "the picture is drawn");
        let amber = captioned
            .enumerate_pixels()
            .filter(|(_, y, p)| *y > 120 && *y < 170 && p.0[0] > 200 && p.0[1] > 120 && p.0[2] < 40)
            .count();
        assert!(amber > 50, "the caption is drawn below it");
        let bare = render(None, Some(&picture), at(), resolution);
        assert!(
            reds(&bare, 0..192) > reds(&captioned, 0..192),
            "uncaptioned, it is larger"
        );
    }
}
