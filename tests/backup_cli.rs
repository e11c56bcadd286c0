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
