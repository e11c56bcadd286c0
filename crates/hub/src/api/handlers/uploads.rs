//! Uploads: any recording hub-media decodes, encoded once into the
//! broadcast format; pictures fitted to the boards; videos checked, with
//! their SRT subtitles if sent beside them (`multipart/form-data`). All are
//! stored by content; a bulletin then names the files by their hashes.

use axum::body::Bytes;
use axum::extract::{Request, State};
use axum::http::header::CONTENT_TYPE;
use axum::http::StatusCode;
use axum::Json;
use hub_access::{Action, Target};
use hub_core::VisualKind;
use hub_media::{AudioSettings, MediaError};
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

/// The request's `Content-Type`, lower-cased; empty without one.
fn content_type(request: &Request) -> String {
    request
        .headers()
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_ascii_lowercase()
}

/// Whether the caller may upload media (for their own area).
fn authorize_upload(state: &ApiContext, caller: &Caller) -> Result<(), ApiError> {
    state.authorize(
        caller,
        Action::UploadMedia,
        Target::Area(&caller.principal.area),
    )
}

/// The extension of a file name, lower-cased, which helps recognise a format.
fn extension_of(name: Option<&str>) -> Option<String> {
    name.and_then(|name| name.rsplit_once('.'))
        .map(|(_, extension)| extension.to_ascii_lowercase())
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
    authorize_upload(state, caller)?;
    let content_type = content_type(&request);
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
    Ok((bytes, extension_of(query.filename.as_deref())))
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
    /// The SRT file sent beside a video: name it in the bulletin's visual
    /// part (`"subtitles": …`) for boards to show its cues over the video.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub subtitles: Option<String>,
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

/// A video upload as `multipart/form-data`: the MP4 in part `video`, its
/// subtitles as an SRT file in part `subtitles` (then a subtitle track in
/// the MP4 is not needed). Describes the form in the OpenAPI document.
#[derive(ToSchema)]
pub struct VideoForm {
    #[schema(value_type = String, format = Binary)]
    pub video: Vec<u8>,
    #[schema(value_type = Option<String>, format = Binary)]
    pub subtitles: Option<Vec<u8>>,
}

/// Upload a video (H.264 MP4) for LED boards: the raw request body (the
/// MP4 must have a subtitle track), or a `multipart/form-data` form with
/// parts `video` and `subtitles` (an SRT file, checked strictly: every cue
/// must read and end by the end of the video). Both are checked and stored
/// as uploaded, or neither.
#[utoipa::path(post, path = "/api/v1/uploads/video", tag = "bulletins", security(("bearer" = [])),
    params(UploadQuery),
    request_body(content(
        (Vec<u8> = "video/mp4"),
        (VideoForm = "multipart/form-data"),
    )),
    responses((status = 201, body = UploadedVisual), (status = 400, description = "a form that does not parse", body = ErrorBody),
        (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 413, body = ErrorBody),
        (status = 415, body = ErrorBody), (status = 422, description = "not an H.264 MP4 with subtitles, or an SRT file that does not check (the field and line are named)", body = ErrorBody)))]
pub async fn video(
    State(state): State<ApiState>,
    caller: Caller,
    Query(query): Query<UploadQuery>,
    request: Request,
) -> Result<(StatusCode, Json<UploadedVisual>), ApiError> {
    let content_type = content_type(&request);
    if !content_type.starts_with("multipart/form-data") {
        return visual(state, caller, query, request, VisualKind::Video).await;
    }
    authorize_upload(&state, &caller)?;
    let boundary = multer::parse_boundary(&content_type).map_err(|error| {
        ApiError::malformed(format!("the multipart form has no boundary: {error}"))
    })?;
    let body = read_limited(request, state.settings.max_upload_bytes).await?;
    let form = read_video_form(body, boundary).await?;
    let hint = extension_of(form.video_name.as_deref().or(query.filename.as_deref()));
    let upload = Upload {
        kind: VisualKind::Video,
        bytes: form.video,
        subtitles: form.subtitles,
        hint,
        field: "video",
    };
    store_visual(state, caller, upload).await
}

