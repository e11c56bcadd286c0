//! Simulated Nguồn field devices: the device side of the hub protocol.
//!
//! A simulated device keeps a local plan and plays it on its own clock
//! ([`player`]), talks to the hub over MQTT with signed commands down and
//! sealed reports up ([`link`]), and many of them share one process
//! ([`fleet`]), and [`faults`] can be injected into any of them. The media
//! files a plan needs are fetched over HTTP before they are due and kept in
//! the device's storage ([`media`]). An LED board's face can be drawn to a
//! picture ([`board`]). Everything on the wire comes from `hub-proto`;
//! nothing here knows the hub's internals.

#![warn(missing_docs)]

pub mod board;
pub mod broker;
pub mod faults;
pub mod fleet;
pub mod link;
pub mod live;
pub mod media;
pub mod player;

pub use broker::{BrokerAddr, BrokerAddrError};
pub use faults::{Fault, Target};
pub use fleet::{Fleet, FleetOptions, NotConnected, Summary, UnknownDevice};
pub use link::{Counters, DeviceConfig, DeviceHandle, LinkOptions, SetupError};
pub use live::LiveCounters;
pub use media::{MediaCounters, MediaOptions};
pub use player::{Display, Played, Player, Showing, ShownVideo};
