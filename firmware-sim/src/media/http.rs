//! One GET of a media file, as the contract in `hub_proto::media` has it.
//!
//! Each download is one connection (`Connection: close`), as a device on 4G
//! would open it; a fleet bounds how many are open at once elsewhere
//! ([`super::MediaOptions::downloads`]). What arrives is appended to a
//! [`Transfer`], which outlives the request: a cut download keeps its bytes
//! and the next GET asks for the rest (`Range: bytes=N-`, with `If-Range`
//! naming the file, so a server holding something else answers in full).
//!
//! An `https://` URL is fetched over TLS, the server's certificate checked
//! against the CA the device was provisioned with ([`MediaTrust`]) and the
//! URL's host; a server that does not verify, or an `https://` URL on a
//! device provisioned with no CA, is a final refusal
//! ([`GetError::Untrusted`]), never a fall-back to plain HTTP.

use std::time::Duration;

use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine;
use http_body_util::{BodyExt, Empty};
use hub_proto::MediaRef;
use hyper::body::Bytes;
use hyper::header::{HeaderValue, AUTHORIZATION, CONNECTION, CONTENT_RANGE, HOST, IF_RANGE, RANGE};
use hyper::{Request, StatusCode, Uri};
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;
use tokio::task::JoinHandle;
use tokio::time::timeout;
use tokio_rustls::rustls;
use tokio_rustls::rustls::pki_types::ServerName;

use super::trust::MediaTrust;

/// What has arrived of one file so far, across requests.
#[derive(Debug, Default)]
pub(crate) struct Transfer {
    /// The file's bytes from its start.
    pub bytes: Vec<u8>,
    /// Body bytes received over every request, restarts included.
    pub received: u64,
    /// How many of `bytes` are whole parts that verified
    /// ([`hub_proto::MediaChunk`]), and how many parts that is.
    pub verified: u64,
    pub parts: usize,
}

impl Transfer {
    /// Drops what arrived: the next bytes are the file's first.
    pub fn restart(&mut self) {
        self.bytes.clear();
        self.verified = 0;
        self.parts = 0;
    }
}

