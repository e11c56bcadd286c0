//! Reading the audit log (there is no way to change it through the API).

use axum::extract::State;
use axum::Json;
use chrono::{DateTime, Utc};
use hub_access::{Action, AuditEntry, AuditFilter, AuditQuery, Subject, Target, MAX_QUERY};
use hub_core::{AreaCode, BulletinId};
use serde::Deserialize;
use utoipa::IntoParams;

use super::require_area;
use crate::api::auth::Caller;
use crate::api::error::{ApiError, ErrorBody};
use crate::api::extract::Query;
use crate::api::state::ApiState;

#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct AuditParams {
    /// From this instant on (RFC 3339, inclusive).
    pub from: Option<DateTime<Utc>>,
    /// Before this instant (exclusive).
    pub until: Option<DateTime<Utc>>,
    /// Entries of this account.
    #[param(value_type = Option<String>)]
    pub user: Option<hub_access::Username>,
    /// Entries of this API token.
    #[param(value_type = Option<String>)]
    pub token: Option<hub_access::TokenName>,
    /// Entries concerning this area or any below it; default: the caller's area.
    #[param(value_type = Option<String>)]
    pub area: Option<AreaCode>,
    #[param(value_type = Option<String>)]
    pub bulletin: Option<BulletinId>,
    /// At most this many (default and maximum 1,000), oldest first.
    pub limit: Option<usize>,
}

/// Audit entries, oldest first, by time and one of user, token, area or bulletin.
#[utoipa::path(get, path = "/api/v1/audit", tag = "audit", security(("bearer" = [])),
    params(AuditParams),
    responses((status = 200, description = "entries", body = [Object]), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn query(
    State(state): State<ApiState>,
    caller: Caller,
    Query(params): Query<AuditParams>,
) -> Result<Json<Vec<AuditEntry>>, ApiError> {
    let area = params
        .area
        .clone()
        .unwrap_or_else(|| caller.principal.area.clone());
    require_area(&state, &area, "area")?;
    state.authorize(&caller, Action::ReadAudit, Target::Area(&area))?;
    let mut filters = Vec::new();
    if let Some(user) = params.user {
        filters.push(AuditFilter::Actor(Subject::User(user)));
    }
    if let Some(token) = params.token {
        filters.push(AuditFilter::Actor(Subject::Token(token)));
    }
    if let Some(bulletin) = params.bulletin {
        filters.push(AuditFilter::Bulletin(bulletin));
    }
    if filters.len() > 1 {
        return Err(ApiError::invalid(
            "user",
            "filter by one of user, token or bulletin at a time (with area and time)",
        ));
    }
    let tree = &state.tree;
    // Without another filter, the area selects in the store; with one,
    // entries outside the area are left out afterwards.
    let by_area = filters.is_empty();
    let filter = filters.pop().unwrap_or(AuditFilter::Area(area.clone()));
    let entries = state.audit.query(&AuditQuery {
        from: params.from,
        until: params.until,
        filter: Some(filter),
        limit: params.limit.unwrap_or(MAX_QUERY),
    })?;
    let in_area = |entry: &AuditEntry| {
        by_area
            || entry.event.areas.iter().any(|a| tree.is_within(a, &area))
            || (entry.event.areas.is_empty() && tree.root().code == area)
    };
    Ok(Json(entries.into_iter().filter(in_area).collect()))
}
