//! The handle people and tests hold on a running hub: requests go to the
//! hub task through a channel and come back through one-shot replies, so all
//! state stays with the task.

use std::collections::BTreeMap;
use std::net::SocketAddr;

use chrono::NaiveDate;
use hub_core::{
    AreaCode, Bulletin, BulletinId, ChairOrder, CoreError, Delivery, DeliveryState, Device,
    DeviceId, Event, OptIn, PlanItem, Programme,
};
use hub_proto::live::LiveChunk;
use hub_proto::{DeviceCredentials, Provisioning, Status};
use hub_store::Batch;
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use super::service::ServeError;
use super::writer::DurableReply;
use crate::http_server::HttpServer;
use crate::monitor::{DeviceHealth, LinkFigures};

/// Counters of the device link.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct LinkStats {
    /// Uplinks dropped by the gate, by reason.
    pub dropped: BTreeMap<&'static str, u64>,
    /// Commands devices refused, by their stated reason.
    pub refused_by_devices: BTreeMap<String, u64>,
    /// Failed airings devices reported, by their reason's code
    /// ([`hub_proto::FailureReason::code`]; `unstated` when they gave none).
    pub failed_by_reason: BTreeMap<&'static str, u64>,
    /// Proofs of play naming an airing the hub does not know.
    pub unknown_airings: u64,
    pub online: usize,
    pub commands_published: u64,
    /// Batches of state the store could not write.
    pub store_failures: u64,
}

/// Records a request stages to be written in the same transaction as its
/// event, made from the programme as the event left it (an audit entry
/// names the bulletin's new state).
pub type Staged =
    Box<dyn FnOnce(&Programme) -> Result<Batch, Box<dyn std::error::Error + Send + Sync>> + Send>;

pub(super) enum Request {
    Event(Event, Staged, DurableReply),
    Deliveries(DeviceId, oneshot::Sender<Vec<Delivery>>),
    BulletinDeliveries(BulletinId, oneshot::Sender<Vec<Delivery>>),
    Online(DeviceId, oneshot::Sender<bool>),
    Health(DeviceId, oneshot::Sender<Option<Status>>),
    DeviceHealth(oneshot::Sender<Vec<DeviceHealth>>),
    Figures(oneshot::Sender<LinkFigures>),
    Stats(oneshot::Sender<LinkStats>),
    Tally(oneshot::Sender<DeliveryTally>),
    Bulletins(oneshot::Sender<Vec<Bulletin>>),
    Bulletin(BulletinId, oneshot::Sender<Option<Bulletin>>),
    Commune(AreaCode, u8, oneshot::Sender<CommuneView>),
    Devices(oneshot::Sender<Vec<Device>>),
    Device(DeviceId, oneshot::Sender<Option<Device>>),
    Register(
        Device,
        oneshot::Sender<Result<DeviceCredentials, CoreError>>,
    ),
    Revoke(DeviceId, oneshot::Sender<Result<(), CoreError>>),
    Credentials(DeviceId, oneshot::Sender<Option<DeviceCredentials>>),
    Live(LiveChunk, Vec<AreaCode>, oneshot::Sender<usize>),
}

/// What a commune's devices are to air and what its chair decided.
#[derive(Clone, Debug, Default)]
pub struct CommuneView {
    /// Every bulletin that targets the commune, in id order.
    pub bulletins: Vec<Bulletin>,
    pub chair_order: Option<ChairOrder>,
    pub opt_ins: Vec<OptIn>,
    /// Day by day from today, each device of the commune with its plan.
    pub plans: Vec<DayPlans>,
}

/// The plans of a commune's devices for one local day.
#[derive(Clone, Debug)]
pub struct DayPlans {
    pub date: NaiveDate,
    pub devices: Vec<(DeviceId, Vec<PlanItem>)>,
}

/// How many devices each bulletin stands at, by delivery state.
pub type DeliveryTally = BTreeMap<BulletinId, BTreeMap<DeliveryState, usize>>;

/// Asks a running hub task for what it knows and feeds it events. Cheap to
/// clone: the API's handlers each hold one.
#[derive(Clone)]
pub struct HubClient {
    pub(super) requests: mpsc::Sender<Request>,
}

impl HubClient {
    async fn ask<T>(
        &self,
        make: impl FnOnce(oneshot::Sender<T>) -> Request,
    ) -> Result<T, ServeError> {
        let (reply, answer) = oneshot::channel();
        self.requests
            .send(make(reply))
            .await
            .map_err(|_| ServeError::Stopped)?;
        answer.await.map_err(|_| ServeError::Stopped)
    }

    /// Feeds a scheduler event (a new bulletin, an approval, a cancellation…)
    /// and answers once its effects are on disk.
    pub async fn event(&self, event: Event) -> Result<Result<(), CoreError>, ServeError> {
        self.commit(event, Box::new(|_| Ok(Batch::new()))).await
    }

    /// Feeds `event` and writes what it changed, the programme and the
    /// records `staged` makes in one transaction; answers once that is on
    /// disk, or with the scheduler's refusal (then nothing is written).
    pub async fn commit(
        &self,
        event: Event,
        staged: Staged,
    ) -> Result<Result<(), CoreError>, ServeError> {
        let (reply, answer) = oneshot::channel();
        self.requests
            .send(Request::Event(event, staged, reply))
            .await
            .map_err(|_| ServeError::Stopped)?;
        answer.await.map_err(|_| ServeError::NotRecorded)
    }

