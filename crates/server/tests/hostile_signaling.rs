//! Hostile signaling clients against the real binary: each does its worst while well-behaved
//! clients keep exchanging publishes, and each test checks that those lose nothing, that the
//! server's memory (its VmRSS) stays bounded and that `/metrics` shows only what is left.
//!
//! - one client subscribing to 100,000 topics, in one frame and in 100,000;
//! - many clients filling the server's topics up to `--max-topics`;
//! - thousands of WebSockets opened, subscribed and reset (TCP RST, or closed with no close
//!   frame, or cut off in the middle of a frame);
//! - deeply nested JSON (serde_json stops at 128 levels), binary frames (read as text, as
//!   y-webrtc's server does), fragmented messages past the size limit, a frame header
//!   announcing a terabyte, a continuation that continues nothing.
//!
//! `HOSTILE_CHURN=n` sets how many connections the churn test resets (default 5,000).

mod common;

use common::http::Http;
use common::metrics::*;
use common::room::*;
use common::*;
use futures_util::SinkExt;
use serde_json::json;
use std::ffi::OsStr;
use std::net::SocketAddr;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::time::{sleep, timeout, Instant};
use tokio_tungstenite::tungstenite::protocol::frame::coding::{Data, OpCode};
use tokio_tungstenite::tungstenite::protocol::frame::Frame;
use tokio_tungstenite::tungstenite::Message;

fn binary(extra: &[&str]) -> Running {
    let mut args = vec![OsStr::new("--no-store"), OsStr::new("--metrics")];
    args.extend(extra.iter().map(OsStr::new));
    start_binary(&args).unwrap()
}

/// How much the server's memory may grow across a test, once settled.
const RSS_GROWTH_KIB: u64 = 16 * 1024;

async fn scrape_binary(addr: SocketAddr) -> Scrape {
    scrape(&mut Http::connect(addr).await).await
}

/// Scrapes until `check` accepts a scrape, or fails with the last one.
async fn until_metrics(addr: SocketAddr, what: &str, check: impl Fn(&Scrape) -> bool) -> Scrape {
    let deadline = Instant::now() + WAIT * 2;
    loop {
        let scraped = scrape_binary(addr).await;
        if check(&scraped) {
            return scraped;
        }
        assert!(Instant::now() < deadline, "{what}:\n{}", scraped.text);
        sleep(Duration::from_millis(100)).await;
    }
}

fn dropped(scrape: &Scrape, reason: &str) -> f64 {
    scrape.get(
        "commonplace_signal_frames_dropped_total",
        &[("reason", reason)],
    )
}

fn topics(scrape: &Scrape) -> f64 {
    scrape.get("commonplace_signal_topics", &[])
}

/// The lines of the server's log about rejected frames.
fn rejected_lines(log: &str) -> Vec<&str> {
    log.lines().filter(|l| l.contains("rejected")).collect()
}

// ---------------------------------------------------------------------------------------------

