//! The Nguồn domain and scheduler.
//!
//! A pure state machine: no sockets, no disk, no clock reads. Callers pass
//! `now` in, feed [`Event`]s to a [`Scheduler`] and carry out the
//! [`Decision`]s it returns, which makes every scheduling rule testable with
//! exact times.
//!
//! # Layout
//! - [`ids`]: identifier newtypes, validated at the edge.
//! - [`area`]: the area tree (central → province → district? → commune).
//! - [`device`]: loudspeaker clusters and LED boards.
//! - [`window`]: daily operating windows and per-commune settings.
//! - [`bulletin`]: bulletins, their parts, validity and recurrence.
//! - [`province`]: the static half of the state (areas, devices, windows).
//! - [`programme`]: bulletins plus commune chairs' orders and opt-ins.
//! - [`delivery`]: where each planned airing stands on each device.
//! - [`history`]: what each device has played, assumed or reported.
//! - [`plan`]: planning one device's day (the priority rules).
//! - [`scheduler`]: the event-driven state machine around the planner.
//! - `testkit` (feature `testkit`): builders for tests of this and other crates.

pub mod area;
pub mod bulletin;
pub mod delivery;
pub mod device;
pub mod error;
pub mod history;
pub mod ids;
pub mod plan;
pub mod programme;
pub mod province;
pub mod scheduler;
pub mod window;

#[cfg(any(test, feature = "testkit"))]
pub mod testkit;

pub use area::{Area, AreaLevel, AreaTree};
pub use bulletin::{
    AudioPart, AudioSource, Bulletin, BulletinState, Category, Occurrence, PriorityClass,
    Recurrence, StoredAudio, StoredSubtitles, StoredVisual, Validity, Variant, VisualKind,
    VisualPart,
};
pub use delivery::{Delivery, DeliveryBook, DeliveryState, Withdrawal};
pub use device::{Device, DeviceKind};
pub use error::CoreError;
pub use history::{DeviceLog, Evidence, Playing, Retry};
pub use ids::{AreaCode, BulletinId, DeviceId, Language, TokenName, Username};
pub use plan::{plan_device, AiringKey, DayPlanner, Horizon, PlanItem};
pub use programme::{ChairOrder, OptIn, Programme};
pub use province::Province;
pub use scheduler::{Decision, Event, Handled, Receipt, Report, Scheduler, StopReason};
pub use window::{
    local_to_utc, CommuneSettings, DailyWindows, Interval, LocalWindow, WindowPolicy,
};
