//! Benchmarks for the Nguồn hub.
//!
//! Each scenario builds a deterministic load from a seed, measures one thing,
//! and returns a summary; the `hub-bench` binary prints a few human lines and
//! then the summary as one line of JSON, always the last line of output.
//!
//! ```text
//! cargo run --release -p hub-bench -- plan
//! cargo run --release -p hub-bench -- plan --communes 100 --bulletins 300 --seed 7
//! cargo run --release -p hub-bench -- fanout --devices 10000
//! cargo run --release -p hub-bench -- emergency --devices 1000 --runs 3
//! cargo run --release -p hub-bench -- ingest --input-seconds 600
//! ```
//!
//! # Layout
//! - `main.rs`: the thin command line (clap): one subcommand per scenario.
//! - [`scenarios`]: the scenarios.
//!   - [`scenarios::plan`]: plan every device's day with `hub_core::DayPlanner`,
//!     timing the planning only.
//!   - [`scenarios::fleet`]: what the scenarios over MQTT share: the hub in
//!     this process, N simulated devices in a child process (`fleet::devices`),
//!     the raw broker broadcast as baseline, percentiles, medians of runs.
//!   - [`scenarios::fanout`]: connect time, one bulletin's ack latency, hub
//!     memory per device, against the bare broker as baseline.
//!   - [`scenarios::emergency`]: an operator's emergency with a spoken file
//!     no device holds, from the trigger to the first audio on every device,
//!     against the raw broker broadcast of one message as the floor.
//!   - [`scenarios::ingest`]: N seconds of speech as a phone's MP3 through
//!     `hub_media::ingest_audio`: real-time factor and bitrate, against
//!     `ffmpeg -c:a libopus` on the same file as baseline.
//! - [`load`]: the national-scale load (areas, devices, bulletins, opt-ins,
//!   chair orders) built from a seed; shared by scenarios.
//! - [`rng`]: SplitMix64, so loads need no external random crate.
//! - [`rss`]: resident memory (`VmRSS`, `VmHWM`) from `/proc/self/status`.
//! - [`free_memory`]: before each measured broadcast, a short-lived process
//!   touches free memory so that no measurement gets pages this VM handed
//!   back to its host (dear to touch again) at random.

pub mod free_memory;
pub mod load;
pub mod rng;
pub mod rss;
pub mod scenarios;