const MANY_TOPICS: usize = 100_000;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_subscribing_to_100000_topics_holds_64_and_others_are_served() {
    let server = binary(&[]);
    let pid = server.pid();
    let room = room(server.addr, 3, Duration::from_millis(10)).await;
    let before = settled_rss_kib(pid).await;

    // In one frame: 100,000 names are over the 256 KiB message limit, which closes it (1009).
    let mut hostile = connect(server.addr).await;
    let names: Vec<String> = (0..MANY_TOPICS).map(|i| i.to_string()).collect();
    send(&mut hostile, json!({"type": "subscribe", "topics": names})).await;
    assert_eq!(closed(&mut hostile).await, Some(1009));
    // As many as fit in one frame (30,000): refused whole, and the connection stays.
    let mut hostile = connect(server.addr).await;
    send(
        &mut hostile,
        json!({"type": "subscribe", "topics": &names[..30_000]}),
    )
    .await;
    sync(&mut hostile).await;
    let scraped = scrape_binary(server.addr).await;
    assert_eq!(topics(&scraped), 1.0, "nothing of it subscribed");
    assert_eq!(dropped(&scraped, "too_many_topics"), 1.0);

    // In 100,000 frames of one topic each, as fast as it can: the first 64 hold.
    let started = Instant::now();
    for name in &names {
        let frame = json!({"type": "subscribe", "topics": [name]}).to_string();
        hostile.feed(Message::text(frame)).await.unwrap();
    }
    hostile.flush().await.unwrap();
    timeout(WAIT * 6, sync(&mut hostile))
        .await
        .expect("100,000 subscribes not read within a minute");
    let elapsed = started.elapsed();
    let scraped = scrape_binary(server.addr).await;
    assert_eq!(topics(&scraped), 65.0, "its 64 and the room");
    let refused = (MANY_TOPICS - 64) as f64 + 1.0;
    assert_eq!(dropped(&scraped, "too_many_topics"), refused);

    let rounds = room.stop().await;
    let after = settled_rss_kib(pid).await;
    drop(hostile);
    let log = server.stop();
    let lines = rejected_lines(&log);
    println!(
        "100,000 subscribes read in {elapsed:?}; the room published {rounds} rounds meanwhile; \
         RSS {before} -> {after} KiB; {} log lines about rejected frames, {} bytes of log",
        lines.len(),
        log.len()
    );
    assert!(lines.len() <= 3, "{lines:#?}");
    assert!(log.len() < 64 * 1024, "{} bytes of log", log.len());
    assert!(
        after < before + RSS_GROWTH_KIB,
        "RSS {before} -> {after} KiB"
    );
}

// ---------------------------------------------------------------------------------------------

const MAX_TOPICS: usize = 1000;

