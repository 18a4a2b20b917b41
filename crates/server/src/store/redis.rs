//! The store in Redis (`--redis URL`): every server instance on one Redis serves the same
//! stores, so a notebook written through one is read through any other.
//!
//! Each operation is one Lua script (`scripts.rs`, the `*.lua` files in `redis/`), run by Redis
//! whole with nothing of another client's in between: the token check, the sequence number, a
//! snapshot's compare-and-swap and the quota are decided and written in one step, across
//! instances, with the same rules and answers as `sqlite.rs`. A store's keys share the hash tag
//! `{id}` (`cp:store:{id}`, `…:records`, `…:snapshot`), so they would live in one slot of a
//! Redis Cluster too (this server speaks to one Redis, or a proxy in front of a cluster).
//!
//! The client is the `redis` crate (redis-rs): the Rust client most used and kept up, with
//! tokio support. Its `ConnectionManager` sends every request of this instance over one
//! multiplexed connection (pipelined: no pool to size) and, when that connection drops, makes
//! a new one for the next request; its `Script` calls a script by its SHA-1 (`EVALSHA`) and
//! sends the script again when Redis has forgotten it (after a restart). `fred` would have
//! done too; it brings more than a store needs (pools, its own reconnection policies, many
//! features behind flags), and its retry of commands on reconnect would have to be turned off
//! here: an append sent twice is two records.
//!
//! Durability: an operation is answered once Redis has answered it, and Redis answers a write
//! only after writing it to its append-only file, which it syncs to disk first with
//! `appendfsync always` (startup warns otherwise; docs/store.md says why).
//!
//! Losing Redis: the instance goes on serving the app and signaling; store requests get 503
//! with a sentence saying so (the browser tries again with backoff), at once while Redis is
//! known lost, and Redis is tried again with backoff; the log says so once, then every 30 s,
//! then when Redis is back (`outage.rs`). A request that gets no answer within
//! [`OP_TIMEOUT`] is answered 503 too, and the connection is made anew: the manager replaces
//! a dropped connection by itself, but not one that went silent.
//!
//! Knowing without being asked: every [`PROBE_EVERY`] the instance sends Redis `DEL` of a key
//! it never writes ([`PROBE_KEY`]). It deletes nothing, so nothing reaches the append-only
//! file, but it is a write: a Redis that refuses writes (a replica, a failed disk write, still
//! loading its data) fails it as it fails a store request, where a `PING` would pass. Its
//! answer begins or ends the outage as a request's would (`outage.rs`), so `/healthz` and
//! `commonplace_redis_up{use="store"}` say within seconds that Redis is lost, or back, even
//! while no store request comes.

mod outage;
mod scripts;
mod startup;

use super::quota::{Quota, Usage};
use super::{Pending, StoreBackend, StoreError};
use ::redis::aio::{ConnectionManager, ConnectionManagerConfig};
use ::redis::{Client, Script, ScriptInvocation};
use axum::body::Bytes;
use commonplace_protocol::store::{ReplyEncoder, StoreId, TokenDigest, ENTRY_HEADER};
use outage::Outage;
use scripts::{keys, Answer, SCRIPTS};
use std::sync::{Arc, Mutex, PoisonError, Weak};
use std::time::{Duration, Instant};
use tokio::sync::{Notify, Semaphore};
use tokio::task::JoinHandle;
use tracing::{info, warn};

pub use startup::redact;

/// A request Redis has not answered by then is answered 503 (its outcome unknown, as when a
/// connection drops). Long enough for a snapshot of the whole quota (64 MiB) to go to Redis,
/// be written and synced, on a slow disk.
pub const OP_TIMEOUT: Duration = Duration::from_secs(15);
/// Each attempt to connect gives up after this.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(2);
/// Operations under way at once; `close` waits for them.
const OPS: usize = 1024;
/// Reads at once: each holds up to a reply (`REPLY_LIMIT` plus one entry) in memory.
const READS: usize = 8;
/// How long the server keeps asking Redis for an AOF rewrite after a delete.
const ERASE_PATIENCE: Duration = Duration::from_secs(600);
const ERASE_RETRY: Duration = Duration::from_secs(1);
/// How often Redis is probed.
pub const PROBE_EVERY: Duration = Duration::from_secs(2);
/// The key the probe deletes: never written (outside the stores' `cp:store:` keys).
pub const PROBE_KEY: &str = "cp:probe";

