//! The wire contract between the Nguồn hub and field devices.
//!
//! Both sides — the hub and `firmware-sim` (and real firmware) — build and read
//! messages only through this crate, so a payload shape or a version number is
//! written down exactly once. Every payload carries a version field `v`; a
//! reader refuses a version it does not know instead of guessing.
//!
//! # Layout
//! - [`plan`]: what a device must play or show, and when (the schedule the hub hands out).

pub mod plan;

pub use plan::{Class, DevicePlan, Part, PlanEntry};

/// Version of every payload defined here; bumped on any incompatible change.
pub const PROTOCOL_VERSION: u16 = 1;

/// Why a payload could not be read.
#[derive(Debug, thiserror::Error)]
pub enum DecodeError {
    /// Not valid JSON for the payload type; serde's message names the field and position.
    #[error("malformed payload: {0}")]
    Malformed(#[from] serde_json::Error),
    /// A version this build does not speak.
    #[error("unsupported payload version {found} (this build speaks {supported})")]
    UnsupportedVersion { found: u16, supported: u16 },
}
