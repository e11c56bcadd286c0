//! One live emergency from start to end.
//!
//! [`prepare`] validates the request and asks the policy, before anything
//! airs (so an API answers 403 or 422 before it upgrades to a socket);
//! [`start`] queues the emergency bulletin, whose loudspeaker part is live
//! and whose board part shows the operator's text, so every targeted device
//! preempts what it plays at once; [`LiveSession::relay`] checks the
//! operator's packets, groups them into chunks and publishes them, and ends
//! the stream: on the operator's word, at its maximum length, when packets
//! stop coming for [`SILENCE_LIMIT`] (a broken connection included: the
//! operator may reattach meanwhile, `super::attach`), or when someone stops
//! the emergency.
//! Every end but a stop sends the stream's last chunk (devices finish the
//! airing) and then cancels the bulletin in the operator's name, with the
//! reason in the audit log: a live emergency that ended has nothing to
//! replay, so no device that missed it gets it later.

use std::collections::BTreeSet;
use std::time::Duration;

use chrono::TimeDelta;
use futures_util::{Stream, StreamExt};
use hub_access::{Action, BulletinFacts, Target};
use hub_core::{
    AreaCode, AudioPart, AudioSource, Bulletin, BulletinId, BulletinState, Category, DeviceKind,
    Event, Language, PriorityClass, Validity, Variant, VisualKind, VisualPart,
};
use serde::Serialize;
use tokio::sync::mpsc;
use tokio::time::{sleep_until, Instant, MissedTickBehavior};

use super::chunks::Chunker;
use super::packets;
use crate::api::auth::Caller;
use crate::api::error::ApiError;
use crate::api::handlers::bulletins::{publish_new, transition, BulletinView};
use crate::api::handlers::{require_area, Reason};
use crate::api::state::{ApiContext, ApiState};

/// How long a stream may last when the operator does not say.
pub const DEFAULT_MAX_SECS: u32 = 10 * 60;
/// The longest a stream may last.
pub const MAX_LIVE_SECS: u32 = 60 * 60;
/// A stream that receives no packet for this long (real time) has lost its
/// operator: a microphone sends one every 20 ms.
pub const SILENCE_LIMIT: Duration = Duration::from_secs(5);
/// Packets wait at most this long (real time) for their chunk to fill.
const CHUNK_WAIT: Duration = Duration::from_millis(200);
/// How often the relay looks whether the emergency was stopped.
const STOP_POLL: Duration = Duration::from_millis(250);
/// The bulletin's title when the operator gives none.
const DEFAULT_TITLE: &str = "Phát thanh khẩn cấp trực tiếp";

/// What an operator asks for.
#[derive(Clone, Debug)]
pub struct LiveRequest {
    /// Default [`DEFAULT_TITLE`].
    pub title: Option<String>,
    pub targets: Vec<AreaCode>,
    /// What LED boards show while the operator speaks.
    pub text: String,
    /// The language spoken; default `vi`.
    pub language: Option<Language>,
    /// Default [`DEFAULT_MAX_SECS`], at most [`MAX_LIVE_SECS`].
    pub max_secs: Option<u32>,
}

/// A request the policy allowed and that is valid; nothing airs yet.
pub struct Prepared {
    bulletin: Bulletin,
    max_secs: u32,
}

impl Prepared {
    /// The emergency bulletin that [`start`] will queue.
    pub fn bulletin(&self) -> &Bulletin {
        &self.bulletin
    }
}