pub struct RedisStore {
    inner: Arc<Inner>,
}

struct Inner {
    /// Redis's URL, its password hidden.
    url: String,
    quota: Quota,
    /// How long a request waits for Redis's answer ([`OP_TIMEOUT`]).
    patience: Duration,
    link: Arc<Link>,
    outage: Outage,
    ops: Arc<Semaphore>,
    reads: Arc<Semaphore>,
    /// Deletes waiting for an AOF rewrite; `eraser` asks Redis for one.
    erase: Arc<Notify>,
    eraser: Mutex<Option<JoinHandle<()>>>,
    prober: Mutex<Option<JoinHandle<()>>>,
}

/// The connection, made anew when a request got no answer in time.
struct Link {
    client: Client,
    config: ConnectionManagerConfig,
    /// The manager, and how many times it was replaced.
    current: Mutex<(u64, ConnectionManager)>,
}

impl Link {
    fn get(&self) -> (u64, ConnectionManager) {
        self.current
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// Replaces manager number `generation` by a new one (which connects on its first
    /// request), unless another request did so already.
    fn renew(&self, generation: u64) {
        let mut current = self.current.lock().unwrap_or_else(PoisonError::into_inner);
        if current.0 != generation {
            return;
        }
        match ConnectionManager::new_lazy_with_config(self.client.clone(), self.config.clone()) {
            Ok(manager) => *current = (generation + 1, manager),
            Err(e) => warn!("store: cannot make a new connection to Redis: {e}"),
        }
    }
}

/// One attempt to connect per request that needs a connection: the backoff between attempts
/// is `outage.rs`'s, which answers the requests meanwhile at once (the manager's own retries
/// would hold each of them through all of its attempts).
fn manager_config(patience: Duration) -> ConnectionManagerConfig {
    ConnectionManagerConfig::new()
        .set_number_of_retries(0)
        .set_connection_timeout(Some(CONNECT_TIMEOUT.min(patience)))
        .set_response_timeout(Some(patience))
}

impl RedisStore {
    /// Connects to Redis at `url` and checks it (`startup.rs`): an error is one sentence for
    /// the person starting the server.
    pub async fn open(url: &str, quota: Quota) -> Result<RedisStore, String> {
        RedisStore::open_with_patience(url, quota, OP_TIMEOUT).await
    }

    /// As [`open`](Self::open), answering 503 to a request Redis has not answered within
    /// `patience` instead of [`OP_TIMEOUT`] (tests wait less).
    pub async fn open_with_patience(
        url: &str,
        quota: Quota,
        patience: Duration,
    ) -> Result<RedisStore, String> {
        let shown = redact(url);
        let client = Client::open(url).map_err(|e| {
            format!(
                "--redis {shown} is not a Redis URL this server can use ({e}): give one like redis://127.0.0.1:6379/0 (TLS, rediss://, is not built in)"
            )
        })?;
        let config = manager_config(patience);
        let connected = startup::connect(&client, config.clone(), &shown).await?;
        info!(redis = %shown, version = %connected.version, "store open");
        let link = Arc::new(Link {
            client,
            config,
            current: Mutex::new((0, connected.manager)),
        });
        let erase = Arc::new(Notify::new());
        // With appendonly no there is no AOF to rewrite (and a rewrite would make one).
        let eraser = (connected.appendonly != Some(false)).then(|| {
            tokio::spawn(erase_loop(
                link.clone(),
                erase.clone(),
                shown.clone(),
                patience,
            ))
        });
        let inner = Arc::new(Inner {
            outage: Outage::new(shown.clone()),
            url: shown,
            quota,
            patience,
            link,
            ops: Arc::new(Semaphore::new(OPS)),
            reads: Arc::new(Semaphore::new(READS)),
            erase,
            eraser: Mutex::new(eraser),
            prober: Mutex::new(None),
        });
        let prober = tokio::spawn(probe_loop(Arc::downgrade(&inner)));
        *inner.prober.lock().unwrap_or_else(PoisonError::into_inner) = Some(prober);
        Ok(RedisStore { inner })
    }

