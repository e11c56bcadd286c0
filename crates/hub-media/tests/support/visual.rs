//! Pictures and videos made by ffmpeg once per test run, a hand-built PNG
//! decompression bomb, and a repeatable byte mutator for robustness runs.

use std::path::Path;
use std::sync::OnceLock;

use tempfile::TempDir;

use super::{ffmpeg, run};

/// The colours of the solid posters, so tests can recognise them.
pub const TALL_PNG_RGB: [u8; 3] = [0xE0, 0x30, 0x20];
pub const WIDE_JPEG_RGB: [u8; 3] = [0x20, 0x60, 0xE0];
pub const WEBP_RGB: [u8; 3] = [0x20, 0xC0, 0x40];

/// Seconds of every test video.
pub const VIDEO_SECS: u64 = 4;

/// Two cues inside the test videos' four seconds.
pub const SUBTITLES_SRT: &str = "1\n00:00:00,500 --> 00:00:01,800\nThông báo: lịch tiêm chủng\n\n\
                                 2\n00:00:02,000 --> 00:00:03,500\ntại trạm y tế xã\n";

pub struct VisualFixtures {
    dir: TempDir,
}

impl VisualFixtures {
    pub fn file(&self, name: &str) -> Vec<u8> {
        let path = self.dir.path().join(name);
        std::fs::read(&path).unwrap_or_else(|err| panic!("reading {}: {err}", path.display()))
    }

    pub fn path(&self, name: &str) -> std::path::PathBuf {
        self.dir.path().join(name)
    }
}

/// The fixtures, made on first use.
pub fn visual() -> &'static VisualFixtures {
    static FIXTURES: OnceLock<VisualFixtures> = OnceLock::new();
    FIXTURES.get_or_init(make)
}

fn make() -> VisualFixtures {
    let dir = tempfile::tempdir().expect("temporary directory");
    let path = |name: &str| dir.path().join(name).to_string_lossy().into_owned();
    let hex = |[r, g, b]: [u8; 3]| format!("0x{r:02X}{g:02X}{b:02X}");
    let still = |source: String, out: &str, extra: &[&str]| {
        let out = path(out);
        let mut args = vec!["-f", "lavfi", "-i", source.as_str(), "-frames:v", "1"];
        args.extend_from_slice(extra);
        args.push(&out);
        ffmpeg(&args);
    };

    // Solid posters of odd aspect ratios: tall, 4:1 and 4:3.
    still(
        format!("color=c={}:s=300x500", hex(TALL_PNG_RGB)),
        "tall.png",
        &[],
    );
    still(
        format!("color=c={}:s=1000x250", hex(WIDE_JPEG_RGB)),
        "wide.jpg",
        &["-q:v", "2"],
    );
    still(
        format!("color=c={}:s=640x480", hex(WEBP_RGB)),
        "four_three.webp",
        &["-c:v", "libwebp"],
    );
    // Detailed pictures, whose data does not compress to nothing, for
    // truncation and mutation.
    for (name, extra) in [
        ("detail.png", &[][..]),
        ("detail.jpg", &["-q:v", "3"][..]),
        ("detail.webp", &["-c:v", "libwebp"][..]),
        ("detail.gif", &[][..]),
        ("detail.bmp", &[][..]),
        ("detail.tiff", &[][..]),
    ] {
        still("testsrc2=s=320x240".to_owned(), name, extra);
    }

    std::fs::write(dir.path().join("subtitles.srt"), SUBTITLES_SRT).expect("writing the SRT");
    let source = format!("testsrc2=s=320x180:r=25:d={VIDEO_SECS}");
    let srt = path("subtitles.srt");
    let video = |out: &str, codec: &[&str], with_subtitles: bool| {
        let out = path(out);
        let mut args = vec!["-f", "lavfi", "-i", source.as_str()];
        if with_subtitles {
            args.extend_from_slice(&["-i", srt.as_str(), "-c:s", "mov_text"]);
        }
        args.extend_from_slice(codec);
        args.extend_from_slice(&["-pix_fmt", "yuv420p", &out]);
        ffmpeg(&args);
    };
    let h264: &[&str] = &["-c:v", "libx264", "-preset", "ultrafast"];
    video("h264_mov_text.mp4", h264, true);
    video("h264.mp4", h264, false);
    video(
        "h264_fragmented.mp4",
        &[h264, &["-movflags", "frag_keyframe+empty_moov"]].concat(),
        true,
    );
    video(
        "hevc_mov_text.mp4",
        &[
            "-c:v",
            "libx265",
            "-preset",
            "ultrafast",
            "-x265-params",
            "log-level=error",
            "-tag:v",
            "hvc1",
        ],
        true,
    );
    video("mpeg4_mov_text.mp4", &["-c:v", "mpeg4"], true);
    VisualFixtures { dir }
}