    /// Where each airing of `device` stands.
    pub async fn deliveries(&self, device: &DeviceId) -> Result<Vec<Delivery>, ServeError> {
        self.ask(|reply| Request::Deliveries(device.clone(), reply))
            .await
    }

    /// Every device's delivery of `bulletin`, in one request.
    pub async fn deliveries_of(&self, bulletin: &BulletinId) -> Result<Vec<Delivery>, ServeError> {
        self.ask(|reply| Request::BulletinDeliveries(bulletin.clone(), reply))
            .await
    }

    pub async fn is_online(&self, device: &DeviceId) -> Result<bool, ServeError> {
        self.ask(|reply| Request::Online(device.clone(), reply))
            .await
    }

    /// The device's last status report.
    pub async fn health(&self, device: &DeviceId) -> Result<Option<Status>, ServeError> {
        self.ask(|reply| Request::Health(device.clone(), reply))
            .await
    }

    pub async fn stats(&self) -> Result<LinkStats, ServeError> {
        self.ask(Request::Stats).await
    }

    /// Every registered device with its health (online, since when, last
    /// seen, last status), in one request however many devices there are.
    pub async fn device_health(&self) -> Result<Vec<DeviceHealth>, ServeError> {
        self.ask(Request::DeviceHealth).await
    }

    /// The device link's figures for `/metrics`.
    pub async fn figures(&self) -> Result<LinkFigures, ServeError> {
        self.ask(Request::Figures).await
    }

    /// Every bulletin's deliveries, counted by state.
    pub async fn tally(&self) -> Result<DeliveryTally, ServeError> {
        self.ask(Request::Tally).await
    }

    /// Every bulletin the hub knows, in id order.
    pub async fn bulletins(&self) -> Result<Vec<Bulletin>, ServeError> {
        self.ask(Request::Bulletins).await
    }

    pub async fn bulletin(&self, id: &BulletinId) -> Result<Option<Bulletin>, ServeError> {
        self.ask(|reply| Request::Bulletin(id.clone(), reply)).await
    }

    /// Every registered device.
    pub async fn devices(&self) -> Result<Vec<Device>, ServeError> {
        self.ask(Request::Devices).await
    }

    pub async fn device(&self, id: &DeviceId) -> Result<Option<Device>, ServeError> {
        self.ask(|reply| Request::Device(id.clone(), reply)).await
    }

    /// Registers a device while the hub runs; its new credentials.
    pub async fn register(
        &self,
        device: Device,
    ) -> Result<Result<DeviceCredentials, CoreError>, ServeError> {
        self.ask(|reply| Request::Register(device, reply)).await
    }

    /// Revokes a device: the broker and media server refuse it from now on
    /// and its reports are ignored.
    pub async fn revoke(&self, device: &DeviceId) -> Result<Result<(), CoreError>, ServeError> {
        self.ask(|reply| Request::Revoke(device.clone(), reply))
            .await
    }

    /// A device's credentials (`None` once revoked).
    pub async fn credentials(
        &self,
        device: &DeviceId,
    ) -> Result<Option<DeviceCredentials>, ServeError> {
        self.ask(|reply| Request::Credentials(device.clone(), reply))
            .await
    }

    /// Signs `chunk` of a live stream and publishes it on the loudspeaker
    /// topic of each of `communes`, after every command the task sent
    /// before; how many publishes the broker link took.
    pub async fn publish_live(
        &self,
        chunk: LiveChunk,
        communes: Vec<AreaCode>,
    ) -> Result<usize, ServeError> {
        self.ask(|reply| Request::Live(chunk, communes, reply))
            .await
    }

    /// What `commune` airs today and the `days - 1` days after (at most a
    /// week), and what its chair decided.
    pub async fn commune(&self, commune: &AreaCode, days: u8) -> Result<CommuneView, ServeError> {
        let days = days.clamp(1, 7);
        self.ask(|reply| Request::Commune(commune.clone(), days, reply))
            .await
    }
}

/// A running hub.
pub struct HubHandle {
    /// The embedded broker's plain MQTT address (`None` with an external broker).
    pub mqtt_addr: Option<SocketAddr>,
    pub mqtts_addr: Option<SocketAddr>,
    /// Where the media server listens.
    pub media_addr: SocketAddr,
    pub(super) media_server: HttpServer,
    /// Where the people's API listens.
    pub api_addr: SocketAddr,
    pub(super) api_server: HttpServer,
    /// Credentials of every device and the hub's public key.
    pub provisioning: Provisioning,
    pub(super) client: HubClient,
    pub(super) cancel: CancellationToken,
    pub(super) task: JoinHandle<Result<(), ServeError>>,
}

impl HubHandle {
    /// A client of the hub task, to keep after the handle is moved.
    pub fn client(&self) -> HubClient {
        self.client.clone()
    }

    /// A token that stops the hub when cancelled.
    pub fn cancel_token(&self) -> CancellationToken {
        self.cancel.clone()
    }

    /// Runs until the hub stops (by its cancel token, or an error); the
    /// media and API servers stop with it.
    pub async fn wait(self) -> Result<(), ServeError> {
        let stopped = self.task.await.map_err(|_| ServeError::Stopped);
        self.media_server.stop().await;
        self.api_server.stop().await;
        stopped?
    }

    /// Stops the hub and waits for it to write its state.
    pub async fn shutdown(self) -> Result<(), ServeError> {
        self.cancel.cancel();
        self.wait().await
    }
}

/// The handle answers every [`HubClient`] query itself.
impl std::ops::Deref for HubHandle {
    type Target = HubClient;
    fn deref(&self) -> &HubClient {
        &self.client
    }
}
