//! Inactivity and fault alarms, decided from what the hub knows of each
//! device at a given moment: pure, `now` passed in.
//!
//! A device is *down* when it has an alarm: offline (or not heard from
//! since the hub started) for longer than `[health] offline_alarm_secs`,
//! or reporting faults in its last status. A commune whose loudspeakers
//! are all down cannot be warned of an emergency, and one whose boards are
//! all down shows nothing: each is an alarm of the commune. A commune with
//! no device of a kind has no alarm for that kind (not every commune is
//! equipped with both).

use chrono::{DateTime, TimeDelta, Utc};
use hub_core::DeviceKind;
use serde::{Deserialize, Serialize};

/// The `[health]` section of the configuration.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct HealthSettings {
    /// A device offline this long (or not heard from this long since the hub
    /// started) raises an alarm.
    pub offline_alarm_secs: u64,
}

impl Default for HealthSettings {
    /// Ten minutes: loudspeakers on 4G drop and reconnect within a minute
    /// or two (their Last Will and the heartbeat timeout report every
    /// drop), so a shorter limit would page the duty officer for every cell
    /// handover; a longer one would leave a dead loudspeaker unnoticed for a
    /// good part of a 90-minute broadcast window, or until an emergency.
    fn default() -> Self {
        Self {
            offline_alarm_secs: 600,
        }
    }
}

/// What the hub knows of one device, as alarms need it.
#[derive(Clone, Copy, Debug)]
pub struct DeviceCondition<'a> {
    pub online: bool,
    /// When it last went online or offline (the hub's start if it has not
    /// been heard from since).
    pub since: DateTime<Utc>,
    /// Faults in its last status report.
    pub faults: &'a [String],
}

/// Something a duty officer should look at.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Alarm {
    /// The device has been offline since `since`, longer than allowed.
    DeviceOffline { since: DateTime<Utc> },
    /// The device's last status report lists faults.
    DeviceFaulty { faults: Vec<String> },
    /// Every one of the commune's loudspeakers is down.
    NoWorkingLoudspeaker { loudspeakers: usize },
    /// Every one of the commune's LED boards is down.
    AllBoardsDown { boards: usize },
}

impl Alarm {
    /// The alarm in a sentence, for people.
    pub fn message(&self) -> String {
        match self {
            Alarm::DeviceOffline { since } => format!(
                "offline since {}",
                since.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
            ),
            Alarm::DeviceFaulty { faults } => format!("reports faults: {}", faults.join(", ")),
            Alarm::NoWorkingLoudspeaker { loudspeakers } => format!(
                "no working loudspeaker: all {loudspeakers} are offline or faulty, \
                 so an emergency cannot be heard here"
            ),
            Alarm::AllBoardsDown { boards } => {
                format!("every LED board is down: all {boards} are offline or faulty")
            }
        }
    }
}

/// The device's alarm at `now`, if it has one. Being offline outranks
/// faults: the faults of a device that is gone are stale.
pub fn device_alarm(
    device: &DeviceCondition<'_>,
    now: DateTime<Utc>,
    settings: &HealthSettings,
) -> Option<Alarm> {
    let limit = TimeDelta::seconds(i64::try_from(settings.offline_alarm_secs).unwrap_or(i64::MAX));
    if !device.online && now - device.since >= limit {
        return Some(Alarm::DeviceOffline {
            since: device.since,
        });
    }
    if !device.faults.is_empty() {
        return Some(Alarm::DeviceFaulty {
            faults: device.faults.to_vec(),
        });
    }
    None
}