/// Why a GET did not bring the whole file.
#[derive(Debug, thiserror::Error)]
pub(crate) enum GetError {
    /// The URL is not one this device can fetch.
    #[error("cannot fetch {url:?}: {why}")]
    Url { url: String, why: &'static str },
    /// The server refused the device or the request, or does not have the
    /// file; asking again the same way will not help.
    #[error("the server answered {0}")]
    Refused(StatusCode),
    /// Any other answer but 200 or 206.
    #[error("the server answered {0}")]
    Status(StatusCode),
    /// A 206 that does not continue from what the device holds.
    #[error("a partial answer for the wrong range: {0:?}")]
    WrongRange(String),
    /// An `https://` server whose certificate does not verify against the
    /// provisioned CA and the URL's host, or no CA to verify it with.
    #[error("the media server is not trusted: {0}")]
    Untrusted(String),
    /// More bytes than the plan's size.
    #[error("the file is longer than the {0} bytes the plan gives")]
    TooLong(u64),
    #[error("no answer within {0:?}")]
    Timeout(Duration),
    #[error("connection failed: {0}")]
    Connect(#[from] std::io::Error),
    /// The connection broke, mid-answer or before it.
    #[error("connection broken: {0}")]
    Broken(#[from] hyper::Error),
}

impl GetError {
    /// Whether trying again can bring the file.
    pub fn is_final(&self) -> bool {
        matches!(
            self,
            Self::Url { .. } | Self::Refused(_) | Self::Untrusted(_)
        )
    }
}

/// A connection to the media server, plain or TLS.
trait Connection: AsyncRead + AsyncWrite + Unpin + Send {}

impl<T: AsyncRead + AsyncWrite + Unpin + Send> Connection for T {}

/// How one device fetches: its credentials, whom it trusts, its patience.
#[derive(Debug)]
pub(crate) struct Http {
    authorization: HeaderValue,
    /// The provisioned media CA, for `https://` URLs.
    trust: Option<MediaTrust>,
    /// For connecting, for the answer, and between two pieces of the body.
    timeout: Duration,
}

impl Http {
    /// HTTP Basic with the device's id and broker password; `https://`
    /// servers verified with `trust`.
    pub fn new(device: &str, password: &str, trust: Option<MediaTrust>, timeout: Duration) -> Self {
        let token = BASE64.encode(format!("{device}:{password}"));
        let mut authorization = HeaderValue::from_str(&format!("Basic {token}"))
            .unwrap_or_else(|_| unreachable!("base64 is a valid header value"));
        authorization.set_sensitive(true);
        Self {
            authorization,
            trust,
            timeout,
        }
    }

    /// Fetches what `transfer` lacks of `file`; the body ending cleanly is
    /// success, whatever its length (the caller verifies the file).
    /// `progress` sees the transfer after every piece of the body and may
    /// end the GET with its error (a part that does not verify). `until`
    /// asks only for the bytes before it (a server may send more).
    pub async fn get<E: From<GetError>>(
        &self,
        file: &MediaRef,
        transfer: &mut Transfer,
        until: Option<u64>,
        mut progress: impl FnMut(&mut Transfer) -> Result<(), E>,
    ) -> Result<(), E> {
        let target = Target::parse(&file.url)?;
        // Refused before any connection: no CA, no HTTPS.
        let trust = match (target.tls, &self.trust) {
            (false, _) => None,
            (true, Some(trust)) => Some(trust),
            (true, None) => {
                return Err(GetError::Untrusted(
                    "an https:// URL, and the provisioning file gave no media CA to verify \
                     the server with"
                        .into(),
                )
                .into())
            }
        };
        let stream = self
            .patiently(TcpStream::connect((target.host.as_str(), target.port)))
            .await?
            .map_err(GetError::from)?;
        let stream: Box<dyn Connection> = match trust {
            None => Box::new(stream),
            Some(trust) => Box::new(self.secure(trust, &target, stream).await?),
        };
        let (mut sender, connection) = self
            .patiently(hyper::client::conn::http1::handshake(TokioIo::new(stream)))
            .await?
            .map_err(GetError::from)?;
        let _connection = AbortOnDrop(tokio::spawn(connection));

        let have = transfer.bytes.len() as u64;
        let mut request = Request::get(target.path)
            .header(HOST, target.authority)
            .header(AUTHORIZATION, self.authorization.clone())
            .header(CONNECTION, "close");
        let last = until.filter(|end| *end > have).map(|end| end - 1);
        if have > 0 || last.is_some() {
            let last = last.map_or(String::new(), |last| last.to_string());
            request = request
                .header(RANGE, format!("bytes={have}-{last}"))
                .header(IF_RANGE, hub_proto::media::etag(&file.sha256));
        }
        let request = request
            .body(Empty::<Bytes>::new())
            .map_err(|_| GetError::Url {
                url: file.url.clone(),
                why: "not a valid request target",
            })?;
        let response = self
            .patiently(sender.send_request(request))
            .await?
            .map_err(GetError::from)?;
        match response.status() {
            // The whole file: a server that no longer has the same file
            // (If-Range) or ignores ranges; start again from zero.
            StatusCode::OK => transfer.restart(),
            StatusCode::PARTIAL_CONTENT => {
                let range = response
                    .headers()
                    .get(CONTENT_RANGE)
                    .and_then(|value| value.to_str().ok())
                    .unwrap_or_default();
                if !continues(range, have, file.size) {
                    transfer.restart();
                    return Err(GetError::WrongRange(range.to_string()).into());
                }
            }
            StatusCode::RANGE_NOT_SATISFIABLE => {
                transfer.restart();
                return Err(GetError::Status(response.status()).into());
            }
            status @ (StatusCode::BAD_REQUEST
            | StatusCode::UNAUTHORIZED
            | StatusCode::FORBIDDEN
            | StatusCode::NOT_FOUND) => return Err(GetError::Refused(status).into()),
            status => return Err(GetError::Status(status).into()),
        }
        let mut body = response.into_body();
        while let Some(frame) = self.patiently(body.frame()).await? {
            let Ok(data) = frame.map_err(GetError::from)?.into_data() else {
                continue;
            };
            transfer.received += data.len() as u64;
            if (transfer.bytes.len() + data.len()) as u64 > file.size {
                transfer.restart();
                return Err(GetError::TooLong(file.size).into());
            }
            transfer.bytes.extend_from_slice(&data);
            progress(transfer)?;
        }
        Ok(())
    }

    /// The TLS handshake over `stream`, the server verified against
    /// `trust` and the URL's host.
    async fn secure(
        &self,
        trust: &MediaTrust,
        target: &Target,
        stream: TcpStream,
    ) -> Result<tokio_rustls::client::TlsStream<TcpStream>, GetError> {
        let name = ServerName::try_from(target.host.clone()).map_err(|_| {
            GetError::Untrusted(format!(
                "{:?} is neither a DNS name nor an IP address a certificate can name",
                target.host
            ))
        })?;
        self.patiently(trust.connector().connect(name, stream))
            .await?
            .map_err(|error| match refused_certificate(&error) {
                Some(why) => GetError::Untrusted(why),
                None => GetError::Connect(error),
            })
    }

    async fn patiently<T>(
        &self,
        work: impl std::future::Future<Output = T>,
    ) -> Result<T, GetError> {
        timeout(self.timeout, work)
            .await
            .map_err(|_| GetError::Timeout(self.timeout))
    }
}

/// Why the handshake's failure means the server is not the one the device
/// trusts (rather than a broken link, worth trying again).
fn refused_certificate(error: &std::io::Error) -> Option<String> {
    match error.get_ref()?.downcast_ref::<rustls::Error>()? {
        rustls::Error::InvalidCertificate(why) => {
            Some(format!("its certificate does not verify: {why:?}"))
        }
        rustls::Error::NoCertificatesPresented => Some("it presented no certificate".into()),
        _ => None,
    }
}

/// Where a media URL points.
#[derive(Debug, PartialEq, Eq)]
struct Target {
    /// `https://`: over TLS.
    tls: bool,
    /// For the Host header.
    authority: String,
    /// Without IPv6 brackets, for connecting.
    host: String,
    port: u16,
    path: String,
}

impl Target {
    fn parse(url: &str) -> Result<Self, GetError> {
        let refuse = |why| GetError::Url {
            url: url.to_string(),
            why,
        };
        let uri: Uri = url.parse().map_err(|_| refuse("not a URL"))?;
        let tls = match uri.scheme_str() {
            Some("http") => false,
            Some("https") => true,
            _ => return Err(refuse("only http:// and https:// are supported")),
        };
        let authority = uri.authority().ok_or_else(|| refuse("no host"))?;
        let host = authority.host();
        Ok(Self {
            tls,
            authority: authority.as_str().to_string(),
            host: host
                .strip_prefix('[')
                .and_then(|h| h.strip_suffix(']'))
                .unwrap_or(host)
                .to_string(),
            port: authority.port_u16().unwrap_or(if tls { 443 } else { 80 }),
            path: uri
                .path_and_query()
                .map_or("/", |path| path.as_str())
                .to_string(),
        })
    }
}

/// Whether `Content-Range: bytes START-END/TOTAL` continues a file of `size`
/// bytes from byte `have`.
fn continues(content_range: &str, have: u64, size: u64) -> bool {
    let Some((span, total)) = content_range
        .strip_prefix("bytes ")
        .and_then(|rest| rest.split_once('/'))
    else {
        return false;
    };
    let start = span.split_once('-').map(|(start, _)| start.parse::<u64>());
    start == Some(Ok(have)) && (total == "*" || total.parse::<u64>() == Ok(size))
}

/// Ends the connection task when the GET is over or abandoned.
struct AbortOnDrop<T>(JoinHandle<T>);

impl<T> Drop for AbortOnDrop<T> {
    fn drop(&mut self) {
        self.0.abort();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_are_read_for_connecting_and_asking() {
        let target = Target::parse("http://[::1]:8080/media/v1/ab?x=1").unwrap();
        assert_eq!(
            target,
            Target {
                tls: false,
                authority: "[::1]:8080".into(),
                host: "::1".into(),
                port: 8080,
                path: "/media/v1/ab?x=1".into(),
            }
        );
        assert_eq!(Target::parse("http://hub/m").unwrap().port, 80);
        let secure = Target::parse("https://media.example/m").unwrap();
        assert_eq!((secure.tls, secure.port), (true, 443));
        assert_eq!(Target::parse("https://10.0.0.1:8443/m").unwrap().port, 8443);
        for bad in ["ftp://hub/m", "/media/v1/ab", "not a url"] {
            let error = Target::parse(bad).unwrap_err();
            assert!(error.is_final(), "{bad}: {error}");
        }
    }

    #[test]
    fn a_partial_answer_must_continue_from_what_is_held() {
        assert!(continues("bytes 100-199/200", 100, 200));
        assert!(continues("bytes 100-199/*", 100, 200));
        assert!(!continues("bytes 0-199/200", 100, 200));
        assert!(!continues("bytes 100-199/300", 100, 200));
        assert!(!continues("items 100-199/200", 100, 200));
        assert!(!continues("", 100, 200));
    }

    #[test]
    fn the_device_authenticates_with_basic() {
        let http = Http::new("24611-LS-01", "pw", None, Duration::from_secs(1));
        let expected = format!("Basic {}", BASE64.encode("24611-LS-01:pw"));
        assert_eq!(http.authorization, expected.as_str());
        assert!(http.authorization.is_sensitive());
    }

    #[tokio::test]
    async fn an_https_url_without_a_provisioned_ca_is_refused_for_good() {
        let http = Http::new("24611-LS-01", "pw", None, Duration::from_secs(1));
        let file = MediaRef {
            sha256: "0".repeat(64),
            size: 1,
            url: "https://127.0.0.1:9/media/v1/x".into(),
            chunks: Default::default(),
            head: None,
        };
        let error = http
            .get::<GetError>(&file, &mut Transfer::default(), None, |_| Ok(()))
            .await
            .unwrap_err();
        assert!(matches!(error, GetError::Untrusted(_)), "{error}");
        assert!(error.is_final());
        assert!(error.to_string().contains("no media CA"), "{error}");
    }
}