/// Validates `request` and asks the policy whether `caller` may trigger it
/// (an emergency for areas within the caller's own).
pub fn prepare(
    state: &ApiContext,
    caller: &Caller,
    request: LiveRequest,
) -> Result<Prepared, ApiError> {
    if request.targets.is_empty() {
        return Err(ApiError::invalid(
            "targets",
            "name at least one target area",
        ));
    }
    for (i, target) in request.targets.iter().enumerate() {
        require_area(state, target, &format!("targets[{i}]"))?;
    }
    let text = request.text.trim();
    if text.is_empty() {
        return Err(ApiError::invalid(
            "text",
            "give the text LED boards show while you speak",
        ));
    }
    let max_secs = request.max_secs.unwrap_or(DEFAULT_MAX_SECS);
    if max_secs == 0 || max_secs > MAX_LIVE_SECS {
        return Err(ApiError::invalid(
            "max_secs",
            format!("give 1 to {MAX_LIVE_SECS} seconds"),
        ));
    }
    let language = match request.language {
        Some(language) => language,
        None => Language::parse("vi")?,
    };
    let issuer = caller.principal.area.clone();
    let now = state.now();
    let bulletin = Bulletin {
        id: BulletinId::parse(&format!("live-{}", state.store.next_id()?))?,
        title: request
            .title
            .as_deref()
            .map(str::trim)
            .filter(|t| !t.is_empty())
            .unwrap_or(DEFAULT_TITLE)
            .to_owned(),
        category: Category::DisasterEmergency,
        level: state.tree.require(&issuer)?.level,
        issuer,
        class: PriorityClass::Emergency,
        targets: request.targets,
        // Valid long enough for a device joining just before the end to be
        // given a whole slot: the relay ends the stream, not the validity.
        validity: Validity {
            not_before: now,
            expires: now + TimeDelta::seconds(2 * i64::from(max_secs)),
        },
        recurrence: None,
        variants: vec![Variant {
            language,
            audio: Some(AudioPart {
                source: AudioSource::Live,
                secs: max_secs,
                media: None,
            }),
            visual: Some(VisualPart {
                kind: VisualKind::Text,
                secs: max_secs,
                text: Some(text.to_owned()),
                media: None,
            }),
        }],
        // Review would hold an emergency back; operators answer for it.
        sensitive: false,
        state: BulletinState::Approved,
        devices: None,
        corrects: None,
    };
    let facts = BulletinFacts {
        author: Some(caller.principal.subject.clone()),
        issuer: bulletin.issuer.clone(),
        targets: bulletin.targets.clone(),
        class: bulletin.class,
        state: bulletin.state,
    };
    state.authorize(caller, Action::TriggerEmergency, Target::Bulletin(&facts))?;
    bulletin.validate(&state.tree)?;
    Ok(Prepared { bulletin, max_secs })
}

/// Queues the prepared emergency as `caller` (audited as an emergency
/// triggered by them): every targeted device preempts what it plays and
/// waits for the stream. The session that relays it.
pub async fn start(
    state: ApiState,
    caller: Caller,
    prepared: Prepared,
) -> Result<LiveSession, ApiError> {
    let Prepared { bulletin, max_secs } = prepared;
    let communes = loudspeaker_communes(&state, &bulletin.targets).await?;
    let started_at = state.now();
    let view = publish_new(&state, &caller, bulletin, Action::TriggerEmergency, |_| {}).await?;
    tracing::info!(bulletin = %view.bulletin.id, actor = %caller.principal.subject,
        communes = communes.len(), max_secs, "live emergency started");
    let deadline = Instant::now()
        + state
            .clock
            .real_until(started_at + TimeDelta::seconds(i64::from(max_secs)));
    Ok(LiveSession {
        chunker: Chunker::new(view.bulletin.id.as_str()),
        state,
        caller,
        view,
        communes,
        deadline,
    })
}

/// The targeted communes that have loudspeakers: the only topics chunks go
/// to (a topic nobody listens on would cost rumqttd a scan of every
/// subscription the first time).
async fn loudspeaker_communes(
    state: &ApiContext,
    targets: &[AreaCode],
) -> Result<Vec<AreaCode>, ApiError> {
    let targeted: BTreeSet<&AreaCode> = targets
        .iter()
        .flat_map(|t| state.tree.communes_under(t))
        .collect();
    let with_speakers: BTreeSet<AreaCode> = state
        .hub
        .devices()
        .await?
        .into_iter()
        .filter(|d| d.kind == DeviceKind::Loudspeaker && targeted.contains(&d.commune))
        .map(|d| d.commune)
        .collect();
    Ok(with_speakers.into_iter().collect())
}

/// What the operator's side of a stream says.
#[derive(Debug)]
pub enum Input {
    /// One Opus packet: 20 ms, mono, 48 kHz.
    Packet(Vec<u8>),
    /// The operator ends the stream.
    End,
    /// The operator's connection broke: the stream waits for them to
    /// reattach (`super::attach`) as it waits for any silence to end.
    Lost,
}

/// What the relay tells the operator while the stream runs.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Notice {
    /// Packet `packet` (counted from 0) was not sent to devices.
    Refused { packet: u64, reason: String },
}

/// Why a stream ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum EndReason {
    /// The operator ended it.
    Closed,
    /// It reached its maximum length.
    MaxDuration,
    /// No packet came for [`SILENCE_LIMIT`].
    Silent,
    /// The operator's connection broke and no packet came for
    /// [`SILENCE_LIMIT`] (they did not reattach in time).
    ConnectionLost,
    /// Someone stopped the emergency (`POST /emergencies/{id}/stop`):
    /// devices got their stop as for any emergency.
    Stopped,
}

impl EndReason {
    /// The reason recorded in the audit log when the relay cancels.
    fn audit_reason(self) -> String {
        let why = match self {
            Self::Closed => "the operator ended it".to_owned(),
            Self::MaxDuration => "it reached its maximum length".to_owned(),
            Self::Silent => format!(
                "no audio came for {} s (the operator's connection was lost)",
                SILENCE_LIMIT.as_secs()
            ),
            Self::ConnectionLost => format!(
                "the operator's connection broke and they did not come back within {} s",
                SILENCE_LIMIT.as_secs()
            ),
            Self::Stopped => "it was stopped".to_owned(),
        };
        format!("live stream ended: {why}")
    }
}

