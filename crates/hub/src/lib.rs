//! The Nguồn provincial hub: configuration, commands and reports around the
//! pure core (`hub-core`) and the store (`hub-store`).
//!
//! # Layout
//! - [`config`]: the province configuration file, parsed into the domain at the edge.
//! - [`seed`]: putting a configuration's programme into a store without
//!   overwriting it, ingesting new bulletins' audio.
//! - [`media`]: the content-addressed media store, audio ingest, the media HTTP server.
//! - [`http_server`]: serving the media server and the API until the hub stops.
//! - [`report`]: a day plan rendered for people or as device payloads.
//! - [`reports`]: the semi-annual broadcasting report, computed from proof of
//!   play and presence records; CSV and a printable page.
//! - [`link`]: `hub serve`: the broker, the device protocol and delivery state.
//! - [`admin`]: the first administrator, created from the command line.
//! - [`api`]: the people's HTTP API under `/api/v1`, served beside the hub.
//! - [`console`]: the web console under `/console`, served with the API.
//! - [`cap`]: CAP 1.2 alerts posted to the API: validation and mapping onto bulletins.
//! - [`live`]: live emergencies: an operator's voice relayed to loudspeakers as signed chunks.
//! - [`serve`]: `hub serve` around [`link`], until a shutdown signal.
//! - [`monitor`]: device health, alarms and Prometheus metrics.
//! - [`logging`]: human or JSON log lines.
//! - [`backup_schedule`]: the backups a running hub takes by itself.
//! - [`demo`]: `hub demo`: the hub plus a simulated fleet of the province on a fast clock.
//! - [`client`], [`people`]: the command line's API client and the commands
//!   built on it (`hub user`, `hub device`, `hub bulletin`, `hub emergency`,
//!   `hub audit`).
//! - [`cli`]: the `hub` command line; `main.rs` only parses and calls [`cli::run`].

pub mod admin;
pub mod api;
pub mod backup_schedule;
pub mod cap;
pub mod cli;
pub mod client;
pub mod config;
pub mod console;
pub mod demo;
pub mod http_server;
pub mod link;
pub mod live;
pub mod logging;
pub mod media;
pub mod monitor;
pub mod people;
pub mod report;
pub mod reports;
pub mod seed;
pub mod serve;
