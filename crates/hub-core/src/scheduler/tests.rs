//! The state machine: events in, decisions out, with exact times.

use std::collections::BTreeMap;

use chrono::TimeDelta;

use crate::testkit::*;
use crate::*;

fn scheduler(bulletins: impl IntoIterator<Item = Bulletin>) -> Scheduler {
    let p = province();
    let prog = programme(&p, bulletins);
    Scheduler::new(p, prog, BTreeMap::new())
}

fn key(bulletin: &str) -> AiringKey {
    AiringKey {
        bulletin: bid(bulletin),
        occurrence: 0,
        language: lang("vi"),
    }
}

/// Play decisions as `"device line"`.
fn plays(decisions: &[Decision]) -> Vec<String> {
    decisions
        .iter()
        .filter_map(|d| match d {
            Decision::Play { device, item } => {
                Some(format!("{device} {}", lines(std::slice::from_ref(item))[0]))
            }
            _ => None,
        })
        .collect()
}

fn states(decisions: &[Decision]) -> Vec<(String, BulletinState)> {
    decisions
        .iter()
        .filter_map(|d| match d {
            Decision::State { bulletin, state } => Some((bulletin.to_string(), *state)),
            _ => None,
        })
        .collect()
}

fn state(s: &Scheduler, id: &str) -> BulletinState {
    s.programme().bulletin(&bid(id)).unwrap().state
}

#[test]
fn queuing_a_bulletin_plans_exactly_its_target_devices() {
    let mut s = scheduler([]);
    s.handle(local("2026-11-23 04:00"), Event::Tick).unwrap();
    let b = priority("d", AreaLevel::District, "660", 300);
    let out = s
        .handle(local("2026-11-23 04:10"), Event::Queue(b))
        .unwrap();
    assert_eq!(
        plays(&out),
        [
            "24611-LB 05:00-05:02 d",
            "24611-LS 05:00-05:05 d",
            "24612-LB 05:00-05:02 d",
            "24612-LS 05:00-05:05 d",
        ]
    );
    assert_eq!(states(&out), [("d".to_string(), BulletinState::Scheduled)]);
    assert!(s.plan(&device_id("24700-LS")).is_empty());
}

#[test]
fn a_bulletin_meant_for_some_devices_plans_only_those() {
    let mut s = scheduler([]);
    s.handle(local("2026-11-23 04:00"), Event::Tick).unwrap();
    let mut b = priority("d", AreaLevel::District, "660", 300);
    b.devices = Some([device_id("24611-LS"), device_id("24612-LB")].into());
    let out = s
        .handle(local("2026-11-23 04:10"), Event::Queue(b))
        .unwrap();
    assert_eq!(
        plays(&out),
        ["24611-LS 05:00-05:05 d", "24612-LB 05:00-05:02 d"]
    );
    assert!(s.plan(&device_id("24612-LS")).is_empty());
    assert!(s.plan(&device_id("24611-LB")).is_empty());

    // A device outside the targets cannot be named.
    let mut stray = priority("e", AreaLevel::District, "660", 300);
    stray.devices = Some([device_id("24700-LS")].into());
    let refused = s.handle(local("2026-11-23 04:11"), Event::Queue(stray));
    assert!(
        matches!(refused, Err(CoreError::InvalidBulletin { ref reason, .. })
            if reason.contains("24700-LS")),
        "{refused:?}"
    );
}

