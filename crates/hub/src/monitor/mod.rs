//! Monitoring: device health, alarms and Prometheus metrics.
//!
//! # Layout
//! - [`watch`]: what the hub task records as reports arrive (last seen,
//!   online/offline since, emergency first-audio latency) and the health
//!   snapshots it answers with, many devices per request.
//! - [`alarms`]: the `[health]` settings and the pure alarm rules (a device
//!   offline too long or reporting faults; a commune with no working
//!   loudspeaker, or whose boards are all down).
//! - [`metrics`]: histograms and the Prometheus text exposition of the
//!   hub's figures.
//!
//! The API serves them: `GET /api/v1/health`, `GET /api/v1/alarms` and
//! `GET /metrics` (`api/handlers/health.rs`, `api/handlers/metrics.rs`).

pub mod alarms;
pub mod metrics;
pub mod watch;

pub use alarms::{Alarm, HealthSettings};
pub use watch::{DeviceHealth, DeviceWatch, LinkFigures};
