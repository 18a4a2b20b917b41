//! `/metrics` and `/healthz` over real sockets: what clients do moves exactly the counters it
//! should (and no other), each refusal and drop is counted under its reason, the output is
//! valid Prometheus text exposition (checked by the strict parser of `common/metrics.rs`) and names
//! no room, store or address, and a lost Redis shows in both endpoints until it is back.

mod common;

use common::http::Http;
use common::metrics::*;
use common::redis::RedisServer;
use common::store::*;
use common::*;
use commonplace_server::store::sqlite::SqliteStore;
use commonplace_server::store::{Quota, StoreBackend, StoreOptions};
use commonplace_server::Options;
use futures_util::{SinkExt, StreamExt};
use serde_json::json;
use std::ffi::OsStr;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::time::timeout;
use tokio_tungstenite::tungstenite::Message;

/// A room name no metric may show.
const TOPIC: &str = "room-named-zebra-quartz-7q3z";

#[test]
fn the_parser_is_strict() {
    let good = "# HELP a_total A counter.\n# TYPE a_total counter\na_total{x=\"1\",y=\"q\\\"\"} 3\na_total 0\n# HELP g A gauge.\n# TYPE g gauge\ng -1.5e3\n";
    let series = parse_exposition(good).unwrap();
    assert_eq!(series["a_total{x=\"1\",y=\"q\"\"}"], 3.0);
    assert_eq!(series["g"], -1500.0);
    for (bad, why) in [
        ("# HELP a_total A.\n# TYPE a_total counter\na_total 1", "no final newline"),
        ("# TYPE a_total counter\na_total 1\n", "no HELP"),
        ("# HELP a_total A.\na_total 1\n", "no TYPE"),
        ("# HELP a A.\n# TYPE a counter\na 1\n", "a counter not named _total"),
        ("# HELP a_total A.\n# TYPE a_total counter\na_total one\n", "not a number"),
        ("# HELP a_total A.\n# TYPE a_total counter\na_total 0x10\n", "hex"),
        ("# HELP a_total A.\n# TYPE a_total counter\na_total -1\n", "a negative counter"),
        ("# HELP a_total A.\n# TYPE a_total counter\na_total 1\na_total 2\n", "twice"),
        (
            "# HELP a_total A.\n# TYPE a_total counter\na_total{x=\"1\",x=\"2\"} 1\n",
            "a label twice",
        ),
        ("# HELP g A.\n# TYPE g gauge\ng{x=\"\\q\"} 1\n", "a bad escape"),
        ("# HELP g A.\n# TYPE g gauge\ng{x=\"1\",} 1\n", "a trailing comma"),
        ("# HELP g A.\n# TYPE g gauge\ng{x=1} 1\n", "an unquoted value"),
        ("# HELP g A.\n# TYPE g gauge\ng 1 2 3\n", "more after the timestamp"),
        ("# HELP g A.\n# TYPE g gauge\ng 1\n\n", "an empty line"),
        ("# HELP g A.\n# TYPE g gauge\n# hello\ng 1\n", "another comment"),
        (
            "# HELP g A.\n# TYPE g gauge\ng{x=\"1\"} 1\n# HELP h B.\n# TYPE h gauge\nh 1\ng{x=\"2\"} 1\n",
            "a family split",
        ),
        ("# HELP g A.\n# TYPE g gauge\n# TYPE g gauge\ng 1\n", "TYPE twice"),
    ] {
        assert!(parse_exposition(bad).is_err(), "{why}: {bad:?}");
    }
}

/// The next text frame, as it came.
async fn recv_text(ws: &mut Ws) -> String {
    loop {
        match timeout(WAIT, ws.next()).await.expect("no frame in time") {
            Some(Ok(Message::Text(text))) => return text.to_string(),
            Some(Ok(Message::Ping(_) | Message::Pong(_))) => {}
            other => panic!("expected a text frame, got {other:?}"),
        }
    }
}

/// No room name, no address: what /metrics must never show.
fn assert_names_nothing(scrape: &Scrape, addr: SocketAddr, also: &[&str]) {
    let text = &scrape.text;
    assert!(!text.contains(TOPIC), "a room name in /metrics:\n{text}");
    assert!(
        !text.contains(&addr.ip().to_string()),
        "an address in /metrics:\n{text}"
    );
    for secret in also {
        assert!(!text.contains(secret), "{secret:?} in /metrics:\n{text}");
    }
}

