//! `POST /api/v1/cap`: a CAP 1.2 alert from an operator's or the central
//! system's API token. Validated (errors name the element path), mapped onto
//! a bulletin (`docs/cap.md`), authorised as [`Action::IngestCap`] in the
//! caller's area, then: an Alert is broadcast; an Update broadcasts its new
//! text and cancels the bulletin of the alert it references; a Cancel
//! cancels the referenced alerts' bulletins, which retracts copies queued on
//! devices; Ack and Error are recorded only. Only `Actual` alerts air,
//! unless `[cap] test_mode` is on. Every accepted alert is audited and
//! remembered, so posting it again answers the same and changes nothing.

use axum::extract::{Request, State};
use axum::http::header::CONTENT_TYPE;
use axum::http::StatusCode;
use axum::Json;
use hub_access::{Action, BulletinFacts, Target};
use hub_core::{
    AreaCode, Bulletin, BulletinId, BulletinState, Event, PriorityClass, VisualKind, VisualPart,
};
use hub_media::AudioSettings;
use serde::Serialize;
use utoipa::ToSchema;

use super::bulletins::{publish_new, transition, variant_of, AudioRequest, VariantRequest};
use super::Reason;
use crate::api::auth::Caller;
use crate::api::error::{ApiError, ErrorBody};
use crate::api::extract::read_limited;
use crate::api::state::{ApiContext, ApiState};
use crate::cap::mapping::EmbeddedAudio;
use crate::cap::{self, Alert, Broadcast, CapError, CapRecord, MsgType, Status};
use crate::media::ingest::{ingest_upload, UploadError};

/// One alert at a time: the check for an alert posted before and the
/// record of it must not interleave with another post of the same alert.
static INGEST: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// What the hub did with an alert.
#[derive(Debug, Serialize, ToSchema)]
pub struct CapAnswer {
    pub sender: String,
    pub identifier: String,
    /// `sent`, in UTC.
    pub sent: String,
    pub status: String,
    pub msg_type: String,
    /// Whether it went to devices.
    pub broadcast: bool,
    /// For people: `broadcast as cap-12`, `not broadcast: test`, …
    pub outcome: String,
    /// The bulletin it became.
    pub bulletin: Option<String>,
    /// `emergency` or `priority`.
    pub class: Option<String>,
    /// Bulletins it cancelled.
    pub cancelled: Vec<String>,
    /// What was left out or adjusted (resources not aired, limits applied).
    pub notes: Vec<String>,
    /// True when the alert had been posted before: the earlier answer,
    /// nothing new done.
    pub duplicate: bool,
}

impl CapAnswer {
    fn of(record: &CapRecord, duplicate: bool) -> Self {
        Self {
            sender: record.sender.clone(),
            identifier: record.identifier.clone(),
            sent: record.sent.to_rfc3339(),
            status: record.status.to_string(),
            msg_type: record.msg_type.to_string(),
            broadcast: record.broadcast,
            outcome: record.outcome.clone(),
            bulletin: record.bulletin.as_ref().map(ToString::to_string),
            class: record.class.map(|c| format!("{c:?}").to_lowercase()),
            cancelled: record.cancelled.iter().map(ToString::to_string).collect(),
            notes: record.notes.clone(),
            duplicate,
        }
    }
}

/// A refused document: 400 when it is not XML, 422 when it is not a valid
/// CAP alert the hub can air; the field is the element's path.
fn refused(error: CapError) -> ApiError {
    let status = match error {
        CapError::Malformed { .. } => StatusCode::BAD_REQUEST,
        CapError::Invalid { .. } => StatusCode::UNPROCESSABLE_ENTITY,
    };
    let code = match error {
        CapError::Malformed { .. } => "malformed",
        CapError::Invalid { .. } => "invalid",
    };
    ApiError::new(status, code, error.to_string()).at(error.path())
}

fn require_xml(request: &Request) -> Result<(), ApiError> {
    let essence = request
        .headers()
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase();
    if matches!(essence.as_str(), "application/cap+xml" | "application/xml") {
        Ok(())
    } else {
        Err(ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
            "send the CAP 1.2 document as the body, with Content-Type: application/cap+xml \
             (or application/xml)",
        ))
    }
}