#[test]
fn a_correction_reaches_each_device_that_reports_airing_what_it_corrects() {
    let t = local("2026-11-23 05:00");
    let mut s = scheduler([]);
    s.handle(t, Event::Tick).unwrap();
    let alert = emergency(
        "alert",
        AreaLevel::District,
        "660",
        &["660"],
        "2026-11-23 05:00",
    );
    s.handle(t, Event::Queue(with_audio_secs(alert, 120)))
        .unwrap();
    let report = |device: &str, bulletin: &str, report: Report| {
        Event::Receipt(Receipt {
            device: device_id(device),
            key: key(bulletin),
            report,
            at: t,
        })
    };
    s.handle(t, report("24611-LS", "alert", Report::Started))
        .unwrap();

    // Only 24611-LS is heard from when the correction goes out.
    let mut fix = emergency(
        "fix",
        AreaLevel::District,
        "660",
        &["24611"],
        "2026-11-23 05:00",
    );
    fix.devices = Some([device_id("24611-LS")].into());
    fix.corrects = Some(bid("alert"));
    let later = t + TimeDelta::seconds(30);
    let out = s
        .handle(later, Event::Queue(with_audio_secs(fix, 60)))
        .unwrap();
    // (It preempts the alert, which the operator cancels next.)
    let fixes = |out: &[Decision]| -> Vec<String> {
        plays(out)
            .into_iter()
            .filter(|p| p.ends_with(" fix"))
            .collect()
    };
    assert_eq!(fixes(&out), ["24611-LS 05:00-05:01 fix"]);
    s.handle(later, Event::Cancel(bid("alert"))).unwrap();

    // 24612-LS's report of airing the alert comes after: the correction
    // reaches it, and its commune joins the targets.
    let out = s
        .handle(later, report("24612-LS", "alert", Report::Started))
        .unwrap();
    let reach = Decision::Reach {
        bulletin: bid("fix"),
        device: device_id("24612-LS"),
    };
    assert!(out.contains(&reach), "{out:?}");
    assert_eq!(fixes(&out), ["24612-LS 05:00-05:01 fix"]);
    let fix = s.programme().bulletin(&bid("fix")).unwrap();
    assert_eq!(fix.targets, [code("24611"), code("24612")]);
    assert!(fix.reaches(&device_id("24612-LS")));
    assert!(!fix.reaches(&device_id("24612-LB")));

    // A failure is no airing; a second report of the same device adds nothing.
    let out = s
        .handle(later, report("24612-LB", "alert", Report::Failed))
        .unwrap();
    assert!(!out.iter().any(|d| matches!(d, Decision::Reach { .. })));
    let out = s
        .handle(later, report("24612-LS", "alert", Report::Preempted))
        .unwrap();
    assert!(!out.iter().any(|d| matches!(d, Decision::Reach { .. })));

    // A report of the hub's stop shows it aired too (the start's report
    // may have been lost to a full queue of reports).
    let out = s
        .handle(later, report("24611-LB", "alert", Report::Stopped))
        .unwrap();
    let reach = Decision::Reach {
        bulletin: bid("fix"),
        device: device_id("24611-LB"),
    };
    assert!(out.contains(&reach), "{out:?}");

    // Once the correction is over, no late report brings it back.
    s.handle(later, Event::Cancel(bid("fix"))).unwrap();
    let out = s
        .handle(later, report("24612-LB", "alert", Report::Finished))
        .unwrap();
    assert!(!out.iter().any(|d| matches!(d, Decision::Reach { .. })));
    assert!(!s
        .programme()
        .bulletin(&bid("fix"))
        .unwrap()
        .reaches(&device_id("24612-LB")));
}

#[test]
fn a_correction_aired_everywhere_is_owed_again_to_a_late_reporter() {
    let t = local("2026-11-23 05:00");
    let alert = with_audio_secs(
        emergency(
            "alert",
            AreaLevel::District,
            "660",
            &["24611"],
            "2026-11-23 05:00",
        ),
        60,
    );
    let mut fix = with_audio_secs(
        emergency(
            "fix",
            AreaLevel::District,
            "660",
            &["24611"],
            "2026-11-23 05:00",
        ),
        60,
    );
    fix.devices = Some([device_id("24611-LS")].into());
    fix.corrects = Some(bid("alert"));
    let mut s = scheduler([alert, fix]);
    s.handle(t, Event::Tick).unwrap();
    let out = s.handle(t + TimeDelta::minutes(2), Event::Tick).unwrap();
    assert!(states(&out).contains(&("fix".to_string(), BulletinState::Done)));

    let late = Receipt {
        device: device_id("24611-LB"),
        key: key("alert"),
        report: Report::Finished,
        at: t,
    };
    let out = s
        .handle(t + TimeDelta::minutes(3), Event::Receipt(late))
        .unwrap();
    assert!(states(&out).contains(&("fix".to_string(), BulletinState::Scheduled)));
    assert_eq!(plays(&out), ["24611-LB 05:03-05:05 fix"]);
}

