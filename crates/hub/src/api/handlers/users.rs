//! People's accounts: administrators create them, change their role or
//! area, disable them; everyone changes their own password.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use chrono::{DateTime, Utc};
use hub_access::{Account, AccountFacts, Action, Password, Role, Subject, Target, Username};
use hub_core::AreaCode;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::{parse_id, require_area, role_name, Reason};
use crate::api::auth::Caller;
use crate::api::error::{ApiError, ErrorBody};
use crate::api::extract::Body;
use crate::api::state::{ApiContext, ApiState};

#[derive(Serialize, ToSchema)]
pub struct UserView {
    pub username: String,
    pub display_name: String,
    pub role: String,
    pub area: String,
    pub disabled: bool,
    pub created: DateTime<Utc>,
}

impl From<&Account> for UserView {
    fn from(account: &Account) -> Self {
        Self {
            username: account.name.to_string(),
            display_name: account.display_name.clone(),
            role: role_name(account.role),
            area: account.area.to_string(),
            disabled: account.disabled,
            created: account.created,
        }
    }
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateUserRequest {
    /// Lower-case letters, digits, `.`, `_`, `-`.
    #[schema(value_type = String, example = "tran.binh")]
    pub username: Username,
    pub display_name: String,
    /// At least 12 characters.
    pub password: String,
    #[schema(value_type = String, example = "district_editor")]
    pub role: Role,
    #[schema(value_type = String, example = "241")]
    pub area: AreaCode,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ChangeRoleRequest {
    #[schema(value_type = String)]
    pub role: Role,
    #[schema(value_type = String)]
    pub area: AreaCode,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ChangePasswordRequest {
    pub password: String,
}

fn facts(account: &Account) -> AccountFacts {
    AccountFacts {
        subject: Subject::User(account.name.clone()),
        role: account.role,
        area: account.area.clone(),
    }
}

fn load(state: &ApiContext, name: &str) -> Result<Account, ApiError> {
    let name: Username = parse_id(name, "username")?;
    state
        .access
        .account(&name)?
        .ok_or_else(|| ApiError::not_found(format!("unknown account {name}")))
}

/// The accounts an administrator manages (those in their area).
#[utoipa::path(get, path = "/api/v1/users", tag = "users", security(("bearer" = [])),
    responses((status = 200, body = [UserView]), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)))]
pub async fn list(
    State(state): State<ApiState>,
    caller: Caller,
) -> Result<Json<Vec<UserView>>, ApiError> {
    let own = AccountFacts {
        subject: caller.principal.subject.clone(),
        role: caller.principal.role,
        area: caller.principal.area.clone(),
    };
    state.authorize(&caller, Action::ChangeRole, Target::Account(&own))?;
    let tree = &state.tree;
    let users = state
        .access
        .accounts()?
        .iter()
        .filter(|a| tree.is_within(&a.area, &caller.principal.area))
        .map(UserView::from)
        .collect();
    Ok(Json(users))
}

