//! Bulletins: editors write drafts, submit them, reviewers approve or
//! reject the sensitive ones, editors cancel; everyone in scope reads.
//!
//! Every state change goes to the hub task as a scheduler event, so the
//! plan on every device follows at once; the task stores the bulletin.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use chrono::{DateTime, Utc};
use hub_access::{needs_review, Action, AuditEvent, Authorship, BulletinFacts, Target};
use hub_core::{
    AreaCode, AreaLevel, AudioPart, AudioSource, Bulletin, BulletinId, BulletinState, Category,
    Delivery, Event, Language, PriorityClass, Recurrence, StoredAudio, StoredSubtitles,
    StoredVisual, Validity, Variant, VisualKind, VisualPart,
};
use hub_media::AudioSettings;
use hub_store::{Batch, MediaKind};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::{parse_id, require_area, Reason};
use crate::api::auth::Caller;
use crate::api::error::{ApiError, ErrorBody};
use crate::api::extract::Body;
use crate::api::state::{ApiContext, ApiState};
use crate::media::ingest::{ingest_all, AudioInput, AudioJob};

/// A bulletin as written by an editor: issued in the name of the editor's
/// own area, to target areas inside it.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BulletinRequest {
    pub title: String,
    /// `policy_law`, `local_projects`, `politics_economy_culture`,
    /// `security_military`, `disaster_emergency`, `good_examples`,
    /// `fighting_crime`, `daily_life` or `other`.
    #[schema(value_type = String, example = "daily_life")]
    pub category: Category,
    /// `priority` or `normal` (emergencies go through `/emergencies`).
    #[schema(value_type = String, example = "priority")]
    pub class: PriorityClass,
    #[schema(value_type = Vec<String>)]
    pub targets: Vec<AreaCode>,
    /// The issuing level the editor means (`province`, `district`,
    /// `commune`); checked against the account's own. Optional: bulletins
    /// are always issued in the name of the account's area.
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    pub level: Option<AreaLevel>,
    pub not_before: DateTime<Utc>,
    pub expires: DateTime<Utc>,
    /// Airs every day at these local times (`"06:30"`) for `days` days.
    #[serde(default)]
    #[schema(value_type = Option<Object>)]
    pub recurrence: Option<Recurrence>,
    /// Send to the editorial board even if its category does not require it.
    #[serde(default)]
    pub sensitive: bool,
    pub variants: Vec<VariantRequest>,
}

/// The bulletin in one language.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct VariantRequest {
    #[schema(value_type = String, example = "vi")]
    pub language: Language,
    #[serde(default)]
    pub audio: Option<AudioRequest>,
    #[serde(default)]
    pub visual: Option<VisualRequest>,
}

/// What LED boards show: text, or an uploaded picture or video with an
/// optional caption.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct VisualRequest {
    /// `text`, `image`, `video` or `infographic` (a picture).
    #[schema(value_type = String, example = "text")]
    pub kind: VisualKind,
    /// The slot on boards; a video's default and minimum is its length.
    #[serde(default)]
    pub secs: Option<u32>,
    /// The text shown, or the caption of a picture or video.
    #[serde(default)]
    pub text: Option<String>,
    /// The `sha256` `/uploads/image` or `/uploads/video` answered.
    #[serde(default)]
    pub upload: Option<String>,
    /// A video's SRT subtitles: the `subtitles` `/uploads/video` answered.
    #[serde(default)]
    pub subtitles: Option<String>,
}

/// Where a variant's sound comes from: text to speak, or an uploaded file.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AudioRequest {
    /// Spoken by text-to-speech in the variant's language.
    #[serde(default)]
    pub speech: Option<String>,
    /// The `sha256` `/uploads/audio` answered.
    #[serde(default)]
    pub upload: Option<String>,
    /// The slot on loudspeakers; default and minimum: the audio's length.
    #[serde(default)]
    pub secs: Option<u32>,
}

#[derive(Serialize, ToSchema)]
pub struct BulletinView {
    /// `user:…` or `token:…`; absent for bulletins from the configuration file.
    pub author: Option<String>,
    #[schema(value_type = Object)]
    pub bulletin: Bulletin,
}

