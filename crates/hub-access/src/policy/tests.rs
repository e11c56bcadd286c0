use hub_core::testkit::{area, code, device_id};
use hub_core::{AreaLevel, AreaTree, BulletinState, PriorityClass};

use super::*;
use crate::{AccountFacts, DeviceFacts, TokenName, Username};

/// The design, one row per action, one cell per role in [`Role::ALL`] order:
/// `Y` allowed inside the principal's area and refused outside it,
/// `A` allowed with no area involved, `.` refused for the role.
const DESIGN: &[(Action, &str)] = &[
    //                                Adm PEd DEd Rev Chr Opr Dev
    (
        Action::LogIn,
        /*            */ "A   A   A   A   A   A   .",
    ),
    (
        Action::LogOut,
        /*           */ "A   A   A   A   A   A   .",
    ),
    (
        Action::ManageAreas,
        /*      */ "Y   .   .   .   .   .   .",
    ),
    (Action::EditCommuneSettings, "Y   .   .   .   Y   .   ."),
    (
        Action::RegisterDevice,
        /*   */ "Y   .   .   .   .   .   .",
    ),
    (
        Action::ProvisionDevice,
        /*  */ "Y   .   .   .   .   .   .",
    ),
    (
        Action::RevokeDevice,
        /*     */ "Y   .   .   .   .   .   .",
    ),
    (
        Action::ViewDeviceHealth,
        /* */ "Y   .   .   .   Y   Y   .",
    ),
    (
        Action::DeviceReport,
        /*     */ ".   .   .   .   .   .   Y",
    ),
    (
        Action::DeviceFetchMedia,
        /* */ ".   .   .   .   .   .   Y",
    ),
    (
        Action::UploadMedia,
        /*      */ ".   Y   Y   .   Y   Y   .",
    ),
    (
        Action::CreateBulletin,
        /*   */ ".   Y   Y   .   Y   .   .",
    ),
    (
        Action::EditDraft,
        /*        */ ".   Y   Y   .   Y   .   .",
    ),
    (
        Action::SubmitBulletin,
        /*   */ ".   Y   Y   .   Y   .   .",
    ),
    (
        Action::ApproveBulletin,
        /*  */ ".   .   .   Y   .   .   .",
    ),
    (
        Action::RejectBulletin,
        /*   */ ".   .   .   Y   .   .   .",
    ),
    (
        Action::CancelBulletin,
        /*   */ ".   Y   Y   .   Y   .   .",
    ),
    (
        Action::ViewProgramme,
        /*    */ "Y   Y   Y   Y   Y   Y   .",
    ),
    (
        Action::ReorderPriority,
        /*  */ ".   .   .   .   Y   .   .",
    ),
    (
        Action::OptIn,
        /*            */ ".   .   .   .   Y   .   .",
    ),
    (
        Action::OptOut,
        /*           */ ".   .   .   .   Y   .   .",
    ),
    (
        Action::TriggerEmergency,
        /* */ ".   .   .   .   .   Y   .",
    ),
    (
        Action::StopEmergency,
        /*    */ ".   .   .   .   .   Y   .",
    ),
    (
        Action::IngestCap,
        /*        */ ".   .   .   .   .   Y   .",
    ),
    (
        Action::CreateUser,
        /*       */ "Y   .   .   .   .   .   .",
    ),
    (
        Action::DisableUser,
        /*      */ "Y   .   .   .   .   .   .",
    ),
    (
        Action::ChangeRole,
        /*       */ "Y   .   .   .   .   .   .",
    ),
    (
        Action::ChangePassword,
        /*   */ "Y   Y   Y   Y   Y   Y   .",
    ),
    (
        Action::CreateToken,
        /*      */ "Y   .   .   .   .   .   .",
    ),
    (
        Action::RevokeToken,
        /*      */ "Y   .   .   .   .   .   .",
    ),
    (
        Action::ReadAudit,
        /*        */ "Y   .   .   .   .   .   .",
    ),
    (
        Action::ReadReports,
        /*      */ "Y   Y   Y   .   Y   Y   .",
    ),
    (
        Action::RunBackup,
        /*        */ "Y   .   .   .   .   .   .",
    ),
    (
        Action::RestoreBackup,
        /*    */ "Y   .   .   .   .   .   .",
    ),
];

