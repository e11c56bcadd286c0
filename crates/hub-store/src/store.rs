//! The store: a sled database, its schema check, generic record access,
//! atomic batches and loading/saving the domain as a whole.

use std::collections::{BTreeMap, HashSet};
use std::convert::Infallible;
use std::path::Path;
use std::sync::{Arc, RwLock, RwLockReadGuard, RwLockWriteGuard};

use hub_core::{
    Area, AreaTree, Bulletin, ChairOrder, CommuneSettings, Device, DeviceId, DeviceLog, OptIn,
    Programme, Province,
};
use sled::transaction::{TransactionError, Transactional};

use crate::error::{show_key, StoreError};
use crate::proof::Presence;
use crate::record::{decode_record, encode, DeviceHistory, ProvinceSettings, Record};

/// Version of the store's layout (which trees exist, what their keys mean).
/// A hub refuses stores with a newer version.
pub const SCHEMA_VERSION: u32 = 1;

/// Tree with the store's own bookkeeping.
const META_TREE: &str = "meta";
/// Key of the schema version in [`META_TREE`], a JSON number.
const SCHEMA_KEY: &[u8] = b"schema_version";
/// Key in [`META_TREE`] (value `true`) while the store rests after a hub
/// that stopped in order, having recorded every device it held online as
/// offline. A hub that starts takes it away.
const STOPPED_IN_ORDER_KEY: &[u8] = b"stopped_in_order";

/// The hub's persistent state on disk. Cheap to clone (sled handles are shared).
///
/// Writes are crash-safe but become durable only when sled flushes (every
/// half second by default) or on [`Store::flush`].
///
/// Every write holds the shared side of a gate that [`Store::snapshot`]
/// closes while it reads: sled has no snapshot across trees, and a backup
/// taken while the hub runs must not hold half of a batch.
#[derive(Clone, Debug)]
pub struct Store {
    db: sled::Db,
    gate: Arc<RwLock<()>>,
}

impl Store {
    /// Opens the store at `path`, creating it if needed, and checks that its
    /// schema is one this hub understands: a store of an older schema is
    /// brought up to date by the [`MIGRATIONS`], one version at a time; a
    /// newer one is refused.
    pub fn open(path: &Path) -> Result<Store, StoreError> {
        Self::open_migrating(path, SCHEMA_VERSION, MIGRATIONS)
    }

    /// [`Store::open`] for a hub of schema `supported` with `migrations`.
    pub(crate) fn open_migrating(
        path: &Path,
        supported: u32,
        migrations: &[Migration],
    ) -> Result<Store, StoreError> {
        let db = open_db(path)?;
        let store = Store {
            db,
            gate: Arc::default(),
        };
        match store.schema_version()? {
            None => {
                let mut batch = Batch::new();
                batch.put_schema_version(supported)?;
                store.apply(batch)?;
                store.flush()?;
            }
            Some(found) if found > supported => {
                return Err(StoreError::SchemaTooNew { found, supported });
            }
            Some(found) => migrate::up_to(&store, found, supported, migrations)?,
        }
        Ok(store)
    }

    /// The schema version the store records, if it records one yet.
    pub(crate) fn schema_version(&self) -> Result<Option<u32>, StoreError> {
        let meta = self.db.open_tree(META_TREE)?;
        meta.get(SCHEMA_KEY)?
            .map(|value| {
                serde_json::from_slice(&value).map_err(|source| StoreError::Decode {
                    tree: META_TREE,
                    key: show_key(SCHEMA_KEY),
                    source,
                })
            })
            .transpose()
    }

    /// Held while writing: writes run side by side, never during a snapshot.
    pub(crate) fn writing(&self) -> RwLockReadGuard<'_, ()> {
        // The gate guards no data, so a panic while it was held leaves
        // nothing half done behind it.
        self.gate
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Held while taking a snapshot: no write runs meanwhile.
    pub(crate) fn quiet(&self) -> RwLockWriteGuard<'_, ()> {
        self.gate
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn tree<R: Record>(&self) -> Result<sled::Tree, StoreError> {
        Ok(self.db.open_tree(R::TREE)?)
    }

    /// Inserts or replaces `record` under its own key.
    pub fn put<R: Record>(&self, record: &R) -> Result<(), StoreError> {
        let value = encode(record)?;
        let _writing = self.writing();
        self.tree::<R>()?.insert(record.key(), value)?;
        Ok(())
    }

    /// The record stored under `key`, if any.
    pub fn get<R: Record>(&self, key: &[u8]) -> Result<Option<R>, StoreError> {
        self.tree::<R>()?
            .get(key)?
            .map(|value| decode_record(key, &value))
            .transpose()
    }

    /// Every record of type `R`, in key order.
    pub fn all<R: Record>(&self) -> Result<Vec<R>, StoreError> {
        self.tree::<R>()?
            .iter()
            .map(|entry| {
                let (key, value) = entry?;
                decode_record(&key, &value)
            })
            .collect()
    }

