//! A commune's programme: what its devices air today and in the days
//! after, and the chair's decisions
//! (the order of colliding priority bulletins, the normal ones opted in).

use std::collections::BTreeMap;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use chrono::{NaiveDate, NaiveDateTime};
use hub_access::{Action, Target};
use hub_core::{
    AreaCode, AreaLevel, BulletinId, ChairOrder, DeviceId, DeviceKind, Event, OptIn, PlanItem,
};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::parse_id;
use crate::api::auth::Caller;
use crate::api::error::{ApiError, ErrorBody};
use crate::api::extract::{Body, Query};
use crate::api::state::{ApiContext, ApiState};
use hub_store::Batch;

#[derive(Serialize, ToSchema)]
pub struct ProgrammeView {
    pub commune: String,
    /// Every bulletin targeting the commune.
    pub bulletins: Vec<BulletinLine>,
    /// The chair's order for colliding priority bulletins.
    pub chair_order: Vec<String>,
    /// Normal bulletins the chair opted in, with the local time from which they may air.
    #[schema(value_type = Vec<Object>)]
    pub opt_ins: Vec<OptIn>,
    /// Day by day from today: each device's plan (today from now on).
    pub days: Vec<DayView>,
}

#[derive(Serialize, ToSchema)]
pub struct DayView {
    /// The local date.
    pub date: NaiveDate,
    pub devices: Vec<DevicePlan>,
}

#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct ProgrammeQuery {
    /// How many days from today: 1 (default) to 7.
    pub days: Option<u8>,
}

#[derive(Serialize, ToSchema)]
pub struct BulletinLine {
    pub id: String,
    pub title: String,
    /// `emergency`, `priority` or `normal`.
    #[schema(value_type = String)]
    pub class: hub_core::PriorityClass,
    /// The issuing level.
    #[schema(value_type = String)]
    pub level: AreaLevel,
    #[schema(value_type = String)]
    pub state: hub_core::BulletinState,
}

