//! `hub provision`: the file devices join with, in the data directory by default.

use std::os::unix::fs::PermissionsExt;

use hub_proto::Provisioning;

use crate::support::{config, hub};

#[test]
fn provisioning_goes_to_the_data_directory_readable_by_its_owner_only() {
    let data = tempfile::tempdir().unwrap();
    let cfg = config("demo-province.toml");
    let out = hub(&[
        "provision",
        "--config",
        cfg.to_str().unwrap(),
        "--data",
        data.path().to_str().unwrap(),
    ])
    .unwrap();
    let path = data.path().join("provisioning.json");
    assert!(out.contains(&path.display().to_string()), "{out}");
    let file = Provisioning::from_json(&std::fs::read(&path).unwrap()).unwrap();
    assert_eq!(file.devices.len(), 180);
    assert!(out.contains("wrote 180 device credentials"), "{out}");
    let mode = std::fs::metadata(&path).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o600);
}
