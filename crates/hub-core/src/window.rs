//! Daily operating windows (Article 10), in local time.
//!
//! A window is a span of one local day, `HH:MM-HH:MM`, end exclusive, end at
//! most `24:00`; a programme that should run past midnight is two windows.
//! Outside its windows a device plays only emergencies.

use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, Days, NaiveDate, NaiveTime, TimeZone, Utc};
use chrono_tz::Tz;
use serde::{Deserialize, Serialize};

use crate::{AreaCode, CoreError, DeviceKind, Language};

/// One daily window, minutes after local midnight, `start < end <= 1440`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct LocalWindow {
    start_min: u16,
    end_min: u16,
}

/// An instant span `[start, end)`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Interval {
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
}

impl LocalWindow {
    pub fn new(start_min: u16, end_min: u16) -> Result<Self, CoreError> {
        let window = Self { start_min, end_min };
        if end_min > 24 * 60 {
            return Err(window_error(&window.to_string(), "ends after 24:00"));
        }
        if start_min >= end_min {
            return Err(window_error(
                &window.to_string(),
                "must end after it starts (split a window that crosses midnight in two)",
            ));
        }
        Ok(window)
    }

    /// The instants this window covers on local `date` in `tz`.
    pub fn on(&self, date: NaiveDate, tz: Tz) -> Interval {
        Interval {
            start: local_minute(date, self.start_min, tz),
            end: local_minute(date, self.end_min, tz),
        }
    }
}

/// The instant of `minute` minutes after local midnight of `date` (1440 is the next midnight).
/// A local time that does not exist (a DST gap) maps to the first instant after the gap.
pub(crate) fn local_minute(date: NaiveDate, minute: u16, tz: Tz) -> DateTime<Utc> {
    let (date, minute) = if minute >= 24 * 60 {
        (date + Days::new(1), minute - 24 * 60)
    } else {
        (date, minute)
    };
    let time = NaiveTime::from_hms_opt(u32::from(minute / 60), u32::from(minute % 60), 0)
        .expect("minute is below 1440");
    local_to_utc(date.and_time(time), tz)
}

/// Converts a local wall-clock time to an instant, resolving DST gaps forward.
pub fn local_to_utc(local: chrono::NaiveDateTime, tz: Tz) -> DateTime<Utc> {
    let mut probe = local;
    loop {
        if let Some(at) = tz.from_local_datetime(&probe).earliest() {
            return at.with_timezone(&Utc);
        }
        probe += chrono::TimeDelta::minutes(1);
    }
}

fn window_error(value: &str, reason: &str) -> CoreError {
    CoreError::InvalidWindow {
        value: value.to_owned(),
        reason: reason.to_owned(),
    }
}

fn parse_clock(text: &str, whole: &str) -> Result<u16, CoreError> {
    let bad = || window_error(whole, "expected HH:MM-HH:MM, e.g. 05:00-06:30");
    let (h, m) = text.trim().split_once(':').ok_or_else(bad)?;
    let (h, m): (u16, u16) = (h.parse().map_err(|_| bad())?, m.parse().map_err(|_| bad())?);
    if m >= 60 || h > 24 || (h == 24 && m != 0) {
        return Err(window_error(whole, "hours run 00-24 and minutes 00-59"));
    }
    Ok(h * 60 + m)
}

impl FromStr for LocalWindow {
    type Err = CoreError;
    fn from_str(text: &str) -> Result<Self, CoreError> {
        let (start, end) = text
            .split_once('-')
            .ok_or_else(|| window_error(text, "expected HH:MM-HH:MM, e.g. 05:00-06:30"))?;
        // Report the window as written, with the reason `new` gives.
        Self::new(parse_clock(start, text)?, parse_clock(end, text)?).map_err(|err| match err {
            CoreError::InvalidWindow { reason, .. } => window_error(text, &reason),
            other => other,
        })
    }
}

impl TryFrom<String> for LocalWindow {
    type Error = CoreError;
    fn try_from(text: String) -> Result<Self, CoreError> {
        text.parse()
    }
}

impl From<LocalWindow> for String {
    fn from(window: LocalWindow) -> String {
        window.to_string()
    }
}

impl fmt::Display for LocalWindow {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let clock = |m: u16| format!("{:02}:{:02}", m / 60, m % 60);
        write!(f, "{}-{}", clock(self.start_min), clock(self.end_min))
    }
}

/// A day's windows: sorted, non-overlapping.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "Vec<LocalWindow>", into = "Vec<LocalWindow>")]
pub struct DailyWindows(Vec<LocalWindow>);

impl DailyWindows {
    pub fn new(mut windows: Vec<LocalWindow>) -> Result<Self, CoreError> {
        windows.sort();
        for pair in windows.windows(2) {
            if pair[1].start_min < pair[0].end_min {
                return Err(window_error(
                    &format!("{}, {}", pair[0], pair[1]),
                    "windows overlap",
                ));
            }
        }
        Ok(Self(windows))
    }

    pub fn windows(&self) -> &[LocalWindow] {
        &self.0
    }

    /// The windows of local `date` as instants, in time order.
    pub fn on(&self, date: NaiveDate, tz: Tz) -> impl Iterator<Item = Interval> + '_ {
        self.0.iter().map(move |w| w.on(date, tz))
    }
}

