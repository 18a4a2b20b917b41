//! What only the store on Redis has (`store.rs` runs the API's tests on it too): several
//! instances of the real binary on one Redis, Redis lost and restarted under a running server,
//! the startup checks, and what is left in Redis (its keys, its append-only files) after a
//! delete. Each test starts a real `redis-server` of its own (`common/redis.rs`).

mod common;

use common::http::Http;
use common::redis::{free_port, RedisServer};
use common::store::*;
use common::*;
use commonplace_server::store::redis::RedisStore;
use commonplace_server::store::Quota;
use serde_json::json;
use std::ffi::OsStr;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

/// The real binary on `redis`, with a `--data` folder it must not use.
fn start_on(redis: &RedisServer, name: &str) -> Running {
    let data = temp_dir(&format!("{name}-unused-data"));
    let url = redis.url();
    let running = start_binary(&[
        OsStr::new("--redis"),
        OsStr::new(&url),
        OsStr::new("--data"),
        data.as_os_str(),
    ])
    .unwrap_or_else(|(code, stderr)| panic!("exit {code:?}:\n{stderr}"));
    assert!(!data.exists(), "--data is not used with --redis");
    running
}

#[tokio::test]
async fn two_instances_serve_the_same_stores() {
    let Some(redis) = RedisServer::start("two-instances") else {
        return;
    };
    let one = start_on(&redis, "two-instances-1");
    let two = start_on(&redis, "two-instances-2");
    let a = id(1);
    // Appends through either instance take the next number: one sequence per store.
    for n in 1..=6 {
        let through = if n % 2 == 1 { one.addr } else { two.addr };
        assert_eq!(appended(through, &a, 1, &record(n)).await, n);
    }
    assert_eq!(
        put_snapshot(one.addr, &a, 1, 3, 0, b"snap").await.status,
        200
    );
    assert_eq!(appended(two.addr, &a, 1, &record(7)).await, 7);
    // A token set through one instance is checked by the other.
    assert_eq!(append(two.addr, &a, 2, b"not a's token").await.status, 403);
    // A large record, read back through the other instance byte for byte.
    let large: Vec<u8> = (0..200_000u32).map(|i| (i * 7 % 251) as u8).collect();
    assert_eq!(appended(one.addr, &a, 1, &large).await, 8);
    let (one_body, two_body) = (
        read(one.addr, &a, 0).await.body,
        read(two.addr, &a, 0).await.body,
    );
    assert!(one_body == two_body, "the same bytes through both");
    let (snapshot, records, _) = read_ok(two.addr, &a, 0).await;
    assert_eq!(snapshot, Some((3, b"snap".to_vec())));
    let mut expected: Vec<_> = (4..=7).map(|n| (n, record(n))).collect();
    expected.push((8, large));
    assert!(records == expected, "records 4 to 8 as written");

    // A snapshot race between instances: exactly one wins each round.
    for round in 0..3u64 {
        let covers = 8 + round;
        let replaces = if round == 0 { 3 } else { covers - 1 };
        if round > 0 {
            appended(two.addr, &a, 1, &record(covers)).await;
        }
        let mut racers = Vec::new();
        for r in 0..8u8 {
            let addr = if r % 2 == 0 { one.addr } else { two.addr };
            let a = a.clone();
            racers.push(tokio::spawn(async move {
                let body = format!("snapshot {round} by {r}").into_bytes();
                (
                    put_snapshot(addr, &a, 1, covers, replaces, &body).await,
                    body,
                )
            }));
        }
        let mut winners = Vec::new();
        for racer in racers {
            let (reply, body) = racer.await.unwrap();
            match reply.status {
                200 => winners.push(body),
                409 => assert_eq!(reply.json()["covers"], covers),
                other => panic!("{other}: {reply:?}"),
            }
        }
        assert_eq!(winners.len(), 1, "round {round}");
        let winner = winners.pop().unwrap();
        for addr in [one.addr, two.addr] {
            let (snapshot, records, _) = read_ok(addr, &a, 0).await;
            assert_eq!(snapshot, Some((covers, winner.clone())));
            assert!(records.is_empty());
        }
    }
    // A delete through one is a tombstone through the other.
    assert_eq!(delete(one.addr, &a, 1).await.status, 204);
    assert_tombstone(two.addr, &a, 1).await;
    for running in [&one, &two] {
        let reply = Http::once(running.addr, "GET", "/config", &[], &[]).await;
        assert_eq!(reply.json(), json!({"iceServers": [], "store": true}));
    }
    let stderr = one.stop();
    assert!(stderr.contains("store open"), "{stderr}");
    assert!(
        !stderr.contains(&a),
        "store ids only at debug level:\n{stderr}"
    );
    two.stop();
}

