//! The API's one error body: `{"code": …, "message": …, "field": …}` with
//! the status that fits. Messages say what was wrong and where; internal
//! failures are logged in full and answered without details.

use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use hub_access::{AccessError, AuthError, Denied, LoginError};
use hub_core::CoreError;
use serde::Serialize;
use utoipa::ToSchema;

use crate::link::ServeError;
use crate::media::ingest::{IngestError, UploadError};

/// What every failed request gets back.
#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorBody {
    /// Stable, machine-readable: `unauthenticated`, `forbidden`, `not_found`,
    /// `malformed`, `invalid`, `conflict`, `too_large`, `unsupported_media_type`,
    /// `locked_out`, `timeout`, `unavailable`, `internal`.
    pub code: &'static str,
    /// For people: what was wrong.
    pub message: String,
    /// The request field at fault (a JSON path such as `variants[0].language`),
    /// when one is.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
}

#[derive(Debug)]
pub struct ApiError {
    pub status: StatusCode,
    pub body: ErrorBody,
}

impl ApiError {
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        Self {
            status,
            body: ErrorBody {
                code,
                message: message.into(),
                field: None,
            },
        }
    }

    pub fn at(mut self, field: impl Into<String>) -> Self {
        self.body.field = Some(field.into());
        self
    }

    pub fn unauthenticated(message: impl Into<String>) -> Self {
        Self::new(StatusCode::UNAUTHORIZED, "unauthenticated", message)
    }

    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, "not_found", message)
    }

    pub fn malformed(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "malformed", message)
    }

    /// A well-formed request whose content is not acceptable.
    pub fn invalid(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self::new(StatusCode::UNPROCESSABLE_ENTITY, "invalid", message).at(field)
    }

    pub fn conflict(message: impl Into<String>) -> Self {
        Self::new(StatusCode::CONFLICT, "conflict", message)
    }

    pub fn too_large(limit: usize) -> Self {
        Self::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "too_large",
            format!("the request body is larger than {limit} bytes"),
        )
    }

    /// Logs the cause; the caller learns only that the hub failed.
    pub fn internal(cause: &dyn std::fmt::Display) -> Self {
        tracing::error!(error = %cause, "API request failed inside the hub");
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            "the hub failed to carry out the request; it is logged",
        )
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut response = (self.status, Json(self.body)).into_response();
        if self.status == StatusCode::UNAUTHORIZED {
            response.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                header::HeaderValue::from_static("Bearer realm=\"nguon\""),
            );
        }
        response
    }
}

impl From<Denied> for ApiError {
    fn from(denied: Denied) -> Self {
        Self::new(StatusCode::FORBIDDEN, "forbidden", denied.to_string())
    }
}

impl From<CoreError> for ApiError {
    fn from(error: CoreError) -> Self {
        let message = error.to_string();
        match error {
            CoreError::UnknownBulletin(_) | CoreError::UnknownDevice(_) => Self::not_found(message),
            CoreError::InvalidTransition { .. } | CoreError::BulletinExists { .. } => {
                Self::conflict(message)
            }
            CoreError::UnknownArea(_) | CoreError::InvalidArea { .. } => {
                Self::invalid("targets", message)
            }
            CoreError::InvalidId { what, .. } => Self::invalid(what.replace(' ', "_"), message),
            CoreError::InvalidWindow { .. } => Self::invalid("windows", message),
            CoreError::InvalidChairOrder { .. } => Self::invalid("order", message),
            CoreError::InvalidOptIn { .. } => Self::invalid("at", message),
            CoreError::InvalidDevice { .. } | CoreError::InvalidBulletin { .. } => {
                Self::new(StatusCode::UNPROCESSABLE_ENTITY, "invalid", message)
            }
        }
    }
}

impl From<AccessError> for ApiError {
    fn from(error: AccessError) -> Self {
        let message = error.to_string();
        match error {
            AccessError::WeakPassword { .. } => Self::invalid("password", message),
            AccessError::RoleDoesNotFitArea { .. } => Self::invalid("area", message),
            AccessError::DeviceRole => Self::invalid("role", message),
            AccessError::AccountExists(_) | AccessError::TokenExists(_) => Self::conflict(message),
            AccessError::UnknownAccount(_) | AccessError::UnknownToken(_) => {
                Self::not_found(message)
            }
            AccessError::Core(core) => core.into(),
            AccessError::Hashing(_) | AccessError::Store(_) => Self::internal(&error),
        }
    }
}

impl From<AuthError> for ApiError {
    fn from(error: AuthError) -> Self {
        match error {
            AuthError::Store(_) => Self::internal(&error),
            other => Self::unauthenticated(other.to_string()),
        }
    }
}

impl From<LoginError> for ApiError {
    fn from(error: LoginError) -> Self {
        match error {
            LoginError::LockedOut(locked) => Self::new(
                StatusCode::TOO_MANY_REQUESTS,
                "locked_out",
                locked.to_string(),
            ),
            LoginError::BadCredentials | LoginError::Disabled => {
                Self::unauthenticated(error.to_string())
            }
            LoginError::Access(access) => access.into(),
        }
    }
}

impl From<ServeError> for ApiError {
    fn from(error: ServeError) -> Self {
        tracing::error!(error = %error, "the hub task did not answer the API");
        let message = match error {
            ServeError::NotRecorded => error.to_string(),
            _ => "the hub is stopping or has stopped".to_owned(),
        };
        Self::new(StatusCode::SERVICE_UNAVAILABLE, "unavailable", message)
    }
}

impl From<hub_store::StoreError> for ApiError {
    fn from(error: hub_store::StoreError) -> Self {
        Self::internal(&error)
    }
}

impl From<UploadError> for ApiError {
    fn from(error: UploadError) -> Self {
        match error {
            UploadError::BadFile(_) => Self::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "invalid",
                error.to_string(),
            )
            .at("body"),
            UploadError::Store(_) => Self::internal(&error),
        }
    }
}

impl From<IngestError> for ApiError {
    fn from(error: IngestError) -> Self {
        match error {
            IngestError::Store { .. } | IngestError::Read { .. } => Self::internal(&error),
            IngestError::SlotTooShort { .. } => {
                Self::invalid("variants.audio.secs", error.to_string())
            }
            IngestError::Speech { .. } | IngestError::BadFile { .. } => {
                Self::invalid("variants.audio", error.to_string())
            }
        }
    }
}
