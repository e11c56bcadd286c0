//! Devices: health and delivery state for those who watch them;
//! registration, credentials and revocation for administrators.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use chrono::{DateTime, Utc};
use hub_access::{Action, DeviceFacts, Target};
use hub_core::{AreaCode, AreaLevel, Delivery, Device, DeviceId, DeviceKind, PlanItem};
use hub_proto::{DeviceCredentials, Provisioning, Status};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::{parse_id, require_area, Reason};
use crate::api::auth::Caller;
use crate::api::error::{ApiError, ErrorBody};
use crate::api::extract::{Body, Query};
use crate::api::state::{ApiContext, ApiState};
use crate::monitor::DeviceHealth;

#[derive(Serialize, ToSchema)]
pub struct DeviceView {
    pub id: String,
    /// `loudspeaker` or `led_board`.
    #[schema(value_type = String)]
    pub kind: hub_core::DeviceKind,
    pub commune: String,
    pub name: String,
    pub online: bool,
    /// When the hub last heard from the device (hub clock); `null` if not
    /// since it started.
    #[schema(value_type = Option<String>)]
    pub last_seen: Option<DateTime<Utc>>,
    /// The device's last status report: playing, volume, power, battery, faults.
    #[schema(value_type = Option<Object>)]
    pub status: Option<Status>,
}

#[derive(Serialize, ToSchema)]
pub struct DeviceDetail {
    #[serde(flatten)]
    pub device: DeviceView,
    /// Every airing planned on the device, with where it stands
    /// (queued → sent → acknowledged → started → finished, or preempted,
    /// stopped, failed with a reason, expired).
    #[schema(value_type = Vec<Object>)]
    pub deliveries: Vec<Delivery>,
    /// What it is to air for the rest of today.
    #[schema(value_type = Vec<Object>)]
    pub plan: Vec<PlanItem>,
}

#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct DeviceQuery {
    /// The area whose devices to list; default: the caller's.
    #[param(value_type = Option<String>)]
    pub area: Option<AreaCode>,
}

fn facts(device: &Device) -> DeviceFacts {
    DeviceFacts {
        id: device.id.clone(),
        commune: device.commune.clone(),
    }
}

async fn find(state: &ApiContext, id: &str) -> Result<Device, ApiError> {
    let id: DeviceId = parse_id(id, "device")?;
    state
        .hub
        .device(&id)
        .await?
        .ok_or_else(|| ApiError::not_found(format!("unknown device {id}")))
}

/// A provisioning file holding one device's credentials.
fn provisioning(state: &ApiContext, credentials: DeviceCredentials) -> Provisioning {
    Provisioning::new(
        state.broker_url.clone(),
        state.hub_public_key.clone(),
        vec![credentials],
    )
    .with_media_ca(state.media_ca.clone())
}

fn view(health: DeviceHealth) -> DeviceView {
    let DeviceHealth {
        device,
        online,
        last_seen,
        status,
        ..
    } = health;
    DeviceView {
        id: device.id.to_string(),
        kind: device.kind,
        commune: device.commune.to_string(),
        name: device.name,
        online,
        last_seen,
        status,
    }
}