#[test]
fn a_bulletin_airs_then_is_done_everywhere() {
    let b = priority("d", AreaLevel::District, "661", 300);
    let mut s = scheduler([b]);
    s.handle(local("2026-11-23 04:00"), Event::Tick).unwrap();
    assert_eq!(state(&s, "d"), BulletinState::Scheduled);
    let out = s.handle(local("2026-11-23 05:01"), Event::Tick).unwrap();
    assert_eq!(states(&out), [("d".to_string(), BulletinState::Airing)]);
    assert!(s
        .log(&device_id("24700-LS"))
        .unwrap()
        .is_playing(&key("d"), local("2026-11-23 05:01")));
    let out = s.handle(local("2026-11-23 05:06"), Event::Tick).unwrap();
    assert_eq!(states(&out), [("d".to_string(), BulletinState::Done)]);
    // Done is final: expiry does not touch it.
    let out = s.handle(local("2026-12-01 00:00"), Event::Tick).unwrap();
    assert!(states(&out).is_empty());
}

#[test]
fn an_emergency_preempts_at_once_and_the_cut_bulletin_replays() {
    let b = priority("news", AreaLevel::Province, "67", 600);
    let mut s = scheduler([b]);
    s.handle(local("2026-11-23 04:00"), Event::Tick).unwrap();
    s.handle(local("2026-11-23 05:03"), Event::Tick).unwrap();
    let flood = with_audio_secs(
        emergency(
            "flood",
            AreaLevel::District,
            "661",
            &["661"],
            "2026-11-23 05:04",
        ),
        120,
    );
    let out = s
        .handle(local("2026-11-23 05:04"), Event::Queue(flood))
        .unwrap();
    let preempts: Vec<_> = out
        .iter()
        .filter_map(|d| match d {
            Decision::Preempt {
                device,
                stopped,
                by,
                at,
            } => Some((
                device.to_string(),
                stopped.bulletin.to_string(),
                by.bulletin.to_string(),
                *at,
            )),
            _ => None,
        })
        .collect();
    assert_eq!(
        preempts,
        // The board's two-minute part was over at 05:02; only the loudspeaker is cut.
        [(
            "24700-LS".into(),
            "news".into(),
            "flood".into(),
            local("2026-11-23 05:04")
        )]
    );
    assert_eq!(
        lines(s.plan(&device_id("24700-LS"))),
        [
            "05:00-05:04 news cut",
            "05:04-05:06 flood",
            "05:06-05:16 news"
        ]
    );
    // Devices outside the emergency's area carry on.
    assert_eq!(lines(s.plan(&device_id("24611-LS"))), ["05:00-05:10 news"]);
    assert!(s
        .log(&device_id("24611-LS"))
        .unwrap()
        .is_playing(&key("news"), local("2026-11-23 05:04")));
    // The replay counts: news is done in 24700 after 05:16.
    s.handle(local("2026-11-23 05:17"), Event::Tick).unwrap();
    assert!(s
        .log(&device_id("24700-LS"))
        .unwrap()
        .done
        .contains_key(&key("news")));
}