/// What the policy is asked about a new bulletin of the caller's.
fn new_facts(caller: &Caller, targets: Vec<AreaCode>, class: PriorityClass) -> BulletinFacts {
    BulletinFacts {
        author: Some(caller.principal.subject.clone()),
        issuer: caller.principal.area.clone(),
        targets,
        class,
        state: BulletinState::Approved,
    }
}

fn existing_facts(state: &ApiContext, bulletin: &Bulletin) -> Result<BulletinFacts, ApiError> {
    Ok(BulletinFacts {
        author: state.access.author_of(&bulletin.id)?.map(|a| a.author),
        issuer: bulletin.issuer.clone(),
        targets: bulletin.targets.clone(),
        class: bulletin.class,
        state: bulletin.state,
    })
}

/// Post a CAP 1.2 alert (OASIS Common Alerting Protocol). Alert
/// broadcasts; Update replaces the referenced alert; Cancel cancels it
/// (retracting copies queued on devices); Ack and Error are recorded.
/// Only status Actual airs, unless the hub runs in CAP test mode. See
/// `docs/cap.md` for the mapping onto bulletins.
#[utoipa::path(post, path = "/api/v1/cap", tag = "emergencies", security(("bearer" = [])),
    request_body(content = String, content_type = "application/cap+xml",
        description = "A CAP 1.2 `alert` document (application/xml is accepted too)."),
    responses((status = 201, description = "accepted", body = CapAnswer),
        (status = 200, description = "posted before: the earlier answer, nothing new done", body = CapAnswer),
        (status = 400, description = "not well-formed XML", body = ErrorBody),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 413, body = ErrorBody), (status = 415, body = ErrorBody),
        (status = 422, description = "not a valid CAP 1.2 alert the hub can air; `field` is the element path",
            body = ErrorBody)))]
