//! Devices: health and delivery state for those who watch them, and
//! credentials for administrators who install them.

use axum::extract::{Path, State};
use axum::Json;
use hub_access::{Action, DeviceFacts, Target};
use hub_core::{AreaCode, Delivery, Device, DeviceId};
use hub_proto::{Provisioning, Status};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::{parse_id, require_area};
use crate::api::auth::Caller;
use crate::api::error::{ApiError, ErrorBody};
use crate::api::extract::Query;
use crate::api::state::{ApiContext, ApiState};

#[derive(Serialize, ToSchema)]
pub struct DeviceView {
    pub id: String,
    /// `loudspeaker` or `led_board`.
    #[schema(value_type = String)]
    pub kind: hub_core::DeviceKind,
    pub commune: String,
    pub name: String,
    pub online: bool,
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

fn find<'a>(state: &'a ApiContext, id: &str) -> Result<&'a Device, ApiError> {
    let id: DeviceId = parse_id(id, "device")?;
    Ok(state.province.device(&id)?)
}

async fn view(state: &ApiContext, device: &Device) -> Result<DeviceView, ApiError> {
    Ok(DeviceView {
        id: device.id.to_string(),
        kind: device.kind,
        commune: device.commune.to_string(),
        name: device.name.clone(),
        online: state.hub.is_online(&device.id).await?,
        status: state.hub.health(&device.id).await?,
    })
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
    let mut devices = Vec::new();
    for commune in state.province.tree.communes_under(&area) {
        for id in state.province.devices_in(commune) {
            devices.push(view(&state, state.province.device(id)?).await?);
        }
    }
    Ok(Json(devices))
}

/// One device: health and every delivery.
#[utoipa::path(get, path = "/api/v1/devices/{id}", tag = "devices", security(("bearer" = [])),
    params(("id" = String, Path)),
    responses((status = 200, body = DeviceDetail), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn detail(
    State(state): State<ApiState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<DeviceDetail>, ApiError> {
    let device = find(&state, &id)?;
    state.authorize(
        &caller,
        Action::ViewDeviceHealth,
        Target::Device(&facts(device)),
    )?;
    Ok(Json(DeviceDetail {
        device: view(&state, device).await?,
        deliveries: state.hub.deliveries(&device.id).await?,
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
    let device = find(&state, &id)?;
    state.authorize(
        &caller,
        Action::ProvisionDevice,
        Target::Device(&facts(device)),
    )?;
    let all = &state.provisioning;
    let mine: Vec<_> = all
        .devices
        .iter()
        .filter(|d| d.id == device.id.as_str())
        .cloned()
        .collect();
    if mine.is_empty() {
        return Err(ApiError::not_found(format!(
            "device {} has no credentials: it was revoked",
            device.id
        )));
    }
    let mut event = caller.event(Action::ProvisionDevice, format!("device {}", device.id));
    event.areas = vec![device.commune.clone()];
    event.after = Some("credentials issued".into());
    state.record(event)?;
    Ok(Json(Provisioning::new(
        all.broker.clone(),
        all.hub_public_key.clone(),
        mine,
    )))
}
