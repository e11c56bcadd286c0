//! Faults to inject into simulated devices, as tests and the CLI name them.
//!
//! A fault is written `KIND:PARAMS`, durations in real time with a unit
//! (`ms`, `s`, `m`):
//!
//! | fault | meaning |
//! |---|---|
//! | `link-down:30s` | the connection drops (the broker publishes the Last Will) and stays down 30 s; the device keeps playing its plan |
//! | `flapping:2s/1s*5` | five times: up 2 s, then down 1 s |
//! | `slow-link:500ms/60s` | for 60 s every report waits 500 ms before it is sent |
//! | `power-loss:10s` | the device is off for 10 s: it stops playing, and loses its plan, settings and unsent reports; it keeps what it stores (the last command's sequence number, its media cache) |
//! | `clock-skew:-90s` | the device clock reads 90 s (of device time) earlier from now on |
//! | `corrupt-media:2` | the next two media downloads arrive corrupted: the device finds the SHA-256 wrong, discards them and fetches again |
//! | `full-storage:60s` | for 60 s the device's storage takes no new media file: entries whose file is missing fail when due, and status reports `storage_full` |

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use chrono::TimeDelta;

/// Something going wrong on one device (see the module docs).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fault {
    /// The connection drops and stays down for `down`.
    LinkDown {
        /// How long the link stays down.
        down: Duration,
    },
    /// `cycles` times: up for `up`, then down for `down`.
    Flapping {
        /// Time up before each drop.
        up: Duration,
        /// Time down after each drop.
        down: Duration,
        /// How many drops.
        cycles: u32,
    },
    /// Every report waits `delay` before it is sent, for `lasting`.
    SlowLink {
        /// How long each report waits.
        delay: Duration,
        /// How long the link stays slow.
        lasting: Duration,
    },
    /// The device is off for `off` and loses what it does not store.
    PowerLoss {
        /// How long the power stays off.
        off: Duration,
    },
    /// The device clock jumps by `by` (device time) and stays off by that much.
    ClockSkew {
        /// Later if positive, earlier if negative.
        by: TimeDelta,
    },
    /// The next `downloads` media downloads arrive corrupted.
    CorruptMedia {
        /// How many downloads.
        downloads: u32,
    },
    /// The media storage takes no new file for `lasting`.
    FullStorage {
        /// How long the storage stays full.
        lasting: Duration,
    },
}

/// A fault or injection that does not parse, and why.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
#[error("fault {text:?}: {why} (e.g. link-down:30s, flapping:2s/1s*5, slow-link:500ms/60s, power-loss:10s, clock-skew:-90s, corrupt-media:1, full-storage:60s)")]
pub struct FaultSyntaxError {
    text: String,
    why: String,
}

impl FromStr for Fault {
    type Err = FaultSyntaxError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let error = |why: &str| FaultSyntaxError {
            text: text.to_string(),
            why: why.to_string(),
        };
        let (kind, params) = text
            .split_once(':')
            .ok_or_else(|| error("expected KIND:PARAMS"))?;
        let duration = |p: &str| parse_duration(p).map_err(|why| error(&why));
        match kind {
            "link-down" => Ok(Self::LinkDown {
                down: duration(params)?,
            }),
            "flapping" => {
                let (times, cycles) = params
                    .split_once('*')
                    .ok_or_else(|| error("expected UP/DOWN*CYCLES"))?;
                let (up, down) = times
                    .split_once('/')
                    .ok_or_else(|| error("expected UP/DOWN*CYCLES"))?;
                Ok(Self::Flapping {
                    up: duration(up)?,
                    down: duration(down)?,
                    cycles: cycles
                        .parse()
                        .map_err(|_| error("CYCLES is a whole number"))?,
                })
            }
            "slow-link" => {
                let (delay, lasting) = params
                    .split_once('/')
                    .ok_or_else(|| error("expected DELAY/LASTING"))?;
                Ok(Self::SlowLink {
                    delay: duration(delay)?,
                    lasting: duration(lasting)?,
                })
            }
            "power-loss" => Ok(Self::PowerLoss {
                off: duration(params)?,
            }),
            "clock-skew" => {
                let (sign, magnitude) = match params.strip_prefix('-') {
                    Some(rest) => (-1, rest),
                    None => (1, params.strip_prefix('+').unwrap_or(params)),
                };
                let span = TimeDelta::from_std(duration(magnitude)?)
                    .map_err(|_| error("the skew is too large"))?;
                Ok(Self::ClockSkew { by: span * sign })
            }
            "corrupt-media" => Ok(Self::CorruptMedia {
                downloads: params
                    .parse()
                    .map_err(|_| error("COUNT is a whole number"))?,
            }),
            "full-storage" => Ok(Self::FullStorage {
                lasting: duration(params)?,
            }),
            _ => Err(error("unknown kind")),
        }
    }
}

impl fmt::Display for Fault {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::LinkDown { down } => write!(f, "link-down:{down:?}"),
            Self::Flapping { up, down, cycles } => write!(f, "flapping:{up:?}/{down:?}*{cycles}"),
            Self::SlowLink { delay, lasting } => write!(f, "slow-link:{delay:?}/{lasting:?}"),
            Self::PowerLoss { off } => write!(f, "power-loss:{off:?}"),
            Self::ClockSkew { by } => {
                write!(f, "clock-skew:{}s", by.num_milliseconds() as f64 / 1000.0)
            }
            Self::CorruptMedia { downloads } => write!(f, "corrupt-media:{downloads}"),
            Self::FullStorage { lasting } => write!(f, "full-storage:{lasting:?}"),
        }
    }
}

