//! What the embedded broker logs when a device leaves cleanly. Its own test
//! binary: it installs the process's one global log subscriber, which the
//! broker's router thread logs through.

use std::collections::HashMap;
use std::io::Write;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

use hub::link::broker::{self, Passwords};
use hub::link::LinkSettings;
use rumqttc::{AsyncClient, Event, MqttOptions, Packet};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// Log lines written so far, shared with the subscriber.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Captured {
    fn lines(&self) -> Vec<String> {
        let bytes = self.0.lock().unwrap();
        String::from_utf8_lossy(&bytes)
            .lines()
            .map(str::to_string)
            .collect()
    }
}

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Connects as `id`, then sends DISCONNECT and waits for the broker to
/// close the connection, as a device does when it shuts down.
async fn connect_and_leave(addr: SocketAddr, id: &str) {
    let mut options = MqttOptions::new(id, addr.ip().to_string(), addr.port());
    options.set_credentials(id, id);
    let (client, mut events) = AsyncClient::new(options, 10);
    while !matches!(
        events.poll().await.unwrap(),
        Event::Incoming(Packet::ConnAck(_))
    ) {}
    client.disconnect().await.unwrap();
    // The event loop ends once the DISCONNECT is out.
    while events.poll().await.is_ok() {}
}

/// Connects as `id` over a bare socket, then sends DISCONNECT and closes
/// the socket at once: the broker reads both together, as from a device
/// that powers off right after saying goodbye.
async fn connect_and_hang_up(addr: SocketAddr, id: &str) {
    let mut socket = TcpStream::connect(addr).await.unwrap();
    let text = |s: &str| [&(s.len() as u16).to_be_bytes()[..], s.as_bytes()].concat();
    // MQTT 3.1.1 CONNECT: user name and password, clean session, 60 s keep-alive.
    let mut body = [&text("MQTT")[..], &[4, 0xC2, 0, 60]].concat();
    for field in [id, id, id] {
        body.extend(text(field));
    }
    let mut connect = vec![0x10, u8::try_from(body.len()).unwrap()];
    connect.extend(body);
    socket.write_all(&connect).await.unwrap();
    let mut connack = [0; 4];
    socket.read_exact(&mut connack).await.unwrap();
    assert_eq!(connack, [0x20, 2, 0, 0], "{id} accepted");
    socket.write_all(&[0xE0, 0]).await.unwrap();
}

/// A client's DISCONNECT ends its connection in the router, which then
/// closes the connection's link; when the socket's closing is read first,
/// the router hears of the end twice (upstream says so). Neither is an
/// error. Logged at ERROR, they made every device that shut down cleanly
/// look like a broker fault in the hub's log.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn devices_leaving_cleanly_log_no_broker_error() {
    let captured = Captured::default();
    let writer = captured.clone();
    tracing_subscriber::fmt()
        .with_env_filter("rumqttd=debug")
        .with_ansi(false)
        .with_writer(move || writer.clone())
        .init();
    let settings = LinkSettings {
        mqtt_listen: SocketAddr::from(([127, 0, 0, 1], 0)),
        ..LinkSettings::default()
    };
    let ids: Vec<String> = (1..=10).map(|n| format!("24611-LS-{n:02}")).collect();
    let passwords: Passwords = Arc::new(RwLock::new(
        ids.iter()
            .map(|id| (id.clone(), id.clone()))
            .collect::<HashMap<_, _>>(),
    ));
    let (_tx, _rx, listening) = broker::start(&settings, passwords).unwrap();

    let (polite, abrupt) = ids.split_at(5);
    for id in polite {
        connect_and_leave(listening.mqtt, id).await;
    }
    for id in abrupt {
        connect_and_hang_up(listening.mqtt, id).await;
    }
    // Every connection's link has ended, and the router has let it go.
    let count = |lines: &[String], what: &str| lines.iter().filter(|l| l.contains(what)).count();
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let lines = captured.lines();
        let links_ended = count(&lines, "router-drop") + count(&lines, "disconnected");
        if links_ended >= ids.len() && count(&lines, "Disconnecting connection") >= ids.len() {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "not every device left: {lines:#?}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let errors: Vec<String> = captured
        .lines()
        .into_iter()
        .filter(|line| line.contains("ERROR"))
        .collect();
    assert!(errors.is_empty(), "the broker logged errors: {errors:#?}");
}
