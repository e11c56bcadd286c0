use chrono::{DateTime, Utc};
use hub_core::testkit::{area, bid, code};
use hub_core::AreaLevel;

use super::*;
use crate::{Action, Principal, Role, Username};

fn tree() -> AreaTree {
    AreaTree::new([
        area("VN", AreaLevel::Central, None),
        area("67", AreaLevel::Province, Some("VN")),
        area("660", AreaLevel::District, Some("67")),
        area("24611", AreaLevel::Commune, Some("660")),
        area("661", AreaLevel::District, Some("67")),
        area("24650", AreaLevel::Commune, Some("661")),
    ])
    .unwrap()
}

fn at(secs: i64) -> DateTime<Utc> {
    DateTime::from_timestamp(1_800_000_000 + secs, 0).unwrap()
}

fn actor(name: &str) -> Subject {
    Subject::User(Username::parse(name).unwrap())
}

/// `user` reordered the schedule of `commune`.
pub(crate) fn event(user: &str, commune: &str) -> AuditEvent {
    AuditEvent {
        actor: Principal {
            subject: actor(user),
            role: Role::CommuneChair,
            area: code(commune),
        },
        client: Some("192.0.2.1".parse().unwrap()),
        action: Action::ReorderPriority,
        object: format!("commune {commune}"),
        areas: vec![code(commune)],
        bulletin: None,
        before: Some("tinh-a, xa-b".into()),
        after: Some("xa-b, tinh-a".into()),
        reason: None,
    }
}

fn query(filter: Option<AuditFilter>, from: Option<i64>, until: Option<i64>) -> AuditQuery {
    AuditQuery {
        from: from.map(at),
        until: until.map(at),
        filter,
        limit: 100,
    }
}

/// Five entries: chair a (24611) at 0 and 20, chair b (24650) at 10 and 30,
/// and a reviewer's rejection of bulletin `tin-1` (24611) at 20.
fn filled() -> (tempfile::TempDir, AuditLog) {
    let dir = tempfile::tempdir().unwrap();
    let log = AuditLog::new(Store::open(dir.path()).unwrap());
    let tree = tree();
    log.append(event("a", "24611"), &tree, at(0)).unwrap();
    log.append(event("b", "24650"), &tree, at(10)).unwrap();
    log.append(event("a", "24611"), &tree, at(20)).unwrap();
    let mut rejection = event("rev", "67");
    rejection.actor.role = Role::Reviewer;
    rejection.action = Action::RejectBulletin;
    rejection.object = "bulletin tin-1".into();
    rejection.areas = vec![code("24611")];
    rejection.bulletin = Some(bid("tin-1"));
    rejection.reason = Some("số liệu chưa được xác minh".into());
    log.append(rejection, &tree, at(20)).unwrap();
    log.append(event("b", "24650"), &tree, at(30)).unwrap();
    (dir, log)
}

fn times(entries: &[AuditEntry]) -> Vec<i64> {
    entries
        .iter()
        .map(|e| e.at.timestamp() - 1_800_000_000)
        .collect()
}

#[test]
fn entries_come_back_in_time_order_by_time_range() {
    let (_dir, log) = filled();
    let all = log.query(&query(None, None, None)).unwrap();
    assert_eq!(times(&all), [0, 10, 20, 20, 30]);
    assert!(all.windows(2).all(|w| w[0].key() < w[1].key()));
    assert!(
        all[2].seq < all[3].seq,
        "same instant: in order of appending"
    );
    let middle = log.query(&query(None, Some(10), Some(30))).unwrap();
    assert_eq!(times(&middle), [10, 20, 20]);
    let limited = AuditQuery {
        limit: 2,
        ..query(None, None, None)
    };
    assert_eq!(times(&log.query(&limited).unwrap()), [0, 10]);
    assert_eq!(all[0].event, event("a", "24611"));
}

#[test]
fn entries_are_found_by_actor_area_and_bulletin() {
    let (_dir, log) = filled();
    let by_a = log
        .query(&query(Some(AuditFilter::Actor(actor("a"))), None, None))
        .unwrap();
    assert_eq!(times(&by_a), [0, 20]);
    let by_a_later = log
        .query(&query(Some(AuditFilter::Actor(actor("a"))), Some(1), None))
        .unwrap();
    assert_eq!(times(&by_a_later), [20]);

    let commune = log
        .query(&query(Some(AuditFilter::Area(code("24611"))), None, None))
        .unwrap();
    assert_eq!(times(&commune), [0, 20, 20]);
    // A district finds what happened in its communes; the province, everything.
    let district = log
        .query(&query(Some(AuditFilter::Area(code("661"))), None, Some(30)))
        .unwrap();
    assert_eq!(times(&district), [10]);
    let province = log
        .query(&query(Some(AuditFilter::Area(code("67"))), None, None))
        .unwrap();
    assert_eq!(province.len(), 5);

    let bulletin = log
        .query(&query(
            Some(AuditFilter::Bulletin(bid("tin-1"))),
            None,
            None,
        ))
        .unwrap();
    assert_eq!(bulletin.len(), 1);
    assert_eq!(bulletin[0].event.action, Action::RejectBulletin);
    assert_eq!(
        bulletin[0].event.reason.as_deref(),
        Some("số liệu chưa được xác minh")
    );
    assert!(log
        .query(&query(
            Some(AuditFilter::Bulletin(bid("tin-2"))),
            None,
            None
        ))
        .unwrap()
        .is_empty());
}

#[test]
fn an_entry_staged_with_a_change_is_written_with_it() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    let log = AuditLog::new(store.clone());
    let mut batch = Batch::new();
    let entry = log
        .stage(&mut batch, event("a", "24611"), &tree(), at(5))
        .unwrap();
    assert!(log.query(&query(None, None, None)).unwrap().is_empty());
    store.apply(batch).unwrap();
    assert_eq!(log.query(&query(None, None, None)).unwrap(), vec![entry]);
}

#[test]
fn entries_are_stored_as_versioned_json() {
    let (dir, log) = filled();
    drop(log);
    let db = sled::open(dir.path()).unwrap();
    let (_, value) = db.open_tree("audit").unwrap().first().unwrap().unwrap();
    let json: serde_json::Value = serde_json::from_slice(&value).unwrap();
    assert_eq!(json["v"], 1);
    assert_eq!(json["record"]["actor"]["subject"]["name"], "a");
    assert_eq!(json["record"]["action"], "reorder_priority");
    assert_eq!(json["record"]["client"], "192.0.2.1");
}
