//! A TCP relay on loopback between devices and a server, which can cut its
//! first connection part-way: a 4G link dropping mid-download, whatever
//! runs over it (plain HTTP or TLS, which the relay does not look into).

use std::net::SocketAddr;
use std::sync::{Arc, Mutex, OnceLock};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;

/// Read size of each direction.
const BUFFER: usize = 16 * 1024;

/// A running relay; stopped on drop.
pub struct Relay {
    pub addr: SocketAddr,
    target: Arc<OnceLock<SocketAddr>>,
    first_bytes: Arc<Mutex<Vec<u8>>>,
    task: JoinHandle<()>,
}

impl Relay {
    /// Listens on a free loopback port. Its first connection is cut once
    /// `cut_first_after` bytes went from the server to the client; later
    /// ones are relayed whole. Connections before [`Relay::forward_to`]
    /// are closed at once.
    pub async fn start(cut_first_after: u64) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let target: Arc<OnceLock<SocketAddr>> = Arc::default();
        let first_bytes: Arc<Mutex<Vec<u8>>> = Arc::default();
        let task = {
            let (target, first_bytes) = (target.clone(), first_bytes.clone());
            tokio::spawn(async move {
                let mut cut = Some(cut_first_after);
                while let Ok((client, _)) = listener.accept().await {
                    let Some(server) = target.get().copied() else {
                        continue;
                    };
                    let first_bytes = first_bytes.clone();
                    tokio::spawn(relay(client, server, cut.take(), first_bytes));
                }
            })
        };
        Self {
            addr,
            target,
            first_bytes,
            task,
        }
    }

    /// Where connections go from now on.
    pub fn forward_to(&self, server: SocketAddr) {
        self.target
            .set(server)
            .expect("the relay's target is set once");
    }

    /// The first byte each connection's client sent, in order: 0x16 begins
    /// a TLS handshake.
    pub fn first_bytes(&self) -> Vec<u8> {
        self.first_bytes.lock().unwrap().clone()
    }
}

impl Drop for Relay {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Relays one connection until the server side ends or `cut` bytes went
/// to the client; then both sockets are dropped.
async fn relay(
    client: TcpStream,
    server: SocketAddr,
    cut: Option<u64>,
    first_bytes: Arc<Mutex<Vec<u8>>>,
) {
    let Ok(server) = TcpStream::connect(server).await else {
        return;
    };
    let (client_read, mut client_write) = client.into_split();
    let (mut server_read, server_write) = server.into_split();
    let upstream = async {
        upstream(client_read, server_write, first_bytes).await;
        // The client's side ending does not end the answer.
        std::future::pending::<()>().await
    };
    let downstream = async {
        let mut buffer = vec![0; BUFFER];
        let mut sent = 0u64;
        loop {
            let read = match server_read.read(&mut buffer).await {
                Ok(0) | Err(_) => break,
                Ok(read) => read,
            };
            let allowed = cut.map_or(read, |cut| read.min((cut - sent) as usize));
            if client_write.write_all(&buffer[..allowed]).await.is_err() {
                return;
            }
            sent += allowed as u64;
            if cut.is_some_and(|cut| sent >= cut) {
                return;
            }
        }
        let _ = client_write.shutdown().await;
    };
    tokio::select! {
        _ = upstream => {}
        _ = downstream => {}
    }
}

async fn upstream(
    mut client_read: OwnedReadHalf,
    mut server_write: OwnedWriteHalf,
    first_bytes: Arc<Mutex<Vec<u8>>>,
) {
    let mut buffer = vec![0; BUFFER];
    let mut first = true;
    loop {
        let read = match client_read.read(&mut buffer).await {
            Ok(0) | Err(_) => break,
            Ok(read) => read,
        };
        if std::mem::take(&mut first) {
            first_bytes.lock().unwrap().push(buffer[0]);
        }
        if server_write.write_all(&buffer[..read]).await.is_err() {
            return;
        }
    }
    let _ = server_write.shutdown().await;
}
