//! Files chosen in the console's forms, handed to the API's upload handlers
//! as the raw bodies those take: the same checks, encoding and audit entry.

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::header::CONTENT_TYPE;

use super::form::Upload;
use super::session::Person;
use crate::api::error::ApiError;
use crate::api::extract::Query;
use crate::api::handlers::uploads::{self, UploadQuery};
use crate::api::state::ApiState;

/// The file as an upload request, its name kept as the format hint.
fn request_of(upload: &Upload) -> Result<(Query<UploadQuery>, Request), ApiError> {
    let request = Request::builder()
        .header(CONTENT_TYPE, "application/octet-stream")
        .body(Body::from(upload.bytes.clone()))
        .map_err(|e| ApiError::internal(&e))?;
    let query = UploadQuery {
        filename: Some(upload.filename.clone()),
    };
    Ok((Query(query), request))
}

/// Uploads a recording; the SHA-256 naming the broadcast file. Errors name
/// the form's `field`.
pub async fn audio(
    state: &ApiState,
    person: &Person,
    upload: &Upload,
    field: &str,
) -> Result<String, ApiError> {
    let (query, request) = request_of(upload)?;
    uploads::audio(State(state.clone()), person.caller(), query, request)
        .await
        .map(|(_, answer)| answer.0.sha256)
        .map_err(|error| error.at(field))
}

/// Uploads a picture for boards; the SHA-256 naming the fitted picture.
pub async fn image(
    state: &ApiState,
    person: &Person,
    upload: &Upload,
    field: &str,
) -> Result<String, ApiError> {
    let (query, request) = request_of(upload)?;
    uploads::image(State(state.clone()), person.caller(), query, request)
        .await
        .map(|(_, answer)| answer.0.sha256)
        .map_err(|error| error.at(field))
}