/// `250ms`, `30s`, `2m`.
fn parse_duration(text: &str) -> Result<Duration, String> {
    let split = text
        .find(|c: char| !c.is_ascii_digit() && c != '.')
        .ok_or_else(|| format!("{text:?} needs a unit (ms, s, m)"))?;
    let (number, unit) = text.split_at(split);
    let value: f64 = number
        .parse()
        .map_err(|_| format!("{text:?} is not a number with a unit"))?;
    let secs = match unit {
        "ms" => value / 1000.0,
        "s" => value,
        "m" => value * 60.0,
        _ => return Err(format!("{text:?}: unknown unit {unit:?} (ms, s, m)")),
    };
    Duration::try_from_secs_f64(secs).map_err(|_| format!("{text:?} is out of range"))
}

/// Which devices of a fleet a fault hits.
#[derive(Clone, Debug, PartialEq)]
pub enum Target {
    /// A share of the fleet, chosen at random with `seed`.
    Share {
        /// From 0 to 1.
        share: f64,
        /// The same seed picks the same devices.
        seed: u64,
    },
    /// These devices.
    Devices(Vec<String>),
}

/// `FAULT@TARGET`: `link-down:30s@20%`, `power-loss:10s@24611-LS-01,24611-LS-02`.
pub fn parse_injection(text: &str, seed: u64) -> Result<(Fault, Target), FaultSyntaxError> {
    let (fault, target) = text.rsplit_once('@').ok_or_else(|| FaultSyntaxError {
        text: text.to_string(),
        why: "expected FAULT@TARGET, the target a share (20%) or device ids".into(),
    })?;
    let fault: Fault = fault.parse()?;
    let target = match target.strip_suffix('%') {
        Some(percent) => {
            let share = percent
                .parse::<f64>()
                .ok()
                .filter(|p| (0.0..=100.0).contains(p))
                .ok_or_else(|| FaultSyntaxError {
                    text: text.to_string(),
                    why: "the share is a percentage from 0 to 100".into(),
                })?;
            Target::Share {
                share: share / 100.0,
                seed,
            }
        }
        None => Target::Devices(target.split(',').map(str::to_string).collect()),
    };
    Ok((fault, target))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_kind_parses_and_prints() {
        let cases = [
            (
                "link-down:30s",
                Fault::LinkDown {
                    down: Duration::from_secs(30),
                },
            ),
            (
                "flapping:2s/500ms*5",
                Fault::Flapping {
                    up: Duration::from_secs(2),
                    down: Duration::from_millis(500),
                    cycles: 5,
                },
            ),
            (
                "slow-link:500ms/1m",
                Fault::SlowLink {
                    delay: Duration::from_millis(500),
                    lasting: Duration::from_secs(60),
                },
            ),
            (
                "power-loss:10s",
                Fault::PowerLoss {
                    off: Duration::from_secs(10),
                },
            ),
            (
                "clock-skew:-90s",
                Fault::ClockSkew {
                    by: TimeDelta::seconds(-90),
                },
            ),
            (
                "clock-skew:+1.5s",
                Fault::ClockSkew {
                    by: TimeDelta::milliseconds(1500),
                },
            ),
            ("corrupt-media:2", Fault::CorruptMedia { downloads: 2 }),
            (
                "full-storage:1m",
                Fault::FullStorage {
                    lasting: Duration::from_secs(60),
                },
            ),
        ];
        for (text, fault) in cases {
            assert_eq!(text.parse::<Fault>(), Ok(fault), "{text}");
            assert_eq!(fault.to_string().parse::<Fault>(), Ok(fault), "{fault}");
        }
    }

    #[test]
    fn bad_faults_say_what_is_wrong() {
        for (text, why) in [
            ("link-down", "KIND:PARAMS"),
            ("link-down:30", "needs a unit"),
            ("link-down:30h", "unknown unit"),
            ("flapping:2s*5", "UP/DOWN*CYCLES"),
            ("flapping:2s/1s*x", "whole number"),
            ("corrupt-media:x", "whole number"),
            ("full-storage:5", "needs a unit"),
            ("unplugged:1s", "unknown kind"),
        ] {
            let error = text.parse::<Fault>().unwrap_err().to_string();
            assert!(error.contains(why), "{text}: {error}");
        }
    }

    #[test]
    fn injections_name_a_share_or_devices() {
        assert_eq!(
            parse_injection("link-down:30s@20%", 7).unwrap(),
            (
                Fault::LinkDown {
                    down: Duration::from_secs(30)
                },
                Target::Share {
                    share: 0.2,
                    seed: 7
                }
            )
        );
        assert_eq!(
            parse_injection("power-loss:5s@24611-LS-01,24611-LS-02", 7)
                .unwrap()
                .1,
            Target::Devices(vec!["24611-LS-01".into(), "24611-LS-02".into()])
        );
        for bad in ["link-down:30s", "link-down:30s@120%", "link-down:30s@x%"] {
            assert!(parse_injection(bad, 7).is_err(), "{bad}");
        }
    }
}