fn with_metrics(mut options: Options) -> Options {
    options.metrics = true;
    options
}

const PING: &str = r#"{"type":"ping"}"#;
const PONG: &str = r#"{"type":"pong"}"#;

// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn what_clients_do_moves_exactly_its_counters_and_names_no_room() {
    let dir = temp_dir("metrics-counts");
    let store = SqliteStore::open(&dir, Quota::default()).unwrap();
    let mut options = with_metrics(Options::new(temp_dir("no-dist")));
    options.store = Some(StoreOptions::new(Arc::new(store)));
    let server = start(options).await;
    let addr = server.addr;
    let mut http = Http::connect(addr).await;
    let before = scrape(&mut http).await;
    assert_eq!(before.get("commonplace_connections_open", &[]), 1.0);
    assert_eq!(
        before.get("commonplace_connections_accepted_total", &[]),
        1.0
    );
    assert_eq!(
        before.get(
            "commonplace_build_info",
            &[("version", env!("CARGO_PKG_VERSION"))]
        ),
        1.0
    );
    let started = before.get("commonplace_process_start_time_seconds", &[]);
    assert!(started > 1.7e9, "{started}");
    assert!(
        !before.has("commonplace_redis_up", &[("use", "store")]),
        "SQLite"
    );

    // Two peers meet in a room: each subscribes (and pings), one publishes, both ping.
    let (mut a, mut b) = (connect(addr).await, connect(addr).await);
    let subscribe_frame = json!({"type": "subscribe", "topics": [TOPIC]}).to_string();
    subscribe(&mut a, &[TOPIC]).await;
    subscribe(&mut b, &[TOPIC]).await;
    let publish = json!({"type": "publish", "topic": TOPIC,
        "data": {"type": "announce", "from": "peer-a"}})
    .to_string();
    a.send(Message::text(publish.clone())).await.unwrap();
    let delivered = recv_text(&mut b).await;
    assert_eq!(recv_text(&mut a).await, delivered, "the sender gets it too");
    sync(&mut a).await;
    sync(&mut b).await;
    let received_bytes = 2 * subscribe_frame.len() + publish.len() + 4 * PING.len();
    let sent_bytes = 2 * delivered.len() + 4 * PONG.len();
    let mut expected = Expected {
        moved: vec![
            ("commonplace_connections_accepted_total", vec![], 2.0),
            ("commonplace_signal_messages_received_total", vec![], 7.0),
            (
                "commonplace_signal_received_bytes_total",
                vec![],
                received_bytes as f64,
            ),
            ("commonplace_signal_messages_sent_total", vec![], 6.0),
            (
                "commonplace_signal_sent_bytes_total",
                vec![],
                sent_bytes as f64,
            ),
            ("commonplace_signal_publishes_total", vec![], 1.0),
            (
                "commonplace_signal_publish_bytes_total",
                vec![],
                publish.len() as f64,
            ),
        ],
        gauges: vec![
            ("commonplace_connections_open", 3.0),
            ("commonplace_websockets_open", 2.0),
            ("commonplace_signal_topics", 1.0),
        ],
    };
    let during = settled(&mut http, &before, &expected).await;
    assert_names_nothing(&during, addr, &[]);

    // The store: an append, one with a wrong token, a read, a read of a missing store, a
    // snapshot, a delete; each on a connection of its own.
    let store = id(7);
    let record = b"a record's ciphertext".to_vec();
    assert_eq!(appended(addr, &store, 1, &record).await, 1);
    assert_eq!(append(addr, &store, 2, b"wrong token").await.status, 403);
    let read_reply = read(addr, &store, 0).await;
    assert_eq!(read_reply.status, 200);
    assert_eq!(read(addr, &id(8), 0).await.status, 404);
    assert_eq!(
        put_snapshot(addr, &store, 1, 1, 0, b"snap").await.status,
        200
    );
    assert_eq!(delete(addr, &store, 1).await.status, 204);
    let ops = |op: &'static str, outcome: &'static str, by: f64| {
        (
            "commonplace_store_operations_total",
            vec![("op", op), ("outcome", outcome)],
            by,
        )
    };
    expected.moved.extend([
        ops("append", "ok", 1.0),
        ops("append", "refused", 1.0),
        ops("read", "ok", 1.0),
        ops("read", "refused", 1.0),
        ops("snapshot", "ok", 1.0),
        ops("delete", "ok", 1.0),
        (
            "commonplace_store_written_bytes_total",
            vec![],
            (record.len() + 4) as f64,
        ),
        (
            "commonplace_store_read_bytes_total",
            vec![],
            read_reply.body.len() as f64,
        ),
        (
            "commonplace_connections_closed_total",
            vec![("reason", "done")],
            6.0,
        ),
    ]);
    expected.moved[0].2 += 6.0;

    // Both leave.
    for mut ws in [a, b] {
        ws.close(None).await.unwrap();
        while let Some(Ok(_)) = timeout(WAIT, ws.next()).await.unwrap() {}
    }
    expected.moved.push((
        "commonplace_connections_closed_total",
        vec![("reason", "client_closed")],
        2.0,
    ));
    expected.gauges = vec![
        ("commonplace_connections_open", 1.0),
        ("commonplace_websockets_open", 0.0),
        ("commonplace_signal_topics", 0.0),
    ];
    let after = settled(&mut http, &before, &expected).await;
    assert_names_nothing(&after, addr, &[&store, &id(8)]);
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test]
async fn each_drop_and_refusal_is_counted_under_its_reason() {
    let mut options = with_metrics(Options::new(temp_dir("no-dist")));
    options.connections.max_connections = 3;
    let server = start(options).await;
    let addr = server.addr;
    let mut http = Http::connect(addr).await;
    let before = scrape(&mut http).await;
    assert_eq!(before.get("commonplace_connections_max", &[]), 3.0);

    let mut client = connect(addr).await;
    let long = "x".repeat(600);
    let many: Vec<String> = (0..65).map(|i| format!("{TOPIC}-{i}")).collect();
    let frames = [
        Message::text("not json"),
        Message::text(json!({"type": "nope"}).to_string()),
        Message::text(json!({"type": "subscribe", "topics": [long]}).to_string()),
        Message::text(json!({"type": "subscribe", "topics": many}).to_string()),
        Message::binary(vec![0xff, 0xfe, 0xfd]),
    ];
    let mut bytes = PING.len();
    for frame in frames {
        bytes += frame.len();
        client.send(frame).await.unwrap();
    }
    sync(&mut client).await;
    let dropped = |reason: &'static str| {
        (
            "commonplace_signal_frames_dropped_total",
            vec![("reason", reason)],
            1.0,
        )
    };
    let mut expected = Expected {
        moved: vec![
            ("commonplace_connections_accepted_total", vec![], 1.0),
            ("commonplace_signal_messages_received_total", vec![], 6.0),
            (
                "commonplace_signal_received_bytes_total",
                vec![],
                bytes as f64,
            ),
            ("commonplace_signal_messages_sent_total", vec![], 1.0),
            (
                "commonplace_signal_sent_bytes_total",
                vec![],
                PONG.len() as f64,
            ),
            dropped("malformed"),
            dropped("unknown_type"),
            dropped("topic_too_long"),
            dropped("too_many_topics"),
            dropped("not_utf8"),
        ],
        gauges: vec![
            ("commonplace_websockets_open", 1.0),
            ("commonplace_signal_topics", 0.0),
        ],
    };
    let scraped = settled(&mut http, &before, &expected).await;
    assert_names_nothing(&scraped, addr, &[]);

    // The cap: the scrape's connection, `client` and `big` are open; a fourth is refused.
    let mut big = connect(addr).await;
    let mut refused = TcpStream::connect(addr).await.unwrap();
    let mut answer = Vec::new();
    timeout(WAIT, refused.read_to_end(&mut answer))
        .await
        .unwrap()
        .unwrap();
    let answer = String::from_utf8_lossy(&answer);
    assert!(answer.starts_with("HTTP/1.1 503 "), "{answer}");
    expected.moved[0].2 += 1.0;
    expected
        .moved
        .push(("commonplace_connections_refused_total", vec![], 1.0));
    expected.gauges = vec![
        ("commonplace_connections_open", 3.0),
        ("commonplace_websockets_open", 2.0),
    ];
    settled(&mut http, &before, &expected).await;

    // A message past the limit closes its connection (1009).
    let data = "x".repeat(300 * 1024);
    let too_big = json!({"type": "publish", "topic": TOPIC, "data": data}).to_string();
    big.send(Message::text(too_big)).await.unwrap();
    assert_eq!(closed(&mut big).await, Some(1009));
    expected.moved.push((
        "commonplace_connections_closed_total",
        vec![("reason", "too_big")],
        1.0,
    ));
    expected.gauges = vec![("commonplace_websockets_open", 1.0)];
    let scraped = settled(&mut http, &before, &expected).await;
    assert_names_nothing(&scraped, addr, &[&long]);
    sync(&mut client).await;
}

