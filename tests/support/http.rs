//! A plain HTTP/1.1 client (hyper) for the media server and API tests:
//! one connection per request, so a test can also drop one mid-download.

use std::net::SocketAddr;

use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine;
use http_body_util::{BodyExt, Full};
use hyper::body::{Bytes, Incoming};
use hyper::client::conn::http1;
use hyper::header::{HeaderMap, HeaderName, AUTHORIZATION, HOST};
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;
use tokio::task::JoinHandle;

/// A whole response.
#[derive(Debug)]
pub struct Fetched {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Vec<u8>,
}

impl Fetched {
    /// The header's value as text ("" if absent).
    pub fn header(&self, name: HeaderName) -> &str {
        self.headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
    }
}

/// `Authorization: Basic …` for `user` and `password`.
pub fn basic(user: &str, password: &str) -> (HeaderName, String) {
    (
        AUTHORIZATION,
        format!("Basic {}", BASE64.encode(format!("{user}:{password}"))),
    )
}

/// A response whose body is still arriving, on a connection of its own.
pub struct Streaming {
    pub response: Response<Incoming>,
    connection: JoinHandle<()>,
}

impl Streaming {
    /// Reads body frames until at least `at_least` bytes arrived (or the body
    /// ended), then drops the connection, as a 4G link that goes down does.
    pub async fn read_then_drop(mut self, at_least: usize) -> Vec<u8> {
        let mut received = Vec::new();
        while received.len() < at_least {
            match self.response.body_mut().frame().await {
                Some(Ok(frame)) => {
                    if let Ok(data) = frame.into_data() {
                        received.extend_from_slice(&data);
                    }
                }
                _ => break,
            }
        }
        self.connection.abort();
        received
    }
}

/// Sends one request on a new connection and returns as soon as the
/// response head arrived.
pub async fn start(
    addr: SocketAddr,
    method: Method,
    path: &str,
    headers: &[(HeaderName, String)],
) -> Streaming {
    start_with_body(addr, method, path, headers, Vec::new()).await
}

async fn start_with_body(
    addr: SocketAddr,
    method: Method,
    path: &str,
    headers: &[(HeaderName, String)],
    body: Vec<u8>,
) -> Streaming {
    let stream = TcpStream::connect(addr).await.expect("the server accepts");
    let (mut sender, connection) = http1::handshake(TokioIo::new(stream))
        .await
        .expect("an HTTP/1.1 handshake");
    let connection = tokio::spawn(async move {
        // The server may close first (after an error status); nothing to do.
        let _ = connection.await;
    });
    let mut request = Request::builder()
        .method(method)
        .uri(path)
        .header(HOST, addr.to_string());
    for (name, value) in headers {
        request = request.header(name, value);
    }
    let request = request
        .body(Full::new(Bytes::from(body)))
        .expect("a valid request");
    let response = sender
        .send_request(request)
        .await
        .expect("the server answers");
    Streaming {
        response,
        connection,
    }
}

/// Sends one request without a body and reads the whole response.
pub async fn fetch(
    addr: SocketAddr,
    method: Method,
    path: &str,
    headers: &[(HeaderName, String)],
) -> Fetched {
    send(addr, method, path, headers, Vec::new()).await
}

/// Sends one request with `body` and reads the whole response.
pub async fn send(
    addr: SocketAddr,
    method: Method,
    path: &str,
    headers: &[(HeaderName, String)],
    body: Vec<u8>,
) -> Fetched {
    let Streaming {
        response,
        connection,
    } = start_with_body(addr, method, path, headers, body).await;
    let (parts, body) = response.into_parts();
    let body = body
        .collect()
        .await
        .expect("the body arrives whole")
        .to_bytes()
        .to_vec();
    connection.abort();
    Fetched {
        status: parts.status,
        headers: parts.headers,
        body,
    }
}
