//! Pictures for LED boards: real PNG, JPEG and WebP files fitted to board
//! sizes, and every way a picture can be refused.

use std::time::{Duration, Instant};

use hub_media::{ingest_image, BoardSize, FittedImage, ImageKind, ImageSettings, MediaError};
use image::RgbImage;

use crate::support::sha256sum;
use crate::support::visual::{mutations, png_bomb, visual, TALL_PNG_RGB, WEBP_RGB, WIDE_JPEG_RGB};

fn board(width: u32, height: u32) -> BoardSize {
    BoardSize::new(width, height).expect("a valid board size")
}

fn fit(bytes: &[u8], hint: &str, board: BoardSize) -> FittedImage {
    ingest_image(bytes, Some(hint), board, &ImageSettings::default())
        .unwrap_or_else(|err| panic!("{hint}: {err}"))
}

fn refuse(bytes: &[u8], hint: &str) -> MediaError {
    ingest_image(bytes, Some(hint), board(192, 96), &ImageSettings::default())
        .expect_err("this picture must be refused")
}

fn pixels(fitted: &FittedImage) -> RgbImage {
    image::load_from_memory_with_format(&fitted.png, image::ImageFormat::Png)
        .expect("the output is a PNG")
        .into_rgb8()
}

fn assert_close(pixel: [u8; 3], expected: [u8; 3], what: &str) {
    let off = pixel
        .iter()
        .zip(expected)
        .map(|(&got, want)| got.abs_diff(want))
        .max()
        .unwrap_or(0);
    assert!(off <= 12, "{what}: {pixel:?}, expected about {expected:?}");
}

#[test]
fn posters_of_odd_shapes_are_letterboxed_onto_each_board() {
    let cases = [
        ("tall.png", "png", ImageKind::Png, (300, 500), TALL_PNG_RGB),
        (
            "wide.jpg",
            "jpg",
            ImageKind::Jpeg,
            (1000, 250),
            WIDE_JPEG_RGB,
        ),
        (
            "four_three.webp",
            "webp",
            ImageKind::WebP,
            (640, 480),
            WEBP_RGB,
        ),
    ];
    for (name, hint, kind, (input_width, input_height), colour) in cases {
        for (width, height) in [(192, 96), (384, 192)] {
            let fitted = fit(&visual().file(name), hint, board(width, height));
            let what = format!("{name} on {width}x{height}");
            assert_eq!(fitted.input_format, kind, "{what}");
            assert_eq!(
                (fitted.input_width, fitted.input_height),
                (input_width, input_height),
                "{what}"
            );
            assert_eq!((fitted.width, fitted.height), (width, height), "{what}");
            assert_eq!(fitted.size_bytes, fitted.png.len(), "{what}");

            let image = pixels(&fitted);
            assert_eq!(image.dimensions(), (width, height), "{what}");
            let place = fitted.placement;
            // The picture keeps its aspect ratio (to a pixel of rounding).
            let kept = (f64::from(place.width) / f64::from(place.height))
                / (f64::from(input_width) / f64::from(input_height));
            assert!((kept - 1.0).abs() < 0.05, "{what}: {place:?}");
            assert!(
                place.width == width || place.height == height,
                "{what}: it touches two sides: {place:?}"
            );
            let centre = image.get_pixel(width / 2, height / 2).0;
            assert_close(centre, colour, &format!("{what}, centre"));
            // The bars: the first and last row or column outside the picture.
            let bars = if place.width < width {
                vec![(0, height / 2), (width - 1, height / 2)]
            } else {
                vec![(width / 2, 0), (width / 2, height - 1)]
            };
            assert!(
                place.width < width || place.height < height,
                "{what}: no letterbox"
            );
            for (x, y) in bars {
                assert_eq!(image.get_pixel(x, y).0, [0, 0, 0], "{what}: bar at {x},{y}");
            }
        }
    }
}

#[test]
fn the_same_picture_gives_the_same_bytes_and_its_hash() {
    let jpeg = visual().file("detail.jpg");
    let first = fit(&jpeg, "jpg", board(384, 192));
    let second = fit(&jpeg, "jpg", board(384, 192));
    assert_eq!(first.png, second.png);
    let written = crate::support::write_temp("fitted.png", &first.png);
    assert_eq!(first.sha256_hex, sha256sum(&written));
}

#[test]
fn transparency_becomes_black() {
    // Left half opaque white, right half fully transparent white.
    let picture = image::RgbaImage::from_fn(200, 100, |x, _| {
        image::Rgba([255, 255, 255, if x < 100 { 255 } else { 0 }])
    });
    let mut png = Vec::new();
    picture
        .write_to(&mut std::io::Cursor::new(&mut png), image::ImageFormat::Png)
        .expect("encoding a PNG");
    let image = pixels(&fit(&png, "png", board(192, 96)));
    assert_close(image.get_pixel(40, 48).0, [255, 255, 255], "opaque half");
    assert_eq!(image.get_pixel(150, 48).0, [0, 0, 0], "transparent half");
}

#[test]
fn other_picture_formats_are_refused_by_name() {
    for (name, format) in [
        ("detail.gif", "GIF"),
        ("detail.bmp", "BMP"),
        ("detail.tiff", "TIFF"),
    ] {
        let err = refuse(&visual().file(name), name);
        assert!(
            matches!(&err, MediaError::UnsupportedImageFormat { format: named } if named == format),
            "{name}: {err:?}"
        );
        assert_eq!(
            err.to_string(),
            format!("the image format {format} is not supported (use PNG, JPEG or WebP)")
        );
    }
}

