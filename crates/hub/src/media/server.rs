//! The media server: `GET` and `HEAD /media/v1/{sha256}` over HTTP, for
//! devices only (`hub_proto::media` is the contract).
//!
//! Devices authenticate with HTTP Basic, their device id and broker
//! password, checked against the same registry the broker uses (revoked
//! devices are not in it). Every refusal is the same 401, so a prober learns
//! nothing about which ids exist. Files are streamed from disk, never read
//! whole; a file's URL never changes meaning, so responses carry a strong
//! ETag (the quoted hash) and may be cached for a year; a single `Range` is
//! honoured, so a download cut by a dropped 4G link resumes where it stopped.

use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::header::{
    ACCEPT_RANGES, AUTHORIZATION, CACHE_CONTROL, CONTENT_LENGTH, CONTENT_RANGE, CONTENT_TYPE, ETAG,
    IF_NONE_MATCH, IF_RANGE, RANGE, WWW_AUTHENTICATE,
};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine;
use hub_proto::media::{etag, is_sha256_hex};
use tokio::io::{AsyncReadExt, AsyncSeekExt};
use tokio_util::io::ReaderStream;

use super::range::{if_none_match_hits, if_range_allows, Selection};
use super::store::MediaStore;
use crate::link::broker::{constant_time_eq, Passwords};

/// The realm of the `WWW-Authenticate` challenge.
const REALM: &str = "Basic realm=\"nguon-media\", charset=\"UTF-8\"";
/// A file's content never changes under its URL.
const CACHE_FOREVER: &str = "private, max-age=31536000, immutable";
/// Read size when streaming a file.
const CHUNK_BYTES: usize = 64 * 1024;

/// What the handlers share.
#[derive(Clone)]
struct Media {
    store: MediaStore,
    passwords: Passwords,
}

/// The routes of the media server.
pub fn router(store: MediaStore, passwords: Passwords) -> Router {
    // axum answers HEAD with the GET route, dropping the body.
    Router::new()
        .route("/media/v1/:sha256", get(serve_file))
        .with_state(Media { store, passwords })
}

#[tracing::instrument(skip_all, fields(sha256 = %sha256, device))]
async fn serve_file(
    State(media): State<Media>,
    Path(sha256): Path<String>,
    method: Method,
    headers: HeaderMap,
) -> Response {
    let Some(device) = authenticated(&headers, &media.passwords) else {
        return unauthorized();
    };
    tracing::Span::current().record("device", device.as_str());
    if !is_sha256_hex(&sha256) {
        return (StatusCode::BAD_REQUEST, "not a SHA-256 in lower-case hex\n").into_response();
    }
    let facts = match media.store.facts(&sha256) {
        Ok(Some(facts)) => facts,
        Ok(None) => return StatusCode::NOT_FOUND.into_response(),
        Err(error) => {
            tracing::error!(%error, "reading media facts failed");
            return StatusCode::INTERNAL_SERVER_ERROR.into_response();
        }
    };
    send_file(
        &media.store,
        &sha256,
        facts.kind.content_type(),
        &method,
        &headers,
    )
    .await
}

/// Stored file `sha256` as the answer to a `GET` or `HEAD` with `headers`:
/// a strong ETag, `If-None-Match` (304), one `Range` (206, or 416) unless
/// `If-Range` names another version, streamed from disk. Shared with the
/// web console's previews (`console/media.rs`), whose `<audio>` elements
/// read an Ogg file's length from its last page with a `Range` request.
pub async fn send_file(
    store: &MediaStore,
    sha256: &str,
    content_type: &str,
    method: &Method,
    headers: &HeaderMap,
) -> Response {
    let Some(path) = store.file_path(sha256) else {
        return StatusCode::NOT_FOUND.into_response();
    };
    let mut file = match tokio::fs::File::open(&path).await {
        Ok(file) => file,
        Err(error) => {
            tracing::error!(%error, path = %path.display(), "a stored file cannot be opened");
            return StatusCode::NOT_FOUND.into_response();
        }
    };
    let size = match file.metadata().await {
        Ok(metadata) => metadata.len(),
        Err(error) => {
            tracing::error!(%error, "reading a stored file's size failed");
            return StatusCode::INTERNAL_SERVER_ERROR.into_response();
        }
    };

    let tag = etag(sha256);
    let mut response = Response::builder()
        .header(ETAG, &tag)
        .header(CACHE_CONTROL, CACHE_FOREVER)
        .header(ACCEPT_RANGES, "bytes");
    if if_none_match_hits(header(headers, IF_NONE_MATCH), &tag) {
        return finish(response.status(StatusCode::NOT_MODIFIED), Body::empty());
    }
    response = response.header(CONTENT_TYPE, content_type);
    // Ranges are defined for GET only (RFC 9110, 14.2).
    let selection = if *method == Method::GET && if_range_allows(header(headers, IF_RANGE), &tag) {
        Selection::of(header(headers, RANGE), size)
    } else {
        Selection::Full
    };
    let (status, start, length) = match selection {
        Selection::Full => (StatusCode::OK, 0, size),
        Selection::Partial { start, end } => {
            response = response.header(CONTENT_RANGE, format!("bytes {start}-{end}/{size}"));
            (StatusCode::PARTIAL_CONTENT, start, end - start + 1)
        }
        Selection::Unsatisfiable => {
            let response = response
                .status(StatusCode::RANGE_NOT_SATISFIABLE)
                .header(CONTENT_RANGE, format!("bytes */{size}"));
            return finish(response, Body::empty());
        }
    };
    let response = response.status(status).header(CONTENT_LENGTH, length);
    if *method == Method::HEAD {
        return finish(response, Body::empty());
    }
    if start > 0 {
        if let Err(error) = file.seek(std::io::SeekFrom::Start(start)).await {
            tracing::error!(%error, "seeking in a stored file failed");
            return StatusCode::INTERNAL_SERVER_ERROR.into_response();
        }
    }
    tracing::debug!(start, length, "sending media");
    let stream = ReaderStream::with_capacity(file.take(length), CHUNK_BYTES);
    finish(response, Body::from_stream(stream))
}

/// The device id, if the request carries the Basic credentials of a device
/// that may connect.
fn authenticated(headers: &HeaderMap, passwords: &Passwords) -> Option<String> {
    let encoded = header(headers, AUTHORIZATION)?.strip_prefix("Basic ")?;
    let decoded = BASE64.decode(encoded.trim()).ok()?;
    let credentials = String::from_utf8(decoded).ok()?;
    let (device, password) = credentials.split_once(':')?;
    let allowed = passwords
        .read()
        .ok()?
        .get(device)
        .is_some_and(|expected| constant_time_eq(expected.as_bytes(), password.as_bytes()));
    if !allowed {
        tracing::warn!(
            device,
            "media request refused: unknown device or wrong password"
        );
        return None;
    }
    Some(device.to_owned())
}

fn unauthorized() -> Response {
    (
        StatusCode::UNAUTHORIZED,
        [(WWW_AUTHENTICATE, HeaderValue::from_static(REALM))],
    )
        .into_response()
}

fn header(headers: &HeaderMap, name: axum::http::HeaderName) -> Option<&str> {
    headers.get(name)?.to_str().ok()
}

fn finish(builder: axum::http::response::Builder, body: Body) -> Response {
    builder.body(body).unwrap_or_else(|error| {
        tracing::error!(%error, "building a media response failed");
        StatusCode::INTERNAL_SERVER_ERROR.into_response()
    })
}
