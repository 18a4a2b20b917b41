//! The encrypted store's HTTP API as the tests speak it (append, read, snapshot, delete, and
//! what their answers must be), and servers keeping their store on SQLite or on Redis.

use super::http::{Http, Reply};
use super::redis::RedisServer;
use super::*;
use commonplace_protocol::store::{decode_reply, StoreId, WriteToken};
use commonplace_server::store::redis::RedisStore;
use commonplace_server::store::sqlite::SqliteStore;
use commonplace_server::store::{Quota, StoreBackend, StoreOptions};
use commonplace_server::Options;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// Where a test's store is kept.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Redis,
}

/// A server (in this process) and where it keeps its store; when dropped, the SQLite folder
/// is removed, or the Redis stopped.
pub struct StoreServer {
    pub addr: SocketAddr,
    _server: Server,
    dir: Option<PathBuf>,
    pub redis: Option<RedisServer>,
}

impl StoreServer {
    /// The SQLite store's folder.
    pub fn dir(&self) -> &Path {
        self.dir.as_deref().expect("a server on SQLite")
    }
}

impl Drop for StoreServer {
    fn drop(&mut self) {
        if let Some(dir) = &self.dir {
            let _ = std::fs::remove_dir_all(dir);
        }
    }
}

/// A server keeping its store on `backend` (a new folder, or a new Redis, named after `name`),
/// with `tweak` applied to its options. `None`: Redis is not installed, the test skips.
pub async fn store_server(
    backend: Backend,
    name: &str,
    quota: Quota,
    tweak: impl FnOnce(&mut StoreOptions),
) -> Option<StoreServer> {
    let (store, dir, redis): (Arc<dyn StoreBackend>, _, _) = match backend {
        Backend::Sqlite => {
            let dir = temp_dir(name);
            let store = SqliteStore::open(&dir, quota).unwrap();
            (Arc::new(store), Some(dir), None)
        }
        Backend::Redis => {
            let redis = RedisServer::start(name)?;
            let store = redis_store(&redis, quota).await;
            (Arc::new(store), None, Some(redis))
        }
    };
    let server = serve_store(store, tweak).await;
    Some(StoreServer {
        addr: server.addr,
        _server: server,
        dir,
        redis,
    })
}

pub async fn default_server(backend: Backend, name: &str) -> Option<StoreServer> {
    store_server(backend, name, Quota::default(), |_| {}).await
}

/// The backend on `redis`.
pub async fn redis_store(redis: &RedisServer, quota: Quota) -> RedisStore {
    RedisStore::open(&redis.url(), quota).await.unwrap()
}

/// A server (in this process) with `store`.
pub async fn serve_store(
    store: Arc<dyn StoreBackend>,
    tweak: impl FnOnce(&mut StoreOptions),
) -> Server {
    let mut store = StoreOptions::new(store);
    tweak(&mut store);
    let mut options = Options::new(temp_dir("no-dist"));
    options.store = Some(store);
    start(options).await
}

pub fn id(n: u8) -> String {
    StoreId::from_bytes([n; 16]).to_string()
}

pub fn bearer(n: u8) -> String {
    WriteToken::from_bytes([n; 32]).authorization()
}

pub async fn append(addr: SocketAddr, store: &str, token: u8, record: &[u8]) -> Reply {
    let auth = bearer(token);
    let path = format!("/store/{store}/records");
    Http::once(addr, "POST", &path, &[("Authorization", &auth)], record).await
}

/// Appends and expects `201 {"seq": N}`; returns N.
pub async fn appended(addr: SocketAddr, store: &str, token: u8, record: &[u8]) -> u64 {
    let reply = append(addr, store, token, record).await;
    assert_eq!(
        reply.status,
        201,
        "{:?}",
        String::from_utf8_lossy(&reply.body)
    );
    reply.json()["seq"].as_u64().unwrap()
}

pub async fn put_snapshot(
    addr: SocketAddr,
    store: &str,
    token: u8,
    covers: u64,
    replaces: u64,
    bytes: &[u8],
) -> Reply {
    let auth = bearer(token);
    let path = format!("/store/{store}/snapshot?covers={covers}&replaces={replaces}");
    Http::once(addr, "PUT", &path, &[("Authorization", &auth)], bytes).await
}

pub async fn read(addr: SocketAddr, store: &str, after: u64) -> Reply {
    Http::once(
        addr,
        "GET",
        &format!("/store/{store}?after={after}"),
        &[],
        &[],
    )
    .await
}

/// What a read brings: `(snapshot, records, more)`, owned.
pub type Read = (Option<(u64, Vec<u8>)>, Vec<(u64, Vec<u8>)>, Option<u64>);

pub async fn read_ok(addr: SocketAddr, store: &str, after: u64) -> Read {
    let reply = read(addr, store, after).await;
    assert_eq!(reply.status, 200, "{reply:?}");
    assert_eq!(
        reply.header("content-type"),
        Some("application/octet-stream")
    );
    let decoded = decode_reply(&reply.body, after).unwrap();
    (
        decoded.snapshot.map(|(c, b)| (c, b.to_vec())),
        decoded
            .records
            .iter()
            .map(|&(s, b)| (s, b.to_vec()))
            .collect(),
        decoded.more,
    )
}

pub fn record(n: u64) -> Vec<u8> {
    format!("ciphertext #{n}").into_bytes()
}

pub const GONE: &str = "the server copy of this notebook was removed by someone who holds its key";

pub async fn delete(addr: SocketAddr, store: &str, token: u8) -> Reply {
    let auth = bearer(token);
    let path = format!("/store/{store}");
    Http::once(addr, "DELETE", &path, &[("Authorization", &auth)], &[]).await
}

/// `410` with the JSON error saying the store was removed.
pub fn assert_gone(reply: &Reply, what: &str) {
    assert_eq!(reply.status, 410, "{what}: {reply:?}");
    assert_eq!(reply.header("cache-control"), Some("no-store"), "{what}");
    assert_eq!(reply.error(), GONE, "{what}");
}

/// After a delete, every request on the id but a DELETE with its token is `410`.
pub async fn assert_tombstone(addr: SocketAddr, store: &str, token: u8) {
    assert_gone(&read(addr, store, 0).await, "a read");
    assert_gone(&read(addr, store, 7).await, "a read after 7");
    for writer in [token, token.wrapping_add(100)] {
        let reply = append(addr, store, writer, b"recreate").await;
        assert_gone(&reply, &format!("an append with token {writer}"));
        for (covers, replaces) in [(1, 0), (3, 2)] {
            let reply = put_snapshot(addr, store, writer, covers, replaces, b"snap").await;
            assert_gone(&reply, &format!("a snapshot with token {writer}"));
        }
    }
    let again = delete(addr, store, token).await;
    assert_eq!((again.status, again.body.len()), (204, 0), "deleting again");
    let reply = delete(addr, store, token.wrapping_add(100)).await;
    assert_eq!(reply.status, 403, "another token cannot delete: {reply:?}");
    assert_eq!(reply.error(), "wrong write token for this store");
    assert_gone(&read(addr, store, 0).await, "a read after all that");
}
