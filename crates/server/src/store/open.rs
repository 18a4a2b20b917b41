//! Opening the store's folder at startup, or refusing to.
//!
//! The folder (`--data`) holds `store.sqlite3` (SQLite in WAL mode, with its `-wal` and `-shm`
//! files while open), `STORE` (a marker written once the database exists: its presence says
//! "there is a store here") and `store.lock` (held with `flock` while a server uses the
//! folder). A missing or empty folder gets a new store. Anything else unexpected stops the
//! server with one sentence naming the file and what to do, and the database file is never
//! written to before every check has passed:
//!
//! - another server holds the lock;
//! - the database is missing but the marker or its WAL/SHM files are there;
//! - the database is not an SQLite file, is shorter than its header says (truncated), fails
//!   `PRAGMA quick_check`, or has a schema version this server does not know.

use rusqlite::config::DbConfig;
use rusqlite::{Connection, OpenFlags};
use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};

pub const DB_FILE: &str = "store.sqlite3";
pub const MARKER_FILE: &str = "STORE";
pub const LOCK_FILE: &str = "store.lock";
/// `PRAGMA user_version` of the schema below.
pub const SCHEMA_VERSION: i64 = 1;

const SCHEMA: &str = "
BEGIN;
-- One row per store: its id (16 bytes), the SHA-256 of its write token, the last sequence
-- number given out, and what it holds (record and snapshot bytes, records). A deleted store
-- is a tombstone: removed = 1, only its id and token kept (no records, no snapshot, zeros),
-- so that it is not created again by a browser that still has the notebook.
CREATE TABLE stores (
    key INTEGER PRIMARY KEY,
    id BLOB NOT NULL UNIQUE,
    token BLOB NOT NULL,
    last_seq INTEGER NOT NULL,
    bytes INTEGER NOT NULL,
    records INTEGER NOT NULL,
    removed INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE records (
    store INTEGER NOT NULL,
    seq INTEGER NOT NULL,
    data BLOB NOT NULL,
    PRIMARY KEY (store, seq)
);
CREATE TABLE snapshots (
    store INTEGER PRIMARY KEY,
    covers INTEGER NOT NULL,
    data BLOB NOT NULL
);
PRAGMA user_version = 1;
COMMIT;
";

/// The database, open for writing, and the lock that makes this server its only user.
pub struct Opened {
    pub conn: Connection,
    pub db: PathBuf,
    pub lock: File,
}

/// Opens (or creates) the store in `dir`, or says in one sentence why not.
pub fn open(dir: &Path) -> Result<Opened, String> {
    fs::create_dir_all(dir).map_err(|e| {
        format!(
            "cannot create the store's folder {}: {e}; give --data a folder this server may write, or run with --no-store",
            dir.display()
        )
    })?;
    let lock = lock(dir)?;
    let db = dir.join(DB_FILE);
    let conn = match fs::metadata(&db) {
        Ok(meta) if !meta.is_file() => {
            return Err(format!(
                "{} is not a file: move it away, or give --data another folder",
                db.display()
            ))
        }
        Ok(meta) => {
            check_header(&db, meta.len(), wal_of(&db).exists())?;
            let conn = open_existing(&db)?;
            if !dir.join(MARKER_FILE).exists() {
                write_marker(dir)?;
            }
            conn
        }
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            let leftovers: Vec<String> = [
                MARKER_FILE.to_string(),
                format!("{DB_FILE}-wal"),
                format!("{DB_FILE}-shm"),
                format!("{DB_FILE}-journal"),
            ]
            .into_iter()
            .filter(|name| dir.join(name).exists())
            .collect();
            if !leftovers.is_empty() {
                return Err(format!(
                    "{} is missing, but {} holds what a store leaves beside it ({}): restore {DB_FILE} from a backup, or move {} away to start with an empty store",
                    db.display(),
                    dir.display(),
                    leftovers.join(", "),
                    dir.display(),
                ));
            }
            let conn = create(&db)?;
            write_marker(dir)?;
            conn
        }
        Err(e) => return Err(format!("cannot read {}: {e}", db.display())),
    };
    Ok(Opened { conn, db, lock })
}

