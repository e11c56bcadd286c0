//! The province's local time in forms and pages: `<input type="datetime-local">`
//! values in, instants out, and instants shown as people read them.

use chrono::{DateTime, NaiveDateTime, TimeZone, Utc};
use chrono_tz::Tz;

use crate::api::error::ApiError;

/// The province's time zone (Article 10 windows are in it). The hub's
/// default and the only zone Vietnamese provinces use.
pub const TZ: Tz = chrono_tz::Asia::Ho_Chi_Minh;

/// An instant as `23/11/2026 17:00`.
pub fn show(at: DateTime<Utc>) -> String {
    at.with_timezone(&TZ).format("%d/%m/%Y %H:%M").to_string()
}

/// An instant as `17:00`.
pub fn clock(at: DateTime<Utc>) -> String {
    at.with_timezone(&TZ).format("%H:%M").to_string()
}

/// An instant as a `datetime-local` input's value.
pub fn input_value(at: DateTime<Utc>) -> String {
    at.with_timezone(&TZ).format("%Y-%m-%dT%H:%M").to_string()
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

/// A `datetime-local` value as an instant (the earlier one when the clock
/// goes back, which Vietnam's does not).
pub fn parse(value: &str, field: &str) -> Result<DateTime<Utc>, ApiError> {
    let local = parse_local(value, field)?;
    TZ.from_local_datetime(&local)
        .earliest()
        .map(|at| at.with_timezone(&Utc))
        .ok_or_else(|| ApiError::invalid(field, format!("{value} does not exist in local time")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn local_inputs_are_vietnam_time() {
        let at = parse("2026-11-23T17:00", "valid_from").unwrap();
        assert_eq!(at.to_rfc3339(), "2026-11-23T10:00:00+00:00");
        assert_eq!(input_value(at), "2026-11-23T17:00");
        assert_eq!(show(at), "23/11/2026 17:00");
        assert_eq!(clock(at), "17:00");
    }

    #[test]
    fn a_malformed_input_names_its_field() {
        let error = parse("tomorrow", "valid_until").unwrap_err();
        assert_eq!(error.body.field.as_deref(), Some("valid_until"));
        assert!(error.body.message.contains("tomorrow"));
    }
}
