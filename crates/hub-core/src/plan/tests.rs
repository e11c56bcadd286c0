//! The planning rules of PRODUCT.md, each with exact local times.

use chrono::NaiveTime;

use crate::testkit::*;
use crate::*;

fn at(text: &str) -> chrono::NaiveDateTime {
    chrono::NaiveDateTime::parse_from_str(text, "%Y-%m-%d %H:%M").unwrap()
}

#[test]
fn priority_bulletins_air_by_issuing_level() {
    let p = province();
    let prog = programme(
        &p,
        [
            priority("commune", AreaLevel::Commune, "24611", 300),
            priority("district", AreaLevel::District, "660", 300),
            priority("central", AreaLevel::Central, "VN", 300),
            priority("province", AreaLevel::Province, "67", 300),
        ],
    );
    assert_eq!(
        plan_lines(&p, &prog, "24611-LS", "2026-11-23 04:00"),
        [
            "05:00-05:05 central",
            "05:05-05:10 province",
            "05:10-05:15 district",
            "05:15-05:20 commune",
        ]
    );
    // Another district's commune gets only what targets it.
    assert_eq!(
        plan_lines(&p, &prog, "24700-LS", "2026-11-23 04:00"),
        ["05:00-05:05 central", "05:05-05:10 province"]
    );
}

#[test]
fn a_bulletin_that_does_not_fit_moves_to_the_next_window() {
    let p = province();
    let prog = programme(
        &p,
        [
            priority("long", AreaLevel::Province, "67", 80 * 60),
            priority("spill", AreaLevel::District, "660", 15 * 60),
            priority("short", AreaLevel::Commune, "24611", 5 * 60),
        ],
    );
    // 05:00-06:20 is taken; 15 minutes do not fit before 06:30, 5 minutes do.
    assert_eq!(
        plan_lines(&p, &prog, "24611-LS", "2026-11-23 04:00"),
        ["05:00-06:20 long", "06:20-06:25 short", "17:00-17:15 spill"]
    );
}

#[test]
fn window_edges_are_exact() {
    let p = province();
    let prog = programme(&p, [priority("b", AreaLevel::Province, "67", 30 * 60)]);
    assert_eq!(
        plan_lines(&p, &prog, "24611-LS", "2026-11-23 04:59"),
        ["05:00-05:30 b"]
    );
    // From 06:00 a 30-minute bulletin ends exactly as the window closes.
    assert_eq!(
        plan_lines(&p, &prog, "24611-LS", "2026-11-23 06:00"),
        ["06:00-06:30 b"]
    );
    assert_eq!(
        plan_lines(&p, &prog, "24611-LS", "2026-11-23 06:01"),
        ["17:00-17:30 b"]
    );
    assert_eq!(
        plan_lines(&p, &prog, "24611-LS", "2026-11-23 18:00"),
        ["18:00-18:30 b"]
    );
    assert_eq!(
        plan_lines(&p, &prog, "24611-LS", "2026-11-23 18:01"),
        Vec::<String>::new()
    );
    // Boards have their own, longer windows.
    assert_eq!(
        plan_lines(&p, &prog, "24611-LB", "2026-11-23 06:45"),
        ["06:45-06:47 b"]
    );
}

#[test]
fn nothing_airs_after_expiry_even_mid_window() {
    let p = province();
    let mut first = priority("first", AreaLevel::Province, "67", 10 * 60);
    first.validity.expires = local("2026-11-23 05:20");
    let mut second = priority("second", AreaLevel::District, "660", 15 * 60);
    second.validity.expires = local("2026-11-23 05:20");
    let third = priority("third", AreaLevel::Commune, "24611", 5 * 60);
    let prog = programme(&p, [first, second, third]);
    // "second" would run 05:10-05:25, past its expiry, so it is not planned at all.
    assert_eq!(
        plan_lines(&p, &prog, "24611-LS", "2026-11-23 04:00"),
        ["05:00-05:10 first", "05:10-05:15 third"]
    );
    assert_eq!(
        plan_lines(&p, &prog, "24611-LS", "2026-11-23 05:20"),
        ["05:20-05:25 third"]
    );
}

