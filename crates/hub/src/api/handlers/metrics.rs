//! `GET /metrics`: the hub's figures in the Prometheus text format, on the
//! API listener.
//!
//! Access: a bearer token (an API token for the scraper, or a session)
//! whose holder may view device health for the whole province, which the
//! policy grants province administrators and operators. Prometheus sends
//! it with `authorization: {credentials: …}` in its scrape configuration.
//! Nothing is open without a token: the figures tell how many loudspeakers
//! are down where. Reading is not a change, so it is not audited.

use axum::extract::State;
use axum::http::header::CONTENT_TYPE;
use axum::response::{IntoResponse, Response};
use hub_access::{Action, Target};
use hub_core::AreaLevel;
use serde::Serialize;

use crate::api::auth::Caller;
use crate::api::error::{ApiError, ErrorBody};
use crate::api::state::{ApiContext, ApiState};
use crate::monitor::metrics::{self, Figures};

/// The hub's metrics in the Prometheus text exposition format 0.0.4:
/// devices and devices online by commune and kind, deliveries by state,
/// emergency first-audio latency and audio ingest durations (histograms),
/// device sessions, store size, link counters.
#[utoipa::path(get, path = "/metrics", tag = "monitoring", security(("bearer" = [])),
    responses((status = 200, description = "Prometheus text format 0.0.4", content_type = "text/plain", body = String),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)))]
pub async fn metrics(State(state): State<ApiState>, caller: Caller) -> Result<Response, ApiError> {
    let province = state
        .tree
        .areas()
        .find(|area| area.level == AreaLevel::Province)
        .map(|area| area.code.clone())
        .unwrap_or_else(|| state.tree.root().code.clone());
    state.authorize(&caller, Action::ViewDeviceHealth, Target::Area(&province))?;
    let figures = gather(&state).await?;
    Ok((
        [(CONTENT_TYPE, metrics::CONTENT_TYPE)],
        metrics::render(&figures),
    )
        .into_response())
}

/// Everything `/metrics` reports, from the hub task, the media store and
/// the database.
async fn gather(state: &ApiContext) -> Result<Figures, ApiError> {
    let link = state.hub.figures().await?;
    let mut figures = Figures {
        first_audio: Some(link.first_audio),
        ingest: state.media.ingest_times().snapshot(),
        sessions: link.sessions as u64,
        commands_published: link.stats.commands_published,
        dropped: link
            .stats
            .dropped
            .into_iter()
            .map(|(reason, count)| (reason.to_owned(), count))
            .collect(),
        store_failures: link.stats.store_failures,
        ..Figures::default()
    };
    for (state, count) in link.deliveries {
        figures.deliveries.insert(snake_case(state), count);
    }
    for health in state.hub.device_health().await? {
        let key = (
            health.device.commune.to_string(),
            snake_case(health.device.kind),
        );
        let (total, online) = figures.devices.entry(key).or_default();
        *total += 1;
        *online += u64::from(health.online);
    }
    let store = state.store.clone();
    figures.store_bytes = tokio::task::spawn_blocking(move || store.size_on_disk())
        .await
        .map_err(|error| ApiError::internal(&error))??;
    Ok(figures)
}

/// A value's serde name (`led_board`, `acknowledged`).
fn snake_case(value: impl Serialize) -> String {
    serde_json::to_value(value)
        .ok()
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_default()
}
