//! What an LED board checks of a file before keeping it: a picture must
//! decode (PNG, JPEG or WebP), a video must be an MP4 (its first box is
//! `ftyp`). The board shows pictures; of a video it shows the caption, as
//! the simulator decodes no H.264.

use image::RgbaImage;

use super::audio::Undecodable;

/// The kinds of file a board shows.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BoardFile {
    /// PNG, JPEG or WebP.
    Picture,
    /// MP4.
    Video,
}

/// Checks `bytes` is a picture that decodes or an MP4.
pub fn check_board_file(bytes: &[u8]) -> Result<BoardFile, Undecodable> {
    if bytes.get(4..8) == Some(b"ftyp".as_slice()) {
        return Ok(BoardFile::Video);
    }
    decode_picture(bytes).map(|_| BoardFile::Picture)
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
    fn pictures_decode_videos_are_recognised_and_anything_else_is_refused() {
        let mut png = Vec::new();
        RgbaImage::from_pixel(8, 4, Rgba([200, 0, 0, 255]))
            .write_to(&mut Cursor::new(&mut png), ImageFormat::Png)
            .unwrap();
        assert_eq!(check_board_file(&png), Ok(BoardFile::Picture));
        assert_eq!(decode_picture(&png).unwrap().dimensions(), (8, 4));
        let mp4 = [&[0, 0, 0, 24][..], b"ftypisom", &[0; 12]].concat();
        assert_eq!(check_board_file(&mp4), Ok(BoardFile::Video));
        let truncated = &png[..png.len() / 2];
        let refused = check_board_file(truncated).unwrap_err();
        assert!(refused.0.contains("not a picture"), "{refused}");
        assert!(check_board_file(b"hello").is_err());
    }
}
