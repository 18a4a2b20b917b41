//! The real server on 127.0.0.1, driven by WebSocket and HTTP clients.

mod common;

use common::*;
use commonplace_server::Options;
use futures_util::{SinkExt, StreamExt};
use serde_json::{json, Value};
use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::process::{Command, Stdio};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::time::{sleep, timeout};
use tokio_tungstenite::tungstenite::protocol::frame::coding::{Data, OpCode};
use tokio_tungstenite::tungstenite::protocol::frame::Frame;
use tokio_tungstenite::tungstenite::Message;

#[tokio::test]
async fn publish_reaches_all_subscribers_with_clients_count() {
    let server = signaling().await;
    let (mut a, mut b) = (connect(server.addr).await, connect(server.addr).await);
    subscribe(&mut a, &["room"]).await;
    subscribe(&mut b, &["room"]).await;
    let message = json!({"type": "publish", "topic": "room", "extra": [1, "two"],
        "data": {"type": "announce", "from": "peer-a"}});
    send(&mut a, message.clone()).await;
    let mut expected = message;
    expected["clients"] = json!(2);
    assert_eq!(recv(&mut a).await, expected);
    assert_eq!(recv(&mut b).await, expected);
    // Encrypted rooms publish a string as data.
    send(
        &mut b,
        json!({"type": "publish", "topic": "room", "data": "c2VjcmV0"}),
    )
    .await;
    assert_eq!(recv(&mut a).await["data"], "c2VjcmV0");
}

#[tokio::test]
async fn ping_gets_pong() {
    let server = signaling().await;
    let mut ws = connect(server.addr).await;
    sync(&mut ws).await;
}