#[test]
fn cancelling_while_airing_stops_and_withdraws() {
    let b = priority("news", AreaLevel::Commune, "24611", 600);
    let mut later = priority("later", AreaLevel::Commune, "24611", 600);
    later.validity.not_before = local("2026-11-23 05:00");
    let mut s = scheduler([b, later]);
    s.handle(local("2026-11-23 05:02"), Event::Tick).unwrap();
    let out = s
        .handle(local("2026-11-23 05:05"), Event::Cancel(bid("news")))
        .unwrap();
    let stops = out
        .iter()
        .filter(|d| {
            matches!(
                d,
                Decision::Stop {
                    reason: StopReason::Cancelled,
                    ..
                }
            )
        })
        .count();
    // The board showed its two minutes at 05:00-05:02; only the loudspeaker is still playing.
    assert_eq!(stops, 1, "{out:?}");
    assert_eq!(state(&s, "news"), BulletinState::Cancelled);
    // "later" moves up to now.
    assert_eq!(lines(s.plan(&device_id("24611-LS"))), ["05:05-05:15 later"]);
    assert!(out
        .iter()
        .any(|d| matches!(d, Decision::Withdraw { item, .. } if item.key == key("later"))));
    let err = s
        .handle(local("2026-11-23 05:06"), Event::Cancel(bid("news")))
        .unwrap_err();
    assert!(err.to_string().contains("Cancelled"), "{err}");
}

#[test]
fn bulletins_expire_and_never_air_afterwards() {
    let mut b = priority("old", AreaLevel::Province, "67", 600);
    b.validity.expires = local("2026-11-23 05:05");
    let mut s = scheduler([b]);
    let out = s.handle(local("2026-11-23 04:00"), Event::Tick).unwrap();
    let loudspeakers: Vec<_> = plays(&out)
        .into_iter()
        .filter(|p| p.contains("-LS "))
        .collect();
    assert!(
        loudspeakers.is_empty(),
        "ten minutes do not fit before 05:05: {loudspeakers:?}"
    );
    let out = s.handle(local("2026-11-23 05:05"), Event::Tick).unwrap();
    assert_eq!(states(&out), [("old".to_string(), BulletinState::Expired)]);
}

#[test]
fn sensitive_bulletins_wait_for_review() {
    let mut b = bulletin(
        "s",
        PriorityClass::Priority,
        AreaLevel::Province,
        "67",
        &["67"],
    );
    b.state = BulletinState::Draft;
    b.sensitive = true;
    let mut plain = bulletin(
        "plain",
        PriorityClass::Priority,
        AreaLevel::Province,
        "67",
        &["67"],
    );
    plain.state = BulletinState::Draft;
    let mut s = scheduler([b, plain]);
    s.handle(local("2026-11-23 04:00"), Event::Tick).unwrap();
    let out = s
        .handle(local("2026-11-23 04:01"), Event::Submit(bid("plain")))
        .unwrap();
    assert!(states(&out).contains(&("plain".to_string(), BulletinState::Approved)));
    assert!(!plays(&out).is_empty());
    let out = s
        .handle(local("2026-11-23 04:02"), Event::Submit(bid("s")))
        .unwrap();
    assert_eq!(states(&out), [("s".to_string(), BulletinState::Submitted)]);
    assert!(plays(&out).is_empty());
    let out = s
        .handle(local("2026-11-23 04:03"), Event::Approve(bid("s")))
        .unwrap();
    assert!(plays(&out).iter().any(|p| p.ends_with(" s")));
    let err = s
        .handle(local("2026-11-23 04:04"), Event::Reject(bid("s")))
        .unwrap_err();
    assert!(matches!(err, CoreError::InvalidTransition { .. }));
}

