//! `hub plan` on the demo provinces: the whole path from configuration file
//! through the store to the printed plan.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use hub_proto::{Class, DevicePlan};

use crate::support::{config, hub};

const AT: &str = "2026-11-23T05:00:00+07:00";

fn json_plans(config_name: &str, data: &std::path::Path, at: &str) -> BTreeMap<String, DevicePlan> {
    let cfg = config(config_name);
    let out = hub(&[
        "plan",
        "--config",
        cfg.to_str().unwrap(),
        "--at",
        at,
        "--data",
        data.to_str().unwrap(),
        "--json",
    ])
    .unwrap();
    out.lines()
        .map(|line| {
            let plan = DevicePlan::from_json(line.as_bytes()).unwrap();
            (plan.device.clone(), plan)
        })
        .collect()
}

fn local(t: DateTime<Utc>) -> String {
    t.with_timezone(&chrono_tz::Asia::Ho_Chi_Minh)
        .format("%H:%M")
        .to_string()
}

#[test]
fn the_demo_province_plans_every_device_by_the_rules() {
    let data = tempfile::tempdir().unwrap();
    let plans = json_plans("demo-province.toml", data.path(), AT);
    assert_eq!(plans.len(), 180, "151 loudspeakers and 29 boards");
    for plan in plans.values() {
        assert_eq!(plan.date.to_string(), "2026-11-23");
        for pair in plan.entries.windows(2) {
            assert!(
                pair[0].end <= pair[1].start,
                "{}: overlapping entries",
                plan.device
            );
        }
    }
    // The Krông Nô flood warning airs at 17:40 on every device of district 664 and nowhere else.
    let flood = "kn-2026-11-23-canh-bao-lu-serepok";
    let province = hub::config::load(&config("demo-province.toml"))
        .unwrap()
        .province;
    let krong_no = hub_core::AreaCode::parse("664").unwrap();
    let mut flooded = 0;
    for device in province.devices() {
        let plan = &plans[device.id.as_str()];
        let airs = plan.entries.iter().find(|e| e.bulletin == flood);
        if province.tree.is_within(&device.commune, &krong_no) {
            let entry = airs.unwrap_or_else(|| panic!("{} misses the flood warning", device.id));
            assert_eq!(entry.class, Class::Emergency);
            assert_eq!(local(entry.start), "17:40", "{}", device.id);
            flooded += 1;
        } else {
            assert!(airs.is_none(), "{} is outside Krông Nô", device.id);
        }
    }
    assert!(flooded > 20, "only {flooded} devices got the flood warning");

    // Phường Nghĩa Đức's chair put the commune's own bulletin before the province one.
    let nghia_duc = &plans["24611-LS-01"];
    let position = |id: &str| {
        nghia_duc
            .entries
            .iter()
            .position(|e| e.bulletin == id)
            .unwrap()
    };
    assert!(position("xa-nghia-duc-tiem-chung") < position("tinh-2026-11-23-thue-dat"));
    // Elsewhere in the same district the province bulletin comes first by level.
    let nghia_thanh = &plans["24612-LS-01"];
    assert!(!nghia_thanh
        .entries
        .iter()
        .any(|e| e.bulletin == "xa-nghia-duc-tiem-chung"));

    // Nothing sensitive awaiting review, cancelled or expired is planned.
    for held in [
        "tinh-2026-11-23-xu-ly-khai-thac-khoang-san",
        "tinh-2026-11-21-le-hoi-tho-cam",
    ] {
        assert!(
            plans
                .values()
                .all(|p| p.entries.iter().all(|e| e.bulletin != held)),
            "{held} must not air"
        );
    }
    let expiring = "dm-2026-11-22-tam-ngung-cap-dien";
    for entry in plans
        .values()
        .flat_map(|p| &p.entries)
        .filter(|e| e.bulletin == expiring)
    {
        assert!(
            local(entry.end).as_str() <= "06:00",
            "{expiring} airs past its 06:00 expiry"
        );
    }
}

#[test]
fn the_text_report_reads_per_commune() {
    let data = tempfile::tempdir().unwrap();
    let cfg = config("demo-province.toml");
    let out = hub(&[
        "plan",
        "--config",
        cfg.to_str().unwrap(),
        "--at",
        AT,
        "--data",
        data.path().to_str().unwrap(),
    ])
    .unwrap();
    assert!(
        out.starts_with(
            "Plan for Tỉnh Đắk Nông on Monday 2026-11-23 from 05:00 (Asia/Ho_Chi_Minh)"
        ),
        "{out}"
    );
    assert!(out.contains("Phường Nghĩa Đức (24611), Thành phố Gia Nghĩa"));
    assert!(out.contains("EMERGENCY"));
    assert!(out.contains("loudspeaker cluster 24611-LS-01 …"));
}

#[test]
fn a_two_tier_province_plans_without_districts() {
    let data = tempfile::tempdir().unwrap();
    let plans = json_plans("demo-two-tier.toml", data.path(), AT);
    assert!(plans.len() > 50);
    assert!(plans.values().filter(|p| !p.entries.is_empty()).count() > 50);
}

#[test]
fn the_store_keeps_what_the_hub_recorded_across_runs() {
    let data = tempfile::tempdir().unwrap();
    let first = json_plans("demo-province.toml", data.path(), AT);
    // Close the store, change a bulletin's state in it, and plan again: the
    // configuration seeds only what the store lacks, so the change stays.
    {
        let store = hub_store::Store::open(data.path()).unwrap();
        let id = hub_core::BulletinId::parse("tinh-2026-11-23-thue-dat").unwrap();
        let mut bulletin: hub_core::Bulletin = store.get(id.as_str().as_bytes()).unwrap().unwrap();
        bulletin.state = hub_core::BulletinState::Cancelled;
        store.put(&bulletin).unwrap();
        store.flush().unwrap();
    }
    let second = json_plans("demo-province.toml", data.path(), AT);
    let airs = |plans: &BTreeMap<String, DevicePlan>| {
        plans
            .values()
            .flat_map(|p| &p.entries)
            .filter(|e| e.bulletin == "tinh-2026-11-23-thue-dat")
            .count()
    };
    assert!(airs(&first) > 100);
    assert_eq!(airs(&second), 0);
}

#[test]
fn bad_input_is_refused_with_a_clear_message() {
    let data = tempfile::tempdir().unwrap();
    let err = hub(&[
        "plan",
        "--config",
        "/nonexistent/p.toml",
        "--at",
        AT,
        "--data",
        data.path().to_str().unwrap(),
    ])
    .unwrap_err();
    assert!(
        format!("{err:#}").contains("cannot read /nonexistent/p.toml"),
        "{err:#}"
    );
    let cfg = config("demo-province.toml");
    let err = hub(&[
        "plan",
        "--config",
        cfg.to_str().unwrap(),
        "--at",
        "tomorrow morning",
    ])
    .unwrap_err();
    assert!(err.to_string().contains("--at"), "{err}");
}
