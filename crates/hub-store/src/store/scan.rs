//! Range reads and unique sequence numbers, for record types that are read by
//! key range (an append-only log keyed by time) rather than whole or by key.

use crate::error::StoreError;
use crate::record::{decode_record, Record};
use crate::Store;

impl Store {
    /// Records of type `R` whose keys lie in `[start, end)`, in key order,
    /// at most `limit` of them.
    pub fn range<R: Record>(
        &self,
        start: &[u8],
        end: &[u8],
        limit: usize,
    ) -> Result<Vec<R>, StoreError> {
        if start >= end {
            return Ok(Vec::new());
        }
        self.db
            .open_tree(R::TREE)?
            .range(start..end)
            .take(limit)
            .map(|entry| {
                let (key, value) = entry?;
                decode_record(&key, &value)
            })
            .collect()
    }

    /// A number this store never handed out before, greater than every
    /// earlier one, also across restarts (sled persists the counter and
    /// skips ahead on recovery). Numbers are not contiguous.
    pub fn next_id(&self) -> Result<u64, StoreError> {
        Ok(self.db.generate_id()?)
    }
}