/// Province 67 with districts 660 (communes 24611, 24612) and 661 (24650);
/// province 68 without districts (commune 25000).
fn tree() -> AreaTree {
    AreaTree::new([
        area("VN", AreaLevel::Central, None),
        area("67", AreaLevel::Province, Some("VN")),
        area("660", AreaLevel::District, Some("67")),
        area("24611", AreaLevel::Commune, Some("660")),
        area("24612", AreaLevel::Commune, Some("660")),
        area("661", AreaLevel::District, Some("67")),
        area("24650", AreaLevel::Commune, Some("661")),
        area("68", AreaLevel::Province, Some("VN")),
        area("25000", AreaLevel::Commune, Some("68")),
    ])
    .unwrap()
}

fn user(name: &str) -> Subject {
    Subject::User(Username::parse(name).unwrap())
}

fn principal(subject: Subject, role: Role, area: &str) -> Principal {
    Principal {
        subject,
        role,
        area: code(area),
    }
}

/// One principal per role, each in the province 67.
fn principal_for(role: Role) -> Principal {
    match role {
        Role::Administrator => principal(user("admin"), role, "67"),
        Role::ProvincialEditor => principal(user("pe"), role, "67"),
        Role::DistrictEditor => principal(user("de"), role, "660"),
        Role::Reviewer => principal(user("rev"), role, "67"),
        Role::CommuneChair => principal(user("chair"), role, "24611"),
        Role::Operator => principal(user("op"), role, "660"),
        Role::Device => principal(Subject::Device(device_id("24611-LS")), role, "24611"),
    }
}

/// The bulletin state an action expects.
fn state_for(action: Action) -> BulletinState {
    match action {
        Action::ApproveBulletin | Action::RejectBulletin => BulletinState::Submitted,
        Action::CancelBulletin | Action::StopEmergency => BulletinState::Approved,
        _ => BulletinState::Draft,
    }
}

fn class_for(action: Action) -> PriorityClass {
    match action {
        Action::TriggerEmergency | Action::StopEmergency => PriorityClass::Emergency,
        _ => PriorityClass::Priority,
    }
}

/// Facts of every kind about one place: `home` is the area, `commune` a
/// commune inside it, `own` whether the account or device is the principal's.
struct Facts {
    area: hub_core::AreaCode,
    device: DeviceFacts,
    bulletin: BulletinFacts,
    account: AccountFacts,
}

fn facts(action: Action, who: &Principal, home: &str, commune: &str, own: bool) -> Facts {
    let device = match (&who.subject, own) {
        (Subject::Device(id), true) => id.clone(),
        _ => device_id(&format!("{commune}-LB")),
    };
    let account = if own {
        AccountFacts {
            subject: who.subject.clone(),
            role: who.role,
            area: who.area.clone(),
        }
    } else {
        AccountFacts {
            subject: user("someone"),
            role: Role::CommuneChair,
            area: code(commune),
        }
    };
    Facts {
        area: code(home),
        device: DeviceFacts {
            id: device,
            commune: code(commune),
        },
        bulletin: BulletinFacts {
            author: Some(user("author")),
            issuer: code(home),
            targets: vec![code(commune)],
            class: class_for(action),
            state: state_for(action),
        },
        account,
    }
}

fn target<'a>(action: Action, facts: &'a Facts) -> Target<'a> {
    match action.target_kind() {
        TargetKind::Nothing => Target::Nothing,
        TargetKind::Area => Target::Area(&facts.area),
        TargetKind::Device => Target::Device(&facts.device),
        TargetKind::Bulletin => Target::Bulletin(&facts.bulletin),
        TargetKind::Account => Target::Account(&facts.account),
    }
}

#[test]
fn the_design_table_covers_every_action_and_role() {
    let listed: Vec<Action> = DESIGN.iter().map(|(action, _)| *action).collect();
    assert_eq!(
        listed,
        Action::ALL,
        "one row per action, in Action::ALL order"
    );
    for (action, cells) in DESIGN {
        let cells: Vec<&str> = cells.split_whitespace().collect();
        assert_eq!(
            cells.len(),
            Role::ALL.len(),
            "{action:?}: one cell per role"
        );
        assert!(
            cells.iter().all(|c| matches!(*c, "Y" | "A" | ".")),
            "{action:?}"
        );
    }
}

