use std::fmt::Debug;

use hub_core::*;

use super::*;
use crate::testkit::*;
use crate::{DeviceSecret, HubIdentity};
use hub_core::testkit::local;

fn open(dir: &tempfile::TempDir) -> Store {
    Store::open(dir.path()).unwrap()
}

/// Every record can be read back under its key, and `all` lists exactly
/// `records` in key order.
fn assert_stored<R: Record + PartialEq + Debug + Clone>(store: &Store, records: &[R]) {
    for record in records {
        assert_eq!(
            store.get::<R>(&record.key()).unwrap().as_ref(),
            Some(record)
        );
    }
    let mut sorted = records.to_vec();
    sorted.sort_by_key(Record::key);
    assert_eq!(store.all::<R>().unwrap(), sorted, "tree {}", R::TREE);
}

fn put_each<R: Record>(store: &Store, records: &[R]) {
    for record in records {
        store.put(record).unwrap();
    }
}

#[test]
fn every_record_type_round_trips_and_survives_reopening() {
    let dir = tempfile::tempdir().unwrap();
    let settings = vec![ProvinceSettings {
        timezone: TZ,
        windows: windows(),
    }];
    let histories = vec![history("24611-LS"), history("24700-LB")];
    let deliveries = deliveries();
    let secrets = vec![DeviceSecret {
        device: device_id("24611-LS-01"),
        mqtt_password: "pw".into(),
        uplink_key: "key".into(),
        revoked: true,
    }];
    let identity = vec![HubIdentity {
        signing_key: "sk".into(),
        seq_reserved: 10_000,
    }];
    {
        let store = open(&dir);
        put_each(&store, &settings);
        put_each(&store, &areas());
        put_each(&store, &devices());
        put_each(&store, &commune_settings());
        put_each(&store, &bulletins());
        put_each(&store, &chair_orders());
        put_each(&store, &opt_ins());
        put_each(&store, &histories);
        put_each(&store, &deliveries);
        put_each(&store, &secrets);
        put_each(&store, &identity);
        store.flush().unwrap();
    }
    let store = open(&dir);
    assert_stored(&store, &settings);
    assert_stored(&store, &areas());
    assert_stored(&store, &devices());
    assert_stored(&store, &commune_settings());
    assert_stored(&store, &bulletins());
    assert_stored(&store, &chair_orders());
    assert_stored(&store, &opt_ins());
    assert_stored(&store, &histories);
    assert_stored(&store, &deliveries);
    assert_stored(&store, &secrets);
    assert_stored(&store, &identity);
}

fn deliveries() -> Vec<Delivery> {
    let at = local("2026-11-23 05:00");
    let airing = |bulletin: &str, occurrence| AiringKey {
        bulletin: bid(bulletin),
        occurrence,
        language: lang("vi"),
    };
    [
        ("24611-LS-01", airing("tin-a", 10), DeliveryState::Finished),
        ("24611-LS-01", airing("tin-a", 9), DeliveryState::Sent),
        ("24611-LS-10", airing("tin-a", 0), DeliveryState::Queued),
    ]
    .into_iter()
    .map(|(device, airing, state)| Delivery {
        device: device_id(device),
        airing,
        state,
        seq: Some(4),
        at,
        reason: None,
    })
    .collect()
}

#[test]
fn delivery_keys_keep_a_devices_airings_together_in_order() {
    let keys: Vec<Vec<u8>> = deliveries().iter().map(Record::key).collect();
    let mut sorted = keys.clone();
    sorted.sort();
    assert_eq!(sorted, [keys[1].clone(), keys[0].clone(), keys[2].clone()]);
}

#[test]
fn put_replaces_and_remove_reports_whether_there_was_a_record() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(&dir);
    let mut device = devices().remove(0);
    store.put(&device).unwrap();
    device.name = "Loa chợ".into();
    store.put(&device).unwrap();
    assert_stored(&store, std::slice::from_ref(&device));

    assert!(store.remove::<Device>(&device.key()).unwrap());
    assert!(!store.remove::<Device>(&device.key()).unwrap());
    assert_eq!(store.get::<Device>(&device.key()).unwrap(), None);
    assert!(store.all::<Device>().unwrap().is_empty());
}

#[test]
fn a_new_store_records_its_schema_version() {
    let dir = tempfile::tempdir().unwrap();
    drop(open(&dir));
    let db = sled::open(dir.path()).unwrap();
    let stored = db.open_tree(META_TREE).unwrap().get(SCHEMA_KEY).unwrap();
    assert_eq!(stored.as_deref(), Some(&b"1"[..]));
    drop(db);
    // And opens again.
    drop(open(&dir));
}