    /// Redis's URL as the log shows it (no password).
    pub fn url(&self) -> &str {
        &self.inner.url
    }
}

fn closed() -> StoreError {
    StoreError::Unavailable("the server is shutting down".into())
}

impl Inner {
    /// Asks Redis once whether it serves ([`PROBE_KEY`]), and tells the outage.
    async fn probe(&self) {
        // After a lost connection the manager starts making a new one at once, and the next
        // request waits for that attempt: one made just after the last failure, perhaps seconds
        // ago, while Redis was still down. So a probe that failed for want of a connection asks
        // once more, on the attempt its own failure started: the answer is Redis's now.
        for attempt in 0..2 {
            let (generation, mut manager) = self.link.get();
            let answer = tokio::time::timeout(
                self.patience,
                ::redis::cmd("DEL")
                    .arg(PROBE_KEY)
                    .query_async::<::redis::Value>(&mut manager),
            )
            .await;
            match answer {
                Ok(Ok(_)) => return self.outage.answered(),
                Ok(Err(e)) if attempt == 0 && (e.is_io_error() || e.is_connection_dropped()) => {}
                Ok(Err(e)) => {
                    if e.is_timeout() {
                        self.link.renew(generation);
                    }
                    return self.outage.probe_failed(&e);
                }
                Err(_) => {
                    self.link.renew(generation);
                    return self
                        .outage
                        .lost(&format!("no answer within {:?}", self.patience));
                }
            }
        }
    }

    fn stop_tasks(&self) {
        for task in [&self.eraser, &self.prober] {
            if let Some(task) = task.lock().unwrap_or_else(PoisonError::into_inner).take() {
                task.abort();
            }
        }
    }

    /// Runs `script` on store `id`'s keys with the arguments `args` adds.
    async fn run(
        &self,
        script: &'static Script,
        id: StoreId,
        args: impl FnOnce(&mut ScriptInvocation<'static>),
    ) -> Result<Answer, StoreError> {
        let _op = self
            .ops
            .clone()
            .acquire_owned()
            .await
            .map_err(|_| closed())?;
        // While Redis is known lost: 503 at once, but now and then one goes to try.
        self.outage.admit()?;
        let mut call = script.prepare_invoke();
        for key in keys(id) {
            call.key(key);
        }
        args(&mut call);
        let (generation, mut manager) = self.link.get();
        let answer = tokio::time::timeout(
            self.patience,
            call.invoke_async::<::redis::Value>(&mut manager),
        )
        .await;
        match answer {
            Ok(Ok(value)) => {
                self.outage.answered();
                Answer::parse(value)
            }
            Ok(Err(e)) => {
                // The connection's own timeout (the manager keeps a connection that times out).
                if e.is_timeout() {
                    self.link.renew(generation);
                }
                Err(self.outage.failed(&e))
            }
            Err(_) => {
                self.link.renew(generation);
                Err(self
                    .outage
                    .unreachable(&format!("no answer within {:?}", self.patience)))
            }
        }
    }
}

impl StoreBackend for RedisStore {
    fn append(&self, id: StoreId, token: TokenDigest, record: Bytes) -> Pending<u64> {
        let inner = self.inner.clone();
        Box::pin(async move {
            let quota = inner.quota;
            let answer = inner
                .run(&SCRIPTS.append, id, |call| {
                    call.arg(&token.0[..])
                        .arg(&record[..])
                        .arg(quota.max_bytes)
                        .arg(quota.max_records);
                })
                .await?;
            match answer.name() {
                b"ok" => answer.number(1),
                b"gone" => Err(StoreError::Gone),
                b"wrong_token" => Err(StoreError::WrongToken),
                b"full" => {
                    let usage = Usage {
                        bytes: answer.number(1)?,
                        records: answer.number(2)?,
                    };
                    let why = quota.check_append(usage, record.len() as u64).err();
                    Err(StoreError::Full(
                        why.unwrap_or_else(|| "this store is full".into()),
                    ))
                }
                _ => Err(answer.unexpected()),
            }
        })
    }

