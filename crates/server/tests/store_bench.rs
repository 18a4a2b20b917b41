//! How many appends per second the store commits, each answered only once it is on disk: on
//! SQLite (WAL, synchronous=FULL; the writer thread commits waiting appends together) and on
//! Redis (a real `redis-server` with appendfsync always, as docs/store.md asks; skipped where
//! it is not installed). One writer, then 8 at once. Prints figures and never fails on speed:
//!
//! ```sh
//! cargo test -p commonplace-server --release --test store_bench -- --ignored --nocapture
//! ```

mod common;

use common::http::Http;
use common::redis::RedisServer;
use common::store::{redis_store, serve_store};
use common::*;
use commonplace_protocol::store::{StoreId, WriteToken};
use commonplace_server::store::sqlite::SqliteStore;
use commonplace_server::store::{Quota, StoreBackend};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Instant;

/// A few seconds of typing, encrypted: about what a browser sends per append.
const RECORD: usize = 1024;

async fn writer(addr: SocketAddr, store: u8, appends: usize) {
    let mut http = Http::connect(addr).await;
    let path = format!("/store/{}/records", StoreId::from_bytes([store; 16]));
    let auth = WriteToken::from_bytes([store; 32]).authorization();
    let record = vec![store; RECORD];
    for _ in 0..appends {
        let reply = http
            .request("POST", &path, &[("Authorization", &auth)], &record)
            .await;
        assert_eq!(reply.status, 201);
    }
}

/// No quota or pacing in the way.
const UNLIMITED: Quota = Quota {
    max_bytes: 1 << 40,
    max_records: 1 << 40,
};

async fn measure(name: &str, backend: Arc<dyn StoreBackend>) {
    let server = serve_store(backend, |store| {
        store.rate = 1 << 40;
        store.burst = 1 << 40;
    })
    .await;
    writer(server.addr, 100, 50).await; // warm up
    for (writers, each) in [(1, 1000), (8, 250)] {
        let started = Instant::now();
        let tasks: Vec<_> = (0..writers)
            .map(|w| tokio::spawn(writer(server.addr, w as u8, each)))
            .collect();
        for task in tasks {
            task.await.unwrap();
        }
        let secs = started.elapsed().as_secs_f64();
        let total = writers * each;
        println!(
            "store on {name}: {writers} writer(s): {total} appends of {RECORD} bytes in {secs:.2} s: {:.0} appends/s ({:.2} ms each, as a writer waits)",
            total as f64 / secs,
            secs * 1000.0 * writers as f64 / total as f64
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
#[ignore = "a benchmark: run with --ignored --nocapture"]
async fn appends_per_second() {
    let dir = temp_dir("store-bench");
    measure(
        "SQLite",
        Arc::new(SqliteStore::open(&dir, UNLIMITED).unwrap()),
    )
    .await;
    let size = std::fs::metadata(dir.join("store.sqlite3")).map_or(0, |m| m.len())
        + std::fs::metadata(dir.join("store.sqlite3-wal")).map_or(0, |m| m.len());
    println!("store on SQLite: database and WAL: {size} bytes");
    let _ = std::fs::remove_dir_all(dir);

    let Some(redis) = RedisServer::start("store-bench") else {
        return;
    };
    measure("Redis", Arc::new(redis_store(&redis, UNLIMITED).await)).await;
    let size: usize = redis.aof_files().iter().map(|(_, bytes)| bytes.len()).sum();
    println!("store on Redis: append-only files: {size} bytes");
}