#[test]
fn a_store_with_a_newer_schema_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    drop(open(&dir));
    {
        let db = sled::open(dir.path()).unwrap();
        let meta = db.open_tree(META_TREE).unwrap();
        meta.insert(SCHEMA_KEY, &b"2"[..]).unwrap();
        db.flush().unwrap();
    }
    let err = Store::open(dir.path()).unwrap_err();
    assert!(matches!(
        err,
        StoreError::SchemaTooNew {
            found: 2,
            supported: 1
        }
    ));
    assert_eq!(
        err.to_string(),
        "store schema version 2 is newer than this hub (1); upgrade the hub"
    );
}

#[test]
fn a_corrupt_value_is_reported_with_its_tree_and_key() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(&dir);
    put_each(&store, &devices());
    let raw = store.db.open_tree("devices").unwrap();
    raw.insert("24612-LS", &b"\xff not json"[..]).unwrap();

    let err = store.get::<Device>(b"24612-LS").unwrap_err();
    assert!(
        matches!(
            err,
            StoreError::Decode {
                tree: "devices",
                ..
            }
        ),
        "{err:?}"
    );
    let text = err.to_string();
    assert!(
        text.contains("\"devices\"") && text.contains("\"24612-LS\""),
        "{text}"
    );
    let err = store.all::<Device>().unwrap_err().to_string();
    assert!(err.contains("\"24612-LS\""), "{err}");
    // Records beside it still read.
    assert!(store.get::<Device>(b"24611-LS").unwrap().is_some());

    // Valid JSON of the wrong shape names the field serde missed.
    raw.insert("24612-LS", &br#"{"v":1,"record":{"id":"24612-LS"}}"#[..])
        .unwrap();
    let err = store.get::<Device>(b"24612-LS").unwrap_err().to_string();
    assert!(
        err.contains("\"24612-LS\"") && err.contains("missing field"),
        "{err}"
    );

    // An opt-in key shows its separator escaped.
    store
        .db
        .open_tree("opt_ins")
        .unwrap()
        .insert("24611\0tin", &b"[]"[..])
        .unwrap();
    let err = store.all::<OptIn>().unwrap_err().to_string();
    assert!(err.contains(r#""24611\0tin" in tree "opt_ins""#), "{err}");
}

#[test]
fn a_batch_writes_several_trees_and_later_changes_win() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(&dir);
    let device = devices().remove(0);
    let gone = devices().remove(1);
    store.put(&gone).unwrap();
    let bulletin = bulletins().remove(0);

    let mut batch = Batch::new();
    batch.put(&device).unwrap().put(&bulletin).unwrap();
    batch.remove::<Device>(&gone.key());
    batch.put(&history("24611-LS")).unwrap();
    batch.remove::<DeviceHistory>(b"24611-LS");
    assert_eq!(batch.len(), 5);
    store.apply(batch).unwrap();

    assert_eq!(store.all::<Device>().unwrap(), vec![device]);
    assert_eq!(store.all::<Bulletin>().unwrap(), vec![bulletin]);
    assert!(store.all::<DeviceHistory>().unwrap().is_empty());
    store.apply(Batch::new()).unwrap();
}

#[test]
fn appended_batches_apply_in_order() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(&dir);
    let mut first = devices().remove(0);
    let mut batch = Batch::new();
    batch.put(&first).unwrap();
    let mut later = Batch::new();
    first.name = "Loa chợ (moved)".into();
    later
        .put(&first)
        .unwrap()
        .remove::<Device>(&devices()[1].key());
    batch.append(later);
    let mut last = Batch::new();
    last.put(&devices().remove(1)).unwrap();
    batch.append(last);
    assert_eq!(batch.len(), 4);
    store.apply(batch).unwrap();

    let stored = store.all::<Device>().unwrap();
    assert_eq!(stored, vec![devices().remove(1), first], "sorted by key");
}

fn sorted_settings(province: &Province) -> Vec<CommuneSettings> {
    let mut settings: Vec<_> = province.all_settings().cloned().collect();
    settings.sort_by(|a, b| a.commune.cmp(&b.commune));
    settings
}

