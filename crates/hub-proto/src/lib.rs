//! The wire contract between the Nguồn hub and field devices.
//!
//! Both sides — the hub and `firmware-sim` (and real firmware) — build and read
//! messages only through this crate, so a payload shape or a version number is
//! written down exactly once. Every payload carries a version field `v`; a
//! reader refuses a version it does not know instead of guessing.
//!
//! # Layout
//! - [`plan`]: what a device must play or show, and when (the schedule the hub hands out).
//! - [`topic`]: the MQTT topic scheme, two topics per commune.
//! - [`downlink`]: commands, signed by the hub with Ed25519, checked by devices.
//! - [`uplink`]: reports, sealed by each device with its own HMAC key.
//! - [`media`]: where and how devices fetch media files over HTTP.
//! - [`live`]: live voice chunks, signed by the hub, checked by loudspeakers.
//! - [`verified`]: commands and chunks verified once for many simulated devices.
//! - [`provision`]: what a device is given to join: its credentials and the hub's key.
//! - [`clock`]: the time base both ends share (real, or a compressed day in tests).
//! - [`cpu`]: whether this processor runs the build as compiled ([`check_cpu`]).
//!
//! `docs/protocol.md` describes the exchange and the threat model.

pub mod clock;
pub mod cpu;
pub mod downlink;
pub mod live;
pub mod media;
pub mod plan;
pub mod provision;
pub mod topic;
pub mod uplink;
pub mod verified;

pub use clock::Clock;
pub use cpu::check_cpu;
pub use downlink::{Command, CommandGuard, CommandSigner, Directive, StopReason, VerifiedCommands};
pub use plan::{AiringRef, Class, DevicePlan, Kind, MediaChunk, MediaRef, Part, PlanEntry};
pub use provision::{DeviceCredentials, Provisioning};
pub use uplink::{FailureReason, Message, Outcome, Power, Report, SealedReport, Status, UplinkKey};

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

/// Why a command or report was not taken.
#[derive(Debug, thiserror::Error)]
pub enum Refusal {
    #[error("payload of {size} bytes is over the {max}-byte limit")]
    TooLarge { size: usize, max: usize },
    #[error("malformed payload: {0}")]
    Malformed(serde_json::Error),
    #[error("unsupported payload version {found} (this build speaks {supported})")]
    UnsupportedVersion { found: u16, supported: u16 },
    #[error("signature does not verify")]
    BadSignature,
    #[error("sequence number {seq} is not above the last accepted {last}")]
    Replayed { seq: u64, last: u64 },
    #[error("expired at {expires}")]
    Expired {
        expires: chrono::DateTime<chrono::Utc>,
    },
    #[error("not a valid key")]
    BadKey,
}

impl From<DecodeError> for Refusal {
    fn from(error: DecodeError) -> Self {
        match error {
            DecodeError::Malformed(e) => Self::Malformed(e),
            DecodeError::UnsupportedVersion { found, supported } => {
                Self::UnsupportedVersion { found, supported }
            }
        }
    }
}

impl Refusal {
    /// A short, stable name for the kind of refusal, for counters and reports.
    pub fn code(&self) -> &'static str {
        match self {
            Self::TooLarge { .. } => "too_large",
            Self::Malformed(_) => "malformed",
            Self::UnsupportedVersion { .. } => "unsupported_version",
            Self::BadSignature => "bad_signature",
            Self::Replayed { .. } => "replayed",
            Self::Expired { .. } => "expired",
            Self::BadKey => "bad_key",
        }
    }
}

/// The wire form of a signed or sealed payload: `{"<proof_name>":"<base64
/// proof>","body":<body>}`, with `body` kept byte for byte, since the proof
/// covers exactly those bytes.
fn envelope(proof_name: &str, proof: &[u8], body: &[u8]) -> Vec<u8> {
    let mut wire = open_envelope(proof_name, proof, body, 1);
    wire.push(b'}');
    wire
}

/// [`envelope`] without its closing brace, with room for `room` more bytes
/// (fields after the body, and the brace).
fn open_envelope(proof_name: &str, proof: &[u8], body: &[u8], room: usize) -> Vec<u8> {
    use base64::Engine;
    let proof = base64::engine::general_purpose::STANDARD.encode(proof);
    let mut wire = Vec::with_capacity(body.len() + proof.len() + proof_name.len() + 16 + room);
    wire.extend_from_slice(format!("{{\"{proof_name}\":\"{proof}\",\"body\":").as_bytes());
    wire.extend_from_slice(body);
    wire
}

/// Refuses a payload whose `v` this build does not speak, before reading the rest.
fn check_version(bytes: &[u8]) -> Result<(), DecodeError> {
    #[derive(serde::Deserialize)]
    struct Versioned {
        v: u16,
    }
    let Versioned { v } = serde_json::from_slice(bytes)?;
    if v == PROTOCOL_VERSION {
        Ok(())
    } else {
        Err(DecodeError::UnsupportedVersion {
            found: v,
            supported: PROTOCOL_VERSION,
        })
    }
}
