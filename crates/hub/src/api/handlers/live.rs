//! Live emergencies: an operator speaks through a WebSocket and every
//! targeted loudspeaker plays it as it is said (`crate::live`). The
//! request is checked and authorised like a triggered emergency before the
//! connection is upgraded, so a refusal is an ordinary 401, 403 or 422; so
//! is a reattaching operator's, after their connection broke.

use axum::extract::ws::WebSocketUpgrade;
use axum::extract::{Path, State};
use axum::response::Response;
use hub_core::{AreaCode, Language};
use serde::Deserialize;
use utoipa::IntoParams;

use crate::api::auth::Caller;
use crate::api::error::{ApiError, ErrorBody};
use crate::api::extract::Query;
use crate::api::state::ApiState;
use crate::live::{self, LiveRequest};

/// The stream's settings, as a query string (a browser's WebSocket sends no body).
#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct LiveParams {
    /// Target area codes, comma-separated.
    pub targets: String,
    /// What LED boards show while the operator speaks.
    pub text: String,
    /// Default: "Phát thanh khẩn cấp trực tiếp".
    #[serde(default)]
    pub title: Option<String>,
    /// The language spoken; default `vi`.
    #[serde(default)]
    pub language: Option<String>,
    /// The longest the stream may last, in seconds: default 600, at most 3600.
    #[serde(default)]
    pub max_secs: Option<u32>,
}

impl LiveParams {
    fn request(self) -> Result<LiveRequest, ApiError> {
        let targets = self
            .targets
            .split(',')
            .map(str::trim)
            .filter(|t| !t.is_empty())
            .enumerate()
            .map(|(i, t)| {
                AreaCode::parse(t).map_err(|e| ApiError::from(e).at(format!("targets[{i}]")))
            })
            .collect::<Result<_, _>>()?;
        let language = self
            .language
            .as_deref()
            .map(Language::parse)
            .transpose()
            .map_err(|e| ApiError::from(e).at("language"))?;
        Ok(LiveRequest {
            title: self.title,
            targets,
            text: self.text,
            language,
            max_secs: self.max_secs,
        })
    }
}

/// Speak live: upgrades to a WebSocket carrying the operator's Opus packets
/// (binary messages, 48 kHz mono, 20 ms each) to every targeted
/// loudspeaker, while boards show `text`. See `docs/api.md` for the
/// messages both ways.
#[utoipa::path(get, path = "/api/v1/emergencies/live", tag = "emergencies", security(("bearer" = [])),
    params(LiveParams),
    responses((status = 101, description = "the stream: see docs/api.md"),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 422, body = ErrorBody)))]
pub async fn stream(
    State(state): State<ApiState>,
    caller: Caller,
    Query(params): Query<LiveParams>,
    upgrade: WebSocketUpgrade,
) -> Result<Response, ApiError> {
    let prepared = live::prepare(&state, &caller, params.request()?)?;
    Ok(upgrade.on_upgrade(move |socket| async move {
        if let Err(error) = live::serve(state, caller, prepared, socket).await {
            tracing::warn!(message = %error.body.message, "live emergency failed");
        }
    }))
}

/// Reattach to your live stream after your connection broke: upgrades to a
/// WebSocket that takes the broken one's place (`{"type":"reattached",…}`,
/// then the same messages both ways). Only the caller who started the
/// stream, and only while it waits for them: up to 5 s after the last packet.
#[utoipa::path(get, path = "/api/v1/emergencies/live/{id}", tag = "emergencies", security(("bearer" = [])),
    params(("id" = String, Path, description = "the stream: its emergency's bulletin id")),
    responses((status = 101, description = "the stream, carried on: see docs/api.md"),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody)))]
pub async fn reattach(
    State(state): State<ApiState>,
    caller: Caller,
    Path(id): Path<String>,
    upgrade: WebSocketUpgrade,
) -> Result<Response, ApiError> {
    let handover = live::reattach(&state, &caller, &id).await?;
    Ok(upgrade.on_upgrade(move |socket| handover.hand_over(socket)))
}
