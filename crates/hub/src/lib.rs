//! The Nguồn provincial hub: configuration, commands and reports around the
//! pure core (`hub-core`) and the store (`hub-store`).
//!
//! # Layout
//! - [`config`]: the province configuration file, parsed into the domain at the edge.
//! - [`seed`]: putting a configuration's programme into a store without overwriting it.
//! - [`report`]: a day plan rendered for people or as device payloads.
//! - [`cli`]: the `hub` command line; `main.rs` only parses and calls [`cli::run`].

pub mod cli;
pub mod config;
pub mod report;
pub mod seed;
