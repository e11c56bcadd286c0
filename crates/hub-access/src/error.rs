//! Errors of the people side, apart from [`Denied`](crate::Denied) (a refusal
//! by the policy is an answer, not a failure) and the login errors.

use hub_core::{AreaCode, AreaLevel, CoreError};
use hub_store::StoreError;

use crate::Role;

/// Everything that can go wrong managing accounts, credentials and the audit log.
#[derive(Debug, thiserror::Error)]
pub enum AccessError {
    /// Passwords that are too short are refused when set (never when tried).
    #[error("a password needs at least {min} characters")]
    WeakPassword { min: usize },

    /// The role cannot be held by an account scoped to an area of this level.
    #[error("a {role} account cannot be scoped to {area}, which is a {level:?}")]
    RoleDoesNotFitArea {
        role: Role,
        area: AreaCode,
        level: AreaLevel,
    },

    /// Devices authenticate with their own credentials, never with an
    /// account or an API token.
    #[error("the device role belongs to devices, which have their own credentials")]
    DeviceRole,

    #[error("account {0} already exists")]
    AccountExists(String),

    #[error("unknown account {0}")]
    UnknownAccount(String),

    #[error("API token {0} already exists")]
    TokenExists(String),

    #[error("unknown API token {0}")]
    UnknownToken(String),

    /// The Argon2 library refused to hash (it never does with valid parameters).
    #[error("password hashing failed: {0}")]
    Hashing(String),

    #[error(transparent)]
    Core(#[from] CoreError),

    #[error(transparent)]
    Store(#[from] StoreError),
}
