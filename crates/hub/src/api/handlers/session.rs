//! Logging in and out.

use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use chrono::{DateTime, TimeDelta, Utc};
use hub_access::{log_in, Action, LoginAttempt, Password, Target};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::api::auth::{Caller, ClientAddr};
use crate::api::error::{ApiError, ErrorBody};
use crate::api::extract::Body;
use crate::api::state::ApiState;

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LoginRequest {
    pub username: String,
    pub password: String,
}

#[derive(Serialize, ToSchema)]
pub struct LoginResponse {
    /// Send as `Authorization: Bearer <token>`; shown only now.
    pub token: String,
    pub expires: DateTime<Utc>,
    pub username: String,
    /// `administrator`, `provincial_editor`, `district_editor`, `reviewer`,
    /// `commune_chair` or `operator`.
    pub role: String,
    pub area: String,
}

/// Log in with a name and password; answers a session token. Five wrong
/// passwords lock the name (and the address) out for a while, doubling.
#[utoipa::path(post, path = "/api/v1/session", tag = "session",
    request_body = LoginRequest,
    responses(
        (status = 200, body = LoginResponse),
        (status = 401, description = "wrong name or password", body = ErrorBody),
        (status = 429, description = "locked out after failed attempts", body = ErrorBody),
    ))]
pub async fn login(
    State(state): State<ApiState>,
    ClientAddr(client): ClientAddr,
    Body(request): Body<LoginRequest>,
) -> Result<Json<LoginResponse>, ApiError> {
    let password = Password::new(request.password);
    let now = state.now();
    let lifetime = TimeDelta::hours(i64::from(state.settings.session_hours));
    let worker = state.clone();
    let name = request.username;
    // Argon2id costs tens of milliseconds of CPU: off the async workers.
    let (token, session) = tokio::task::spawn_blocking(move || {
        let mut throttle = worker
            .throttle
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let attempt = LoginAttempt {
            name: &name,
            password: &password,
            client,
        };
        log_in(&worker.access, &mut throttle, attempt, now, lifetime)
    })
    .await
    .map_err(|e| ApiError::internal(&e))??;
    let account = state
        .access
        .account(&session.user)?
        .ok_or_else(|| ApiError::unauthenticated("the account is gone"))?;
    let caller = Caller {
        principal: account.principal(),
        client,
        token,
    };
    state.authorize(&caller, Action::LogIn, Target::Nothing)?;
    let mut event = caller.event(Action::LogIn, format!("account {}", account.name));
    event.areas = vec![account.area.clone()];
    state.record(event)?;
    Ok(Json(LoginResponse {
        token: caller.token.expose().to_owned(),
        expires: session.expires,
        username: account.name.to_string(),
        role: super::role_name(account.role),
        area: account.area.to_string(),
    }))
}

/// End the session whose token is presented.
#[utoipa::path(delete, path = "/api/v1/session", tag = "session",
    security(("bearer" = [])),
    responses((status = 204), (status = 401, body = ErrorBody)))]
pub async fn logout(State(state): State<ApiState>, caller: Caller) -> Result<StatusCode, ApiError> {
    state.authorize(&caller, Action::LogOut, Target::Nothing)?;
    if !state.access.close_session(&caller.token)? {
        return Err(ApiError::invalid(
            "Authorization",
            "this is an API token, not a session; an administrator revokes it",
        ));
    }
    let mut event = caller.event(Action::LogOut, caller.principal.subject.to_string());
    event.areas = vec![caller.principal.area.clone()];
    state.record(event)?;
    Ok(StatusCode::NO_CONTENT)
}
