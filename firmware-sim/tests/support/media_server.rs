//! A stand-in for the hub's media server, as `hub_proto::media` specifies
//! it: `GET /media/v1/{sha256}`, HTTP Basic (device id, broker password), a
//! strong ETag (the quoted hash), single `Range` requests honoured unless
//! `If-Range` names another file. On request it holds answers back, cuts one
//! answer after some bytes, holds back the answer for a file's later bytes,
//! serves corrupted bytes once, ignores ranges, or sends no file byte at all
//! until the test opens its gate; it records every request, how many files
//! it served at once and how many file bytes it sent.

use std::collections::HashMap;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine;
use http_body_util::channel::Channel;
use hub_proto::media::{etag, media_path, parse_media_path};
use hub_proto::MediaRef;
use hyper::body::{Bytes, Incoming};
use hyper::header::{
    ACCEPT_RANGES, AUTHORIZATION, CONTENT_LENGTH, CONTENT_RANGE, ETAG, IF_RANGE, RANGE,
    WWW_AUTHENTICATE,
};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use sha2::{Digest, Sha256};
use tokio::net::TcpListener;

type Body = Channel<Bytes, std::io::Error>;

/// One request as the server saw it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Seen {
    /// The Basic user name, if any.
    pub user: Option<String>,
    pub range: Option<String>,
    pub if_range: Option<String>,
    pub status: u16,
}

/// The running server; it stops with the test's runtime.
pub struct MediaServer {
    addr: SocketAddr,
    state: Arc<State>,
    closed: Mutex<Option<tokio::sync::OwnedRwLockWriteGuard<()>>>,
}

#[derive(Default)]
struct State {
    users: HashMap<String, String>,
    files: Mutex<HashMap<String, Vec<u8>>>,
    seen: Mutex<Vec<Seen>>,
    hold: Mutex<Duration>,
    cut_after: Mutex<Option<usize>>,
    hold_from: Mutex<Option<(usize, Duration)>>,
    corrupt_at: Mutex<Option<usize>>,
    corrupt_once: AtomicBool,
    ignore_ranges: AtomicBool,
    serving: AtomicUsize,
    most_at_once: AtomicUsize,
    /// Answers send their body once they can read it: closed while the test
    /// holds it for writing.
    gate: Arc<tokio::sync::RwLock<()>>,
    /// File bytes written into answers.
    sent: AtomicUsize,
}

