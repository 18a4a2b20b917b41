//! Signaling across instances (`--redis`): two servers on one real `redis-server` (in-process,
//! or the real binary where one is killed or its log is read), clients on each. Each test
//! starts a Redis of its own (`common/redis.rs`; skipped where none is installed, but on CI).
//!
//! What crosses Redis arrives a moment later than what stays on one server, so the tests wait
//! for it (`settle`, `wait_until`) rather than sleep.

mod common;

use common::redis::RedisServer;
use common::*;
use commonplace_server::fanout::{FanoutState, RedisFanout};
use commonplace_server::Options;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use std::ffi::OsStr;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

/// An in-process server sharing signaling through `redis` (no store), and its link's handle.
async fn instance(redis: &RedisServer) -> (Server, RedisFanout) {
    let fanout = RedisFanout::new(&redis.url()).unwrap();
    let mut options = Options::new(temp_dir("no-dist"));
    options.fanout = Some(fanout.clone());
    let server = start(options).await;
    wait_until("the link to Redis is up", || {
        fanout.redis_signaling_state() == FanoutState::Connected
    })
    .await;
    (server, fanout)
}

/// The real binary on `redis` (its store there too).
fn binary(redis: &RedisServer, name: &str) -> Running {
    binary_with(redis, name, &[])
}

fn binary_with(redis: &RedisServer, name: &str, more: &[&str]) -> Running {
    let data = temp_dir(&format!("{name}-unused-data"));
    let url = redis.url();
    let mut args = vec![
        OsStr::new("--redis"),
        OsStr::new(&url),
        OsStr::new("--data"),
        data.as_os_str(),
    ];
    args.extend(more.iter().map(OsStr::new));
    start_binary(&args).unwrap_or_else(|(code, stderr)| panic!("exit {code:?}:\n{stderr}"))
}

/// The Redis channel of `topic`, as docs/scale-out.md names it.
fn channel(topic: &str) -> String {
    let digest = Sha256::digest(topic.as_bytes());
    let hex: String = digest.iter().map(|b| format!("{b:02x}")).collect();
    format!("cp:signal:topic:{hex}")
}

/// Instances subscribed to `channel`, as Redis counts them.
fn numsub(redis: &RedisServer, channel: &str) -> u64 {
    let (_, n): (String, u64) = ::redis::cmd("PUBSUB")
        .arg("NUMSUB")
        .arg(channel)
        .query(&mut redis.client())
        .unwrap();
    n
}

fn members(redis: &RedisServer, key: &str) -> Vec<String> {
    let mut members: Vec<String> = ::redis::cmd("SMEMBERS")
        .arg(key)
        .query(&mut redis.client())
        .unwrap();
    members.sort();
    members
}

