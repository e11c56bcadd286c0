//! Errors of the domain: every one says what was wrong and with which record.

use crate::{AreaCode, BulletinId, BulletinState, DeviceId};

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CoreError {
    #[error("invalid {what} {value:?}: {reason}")]
    InvalidId {
        what: &'static str,
        value: String,
        reason: &'static str,
    },
    #[error("invalid operating window {value:?}: {reason}")]
    InvalidWindow { value: String, reason: String },
    #[error("area {code}: {reason}")]
    InvalidArea { code: AreaCode, reason: String },
    #[error("unknown area {0}")]
    UnknownArea(AreaCode),
    #[error("device {id}: {reason}")]
    InvalidDevice { id: DeviceId, reason: String },
    #[error("unknown device {0}")]
    UnknownDevice(DeviceId),
    #[error("bulletin {id}: {reason}")]
    InvalidBulletin { id: BulletinId, reason: String },
    #[error("unknown bulletin {0}")]
    UnknownBulletin(BulletinId),
    #[error("bulletin {id} already exists and is no longer a draft")]
    BulletinExists { id: BulletinId },
    #[error("bulletin {id} is {from:?}; it cannot become {to:?}")]
    InvalidTransition {
        id: BulletinId,
        from: BulletinState,
        to: BulletinState,
    },
    #[error("chair order for commune {commune}: {reason}")]
    InvalidChairOrder { commune: AreaCode, reason: String },
    #[error("opt-in of bulletin {bulletin} in commune {commune}: {reason}")]
    InvalidOptIn {
        commune: AreaCode,
        bulletin: BulletinId,
        reason: String,
    },
}