/// What ffprobe says a file's duration is, in seconds.
pub fn ffprobe_duration(path: &Path) -> f64 {
    let output = run(
        "ffprobe",
        &[
            "-v",
            "error",
            "-show_entries",
            "format=duration",
            "-of",
            "default=noprint_wrappers=1:nokey=1",
            &path.to_string_lossy(),
        ],
        "ffmpeg",
    );
    String::from_utf8_lossy(&output.stdout)
        .trim()
        .parse()
        .unwrap_or_else(|err| panic!("ffprobe gave no duration for {}: {err}", path.display()))
}

/// A valid 8-bit greyscale PNG of `width` x `height` black pixels, small
/// because its single deflate block repeats one 258-byte back-reference:
/// about 1,000 times smaller than its pixels. Built by hand because
/// compressing hundreds of megabytes in a debug test would take minutes.
pub fn png_bomb(width: u32, height: u32) -> Vec<u8> {
    // Every row: filter byte 0, then zeros. So the whole stream is zeros.
    let raw_len = u64::from(height) * (u64::from(width) + 1);
    let mut bits = BitWriter::default();
    bits.bits(1, 1); // final block
    bits.bits(1, 2); // fixed Huffman codes
    bits.code(0b0011_0000, 8); // literal 0
    let mut left = raw_len - 1;
    while left >= 258 {
        bits.code(0b1100_0101, 8); // length 258 (symbol 285)
        bits.code(0, 5); // distance 1 (code 0)
        left -= 258;
    }
    for _ in 0..left {
        bits.code(0b0011_0000, 8);
    }
    bits.code(0, 7); // end of block (symbol 256)
    let mut zlib = vec![0x78, 0x01];
    zlib.extend(bits.finish());
    // Adler-32 of zeros: a stays 1, b adds 1 per byte.
    let adler = (raw_len % 65_521) << 16 | 1;
    zlib.extend_from_slice(&(adler as u32).to_be_bytes());

    let mut header = Vec::new();
    header.extend_from_slice(&width.to_be_bytes());
    header.extend_from_slice(&height.to_be_bytes());
    header.extend_from_slice(&[8, 0, 0, 0, 0]); // 8-bit grey, no interlace
    let mut png = b"\x89PNG\r\n\x1a\n".to_vec();
    chunk(&mut png, b"IHDR", &header);
    chunk(&mut png, b"IDAT", &zlib);
    chunk(&mut png, b"IEND", &[]);
    png
}

fn chunk(png: &mut Vec<u8>, kind: &[u8; 4], data: &[u8]) {
    png.extend_from_slice(&(data.len() as u32).to_be_bytes());
    png.extend_from_slice(kind);
    png.extend_from_slice(data);
    let crc = crc32(kind.iter().chain(data));
    png.extend_from_slice(&crc.to_be_bytes());
}

fn crc32<'a>(bytes: impl Iterator<Item = &'a u8>) -> u32 {
    let mut crc = !0u32;
    for &byte in bytes {
        crc ^= u32::from(byte);
        for _ in 0..8 {
            crc = if crc & 1 == 1 {
                (crc >> 1) ^ 0xEDB8_8320
            } else {
                crc >> 1
            };
        }
    }
    !crc
}

/// Deflate's bit order: fields least significant bit first, Huffman codes
/// most significant bit first.
#[derive(Default)]
struct BitWriter {
    bytes: Vec<u8>,
    current: u8,
    used: u8,
}

impl BitWriter {
    fn bit(&mut self, bit: u32) {
        self.current |= ((bit & 1) as u8) << self.used;
        self.used += 1;
        if self.used == 8 {
            self.bytes.push(self.current);
            self.current = 0;
            self.used = 0;
        }
    }

    fn bits(&mut self, value: u32, count: u32) {
        for i in 0..count {
            self.bit(value >> i);
        }
    }

    fn code(&mut self, code: u32, len: u32) {
        for i in (0..len).rev() {
            self.bit(code >> i);
        }
    }

    fn finish(mut self) -> Vec<u8> {
        if self.used > 0 {
            self.bytes.push(self.current);
        }
        self.bytes
    }
}

/// Repeatable damage to a real file: `rounds` variants, each with a few
/// overwritten bytes, a cut, or a removed run (xorshift, fixed seed).
pub fn mutations(seed: &[u8], rounds: usize) -> impl Iterator<Item = Vec<u8>> + '_ {
    let mut state = 0x9E37_79B9_7F4A_7C15u64;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    (0..rounds).map(move |round| {
        let mut bytes = seed.to_vec();
        let len = bytes.len().max(1) as u64;
        match round % 4 {
            0 | 1 => {
                for _ in 0..1 + next() % 8 {
                    let at = (next() % len) as usize;
                    if let Some(byte) = bytes.get_mut(at) {
                        *byte = next() as u8;
                    }
                }
            }
            2 => bytes.truncate((next() % len) as usize),
            _ => {
                let start = (next() % len) as usize;
                let end = (start + (next() % 256) as usize).min(bytes.len());
                bytes.drain(start..end);
            }
        }
        bytes
    })
}
