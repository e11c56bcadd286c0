//! The period a report covers: a semi-annual reporting period or any range
//! of whole local days.
//!
//! The province reports twice a year, for periods ending 20 June and
//! 20 December: `H1` of a year runs from 21 December of the year before to
//! 20 June, `H2` from 21 June to 20 December. Days are the province's local
//! days (`Asia/Ho_Chi_Minh`), so a period starts and ends at local midnight.

use chrono::{DateTime, Datelike, Days, NaiveDate, Utc};
use chrono_tz::Tz;
use hub_core::local_to_utc;
use serde::Serialize;

/// Longest range a report may cover: two years of days.
pub const MAX_DAYS: u64 = 2 * 366;

/// Whole local days from `first` to `last`, both included.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Period {
    /// `2026-H2`, or `2026-07-01..2026-07-31` for a range.
    pub label: String,
    pub first: NaiveDate,
    pub last: NaiveDate,
    /// Local midnight starting `first`.
    pub start: DateTime<Utc>,
    /// Local midnight after `last` (exclusive).
    pub end: DateTime<Utc>,
}

/// Why a period was refused, naming what was wrong.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum PeriodError {
    #[error("{0:?} is not a reporting period: write YEAR-H1 (21 Dec of the year before to 20 Jun) or YEAR-H2 (21 Jun to 20 Dec), e.g. 2026-H2")]
    BadHalf(String),
    #[error("{0:?} is not a date: write YYYY-MM-DD")]
    BadDate(String),
    #[error("the range ends ({last}) before it starts ({first})")]
    Backwards { first: NaiveDate, last: NaiveDate },
    #[error("the range covers {days} days; a report covers at most {MAX_DAYS}")]
    TooLong { days: u64 },
}

impl Period {
    /// `YEAR-H1` or `YEAR-H2`, in the province's time zone `tz`.
    pub fn half(text: &str, tz: Tz) -> Result<Period, PeriodError> {
        let bad = || PeriodError::BadHalf(text.to_owned());
        let (year, half) = text.trim().split_once('-').ok_or_else(bad)?;
        let year: i32 = year.parse().map_err(|_| bad())?;
        if !(1970..=9998).contains(&year) {
            return Err(bad());
        }
        let date = |y, m, d| NaiveDate::from_ymd_opt(y, m, d).ok_or_else(bad);
        let (first, last) = match half.to_ascii_uppercase().as_str() {
            "H1" => (date(year - 1, 12, 21)?, date(year, 6, 20)?),
            "H2" => (date(year, 6, 21)?, date(year, 12, 20)?),
            _ => return Err(bad()),
        };
        Ok(Self::days(
            format!("{year}-{}", half.to_ascii_uppercase()),
            first,
            last,
            tz,
        ))
    }

    /// The local days `from` to `to` (`YYYY-MM-DD`, both included).
    pub fn range(from: &str, to: &str, tz: Tz) -> Result<Period, PeriodError> {
        let parse = |text: &str| {
            NaiveDate::parse_from_str(text.trim(), "%Y-%m-%d")
                .map_err(|_| PeriodError::BadDate(text.to_owned()))
        };
        let (first, last) = (parse(from)?, parse(to)?);
        if last < first {
            return Err(PeriodError::Backwards { first, last });
        }
        let days = (last - first).num_days() as u64 + 1;
        if days > MAX_DAYS {
            return Err(PeriodError::TooLong { days });
        }
        Ok(Self::days(format!("{first}..{last}"), first, last, tz))
    }

    /// The semi-annual period the local date of `now` falls in.
    pub fn current_half(now: DateTime<Utc>, tz: Tz) -> Period {
        let today = now.with_timezone(&tz).date_naive();
        let (year, half) = match (today.month(), today.day()) {
            (12, d) if d >= 21 => (today.year() + 1, "H1"),
            (m, d) if m < 6 || (m == 6 && d <= 20) => (today.year(), "H1"),
            _ => (today.year(), "H2"),
        };
        Self::half(&format!("{year}-{half}"), tz).expect("a valid year and half")
    }

    fn days(label: String, first: NaiveDate, last: NaiveDate, tz: Tz) -> Period {
        let midnight = |date: NaiveDate| local_to_utc(date.and_time(chrono::NaiveTime::MIN), tz);
        let after = last.checked_add_days(Days::new(1)).unwrap_or(last);
        Period {
            label,
            first,
            last,
            start: midnight(first),
            end: midnight(after),
        }
    }

