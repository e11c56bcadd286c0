//! Nguồn persistence: every domain record of the hub, kept in a sled database.
//!
//! The domain ([`hub_core`]) never touches the disk; the hub loads a
//! [`Province`](hub_core::Province), a [`Programme`](hub_core::Programme) and
//! the device logs from a [`Store`] at start-up and writes changes back.
//!
//! Each record type implements [`Record`]: it names its tree and derives its
//! key, and the store's single generic [`Store::put`] / [`Store::get`] /
//! [`Store::all`] / [`Store::remove`] work for all of them. Several changes of
//! mixed types are written atomically with a [`Batch`] and [`Store::apply`]
//! (one sled transaction over every tree the batch touches).
//!
//! # Layout
//! One sled tree per record type; every value is JSON in a versioned envelope,
//! `{"v":1,"record":{...}}`.
//!
//! | tree               | key                    | record                                    |
//! |--------------------|------------------------|-------------------------------------------|
//! | `meta`             | `schema_version`       | [`SCHEMA_VERSION`] as a bare JSON number  |
//! | `meta`             | `stopped_in_order`     | `true` while the store rests after an orderly stop |
//! | `settings`         | `province`             | [`ProvinceSettings`] (time zone, windows) |
//! | `areas`            | area code              | [`Area`](hub_core::Area)                  |
//! | `devices`          | device id              | [`Device`](hub_core::Device)              |
//! | `commune_settings` | commune code           | [`CommuneSettings`](hub_core::CommuneSettings) |
//! | `bulletins`        | bulletin id            | [`Bulletin`](hub_core::Bulletin)          |
//! | `chair_orders`     | commune code           | [`ChairOrder`](hub_core::ChairOrder)      |
//! | `opt_ins`          | commune `\0` bulletin  | [`OptIn`](hub_core::OptIn)                |
//! | `device_logs`      | device id              | [`DeviceHistory`]                         |
//! | `deliveries`       | see [`delivery_key`]   | [`Delivery`](hub_core::Delivery)          |
//! | `device_secrets`   | device id              | [`DeviceSecret`]                          |
//! | `hub`              | `identity`             | [`HubIdentity`] (signing key, sequence)   |
//! | `media`            | SHA-256 (hex)          | [`MediaFacts`] (the file lives outside sled) |
//! | `receipts`         | time `\0` device `\0` airing `\0` outcome | [`PlayReceipt`] (proof of play as sent) |
//! | `presence`         | time `\0` device      | [`Presence`] (online / offline moments)   |
//!
//! Keys are the identifiers' UTF-8 bytes, so [`Store::all`] returns records
//! in identifier order.
//!
//! - [`store`]: opening and the schema check (migrating an older store one
//!   version at a time, refusing a newer one), generic access, batches,
//!   snapshots, loading and saving the domain.
//! - [`backup`]: backup files, written from a snapshot and restored whole.
//! - [`export`]: a store as deterministic JSON lines.
//! - [`proof`]: the proof-of-play and presence logs reports are built from.
//! - [`record`]: the [`Record`] trait, its implementations and the envelope.
//! - [`error`]: the [`StoreError`] enum.

pub mod backup;
pub mod error;
pub mod export;
pub mod proof;
pub mod record;
pub mod store;

#[cfg(test)]
mod testkit;

pub use error::StoreError;
pub use proof::{time_key, PlayReceipt, Presence, PresenceCause};
pub use record::{
    delivery_key, opt_in_key, DeviceHistory, DeviceSecret, HubIdentity, InputSummary, Loudness,
    MediaFacts, MediaKind, PictureFacts, ProvinceSettings, Record, RECORD_VERSION,
};
pub use store::{records_digest, Batch, RawRecord, Store, SCHEMA_VERSION};