#[test]
fn videos_text_and_noise_are_not_pictures() {
    let mut state = 0x2545_f491_4f6c_dd1du64;
    let noise: Vec<u8> = (0..4096)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            (state >> 24) as u8
        })
        .collect();
    let text = "Bản tin sáng nay: lịch tiêm chủng tại trạm y tế xã.".as_bytes();
    for (bytes, hint) in [
        (noise.as_slice(), "noise.png"),
        (text, "notice.txt"),
        (&visual().file("h264.mp4")[..], "clip.mp4"),
    ] {
        let err = refuse(bytes, hint);
        assert!(
            matches!(err, MediaError::NotAnImage { .. }),
            "{hint}: {err:?}"
        );
        assert!(err.to_string().contains(hint), "{err}");
    }
}

#[test]
fn the_first_half_of_each_format_is_truncated() {
    for name in ["detail.png", "detail.jpg", "detail.webp"] {
        let whole = visual().file(name);
        let err = refuse(&whole[..whole.len() / 2], name);
        assert!(
            matches!(err, MediaError::Truncated { .. }),
            "{name}: {err:?}"
        );
    }
}

#[test]
fn damaged_png_data_is_corrupt() {
    let mut png = visual().file("detail.png");
    // Overwrite bytes in the middle of the image data: its CRC no longer
    // matches.
    let middle = png.len() / 2;
    png[middle..middle + 16].fill(0x55);
    let err = refuse(&png, "png");
    assert!(matches!(err, MediaError::Corrupt { .. }), "{err:?}");
    assert!(
        err.to_string().starts_with("the file is corrupt: PNG"),
        "{err}"
    );
}

#[test]
fn empty_and_oversized_uploads_are_refused_before_parsing() {
    assert!(matches!(refuse(&[], "png"), MediaError::Empty));
    let settings = ImageSettings {
        max_input_bytes: 1000,
        ..ImageSettings::default()
    };
    let png = visual().file("detail.png");
    let err = ingest_image(&png, None, board(192, 96), &settings).unwrap_err();
    assert!(
        matches!(err, MediaError::TooBig { size, max: 1000 } if size == png.len()),
        "{err:?}"
    );
}

#[test]
fn a_decompression_bomb_is_refused_by_its_dimensions() {
    let bomb = png_bomb(20_000, 20_000);
    // 400 MB of pixels in 2.5 MB, about deflate's best ratio.
    assert!(bomb.len() < 3 * 1024 * 1024, "{} bytes", bomb.len());
    let started = Instant::now();
    let err = refuse(&bomb, "png");
    assert!(
        matches!(
            err,
            MediaError::ImageTooLarge {
                width: 20_000,
                height: 20_000,
                max_width: 12_000,
                max_height: 12_000
            }
        ),
        "{err:?}"
    );
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "{:?}",
        started.elapsed()
    );
}

#[test]
fn a_bomb_within_the_dimensions_is_refused_by_its_memory() {
    // 10,000 x 10,000 grey is 100 MB of pixels from a 0.4 MB file.
    let bomb = png_bomb(10_000, 10_000);
    let settings = ImageSettings {
        max_decoded_bytes: 64 * 1024 * 1024,
        ..ImageSettings::default()
    };
    let started = Instant::now();
    let err = ingest_image(&bomb, Some("png"), board(192, 96), &settings).unwrap_err();
    assert!(
        matches!(err, MediaError::ImageNeedsTooMuchMemory { max } if max == 64 * 1024 * 1024),
        "{err:?}"
    );
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "{:?}",
        started.elapsed()
    );
}

#[test]
fn a_small_bomb_under_the_limits_decodes_to_black() {
    // The same construction at a size we accept: the bomb is a valid PNG,
    // so the refusals above are about its size, not its encoding.
    let fitted = fit(&png_bomb(2_000, 1_000), "png", board(192, 96));
    assert_eq!((fitted.input_width, fitted.input_height), (2_000, 1_000));
    assert!(pixels(&fitted).pixels().all(|pixel| pixel.0 == [0, 0, 0]));
}

#[test]
fn board_sizes_are_validated() {
    let err = BoardSize::new(0, 96).unwrap_err();
    assert_eq!(
        err.to_string(),
        "the board size 0x96 is invalid: both sides must be at least 1 pixel"
    );
    assert!(matches!(
        BoardSize::new(5000, 96),
        Err(MediaError::InvalidBoardSize { width: 5000, .. })
    ));
}

#[test]
fn damaged_pictures_get_an_answer_not_a_panic() {
    for name in ["detail.png", "detail.jpg", "detail.webp"] {
        let seed = visual().file(name);
        for (round, damaged) in mutations(&seed, 60).enumerate() {
            let started = Instant::now();
            // Ok or Err are both answers; a panic fails the test.
            let _answer = ingest_image(&damaged, None, board(96, 48), &ImageSettings::default());
            assert!(
                started.elapsed() < Duration::from_secs(5),
                "{name} round {round} took {:?}",
                started.elapsed()
            );
        }
    }
}
