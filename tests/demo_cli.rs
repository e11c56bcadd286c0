//! `hub demo`, the README's first command: the hub, its embedded broker and
//! the demo province's whole fleet simulated over real MQTT.

use crate::support::{config, hub};

#[test]
fn the_demo_airs_the_morning_programme_on_simulated_devices() {
    let cfg = config("demo-province.toml");
    let out = hub(&[
        "demo",
        "--config",
        cfg.to_str().unwrap(),
        "--speed",
        "300",
        "--duration-secs",
        "6",
    ])
    .unwrap();
    assert!(out.contains("180 simulated devices connected"), "{out}");
    // The API can be tried while it runs, as the printed administrator.
    let api = out
        .lines()
        .find(|l| l.starts_with("api: http://127.0.0.1:"))
        .unwrap_or_else(|| panic!("no API line in:\n{out}"));
    let password = api.rsplit(' ').next().unwrap();
    assert!(api.contains("log in as demo with password"), "{api}");
    assert!(password.len() >= 40, "a long random password: {api}");
    let tally = out
        .split("deliveries by bulletin")
        .nth(1)
        .unwrap_or_else(|| panic!("no tally in:\n{out}"));
    // Half an hour of the 05:00 window at 300x: the province-wide land-tax
    // bulletin has aired on devices, as they reported it.
    let land_tax = tally
        .lines()
        .find(|l| l.contains("tinh-2026-11-23-thue-dat"))
        .unwrap_or_else(|| panic!("no land-tax bulletin in:\n{out}"));
    assert!(land_tax.contains("finished"), "{land_tax}");
}