/// Takes `store.lock` for as long as the returned file is open.
fn lock(dir: &Path) -> Result<File, String> {
    let path = dir.join(LOCK_FILE);
    let file = OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(&path)
        .map_err(|e| format!("cannot open {}: {e}", path.display()))?;
    #[cfg(unix)]
    {
        use std::os::fd::AsRawFd;
        // SAFETY: flock on a descriptor this function owns; no memory is involved.
        let locked = unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) };
        if locked != 0 {
            let e = io::Error::last_os_error();
            if e.kind() == io::ErrorKind::WouldBlock {
                return Err(format!(
                    "{} is in use by another commonplace-server (it holds {}): stop that one, or give this one another --data folder",
                    dir.join(DB_FILE).display(),
                    path.display()
                ));
            }
            return Err(format!("cannot lock {}: {e}", path.display()));
        }
    }
    Ok(file)
}

/// Checks the file's first 100 bytes, SQLite's header, without opening it as a database. With a
/// WAL beside it (after a crash), the file's size is not checked: a checkpoint cut short writes
/// page 1, with the new size, before the pages that make the file that long, and SQLite's
/// recovery finishes it from the WAL.
fn check_header(db: &Path, len: u64, wal: bool) -> Result<(), String> {
    let restore = |what: String| {
        format!(
            "{} {what}. The server has left it as it is: restore it from a backup, or move it away to start with an empty store",
            db.display()
        )
    };
    let mut header = Vec::with_capacity(100);
    File::open(db)
        .and_then(|file| file.take(100).read_to_end(&mut header))
        .map_err(|e| format!("cannot read {}: {e}", db.display()))?;
    const MAGIC: &[u8] = b"SQLite format 3\0";
    if len == 0 {
        return Err(restore(
            "is empty, which a store's database never is".into(),
        ));
    }
    if !header.starts_with(MAGIC) {
        if MAGIC.starts_with(&header) {
            return Err(restore(format!("is truncated: it has only {len} bytes")));
        }
        return Err(restore(
            "is not an SQLite database (it does not start with \"SQLite format 3\")".into(),
        ));
    }
    if header.len() < 100 {
        return Err(restore(format!("is truncated: it has only {len} bytes")));
    }
    let page_size = match u16::from_be_bytes([header[16], header[17]]) {
        1 => 65536,
        size if size >= 512 && size.is_power_of_two() => u64::from(size),
        _ => return Err(restore("has a damaged header (its page size)".into())),
    };
    let word = |at: usize| {
        u32::from_be_bytes([header[at], header[at + 1], header[at + 2], header[at + 3]])
    };
    let (change_counter, pages, valid_for) = (word(24), u64::from(word(28)), word(92));
    // The header's page count is meaningful when it was written by the same change as the
    // rest of the header (SQLite's own rule).
    if wal {
        return Ok(());
    }
    if pages != 0 && change_counter == valid_for && len < pages * page_size {
        return Err(restore(format!(
            "is truncated: its header says {pages} pages of {page_size} bytes, but it has only {len} bytes"
        )));
    }
    if len / page_size * page_size != len {
        return Err(restore(format!(
            "is truncated: {len} bytes is not a whole number of {page_size}-byte pages"
        )));
    }
    Ok(())
}

/// Opens an existing database after checking it. After a clean shutdown the file is the
/// whole database (no `-wal` beside it): it is checked read as immutable, which creates and
/// writes nothing. After a crash the WAL must be read too, which takes a connection that can
/// write: it makes no query that writes, and does not checkpoint when it closes (which would
/// write the WAL into the file).
fn open_existing(db: &Path) -> Result<Connection, String> {
    let cannot_read = |e: rusqlite::Error| {
        format!(
            "{} cannot be read as a database ({e}). The server has left it as it is: restore it from a backup, or move it away to start with an empty store",
            db.display()
        )
    };
    let after_crash = wal_of(db).exists();
    if !after_crash {
        let conn = Connection::open_with_flags(
            immutable_uri(db),
            OpenFlags::SQLITE_OPEN_READ_ONLY
                | OpenFlags::SQLITE_OPEN_URI
                | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )
        .map_err(|e| format!("cannot open {}: {e}", db.display()))?;
        check(&conn, db).map_err(cannot_read)??;
    }
    let conn = Connection::open_with_flags(
        db,
        OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )
    .map_err(|e| format!("cannot open {}: {e}", db.display()))?;
    if after_crash {
        let checked = || -> rusqlite::Result<Result<(), String>> {
            conn.busy_timeout(std::time::Duration::from_secs(5))?;
            conn.set_db_config(DbConfig::SQLITE_DBCONFIG_NO_CKPT_ON_CLOSE, true)?;
            conn.pragma_update(None, "query_only", true)?;
            let verdict = check(&conn, db)?;
            // Only a database that passed may be written: a refused one is dropped with
            // checkpoints on close still off, so its WAL is never copied into the file.
            if verdict.is_ok() {
                conn.pragma_update(None, "query_only", false)?;
                conn.set_db_config(DbConfig::SQLITE_DBCONFIG_NO_CKPT_ON_CLOSE, false)?;
            }
            Ok(verdict)
        };
        checked().map_err(cannot_read)??;
    }
    configure(&conn).map_err(|e| format!("cannot open {} for writing: {e}", db.display()))?;
    Ok(conn)
}

