//! Reading a submitted form, URL-encoded or multipart (with files), into
//! named fields; and [`Submitted`]: a logged-in person's form whose CSRF
//! token has been checked before any handler sees it.

use axum::async_trait;
use axum::body::Bytes;
use axum::extract::{FromRequest, FromRequestParts, Multipart, Request};
use axum::http::header::CONTENT_TYPE;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};

use super::csrf;
use super::layout;
use super::session::Person;
use crate::api::error::ApiError;
use crate::api::extract::read_limited;
use crate::api::state::ApiState;

/// A file chosen in a file input.
pub struct Upload {
    pub filename: String,
    pub bytes: Bytes,
}

/// A form's fields in the order sent; files by their input's name.
#[derive(Default)]
pub struct Fields {
    text: Vec<(String, String)>,
    files: Vec<(String, Upload)>,
}

impl Fields {
    /// Reads the request's body: URL-encoded forms up to the JSON limit,
    /// multipart forms up to the upload limit.
    pub async fn read(request: Request, state: &ApiState) -> Result<Fields, ApiError> {
        let content_type = request
            .headers()
            .get(CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_ascii_lowercase();
        if content_type.starts_with("multipart/form-data") {
            let multipart = Multipart::from_request(request, state)
                .await
                .map_err(|e| ApiError::malformed(format!("the form did not arrive whole: {e}")))?;
            return Self::from_multipart(multipart).await;
        }
        if content_type.starts_with("application/x-www-form-urlencoded") {
            let bytes = read_limited(request, state.settings.max_json_bytes).await?;
            return Ok(Fields {
                text: form_urlencoded::parse(&bytes).into_owned().collect(),
                files: Vec::new(),
            });
        }
        Err(ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
            "send the console's forms as a browser does (URL-encoded or multipart)",
        ))
    }

    async fn from_multipart(mut multipart: Multipart) -> Result<Fields, ApiError> {
        let broken = |e: axum::extract::multipart::MultipartError| {
            ApiError::malformed(format!("the form did not arrive whole: {e}"))
        };
        let mut fields = Fields::default();
        while let Some(field) = multipart.next_field().await.map_err(broken)? {
            let name = field.name().unwrap_or_default().to_owned();
            match field.file_name().map(str::to_owned) {
                Some(filename) => {
                    let bytes = field.bytes().await.map_err(broken)?;
                    // A file input left empty still sends a nameless, empty part.
                    if !bytes.is_empty() {
                        fields.files.push((name, Upload { filename, bytes }));
                    }
                }
                None => {
                    let value = field.text().await.map_err(broken)?;
                    fields.text.push((name, value));
                }
            }
        }
        Ok(fields)
    }

    /// The first value of `name`, trimmed; None when absent or blank.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.text
            .iter()
            .find(|(key, _)| key == name)
            .map(|(_, value)| value.trim())
            .filter(|value| !value.is_empty())
    }

    /// The first value of `name` as sent ("" when absent).
    pub fn raw(&self, name: &str) -> &str {
        self.text
            .iter()
            .find(|(key, _)| key == name)
            .map_or("", |(_, value)| value.as_str())
    }

    /// Every value of `name` (checkboxes).
    pub fn all(&self, name: &str) -> Vec<&str> {
        self.text
            .iter()
            .filter(|(key, _)| key == name)
            .map(|(_, value)| value.as_str())
            .collect()
    }

    /// The file chosen in the input `name`, if one was.
    pub fn file(&self, name: &str) -> Option<&Upload> {
        self.files
            .iter()
            .find(|(key, _)| key == name)
            .map(|(_, upload)| upload)
    }
}

/// A logged-in person's form with a valid CSRF token. Without a session the
/// person is sent to the login page; with a missing or wrong token the
/// request is refused (403) before any handler runs, so nothing changes.
pub struct Submitted {
    pub person: Person,
    pub fields: Fields,
}

#[async_trait]
impl FromRequest<ApiState> for Submitted {
    type Rejection = Response;

    async fn from_request(request: Request, state: &ApiState) -> Result<Self, Response> {
        let (mut parts, body) = request.into_parts();
        let person = Person::from_request_parts(&mut parts, state)
            .await
            .map_err(IntoResponse::into_response)?;
        let request = Request::from_parts(parts, body);
        let fields = Fields::read(request, state)
            .await
            .map_err(|error| layout::failure(person.lang, Some(&person), &error))?;
        if !csrf::matches(&person.csrf, fields.get(csrf::FIELD)) {
            tracing::info!(actor = %person.caller.principal.subject, "console form refused: bad CSRF token");
            return Err(layout::csrf_refused(person.lang, Some(&person)));
        }
        Ok(Submitted { person, fields })
    }
}
