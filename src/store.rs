//! The notebook in IndexedDB, in y-indexeddb's layout, so a Yjs app using y-indexeddb reads what
//! Commonplace wrote and the reverse: one database per room (named after the room), an
//! auto-increment `updates` store of Yjs v1 updates (`Uint8Array`s) and a `custom` store.

use commonplace_core::app::compaction::StoredUpdates;
use commonplace_core::app::status::SaveState;
use idb::{
    Database, DatabaseEvent, Error, Factory, KeyRange, ObjectStoreParams, Query, TransactionMode,
};
use std::cell::{Cell, RefCell};
use std::rc::Rc;

use js_sys::{Reflect, Uint8Array};
use std::future::IntoFuture;
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::{spawn_local, JsFuture};
use web_sys::IdbDatabase;

use crate::head_start;
use crate::journal::JournalFile;

const UPDATES: &str = "updates";
const CUSTOM: &str = "custom";
/// In `custom`: which key the notebook was stored under (`RoomKey::fingerprint`, or "none").
const KEY_CHECK: &str = "commonplace:key";

pub struct Store {
    db: Database,
}

/// The database of a room's version history (`docs/history.md`): beside the notebook's, in the
/// same layout, so the notebook's database stays exactly y-indexeddb's.
pub fn history_database(room: &str) -> String {
    format!("{room}{HISTORY_SUFFIX}")
}

const HISTORY_SUFFIX: &str = " (commonplace history)";

impl Store {
    pub async fn open(room: &str) -> Result<Store, Error> {
        Ok(Self::open_noting_loss(room).await?.0)
    }

    /// Opens the room's store; and what the browser said it lost, if it started the database
    /// afresh (`data_loss`).
    async fn open_noting_loss(room: &str) -> Result<(Store, Option<String>), Error> {
        let lost = Rc::new(RefCell::new(None));
        let mut request = Factory::new()?.open(room, Some(1))?;
        request.on_upgrade_needed({
            let lost = lost.clone();
            move |event| {
                let Ok(db) = event.database() else { return };
                let mut updates = ObjectStoreParams::new();
                updates.auto_increment(true);
                let _ = db.create_object_store(UPDATES, updates);
                let _ = db.create_object_store(CUSTOM, ObjectStoreParams::new());
                *lost.borrow_mut() = data_loss(&JsValue::from(event));
            }
        });
        let store = Store { db: request.await? };
        let lost = lost.borrow_mut().take();
        Ok((store, lost))
    }

    /// Opens the room's store and reads all of it, or takes what index.html's head start read
    /// (`head_start::store`) while the app downloaded; if that failed, tries once more here.
    pub async fn open_and_read(room: &str) -> Result<Read, String> {
        if let Some(begun) = head_start::store(room) {
            let _span = crate::perf::span("store.head-start");
            match JsFuture::from(begun).await {
                Ok(value) => {
                    if let Some(read) = Read::from_js(value) {
                        return Ok(read);
                    }
                }
                // Said, as the browser may have lost or reset the database after this (a
                // corrupt store it deleted): the read again below then finds it empty.
                Err(error) => {
                    gloo::console::warn!("IndexedDB: the first read failed; reading again:", error)
                }
            }
        }
        let _span = crate::perf::span("store.read");
        Self::read_here(room)
            .await
            .map_err(|error| error.to_string())
    }

    /// Opens another database of this layout (the version history's: [`history_database`])
    /// and reads every record.
    pub async fn open_and_read_all(name: &str) -> Result<(Store, Vec<Vec<u8>>), String> {
        let read = async {
            let store = Store::open(name).await?;
            let txn = store
                .db
                .transaction(&[UPDATES], TransactionMode::ReadOnly)?;
            let records = txn.object_store(UPDATES)?.get_all(None, None)?.await?;
            Ok::<_, Error>((store, byte_arrays(records)))
        };
        read.await.map_err(|error| error.to_string())
    }

    /// One read-only transaction over both stores: the key check and every record.
    async fn read_here(room: &str) -> Result<Read, Error> {
        let (store, lost) = Store::open_noting_loss(room).await?;
        let txn = store
            .db
            .transaction(&[CUSTOM, UPDATES], TransactionMode::ReadOnly)?;
        // Both requests are made before either is awaited: one round trip.
        let check = txn
            .object_store(CUSTOM)?
            .get(JsValue::from_str(KEY_CHECK))?
            .into_future();
        let records = txn
            .object_store(UPDATES)?
            .get_all(None, None)?
            .into_future();
        let check = check.await?.and_then(|value| value.as_string());
        let records = byte_arrays(records.await?);
        Ok(Read {
            store,
            check,
            records,
            lost,
        })
    }

    /// Claims a store no key has claimed yet for the key `check` names.
    pub async fn claim(&self, check: &str) -> Result<(), Error> {
        let txn = self.db.transaction(&[CUSTOM], TransactionMode::ReadWrite)?;
        let key = JsValue::from_str(KEY_CHECK);
        txn.object_store(CUSTOM)?
            .put(&JsValue::from_str(check), Some(&key))?;
        txn.commit()?.await?;
        Ok(())
    }

