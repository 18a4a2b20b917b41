//! One client bursting publishes into a busy topic is slowed down; the topic's subscribers,
//! reading at their own pace (a phone on a slow link), are never disconnected because of
//! someone else's burst.

mod common;

use common::*;
use futures_util::stream::SplitStream;
use futures_util::{SinkExt, StreamExt};
use serde_json::json;
use std::ffi::OsStr;
use std::net::SocketAddr;
use std::time::Duration;
use tokio::net::TcpSocket;
use tokio::sync::mpsc;
use tokio::time::{sleep_until, timeout, timeout_at, Instant};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{client_async, MaybeTlsStream};

const SUBSCRIBERS: usize = 50;
/// How long the publisher bursts: at the default 1 MiB/s after a 4 MiB burst, long enough to
/// put over 8 MiB (the default --client-queue) in front of a subscriber that reads slower.
const BURST_FOR: Duration = Duration::from_secs(6);
/// How fast each subscriber reads: about a 1 Mbit/s link.
const READ_BYTES_PER_SEC: usize = 100 * 1024;
/// For every subscriber to read what it was sent and answer a ping.
const CATCH_UP: Duration = Duration::from_secs(60);

/// How a subscriber's connection went: frames read, and how it ended if it did.
struct Read {
    frames: usize,
    ended: Option<String>,
}

/// A subscriber whose kernel holds little of what is sent to it, so that what it has not read
/// yet waits in the server's queue for it (autotuned, the socket could hold megabytes).
async fn slow_link(addr: SocketAddr) -> Ws {
    let socket = TcpSocket::new_v4().unwrap();
    socket.set_recv_buffer_size(32 * 1024).unwrap();
    let stream = socket.connect(addr).await.unwrap();
    let url = format!("ws://{addr}/signal");
    let connected = client_async(url, MaybeTlsStream::Plain(stream));
    timeout(WAIT, connected).await.unwrap().unwrap().0
}

/// Reads everything at [`READ_BYTES_PER_SEC`], handing pongs to the test; returns when the
/// connection ends.
async fn read_all(mut stream: SplitStream<Ws>, pongs: mpsc::UnboundedSender<()>) -> Read {
    let started = Instant::now();
    let mut bytes = 0;
    let mut frames = 0;
    let ended = loop {
        let due = started + Duration::from_secs_f64(bytes as f64 / READ_BYTES_PER_SEC as f64);
        sleep_until(due).await;
        match stream.next().await {
            Some(Ok(Message::Text(text))) => {
                bytes += text.len();
                if text.len() < 32 && text.contains("pong") {
                    let _ = pongs.send(());
                } else {
                    frames += 1;
                }
            }
            Some(Ok(Message::Close(frame))) => break format!("closed: {frame:?}"),
            Some(Ok(_)) => {}
            Some(Err(e)) => break format!("failed: {e}"),
            None => break "ended".to_string(),
        }
    };
    Read {
        frames,
        ended: Some(ended),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bursting_publisher_does_not_get_the_subscribers_disconnected() {
    let server = start_binary(&[OsStr::new("--no-store")]).unwrap();
    let mut subscribers = Vec::new();
    for _ in 0..SUBSCRIBERS {
        let mut ws = slow_link(server.addr).await;
        subscribe(&mut ws, &["room"]).await;
        let (tx, rx) = ws.split();
        let (pong_tx, pong_rx) = mpsc::unbounded_channel();
        subscribers.push((tx, pong_rx, tokio::spawn(read_all(rx, pong_tx))));
    }
    // It need not even subscribe to publish.
    let mut publisher = connect(server.addr).await;
    let frame = json!({"type": "publish", "topic": "room", "data": "x".repeat(1000)}).to_string();
    let until = Instant::now() + BURST_FOR;
    let mut sent = 0usize;
    while let Ok(result) = timeout_at(until, publisher.send(Message::text(frame.clone()))).await {
        result.unwrap();
        sent += 1;
    }

    let deadline = Instant::now() + CATCH_UP;
    let mut disconnected = Vec::new();
    let mut frames = Vec::new();
    for (i, (mut tx, mut pongs, reader)) in subscribers.into_iter().enumerate() {
        let ping = Message::text(json!({"type": "ping"}).to_string());
        let answered = match tx.send(ping).await {
            Ok(()) => timeout_at(deadline, pongs.recv())
                .await
                .ok()
                .flatten()
                .is_some(),
            Err(_) => false,
        };
        if answered {
            let _ = tx.close().await;
        }
        match timeout(WAIT, reader).await {
            Ok(Ok(read)) => {
                frames.push(read.frames);
                if !answered {
                    let why = read.ended.unwrap_or_default();
                    disconnected.push(format!(
                        "subscriber {i} after {} frames: {why}",
                        read.frames
                    ));
                }
            }
            _ => disconnected.push(format!("subscriber {i}: no answer in time")),
        }
    }
    let least = frames.iter().min().copied().unwrap_or_default();
    println!(
        "publisher sent {sent} frames of 1 KB in {BURST_FOR:?}; each subscriber read at least \
         {least}; {} of {SUBSCRIBERS} disconnected",
        disconnected.len()
    );
    assert!(disconnected.is_empty(), "{disconnected:#?}");
    // Slowed, not cut off: it is still connected and answered.
    sync(&mut publisher).await;
}
