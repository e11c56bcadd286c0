//! HTTPS: each accepted connection's TLS handshake (rustls), then the same
//! axum router over HTTP/1.1, as `axum::serve` would run it over TCP.
//!
//! Connections live in a `JoinSet` owned by the accept task: when the
//! server is stopped, each finishes the request in progress
//! (`graceful_shutdown`), and aborting the accept task after the grace
//! period drops the set, which cuts whatever is left.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::ConnectInfo;
use axum::Router;
use hyper::body::Incoming;
use hyper::Request;
use hyper_util::rt::TokioIo;
use hyper_util::service::TowerToHyperService;
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinSet;
use tokio_rustls::rustls::ServerConfig;
use tokio_rustls::TlsAcceptor;
use tokio_util::sync::CancellationToken;

/// A client that connects and says nothing holds a task no longer than this.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);
/// Pause after a failed accept (out of file descriptors, usually), so the
/// loop does not spin while connections close.
const ACCEPT_PAUSE: Duration = Duration::from_millis(50);

/// Accepts connections on `listener` until `stop`, then waits for the
/// connections in progress to finish their request.
pub(super) async fn serve(
    listener: TcpListener,
    app: Router,
    config: Arc<ServerConfig>,
    stop: CancellationToken,
) {
    let acceptor = TlsAcceptor::from(config);
    let mut connections = JoinSet::new();
    loop {
        tokio::select! {
            _ = stop.cancelled() => break,
            accepted = listener.accept() => match accepted {
                Ok((stream, peer)) => {
                    let work = connection(stream, peer, app.clone(), acceptor.clone(), stop.clone());
                    connections.spawn(work);
                }
                Err(error) => {
                    tracing::warn!(%error, "accepting an HTTPS connection failed");
                    tokio::time::sleep(ACCEPT_PAUSE).await;
                }
            },
            // Reap finished connections so the set does not grow.
            Some(_) = connections.join_next(), if !connections.is_empty() => {}
        }
    }
    drop(listener);
    while connections.join_next().await.is_some() {}
}

/// One connection: the handshake, then requests until the client closes
/// it or the server stops.
#[tracing::instrument(skip_all, fields(%peer))]
async fn connection(
    stream: TcpStream,
    peer: SocketAddr,
    app: Router,
    acceptor: TlsAcceptor,
    stop: CancellationToken,
) {
    let tls = match tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(stream)).await {
        Ok(Ok(tls)) => tls,
        // A device that does not trust the certificate ends here too (its
        // alert is the error): worth seeing when devices report no media.
        Ok(Err(error)) => {
            tracing::info!(%error, "TLS handshake failed");
            return;
        }
        Err(_) => {
            tracing::debug!("TLS handshake timed out");
            return;
        }
    };
    let app = TowerToHyperService::new(app);
    // Handlers see the client's address, as over plain HTTP.
    let service = hyper::service::service_fn(move |mut request: Request<Incoming>| {
        request.extensions_mut().insert(ConnectInfo(peer));
        hyper::service::Service::call(&app, request)
    });
    let served =
        hyper::server::conn::http1::Builder::new().serve_connection(TokioIo::new(tls), service);
    tokio::pin!(served);
    let ended = tokio::select! {
        ended = served.as_mut() => ended,
        _ = stop.cancelled() => {
            served.as_mut().graceful_shutdown();
            served.await
        }
    };
    if let Err(error) = ended {
        tracing::debug!(%error, "HTTPS connection ended with an error");
    }
}