#[test]
fn every_role_and_action_is_decided_as_designed_inside_and_outside_its_area() {
    let tree = tree();
    let mut checked = 0;
    for (action, cells) in DESIGN {
        let action = *action;
        for (role, cell) in Role::ALL.into_iter().zip(cells.split_whitespace()) {
            let who = principal_for(role);
            let home = who.area.to_string();
            let commune = tree.communes_under(&who.area)[0].to_string();
            let inside = facts(action, &who, &home, &commune, true);
            let outside = facts(action, &who, "68", "25000", false);
            let in_result = authorize(&who, action, target(action, &inside), &tree);
            let out_result = authorize(&who, action, target(action, &outside), &tree);
            let case = format!("{role} {action:?}: inside {in_result:?}, outside {out_result:?}");
            match cell {
                "Y" => {
                    assert_eq!(in_result, Ok(()), "{case}");
                    assert!(
                        matches!(
                            out_result,
                            Err(Denied::OutsideArea { .. }
                                | Denied::NotYourIssuer { .. }
                                | Denied::NotOwnAccount
                                | Denied::NotOwnDevice)
                        ),
                        "{case}"
                    );
                }
                "A" => {
                    assert_eq!(in_result, Ok(()), "{case}");
                    assert_eq!(out_result, Ok(()), "{case}");
                }
                _ => {
                    let refused = Err(Denied::Role { role, action });
                    assert_eq!(in_result, refused, "{case}");
                    assert_eq!(out_result, refused, "{case}");
                }
            }
            checked += 1;
        }
    }
    assert_eq!(checked, Action::ALL.len() * Role::ALL.len());
}

fn bulletin(
    author: Subject,
    issuer: &str,
    targets: &[&str],
    state: BulletinState,
) -> BulletinFacts {
    BulletinFacts {
        author: Some(author),
        issuer: code(issuer),
        targets: targets.iter().map(|t| code(t)).collect(),
        class: PriorityClass::Priority,
        state,
    }
}

#[test]
fn nobody_reviews_their_own_bulletin() {
    let tree = tree();
    let reviewer = principal_for(Role::Reviewer);
    let own = bulletin(
        reviewer.subject.clone(),
        "660",
        &["24611"],
        BulletinState::Submitted,
    );
    for action in [Action::ApproveBulletin, Action::RejectBulletin] {
        assert_eq!(
            authorize(&reviewer, action, Target::Bulletin(&own), &tree),
            Err(Denied::OwnBulletin)
        );
    }
    let theirs = bulletin(user("de"), "660", &["24611"], BulletinState::Submitted);
    assert_eq!(
        authorize(
            &reviewer,
            Action::ApproveBulletin,
            Target::Bulletin(&theirs),
            &tree
        ),
        Ok(())
    );
    // A district reviewer reviews only what is issued in the district.
    let district_reviewer = principal(user("rev2"), Role::Reviewer, "661");
    assert_eq!(
        authorize(
            &district_reviewer,
            Action::ApproveBulletin,
            Target::Bulletin(&theirs),
            &tree
        ),
        Err(Denied::OutsideArea {
            target: code("660"),
            area: code("661")
        })
    );
}

#[test]
fn each_step_needs_the_bulletin_in_the_right_state() {
    let tree = tree();
    let editor = principal_for(Role::DistrictEditor);
    let reviewer = principal_for(Role::Reviewer);
    let draft = bulletin(user("de"), "660", &["24611"], BulletinState::Draft);
    let submitted = bulletin(user("de"), "660", &["24611"], BulletinState::Submitted);
    let done = bulletin(user("de"), "660", &["24611"], BulletinState::Done);
    let refused = |action, state| {
        Err(Denied::WrongState {
            action,
            needed: match action {
                Action::ApproveBulletin => "submitted",
                Action::CancelBulletin => "still open",
                _ => "draft",
            },
            state,
        })
    };
    assert_eq!(
        authorize(
            &reviewer,
            Action::ApproveBulletin,
            Target::Bulletin(&draft),
            &tree
        ),
        refused(Action::ApproveBulletin, BulletinState::Draft)
    );
    assert_eq!(
        authorize(
            &editor,
            Action::EditDraft,
            Target::Bulletin(&submitted),
            &tree
        ),
        refused(Action::EditDraft, BulletinState::Submitted)
    );
    assert_eq!(
        authorize(
            &editor,
            Action::CancelBulletin,
            Target::Bulletin(&done),
            &tree
        ),
        refused(Action::CancelBulletin, BulletinState::Done)
    );
    assert_eq!(
        authorize(
            &editor,
            Action::CancelBulletin,
            Target::Bulletin(&submitted),
            &tree
        ),
        Ok(())
    );
}

