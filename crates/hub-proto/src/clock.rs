//! The time base of hub and devices.
//!
//! In the field both ends read real UTC. Tests and demos compress a broadcast
//! day: both ends start from the same instant and run `speed` times faster
//! than the wall clock, so a day of bulletins plays in minutes.

use std::time::{Duration, Instant};

use chrono::{DateTime, TimeDelta, Utc};

#[derive(Clone, Copy, Debug)]
pub struct Clock {
    origin: DateTime<Utc>,
    started: Instant,
    speed: f64,
}

impl Clock {
    /// Real time.
    pub fn real() -> Self {
        Self::simulated(Utc::now(), 1.0)
    }

    /// Time that reads `origin` now and runs `speed` times faster than real time.
    pub fn simulated(origin: DateTime<Utc>, speed: f64) -> Self {
        assert!(speed > 0.0, "clock speed must be positive");
        Self {
            origin,
            started: Instant::now(),
            speed,
        }
    }

    pub fn now(&self) -> DateTime<Utc> {
        let elapsed = self.started.elapsed().as_secs_f64() * self.speed;
        self.origin + TimeDelta::microseconds((elapsed * 1e6) as i64)
    }

    /// The same clock, reading `by` later (earlier if negative): a device
    /// whose clock drifted.
    pub fn skewed(self, by: TimeDelta) -> Self {
        Self {
            origin: self.origin + by,
            ..self
        }
    }

    pub fn speed(&self) -> f64 {
        self.speed
    }

    /// The real duration until this clock reads `at` (zero if it has passed).
    pub fn real_until(&self, at: DateTime<Utc>) -> Duration {
        let ahead = (at - self.now()).to_std().unwrap_or_default();
        ahead.div_f64(self.speed)
    }

    /// The real duration of `span` on this clock.
    pub fn real_duration(&self, span: Duration) -> Duration {
        span.div_f64(self.speed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_fast_clock_runs_ahead_of_real_time() {
        let origin: DateTime<Utc> = "2026-11-23T00:00:00Z".parse().unwrap();
        let clock = Clock::simulated(origin, 600.0);
        std::thread::sleep(Duration::from_millis(20));
        let advanced = clock.now() - origin;
        assert!(advanced >= TimeDelta::seconds(12), "{advanced}");
        let wait = clock.real_until(origin + TimeDelta::hours(1));
        assert!(wait <= Duration::from_secs(6), "{wait:?}");
    }

    #[test]
    fn a_skewed_clock_keeps_its_offset() {
        let origin: DateTime<Utc> = "2026-11-23T00:00:00Z".parse().unwrap();
        let clock = Clock::simulated(origin, 1.0);
        let behind = clock.skewed(TimeDelta::seconds(-90));
        // Read the skewed clock first: time passes between the two reads.
        let skewed_now = behind.now();
        let offset = clock.now() - skewed_now;
        assert!(
            (TimeDelta::seconds(90)..TimeDelta::seconds(91)).contains(&offset),
            "{offset}"
        );
    }
}