    /// Records that the hub stops in order: every device it held online is
    /// offline in the presence log. Call once the log is written.
    pub fn mark_stopped_in_order(&self) -> Result<(), StoreError> {
        let _writing = self.writing();
        self.db
            .open_tree(META_TREE)?
            .insert(STOPPED_IN_ORDER_KEY, b"true".as_slice())?;
        Ok(())
    }

    /// Whether the presence log may hold devices still online: it has
    /// records, and the hub that wrote them did not stop in order (it was
    /// killed, or crashed). Takes the mark of an orderly stop away, since
    /// the hub that calls this is running now.
    pub fn take_presence_left_open(&self) -> Result<bool, StoreError> {
        let stopped_in_order = {
            let _writing = self.writing();
            self.db
                .open_tree(META_TREE)?
                .remove(STOPPED_IN_ORDER_KEY)?
                .is_some()
        };
        Ok(!stopped_in_order && !self.tree::<Presence>()?.is_empty())
    }

    /// Removes the record stored under `key`; returns whether there was one.
    pub fn remove<R: Record>(&self, key: &[u8]) -> Result<bool, StoreError> {
        let _writing = self.writing();
        Ok(self.tree::<R>()?.remove(key)?.is_some())
    }

    /// Writes every change of `batch` in one sled transaction over every tree
    /// it touches: after a crash either all of them are recovered or none, and
    /// no single read sees part of it. Loading several trees (as
    /// [`Store::load_province`] does) is not a snapshot, though: a batch
    /// applied between two of its reads shows in the later one only.
    pub fn apply(&self, mut batch: Batch) -> Result<(), StoreError> {
        if batch.ops.is_empty() {
            return Ok(());
        }
        batch.keep_last_changes();
        let mut names: Vec<&'static str> = Vec::new();
        let mut slot: Vec<usize> = Vec::with_capacity(batch.ops.len());
        for op in &batch.ops {
            let index = match names.iter().position(|name| *name == op.tree) {
                Some(index) => index,
                None => {
                    names.push(op.tree);
                    names.len() - 1
                }
            };
            slot.push(index);
        }
        let trees = names
            .iter()
            .map(|name| self.db.open_tree(name))
            .collect::<Result<Vec<_>, _>>()?;
        let _writing = self.writing();
        let result = <[sled::Tree] as Transactional<Infallible>>::transaction(&trees, |views| {
            for (op, index) in batch.ops.iter().zip(&slot) {
                let view = &views[*index];
                match &op.value {
                    Some(value) => view.insert(op.key.as_slice(), value.as_slice())?,
                    None => view.remove(op.key.as_slice())?,
                };
            }
            Ok(())
        });
        match result {
            Ok(()) => Ok(()),
            Err(TransactionError::Storage(error)) => Err(StoreError::Sled(error)),
            Err(TransactionError::Abort(never)) => match never {},
        }
    }

    /// Waits until everything written so far is durable on disk.
    pub fn flush(&self) -> Result<(), StoreError> {
        self.db.flush()?;
        Ok(())
    }

    /// Bytes the database's files take on disk (media files not counted);
    /// it reads the directory, so call it off the async runtime.
    pub fn size_on_disk(&self) -> Result<u64, StoreError> {
        Ok(self.db.size_on_disk()?)
    }

    /// Writes the province settings and every area, device and commune
    /// settings record of `province`, atomically.
    ///
    /// An upsert: records the store holds that `province` no longer has
    /// (a removed device, say) are left in place; remove them with
    /// [`Store::remove`].
    pub fn import_province(&self, province: &Province) -> Result<(), StoreError> {
        let mut batch = Batch::new();
        batch.put(&ProvinceSettings {
            timezone: province.tz,
            windows: province.windows.clone(),
        })?;
        for area in province.tree.areas() {
            batch.put(area)?;
        }
        for device in province.devices() {
            batch.put(device)?;
        }
        for settings in province.all_settings() {
            batch.put(settings)?;
        }
        self.apply(batch)
    }

    /// Rebuilds the province from the stored records, validating it as a whole.
    pub fn load_province(&self) -> Result<Province, StoreError> {
        let settings = self
            .get::<ProvinceSettings>(ProvinceSettings::KEY)?
            .ok_or(StoreError::NoProvince)?;
        let tree = AreaTree::new(self.all::<Area>()?)?;
        let province = Province::new(
            settings.timezone,
            tree,
            settings.windows,
            self.all::<CommuneSettings>()?,
            self.all::<Device>()?,
        )?;
        Ok(province)
    }

    /// Makes the stored programme equal to `programme`, atomically: writes
    /// every bulletin, chair order and opt-in, and removes stored ones it no
    /// longer has (a withdrawn opt-in must not come back after a restart).
    pub fn save_programme(&self, programme: &Programme) -> Result<(), StoreError> {
        self.apply(self.programme_batch(programme)?)
    }

    /// The batch [`Store::save_programme`] applies, to write it together
    /// with other changes.
    pub fn programme_batch(&self, programme: &Programme) -> Result<Batch, StoreError> {
        let mut batch = Batch::new();
        put_replacing::<Bulletin>(self, &mut batch, programme.bulletins())?;
        put_replacing::<ChairOrder>(self, &mut batch, programme.chair_orders())?;
        put_replacing::<OptIn>(self, &mut batch, programme.opt_ins())?;
        Ok(batch)
    }

