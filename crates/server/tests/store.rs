//! The encrypted store over real HTTP: the API of `docs/store.md`, its token rules, the
//! snapshot's compare-and-swap, quotas and rates, each on SQLite and on Redis
//! (`on_sqlite::…`, `on_redis::…`, a real `redis-server` per test); then what only SQLite has:
//! its rows, and the startup checks of the real binary (which must leave a bad database byte
//! for byte as it found it). `store_redis.rs` has what only Redis has.

mod common;

use common::http::{Framing, Http};
use common::store::*;
use common::*;
use commonplace_protocol::store::{decode_reply, StoreId, WriteToken};
use commonplace_server::store::{Quota, StoreOptions};
use serde_json::json;
use std::ffi::OsStr;
use std::net::IpAddr;
use std::path::Path;

/// Each test named here runs twice: on SQLite (`on_sqlite::name`) and on Redis
/// (`on_redis::name`; skipped where `redis-server` is missing, but not on CI).
macro_rules! on_every_backend {
    ($($test:ident),* $(,)?) => {
        mod on_sqlite {
            $(
                #[tokio::test]
                async fn $test() {
                    super::$test(super::Backend::Sqlite).await
                }
            )*
        }
        mod on_redis {
            $(
                #[tokio::test]
                async fn $test() {
                    super::$test(super::Backend::Redis).await
                }
            )*
        }
    };
}

on_every_backend!(
    append_then_read_after,
    sequence_numbers_increase_under_concurrent_appends,
    token_rules_and_a_refused_write_changes_nothing,
    a_snapshot_is_a_compare_and_swap,
    of_concurrent_snapshots_exactly_one_wins,
    delete_leaves_a_tombstone,
    a_full_store_refuses_appends_while_others_write_on,
    a_store_holds_at_most_so_many_records,
    a_client_writing_too_fast_gets_429_and_others_do_not,
    too_large_is_413_before_and_while_reading,
    bad_ids_queries_and_bodies_are_400,
    a_large_notebook_comes_in_bounded_replies,
    config_says_whether_the_server_keeps_stores,
);

async fn append_then_read_after(backend: Backend) {
    let Some(server) = default_server(backend, "roundtrip").await else {
        return;
    };
    let a = id(1);
    for n in 1..=3 {
        assert_eq!(appended(server.addr, &a, 1, &record(n)).await, n);
    }
    let (snapshot, records, more) = read_ok(server.addr, &a, 0).await;
    assert_eq!((snapshot, more), (None, None));
    assert_eq!(records, (1..=3).map(|n| (n, record(n))).collect::<Vec<_>>());
    let (_, records, _) = read_ok(server.addr, &a, 2).await;
    assert_eq!(records, [(3, record(3))]);
    // Nothing new: 200 and an empty body.
    let reply = read(server.addr, &a, 3).await;
    assert_eq!((reply.status, reply.body.len()), (200, 0));
    assert_eq!(read(server.addr, &a, 99).await.body.len(), 0);
    // No ?after: from the start.
    let reply = Http::once(server.addr, "GET", &format!("/store/{a}"), &[], &[]).await;
    assert_eq!(decode_reply(&reply.body, 0).unwrap().records.len(), 3);
    assert_eq!(reply.header("cache-control"), Some("no-store"));

    // Another store has its own numbers; a missing one is a 404.
    assert_eq!(appended(server.addr, &id(2), 2, b"x").await, 1);
    assert_eq!(appended(server.addr, &a, 1, &record(4)).await, 4);
    let missing = read(server.addr, &id(3), 0).await;
    assert_eq!(missing.status, 404);
    assert_eq!(missing.error(), "no such store");
}

async fn sequence_numbers_increase_under_concurrent_appends(backend: Backend) {
    let Some(server) = default_server(backend, "sequence").await else {
        return;
    };
    let a = id(1);
    let mut writers = Vec::new();
    for w in 0..8u64 {
        let addr = server.addr;
        let a = a.clone();
        writers.push(tokio::spawn(async move {
            let mut mine = Vec::new();
            for n in 0..10 {
                let seq = appended(addr, &a, 1, &record(w * 100 + n)).await;
                mine.push((seq, record(w * 100 + n)));
            }
            mine
        }));
    }
    let mut all = Vec::new();
    for writer in writers {
        let mine = writer.await.unwrap();
        assert!(mine.windows(2).all(|w| w[0].0 < w[1].0), "{mine:?}");
        all.extend(mine);
    }
    all.sort();
    let seqs: Vec<u64> = all.iter().map(|(s, _)| *s).collect();
    assert_eq!(seqs, (1..=80).collect::<Vec<_>>(), "each number given once");
    let (_, records, _) = read_ok(server.addr, &a, 0).await;
    assert_eq!(
        records, all,
        "each record under the number it was answered with"
    );
}

