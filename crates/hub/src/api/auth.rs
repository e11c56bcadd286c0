//! Who is calling: the bearer token of a session or an API token, checked
//! on every request against the account or token as it is now (so a
//! disabled account or a revoked token stops working at once).

use std::net::{IpAddr, SocketAddr};

use axum::async_trait;
use axum::extract::{ConnectInfo, FromRequestParts};
use axum::http::header::AUTHORIZATION;
use axum::http::request::Parts;
use hub_access::{Action, AuditEvent, Principal, SecretToken};

use super::error::ApiError;
use super::state::ApiState;

/// An authenticated caller.
#[derive(Debug)]
pub struct Caller {
    pub principal: Principal,
    pub client: Option<IpAddr>,
    /// The presented token (logging out ends exactly this session).
    pub token: SecretToken,
}

impl Caller {
    /// An audit event of this caller doing `action` to `object`.
    pub fn event(&self, action: Action, object: impl Into<String>) -> AuditEvent {
        AuditEvent {
            actor: self.principal.clone(),
            client: self.client,
            action,
            object: object.into(),
            areas: Vec::new(),
            bulletin: None,
            before: None,
            after: None,
            reason: None,
        }
    }
}

/// The client's address, when the server knows it.
pub fn client_address(parts: &Parts) -> Option<IpAddr> {
    parts
        .extensions
        .get::<ConnectInfo<SocketAddr>>()
        .map(|ConnectInfo(addr)| addr.ip())
}

/// The client's address, for requests made before anyone is authenticated.
pub struct ClientAddr(pub Option<IpAddr>);

#[async_trait]
impl<S: Send + Sync> FromRequestParts<S> for ClientAddr {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        Ok(ClientAddr(client_address(parts)))
    }
}

#[async_trait]
impl FromRequestParts<ApiState> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &ApiState) -> Result<Self, ApiError> {
        let header = parts
            .headers
            .get(AUTHORIZATION)
            .ok_or_else(|| ApiError::unauthenticated("log in first: no Authorization header"))?;
        let token = header
            .to_str()
            .ok()
            .and_then(|value| value.strip_prefix("Bearer "))
            .map(str::trim)
            .filter(|token| !token.is_empty())
            .ok_or_else(|| {
                ApiError::unauthenticated("the Authorization header must be `Bearer <token>`")
            })?;
        let token = SecretToken::presented(token);
        let now = state.now();
        let principal = match state.access.authenticate_session(&token, now) {
            Ok(principal) => principal,
            Err(hub_access::AuthError::Unknown) => {
                state.access.authenticate_api_token(&token, now)?
            }
            Err(other) => return Err(other.into()),
        };
        Ok(Caller {
            principal,
            client: client_address(parts),
            token,
        })
    }
}
