//! Serving an axum router on a listener until cancelled, then letting
//! requests in progress finish for a few seconds: the media server and the
//! people's API both run this way, over plain HTTP or (the media server
//! with `link.media_tls`) HTTPS ([`tls`]).

mod tls;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use tokio::net::TcpListener;
use tokio::task::JoinHandle;
use tokio_rustls::rustls::ServerConfig;
use tokio_util::sync::CancellationToken;

/// How long requests in progress may go on after the hub is stopped.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(5);
/// Connections waiting to be accepted (the kernel caps it at
/// `net.core.somaxconn`). An emergency makes every device that lacks its
/// file connect to the media server at once; with the usual 128, the
/// connects past it are dropped and each retried only after the kernel's
/// one-second SYN timeout.
const ACCEPT_BACKLOG: u32 = 4096;

/// A listening socket on `listen`, with room for a burst of connections.
fn bind(listen: SocketAddr) -> std::io::Result<TcpListener> {
    let socket = if listen.is_ipv4() {
        tokio::net::TcpSocket::new_v4()?
    } else {
        tokio::net::TcpSocket::new_v6()?
    };
    socket.set_reuseaddr(true)?;
    socket.bind(listen)?;
    socket.listen(ACCEPT_BACKLOG)
}

/// A running HTTP server.
pub struct HttpServer {
    pub addr: SocketAddr,
    name: &'static str,
    cancel: CancellationToken,
    task: JoinHandle<()>,
}

impl HttpServer {
    /// Listens on `listen` (port 0: any free port) and serves `app` until
    /// `cancel`; handlers see the client's address (`ConnectInfo`).
    pub async fn start(
        name: &'static str,
        listen: SocketAddr,
        app: Router,
        cancel: CancellationToken,
    ) -> std::io::Result<Self> {
        let listener = bind(listen)?;
        let addr = listener.local_addr()?;
        let stop = cancel.clone();
        let task = tokio::spawn(async move {
            let app = app.into_make_service_with_connect_info::<SocketAddr>();
            let served = axum::serve(listener, app)
                .with_graceful_shutdown(stop.cancelled_owned())
                .await;
            match served {
                Ok(()) => tracing::info!(%addr, "{name} stopped"),
                Err(error) => tracing::error!(%addr, %error, "{name} failed"),
            }
        });
        tracing::info!(%addr, "{name} listening");
        Ok(Self {
            addr,
            name,
            cancel,
            task,
        })
    }

    /// As [`HttpServer::start`], over TLS with `config` (HTTP/1.1 only).
    pub async fn start_tls(
        name: &'static str,
        listen: SocketAddr,
        app: Router,
        config: Arc<ServerConfig>,
        cancel: CancellationToken,
    ) -> std::io::Result<Self> {
        let listener = bind(listen)?;
        let addr = listener.local_addr()?;
        let stop = cancel.clone();
        let task = tokio::spawn(async move {
            tls::serve(listener, app, config, stop).await;
            tracing::info!(%addr, "{name} stopped");
        });
        tracing::info!(%addr, "{name} listening (HTTPS)");
        Ok(Self {
            addr,
            name,
            cancel,
            task,
        })
    }

    /// Stops accepting, lets requests in progress finish for a few seconds,
    /// then cuts them (devices resume downloads with a `Range`).
    pub async fn stop(self) {
        self.cancel.cancel();
        let mut task = self.task;
        if tokio::time::timeout(SHUTDOWN_GRACE, &mut task)
            .await
            .is_err()
        {
            tracing::warn!("{}: requests still running at shutdown were cut", self.name);
            task.abort();
        }
    }
}
