//! Audio uploads: any recording hub-media decodes, encoded once into the
//! broadcast format and stored by content. A bulletin then names the file
//! by its hash.

use axum::extract::{Request, State};
use axum::http::header::CONTENT_TYPE;
use axum::http::StatusCode;
use axum::Json;
use hub_access::{Action, Target};
use hub_media::AudioSettings;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::api::auth::Caller;
use crate::api::error::{ApiError, ErrorBody};
use crate::api::extract::{read_limited, Query};
use crate::api::state::ApiState;
use crate::media::ingest::ingest_upload;

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
    state.authorize(
        &caller,
        Action::UploadMedia,
        Target::Area(&caller.principal.area),
    )?;
    let content_type = request
        .headers()
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_ascii_lowercase();
    if !(content_type.starts_with("audio/")
        || content_type.starts_with("video/")
        || content_type.starts_with("application/octet-stream")
        || content_type.starts_with("application/ogg"))
    {
        return Err(ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
            "send the recording itself as the body, with an audio/* or \
             application/octet-stream Content-Type",
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
