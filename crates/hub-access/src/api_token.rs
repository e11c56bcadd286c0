//! API tokens for machine clients: named, scoped to a role and area like a
//! person, revocable, their secret shown once.

use chrono::{DateTime, Utc};
use hub_core::AreaCode;
use hub_store::Record;
use serde::{Deserialize, Serialize};

use crate::{Principal, Role, Subject, TokenHash, TokenName, Username};

/// A machine client's credential. Stored under the hash of its secret;
/// a revoked token is kept (marked) so listings and the audit trail still
/// name it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApiToken {
    pub hash: TokenHash,
    pub name: TokenName,
    pub role: Role,
    pub area: AreaCode,
    pub created_by: Username,
    pub created: DateTime<Utc>,
    /// `None`: valid until revoked.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires: Option<DateTime<Utc>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub revoked: Option<DateTime<Utc>>,
}

impl ApiToken {
    pub fn is_live(&self, now: DateTime<Utc>) -> bool {
        self.revoked.is_none() && self.expires.is_none_or(|expires| now < expires)
    }

    /// Who a client holding this token acts as.
    pub fn principal(&self) -> Principal {
        Principal {
            subject: Subject::Token(self.name.clone()),
            role: self.role,
            area: self.area.clone(),
        }
    }
}

impl Record for ApiToken {
    const TREE: &'static str = "api_tokens";
    fn key(&self) -> Vec<u8> {
        self.hash.as_str().as_bytes().to_vec()
    }
}