    /// Rebuilds the programme of `province` from the stored records through
    /// the domain's own checks: bulletins first, then chair orders and opt-ins.
    pub fn load_programme(&self, province: &Province) -> Result<Programme, StoreError> {
        let mut programme = Programme::default();
        for bulletin in self.all::<Bulletin>()? {
            programme.insert_bulletin(province, bulletin)?;
        }
        for order in self.all::<ChairOrder>()? {
            programme.set_chair_order(province, order)?;
        }
        for opt_in in self.all::<OptIn>()? {
            programme.set_opt_in(province, opt_in)?;
        }
        Ok(programme)
    }

    /// Every stored device log, by device.
    pub fn load_logs(&self) -> Result<BTreeMap<DeviceId, DeviceLog>, StoreError> {
        Ok(self
            .all::<DeviceHistory>()?
            .into_iter()
            .map(|history| (history.device, history.log))
            .collect())
    }
}

/// Opens sled at `path`. A lock held by another process is
/// [`StoreError::InUse`]; it is tried for up to two seconds first, because a
/// store just closed in this process is released by sled's background
/// thread a moment later.
fn open_db(path: &Path) -> Result<sled::Db, StoreError> {
    let mut tries = 40;
    loop {
        match sled::open(path) {
            Ok(db) => return Ok(db),
            // sled 0.34 says so only in the message of an `Other` error.
            Err(sled::Error::Io(io)) if io.to_string().contains("could not acquire lock") => {
                tries -= 1;
                if tries == 0 {
                    return Err(StoreError::InUse(path.to_owned()));
                }
                std::thread::sleep(std::time::Duration::from_millis(50));
            }
            Err(other) => return Err(StoreError::Sled(other)),
        }
    }
}

/// Adds `records` to `batch`, and removals for every stored record of the
/// type whose key is not among them.
fn put_replacing<'a, R: Record + 'a>(
    store: &Store,
    batch: &mut Batch,
    records: impl Iterator<Item = &'a R>,
) -> Result<(), StoreError> {
    let mut keep = HashSet::new();
    for record in records {
        keep.insert(record.key());
        batch.put(record)?;
    }
    for entry in store.tree::<R>()?.iter().keys() {
        let key = entry?;
        if !keep.contains(key.as_ref()) {
            batch.remove::<R>(&key);
        }
    }
    Ok(())
}

/// Changes to records of any types, applied together by [`Store::apply`].
///
/// Records are encoded when added, so a batch that builds applies without
/// encoding errors. Later changes to the same key win.
#[derive(Debug, Default)]
pub struct Batch {
    ops: Vec<Op>,
}

#[derive(Debug)]
struct Op {
    tree: &'static str,
    key: Vec<u8>,
    /// `None` removes the key.
    value: Option<Vec<u8>>,
}

impl Batch {
    pub fn new() -> Self {
        Self::default()
    }

    /// Inserts or replaces `record` under its own key.
    pub fn put<R: Record>(&mut self, record: &R) -> Result<&mut Self, StoreError> {
        self.ops.push(Op {
            tree: R::TREE,
            key: record.key(),
            value: Some(encode(record)?),
        });
        Ok(self)
    }

    /// Removes the record of type `R` stored under `key`, if there is one.
    pub fn remove<R: Record>(&mut self, key: &[u8]) -> &mut Self {
        self.ops.push(Op {
            tree: R::TREE,
            key: key.to_vec(),
            value: None,
        });
        self
    }

    /// Number of changes in the batch.
    pub fn len(&self) -> usize {
        self.ops.len()
    }

    pub fn is_empty(&self) -> bool {
        self.ops.is_empty()
    }

    /// Records `version` as the store's schema version.
    pub(crate) fn put_schema_version(&mut self, version: u32) -> Result<&mut Self, StoreError> {
        let value = serde_json::to_vec(&version).map_err(|source| StoreError::Encode {
            tree: META_TREE,
            key: show_key(SCHEMA_KEY),
            source,
        })?;
        self.ops.push(Op {
            tree: META_TREE,
            key: SCHEMA_KEY.to_vec(),
            value: Some(value),
        });
        Ok(self)
    }

    /// Adds `later`'s changes after this batch's own.
    pub fn append(&mut self, mut later: Batch) {
        self.ops.append(&mut later.ops);
    }

    /// Leaves only the last change to each key: earlier ones would be
    /// overwritten within the same transaction anyway.
    fn keep_last_changes(&mut self) {
        let mut seen = std::collections::HashSet::with_capacity(self.ops.len());
        let mut kept: Vec<Op> = Vec::with_capacity(self.ops.len());
        for op in self.ops.drain(..).rev() {
            if seen.insert((op.tree, op.key.clone())) {
                kept.push(op);
            }
        }
        kept.reverse();
        self.ops = kept;
    }
}

mod migrate;
mod raw;
mod scan;

pub use migrate::{Migration, MIGRATIONS};

pub use raw::{records_digest, RawRecord};

#[cfg(test)]
mod tests;
