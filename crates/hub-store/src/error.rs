//! Errors of the store: each names the tree and key it is about when there is one.

use hub_core::CoreError;

/// Everything that can go wrong reading or writing the store.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// sled itself failed (I/O, corruption it detected, a lock held by another process).
    #[error("store I/O failed: {0}")]
    Sled(#[from] sled::Error),

    /// A stored value is not valid JSON for the record type of its tree.
    #[error("record {key:?} in tree {tree:?} cannot be decoded: {source}")]
    Decode {
        tree: &'static str,
        /// The key, as text (not valid UTF-8 is replaced, `\0` shows as `\0`).
        key: String,
        source: serde_json::Error,
    },

    /// A record was written by a newer hub in a format this binary does not know.
    #[error(
        "record {key:?} in tree {tree:?} has format version {found}, \
         newer than this hub ({supported}); upgrade the hub"
    )]
    RecordTooNew {
        tree: &'static str,
        key: String,
        found: u32,
        supported: u32,
    },

    /// A record decoded fine but is stored under another key than its own.
    #[error("record {key:?} in tree {tree:?} holds the record of key {own:?}")]
    MisplacedRecord {
        tree: &'static str,
        key: String,
        own: String,
    },

    /// A record could not be turned into JSON (a domain type serde cannot
    /// express as JSON; a bug, never caused by data).
    #[error("record {key:?} for tree {tree:?} cannot be encoded: {source}")]
    Encode {
        tree: &'static str,
        key: String,
        source: serde_json::Error,
    },

    /// Another process (a running hub) has the store open.
    #[error("the store in {0} is in use by another process (is `hub serve` running on it?)")]
    InUse(std::path::PathBuf),

    /// The store was written by a newer hub; opening it could lose data.
    #[error("store schema version {found} is newer than this hub ({supported}); upgrade the hub")]
    SchemaTooNew { found: u32, supported: u32 },

    /// The store carries a schema version this hub has no migration from.
    #[error(
        "store schema version {found} is older than this hub ({supported}) \
         and there is no migration from it"
    )]
    SchemaTooOld { found: u32, supported: u32 },

    /// [`Store::load_province`](crate::Store::load_province) on a store that
    /// was never given a province.
    #[error("the store holds no province; import one first")]
    NoProvince,

    /// The stored records decode but do not form a valid province or programme.
    #[error("stored records fail validation: {0}")]
    Invalid(#[from] CoreError),
}

/// A key as text for error messages.
pub(crate) fn show_key(key: &[u8]) -> String {
    String::from_utf8_lossy(key).into_owned()
}
