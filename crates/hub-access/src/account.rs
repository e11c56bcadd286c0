//! Accounts of people: a name, a role scoped to an area, a password hash.

use chrono::{DateTime, Utc};
use hub_core::{AreaCode, AreaTree};
use hub_store::Record;
use serde::{Deserialize, Serialize};

use crate::{AccessError, Password, PasswordHash, Principal, Role, Subject, Username};

/// One person's account. Its `Debug` redacts the password hash.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Account {
    pub name: Username,
    /// The person's full name, as shown to others and in reports.
    pub display_name: String,
    pub role: Role,
    pub area: AreaCode,
    pub password: PasswordHash,
    /// A disabled account cannot log in, and its sessions stop working.
    #[serde(default)]
    pub disabled: bool,
    pub created: DateTime<Utc>,
}

impl Account {
    /// A new, enabled account, its scope checked against `tree`.
    pub fn new(
        name: Username,
        display_name: impl Into<String>,
        role: Role,
        area: AreaCode,
        password: &Password,
        tree: &AreaTree,
        now: DateTime<Utc>,
    ) -> Result<Self, AccessError> {
        check_scope(role, &area, tree)?;
        Ok(Self {
            name,
            display_name: display_name.into(),
            role,
            area,
            password: PasswordHash::new(password)?,
            disabled: false,
            created: now,
        })
    }

    /// Who this account acts as.
    pub fn principal(&self) -> Principal {
        Principal {
            subject: Subject::User(self.name.clone()),
            role: self.role,
            area: self.area.clone(),
        }
    }
}

/// Checks that an account or token of `role` may be scoped to `area`: the
/// area exists, its level fits the role, and the role is not the devices' own.
pub fn check_scope(role: Role, area: &AreaCode, tree: &AreaTree) -> Result<(), AccessError> {
    if !role.is_person() {
        return Err(AccessError::DeviceRole);
    }
    let level = tree.require(area)?.level;
    if !role.fits(level) {
        return Err(AccessError::RoleDoesNotFitArea {
            role,
            area: area.clone(),
            level,
        });
    }
    Ok(())
}

impl Record for Account {
    const TREE: &'static str = "accounts";
    fn key(&self) -> Vec<u8> {
        self.name.as_str().as_bytes().to_vec()
    }
}
