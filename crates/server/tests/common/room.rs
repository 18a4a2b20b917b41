//! Well-behaved clients for tests of hostile ones: a room whose members publish numbered
//! messages in turn while the test does its worst, and check that each got every message of
//! everyone, in order, and was never evicted.

use super::{connect, subscribe, Ws, WAIT};
use futures_util::stream::{SplitSink, SplitStream};
use futures_util::{SinkExt, StreamExt};
use serde_json::{json, Value};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::task::JoinHandle;
use tokio::time::{sleep, timeout};
use tokio_tungstenite::tungstenite::Message;

// that it gets every message of everyone (its own echoed too), in order, and nothing else.

pub const ROOM: &str = "the-room";

pub struct Member {
    tx: SplitSink<Ws, Message>,
    reader: JoinHandle<Result<Vec<u64>, String>>,
}

/// A room of `size` members who publish while `running`; `stop` ends it and says how many
/// messages each one got.
pub struct Room {
    running: Arc<AtomicBool>,
    publisher: JoinHandle<Result<Vec<Member>, String>>,
}

pub async fn room(addr: SocketAddr, size: usize, every: Duration) -> Room {
    let mut members = Vec::new();
    for _ in 0..size {
        let mut ws = connect(addr).await;
        subscribe(&mut ws, &[ROOM]).await;
        let (tx, rx) = ws.split();
        members.push((tx, rx));
    }
    let mut readers = Vec::new();
    let mut txs = Vec::new();
    for (tx, rx) in members {
        txs.push(tx);
        readers.push(rx);
    }
    let members: Vec<Member> = txs
        .into_iter()
        .zip(readers)
        .map(|(tx, rx)| Member {
            tx,
            reader: tokio::spawn(read_room(rx, size)),
        })
        .collect();
    let running = Arc::new(AtomicBool::new(true));
    let go_on = running.clone();
    let publisher = tokio::spawn(async move {
        let mut members = members;
        let mut n = 0u64;
        while go_on.load(Ordering::Relaxed) {
            for (from, member) in members.iter_mut().enumerate() {
                let data = json!({"from": from, "n": n});
                let publish = json!({"type": "publish", "topic": ROOM, "data": data});
                let sent = member.tx.send(Message::text(publish.to_string()));
                match timeout(WAIT, sent).await {
                    Ok(Ok(())) => {}
                    other => return Err(format!("member {from} could not send {n}: {other:?}")),
                }
            }
            n += 1;
            sleep(every).await;
        }
        Ok(members)
    });
    Room { running, publisher }
}

/// Reads a member's frames: every publish from member `from` must be numbered one more than the
/// last from it; a pong ends the reading. Returns how many it got from each.
async fn read_room(mut rx: SplitStream<Ws>, size: usize) -> Result<Vec<u64>, String> {
    let mut next = vec![0u64; size];
    loop {
        let message = match timeout(WAIT * 3, rx.next()).await {
            Ok(Some(Ok(message))) => message,
            other => return Err(format!("evicted or stalled after {next:?}: {other:?}")),
        };
        let Message::Text(text) = message else {
            continue;
        };
        let frame: Value = serde_json::from_str(&text).map_err(|e| e.to_string())?;
        if frame["type"] == "pong" {
            return Ok(next);
        }
        if frame["clients"] != size {
            return Err(format!("clients {} in {frame}", frame["clients"]));
        }
        let from = frame["data"]["from"].as_u64().ok_or(format!("{frame}"))? as usize;
        let n = frame["data"]["n"].as_u64().ok_or(format!("{frame}"))?;
        if n != next[from] {
            return Err(format!("from {from}: got {n}, expected {}", next[from]));
        }
        next[from] += 1;
    }
}

impl Room {
    /// Stops publishing, then checks that every member got every message (after a ping, whose
    /// pong comes after everything published before it); returns how many rounds there were.
    pub async fn stop(self) -> u64 {
        self.running.store(false, Ordering::Relaxed);
        let mut members = self.publisher.await.unwrap().unwrap();
        let ping = Message::text(json!({"type": "ping"}).to_string());
        for member in &mut members {
            member.tx.send(ping.clone()).await.unwrap();
        }
        let mut counts = Vec::new();
        for (i, member) in members.into_iter().enumerate() {
            let got = member.reader.await.unwrap();
            counts.push(got.unwrap_or_else(|e| panic!("member {i}: {e}")));
        }
        let rounds = counts[0][0];
        for (i, got) in counts.iter().enumerate() {
            assert!(
                got.iter().all(|&n| n == rounds),
                "member {i} got {got:?} of {rounds} rounds each: a publish was lost"
            );
        }
        rounds
    }
}