async fn published_to_self(ws: &mut Ws, topic: &str) -> bool {
    send(
        ws,
        json!({"type": "publish", "topic": topic, "data": "echo?"}),
    )
    .await;
    send(ws, json!({"type": "ping"})).await;
    let first = recv(ws).await;
    if first["type"] == "pong" {
        return false;
    }
    assert_eq!(first["data"], "echo?", "{first}");
    assert_eq!(recv(ws).await["type"], "pong");
    true
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn past_max_topics_no_new_topic_is_made_and_rooms_that_exist_go_on() {
    let server = binary(&["--max-topics", &MAX_TOPICS.to_string()]);
    let scraped = scrape_binary(server.addr).await;
    assert_eq!(
        scraped.get("commonplace_signal_topics_max", &[]),
        MAX_TOPICS as f64
    );
    let room = room(server.addr, 3, Duration::from_millis(20)).await;
    // 15 connections of 64 topics each, and the room: 961 topics.
    let mut hogs = Vec::new();
    for hog in 0..15 {
        let mut ws = connect(server.addr).await;
        let names: Vec<String> = (0..64).map(|i| format!("hog-{hog}-{i}")).collect();
        let names: Vec<&str> = names.iter().map(String::as_str).collect();
        subscribe(&mut ws, &names).await;
        hogs.push(ws);
    }
    // A 16th would make 1,025: refused whole. 39 more make exactly 1,000.
    let mut last = connect(server.addr).await;
    let names: Vec<String> = (0..64).map(|i| format!("hog-15-{i}")).collect();
    let names: Vec<&str> = names.iter().map(String::as_str).collect();
    subscribe(&mut last, &names).await;
    assert!(!published_to_self(&mut last, "hog-15-0").await);
    subscribe(&mut last, &names[..39]).await;
    assert!(published_to_self(&mut last, "hog-15-38").await);
    let scraped = scrape_binary(server.addr).await;
    assert_eq!(topics(&scraped), MAX_TOPICS as f64);
    assert_eq!(dropped(&scraped, "too_many_topics_overall"), 1.0);

    // Full: a newcomer cannot make a room, but can join the ones that exist, and be heard there.
    let mut newcomer = connect(server.addr).await;
    subscribe(&mut newcomer, &["a-new-room"]).await;
    assert!(!published_to_self(&mut newcomer, "a-new-room").await);
    subscribe(&mut newcomer, &["hog-3-7", "another-new-room"]).await;
    assert!(
        !published_to_self(&mut newcomer, "hog-3-7").await,
        "refused whole"
    );
    subscribe(&mut newcomer, &["hog-3-7"]).await;
    send(
        &mut hogs[3],
        json!({"type": "publish", "topic": "hog-3-7", "data": 1}),
    )
    .await;
    let heard = recv(&mut newcomer).await;
    assert_eq!(
        (heard["data"].clone(), heard["clients"].clone()),
        (json!(1), json!(2))
    );
    let scraped = scrape_binary(server.addr).await;
    assert_eq!(dropped(&scraped, "too_many_topics_overall"), 3.0);
    assert_eq!(topics(&scraped), MAX_TOPICS as f64);

    // Once the hogs leave, their topics are gone and new rooms can be made again.
    drop(hogs);
    drop(last);
    until_metrics(server.addr, "the hogs' topics freed", |s| topics(s) == 2.0).await;
    subscribe(&mut newcomer, &["a-new-room"]).await;
    assert!(published_to_self(&mut newcomer, "a-new-room").await);
    let rounds = room.stop().await;
    println!("the room published {rounds} rounds meanwhile, every one delivered");
    let log = server.stop();
    let lines: Vec<&str> = log.lines().filter(|l| l.contains("--max-topics")).collect();
    assert_eq!(
        lines.len(),
        1,
        "one line per 10 s, whatever connection: {lines:#?}"
    );
}

// ---------------------------------------------------------------------------------------------

/// A masked (with a zero key) WebSocket frame, as a client sends it.
fn client_frame(opcode: u8, fin: bool, payload: &[u8]) -> Vec<u8> {
    let mut frame = vec![if fin { 0x80 } else { 0 } | opcode];
    match payload.len() {
        len @ 0..=125 => frame.push(0x80 | len as u8),
        len @ 126..=0xffff => {
            frame.push(0x80 | 126);
            frame.extend_from_slice(&(len as u16).to_be_bytes());
        }
        len => {
            frame.push(0x80 | 127);
            frame.extend_from_slice(&(len as u64).to_be_bytes());
        }
    }
    frame.extend_from_slice(&[0; 4]);
    frame.extend_from_slice(payload);
    frame
}

/// How one churning connection ends.
#[derive(Clone, Copy, Debug)]
enum Ending {
    /// SO_LINGER 0, then closed: the kernel sends a reset.
    Reset,
    /// Closed without a close frame (a FIN).
    NoCloseFrame,
    /// Half a frame written, then reset.
    ResetMidFrame,
}

async fn churn_one(addr: SocketAddr, i: usize) -> bool {
    let Some(mut stream) = raw_websocket_or_refused(addr).await else {
        return false;
    };
    let topics: Vec<String> = (0..3).map(|k| format!("churn-{}-{k}", i % 500)).collect();
    let subscribe = json!({"type": "subscribe", "topics": topics}).to_string();
    if stream
        .write_all(&client_frame(1, true, subscribe.as_bytes()))
        .await
        .is_err()
    {
        return false;
    }
    // Most wait until the server has subscribed them; the others go at once.
    if !i.is_multiple_of(4) {
        raw_ping(&mut stream).await;
    }
    let ending = [Ending::Reset, Ending::NoCloseFrame, Ending::ResetMidFrame][i % 3];
    match ending {
        Ending::Reset => {}
        Ending::NoCloseFrame => {
            let _ = stream.shutdown().await;
            let mut rest = Vec::new();
            let _ = timeout(WAIT, stream.read_to_end(&mut rest)).await;
            return true;
        }
        Ending::ResetMidFrame => {
            let publish = json!({"type": "publish", "topic": ROOM, "data": "x".repeat(1000)});
            let frame = client_frame(1, true, publish.to_string().as_bytes());
            let _ = stream.write_all(&frame[..frame.len() / 2]).await;
        }
    }
    stream.set_zero_linger().unwrap();
    drop(stream);
    true
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn thousands_of_connections_reset_leave_nothing_behind() {
    let churn: usize = std::env::var("HOSTILE_CHURN")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(5_000);
    let server = binary(&[]);
    let pid = server.pid();
    // One-time costs first (threads, buffers, the hub's maps), as `connections.rs` does.
    for i in 0..200 {
        churn_one(server.addr, i).await;
    }
    let room = room(server.addr, 3, Duration::from_millis(5)).await;
    until_metrics(server.addr, "warm-up connections gone", |s| {
        s.get("commonplace_websockets_open", &[]) == 3.0
    })
    .await;
    let before = settled_rss_kib(pid).await;

    let started = Instant::now();
    let mut done = 0;
    let mut peak = 0;
    let batch = 50;
    for first in (0..churn).step_by(batch) {
        let tasks: Vec<_> = (first..(first + batch).min(churn))
            .map(|i| tokio::spawn(churn_one(server.addr, i)))
            .collect();
        for task in tasks {
            done += usize::from(task.await.unwrap());
        }
        if first % 1000 == 0 {
            peak = peak.max(vm_rss_kib(pid));
        }
    }
    let churned = started.elapsed();
    assert_eq!(done, churn, "every connection was accepted");

    let scraped = until_metrics(server.addr, "back to the room alone", |s| {
        s.get("commonplace_websockets_open", &[]) == 3.0
            && topics(s) == 1.0
            // The room's three, and this scrape's.
            && s.get("commonplace_connections_open", &[]) == 4.0
    })
    .await;
    let rounds = room.stop().await;
    let after = settled_rss_kib(pid).await;
    let closed = |reason: &str| {
        scraped.get(
            "commonplace_connections_closed_total",
            &[("reason", reason)],
        )
    };
    println!(
        "{churn} connections opened, subscribed and reset in {churned:?}; the room published \
         {rounds} rounds meanwhile, every one delivered; RSS {before} KiB before, {peak} KiB at \
         most during, {after} KiB after; closed as read_error {}, protocol_error {}, \
         client_closed {}",
        closed("read_error"),
        closed("protocol_error"),
        closed("client_closed")
    );
    assert!(
        after < before + RSS_GROWTH_KIB,
        "RSS {before} -> {after} KiB"
    );
}

// ---------------------------------------------------------------------------------------------

/// Reads raw frames from the server until a close frame (its code) or the end (`None`).
async fn raw_close_code(stream: &mut TcpStream) -> Option<u16> {
    let mut got = Vec::new();
    let _ = timeout(WAIT, stream.read_to_end(&mut got)).await;
    let mut at = 0;
    while at + 2 <= got.len() {
        let (opcode, len) = (got[at] & 0x0f, (got[at + 1] & 0x7f) as usize);
        let (header, len) = match len {
            126 => (4, u16::from_be_bytes([got[at + 2], got[at + 3]]) as usize),
            127 => return None,
            len => (2, len),
        };
        if opcode == 8 && len >= 2 {
            return Some(u16::from_be_bytes([got[at + header], got[at + header + 1]]));
        }
        at += header + len;
    }
    None
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nested_binary_and_fragmented_frames_are_dropped_or_closed_and_others_served() {
    let server = binary(&[]);
    let pid = server.pid();
    let room = room(server.addr, 3, Duration::from_millis(10)).await;
    let before_rss = settled_rss_kib(pid).await;
    let before = scrape_binary(server.addr).await;
    let mut client = connect(server.addr).await;
    let mut listener = connect(server.addr).await;
    subscribe(&mut client, &["deep"]).await;
    subscribe(&mut listener, &["deep"]).await;

    // Nested far past serde_json's 128 levels: not JSON as far as the hub goes, ignored; the
    // parser gives up at depth 128 and the stack never sees the rest.
    let deep_list = "[".repeat(100_000);
    let deep_object = r#"{"a":"#.repeat(50_000);
    let deep_data = format!(
        r#"{{"type":"publish","topic":"deep","data":{}{}}}"#,
        "[".repeat(100_000),
        "]".repeat(100_000)
    );
    for text in [&deep_list, &deep_object, &deep_data] {
        assert!(text.len() < 256 * 1024);
        client.send(Message::text(text.as_str())).await.unwrap();
    }
    // Binary frames are read as text, as y-webrtc's server reads them: the same parser, the same
    // limits; not UTF-8, ignored.
    client
        .send(Message::binary(deep_list.clone().into_bytes()))
        .await
        .unwrap();
    client
        .send(Message::binary(vec![0xc0, 0xff, 0x00]))
        .await
        .unwrap();
    sync(&mut client).await;
    client
        .send(Message::binary(br#"{"type":"ping"}"#.to_vec()))
        .await
        .unwrap();
    assert_eq!(recv(&mut client).await, json!({"type": "pong"}));
    // Nothing of the deep publish reached the listener: its next frame is its own pong.
    sync(&mut listener).await;
    // Nesting below the limit is relayed whole, as any publish is.
    let nested = (0..100).fold(json!("core"), |inner, _| json!([inner]));
    send(
        &mut client,
        json!({"type": "publish", "topic": "deep", "data": nested.clone()}),
    )
    .await;
    assert_eq!(recv(&mut listener).await["data"], nested);
    assert_eq!(recv(&mut client).await["data"], nested, "its own, echoed");
    let scraped = scrape_binary(server.addr).await;
    let moved = |reason| dropped(&scraped, reason) - dropped(&before, reason);
    assert_eq!((moved("malformed"), moved("not_utf8")), (4.0, 1.0));

    // A message in fragments, each small, that never ends: closed once it passes 256 KiB.
    let mut fragments = connect(server.addr).await;
    let piece = vec![b' '; 8 * 1024];
    let first = Frame::message(
        b"{\"type\":\"ping\"".to_vec(),
        OpCode::Data(Data::Text),
        false,
    );
    fragments.send(Message::Frame(first)).await.unwrap();
    for _ in 0..40 {
        let more = Frame::message(piece.clone(), OpCode::Data(Data::Continue), false);
        if fragments.send(Message::Frame(more)).await.is_err() {
            break;
        }
    }
    let code = closed(&mut fragments).await;
    assert_eq!(code, Some(1009), "fragments past the message limit");
    // Fragments within it make one message like any other.
    let mut fragments = connect(server.addr).await;
    for (i, part) in [&b"{\"type\""[..], b":\"pi", b"ng\"}"]
        .into_iter()
        .enumerate()
    {
        let opcode = if i == 0 {
            OpCode::Data(Data::Text)
        } else {
            OpCode::Data(Data::Continue)
        };
        let frame = Frame::message(part.to_vec(), opcode, i == 2);
        fragments.send(Message::Frame(frame)).await.unwrap();
    }
    assert_eq!(recv(&mut fragments).await, json!({"type": "pong"}));
    // A continuation of nothing: a protocol error (1002).
    let mut stray = raw_websocket(server.addr).await;
    stray
        .write_all(&client_frame(0, true, b"]}"))
        .await
        .unwrap();
    assert_eq!(raw_close_code(&mut stray).await, Some(1002));
    // A frame header announcing a terabyte: refused from the header (1009), nothing allocated.
    let mut huge = raw_websocket(server.addr).await;
    let mut header = vec![0x81, 0x80 | 127];
    header.extend_from_slice(&(1u64 << 40).to_be_bytes());
    header.extend_from_slice(&[0; 4]);
    huge.write_all(&header).await.unwrap();
    huge.write_all(&[b'['; 4096]).await.unwrap();
    assert_eq!(raw_close_code(&mut huge).await, Some(1009));

    sync(&mut client).await;
    let rounds = room.stop().await;
    let after_rss = settled_rss_kib(pid).await;
    println!("the room published {rounds} rounds meanwhile; RSS {before_rss} -> {after_rss} KiB");
    assert!(after_rss < before_rss + RSS_GROWTH_KIB);
    server.stop();
}