#[derive(Serialize, ToSchema)]
pub struct BulletinDeliveries {
    pub bulletin: String,
    /// The deliveries of the bulletin on the devices in the caller's area.
    #[schema(value_type = Vec<Object>)]
    pub deliveries: Vec<Delivery>,
}

/// What the policy knows of a bulletin.
pub(crate) fn facts(state: &ApiContext, bulletin: &Bulletin) -> Result<BulletinFacts, ApiError> {
    let author = state.access.author_of(&bulletin.id)?.map(|a| a.author);
    Ok(BulletinFacts {
        author,
        issuer: bulletin.issuer.clone(),
        targets: bulletin.targets.clone(),
        class: bulletin.class,
        state: bulletin.state,
    })
}

/// The bulletin, or 404.
pub(crate) async fn load(state: &ApiContext, id: &str) -> Result<Bulletin, ApiError> {
    let id: BulletinId = parse_id(id, "bulletin")?;
    state
        .hub
        .bulletin(&id)
        .await?
        .ok_or_else(|| ApiError::not_found(format!("unknown bulletin {id}")))
}

/// Whether the caller's area and the bulletin's targets overlap.
fn visible(state: &ApiContext, caller: &Caller, bulletin: &Bulletin) -> bool {
    let tree = &state.tree;
    let area = &caller.principal.area;
    bulletin
        .targets
        .iter()
        .any(|t| tree.is_within(t, area) || tree.is_within(area, t))
        || tree.is_within(&bulletin.issuer, area)
}

async fn view(state: &ApiContext, bulletin: Bulletin) -> Result<BulletinView, ApiError> {
    Ok(BulletinView {
        author: state
            .access
            .author_of(&bulletin.id)?
            .map(|a| a.author.to_string()),
        bulletin,
    })
}

/// Builds the bulletin a request describes, without its audio files yet.
fn draft(
    state: &ApiContext,
    caller: &Caller,
    id: BulletinId,
    request: &BulletinRequest,
) -> Result<Bulletin, ApiError> {
    if request.targets.is_empty() {
        return Err(ApiError::invalid(
            "targets",
            "name at least one target area",
        ));
    }
    for (i, target) in request.targets.iter().enumerate() {
        require_area(state, target, &format!("targets[{i}]"))?;
    }
    if request.variants.is_empty() {
        return Err(ApiError::invalid(
            "variants",
            "give at least one language variant",
        ));
    }
    let issuer = caller.principal.area.clone();
    let level = state.tree.require(&issuer)?.level;
    if request.level.is_some_and(|meant| meant != level) {
        return Err(ApiError::invalid(
            "level",
            format!("this account issues bulletins at {level:?} level, in the name of {issuer}"),
        ));
    }
    let variants = request
        .variants
        .iter()
        .enumerate()
        .map(|(i, v)| variant_of(state, i, v))
        .collect::<Result<_, _>>()?;
    Ok(Bulletin {
        id,
        title: request.title.trim().to_owned(),
        category: request.category,
        level,
        issuer,
        class: request.class,
        targets: request.targets.clone(),
        validity: Validity {
            not_before: request.not_before,
            expires: request.expires,
        },
        recurrence: request.recurrence.clone(),
        variants,
        sensitive: needs_review(request.category, request.sensitive),
        state: BulletinState::Draft,
        devices: None,
        corrects: None,
    })
}

