//! The audit record: who did what, in which role, to what, from where, when,
//! what it was before and after, and why.

use std::net::IpAddr;

use chrono::{DateTime, Utc};
use hub_core::{AreaCode, BulletinId};
use serde::{Deserialize, Serialize};

use crate::{Action, Principal};

/// A change as the caller describes it, before the log gives it a place.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditEvent {
    /// Who acted, in which role and area.
    pub actor: Principal,
    /// The address the request came from (`None` from the command line).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client: Option<IpAddr>,
    pub action: Action,
    /// The object in words: `account tran.binh`, `device 24611-LS`, `commune 24611`.
    pub object: String,
    /// The areas the change concerns (a bulletin's targets, a device's
    /// commune, an account's area). Queries by area also find it from every
    /// area above these.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub areas: Vec<AreaCode>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bulletin: Option<BulletinId>,
    /// Short summaries of the object before and after; never a secret.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub before: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub after: Option<String>,
    /// Why, when the actor gave a reason (a rejection, a cancellation).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

/// A recorded change: the event, when it was recorded, and its sequence
/// number (unique, growing; orders entries of the same millisecond).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditEntry {
    pub at: DateTime<Utc>,
    pub seq: u64,
    #[serde(flatten)]
    pub event: AuditEvent,
}

impl AuditEntry {
    /// The entry's key: 16 hex digits of Unix milliseconds, then 16 of the
    /// sequence number, so key order is time order and a time range is a
    /// key range.
    pub fn key(&self) -> String {
        format!("{}{:016x}", time_key(self.at), self.seq)
    }
}

/// The time part of entry keys (times before 1970 sort as 1970).
pub(crate) fn time_key(at: DateTime<Utc>) -> String {
    format!("{:016x}", u64::try_from(at.timestamp_millis()).unwrap_or(0))
}
