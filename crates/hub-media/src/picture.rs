//! Pictures for LED boards: a PNG, JPEG or WebP upload, checked, decoded
//! within limits and fitted to one board model's resolution.
//!
//! Named `picture` because `image` is the decoding crate's name.

use std::fmt;
use std::io::{self, Cursor};
use std::panic::{self, AssertUnwindSafe};

use image::codecs::png::{CompressionType, FilterType as PngFilter, PngEncoder};
use image::error::LimitErrorKind;
use image::imageops::{self, FilterType};
use image::metadata::Orientation;
use image::{
    DynamicImage, ImageDecoder, ImageEncoder, ImageError, ImageFormat, ImageReader, Limits,
    RgbImage,
};

use crate::{sha256_hex, MediaError};

/// The widest or tallest board we accept. Real LED boards are a few hundred
/// pixels a side; this only stops a typo from making a gigapixel canvas.
pub const MAX_BOARD_SIDE: u32 = 4096;

/// A board model's resolution in pixels, checked once when made.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct BoardSize {
    width: u32,
    height: u32,
}

impl BoardSize {
    /// Refuses zero and sides over [`MAX_BOARD_SIDE`].
    pub fn new(width: u32, height: u32) -> Result<Self, MediaError> {
        let invalid = |detail: String| {
            Err(MediaError::InvalidBoardSize {
                width,
                height,
                detail,
            })
        };
        if width == 0 || height == 0 {
            return invalid("both sides must be at least 1 pixel".to_owned());
        }
        if width > MAX_BOARD_SIDE || height > MAX_BOARD_SIDE {
            return invalid(format!("no side may exceed {MAX_BOARD_SIDE} pixels"));
        }
        Ok(Self { width, height })
    }

    pub fn width(self) -> u32 {
        self.width
    }

    pub fn height(self) -> u32 {
        self.height
    }
}

/// Limits for picture uploads, all checked before pixels are allocated.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ImageSettings {
    /// Largest upload accepted (20 MiB by default), checked before parsing.
    pub max_input_bytes: usize,
    /// Widest picture accepted, in pixels (12,000 by default).
    pub max_width: u32,
    /// Tallest picture accepted, in pixels (12,000 by default).
    pub max_height: u32,
    /// Most memory the decoder may allocate (256 MiB by default): a small
    /// file that unpacks to gigabytes (a decompression bomb) is refused
    /// from its header, before anything is allocated.
    pub max_decoded_bytes: u64,
}

impl Default for ImageSettings {
    fn default() -> Self {
        Self {
            max_input_bytes: 20 * 1024 * 1024,
            max_width: 12_000,
            max_height: 12_000,
            max_decoded_bytes: 256 * 1024 * 1024,
        }
    }
}

impl ImageSettings {
    /// Refuses limits of zero, which would refuse every picture.
    pub fn validate(&self) -> Result<(), MediaError> {
        if self.max_input_bytes == 0
            || self.max_width == 0
            || self.max_height == 0
            || self.max_decoded_bytes == 0
        {
            return Err(MediaError::InvalidImageSettings(
                "limits must be greater than zero".to_owned(),
            ));
        }
        Ok(())
    }
}

/// The picture formats we accept.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ImageKind {
    Png,
    Jpeg,
    WebP,
}

impl ImageKind {
    pub fn name(self) -> &'static str {
        match self {
            Self::Png => "PNG",
            Self::Jpeg => "JPEG",
            Self::WebP => "WebP",
        }
    }

    fn format(self) -> ImageFormat {
        match self {
            Self::Png => ImageFormat::Png,
            Self::Jpeg => ImageFormat::Jpeg,
            Self::WebP => ImageFormat::WebP,
        }
    }
}

impl fmt::Display for ImageKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Where the picture sits on the board; the rest is black.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Placement {
    pub x: u32,
    pub y: u32,
    pub width: u32,
    pub height: u32,
}