/// `PRAGMA quick_check`, the schema version and the tables. The outer error: SQLite could not
/// read it; the inner: what is wrong with it, as a sentence.
fn check(conn: &Connection, db: &Path) -> rusqlite::Result<Result<(), String>> {
    let refuse = |what: String| {
        Ok(Err(format!(
            "{} {what}. The server has left it as it is: restore it from a backup, or move it away to start with an empty store",
            db.display()
        )))
    };
    let verdict: String = conn.query_row("PRAGMA quick_check(1)", [], |row| row.get(0))?;
    if verdict != "ok" {
        return refuse(format!(
            "is damaged (SQLite's quick_check: {})",
            verdict
                .lines()
                .find(|line| !line.starts_with("***"))
                .unwrap_or(&verdict)
        ));
    }
    let version: i64 = conn.query_row("PRAGMA user_version", [], |row| row.get(0))?;
    if version == 0 {
        return refuse(
            "is an SQLite database but not a Commonplace store (schema version 0)".into(),
        );
    }
    if version != SCHEMA_VERSION {
        return Ok(Err(format!(
            "{} has store schema version {version}, which this server does not know (it knows {SCHEMA_VERSION}): run the newer commonplace-server that wrote it. The server has left the file as it is",
            db.display()
        )));
    }
    let tables: i64 = conn.query_row(
        "SELECT count(*) FROM sqlite_schema WHERE type = 'table' AND name IN ('stores', 'records', 'snapshots')",
        [],
        |row| row.get(0),
    )?;
    if tables != 3 {
        return refuse("says it is a Commonplace store but lacks its tables".into());
    }
    // Schema 1 was changed in place before its release (tombstones): a store written by a
    // development build before that lacks `stores.removed`.
    let removed: i64 = conn.query_row(
        "SELECT count(*) FROM pragma_table_info('stores') WHERE name = 'removed'",
        [],
        |row| row.get(0),
    )?;
    if removed != 1 {
        return refuse(
            "is a store from a development build that kept no tombstones (its stores table lacks the removed column), which this server cannot use".into(),
        );
    }
    Ok(Ok(()))
}

fn wal_of(db: &Path) -> PathBuf {
    let mut name = db.as_os_str().to_owned();
    name.push("-wal");
    PathBuf::from(name)
}

/// `file:PATH?immutable=1`, the path percent-encoded as SQLite's URIs want.
fn immutable_uri(db: &Path) -> String {
    let path = std::path::absolute(db).unwrap_or_else(|_| db.to_path_buf());
    let mut uri = String::from("file:");
    for &byte in path.as_os_str().as_encoded_bytes() {
        if byte.is_ascii_alphanumeric() || b"/._-~".contains(&byte) {
            uri.push(char::from(byte));
        } else {
            uri.push_str(&format!("%{byte:02X}"));
        }
    }
    uri.push_str("?immutable=1");
    uri
}

fn create(db: &Path) -> Result<Connection, String> {
    let made = || -> rusqlite::Result<Connection> {
        let conn = Connection::open_with_flags(
            db,
            OpenFlags::SQLITE_OPEN_READ_WRITE
                | OpenFlags::SQLITE_OPEN_CREATE
                | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )?;
        configure(&conn)?;
        conn.execute_batch(SCHEMA)?;
        conn.execute_batch("PRAGMA wal_checkpoint(TRUNCATE)")?;
        Ok(conn)
    };
    made().map_err(|e| format!("cannot create {}: {e}", db.display()))
}

