//! Logging in: throttle, verify the password, open a session.

use std::net::IpAddr;

use chrono::{DateTime, TimeDelta, Utc};

use crate::password::verify_nobody;
use crate::{
    AccessError, AccessStore, LockedOut, LoginThrottle, Password, SecretToken, Session, Username,
};

/// A login attempt as it arrives: the name is not validated yet.
#[derive(Debug)]
pub struct LoginAttempt<'a> {
    pub name: &'a str,
    pub password: &'a Password,
    pub client: Option<IpAddr>,
}

/// Why a login failed. Unknown names and wrong passwords are one error, so
/// a failure does not tell which names exist.
#[derive(Debug, thiserror::Error)]
pub enum LoginError {
    #[error(transparent)]
    LockedOut(#[from] LockedOut),
    #[error("wrong account name or password")]
    BadCredentials,
    /// Told only to someone who gave the right password.
    #[error("the account is disabled")]
    Disabled,
    #[error(transparent)]
    Access(#[from] AccessError),
}

/// Checks the throttle, then the password; on success opens a session of
/// `lifetime` and returns its token (shown once) with the session.
pub fn log_in(
    store: &AccessStore,
    throttle: &mut LoginThrottle,
    attempt: LoginAttempt<'_>,
    now: DateTime<Utc>,
    lifetime: TimeDelta,
) -> Result<(SecretToken, Session), LoginError> {
    let name = Username::parse(attempt.name).ok();
    throttle.check(name.as_ref(), attempt.client, now)?;
    let account = match &name {
        Some(name) => store.account(name)?,
        None => None,
    };
    let Some(account) = account else {
        verify_nobody(attempt.password);
        throttle.record_failure(name.as_ref(), attempt.client, now);
        return Err(LoginError::BadCredentials);
    };
    if !account.password.verify(attempt.password) {
        throttle.record_failure(Some(&account.name), attempt.client, now);
        return Err(LoginError::BadCredentials);
    }
    if account.disabled {
        return Err(LoginError::Disabled);
    }
    throttle.record_success(&account.name);
    Ok(store.open_session(&account.name, attempt.client, now, lifetime)?)
}