/// A variant with its uploaded audio named; speech is spoken later.
pub fn variant_of(
    state: &ApiContext,
    i: usize,
    request: &VariantRequest,
) -> Result<Variant, ApiError> {
    let field = |name: &str| format!("variants[{i}].audio.{name}");
    let audio = match &request.audio {
        None => None,
        Some(AudioRequest {
            speech: Some(_),
            upload: Some(_),
            ..
        }) => {
            return Err(ApiError::invalid(
                format!("variants[{i}].audio"),
                "give either speech or upload, not both",
            ))
        }
        Some(AudioRequest {
            speech: Some(text),
            secs,
            ..
        }) => {
            if text.trim().is_empty() {
                return Err(ApiError::invalid(
                    field("speech"),
                    "the text to speak is empty",
                ));
            }
            Some(AudioPart {
                source: AudioSource::Speech { text: text.clone() },
                secs: secs.unwrap_or(0),
                media: None,
            })
        }
        Some(AudioRequest {
            upload: Some(sha256),
            secs,
            ..
        }) => {
            let media = uploaded(state, sha256).map_err(|e| e.at(field("upload")))?;
            let needed = u32::try_from(media.secs_rounded_up()).unwrap_or(u32::MAX);
            let secs = secs.unwrap_or(needed);
            if secs < needed {
                return Err(ApiError::invalid(
                    field("secs"),
                    format!(
                        "{secs} s is shorter than the audio ({} ms)",
                        media.duration_ms
                    ),
                ));
            }
            Some(AudioPart {
                source: AudioSource::Recorded,
                secs,
                media: Some(media),
            })
        }
        Some(_) => {
            return Err(ApiError::invalid(
                format!("variants[{i}].audio"),
                "give speech (text to speak) or upload (a file's sha256)",
            ))
        }
    };
    let visual = request
        .visual
        .as_ref()
        .map(|visual| visual_of(state, i, visual))
        .transpose()?;
    Ok(Variant {
        language: request.language.clone(),
        audio,
        visual,
    })
}

/// A board part with its uploaded picture or video named.
fn visual_of(
    state: &ApiContext,
    i: usize,
    request: &VisualRequest,
) -> Result<VisualPart, ApiError> {
    let field = |name: &str| format!("variants[{i}].visual.{name}");
    let wants_file = !matches!(request.kind, VisualKind::Text);
    let media = match (&request.upload, wants_file) {
        (Some(_), false) => {
            return Err(ApiError::invalid(
                field("upload"),
                "a text part shows no file",
            ))
        }
        (None, true) => {
            return Err(ApiError::invalid(
                field("upload"),
                "a picture or video part needs its upload",
            ))
        }
        (None, false) => None,
        (Some(sha256), true) => {
            let kind = match request.kind {
                VisualKind::Video => MediaKind::Mp4,
                _ => MediaKind::Png,
            };
            let facts = state
                .media
                .facts(sha256)
                .map_err(|e| ApiError::internal(&e))?
                .filter(|f| f.kind == kind)
                .ok_or_else(|| {
                    ApiError::invalid(
                        field("upload"),
                        format!("no uploaded {:?} {sha256:?}: upload it first", request.kind),
                    )
                })?;
            Some(StoredVisual {
                sha256: facts.sha256,
                size: facts.size,
                duration_ms: (kind == MediaKind::Mp4).then_some(facts.duration_ms),
                subtitles: None,
            })
        }
    };
    let media = match (media, &request.subtitles) {
        (Some(mut video), Some(srt)) if request.kind == VisualKind::Video => {
            video.subtitles = Some(subtitles_of(state, &video, srt, &field("subtitles"))?);
            Some(video)
        }
        (_, Some(_)) => {
            return Err(ApiError::invalid(
                field("subtitles"),
                "only a video part has subtitles",
            ))
        }
        (media, None) => media,
    };
    let video_secs = media
        .as_ref()
        .and_then(|m| m.duration_ms)
        .map(|ms| u32::try_from(ms.div_ceil(1000)).unwrap_or(u32::MAX));
    let secs = request
        .secs
        .or(video_secs)
        .ok_or_else(|| ApiError::invalid(field("secs"), "say how long boards show it"))?;
    Ok(VisualPart {
        kind: request.kind,
        secs,
        text: request.text.clone(),
        media,
    })
}

/// The stored SRT file `sha256`, which must end by the end of `video`.
fn subtitles_of(
    state: &ApiContext,
    video: &StoredVisual,
    sha256: &str,
    field: &str,
) -> Result<StoredSubtitles, ApiError> {
    let facts = state
        .media
        .facts(sha256)
        .map_err(|e| ApiError::internal(&e))?
        .filter(|f| f.kind == MediaKind::Srt)
        .ok_or_else(|| {
            ApiError::invalid(
                field,
                format!(
                    "no uploaded subtitles {sha256:?}: upload them beside the video to \
                     /api/v1/uploads/video first"
                ),
            )
        })?;
    let video_ms = video.duration_ms.unwrap_or(0);
    if facts.duration_ms > video_ms {
        return Err(ApiError::invalid(
            field,
            format!(
                "the subtitles run to {} ms, after the video ends at {video_ms} ms",
                facts.duration_ms
            ),
        ));
    }
    Ok(StoredSubtitles {
        sha256: facts.sha256,
        size: facts.size,
    })
}

