//! The semi-annual broadcasting report (and any range of days): what aired
//! where, by level, category, priority class and language, broadcast
//! minutes, emergencies and their delivery latency, device uptime, devices
//! never seen, failures — per commune, district and province.
//!
//! Pure computation: the API handler (`api/handlers/reports.rs`) reads the
//! records and hands them in. Everything is built from what devices
//! reported (their proof-of-play receipts) and from when they were online
//! (the hub's presence records); the plan is never taken as aired.
//!
//! - [`period`]: semi-annual periods (`2026-H2`) and ranges of local days.
//! - [`figures`]: the figures, and how each is counted.
//! - [`csv`]: the report as CSV, one figure a row.
//! - [`html`]: a printable page with SVG charts, in Vietnamese or English
//!   (the words live in [`words`]).

pub mod csv;
pub mod figures;
pub mod html;
pub mod period;
pub mod words;

use chrono::{DateTime, Utc};
use serde::Serialize;

pub use figures::{compute, segments, AreaFigures, Figures, Inputs, Segment, Tally};
pub use period::{Period, PeriodError};
pub use words::Lang;

/// A report: its period, the area asked for, and the figures.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Report {
    pub period: Period,
    /// The area asked for; its figures come first in `figures.areas`.
    pub area: String,
    pub area_name: String,
    /// The province's time zone, which the period's days are in.
    pub timezone: String,
    pub generated_at: DateTime<Utc>,
    #[serde(flatten)]
    pub figures: Figures,
}