#[test]
fn emergencies_belong_to_operators_within_their_area() {
    let tree = tree();
    let editor = principal_for(Role::ProvincialEditor);
    let mut emergency = bulletin(user("pe"), "67", &["67"], BulletinState::Draft);
    emergency.class = PriorityClass::Emergency;
    assert_eq!(
        authorize(
            &editor,
            Action::CreateBulletin,
            Target::Bulletin(&emergency),
            &tree
        ),
        Err(Denied::EmergencyIsForOperators)
    );
    let operator = principal(user("op-tinh"), Role::Operator, "67");
    assert_eq!(
        authorize(
            &operator,
            Action::TriggerEmergency,
            Target::Bulletin(&emergency),
            &tree
        ),
        Ok(())
    );
    let routine = bulletin(user("op-tinh"), "67", &["67"], BulletinState::Draft);
    assert_eq!(
        authorize(
            &operator,
            Action::TriggerEmergency,
            Target::Bulletin(&routine),
            &tree
        ),
        Err(Denied::NotAnEmergency {
            action: Action::TriggerEmergency
        })
    );
    // A commune's operator cannot stop the province's emergency, even where
    // it plays in the commune; the province's operator can stop the commune's.
    let commune_operator = principal(user("op-xa"), Role::Operator, "24611");
    emergency.state = BulletinState::Airing;
    assert_eq!(
        authorize(
            &commune_operator,
            Action::StopEmergency,
            Target::Bulletin(&emergency),
            &tree
        ),
        Err(Denied::OutsideArea {
            target: code("67"),
            area: code("24611")
        })
    );
    let mut commune_emergency = emergency.clone();
    commune_emergency.issuer = code("24611");
    commune_emergency.targets = vec![code("24611")];
    assert_eq!(
        authorize(
            &operator,
            Action::StopEmergency,
            Target::Bulletin(&commune_emergency),
            &tree
        ),
        Ok(())
    );
}

#[test]
fn editors_write_for_their_own_area_only() {
    let tree = tree();
    let editor = principal_for(Role::DistrictEditor);
    let neighbour = bulletin(user("de"), "660", &["24611", "24650"], BulletinState::Draft);
    assert_eq!(
        authorize(
            &editor,
            Action::CreateBulletin,
            Target::Bulletin(&neighbour),
            &tree
        ),
        Err(Denied::OutsideArea {
            target: code("24650"),
            area: code("660")
        })
    );
    let as_province = bulletin(user("de"), "67", &["24611"], BulletinState::Draft);
    assert_eq!(
        authorize(
            &editor,
            Action::CreateBulletin,
            Target::Bulletin(&as_province),
            &tree
        ),
        Err(Denied::NotYourIssuer {
            issuer: code("67"),
            area: code("660")
        })
    );
    let chair = principal_for(Role::CommuneChair);
    assert_eq!(
        authorize(
            &chair,
            Action::ReorderPriority,
            Target::Area(&code("24612")),
            &tree
        ),
        Err(Denied::OutsideArea {
            target: code("24612"),
            area: code("24611")
        })
    );
}

#[test]
fn a_two_tier_province_works_the_same() {
    let tree = tree();
    let editor = principal(user("pe68"), Role::ProvincialEditor, "68");
    let b = bulletin(user("pe68"), "68", &["25000"], BulletinState::Draft);
    assert_eq!(
        authorize(&editor, Action::CreateBulletin, Target::Bulletin(&b), &tree),
        Ok(())
    );
    let chair = principal(user("chair68"), Role::CommuneChair, "25000");
    assert_eq!(
        authorize(&chair, Action::OptIn, Target::Area(&code("25000")), &tree),
        Ok(())
    );
}