#[test]
fn windows_end_at_midnight_and_the_next_day_starts_fresh() {
    let mut settings = CommuneSettings::default_for(code("24611"));
    settings.led_board_windows = Some(
        DailyWindows::new(vec![
            "00:00-01:00".parse().unwrap(),
            "22:00-24:00".parse().unwrap(),
        ])
        .unwrap(),
    );
    let p = one_device_province(settings, DeviceKind::LedBoard);
    let mut b = bulletin(
        "late",
        PriorityClass::Priority,
        AreaLevel::Province,
        "67",
        &["67"],
    );
    b.variants[0].visual.as_mut().unwrap().secs = 10 * 60;
    let prog = programme(&p, [b]);
    assert_eq!(
        plan_lines(&p, &prog, "24611-LB", "2026-11-23 23:45"),
        ["23:45-23:55 late"]
    );
    // Ten minutes do not fit in the five before midnight: the next window is tomorrow's 00:00.
    assert_eq!(
        plan_lines(&p, &prog, "24611-LB", "2026-11-23 23:55"),
        Vec::<String>::new()
    );
    assert_eq!(
        plan_lines(&p, &prog, "24611-LB", "2026-11-24 00:00"),
        ["00:00-00:10 late"]
    );
}

#[test]
fn the_chair_orders_collisions_in_their_commune_only() {
    let p = province();
    let mut prog = programme(
        &p,
        [
            priority("province", AreaLevel::Province, "67", 300),
            priority("district", AreaLevel::District, "660", 300),
            priority("own", AreaLevel::Commune, "24611", 300),
        ],
    );
    prog.set_chair_order(
        &p,
        ChairOrder {
            commune: code("24611"),
            order: vec![bid("own"), bid("province")],
        },
    )
    .unwrap();
    // The listed bulletins swap the places they held (1st and 3rd); the district one keeps the 2nd.
    assert_eq!(
        plan_lines(&p, &prog, "24611-LS", "2026-11-23 04:00"),
        [
            "05:00-05:05 own",
            "05:05-05:10 district",
            "05:10-05:15 province"
        ]
    );
    assert_eq!(
        plan_lines(&p, &prog, "24612-LS", "2026-11-23 04:00"),
        ["05:00-05:05 province", "05:05-05:10 district"]
    );
}

#[test]
fn chair_orders_that_break_the_rules_are_refused() {
    let p = province();
    let mut prog = programme(
        &p,
        [
            bulletin(
                "province",
                PriorityClass::Priority,
                AreaLevel::Province,
                "67",
                &["67"],
            ),
            bulletin(
                "district",
                PriorityClass::Priority,
                AreaLevel::District,
                "660",
                &["660"],
            ),
            bulletin(
                "own",
                PriorityClass::Priority,
                AreaLevel::Commune,
                "24611",
                &["24611"],
            ),
            emergency(
                "flood",
                AreaLevel::Province,
                "67",
                &["67"],
                "2026-11-23 17:40",
            ),
            bulletin(
                "market",
                PriorityClass::Normal,
                AreaLevel::Province,
                "67",
                &["67"],
            ),
        ],
    );
    let order = |ids: &[&str]| ChairOrder {
        commune: code("24611"),
        order: ids.iter().map(|i| bid(i)).collect(),
    };
    let refuse = |prog: &mut Programme, ids: &[&str], why: &str| {
        let err = prog
            .set_chair_order(&p, order(ids))
            .unwrap_err()
            .to_string();
        assert!(err.contains(why), "{ids:?}: {err}");
    };
    refuse(
        &mut prog,
        &["own", "flood"],
        "emergencies cannot be reordered",
    );
    refuse(&mut prog, &["own", "market"], "opt it in");
    refuse(&mut prog, &["district", "province"], "none is listed");
    refuse(&mut prog, &["own", "own"], "listed twice");
    let mut elsewhere = order(&["own", "province"]);
    elsewhere.commune = code("24700");
    let err = prog.set_chair_order(&p, elsewhere).unwrap_err().to_string();
    assert!(err.contains("own does not target this commune"), "{err}");
}

#[test]
fn normal_bulletins_air_only_where_opted_in_from_the_chosen_time() {
    let p = province();
    let mut prog = programme(
        &p,
        [
            with_audio_secs(
                bulletin(
                    "market",
                    PriorityClass::Normal,
                    AreaLevel::Province,
                    "67",
                    &["67"],
                ),
                300,
            ),
            priority("news", AreaLevel::Province, "67", 20 * 60),
        ],
    );
    prog.set_opt_in(
        &p,
        OptIn {
            commune: code("24611"),
            bulletin: bid("market"),
            at: at("2026-11-23 17:10"),
        },
    )
    .unwrap();
    assert_eq!(
        plan_lines(&p, &prog, "24611-LS", "2026-11-23 04:00"),
        ["05:00-05:20 news", "17:10-17:15 market"]
    );
    assert_eq!(
        plan_lines(&p, &prog, "24612-LS", "2026-11-23 04:00"),
        ["05:00-05:20 news"]
    );
    let err = prog
        .set_opt_in(
            &p,
            OptIn {
                commune: code("24611"),
                bulletin: bid("news"),
                at: at("2026-11-23 17:10"),
            },
        )
        .unwrap_err();
    assert!(err.to_string().contains("only normal bulletins"), "{err}");
}