async fn token_rules_and_a_refused_write_changes_nothing(backend: Backend) {
    let Some(server) = default_server(backend, "tokens").await else {
        return;
    };
    let addr = server.addr;
    let a = id(1);
    appended(addr, &a, 1, b"one").await;
    appended(addr, &a, 1, b"two").await;
    assert_eq!(put_snapshot(addr, &a, 1, 1, 0, b"snap").await.status, 200);
    appended(addr, &a, 1, b"three").await;
    let before = read(addr, &a, 0).await.body;

    let records = format!("/store/{a}/records");
    let snapshot = format!("/store/{a}/snapshot?covers=3&replaces=1");
    let store = format!("/store/{a}");
    let good = bearer(1);
    let wrong = bearer(2);
    let malformed = format!("{good}x");
    let basic = "Basic dXNlcjpwYXNz".to_string();
    for (method, path, body) in [
        ("POST", &records, &b"four"[..]),
        ("PUT", &snapshot, &b"snap2"[..]),
        ("DELETE", &store, &b""[..]),
    ] {
        let reply = Http::once(addr, method, path, &[], body).await;
        assert_eq!(reply.status, 401, "{method} without a token");
        assert_eq!(reply.header("www-authenticate"), Some("Bearer"));
        assert!(
            reply.error().contains("Authorization: Bearer"),
            "{}",
            reply.error()
        );
        for bad in [&malformed, &basic] {
            let reply = Http::once(addr, method, path, &[("Authorization", bad)], body).await;
            assert_eq!(reply.status, 401, "{method} with {bad}");
        }
        let reply = Http::once(addr, method, path, &[("Authorization", &wrong)], body).await;
        assert_eq!(reply.status, 403, "{method} with another store's token");
        assert_eq!(reply.error(), "wrong write token for this store");
        assert_eq!(read(addr, &a, 0).await.body, before, "after {method}");
    }
    // The right token still works, and `bearer` is any case.
    let lower = good.replacen("Bearer", "bearer", 1);
    let reply = Http::once(
        addr,
        "POST",
        &records,
        &[("Authorization", &lower)],
        b"four",
    )
    .await;
    assert_eq!(reply.json(), json!({"seq": 4}));
}

async fn a_snapshot_is_a_compare_and_swap(backend: Backend) {
    let Some(server) = default_server(backend, "cas").await else {
        return;
    };
    let addr = server.addr;
    let a = id(1);
    for n in 1..=5 {
        appended(addr, &a, 1, &record(n)).await;
    }
    let reply = put_snapshot(addr, &a, 1, 3, 0, b"up to 3").await;
    assert_eq!((reply.status, reply.json()), (200, json!({"covers": 3})));
    // Covered records are gone; the rest follow the snapshot.
    let (snapshot, records, _) = read_ok(addr, &a, 0).await;
    assert_eq!(snapshot, Some((3, b"up to 3".to_vec())));
    assert_eq!(records, [(4, record(4)), (5, record(5))]);
    let (snapshot, records, _) = read_ok(addr, &a, 2).await;
    assert!(snapshot.is_some(), "a reader behind the snapshot gets it");
    assert_eq!(records.len(), 2);
    let (snapshot, records, _) = read_ok(addr, &a, 3).await;
    assert_eq!((snapshot, records.len()), (None, 2));

    // A stale `replaces`: 409 with what the snapshot covers, and nothing lost.
    let before = read(addr, &a, 0).await.body;
    let reply = put_snapshot(addr, &a, 1, 5, 0, b"stale").await;
    assert_eq!(reply.status, 409);
    let body = reply.json();
    assert_eq!(body["covers"], 3);
    assert!(
        body["error"].as_str().unwrap().contains("covers 3"),
        "{body}"
    );
    let reply = put_snapshot(addr, &a, 1, 5, 4, b"stale").await;
    assert_eq!(
        (reply.status, reply.json()["covers"].clone()),
        (409, json!(3))
    );
    assert_eq!(read(addr, &a, 0).await.body, before);

    // Rules on what it covers: more than it replaces, no more than was written.
    let reply = put_snapshot(addr, &a, 1, 6, 3, b"future").await;
    assert_eq!(reply.status, 400);
    assert!(
        reply.error().contains("last record is 5"),
        "{}",
        reply.error()
    );
    assert_eq!(put_snapshot(addr, &a, 1, 3, 3, b"same").await.status, 400);
    assert_eq!(read(addr, &a, 0).await.body, before);

    let reply = put_snapshot(addr, &a, 1, 5, 3, b"up to 5").await;
    assert_eq!(reply.json(), json!({"covers": 5}));
    let (snapshot, records, _) = read_ok(addr, &a, 0).await;
    assert_eq!(
        (snapshot, records.len()),
        (Some((5, b"up to 5".to_vec())), 0)
    );
    // Numbers go on from the last one given, snapshot or not.
    assert_eq!(appended(addr, &a, 1, &record(6)).await, 6);
    // A snapshot on a store that does not exist.
    assert_eq!(put_snapshot(addr, &id(9), 1, 1, 0, b"x").await.status, 404);
}

