//! Every record as stored, tree by tree, for backups: out in a fixed order,
//! and back into an empty store.

use sha2::{Digest, Sha256};

use crate::error::StoreError;
use crate::Store;

/// One stored record: its tree, key and encoded value.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RawRecord {
    pub tree: String,
    pub key: Vec<u8>,
    pub value: Vec<u8>,
}

/// SHA-256 (lowercase hex) of `records` in their order, each as its
/// length-prefixed tree, key and value: equal digests, equal stores.
pub fn records_digest(records: &[RawRecord]) -> String {
    let mut hash = Sha256::new();
    for record in records {
        for part in [record.tree.as_bytes(), &record.key, &record.value] {
            hash.update((part.len() as u64).to_le_bytes());
            hash.update(part);
        }
    }
    hash.finalize().iter().map(|b| format!("{b:02x}")).collect()
}

impl Store {
    /// Every record of every tree, trees by name, keys in order, as of one
    /// instant: writes wait while it reads, so no batch is caught half
    /// written, even while a hub runs on the store.
    pub fn snapshot(&self) -> Result<Vec<RawRecord>, StoreError> {
        let _quiet = self.quiet();
        let mut names: Vec<Vec<u8>> = self
            .db
            .tree_names()
            .into_iter()
            .map(|name| name.to_vec())
            // sled's own default tree holds nothing of ours.
            .filter(|name| name.as_slice() != b"__sled__default")
            .collect();
        names.sort();
        let mut records = Vec::new();
        for name in names {
            let tree = self.db.open_tree(&name)?;
            let tree_name = String::from_utf8_lossy(&name).into_owned();
            for entry in tree.iter() {
                let (key, value) = entry?;
                records.push(RawRecord {
                    tree: tree_name.clone(),
                    key: key.to_vec(),
                    value: value.to_vec(),
                });
            }
        }
        Ok(records)
    }

    /// Writes `records` as they are and flushes.
    pub fn put_raw_records(&self, records: &[RawRecord]) -> Result<(), StoreError> {
        let _writing = self.writing();
        for record in records {
            self.db
                .open_tree(record.tree.as_bytes())?
                .insert(&record.key, record.value.as_slice())?;
        }
        self.flush()
    }
}
