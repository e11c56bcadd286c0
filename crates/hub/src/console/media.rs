//! `GET /console/media/{sha256}`: a stored recording, picture or video for
//! the previews of a logged-in person (devices use the media server, with
//! their own credentials). Answered as the media server answers devices
//! ([`send_file`]): files are named by their content, so they are cached
//! for good, and ranges are honoured, which a browser's `<audio>` needs to
//! find an Ogg file's length (it reads the last page) and to seek.

use axum::extract::{Path, State};
use axum::http::{HeaderMap, Method};
use axum::response::Response;
use hub_proto::media::is_sha256_hex;

use super::layout;
use super::session::Person;
use crate::api::error::ApiError;
use crate::api::state::ApiState;
use crate::media::server::send_file;

pub async fn file(
    State(state): State<ApiState>,
    person: Person,
    Path(sha256): Path<String>,
    method: Method,
    headers: HeaderMap,
) -> Response {
    let unknown = || ApiError::not_found(format!("no media file {sha256}"));
    if !is_sha256_hex(&sha256) {
        return layout::failure(person.lang, Some(&person), &unknown());
    }
    let facts = match state.media.facts(&sha256) {
        Ok(Some(facts)) => facts,
        Ok(None) => return layout::failure(person.lang, Some(&person), &unknown()),
        Err(error) => {
            return layout::failure(person.lang, Some(&person), &ApiError::internal(&error))
        }
    };
    send_file(
        &state.media,
        &sha256,
        facts.kind.content_type(),
        &method,
        &headers,
    )
    .await
}