#[test]
fn a_device_reported_failure_is_planned_again() {
    let b = priority("news", AreaLevel::Commune, "24611", 300);
    let mut s = scheduler([b]);
    s.handle(local("2026-11-23 05:00"), Event::Tick).unwrap();
    s.handle(local("2026-11-23 05:06"), Event::Tick).unwrap();
    assert!(s
        .plan(&device_id("24611-LS"))
        .iter()
        .all(|i| i.start < local("2026-11-23 05:06")));
    let receipt = Receipt {
        device: device_id("24611-LS"),
        key: key("news"),
        report: Report::Failed,
        at: local("2026-11-23 05:03"),
    };
    assert_eq!(state(&s, "news"), BulletinState::Done);
    let out = s
        .handle(local("2026-11-23 05:07"), Event::Receipt(receipt.clone()))
        .unwrap();

    // Owed again, after a pause: a device that cannot play it (its file will
    // not download) is not sent a new plan at every tick.
    let seconds = TimeDelta::seconds;
    let t = local("2026-11-23 05:07");
    let ls = device_id("24611-LS");
    assert_eq!(plays(&out).len(), 1);
    assert_eq!(s.plan(&ls)[0].start, t + seconds(10));
    s.handle(t + seconds(10), Event::Tick).unwrap();
    assert_eq!(
        state(&s, "news"),
        BulletinState::Airing,
        "the replay starts"
    );

    // Failing again doubles the pause; starting clears it.
    let again = Receipt {
        at: t + seconds(20),
        ..receipt
    };
    s.handle(t + seconds(20), Event::Receipt(again.clone()))
        .unwrap();
    assert_eq!(s.plan(&ls)[0].start, t + seconds(40));
    let started = Receipt {
        report: Report::Started,
        at: t + seconds(40),
        ..again
    };
    s.handle(t + seconds(40), Event::Receipt(started)).unwrap();
    assert!(s.log(&device_id("24611-LS")).unwrap().retries.is_empty());
}

#[test]
fn an_offline_device_catches_up_on_reconnect_while_still_valid() {
    let mut b = priority("news", AreaLevel::Commune, "24611", 300);
    b.validity.expires = local("2026-11-23 17:30");
    let mut s = scheduler([b]);
    let ls = device_id("24611-LS");
    s.handle(local("2026-11-23 04:00"), Event::DeviceOffline(ls.clone()))
        .unwrap();
    s.handle(local("2026-11-23 05:30"), Event::Tick).unwrap();
    assert!(
        s.log(&ls).unwrap().done.is_empty(),
        "nothing is assumed of an offline device"
    );
    assert!(s
        .log(&device_id("24611-LB"))
        .unwrap()
        .done
        .contains_key(&key("news")));
    let out = s
        .handle(local("2026-11-23 06:00"), Event::DeviceOnline(ls.clone()))
        .unwrap();
    assert_eq!(plays(&out), ["24611-LS 06:00-06:05 news"]);

    // Back offline through the expiry: on reconnect nothing is owed any more.
    s.handle(local("2026-11-23 06:01"), Event::DeviceOffline(ls.clone()))
        .unwrap();
    s.handle(local("2026-11-23 17:31"), Event::DeviceOnline(ls.clone()))
        .unwrap();
    assert!(s
        .plan(&ls)
        .iter()
        .all(|i| i.end <= local("2026-11-23 17:31")));
}

#[test]
fn offline_devices_forget_only_what_was_assumed() {
    let b = priority("news", AreaLevel::Commune, "24611", 300);
    let mut s = scheduler([b]);
    let ls = device_id("24611-LS");
    s.handle(local("2026-11-23 05:00"), Event::Tick).unwrap();
    let finished = Receipt {
        device: ls.clone(),
        key: key("news"),
        report: Report::Finished,
        at: local("2026-11-23 05:05"),
    };
    s.handle(local("2026-11-23 05:05"), Event::Receipt(finished))
        .unwrap();
    s.handle(local("2026-11-23 05:06"), Event::DeviceOffline(ls.clone()))
        .unwrap();
    assert_eq!(
        s.log(&ls).unwrap().done.get(&key("news")),
        Some(&Evidence::Reported)
    );
    let out = s
        .handle(local("2026-11-23 05:07"), Event::DeviceOnline(ls))
        .unwrap();
    assert!(plays(&out).is_empty());
}

