//! Login throttling: after a few failures an account name, or a client
//! address, is locked out for a time that doubles with every further failure.
//!
//! Pure and in memory: the caller passes `now`, and a restart forgets the
//! counters (writing every failed attempt to disk would let an attacker
//! turn guessing into disk load). Locking by name lets anyone delay a
//! person's login; locking by address as well keeps one address from
//! trying many names.

use std::collections::HashMap;
use std::hash::Hash;
use std::net::IpAddr;

use chrono::{DateTime, TimeDelta, Utc};

use crate::Username;

/// When to lock out, and for how long.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ThrottlePolicy {
    /// Failures allowed before the first lockout.
    pub free_failures: u32,
    /// The first lockout; each further failure doubles it.
    pub first_lockout: TimeDelta,
    pub max_lockout: TimeDelta,
    /// A name or address with no failure for this long starts afresh.
    pub forget_after: TimeDelta,
}

impl Default for ThrottlePolicy {
    fn default() -> Self {
        Self {
            free_failures: 5,
            first_lockout: TimeDelta::seconds(30),
            max_lockout: TimeDelta::hours(1),
            forget_after: TimeDelta::hours(24),
        }
    }
}

/// A refused attempt: try again at `until`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[error("too many failed logins; try again after {until}")]
pub struct LockedOut {
    pub until: DateTime<Utc>,
}

/// Most names or addresses tracked before stale ones are dropped.
const MAX_TRACKED: usize = 100_000;

#[derive(Clone, Copy, Debug)]
struct Strikes {
    failures: u32,
    last_failure: DateTime<Utc>,
    locked_until: Option<DateTime<Utc>>,
}

/// Failed-login counters by account name and by client address.
#[derive(Debug, Default)]
pub struct LoginThrottle {
    policy: ThrottlePolicy,
    by_name: HashMap<Username, Strikes>,
    by_client: HashMap<IpAddr, Strikes>,
}

impl LoginThrottle {
    pub fn new(policy: ThrottlePolicy) -> Self {
        Self {
            policy,
            ..Self::default()
        }
    }

    /// Whether an attempt for `name` from `client` may be tried at `now`;
    /// if both are locked out, the later end is given.
    pub fn check(
        &self,
        name: Option<&Username>,
        client: Option<IpAddr>,
        now: DateTime<Utc>,
    ) -> Result<(), LockedOut> {
        let by_name = name.and_then(|name| self.by_name.get(name));
        let by_client = client.and_then(|client| self.by_client.get(&client));
        let until = [by_name, by_client]
            .into_iter()
            .flatten()
            .filter_map(|strikes| strikes.locked_until)
            .filter(|until| *until > now)
            .max();
        match until {
            Some(until) => Err(LockedOut { until }),
            None => Ok(()),
        }
    }

    /// Counts a failed attempt against the name (when it is a valid one)
    /// and the address.
    pub fn record_failure(
        &mut self,
        name: Option<&Username>,
        client: Option<IpAddr>,
        now: DateTime<Utc>,
    ) {
        let policy = self.policy;
        if let Some(name) = name {
            strike(&mut self.by_name, name.clone(), now, &policy);
        }
        if let Some(client) = client {
            strike(&mut self.by_client, client, now, &policy);
        }
    }

    /// A successful login clears the name's counter. The address keeps its
    /// own, so one valid account does not reset guessing at others.
    pub fn record_success(&mut self, name: &Username) {
        self.by_name.remove(name);
    }
}

fn strike<K: Eq + Hash>(
    map: &mut HashMap<K, Strikes>,
    key: K,
    now: DateTime<Utc>,
    policy: &ThrottlePolicy,
) {
    if map.len() >= MAX_TRACKED {
        map.retain(|_, s| {
            s.locked_until.is_some_and(|until| until > now)
                || now - s.last_failure < policy.forget_after
        });
    }
    let strikes = map.entry(key).or_insert(Strikes {
        failures: 0,
        last_failure: now,
        locked_until: None,
    });
    if now - strikes.last_failure >= policy.forget_after {
        strikes.failures = 0;
    }
    strikes.failures += 1;
    strikes.last_failure = now;
    if strikes.failures >= policy.free_failures {
        let doublings = (strikes.failures - policy.free_failures).min(20);
        let lockout = policy
            .first_lockout
            .checked_mul(1 << doublings)
            .map_or(policy.max_lockout, |lockout| {
                lockout.min(policy.max_lockout)
            });
        strikes.locked_until = Some(now + lockout);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(secs: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(1_800_000_000 + secs, 0).unwrap()
    }

    fn name(n: &str) -> Username {
        Username::parse(n).unwrap()
    }

    #[test]
    fn five_failures_lock_the_name_then_lockouts_double() {
        let mut throttle = LoginThrottle::new(ThrottlePolicy::default());
        let an = name("an");
        for s in 0..4 {
            throttle.record_failure(Some(&an), None, at(s));
            assert!(throttle.check(Some(&an), None, at(s)).is_ok());
        }
        throttle.record_failure(Some(&an), None, at(4));
        assert_eq!(
            throttle.check(Some(&an), None, at(5)),
            Err(LockedOut { until: at(34) })
        );
        assert!(throttle.check(Some(&name("binh")), None, at(5)).is_ok());
        assert!(throttle.check(Some(&an), None, at(34)).is_ok());
        throttle.record_failure(Some(&an), None, at(40));
        assert_eq!(
            throttle.check(Some(&an), None, at(40)),
            Err(LockedOut { until: at(100) })
        );
        throttle.record_failure(Some(&an), None, at(100));
        assert_eq!(
            throttle.check(Some(&an), None, at(100)),
            Err(LockedOut { until: at(220) })
        );
    }

    #[test]
    fn success_resets_the_name_but_not_the_address() {
        let mut throttle = LoginThrottle::new(ThrottlePolicy::default());
        let an = name("an");
        let client: IpAddr = "203.0.113.7".parse().unwrap();
        for s in 0..5 {
            throttle.record_failure(Some(&an), Some(client), at(s));
        }
        assert!(throttle.check(Some(&an), None, at(10)).is_err());
        // Another name from the same address is locked too.
        assert!(throttle
            .check(Some(&name("binh")), Some(client), at(10))
            .is_err());
        throttle.record_success(&an);
        assert!(throttle.check(Some(&an), None, at(10)).is_ok());
        assert!(throttle.check(Some(&an), Some(client), at(10)).is_err());
    }

    #[test]
    fn lockouts_are_capped_and_old_failures_forgotten() {
        let policy = ThrottlePolicy::default();
        let mut throttle = LoginThrottle::new(policy);
        let an = name("an");
        let mut t = 0;
        for _ in 0..40 {
            throttle.record_failure(Some(&an), None, at(t));
            t += 3_600;
        }
        assert_eq!(
            throttle.check(Some(&an), None, at(t - 3_600)),
            Err(LockedOut {
                until: at(t - 3_600) + policy.max_lockout
            })
        );
        // A day later the count starts again: one failure locks nothing.
        let later = at(t) + policy.forget_after;
        throttle.record_failure(Some(&an), None, later);
        assert!(throttle.check(Some(&an), None, later).is_ok());
    }
}
