//! The store in one SQLite file (`DIR/store.sqlite3`, WAL, `synchronous=FULL`).
//!
//! Writes go to one thread that owns the only writing connection, through a channel. That
//! thread takes whatever writes are waiting and commits them in one transaction (each in its
//! own savepoint, so one refused write leaves the others be), then answers them all: one disk
//! sync for many writers, no `SQLITE_BUSY` between writers, and sequence numbers given out in
//! one place. Reads run on tokio's blocking pool with read-only connections of their own: in
//! WAL mode they see the last commit and never wait for the writer. Nothing here runs SQLite
//! on the async runtime's threads.

use super::open::{self, open_reader};
use super::quota::{Quota, Usage};
use super::{Pending, StoreBackend, StoreError};
use axum::body::Bytes;
use commonplace_protocol::store::{ReplyEncoder, StoreId, TokenDigest};
use rusqlite::{Connection, OptionalExtension};
use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};
use std::thread::JoinHandle;
use tokio::sync::{mpsc, oneshot, Semaphore};
use tracing::{error, info, warn};

/// Writes waiting for the writer thread; past this, requests wait for room.
const QUEUE: usize = 256;
/// One transaction takes at most this many writes...
const BATCH: usize = 128;
/// ...and stops taking more past this many bytes.
const BATCH_BYTES: usize = 16 * 1024 * 1024;
/// Reads at once: each holds up to a reply (`REPLY_LIMIT` plus one entry) in memory.
const READS: usize = 8;
/// Idle read connections kept.
const IDLE_READERS: usize = READS;

pub struct SqliteStore {
    db: PathBuf,
    quota: Quota,
    /// `None` once closed.
    jobs: Mutex<Option<mpsc::Sender<Job>>>,
    writer: Mutex<Option<JoinHandle<()>>>,
    readers: Arc<Readers>,
    reads: Arc<Semaphore>,
    /// Held until closed: no other server uses the folder meanwhile.
    lock: Mutex<Option<File>>,
}

struct Readers {
    db: PathBuf,
    idle: Mutex<Vec<Connection>>,
}

/// A write for the writer thread, and where its answer goes.
struct Job {
    id: StoreId,
    token: TokenDigest,
    op: Op,
    reply: oneshot::Sender<Result<u64, StoreError>>,
}

enum Op {
    Append(Bytes),
    Snapshot {
        covers: u64,
        replaces: u64,
        bytes: Bytes,
    },
    Delete,
}

impl Op {
    fn len(&self) -> usize {
        match self {
            Op::Append(bytes) | Op::Snapshot { bytes, .. } => bytes.len(),
            Op::Delete => 0,
        }
    }
}

impl SqliteStore {
    /// Opens `dir/store.sqlite3`, creating it in a new or empty folder, after the startup
    /// checks of `open.rs`: an error is one sentence for the person starting the server.
    pub fn open(dir: &Path, quota: Quota) -> Result<SqliteStore, String> {
        let opened = open::open(dir)?;
        let (stores, removed, bytes): (i64, i64, i64) = opened
            .conn
            .query_row(
                "SELECT count(*) - coalesce(sum(removed), 0), coalesce(sum(removed), 0), coalesce(sum(bytes), 0) FROM stores",
                [],
                |row| Ok((row.get(0)?, row.get(1)?, row.get(2)?)),
            )
            .map_err(|e| format!("cannot read {}: {e}", opened.db.display()))?;
        info!(db = %opened.db.display(), stores, removed, bytes, "store open");
        let (sender, receiver) = mpsc::channel(QUEUE);
        let conn = opened.conn;
        let writer = std::thread::Builder::new()
            .name("store-writer".into())
            .spawn(move || write_loop(conn, receiver, quota))
            .map_err(|e| format!("cannot start the store's writer thread: {e}"))?;
        Ok(SqliteStore {
            readers: Arc::new(Readers {
                db: opened.db.clone(),
                idle: Mutex::new(Vec::new()),
            }),
            db: opened.db,
            quota,
            jobs: Mutex::new(Some(sender)),
            writer: Mutex::new(Some(writer)),
            reads: Arc::new(Semaphore::new(READS)),
            lock: Mutex::new(Some(opened.lock)),
        })
    }

