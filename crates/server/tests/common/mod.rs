//! What the server's integration tests share: a real server on a free loopback port and
//! WebSocket clients speaking y-webrtc's signaling to it; the store's API (`store`), over HTTP
//! (`http`), on SQLite or on a real Redis (`redis`); `/metrics` read strictly (`metrics`); a room of well-behaved clients beside hostile ones
//! (`room`).
#![allow(dead_code)] // each test file uses its own part

pub mod http;
pub mod metrics;
pub mod redis;
pub mod room;
pub mod store;

use commonplace_server::{serve, Options};
use futures_util::{SinkExt, StreamExt};
use serde_json::{json, Value};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::oneshot;
use tokio::time::{sleep, timeout};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

pub type Ws = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// Every wait is bounded, so a broken server fails the test instead of hanging it.
pub const WAIT: Duration = Duration::from_secs(10);

pub struct Server {
    pub addr: SocketAddr,
    _stop: oneshot::Sender<()>,
}

pub async fn start(options: Options) -> Server {
    let filter = tracing_subscriber::EnvFilter::from_default_env();
    let _ = tracing_subscriber::fmt()
        .with_test_writer()
        .with_env_filter(filter)
        .try_init();
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (stop, stopped) = oneshot::channel::<()>();
    tokio::spawn(serve(listener, options, async move { drop(stopped.await) }));
    Server { addr, _stop: stop }
}

pub async fn signaling() -> Server {
    start(Options::new(temp_dir("no-dist"))).await
}

pub async fn connect(addr: SocketAddr) -> Ws {
    let url = format!("ws://{addr}/signal");
    timeout(WAIT, tokio_tungstenite::connect_async(url))
        .await
        .unwrap()
        .unwrap()
        .0
}

pub async fn send(ws: &mut Ws, message: Value) {
    ws.send(Message::text(message.to_string())).await.unwrap();
}

/// The next text frame, as JSON.
pub async fn recv(ws: &mut Ws) -> Value {
    loop {
        match timeout(WAIT, ws.next()).await.expect("no frame in time") {
            Some(Ok(Message::Text(text))) => return serde_json::from_str(&text).unwrap(),
            Some(Ok(Message::Ping(_) | Message::Pong(_))) => {}
            other => panic!("expected a text frame, got {other:?}"),
        }
    }
}

/// Pings and waits for the pong: the server handles one connection's frames in order, so
/// everything sent before has been handled.
pub async fn sync(ws: &mut Ws) {
    send(ws, json!({"type": "ping"})).await;
    assert_eq!(recv(ws).await, json!({"type": "pong"}));
}

pub async fn subscribe(ws: &mut Ws, topics: &[&str]) {
    send(ws, json!({"type": "subscribe", "topics": topics})).await;
    sync(ws).await;
}

/// Reads until the connection ends, returning the close frame's code if there was one.
pub async fn closed(ws: &mut Ws) -> Option<u16> {
    loop {
        match timeout(WAIT, ws.next())
            .await
            .expect("connection still open")
        {
            Some(Ok(Message::Close(frame))) => return frame.map(|f| f.code.into()),
            Some(Ok(_)) => {}
            Some(Err(_)) | None => return None,
        }
    }
}

/// Reads until the connection ends, returning the close frame's code and reason if there was one.
pub async fn closed_with_reason(ws: &mut Ws) -> Option<(u16, String)> {
    loop {
        match timeout(WAIT, ws.next())
            .await
            .expect("connection still open")
        {
            Some(Ok(Message::Close(frame))) => {
                return frame.map(|f| (f.code.into(), f.reason.to_string()))
            }
            Some(Ok(_)) => {}
            Some(Err(_)) | None => return None,
        }
    }
}

