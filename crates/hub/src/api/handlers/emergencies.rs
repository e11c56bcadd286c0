//! Emergencies: an operator triggers one for areas within their own, and it
//! preempts everything on every targeted device at once, at any hour;
//! an operator in scope stops it, or corrects it: a correction is a new
//! emergency that supersedes an erroneous one, as municipalities send after
//! a false alert. The erroneous one is cancelled everywhere, and the
//! correction airs only in the communes where a device had started airing
//! it (the hub's delivery records), so nobody who missed the false alert
//! hears about it.

use std::collections::BTreeMap;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use chrono::TimeDelta;
use hub_access::{Action, BulletinFacts, Target};
use hub_core::{
    AreaCode, Bulletin, BulletinId, BulletinState, Category, DeviceId, Event, Language,
    PriorityClass, Validity, VisualKind, VisualPart,
};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::bulletins::{self, publish_new, transition, BulletinView};
use super::{parse_id, require_area, Reason};
use crate::api::auth::Caller;
use crate::api::error::{ApiError, ErrorBody};
use crate::api::extract::Body;
use crate::api::state::{ApiContext, ApiState};

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
    let spoken = Spoken {
        title: &request.title,
        message: request.message.as_ref(),
        upload: request.upload.as_ref(),
        language: request.language.clone(),
        valid_minutes: request.valid_minutes,
    };
    let bulletin = emergency(&state, &caller, spoken, request.targets)?;
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

/// What an operator says in an emergency or a correction.
struct Spoken<'a> {
    title: &'a str,
    message: Option<&'a String>,
    upload: Option<&'a String>,
    language: Option<Language>,
    valid_minutes: Option<u32>,
}

/// The board shows the message as long as the loudspeakers speak it.
fn board_slot(bulletin: &mut Bulletin) {
    let variant = &mut bulletin.variants[0];
    if let (Some(audio), Some(visual)) = (&variant.audio, variant.visual.as_mut()) {
        visual.secs = audio.secs.max(10);
    }
}

/// The emergency bulletin `spoken` describes, issued in the caller's area
/// to `targets`, valid from now; its speech is spoken when it is published.
fn emergency(
    state: &ApiContext,
    caller: &Caller,
    request: Spoken<'_>,
    targets: Vec<AreaCode>,
) -> Result<Bulletin, ApiError> {
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
            speech: request
                .message
                .cloned()
                .filter(|_| request.upload.is_none()),
            upload: request.upload.cloned(),
            secs: None,
        }),
        visual: None,
    };
    let now = state.now();
    let issuer = caller.principal.area.clone();
    let id = BulletinId::parse(&format!("emergency-{}", state.store.next_id()?))?;
    let mut variant = bulletins::variant_of(state, 0, &audio)?;
    let shown = request
        .message
        .cloned()
        .unwrap_or_else(|| request.title.to_owned());
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
        targets,
        validity: Validity {
            not_before: now,
            expires: now + TimeDelta::minutes(i64::from(minutes)),
        },
        recurrence: None,
        variants: vec![variant],
        // Review would hold an emergency back; operators answer for it.
        sensitive: false,
        state: BulletinState::Approved,
        devices: None,
        corrects: None,
    };
    Ok(bulletin)
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

/// A correction of an erroneous emergency: what to say instead, and why.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CorrectionRequest {
    pub title: String,
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
    /// How long the correction stays valid; default 60.
    #[serde(default)]
    pub valid_minutes: Option<u32>,
    /// Why the first emergency was wrong: in the audit log of both.
    pub reason: String,
}

#[derive(Serialize, ToSchema)]
pub struct CorrectionView {
    /// The new emergency.
    pub correction: BulletinView,
    /// The erroneous one, now cancelled (or already over).
    pub corrected: BulletinView,
    /// The devices that had started airing the erroneous emergency: the
    /// correction airs on them.
    pub devices: Vec<String>,
    /// The devices it had been sent to whose report is awaited: the
    /// correction airs on each that reports having aired it.
    pub awaited: Vec<String>,
    /// The communes of both: the correction's targets.
    pub communes: Vec<String>,
}

/// Who has `bulletin`, by the hub's delivery records.
#[derive(Default)]
struct Audience {
    /// The devices that started airing it.
    aired: Vec<DeviceId>,
    /// The devices it was sent to that have not reported starting it: an
    /// emergency starts on arrival, and reports may come seconds later.
    in_hand: Vec<DeviceId>,
    /// The communes of both.
    communes: Vec<AreaCode>,
}

