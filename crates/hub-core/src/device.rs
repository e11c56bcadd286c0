//! Field devices: loudspeaker clusters and LED boards, each in exactly one commune.

use serde::{Deserialize, Serialize};

use crate::{AreaCode, DeviceId};

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DeviceKind {
    /// An IP loudspeaker cluster: plays the audio part of a bulletin.
    Loudspeaker,
    /// A public electronic LED board: shows the visual part of a bulletin.
    LedBoard,
}

impl DeviceKind {
    pub const ALL: [DeviceKind; 2] = [DeviceKind::Loudspeaker, DeviceKind::LedBoard];

    /// The kind as the device protocol names it.
    pub fn wire(self) -> hub_proto::Kind {
        match self {
            Self::Loudspeaker => hub_proto::Kind::Loudspeaker,
            Self::LedBoard => hub_proto::Kind::LedBoard,
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Device {
    pub id: DeviceId,
    pub kind: DeviceKind,
    pub commune: AreaCode,
    pub name: String,
}