    fn read(&self, id: StoreId, after: u64, limit: usize) -> Pending<Vec<u8>> {
        let inner = self.inner.clone();
        Box::pin(async move {
            let _read = inner
                .reads
                .clone()
                .acquire_owned()
                .await
                .map_err(|_| closed())?;
            let answer = inner
                .run(&SCRIPTS.read, id, |call| {
                    call.arg(after).arg(limit).arg(ENTRY_HEADER);
                })
                .await?;
            match answer.name() {
                b"ok" => encode_read(&answer, after, limit),
                b"not_found" => Err(StoreError::NotFound),
                b"gone" => Err(StoreError::Gone),
                b"broken" => Err(StoreError::Failed(format!(
                    "store in Redis at {}: store {id}: {}",
                    inner.url,
                    String::from_utf8_lossy(answer.bytes(1)?)
                ))),
                _ => Err(answer.unexpected()),
            }
        })
    }

    fn put_snapshot(
        &self,
        id: StoreId,
        token: TokenDigest,
        covers: u64,
        replaces: u64,
        snapshot: Bytes,
    ) -> Pending<u64> {
        let inner = self.inner.clone();
        Box::pin(async move {
            let quota = inner.quota;
            let answer = inner
                .run(&SCRIPTS.snapshot, id, |call| {
                    call.arg(&token.0[..])
                        .arg(covers)
                        .arg(replaces)
                        .arg(&snapshot[..])
                        .arg(quota.max_bytes);
                })
                .await?;
            match answer.name() {
                b"ok" => Ok(covers),
                b"not_found" => Err(StoreError::NotFound),
                b"gone" => Err(StoreError::Gone),
                b"wrong_token" => Err(StoreError::WrongToken),
                b"stale" => Err(StoreError::Stale {
                    covers: answer.number(1)?,
                }),
                b"not_after" => Err(StoreError::Invalid(
                    "a snapshot must cover more than the one it replaces (covers > replaces)"
                        .into(),
                )),
                b"past_last" => Err(StoreError::Invalid(format!(
                    "the snapshot would cover {covers}, but the store's last record is {}",
                    answer.number(1)?
                ))),
                b"full" => {
                    let before = Usage {
                        bytes: answer.number(1)?,
                        records: answer.number(2)?,
                    };
                    let after = Usage {
                        bytes: answer.number(3)?,
                        records: answer.number(4)?,
                    };
                    let why = quota.check_snapshot(before, after).err();
                    Err(StoreError::Full(
                        why.unwrap_or_else(|| "this store is full".into()),
                    ))
                }
                _ => Err(answer.unexpected()),
            }
        })
    }

    fn delete(&self, id: StoreId, token: TokenDigest) -> Pending<()> {
        let inner = self.inner.clone();
        Box::pin(async move {
            let answer = inner
                .run(&SCRIPTS.delete, id, |call| {
                    call.arg(&token.0[..]);
                })
                .await?;
            match answer.name() {
                b"deleted" => {
                    inner.erase.notify_one();
                    Ok(())
                }
                b"already" => Ok(()),
                b"not_found" => Err(StoreError::NotFound),
                b"wrong_token" => Err(StoreError::WrongToken),
                _ => Err(answer.unexpected()),
            }
        })
    }

