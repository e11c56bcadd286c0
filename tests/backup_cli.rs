//! `hub backup` and `hub restore`: a store and its media in one checked
//! file, restored record for record into a new directory, and a damaged
//! file refused before anything is written.

use crate::support::{fixture, hub};

#[test]
fn a_backup_restores_the_store_record_for_record_and_a_damaged_one_restores_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let cfg = fixture("link-province.toml");
    let cfg = cfg.to_str().unwrap();
    let data_arg = data.to_str().unwrap();
    // A store with the province, device secrets and the hub's signing key.
    hub(&["provision", "--config", cfg, "--data", data_arg]).unwrap();
    let media = data.join("media");
    std::fs::create_dir_all(&media).unwrap();
    let file_bytes = b"a stored broadcast file";
    let name: String = {
        use sha2::{Digest, Sha256};
        Sha256::digest(file_bytes)
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect()
    };
    std::fs::write(media.join(&name), file_bytes).unwrap();

    let backup = dir.path().join("hub.backup");
    let backup_arg = backup.to_str().unwrap();
    let out = hub(&[
        "backup", "--config", cfg, "--data", data_arg, "--to", backup_arg,
    ])
    .unwrap();
    assert!(out.contains("and 1 media files"), "{out}");

    let restored = dir.path().join("restored");
    let out = hub(&[
        "restore",
        "--from",
        backup_arg,
        "--data",
        restored.to_str().unwrap(),
    ])
    .unwrap();
    assert!(out.contains("restored"), "{out}");
    let records =
        |path: &std::path::Path| hub_store::Store::open(path).unwrap().snapshot().unwrap();
    assert_eq!(records(&restored), records(&data));
    assert_eq!(
        std::fs::read(restored.join("media").join(&name)).unwrap(),
        file_bytes
    );

    let mut bytes = std::fs::read(&backup).unwrap();
    bytes.truncate(bytes.len() - 10);
    let truncated = dir.path().join("truncated.backup");
    std::fs::write(&truncated, &bytes).unwrap();
    let target = dir.path().join("never");
    let err = hub(&[
        "restore",
        "--from",
        truncated.to_str().unwrap(),
        "--data",
        target.to_str().unwrap(),
    ])
    .expect_err("a truncated backup is refused");
    assert!(err.to_string().contains("damaged or truncated"), "{err}");
    assert!(!target.exists());
}

/// `hub backup` while the hub runs and people keep writing: the running hub
/// takes the snapshot, and the restored store is the backup record for
/// record, each bulletin with its author and its audit entry (written in
/// one transaction, so a snapshot holds all three or none).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_backup_taken_during_traffic_restores_a_consistent_state() {
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::Arc;

    use hyper::{Method, StatusCode};
    use serde_json::json;

    use crate::support::api::start;

    let api = start().await;
    let editor = api.person("bientap", "provincial_editor", "67").await;
    let writing = Arc::new(AtomicBool::new(true));
    let traffic = {
        let (addr, editor, writing) = (api.addr, editor.clone(), writing.clone());
        let now = api.clock.now();
        tokio::spawn(async move {
            let mut written = 0;
            while writing.load(Ordering::Relaxed) {
                let body = json!({
                    "title": format!("Tin {written}"),
                    "category": "daily_life",
                    "class": "normal",
                    "targets": ["24611"],
                    "not_before": now.to_rfc3339(),
                    "expires": (now + chrono::TimeDelta::days(2)).to_rfc3339(),
                    "variants": [{"language": "vi",
                        "visual": {"kind": "text", "secs": 20, "text": "Thông báo"}}],
                });
                let made = crate::support::api::call_at(
                    addr,
                    Method::POST,
                    "/api/v1/bulletins",
                    Some(&editor),
                    Some(body),
                )
                .await;
                assert_eq!(made.status, StatusCode::CREATED, "{made:?}");
                written += 1;
            }
            written
        })
    };
    // Let some bulletins in before the backup, and keep writing during it.
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    let dir = tempfile::tempdir().unwrap();
    let backup = dir.path().join("hub.backup");
    let args: Vec<String> = [
        "backup",
        "--config",
        fixture("link-province.toml").to_str().unwrap(),
        "--data",
        api.data.to_str().unwrap(),
        "--to",
        backup.to_str().unwrap(),
        "--api",
        &format!("http://{}", api.addr),
        // `--token=…`: a token may begin with '-'.
        &format!("--token={}", api.admin),
    ]
    .map(String::from)
    .into();
    let out = tokio::task::spawn_blocking(move || {
        hub(&args.iter().map(String::as_str).collect::<Vec<_>>())
    })
    .await
    .unwrap()
    .unwrap();
    assert!(out.contains("taken by the running hub"), "{out}");
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    writing.store(false, Ordering::Relaxed);
    let written = traffic.await.unwrap();

    let restored = dir.path().join("restored");
    let restored_arg = restored.to_str().unwrap().to_owned();
    let backup_arg = backup.to_str().unwrap().to_owned();
    hub(&["restore", "--from", &backup_arg, "--data", &restored_arg]).unwrap();
    // The restored store exports exactly as the backup does.
    let from_backup = hub(&["export", "--backup", &backup_arg]).unwrap();
    let from_store = hub(&["export", "--data", &restored_arg]).unwrap();
    assert_eq!(from_backup, from_store);

    let store = hub_store::Store::open(&restored).unwrap();
    let province = store.load_province().unwrap();
    let programme = store.load_programme(&province).unwrap();
    let access = hub_access::AccessStore::new(store.clone());
    let audit = hub_access::AuditLog::new(store.clone());
    let drafts: Vec<_> = programme
        .bulletins()
        .filter(|b| b.title.starts_with("Tin "))
        .collect();
    assert!(
        !drafts.is_empty(),
        "the backup holds the bulletins written before it"
    );
    assert!(
        drafts.len() < written,
        "{} of {written} bulletins: the backup was taken during the traffic",
        drafts.len()
    );
    for bulletin in drafts {
        assert!(
            access.author_of(&bulletin.id).unwrap().is_some(),
            "{} has no author in the backup",
            bulletin.id
        );
        let query = hub_access::AuditQuery {
            from: None,
            until: None,
            filter: Some(hub_access::AuditFilter::Bulletin(bulletin.id.clone())),
            limit: 10,
        };
        let entries = audit.query(&query).unwrap();
        assert_eq!(entries.len(), 1, "{}: {entries:?}", bulletin.id);
    }
    drop(store);
    api.hub.shutdown().await.unwrap();
}
