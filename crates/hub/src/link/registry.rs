//! Registering and revoking devices while the hub runs. Each change goes
//! everywhere a device is known at once: the store, the scheduler, the
//! gate (whose reports are believed) and the password table the broker and
//! the media server check.
//!
//! A revoked device can no longer connect, download or report; a
//! connection it already has stays open until it drops (rumqttd cannot
//! close one from outside), but everything it sends is dropped and it is
//! taken as offline.

use hub_core::{CoreError, Device, DeviceId, Event};
use hub_proto::{DeviceCredentials, UplinkKey};
use hub_store::{DeviceSecret, PresenceCause};

use super::gate::Known;
use super::identity::{credentials, new_secret};
use super::service::ServeError;
use super::task::{presence, Effects, Hub};
use super::writer::Changes;

impl Hub {
    /// Adds `device` to the province with fresh credentials.
    pub(super) async fn register(
        &mut self,
        device: Device,
    ) -> Result<Result<DeviceCredentials, CoreError>, ServeError> {
        let now = self.clock.now();
        let mut refused = self
            .round(
                now,
                vec![Event::DeviceAdded(device.clone())],
                Effects::default(),
            )
            .await?;
        if let Some((_, error)) = refused.pop() {
            return Ok(Err(error));
        }
        let secret = new_secret(&device.id);
        let mut batch = hub_store::Batch::new();
        batch.put(&device)?;
        batch.put(&secret)?;
        self.store.apply(batch)?;
        self.store.flush()?;
        let key = UplinkKey::from_text(&secret.uplink_key)
            .map_err(|_| super::identity::IdentityError::BadKey)?;
        self.gate.add(
            device.id.clone(),
            Known {
                commune: device.commune.clone(),
                key,
                revoked: false,
            },
        );
        self.passwords
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .insert(device.id.to_string(), secret.mqtt_password.clone());
        tracing::info!(device = %device.id, commune = %device.commune, "device registered");
        Ok(Ok(credentials(&device, &secret)))
    }

    /// Revokes `device`'s credentials for good.
    pub(super) async fn revoke(
        &mut self,
        device: &DeviceId,
    ) -> Result<Result<(), CoreError>, ServeError> {
        if let Err(error) = self.scheduler.province().device(device) {
            return Ok(Err(error));
        }
        // Kept, marked revoked, so a restart does not issue new credentials.
        let mut secret: DeviceSecret = self
            .store
            .get(device.as_str().as_bytes())?
            .unwrap_or_else(|| new_secret(device));
        secret.revoked = true;
        self.store.put(&secret)?;
        self.store.flush()?;
        self.passwords
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .remove(device.as_str());
        self.gate.revoke(device);
        let mut events = Vec::new();
        let now = self.clock.now();
        if self.online.remove(device) {
            events.push(Event::DeviceOffline(device.clone()));
            let mut logged = Changes::default();
            logged.put_presence(vec![presence(device, now, PresenceCause::Revoked)]);
            self.writer.write(logged);
        }
        self.round(now, events, Effects::default()).await?;
        tracing::warn!(%device, "device revoked");
        Ok(Ok(()))
    }

    /// The credentials of a registered, unrevoked device.
    pub(super) fn credentials(
        &self,
        id: &DeviceId,
    ) -> Result<Option<DeviceCredentials>, ServeError> {
        let Ok(device) = self.scheduler.province().device(id) else {
            return Ok(None);
        };
        let secret: Option<DeviceSecret> = self.store.get(id.as_str().as_bytes())?;
        Ok(secret
            .filter(|s| !s.revoked)
            .map(|s| credentials(device, &s)))
    }
}
