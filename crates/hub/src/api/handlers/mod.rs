//! The API's handlers, one module per resource. Each checks its input,
//! asks the policy, acts, and records the change in the audit log.

pub mod areas;
pub mod audit;
pub mod backups;
pub mod bulletins;
pub mod cap;
pub mod communes;
pub mod devices;
pub mod emergencies;
pub mod health;
pub mod live;
pub mod metrics;
pub mod reports;
pub mod session;
pub mod tokens;
pub mod uploads;
pub mod users;

use hub_access::Role;
use hub_core::{AreaCode, CoreError};
use serde::Deserialize;
use utoipa::ToSchema;

use super::error::ApiError;
use super::state::ApiContext;

/// Why: required where work is undone or refused (rejections,
/// cancellations, stopping an emergency, disabling, revoking).
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Reason {
    pub reason: String,
}

impl Reason {
    /// The reason, which must say something.
    pub fn required(self) -> Result<String, ApiError> {
        let reason = self.reason.trim();
        if reason.is_empty() {
            return Err(ApiError::invalid(
                "reason",
                "give a reason: it goes in the audit log",
            ));
        }
        Ok(reason.to_owned())
    }
}

/// A role as the API spells it (`district_editor`).
pub fn role_name(role: Role) -> String {
    serde_json::to_value(role)
        .ok()
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_default()
}

/// An identifier from a path segment, refused as 404 when malformed (no
/// such thing can exist).
pub fn parse_id<T: TryFrom<String, Error = CoreError>>(
    value: &str,
    what: &str,
) -> Result<T, ApiError> {
    T::try_from(value.to_owned())
        .map_err(|error| ApiError::not_found(format!("no {what} {value:?}: {error}")))
}

/// Refuses an area the province does not have, naming the field.
pub fn require_area(state: &ApiContext, code: &AreaCode, field: &str) -> Result<(), ApiError> {
    state
        .tree
        .get(code)
        .map(drop)
        .ok_or_else(|| ApiError::invalid(field, format!("unknown area {code}")))
}
