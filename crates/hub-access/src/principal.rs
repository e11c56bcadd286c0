//! Who is acting: an authenticated person, machine client or device, with
//! the role and area it acts in.

use std::fmt;

use hub_core::{AreaCode, DeviceId};
use serde::{Deserialize, Serialize};

use crate::{Role, TokenName, Username};

/// Who answers for an action. Displayed as `user:…`, `token:…`, `device:…`
/// or `hub`: distinct across kinds and free of `\0`, so usable in store keys.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "kind", content = "name")]
pub enum Subject {
    User(Username),
    /// A machine client holding an API token.
    Token(TokenName),
    Device(DeviceId),
    /// The hub itself, for what it does on no one's request (ending a live
    /// emergency whose stream a restart cut). No one logs in as the hub.
    Hub,
}

impl fmt::Display for Subject {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Subject::User(name) => write!(f, "user:{name}"),
            Subject::Token(name) => write!(f, "token:{name}"),
            Subject::Device(id) => write!(f, "device:{id}"),
            Subject::Hub => f.write_str("hub"),
        }
    }
}

/// An authenticated subject with the role and area it currently holds
/// (read from its account or token on every request, so a role change or
/// a disabled account takes effect at once).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Principal {
    pub subject: Subject,
    pub role: Role,
    pub area: AreaCode,
}
