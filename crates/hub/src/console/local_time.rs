//! The province's local time in forms and pages: `<input type="datetime-local">`
//! values in, instants out, and instants shown as people read them, all in
//! the time zone the province is configured with (`timezone`, carried in
//! [`ApiContext::tz`]).

use chrono::{DateTime, NaiveDate, NaiveDateTime, TimeDelta, TimeZone, Utc};
use chrono_tz::Tz;

use crate::api::error::ApiError;
use crate::api::state::ApiContext;

/// Local time in one time zone.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LocalTime(pub Tz);

impl LocalTime {
    /// The province's local time.
    pub fn of(state: &ApiContext) -> Self {
        LocalTime(state.tz)
    }

    /// An instant as `23/11/2026 17:00`.
    pub fn show(self, at: DateTime<Utc>) -> String {
        at.with_timezone(&self.0)
            .format("%d/%m/%Y %H:%M")
            .to_string()
    }

    /// An instant as `17:00`.
    pub fn clock(self, at: DateTime<Utc>) -> String {
        at.with_timezone(&self.0).format("%H:%M").to_string()
    }

    /// An instant as `17:00:04`.
    pub fn clock_secs(self, at: DateTime<Utc>) -> String {
        at.with_timezone(&self.0).format("%H:%M:%S").to_string()
    }

    /// From `start` to `end` as `17:00–17:30`, with seconds when it is
    /// shorter than a minute (a 4 s bulletin would read `10:04–10:04`).
    pub fn span(self, start: DateTime<Utc>, end: DateTime<Utc>) -> String {
        if end - start < TimeDelta::minutes(1) {
            format!("{}–{}", self.clock_secs(start), self.clock_secs(end))
        } else {
            format!("{}–{}", self.clock(start), self.clock(end))
        }
    }

    /// An instant as a `datetime-local` input's value.
    pub fn input_value(self, at: DateTime<Utc>) -> String {
        at.with_timezone(&self.0)
            .format("%Y-%m-%dT%H:%M")
            .to_string()
    }

    /// An instant as local wall-clock time.
    pub fn naive(self, at: DateTime<Utc>) -> NaiveDateTime {
        at.with_timezone(&self.0).naive_local()
    }

    /// The local day `at` falls on, from its midnight to the next.
    pub fn day_of(self, at: DateTime<Utc>) -> (NaiveDate, DateTime<Utc>, DateTime<Utc>) {
        let date = self.naive(at).date();
        let midnight = |date: NaiveDate| {
            self.instant(date.and_time(chrono::NaiveTime::MIN))
                .unwrap_or(at)
        };
        let next = date.succ_opt().map_or(at, midnight);
        (date, midnight(date), next)
    }

    /// A `datetime-local` value as an instant (the earlier one when the
    /// clock goes back).
    pub fn parse(self, value: &str, field: &str) -> Result<DateTime<Utc>, ApiError> {
        let local = parse_local(value, field)?;
        self.instant(local).ok_or_else(|| {
            ApiError::invalid(
                field,
                format!("{value} does not exist in local time ({})", self.0),
            )
        })
    }

    /// Local wall-clock time as an instant; `None` in a gap the clock
    /// jumps over.
    fn instant(self, local: NaiveDateTime) -> Option<DateTime<Utc>> {
        self.0
            .from_local_datetime(&local)
            .earliest()
            .map(|at| at.with_timezone(&Utc))
    }
}

/// A `datetime-local` value as local wall-clock time.
pub fn parse_local(value: &str, field: &str) -> Result<NaiveDateTime, ApiError> {
    NaiveDateTime::parse_from_str(value, "%Y-%m-%dT%H:%M")
        .or_else(|_| NaiveDateTime::parse_from_str(value, "%Y-%m-%dT%H:%M:%S"))
        .map_err(|_| {
            ApiError::invalid(
                field,
                format!("{value:?} is not a date and time such as 2026-11-23T17:00"),
            )
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    const VIETNAM: LocalTime = LocalTime(chrono_tz::Asia::Ho_Chi_Minh);

    fn at(text: &str) -> DateTime<Utc> {
        text.parse().unwrap()
    }

    #[test]
    fn local_inputs_are_in_the_zone_given() {
        let instant = VIETNAM.parse("2026-11-23T17:00", "valid_from").unwrap();
        assert_eq!(instant.to_rfc3339(), "2026-11-23T10:00:00+00:00");
        assert_eq!(VIETNAM.input_value(instant), "2026-11-23T17:00");
        assert_eq!(VIETNAM.show(instant), "23/11/2026 17:00");
        assert_eq!(VIETNAM.clock(instant), "17:00");

        let tokyo = LocalTime(chrono_tz::Asia::Tokyo);
        assert_eq!(tokyo.show(instant), "23/11/2026 19:00");
        let read = tokyo.parse("2026-11-23T17:00", "valid_from").unwrap();
        assert_eq!(read.to_rfc3339(), "2026-11-23T08:00:00+00:00");
    }

    #[test]
    fn a_slot_shorter_than_a_minute_shows_seconds() {
        let start = at("2026-11-23T03:04:04Z");
        assert_eq!(
            VIETNAM.span(start, at("2026-11-23T03:04:08Z")),
            "10:04:04–10:04:08"
        );
        assert_eq!(
            VIETNAM.span(start, at("2026-11-23T03:05:04Z")),
            "10:04–10:05"
        );
    }

    #[test]
    fn a_day_runs_from_local_midnight_to_the_next() {
        let (date, start, end) = VIETNAM.day_of(at("2026-11-23T18:30:00Z"));
        assert_eq!(date.to_string(), "2026-11-24");
        assert_eq!(start, at("2026-11-23T17:00:00Z"));
        assert_eq!(end, at("2026-11-24T17:00:00Z"));
    }

    #[test]
    fn a_time_the_clock_skips_is_refused_with_its_field() {
        let paris = LocalTime(chrono_tz::Europe::Paris);
        let error = paris.parse("2026-03-29T02:30", "valid_from").unwrap_err();
        assert_eq!(error.body.field.as_deref(), Some("valid_from"));
        assert!(error.body.message.contains("Europe/Paris"));
    }

    #[test]
    fn a_malformed_input_names_its_field() {
        let error = VIETNAM.parse("tomorrow", "valid_until").unwrap_err();
        assert_eq!(error.body.field.as_deref(), Some("valid_until"));
        assert!(error.body.message.contains("tomorrow"));
    }
}