/// The devices of an area, with their health.
#[utoipa::path(get, path = "/api/v1/devices", tag = "devices", security(("bearer" = [])),
    params(DeviceQuery),
    responses((status = 200, body = [DeviceView]), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn list(
    State(state): State<ApiState>,
    caller: Caller,
    Query(query): Query<DeviceQuery>,
) -> Result<Json<Vec<DeviceView>>, ApiError> {
    let area = query.area.unwrap_or_else(|| caller.principal.area.clone());
    require_area(&state, &area, "area")?;
    state.authorize(&caller, Action::ViewDeviceHealth, Target::Area(&area))?;
    let devices = state
        .hub
        .device_health()
        .await?
        .into_iter()
        .filter(|health| state.tree.is_within(&health.device.commune, &area))
        .map(view)
        .collect();
    Ok(Json(devices))
}

/// One device: health, today's plan and every delivery.
#[utoipa::path(get, path = "/api/v1/devices/{id}", tag = "devices", security(("bearer" = [])),
    params(("id" = String, Path)),
    responses((status = 200, body = DeviceDetail), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn detail(
    State(state): State<ApiState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<DeviceDetail>, ApiError> {
    let device = find(&state, &id).await?;
    state.authorize(
        &caller,
        Action::ViewDeviceHealth,
        Target::Area(&device.commune),
    )?;
    let today = state.hub.commune(&device.commune, 1).await?;
    let plan = today
        .plans
        .into_iter()
        .flat_map(|day| day.devices)
        .find(|(id, _)| id == &device.id)
        .map(|(_, plan)| plan)
        .unwrap_or_default();
    let health = state
        .hub
        .device_health()
        .await?
        .into_iter()
        .find(|health| health.device.id == device.id)
        .ok_or_else(|| ApiError::not_found(format!("unknown device {}", device.id)))?;
    Ok(Json(DeviceDetail {
        device: view(health),
        deliveries: state.hub.deliveries(&device.id).await?,
        plan,
    }))
}

/// The device's provisioning file: broker address, the hub's public key
/// and the device's own credentials. It holds secrets; the call is audited.
#[utoipa::path(post, path = "/api/v1/devices/{id}/credentials", tag = "devices", security(("bearer" = [])),
    params(("id" = String, Path)),
    responses((status = 200, description = "a provisioning file with this one device", body = Object),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn credentials(
    State(state): State<ApiState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<Provisioning>, ApiError> {
    let device = find(&state, &id).await?;
    state.authorize(
        &caller,
        Action::ProvisionDevice,
        Target::Device(&facts(&device)),
    )?;
    let credentials = state.hub.credentials(&device.id).await?.ok_or_else(|| {
        ApiError::not_found(format!(
            "device {} has no credentials: it was revoked",
            device.id
        ))
    })?;
    let mut event = caller.event(Action::ProvisionDevice, format!("device {}", device.id));
    event.areas = vec![device.commune.clone()];
    event.after = Some("credentials issued".into());
    state.record(event)?;
    Ok(Json(provisioning(&state, credentials)))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RegisterRequest {
    /// ASCII letters, digits and '-', e.g. `24611-LS-09`.
    #[schema(value_type = String)]
    pub id: DeviceId,
    /// `loudspeaker` or `led_board`.
    #[schema(value_type = String)]
    pub kind: DeviceKind,
    #[schema(value_type = String)]
    pub commune: AreaCode,
    pub name: String,
}

/// Register a new device in a commune; answers its provisioning file
/// (broker, the hub's public key, its credentials), which holds secrets.
#[utoipa::path(post, path = "/api/v1/devices", tag = "devices", security(("bearer" = [])),
    request_body = RegisterRequest,
    responses((status = 201, description = "a provisioning file with the new device", body = Object),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn register(
    State(state): State<ApiState>,
    caller: Caller,
    Body(request): Body<RegisterRequest>,
) -> Result<(StatusCode, Json<Provisioning>), ApiError> {
    match state.tree.get(&request.commune) {
        Some(area) if area.level == AreaLevel::Commune => {}
        _ => {
            return Err(ApiError::invalid(
                "commune",
                format!("{} is not a commune of this province", request.commune),
            ))
        }
    }
    if request.name.trim().is_empty() {
        return Err(ApiError::invalid(
            "name",
            "name the device (where it stands)",
        ));
    }
    let device = Device {
        id: request.id,
        kind: request.kind,
        commune: request.commune,
        name: request.name.trim().to_owned(),
    };
    state.authorize(
        &caller,
        Action::RegisterDevice,
        Target::Area(&device.commune),
    )?;
    let credentials = state
        .hub
        .register(device.clone())
        .await?
        .map_err(|e| ApiError::from(e).at("id"))?;
    let mut event = caller.event(Action::RegisterDevice, format!("device {}", device.id));
    event.areas = vec![device.commune.clone()];
    event.after = Some(format!("{:?} {}", device.kind, device.name));
    state.record(event)?;
    Ok((StatusCode::CREATED, Json(provisioning(&state, credentials))))
}

/// Revoke a device for good (stolen, replaced): the broker and the media
/// server refuse it and its reports are ignored from now on.
#[utoipa::path(post, path = "/api/v1/devices/{id}/revoke", tag = "devices", security(("bearer" = [])),
    params(("id" = String, Path)), request_body = Reason,
    responses((status = 204), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn revoke(
    State(state): State<ApiState>,
    caller: Caller,
    Path(id): Path<String>,
    Body(reason): Body<Reason>,
) -> Result<StatusCode, ApiError> {
    let device = find(&state, &id).await?;
    state.authorize(
        &caller,
        Action::RevokeDevice,
        Target::Device(&facts(&device)),
    )?;
    let reason = reason.required()?;
    state.hub.revoke(&device.id).await??;
    let mut event = caller.event(Action::RevokeDevice, format!("device {}", device.id));
    event.areas = vec![device.commune.clone()];
    event.after = Some("revoked".into());
    event.reason = Some(reason);
    state.record(event)?;
    Ok(StatusCode::NO_CONTENT)
}
