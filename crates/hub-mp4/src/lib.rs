//! Videos for Nguồn's LED boards, read without decoding a picture: the
//! hub checks an upload with this crate (through `hub-media`) and a board
//! (`firmware-sim`) checks what it downloads and reads its subtitles with
//! the same code, so both sides agree on what a playable video is.
//!
//! It is its own crate so that a board does not build the hub's audio
//! codecs (libopus, symphonia, the resampler) to read an MP4, and the hub
//! does not build a board's H.264 decoder: pure Rust, no I/O, one small
//! dependency.
//!
//! Every length the file declares is checked against the bytes really
//! there before it is used, and nothing is allocated in proportion to a
//! declared size, so a hostile file costs at most one pass over its boxes
//! and samples. [`read`] also checks every track's samples lie inside the
//! file and add up to no more bytes than it holds, which bounds everything
//! read from them later.
//!
//! # Layout
//! - `error`: [`Mp4Error`], one variant per thing that can be wrong.
//! - `boxes`: the bounds-checked box and field reader.
//! - `movie`: [`read`], the movie and its [`Track`]s; which track is the
//!   H.264 video and which the subtitles.
//! - `samples`: a track's [`Sample`]s from its tables, lazily.
//! - `text`: subtitle [`Cue`]s from mov_text (`tx3g`) and WebVTT (`wvtt`)
//!   tracks; [`cue_at`].
//! - `avc`: H.264 samples as an Annex B stream for a decoder ([`AvcConfig`]).
//! - [`srt`]: SubRip files, read strictly.

mod avc;
mod boxes;
mod error;
mod movie;
mod samples;
pub mod srt;
mod text;

pub use avc::AvcConfig;
pub use error::Mp4Error;
pub use movie::{is_h264, read, FourCc, Movie, SubtitleCodec, Track};
pub use samples::{Sample, Samples};
pub use text::{cue_at, without_markup, Cue};
