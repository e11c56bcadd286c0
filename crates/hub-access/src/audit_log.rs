//! The audit log on disk: append and query, nothing else.
//!
//! Entries live in the `audit` tree under [`AuditEntry::key`] (time, then
//! sequence), so a time range is one range scan. The `audit_index` tree
//! holds one small reference per entry and lookup key, under
//! `actor|area|bulletin \0 value \0 entry key`, so a query by actor, area or
//! bulletin within a time range is a range scan of the index, then one read
//! per entry found. An entry and its references are written in one batch.
//!
//! The record types are private to this module: no other code can put or
//! remove them through the store, so the log cannot be edited through it.

use std::collections::BTreeSet;

use chrono::{DateTime, Utc};
use hub_core::{AreaCode, AreaTree, BulletinId};
use hub_store::{Batch, Record, Store};
use serde::{Deserialize, Serialize};

use crate::audit::time_key;
use crate::{AccessError, AuditEntry, AuditEvent, Subject};

/// Most entries one query returns.
pub const MAX_QUERY: usize = 1_000;

/// Sorts after every entry key (they are hex digits).
const KEY_END: &str = "~";

/// Entries wanted by a query, oldest first.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AuditQuery {
    /// From this instant on (inclusive).
    pub from: Option<DateTime<Utc>>,
    /// Before this instant (exclusive).
    pub until: Option<DateTime<Utc>>,
    pub filter: Option<AuditFilter>,
    /// At most this many (and never more than [`MAX_QUERY`]); to page on,
    /// query again from the last entry's time and drop what was seen.
    pub limit: usize,
}

/// The one secondary key a query may select by.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum AuditFilter {
    /// Entries of this person, token or device.
    Actor(Subject),
    /// Entries concerning this area or any area below it.
    Area(AreaCode),
    Bulletin(BulletinId),
}

impl AuditFilter {
    fn prefix(&self) -> String {
        match self {
            AuditFilter::Actor(subject) => index_prefix("actor", &subject.to_string()),
            AuditFilter::Area(code) => index_prefix("area", code.as_str()),
            AuditFilter::Bulletin(id) => index_prefix("bulletin", id.as_str()),
        }
    }
}

fn index_prefix(by: &str, value: &str) -> String {
    format!("{by}\0{value}\0")
}

#[derive(Serialize, Deserialize)]
#[serde(transparent)]
struct StoredEntry(AuditEntry);

impl Record for StoredEntry {
    const TREE: &'static str = "audit";
    fn key(&self) -> Vec<u8> {
        self.0.key().into_bytes()
    }
}

/// A secondary-key reference to an entry.
#[derive(Serialize, Deserialize)]
struct IndexRef {
    prefix: String,
    entry: String,
}

impl Record for IndexRef {
    const TREE: &'static str = "audit_index";
    fn key(&self) -> Vec<u8> {
        format!("{}{}", self.prefix, self.entry).into_bytes()
    }
}

/// The append-only audit log in the hub's store. Cheap to clone.
#[derive(Clone, Debug)]
pub struct AuditLog {
    store: Store,
}

impl AuditLog {
    pub fn new(store: Store) -> Self {
        Self { store }
    }

    /// Records `event` at `now`; `tree` gives the areas above those the
    /// event concerns, for queries by area.
    pub fn append(
        &self,
        event: AuditEvent,
        tree: &AreaTree,
        now: DateTime<Utc>,
    ) -> Result<AuditEntry, AccessError> {
        let mut batch = Batch::new();
        let entry = self.stage(&mut batch, event, tree, now)?;
        self.store.apply(batch)?;
        Ok(entry)
    }

    /// Adds the entry for `event` to `batch`, so the change it records and
    /// the record of it are written together (or neither is).
    pub fn stage(
        &self,
        batch: &mut Batch,
        event: AuditEvent,
        tree: &AreaTree,
        now: DateTime<Utc>,
    ) -> Result<AuditEntry, AccessError> {
        let entry = AuditEntry {
            at: now,
            seq: self.store.next_id()?,
            event,
        };
        let key = entry.key();
        let mut prefixes = BTreeSet::new();
        prefixes.insert(AuditFilter::Actor(entry.event.actor.subject.clone()).prefix());
        for code in &entry.event.areas {
            prefixes.insert(AuditFilter::Area(code.clone()).prefix());
            for above in tree.ancestry(code) {
                prefixes.insert(AuditFilter::Area(above.code.clone()).prefix());
            }
        }
        if let Some(bulletin) = &entry.event.bulletin {
            prefixes.insert(AuditFilter::Bulletin(bulletin.clone()).prefix());
        }
        for prefix in prefixes {
            batch.put(&IndexRef {
                prefix,
                entry: key.clone(),
            })?;
        }
        let stored = StoredEntry(entry);
        batch.put(&stored)?;
        Ok(stored.0)
    }

    /// The entries `query` selects, oldest first.
    pub fn query(&self, query: &AuditQuery) -> Result<Vec<AuditEntry>, AccessError> {
        let limit = query.limit.min(MAX_QUERY);
        let from = query.from.map(time_key).unwrap_or_default();
        let until = query.until.map_or_else(|| KEY_END.to_owned(), time_key);
        let Some(filter) = &query.filter else {
            let entries: Vec<StoredEntry> =
                self.store.range(from.as_bytes(), until.as_bytes(), limit)?;
            return Ok(entries.into_iter().map(|stored| stored.0).collect());
        };
        let prefix = filter.prefix();
        let refs: Vec<IndexRef> = self.store.range(
            format!("{prefix}{from}").as_bytes(),
            format!("{prefix}{until}").as_bytes(),
            limit,
        )?;
        let mut entries = Vec::with_capacity(refs.len());
        for reference in refs {
            // Written in the same batch as its reference, never removed.
            if let Some(StoredEntry(entry)) =
                self.store.get::<StoredEntry>(reference.entry.as_bytes())?
            {
                entries.push(entry);
            }
        }
        Ok(entries)
    }
}

#[cfg(test)]
pub(crate) mod tests;