pub async fn ingest(
    State(state): State<ApiState>,
    caller: Caller,
    request: Request,
) -> Result<(StatusCode, Json<CapAnswer>), ApiError> {
    require_xml(&request)?;
    let bytes = read_limited(request, state.settings.cap.max_bytes).await?;
    let alert = cap::parse(&bytes).map_err(refused)?;
    let _one_at_a_time = INGEST.lock().await;

    if let Some(earlier) = state
        .store
        .get::<CapRecord>(&CapRecord::key_of_alert(&alert))?
    {
        let facts = new_facts(
            &caller,
            earlier.targets.clone(),
            earlier.class.unwrap_or(PriorityClass::Priority),
        );
        let facts = BulletinFacts {
            issuer: earlier.issuer.clone(),
            ..facts
        };
        state.authorize(&caller, Action::IngestCap, Target::Bulletin(&facts))?;
        return Ok((StatusCode::OK, Json(CapAnswer::of(&earlier, true))));
    }

    let airs = match alert.status {
        Status::Actual => true,
        Status::Test | Status::Exercise | Status::Draft => state.settings.cap.test_mode,
        Status::System => false,
    };
    let mut record = CapRecord {
        sender: alert.sender.clone(),
        identifier: alert.identifier.clone(),
        sent: alert.sent.with_timezone(&chrono::Utc),
        status: alert.status,
        msg_type: alert.msg_type,
        by: caller.principal.subject.to_string(),
        received: state.now(),
        issuer: caller.principal.area.clone(),
        targets: vec![caller.principal.area.clone()],
        broadcast: false,
        outcome: String::new(),
        bulletin: None,
        class: None,
        cancelled: Vec::new(),
        notes: Vec::new(),
    };
    let held = format!("not broadcast: {}", alert.status.as_str().to_lowercase());
    match alert.msg_type {
        MsgType::Ack | MsgType::Error => {
            let facts = new_facts(&caller, record.targets.clone(), PriorityClass::Priority);
            state.authorize(&caller, Action::IngestCap, Target::Bulletin(&facts))?;
            record.outcome = format!("recorded: an {} is not broadcast", alert.msg_type);
        }
        MsgType::Alert | MsgType::Update => {
            let replaced = match alert.msg_type {
                MsgType::Update => referenced(&state, &alert, &mut record.notes).await?,
                _ => Vec::new(),
            };
            let plan = cap::broadcast(&alert, &state.tree, state.now()).map_err(refused)?;
            record.targets = plan.targets.clone();
            record.class = Some(plan.class);
            record.notes.extend(plan.notes.iter().cloned());
            let facts = new_facts(&caller, plan.targets.clone(), plan.class);
            state.authorize(&caller, Action::IngestCap, Target::Bulletin(&facts))?;
            for old in &replaced {
                let facts = existing_facts(&state, old)?;
                state.authorize(&caller, Action::IngestCap, Target::Bulletin(&facts))?;
            }
            if airs {
                // The new text first: an emergency update preempts the old one at once.
                let id = publish(&state, &caller, &alert, plan).await?;
                record.cancelled =
                    cancel(&state, &caller, &alert, &replaced, &mut record.notes).await?;
                record.outcome = format!("broadcast as {id}");
                if !record.cancelled.is_empty() {
                    record
                        .outcome
                        .push_str(&format!(", replacing {}", joined(&record.cancelled)));
                }
                record.bulletin = Some(id);
                record.broadcast = true;
            } else {
                record.outcome = held;
            }
        }
        MsgType::Cancel => {
            let cancelled = referenced(&state, &alert, &mut record.notes).await?;
            if cancelled.is_empty() {
                return Err(ApiError::invalid(
                    "alert/references",
                    "a Cancel names, in references, an alert this hub broadcast; none of these is one",
                ));
            }
            for old in &cancelled {
                let facts = existing_facts(&state, old)?;
                state.authorize(&caller, Action::IngestCap, Target::Bulletin(&facts))?;
            }
            record.targets = cancelled.iter().flat_map(|b| b.targets.clone()).collect();
            record.targets.dedup();
            if airs {
                record.cancelled =
                    cancel(&state, &caller, &alert, &cancelled, &mut record.notes).await?;
                record.outcome = match record.cancelled.is_empty() {
                    true => "nothing left to cancel".to_owned(),
                    false => format!("cancelled {}", joined(&record.cancelled)),
                };
                record.broadcast = true;
            } else {
                record.outcome = held;
            }
        }
    }

    let mut event = caller.event(
        Action::IngestCap,
        format!(
            "cap {} {} {} ({} {})",
            alert.sender, alert.identifier, alert.sent, alert.status, alert.msg_type
        ),
    );
    event.areas = record.targets.clone();
    event.bulletin = record
        .bulletin
        .clone()
        .or_else(|| record.cancelled.first().cloned());
    event.after = Some(record.outcome.clone());
    state.record(event)?;
    state.store.put(&record)?;
    tracing::info!(
        sender = %record.sender,
        identifier = %record.identifier,
        outcome = %record.outcome,
        "CAP alert accepted"
    );
    Ok((StatusCode::CREATED, Json(CapAnswer::of(&record, false))))
}

fn joined(ids: &[BulletinId]) -> String {
    ids.iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(", ")
}

/// The bulletins of the alerts `alert` references, as they stand now;
/// references to alerts the hub never broadcast are noted.
async fn referenced(
    state: &ApiContext,
    alert: &Alert,
    notes: &mut Vec<String>,
) -> Result<Vec<Bulletin>, ApiError> {
    if alert.references.is_empty() {
        return Err(ApiError::invalid(
            "alert/references",
            format!(
                "an {} names the alert it acts on in references (sender,identifier,sent)",
                alert.msg_type
            ),
        ));
    }
    let mut bulletins = Vec::new();
    for reference in &alert.references {
        let record = state
            .store
            .get::<CapRecord>(&CapRecord::key_of_reference(reference))?;
        let bulletin = match record.and_then(|r| r.bulletin) {
            Some(id) => state.hub.bulletin(&id).await?,
            None => None,
        };
        match bulletin {
            Some(bulletin) if !bulletins.iter().any(|b: &Bulletin| b.id == bulletin.id) => {
                bulletins.push(bulletin)
            }
            Some(_) => {}
            None => notes.push(format!(
                "reference {},{},{}: not an alert this hub broadcast",
                reference.sender, reference.identifier, reference.sent
            )),
        }
    }
    Ok(bulletins)
}

