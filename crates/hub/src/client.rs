//! The command line's client of the people's API: one JSON request per
//! call over plain HTTP/1.1 (the API sits on loopback or behind a TLS proxy
//! that also serves plain HTTP inside).

use anyhow::Context;
use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use hyper::client::conn::http1;
use hyper::header::{AUTHORIZATION, CONTENT_TYPE, HOST};
use hyper::{Method, Request};
use hyper_util::rt::TokioIo;
use serde_json::Value;

/// Where the API is and who calls it.
#[derive(Clone, Debug, clap::Args)]
pub struct ApiArgs {
    /// The API's address, http://host:port.
    #[arg(long, env = "HUB_API_URL", default_value = "http://127.0.0.1:8081")]
    pub api: String,
    /// A session token (from logging in) or an API token.
    #[arg(long, env = "HUB_TOKEN", hide_env_values = true)]
    pub token: String,
}

/// What a request carries.
pub enum Payload {
    None,
    Json(Value),
    /// Raw bytes with their content type.
    Bytes(Vec<u8>, &'static str),
}

impl ApiArgs {
    /// Sends one request; the answer's JSON, or the API's error as the error.
    pub async fn call(
        &self,
        method: Method,
        path: &str,
        payload: Payload,
    ) -> anyhow::Result<Value> {
        let (status, body) = self.send(method, path, payload).await?;
        let bytes = body.collect().await?.to_bytes();
        let value: Value = if bytes.is_empty() {
            Value::Null
        } else {
            serde_json::from_slice(&bytes).context("the API answered something other than JSON")?
        };
        if !status.is_success() {
            return Err(api_error(status, &value));
        }
        Ok(value)
    }

    /// Sends one request whose answer is a file, and streams it into `to`
    /// (through a temporary file beside it, so `to` is whole or absent).
    /// Returns the bytes written.
    pub async fn download(
        &self,
        method: Method,
        path: &str,
        to: &std::path::Path,
    ) -> anyhow::Result<u64> {
        use tokio::io::AsyncWriteExt;

        let (status, mut body) = self.send(method, path, Payload::None).await?;
        if !status.is_success() {
            let bytes = body.collect().await?.to_bytes();
            let value = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
            return Err(api_error(status, &value));
        }
        let partial = to.with_extension("partial");
        let mut file = tokio::fs::File::create(&partial)
            .await
            .with_context(|| format!("creating {}", partial.display()))?;
        let mut written = 0;
        while let Some(frame) = body.frame().await {
            if let Ok(data) = frame.context("the API broke off the download")?.into_data() {
                file.write_all(&data).await?;
                written += data.len() as u64;
            }
        }
        file.sync_all().await?;
        tokio::fs::rename(&partial, to)
            .await
            .with_context(|| format!("writing {}", to.display()))?;
        Ok(written)
    }

    /// Sends a GET whose answer is text (a CSV file, an HTML page), as it came.
    pub async fn text(&self, path: &str) -> anyhow::Result<String> {
        let (status, body) = self.send(Method::GET, path, Payload::None).await?;
        let bytes = body.collect().await?.to_bytes();
        if !status.is_success() {
            let value = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
            return Err(api_error(status, &value));
        }
        String::from_utf8(bytes.to_vec()).context("the API answered text that is not UTF-8")
    }

    async fn send(
        &self,
        method: Method,
        path: &str,
        payload: Payload,
    ) -> anyhow::Result<(hyper::StatusCode, hyper::body::Incoming)> {
        let authority = self
            .api
            .strip_prefix("http://")
            .context("--api must start with http:// (put TLS in a proxy in front of the API)")?
            .trim_end_matches('/');
        let stream = tokio::net::TcpStream::connect(authority)
            .await
            .with_context(|| format!("connecting to the API at {}", self.api))?;
        let (mut sender, connection) = http1::handshake(TokioIo::new(stream)).await?;
        // The connection task ends by itself once the answer has been read.
        tokio::spawn(connection);
        let mut request = Request::builder()
            .method(method)
            .uri(path)
            .header(HOST, authority)
            .header(AUTHORIZATION, format!("Bearer {}", self.token));
        let body = match payload {
            Payload::None => Vec::new(),
            Payload::Json(value) => {
                request = request.header(CONTENT_TYPE, "application/json");
                serde_json::to_vec(&value)?
            }
            Payload::Bytes(bytes, content_type) => {
                request = request.header(CONTENT_TYPE, content_type);
                bytes
            }
        };
        let response = sender
            .send_request(request.body(Full::new(Bytes::from(body)))?)
            .await
            .context("the API did not answer")?;
        let status = response.status();
        Ok((status, response.into_body()))
    }
}

/// The API's error answer as an error: status, message and field.
fn api_error(status: hyper::StatusCode, value: &Value) -> anyhow::Error {
    let message = value["message"].as_str().unwrap_or("no message");
    match value["field"].as_str() {
        Some(field) => anyhow::anyhow!("{status}: {message} (field {field})"),
        None => anyhow::anyhow!("{status}: {message}"),
    }
}
