//! Bringing a store written by an older hub up to this hub's schema.
//!
//! Each [`Migration`] turns a store of one schema version into the next.
//! Opening a store of an older version runs them in order; each one's
//! changes are written in one transaction together with the new version
//! number, so a crash in the middle leaves the store at a version it had,
//! whole, and the next start carries on from there. A store with a missing
//! step on its way is refused before anything changes.

use crate::error::StoreError;
use crate::store::{Batch, Store};

/// One step of the store's schema: from version `from` to `from + 1`.
pub struct Migration {
    pub from: u32,
    /// What changes, for the log.
    pub describe: &'static str,
    /// Reads the store as it is and returns the changes that make it the
    /// next version.
    pub apply: fn(&Store) -> Result<Batch, StoreError>,
}

/// The migrations of this hub's schema. Version 1 is the first: none yet.
pub const MIGRATIONS: &[Migration] = &[];

/// Migrates `store` from schema `found` to `supported`.
pub(crate) fn up_to(
    store: &Store,
    found: u32,
    supported: u32,
    migrations: &[Migration],
) -> Result<(), StoreError> {
    // Every step must exist before the first is taken.
    let steps = (found..supported)
        .map(|version| migrations.iter().find(|m| m.from == version))
        .collect::<Option<Vec<_>>>()
        .ok_or(StoreError::SchemaTooOld { found, supported })?;
    for step in steps {
        let version = step.from;
        let mut batch = (step.apply)(store)?;
        batch.put_schema_version(version + 1)?;
        store.apply(batch)?;
        store.flush()?;
        tracing::info!(
            from = version,
            to = version + 1,
            change = step.describe,
            "store migrated"
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use hub_core::Area;

    use super::*;
    use crate::testkit::areas;

    /// Version 2 of a test schema: every area's name in capitals.
    fn shout(store: &Store) -> Result<Batch, StoreError> {
        let mut batch = Batch::new();
        for mut area in store.all::<Area>()? {
            area.name = area.name.to_uppercase();
            batch.put(&area)?;
        }
        Ok(batch)
    }

    fn failing(_: &Store) -> Result<Batch, StoreError> {
        Err(StoreError::NoProvince)
    }

    const SHOUT: Migration = Migration {
        from: 1,
        describe: "area names in capitals",
        apply: shout,
    };

    fn version_1_store(dir: &std::path::Path) {
        let store = Store::open_migrating(dir, 1, &[]).unwrap();
        for area in areas() {
            store.put(&area).unwrap();
        }
        store.flush().unwrap();
    }

    #[test]
    fn an_older_store_is_migrated_step_by_step_and_records_its_new_version() {
        let dir = tempfile::tempdir().unwrap();
        version_1_store(dir.path());
        let store = Store::open_migrating(dir.path(), 2, &[SHOUT]).unwrap();
        assert_eq!(store.schema_version().unwrap(), Some(2));
        let names: Vec<String> = store
            .all::<Area>()
            .unwrap()
            .into_iter()
            .map(|a| a.name)
            .collect();
        assert!(!names.is_empty());
        assert!(names.iter().all(|n| *n == n.to_uppercase()), "{names:?}");
        drop(store);
        // Migrated once: opening again changes nothing and needs no step.
        let again = Store::open_migrating(dir.path(), 2, &[]).unwrap();
        assert_eq!(again.schema_version().unwrap(), Some(2));
    }

    #[test]
    fn a_failed_or_missing_step_leaves_the_store_as_it_was() {
        let dir = tempfile::tempdir().unwrap();
        version_1_store(dir.path());
        let broken = Migration {
            from: 1,
            describe: "fails",
            apply: failing,
        };
        assert!(Store::open_migrating(dir.path(), 2, &[broken]).is_err());
        let missing = Store::open_migrating(dir.path(), 3, &[SHOUT]).unwrap_err();
        assert!(
            matches!(
                missing,
                StoreError::SchemaTooOld {
                    found: 1,
                    supported: 3
                }
            ),
            "{missing}"
        );
        let store = Store::open_migrating(dir.path(), 1, &[]).unwrap();
        assert_eq!(store.schema_version().unwrap(), Some(1));
        let mut original = areas();
        original.sort_by(|a, b| a.code.cmp(&b.code));
        assert_eq!(store.all::<Area>().unwrap(), original);
    }
}