/// A board-sized PNG and what is known about it.
#[derive(Clone, PartialEq, Eq)]
pub struct FittedImage {
    /// RGB PNG, exactly the board's size.
    pub png: Vec<u8>,
    pub input_format: ImageKind,
    /// The upload's size as stored (before any EXIF rotation).
    pub input_width: u32,
    pub input_height: u32,
    /// The output's size: the board's.
    pub width: u32,
    pub height: u32,
    /// The picture inside the letterbox.
    pub placement: Placement,
    /// SHA-256 of `png`, lowercase hex: the content address.
    pub sha256_hex: String,
    /// Size of `png` in bytes.
    pub size_bytes: usize,
}

/// Everything but the file's bytes, which would drown the facts in logs.
impl fmt::Debug for FittedImage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FittedImage")
            .field("png", &format_args!("<{} bytes>", self.png.len()))
            .field("input_format", &self.input_format)
            .field("input_width", &self.input_width)
            .field("input_height", &self.input_height)
            .field("width", &self.width)
            .field("height", &self.height)
            .field("placement", &self.placement)
            .field("sha256_hex", &self.sha256_hex)
            .field("size_bytes", &self.size_bytes)
            .finish()
    }
}

/// Turns an uploaded picture into a PNG of exactly `board`'s size: scaled
/// to fit with its aspect ratio kept (Lanczos3), centred, letterboxed in
/// black (an LED that shows black is off). Transparency is composed onto
/// black too, and JPEG/WebP EXIF rotation is applied.
///
/// `hint` is the file's extension or MIME type; the content decides the
/// format, the hint only makes the message for unrecognised content clearer.
/// The same input, board and settings always give the same bytes.
pub fn ingest_image(
    bytes: &[u8],
    hint: Option<&str>,
    board: BoardSize,
    settings: &ImageSettings,
) -> Result<FittedImage, MediaError> {
    settings.validate()?;
    if bytes.is_empty() {
        return Err(MediaError::Empty);
    }
    if bytes.len() > settings.max_input_bytes {
        return Err(MediaError::TooBig {
            size: bytes.len(),
            max: settings.max_input_bytes,
        });
    }
    let kind = detect(bytes, hint)?;
    check_complete(bytes, kind)?;
    let decoded = decode(bytes, kind, settings)?;
    let rgb = flatten_onto_black(decoded.image);
    let placement = placement(rgb.width(), rgb.height(), board);
    let png = encode_png(&fit(&rgb, placement, board))?;
    Ok(FittedImage {
        input_format: kind,
        input_width: decoded.width,
        input_height: decoded.height,
        width: board.width,
        height: board.height,
        placement,
        sha256_hex: sha256_hex(&png),
        size_bytes: png.len(),
        png,
    })
}

/// The format, from the content alone.
fn detect(bytes: &[u8], hint: Option<&str>) -> Result<ImageKind, MediaError> {
    match image::guess_format(bytes) {
        Ok(ImageFormat::Png) => Ok(ImageKind::Png),
        Ok(ImageFormat::Jpeg) => Ok(ImageKind::Jpeg),
        Ok(ImageFormat::WebP) => Ok(ImageKind::WebP),
        Ok(other) => Err(MediaError::UnsupportedImageFormat {
            format: format_name(other),
        }),
        Err(_) => match other_known_format(bytes) {
            Some(format) => Err(MediaError::UnsupportedImageFormat {
                format: format.to_owned(),
            }),
            None => Err(MediaError::NotAnImage {
                detail: match hint {
                    Some(hint) => format!(
                        "the content is not PNG, JPEG or WebP, whatever its name ({hint:?}) says"
                    ),
                    None => "the content is not PNG, JPEG or WebP".to_owned(),
                },
            }),
        },
    }
}

fn format_name(format: ImageFormat) -> String {
    match format {
        ImageFormat::Gif => "GIF".to_owned(),
        ImageFormat::Bmp => "BMP".to_owned(),
        ImageFormat::Tiff => "TIFF".to_owned(),
        ImageFormat::Avif => "AVIF".to_owned(),
        ImageFormat::Ico => "ICO".to_owned(),
        other => other
            .extensions_str()
            .first()
            .map_or_else(|| format!("{other:?}"), |ext| ext.to_ascii_uppercase()),
    }
}

