//! Device health and alarms by area, for duty officers and commune chairs:
//! the area tree (province → district → commune) with counts and alarms,
//! each commune's devices with what they last reported. Readable by whoever
//! may view device health in the area (as `GET /api/v1/devices`).
//!
//! [`health_tree`] and [`active_alarms`] do the work, so the web console
//! calls them directly; the axum handlers only wrap them.

use std::collections::BTreeMap;

use axum::extract::State;
use axum::Json;
use chrono::{DateTime, Utc};
use hub_access::{Action, Target};
use hub_core::{Area, AreaCode, DeviceKind};
use hub_proto::Power;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::require_area;
use crate::api::auth::Caller;
use crate::api::error::{ApiError, ErrorBody};
use crate::api::extract::Query;
use crate::api::state::{ApiContext, ApiState};
use crate::monitor::alarms::{commune_alarms, device_alarm, DeviceCondition};
use crate::monitor::{Alarm, DeviceHealth};

#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct HealthQuery {
    /// The area to look at; default: the caller's.
    #[param(value_type = Option<String>)]
    pub area: Option<AreaCode>,
}

/// The health of an area and everything below it, at one moment.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct HealthTree {
    /// When it was taken (hub clock).
    #[schema(value_type = String)]
    pub at: DateTime<Utc>,
    /// The area asked for, with the areas below it.
    #[schema(value_type = Object)]
    pub area: AreaHealth,
}

/// One area: its counts, and below it its districts and communes, or (a
/// commune) its devices and alarms.
#[derive(Clone, Debug, Serialize)]
pub struct AreaHealth {
    pub code: String,
    pub name: String,
    /// `province`, `district` or `commune`.
    pub level: String,
    /// Everything below it, itself included.
    pub counts: HealthCounts,
    /// The commune's own alarms (no working loudspeaker, every board
    /// down); empty above communes.
    pub alarms: Vec<AlarmView>,
    /// The areas directly below, by code.
    pub children: Vec<AreaHealth>,
    /// The commune's devices, by id; empty above communes.
    pub devices: Vec<DeviceHealthView>,
}

/// Counts over an area's devices.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct HealthCounts {
    pub devices: usize,
    pub online: usize,
    /// Online and reporting that they play something.
    pub playing: usize,
    /// Reporting faults in their last status.
    pub faulty: usize,
    /// Device and commune alarms.
    pub alarms: usize,
}

impl HealthCounts {
    fn add(&mut self, other: HealthCounts) {
        self.devices += other.devices;
        self.online += other.online;
        self.playing += other.playing;
        self.faulty += other.faulty;
        self.alarms += other.alarms;
    }
}

/// An alarm, with what it means in words.
#[derive(Clone, Debug, Serialize)]
pub struct AlarmView {
    #[serde(flatten)]
    pub alarm: Alarm,
    pub message: String,
}

impl From<Alarm> for AlarmView {
    fn from(alarm: Alarm) -> Self {
        Self {
            message: alarm.message(),
            alarm,
        }
    }
}

/// One device, as it last reported.
#[derive(Clone, Debug, Serialize)]
pub struct DeviceHealthView {
    pub id: String,
    /// `loudspeaker` or `led_board`.
    pub kind: DeviceKind,
    pub name: String,
    pub online: bool,
    /// When it went online or offline (the hub's start if it has not been
    /// heard from since).
    pub since: DateTime<Utc>,
    /// When the hub last heard from it (hub clock).
    pub last_seen: Option<DateTime<Utc>>,
    /// What it plays now (online devices only).
    pub playing: Option<PlayingView>,
    /// From its last status report, when it sent one.
    pub volume: Option<u8>,
    pub power: Option<Power>,
    pub battery_percent: Option<u8>,
    pub faults: Vec<String>,
    pub alarm: Option<AlarmView>,
}

/// The airing a device plays.
#[derive(Clone, Debug, Serialize)]
pub struct PlayingView {
    pub bulletin: String,
    /// The bulletin's title, when the hub knows the bulletin.
    pub title: Option<String>,
    pub language: String,
}

/// One active alarm, where it is.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct ActiveAlarm {
    pub commune: String,
    pub commune_name: String,
    /// The device, for a device's alarm.
    pub device: Option<String>,
    pub device_name: Option<String>,
    /// `device_offline` (with `since`), `device_faulty` (with `faults`),
    /// `no_working_loudspeaker` (with `loudspeakers`), `all_boards_down`
    /// (with `boards`), and `message`.
    #[serde(flatten)]
    #[schema(value_type = Object)]
    pub alarm: AlarmView,
}

/// The health tree of `area` (default: the caller's own area), if the
/// caller may view device health there.
pub async fn health_tree(
    state: &ApiContext,
    caller: &Caller,
    area: Option<AreaCode>,
) -> Result<HealthTree, ApiError> {
    let area = area.unwrap_or_else(|| caller.principal.area.clone());
    require_area(state, &area, "area")?;
    state.authorize(caller, Action::ViewDeviceHealth, Target::Area(&area))?;
    let devices = state.hub.device_health().await?;
    let now = state.now();
    let mut by_commune: BTreeMap<AreaCode, Vec<DeviceHealthView>> = BTreeMap::new();
    for health in devices {
        if state.tree.is_within(&health.device.commune, &area) {
            by_commune
                .entry(health.device.commune.clone())
                .or_default()
                .push(device_view(health, now, state));
        }
    }
    let mut children: BTreeMap<&AreaCode, Vec<&Area>> = BTreeMap::new();
    for child in state.tree.areas() {
        if let Some(parent) = &child.parent {
            children.entry(parent).or_default().push(child);
        }
    }
    let root = state
        .tree
        .get(&area)
        .ok_or_else(|| ApiError::invalid("area", format!("unknown area {area}")))?;
    Ok(HealthTree {
        at: now,
        area: area_health(root, &children, &mut by_commune),
    })
}

