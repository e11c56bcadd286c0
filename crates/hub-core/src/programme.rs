//! The programme: bulletins plus what commune chairs decided about them.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use chrono::{DateTime, NaiveDateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::province::require_commune;
use crate::{
    AreaCode, AreaLevel, Bulletin, BulletinId, BulletinState, CoreError, DeviceId, PriorityClass,
    Province,
};

/// A commune chair's order for colliding priority bulletins in their commune.
/// The listed bulletins take the places they would have had by issuing level,
/// in the chair's order; bulletins not listed keep theirs.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChairOrder {
    pub commune: AreaCode,
    pub order: Vec<BulletinId>,
}

/// A commune chair choosing to air a normal bulletin from a local time on.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct OptIn {
    pub commune: AreaCode,
    pub bulletin: BulletinId,
    /// Local (province time zone) wall-clock time from which it may air.
    pub at: NaiveDateTime,
}

#[derive(Clone, Debug, Default)]
pub struct Programme {
    bulletins: BTreeMap<BulletinId, Bulletin>,
    chair_orders: BTreeMap<AreaCode, ChairOrder>,
    opt_ins: BTreeMap<(AreaCode, BulletinId), OptIn>,
    /// Bulletins that target each commune, in id order.
    by_commune: HashMap<AreaCode, BTreeSet<BulletinId>>,
    /// The correction of each corrected bulletin.
    corrections: HashMap<BulletinId, BulletinId>,
}

impl Programme {
    pub fn bulletin(&self, id: &BulletinId) -> Result<&Bulletin, CoreError> {
        self.bulletins
            .get(id)
            .ok_or_else(|| CoreError::UnknownBulletin(id.clone()))
    }

    pub(crate) fn bulletin_mut(&mut self, id: &BulletinId) -> Result<&mut Bulletin, CoreError> {
        self.bulletins
            .get_mut(id)
            .ok_or_else(|| CoreError::UnknownBulletin(id.clone()))
    }

    pub fn bulletins(&self) -> impl Iterator<Item = &Bulletin> {
        self.bulletins.values()
    }

    /// Bulletin ids that target `commune`, in id order.
    pub fn bulletins_for(&self, commune: &AreaCode) -> impl Iterator<Item = &BulletinId> {
        self.by_commune.get(commune).into_iter().flatten()
    }

    pub fn chair_order(&self, commune: &AreaCode) -> Option<&ChairOrder> {
        self.chair_orders.get(commune)
    }

    pub fn chair_orders(&self) -> impl Iterator<Item = &ChairOrder> {
        self.chair_orders.values()
    }

    pub fn opt_in(&self, commune: &AreaCode, bulletin: &BulletinId) -> Option<&OptIn> {
        self.opt_ins.get(&(commune.clone(), bulletin.clone()))
    }

    pub fn opt_ins(&self) -> impl Iterator<Item = &OptIn> {
        self.opt_ins.values()
    }

    /// Adds a bulletin, or replaces one that is still a draft.
    pub fn insert_bulletin(
        &mut self,
        province: &Province,
        bulletin: Bulletin,
    ) -> Result<(), CoreError> {
        bulletin.validate(&province.tree)?;
        for device in bulletin.devices.iter().flatten() {
            let commune = &province.device(device)?.commune;
            let targeted = bulletin
                .targets
                .iter()
                .any(|t| province.tree.communes_under(t).contains(commune));
            if !targeted {
                return Err(CoreError::InvalidBulletin {
                    id: bulletin.id.clone(),
                    reason: format!("device {device} is not in its target areas"),
                });
            }
        }
        if let Some(existing) = self.bulletins.get(&bulletin.id) {
            if existing.state != BulletinState::Draft {
                return Err(CoreError::BulletinExists { id: bulletin.id });
            }
            self.unindex(&bulletin.id);
        }
        for target in &bulletin.targets {
            for commune in province.tree.communes_under(target) {
                self.by_commune
                    .entry(commune.clone())
                    .or_default()
                    .insert(bulletin.id.clone());
            }
        }
        if let Some(corrected) = &bulletin.corrects {
            self.corrections
                .insert(corrected.clone(), bulletin.id.clone());
        }
        self.bulletins.insert(bulletin.id.clone(), bulletin);
        Ok(())
    }

    /// The correction of `corrected`, valid at `now` and neither cancelled
    /// nor expired, reaches `device` too, which reported airing
    /// `corrected`. Returns the correction when it did not reach the device
    /// before.
    pub(crate) fn reach_correction(
        &mut self,
        province: &Province,
        corrected: &BulletinId,
        device: &DeviceId,
        now: DateTime<Utc>,
    ) -> Option<BulletinId> {
        let id = self.corrections.get(corrected)?;
        let correction = self.bulletins.get_mut(id)?;
        let open = (correction.state.is_schedulable() || correction.state == BulletinState::Done)
            && !correction.is_expired_at(now);
        let commune = &province.device(device).ok()?.commune;
        if !open || !correction.reach(&province.tree, device, commune) {
            return None;
        }
        self.by_commune
            .entry(commune.clone())
            .or_default()
            .insert(id.clone());
        Some(id.clone())
    }

