//! Audio uploads: any recording hub-media decodes, encoded once into the
//! broadcast format and stored by content. A bulletin then names the file
//! by its hash.

use axum::body::Bytes;
use axum::extract::{Request, State};
use axum::http::header::CONTENT_TYPE;
use axum::http::StatusCode;
use axum::Json;
use hub_access::{Action, Target};
use hub_core::VisualKind;
use hub_media::AudioSettings;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::api::auth::Caller;
use crate::api::error::{ApiError, ErrorBody};
use crate::api::extract::{read_limited, Query};
use crate::api::state::{ApiContext, ApiState};
use crate::media::ingest::ingest_upload;
use crate::media::visual::{ingest_visual, VisualError};

#[derive(Serialize, ToSchema)]
pub struct UploadedAudio {
    /// Name the file by this in a bulletin's audio (`"upload": …`).
    pub sha256: String,
    /// Size of the broadcast file (Ogg Opus) in bytes.
    pub size: u64,
    pub duration_ms: u64,
}

#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct UploadQuery {
    /// The original file name; its extension helps recognise the format.
    pub filename: Option<String>,
}

/// Checks the caller may upload and the body's type, and reads it: its
/// bytes and the extension of its file name, if given.
async fn read_upload(
    state: &ApiContext,
    caller: &Caller,
    query: &UploadQuery,
    request: Request,
    accepted: &[&str],
) -> Result<(Bytes, Option<String>), ApiError> {
    state.authorize(
        caller,
        Action::UploadMedia,
        Target::Area(&caller.principal.area),
    )?;
    let content_type = request
        .headers()
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_ascii_lowercase();
    let acceptable = content_type.starts_with("application/octet-stream")
        || accepted
            .iter()
            .any(|prefix| content_type.starts_with(prefix));
    if !acceptable {
        return Err(ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
            format!(
                "send the file itself as the body, with a Content-Type of {} or \
                 application/octet-stream",
                accepted.join(", ")
            ),
        ));
    }
    let bytes = read_limited(request, state.settings.max_upload_bytes).await?;
    if bytes.is_empty() {
        return Err(ApiError::invalid("body", "the upload is empty"));
    }
    let hint = query
        .filename
        .as_deref()
        .and_then(|name| name.rsplit_once('.'))
        .map(|(_, extension)| extension.to_ascii_lowercase());
    Ok((bytes, hint))
}

/// Upload a recording (MP3, WAV, FLAC, Ogg, M4A…) as the raw request body.
/// It is decoded, normalised to broadcast loudness and stored; the answer
/// names it for a bulletin.
#[utoipa::path(post, path = "/api/v1/uploads/audio", tag = "bulletins", security(("bearer" = [])),
    params(UploadQuery),
    request_body(content = Vec<u8>, content_type = "application/octet-stream"),
    responses((status = 201, body = UploadedAudio), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 413, body = ErrorBody),
        (status = 415, body = ErrorBody), (status = 422, description = "not audio hub-media can decode", body = ErrorBody)))]
pub async fn audio(
    State(state): State<ApiState>,
    caller: Caller,
    Query(query): Query<UploadQuery>,
    request: Request,
) -> Result<(StatusCode, Json<UploadedAudio>), ApiError> {
    let (bytes, hint) = read_upload(
        &state,
        &caller,
        &query,
        request,
        &["audio/", "video/", "application/ogg"],
    )
    .await?;
    let media = state.media.clone();
    let stored = tokio::task::spawn_blocking(move || {
        ingest_upload(&bytes, hint.as_deref(), &media, &AudioSettings::default())
    })
    .await
    .map_err(|e| ApiError::internal(&e))??;
    let mut event = caller.event(Action::UploadMedia, format!("audio {}", stored.sha256));
    event.areas = vec![caller.principal.area.clone()];
    event.after = Some(format!("{} ms, {} bytes", stored.duration_ms, stored.size));
    state.record(event)?;
    Ok((
        StatusCode::CREATED,
        Json(UploadedAudio {
            sha256: stored.sha256,
            size: stored.size,
            duration_ms: stored.duration_ms,
        }),
    ))
}

#[derive(Serialize, ToSchema)]
pub struct UploadedVisual {
    /// Name the file by this in a bulletin's visual part (`"upload": …`).
    pub sha256: String,
    pub size: u64,
    /// A video's playing time.
    pub duration_ms: Option<u64>,
}

/// Upload a picture (PNG, JPEG, WebP) for LED boards, as the raw request
/// body: it is fitted to the boards' resolution (letterboxed) and stored.
#[utoipa::path(post, path = "/api/v1/uploads/image", tag = "bulletins", security(("bearer" = [])),
    params(UploadQuery),
    request_body(content = Vec<u8>, content_type = "image/*"),
    responses((status = 201, body = UploadedVisual), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 413, body = ErrorBody),
        (status = 415, body = ErrorBody), (status = 422, description = "not a picture that decodes", body = ErrorBody)))]
pub async fn image(
    State(state): State<ApiState>,
    caller: Caller,
    Query(query): Query<UploadQuery>,
    request: Request,
) -> Result<(StatusCode, Json<UploadedVisual>), ApiError> {
    visual(state, caller, query, request, VisualKind::Image).await
}

/// Upload a video (H.264 MP4 with a subtitle track) for LED boards, as the
/// raw request body: it is checked and stored as uploaded.
#[utoipa::path(post, path = "/api/v1/uploads/video", tag = "bulletins", security(("bearer" = [])),
    params(UploadQuery),
    request_body(content = Vec<u8>, content_type = "video/mp4"),
    responses((status = 201, body = UploadedVisual), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 413, body = ErrorBody),
        (status = 415, body = ErrorBody), (status = 422, description = "not an H.264 MP4 with subtitles", body = ErrorBody)))]
pub async fn video(
    State(state): State<ApiState>,
    caller: Caller,
    Query(query): Query<UploadQuery>,
    request: Request,
) -> Result<(StatusCode, Json<UploadedVisual>), ApiError> {
    visual(state, caller, query, request, VisualKind::Video).await
}

async fn visual(
    state: ApiState,
    caller: Caller,
    query: UploadQuery,
    request: Request,
    kind: VisualKind,
) -> Result<(StatusCode, Json<UploadedVisual>), ApiError> {
    let accepted: &[&str] = match kind {
        VisualKind::Video => &["video/"],
        _ => &["image/"],
    };
    let (bytes, hint) = read_upload(&state, &caller, &query, request, accepted).await?;
    let (media, board) = (state.media.clone(), state.board);
    let stored = tokio::task::spawn_blocking(move || {
        ingest_visual(kind, &bytes, hint.as_deref(), board, &media)
    })
    .await
    .map_err(|e| ApiError::internal(&e))?
    .map_err(|error| match error {
        VisualError::Store(_) | VisualError::Read { .. } => ApiError::internal(&error),
        VisualError::Media(_) | VisualError::NoFile(_) => {
            ApiError::invalid("body", format!("the upload cannot be used: {error}"))
        }
    })?;
    let mut event = caller.event(
        Action::UploadMedia,
        format!("{kind:?} {}", stored.sha256).to_lowercase(),
    );
    event.areas = vec![caller.principal.area.clone()];
    event.after = Some(format!("{} bytes", stored.size));
    state.record(event)?;
    Ok((
        StatusCode::CREATED,
        Json(UploadedVisual {
            sha256: stored.sha256,
            size: stored.size,
            duration_ms: stored.duration_ms,
        }),
    ))
}