    /// Appends updates in one transaction; resolves once they are durable.
    /// Appends `updates` in one transaction, created now: the future is its commit. IndexedDB runs
    /// read-write transactions on a store in the order they were created, so appends issued
    /// while others are in flight still land in order, and after a compaction created before.
    pub fn append(
        &self,
        updates: &[Vec<u8>],
    ) -> Result<impl std::future::Future<Output = Result<(), Error>>, Error> {
        let txn = self
            .db
            .transaction(&[UPDATES], TransactionMode::ReadWrite)?;
        let store = txn.object_store(UPDATES)?;
        {
            let _span = crate::perf::span("store.append");
            for update in updates {
                store.add(&Uint8Array::from(update.as_slice()).into(), None)?;
            }
        }
        let commit = txn.commit()?;
        Ok(async move {
            commit.await?;
            Ok(())
        })
    }

    /// Replaces every record with one holding the whole document, atomically: a crash leaves
    /// either the old records or the new one. As y-indexeddb does, the records are first merged
    /// into the document (`merge` applies them and returns the full state), so records another
    /// tab wrote meanwhile are never lost. `merge` returning `None` leaves the store as it is.
    pub async fn compact(
        &self,
        merge: impl FnOnce(&[Vec<u8>]) -> Option<Vec<u8>>,
    ) -> Result<(), Error> {
        let txn = self
            .db
            .transaction(&[UPDATES], TransactionMode::ReadWrite)?;
        let store = txn.object_store(UPDATES)?;
        let keys = store.get_all_keys(None, None)?.await?;
        let records = byte_arrays(store.get_all(None, None)?.await?);
        let Some(state) = merge(&records) else {
            txn.abort()?;
            return Ok(());
        };
        if let Some(last) = keys.last() {
            store.delete(Query::KeyRange(KeyRange::upper_bound(last, Some(false))?))?;
        }
        store.add(&Uint8Array::from(state.as_slice()).into(), None)?;
        txn.commit()?.await?;
        Ok(())
    }
}

/// What opening a room's store found.
pub struct Read {
    pub store: Store,
    /// Which key the notebook was stored under (`RoomKey::fingerprint`, or "none"); `None`: no
    /// key has claimed the store yet.
    pub check: Option<String>,
    /// Every stored update, oldest first.
    pub records: Vec<Vec<u8>>,
    /// The browser found the database corrupt and started it afresh: what it said.
    pub lost: Option<String>,
}

impl Read {
    /// The head start's `{ db, check, records, lost }`.
    fn from_js(value: JsValue) -> Option<Read> {
        let field = |name: &str| Reflect::get(&value, &name.into()).ok();
        let db: IdbDatabase = field("db")?.dyn_into().ok()?;
        let records = field("records")?.dyn_into::<js_sys::Array>().ok()?;
        Some(Read {
            store: Store { db: db.into() },
            check: field("check").and_then(|check| check.as_string()),
            records: byte_arrays(records.iter()),
            lost: field("lost").and_then(|lost| lost.as_string()),
        })
    }
}

/// Chromium creates a database afresh when it found the old one corrupt, and says so on the
/// upgrade (`IDBVersionChangeEvent.dataLoss`, not in other browsers): the notebook here then
/// starts empty, and only peers or the server copy bring it back. What it said
/// (`dataLoss: dataLossMessage`), for the session to warn and show (index.html's head start
/// notes it the same way).
fn data_loss(event: &JsValue) -> Option<String> {
    let field = |name: &str| {
        Reflect::get(event, &name.into())
            .ok()
            .and_then(|v| v.as_string())
    };
    let loss = field("dataLoss").filter(|loss| loss != "none")?;
    Some(format!(
        "{loss}: {}",
        field("dataLossMessage").unwrap_or_default()
    ))
}

/// Records that are byte arrays, copied out; anything else (not ours to read) is skipped.
fn byte_arrays(values: impl IntoIterator<Item = JsValue>) -> Vec<Vec<u8>> {
    values
        .into_iter()
        .filter_map(|value| value.dyn_into::<Uint8Array>().ok())
        .map(|array| array.to_vec())
        .collect()
}

impl Drop for Store {
    fn drop(&mut self) {
        self.db.close();
    }
}

/// Applies stored records to the document and returns all of it; `None` if it is gone.
type Merge = dyn Fn(&[Vec<u8>]) -> Option<Vec<u8>>;

