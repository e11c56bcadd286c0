//! Roles, and the level of area an account of each role is scoped to.

use std::fmt;

use hub_core::AreaLevel;
use serde::{Deserialize, Serialize};

/// What an account may do; where it may do it is its area.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// Accounts, devices, areas, backups, the audit log. Writes no bulletins.
    Administrator,
    /// Writes province-level bulletins.
    ProvincialEditor,
    /// Writes district-level bulletins for communes of the district.
    DistrictEditor,
    /// A member of the editorial board: approves or rejects sensitive bulletins.
    Reviewer,
    /// The chair of a commune: orders, opts in and writes the commune's bulletins.
    CommuneChair,
    /// A duty officer: triggers and stops emergencies, watches device health.
    /// Scoped to the central area, the account of the central (national)
    /// source system, whose emergency requests play at once like an operator's.
    Operator,
    /// A field device, on its own endpoints only.
    Device,
}

impl Role {
    pub const ALL: [Role; 7] = [
        Role::Administrator,
        Role::ProvincialEditor,
        Role::DistrictEditor,
        Role::Reviewer,
        Role::CommuneChair,
        Role::Operator,
        Role::Device,
    ];

    /// Whether an account of this role may be scoped to an area of `level`.
    /// A national administrator is scoped to the central area.
    pub fn fits(self, level: AreaLevel) -> bool {
        use AreaLevel::*;
        match self {
            Role::Administrator => matches!(level, Central | Province),
            Role::ProvincialEditor => level == Province,
            Role::DistrictEditor => level == District,
            Role::Reviewer => matches!(level, Province | District),
            Role::CommuneChair | Role::Device => level == Commune,
            Role::Operator => matches!(level, Central | Province | District | Commune),
        }
    }

    /// People log in; devices use their own credentials.
    pub fn is_person(self) -> bool {
        self != Role::Device
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Role::Administrator => "administrator",
            Role::ProvincialEditor => "provincial editor",
            Role::DistrictEditor => "district editor",
            Role::Reviewer => "reviewer",
            Role::CommuneChair => "commune chair",
            Role::Operator => "operator",
            Role::Device => "device",
        })
    }
}