impl TryFrom<Vec<LocalWindow>> for DailyWindows {
    type Error = CoreError;
    fn try_from(windows: Vec<LocalWindow>) -> Result<Self, CoreError> {
        Self::new(windows)
    }
}

impl From<DailyWindows> for Vec<LocalWindow> {
    fn from(windows: DailyWindows) -> Self {
        windows.0
    }
}

fn daily(spans: &[&str]) -> DailyWindows {
    DailyWindows::new(
        spans
            .iter()
            .map(|s| s.parse().expect("built-in window"))
            .collect(),
    )
    .expect("built-in windows do not overlap")
}

/// The province's default windows per device kind.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct WindowPolicy {
    pub loudspeaker: DailyWindows,
    pub led_board: DailyWindows,
}

impl Default for WindowPolicy {
    /// Article 10: loudspeakers 05:00-06:30 and 17:00-18:30; boards 05:00-07:00 and 17:00-22:00.
    fn default() -> Self {
        Self {
            loudspeaker: daily(&["05:00-06:30", "17:00-18:30"]),
            led_board: daily(&["05:00-07:00", "17:00-22:00"]),
        }
    }
}

impl WindowPolicy {
    pub fn for_kind(&self, kind: DeviceKind) -> &DailyWindows {
        match kind {
            DeviceKind::Loudspeaker => &self.loudspeaker,
            DeviceKind::LedBoard => &self.led_board,
        }
    }
}

/// What a commune sets for itself: its languages and its own windows.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CommuneSettings {
    pub commune: AreaCode,
    /// Languages the commune broadcasts in, in airing order; Vietnamese by default.
    pub languages: Vec<Language>,
    /// The commune's own loudspeaker windows, replacing the province default.
    pub loudspeaker_windows: Option<DailyWindows>,
    /// The commune's own board windows, replacing the province default.
    pub led_board_windows: Option<DailyWindows>,
}

impl CommuneSettings {
    /// Vietnamese only, province windows.
    pub fn default_for(commune: AreaCode) -> Self {
        Self {
            commune,
            languages: vec![Language::vietnamese()],
            loudspeaker_windows: None,
            led_board_windows: None,
        }
    }

    pub fn windows<'a>(&'a self, kind: DeviceKind, policy: &'a WindowPolicy) -> &'a DailyWindows {
        let own = match kind {
            DeviceKind::Loudspeaker => &self.loudspeaker_windows,
            DeviceKind::LedBoard => &self.led_board_windows,
        };
        own.as_ref().unwrap_or_else(|| policy.for_kind(kind))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn windows_parse_and_print() {
        let w: LocalWindow = "05:00-06:30".parse().unwrap();
        assert_eq!(w.to_string(), "05:00-06:30");
        let late: LocalWindow = "22:00-24:00".parse().unwrap();
        assert_eq!(late.to_string(), "22:00-24:00");
    }

    #[test]
    fn bad_windows_say_what_is_wrong() {
        for (text, reason) in [
            ("5-6", "expected HH:MM-HH:MM"),
            ("06:30-05:00", "must end after it starts"),
            ("22:00-01:00", "crosses midnight"),
            ("05:61-06:00", "minutes 00-59"),
            ("24:30-24:40", "hours run 00-24"),
        ] {
            let err = text.parse::<LocalWindow>().unwrap_err().to_string();
            assert!(err.contains(reason), "{text}: {err}");
            assert!(err.contains(text), "{text}: {err}");
        }
        let overlapping: Vec<LocalWindow> = vec![
            "05:00-07:00".parse().unwrap(),
            "06:00-08:00".parse().unwrap(),
        ];
        assert!(DailyWindows::new(overlapping)
            .unwrap_err()
            .to_string()
            .contains("overlap"));
    }

    #[test]
    fn windows_map_to_instants_in_vietnam_time() {
        let date = NaiveDate::from_ymd_opt(2026, 11, 23).unwrap();
        let tz = chrono_tz::Asia::Ho_Chi_Minh;
        let policy = WindowPolicy::default();
        let spans: Vec<_> = policy.loudspeaker.on(date, tz).collect();
        assert_eq!(spans[0].start.to_rfc3339(), "2026-11-22T22:00:00+00:00");
        assert_eq!(spans[1].end.to_rfc3339(), "2026-11-23T11:30:00+00:00");
        let midnight: LocalWindow = "22:00-24:00".parse().unwrap();
        assert_eq!(
            midnight.on(date, tz).end.to_rfc3339(),
            "2026-11-23T17:00:00+00:00"
        );
    }

    #[test]
    fn commune_override_replaces_the_default_for_its_kind_only() {
        let policy = WindowPolicy::default();
        let mut settings = CommuneSettings::default_for(AreaCode::parse("24611").unwrap());
        settings.loudspeaker_windows = Some(daily(&["04:30-05:30"]));
        assert_eq!(
            settings
                .windows(DeviceKind::Loudspeaker, &policy)
                .windows()
                .len(),
            1
        );
        assert_eq!(
            settings.windows(DeviceKind::LedBoard, &policy),
            &policy.led_board
        );
    }
}
