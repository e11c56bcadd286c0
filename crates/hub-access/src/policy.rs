//! The authorization policy: one function, one table.
//!
//! [`authorize`] first checks the kind of target and that the principal's
//! role fits its area, then looks up the `Rule` for the (action, role) pair in the `rule` table (anything
//! not listed is refused), then applies the rule to the target, then the
//! conditions of the action itself (bulletin state, author ≠ reviewer,
//! emergencies only through the operator's actions).

use hub_core::{AreaCode, AreaLevel, AreaTree, BulletinState, PriorityClass};

use crate::{Action, BulletinFacts, Principal, Role, Subject, Target, TargetKind};

/// Why the policy refused. Each variant names the rule that applied.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum Denied {
    #[error("a {role} may not {action:?}")]
    Role { role: Role, action: Action },

    #[error("{target} lies outside {area}, the area of this account")]
    OutsideArea { target: AreaCode, area: AreaCode },

    #[error("bulletins issued by {issuer} are not yours to write: this account issues for {area}")]
    NotYourIssuer { issuer: AreaCode, area: AreaCode },

    #[error("the author of a bulletin may not review it")]
    OwnBulletin,

    #[error("{action:?} needs a {needed:?} bulletin; this one is {state:?}")]
    WrongState {
        action: Action,
        needed: &'static str,
        state: BulletinState,
    },

    #[error("emergency broadcasts are triggered and stopped by operators only")]
    EmergencyIsForOperators,

    #[error("{action:?} applies to emergency bulletins only")]
    NotAnEmergency { action: Action },

    #[error("only one's own account allows this")]
    NotOwnAccount,

    #[error("a device may act only for itself")]
    NotOwnDevice,

    #[error("a {role} account cannot act from {area}, which is a {level:?}")]
    RoleDoesNotFitArea {
        role: Role,
        area: AreaCode,
        level: AreaLevel,
    },

    #[error("unknown area {0}")]
    UnknownArea(AreaCode),

    /// The caller passed the wrong kind of target: a bug in the caller, refused
    /// rather than guessed at.
    #[error("{action:?} is about a {expected:?}, not a {given:?}")]
    WrongTarget {
        action: Action,
        expected: TargetKind,
        given: TargetKind,
    },
}

/// How a permitted (action, role) pair is checked against its target.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Rule {
    /// Nothing to check beyond the role.
    Anyone,
    /// The object lies within the principal's area (a bulletin: its issuer
    /// and every target).
    InArea,
    /// A bulletin issued in the name of the principal's own area, targeting
    /// only inside it: editors write at their own level.
    Issue,
    /// The principal's own account.
    OwnAccount,
    /// The principal's own device.
    OwnDevice,
}

/// The design, as a table: who may do what, and under which rule.
/// Every pair not listed is refused with [`Denied::Role`].
fn rule(action: Action, role: Role) -> Option<Rule> {
    use Action::*;
    use Role::*;
    let rule = match (action, role) {
        (LogIn | LogOut, _) if role.is_person() => Rule::Anyone,

        (ManageAreas | RegisterDevice | ProvisionDevice | RevokeDevice, Administrator) => {
            Rule::InArea
        }
        (CreateUser | DisableUser | ChangeRole | CreateToken | RevokeToken, Administrator) => {
            Rule::InArea
        }
        (ReadAudit | RunBackup | RestoreBackup, Administrator) => Rule::InArea,
        (ChangePassword, Administrator) => Rule::InArea,
        (ChangePassword, _) if role.is_person() => Rule::OwnAccount,

        (EditCommuneSettings, Administrator | CommuneChair) => Rule::InArea,
        (ViewDeviceHealth, Administrator | Operator | CommuneChair) => Rule::InArea,
        (ViewProgramme, _) if role.is_person() => Rule::InArea,
        // A commune chair reads their commune's report, an operator the
        // delivery of emergencies in their area.
        (
            ReadReports,
            Administrator | ProvincialEditor | DistrictEditor | CommuneChair | Operator,
        ) => Rule::InArea,

        (
            CreateBulletin | EditDraft | SubmitBulletin | CancelBulletin,
            ProvincialEditor | DistrictEditor | CommuneChair,
        ) => Rule::Issue,
        (UploadMedia, ProvincialEditor | DistrictEditor | CommuneChair | Operator) => Rule::InArea,
        (ApproveBulletin | RejectBulletin, Reviewer) => Rule::InArea,
        (ReorderPriority | OptIn | OptOut, CommuneChair) => Rule::InArea,

        (TriggerEmergency, Operator) => Rule::Issue,
        (StopEmergency, Operator) => Rule::InArea,
        (IngestCap, Operator) => Rule::Issue,

        (DeviceReport | DeviceFetchMedia, Device) => Rule::OwnDevice,

        _ => return None,
    };
    Some(rule)
}