/// Picture formats people upload that the `image` crate does not sniff:
/// HEIC (the iPhone default) and SVG.
fn other_known_format(bytes: &[u8]) -> Option<&'static str> {
    const HEIF_BRANDS: [&[u8; 4]; 6] = [b"heic", b"heix", b"heim", b"heis", b"mif1", b"msf1"];
    if bytes.get(4..8) == Some(b"ftyp".as_slice()) {
        let brand = bytes.get(8..12)?;
        return HEIF_BRANDS
            .iter()
            .any(|known| known.as_slice() == brand)
            .then_some("HEIC/HEIF");
    }
    let start = &bytes[..bytes.len().min(1024)];
    let text = String::from_utf8_lossy(start);
    let text = text.trim_start_matches('\u{feff}').trim_start();
    (text.starts_with("<svg") || (text.starts_with("<?xml") && text.contains("<svg")))
        .then_some("SVG")
}

/// Catches cut files the decoders would misreport: JPEG decoders fill a
/// missing tail with grey rather than fail, and a cut WebP reads as a
/// corrupt bitstream. (A cut PNG is reported as such by its decoder.)
fn check_complete(bytes: &[u8], kind: ImageKind) -> Result<(), MediaError> {
    let truncated = |detail: String| Err(MediaError::Truncated { detail });
    match kind {
        ImageKind::Jpeg if !jpeg_has_end(bytes) => {
            truncated("the JPEG data stops before its end-of-image marker".to_owned())
        }
        ImageKind::WebP => match riff_len(bytes) {
            Some(declared) if declared > bytes.len() as u64 => truncated(format!(
                "the WebP header declares {declared} bytes but the file has {}",
                bytes.len()
            )),
            _ => Ok(()),
        },
        _ => Ok(()),
    }
}

/// The whole length a RIFF file declares: its 8-byte header plus the
/// little-endian size that follows `RIFF`.
fn riff_len(bytes: &[u8]) -> Option<u64> {
    let size: [u8; 4] = bytes.get(4..8)?.try_into().ok()?;
    Some(u64::from(u32::from_le_bytes(size)) + 8)
}

/// Whether an end-of-image marker follows the first start-of-scan marker.
/// Inside entropy-coded data a 0xFF byte is always followed by 0x00 or a
/// restart marker, so `FF D9` there can only be the real end.
fn jpeg_has_end(bytes: &[u8]) -> bool {
    let Some(scan) = bytes.windows(2).position(|pair| pair == [0xFF, 0xDA]) else {
        return false;
    };
    bytes[scan..].windows(2).any(|pair| pair == [0xFF, 0xD9])
}

struct Decoded {
    image: DynamicImage,
    width: u32,
    height: u32,
}

/// Decodes within the settings' limits; a panic in a decoder on malformed
/// input is reported as a corrupt file.
fn decode(bytes: &[u8], kind: ImageKind, settings: &ImageSettings) -> Result<Decoded, MediaError> {
    panic::catch_unwind(AssertUnwindSafe(|| {
        decode_within_limits(bytes, kind, settings)
    }))
    .unwrap_or_else(|_| {
        Err(MediaError::Corrupt {
            detail: format!("the {kind} decoder could not make sense of the data"),
        })
    })
}

