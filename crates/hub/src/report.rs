//! Renders a day plan for people (per commune, per group of devices that play
//! the same) or as the devices' own wire payloads (JSON lines).

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use hub_core::{
    AreaLevel, Device, DeviceKind, Horizon, PlanItem, PriorityClass, Programme, Province,
};
use hub_proto::{DevicePlan, PROTOCOL_VERSION};

use crate::link::dispatch::wire_entry;

/// Every device's plan for one horizon.
pub struct DayPlan<'a> {
    pub province: &'a Province,
    pub programme: &'a Programme,
    pub horizon: Horizon,
    pub plans: BTreeMap<&'a hub_core::DeviceId, Arc<[PlanItem]>>,
    /// What media URLs start with, for `--json`'s entries.
    pub media_base: &'a str,
}

impl DayPlan<'_> {
    /// One [`DevicePlan`] JSON document per line, in device id order, with
    /// entries as the hub sends them (board text, loudspeaker media).
    pub fn to_json_lines(&self) -> String {
        let mut out = String::new();
        for device in self.province.devices() {
            let plan = DevicePlan {
                v: PROTOCOL_VERSION,
                device: device.id.to_string(),
                date: self.horizon.date,
                generated_at: self.horizon.now,
                entries: self.plans[&device.id]
                    .iter()
                    .map(|i| wire_entry(self.programme, i, device.kind, self.media_base))
                    .collect(),
            };
            out.push_str(&String::from_utf8(plan.to_json()).expect("JSON is UTF-8"));
            out.push('\n');
        }
        out
    }

    /// A readable report: per commune, devices of one kind that play the same
    /// thing are shown once.
    pub fn to_text(&self) -> String {
        let tz = self.province.tz;
        let local = |t: DateTime<Utc>| t.with_timezone(&tz);
        let mut out = String::new();
        let province = self
            .province
            .tree
            .areas()
            .find(|a| a.level == AreaLevel::Province);
        let _ = writeln!(
            out,
            "Plan for {} on {} from {} ({tz})",
            province.map_or("the province", |p| p.name.as_str()),
            self.horizon.date.format("%A %Y-%m-%d"),
            local(self.horizon.now).format("%H:%M"),
        );
        let communes: Vec<_> = self.province.tree.communes().collect();
        let _ = writeln!(
            out,
            "{} devices in {} communes; {} bulletins, {} of them approved for airing",
            self.plans.len(),
            communes.len(),
            self.programme.bulletins().count(),
            self.programme
                .bulletins()
                .filter(|b| b.state.is_schedulable())
                .count(),
        );
        for commune in communes {
            let parent = commune
                .parent
                .as_ref()
                .and_then(|p| self.province.tree.get(p))
                .filter(|p| p.level == AreaLevel::District)
                .map(|d| format!(", {}", d.name))
                .unwrap_or_default();
            let languages: Vec<_> = self
                .province
                .settings(&commune.code)
                .languages
                .iter()
                .map(|l| l.to_string())
                .collect();
            let _ = writeln!(
                out,
                "\n{} ({}){parent} — languages {}",
                commune.name,
                commune.code,
                languages.join(", ")
            );
            let devices: Vec<&Device> = self
                .province
                .devices_in(&commune.code)
                .iter()
                .filter_map(|id| self.province.device(id).ok())
                .collect();
            if devices.is_empty() {
                let _ = writeln!(out, "  no devices");
            }
            for (kind, group) in group_by_plan(&devices, &self.plans) {
                let noun = match kind {
                    DeviceKind::Loudspeaker => "loudspeaker cluster",
                    DeviceKind::LedBoard => "LED board",
                };
                let windows: Vec<_> = self
                    .province
                    .windows_for(&commune.code, kind)
                    .windows()
                    .iter()
                    .map(|w| w.to_string())
                    .collect();
                let ids = match group.as_slice() {
                    [one] => one.id.to_string(),
                    [first, .., last] => format!("{} … {} ({})", first.id, last.id, group.len()),
                    [] => unreachable!("groups are never empty"),
                };
                let _ = writeln!(out, "  {noun} {ids}, windows {}", windows.join(" "));
                let items = &self.plans[&group[0].id];
                if items.is_empty() {
                    let _ = writeln!(out, "    nothing to play for the rest of the day");
                }
                for item in items.iter() {
                    let title = self
                        .programme
                        .bulletin(&item.key.bulletin)
                        .map(|b| b.title.as_str())
                        .unwrap_or("");
                    let class = match item.class {
                        PriorityClass::Emergency => "EMERGENCY",
                        PriorityClass::Priority => "priority",
                        PriorityClass::Normal => "normal",
                    };
                    let cut = if item.preempted {
                        "  (cut by an emergency, replayed later)"
                    } else {
                        ""
                    };
                    let _ = writeln!(
                        out,
                        "    {}-{}  {class:<9}  {} [{}]  {title}{cut}",
                        local(item.start).format("%H:%M:%S"),
                        local(item.end).format("%H:%M:%S"),
                        item.key.bulletin,
                        item.key.language,
                    );
                }
            }
        }
        out
    }
}

/// Groups consecutive devices of one kind whose plans are identical.
fn group_by_plan<'a>(
    devices: &[&'a Device],
    plans: &BTreeMap<&hub_core::DeviceId, Arc<[PlanItem]>>,
) -> Vec<(DeviceKind, Vec<&'a Device>)> {
    let mut groups: Vec<(DeviceKind, Vec<&Device>)> = Vec::new();
    for kind in DeviceKind::ALL {
        for device in devices.iter().filter(|d| d.kind == kind) {
            let same = groups
                .iter_mut()
                .find(|(k, g)| *k == kind && plans[&g[0].id] == plans[&device.id]);
            match same {
                Some((_, group)) => group.push(device),
                None => groups.push((kind, vec![device])),
            }
        }
    }
    groups
}