impl MediaServer {
    /// Starts on a loopback port, accepting these device ids and passwords.
    pub async fn start(users: &[(String, String)]) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let state = Arc::new(State {
            users: users.iter().cloned().collect(),
            ..State::default()
        });
        let shared = state.clone();
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let state = shared.clone();
                tokio::spawn(async move {
                    let service = service_fn(move |request| answer(state.clone(), request));
                    // A cut answer ends its connection with an error: the point of it.
                    let _ = http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                });
            }
        });
        Self {
            addr,
            state,
            closed: Mutex::new(None),
        }
    }

    /// Serves `bytes`; returns the reference a plan entry carries.
    pub fn add(&self, bytes: Vec<u8>) -> MediaRef {
        let sha256 = sha256_hex(&bytes);
        let file = MediaRef {
            sha256: sha256.clone(),
            size: bytes.len() as u64,
            url: format!("http://{}{}", self.addr, media_path(&sha256)),
            chunks: Default::default(),
            head: None,
        };
        self.state.files.lock().unwrap().insert(sha256, bytes);
        file
    }

    /// Every file's answer waits this long before its first byte.
    pub fn hold_answers(&self, hold: Duration) {
        *self.state.hold.lock().unwrap() = hold;
    }

    /// No answer sends a file byte until [`Self::open_gate`].
    pub fn close_gate(&self) {
        let guard = self.state.gate.clone().try_write_owned().unwrap();
        *self.closed.lock().unwrap() = Some(guard);
    }

    /// Answers held by [`Self::close_gate`] go on.
    pub fn open_gate(&self) {
        self.closed.lock().unwrap().take();
    }

    /// File bytes sent so far, over every answer.
    pub fn bytes_sent(&self) -> usize {
        self.state.sent.load(Ordering::SeqCst)
    }

    /// The next file answer breaks its connection after `bytes` body bytes.
    pub fn cut_next_after(&self, bytes: usize) {
        *self.state.cut_after.lock().unwrap() = Some(bytes);
    }

    /// The next answer for a range starting at or after byte `offset` waits
    /// `pause` before its first byte: a file's rest arriving slowly.
    pub fn hold_next_from(&self, offset: usize, pause: Duration) {
        *self.state.hold_from.lock().unwrap() = Some((offset, pause));
    }

    /// Serves `bytes` and lists their parts as the hub does for an
    /// emergency; returns the reference a plan entry carries.
    pub fn add_in_parts(&self, bytes: Vec<u8>) -> MediaRef {
        let chunks = hub_proto::media::chunks_of(&bytes);
        MediaRef {
            chunks: chunks.into(),
            ..self.add(bytes)
        }
    }

    /// The next answer holding the file's byte `at` carries it wrong.
    pub fn corrupt_byte(&self, at: usize) {
        *self.state.corrupt_at.lock().unwrap() = Some(at);
    }

    /// The next file answer carries one wrong byte.
    pub fn corrupt_next(&self) {
        self.state.corrupt_once.store(true, Ordering::SeqCst);
    }

    /// Answers every request in full, as a server without range support.
    pub fn ignore_ranges(&self) {
        self.state.ignore_ranges.store(true, Ordering::SeqCst);
    }

    /// Every request so far, in arrival order.
    pub fn requests(&self) -> Vec<Seen> {
        self.state.seen.lock().unwrap().clone()
    }

    /// The most file answers that were being sent at the same time.
    pub fn most_at_once(&self) -> usize {
        self.state.most_at_once.load(Ordering::SeqCst)
    }
}

/// Lower-case hex SHA-256.
pub fn sha256_hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|byte| format!("{byte:02x}"))
        .collect()
}

async fn answer(
    state: Arc<State>,
    request: Request<Incoming>,
) -> Result<Response<Body>, Infallible> {
    let header = |name| {
        request
            .headers()
            .get(name)
            .and_then(|value| value.to_str().ok())
            .map(str::to_string)
    };
    let (range, if_range) = (header(RANGE), header(IF_RANGE));
    let credentials = header(AUTHORIZATION).and_then(|value| basic(&value));
    let authorized = credentials
        .as_ref()
        .is_some_and(|(user, password)| state.users.get(user) == Some(password));
    let file = parse_media_path(request.uri().path()).and_then(|hash| {
        let files = state.files.lock().unwrap();
        files
            .get(hash)
            .map(|bytes| (hash.to_string(), bytes.clone()))
    });
    let response = match file {
        _ if !authorized => Response::builder()
            .status(StatusCode::UNAUTHORIZED)
            .header(WWW_AUTHENTICATE, "Basic realm=\"media\"")
            .body(Channel::new(1).1),
        None => Response::builder()
            .status(StatusCode::NOT_FOUND)
            .body(Channel::new(1).1),
        Some((hash, bytes)) => Ok(serve(
            &state,
            &hash,
            bytes,
            range.as_deref(),
            if_range.as_deref(),
        )),
    }
    .unwrap();
    state.seen.lock().unwrap().push(Seen {
        user: credentials.map(|(user, _)| user),
        range,
        if_range,
        status: response.status().as_u16(),
    });
    Ok(response)
}

