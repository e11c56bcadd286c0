//! End-to-end tests of the Nguồn hub, built as one test binary.
//!
//! They drive the `hub` command line and `hub serve` through their library
//! entry points, with a real sled store in a temporary directory, real MQTT
//! brokers (the embedded rumqttd, Mosquitto) on loopback, the media server
//! over real HTTP, and simulated devices from `firmware-sim`. A test that
//! kills the hub runs it as a process of its own (`bin/hub_process.rs`).
//! The web console is driven from headless Chromium by the Playwright
//! scripts of `browser/` (`npm ci --prefix tests/browser`).

mod support;

mod api;
mod backup_cli;
mod cap;
mod console;
mod crash;
mod day;
mod demo_cli;
mod health;
mod link;
mod live;
mod media;
mod plan_cli;
mod provision_cli;
mod reports;