async fn of_concurrent_snapshots_exactly_one_wins(backend: Backend) {
    let Some(server) = default_server(backend, "cas-race").await else {
        return;
    };
    let addr = server.addr;
    let a = id(1);
    for n in 1..=10 {
        appended(addr, &a, 1, &record(n)).await;
    }
    for round in 0..3u64 {
        let replaces = if round == 0 { 0 } else { 10 + round - 1 };
        let covers = 10 + round;
        if round > 0 {
            appended(addr, &a, 1, &record(covers)).await;
        }
        let mut racers = Vec::new();
        for r in 0..8u8 {
            let a = a.clone();
            racers.push(tokio::spawn(async move {
                let body = format!("snapshot {round} by {r}").into_bytes();
                let reply = put_snapshot(addr, &a, 1, covers, replaces, &body).await;
                (reply, body)
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
        let (snapshot, records, _) = read_ok(addr, &a, 0).await;
        assert_eq!(snapshot, Some((covers, winners.pop().unwrap())));
        assert!(records.is_empty());
    }
}

async fn delete_leaves_a_tombstone(backend: Backend) {
    let Some(server) = default_server(backend, "delete").await else {
        return;
    };
    let addr = server.addr;
    let a = id(1);
    for n in 1..=3 {
        appended(addr, &a, 1, &record(n)).await;
    }
    put_snapshot(addr, &a, 1, 2, 0, b"snap").await;
    assert_eq!(append(addr, &a, 2, b"not a's token").await.status, 403);
    let other = id(2);
    appended(addr, &other, 2, b"kept").await;

    // A wrong token deletes nothing.
    let before = read(addr, &a, 0).await.body;
    let reply = delete(addr, &a, 2).await;
    assert_eq!(reply.status, 403);
    assert_eq!(reply.error(), "wrong write token for this store");
    assert_eq!(read(addr, &a, 0).await.body, before);

    let reply = delete(addr, &a, 1).await;
    assert_eq!((reply.status, reply.body.len()), (204, 0));
    // Gone for good: no browser that still has the notebook can create it again.
    assert_tombstone(addr, &a, 1).await;
    // A store that never was: 404, to a delete too.
    assert_eq!(delete(addr, &id(3), 1).await.status, 404);
    assert_eq!(read(addr, &id(3), 0).await.status, 404);
    // Another store goes on as it was.
    let (_, records, _) = read_ok(addr, &other, 0).await;
    assert_eq!(records, [(1, b"kept".to_vec())]);
    assert_eq!(appended(addr, &other, 2, b"more").await, 2);
    assert_eq!(put_snapshot(addr, &other, 2, 2, 0, b"s").await.status, 200);
}

#[tokio::test]
async fn a_tombstone_keeps_only_the_id_and_the_token_digest() {
    let server = default_server(Backend::Sqlite, "tombstone-row")
        .await
        .unwrap();
    let dir = server.dir();
    let addr = server.addr;
    for n in 1..=5 {
        appended(addr, &id(1), 1, &record(n)).await;
        appended(addr, &id(2), 2, &record(n)).await;
    }
    put_snapshot(addr, &id(1), 1, 3, 0, b"snap").await;
    assert_eq!(delete(addr, &id(1), 1).await.status, 204);

    // What the database holds, read beside the running server (WAL: readers do not wait).
    let db = rusqlite::Connection::open_with_flags(
        dir.join("store.sqlite3"),
        rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY,
    )
    .unwrap();
    let row = |n: u8| {
        db.query_row(
            "SELECT key, token, removed, last_seq, bytes, records FROM stores WHERE id = ?1",
            [&StoreId::from_bytes([n; 16]).as_bytes()[..]],
            |row| {
                Ok((
                    row.get::<_, i64>(0)?,
                    row.get::<_, Vec<u8>>(1)?,
                    row.get::<_, i64>(2)?,
                    row.get::<_, i64>(3)?,
                    row.get::<_, i64>(4)?,
                    row.get::<_, i64>(5)?,
                ))
            },
        )
        .unwrap()
    };
    let count = |table: &str, key: i64| -> i64 {
        db.query_row(
            &format!("SELECT count(*) FROM {table} WHERE store = ?1"),
            [key],
            |row| row.get(0),
        )
        .unwrap()
    };
    let (key, token, removed, last_seq, bytes, records) = row(1);
    let digest = WriteToken::from_bytes([1; 32]).digest();
    assert_eq!(token, digest.0, "the token's digest is kept");
    assert_eq!(
        (removed, last_seq, bytes, records),
        (1, 0, 0, 0),
        "marked removed, holding nothing, counting nothing against the quota"
    );
    assert_eq!((count("records", key), count("snapshots", key)), (0, 0));
    let (key, _, removed, last_seq, _, records) = row(2);
    assert_eq!((removed, last_seq, records), (0, 5, 5));
    assert_eq!(count("records", key), 5);
    drop(db);
    assert_tombstone(addr, &id(1), 1).await;
}

async fn a_full_store_refuses_appends_while_others_write_on(backend: Backend) {
    let quota = Quota {
        max_bytes: 64 * 1024,
        max_records: 1000,
    };
    let Some(server) = store_server(backend, "quota", quota, |_| {}).await else {
        return;
    };
    let addr = server.addr;
    let (a, b) = (id(1), id(2));
    let chunk = vec![7u8; 4000];
    let mut accepted = 0;
    let full = loop {
        let reply = append(addr, &a, 1, &chunk).await;
        match reply.status {
            201 => accepted += 1,
            507 => break reply,
            other => panic!("{other}: {reply:?}"),
        }
        assert!(accepted < 100, "never full");
    };
    assert_eq!(accepted, 16, "64 KiB of 4000-byte records");
    let message = full.error();
    assert!(message.contains("this store is full"), "{message}");
    assert!(message.contains("snapshot"), "says what to do: {message}");
    // Still full, smaller records too if they do not fit; other stores unaffected.
    assert_eq!(append(addr, &a, 1, &chunk).await.status, 507);
    assert_eq!(appended(addr, &b, 2, &chunk).await, 1);
    // A snapshot larger than what is left, but shrinking the store, is taken...
    let reply = put_snapshot(addr, &a, 1, 16, 0, &vec![1u8; 8000]).await;
    assert_eq!(reply.status, 200, "{:?}", reply.body);
    // ... and the store takes appends again, until it is full again.
    let mut last = 16;
    while append(addr, &a, 1, &chunk).await.status == 201 {
        last += 1;
    }
    assert_eq!(last, 16 + 14, "8000 bytes of snapshot and 14 records");
    // A snapshot that would grow a full store is refused; one that shrinks it is taken.
    let reply = put_snapshot(addr, &a, 1, 17, 16, &vec![1u8; 60_000]).await;
    assert_eq!(reply.status, 507, "{reply:?}");
    let reply = put_snapshot(addr, &a, 1, last, 16, &vec![1u8; 60_000]).await;
    assert_eq!(reply.status, 200, "{reply:?}");
    // One larger than the whole quota is too large at once.
    let reply = put_snapshot(addr, &a, 1, 17, 16, &vec![1u8; 64 * 1024 + 1]).await;
    assert_eq!(reply.status, 413);
}

async fn a_store_holds_at_most_so_many_records(backend: Backend) {
    let quota = Quota {
        max_bytes: 1 << 20,
        max_records: 3,
    };
    let Some(server) = store_server(backend, "max-records", quota, |_| {}).await else {
        return;
    };
    let a = id(1);
    for n in 1..=3 {
        appended(server.addr, &a, 1, &record(n)).await;
    }
    let reply = append(server.addr, &a, 1, &record(4)).await;
    assert_eq!(reply.status, 507);
    assert!(reply.error().contains("3 records"), "{}", reply.error());
    assert_eq!(
        put_snapshot(server.addr, &a, 1, 2, 0, b"s").await.status,
        200
    );
    assert_eq!(appended(server.addr, &a, 1, &record(4)).await, 4);
}

async fn a_client_writing_too_fast_gets_429_and_others_do_not(backend: Backend) {
    let tweak = |store: &mut StoreOptions| {
        store.rate = 4 * 1024;
        store.burst = 16 * 1024;
    };
    let Some(server) = store_server(backend, "rate", Quota::default(), tweak).await else {
        return;
    };
    let addr = server.addr;
    let chunk = vec![1u8; 3 * 1024];
    let mut accepted = 0;
    let limited = loop {
        let reply = append(addr, &id(1), 1, &chunk).await;
        match reply.status {
            201 => accepted += 1,
            429 => break reply,
            other => panic!("{other}: {reply:?}"),
        }
        assert!(accepted < 20, "never limited");
    };
    // 16 KiB of burst at 4 KiB per write (body and 1 KiB): four, and the one into debt (and
    // one more for each second a slow machine took meanwhile).
    assert!((5..=7).contains(&accepted), "{accepted} accepted");
    let retry: u64 = limited.header("retry-after").unwrap().parse().unwrap();
    assert!((1..=5).contains(&retry), "Retry-After: {retry}");
    assert!(limited.error().contains("try again"), "{}", limited.error());
    // Another store from the same client: the same budget.
    assert_eq!(append(addr, &id(2), 2, b"x").await.status, 429);
    // Another client (another loopback address) writes on.
    let from: IpAddr = "127.0.0.2".parse().unwrap();
    let auth = bearer(1);
    let path = format!("/store/{}/records", id(1));
    let reply = Http::connect_from(addr, from)
        .await
        .request("POST", &path, &[("Authorization", &auth)], &chunk)
        .await;
    assert_eq!(reply.status, 201);
    // Reads are not writes: never limited.
    assert_eq!(read(addr, &id(1), 0).await.status, 200);
}

async fn too_large_is_413_before_and_while_reading(backend: Backend) {
    let tweak = |store: &mut StoreOptions| store.max_record = 1000;
    let Some(server) = store_server(backend, "oversize", Quota::default(), tweak).await else {
        return;
    };
    let addr = server.addr;
    let a = id(1);
    assert_eq!(appended(addr, &a, 1, &[1u8; 1000]).await, 1);
    let reply = append(addr, &a, 1, &[1u8; 1001]).await;
    assert_eq!(reply.status, 413);
    assert!(
        reply.error().contains("limit of 1000 bytes"),
        "{}",
        reply.error()
    );
    // Without a Content-Length, counted as it arrives.
    let auth = bearer(1);
    let path = format!("/store/{a}/records");
    for (len, status) in [(1001, 413), (1000, 201)] {
        let reply = Http::connect(addr)
            .await
            .send(
                "POST",
                &path,
                &[("Authorization", &auth)],
                &vec![2u8; len],
                Framing::Chunked,
            )
            .await;
        assert_eq!(reply.status, status, "{len} bytes chunked");
    }
    // A declared length far over the limit is refused without being read.
    let reply = Http::connect(addr)
        .await
        .request(
            "POST",
            &path,
            &[("Authorization", &auth), ("Content-Length", "99999999999")],
            &[],
        )
        .await;
    assert_eq!(reply.status, 413);
    let (_, records, _) = read_ok(addr, &a, 0).await;
    assert_eq!(records.len(), 2);
}

async fn bad_ids_queries_and_bodies_are_400(backend: Backend) {
    let Some(server) = default_server(backend, "bad").await else {
        return;
    };
    let addr = server.addr;
    let a = id(1);
    appended(addr, &a, 1, b"x").await;
    let auth = bearer(1);
    let with_token = [("Authorization", auth.as_str())];
    let upper = id(0xab).to_uppercase();
    for bad_id in [
        "abc",
        upper.as_str(),
        "0101010101010101010101010101010g",
        "%ff%fe",
        "..%2f..%2fetc%2fpasswd",
        "01010101010101010101010101010101x",
    ] {
        let reply = Http::once(addr, "GET", &format!("/store/{bad_id}"), &[], &[]).await;
        assert_eq!(reply.status, 400, "{bad_id}");
        assert!(
            reply.error().contains("32 lowercase hex"),
            "{}",
            reply.error()
        );
        let path = format!("/store/{bad_id}/records");
        let reply = Http::once(addr, "POST", &path, &with_token, b"x").await;
        assert_eq!(reply.status, 400, "{bad_id}");
    }
    for query in [
        "after=abc",
        "after=-1",
        "after=",
        "after",
        "after=1&after=2",
        "after=1e3",
        "after=+1",
        "after=18446744073709551616",
        "after=9223372036854775808",
        "since=1",
    ] {
        let reply = Http::once(addr, "GET", &format!("/store/{a}?{query}"), &[], &[]).await;
        assert_eq!(reply.status, 400, "{query}");
        reply.error();
    }
    for query in [
        "",
        "?covers=1",
        "?replaces=0",
        "?covers=x&replaces=0",
        "?covers=1&replaces=1",
        "?covers=1&replaces=2",
        "?covers=1&replaces=0&extra=1",
    ] {
        let path = format!("/store/{a}/snapshot{query}");
        let reply = Http::once(addr, "PUT", &path, &with_token, b"s").await;
        assert_eq!(reply.status, 400, "{query}");
        reply.error();
    }
    // Empty bodies.
    let reply = append(addr, &a, 1, b"").await;
    assert_eq!(reply.status, 400);
    assert!(reply.error().contains("empty"));
    assert_eq!(put_snapshot(addr, &a, 1, 1, 0, b"").await.status, 400);
    // Other methods and paths under /store/ are JSON errors too.
    let reply = Http::once(addr, "PATCH", &format!("/store/{a}"), &[], &[]).await;
    assert_eq!(reply.status, 405);
    assert_eq!(reply.header("allow"), Some("GET, DELETE"));
    reply.error();
    let reply = Http::once(addr, "GET", &format!("/store/{a}/records"), &[], &[]).await;
    assert_eq!(reply.status, 405);
    for path in [
        "/store",
        "/store/",
        &format!("/store/{a}/other"),
        "/store/a/b/c",
    ] {
        let reply = Http::once(addr, "GET", path, &[], &[]).await;
        assert_eq!(reply.status, 404, "{path}");
        reply.error();
    }
    // After all that, the store is as it was.
    let (_, records, _) = read_ok(addr, &a, 0).await;
    assert_eq!(records, [(1, b"x".to_vec())]);
}

async fn a_large_notebook_comes_in_bounded_replies(backend: Backend) {
    let Some(server) = default_server(backend, "large").await else {
        return;
    };
    let addr = server.addr;
    let a = id(1);
    // 10 MB in 40 records of 250 KB.
    let records: Vec<Vec<u8>> = (0..40u8).map(|n| vec![n; 250_000]).collect();
    for record in &records {
        appended(addr, &a, 1, record).await;
    }
    let mut after = 0;
    let mut got = Vec::new();
    let mut replies = 0;
    loop {
        let reply = read(addr, &a, after).await;
        assert!(reply.body.len() <= 8 * 1024 * 1024 + 300_000);
        let decoded = decode_reply(&reply.body, after).unwrap();
        got.extend(decoded.records.iter().map(|&(_, b)| b.to_vec()));
        replies += 1;
        match decoded.more {
            Some(next) => after = next,
            None => break,
        }
    }
    assert_eq!(replies, 2);
    assert!(got == records, "every record, in order");
    // A 10 MB snapshot comes whole.
    let snapshot = vec![9u8; 10_000_000];
    assert_eq!(
        put_snapshot(addr, &a, 1, 40, 0, &snapshot).await.status,
        200
    );
    let (got, records, more) = read_ok(addr, &a, 0).await;
    assert!(got == Some((40, snapshot)));
    assert_eq!((records.len(), more), (0, None));
}

#[tokio::test]
async fn without_a_store_the_routes_say_so() {
    let server = signaling().await;
    for (method, path) in [
        ("GET", format!("/store/{}", id(1))),
        ("POST", format!("/store/{}/records", id(1))),
        ("DELETE", "/store/x".to_string()),
    ] {
        let reply = Http::once(server.addr, method, &path, &[], b"").await;
        assert_eq!(reply.status, 503);
        assert!(reply.error().contains("--no-store"), "{}", reply.error());
    }
}

async fn config_says_whether_the_server_keeps_stores(backend: Backend) {
    let Some(server) = default_server(backend, "config").await else {
        return;
    };
    let reply = Http::once(server.addr, "GET", "/config", &[], &[]).await;
    assert_eq!(reply.status, 200);
    assert_eq!(reply.json(), json!({"iceServers": [], "store": true}));
    let without = signaling().await;
    let reply = Http::once(without.addr, "GET", "/config", &[], &[]).await;
    assert_eq!(reply.json(), json!({"iceServers": [], "store": false}));
}

// The real binary: restarts, crashes and the startup checks.

fn data_args(dir: &Path) -> Vec<&OsStr> {
    vec![OsStr::new("--data"), dir.as_os_str()]
}

/// Every file in `dir` and its bytes, but the lock file (which holds nothing).
fn files(dir: &Path) -> Vec<(String, Vec<u8>)> {
    let mut files: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|entry| {
            let entry = entry.unwrap();
            let name = entry.file_name().to_string_lossy().into_owned();
            (name, std::fs::read(entry.path()).unwrap_or_default())
        })
        .filter(|(name, _)| name != "store.lock")
        .collect();
    files.sort();
    files
}

/// Starting on `dir` must fail: non-zero, one clear line naming the database, files untouched.
/// (But `-shm`: SQLite's index of the WAL, which whatever reads a WAL rebuilds; no data.)
fn refuses(dir: &Path, expected: &str) -> String {
    let files = |dir: &Path| -> Vec<(String, Vec<u8>)> {
        files(dir)
            .into_iter()
            .filter(|(name, _)| !name.ends_with("-shm"))
            .collect()
    };
    let before = files(dir);
    let (code, stderr) = match start_binary(&data_args(dir)) {
        Ok(running) => {
            running.kill();
            panic!("the server started on {}", dir.display());
        }
        Err(failed) => failed,
    };
    assert!(matches!(code, Some(c) if c != 0), "exit code {code:?}");
    let db = dir.join("store.sqlite3");
    println!("{stderr}");
    let errors: Vec<&str> = stderr.lines().filter(|l| l.contains("ERROR")).collect();
    assert_eq!(errors.len(), 1, "one error line:\n{stderr}");
    assert!(
        errors[0].contains(&*db.to_string_lossy()),
        "names the file: {stderr}"
    );
    assert!(errors[0].contains(expected), "{expected:?} in: {stderr}");
    let after = files(dir);
    let changed: Vec<&str> = before
        .iter()
        .filter(|file| !after.contains(file))
        .map(|(name, _)| name.as_str())
        .collect();
    assert!(
        after.len() == before.len() && changed.is_empty(),
        "the folder's files are byte for byte as they were; changed: {changed:?}, before {} files, after {}",
        before.len(),
        after.len()
    );
    errors[0].to_string()
}

/// A store made by the real server: `n` records of 1000 bytes, then stopped cleanly.
async fn made_store(dir: &Path, n: u64) {
    let running = start_binary(&data_args(dir)).unwrap();
    for i in 1..=n {
        assert_eq!(appended(running.addr, &id(1), 1, &[i as u8; 1000]).await, i);
    }
    running.stop();
}

#[tokio::test]
async fn a_restarted_server_has_everything() {
    let dir = temp_dir("restart");
    let running = start_binary(&data_args(&dir)).unwrap();
    let addr = running.addr;
    for n in 1..=5 {
        appended(addr, &id(1), 1, &record(n)).await;
    }
    put_snapshot(addr, &id(1), 1, 3, 0, b"snap").await;
    appended(addr, &id(2), 2, b"other").await;
    let before = (
        read(addr, &id(1), 0).await.body,
        read(addr, &id(2), 0).await.body,
    );
    let stderr = running.stop();
    assert!(
        !stderr.contains(&id(1)),
        "store ids only at debug level:\n{stderr}"
    );
    assert!(dir.join("STORE").is_file());

    let running = start_binary(&data_args(&dir)).unwrap();
    let addr = running.addr;
    let after = (
        read(addr, &id(1), 0).await.body,
        read(addr, &id(2), 0).await.body,
    );
    assert!(after == before, "the same bytes after a restart");
    assert_eq!(appended(addr, &id(1), 1, &record(6)).await, 6);
    assert_eq!(
        append(addr, &id(1), 2, b"x").await.status,
        403,
        "tokens too"
    );
    running.stop();
    std::fs::remove_dir_all(dir).unwrap();
}

/// How often `needle` occurs in each of the database's files (`store.sqlite3` and, while it is
/// open, its `-wal` and `-shm`), by name.
fn occurrences(dir: &Path, needle: &[u8]) -> Vec<(String, usize)> {
    files(dir)
        .into_iter()
        .filter(|(name, _)| name.starts_with("store.sqlite3"))
        .map(|(name, bytes)| {
            let found = bytes.windows(needle.len()).filter(|w| *w == needle).count();
            (name, found)
        })
        .collect()
}

fn total(found: &[(String, usize)]) -> usize {
    found.iter().map(|(_, n)| n).sum()
}

#[tokio::test]
async fn a_deleted_store_stays_deleted_and_its_bytes_are_gone() {
    let dir = temp_dir("tombstone");
    let marker = format!("{:=^64}", " a deleted store's ciphertext 7f3a9c ").into_bytes();
    let kept = format!("{:-^64}", " a kept store's ciphertext 2b8e51 ").into_bytes();
    assert_eq!((marker.len(), kept.len()), (64, 64));
    let (a, b) = (id(1), id(2));
    let running = start_binary(&data_args(&dir)).unwrap();
    let addr = running.addr;
    // The two stores' records side by side in the same pages; some of the deleted store's
    // larger than a page; a snapshot that deletes records it covers, and one replaced.
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
    assert!(
        total(&occurrences(&dir, &marker)) > 0,
        "the scan finds what is stored"
    );
    assert_eq!(delete(addr, &a, 2).await.status, 403);
    assert_eq!(
        read_ok(addr, &a, 0).await.1.len(),
        20,
        "a wrong token deletes nothing"
    );

    assert_eq!(delete(addr, &a, 1).await.status, 204);
    // Once the delete is answered, no file holds the deleted bytes (but the other store's).
    let found = occurrences(&dir, &marker);
    assert_eq!(total(&found), 0, "the deleted store's bytes: {found:?}");
    assert!(total(&occurrences(&dir, &kept)) >= 60);
    assert_tombstone(addr, &a, 1).await;
    let stderr = running.stop();
    assert!(
        stderr.contains("stores=0 removed=0 bytes=0"),
        "the first start found nothing:\n{stderr}"
    );
    let found = occurrences(&dir, &marker);
    assert_eq!(total(&found), 0, "after a clean stop: {found:?}");
    assert!(total(&occurrences(&dir, &kept)) >= 60);

    // After a restart: still gone, still owned by its token; the other store as it was.
    let running = start_binary(&data_args(&dir)).unwrap();
    let addr = running.addr;
    assert_tombstone(addr, &a, 1).await;
    assert!(read(addr, &b, 0).await.body == b_before);
    assert_eq!(appended(addr, &b, 2, &kept).await, 61);
    let reply = Http::once(addr, "GET", "/config", &[], &[]).await;
    assert_eq!(reply.json()["store"], json!(true));
    let stderr = running.stop();
    let bytes = 60 * 64;
    assert!(
        stderr.contains(&format!("stores=1 removed=1 bytes={bytes}")),
        "the tombstone is counted apart and holds nothing:\n{stderr}"
    );
    assert_eq!(total(&occurrences(&dir, &marker)), 0);
    std::fs::remove_dir_all(dir).unwrap();
}

#[tokio::test]
async fn a_killed_server_loses_no_acknowledged_write() {
    let dir = temp_dir("crash");
    let running = start_binary(&data_args(&dir)).unwrap();
    for n in 1..=20 {
        appended(running.addr, &id(1), 1, &record(n)).await;
    }
    running.kill();
    let running = start_binary(&data_args(&dir)).unwrap();
    let (_, records, _) = read_ok(running.addr, &id(1), 0).await;
    assert_eq!(records.len(), 20);
    running.stop();
    std::fs::remove_dir_all(dir).unwrap();
}

#[tokio::test]
async fn startup_refuses_a_file_that_is_not_a_database() {
    let dir = temp_dir("corrupt");
    std::fs::create_dir_all(&dir).unwrap();
    let mut bytes = vec![0u8; 16384];
    let mut state = 0x9e37_79b9_7f4a_7c15u64;
    for byte in &mut bytes {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        *byte = state as u8;
    }
    std::fs::write(dir.join("store.sqlite3"), &bytes).unwrap();
    let line = refuses(&dir, "is not an SQLite database");
    assert!(line.contains("restore it from a backup"), "{line}");
    std::fs::remove_dir_all(dir).unwrap();
}

#[tokio::test]
async fn startup_refuses_a_database_damaged_after_a_crash_and_leaves_its_wal() {
    let dir = temp_dir("damaged-after-crash");
    made_store(&dir, 40).await;
    let running = start_binary(&data_args(&dir)).unwrap();
    for i in 41..=45u64 {
        appended(running.addr, &id(1), 1, &[i as u8; 1000]).await;
    }
    running.kill();
    let db = dir.join("store.sqlite3");
    let wal = dir.join("store.sqlite3-wal");
    assert!(wal.exists(), "a killed server leaves its WAL");
    // The main file damaged (noise over the pages of the first records, which the WAL does
    // not hold newer copies of); the WAL as the crash left it.
    let mut bytes = std::fs::read(&db).unwrap();
    let half = bytes.len() / 2;
    bytes[4096..half].fill(0xa5);
    std::fs::write(&db, &bytes).unwrap();
    let wal_before = std::fs::read(&wal).unwrap();
    refuses(&dir, "is damaged");
    // `refuses` compares every file; the WAL above all must not have been copied into the
    // damaged file (a checkpoint on close) or removed.
    assert_eq!(std::fs::read(&wal).unwrap(), wal_before);
    std::fs::remove_dir_all(dir).unwrap();
}

#[tokio::test]
async fn startup_refuses_a_truncated_database() {
    let dir = temp_dir("truncated");
    made_store(&dir, 40).await;
    let db = dir.join("store.sqlite3");
    let bytes = std::fs::read(&db).unwrap();
    assert!(bytes.len() >= 10 * 4096, "{} bytes", bytes.len());
    std::fs::write(&db, &bytes[..bytes.len() / 2]).unwrap();
    refuses(&dir, "is truncated");
    std::fs::remove_dir_all(dir).unwrap();
}

#[tokio::test]
async fn startup_refuses_a_damaged_database() {
    let dir = temp_dir("damaged");
    made_store(&dir, 40).await;
    let db = dir.join("store.sqlite3");
    let mut bytes = std::fs::read(&db).unwrap();
    // Pages 2 to 5 (the tables' roots and some records) overwritten; the header intact.
    for (i, byte) in bytes[4096..5 * 4096].iter_mut().enumerate() {
        *byte = (i * 31 % 251) as u8;
    }
    std::fs::write(&db, &bytes).unwrap();
    refuses(&dir, "store.sqlite3");
    std::fs::remove_dir_all(dir).unwrap();
}

#[tokio::test]
async fn startup_refuses_a_missing_database_where_there_was_one() {
    let dir = temp_dir("missing");
    made_store(&dir, 2).await;
    std::fs::remove_file(dir.join("store.sqlite3")).unwrap();
    let line = refuses(&dir, "is missing");
    assert!(line.contains("STORE"), "{line}");
    assert!(!dir.join("store.sqlite3").exists(), "not recreated");
    std::fs::remove_dir_all(dir).unwrap();
}

#[tokio::test]
async fn startup_refuses_an_unknown_schema_version() {
    let dir = temp_dir("version");
    made_store(&dir, 1).await;
    let conn = rusqlite::Connection::open(dir.join("store.sqlite3")).unwrap();
    conn.pragma_update(None, "user_version", 2).unwrap();
    drop(conn);
    refuses(&dir, "schema version 2");
    // Schema 1 as development builds wrote it before tombstones.
    let conn = rusqlite::Connection::open(dir.join("store.sqlite3")).unwrap();
    conn.pragma_update(None, "user_version", 1).unwrap();
    conn.execute_batch("ALTER TABLE stores DROP COLUMN removed")
        .unwrap();
    drop(conn);
    refuses(&dir, "lacks the removed column");
    // An SQLite file that is not a store at all.
    let other = temp_dir("version-other");
    std::fs::create_dir_all(&other).unwrap();
    let conn = rusqlite::Connection::open(other.join("store.sqlite3")).unwrap();
    conn.execute_batch("CREATE TABLE notes (text TEXT)")
        .unwrap();
    drop(conn);
    refuses(&other, "not a Commonplace store");
    std::fs::remove_dir_all(dir).unwrap();
    std::fs::remove_dir_all(other).unwrap();
}

#[tokio::test]
async fn a_second_server_on_the_same_folder_is_refused() {
    let dir = temp_dir("locked");
    let first = start_binary(&data_args(&dir)).unwrap();
    appended(first.addr, &id(1), 1, b"first").await;
    let line = refuses(&dir, "in use by another commonplace-server");
    assert!(line.contains("--data"), "{line}");
    // The first goes on as if nothing happened.
    assert_eq!(appended(first.addr, &id(1), 1, b"second").await, 2);
    first.stop();
    std::fs::remove_dir_all(dir).unwrap();
}

#[tokio::test]
async fn no_store_opens_no_database() {
    let dir = temp_dir("no-store");
    let mut args = data_args(&dir);
    args.push(OsStr::new("--no-store"));
    let running = start_binary(&args).unwrap();
    let reply = read(running.addr, &id(1), 0).await;
    assert_eq!(reply.status, 503);
    let reply = Http::once(running.addr, "GET", "/config", &[], &[]).await;
    assert_eq!(reply.json()["store"], json!(false));
    running.stop();
    assert!(!dir.exists(), "--no-store touches no folder");
}
