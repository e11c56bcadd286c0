//! What an LED board checks of a file before keeping it: a picture must
//! decode (PNG, JPEG or WebP); a file that says it is an MP4 (its first box
//! is `ftyp`, or it is cut inside it) must be a video the board can play,
//! its subtitles read ([`super::video::check_video`]).

use image::RgbaImage;

use super::audio::Undecodable;
use super::video::{check_video, BoardVideo};

/// The kinds of file a board shows.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum BoardFile {
    /// PNG, JPEG or WebP.
    Picture,
    /// An H.264 MP4, and what the board read from it.
    Video(BoardVideo),
}

/// Checks `bytes` is a picture that decodes or a video that plays.
pub fn check_board_file(bytes: &[u8]) -> Result<BoardFile, Undecodable> {
    if is_mp4(bytes) {
        return check_video(bytes).map(BoardFile::Video);
    }
    decode_picture(bytes).map(|_| BoardFile::Picture)
}

/// Whether `bytes` says it is an MP4: its first box is `ftyp`, or the file
/// ends before its type would.
fn is_mp4(bytes: &[u8]) -> bool {
    bytes.get(4..8) == Some(b"ftyp".as_slice())
}

/// The picture in `bytes`.
pub fn decode_picture(bytes: &[u8]) -> Result<RgbaImage, Undecodable> {
    image::load_from_memory(bytes)
        .map(|picture| picture.to_rgba8())
        .map_err(|error| Undecodable(format!("not a picture the board can show: {error}")))
}

#[cfg(test)]
mod tests {
    use std::io::Cursor;

    use image::{ImageFormat, Rgba};

    use super::*;

    #[test]
    fn pictures_decode_and_anything_else_is_refused() {
        let mut png = Vec::new();
        RgbaImage::from_pixel(8, 4, Rgba([200, 0, 0, 255]))
            .write_to(&mut Cursor::new(&mut png), ImageFormat::Png)
            .unwrap();
        assert_eq!(check_board_file(&png), Ok(BoardFile::Picture));
        assert_eq!(decode_picture(&png).unwrap().dimensions(), (8, 4));
        // An `ftyp` box and nothing else: an MP4 without a movie.
        let mp4 = [&[0, 0, 0, 24][..], b"ftypisom", &[0; 12]].concat();
        let refused = check_board_file(&mp4).unwrap_err();
        assert!(refused.0.contains("there is no 'moov' box"), "{refused}");
        let truncated = &png[..png.len() / 2];
        let refused = check_board_file(truncated).unwrap_err();
        assert!(refused.0.contains("not a picture"), "{refused}");
        assert!(check_board_file(b"hello").is_err());
    }
}