    pub fn path(&self) -> &Path {
        &self.db
    }

    fn write(&self, id: StoreId, token: TokenDigest, op: Op) -> Pending<u64> {
        let jobs = self
            .jobs
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone();
        Box::pin(async move {
            let Some(jobs) = jobs else {
                return Err(closed());
            };
            let (reply, answer) = oneshot::channel();
            let job = Job {
                id,
                token,
                op,
                reply,
            };
            jobs.send(job).await.map_err(|_| closed())?;
            answer.await.map_err(|_| closed())?
        })
    }
}

fn closed() -> StoreError {
    StoreError::Unavailable("the server is shutting down".into())
}

impl StoreBackend for SqliteStore {
    fn append(&self, id: StoreId, token: TokenDigest, record: Bytes) -> Pending<u64> {
        self.write(id, token, Op::Append(record))
    }

    fn put_snapshot(
        &self,
        id: StoreId,
        token: TokenDigest,
        covers: u64,
        replaces: u64,
        snapshot: Bytes,
    ) -> Pending<u64> {
        let op = Op::Snapshot {
            covers,
            replaces,
            bytes: snapshot,
        };
        self.write(id, token, op)
    }

    fn delete(&self, id: StoreId, token: TokenDigest) -> Pending<()> {
        let done = self.write(id, token, Op::Delete);
        Box::pin(async move { done.await.map(drop) })
    }

    fn read(&self, id: StoreId, after: u64, limit: usize) -> Pending<Vec<u8>> {
        let readers = self.readers.clone();
        let reads = self.reads.clone();
        Box::pin(async move {
            let permit = reads.acquire_owned().await.map_err(|_| closed())?;
            let read = tokio::task::spawn_blocking(move || {
                let conn = readers.take()?;
                let result = read(&conn, id, after, limit);
                readers.give_back(conn);
                drop(permit);
                result
            });
            read.await
                .map_err(|e| StoreError::Failed(format!("a store read failed: {e}")))?
        })
    }

    fn quota(&self) -> Quota {
        self.quota
    }

    fn close(&self) -> Pending<()> {
        // Dropping the sender ends the writer once it has done what was queued.
        let jobs = self
            .jobs
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        drop(jobs);
        let writer = self
            .writer
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        let lock = self
            .lock
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        let readers = self.readers.clone();
        let reads = self.reads.clone();
        Box::pin(async move {
            // Wait for reads under way, then refuse new ones.
            if let Ok(all) = reads.acquire_many(READS as u32).await {
                all.forget();
            }
            reads.close();
            readers
                .idle
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .clear();
            if let Some(writer) = writer {
                let joined = tokio::task::spawn_blocking(move || writer.join()).await;
                if !matches!(joined, Ok(Ok(()))) {
                    error!("the store's writer thread ended badly");
                }
            }
            drop(lock);
            Ok(())
        })
    }
}

impl Readers {
    fn take(&self) -> Result<Connection, StoreError> {
        let idle = self
            .idle
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .pop();
        match idle {
            Some(conn) => Ok(conn),
            None => open_reader(&self.db).map_err(|e| failed("open a reader", e)),
        }
    }

    fn give_back(&self, conn: Connection) {
        let mut idle = self.idle.lock().unwrap_or_else(PoisonError::into_inner);
        if idle.len() < IDLE_READERS {
            idle.push(conn);
        }
    }
}

fn failed(what: &str, e: rusqlite::Error) -> StoreError {
    if e.sqlite_error_code() == Some(rusqlite::ErrorCode::DiskFull) {
        return StoreError::Full("the server's disk is full".into());
    }
    StoreError::Failed(format!("store database: cannot {what}: {e}"))
}

/// Lets a `?` in a transaction's body turn database errors into `StoreError`.
trait Sql<T> {
    fn sql(self, what: &str) -> Result<T, StoreError>;
}

impl<T> Sql<T> for rusqlite::Result<T> {
    fn sql(self, what: &str) -> Result<T, StoreError> {
        self.map_err(|e| failed(what, e))
    }
}

