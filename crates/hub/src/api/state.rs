//! What every handler shares: the stores, the hub task, the province, the clock.

use std::sync::{Arc, Mutex};

use chrono::{DateTime, Utc};
use hub_access::{authorize, AccessStore, Action, AuditEvent, AuditLog, LoginThrottle, Target};
use hub_core::{AreaTree, Event, Programme};
use hub_proto::Clock;
use hub_store::{Batch, Store};

use super::auth::Caller;
use super::error::ApiError;
use super::settings::ApiSettings;
use crate::link::{HubClient, Staged};
use crate::media::MediaStore;
use crate::monitor::HealthSettings;

pub type ApiState = Arc<ApiContext>;

pub struct ApiContext {
    pub settings: ApiSettings,
    pub store: Store,
    pub access: AccessStore,
    pub audit: AuditLog,
    pub media: MediaStore,
    pub hub: HubClient,
    /// The province's areas (they change only with the configuration;
    /// devices are the hub task's, asked through `hub`).
    pub tree: Arc<AreaTree>,
    /// What provisioning files name: the broker devices connect to and the
    /// hub's public key.
    pub broker_url: String,
    pub hub_public_key: String,
    /// The CA of the media server's certificate (PEM), with HTTPS media.
    pub media_ca: Option<String>,
    /// The boards' resolution: uploaded pictures are fitted to it.
    pub board: hub_media::BoardSize,
    /// The hub's clock: sessions, audit entries and bulletins share one time.
    pub clock: Clock,
    /// The province's time zone (`timezone` in the configuration): the web
    /// console shows and reads local times in it.
    pub tz: chrono_tz::Tz,
    pub throttle: Mutex<LoginThrottle>,
    /// When devices and communes raise alarms.
    pub health: HealthSettings,
    /// Account and token writes check, then write: one at a time.
    pub account_writes: tokio::sync::Mutex<()>,
    /// Live streams under way, which their operator may reattach to.
    pub live: crate::live::LiveStreams,
}

impl ApiContext {
    pub fn now(&self) -> DateTime<Utc> {
        self.clock.now()
    }

    /// The policy's answer for `caller`, as a 403 when it refuses. Refusals
    /// are logged (the audit log records changes, not attempts).
    pub fn authorize(
        &self,
        caller: &Caller,
        action: Action,
        target: Target<'_>,
    ) -> Result<(), ApiError> {
        authorize(&caller.principal, action, target, &self.tree).map_err(|denied| {
            tracing::info!(
                actor = %caller.principal.subject,
                ?action,
                reason = %denied,
                "API request refused"
            );
            ApiError::from(denied)
        })
    }

    /// Feeds `event` to the hub task and writes, in one transaction with
    /// what it changed, `extra` and the audit entry `audit` (completed by
    /// `complete` from the programme as the event left it); answers once
    /// that is on disk. A refused event writes nothing.
    pub async fn commit(
        &self,
        event: Event,
        extra: Batch,
        audit: AuditEvent,
        complete: impl FnOnce(&mut AuditEvent, &Programme) + Send + 'static,
    ) -> Result<(), ApiError> {
        let log = self.audit.clone();
        let tree = self.tree.clone();
        let now = self.now();
        let staged: Staged = Box::new(move |programme| {
            let mut batch = extra;
            let mut audit = audit;
            complete(&mut audit, programme);
            log.stage(&mut batch, audit, &tree, now)?;
            Ok(batch)
        });
        self.hub
            .commit(event, staged)
            .await?
            .map_err(ApiError::from)
    }

    /// Appends `event` to the audit log.
    pub fn record(&self, event: AuditEvent) -> Result<(), ApiError> {
        self.audit
            .append(event, &self.tree, self.now())
            .map(drop)
            .map_err(ApiError::from)
    }
}