/// Cancels `bulletins` still open (retracting queued copies, stopping
/// airings); those already over are noted. The ids cancelled.
async fn cancel(
    state: &ApiContext,
    caller: &Caller,
    alert: &Alert,
    bulletins: &[Bulletin],
    notes: &mut Vec<String>,
) -> Result<Vec<BulletinId>, ApiError> {
    let mut cancelled = Vec::new();
    for bulletin in bulletins {
        if bulletin.state.is_final() {
            notes.push(format!("{} was already {:?}", bulletin.id, bulletin.state));
            continue;
        }
        let reason = Reason {
            reason: format!(
                "CAP {} {} from {}",
                alert.msg_type, alert.identifier, alert.sender
            ),
        };
        // The cancelled bulletin as it now stands is not part of the answer.
        let _cancelled_view = transition(
            state,
            caller,
            bulletin.id.as_str(),
            Action::IngestCap,
            Some(reason),
            Event::Cancel,
        )
        .await?;
        cancelled.push(bulletin.id.clone());
    }
    Ok(cancelled)
}

/// Stores an embedded recording as an upload would be; its sha256.
async fn store_audio(state: &ApiContext, audio: &EmbeddedAudio) -> Result<String, ApiError> {
    let media = state.media.clone();
    let (bytes, hint) = (audio.bytes.clone(), audio.hint);
    let stored = tokio::task::spawn_blocking(move || {
        ingest_upload(&bytes, hint, &media, &AudioSettings::default())
    })
    .await
    .map_err(|e| ApiError::internal(&e))?;
    match stored {
        Ok(stored) => Ok(stored.sha256),
        Err(UploadError::BadFile(error)) => Err(ApiError::invalid(
            format!("{}/derefUri", audio.path),
            format!("the audio cannot be used: {error}"),
        )),
        Err(error) => Err(error.into()),
    }
}

/// Publishes the bulletin `plan` describes as the caller's; its id.
async fn publish(
    state: &ApiContext,
    caller: &Caller,
    alert: &Alert,
    plan: Broadcast,
) -> Result<BulletinId, ApiError> {
    let mut variants = Vec::with_capacity(plan.variants.len());
    for (i, planned) in plan.variants.iter().enumerate() {
        let audio = match &planned.audio {
            Some(embedded) => AudioRequest {
                speech: None,
                upload: Some(store_audio(state, embedded).await?),
                secs: None,
            },
            None => AudioRequest {
                speech: Some(planned.text.clone()),
                upload: None,
                secs: None,
            },
        };
        let request = VariantRequest {
            language: planned.language.clone(),
            audio: Some(audio),
            visual: None,
        };
        let mut variant = variant_of(state, i, &request)?;
        variant.visual = Some(VisualPart {
            kind: VisualKind::Text,
            secs: 60,
            text: Some(planned.text.clone()),
            media: None,
        });
        variants.push(variant);
    }
    let issuer = caller.principal.area.clone();
    let title = match alert.status {
        Status::Actual => plan.title,
        other => format!("[{other}] {}", plan.title),
    };
    let bulletin = Bulletin {
        id: BulletinId::parse(&format!("cap-{}", state.store.next_id()?))?,
        title,
        category: plan.category,
        level: state.tree.require(&issuer)?.level,
        issuer,
        class: plan.class,
        targets: plan.targets,
        validity: plan.validity,
        recurrence: None,
        variants,
        // An alert from an authorised sender is not held for review.
        sensitive: false,
        state: BulletinState::Approved,
        devices: None,
        corrects: None,
    };
    // Boards show the text as long as loudspeakers play it.
    let board_slots = |bulletin: &mut Bulletin| {
        for variant in &mut bulletin.variants {
            if let (Some(audio), Some(visual)) = (&variant.audio, variant.visual.as_mut()) {
                visual.secs = audio.secs.max(10);
            }
        }
    };
    let view = publish_new(state, caller, bulletin, Action::IngestCap, board_slots).await?;
    Ok(view.bulletin.id)
}