    fn quota(&self) -> Quota {
        self.inner.quota
    }

    fn redis_up(&self) -> Option<bool> {
        Some(!self.inner.outage.is_lost())
    }

    fn close(&self) -> Pending<()> {
        let inner = self.inner.clone();
        Box::pin(async move {
            // Wait for operations under way, then refuse new ones.
            if let Ok(all) = inner.ops.acquire_many(OPS as u32).await {
                all.forget();
            }
            inner.ops.close();
            inner.reads.close();
            // A rewrite asked for goes on in Redis; only asking again stops.
            inner.stop_tasks();
            Ok(())
        })
    }
}

impl Drop for Inner {
    fn drop(&mut self) {
        self.stop_tasks();
    }
}

/// Probes Redis every [`PROBE_EVERY`] for as long as the store is open.
async fn probe_loop(inner: Weak<Inner>) {
    let mut every = tokio::time::interval(PROBE_EVERY);
    every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    // The first tick is at once: Redis was just found serving at startup.
    every.tick().await;
    loop {
        every.tick().await;
        let Some(inner) = inner.upgrade() else {
            return;
        };
        inner.probe().await;
    }
}

/// The read script's answer (`read.lua`) as the reply's framing: the snapshot, then records
/// until the reply is full.
fn encode_read(answer: &Answer, after: u64, limit: usize) -> Result<Vec<u8>, StoreError> {
    let mut reply = ReplyEncoder::new(after, limit);
    let framing = |e: commonplace_protocol::store::FormatError| {
        StoreError::Failed(format!("store in Redis: {e}"))
    };
    let covers = answer.number(1)?;
    if covers > 0 {
        reply.snapshot(covers, answer.bytes(2)?).map_err(framing)?;
    }
    if answer.len() % 2 != 1 {
        return Err(answer.unexpected());
    }
    for at in (3..answer.len()).step_by(2) {
        let added = reply
            .record(answer.number(at)?, answer.bytes(at + 1)?)
            .map_err(framing)?;
        if !added {
            break;
        }
    }
    Ok(reply.finish())
}

/// After a delete, asks Redis to rewrite its append-only file. Until then the AOF still holds
/// the commands that wrote the deleted store's records and snapshot; the rewrite writes a new
/// file from what Redis holds now and removes the old ones. A rewrite that had begun before the
/// delete (this instance's, another's, Redis's own) would keep them: Redis refuses to start a
/// second one meanwhile, so the request is made again until one starts after the delete. Deletes
/// that come while one request is being made share the next rewrite.
async fn erase_loop(link: Arc<Link>, erase: Arc<Notify>, url: String, patience: Duration) {
    loop {
        erase.notified().await;
        let deadline = Instant::now() + ERASE_PATIENCE;
        loop {
            let (_, mut manager) = link.get();
            let asked = tokio::time::timeout(
                patience,
                ::redis::cmd("BGREWRITEAOF").query_async::<::redis::Value>(&mut manager),
            )
            .await;
            match asked {
                Ok(Ok(_)) => break,
                Ok(Err(e)) if e.to_string().contains("already in progress") => {}
                Ok(Err(e)) if outage::classify(&e) != outage::Failure::Unreachable => {
                    warn!(
                        "store: Redis at {url} refused to rewrite its append-only file after a delete ({e}); the deleted store's bytes stay in that file until its next rewrite"
                    );
                    break;
                }
                // Not reachable now: ask again.
                _ => {}
            }
            if Instant::now() >= deadline {
                warn!(
                    "store: Redis at {url} did not start rewriting its append-only file within {} s of a delete; the deleted store's bytes stay in that file until its next rewrite",
                    ERASE_PATIENCE.as_secs()
                );
                break;
            }
            tokio::time::sleep(ERASE_RETRY).await;
        }
    }
}