fn decode_within_limits(
    bytes: &[u8],
    kind: ImageKind,
    settings: &ImageSettings,
) -> Result<Decoded, MediaError> {
    let memory_only = memory_limit(settings.max_decoded_bytes);
    let mut reader = ImageReader::with_format(Cursor::new(bytes), kind.format());
    // Headers are read under the memory limit alone, so that an oversized
    // picture is refused below with its actual dimensions.
    reader.limits(memory_only);
    let mut decoder = reader
        .into_decoder()
        .map_err(|err| decode_error(err, kind, settings))?;
    let (width, height) = decoder.dimensions();
    if width > settings.max_width || height > settings.max_height {
        return Err(MediaError::ImageTooLarge {
            width,
            height,
            max_width: settings.max_width,
            max_height: settings.max_height,
        });
    }
    if width == 0 || height == 0 {
        return Err(MediaError::Corrupt {
            detail: format!("the {kind} header says the picture is {width}x{height} pixels"),
        });
    }
    if decoder.total_bytes() > settings.max_decoded_bytes {
        return Err(MediaError::ImageNeedsTooMuchMemory {
            max: settings.max_decoded_bytes,
        });
    }
    let mut limits = memory_limit(settings.max_decoded_bytes);
    limits.max_image_width = Some(settings.max_width);
    limits.max_image_height = Some(settings.max_height);
    decoder
        .set_limits(limits)
        .map_err(|err| decode_error(err, kind, settings))?;
    // A broken EXIF block does not spoil the pixels: show them unrotated.
    let orientation = decoder.orientation().unwrap_or(Orientation::NoTransforms);
    let mut image =
        DynamicImage::from_decoder(decoder).map_err(|err| decode_error(err, kind, settings))?;
    image.apply_orientation(orientation);
    Ok(Decoded {
        image,
        width,
        height,
    })
}

fn memory_limit(max_alloc: u64) -> Limits {
    let mut limits = Limits::no_limits();
    limits.max_alloc = Some(max_alloc);
    limits
}

fn decode_error(err: ImageError, kind: ImageKind, settings: &ImageSettings) -> MediaError {
    match err {
        ImageError::IoError(err) if err.kind() == io::ErrorKind::UnexpectedEof => {
            MediaError::Truncated {
                detail: format!("the {kind} data ends early"),
            }
        }
        ImageError::Limits(limit) => match limit.kind() {
            LimitErrorKind::InsufficientMemory => MediaError::ImageNeedsTooMuchMemory {
                max: settings.max_decoded_bytes,
            },
            _ => MediaError::Corrupt {
                detail: format!("the {kind} decoder refused the picture's size: {limit}"),
            },
        },
        ImageError::Unsupported(unsupported) => MediaError::UnsupportedImageFeature {
            format: kind.name().to_owned(),
            detail: unsupported.to_string(),
        },
        ImageError::Decoding(decoding) if mentions_early_end(&decoding.to_string()) => {
            MediaError::Truncated {
                detail: format!("the {kind} data ends early ({decoding})"),
            }
        }
        other => MediaError::Corrupt {
            detail: format!("{kind}: {other}"),
        },
    }
}

/// Some decoders report a short file as a format error with words to that
/// effect rather than as an I/O end of file.
fn mentions_early_end(message: &str) -> bool {
    let message = message.to_ascii_lowercase();
    ["eof", "end of file", "unexpected end", "end of stream"]
        .iter()
        .any(|phrase| message.contains(phrase))
}

/// RGB with any transparency composed onto black.
fn flatten_onto_black(image: DynamicImage) -> RgbImage {
    if !image.color().has_alpha() {
        return image.into_rgb8();
    }
    let rgba = image.into_rgba8();
    RgbImage::from_fn(rgba.width(), rgba.height(), |x, y| {
        let [r, g, b, a] = rgba.get_pixel(x, y).0;
        let over_black = |c: u8| ((u16::from(c) * u16::from(a) + 127) / 255) as u8;
        image::Rgb([over_black(r), over_black(g), over_black(b)])
    })
}

/// The largest rectangle with the picture's aspect ratio that fits the
/// board, centred. Integer arithmetic, so every machine agrees.
fn placement(width: u32, height: u32, board: BoardSize) -> Placement {
    let (w, h) = (u64::from(width), u64::from(height));
    let (bw, bh) = (u64::from(board.width), u64::from(board.height));
    let (fit_w, fit_h) = if w * bh >= h * bw {
        (bw, ((h * bw * 2 + w) / (2 * w)).clamp(1, bh))
    } else {
        (((w * bh * 2 + h) / (2 * h)).clamp(1, bw), bh)
    };
    // Both are at most a board side, which is a u32.
    let (fit_w, fit_h) = (fit_w as u32, fit_h as u32);
    Placement {
        x: (board.width - fit_w) / 2,
        y: (board.height - fit_h) / 2,
        width: fit_w,
        height: fit_h,
    }
}

