//! The command line's side of a live emergency: opens
//! `GET /api/v1/emergencies/live` as a WebSocket with the caller's bearer
//! token and sends Opus packets at the pace they play, as a microphone
//! would (`hub emergency live --file`; the end-to-end tests); it can reopen
//! a stream after a broken connection ([`LiveConnection`], [`reattach_path`]).

use std::time::Duration;

use anyhow::Context;
use futures_util::{SinkExt, StreamExt};
use serde_json::Value;
use tokio::time::MissedTickBehavior;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::header::AUTHORIZATION;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::WebSocketStream;

use crate::client::ApiArgs;

/// What the operator asks for (see `LiveRequest`).
#[derive(Clone, Debug, Default)]
pub struct LiveStart {
    pub targets: Vec<String>,
    pub text: String,
    pub title: Option<String>,
    pub language: Option<String>,
    pub max_secs: Option<u32>,
}

impl LiveStart {
    /// The endpoint's path and query string.
    pub fn path(&self) -> String {
        let mut query = form_urlencoded::Serializer::new(String::new());
        query.append_pair("targets", &self.targets.join(","));
        query.append_pair("text", &self.text);
        if let Some(title) = &self.title {
            query.append_pair("title", title);
        }
        if let Some(language) = &self.language {
            query.append_pair("language", language);
        }
        if let Some(max_secs) = self.max_secs {
            query.append_pair("max_secs", &max_secs.to_string());
        }
        format!("/api/v1/emergencies/live?{}", query.finish())
    }
}

/// Starts a live emergency and sends `packets`, one every `pace`; calls
/// `on_started` with the hub's `started` message once devices were told.
/// Returns the hub's `ended` message: after the last packet (the client
/// ends the stream), or earlier if the hub ended it (stopped, maximum
/// length). A request the API refuses is an error with its status and
/// message.
pub async fn stream_packets(
    api: &ApiArgs,
    start: &LiveStart,
    packets: &[Vec<u8>],
    pace: Duration,
    on_started: impl FnOnce(&Value),
) -> anyhow::Result<Value> {
    let mut connection = LiveConnection::open(api, &start.path()).await?;
    let first = connection.next_json().await?;
    match first["type"].as_str() {
        Some("started") => on_started(&first),
        _ => anyhow::bail!("the hub did not start the stream: {first}"),
    }
    let mut ticks = tokio::time::interval(pace);
    ticks.set_missed_tick_behavior(MissedTickBehavior::Burst);
    let mut sent = packets.iter();
    loop {
        tokio::select! {
            _ = ticks.tick() => {}
            // The hub may end the stream first; refusals are printed.
            message = connection.next_json() => {
                let message = message?;
                match message["type"].as_str() {
                    Some("ended" | "error") => return Ok(message),
                    _ => eprintln!("{message}"),
                }
                continue;
            }
        }
        match sent.next() {
            Some(packet) => connection.send_packet(packet).await?,
            None => break,
        }
    }
    connection.finish().await
}

/// The path that reattaches to live stream `id` after a broken connection.
pub fn reattach_path(id: &str) -> String {
    format!("/api/v1/emergencies/live/{id}")
}

/// One WebSocket to the API's live endpoints, as the operator's side.
pub struct LiveConnection {
    socket: WebSocketStream<tokio::net::TcpStream>,
}

impl LiveConnection {
    /// Opens `path` (a [`LiveStart::path`] or a [`reattach_path`]) with the
    /// caller's bearer token. A request the API refuses is an error with
    /// its status and message.
    pub async fn open(api: &ApiArgs, path: &str) -> anyhow::Result<Self> {
        let authority = api
            .api
            .strip_prefix("http://")
            .context("--api must start with http:// (put TLS in a proxy in front of the API)")?
            .trim_end_matches('/');
        let mut request = format!("ws://{authority}{path}").into_client_request()?;
        request
            .headers_mut()
            .insert(AUTHORIZATION, format!("Bearer {}", api.token).parse()?);
        let tcp = tokio::net::TcpStream::connect(authority)
            .await
            .with_context(|| format!("connecting to the API at {}", api.api))?;
        match tokio_tungstenite::client_async(request, tcp).await {
            Ok((socket, _)) => Ok(Self { socket }),
            Err(tokio_tungstenite::tungstenite::Error::Http(response)) => {
                let status = response.status();
                let body: Value = response
                    .body()
                    .as_deref()
                    .and_then(|bytes| serde_json::from_slice(bytes).ok())
                    .unwrap_or(Value::Null);
                let message = body["message"].as_str().unwrap_or("no message");
                anyhow::bail!("{status}: {message}");
            }
            Err(error) => Err(error).context("opening the live stream"),
        }
    }

    /// Sends one Opus packet.
    pub async fn send_packet(&mut self, packet: &[u8]) -> anyhow::Result<()> {
        self.socket.send(Message::Binary(packet.to_vec())).await?;
        Ok(())
    }

    /// Ends the stream; the hub's last message (`ended`, or `error`).
    pub async fn finish(mut self) -> anyhow::Result<Value> {
        self.socket
            .send(Message::Text(r#"{"type":"end"}"#.into()))
            .await?;
        loop {
            let message = self.next_json().await?;
            match message["type"].as_str() {
                Some("ended" | "error") => return Ok(message),
                _ => eprintln!("{message}"),
            }
        }
    }

    /// The next text message, as JSON.
    pub async fn next_json(&mut self) -> anyhow::Result<Value> {
        loop {
            match self.socket.next().await {
                Some(Ok(Message::Text(text))) => {
                    return serde_json::from_str(&text)
                        .context("the hub sent something other than JSON")
                }
                Some(Ok(Message::Close(_))) | None => {
                    anyhow::bail!("the hub closed the stream without saying why")
                }
                Some(Ok(_)) => {}
                Some(Err(error)) => return Err(error).context("the live stream broke"),
            }
        }
    }
}