/// How a stream went.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Ended {
    pub bulletin: String,
    pub reason: EndReason,
    /// Packets received from the operator.
    pub packets: u64,
    /// Packets refused (not valid mono 20 ms Opus).
    pub refused: u64,
    /// Chunks published (each once per commune with loudspeakers).
    pub chunks: u64,
}

/// A live emergency under way.
pub struct LiveSession {
    state: ApiState,
    caller: Caller,
    view: BulletinView,
    communes: Vec<AreaCode>,
    chunker: Chunker,
    /// When the stream reaches its maximum length (real time).
    deadline: Instant,
}

impl LiveSession {
    /// The emergency as queued.
    pub fn view(&self) -> &BulletinView {
        &self.view
    }

    /// Relays `input` until the stream ends, telling the operator through
    /// `notices` about packets it refused. The stream's end is carried out
    /// before this returns (see the module docs).
    pub async fn relay(
        mut self,
        mut input: impl Stream<Item = Input> + Unpin,
        notices: &mpsc::UnboundedSender<Notice>,
    ) -> Result<Ended, ApiError> {
        let (mut received, mut refused) = (0u64, 0u64);
        let mut last_packet = Instant::now();
        let mut connection_lost = false;
        let mut flush_at = None;
        let mut stop_poll = tokio::time::interval(STOP_POLL);
        stop_poll.set_missed_tick_behavior(MissedTickBehavior::Delay);
        let reason = loop {
            let flush = flush_at.unwrap_or(self.deadline);
            tokio::select! {
                next = input.next() => match next {
                    Some(Input::Packet(packet)) => {
                        last_packet = Instant::now();
                        connection_lost = false;
                        received += 1;
                        if let Err(error) = packets::check(&packet) {
                            refused += 1;
                            let reason = error.to_string();
                            let _ = notices.send(Notice::Refused { packet: received - 1, reason });
                            continue;
                        }
                        flush_at.get_or_insert(last_packet + CHUNK_WAIT);
                        if let Some(chunk) = self.chunker.push(packet) {
                            flush_at = None;
                            self.publish(chunk).await?;
                        }
                    }
                    Some(Input::End) | None => break EndReason::Closed,
                    Some(Input::Lost) => {
                        tracing::info!(bulletin = %self.view.bulletin.id,
                            "the operator's connection broke; the stream waits for them");
                        connection_lost = true;
                    }
                },
                () = sleep_until(self.deadline) => break EndReason::MaxDuration,
                () = sleep_until(last_packet + SILENCE_LIMIT) => break if connection_lost {
                    EndReason::ConnectionLost
                } else {
                    EndReason::Silent
                },
                () = sleep_until(flush), if flush_at.is_some() => {
                    flush_at = None;
                    if let Some(chunk) = self.chunker.flush() {
                        self.publish(chunk).await?;
                    }
                }
                _ = stop_poll.tick() => {
                    if self.was_stopped().await? {
                        break EndReason::Stopped;
                    }
                }
            }
        };
        self.end(reason).await?;
        Ok(Ended {
            bulletin: self.view.bulletin.id.to_string(),
            reason,
            packets: received,
            refused,
            chunks: self.chunker.chunks(),
        })
    }

    async fn publish(&self, chunk: hub_proto::live::LiveChunk) -> Result<(), ApiError> {
        self.state
            .hub
            .publish_live(chunk, self.communes.clone())
            .await?;
        Ok(())
    }

    /// Whether the emergency can no longer air (stopped, or expired).
    async fn was_stopped(&self) -> Result<bool, ApiError> {
        let bulletin = self.state.hub.bulletin(&self.view.bulletin.id).await?;
        Ok(bulletin.is_none_or(|b| !b.state.is_schedulable()))
    }

    /// Devices finish with the last chunk; the bulletin is then cancelled
    /// so nobody airs it later. A stopped emergency was cancelled already,
    /// and its devices were told to stop.
    async fn end(&mut self, reason: EndReason) -> Result<(), ApiError> {
        let id = self.view.bulletin.id.to_string();
        tracing::info!(bulletin = %id, ?reason, chunks = self.chunker.chunks(), "live emergency ended");
        if reason == EndReason::Stopped {
            return Ok(());
        }
        let last = self.chunker.finish();
        self.publish(last).await?;
        let ended = transition(
            &self.state,
            &self.caller,
            &id,
            Action::StopEmergency,
            Some(Reason {
                reason: reason.audit_reason(),
            }),
            Event::Cancel,
        )
        .await;
        // Stopped by someone else meanwhile: it is over all the same.
        if let Err(error) = ended {
            if !self.was_stopped().await? {
                return Err(error);
            }
        }
        Ok(())
    }
}