pub fn temp_dir(name: &str) -> PathBuf {
    let dir =
        std::env::temp_dir().join(format!("commonplace-server-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    dir
}

/// The real `commonplace-server` binary, running until stopped (or dropped: killed).
pub struct Running {
    child: std::process::Child,
    pub addr: SocketAddr,
    stderr: std::sync::mpsc::Receiver<String>,
}

/// Starts the binary with `args` (and `--port 0`): `Ok` once it prints its address, or `Err`
/// with its exit code and everything it wrote to stderr if it exits first.
pub fn start_binary(args: &[&std::ffi::OsStr]) -> Result<Running, (Option<i32>, String)> {
    use std::io::{BufRead, BufReader, Read};
    use std::process::{Command, Stdio};
    let mut child = Command::new(env!("CARGO_BIN_EXE_commonplace-server"))
        .args(["--port", "0", "--dist"])
        .arg(temp_dir("no-dist"))
        .args(args)
        .env("RUST_LOG", "info")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let mut stderr = child.stderr.take().unwrap();
    let (line_tx, line_rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut line = String::new();
        let _ = BufReader::new(stdout).read_line(&mut line);
        let _ = line_tx.send(line);
    });
    let (err_tx, err_rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut text = String::new();
        let _ = stderr.read_to_string(&mut text);
        let _ = err_tx.send(text);
    });
    let line = line_rx.recv_timeout(WAIT).unwrap_or_default();
    let addr = line
        .strip_prefix("Commonplace is running: open http://")
        .and_then(|rest| rest.strip_suffix("/\n"))
        .and_then(|addr| addr.parse().ok());
    match addr {
        Some(addr) => Ok(Running {
            child,
            addr,
            stderr: err_rx,
        }),
        None => {
            let status = wait_exit(&mut child);
            let stderr = err_rx.recv_timeout(WAIT).unwrap_or_default();
            Err((status, stderr))
        }
    }
}

fn wait_exit(child: &mut std::process::Child) -> Option<i32> {
    let deadline = std::time::Instant::now() + WAIT;
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return status.code();
        }
        if std::time::Instant::now() > deadline {
            let _ = child.kill();
            panic!("the server neither started nor exited");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

impl Running {
    /// The server's process id, e.g. to read its memory in /proc.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// SIGTERM, and waits for a clean exit; returns what it wrote to stderr.
    pub fn stop(mut self) -> String {
        // SAFETY: signals a child this test started.
        unsafe { libc::kill(self.child.id() as i32, libc::SIGTERM) };
        assert_eq!(
            wait_exit(&mut self.child),
            Some(0),
            "exit code after SIGTERM"
        );
        self.stderr.recv_timeout(WAIT).unwrap_or_default()
    }

    /// SIGKILL: no shutdown at all, as in a crash or a power cut of the process.
    pub fn kill(mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A masked `{"type":"ping"}` and the pong it gets, on a raw WebSocket.
pub async fn raw_ping(stream: &mut TcpStream) {
    let ping = br#"{"type":"ping"}"#;
    let mut frame = vec![0x81, 0x80 | ping.len() as u8, 0, 0, 0, 0];
    frame.extend_from_slice(ping);
    stream.write_all(&frame).await.unwrap();
    let pong = br#"{"type":"pong"}"#;
    let mut answer = vec![0u8; 2 + pong.len()];
    timeout(WAIT, stream.read_exact(&mut answer))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(&answer[2..], pong);
}

/// The raw HTTP handshake of a WebSocket, with no client library's buffers behind it; `None`
/// if the server refused it.
pub async fn raw_websocket_or_refused(addr: SocketAddr) -> Option<TcpStream> {
    let mut stream = TcpStream::connect(addr).await.ok()?;
    stream
        .write_all(
            b"GET /signal HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
              Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n",
        )
        .await
        .ok()?;
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        match timeout(WAIT, stream.read(&mut byte)).await.ok()? {
            Ok(1) => head.push(byte[0]),
            _ => return None,
        }
    }
    head.starts_with(b"HTTP/1.1 101").then_some(stream)
}

pub async fn raw_websocket(addr: SocketAddr) -> TcpStream {
    raw_websocket_or_refused(addr)
        .await
        .expect("the WebSocket handshake failed")
}

pub fn vm_rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let line = status.lines().find(|l| l.starts_with("VmRSS:")).unwrap();
    line.split_whitespace().nth(1).unwrap().parse().unwrap()
}

/// Waits until the server's memory stops growing (its tasks have set up what they hold).
pub async fn settled_rss_kib(pid: u32) -> u64 {
    let mut last = vm_rss_kib(pid);
    for _ in 0..50 {
        sleep(Duration::from_millis(200)).await;
        let now = vm_rss_kib(pid);
        if now.abs_diff(last) < 64 {
            return now;
        }
        last = now;
    }
    last
}