/// The answer for a file the device may have: whole, from a byte on, or 416.
fn serve(
    state: &Arc<State>,
    hash: &str,
    mut bytes: Vec<u8>,
    range: Option<&str>,
    if_range: Option<&str>,
) -> Response<Body> {
    let len = bytes.len();
    let tag = etag(hash);
    let honoured =
        !state.ignore_ranges.load(Ordering::SeqCst) && if_range.is_none_or(|wanted| wanted == tag);
    let asked = range.filter(|_| honoured).and_then(range_of);
    let start = asked.map(|(start, _)| start);
    let response = Response::builder()
        .header(ETAG, &tag)
        .header(ACCEPT_RANGES, "bytes");
    let (response, from) = match start {
        Some(start) if start >= len => {
            let refused = response
                .status(StatusCode::RANGE_NOT_SATISFIABLE)
                .header(CONTENT_RANGE, format!("bytes */{len}"))
                .body(Channel::new(1).1)
                .unwrap();
            return refused;
        }
        Some(start) => {
            // Up to the end asked for, else to the end of the file.
            let last = asked
                .and_then(|(_, last)| last)
                .map_or(len - 1, |last| last.min(len - 1));
            bytes.truncate(last + 1);
            (
                response
                    .status(StatusCode::PARTIAL_CONTENT)
                    .header(CONTENT_RANGE, format!("bytes {start}-{last}/{len}")),
                start,
            )
        }
        None => (response.status(StatusCode::OK), 0),
    };
    let end = bytes.len();
    if state.corrupt_once.swap(false, Ordering::SeqCst) && end > from {
        bytes[(from + end) / 2] ^= 0xff;
    }
    {
        let mut corrupt_at = state.corrupt_at.lock().unwrap();
        if let Some(at) = corrupt_at.filter(|at| (from..end).contains(at)) {
            bytes[at] ^= 0xff;
            *corrupt_at = None;
        }
    }
    let body = bytes.split_off(from);
    let sent = body.len();
    let (mut sender, channel) = Body::new(4);
    let cut = state.cut_after.lock().unwrap().take();
    let hold = *state.hold.lock().unwrap();
    let hold = {
        let mut hold_from = state.hold_from.lock().unwrap();
        match *hold_from {
            Some((offset, pause)) if from >= offset => {
                *hold_from = None;
                hold + pause
            }
            _ => hold,
        }
    };
    let serving = Serving::start(state.clone());
    let state = state.clone();
    tokio::spawn(async move {
        let _serving = serving;
        drop(state.gate.read().await);
        tokio::time::sleep(hold).await;
        match cut {
            Some(keep) if keep < body.len() => {
                state.sent.fetch_add(keep, Ordering::SeqCst);
                let _ = sender
                    .send_data(Bytes::copy_from_slice(&body[..keep]))
                    .await;
                // Let the bytes reach the socket before the connection breaks.
                tokio::time::sleep(Duration::from_millis(100)).await;
                sender.abort(std::io::Error::other("cut on purpose"));
            }
            _ => {
                for chunk in body.chunks(16 * 1024) {
                    state.sent.fetch_add(chunk.len(), Ordering::SeqCst);
                    if sender
                        .send_data(Bytes::copy_from_slice(chunk))
                        .await
                        .is_err()
                    {
                        return;
                    }
                }
            }
        }
    });
    response.header(CONTENT_LENGTH, sent).body(channel).unwrap()
}

/// `bytes=N-` or `bytes=N-M`: N, and M if given. Several ranges are not
/// served as ranges.
fn range_of(range: &str) -> Option<(usize, Option<usize>)> {
    let spec = range.strip_prefix("bytes=")?;
    if spec.contains(',') {
        return None;
    }
    let (start, last) = spec.split_once('-')?;
    let last = if last.is_empty() {
        None
    } else {
        Some(last.parse().ok()?)
    };
    Some((start.parse().ok()?, last))
}

/// User and password of a Basic authorization.
fn basic(value: &str) -> Option<(String, String)> {
    let decoded = BASE64.decode(value.strip_prefix("Basic ")?).ok()?;
    let text = String::from_utf8(decoded).ok()?;
    let (user, password) = text.split_once(':')?;
    Some((user.to_string(), password.to_string()))
}

/// Counts a file answer while it is being sent.
struct Serving(Arc<State>);

impl Serving {
    fn start(state: Arc<State>) -> Self {
        let now = state.serving.fetch_add(1, Ordering::SeqCst) + 1;
        state.most_at_once.fetch_max(now, Ordering::SeqCst);
        Self(state)
    }
}

impl Drop for Serving {
    fn drop(&mut self) {
        self.0.serving.fetch_sub(1, Ordering::SeqCst);
    }
}
