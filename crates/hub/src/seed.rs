//! Seeding a store with a configuration file's programme without overwriting
//! what the hub has recorded since (states, chairs' later decisions).

use hub_core::{Bulletin, ChairOrder, OptIn, Programme};
use hub_store::{Record, Store, StoreError};

/// Adds each bulletin, chair order and opt-in of `programme` that the store
/// does not hold yet; returns how many records were added.
pub fn seed_programme(store: &Store, programme: &Programme) -> Result<usize, StoreError> {
    let mut added = 0;
    added += add_missing::<Bulletin>(store, programme.bulletins())?;
    added += add_missing::<ChairOrder>(store, programme.chair_orders())?;
    added += add_missing::<OptIn>(store, programme.opt_ins())?;
    Ok(added)
}

fn add_missing<'a, R: Record + 'a>(
    store: &Store,
    records: impl Iterator<Item = &'a R>,
) -> Result<usize, StoreError> {
    let mut added = 0;
    for record in records {
        if store.get::<R>(&record.key())?.is_none() {
            store.put(record)?;
            added += 1;
        }
    }
    Ok(added)
}