async fn audience_of(state: &ApiContext, bulletin: &Bulletin) -> Result<Audience, ApiError> {
    // Per device: whether it aired `bulletin`, and whether it has it in hand.
    let mut heard: BTreeMap<DeviceId, (bool, bool)> = BTreeMap::new();
    for delivery in state.hub.deliveries_of(&bulletin.id).await? {
        let (aired, in_hand) = heard.entry(delivery.device).or_default();
        *aired |= delivery.state.was_aired();
        *in_hand |= delivery.state.is_in_hand();
    }
    let mut audience = Audience::default();
    for device in state.hub.devices().await? {
        match heard.get(&device.id) {
            Some((true, _)) => audience.aired.push(device.id.clone()),
            Some((false, true)) => audience.in_hand.push(device.id.clone()),
            _ => continue,
        }
        if !audience.communes.contains(&device.commune) {
            audience.communes.push(device.commune.clone());
        }
    }
    Ok(audience)
}

/// Correct an erroneous emergency: a new emergency that supersedes it,
/// aired only on the devices that aired the erroneous one; the
/// erroneous one is cancelled everywhere (retracted from devices that have
/// not aired it yet). Both audit entries name the other.
#[utoipa::path(post, path = "/api/v1/emergencies/{id}/correct", tag = "emergencies", security(("bearer" = [])),
    params(("id" = String, Path)), request_body = CorrectionRequest,
    responses((status = 201, body = CorrectionView), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 409, description = "no device has aired the emergency or has it in hand: stop it instead", body = ErrorBody),
        (status = 422, body = ErrorBody)))]
pub async fn correct(
    State(state): State<ApiState>,
    caller: Caller,
    Path(id): Path<String>,
    Body(request): Body<CorrectionRequest>,
) -> Result<(StatusCode, Json<CorrectionView>), ApiError> {
    let erroneous_id: BulletinId = parse_id(&id, "bulletin")?;
    let erroneous = state
        .hub
        .bulletin(&erroneous_id)
        .await?
        .ok_or_else(|| ApiError::not_found(format!("unknown bulletin {erroneous_id}")))?;
    let reason = Reason {
        reason: request.reason.clone(),
    }
    .required()?;
    // A false alert is usually corrected after it has aired everywhere:
    // the operator must be one who could have stopped it, whatever its state.
    let facts = BulletinFacts {
        author: state.access.author_of(&erroneous.id)?.map(|a| a.author),
        issuer: erroneous.issuer.clone(),
        targets: erroneous.targets.clone(),
        class: erroneous.class,
        state: BulletinState::Approved,
    };
    state.authorize(&caller, Action::StopEmergency, Target::Bulletin(&facts))?;
    let audience = audience_of(&state, &erroneous).await?;
    if audience.communes.is_empty() {
        return Err(ApiError::conflict(format!(
            "no device has started airing {erroneous_id} or has it in hand: stop it instead \
             (a correction airs only where the erroneous emergency was heard)"
        )));
    }
    let communes = audience.communes;
    let spoken = Spoken {
        title: &request.title,
        message: request.message.as_ref(),
        upload: request.upload.as_ref(),
        language: request.language.clone(),
        valid_minutes: request.valid_minutes,
    };
    let mut bulletin = emergency(&state, &caller, spoken, communes.clone())?;
    // Only where it was heard: a device of those communes that missed the
    // false alert (offline, say) never hears of it. A device whose report
    // of airing it comes later is added then (`Bulletin::corrects`).
    bulletin.devices = Some(audience.aired.iter().cloned().collect());
    bulletin.corrects = Some(erroneous_id.clone());
    // The correction first: where the false alert still plays, it preempts it.
    let correction = publish_new(
        &state,
        &caller,
        bulletin,
        Action::TriggerEmergency,
        board_slot,
    )
    .await?;
    let correction_id = correction.bulletin.id.clone();
    let corrected = if erroneous.state.is_final() {
        BulletinView {
            author: state
                .access
                .author_of(&erroneous.id)?
                .map(|a| a.author.to_string()),
            bulletin: erroneous.clone(),
        }
    } else {
        let cancel_reason = Reason {
            reason: format!("{reason} (corrected by {correction_id})"),
        };
        transition(
            &state,
            &caller,
            erroneous_id.as_str(),
            Action::StopEmergency,
            Some(cancel_reason),
            Event::Cancel,
        )
        .await?
        .0
    };
    let mut event = caller.event(
        Action::TriggerEmergency,
        format!("bulletin {correction_id} corrects {erroneous_id}"),
    );
    event.areas = communes.clone();
    event.bulletin = Some(correction_id);
    event.reason = Some(reason);
    state.record(event)?;
    Ok((
        StatusCode::CREATED,
        Json(CorrectionView {
            correction,
            corrected,
            devices: audience.aired.iter().map(ToString::to_string).collect(),
            awaited: audience.in_hand.iter().map(ToString::to_string).collect(),
            communes: communes.iter().map(ToString::to_string).collect(),
        }),
    ))
}
