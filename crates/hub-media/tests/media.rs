//! Integration tests of hub-media, one binary: every format end to end,
//! every refusal, text-to-speech, and a fuzz-style robustness run.

mod support;

mod errors;
mod formats;
mod fuzz;
mod tts;