/// Decides whether `principal` may perform `action` on `target`, with the
/// areas of `tree`. `Ok(())` or the rule that refused.
pub fn authorize(
    principal: &Principal,
    action: Action,
    target: Target<'_>,
    tree: &AreaTree,
) -> Result<(), Denied> {
    let expected = action.target_kind();
    if target.kind() != expected {
        return Err(Denied::WrongTarget {
            action,
            expected,
            given: target.kind(),
        });
    }
    let home = tree
        .get(&principal.area)
        .ok_or_else(|| Denied::UnknownArea(principal.area.clone()))?;
    if !principal.role.fits(home.level) {
        return Err(Denied::RoleDoesNotFitArea {
            role: principal.role,
            area: principal.area.clone(),
            level: home.level,
        });
    }
    let rule = rule(action, principal.role).ok_or(Denied::Role {
        role: principal.role,
        action,
    })?;
    check_rule(rule, action, principal, target, tree)?;
    if let Target::Bulletin(bulletin) = target {
        check_bulletin(action, principal, bulletin)?;
    }
    Ok(())
}

fn check_rule(
    rule: Rule,
    action: Action,
    principal: &Principal,
    target: Target<'_>,
    tree: &AreaTree,
) -> Result<(), Denied> {
    let within = |code: &AreaCode| within(tree, code, &principal.area);
    match (rule, target) {
        (Rule::Anyone, _) => Ok(()),
        (Rule::InArea, Target::Area(code)) => within(code),
        (Rule::InArea, Target::Device(device)) => within(&device.commune),
        (Rule::InArea, Target::Account(account)) => within(&account.area),
        (Rule::InArea, Target::Bulletin(bulletin)) => {
            within(&bulletin.issuer)?;
            bulletin.targets.iter().try_for_each(within)
        }
        (Rule::Issue, Target::Bulletin(bulletin)) => {
            if bulletin.issuer != principal.area {
                return Err(Denied::NotYourIssuer {
                    issuer: bulletin.issuer.clone(),
                    area: principal.area.clone(),
                });
            }
            bulletin.targets.iter().try_for_each(within)
        }
        (Rule::OwnAccount, Target::Account(account)) if account.subject == principal.subject => {
            Ok(())
        }
        (Rule::OwnAccount, _) => Err(Denied::NotOwnAccount),
        (Rule::OwnDevice, Target::Device(device))
            if principal.subject == Subject::Device(device.id.clone())
                && device.commune == principal.area =>
        {
            Ok(())
        }
        (Rule::OwnDevice, _) => Err(Denied::NotOwnDevice),
        // The table gives area rules only to actions about an object, and
        // `authorize` checked the target's kind, so this is never reached;
        // refusing keeps it closed if the table changes.
        (Rule::InArea | Rule::Issue, other) => Err(Denied::WrongTarget {
            action,
            expected: action.target_kind(),
            given: other.kind(),
        }),
    }
}

fn within(tree: &AreaTree, code: &AreaCode, area: &AreaCode) -> Result<(), Denied> {
    tree.get(code)
        .ok_or_else(|| Denied::UnknownArea(code.clone()))?;
    if tree.is_within(code, area) {
        Ok(())
    } else {
        Err(Denied::OutsideArea {
            target: code.clone(),
            area: area.clone(),
        })
    }
}

/// The conditions an action puts on the bulletin itself, whoever acts.
fn check_bulletin(
    action: Action,
    principal: &Principal,
    bulletin: &BulletinFacts,
) -> Result<(), Denied> {
    use Action::*;
    let emergency = bulletin.class == PriorityClass::Emergency;
    let state = bulletin.state;
    let need = |ok: bool, needed: &'static str| {
        if ok {
            Ok(())
        } else {
            Err(Denied::WrongState {
                action,
                needed,
                state,
            })
        }
    };
    match action {
        CreateBulletin | EditDraft | SubmitBulletin | CancelBulletin if emergency => {
            Err(Denied::EmergencyIsForOperators)
        }
        TriggerEmergency | StopEmergency if !emergency => Err(Denied::NotAnEmergency { action }),
        EditDraft | SubmitBulletin => need(state == BulletinState::Draft, "draft"),
        ApproveBulletin | RejectBulletin => {
            if bulletin.author.as_ref() == Some(&principal.subject) {
                return Err(Denied::OwnBulletin);
            }
            need(state == BulletinState::Submitted, "submitted")
        }
        CancelBulletin | StopEmergency => need(!state.is_final(), "still open"),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests;
