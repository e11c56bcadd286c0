//! A live emergency over a WebSocket, for any front end that authenticated
//! its caller (the API's bearer tokens, the console's session cookie).
//!
//! From the operator: each binary message is one Opus packet (48 kHz mono,
//! 20 ms); a text message `{"type":"end"}` or a close frame ends the stream.
//! To the operator, as text messages of JSON: `{"type":"started",
//! "bulletin":{…}}` once devices were told; `{"type":"refused","packet":N,
//! "reason":"…"}` for a packet not relayed; `{"type":"ended",…}` (an
//! [`Ended`]'s fields) when the stream is over, then a close frame; or
//! `{"type":"error",…}` (the API's error body) if it could not start.
//!
//! A connection that breaks (no close frame) does not end the stream: the
//! same caller may reattach ([`super::attach`]) until no packet has come for
//! [`SILENCE_LIMIT`](super::session::SILENCE_LIMIT). The new socket is told
//! `{"type":"reattached","bulletin":{…}}`, takes the old one's place for
//! everything after, and the old one is closed.

use std::time::Duration;

use axum::extract::ws::{Message, WebSocket};
use futures_util::stream::{SplitSink, SplitStream};
use futures_util::{SinkExt, StreamExt};
use serde_json::json;
use tokio::sync::mpsc;

use super::attach::LiveStreams;
use super::session::{start, Ended, Input, Notice, Prepared};
use crate::api::auth::Caller;
use crate::api::error::ApiError;
use crate::api::state::ApiState;

/// Packets waiting for the relay; it takes them far faster than they come.
const INPUT_BUFFER: usize = 256;
/// How long a replaced socket gets to take its close frame: it is presumed
/// dead, and a dead link must not hold up the one that replaced it.
const REPLACED_CLOSE_WAIT: Duration = Duration::from_secs(1);

/// Runs the prepared live emergency of `caller` over `socket` until its
/// stream ends; how it ended, or why it could not start or went wrong.
pub async fn serve(
    state: ApiState,
    caller: Caller,
    prepared: Prepared,
    socket: WebSocket,
) -> Result<Ended, ApiError> {
    let (mut sink, stream) = socket.split();
    let owner = caller.principal.subject.clone();
    let session = match start(state.clone(), caller, prepared).await {
        Ok(session) => session,
        Err(error) => {
            let body = json!({"type": "error", "code": error.body.code,
                "message": error.body.message, "field": error.body.field});
            let _ = sink.send(Message::Text(body.to_string())).await;
            let _ = sink.close().await;
            return Err(error);
        }
    };
    // Open to reattaching before the operator learns the stream's id.
    let (sockets, registration) =
        LiveStreams::open(&state, session.view().bulletin.id.as_str(), owner);
    let started = json!({"type": "started", "bulletin": session.view()});
    if sink.send(Message::Text(started.to_string())).await.is_err() {
        tracing::info!("the operator's connection broke before the stream began");
    }
    let reattached = json!({"type": "reattached", "bulletin": session.view()}).to_string();
    let (packets, mut input) = mpsc::channel(INPUT_BUFFER);
    let (notices, notices_rx) = mpsc::unbounded_channel();
    let operator = Operator {
        sink,
        source: Some(stream),
        packets,
    };
    let link = tokio::spawn(operator.run(sockets, notices_rx, reattached));
    let input = futures_util::stream::poll_fn(move |cx| input.poll_recv(cx));
    let ended = session.relay(Box::pin(input), &notices).await;
    drop(registration);
    drop(notices);
    let mut sink = link.await.map_err(|error| ApiError::internal(&error))?;
    let last = match &ended {
        Ok(ended) => {
            let mut value = json!(ended);
            value["type"] = "ended".into();
            value
        }
        Err(error) => json!({"type": "error", "code": error.body.code,
            "message": error.body.message}),
    };
    let _ = sink.send(Message::Text(last.to_string())).await;
    let _ = sink.close().await;
    ended
}

/// The operator's end of a stream: the socket they speak into now.
struct Operator {
    sink: SplitSink<WebSocket, Message>,
    /// `None` once the connection broke, until they reattach.
    source: Option<SplitStream<WebSocket>>,
    packets: mpsc::Sender<Input>,
}

impl Operator {
    /// Passes what the operator says to the relay and the relay's notices
    /// to the operator, moving to each socket that reattaches, until the
    /// relay drops `notices`; the socket to send the stream's end to.
    async fn run(
        mut self,
        mut sockets: mpsc::UnboundedReceiver<WebSocket>,
        mut notices: mpsc::UnboundedReceiver<Notice>,
        reattached: String,
    ) -> SplitSink<WebSocket, Message> {
        loop {
            tokio::select! {
                notice = notices.recv() => match notice {
                    Some(notice) => {
                        let text = serde_json::to_string(&notice).unwrap_or_default();
                        let _ = self.sink.send(Message::Text(text)).await;
                    }
                    None => return self.sink,
                },
                message = next(&mut self.source) => {
                    let said = match message {
                        Some(Ok(Message::Binary(packet))) => Input::Packet(packet),
                        Some(Ok(Message::Text(text))) if is_end(&text) => Input::End,
                        Some(Ok(Message::Close(_))) => Input::End,
                        // Pings are answered by axum; other text is not for us.
                        Some(Ok(_)) => continue,
                        // Gone without a close frame: the operator may be back.
                        Some(Err(_)) | None => {
                            self.source = None;
                            Input::Lost
                        }
                    };
                    // The relay ended meanwhile: `notices` closes next.
                    let _ = self.packets.send(said).await;
                }
                Some(socket) = sockets.recv() => {
                    let _ = tokio::time::timeout(REPLACED_CLOSE_WAIT, self.sink.close()).await;
                    let (sink, source) = socket.split();
                    self.sink = sink;
                    self.source = Some(source);
                    let _ = self.sink.send(Message::Text(reattached.clone())).await;
                }
            }
        }
    }
}

/// The next message of `source`; never, while there is none.
async fn next(source: &mut Option<SplitStream<WebSocket>>) -> Option<Result<Message, axum::Error>> {
    match source {
        Some(source) => source.next().await,
        None => std::future::pending().await,
    }
}

/// Whether a text message is the operator's `{"type":"end"}`.
fn is_end(text: &str) -> bool {
    serde_json::from_str::<serde_json::Value>(text).is_ok_and(|v| v["type"] == "end")
}