/// WAL, a commit is on disk before it is answered, and what is deleted is overwritten.
fn configure(conn: &Connection) -> rusqlite::Result<()> {
    conn.busy_timeout(std::time::Duration::from_secs(5))?;
    let mode: String = conn.query_row("PRAGMA journal_mode = WAL", [], |row| row.get(0))?;
    if !mode.eq_ignore_ascii_case("wal") {
        return Err(rusqlite::Error::SqliteFailure(
            rusqlite::ffi::Error::new(rusqlite::ffi::SQLITE_ERROR),
            Some(format!("journal_mode is {mode}, not wal")),
        ));
    }
    conn.pragma_update(None, "synchronous", "FULL")?;
    // Deleted ciphertext (a deleted store's records and snapshot, the records a snapshot
    // covers, a replaced snapshot) is overwritten with zeros, in its page and in freed pages,
    // instead of lingering in free space until reused. Cheap enough here: it adds no sync, and
    // only deletes cost more: each deleted byte is written once more, as a zero, in the same
    // transaction, and every deleted byte was first written by a client paced by
    // `--store-rate`. Measured (WAL, synchronous=FULL): appends unchanged; a 2 MB snapshot
    // replacing one of 2 MB and 300 records, 13 → 20 ms; deleting such a store, 7 → 16 ms.
    // ("FAST" writes nothing more but leaves freed pages as they were: a record larger than a
    // page, or a page whose records were all deleted, would stay readable.)
    let secure: i64 = conn.query_row("PRAGMA secure_delete = ON", [], |row| row.get(0))?;
    if secure != 1 {
        return Err(rusqlite::Error::SqliteFailure(
            rusqlite::ffi::Error::new(rusqlite::ffi::SQLITE_ERROR),
            Some(format!("secure_delete is {secure}, not on")),
        ));
    }
    Ok(())
}

fn write_marker(dir: &Path) -> Result<(), String> {
    let path = dir.join(MARKER_FILE);
    let text = format!(
        "Commonplace store: {DB_FILE}, schema {SCHEMA_VERSION}.\n\
         While this file is here, a server refuses to start without {DB_FILE}\n\
         (rather than start an empty store over lost notebooks).\n"
    );
    let written = File::create(&path)
        .and_then(|mut file| {
            file.write_all(text.as_bytes())?;
            file.sync_all()
        })
        .and_then(|()| File::open(dir)?.sync_all());
    written.map_err(|e| format!("cannot write {}: {e}", path.display()))
}

/// A read-only connection for reads (WAL: readers never wait for the writer).
pub fn open_reader(db: &Path) -> rusqlite::Result<Connection> {
    let conn = Connection::open_with_flags(
        db,
        OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )?;
    conn.busy_timeout(std::time::Duration::from_secs(5))?;
    Ok(conn)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dir(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("cp-open-{}-{name}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        dir
    }

    #[test]
    fn a_new_folder_gets_a_store_and_a_marker() {
        let dir = dir("new");
        let opened = open(&dir).unwrap();
        assert!(dir.join(MARKER_FILE).is_file());
        let version: i64 = opened
            .conn
            .query_row("PRAGMA user_version", [], |row| row.get(0))
            .unwrap();
        assert_eq!(version, SCHEMA_VERSION);
        let err = open(&dir).err().unwrap();
        assert!(err.contains("in use by another"), "{err}");
        drop(opened);
        let again = open(&dir).unwrap();
        drop(again);
        fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn headers_are_checked_before_opening() {
        let dir = dir("headers");
        fs::create_dir_all(&dir).unwrap();
        let db = dir.join(DB_FILE);
        let check = |bytes: &[u8]| {
            fs::write(&db, bytes).unwrap();
            check_header(&db, bytes.len() as u64, false)
        };
        assert!(check(b"").unwrap_err().contains("is empty"));
        assert!(check(b"SQLite for").unwrap_err().contains("truncated"));
        assert!(check(b"PK\x03\x04 a zip file")
            .unwrap_err()
            .contains("not an SQLite"));
        let mut header = vec![0u8; 100];
        header[..16].copy_from_slice(b"SQLite format 3\0");
        header[16..18].copy_from_slice(&4096u16.to_be_bytes());
        header[24..28].copy_from_slice(&7u32.to_be_bytes());
        header[28..32].copy_from_slice(&3u32.to_be_bytes());
        header[92..96].copy_from_slice(&7u32.to_be_bytes());
        let mut file = header.clone();
        file.resize(3 * 4096, 0);
        assert!(check(&file).is_ok());
        file.truncate(2 * 4096);
        let e = check(&file).unwrap_err();
        assert!(e.contains("says 3 pages of 4096 bytes"), "{e}");
        file.truncate(4096 + 10);
        assert!(check(&file).unwrap_err().contains("truncated"));
        // With a WAL (after a crash), the size is SQLite's recovery's business.
        assert!(check_header(&db, file.len() as u64, true).is_ok());
        header[16..18].copy_from_slice(&1000u16.to_be_bytes());
        assert!(check(&header).unwrap_err().contains("page size"));
        fs::remove_dir_all(&dir).unwrap();
    }
}
