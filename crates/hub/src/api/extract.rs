//! Request bodies and query strings, read with errors that name the field.
//!
//! axum's own `Json` answers in plain text; [`Body`] answers with the API's
//! error body: 415 without a JSON content type, 413 over the size limit,
//! 400 for broken JSON, 422 naming the field (`variants[0].language`) for
//! unknown fields, wrong types and invalid values. Every request type
//! refuses unknown fields, so a misspelt field is an error, not ignored.

use axum::async_trait;
use axum::body::Bytes;
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::header::CONTENT_TYPE;
use axum::http::request::Parts;
use axum::http::StatusCode;
use serde::de::DeserializeOwned;

use super::error::ApiError;
use super::state::ApiState;

/// A JSON request body of type `T`.
pub struct Body<T>(pub T);

#[async_trait]
impl<T: DeserializeOwned> FromRequest<ApiState> for Body<T> {
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &ApiState) -> Result<Self, ApiError> {
        let is_json = request
            .headers()
            .get(CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| {
                let essence = v.split(';').next().unwrap_or_default().trim();
                essence.eq_ignore_ascii_case("application/json")
            });
        if !is_json {
            return Err(ApiError::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "unsupported_media_type",
                "send the body as JSON, with Content-Type: application/json",
            ));
        }
        let limit = state.settings.max_json_bytes;
        let bytes = read_limited(request, limit).await?;
        parse_json(&bytes).map(Body)
    }
}

/// The raw body, up to `limit` bytes (413 beyond).
pub async fn read_limited(request: Request, limit: usize) -> Result<Bytes, ApiError> {
    let body = request.into_body();
    axum::body::to_bytes(body, limit)
        .await
        .map_err(|_| ApiError::too_large(limit))
}

/// Parses JSON, naming the field at fault.
pub fn parse_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    // Broken JSON first: serde_json reports some type errors (a number
    // where an enum's name belongs) as syntax errors.
    if let Err(error) = serde_json::from_slice::<serde::de::IgnoredAny>(bytes) {
        return Err(ApiError::malformed(format!(
            "the body is not valid JSON: {error}"
        )));
    }
    let mut deserializer = serde_json::Deserializer::from_slice(bytes);
    serde_path_to_error::deserialize(&mut deserializer).map_err(|error| {
        let path = error.path().to_string();
        let message = error.into_inner().to_string();
        let field = match missing_field(&message) {
            Some(missing) if path == "." => missing.to_owned(),
            Some(missing) => format!("{path}.{missing}"),
            None if path == "." => {
                return ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, "invalid", message)
            }
            None => path,
        };
        ApiError::invalid(field, message)
    })
}

/// The field serde says is missing (`missing field `reason``).
fn missing_field(message: &str) -> Option<&str> {
    message.strip_prefix("missing field `")?.split('`').next()
}

/// A query string of type `T`; unknown parameters are refused like unknown fields.
pub struct Query<T>(pub T);

#[async_trait]
impl<T: DeserializeOwned, S: Send + Sync> FromRequestParts<S> for Query<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, ApiError> {
        let query = parts.uri.query().unwrap_or_default();
        let deserializer =
            serde_urlencoded::Deserializer::new(form_urlencoded::parse(query.as_bytes()));
        serde_path_to_error::deserialize(deserializer)
            .map(Query)
            .map_err(|error| {
                let field = error.path().to_string();
                ApiError::invalid(field, error.into_inner().to_string())
            })
    }
}