    /// Whether a schedulable bulletin for `commune` is meant for some of
    /// its devices only.
    pub fn has_device_lists(&self, commune: &AreaCode) -> bool {
        self.bulletins_for(commune).any(|id| {
            self.bulletins
                .get(id)
                .is_some_and(|b| b.devices.is_some() && b.state.is_schedulable())
        })
    }

    fn unindex(&mut self, id: &BulletinId) {
        for ids in self.by_commune.values_mut() {
            ids.remove(id);
        }
        self.corrections.retain(|_, correction| correction != id);
    }

    fn targets(&self, commune: &AreaCode, id: &BulletinId) -> bool {
        self.by_commune
            .get(commune)
            .is_some_and(|ids| ids.contains(id))
    }

    /// Sets a chair's order after checking that it only orders priority
    /// bulletins of that commune and involves one of the commune's own.
    pub fn set_chair_order(
        &mut self,
        province: &Province,
        order: ChairOrder,
    ) -> Result<(), CoreError> {
        let fail = |reason: String| CoreError::InvalidChairOrder {
            commune: order.commune.clone(),
            reason,
        };
        require_commune(&province.tree, &order.commune)?;
        let mut seen = BTreeSet::new();
        let mut has_own = false;
        for id in &order.order {
            if !seen.insert(id) {
                return Err(fail(format!("bulletin {id} is listed twice")));
            }
            let b = self.bulletin(id)?;
            match b.class {
                PriorityClass::Emergency => {
                    return Err(fail(format!(
                        "{id} is an emergency; emergencies cannot be reordered"
                    )))
                }
                PriorityClass::Normal => {
                    return Err(fail(format!(
                        "{id} is a normal bulletin; opt it in instead of ordering it"
                    )))
                }
                PriorityClass::Priority => {}
            }
            if !self.targets(&order.commune, id) {
                return Err(fail(format!("{id} does not target this commune")));
            }
            has_own |= b.level == AreaLevel::Commune && b.issuer == order.commune;
        }
        if !has_own {
            return Err(fail(
                "a chair orders collisions with the commune's own priority bulletins; none is listed".into(),
            ));
        }
        self.chair_orders.insert(order.commune.clone(), order);
        Ok(())
    }

    /// Opts a normal bulletin in for a commune (replacing an earlier choice).
    pub fn set_opt_in(&mut self, province: &Province, opt_in: OptIn) -> Result<(), CoreError> {
        let fail = |reason: &str| CoreError::InvalidOptIn {
            commune: opt_in.commune.clone(),
            bulletin: opt_in.bulletin.clone(),
            reason: reason.to_owned(),
        };
        require_commune(&province.tree, &opt_in.commune)?;
        if self.bulletin(&opt_in.bulletin)?.class != PriorityClass::Normal {
            return Err(fail(
                "only normal bulletins are opted in; priority and emergency ones air anyway",
            ));
        }
        if !self.targets(&opt_in.commune, &opt_in.bulletin) {
            return Err(fail("the bulletin does not target this commune"));
        }
        self.opt_ins
            .insert((opt_in.commune.clone(), opt_in.bulletin.clone()), opt_in);
        Ok(())
    }

    /// Withdraws a commune's opt-in; returns whether there was one.
    pub fn remove_opt_in(&mut self, commune: &AreaCode, bulletin: &BulletinId) -> bool {
        self.opt_ins
            .remove(&(commune.clone(), bulletin.clone()))
            .is_some()
    }

    /// Priority bulletins targeting `commune`, in airing order: by issuing
    /// level (central first), then not-before, then id; then the chair's
    /// order is applied to the places its bulletins hold.
    pub fn priority_order(&self, commune: &AreaCode) -> Vec<&BulletinId> {
        let mut ids: Vec<&Bulletin> = self
            .bulletins_for(commune)
            .map(|id| &self.bulletins[id])
            .filter(|b| b.class == PriorityClass::Priority)
            .collect();
        ids.sort_by(|a, b| {
            (a.level, a.validity.not_before, &a.id).cmp(&(b.level, b.validity.not_before, &b.id))
        });
        let mut order: Vec<&BulletinId> = ids.iter().map(|b| &b.id).collect();
        if let Some(chair) = self.chair_orders.get(commune) {
            let listed: BTreeSet<&BulletinId> = chair.order.iter().collect();
            let present: BTreeSet<&BulletinId> = order.iter().copied().collect();
            let mut chosen = chair.order.iter().filter(|id| present.contains(id));
            for slot in order.iter_mut() {
                if listed.contains(*slot) {
                    *slot = chosen.next().expect("one chosen bulletin per listed place");
                }
            }
        }
        order
    }
}
