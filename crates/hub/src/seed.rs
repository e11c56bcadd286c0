//! Seeding a store with a configuration file's programme without overwriting
//! what the hub has recorded since (states, chairs' later decisions).

use hub_core::{Bulletin, ChairOrder, OptIn, Programme};
use hub_store::{Batch, Record, Store, StoreError};

/// Adds each bulletin, chair order and opt-in of `programme` that the store
/// does not hold yet, in one atomic batch.
pub fn seed_programme(store: &Store, programme: &Programme) -> Result<(), StoreError> {
    let mut batch = Batch::new();
    add_missing::<Bulletin>(store, &mut batch, programme.bulletins())?;
    add_missing::<ChairOrder>(store, &mut batch, programme.chair_orders())?;
    add_missing::<OptIn>(store, &mut batch, programme.opt_ins())?;
    store.apply(batch)
}

fn add_missing<'a, R: Record + 'a>(
    store: &Store,
    batch: &mut Batch,
    records: impl Iterator<Item = &'a R>,
) -> Result<(), StoreError> {
    for record in records {
        if store.get::<R>(&record.key())?.is_none() {
            batch.put(record)?;
        }
    }
    Ok(())
}