#[test]
fn imported_province_and_saved_programme_load_back_equal() {
    let dir = tempfile::tempdir().unwrap();
    let province = province();
    let programme = programme(&province);
    let histories = [history("24611-LS"), history("24612-LB")];
    {
        let store = open(&dir);
        store.import_province(&province).unwrap();
        store.save_programme(&programme).unwrap();
        put_each(&store, &histories);
        store.flush().unwrap();
    }
    let store = open(&dir);

    let loaded = store.load_province().unwrap();
    assert_eq!(loaded.tz, province.tz);
    assert_eq!(loaded.windows, province.windows);
    assert_eq!(
        loaded.tree.areas().collect::<Vec<_>>(),
        province.tree.areas().collect::<Vec<_>>()
    );
    assert_eq!(
        loaded.devices().collect::<Vec<_>>(),
        province.devices().collect::<Vec<_>>()
    );
    assert_eq!(sorted_settings(&loaded), sorted_settings(&province));

    let reloaded = store.load_programme(&loaded).unwrap();
    assert_eq!(
        reloaded.bulletins().collect::<Vec<_>>(),
        programme.bulletins().collect::<Vec<_>>()
    );
    assert_eq!(
        reloaded.chair_orders().collect::<Vec<_>>(),
        programme.chair_orders().collect::<Vec<_>>()
    );
    assert_eq!(
        reloaded.opt_ins().collect::<Vec<_>>(),
        programme.opt_ins().collect::<Vec<_>>()
    );
    // The indexes were rebuilt too, not just the records.
    let commune = code("24611");
    assert_eq!(
        reloaded.priority_order(&commune),
        programme.priority_order(&commune)
    );

    let logs = store.load_logs().unwrap();
    assert_eq!(logs.len(), 2);
    for history in histories {
        assert_eq!(logs[&history.device], history.log);
    }
}

#[test]
fn saving_a_programme_drops_what_it_no_longer_holds() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(&dir);
    let province = province();
    let mut programme = programme(&province);
    store.save_programme(&programme).unwrap();

    assert!(programme.remove_opt_in(&code("24612"), &bid("doi-song-01")));
    store.save_programme(&programme).unwrap();
    let stored = store.all::<OptIn>().unwrap();
    assert_eq!(stored, programme.opt_ins().cloned().collect::<Vec<_>>());
    assert_eq!(stored.len(), 1);

    store.save_programme(&Programme::default()).unwrap();
    assert!(store.all::<Bulletin>().unwrap().is_empty());
    assert!(store.all::<ChairOrder>().unwrap().is_empty());
    assert!(store.all::<OptIn>().unwrap().is_empty());
}

#[test]
fn an_empty_store_has_no_province() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(&dir);
    let err = store.load_province().unwrap_err();
    assert_eq!(
        err.to_string(),
        "the store holds no province; import one first"
    );
    assert!(store.load_logs().unwrap().is_empty());
}

#[test]
fn stored_records_that_break_domain_rules_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(&dir);
    let province = province();
    store.import_province(&province).unwrap();
    // A device in a district, not a commune.
    let mut stray = devices().remove(0);
    stray.id = device_id("660-LS");
    stray.commune = code("660");
    store.put(&stray).unwrap();
    let err = store.load_province().unwrap_err();
    assert!(
        matches!(err, StoreError::Invalid(CoreError::InvalidDevice { .. })),
        "{err:?}"
    );
    assert!(err.to_string().contains("660-LS"), "{err}");

    // A chair order for a bulletin the store does not hold.
    store.put(&chair_orders().remove(0)).unwrap();
    let err = store.load_programme(&province).unwrap_err();
    assert!(
        matches!(err, StoreError::Invalid(CoreError::UnknownBulletin(_))),
        "{err:?}"
    );
}

#[test]
fn a_store_open_elsewhere_is_reported_in_use() {
    let dir = tempfile::tempdir().unwrap();
    let _open = Store::open(dir.path()).unwrap();
    let err = Store::open(dir.path()).unwrap_err();
    assert!(
        matches!(err, StoreError::InUse(ref path) if path == dir.path()),
        "{err}"
    );
    assert!(err.to_string().contains("in use"), "{err}");
}

#[test]
fn a_snapshot_waits_for_writes_and_holds_whole_batches() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    let writer = {
        let store = store.clone();
        std::thread::spawn(move || {
            // Each batch writes an area (tree `areas`) and a device history
            // (tree `device_logs`, read later): a snapshot must never hold
            // one without the other.
            for round in 0..300u32 {
                let mut batch = Batch::new();
                let mut area = hub_core::testkit::province().tree.root().clone();
                area.code = AreaCode::parse(&format!("1{round:04}")).unwrap();
                batch.put(&area).unwrap();
                batch
                    .put(&history(&format!("24611-LS-{round:04}")))
                    .unwrap();
                store.apply(batch).unwrap();
            }
        })
    };
    let mut seen = 0;
    while !writer.is_finished() {
        let records = store.snapshot().unwrap();
        let count = |tree: &str| records.iter().filter(|r| r.tree == tree).count();
        assert_eq!(
            count("areas"),
            count("device_logs"),
            "a snapshot caught half a batch"
        );
        seen += 1;
    }
    writer.join().unwrap();
    assert_eq!(store.snapshot().unwrap().len(), 600 + 1);
    assert!(seen > 0);
}
