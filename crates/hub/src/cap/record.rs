//! What the hub remembers of every CAP alert it accepted, in its store
//! (tree `cap_alerts`, keyed by sender, identifier and the instant sent):
//! the answer it gave, so the same alert posted again gets the same answer
//! and creates nothing, and the bulletin the alert became, so an Update or
//! Cancel naming the alert in `references` acts on that bulletin.

use chrono::{DateTime, Utc};
use hub_core::{AreaCode, BulletinId, PriorityClass};
use hub_store::Record;
use serde::{Deserialize, Serialize};

use super::document::{Alert, MsgType, Reference, Status};

/// One accepted alert.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CapRecord {
    pub sender: String,
    pub identifier: String,
    /// `sent` as an instant (references name it with any offset).
    pub sent: DateTime<Utc>,
    pub status: Status,
    pub msg_type: MsgType,
    /// Who posted it (`token:…` or `user:…`).
    pub by: String,
    pub received: DateTime<Utc>,
    /// The area it was issued in the name of, and the areas it named.
    pub issuer: AreaCode,
    pub targets: Vec<AreaCode>,
    /// Whether it went to devices (Actual, or any status in test mode).
    pub broadcast: bool,
    /// What the hub did, for people: `broadcast as cap-12`, `not broadcast: test`.
    pub outcome: String,
    /// The bulletin it became.
    pub bulletin: Option<BulletinId>,
    pub class: Option<PriorityClass>,
    /// Bulletins it cancelled (an Update's or a Cancel's references).
    pub cancelled: Vec<BulletinId>,
    pub notes: Vec<String>,
}

impl CapRecord {
    /// The store key of the alert `sender`/`identifier`/`sent` names.
    pub fn key_of(sender: &str, identifier: &str, sent: DateTime<Utc>) -> Vec<u8> {
        format!("{sender}\0{identifier}\0{}", sent.to_rfc3339()).into_bytes()
    }

    /// The key of the alert itself.
    pub fn key_of_alert(alert: &Alert) -> Vec<u8> {
        Self::key_of(
            &alert.sender,
            &alert.identifier,
            alert.sent.with_timezone(&Utc),
        )
    }

    /// The key of a referenced alert.
    pub fn key_of_reference(reference: &Reference) -> Vec<u8> {
        Self::key_of(
            &reference.sender,
            &reference.identifier,
            reference.sent.with_timezone(&Utc),
        )
    }
}

impl Record for CapRecord {
    const TREE: &'static str = "cap_alerts";
    fn key(&self) -> Vec<u8> {
        Self::key_of(&self.sender, &self.identifier, self.sent)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_alert_and_a_reference_to_it_share_a_key_whatever_the_offset() {
        let alert_sent = DateTime::parse_from_rfc3339("2026-11-23T10:00:00+07:00").unwrap();
        let reference = Reference {
            sender: "kttv@vn".into(),
            identifier: "A-1".into(),
            sent: DateTime::parse_from_rfc3339("2026-11-23T03:00:00-00:00").unwrap(),
        };
        assert_eq!(
            CapRecord::key_of("kttv@vn", "A-1", alert_sent.with_timezone(&Utc)),
            CapRecord::key_of_reference(&reference)
        );
        assert_ne!(
            CapRecord::key_of("kttv@vn", "A-2", alert_sent.with_timezone(&Utc)),
            CapRecord::key_of_reference(&reference)
        );
    }
}
