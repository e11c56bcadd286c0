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

use axum::extract::ws::{Message, WebSocket};
use futures_util::{SinkExt, StreamExt};
use serde_json::json;
use tokio::sync::mpsc;

use super::session::{start, Ended, Input, Prepared};
use crate::api::auth::Caller;
use crate::api::error::ApiError;
use crate::api::state::ApiState;

/// Runs the prepared live emergency of `caller` over `socket` until its
/// stream ends; how it ended, or why it could not start or went wrong.
pub async fn serve(
    state: ApiState,
    caller: Caller,
    prepared: Prepared,
    socket: WebSocket,
) -> Result<Ended, ApiError> {
    let (mut sink, stream) = socket.split();
    let session = match start(state, caller, prepared).await {
        Ok(session) => session,
        Err(error) => {
            let body = json!({"type": "error", "code": error.body.code,
                "message": error.body.message, "field": error.body.field});
            let _ = sink.send(Message::Text(body.to_string())).await;
            let _ = sink.close().await;
            return Err(error);
        }
    };
    let started = json!({"type": "started", "bulletin": session.view()});
    if sink.send(Message::Text(started.to_string())).await.is_err() {
        tracing::info!("the operator left before the stream began");
    }
    let (notices, mut notices_rx) = mpsc::unbounded_channel();
    // Notices go out while packets come in.
    let writer = tokio::spawn(async move {
        while let Some(notice) = notices_rx.recv().await {
            let text = serde_json::to_string(&notice).unwrap_or_default();
            if sink.send(Message::Text(text)).await.is_err() {
                break;
            }
        }
        sink
    });
    let input = stream.filter_map(|message| async move {
        match message {
            Ok(Message::Binary(packet)) => Some(Input::Packet(packet)),
            Ok(Message::Text(text)) if is_end(&text) => Some(Input::End),
            Ok(Message::Close(_)) => Some(Input::End),
            // Pings are answered by axum; other text is not for us.
            Ok(_) => None,
            Err(_) => Some(Input::Lost),
        }
    });
    let ended = session.relay(Box::pin(input), &notices).await;
    drop(notices);
    let mut sink = writer.await.map_err(|error| ApiError::internal(&error))?;
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

/// Whether a text message is the operator's `{"type":"end"}`.
fn is_end(text: &str) -> bool {
    serde_json::from_str::<serde_json::Value>(text).is_ok_and(|v| v["type"] == "end")
}
