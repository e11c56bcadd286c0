//! API tokens for machine clients (the central system, scripts): scoped
//! like accounts, created and revoked by administrators.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use chrono::{DateTime, TimeDelta, Utc};
use hub_access::{AccountFacts, Action, ApiToken, Role, Subject, Target, TokenName, TokenRequest};
use hub_core::AreaCode;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::{parse_id, require_area, role_name, Reason};
use crate::api::auth::Caller;
use crate::api::error::{ApiError, ErrorBody};
use crate::api::extract::Body;
use crate::api::state::ApiState;

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateTokenRequest {
    #[schema(value_type = String, example = "central-feed")]
    pub name: TokenName,
    #[schema(value_type = String, example = "provincial_editor")]
    pub role: Role,
    #[schema(value_type = String)]
    pub area: AreaCode,
    /// Days until it expires; absent: valid until revoked.
    #[serde(default)]
    pub expires_days: Option<u16>,
}

#[derive(Serialize, ToSchema)]
pub struct TokenView {
    pub name: String,
    pub role: String,
    pub area: String,
    pub created_by: String,
    pub created: DateTime<Utc>,
    pub expires: Option<DateTime<Utc>>,
    pub revoked: Option<DateTime<Utc>>,
}

impl From<&ApiToken> for TokenView {
    fn from(token: &ApiToken) -> Self {
        Self {
            name: token.name.to_string(),
            role: role_name(token.role),
            area: token.area.to_string(),
            created_by: token.created_by.to_string(),
            created: token.created,
            expires: token.expires,
            revoked: token.revoked,
        }
    }
}

#[derive(Serialize, ToSchema)]
pub struct CreatedToken {
    /// The secret, shown only now: send as `Authorization: Bearer <token>`.
    pub token: String,
    #[serde(flatten)]
    pub view: TokenView,
}

fn facts(name: &TokenName, role: Role, area: &AreaCode) -> AccountFacts {
    AccountFacts {
        subject: Subject::Token(name.clone()),
        role,
        area: area.clone(),
    }
}

/// Create an API token. Only administrators (who are people) create them.
#[utoipa::path(post, path = "/api/v1/tokens", tag = "tokens", security(("bearer" = [])),
    request_body = CreateTokenRequest,
    responses((status = 201, body = CreatedToken), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn create(
    State(state): State<ApiState>,
    caller: Caller,
    Body(request): Body<CreateTokenRequest>,
) -> Result<(StatusCode, Json<CreatedToken>), ApiError> {
    require_area(&state, &request.area, "area")?;
    let wanted = facts(&request.name, request.role, &request.area);
    state.authorize(&caller, Action::CreateToken, Target::Account(&wanted))?;
    let Subject::User(created_by) = caller.principal.subject.clone() else {
        return Err(ApiError::from(hub_access::Denied::NotOwnAccount));
    };
    let now = state.now();
    let expires = request
        .expires_days
        .map(|days| now + TimeDelta::days(i64::from(days)));
    let _writing = state.account_writes.lock().await;
    let (secret, token) = state.access.create_api_token(
        TokenRequest {
            name: request.name,
            role: request.role,
            area: request.area,
            created_by,
            expires,
        },
        &state.tree,
        now,
    )?;
    let mut event = caller.event(Action::CreateToken, format!("API token {}", token.name));
    event.areas = vec![token.area.clone()];
    event.after = Some(format!("{} in {}", token.role, token.area));
    state.record(event)?;
    Ok((
        StatusCode::CREATED,
        Json(CreatedToken {
            token: secret.expose().to_owned(),
            view: TokenView::from(&token),
        }),
    ))
}

/// The API tokens in the administrator's area, without their secrets.
#[utoipa::path(get, path = "/api/v1/tokens", tag = "tokens", security(("bearer" = [])),
    responses((status = 200, body = [TokenView]), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)))]
pub async fn list(
    State(state): State<ApiState>,
    caller: Caller,
) -> Result<Json<Vec<TokenView>>, ApiError> {
    // Those who may manage no tokens at all hear 403, not an empty list.
    let own = AccountFacts {
        subject: caller.principal.subject.clone(),
        role: caller.principal.role,
        area: caller.principal.area.clone(),
    };
    state.authorize(&caller, Action::RevokeToken, Target::Account(&own))?;
    let tree = &state.tree;
    let mut tokens: Vec<TokenView> = state
        .access
        .api_tokens()?
        .iter()
        .filter(|t| tree.is_within(&t.area, &caller.principal.area))
        .map(TokenView::from)
        .collect();
    tokens.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(Json(tokens))
}

/// Revoke an API token; it stops working at once.
#[utoipa::path(post, path = "/api/v1/tokens/{name}/revoke", tag = "tokens", security(("bearer" = [])),
    params(("name" = String, Path)), request_body = Reason,
    responses((status = 200, body = TokenView), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn revoke(
    State(state): State<ApiState>,
    caller: Caller,
    Path(name): Path<String>,
    Body(reason): Body<Reason>,
) -> Result<Json<TokenView>, ApiError> {
    let name: TokenName = parse_id(&name, "API token")?;
    let _writing = state.account_writes.lock().await;
    let token = state
        .access
        .api_tokens()?
        .into_iter()
        .find(|t| t.name == name)
        .ok_or_else(|| ApiError::not_found(format!("unknown API token {name}")))?;
    let target = facts(&token.name, token.role, &token.area);
    state.authorize(&caller, Action::RevokeToken, Target::Account(&target))?;
    let reason = reason.required()?;
    let token = state.access.revoke_api_token(&name, state.now())?;
    let mut event = caller.event(Action::RevokeToken, format!("API token {}", token.name));
    event.areas = vec![token.area.clone()];
    event.after = Some("revoked".into());
    event.reason = Some(reason);
    state.record(event)?;
    Ok(Json(TokenView::from(&token)))
}
