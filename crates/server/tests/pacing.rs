//! A client flooding the server (a relaying pair, or a hostile one) is paced at its byte budget
//! while everyone else keeps being served.

mod common;

use common::*;
use commonplace_server::Options;
use futures_util::stream::{SplitSink, SplitStream};
use futures_util::{SinkExt, StreamExt};
use serde_json::{json, Value};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpSocket;
use tokio::sync::mpsc;
use tokio::time::{timeout, Instant};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{client_async, MaybeTlsStream};

const RATE: u64 = 256 * 1024;
const BURST: u64 = 512 * 1024;
/// How long the flooder floods.
const WINDOW: Duration = Duration::from_secs(3);
/// Generous for a loaded machine, and still far less than waiting behind the flood would take.
const ROUND_TRIP: Duration = Duration::from_secs(2);

/// A client whose frames are read by a task: the flooder's frames are counted, the others
/// handed over.
struct Client {
    name: &'static str,
    tx: SplitSink<Ws, Message>,
    rx: mpsc::UnboundedReceiver<Value>,
    /// Frames from the flooder seen so far.
    flooded: Arc<AtomicUsize>,
}

async fn client(addr: SocketAddr, name: &'static str, topic: &str) -> Client {
    let ws = connect(addr).await;
    subscribed(ws, name, topic).await
}

/// A client whose kernel holds little of what it sends, so that what the server has not
/// read yet drains in seconds once it stops sending (autotuned, it can be megabytes).
async fn client_with_small_send_buffer(
    addr: SocketAddr,
    name: &'static str,
    topic: &str,
) -> Client {
    let socket = TcpSocket::new_v4().unwrap();
    socket.set_send_buffer_size(64 * 1024).unwrap();
    let stream = socket.connect(addr).await.unwrap();
    let url = format!("ws://{addr}/signal");
    let connected = client_async(url, MaybeTlsStream::Plain(stream));
    let (ws, _) = timeout(WAIT, connected).await.unwrap().unwrap();
    subscribed(ws, name, topic).await
}

async fn subscribed(mut ws: Ws, name: &'static str, topic: &str) -> Client {
    subscribe(&mut ws, &[topic]).await;
    let (tx, stream) = ws.split();
    let (to_test, rx) = mpsc::unbounded_channel();
    let flooded = Arc::new(AtomicUsize::new(0));
    tokio::spawn(read(stream, to_test, flooded.clone()));
    Client {
        name,
        tx,
        rx,
        flooded,
    }
}

async fn read(
    mut stream: SplitStream<Ws>,
    to_test: mpsc::UnboundedSender<Value>,
    flooded: Arc<AtomicUsize>,
) {
    while let Some(Ok(message)) = stream.next().await {
        let Message::Text(text) = message else {
            continue;
        };
        let frame: Value = serde_json::from_str(&text).unwrap();
        if frame["data"]["from"] == "flooder" {
            flooded.fetch_add(1, Ordering::Relaxed);
        } else if to_test.send(frame).is_err() {
            return;
        }
    }
}

impl Client {
    async fn send(&mut self, message: Value) {
        let sent = timeout(ROUND_TRIP, self.tx.send(Message::text(message.to_string())));
        sent.await.expect("send stuck").unwrap();
    }

    /// Waits up to `within` for the first frame that `is` accepts, skipping others.
    async fn expect(&mut self, what: &str, within: Duration, is: impl Fn(&Value) -> bool) {
        let found = async {
            loop {
                let frame = self.rx.recv().await.expect("connection ended");
                if is(&frame) {
                    return;
                }
            }
        };
        if timeout(within, found).await.is_err() {
            panic!("{what}: no answer within {within:?}");
        }
    }
}

/// `from` publishes a small frame on `topic`; `to` must see it within [`ROUND_TRIP`].
async fn exchange(from: &mut Client, to: &mut Client, topic: &str, n: usize) {
    let data = json!({"type": "note", "from": from.name, "n": n});
    from.send(json!({"type": "publish", "topic": topic, "data": data.clone()}))
        .await;
    let what = format!("publish {n} on {topic}");
    to.expect(&what, ROUND_TRIP, |frame| frame["data"] == data)
        .await;
}

async fn ping(client: &mut Client, within: Duration) {
    client.send(json!({"type": "ping"})).await;
    client
        .expect("pong", within, |frame| frame["type"] == "pong")
        .await;
}