/// Polls `done` until it holds, for at most [`WAIT`].
async fn wait_until(what: &str, mut done: impl FnMut() -> bool) {
    let start = Instant::now();
    while !done() {
        assert!(start.elapsed() < WAIT, "not in time: {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

async fn publish(ws: &mut Ws, topic: &str, data: Value) {
    send(ws, json!({"type": "publish", "topic": topic, "data": data})).await;
}

/// The next frame that is not a `settle` frame.
async fn next(ws: &mut Ws) -> Value {
    loop {
        let frame = recv(ws).await;
        if frame["data"].get("settle").is_none() {
            return frame;
        }
    }
}

/// Publishes probes from `from` until its own echo counts `clients` subscribers (each server
/// counts the others' subscribers once their count message reached it), then a marker that
/// `to` reads up to, skipping the probes it got: afterwards neither has a settle frame on its
/// way, and `from`'s server counts as the test expects.
async fn settle(from: &mut Ws, to: &mut Ws, topic: &str, clients: u64) {
    let nonce = format!("{:?}", Instant::now());
    let start = Instant::now();
    loop {
        publish(from, topic, json!({"settle": nonce, "probe": true})).await;
        let echo = recv(from).await;
        if echo["clients"] == clients {
            break;
        }
        assert!(
            start.elapsed() < WAIT,
            "clients is still {} in {echo}",
            echo["clients"]
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    publish(from, topic, json!({"settle": nonce, "probe": false})).await;
    assert_eq!(recv(from).await["data"]["probe"], false);
    loop {
        let frame = recv(to).await;
        if frame["data"]["settle"] == nonce.as_str() && frame["data"]["probe"] == false {
            return;
        }
    }
}

/// Publishes `data` from `from` and checks that each of `to` gets it once, and its sender its
/// echo, all counting `clients`: a marker published after it is the next frame each reads.
async fn reaches_once(from: &mut Ws, to: &mut [&mut Ws], topic: &str, data: Value, clients: u64) {
    publish(from, topic, data.clone()).await;
    let mark = json!({"after": data.clone()});
    publish(from, topic, mark.clone()).await;
    for (i, ws) in std::iter::once(from)
        .chain(to.iter_mut().map(|ws| &mut **ws))
        .enumerate()
    {
        let got = next(ws).await;
        assert_eq!(
            got,
            json!({"type": "publish", "topic": topic, "data": data, "clients": clients}),
            "receiver {i}"
        );
        assert_eq!(next(ws).await["data"], mark, "receiver {i}: once");
    }
}

#[tokio::test]
async fn a_publish_reaches_the_subscribers_on_every_instance_once() {
    let Some(redis) = RedisServer::start("fanout-every-instance") else {
        return;
    };
    let ((one, one_link), (two, _)) = (instance(&redis).await, instance(&redis).await);
    let (mut a, mut b) = (connect(one.addr).await, connect(two.addr).await);
    let mut other = connect(two.addr).await;
    subscribe(&mut a, &["room"]).await;
    subscribe(&mut b, &["room"]).await;
    subscribe(&mut other, &["other"]).await;
    settle(&mut a, &mut b, "room", 2).await;
    settle(&mut b, &mut a, "room", 2).await;

    // Each way, the whole frame, once, counting both.
    let message = json!({"type": "publish", "topic": "room", "extra": [1, "two"],
        "data": {"type": "announce", "from": "peer-a"}});
    send(&mut a, message.clone()).await;
    let mut expected = message;
    expected["clients"] = json!(2);
    assert_eq!(next(&mut a).await, expected);
    assert_eq!(next(&mut b).await, expected);
    reaches_once(&mut a, &mut [&mut b], "room", json!("from a"), 2).await;
    reaches_once(&mut b, &mut [&mut a], "room", json!("c2VjcmV0"), 2).await;

    // A third subscriber, on the first instance: counted on both.
    let mut c = connect(one.addr).await;
    subscribe(&mut c, &["room"]).await;
    settle(&mut b, &mut a, "room", 3).await;
    settle(&mut a, &mut b, "room", 3).await;
    reaches_once(&mut b, &mut [&mut a, &mut c], "room", json!({"n": 1}), 3).await;

    // The subscriber to another topic got none of it; a publish to its topic from a client
    // that is not subscribed to it, on the other instance, reaches it.
    sync(&mut other).await;
    publish(&mut a, "other", json!("to other")).await;
    let got = recv(&mut other).await;
    assert_eq!(
        (got["data"].clone(), got["clients"].clone()),
        (json!("to other"), json!(1))
    );
    sync(&mut other).await;
    sync(&mut a).await;
    assert_eq!(one_link.redis_signaling_state(), FanoutState::Connected);

    // Everyone on the first instance leaves and one comes back at once (one batch for the
    // link, most likely): by the time its subscribe is answered, its instance counts the
    // others again, without waiting for news from them.
    send(&mut c, json!({"type": "unsubscribe", "topics": ["room"]})).await;
    sync(&mut c).await;
    for _ in 0..20 {
        send(&mut a, json!({"type": "unsubscribe", "topics": ["room"]})).await;
        subscribe(&mut a, &["room"]).await;
        publish(&mut a, "room", json!("back")).await;
        assert_eq!(next(&mut a).await["clients"], 2, "b counted again");
        assert_eq!(next(&mut b).await["data"], "back");
    }
}

#[tokio::test]
async fn an_instance_subscribes_to_a_topic_only_while_a_client_of_its_own_is_in_it() {
    let Some(redis) = RedisServer::start("fanout-subscriptions") else {
        return;
    };
    let ((one, one_link), (two, _)) = (instance(&redis).await, instance(&redis).await);
    let room = channel("room");
    let (mut a1, mut a2) = (connect(one.addr).await, connect(one.addr).await);
    let mut b = connect(two.addr).await;
    assert_eq!(numsub(&redis, &room), 0, "nobody in it yet");

    // Subscribed in Redis by the time the server has read the subscribing client's next frame.
    subscribe(&mut a1, &["room"]).await;
    assert_eq!(numsub(&redis, &room), 1);
    subscribe(&mut a2, &["room"]).await;
    assert_eq!(numsub(&redis, &room), 1, "one subscription per instance");
    let counts = format!("cp:signal:counts:{}", one_link.instance());
    let field = channel("room")
        .trim_start_matches("cp:signal:topic:")
        .to_string();
    let count: Option<u64> = ::redis::cmd("HGET")
        .arg(&counts)
        .arg(&field)
        .query(&mut redis.client())
        .unwrap();
    assert_eq!(count, Some(2), "the instance's count of the topic");
    assert_eq!(
        members(&redis, "cp:signal:instances").len(),
        2,
        "both instances registered"
    );

    // b, on the other instance, publishes without subscribing: both get it.
    publish(&mut b, "room", json!("hello")).await;
    for ws in [&mut a1, &mut a2] {
        assert_eq!(next(ws).await["data"], "hello");
    }
    // One leaves: the instance stays subscribed.
    send(&mut a1, json!({"type": "unsubscribe", "topics": ["room"]})).await;
    sync(&mut a1).await;
    assert_eq!(numsub(&redis, &room), 1);
    // The last leaves (its connection closes): unsubscribed, its count gone.
    drop(a2);
    wait_until("the instance unsubscribed", || numsub(&redis, &room) == 0).await;
    let count: Option<u64> = ::redis::cmd("HGET")
        .arg(&counts)
        .arg(&field)
        .query(&mut redis.client())
        .unwrap();
    assert_eq!(count, None);
    assert_eq!(numsub(&redis, &channel("never subscribed")), 0);
    sync(&mut a1).await;
}

#[tokio::test]
async fn a_killed_instance_leaves_the_others_working_and_its_clients_come_back_elsewhere() {
    let Some(redis) = RedisServer::start("fanout-killed") else {
        return;
    };
    let one = binary(&redis, "fanout-killed-1");
    let two = binary(&redis, "fanout-killed-2");
    let connected = |addr: SocketAddr| async move {
        let mut ws = connect(addr).await;
        subscribe(&mut ws, &["room"]).await;
        ws
    };
    let mut a = connected(one.addr).await;
    let (mut b, mut c) = (connected(two.addr).await, connected(two.addr).await);
    wait_until("both instances registered", || {
        members(&redis, "cp:signal:instances").len() == 2
    })
    .await;
    settle(&mut a, &mut b, "room", 3).await;
    settle(&mut b, &mut a, "room", 3).await;
    reaches_once(&mut a, &mut [&mut b, &mut c], "room", json!("before"), 3).await;

    // SIGKILL: no goodbye to Redis. Its connections close with it, and with them its
    // subscriptions: the others stop counting its subscribers within a heartbeat.
    one.kill();
    assert_eq!(closed(&mut a).await, None, "a's server is gone");
    settle(&mut b, &mut c, "room", 2).await;
    reaches_once(&mut b, &mut [&mut c], "room", json!("after"), 2).await;
    wait_until("the killed instance is forgotten", || {
        members(&redis, "cp:signal:instances").len() == 1
    })
    .await;
    let keys: Vec<String> = ::redis::cmd("KEYS")
        .arg("cp:signal:counts:*")
        .query(&mut redis.client())
        .unwrap();
    assert_eq!(keys.len(), 1, "its counts are gone: {keys:?}");

    // a comes back (a load balancer sends it to the instance that is left) and finds the
    // others there.
    let mut a = connected(two.addr).await;
    reaches_once(&mut a, &mut [&mut b, &mut c], "room", json!("back"), 3).await;
    reaches_once(&mut c, &mut [&mut a, &mut b], "room", json!("welcome"), 3).await;
    two.stop();
}

#[tokio::test]
async fn while_redis_restarts_each_instance_serves_its_own_clients_then_shares_again() {
    let Some(mut redis) = RedisServer::start("fanout-restart") else {
        return;
    };
    let one = binary(&redis, "fanout-restart-1");
    let two = binary(&redis, "fanout-restart-2");
    let room = channel("room");
    let connected = |addr: SocketAddr| async move {
        let mut ws = connect(addr).await;
        subscribe(&mut ws, &["room"]).await;
        ws
    };
    let (mut a, mut c) = (connected(one.addr).await, connected(one.addr).await);
    let (mut b, mut d) = (connected(two.addr).await, connected(two.addr).await);
    settle(&mut a, &mut b, "room", 4).await;
    settle(&mut b, &mut a, "room", 4).await;

    redis.kill();
    // Each instance goes on alone: its clients reach each other, counting themselves.
    settle(&mut a, &mut c, "room", 2).await;
    reaches_once(&mut a, &mut [&mut c], "room", json!("during"), 2).await;
    settle(&mut b, &mut d, "room", 2).await;
    reaches_once(&mut d, &mut [&mut b], "room", json!("during, too"), 2).await;

    redis.restart();
    let back = Instant::now();
    wait_until("both instances subscribed again", || {
        numsub(&redis, &room) == 2
    })
    .await;
    println!(
        "both instances subscribed again {} ms after Redis was back",
        back.elapsed().as_millis()
    );
    settle(&mut a, &mut b, "room", 4).await;
    settle(&mut b, &mut a, "room", 4).await;
    let all = "room";
    reaches_once(
        &mut a,
        &mut [&mut b, &mut c, &mut d],
        all,
        json!("after"),
        4,
    )
    .await;
    reaches_once(
        &mut d,
        &mut [&mut a, &mut b, &mut c],
        all,
        json!("after, too"),
        4,
    )
    .await;

    // The log: a line when it was lost, one when it was back; nothing per publish.
    for (name, running) in [("one", one), ("two", two)] {
        let stderr = running.stop();
        let lines = |needle: &str| stderr.lines().filter(|l| l.contains(needle)).count();
        assert_eq!(
            lines("signaling: shared with the other instances through Redis"),
            1,
            "{name}: {stderr}"
        );
        assert_eq!(lines("signaling: lost Redis at"), 1, "{name}: {stderr}");
        assert_eq!(lines("still out of reach"), 0, "{name}: {stderr}");
        assert_eq!(
            lines("carries signaling between instances again after"),
            1,
            "{name}: {stderr}"
        );
        assert_eq!(lines("re-subscribed to 1 topic;"), 1, "{name}: {stderr}");
    }
}

#[tokio::test]
async fn a_silent_redis_leaves_each_instance_serving_its_own_clients() {
    let Some(redis) = RedisServer::start("fanout-silent") else {
        return;
    };
    let ((one, one_link), (two, two_link)) = (instance(&redis).await, instance(&redis).await);
    let (mut a, mut c) = (connect(one.addr).await, connect(one.addr).await);
    let mut b = connect(two.addr).await;
    for ws in [&mut a, &mut b, &mut c] {
        subscribe(ws, &["room"]).await;
    }
    settle(&mut a, &mut b, "room", 3).await;
    settle(&mut b, &mut a, "room", 3).await;

    // SIGSTOP: connected, but no answer (a broken network path). Local delivery does not
    // wait for Redis; the link notices within a heartbeat and its 3 s for an answer.
    redis.pause();
    let asked = Instant::now();
    publish(&mut a, "room", json!("during")).await;
    for ws in [&mut a, &mut c] {
        assert_eq!(next(ws).await["data"], "during");
    }
    let took = asked.elapsed();
    assert!(took < Duration::from_millis(1500), "took {took:?}");
    for link in [&one_link, &two_link] {
        wait_until("the link finds Redis silent", || {
            matches!(link.redis_signaling_state(), FanoutState::Lost { .. })
        })
        .await;
    }
    settle(&mut a, &mut c, "room", 2).await;

    redis.resume();
    for link in [&one_link, &two_link] {
        wait_until("the link is back", || {
            link.redis_signaling_state() == FanoutState::Connected
        })
        .await;
    }
    settle(&mut a, &mut b, "room", 3).await;
    settle(&mut b, &mut a, "room", 3).await;
    reaches_once(&mut b, &mut [&mut a, &mut c], "room", json!("after"), 3).await;
}

/// Prints round trips (a publishes, b answers, a reads the answer) on one instance and across
/// two on one Redis. Ignored: figures, not a check. `cargo test -p commonplace-server --release
/// --test signaling_redis -- --ignored --nocapture`.
#[tokio::test]
#[ignore]
async fn round_trip_figures() {
    let Some(redis) = RedisServer::start("fanout-figures") else {
        return;
    };
    let ((one, _), (two, _)) = (instance(&redis).await, instance(&redis).await);
    for (name, b_addr) in [("one instance", one.addr), ("two instances", two.addr)] {
        let (mut a, mut b) = (connect(one.addr).await, connect(b_addr).await);
        subscribe(&mut a, &["figures"]).await;
        subscribe(&mut b, &["figures"]).await;
        settle(&mut a, &mut b, "figures", 2).await;
        settle(&mut b, &mut a, "figures", 2).await;
        let mut took = Vec::new();
        for i in 0..2000 {
            let start = Instant::now();
            publish(&mut a, "figures", json!({"ask": i})).await;
            assert_eq!(next(&mut a).await["data"]["ask"], i);
            assert_eq!(next(&mut b).await["data"]["ask"], i);
            publish(&mut b, "figures", json!({"answer": i})).await;
            assert_eq!(next(&mut b).await["data"]["answer"], i);
            assert_eq!(next(&mut a).await["data"]["answer"], i);
            took.push(start.elapsed());
        }
        took.sort();
        let at = |q: f64| took[((took.len() - 1) as f64 * q) as usize].as_micros();
        println!(
            "{name}: round trip p50 {} µs, p99 {} µs ({} rounds)",
            at(0.5),
            at(0.99),
            took.len()
        );
    }
}

mod bursts {
    //! bursts.rs across instances: a client bursting publishes into a topic whose 50
    //! subscribers, reading at their own slow pace, are on the other instance. Charged for
    //! what it reaches there, the publisher is slowed down as on one server, and nobody is
    //! disconnected because of its burst.

    use super::*;
    use futures_util::stream::SplitStream;
    use futures_util::{SinkExt, StreamExt};
    use tokio::net::TcpSocket;
    use tokio::sync::mpsc;
    use tokio::time::{sleep_until, timeout, timeout_at};
    use tokio_tungstenite::tungstenite::Message;
    use tokio_tungstenite::{client_async, MaybeTlsStream};

    const SUBSCRIBERS: usize = 50;
    /// At the default 1 MiB/s after a 4 MiB burst: over [`QUEUE`] in front of a subscriber
    /// reading slower, were the publisher charged its own bytes only (a publisher outside the
    /// topic, which waits for Redis's count after each publish, put 0.9 MB/s in front of each).
    const BURST_FOR: Duration = Duration::from_secs(6);
    /// --client-queue: 1 MiB rather than the default 8, so that the test fails within the
    /// burst, for either publisher, without the charge for the subscribers elsewhere.
    const QUEUE: &str = "1MiB";
    /// About a 1 Mbit/s link.
    const READ_BYTES_PER_SEC: usize = 100 * 1024;
    const CATCH_UP: Duration = Duration::from_secs(60);

    /// A subscriber whose kernel holds little of what is sent to it.
    async fn slow_link(addr: SocketAddr) -> Ws {
        let socket = TcpSocket::new_v4().unwrap();
        socket.set_recv_buffer_size(32 * 1024).unwrap();
        let stream = socket.connect(addr).await.unwrap();
        let url = format!("ws://{addr}/signal");
        let connected = client_async(url, MaybeTlsStream::Plain(stream));
        timeout(WAIT, connected).await.unwrap().unwrap().0
    }

    /// Reads at [`READ_BYTES_PER_SEC`] until the connection ends, handing pongs to the test;
    /// how it ended.
    async fn read_all(mut stream: SplitStream<Ws>, pongs: mpsc::UnboundedSender<()>) -> String {
        let started = tokio::time::Instant::now();
        let mut bytes = 0;
        loop {
            let due = started + Duration::from_secs_f64(bytes as f64 / READ_BYTES_PER_SEC as f64);
            sleep_until(due).await;
            match stream.next().await {
                Some(Ok(Message::Text(text))) => {
                    bytes += text.len();
                    if text.len() < 32 && text.contains("pong") {
                        let _ = pongs.send(());
                    }
                }
                Some(Ok(Message::Close(frame))) => return format!("closed: {frame:?}"),
                Some(Ok(_)) => {}
                Some(Err(e)) => return format!("failed: {e}"),
                None => return "ended".to_string(),
            }
        }
    }

    /// `subscribed`: whether the publisher is in the topic too (its server then keeps the
    /// count of the subscribers elsewhere), or only publishes to it (its server asks Redis).
    async fn burst_across(name: &str, subscribed: bool) {
        let Some(redis) = RedisServer::start(name) else {
            return;
        };
        let queue = ["--client-queue", QUEUE];
        let one = binary_with(&redis, &format!("{name}-1"), &queue);
        let two = binary_with(&redis, &format!("{name}-2"), &queue);
        let mut subscribers = Vec::new();
        for _ in 0..SUBSCRIBERS {
            let mut ws = slow_link(two.addr).await;
            subscribe(&mut ws, &["room"]).await;
            let (tx, rx) = ws.split();
            let (pong_tx, pong_rx) = mpsc::unbounded_channel();
            subscribers.push((tx, pong_rx, tokio::spawn(read_all(rx, pong_tx))));
        }
        let mut publisher = connect(one.addr).await;
        if subscribed {
            subscribe(&mut publisher, &["room"]).await;
            let all = SUBSCRIBERS as u64 + 1;
            let start = Instant::now();
            loop {
                publish(&mut publisher, "room", json!("probe")).await;
                if recv(&mut publisher).await["clients"] == all {
                    break;
                }
                assert!(
                    start.elapsed() < WAIT,
                    "the subscribers elsewhere not counted"
                );
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        }
        let (mut publisher, mut echoes) = publisher.split();
        // Its echoes (if subscribed) and its pong, read as fast as they come.
        let (pong_tx, mut pong_rx) = mpsc::unbounded_channel();
        let echoes = tokio::spawn(async move {
            while let Some(Ok(message)) = echoes.next().await {
                if let Message::Text(text) = message {
                    if text.contains("pong") {
                        let _ = pong_tx.send(());
                    }
                }
            }
        });
        let frame =
            json!({"type": "publish", "topic": "room", "data": "x".repeat(1000)}).to_string();
        let until = tokio::time::Instant::now() + BURST_FOR;
        let mut sent = 0usize;
        while let Ok(result) = timeout_at(until, publisher.send(Message::text(frame.clone()))).await
        {
            result.unwrap();
            sent += 1;
        }

        let deadline = tokio::time::Instant::now() + CATCH_UP;
        let mut disconnected = Vec::new();
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
                let _ = timeout(WAIT, reader).await;
            } else {
                let ended = timeout(WAIT, reader).await;
                disconnected.push(format!("subscriber {i}: {ended:?}"));
            }
        }
        println!(
            "publisher (subscribed: {subscribed}) sent {sent} frames of 1 KB in {BURST_FOR:?} \
             to {SUBSCRIBERS} subscribers on the other instance; {} disconnected",
            disconnected.len()
        );
        assert!(disconnected.is_empty(), "{disconnected:#?}");
        // Slowed, not cut off.
        publisher
            .send(Message::text(json!({"type": "ping"}).to_string()))
            .await
            .unwrap();
        timeout(CATCH_UP, pong_rx.recv())
            .await
            .expect("the publisher is answered")
            .unwrap();
        echoes.abort();
        one.stop();
        two.stop();
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_publisher_in_the_topic_is_charged_for_its_subscribers_elsewhere() {
        burst_across("fanout-burst-subscribed", true).await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_publisher_outside_the_topic_is_charged_for_its_subscribers_elsewhere() {
        burst_across("fanout-burst-outside", false).await;
    }
}