#[test]
fn a_priority_bulletin_due_at_the_same_moment_goes_before_a_normal_one() {
    let p = province();
    let mut news = priority("news", AreaLevel::Commune, "24611", 300);
    news.validity.not_before = local("2026-11-23 17:10");
    let mut prog = programme(
        &p,
        [
            news,
            with_audio_secs(
                bulletin(
                    "market",
                    PriorityClass::Normal,
                    AreaLevel::Province,
                    "67",
                    &["67"],
                ),
                300,
            ),
        ],
    );
    prog.set_opt_in(
        &p,
        OptIn {
            commune: code("24611"),
            bulletin: bid("market"),
            at: at("2026-11-23 17:10"),
        },
    )
    .unwrap();
    assert_eq!(
        plan_lines(&p, &prog, "24611-LS", "2026-11-23 12:00"),
        ["17:10-17:15 news", "17:15-17:20 market"]
    );
}

#[test]
fn an_emergency_plays_at_any_hour_in_its_targets_only() {
    let p = province();
    let mut night = with_audio_secs(
        emergency(
            "night",
            AreaLevel::Province,
            "67",
            &["67"],
            "2026-11-23 03:00",
        ),
        120,
    );
    night.validity.expires = local("2026-11-23 03:30");
    let prog = programme(
        &p,
        [
            night,
            with_audio_secs(
                emergency(
                    "flood",
                    AreaLevel::District,
                    "661",
                    &["661"],
                    "2026-11-23 17:05",
                ),
                120,
            ),
            priority("news", AreaLevel::Province, "67", 10 * 60),
        ],
    );
    // Planned ahead, the routine bulletin waits for the known emergency rather than being cut.
    assert_eq!(
        plan_lines(&p, &prog, "24700-LS", "2026-11-23 06:40"),
        ["17:05-17:07 flood", "17:07-17:17 news"]
    );
    // Outside any window, only the emergency plays; a commune outside its targets never hears it.
    assert_eq!(
        plan_lines(&p, &prog, "24611-LS", "2026-11-23 02:00"),
        ["03:00-03:02 night", "05:00-05:10 news"]
    );
    assert_eq!(
        plan_lines(&p, &prog, "24611-LS", "2026-11-23 06:40"),
        ["17:00-17:10 news"]
    );
    // Boards show it too, for the length of its visual part.
    assert_eq!(
        plan_lines(&p, &prog, "24700-LB", "2026-11-23 17:01")[..2],
        ["17:01-17:03 news", "17:05-17:07 flood"]
    );
}

#[test]
fn a_newer_emergency_plays_first_and_the_older_one_replays_in_full() {
    let p = province();
    let prog = programme(
        &p,
        [
            with_audio_secs(
                emergency(
                    "storm",
                    AreaLevel::Province,
                    "67",
                    &["67"],
                    "2026-11-23 10:00",
                ),
                300,
            ),
            with_audio_secs(
                emergency(
                    "dam",
                    AreaLevel::District,
                    "660",
                    &["660"],
                    "2026-11-23 10:02",
                ),
                120,
            ),
        ],
    );
    assert_eq!(
        plan_lines(&p, &prog, "24611-LS", "2026-11-23 09:00"),
        [
            "10:00-10:02 storm cut",
            "10:02-10:04 dam",
            "10:04-10:09 storm"
        ]
    );
    // Where only the older one is targeted it plays undisturbed.
    assert_eq!(
        plan_lines(&p, &prog, "24700-LS", "2026-11-23 09:00"),
        ["10:00-10:05 storm"]
    );
}

#[test]
fn an_airing_in_progress_keeps_its_place() {
    let p = province();
    let prog = programme(
        &p,
        [
            priority("district", AreaLevel::District, "660", 600),
            priority("province", AreaLevel::Province, "67", 600),
        ],
    );
    // The device started the district bulletin at 05:00 (say the province one arrived later).
    let log = DeviceLog {
        playing: Some(Playing {
            item: PlanItem {
                key: AiringKey {
                    bulletin: bid("district"),
                    occurrence: 0,
                    language: lang("vi"),
                },
                class: PriorityClass::Priority,
                start: local("2026-11-23 05:00"),
                end: local("2026-11-23 05:10"),
                preempted: false,
            },
            evidence: Evidence::Reported,
        }),
        ..DeviceLog::default()
    };
    let horizon = Horizon::new(local("2026-11-23 05:03"), TZ);
    let items = plan_device(
        &p,
        &prog,
        &code("24611"),
        DeviceKind::Loudspeaker,
        None,
        &log,
        horizon,
    );
    assert_eq!(
        lines(&items),
        ["05:00-05:10 district", "05:10-05:20 province"]
    );
}