/// Sequence numbers and covers are `u64` on the wire, SQLite integers (`i64`) at rest; the
/// routes refuse anything over `i64::MAX`.
fn int(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

fn read(conn: &Connection, id: StoreId, after: u64, limit: usize) -> Result<Vec<u8>, StoreError> {
    // One read transaction: the snapshot and the records are of the same moment.
    let tx = conn.unchecked_transaction().sql("begin a read")?;
    let found: Option<(i64, bool)> = tx
        .prepare_cached("SELECT key, removed FROM stores WHERE id = ?1")
        .and_then(|mut stmt| {
            stmt.query_row([&id.as_bytes()[..]], |row| Ok((row.get(0)?, row.get(1)?)))
                .optional()
        })
        .sql("read a store")?;
    let key = match found {
        None => return Err(StoreError::NotFound),
        Some((_, true)) => return Err(StoreError::Gone),
        Some((key, false)) => key,
    };
    let mut reply = ReplyEncoder::new(after, limit);
    let mut framing = Ok(());
    tx.prepare_cached("SELECT covers, data FROM snapshots WHERE store = ?1 AND covers > ?2")
        .and_then(|mut stmt| {
            stmt.query_row((key, int(after)), |row| {
                let covers = row.get::<_, i64>(0)?;
                let bytes = row.get_ref(1)?.as_blob()?;
                framing = reply.snapshot(covers as u64, bytes);
                Ok(())
            })
            .optional()
        })
        .sql("read a snapshot")?;
    let mut stmt = tx
        .prepare_cached("SELECT seq, data FROM records WHERE store = ?1 AND seq > ?2 ORDER BY seq")
        .sql("read records")?;
    let from = reply.last();
    let mut rows = stmt.query((key, int(from))).sql("read records")?;
    while framing.is_ok() {
        let Some(row) = rows.next().sql("read records")? else {
            break;
        };
        let seq = row.get::<_, i64>(0).sql("read records")? as u64;
        let bytes = row
            .get_ref(1)
            .and_then(|value| Ok(value.as_blob()?))
            .sql("read records")?;
        match reply.record(seq, bytes) {
            Ok(true) => {}
            Ok(false) => break,
            Err(e) => framing = Err(e),
        }
    }
    drop(rows);
    drop(stmt);
    tx.finish().sql("end a read")?;
    framing.map_err(|e| StoreError::Failed(format!("store database: {e}")))?;
    Ok(reply.finish())
}

fn write_loop(mut conn: Connection, mut jobs: mpsc::Receiver<Job>, quota: Quota) {
    while let Some(first) = jobs.blocking_recv() {
        let mut bytes = first.op.len();
        let mut batch = vec![first];
        while batch.len() < BATCH && bytes < BATCH_BYTES {
            match jobs.try_recv() {
                Ok(job) => {
                    bytes += job.op.len();
                    batch.push(job);
                }
                Err(_) => break,
            }
        }
        let results = commit(&mut conn, &batch, quota);
        let deleted = batch
            .iter()
            .zip(&results)
            .any(|(job, result)| matches!(job.op, Op::Delete) && result.is_ok());
        if deleted {
            truncate_wal(&conn);
        }
        for (job, result) in batch.into_iter().zip(results) {
            let _ = job.reply.send(result);
        }
    }
    // The file whole on its own after a clean stop, even if a reader were still closing (the
    // last connection to close checkpoints, but a read-only one cannot): the next start then
    // checks it as immutable, and a backup of `store.sqlite3` alone is complete.
    if let Err(e) = conn.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(())) {
        warn!("store: the checkpoint at shutdown failed: {e}");
    }
    if let Err((_, e)) = conn.close() {
        error!("closing the store database: {e}");
    }
}