/// The stored broadcast file an upload answered with.
fn uploaded(state: &ApiContext, sha256: &str) -> Result<StoredAudio, ApiError> {
    let facts = state
        .media
        .facts(sha256)
        .map_err(|e| ApiError::internal(&e))?
        .filter(|f| f.kind == MediaKind::OggOpus)
        .ok_or_else(|| {
            ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "invalid",
                format!("no uploaded audio {sha256:?}: upload it to /api/v1/uploads/audio first"),
            )
        })?;
    Ok(StoredAudio {
        sha256: facts.sha256,
        size: facts.size,
        duration_ms: facts.duration_ms,
    })
}

/// Speaks every speech part (seconds of CPU, off the async workers) and
/// fills in its file and slot.
async fn speak_parts(state: &ApiContext, bulletin: &mut Bulletin) -> Result<(), ApiError> {
    let jobs: Vec<AudioJob> = bulletin
        .variants
        .iter()
        .filter_map(|v| match &v.audio {
            Some(AudioPart {
                source: AudioSource::Speech { text },
                secs,
                ..
            }) => Some(AudioJob {
                bulletin: bulletin.id.clone(),
                language: v.language.clone(),
                input: AudioInput::Speech(text.clone()),
                declared_secs: (*secs > 0).then_some(*secs),
            }),
            _ => None,
        })
        .collect();
    if jobs.is_empty() {
        return Ok(());
    }
    let media = state.media.clone();
    let (jobs, ingested) = tokio::task::spawn_blocking(move || {
        let ingested = ingest_all(&jobs, &media, &AudioSettings::default());
        (jobs, ingested)
    })
    .await
    .map_err(|e| ApiError::internal(&e))?;
    for (job, audio) in jobs.iter().zip(ingested?) {
        let part = bulletin
            .variants
            .iter_mut()
            .find(|v| v.language == job.language)
            .and_then(|v| v.audio.as_mut())
            .expect("the job came from this variant");
        part.secs = audio.secs;
        part.media = Some(audio.media);
    }
    Ok(())
}

/// Publishes a new bulletin (a draft, or an emergency already approved) as
/// `caller`, its author: authorised for `action`, its speech spoken,
/// `after_speech` applied (slots that follow the audio), validated, queued,
/// its author and the change recorded. The bulletin as it now stands.
pub async fn publish_new(
    state: &ApiContext,
    caller: &Caller,
    mut bulletin: Bulletin,
    action: Action,
    after_speech: impl FnOnce(&mut Bulletin),
) -> Result<BulletinView, ApiError> {
    let wanted = BulletinFacts {
        author: Some(caller.principal.subject.clone()),
        ..facts(state, &bulletin)?
    };
    state.authorize(caller, action, Target::Bulletin(&wanted))?;
    // Speech gets its slot from the spoken audio: validated after speaking.
    speak_parts(state, &mut bulletin).await?;
    after_speech(&mut bulletin);
    bulletin.validate(&state.tree)?;
    let mut authorship = Batch::new();
    authorship.put(&Authorship {
        bulletin: bulletin.id.clone(),
        author: caller.principal.subject.clone(),
        created: state.now(),
    })?;
    let audit = change_event(caller, action, &bulletin, None, None);
    commit_change(state, Event::Queue(bulletin.clone()), authorship, audit).await?;
    view(state, bulletin).await
}

/// The audit entry of a change to `bulletin`; its state after the change is
/// filled in when the change is committed.
fn change_event(
    caller: &Caller,
    action: Action,
    bulletin: &Bulletin,
    before: Option<BulletinState>,
    reason: Option<String>,
) -> AuditEvent {
    let mut event = caller.event(action, format!("bulletin {}", bulletin.id));
    event.areas = bulletin.targets.clone();
    event.bulletin = Some(bulletin.id.clone());
    event.before = before.map(state_name);
    event.reason = reason;
    event
}

pub(crate) fn state_name(state: BulletinState) -> String {
    format!("{state:?}").to_lowercase()
}