/// Every active alarm in `area` (default: the caller's), communes' first,
/// by commune.
pub async fn active_alarms(
    state: &ApiContext,
    caller: &Caller,
    area: Option<AreaCode>,
) -> Result<Vec<ActiveAlarm>, ApiError> {
    let tree = health_tree(state, caller, area).await?;
    let mut alarms = Vec::new();
    collect_alarms(&tree.area, &mut alarms);
    Ok(alarms)
}

/// The health of the area tree below `area`, and of the devices of its
/// communes.
#[utoipa::path(get, path = "/api/v1/health", tag = "devices", security(("bearer" = [])),
    params(HealthQuery),
    responses((status = 200, body = HealthTree), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn tree(
    State(state): State<ApiState>,
    caller: Caller,
    Query(query): Query<HealthQuery>,
) -> Result<Json<HealthTree>, ApiError> {
    Ok(Json(health_tree(&state, &caller, query.area).await?))
}

/// The active alarms in an area: devices offline too long or reporting
/// faults, communes without a working loudspeaker or with every board down.
#[utoipa::path(get, path = "/api/v1/alarms", tag = "devices", security(("bearer" = [])),
    params(HealthQuery),
    responses((status = 200, body = [ActiveAlarm]), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn alarms(
    State(state): State<ApiState>,
    caller: Caller,
    Query(query): Query<HealthQuery>,
) -> Result<Json<Vec<ActiveAlarm>>, ApiError> {
    Ok(Json(active_alarms(&state, &caller, query.area).await?))
}

fn device_view(health: DeviceHealth, now: DateTime<Utc>, state: &ApiContext) -> DeviceHealthView {
    let DeviceHealth {
        device,
        online,
        since,
        last_seen,
        status,
        playing_title,
    } = health;
    let faults = status
        .as_ref()
        .map(|s| s.faults.clone())
        .unwrap_or_default();
    let condition = DeviceCondition {
        online,
        since,
        faults: &faults,
    };
    let alarm = device_alarm(&condition, now, &state.health).map(AlarmView::from);
    let playing = status
        .as_ref()
        .and_then(|s| s.playing.as_ref())
        .filter(|_| online)
        .map(|airing| PlayingView {
            bulletin: airing.bulletin.clone(),
            title: playing_title,
            language: airing.language.clone(),
        });
    DeviceHealthView {
        id: device.id.to_string(),
        kind: device.kind,
        name: device.name,
        online,
        since,
        last_seen,
        playing,
        volume: status.as_ref().map(|s| s.volume),
        power: status.as_ref().map(|s| s.power),
        battery_percent: status.as_ref().and_then(|s| s.battery_percent),
        faults,
        alarm,
    }
}

fn area_health(
    area: &Area,
    children: &BTreeMap<&AreaCode, Vec<&Area>>,
    by_commune: &mut BTreeMap<AreaCode, Vec<DeviceHealthView>>,
) -> AreaHealth {
    let mut counts = HealthCounts::default();
    let mut below: Vec<AreaHealth> = children
        .get(&area.code)
        .into_iter()
        .flatten()
        .map(|child| area_health(child, children, by_commune))
        .collect();
    below.sort_by(|a, b| a.code.cmp(&b.code));
    for child in &below {
        counts.add(child.counts);
    }
    let mut devices = by_commune.remove(&area.code).unwrap_or_default();
    devices.sort_by(|a, b| a.id.cmp(&b.id));
    let alarms: Vec<AlarmView> = if devices.is_empty() {
        Vec::new()
    } else {
        commune_alarms(devices.iter().map(|d| (d.kind, d.alarm.is_some())))
            .into_iter()
            .map(AlarmView::from)
            .collect()
    };
    counts.add(HealthCounts {
        devices: devices.len(),
        online: devices.iter().filter(|d| d.online).count(),
        playing: devices.iter().filter(|d| d.playing.is_some()).count(),
        faulty: devices.iter().filter(|d| !d.faults.is_empty()).count(),
        alarms: alarms.len() + devices.iter().filter(|d| d.alarm.is_some()).count(),
    });
    AreaHealth {
        code: area.code.to_string(),
        name: area.name.clone(),
        level: serde_json::to_value(area.level)
            .ok()
            .and_then(|v| v.as_str().map(str::to_owned))
            .unwrap_or_default(),
        counts,
        alarms,
        children: below,
        devices,
    }
}

fn collect_alarms(area: &AreaHealth, out: &mut Vec<ActiveAlarm>) {
    let at = |device: Option<&DeviceHealthView>, alarm: &AlarmView| ActiveAlarm {
        commune: area.code.clone(),
        commune_name: area.name.clone(),
        device: device.map(|d| d.id.clone()),
        device_name: device.map(|d| d.name.clone()),
        alarm: alarm.clone(),
    };
    out.extend(area.alarms.iter().map(|alarm| at(None, alarm)));
    for device in &area.devices {
        out.extend(device.alarm.iter().map(|alarm| at(Some(device), alarm)));
    }
    for child in &area.children {
        collect_alarms(child, out);
    }
}