/// After a store was deleted: `secure_delete` has zeroed its records and snapshot, but the WAL
/// still holds them as they were written (and the zeroed pages are not in the database file
/// yet). A checkpoint copies the WAL into the file and truncates the WAL, so that the deleted
/// ciphertext is in no file once the delete is answered. It waits (up to the busy timeout) for
/// reads begun before the delete; deletes are rare, and the WAL is small after one.
fn truncate_wal(conn: &Connection) {
    match conn.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |row| {
        row.get::<_, i64>(0)
    }) {
        Ok(0) => {}
        Ok(_) => warn!(
            "store: a checkpoint after a delete was held up by reads; the deleted store's bytes stay in the WAL until the next one"
        ),
        Err(e) => warn!("store: a checkpoint after a delete failed: {e}"),
    }
}

/// Runs a batch of writes in one transaction, each in a savepoint: a refused write is rolled
/// back alone. Answers come back only if the commit succeeded.
fn commit(conn: &mut Connection, batch: &[Job], quota: Quota) -> Vec<Result<u64, StoreError>> {
    let all_failed = |e: StoreError| batch.iter().map(|_| Err(e.clone())).collect();
    if let Err(e) = conn.execute_batch("BEGIN IMMEDIATE") {
        return all_failed(failed("begin a write", e));
    }
    let mut results = Vec::with_capacity(batch.len());
    for job in batch {
        let attempt = conn
            .execute_batch("SAVEPOINT job")
            .sql("write")
            .and_then(|()| {
                let result = apply(conn, job, quota);
                if result.is_err() {
                    conn.execute_batch("ROLLBACK TO job").sql("write")?;
                }
                conn.execute_batch("RELEASE job").sql("write")?;
                Ok(result)
            });
        match attempt {
            Ok(result) => results.push(result),
            Err(e) => {
                // The transaction itself is in doubt: nothing of it is kept.
                let _ = conn.execute_batch("ROLLBACK");
                return all_failed(e);
            }
        }
    }
    if let Err(e) = conn.execute_batch("COMMIT") {
        if !conn.is_autocommit() {
            let _ = conn.execute_batch("ROLLBACK");
        }
        return all_failed(failed("commit", e));
    }
    results
}

/// A store's row.
struct Row {
    key: i64,
    token: [u8; 32],
    last_seq: u64,
    usage: Usage,
    /// A tombstone: the store was deleted.
    removed: bool,
}

fn find(conn: &Connection, id: StoreId) -> Result<Option<Row>, StoreError> {
    conn.prepare_cached(
        "SELECT key, token, last_seq, bytes, records, removed FROM stores WHERE id = ?1",
    )
    .and_then(|mut stmt| {
        stmt.query_row([&id.as_bytes()[..]], |row| {
            Ok(Row {
                key: row.get(0)?,
                token: row.get(1)?,
                last_seq: row.get::<_, i64>(2)? as u64,
                usage: Usage {
                    bytes: row.get::<_, i64>(3)? as u64,
                    records: row.get::<_, i64>(4)? as u64,
                },
                removed: row.get(5)?,
            })
        })
        .optional()
    })
    .sql("read a store")
}

