//! `GET /console/media/{sha256}`: a stored recording, picture or video for
//! the previews of a logged-in person (devices use the media server, with
//! their own credentials). Files are named by their content, so they are
//! cached for good.

use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::header::{CACHE_CONTROL, CONTENT_LENGTH, CONTENT_TYPE};
use axum::response::{IntoResponse, Response};
use tokio_util::io::ReaderStream;

use super::layout;
use super::session::Person;
use crate::api::error::ApiError;
use crate::api::state::ApiState;

pub async fn file(
    State(state): State<ApiState>,
    person: Person,
    Path(sha256): Path<String>,
) -> Response {
    match open(&state, &sha256).await {
        Ok(response) => response,
        Err(error) => layout::failure(person.lang, Some(&person), &error),
    }
}

async fn open(state: &ApiState, sha256: &str) -> Result<Response, ApiError> {
    let unknown = || ApiError::not_found(format!("no media file {sha256}"));
    let facts = state
        .media
        .facts(sha256)
        .map_err(|e| ApiError::internal(&e))?
        .ok_or_else(unknown)?;
    let path = state.media.file_path(sha256).ok_or_else(unknown)?;
    let file = tokio::fs::File::open(&path).await.map_err(|_| unknown())?;
    let body = Body::from_stream(ReaderStream::new(file));
    Ok((
        [
            (CONTENT_TYPE, facts.kind.content_type().to_owned()),
            (CONTENT_LENGTH, facts.size.to_string()),
            (
                CACHE_CONTROL,
                "private, max-age=31536000, immutable".to_owned(),
            ),
        ],
        body,
    )
        .into_response())
}
