//! What an LED board checks of a file before keeping it: a picture must
//! decode (PNG, JPEG or WebP); a file that says it is an MP4 (its first box
//! is `ftyp`, or it is cut inside it) must be a video the board can play,
//! its subtitles read ([`super::video::check_video`]); anything else must be
//! SRT subtitles that read strictly (`hub_mp4::srt`, as the hub checked
//! them), shown over the video they came with.

use hub_mp4::Cue;
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
    /// An SRT file's cues, in start order.
    Subtitles(Vec<Cue>),
}

/// Checks `bytes` is a picture that decodes, a video that plays, or SRT
/// subtitles that read.
pub fn check_board_file(bytes: &[u8]) -> Result<BoardFile, Undecodable> {
    if is_mp4(bytes) {
        return check_video(bytes).map(BoardFile::Video);
    }
    if image::guess_format(bytes).is_ok() {
        return decode_picture(bytes).map(|_| BoardFile::Picture);
    }
    read_subtitles(bytes).map(BoardFile::Subtitles)
}

/// The cues of the SRT file in `bytes`, in start order.
fn read_subtitles(bytes: &[u8]) -> Result<Vec<Cue>, Undecodable> {
    let cues = hub_mp4::srt::parse(bytes).map_err(|error| {
        Undecodable(format!(
            "not a picture, a video or subtitles the board can show: {error}"
        ))
    })?;
    let mut cues: Vec<Cue> = cues
        .into_iter()
        .map(|cue| Cue {
            start_ms: cue.start_ms,
            end_ms: cue.end_ms,
            text: cue.text,
        })
        .collect();
    cues.sort_by_key(|cue| cue.start_ms);
    Ok(cues)
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
        let refused = check_board_file(b"hello").unwrap_err();
        assert!(
            refused.0.contains("subtitles the board can show"),
            "{refused}"
        );
    }

    #[test]
    fn srt_subtitles_give_their_cues_in_start_order() {
        let srt = "1\n00:00:02,000 --> 00:00:03,000\nSơ tán\n\n\
                   2\n00:00:00,500 --> 00:00:01,500\nCảnh báo\n";
        let Ok(BoardFile::Subtitles(cues)) = check_board_file(srt.as_bytes()) else {
            panic!("SRT subtitles read");
        };
        let read: Vec<_> = cues
            .iter()
            .map(|c| (c.start_ms, c.end_ms, c.text.as_str()))
            .collect();
        assert_eq!(read, [(500, 1500, "Cảnh báo"), (2000, 3000, "Sơ tán")]);
        let broken = "1\n00:00:02,000 -> 00:00:03,000\nSơ tán\n";
        let refused = check_board_file(broken.as_bytes()).unwrap_err();
        assert!(refused.0.contains("line 2"), "{refused}");
    }
}