#[test]
fn communes_hear_every_language_they_broadcast_in() {
    let mut settings = CommuneSettings::default_for(code("24700"));
    settings.languages = vec![lang("vi"), lang("ede")];
    let p = one_device_province(settings, DeviceKind::Loudspeaker);
    let mut b = priority("b", AreaLevel::Province, "67", 300);
    b.variants.push(Variant {
        language: lang("ede"),
        audio: Some(AudioPart {
            source: AudioSource::Recorded,
            secs: 360,
            media: None,
        }),
        visual: None,
    });
    let prog = programme(&p, [b]);
    assert_eq!(
        plan_lines(&p, &prog, "24700-LS", "2026-11-23 04:00"),
        ["05:00-05:05 b", "05:05-05:11 b ede"]
    );
}

#[test]
fn an_emergency_airs_in_the_commune_languages_in_their_order() {
    let mut settings = CommuneSettings::default_for(code("24700"));
    settings.languages = vec![lang("mnong"), lang("vi")];
    let p = one_device_province(settings, DeviceKind::Loudspeaker);
    let mut e = with_audio_secs(
        emergency(
            "flood",
            AreaLevel::Province,
            "67",
            &["67"],
            "2026-11-23 10:00",
        ),
        120,
    );
    e.variants.push(Variant {
        language: lang("mnong"),
        audio: Some(AudioPart {
            source: AudioSource::Recorded,
            secs: 180,
            media: None,
        }),
        visual: None,
    });
    let prog = programme(&p, [e]);
    assert_eq!(
        plan_lines(&p, &prog, "24700-LS", "2026-11-23 09:00"),
        ["10:00-10:03 flood mnong", "10:03-10:05 flood"]
    );
}

#[test]
fn a_recurring_bulletin_airs_at_its_time_every_day() {
    let p = province();
    let mut b = priority("daily", AreaLevel::Province, "67", 300);
    b.recurrence = Some(Recurrence {
        at: vec![NaiveTime::from_hms_opt(5, 30, 0).unwrap()],
        days: 7,
    });
    let other = priority("other", AreaLevel::Commune, "24611", 300);
    let prog = programme(&p, [b, other]);
    assert_eq!(
        plan_lines(&p, &prog, "24611-LS", "2026-11-23 04:00"),
        ["05:00-05:05 other", "05:30-05:35 daily"]
    );
    // A device that never aired yesterday's occurrence still owes it until today's 05:30.
    assert_eq!(
        plan_lines(&p, &prog, "24611-LS", "2026-11-25 04:00"),
        [
            "05:00-05:05 daily #1",
            "05:05-05:10 other",
            "05:30-05:35 daily #2"
        ]
    );
    // Each occurrence is due until the next one: missed in the morning, it airs in the evening.
    assert_eq!(
        plan_lines(&p, &prog, "24612-LS", "2026-11-25 06:40"),
        ["17:00-17:05 daily #2"]
    );
    assert_eq!(
        plan_lines(&p, &prog, "24612-LS", "2026-11-30 04:00"),
        Vec::<String>::new()
    );
}

#[test]
fn two_tier_provinces_plan_the_same_way() {
    let tree = AreaTree::new([
        area("VN", AreaLevel::Central, None),
        area("68", AreaLevel::Province, Some("VN")),
        area("25000", AreaLevel::Commune, Some("68")),
    ])
    .unwrap();
    let devices = [Device {
        id: device_id("25000-LS"),
        kind: DeviceKind::Loudspeaker,
        commune: code("25000"),
        name: "ls".into(),
    }];
    let p = Province::new(TZ, tree, WindowPolicy::default(), [], devices).unwrap();
    let prog = programme(
        &p,
        [
            priority("own", AreaLevel::Commune, "25000", 300),
            priority("province", AreaLevel::Province, "68", 300),
        ],
    );
    assert_eq!(
        plan_lines(&p, &prog, "25000-LS", "2026-11-23 04:00"),
        ["05:00-05:05 province", "05:05-05:10 own"]
    );
    let b = bulletin(
        "x",
        PriorityClass::Priority,
        AreaLevel::District,
        "68",
        &["68"],
    );
    assert!(b
        .validate(&p.tree)
        .unwrap_err()
        .to_string()
        .contains("does not match issuer"));
}

#[test]
fn airing_keys_round_trip_through_the_wire_and_bad_names_are_refused() {
    let key = AiringKey {
        bulletin: bid("lu-serepok"),
        occurrence: 3,
        language: lang("mnong"),
    };
    assert_eq!(AiringKey::from_wire(&key.to_wire()).unwrap(), key);
    let mut bad = key.to_wire();
    bad.bulletin = "no spaces allowed".into();
    assert!(AiringKey::from_wire(&bad).is_err());
}