    /// Each local day of the period with its start and end instants.
    pub fn each_day(&self, tz: Tz) -> Vec<(NaiveDate, DateTime<Utc>, DateTime<Utc>)> {
        let midnight = |date: NaiveDate| local_to_utc(date.and_time(chrono::NaiveTime::MIN), tz);
        self.first
            .iter_days()
            .take_while(|day| *day <= self.last)
            .map(|day| {
                let next = day.checked_add_days(Days::new(1)).unwrap_or(day);
                (day, midnight(day), midnight(next))
            })
            .collect()
    }

    pub fn contains(&self, at: DateTime<Utc>) -> bool {
        self.start <= at && at < self.end
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TZ: Tz = chrono_tz::Asia::Ho_Chi_Minh;

    fn utc(text: &str) -> DateTime<Utc> {
        text.parse().unwrap()
    }

    #[test]
    fn the_second_half_runs_from_21_june_to_20_december_in_local_days() {
        let h2 = Period::half("2026-H2", TZ).unwrap();
        assert_eq!(h2.label, "2026-H2");
        assert_eq!(h2.first, NaiveDate::from_ymd_opt(2026, 6, 21).unwrap());
        assert_eq!(h2.last, NaiveDate::from_ymd_opt(2026, 12, 20).unwrap());
        // Local midnight is 17:00 UTC the day before (UTC+7).
        assert_eq!(h2.start, utc("2026-06-20T17:00:00Z"));
        assert_eq!(h2.end, utc("2026-12-20T17:00:00Z"));
        assert!(
            h2.contains(utc("2026-12-20T16:59:59Z")),
            "20 Dec 23:59 local"
        );
        assert!(
            !h2.contains(utc("2026-12-20T17:00:00Z")),
            "21 Dec 00:00 local"
        );
        assert!(
            !h2.contains(utc("2026-06-20T16:59:59Z")),
            "20 Jun 23:59 local"
        );
    }

    #[test]
    fn the_first_half_begins_in_the_year_before() {
        let h1 = Period::half("2027-h1", TZ).unwrap();
        assert_eq!(h1.label, "2027-H1");
        assert_eq!(h1.start, utc("2026-12-20T17:00:00Z"), "21 Dec 2026 local");
        assert_eq!(h1.end, utc("2027-06-20T17:00:00Z"), "21 Jun 2027 local");
        let h2 = Period::half("2026-H2", TZ).unwrap();
        assert_eq!(h2.end, h1.start, "the halves meet without a gap");
        assert_eq!(h1.each_day(TZ).len(), 182);
    }

    #[test]
    fn the_current_half_follows_the_local_date() {
        // 20 Dec 23:30 local is still H2; 21 Dec 00:30 local is next year's H1.
        let late = Period::current_half(utc("2026-12-20T16:30:00Z"), TZ);
        assert_eq!(late.label, "2026-H2");
        let next = Period::current_half(utc("2026-12-20T17:30:00Z"), TZ);
        assert_eq!(next.label, "2027-H1");
        let june = Period::current_half(utc("2026-06-20T16:00:00Z"), TZ);
        assert_eq!(june.label, "2026-H1");
    }

    #[test]
    fn a_range_covers_whole_local_days_both_included() {
        let range = Period::range("2026-11-23", "2026-11-24", TZ).unwrap();
        assert_eq!(range.label, "2026-11-23..2026-11-24");
        assert_eq!(range.start, utc("2026-11-22T17:00:00Z"));
        assert_eq!(range.end, utc("2026-11-24T17:00:00Z"));
        assert_eq!(range.each_day(TZ).len(), 2);
    }

    #[test]
    fn bad_periods_say_what_was_wrong() {
        let bad = |result: Result<Period, PeriodError>| result.unwrap_err().to_string();
        assert!(bad(Period::half("2026-H3", TZ)).contains("YEAR-H1"));
        assert!(bad(Period::half("H2", TZ)).contains("\"H2\""));
        assert!(bad(Period::range("2026-13-01", "2026-12-01", TZ)).contains("2026-13-01"));
        assert!(bad(Period::range("2026-12-02", "2026-12-01", TZ)).contains("before"));
        assert!(bad(Period::range("2020-01-01", "2026-01-01", TZ)).contains("at most"));
    }
}