/// A commune's alarms from its devices: each device's kind and whether it
/// is down (has a [`device_alarm`]).
pub fn commune_alarms(devices: impl IntoIterator<Item = (DeviceKind, bool)>) -> Vec<Alarm> {
    let (mut speakers, mut speakers_down, mut boards, mut boards_down) = (0, 0, 0, 0);
    for (kind, down) in devices {
        let (total, downs) = match kind {
            DeviceKind::Loudspeaker => (&mut speakers, &mut speakers_down),
            DeviceKind::LedBoard => (&mut boards, &mut boards_down),
        };
        *total += 1;
        *downs += usize::from(down);
    }
    let mut alarms = Vec::new();
    if speakers > 0 && speakers_down == speakers {
        alarms.push(Alarm::NoWorkingLoudspeaker {
            loudspeakers: speakers,
        });
    }
    if boards > 0 && boards_down == boards {
        alarms.push(Alarm::AllBoardsDown { boards });
    }
    alarms
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(text: &str) -> DateTime<Utc> {
        text.parse().unwrap()
    }

    const START: &str = "2026-11-23T03:00:00Z";

    fn offline_since(since: &str) -> DeviceCondition<'static> {
        DeviceCondition {
            online: false,
            since: at(since),
            faults: &[],
        }
    }

    #[test]
    fn a_device_is_alarmed_once_offline_for_the_whole_limit_and_not_a_second_before() {
        let settings = HealthSettings {
            offline_alarm_secs: 600,
        };
        let device = offline_since(START);
        assert_eq!(
            device_alarm(&device, at("2026-11-23T03:09:59Z"), &settings),
            None
        );
        assert_eq!(
            device_alarm(&device, at("2026-11-23T03:10:00Z"), &settings),
            Some(Alarm::DeviceOffline { since: at(START) })
        );
    }

    #[test]
    fn an_online_device_is_never_offline_alarmed_however_long_ago_it_connected() {
        let device = DeviceCondition {
            online: true,
            ..offline_since(START)
        };
        let later = at("2026-11-30T03:00:00Z");
        assert_eq!(
            device_alarm(&device, later, &HealthSettings::default()),
            None
        );
    }

    #[test]
    fn faults_raise_an_alarm_at_once_but_being_offline_outranks_them() {
        let faults = vec!["storage_full".to_owned()];
        let online = DeviceCondition {
            online: true,
            since: at(START),
            faults: &faults,
        };
        let settings = HealthSettings::default();
        assert_eq!(
            device_alarm(&online, at(START), &settings),
            Some(Alarm::DeviceFaulty {
                faults: faults.clone()
            })
        );
        let gone = DeviceCondition {
            online: false,
            ..online
        };
        // Offline but within the limit: the faults still show.
        assert_eq!(
            device_alarm(&gone, at("2026-11-23T03:05:00Z"), &settings),
            Some(Alarm::DeviceFaulty {
                faults: faults.clone()
            })
        );
        assert_eq!(
            device_alarm(&gone, at("2026-11-23T03:10:00Z"), &settings),
            Some(Alarm::DeviceOffline { since: at(START) })
        );
    }

    #[test]
    fn a_commune_is_alarmed_when_every_loudspeaker_is_down_and_not_while_one_works() {
        use DeviceKind::{LedBoard, Loudspeaker};
        assert_eq!(
            commune_alarms([(Loudspeaker, true), (Loudspeaker, false), (LedBoard, false)]),
            vec![]
        );
        assert_eq!(
            commune_alarms([(Loudspeaker, true), (Loudspeaker, true), (LedBoard, false)]),
            vec![Alarm::NoWorkingLoudspeaker { loudspeakers: 2 }]
        );
        assert_eq!(
            commune_alarms([(Loudspeaker, false), (LedBoard, true)]),
            vec![Alarm::AllBoardsDown { boards: 1 }]
        );
    }

    #[test]
    fn a_commune_without_devices_of_a_kind_has_no_alarm_for_that_kind() {
        assert_eq!(commune_alarms([]), vec![]);
        assert_eq!(commune_alarms([(DeviceKind::Loudspeaker, false)]), vec![]);
    }

    #[test]
    fn alarms_serialize_with_their_kind_and_say_what_is_wrong() {
        let alarm = Alarm::NoWorkingLoudspeaker { loudspeakers: 3 };
        assert_eq!(
            serde_json::to_value(&alarm).unwrap(),
            serde_json::json!({"kind": "no_working_loudspeaker", "loudspeakers": 3})
        );
        assert!(alarm.message().contains("all 3"));
        let offline = Alarm::DeviceOffline { since: at(START) };
        assert_eq!(offline.message(), "offline since 2026-11-23T03:00:00Z");
    }
}
