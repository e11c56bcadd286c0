//! Emergencies: an operator triggers one for areas within their own, and it
//! preempts everything on every targeted device at once, at any hour;
//! an operator in scope stops it.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use chrono::TimeDelta;
use hub_access::Action;
use hub_core::{
    AreaCode, Bulletin, BulletinId, BulletinState, Category, Event, Language, PriorityClass,
    Validity, VisualKind, VisualPart,
};
use serde::Deserialize;
use utoipa::ToSchema;

use super::bulletins::{self, publish_new, transition, BulletinView};
use super::{require_area, Reason};
use crate::api::auth::Caller;
use crate::api::error::{ApiError, ErrorBody};
use crate::api::extract::Body;
use crate::api::state::ApiState;

/// Longest an emergency may stay on air without being triggered again.
const MAX_EMERGENCY_MINUTES: u32 = 24 * 60;

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EmergencyRequest {
    pub title: String,
    #[schema(value_type = Vec<String>)]
    pub targets: Vec<AreaCode>,
    /// Spoken on loudspeakers and shown on boards. Give this or `upload`.
    #[serde(default)]
    pub message: Option<String>,
    /// The `sha256` of an uploaded recording, played instead of speech.
    #[serde(default)]
    pub upload: Option<String>,
    /// Default `vi`.
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    pub language: Option<Language>,
    /// How long it stays valid (it airs once, as soon as possible); default 60.
    #[serde(default)]
    pub valid_minutes: Option<u32>,
}

/// Trigger an emergency broadcast: every targeted device stops what it
/// plays and airs this now.
#[utoipa::path(post, path = "/api/v1/emergencies", tag = "emergencies", security(("bearer" = [])),
    request_body = EmergencyRequest,
    responses((status = 201, body = BulletinView), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn trigger(
    State(state): State<ApiState>,
    caller: Caller,
    Body(request): Body<EmergencyRequest>,
) -> Result<(StatusCode, Json<BulletinView>), ApiError> {
    if request.targets.is_empty() {
        return Err(ApiError::invalid(
            "targets",
            "name at least one target area",
        ));
    }
    for (i, target) in request.targets.iter().enumerate() {
        require_area(&state, target, &format!("targets[{i}]"))?;
    }
    let minutes = request.valid_minutes.unwrap_or(60);
    if minutes == 0 || minutes > MAX_EMERGENCY_MINUTES {
        return Err(ApiError::invalid(
            "valid_minutes",
            format!("give 1 to {MAX_EMERGENCY_MINUTES} minutes"),
        ));
    }
    let language = match request.language {
        Some(language) => language,
        None => Language::parse("vi")?,
    };
    if request.message.is_none() && request.upload.is_none() {
        return Err(ApiError::invalid(
            "message",
            "give the message to speak, or the upload to play",
        ));
    }
    // A recording plays instead of speech; the message is still shown.
    let audio = bulletins::VariantRequest {
        language: language.clone(),
        audio: Some(bulletins::AudioRequest {
            speech: request.message.clone().filter(|_| request.upload.is_none()),
            upload: request.upload.clone(),
            secs: None,
        }),
        visual: None,
    };
    let now = state.now();
    let issuer = caller.principal.area.clone();
    let id = BulletinId::parse(&format!("emergency-{}", state.store.next_id()?))?;
    let mut variant = bulletins::variant_of(&state, 0, &audio)?;
    let shown = request
        .message
        .clone()
        .unwrap_or_else(|| request.title.clone());
    variant.visual = Some(VisualPart {
        kind: VisualKind::Text,
        secs: 60,
        text: Some(shown),
        media: None,
    });
    let bulletin = Bulletin {
        id,
        title: request.title.trim().to_owned(),
        category: Category::DisasterEmergency,
        level: state.tree.require(&issuer)?.level,
        issuer,
        class: PriorityClass::Emergency,
        targets: request.targets,
        validity: Validity {
            not_before: now,
            expires: now + TimeDelta::minutes(i64::from(minutes)),
        },
        recurrence: None,
        variants: vec![variant],
        // Review would hold an emergency back; operators answer for it.
        sensitive: false,
        state: BulletinState::Approved,
    };
    // The board shows the message as long as the loudspeakers speak it.
    let board_slot = |bulletin: &mut Bulletin| {
        let variant = &mut bulletin.variants[0];
        if let (Some(audio), Some(visual)) = (&variant.audio, variant.visual.as_mut()) {
            visual.secs = audio.secs.max(10);
        }
    };
    let view = publish_new(
        &state,
        &caller,
        bulletin,
        Action::TriggerEmergency,
        board_slot,
    )
    .await?;
    Ok((StatusCode::CREATED, Json(view)))
}

/// Stop an emergency, saying why; devices airing it stop at once.
#[utoipa::path(post, path = "/api/v1/emergencies/{id}/stop", tag = "emergencies", security(("bearer" = [])),
    params(("id" = String, Path)), request_body = Reason,
    responses((status = 200, body = BulletinView), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn stop(
    State(state): State<ApiState>,
    caller: Caller,
    Path(id): Path<String>,
    Body(reason): Body<Reason>,
) -> Result<Json<BulletinView>, ApiError> {
    transition(
        &state,
        &caller,
        &id,
        Action::StopEmergency,
        Some(reason),
        Event::Cancel,
    )
    .await
}
