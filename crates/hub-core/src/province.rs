//! The province as the scheduler sees it: areas, devices, windows, commune settings.

use std::collections::{BTreeMap, HashMap};

use chrono_tz::Tz;

use crate::{
    AreaCode, AreaLevel, AreaTree, CommuneSettings, CoreError, DailyWindows, Device, DeviceId,
    DeviceKind, WindowPolicy,
};

/// The fairly static half of the hub's state. Built once, validated as a whole.
#[derive(Clone, Debug)]
pub struct Province {
    pub tz: Tz,
    pub tree: AreaTree,
    pub windows: WindowPolicy,
    settings: HashMap<AreaCode, CommuneSettings>,
    devices: BTreeMap<DeviceId, Device>,
    devices_by_commune: HashMap<AreaCode, Vec<DeviceId>>,
}

impl Province {
    /// Validates that every device and every settings record belongs to a commune
    /// of the tree; communes without settings get the defaults (Vietnamese, province windows).
    pub fn new(
        tz: Tz,
        tree: AreaTree,
        windows: WindowPolicy,
        settings: impl IntoIterator<Item = CommuneSettings>,
        devices: impl IntoIterator<Item = Device>,
    ) -> Result<Self, CoreError> {
        let mut by_commune: HashMap<AreaCode, CommuneSettings> = HashMap::new();
        for s in settings {
            require_commune(&tree, &s.commune)?;
            if s.languages.is_empty() {
                return Err(CoreError::InvalidArea {
                    code: s.commune.clone(),
                    reason: "a commune needs at least one language".into(),
                });
            }
            by_commune.insert(s.commune.clone(), s);
        }
        for commune in tree.communes() {
            by_commune
                .entry(commune.code.clone())
                .or_insert_with(|| CommuneSettings::default_for(commune.code.clone()));
        }
        let mut by_id = BTreeMap::new();
        let mut devices_by_commune: HashMap<AreaCode, Vec<DeviceId>> = HashMap::new();
        for device in devices {
            if require_commune(&tree, &device.commune).is_err() {
                return Err(CoreError::InvalidDevice {
                    id: device.id.clone(),
                    reason: format!("{} is not a commune of this province", device.commune),
                });
            }
            devices_by_commune
                .entry(device.commune.clone())
                .or_default()
                .push(device.id.clone());
            if let Some(dup) = by_id.insert(device.id.clone(), device) {
                return Err(CoreError::InvalidDevice {
                    id: dup.id,
                    reason: "id is used twice".into(),
                });
            }
        }
        for ids in devices_by_commune.values_mut() {
            ids.sort();
        }
        Ok(Self {
            tz,
            tree,
            windows,
            settings: by_commune,
            devices: by_id,
            devices_by_commune,
        })
    }

    /// Adds a device registered while the hub runs: its commune must be one
    /// of the province's and its id new.
    pub fn add_device(&mut self, device: Device) -> Result<(), CoreError> {
        if require_commune(&self.tree, &device.commune).is_err() {
            return Err(CoreError::InvalidDevice {
                id: device.id.clone(),
                reason: format!("{} is not a commune of this province", device.commune),
            });
        }
        if self.devices.contains_key(&device.id) {
            return Err(CoreError::InvalidDevice {
                id: device.id,
                reason: "id is already registered".into(),
            });
        }
        let ids = self
            .devices_by_commune
            .entry(device.commune.clone())
            .or_default();
        ids.push(device.id.clone());
        ids.sort();
        self.devices.insert(device.id.clone(), device);
        Ok(())
    }

    pub fn devices(&self) -> impl Iterator<Item = &Device> {
        self.devices.values()
    }

    pub fn device(&self, id: &DeviceId) -> Result<&Device, CoreError> {
        self.devices
            .get(id)
            .ok_or_else(|| CoreError::UnknownDevice(id.clone()))
    }

    /// Devices of one commune, in id order.
    pub fn devices_in(&self, commune: &AreaCode) -> &[DeviceId] {
        self.devices_by_commune
            .get(commune)
            .map(Vec::as_slice)
            .unwrap_or(&[])
    }

    pub fn settings(&self, commune: &AreaCode) -> &CommuneSettings {
        &self.settings[commune]
    }

    pub fn all_settings(&self) -> impl Iterator<Item = &CommuneSettings> {
        self.settings.values()
    }

    /// The windows that apply to devices of `kind` in `commune`.
    pub fn windows_for(&self, commune: &AreaCode, kind: DeviceKind) -> &DailyWindows {
        self.settings(commune).windows(kind, &self.windows)
    }
}

/// Checks that `code` is a commune of `tree`.
pub(crate) fn require_commune(tree: &AreaTree, code: &AreaCode) -> Result<(), CoreError> {
    match tree.require(code)?.level {
        AreaLevel::Commune => Ok(()),
        level => Err(CoreError::InvalidArea {
            code: code.clone(),
            reason: format!("is a {level:?}, not a commune"),
        }),
    }
}