/// Create an account, scoped to an area its role fits.
#[utoipa::path(post, path = "/api/v1/users", tag = "users", security(("bearer" = [])),
    request_body = CreateUserRequest,
    responses((status = 201, body = UserView), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn create(
    State(state): State<ApiState>,
    caller: Caller,
    Body(request): Body<CreateUserRequest>,
) -> Result<(StatusCode, Json<UserView>), ApiError> {
    require_area(&state, &request.area, "area")?;
    let wanted = AccountFacts {
        subject: Subject::User(request.username.clone()),
        role: request.role,
        area: request.area.clone(),
    };
    state.authorize(&caller, Action::CreateUser, Target::Account(&wanted))?;
    let password = Password::new(request.password);
    let now = state.now();
    let worker = state.clone();
    let (name, display, role, area) = (
        request.username,
        request.display_name,
        request.role,
        request.area,
    );
    let account = tokio::task::spawn_blocking(move || {
        Account::new(name, display, role, area, &password, &worker.tree, now)
    })
    .await
    .map_err(|e| ApiError::internal(&e))??;
    let _writing = state.account_writes.lock().await;
    state.access.create_account(&account)?;
    let mut event = caller.event(Action::CreateUser, format!("account {}", account.name));
    event.areas = vec![account.area.clone()];
    event.after = Some(format!("{} in {}", account.role, account.area));
    state.record(event)?;
    Ok((StatusCode::CREATED, Json(UserView::from(&account))))
}

/// Disable an account: it cannot log in and its sessions end.
#[utoipa::path(post, path = "/api/v1/users/{username}/disable", tag = "users", security(("bearer" = [])),
    params(("username" = String, Path)), request_body = Reason,
    responses((status = 200, body = UserView), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn disable(
    State(state): State<ApiState>,
    caller: Caller,
    Path(name): Path<String>,
    Body(reason): Body<Reason>,
) -> Result<Json<UserView>, ApiError> {
    let _writing = state.account_writes.lock().await;
    let mut account = load(&state, &name)?;
    state.authorize(
        &caller,
        Action::DisableUser,
        Target::Account(&facts(&account)),
    )?;
    let reason = reason.required()?;
    account.disabled = true;
    state.access.update_account(&account, &state.tree)?;
    let mut event = caller.event(Action::DisableUser, format!("account {}", account.name));
    event.areas = vec![account.area.clone()];
    event.after = Some("disabled".into());
    event.reason = Some(reason);
    state.record(event)?;
    Ok(Json(UserView::from(&account)))
}

/// Change an account's role or area; allowed only where both the old and
/// the new scope lie in the administrator's area.
#[utoipa::path(put, path = "/api/v1/users/{username}/role", tag = "users", security(("bearer" = [])),
    params(("username" = String, Path)), request_body = ChangeRoleRequest,
    responses((status = 200, body = UserView), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn change_role(
    State(state): State<ApiState>,
    caller: Caller,
    Path(name): Path<String>,
    Body(request): Body<ChangeRoleRequest>,
) -> Result<Json<UserView>, ApiError> {
    require_area(&state, &request.area, "area")?;
    let _writing = state.account_writes.lock().await;
    let mut account = load(&state, &name)?;
    let before = facts(&account);
    state.authorize(&caller, Action::ChangeRole, Target::Account(&before))?;
    let after = AccountFacts {
        role: request.role,
        area: request.area.clone(),
        ..before.clone()
    };
    state.authorize(&caller, Action::ChangeRole, Target::Account(&after))?;
    account.role = request.role;
    account.area = request.area;
    state.access.update_account(&account, &state.tree)?;
    let mut event = caller.event(Action::ChangeRole, format!("account {}", account.name));
    event.areas = vec![before.area.clone(), account.area.clone()];
    event.before = Some(format!("{} in {}", before.role, before.area));
    event.after = Some(format!("{} in {}", account.role, account.area));
    state.record(event)?;
    Ok(Json(UserView::from(&account)))
}

/// Set a new password (one's own; an administrator, anyone's in their
/// area). Every session of the account ends.
#[utoipa::path(put, path = "/api/v1/users/{username}/password", tag = "users", security(("bearer" = [])),
    params(("username" = String, Path)), request_body = ChangePasswordRequest,
    responses((status = 204), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn change_password(
    State(state): State<ApiState>,
    caller: Caller,
    Path(name): Path<String>,
    Body(request): Body<ChangePasswordRequest>,
) -> Result<StatusCode, ApiError> {
    let account = load(&state, &name)?;
    state.authorize(
        &caller,
        Action::ChangePassword,
        Target::Account(&facts(&account)),
    )?;
    let password = Password::new(request.password);
    let hash = tokio::task::spawn_blocking(move || hub_access::PasswordHash::new(&password))
        .await
        .map_err(|e| ApiError::internal(&e))??;
    let _writing = state.account_writes.lock().await;
    let mut account = load(&state, &name)?;
    account.password = hash;
    state.access.update_account(&account, &state.tree)?;
    let mut event = caller.event(Action::ChangePassword, format!("account {}", account.name));
    event.areas = vec![account.area.clone()];
    event.after = Some("password changed".into());
    state.record(event)?;
    Ok(StatusCode::NO_CONTENT)
}
