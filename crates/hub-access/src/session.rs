//! Login sessions: a bearer token per login, expiring, revocable.

use std::net::IpAddr;

use chrono::{DateTime, TimeDelta, Utc};
use hub_store::Record;
use serde::{Deserialize, Serialize};

use crate::{TokenHash, Username};

/// How long a session lasts from login: one working day.
pub const SESSION_LIFETIME: TimeDelta = TimeDelta::hours(12);

/// A live login. Stored under the hash of its token; logging out or revoking
/// removes it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Session {
    pub token: TokenHash,
    pub user: Username,
    pub created: DateTime<Utc>,
    pub expires: DateTime<Utc>,
    /// Where the login came from.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client: Option<IpAddr>,
}

impl Session {
    pub fn is_live(&self, now: DateTime<Utc>) -> bool {
        now < self.expires
    }
}

impl Record for Session {
    const TREE: &'static str = "sessions";
    fn key(&self) -> Vec<u8> {
        self.token.as_str().as_bytes().to_vec()
    }
}
