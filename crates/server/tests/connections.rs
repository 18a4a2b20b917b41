//! What a connection costs the server and how long it may take: a slow request is closed, a
//! connection past the cap is refused while the others go on, an idle WebSocket holds little
//! memory, and accepted sockets send small frames at once.

mod common;

use common::*;
use commonplace_server::listen::tls_acceptor;
use commonplace_server::Options;
use futures_util::future::join_all;
use std::ffi::OsStr;
use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4};
use std::os::fd::RawFd;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::time::{sleep, timeout, Instant};
use tokio_tungstenite::MaybeTlsStream;

fn args(list: &[&'static str]) -> Vec<&'static OsStr> {
    list.iter().map(|arg| OsStr::new(*arg)).collect()
}

/// Reads until the server closes the connection; what it sent before.
async fn read_until_closed(stream: &mut TcpStream, within: Duration) -> Result<Vec<u8>, String> {
    let mut got = Vec::new();
    let read = timeout(within, async {
        let mut buf = [0u8; 1024];
        loop {
            match stream.read(&mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(n) => got.extend_from_slice(&buf[..n]),
            }
        }
    });
    match read.await {
        Ok(()) => Ok(got),
        Err(_) => Err(format!("still open after {within:?}")),
    }
}

const PARTIAL_UPGRADE: &[u8] =
    b"GET /signal HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n";

#[tokio::test]
async fn a_request_whose_headers_never_end_is_closed_after_the_header_timeout() {
    let server = start_binary(&args(&["--no-store", "--header-timeout", "1s"])).unwrap();
    let started = Instant::now();
    let mut slow = TcpStream::connect(server.addr).await.unwrap();
    slow.write_all(PARTIAL_UPGRADE).await.unwrap();
    let mut silent = TcpStream::connect(server.addr).await.unwrap();
    let answer = read_until_closed(&mut slow, WAIT).await.unwrap();
    let elapsed = started.elapsed();
    let answer = String::from_utf8_lossy(&answer);
    assert!(
        answer.is_empty() || answer.starts_with("HTTP/1.1 408"),
        "{answer}"
    );
    assert!(
        elapsed >= Duration::from_millis(900),
        "closed after {elapsed:?}"
    );
    read_until_closed(&mut silent, WAIT).await.unwrap();
    // A whole request is still answered, and a WebSocket stays open past the timeout.
    let mut ws = connect(server.addr).await;
    sleep(Duration::from_millis(1500)).await;
    sync(&mut ws).await;
}

#[tokio::test]
async fn past_max_connections_new_ones_are_refused_and_the_others_go_on() {
    let server = start_binary(&args(&["--no-store", "--max-connections", "3"])).unwrap();
    let mut a = connect(server.addr).await;
    let mut b = connect(server.addr).await;
    subscribe(&mut a, &["room"]).await;
    subscribe(&mut b, &["room"]).await;
    let mut idle = TcpStream::connect(server.addr).await.unwrap();
    // The cap counts connections, not requests: a fourth is answered 503 and closed.
    let mut refused = TcpStream::connect(server.addr).await.unwrap();
    let _ = refused
        .write_all(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        .await;
    let answer = read_until_closed(&mut refused, WAIT).await.unwrap();
    let answer = String::from_utf8_lossy(&answer);
    assert!(
        answer.is_empty() || answer.starts_with("HTTP/1.1 503"),
        "{answer}"
    );
    // Those already in go on.
    send(
        &mut a,
        serde_json::json!({"type": "publish", "topic": "room", "data": 1}),
    )
    .await;
    assert_eq!(recv(&mut b).await["clients"], 2);
    assert_eq!(recv(&mut a).await["clients"], 2, "its own publish, echoed");
    sync(&mut a).await;
    // Once one leaves, there is room again.
    idle.shutdown().await.unwrap();
    drop(idle);
    let deadline = Instant::now() + WAIT;
    loop {
        let mut next = raw_websocket_or_refused(server.addr).await;
        if let Some(stream) = next.as_mut() {
            raw_ping(stream).await;
            break;
        }
        assert!(
            Instant::now() < deadline,
            "no room after a connection closed"
        );
        sleep(Duration::from_millis(50)).await;
    }
}

const IDLE_CLIENTS: usize = 2000;
/// y-webrtc's server holds 6.5–11 KB per idle WebSocket; with tungstenite's default 128 KiB
/// read buffer ours held 132 KB.
const MAX_KIB_PER_IDLE_CLIENT: u64 = 32;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_idle_websocket_holds_little_memory() {
    let server = start_binary(&args(&["--no-store"])).unwrap();
    let pid = server.pid();
    // One-time costs (threads, the hub, first allocations) before the count starts.
    let mut warm = join_all((0..50).map(|_| raw_websocket(server.addr))).await;
    raw_ping(&mut warm[0]).await;
    let before = settled_rss_kib(pid).await;
    let mut clients = Vec::with_capacity(IDLE_CLIENTS);
    while clients.len() < IDLE_CLIENTS {
        let batch = (IDLE_CLIENTS - clients.len()).min(100);
        clients.extend(join_all((0..batch).map(|_| raw_websocket(server.addr))).await);
    }
    raw_ping(clients.last_mut().unwrap()).await;
    let after = settled_rss_kib(pid).await;
    let per_client = after.saturating_sub(before) as f64 / IDLE_CLIENTS as f64;
    println!(
        "server RSS {before} KiB -> {after} KiB with {IDLE_CLIENTS} idle WebSockets: \
         {per_client:.1} KiB each"
    );
    assert!(
        per_client < MAX_KIB_PER_IDLE_CLIENT as f64,
        "{per_client:.1} KiB per idle WebSocket"
    );
    raw_ping(&mut clients[0]).await;
}

/// The address a socket of this process has, from `getsockname` or `getpeername`.
fn socket_address(
    fd: RawFd,
    get: unsafe extern "C" fn(
        libc::c_int,
        *mut libc::sockaddr,
        *mut libc::socklen_t,
    ) -> libc::c_int,
) -> Option<SocketAddr> {
    // SAFETY: a zeroed sockaddr_in is valid, and `get` writes at most `len` bytes into it.
    let mut addr: libc::sockaddr_in = unsafe { std::mem::zeroed() };
    let mut len = std::mem::size_of::<libc::sockaddr_in>() as libc::socklen_t;
    let got = unsafe { get(fd, (&mut addr as *mut libc::sockaddr_in).cast(), &mut len) };
    if got != 0 || i32::from(addr.sin_family) != libc::AF_INET {
        return None;
    }
    let ip = Ipv4Addr::from(u32::from_be(addr.sin_addr.s_addr));
    Some(SocketAddr::V4(SocketAddrV4::new(
        ip,
        u16::from_be(addr.sin_port),
    )))
}

/// Whether the server (in this process) set `TCP_NODELAY` on the socket it accepted from
/// `client`: the socket is found among this process's descriptors by its two addresses.
fn server_side_nodelay(server: SocketAddr, client: SocketAddr) -> Option<bool> {
    for entry in std::fs::read_dir("/proc/self/fd").ok()? {
        let Some(fd) = entry
            .ok()
            .and_then(|e| e.file_name().to_str()?.parse::<RawFd>().ok())
        else {
            continue;
        };
        if socket_address(fd, libc::getsockname) != Some(server)
            || socket_address(fd, libc::getpeername) != Some(client)
        {
            continue;
        }
        let mut on: libc::c_int = 0;
        let mut len = std::mem::size_of::<libc::c_int>() as libc::socklen_t;
        // SAFETY: reads one int option into `on`.
        let got = unsafe {
            libc::getsockopt(
                fd,
                libc::IPPROTO_TCP,
                libc::TCP_NODELAY,
                (&mut on as *mut libc::c_int).cast(),
                &mut len,
            )
        };
        return (got == 0).then_some(on != 0);
    }
    None
}

/// Waits for the server to have accepted `client`'s connection, then reads its option.
async fn accepted_with_nodelay(server: SocketAddr, client: SocketAddr) -> bool {
    let deadline = Instant::now() + WAIT;
    loop {
        if let Some(nodelay) = server_side_nodelay(server, client) {
            // The accept loop sets the option right after accepting: give it a moment.
            sleep(Duration::from_millis(100)).await;
            return server_side_nodelay(server, client).unwrap_or(nodelay);
        }
        assert!(
            Instant::now() < deadline,
            "the server never accepted {client}"
        );
        sleep(Duration::from_millis(10)).await;
    }
}

/// Without `TCP_NODELAY` a small frame written while another is unacknowledged waits for the
/// client's delayed ack (up to 40 ms on Linux): the load test's fan-out p50 went from 13.4 ms
/// to 1.2 ms with it. Read from the server's own sockets rather than timed: a latency test
/// would be flaky on a loaded machine, this one is exact.
#[tokio::test]
async fn accepted_sockets_have_nodelay_over_http_and_https() {
    let server = signaling().await;
    let mut ws = connect(server.addr).await;
    sync(&mut ws).await;
    let MaybeTlsStream::Plain(stream) = ws.get_ref() else {
        unreachable!()
    };
    let client = stream.local_addr().unwrap();
    assert!(
        accepted_with_nodelay(server.addr, client).await,
        "plain HTTP"
    );

    let dir = temp_dir("nodelay-tls");
    std::fs::create_dir_all(&dir).unwrap();
    let cert = rcgen::generate_simple_self_signed(vec!["localhost".into()]).unwrap();
    std::fs::write(dir.join("cert.pem"), cert.cert.pem()).unwrap();
    std::fs::write(dir.join("key.pem"), cert.key_pair.serialize_pem()).unwrap();
    let mut options = Options::new(temp_dir("no-dist"));
    options.tls = Some(tls_acceptor(&dir.join("cert.pem"), &dir.join("key.pem")).unwrap());
    let tls_server = start(options).await;
    let stream = TcpStream::connect(tls_server.addr).await.unwrap();
    let client = stream.local_addr().unwrap();
    assert!(
        accepted_with_nodelay(tls_server.addr, client).await,
        "HTTPS"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}