/// Over any span the server reads at most `burst + rate × span` bytes from a connection, plus
/// the one message that took its budget into debt; a subscriber cannot get more than that.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn flooding_client_is_paced_while_others_are_served() {
    let mut options = Options::new(temp_dir("no-dist"));
    options.client_rate = RATE;
    options.client_burst = BURST;
    let server = start(options).await;
    // One pair on the flooded topic (its frames queue behind the flood's), one elsewhere.
    let mut same_a = client(server.addr, "same a", "flood").await;
    let mut same_b = client(server.addr, "same b", "flood").await;
    let mut other_a = client(server.addr, "other a", "other").await;
    let mut other_b = client(server.addr, "other b", "other").await;

    // The flooder's budget starts when it connects: counting from before that is on the
    // safe side of the bound.
    let started = Instant::now();
    let mut flooder = client_with_small_send_buffer(server.addr, "flooder", "flooder's own").await;
    let relay =
        json!({"type": "relay", "from": "flooder", "to": "b", "frame": "x".repeat(200_000)});
    let frame = json!({"type": "publish", "topic": "flood", "data": relay}).to_string();
    let frame_len = frame.len();
    let mut flood_tx = flooder.tx;
    let flood = tokio::spawn(async move {
        let until = started + WINDOW;
        let mut sent = 0usize;
        // Sends block once the server stops reading: that is the pacing pushing back.
        while let Ok(result) =
            tokio::time::timeout_at(until, flood_tx.send(Message::text(frame.clone()))).await
        {
            result.unwrap();
            sent += 1;
        }
        (flood_tx, sent)
    });

    let mut rounds = 0;
    let mut slowest = Duration::ZERO;
    while started.elapsed() < WINDOW {
        let round = Instant::now();
        exchange(&mut other_a, &mut other_b, "other", rounds).await;
        exchange(&mut other_b, &mut other_a, "other", rounds).await;
        exchange(&mut same_a, &mut same_b, "flood", rounds).await;
        exchange(&mut same_b, &mut same_a, "flood", rounds).await;
        for client in [&mut other_a, &mut other_b, &mut same_a, &mut same_b] {
            ping(client, ROUND_TRIP).await;
        }
        slowest = slowest.max(round.elapsed());
        rounds += 1;
    }
    let elapsed = started.elapsed();
    let delivered = same_b.flooded.load(Ordering::Relaxed) * frame_len;
    let bound = RATE as f64 * elapsed.as_secs_f64() + BURST as f64 + frame_len as f64;
    let (flood_tx, sent) = flood.await.unwrap();
    println!(
        "{rounds} rounds (slowest {slowest:?}); flooder sent {sent} frames, {delivered} bytes \
         delivered in {elapsed:?}, bound {bound:.0}"
    );
    assert!(rounds >= 2, "others were served only {rounds} times");
    assert!(delivered > 0, "the flooder was cut off, not paced");
    assert!(
        delivered as f64 <= bound,
        "{delivered} bytes got through in {elapsed:?}, more than the budget's {bound:.0}"
    );
    // Not asserted: that `sent` frames are more than got through. A send completes once its
    // last byte is in the kernel's buffers; when the server's receive window has not grown
    // (autotuning depends on timing) those and the flooder's 64 KiB send buffer hold less than
    // one 200 kB frame, and the sends completed are exactly the frames read (the test failed
    // so about once in 8 runs on CI, once in 20 here: "sent 4 frames", 4 delivered). The flooder is held back all the same: its last send was still waiting
    // when the window closed, and the bound above is what shows the pacing.

    // Paced, not dropped: once the backlog is read, its next publish arrives and it is answered.
    // A send cut short by the window's end still goes out: one frame more than `sent`. Each
    // frame costs the flooder its two receivers' copies, so it drains at half the rate.
    let unread = ((sent + 1) * frame_len).saturating_sub(delivered);
    let backlog = Duration::from_secs_f64(2.0 * unread as f64 / RATE as f64);
    flooder.tx = flood_tx;
    let later = json!({"type": "note", "from": "flooder, later"});
    let publish = json!({"type": "publish", "topic": "flood", "data": later.clone()});
    let sent_later = flooder.tx.send(Message::text(publish.to_string()));
    timeout(backlog + WAIT, sent_later)
        .await
        .expect("the flooder cannot send")
        .unwrap();
    same_b
        .expect("the flooder's later publish", backlog + WAIT, |frame| {
            frame["data"] == later
        })
        .await;
    ping(&mut flooder, WAIT).await;
    let arrived = same_b.flooded.load(Ordering::Relaxed);
    assert!(
        (sent..=sent + 1).contains(&arrived),
        "{arrived} of {sent} flooded frames arrived: paced, nothing dropped"
    );
}
