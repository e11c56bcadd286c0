//! Operators coming back to their live stream after their connection broke.
//!
//! A phone on 4G may lose its connection for a second. A broken socket
//! therefore does not end the stream at once: the stream ends only when no
//! packet came for [`SILENCE_LIMIT`](super::session::SILENCE_LIMIT), and
//! meanwhile the caller who started it may open a new socket to it
//! ([`reattach`], `GET /api/v1/emergencies/live/{id}`), which takes the
//! place of the old one. [`LiveStreams`] knows which streams are under way
//! in this hub and who started each; only that caller may reattach.

use std::collections::HashMap;
use std::sync::{Mutex, PoisonError};

use axum::extract::ws::{Message, WebSocket};
use hub_access::{Action, Subject, Target};
use serde_json::json;
use tokio::sync::mpsc;

use crate::api::auth::Caller;
use crate::api::error::ApiError;
use crate::api::handlers::bulletins::{facts, load};
use crate::api::state::{ApiContext, ApiState};

/// The live streams under way in this hub, by stream (bulletin) id.
#[derive(Default)]
pub struct LiveStreams {
    open: Mutex<HashMap<String, Attachable>>,
}

/// Where a stream takes a reattaching operator's socket.
struct Attachable {
    owner: Subject,
    sockets: mpsc::UnboundedSender<WebSocket>,
}

impl LiveStreams {
    /// Opens stream `id` of `owner` to reattaching; the sockets of those
    /// who reattach arrive on the receiver, until the [`Registration`] is
    /// dropped.
    pub fn open(
        state: &ApiState,
        id: &str,
        owner: Subject,
    ) -> (mpsc::UnboundedReceiver<WebSocket>, Registration) {
        let (sockets, arrivals) = mpsc::unbounded_channel();
        state
            .live
            .lock()
            .insert(id.to_owned(), Attachable { owner, sockets });
        let registration = Registration {
            state: state.clone(),
            id: id.to_owned(),
        };
        (arrivals, registration)
    }

    /// Where `caller` may hand a new socket to stream `id`: 404 when no such
    /// stream is under way, 403 when someone else started it.
    fn handover(&self, id: &str, caller: &Subject) -> Result<Handover, ApiError> {
        let open = self.lock();
        let stream = open
            .get(id)
            .ok_or_else(|| ApiError::not_found(format!("no live stream {id} is under way")))?;
        if stream.owner != *caller {
            return Err(ApiError::new(
                axum::http::StatusCode::FORBIDDEN,
                "forbidden",
                format!("only the operator who started live stream {id} may reattach to it"),
            ));
        }
        Ok(Handover {
            sockets: stream.sockets.clone(),
        })
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Attachable>> {
        self.open.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// A stream open to reattaching; closed again when dropped.
pub struct Registration {
    state: ApiState,
    id: String,
}

impl Drop for Registration {
    fn drop(&mut self) {
        self.state.live.lock().remove(&self.id);
    }
}

/// A reattaching caller's way to their stream.
pub struct Handover {
    sockets: mpsc::UnboundedSender<WebSocket>,
}

impl Handover {
    /// Gives the stream `socket`; a stream that ended meanwhile says so and
    /// closes it.
    pub async fn hand_over(self, socket: WebSocket) {
        if let Err(mpsc::error::SendError(mut socket)) = self.sockets.send(socket) {
            let gone = json!({"type": "error", "code": "not_found",
                "message": "the live stream ended before you reattached"});
            let _ = socket.send(Message::Text(gone.to_string())).await;
            let _ = socket.close().await;
        }
    }
}

/// Checks that `caller` may carry on live stream `id` (the policy, as for
/// starting it; then that it is under way and theirs), before the
/// connection is upgraded, so a refusal is an ordinary 401, 403 or 404.
pub async fn reattach(state: &ApiContext, caller: &Caller, id: &str) -> Result<Handover, ApiError> {
    let bulletin = load(state, id).await?;
    state.authorize(
        caller,
        Action::TriggerEmergency,
        Target::Bulletin(&facts(state, &bulletin)?),
    )?;
    let handover = state
        .live
        .handover(bulletin.id.as_str(), &caller.principal.subject)?;
    tracing::info!(bulletin = %bulletin.id, actor = %caller.principal.subject,
        client = ?caller.client, "operator reattaching to a live stream");
    Ok(handover)
}
