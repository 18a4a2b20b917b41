//! How many appends per second the store commits, each answered only once it is on disk
//! (SQLite WAL, synchronous=FULL): one writer, then 8 at once (whose appends the writer thread
//! commits together). Prints figures and never fails on speed:
//!
//! ```sh
//! cargo test -p commonplace-server --release --test store_bench -- --ignored --nocapture
//! ```

mod common;

use common::http::Http;
use common::*;
use commonplace_protocol::store::{StoreId, WriteToken};
use commonplace_server::store::sqlite::SqliteStore;
use commonplace_server::store::{Quota, StoreOptions};
use commonplace_server::Options;
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

#[tokio::test(flavor = "multi_thread")]
#[ignore = "a benchmark: run with --ignored --nocapture"]
async fn appends_per_second() {
    let dir = temp_dir("store-bench");
    let quota = Quota {
        max_bytes: 1 << 40,
        max_records: 1 << 40,
    };
    let mut store = StoreOptions::new(Arc::new(SqliteStore::open(&dir, quota).unwrap()));
    store.rate = 1 << 40;
    store.burst = 1 << 40;
    let mut options = Options::new(temp_dir("no-dist"));
    options.store = Some(store);
    let server = start(options).await;

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
            "store: {writers} writer(s): {total} appends of {RECORD} bytes in {secs:.2} s: {:.0} appends/s ({:.2} ms each, as a writer waits)",
            total as f64 / secs,
            secs * 1000.0 * writers as f64 / total as f64
        );
    }
    let size = std::fs::metadata(dir.join("store.sqlite3")).map_or(0, |m| m.len())
        + std::fs::metadata(dir.join("store.sqlite3-wal")).map_or(0, |m| m.len());
    println!("store: database and WAL: {size} bytes");
    drop(server);
    let _ = std::fs::remove_dir_all(dir);
}
