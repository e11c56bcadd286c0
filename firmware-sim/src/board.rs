//! What an LED board shows, drawn as a picture a person can look at.
//!
//! A board is drawn as it looks in the street: amber letters on a dark face,
//! the text word-wrapped at the largest size that fits and centred, with a
//! small footer giving the board's local time and the bulletin shown.
//!
//! A picture fills the face above its caption. A video's picture fills the
//! face, and the subtitle showing at that moment is drawn over its lower
//! third on a darkened band, as on a television; between cues the band
//! shows the caption, or nothing. ([`Showing::with_video`] works out the
//! position in the video and the cue from the board's clock.)

mod layout;
mod text;

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use chrono::{DateTime, FixedOffset, Utc};
use image::{Rgba, RgbaImage};

pub use layout::Layout;

use crate::media::video::BoardVideo;
use crate::player::{Showing, ShownVideo};
use layout::{fit, MIN_PX};

/// The unlit face of the board.
pub const BACKGROUND: Rgba<u8> = Rgba([12, 10, 8, 255]);
/// Lit LEDs of the text.
const AMBER: [u8; 3] = [255, 176, 0];
/// A video whose picture is not decoded: a dim box of its shape.
const VIDEO_BOX: Rgba<u8> = Rgba([44, 44, 48, 255]);
const VIDEO_BOX_EDGE: Rgba<u8> = Rgba([100, 100, 108, 255]);
/// How much of the picture shows through the band behind a subtitle.
const BAND_SHOW_THROUGH: f32 = 0.2;
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

impl Showing {
    /// What the board shows of `video` at `now`: the video from the start
    /// of its airing ([`Showing::since`]), so the position is `now − since`,
    /// and the cue showing at that position, if any.
    pub fn with_video(mut self, video: &BoardVideo, now: DateTime<Utc>) -> Showing {
        let position = self
            .since
            .and_then(|since| (now - since).to_std().ok())
            .unwrap_or(Duration::ZERO);
        let position_ms = u64::try_from(position.as_millis()).unwrap_or(u64::MAX);
        self.subtitle = hub_mp4::cue_at(&video.cues, position_ms).map(|cue| cue.text.clone());
        self.video = Some(ShownVideo {
            position,
            width: video.width,
            height: video.height,
        });
        self
    }
}

/// Draws a board of `resolution` showing `showing` (a blank board for
/// `None`) at `at`; `picture` is the picture it shows, if any, drawn above
/// its caption, or the video's picture at that moment, drawn under its
/// subtitle (a box of the video's shape when it is `None`).
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
    if let Some(video) = showing.and_then(|s| s.video) {
        let words = showing.and_then(|s| s.subtitle.as_deref()).or(text);
        draw_video(&mut image, picture, video, words, face.body);
        return image;
    }
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

/// Draws a video's picture (or a box of its shape) filling `area`, and
/// `words` over its lower third on a darkened band.
fn draw_video(
    image: &mut RgbaImage,
    picture: Option<&RgbaImage>,
    video: ShownVideo,
    words: Option<&str>,
    area: Area,
) {
    match picture {
        Some(picture) => draw_picture(image, picture, area),
        None => {
            let shape = RgbaImage::from_fn(video.width.max(1), video.height.max(1), |x, y| {
                let edge = x == 0 || y == 0 || x + 1 == video.width || y + 1 == video.height;
                if edge {
                    VIDEO_BOX_EDGE
                } else {
                    VIDEO_BOX
                }
            });
            draw_picture(image, &shape, area);
        }
    }
    let Some(words) = words else {
        return;
    };
    let band = area.lower_third();
    darken(image, band);
    draw_centred(image, &fit(words, band.width, band.height), band, AMBER);
}