#[tokio::test]
async fn timeouts_and_a_slow_reader_are_counted_under_their_reasons() {
    let mut options = with_metrics(Options::new(temp_dir("no-dist")));
    options.connections.header_timeout = Duration::from_secs(1);
    options.client_queue = 256 * 1024;
    // Only the queue is under test: the publisher is not paced.
    options.client_rate = u64::MAX;
    let server = start(options).await;
    let addr = server.addr;
    let reasons = |scrape: &Scrape| {
        ["header_timeout", "idle_timeout", "slow_reader"].map(|reason| {
            scrape.get(
                "commonplace_connections_closed_total",
                &[("reason", reason)],
            )
        })
    };
    let before = scrape(&mut Http::connect(addr).await).await;
    assert_eq!(reasons(&before), [0.0; 3]);

    // Half a request, and a request then nothing: both closed after a second.
    let mut slow = TcpStream::connect(addr).await.unwrap();
    slow.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")
        .await
        .unwrap();
    let mut idle = Http::connect(addr).await;
    assert_eq!(idle.request("GET", "/healthz", &[], &[]).await.status, 200);
    let mut rest = Vec::new();
    timeout(WAIT, slow.read_to_end(&mut rest))
        .await
        .unwrap()
        .unwrap();

    // A subscriber that reads nothing, until its queue overflows.
    let (mut stalled, fast) = (connect(addr).await, connect(addr).await);
    subscribe(&mut stalled, &[TOPIC]).await;
    let (mut fast_tx, mut fast_rx) = fast.split();
    fast_tx
        .send(Message::text(
            json!({"type": "subscribe", "topics": [TOPIC]}).to_string(),
        ))
        .await
        .unwrap();
    let publisher = tokio::spawn(async move {
        let frame =
            json!({"type": "publish", "topic": TOPIC, "data": "x".repeat(64 * 1024)}).to_string();
        for _ in 0..1000 {
            if fast_tx.send(Message::text(frame.clone())).await.is_err() {
                break;
            }
        }
    });
    // The publisher reads all it is sent, to the end: it must not become a slow reader too.
    let (alone_tx, alone) = tokio::sync::oneshot::channel();
    tokio::spawn(async move {
        let mut alone_tx = Some(alone_tx);
        while let Some(Ok(message)) = fast_rx.next().await {
            if let Message::Text(text) = message {
                let clients =
                    serde_json::from_str::<serde_json::Value>(&text).unwrap()["clients"].clone();
                if clients == 1 {
                    if let Some(tx) = alone_tx.take() {
                        let _ = tx.send(());
                    }
                }
            }
        }
    });
    timeout(Duration::from_secs(30), alone)
        .await
        .expect("the stalled subscriber is still subscribed")
        .expect("the publisher's connection ended");
    publisher.abort();

    let deadline = Instant::now() + WAIT;
    let after = loop {
        let after = scrape(&mut Http::connect(addr).await).await;
        if reasons(&after) == [1.0; 3] || Instant::now() > deadline {
            break after;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert_eq!(reasons(&after), [1.0; 3], "{}", after.text);
    let drops = ("reason", "receiver_too_slow");
    assert_eq!(
        after.get("commonplace_signal_frames_dropped_total", &[drops]),
        1.0,
        "one frame dropped, then the receiver was gone"
    );
    assert_names_nothing(&after, addr, &[]);
}

#[tokio::test]
async fn healthz_is_ok_and_metrics_are_off_unless_asked_for() {
    let server = signaling().await;
    let reply = Http::once(server.addr, "GET", "/healthz", &[], &[]).await;
    assert_eq!(reply.status, 200);
    assert_eq!(reply.body, b"ok\n");
    assert_eq!(
        reply.header("content-type"),
        Some("text/plain; charset=utf-8")
    );
    assert_eq!(reply.header("cache-control"), Some("no-store"));
    let head = Http::once(server.addr, "HEAD", "/healthz", &[], &[]).await;
    assert_eq!(head.status, 200);
    let off = Http::once(server.addr, "GET", "/metrics", &[], &[]).await;
    assert_eq!(off.status, 404);
    assert!(
        String::from_utf8_lossy(&off.body).contains("--metrics"),
        "{off:?}"
    );

    let Some(server) = default_server(Backend::Sqlite, "metrics-healthz-sqlite").await else {
        unreachable!("SQLite is always there");
    };
    let reply = Http::once(server.addr, "GET", "/healthz", &[], &[]).await;
    assert_eq!((reply.status, reply.body), (200, b"ok\n".to_vec()));
}

#[tokio::test]
async fn a_lost_redis_shows_in_metrics_and_healthz_until_it_is_back() {
    let Some(mut redis) = RedisServer::start("metrics-redis") else {
        return;
    };
    let store: Arc<dyn StoreBackend> = Arc::new(redis_store(&redis, Quota::default()).await);
    let mut options = with_metrics(Options::new(temp_dir("no-dist")));
    options.store = Some(StoreOptions::new(store));
    let server = start(options).await;
    let addr = server.addr;
    let up = |scrape: &Scrape| scrape.get("commonplace_redis_up", &[("use", "store")]);
    let health = move || async move {
        let reply = Http::once(addr, "GET", "/healthz", &[], &[]).await;
        (reply.status, String::from_utf8(reply.body).unwrap())
    };
    let mut http = Http::connect(addr).await;
    assert_eq!(up(&scrape(&mut http).await), 1.0);
    assert_eq!(health().await, (200, "ok\n".to_string()));

    // No store request is made meanwhile: the server's own probe finds Redis gone, and back.
    redis.kill();
    let lost = Instant::now();
    loop {
        let (status, body) = health().await;
        // A new connection each time: the idle one may have been closed meanwhile.
        let scraped = scrape(&mut Http::connect(addr).await).await;
        if status == 503 {
            assert_eq!(body, "degraded: Redis (store) cannot be reached\n");
            assert_eq!(up(&scraped), 0.0, "{}", scraped.text);
            assert_names_nothing(&scraped, addr, &["redis://"]);
            break;
        }
        assert_eq!((status, body.as_str()), (200, "ok\n"));
        assert!(
            lost.elapsed() < WAIT,
            "Redis still up after {:?}",
            lost.elapsed()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    println!("Redis known lost after {} ms", lost.elapsed().as_millis());
    // Store requests meanwhile are answered 503, and counted as failed.
    let mut http = Http::connect(addr).await;
    let before = scrape(&mut http).await;
    assert_eq!(append(addr, &id(1), 1, b"while lost").await.status, 503);
    let failed = [("op", "append"), ("outcome", "failed")];
    let after = scrape(&mut http).await;
    assert_eq!(
        after.get("commonplace_store_operations_total", &failed)
            - before.get("commonplace_store_operations_total", &failed),
        1.0
    );

    redis.restart();
    let back = Instant::now();
    loop {
        let (status, _) = health().await;
        let scraped = scrape(&mut Http::connect(addr).await).await;
        if status == 200 {
            assert_eq!(up(&scraped), 1.0, "{}", scraped.text);
            break;
        }
        assert!(
            back.elapsed() < WAIT,
            "Redis still lost after {:?}",
            back.elapsed()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    println!("Redis known back after {} ms", back.elapsed().as_millis());
    assert_eq!(appended(addr, &id(1), 1, b"back").await, 1);
}

#[test]
fn the_binary_serves_metrics_only_with_the_flag() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let without = start_binary(&[OsStr::new("--no-store")]).unwrap();
    let with = start_binary(&[OsStr::new("--no-store"), OsStr::new("--metrics")]).unwrap();
    runtime.block_on(async {
        let off = Http::once(without.addr, "GET", "/metrics", &[], &[]).await;
        assert_eq!(off.status, 404);
        let health = Http::once(without.addr, "GET", "/healthz", &[], &[]).await;
        assert_eq!(health.status, 200);
        let mut http = Http::connect(with.addr).await;
        let scraped = scrape(&mut http).await;
        let max = scraped.get("commonplace_connections_max", &[]);
        assert!(max >= 1.0, "{max}");
    });
    without.stop();
    let stderr = with.stop();
    assert!(stderr.contains("metrics served"), "{stderr}");
}