/// Feeds `event` about a bulletin and writes its effects, `extra` and
/// `audit` (with the bulletin's state after it) in one transaction.
pub(crate) async fn commit_change(
    state: &ApiContext,
    event: Event,
    extra: Batch,
    audit: AuditEvent,
) -> Result<(), ApiError> {
    state
        .commit(event, extra, audit, |audit, programme| {
            audit.after = audit
                .bulletin
                .as_ref()
                .and_then(|id| programme.bulletin(id).ok())
                .map(|bulletin| state_name(bulletin.state));
        })
        .await
}

/// Write a new draft. Sensitive categories (and drafts the editor flags)
/// will need a reviewer's approval once submitted.
#[utoipa::path(post, path = "/api/v1/bulletins", tag = "bulletins", security(("bearer" = [])),
    request_body = BulletinRequest,
    responses((status = 201, body = BulletinView), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn create(
    State(state): State<ApiState>,
    caller: Caller,
    Body(request): Body<BulletinRequest>,
) -> Result<(StatusCode, Json<BulletinView>), ApiError> {
    let id = BulletinId::parse(&format!("b-{}", state.store.next_id()?))?;
    let bulletin = draft(&state, &caller, id, &request)?;
    let view = publish_new(&state, &caller, bulletin, Action::CreateBulletin, |_| {}).await?;
    Ok((StatusCode::CREATED, Json(view)))
}

/// Replace a draft (same rules as creating it).
#[utoipa::path(put, path = "/api/v1/bulletins/{id}", tag = "bulletins", security(("bearer" = [])),
    params(("id" = String, Path)), request_body = BulletinRequest,
    responses((status = 200, body = BulletinView), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn edit(
    State(state): State<ApiState>,
    caller: Caller,
    Path(id): Path<String>,
    Body(request): Body<BulletinRequest>,
) -> Result<Json<BulletinView>, ApiError> {
    let current = load(&state, &id).await?;
    state.authorize(
        &caller,
        Action::EditDraft,
        Target::Bulletin(&facts(&state, &current)?),
    )?;
    let mut bulletin = draft(&state, &caller, current.id.clone(), &request)?;
    let after = facts(&state, &bulletin)?;
    state.authorize(&caller, Action::EditDraft, Target::Bulletin(&after))?;
    // Speech gets its slot from the spoken audio: validated after speaking.
    speak_parts(&state, &mut bulletin).await?;
    bulletin.validate(&state.tree)?;
    let audit = change_event(
        &caller,
        Action::EditDraft,
        &bulletin,
        Some(current.state),
        None,
    );
    commit_change(&state, Event::Queue(bulletin.clone()), Batch::new(), audit).await?;
    Ok(Json(view(&state, bulletin).await?))
}

/// The bulletins whose targets overlap the caller's area.
#[utoipa::path(get, path = "/api/v1/bulletins", tag = "bulletins", security(("bearer" = [])),
    responses((status = 200, body = [BulletinView]), (status = 401, body = ErrorBody)))]
pub async fn list(
    State(state): State<ApiState>,
    caller: Caller,
) -> Result<Json<Vec<BulletinView>>, ApiError> {
    state.authorize(
        &caller,
        Action::ViewProgramme,
        Target::Area(&caller.principal.area),
    )?;
    let mut views = Vec::new();
    for bulletin in state.hub.bulletins().await? {
        if visible(&state, &caller, &bulletin) {
            views.push(view(&state, bulletin).await?);
        }
    }
    Ok(Json(views))
}