/// Appends updates as they come, batched per event-loop turn, each batch at once rather than
/// after the one before has committed (an edit is durable one commit after it was made: under
/// load, waiting for the previous commit and then a turn of a busy main thread lost keys typed
/// 150 ms before a crash); compacts when `StoredUpdates` says so (past y-indexeddb's 500
/// records, or once the store has doubled) and nothing else is being written.
pub struct Saver {
    store: Rc<Store>,
    /// The notebook's second copy: each batch and each compaction is written there too (none
    /// until another tab of the room lets it go, where that tab had it).
    journal: RefCell<Option<JournalFile>>,
    /// Updates of this event-loop turn, appended together at its end.
    pending: RefCell<Vec<Vec<u8>>>,
    /// Appends and compactions issued and not yet committed.
    in_flight: Cell<u32>,
    /// An append failed since the store was last settled.
    failed: Cell<bool>,
    stored: Cell<StoredUpdates>,
    state: Cell<SaveState>,
    /// Merges stored records into the document and returns the whole of it, for compaction.
    merge: Box<Merge>,
    on_state: Box<dyn Fn(SaveState)>,
}

impl Saver {
    /// `records`: what the store held when it was read.
    pub fn new(
        store: Store,
        records: &[Vec<u8>],
        journal: Option<JournalFile>,
        merge: impl Fn(&[Vec<u8>]) -> Option<Vec<u8>> + 'static,
        on_state: impl Fn(SaveState) + 'static,
    ) -> Rc<Saver> {
        let saver = Rc::new(Saver {
            store: Rc::new(store),
            journal: RefCell::new(journal),
            pending: RefCell::new(Vec::new()),
            in_flight: Cell::new(0),
            failed: Cell::new(false),
            stored: Cell::new(StoredUpdates::opened(
                records.len() as u32,
                records.iter().map(|r| r.len() as u64).sum(),
            )),
            state: Cell::new(SaveState::Saved),
            merge: Box::new(merge),
            on_state: Box::new(on_state),
        });
        if saver.stored.get().due() {
            spawn_local(saver.clone().settle());
        }
        saver
    }

    pub fn state(&self) -> SaveState {
        self.state.get()
    }

    /// Writes the second copy from now on (started already: see `JournalFile::take_over`).
    pub fn keep_journal(&self, journal: JournalFile) {
        *self.journal.borrow_mut() = Some(journal);
    }

    /// What the store's records take.
    pub fn stored_bytes(&self) -> u64 {
        self.stored.get().bytes()
    }

    pub fn save(self: &Rc<Self>, update: Vec<u8>) {
        let first = {
            let mut pending = self.pending.borrow_mut();
            pending.push(update);
            pending.len() == 1
        };
        if first {
            // spawn_local runs at the end of this turn: the turn's updates go as one batch.
            spawn_local(self.clone().append_pending());
        }
    }

    async fn append_pending(self: Rc<Self>) {
        let batch = std::mem::take(&mut *self.pending.borrow_mut());
        if batch.is_empty() {
            return;
        }
        let bytes = batch.iter().map(|update| update.len() as u64).sum();
        self.in_flight.set(self.in_flight.get() + 1);
        self.set_state(SaveState::Saving);
        let appending = self.store.append(&batch);
        if let Some(journal) = &*self.journal.borrow() {
            journal.append(&batch);
        }
        let result = match appending {
            Ok(commit) => commit.await,
            Err(error) => Err(error),
        };
        self.in_flight.set(self.in_flight.get() - 1);
        match result {
            Ok(()) => {
                let mut stored = self.stored.get();
                stored.appended(batch.len() as u32, bytes);
                self.stored.set(stored);
            }
            Err(error) => {
                gloo::console::error!("IndexedDB:", error.to_string());
                self.failed.set(true);
            }
        }
        self.settle().await;
    }

    /// Once nothing is in flight: compacts if due, then says saved (or failed).
    async fn settle(self: Rc<Self>) {
        if self.in_flight.get() > 0 || !self.pending.borrow().is_empty() {
            return; // the last write to finish settles
        }
        if self.failed.replace(false) {
            return self.set_state(SaveState::Failed);
        }
        if self.stored.get().due() {
            self.in_flight.set(self.in_flight.get() + 1);
            self.set_state(SaveState::Saving);
            let mut state_bytes = None;
            let compacted = self
                .store
                .compact(|records| {
                    let state = (self.merge)(records)?;
                    if let Some(journal) = &*self.journal.borrow() {
                        journal.compact(&state);
                    }
                    state_bytes = Some(state.len() as u64);
                    Some(state)
                })
                .await;
            self.in_flight.set(self.in_flight.get() - 1);
            match (compacted, state_bytes) {
                (Ok(()), Some(bytes)) => {
                    let mut stored = self.stored.get();
                    stored.compacted(bytes);
                    self.stored.set(stored);
                }
                // Not merged (the document is gone): nothing more to write.
                (Ok(()), None) => {}
                (Err(error), _) => {
                    gloo::console::error!("IndexedDB:", error.to_string());
                    return self.set_state(SaveState::Failed);
                }
            }
            if self.in_flight.get() > 0 || !self.pending.borrow().is_empty() {
                return; // appends issued meanwhile settle
            }
        }
        self.set_state(SaveState::Saved);
    }

    fn set_state(&self, state: SaveState) {
        if self.state.replace(state) != state {
            (self.on_state)(state);
        }
    }
}