#[tokio::test]
async fn malformed_frames_are_ignored() {
    let server = signaling().await;
    let mut ws = connect(server.addr).await;
    for junk in [
        "",
        "{",
        "[1]",
        "null",
        r#"{"type":"shout"}"#,
        r#"{"topics":["r"]}"#,
        r#"{"type":"publish","data":1}"#,
        r#"{"type":"subscribe","topics":"room"}"#,
    ] {
        ws.send(Message::text(junk)).await.unwrap();
    }
    ws.send(Message::binary(vec![0xff, 0xfe])).await.unwrap();
    sync(&mut ws).await;
    // server.js reads binary frames as text too.
    ws.send(Message::binary(r#"{"type":"ping"}"#.as_bytes().to_vec()))
        .await
        .unwrap();
    assert_eq!(recv(&mut ws).await, json!({"type": "pong"}));
}

#[tokio::test]
async fn unsubscribe_stops_delivery() {
    let server = signaling().await;
    let (mut a, mut b) = (connect(server.addr).await, connect(server.addr).await);
    subscribe(&mut a, &["room"]).await;
    subscribe(&mut b, &["room"]).await;
    send(&mut a, json!({"type": "unsubscribe", "topics": ["room"]})).await;
    sync(&mut a).await;
    send(
        &mut b,
        json!({"type": "publish", "topic": "room", "data": 1}),
    )
    .await;
    assert_eq!(recv(&mut b).await["clients"], 1);
    // Nothing reached a: its next frame is the pong.
    sync(&mut a).await;
}

#[tokio::test]
async fn closed_connection_leaves_its_topics() {
    let server = signaling().await;
    let (mut a, mut b) = (connect(server.addr).await, connect(server.addr).await);
    subscribe(&mut a, &["room"]).await;
    subscribe(&mut b, &["room"]).await;
    a.close(None).await.unwrap();
    // The server drops a's subscription once it has seen the close; poll until it has.
    for _ in 0..100 {
        send(
            &mut b,
            json!({"type": "publish", "topic": "room", "data": 1}),
        )
        .await;
        if recv(&mut b).await["clients"] == 1 {
            return;
        }
        sleep(Duration::from_millis(20)).await;
    }
    panic!("a is still subscribed");
}

#[tokio::test]
async fn oversize_frame_closes_only_that_connection() {
    let server = signaling().await;
    let (mut big, mut other) = (connect(server.addr).await, connect(server.addr).await);
    subscribe(&mut big, &["room"]).await;
    subscribe(&mut other, &["room"]).await;
    let data = "x".repeat(256 * 1024);
    send(
        &mut big,
        json!({"type": "publish", "topic": "room", "data": data}),
    )
    .await;
    assert_eq!(closed(&mut big).await, Some(1009), "message too big");
    sync(&mut other).await;
    // Just under the limit passes.
    let data = "x".repeat(200 * 1024);
    send(
        &mut other,
        json!({"type": "publish", "topic": "room", "data": data}),
    )
    .await;
    assert_eq!(recv(&mut other).await["clients"], 1);
}

#[tokio::test]
async fn invalid_utf8_in_a_text_frame_closes_with_1007() {
    let server = signaling().await;
    let (mut bad, mut other) = (connect(server.addr).await, connect(server.addr).await);
    let text = vec![b'{', 0xff, 0xfe, b'}'];
    let frame = Frame::message(text, OpCode::Data(Data::Text), true);
    bad.send(Message::Frame(frame)).await.unwrap();
    let (code, reason) = closed_with_reason(&mut bad).await.expect("a close frame");
    assert_eq!(
        code, 1007,
        "RFC 6455: invalid frame payload data ({reason})"
    );
    sync(&mut other).await;
}

#[tokio::test]
async fn a_ten_megabyte_publish_is_closed_cleanly_with_1009_and_others_go_on() {
    let server = signaling().await;
    let (mut big, mut other) = (connect(server.addr).await, connect(server.addr).await);
    subscribe(&mut big, &["room"]).await;
    subscribe(&mut other, &["room"]).await;
    let data = "x".repeat(10 << 20);
    let publish = json!({"type": "publish", "topic": "room", "data": data}).to_string();
    // The server reads the rest of it and throws it away, so the send completes and the close
    // frame is read, not lost to a reset connection.
    timeout(WAIT, big.send(Message::text(publish)))
        .await
        .expect("send stuck")
        .expect("the connection was reset");
    let (code, reason) = closed_with_reason(&mut big).await.expect("a close frame");
    assert_eq!(code, 1009, "message too big ({reason})");
    assert!(!reason.is_empty(), "the close frame says why");
    sync(&mut other).await;
    sync(&mut connect(server.addr).await).await;
}

#[tokio::test]
async fn sixty_fifth_topic_is_rejected() {
    let server = signaling().await;
    let (mut a, mut b) = (connect(server.addr).await, connect(server.addr).await);
    let topics: Vec<String> = (0..64).map(|i| format!("t{i}")).collect();
    let topics: Vec<&str> = topics.iter().map(String::as_str).collect();
    subscribe(&mut a, &topics).await;
    subscribe(&mut a, &["t64"]).await;
    subscribe(&mut b, &["t0", "t64"]).await;
    send(
        &mut b,
        json!({"type": "publish", "topic": "t64", "data": 1}),
    )
    .await;
    assert_eq!(recv(&mut b).await["clients"], 1);
    send(&mut b, json!({"type": "publish", "topic": "t0", "data": 2})).await;
    assert_eq!(
        recv(&mut a).await["clients"],
        2,
        "a keeps its 64 topics and its connection"
    );
}

#[tokio::test]
async fn silent_connection_is_closed_by_keepalive() {
    let mut options = Options::new(temp_dir("no-dist"));
    // `alive` must answer each ping within one interval: long enough for a loaded machine
    // (at 250 ms, a busy CI box now and then closed `alive` too).
    options.ping_interval = Duration::from_secs(1);
    let server = start(options).await;
    let (mut silent, mut alive) = (connect(server.addr).await, connect(server.addr).await);
    // Reading answers pings; `silent` reads nothing for several intervals.
    let until = tokio::time::Instant::now() + Duration::from_millis(3500);
    while let Ok(message) = tokio::time::timeout_at(until, alive.next()).await {
        assert!(matches!(message, Some(Ok(Message::Ping(_)))), "{message:?}");
    }
    assert_eq!(closed(&mut silent).await, None);
    sync(&mut alive).await;
}

#[tokio::test]
async fn slow_receiver_is_dropped() {
    let mut options = Options::new(temp_dir("no-dist"));
    options.client_queue = 256 * 1024;
    // Only the queue is under test: the publisher is not paced.
    options.client_rate = u64::MAX;
    let server = start(options).await;
    let (mut slow, fast) = (connect(server.addr).await, connect(server.addr).await);
    subscribe(&mut slow, &["room"]).await;
    let (mut fast_tx, mut fast_rx) = fast.split();
    fast_tx
        .send(Message::text(
            json!({"type": "subscribe", "topics": ["room"]}).to_string(),
        ))
        .await
        .unwrap();
    // `slow` reads nothing, so once the socket buffers are full its queue overflows.
    let publisher = tokio::spawn(async move {
        let frame =
            json!({"type": "publish", "topic": "room", "data": "x".repeat(64 * 1024)}).to_string();
        for _ in 0..1000 {
            if fast_tx.send(Message::text(frame.clone())).await.is_err() {
                break;
            }
        }
    });
    let dropped = async {
        while let Some(Ok(message)) = fast_rx.next().await {
            if let Message::Text(text) = message {
                if serde_json::from_str::<Value>(&text).unwrap()["clients"] == 1 {
                    return;
                }
            }
        }
        panic!("fast connection ended");
    };
    timeout(Duration::from_secs(30), dropped)
        .await
        .expect("slow receiver still subscribed");
    publisher.abort();
    // The close frame queues behind what `slow` did not read, so it rarely gets through.
    let code = timeout(Duration::from_secs(30), closed(&mut slow))
        .await
        .unwrap();
    assert!(matches!(code, None | Some(1008)), "{code:?}");
}

async fn http_get(addr: SocketAddr, path: &str, headers: &str) -> (u16, String, String) {
    let mut stream = TcpStream::connect(addr).await.unwrap();
    let request =
        format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n{headers}\r\n");
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut response = Vec::new();
    timeout(WAIT, stream.read_to_end(&mut response))
        .await
        .unwrap()
        .unwrap();
    let response = String::from_utf8_lossy(&response);
    let (head, body) = response.split_once("\r\n\r\n").unwrap();
    let status = head[9..12].parse().unwrap();
    (status, head.to_ascii_lowercase(), body.to_string())
}

#[tokio::test]
async fn serves_the_app_with_cache_headers_and_compression() {
    let dist = temp_dir("dist");
    std::fs::create_dir_all(&dist).unwrap();
    std::fs::write(
        dist.join("index.html"),
        "<!doctype html><title>Commonplace</title>",
    )
    .unwrap();
    std::fs::write(
        dist.join("commonplace-0123456789abcdef_bg.wasm"),
        vec![0u8; 4096],
    )
    .unwrap();
    let server = start(Options::new(&dist)).await;

    let (status, head, body) = http_get(server.addr, "/", "").await;
    assert_eq!(status, 200);
    assert!(head.contains("cache-control: no-cache"), "{head}");
    assert!(body.contains("<title>Commonplace</title>"));
    // Revalidated files are never "not modified" by date: seconds-resolution times and
    // deploys carrying old dates would otherwise pin an old sw.js.
    assert!(!head.contains("last-modified"), "{head}");
    let future = "If-Modified-Since: Fri, 01 Jan 2100 00:00:00 GMT\r\n";
    assert_eq!(http_get(server.addr, "/index.html", future).await.0, 200);

    let wasm = "/commonplace-0123456789abcdef_bg.wasm";
    // Compressed once, in the background, soon after the start.
    let mut tries = 0;
    let head = loop {
        let (status, head, _) = http_get(server.addr, wasm, "Accept-Encoding: br, gzip\r\n").await;
        assert_eq!(status, 200);
        assert!(
            head.contains("cache-control: public, max-age=31536000, immutable"),
            "{head}"
        );
        assert!(head.contains("vary: accept-encoding"), "{head}");
        if head.contains("content-encoding: br") || tries == 100 {
            break head;
        }
        tries += 1;
        sleep(Duration::from_millis(50)).await;
    };
    assert!(head.contains("content-encoding: br"), "{head}");
    let (_, head, _) = http_get(server.addr, wasm, "Accept-Encoding: gzip\r\n").await;
    assert!(head.contains("content-encoding: gzip"), "{head}");
    let (_, head, body) = http_get(server.addr, wasm, "").await;
    assert!(!head.contains("content-encoding"), "{head}");
    assert_eq!(body.len(), 4096);

    assert_eq!(http_get(server.addr, "/missing.js", "").await.0, 404);
    std::fs::remove_dir_all(&dist).unwrap();
}

#[tokio::test]
async fn unbuilt_app_is_a_clear_503_but_signaling_works() {
    let server = signaling().await;
    let (status, _, body) = http_get(server.addr, "/", "").await;
    assert_eq!(status, 503);
    assert!(body.contains("app not built"), "{body}");
    sync(&mut connect(server.addr).await).await;
}

#[tokio::test]
async fn binary_prints_its_address_and_exits_cleanly_on_sigterm() {
    let data = temp_dir("sigterm-data");
    let mut child = Command::new(env!("CARGO_BIN_EXE_commonplace-server"))
        .args(["--port", "0", "--dist"])
        .arg(temp_dir("no-dist"))
        .arg("--data")
        .arg(&data)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let (line_tx, line_rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut line = String::new();
        let _ = BufReader::new(stdout).read_line(&mut line);
        let _ = line_tx.send(line);
    });
    let line = line_rx.recv_timeout(WAIT);
    let addr = line.as_deref().ok().and_then(|line| {
        line.strip_prefix("Commonplace is running: open http://")?
            .strip_suffix("/\n")?
            .parse()
            .ok()
    });
    let Some(addr) = addr else {
        let _ = child.kill();
        panic!("unexpected first line: {line:?}");
    };

    let mut ws = connect(addr).await;
    sync(&mut ws).await;
    let killed = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    assert_eq!(
        closed(&mut ws).await,
        Some(1001),
        "clients are told the server is going away"
    );

    let deadline = std::time::Instant::now() + WAIT;
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if std::time::Instant::now() > deadline {
            let _ = child.kill();
            panic!("server did not exit after SIGTERM");
        }
        sleep(Duration::from_millis(20)).await;
    };
    assert_eq!(status.code(), Some(0));
    std::fs::remove_dir_all(data).unwrap();
}