#[utoipa::path(get, path = "/api/v1/bulletins/{id}", tag = "bulletins", security(("bearer" = [])),
    params(("id" = String, Path)),
    responses((status = 200, body = BulletinView), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn detail(
    State(state): State<ApiState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<BulletinView>, ApiError> {
    let bulletin = load(&state, &id).await?;
    state.authorize(
        &caller,
        Action::ViewProgramme,
        Target::Area(&caller.principal.area),
    )?;
    if !visible(&state, &caller, &bulletin) {
        return Err(hub_access::Denied::OutsideArea {
            target: bulletin.issuer.clone(),
            area: caller.principal.area.clone(),
        }
        .into());
    }
    Ok(Json(view(&state, bulletin).await?))
}

/// Where the bulletin stands on each device in the caller's area.
#[utoipa::path(get, path = "/api/v1/bulletins/{id}/deliveries", tag = "bulletins", security(("bearer" = [])),
    params(("id" = String, Path)),
    responses((status = 200, body = BulletinDeliveries), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn deliveries(
    State(state): State<ApiState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<BulletinDeliveries>, ApiError> {
    let bulletin = load(&state, &id).await?;
    let area = &caller.principal.area;
    state.authorize(&caller, Action::ReadReports, Target::Area(area))?;
    let tree = &state.tree;
    let mut deliveries = Vec::new();
    for device in state.hub.devices().await? {
        let targeted = bulletin
            .targets
            .iter()
            .any(|t| tree.is_within(&device.commune, t));
        if targeted && tree.is_within(&device.commune, area) {
            let of_device = state.hub.deliveries(&device.id).await?;
            deliveries.extend(
                of_device
                    .into_iter()
                    .filter(|d| d.airing.bulletin == bulletin.id),
            );
        }
    }
    Ok(Json(BulletinDeliveries {
        bulletin: bulletin.id.to_string(),
        deliveries,
    }))
}

/// A state change by action: submit, approve, reject, cancel, stop.
pub async fn transition(
    state: &ApiContext,
    caller: &Caller,
    id: &str,
    action: Action,
    reason: Option<Reason>,
    event: fn(BulletinId) -> Event,
) -> Result<Json<BulletinView>, ApiError> {
    let current = load(state, id).await?;
    state.authorize(caller, action, Target::Bulletin(&facts(state, &current)?))?;
    let reason = reason.map(Reason::required).transpose()?;
    let audit = change_event(caller, action, &current, Some(current.state), reason);
    commit_change(state, event(current.id.clone()), Batch::new(), audit).await?;
    let updated = load(state, id).await?;
    Ok(Json(view(state, updated).await?))
}

/// Submit a draft: sensitive bulletins wait for a reviewer, others are
/// approved and scheduled at once.
#[utoipa::path(post, path = "/api/v1/bulletins/{id}/submit", tag = "bulletins", security(("bearer" = [])),
    params(("id" = String, Path)),
    responses((status = 200, body = BulletinView), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub async fn submit(
    State(state): State<ApiState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<BulletinView>, ApiError> {
    transition(
        &state,
        &caller,
        &id,
        Action::SubmitBulletin,
        None,
        Event::Submit,
    )
    .await
}

/// Approve a submitted bulletin (a reviewer other than its author).
#[utoipa::path(post, path = "/api/v1/bulletins/{id}/approve", tag = "bulletins", security(("bearer" = [])),
    params(("id" = String, Path)),
    responses((status = 200, body = BulletinView), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub async fn approve(
    State(state): State<ApiState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<BulletinView>, ApiError> {
    transition(
        &state,
        &caller,
        &id,
        Action::ApproveBulletin,
        None,
        Event::Approve,
    )
    .await
}

/// Reject a submitted bulletin, saying why.
#[utoipa::path(post, path = "/api/v1/bulletins/{id}/reject", tag = "bulletins", security(("bearer" = [])),
    params(("id" = String, Path)), request_body = Reason,
    responses((status = 200, body = BulletinView), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn reject(
    State(state): State<ApiState>,
    caller: Caller,
    Path(id): Path<String>,
    Body(reason): Body<Reason>,
) -> Result<Json<BulletinView>, ApiError> {
    transition(
        &state,
        &caller,
        &id,
        Action::RejectBulletin,
        Some(reason),
        Event::Reject,
    )
    .await
}

/// Cancel a bulletin, saying why; devices playing it stop.
#[utoipa::path(post, path = "/api/v1/bulletins/{id}/cancel", tag = "bulletins", security(("bearer" = [])),
    params(("id" = String, Path)), request_body = Reason,
    responses((status = 200, body = BulletinView), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn cancel(
    State(state): State<ApiState>,
    caller: Caller,
    Path(id): Path<String>,
    Body(reason): Body<Reason>,
) -> Result<Json<BulletinView>, ApiError> {
    transition(
        &state,
        &caller,
        &id,
        Action::CancelBulletin,
        Some(reason),
        Event::Cancel,
    )
    .await
}