#[test]
fn refused_events_change_nothing_and_say_why() {
    let mut s = scheduler([bulletin(
        "news",
        PriorityClass::Priority,
        AreaLevel::Commune,
        "24611",
        &["24611"],
    )]);
    s.handle(local("2026-11-23 04:00"), Event::Tick).unwrap();
    let plan_before = s.plan(&device_id("24611-LS")).to_vec();
    let err = s
        .handle(local("2026-11-23 04:01"), Event::Approve(bid("nope")))
        .unwrap_err();
    assert_eq!(err.to_string(), "unknown bulletin nope");
    let bad = Receipt {
        device: device_id("ghost"),
        key: key("news"),
        report: Report::Started,
        at: local("2026-11-23 04:01"),
    };
    assert_eq!(
        s.handle(local("2026-11-23 04:01"), Event::Receipt(bad))
            .unwrap_err()
            .to_string(),
        "unknown device ghost"
    );
    let out_of_area = bulletin(
        "x",
        PriorityClass::Priority,
        AreaLevel::District,
        "660",
        &["24700"],
    );
    assert!(s
        .handle(local("2026-11-23 04:01"), Event::Queue(out_of_area))
        .is_err());
    assert_eq!(s.plan(&device_id("24611-LS")), plan_before.as_slice());
}

#[test]
fn the_same_events_give_the_same_decisions() {
    let run = || {
        let mut s = scheduler([
            bulletin(
                "a",
                PriorityClass::Priority,
                AreaLevel::Province,
                "67",
                &["67"],
            ),
            bulletin(
                "b",
                PriorityClass::Priority,
                AreaLevel::District,
                "660",
                &["660"],
            ),
        ]);
        let mut all = Vec::new();
        for (t, e) in [
            ("2026-11-23 04:00", Event::Tick),
            (
                "2026-11-23 05:03",
                Event::Queue(emergency(
                    "e",
                    AreaLevel::Province,
                    "67",
                    &["67"],
                    "2026-11-23 05:03",
                )),
            ),
            ("2026-11-23 05:20", Event::Cancel(bid("b"))),
            ("2026-11-23 23:59", Event::Tick),
            ("2026-11-24 05:00", Event::Tick),
        ] {
            all.extend(s.handle(local(t), e).unwrap());
        }
        all
    };
    let first = run();
    assert!(first.len() > 10);
    assert_eq!(first, run());
}

#[test]
fn a_device_registered_while_running_is_planned_at_once_in_its_commune_only() {
    let mut s = scheduler([priority("news", AreaLevel::Commune, "24611", 300)]);
    s.handle(local("2026-11-23 04:00"), Event::Tick).unwrap();
    let new = Device {
        id: device_id("24611-LS-NEW"),
        kind: DeviceKind::Loudspeaker,
        commune: code("24611"),
        name: "Loa mới".into(),
    };
    let added = s
        .handle(local("2026-11-23 04:30"), Event::DeviceAdded(new.clone()))
        .unwrap();
    // Planned like every device; the hub sends the plan once it says hello.
    assert_eq!(plays(&added), ["24611-LS-NEW 05:00-05:05 news"]);
    assert!(s.province().devices_in(&code("24611")).contains(&new.id));
    let again = s.handle(local("2026-11-23 04:31"), Event::DeviceAdded(new.clone()));
    assert!(
        matches!(again, Err(CoreError::InvalidDevice { .. })),
        "{again:?}"
    );
    let elsewhere = Device {
        id: device_id("X-1"),
        commune: code("660"),
        ..new
    };
    let refused = s.handle(local("2026-11-23 04:32"), Event::DeviceAdded(elsewhere));
    assert!(
        matches!(refused, Err(CoreError::InvalidDevice { .. })),
        "a district is no commune"
    );
}