#[test]
fn scope_identity_and_target_kind_are_checked_first() {
    let tree = tree();
    let misplaced_chair = principal(user("chair"), Role::CommuneChair, "660");
    assert_eq!(
        authorize(
            &misplaced_chair,
            Action::OptIn,
            Target::Area(&code("24611")),
            &tree
        ),
        Err(Denied::RoleDoesNotFitArea {
            role: Role::CommuneChair,
            area: code("660"),
            level: AreaLevel::District
        })
    );
    let lost = principal(user("x"), Role::Operator, "99999");
    assert_eq!(
        authorize(&lost, Action::LogIn, Target::Nothing, &tree),
        Err(Denied::UnknownArea(code("99999")))
    );
    let admin = principal_for(Role::Administrator);
    assert_eq!(
        authorize(&admin, Action::ReadAudit, Target::Nothing, &tree),
        Err(Denied::WrongTarget {
            action: Action::ReadAudit,
            expected: TargetKind::Area,
            given: TargetKind::Nothing
        })
    );
    // Colleagues in the same commune still cannot change each other's password.
    let chair = principal_for(Role::CommuneChair);
    let colleague = AccountFacts {
        subject: user("vice-chair"),
        role: Role::CommuneChair,
        area: code("24611"),
    };
    assert_eq!(
        authorize(
            &chair,
            Action::ChangePassword,
            Target::Account(&colleague),
            &tree
        ),
        Err(Denied::NotOwnAccount)
    );
    // A token acts only as far as its own scope, like a person.
    let token = principal(
        Subject::Token(TokenName::parse("cms-660").unwrap()),
        Role::DistrictEditor,
        "660",
    );
    let b = bulletin(
        token.subject.clone(),
        "660",
        &["24612"],
        BulletinState::Draft,
    );
    assert_eq!(
        authorize(&token, Action::SubmitBulletin, Target::Bulletin(&b), &tree),
        Ok(())
    );
    // A device in the right commune is still not another device.
    let device = principal_for(Role::Device);
    let other = DeviceFacts {
        id: device_id("24611-LB"),
        commune: code("24611"),
    };
    assert_eq!(
        authorize(&device, Action::DeviceReport, Target::Device(&other), &tree),
        Err(Denied::NotOwnDevice)
    );
}

#[test]
fn cap_alerts_come_from_operators_and_the_central_system_within_their_area() {
    let tree = tree();
    let central = principal(
        Subject::Token(TokenName::parse("trung-uong").unwrap()),
        Role::Operator,
        "VN",
    );
    let provincial = principal(user("op-tinh"), Role::Operator, "67");
    let mut everywhere = bulletin(
        central.subject.clone(),
        "VN",
        &["25000", "24611"],
        BulletinState::Approved,
    );
    everywhere.class = PriorityClass::Emergency;
    // The central system's emergency requests reach every province.
    for action in [Action::IngestCap, Action::TriggerEmergency] {
        assert_eq!(
            authorize(&central, action, Target::Bulletin(&everywhere), &tree),
            Ok(())
        );
    }
    // A CAP alert need not be an emergency: a priority bulletin too.
    let mut advisory = bulletin(
        provincial.subject.clone(),
        "67",
        &["24650"],
        BulletinState::Approved,
    );
    assert_eq!(
        authorize(
            &provincial,
            Action::IngestCap,
            Target::Bulletin(&advisory),
            &tree
        ),
        Ok(())
    );
    advisory.targets.push(code("25000"));
    assert_eq!(
        authorize(
            &provincial,
            Action::IngestCap,
            Target::Bulletin(&advisory),
            &tree
        ),
        Err(Denied::OutsideArea {
            target: code("25000"),
            area: code("67")
        })
    );
    // In one's own name only: not the central system's.
    assert_eq!(
        authorize(
            &provincial,
            Action::IngestCap,
            Target::Bulletin(&everywhere),
            &tree
        ),
        Err(Denied::NotYourIssuer {
            issuer: code("VN"),
            area: code("67")
        })
    );
    // Editors write bulletins, they do not post alerts.
    let editor = principal_for(Role::ProvincialEditor);
    assert_eq!(
        authorize(
            &editor,
            Action::IngestCap,
            Target::Bulletin(&advisory),
            &tree
        ),
        Err(Denied::Role {
            role: Role::ProvincialEditor,
            action: Action::IngestCap
        })
    );
}