/// Sends every kind of store request to `addr`; returns the statuses.
async fn every_request(addr: SocketAddr, store: &str) -> Vec<(u16, String)> {
    let replies = [
        append(addr, store, 1, b"during the outage").await,
        read(addr, store, 0).await,
        put_snapshot(addr, store, 1, 2, 1, b"snap").await,
        delete(addr, store, 1).await,
    ];
    replies
        .iter()
        .map(|reply| (reply.status, reply.error()))
        .collect()
}

#[tokio::test]
async fn a_lost_redis_is_503_until_it_is_back_and_loses_nothing_acknowledged() {
    let Some(mut redis) = RedisServer::start("outage") else {
        return;
    };
    let running = start_on(&redis, "outage");
    let addr = running.addr;
    let a = id(1);
    for n in 1..=20 {
        appended(addr, &a, 1, &record(n)).await;
    }
    assert_eq!(
        put_snapshot(addr, &a, 1, 10, 0, b"up to 10").await.status,
        200
    );
    appended(addr, &id(2), 2, b"another store").await;
    let before = read(addr, &a, 0).await.body;

    // Killed: nothing flushed on the way out; what was acknowledged is in its AOF already.
    redis.kill();
    let mut refused = 0;
    for _ in 0..5 {
        let asked = Instant::now();
        let replies = every_request(addr, &a).await;
        println!(
            "4 requests during the outage: {} ms",
            asked.elapsed().as_millis()
        );
        for (status, error) in replies {
            assert_eq!(status, 503, "{error}");
            assert!(
                error.contains("Redis") && error.contains("try again"),
                "{error}"
            );
            refused += 1;
        }
    }
    // The instance goes on serving everything else.
    let reply = Http::once(addr, "GET", "/config", &[], &[]).await;
    assert_eq!(reply.status, 200);
    let mut ws = connect(addr).await;
    sync(&mut ws).await;

    redis.restart();
    let back = Instant::now();
    let seq = loop {
        let reply = append(addr, &a, 1, &record(21)).await;
        match reply.status {
            201 => break reply.json()["seq"].as_u64().unwrap(),
            503 => refused += 1,
            other => panic!("{other}: {reply:?}"),
        }
        assert!(back.elapsed() < WAIT, "the server did not reconnect");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    println!(
        "reconnected {} ms after Redis was back",
        back.elapsed().as_millis()
    );
    assert_eq!(seq, 21, "nothing acknowledged lost, no number given twice");
    let mut after = read(addr, &a, 0).await.body;
    let (_, records, _) = read_ok(addr, &a, 20).await;
    assert_eq!(records, [(21, record(21))]);
    after.truncate(before.len());
    assert!(after == before, "the same bytes as before the outage");
    assert_eq!(
        read_ok(addr, &id(2), 0).await.1,
        [(1, b"another store".to_vec())]
    );

    // The log: one line when it began, one when it ended with the count, nothing per request.
    let stderr = running.stop();
    let lines = |needle: &str| stderr.lines().filter(|l| l.contains(needle)).count();
    assert_eq!(lines("cannot serve the store"), 1, "{stderr}");
    assert_eq!(lines("still cannot serve"), 0, "{stderr}");
    assert_eq!(
        lines(&format!("{refused} store requests got 503 meanwhile")),
        1,
        "{stderr}"
    );
}

#[tokio::test]
async fn a_silent_redis_is_503_after_the_patience_and_the_connection_is_made_anew() {
    let Some(redis) = RedisServer::start("silent") else {
        return;
    };
    let patience = Duration::from_millis(500);
    let store = RedisStore::open_with_patience(&redis.url(), Quota::default(), patience)
        .await
        .unwrap();
    let server = serve_store(std::sync::Arc::new(store), |_| {}).await;
    let addr = server.addr;
    let a = id(1);
    assert_eq!(appended(addr, &a, 1, &record(1)).await, 1);

    redis.pause();
    let asked = Instant::now();
    let reply = append(addr, &a, 1, &record(2)).await;
    let waited = asked.elapsed();
    assert_eq!(reply.status, 503, "{reply:?}");
    assert!(reply.error().contains("try again"), "{}", reply.error());
    assert!(
        waited >= patience && waited < WAIT,
        "answered after {waited:?}"
    );
    // Known lost now (answered at once, but for a try now and then: outage.rs's tests).
    assert_eq!(read(addr, &a, 0).await.status, 503);

    redis.resume();
    let back = Instant::now();
    let seq = loop {
        let reply = append(addr, &a, 1, &record(3)).await;
        if reply.status == 201 {
            break reply.json()["seq"].as_u64().unwrap();
        }
        assert_eq!(reply.status, 503, "{reply:?}");
        assert!(back.elapsed() < WAIT, "the server did not reconnect");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    // The append answered 503 had reached Redis before it went silent: it was done. A 503
    // after a timeout says "not known", not "not done" (docs/store.md); the browser sends its
    // changes again, and applying a Yjs update twice changes nothing.
    assert_eq!(seq, 3);
    let (_, records, _) = read_ok(addr, &a, 0).await;
    assert_eq!(records, [(1, record(1)), (2, record(2)), (3, record(3))]);
}

#[tokio::test]
async fn startup_refuses_a_redis_it_cannot_use() {
    // Nothing listens there. The password never shows.
    let port = free_port();
    let url = format!("redis://:s3cret@127.0.0.1:{port}/0");
    let (code, stderr) = match start_binary(&[OsStr::new("--redis"), OsStr::new(&url)]) {
        Ok(running) => {
            running.kill();
            panic!("the server started without Redis");
        }
        Err(failed) => failed,
    };
    println!("{stderr}");
    assert!(matches!(code, Some(c) if c != 0), "exit code {code:?}");
    let errors: Vec<&str> = stderr.lines().filter(|l| l.contains("ERROR")).collect();
    assert_eq!(errors.len(), 1, "one error line:\n{stderr}");
    let shown = format!("redis://:***@127.0.0.1:{port}/0");
    assert!(
        errors[0].contains(&format!("cannot connect to Redis at {shown}")),
        "{stderr}"
    );
    assert!(errors[0].contains("--redis"), "says what to do: {stderr}");
    assert!(!stderr.contains("s3cret"), "{stderr}");

    let (code, stderr) = start_binary(&[OsStr::new("--redis"), OsStr::new("http://127.0.0.1/")])
        .err()
        .expect("not a Redis URL");
    assert!(matches!(code, Some(c) if c != 0));
    assert!(stderr.contains("is not a Redis URL"), "{stderr}");
    let (code, stderr) = start_binary(&[
        OsStr::new("--redis"),
        OsStr::new("redis://127.0.0.1/0"),
        OsStr::new("--no-store"),
    ])
    .err()
    .expect("--redis and --no-store together");
    assert_eq!(code, Some(2), "{stderr}");
}

#[tokio::test]
async fn startup_warns_when_redis_may_lose_acknowledged_writes() {
    for (settings, expected) in [
        (&[][..], "writes each acknowledged write to disk first"),
        (&["--appendfsync", "everysec"][..], "appendfsync everysec"),
        (&["--appendonly", "no"][..], "appendonly no"),
        (
            &["--maxmemory-policy", "allkeys-lru"][..],
            "maxmemory-policy allkeys-lru",
        ),
    ] {
        let Some(redis) = RedisServer::start_with("durability", settings) else {
            return;
        };
        let running = start_on(&redis, "durability");
        let reply = append(running.addr, &id(1), 1, b"x").await;
        assert_eq!(reply.status, 201, "it starts all the same");
        let stderr = running.stop();
        let line = stderr
            .lines()
            .find(|line| line.contains(expected))
            .unwrap_or_else(|| panic!("{expected:?} in:\n{stderr}"));
        let level = if settings.is_empty() { "INFO" } else { "WARN" };
        assert!(line.contains(level), "{line}");
    }
}

#[tokio::test]
async fn a_tombstone_keeps_only_the_id_and_the_token_digest() {
    let Some(server) = default_server(Backend::Redis, "redis-tombstone-keys").await else {
        return;
    };
    let addr = server.addr;
    for n in 1..=5 {
        appended(addr, &id(1), 1, &record(n)).await;
        appended(addr, &id(2), 2, &record(n)).await;
    }
    put_snapshot(addr, &id(1), 1, 3, 0, b"snap").await;
    assert_eq!(delete(addr, &id(1), 1).await.status, 204);

    let mut redis = server.redis.as_ref().unwrap().client();
    let keys = |n: u8| {
        let meta = format!("cp:store:{{{}}}", id(n));
        [
            meta.clone(),
            format!("{meta}:records"),
            format!("{meta}:snapshot"),
        ]
    };
    let mut all: Vec<String> = ::redis::cmd("KEYS").arg("*").query(&mut redis).unwrap();
    all.sort();
    let mut expected = vec![keys(1)[0].clone(), keys(2)[0].clone(), keys(2)[1].clone()];
    expected.sort();
    assert_eq!(
        all, expected,
        "the deleted store's records and snapshot are gone"
    );
    let meta: std::collections::HashMap<String, Vec<u8>> = ::redis::cmd("HGETALL")
        .arg(&keys(1)[0])
        .query(&mut redis)
        .unwrap();
    let digest = commonplace_protocol::store::WriteToken::from_bytes([1; 32]).digest();
    assert_eq!(meta["token"], digest.0, "the token's digest is kept");
    for (field, value) in [
        ("removed", "1"),
        ("last_seq", "0"),
        ("bytes", "0"),
        ("records", "0"),
        ("covers", "0"),
    ] {
        assert_eq!(meta[field], value.as_bytes(), "{field}");
    }
    assert_eq!(meta.len(), 6, "nothing else: {:?}", meta.keys());
    let kept: Vec<String> = ::redis::cmd("HMGET")
        .arg(&keys(2)[0])
        .arg(&["removed", "last_seq", "records", "bytes"])
        .query(&mut redis)
        .unwrap();
    assert_eq!(kept, ["0", "5", "5", &(5 * record(1).len()).to_string()]);
    assert_tombstone(addr, &id(1), 1).await;
}

/// How many times `needle` is in Redis's append-only files.
fn in_aof(redis: &RedisServer, needle: &[u8]) -> usize {
    redis
        .aof_files()
        .iter()
        .map(|(_, bytes)| bytes.windows(needle.len()).filter(|w| *w == needle).count())
        .sum()
}

#[tokio::test]
async fn a_deleted_store_stays_deleted_and_its_bytes_leave_redis_files() {
    // The AOF's base file as commands, not in RDB form (where Redis compresses strings): so
    // that a scan for the bytes finds them wherever they are.
    let Some(mut redis) = RedisServer::start_with("erase", &["--aof-use-rdb-preamble", "no"])
    else {
        return;
    };
    let store = redis_store(&redis, Quota::default()).await;
    let server = serve_store(std::sync::Arc::new(store), |_| {}).await;
    let addr = server.addr;
    let marker = format!("{:=^64}", " a deleted store's ciphertext 7f3a9c ").into_bytes();
    let kept = format!("{:-^64}", " a kept store's ciphertext 2b8e51 ").into_bytes();
    let (a, b) = (id(1), id(2));
    for n in 1..=60 {
        let copies = if n % 10 == 0 { 300 } else { 1 };
        appended(addr, &a, 1, &marker.repeat(copies)).await;
        appended(addr, &b, 2, &kept).await;
        if n == 20 || n == 40 {
            let replaces = if n == 20 { 0 } else { 20 };
            let reply = put_snapshot(addr, &a, 1, n, replaces, &marker.repeat(100)).await;
            assert_eq!(reply.status, 200);
        }
    }
    let b_before = read(addr, &b, 0).await.body;
    assert!(in_aof(&redis, &marker) > 0, "the scan finds what is stored");
    assert_eq!(delete(addr, &a, 2).await.status, 403);
    assert_eq!(
        read_ok(addr, &a, 0).await.1.len(),
        20,
        "a wrong token deletes nothing"
    );

    assert_eq!(delete(addr, &a, 1).await.status, 204);
    // Redis rewrites its AOF in the background, asked to after the delete.
    let asked = Instant::now();
    while in_aof(&redis, &marker) > 0 {
        assert!(
            asked.elapsed() < WAIT,
            "the deleted bytes are still in the AOF"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    println!(
        "the AOF was rewritten {} ms after the delete",
        asked.elapsed().as_millis()
    );
    assert!(
        in_aof(&redis, &kept) >= 60,
        "the other store is in the new file"
    );
    assert_tombstone(addr, &a, 1).await;

    // From the rewritten files: still gone, still owned by its token; the other as it was.
    redis.kill();
    redis.restart();
    let back = Instant::now();
    while read(addr, &b, 0).await.status != 200 {
        assert!(back.elapsed() < WAIT, "the server did not reconnect");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_tombstone(addr, &a, 1).await;
    assert!(read(addr, &b, 0).await.body == b_before);
    assert_eq!(appended(addr, &b, 2, &kept).await, 61);
    assert_eq!(in_aof(&redis, &marker), 0);
}