/// The picture scaled into `placement` on a black board.
fn fit(rgb: &RgbImage, placement: Placement, board: BoardSize) -> RgbImage {
    let (w, h) = (placement.width, placement.height);
    let scaled = if rgb.dimensions() == (w, h) {
        rgb.clone()
    } else if rgb.width() > 4 * w && rgb.height() > 4 * h {
        // Lanczos over a 50:1 reduction reads hundreds of taps per pixel;
        // averaging down to twice the size first keeps the cost linear in
        // the input and loses nothing visible at the final size.
        let averaged = imageops::thumbnail(rgb, 2 * w, 2 * h);
        imageops::resize(&averaged, w, h, FilterType::Lanczos3)
    } else {
        imageops::resize(rgb, w, h, FilterType::Lanczos3)
    };
    let mut board_image = RgbImage::new(board.width, board.height);
    imageops::replace(
        &mut board_image,
        &scaled,
        i64::from(placement.x),
        i64::from(placement.y),
    );
    board_image
}

fn encode_png(image: &RgbImage) -> Result<Vec<u8>, MediaError> {
    let mut png = Vec::new();
    PngEncoder::new_with_quality(&mut png, CompressionType::Best, PngFilter::Adaptive)
        .write_image(
            image.as_raw(),
            image.width(),
            image.height(),
            image::ExtendedColorType::Rgb8,
        )
        .map_err(|err| MediaError::Processing(format!("writing the board PNG: {err}")))?;
    Ok(png)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn board(width: u32, height: u32) -> BoardSize {
        BoardSize::new(width, height).expect("a valid board")
    }

    #[test]
    fn wide_pictures_fill_the_width_and_are_centred_vertically() {
        let placed = placement(1000, 250, board(192, 96));
        assert_eq!(
            placed,
            Placement {
                x: 0,
                y: 24,
                width: 192,
                height: 48
            }
        );
    }

    #[test]
    fn tall_pictures_fill_the_height_and_are_centred_horizontally() {
        let placed = placement(300, 900, board(384, 192));
        assert_eq!(
            placed,
            Placement {
                x: 160,
                y: 0,
                width: 64,
                height: 192
            }
        );
    }

    #[test]
    fn a_sliver_keeps_at_least_one_pixel() {
        let placed = placement(10_000, 1, board(192, 96));
        assert_eq!((placed.width, placed.height), (192, 1));
    }

    #[test]
    fn board_sizes_are_checked() {
        assert!(BoardSize::new(0, 96).is_err());
        assert!(BoardSize::new(192, MAX_BOARD_SIDE + 1).is_err());
        assert_eq!(board(192, 96).width(), 192);
    }

    #[test]
    fn a_jpeg_without_its_end_marker_is_noticed() {
        assert!(jpeg_has_end(&[0xFF, 0xD8, 0xFF, 0xDA, 0x01, 0xFF, 0xD9]));
        assert!(!jpeg_has_end(&[0xFF, 0xD8, 0xFF, 0xDA, 0x01, 0x02]));
        // An end marker before the scan (a thumbnail's) does not count.
        assert!(!jpeg_has_end(&[0xFF, 0xD8, 0xFF, 0xD9, 0xFF, 0xDA, 0x01]));
    }

    #[test]
    fn a_webp_shorter_than_its_riff_header_says_is_noticed() {
        let mut webp = b"RIFF\x10\0\0\0WEBPVP8 ".to_vec();
        assert_eq!(riff_len(&webp), Some(24));
        assert!(check_complete(&webp, ImageKind::WebP).is_err());
        webp.resize(24, 0);
        assert!(check_complete(&webp, ImageKind::WebP).is_ok());
    }

    #[test]
    fn heic_and_svg_are_named() {
        assert_eq!(
            other_known_format(b"\0\0\0\x18ftypheic\0\0\0\0"),
            Some("HEIC/HEIF")
        );
        assert_eq!(
            other_known_format(b"<?xml version=\"1.0\"?>\n<svg xmlns=\"\"/>"),
            Some("SVG")
        );
        assert_eq!(other_known_format(b"\0\0\0\x18ftypisom"), None);
    }
}
