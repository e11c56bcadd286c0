//! CAP 1.2 (OASIS Common Alerting Protocol) alerts posted to
//! `POST /api/v1/cap`: parsed, validated as the CAP 1.2 schema says, mapped
//! onto a bulletin, and remembered by (sender, identifier, sent) so the same
//! alert posted twice creates nothing new and later Updates and Cancels find
//! the bulletin an alert became. `docs/cap.md` describes the mapping.
//!
//! Pure code: no I/O here but the store record; the API handler
//! (`api::handlers::cap`) authorises, ingests audio, publishes and audits.
//!
//! # Layout
//! - `xml`: the document as an element tree (quick-xml), with limits.
//! - [`document`]: the validated [`Alert`](document::Alert), errors naming element paths.
//! - [`mapping`]: areas, languages, priority class and validity of the bulletin an alert becomes.
//! - [`record`]: the [`CapRecord`](record::CapRecord) kept per alert in the hub's store.

pub mod document;
pub mod mapping;
pub mod record;
mod xml;

pub use document::{parse, Alert, MsgType, Status};
pub use mapping::{broadcast, Broadcast, GEOCODE_NAME};
pub use record::CapRecord;
pub use xml::CAP_NS;

/// Why a CAP document was refused. `path` is the element at fault, such as
/// `alert/info[1]/urgency` (empty when the document has no element yet).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum CapError {
    /// Not well-formed XML (or not UTF-8).
    #[error("{path}: not well-formed XML: {message}")]
    Malformed { path: String, message: String },
    /// Well-formed, but not a valid CAP 1.2 alert, or not one the hub can air.
    #[error("{path}: {message}")]
    Invalid { path: String, message: String },
}

impl CapError {
    /// The element at fault.
    pub fn path(&self) -> &str {
        match self {
            CapError::Malformed { path, .. } | CapError::Invalid { path, .. } => path,
        }
    }

    /// What was wrong, without the path.
    pub fn message(&self) -> &str {
        match self {
            CapError::Malformed { message, .. } | CapError::Invalid { message, .. } => message,
        }
    }
}

/// The adapted OASIS examples of `examples/`, filled in.
#[cfg(test)]
pub(crate) mod examples {
    pub const HOMELAND: &str = include_str!("examples/homeland-security.xml");
    pub const THUNDERSTORM: &str = include_str!("examples/thunderstorm.xml");
    pub const EARTHQUAKE: &str = include_str!("examples/earthquake.xml");

    /// `template` with its placeholders set: an Actual Alert sent at 10:00
    /// on 23 November 2026 (+07:00), expiring at 12:00, for area 24611,
    /// unless `overrides` says otherwise.
    pub fn fill(template: &str, overrides: &[(&str, &str)]) -> String {
        let defaults = [
            ("identifier", "A-1"),
            ("sent", "2026-11-23T10:00:00+07:00"),
            ("status", "Actual"),
            ("msgType", "Alert"),
            ("references", ""),
            ("expires", "2026-11-23T12:00:00+07:00"),
            ("area", "24611"),
        ];
        let mut text = template.to_owned();
        for (key, default) in defaults {
            let value = overrides
                .iter()
                .find(|(k, _)| *k == key)
                .map_or(default, |(_, v)| v);
            text = text.replace(&format!("{{{{{key}}}}}"), value);
        }
        text
    }
}
