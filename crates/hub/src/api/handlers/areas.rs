//! The province's areas, for pickers and target lists.

use axum::extract::State;
use axum::Json;
use serde::Serialize;
use utoipa::ToSchema;

use crate::api::auth::Caller;
use crate::api::error::{ApiError, ErrorBody};
use crate::api::state::ApiState;

#[derive(Serialize, ToSchema)]
pub struct AreaView {
    pub code: String,
    pub name: String,
    /// `central`, `province`, `district` or `commune`.
    pub level: String,
    pub parent: Option<String>,
    /// Whether the caller's own area contains it.
    pub in_scope: bool,
}

/// Every area, highest first, marked as in or out of the caller's scope.
#[utoipa::path(get, path = "/api/v1/areas", tag = "areas", security(("bearer" = [])),
    responses((status = 200, body = [AreaView]), (status = 401, body = ErrorBody)))]
pub async fn list(
    State(state): State<ApiState>,
    caller: Caller,
) -> Result<Json<Vec<AreaView>>, ApiError> {
    let tree = &state.tree;
    let mut ordered: Vec<_> = tree.areas().collect();
    ordered.sort_by_key(|area| (area.level, &area.code));
    let areas = ordered
        .into_iter()
        .map(|area| AreaView {
            code: area.code.to_string(),
            name: area.name.clone(),
            level: serde_json::to_value(area.level)
                .ok()
                .and_then(|v| v.as_str().map(str::to_owned))
                .unwrap_or_default(),
            parent: area.parent.as_ref().map(ToString::to_string),
            in_scope: tree.is_within(&area.code, &caller.principal.area),
        })
        .collect();
    Ok(Json(areas))
}
