//! The hub's signing identity, command sequence numbers, and device secrets.

use std::collections::BTreeMap;

use base64::engine::general_purpose::{STANDARD as BASE64, URL_SAFE_NO_PAD};
use base64::Engine;
use ed25519_dalek::SigningKey;
use hub_core::{Device, DeviceId, Province};
use hub_proto::downlink::encode_public_key;
use hub_proto::{CommandSigner, DeviceCredentials, Provisioning, UplinkKey};
use hub_store::{DeviceSecret, HubIdentity, Store, StoreError};
use rand::rngs::OsRng;
use rand::RngCore;

/// Sequence numbers are reserved on disk this many at a time. Reserving
/// flushes the store, which waits for every write queued before it, so it
/// must be rare: a province's hub signs some tens of thousands of commands a
/// day. A restart skips the rest of the block, which devices do not mind
/// (they only need numbers to grow), and 2^64 leaves room for 10^13 restarts.
const SEQ_BLOCK: u64 = 1_000_000;

/// Signs commands and hands out sequence numbers that grow across restarts.
pub struct Identity {
    signer: CommandSigner,
    next_seq: u64,
    reserved: u64,
    stored: HubIdentity,
}

#[derive(Debug, thiserror::Error)]
pub enum IdentityError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("the stored hub signing key is not 32 bytes of base64")]
    BadKey,
}

impl Identity {
    /// Loads the hub's key, or creates one on first start. Numbers below the
    /// stored reservation may have been used before a crash, so counting
    /// resumes above it.
    pub fn load_or_create(store: &Store) -> Result<Self, IdentityError> {
        let stored = match store.get::<HubIdentity>(HubIdentity::KEY)? {
            Some(stored) => stored,
            None => HubIdentity {
                signing_key: BASE64.encode(SigningKey::generate(&mut OsRng).to_bytes()),
                seq_reserved: 1,
            },
        };
        let key: [u8; 32] = BASE64
            .decode(&stored.signing_key)
            .ok()
            .and_then(|b| b.try_into().ok())
            .ok_or(IdentityError::BadKey)?;
        let mut identity = Self {
            signer: CommandSigner::new(SigningKey::from_bytes(&key)),
            next_seq: stored.seq_reserved,
            reserved: stored.seq_reserved,
            stored,
        };
        identity.reserve(store)?;
        Ok(identity)
    }

    pub fn signer(&self) -> &CommandSigner {
        &self.signer
    }

    pub fn public_key_text(&self) -> String {
        encode_public_key(&self.signer.verifying_key())
    }

    /// The next command sequence number.
    pub fn next_seq(&mut self, store: &Store) -> Result<u64, StoreError> {
        if self.next_seq >= self.reserved {
            self.reserve(store)?;
        }
        let seq = self.next_seq;
        self.next_seq += 1;
        Ok(seq)
    }

    fn reserve(&mut self, store: &Store) -> Result<(), StoreError> {
        self.reserved = self.next_seq + SEQ_BLOCK;
        self.stored.seq_reserved = self.reserved;
        store.put(&self.stored)?;
        store.flush()
    }
}

/// Every device's secrets, creating them for devices that have none yet.
pub fn ensure_secrets(
    store: &Store,
    province: &Province,
) -> Result<BTreeMap<DeviceId, DeviceSecret>, StoreError> {
    let mut secrets: BTreeMap<DeviceId, DeviceSecret> = store
        .all::<DeviceSecret>()?
        .into_iter()
        .map(|s| (s.device.clone(), s))
        .collect();
    let mut created = hub_store::Batch::new();
    for device in province.devices() {
        if secrets.contains_key(&device.id) {
            continue;
        }
        let secret = new_secret(&device.id);
        created.put(&secret)?;
        secrets.insert(device.id.clone(), secret);
    }
    if !created.is_empty() {
        store.apply(created)?;
        store.flush()?;
    }
    Ok(secrets)
}

/// Fresh credentials for a device: a broker password and an uplink key.
pub fn new_secret(device: &DeviceId) -> DeviceSecret {
    DeviceSecret {
        device: device.clone(),
        mqtt_password: URL_SAFE_NO_PAD.encode(random_bytes::<24>()),
        uplink_key: UplinkKey::from_bytes(random_bytes()).to_text(),
        revoked: false,
    }
}

/// What a device's provisioning file says about it.
pub fn credentials(device: &Device, secret: &DeviceSecret) -> DeviceCredentials {
    DeviceCredentials {
        id: device.id.to_string(),
        commune: device.commune.to_string(),
        kind: device.kind.wire(),
        mqtt_password: secret.mqtt_password.clone(),
        uplink_key: secret.uplink_key.clone(),
    }
}

fn random_bytes<const N: usize>() -> [u8; N] {
    let mut bytes = [0; N];
    OsRng.fill_bytes(&mut bytes);
    bytes
}

/// The provisioning file for every device of `province` that is not revoked.
pub fn provisioning(
    province: &Province,
    secrets: &BTreeMap<DeviceId, DeviceSecret>,
    broker_url: String,
    hub_public_key: String,
) -> Provisioning {
    let devices = province
        .devices()
        .filter_map(|device| {
            let secret = secrets.get(&device.id).filter(|s| !s.revoked)?;
            Some(credentials(device, secret))
        })
        .collect();
    Provisioning::new(broker_url, hub_public_key, devices)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sequence_numbers_grow_across_restarts() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        let mut first = Identity::load_or_create(&store).unwrap();
        let key = first.public_key_text();
        let used: Vec<u64> = (0..3).map(|_| first.next_seq(&store).unwrap()).collect();
        assert!(used.windows(2).all(|w| w[0] < w[1]));
        drop(first);
        let mut second = Identity::load_or_create(&store).unwrap();
        assert_eq!(second.public_key_text(), key, "the key is kept");
        assert!(second.next_seq(&store).unwrap() > used[2]);
    }

    #[test]
    fn secrets_are_created_once_per_device() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        let province = hub_core::testkit::province();
        let first = ensure_secrets(&store, &province).unwrap();
        assert_eq!(first.len(), province.devices().count());
        let second = ensure_secrets(&store, &province).unwrap();
        assert_eq!(
            first.values().map(|s| &s.mqtt_password).collect::<Vec<_>>(),
            second
                .values()
                .map(|s| &s.mqtt_password)
                .collect::<Vec<_>>()
        );
        let file = provisioning(&province, &second, "mqtt://x:1".into(), "k".into());
        assert_eq!(file.devices.len(), first.len());
        assert!(file
            .devices
            .iter()
            .all(|d| UplinkKey::from_text(&d.uplink_key).is_ok()));
    }
}