/// Dims `area` towards the board's face, so that letters over a picture
/// stand out.
fn darken(image: &mut RgbaImage, area: Area) {
    let (left, top) = (area.left.max(0.0) as u32, area.top.max(0.0) as u32);
    let right = ((area.left + area.width) as u32).min(image.width());
    let bottom = ((area.top + area.height) as u32).min(image.height());
    for y in top..bottom {
        for x in left..right {
            let pixel = image.get_pixel_mut(x, y);
            for channel in 0..3 {
                let through = f32::from(pixel.0[channel]) * BAND_SHOW_THROUGH;
                let face = f32::from(BACKGROUND.0[channel]) * (1.0 - BAND_SHOW_THROUGH);
                pixel.0[channel] = (through + face).round() as u8;
            }
        }
    }
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
    /// The bottom third, where subtitles go.
    fn lower_third(self) -> Area {
        let height = (self.height / 3.0).floor();
        Area {
            top: self.top + self.height - height,
            height,
            ..self
        }
    }

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
    use crate::Player;

    fn at() -> DateTime<Utc> {
        "2026-11-23T10:40:05Z".parse().unwrap()
    }

    fn showing(text: &str, bulletin: Option<&str>) -> Showing {
        Showing {
            text: Some(text.into()),
            bulletin: bulletin.map(Into::into),
            media: None,
            subtitles: None,
            since: None,
            subtitle: None,
            video: None,
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

    /// A 4 s video with two cues, as `media::video::check_video` reads one.
    fn video() -> BoardVideo {
        let cue = |start_ms, end_ms, text: &str| hub_mp4::Cue {
            start_ms,
            end_ms,
            text: text.into(),
        };
        BoardVideo {
            duration_ms: 4000,
            width: 320,
            height: 240,
            cues: vec![
                cue(500, 1500, "Cảnh báo lũ quét"),
                cue(2000, 3200, "Sơ tán ngay"),
            ],
        }
    }

    /// A board playing a video entry planned at `start`, with `caption`;
    /// its file arrives at `arrives` (no earlier than `start`).
    fn playing_video(start: DateTime<Utc>, arrives: DateTime<Utc>, caption: &str) -> Player {
        let file = hub_proto::MediaRef {
            sha256: "v".repeat(64),
            size: 10,
            url: "http://hub/media/v1/v".into(),
            chunks: Default::default(),
            head: None,
        };
        let entry = hub_proto::PlanEntry {
            bulletin: "lu".into(),
            occurrence: 0,
            language: "vi".into(),
            class: hub_proto::Class::Priority,
            part: hub_proto::Part::Visual,
            start,
            end: start + chrono::TimeDelta::minutes(1),
            preempted: false,
            media: Some(file.clone()),
            subtitles: None,
            text: Some(caption.into()),
        };
        let mut player = Player::new();
        let schedule = hub_proto::Directive::Schedule {
            date: start.date_naive(),
            entries: vec![entry],
        };
        player.apply(schedule, start - chrono::TimeDelta::hours(1));
        player.advance(start);
        player.hold_media([file.sha256]);
        player.advance(arrives);
        player
    }

    fn ms(ms: i64) -> chrono::TimeDelta {
        chrono::TimeDelta::milliseconds(ms)
    }

    #[test]
    fn a_video_shows_each_cue_exactly_while_it_lasts() {
        let start = at();
        let player = playing_video(start, start, "Bản tin");
        let expected = [
            (0, None),
            (499, None),
            (500, Some("Cảnh báo lũ quét")),
            (1499, Some("Cảnh báo lũ quét")),
            (1500, None),
            (1999, None),
            (2000, Some("Sơ tán ngay")),
            (3199, Some("Sơ tán ngay")),
            (3200, None),
            (59_999, None),
        ];
        for (position, subtitle) in expected {
            let now = start + ms(position);
            let showing = player.showing(now).unwrap().with_video(&video(), now);
            assert_eq!(showing.subtitle.as_deref(), subtitle, "at {position} ms");
            assert_eq!(
                showing.text.as_deref(),
                Some("Bản tin"),
                "the caption stays"
            );
            assert_eq!(
                showing.video,
                Some(ShownVideo {
                    position: Duration::from_millis(position as u64),
                    width: 320,
                    height: 240
                })
            );
        }
        assert_eq!(player.showing(start + ms(60_000)), None, "the slot is over");
    }

    #[test]
    fn a_video_whose_file_came_late_plays_from_its_beginning() {
        let start = at();
        let arrives = start + ms(10_000);
        let player = playing_video(start, arrives, "Bản tin");
        let shown = |after: i64| {
            let now = arrives + ms(after);
            player.showing(now).unwrap().with_video(&video(), now)
        };
        assert_eq!(shown(0).since, Some(arrives));
        assert_eq!(shown(400).subtitle, None);
        assert_eq!(shown(600).subtitle.as_deref(), Some("Cảnh báo lũ quét"));
        assert_eq!(shown(2500).subtitle.as_deref(), Some("Sơ tán ngay"));
    }

    /// Amber letters (the subtitle or caption) in `rows`.
    fn amber_in(image: &RgbaImage, rows: std::ops::Range<u32>) -> usize {
        image
            .enumerate_pixels()
            .filter(|(_, y, p)| rows.contains(y) && p.0[0] > 200 && p.0[1] > 120 && p.0[2] < 40)
            .count()
    }

    #[test]
    fn a_video_fills_the_face_with_its_subtitle_over_the_lower_third() {
        let start = at();
        let player = playing_video(start, start, "Bản tin");
        let now = start + ms(2500);
        let showing = player.showing(now).unwrap().with_video(&video(), now);
        let blue = Rgba([20, 40, 230, 255]);
        let frame = RgbaImage::from_pixel(320, 240, blue);
        let image = render(Some(&showing), Some(&frame), now, Resolution::default());
        // The body is rows 8..165; its lower third is rows 113..165.
        let blues = |rows: std::ops::Range<u32>| {
            image
                .enumerate_pixels()
                .filter(|(_, y, p)| rows.contains(y) && **p == blue)
                .count()
        };
        assert!(blues(8..110) > 15_000, "the picture fills the face");
        assert_eq!(blues(114..165), 0, "the band under the subtitle is dimmed");
        assert!(amber_in(&image, 114..165) > 100, "the subtitle is drawn");
        assert_eq!(amber_in(&image, 8..110), 0, "nothing over the picture");

        // Between cues, the caption takes the band; without a picture, a
        // box of the video's shape stands in for it.
        let gap = start + ms(1700);
        let showing = player.showing(gap).unwrap().with_video(&video(), gap);
        let boxed = render(Some(&showing), None, gap, Resolution::default());
        let box_pixels = boxed.pixels().filter(|p| **p == VIDEO_BOX).count();
        assert!(box_pixels > 10_000, "{box_pixels} box pixels");
        assert!(amber_in(&boxed, 114..165) > 100, "the caption is drawn");
        assert_eq!(showing.subtitle, None);
    }
}