#[derive(Serialize, ToSchema)]
pub struct DevicePlan {
    pub device: String,
    /// `loudspeaker` or `led_board`: the two kinds air different plans
    /// (windows, slot lengths), so they are read apart.
    #[schema(value_type = String)]
    pub kind: DeviceKind,
    #[schema(value_type = Vec<Object>)]
    pub plan: Vec<PlanItem>,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct OrderRequest {
    /// Priority bulletins in the order they should air when they collide.
    #[schema(value_type = Vec<String>)]
    pub order: Vec<BulletinId>,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct OptInRequest {
    /// Local wall-clock time from which it may air, `2026-11-23T17:00:00`.
    #[schema(value_type = String, example = "2026-11-23T17:00:00")]
    pub at: NaiveDateTime,
}

/// The commune named in the path, which must be a commune.
fn commune(state: &ApiContext, code: &str) -> Result<AreaCode, ApiError> {
    let code: AreaCode = parse_id(code, "commune")?;
    match state.tree.get(&code) {
        Some(area) if area.level == AreaLevel::Commune => Ok(code),
        _ => Err(ApiError::not_found(format!("no commune {code}"))),
    }
}

/// Feeds the chair's `event` and writes it with its audit entry, in one
/// transaction.
async fn commit(
    state: &ApiContext,
    caller: &Caller,
    action: Action,
    event: Event,
    commune: &AreaCode,
    bulletin: Option<&BulletinId>,
    after: String,
) -> Result<(), ApiError> {
    let mut audit = caller.event(action, format!("commune {commune}"));
    audit.areas = vec![commune.clone()];
    audit.bulletin = bulletin.cloned();
    audit.after = Some(after);
    state.commit(event, Batch::new(), audit, |_, _| {}).await
}

/// What the commune airs today and what its chair decided.
#[utoipa::path(get, path = "/api/v1/communes/{code}/programme", tag = "communes", security(("bearer" = [])),
    params(("code" = String, Path), ProgrammeQuery),
    responses((status = 200, body = ProgrammeView), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn programme(
    State(state): State<ApiState>,
    caller: Caller,
    Path(code): Path<String>,
    Query(query): Query<ProgrammeQuery>,
) -> Result<Json<ProgrammeView>, ApiError> {
    let commune = commune(&state, &code)?;
    let days = query.days.unwrap_or(1);
    if !(1..=7).contains(&days) {
        return Err(ApiError::invalid("days", "ask for 1 to 7 days"));
    }
    state.authorize(&caller, Action::ViewProgramme, Target::Area(&commune))?;
    let view = state.hub.commune(&commune, days).await?;
    let kinds: BTreeMap<DeviceId, DeviceKind> = state
        .hub
        .devices()
        .await?
        .into_iter()
        .filter(|d| d.commune == commune)
        .map(|d| (d.id, d.kind))
        .collect();
    Ok(Json(ProgrammeView {
        commune: commune.to_string(),
        bulletins: view
            .bulletins
            .into_iter()
            .map(|b| BulletinLine {
                id: b.id.to_string(),
                title: b.title,
                class: b.class,
                level: b.level,
                state: b.state,
            })
            .collect(),
        chair_order: view
            .chair_order
            .map(|o| o.order.iter().map(ToString::to_string).collect())
            .unwrap_or_default(),
        opt_ins: view.opt_ins,
        days: view
            .plans
            .into_iter()
            .map(|day| DayView {
                date: day.date,
                devices: day
                    .devices
                    .into_iter()
                    .filter_map(|(device, plan)| {
                        Some(DevicePlan {
                            kind: *kinds.get(&device)?,
                            device: device.to_string(),
                            plan,
                        })
                    })
                    .collect(),
            })
            .collect(),
    }))
}

/// The chair orders colliding priority bulletins.
#[utoipa::path(put, path = "/api/v1/communes/{code}/order", tag = "communes", security(("bearer" = [])),
    params(("code" = String, Path)), request_body = OrderRequest,
    responses((status = 204), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn reorder(
    State(state): State<ApiState>,
    caller: Caller,
    Path(code): Path<String>,
    Body(request): Body<OrderRequest>,
) -> Result<StatusCode, ApiError> {
    let commune = commune(&state, &code)?;
    state.authorize(&caller, Action::ReorderPriority, Target::Area(&commune))?;
    let after = request
        .order
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(", ");
    let event = Event::Reorder(ChairOrder {
        commune: commune.clone(),
        order: request.order,
    });
    commit(
        &state,
        &caller,
        Action::ReorderPriority,
        event,
        &commune,
        None,
        after,
    )
    .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The chair opts a normal bulletin in, from a local time on.
#[utoipa::path(put, path = "/api/v1/communes/{code}/opt-ins/{bulletin}", tag = "communes", security(("bearer" = [])),
    params(("code" = String, Path), ("bulletin" = String, Path)), request_body = OptInRequest,
    responses((status = 204), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn opt_in(
    State(state): State<ApiState>,
    caller: Caller,
    Path((code, bulletin)): Path<(String, String)>,
    Body(request): Body<OptInRequest>,
) -> Result<StatusCode, ApiError> {
    let commune = commune(&state, &code)?;
    let bulletin: BulletinId = parse_id(&bulletin, "bulletin")?;
    state.authorize(&caller, Action::OptIn, Target::Area(&commune))?;
    let after = format!("opted in from {}", request.at);
    let event = Event::OptIn(OptIn {
        commune: commune.clone(),
        bulletin: bulletin.clone(),
        at: request.at,
    });
    commit(
        &state,
        &caller,
        Action::OptIn,
        event,
        &commune,
        Some(&bulletin),
        after,
    )
    .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The chair withdraws an opt-in.
#[utoipa::path(delete, path = "/api/v1/communes/{code}/opt-ins/{bulletin}", tag = "communes", security(("bearer" = [])),
    params(("code" = String, Path), ("bulletin" = String, Path)),
    responses((status = 204), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody)))]
pub async fn opt_out(
    State(state): State<ApiState>,
    caller: Caller,
    Path((code, bulletin)): Path<(String, String)>,
) -> Result<StatusCode, ApiError> {
    let commune = commune(&state, &code)?;
    let bulletin: BulletinId = parse_id(&bulletin, "bulletin")?;
    state.authorize(&caller, Action::OptOut, Target::Area(&commune))?;
    let event = Event::OptOut {
        commune: commune.clone(),
        bulletin: bulletin.clone(),
    };
    commit(
        &state,
        &caller,
        Action::OptOut,
        event,
        &commune,
        Some(&bulletin),
        "opted out".into(),
    )
    .await?;
    Ok(StatusCode::NO_CONTENT)
}