/// The parts of a video form, read.
struct VideoFormParts {
    video: Bytes,
    /// The file name the form gave the video, if any.
    video_name: Option<String>,
    subtitles: Option<Bytes>,
}

/// Reads the parts `video` (required) and `subtitles` (optional) of a form;
/// any other part, or one given twice, is refused by name.
async fn read_video_form(body: Bytes, boundary: String) -> Result<VideoFormParts, ApiError> {
    let stream = axum::body::Body::from(body).into_data_stream();
    let mut form = multer::Multipart::new(stream, boundary);
    let broken = |error: multer::Error| {
        ApiError::malformed(format!("the multipart form does not parse: {error}"))
    };
    let (mut video, mut video_name, mut subtitles) = (None, None, None);
    while let Some(field) = form.next_field().await.map_err(broken)? {
        let name = field.name().unwrap_or_default().to_owned();
        let slot = match name.as_str() {
            "video" => {
                video_name = field.file_name().map(str::to_owned);
                &mut video
            }
            "subtitles" => &mut subtitles,
            _ => {
                return Err(ApiError::invalid(
                    name,
                    "a video form has only the parts `video` and `subtitles`",
                ))
            }
        };
        if slot.is_some() {
            return Err(ApiError::invalid(name, "this part is given twice"));
        }
        let bytes = field.bytes().await.map_err(broken)?;
        if bytes.is_empty() {
            return Err(ApiError::invalid(name, "this part is empty"));
        }
        *slot = Some(bytes);
    }
    let video = video.ok_or_else(|| ApiError::invalid("video", "the form has no `video` part"))?;
    Ok(VideoFormParts {
        video,
        video_name,
        subtitles,
    })
}

/// A picture or video to check and store.
struct Upload {
    kind: VisualKind,
    bytes: Bytes,
    /// SRT subtitles sent beside a video.
    subtitles: Option<Bytes>,
    /// The file's extension, if known.
    hint: Option<String>,
    /// Where the file was in the request, for errors (`body`, `video`).
    field: &'static str,
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
    let upload = Upload {
        kind,
        bytes,
        subtitles: None,
        hint,
        field: "body",
    };
    store_visual(state, caller, upload).await
}

/// Checks and stores an upload, records it in the audit log and answers
/// what to name it by.
async fn store_visual(
    state: ApiState,
    caller: Caller,
    upload: Upload,
) -> Result<(StatusCode, Json<UploadedVisual>), ApiError> {
    let (media, board) = (state.media.clone(), state.board);
    let Upload {
        kind,
        bytes,
        subtitles,
        hint,
        field,
    } = upload;
    let stored = tokio::task::spawn_blocking(move || {
        ingest_visual(
            kind,
            &bytes,
            subtitles.as_deref(),
            hint.as_deref(),
            board,
            &media,
        )
    })
    .await
    .map_err(|e| ApiError::internal(&e))?
    .map_err(|error| match error {
        VisualError::Store(_) | VisualError::Read { .. } => ApiError::internal(&error),
        VisualError::Media(
            MediaError::InvalidSrt { .. }
            | MediaError::InvalidSrtCue { .. }
            | MediaError::SubtitlesTooBig { .. },
        ) => ApiError::invalid(
            "subtitles",
            format!("the subtitles cannot be used: {error}"),
        ),
        VisualError::Media(_) | VisualError::NoFile(_) | VisualError::SubtitlesWithout(_) => {
            ApiError::invalid(field, format!("the upload cannot be used: {error}"))
        }
    })?;
    let subtitles = stored.subtitles.as_ref().map(|srt| srt.sha256.clone());
    let mut event = caller.event(
        Action::UploadMedia,
        format!("{kind:?} {}", stored.sha256).to_lowercase(),
    );
    event.areas = vec![caller.principal.area.clone()];
    event.after = Some(match &subtitles {
        Some(srt) => format!("{} bytes, subtitles {srt}", stored.size),
        None => format!("{} bytes", stored.size),
    });
    state.record(event)?;
    Ok((
        StatusCode::CREATED,
        Json(UploadedVisual {
            sha256: stored.sha256,
            size: stored.size,
            duration_ms: stored.duration_ms,
            subtitles,
        }),
    ))
}
