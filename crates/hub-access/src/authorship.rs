//! Who wrote each bulletin. The core does not know people, so authorship is
//! kept here, beside the bulletin, for the review rule (nobody approves
//! their own bulletin) and for the record.

use chrono::{DateTime, Utc};
use hub_core::BulletinId;
use hub_store::Record;
use serde::{Deserialize, Serialize};

use crate::Subject;

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Authorship {
    pub bulletin: BulletinId,
    pub author: Subject,
    pub created: DateTime<Utc>,
}

impl Record for Authorship {
    const TREE: &'static str = "authorship";
    fn key(&self) -> Vec<u8> {
        self.bulletin.as_str().as_bytes().to_vec()
    }
}
