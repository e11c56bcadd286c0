//! Integration tests of hub-media, one binary: every format end to end,
//! every refusal, text-to-speech, a fuzz-style robustness run, and pictures
//! and videos for LED boards.

mod support;

mod errors;
mod formats;
mod fuzz;
mod loudness;
mod pictures;
mod tts;
mod videos;
