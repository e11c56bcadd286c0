//! The device link: the embedded broker, the protocol's hub side, delivery.
//!
//! # Layout
//! - [`settings`]: the `[link]` configuration section.
//! - [`broker`]: the embedded rumqttd broker and device authentication.
//! - [`transport`]: the embedded link or an external broker, behind one interface.
//! - [`identity`]: the hub's signing key, sequence numbers, device secrets, provisioning.
//! - [`gate`]: which device reports are believed (MAC, session, sequence).
//! - [`dispatch`]: scheduler decisions turned into as few commands as possible.
//! - `registry`: registering and revoking devices while the hub runs.
//! - [`writer`]: the store writes, off the hub task.
//! - [`service`]: starting the hub ([`start`]).
//! - `task`: the one task that owns the scheduler and ties the rest together.
//! - [`handle`]: the [`HubHandle`] (and cloneable [`HubClient`]) people, the
//!   API and tests use to talk to that task.
//!
//! `docs/protocol.md` describes the protocol and its threat model.

pub mod broker;
pub mod dispatch;
pub mod gate;
pub mod handle;
pub mod identity;
mod registry;
pub mod service;
pub mod settings;
mod task;
pub mod transport;
pub mod writer;

pub use handle::{CommuneView, DayPlans, DeliveryTally, HubClient, HubHandle, LinkStats, Staged};
pub use service::{start, BrokerChoice, ServeError, ServeOptions};
pub use settings::LinkSettings;