fn apply(conn: &Connection, job: &Job, quota: Quota) -> Result<u64, StoreError> {
    match &job.op {
        Op::Append(record) => {
            let row = match find(conn, job.id)? {
                // Whatever the token: a deleted store is not created again.
                Some(row) if row.removed => return Err(StoreError::Gone),
                Some(row) if TokenDigest(row.token) != job.token => {
                    return Err(StoreError::WrongToken)
                }
                Some(row) => row,
                None => {
                    // The first write creates the store and sets its token.
                    conn.prepare_cached(
                        "INSERT INTO stores (id, token, last_seq, bytes, records) VALUES (?1, ?2, 0, 0, 0)",
                    )
                    .and_then(|mut stmt| stmt.execute((&job.id.as_bytes()[..], &job.token.0[..])))
                    .sql("create a store")?;
                    Row {
                        key: conn.last_insert_rowid(),
                        token: job.token.0,
                        last_seq: 0,
                        usage: Usage::default(),
                        removed: false,
                    }
                }
            };
            let len = record.len() as u64;
            quota
                .check_append(row.usage, len)
                .map_err(StoreError::Full)?;
            let seq = row.last_seq + 1;
            conn.prepare_cached("INSERT INTO records (store, seq, data) VALUES (?1, ?2, ?3)")
                .and_then(|mut stmt| stmt.execute((row.key, int(seq), &record[..])))
                .sql("append")?;
            conn.prepare_cached(
                "UPDATE stores SET last_seq = ?2, bytes = bytes + ?3, records = records + 1 WHERE key = ?1",
            )
            .and_then(|mut stmt| stmt.execute((row.key, int(seq), int(len))))
            .sql("append")?;
            Ok(seq)
        }
        Op::Snapshot {
            covers,
            replaces,
            bytes,
        } => {
            let row = find(conn, job.id)?.ok_or(StoreError::NotFound)?;
            if row.removed {
                return Err(StoreError::Gone);
            }
            if TokenDigest(row.token) != job.token {
                return Err(StoreError::WrongToken);
            }
            let current: Option<(i64, i64)> = conn
                .prepare_cached("SELECT covers, length(data) FROM snapshots WHERE store = ?1")
                .and_then(|mut stmt| {
                    stmt.query_row([row.key], |r| Ok((r.get(0)?, r.get(1)?)))
                        .optional()
                })
                .sql("read a snapshot")?;
            let (current_covers, current_len) =
                current.map_or((0, 0), |(c, l)| (c as u64, l as u64));
            if current_covers != *replaces {
                return Err(StoreError::Stale {
                    covers: current_covers,
                });
            }
            if covers <= replaces {
                return Err(StoreError::Invalid(
                    "a snapshot must cover more than the one it replaces (covers > replaces)"
                        .into(),
                ));
            }
            if *covers > row.last_seq {
                return Err(StoreError::Invalid(format!(
                    "the snapshot would cover {covers}, but the store's last record is {}",
                    row.last_seq
                )));
            }
            let (freed_bytes, freed_records): (i64, i64) = conn
                .prepare_cached(
                    "SELECT coalesce(sum(length(data)), 0), count(*) FROM records WHERE store = ?1 AND seq <= ?2",
                )
                .and_then(|mut stmt| {
                    stmt.query_row((row.key, int(*covers)), |r| Ok((r.get(0)?, r.get(1)?)))
                })
                .sql("read records")?;
            let after = Usage {
                bytes: (row.usage.bytes + bytes.len() as u64)
                    .saturating_sub(current_len + freed_bytes as u64),
                records: row.usage.records.saturating_sub(freed_records as u64),
            };
            quota
                .check_snapshot(row.usage, after)
                .map_err(StoreError::Full)?;
            conn.prepare_cached("DELETE FROM records WHERE store = ?1 AND seq <= ?2")
                .and_then(|mut stmt| stmt.execute((row.key, int(*covers))))
                .sql("delete covered records")?;
            conn.prepare_cached(
                "INSERT OR REPLACE INTO snapshots (store, covers, data) VALUES (?1, ?2, ?3)",
            )
            .and_then(|mut stmt| stmt.execute((row.key, int(*covers), &bytes[..])))
            .sql("store a snapshot")?;
            conn.prepare_cached("UPDATE stores SET bytes = ?2, records = ?3 WHERE key = ?1")
                .and_then(|mut stmt| stmt.execute((row.key, int(after.bytes), int(after.records))))
                .sql("store a snapshot")?;
            Ok(*covers)
        }
        Op::Delete => {
            let row = find(conn, job.id)?.ok_or(StoreError::NotFound)?;
            if TokenDigest(row.token) != job.token {
                return Err(StoreError::WrongToken);
            }
            if row.removed {
                // Deleted already: done.
                return Ok(0);
            }
            // The ciphertext goes (overwritten: `secure_delete`); the id and the token's
            // digest stay as a tombstone, counting nothing against the quota.
            for sql in [
                "DELETE FROM records WHERE store = ?1",
                "DELETE FROM snapshots WHERE store = ?1",
                "UPDATE stores SET removed = 1, last_seq = 0, bytes = 0, records = 0 WHERE key = ?1",
            ] {
                conn.prepare_cached(sql)
                    .and_then(|mut stmt| stmt.execute([row.key]))
                    .sql("delete a store")?;
            }
            Ok(0)
        }
    }
}
