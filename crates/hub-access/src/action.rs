//! Every operation the API will offer that needs permission, and the facts
//! about its object the policy decides on.

use hub_core::{AreaCode, BulletinState, DeviceId, PriorityClass};
use serde::{Deserialize, Serialize};

use crate::{Role, Subject};

/// An operation someone asks for. Every mutating operation of the API is
/// here, plus the reads that are scoped (audit, device health, programme,
/// reports), so one policy decides them all and the audit log names them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    // Sessions.
    LogIn,
    LogOut,
    // Areas.
    /// Create, rename, move or remove an area (target: the area, or the
    /// parent of one being created).
    ManageAreas,
    /// A commune's operating windows and languages.
    EditCommuneSettings,
    // Devices.
    RegisterDevice,
    /// Issue a device's credentials (its provisioning file).
    ProvisionDevice,
    RevokeDevice,
    ViewDeviceHealth,
    // A device's own endpoints.
    DeviceReport,
    DeviceFetchMedia,
    // Bulletins.
    /// Store an audio recording for a bulletin or an emergency (target: the
    /// area it is meant for).
    UploadMedia,
    CreateBulletin,
    EditDraft,
    SubmitBulletin,
    ApproveBulletin,
    RejectBulletin,
    CancelBulletin,
    ViewProgramme,
    // A commune's schedule.
    ReorderPriority,
    OptIn,
    OptOut,
    // Emergencies.
    TriggerEmergency,
    StopEmergency,
    /// Post a CAP 1.2 alert (target: the bulletin it becomes, or the one an
    /// Update or Cancel acts on): operators and the central system's
    /// account, in the name of their own area, of any class.
    IngestCap,
    // Accounts and tokens.
    CreateUser,
    DisableUser,
    /// Change an account's role or area.
    ChangeRole,
    ChangePassword,
    CreateToken,
    RevokeToken,
    // Oversight and operations.
    ReadAudit,
    ReadReports,
    RunBackup,
    RestoreBackup,
}

impl Action {
    pub const ALL: [Action; 34] = [
        Action::LogIn,
        Action::LogOut,
        Action::ManageAreas,
        Action::EditCommuneSettings,
        Action::RegisterDevice,
        Action::ProvisionDevice,
        Action::RevokeDevice,
        Action::ViewDeviceHealth,
        Action::DeviceReport,
        Action::DeviceFetchMedia,
        Action::UploadMedia,
        Action::CreateBulletin,
        Action::EditDraft,
        Action::SubmitBulletin,
        Action::ApproveBulletin,
        Action::RejectBulletin,
        Action::CancelBulletin,
        Action::ViewProgramme,
        Action::ReorderPriority,
        Action::OptIn,
        Action::OptOut,
        Action::TriggerEmergency,
        Action::StopEmergency,
        Action::IngestCap,
        Action::CreateUser,
        Action::DisableUser,
        Action::ChangeRole,
        Action::ChangePassword,
        Action::CreateToken,
        Action::RevokeToken,
        Action::ReadAudit,
        Action::ReadReports,
        Action::RunBackup,
        Action::RestoreBackup,
    ];

    /// The kind of object the action is about.
    pub fn target_kind(self) -> TargetKind {
        use Action::*;
        match self {
            LogIn | LogOut => TargetKind::Nothing,
            ManageAreas | EditCommuneSettings | RegisterDevice | ViewDeviceHealth | UploadMedia
            | ViewProgramme | ReorderPriority | OptIn | OptOut | ReadAudit | ReadReports
            | RunBackup | RestoreBackup => TargetKind::Area,
            ProvisionDevice | RevokeDevice | DeviceReport | DeviceFetchMedia => TargetKind::Device,
            CreateBulletin | EditDraft | SubmitBulletin | ApproveBulletin | RejectBulletin
            | CancelBulletin | TriggerEmergency | StopEmergency | IngestCap => TargetKind::Bulletin,
            CreateUser | DisableUser | ChangeRole | ChangePassword | CreateToken | RevokeToken => {
                TargetKind::Account
            }
        }
    }
}

/// The object of an action, as far as the policy needs to know it.
#[derive(Clone, Copy, Debug)]
pub enum Target<'a> {
    /// Logging in or out concerns only the principal.
    Nothing,
    /// An area: the commune whose schedule or settings change, the area whose
    /// audit, devices or programme are read, the province backed up.
    Area(&'a AreaCode),
    Device(&'a DeviceFacts),
    Bulletin(&'a BulletinFacts),
    /// An account or API token, as it is or as it is to become (for a role
    /// change, authorize against both).
    Account(&'a AccountFacts),
}

impl Target<'_> {
    pub fn kind(&self) -> TargetKind {
        match self {
            Target::Nothing => TargetKind::Nothing,
            Target::Area(_) => TargetKind::Area,
            Target::Device(_) => TargetKind::Device,
            Target::Bulletin(_) => TargetKind::Bulletin,
            Target::Account(_) => TargetKind::Account,
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TargetKind {
    Nothing,
    Area,
    Device,
    Bulletin,
    Account,
}

/// A device, by id and commune.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DeviceFacts {
    pub id: DeviceId,
    pub commune: AreaCode,
}

/// A bulletin as it is (or, when created or triggered, as it will be).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BulletinFacts {
    /// Who wrote it: nobody may review their own bulletin. `None`: it came
    /// from the province configuration file, written by nobody who acts.
    pub author: Option<Subject>,
    pub issuer: AreaCode,
    pub targets: Vec<AreaCode>,
    pub class: PriorityClass,
    pub state: BulletinState,
}

/// An account or an API token: whose it is, its role and its area.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AccountFacts {
    pub subject: Subject,
    pub role: Role,
    pub area: AreaCode,
}
