//! The notebook in IndexedDB, in y-indexeddb's layout, so a Yjs app using y-indexeddb reads what
//! Commonplace wrote and the reverse: one database per room (named after the room), an
//! auto-increment `updates` store of Yjs v1 updates (`Uint8Array`s) and a `custom` store.

use commonplace_core::app::status::SaveState;
use idb::{
    Database, DatabaseEvent, Error, Factory, KeyRange, ObjectStoreParams, Query, TransactionMode,
};
use std::cell::{Cell, RefCell};
use std::rc::Rc;

use js_sys::Uint8Array;
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::spawn_local;

const UPDATES: &str = "updates";
const CUSTOM: &str = "custom";
/// In `custom`: which key the notebook was stored under (`RoomKey::fingerprint`, or "none").
const KEY_CHECK: &str = "commonplace:key";

/// y-indexeddb's `PREFERRED_TRIM_SIZE`: past this many records, they are merged into one.
pub const COMPACT_AT: u32 = 500;

pub struct Store {
    db: Database,
}

impl Store {
    pub async fn open(room: &str) -> Result<Store, Error> {
        let mut request = Factory::new()?.open(room, Some(1))?;
        request.on_upgrade_needed(|event| {
            let Ok(db) = event.database() else { return };
            let mut updates = ObjectStoreParams::new();
            updates.auto_increment(true);
            let _ = db.create_object_store(UPDATES, updates);
            let _ = db.create_object_store(CUSTOM, ObjectStoreParams::new());
        });
        Ok(Store { db: request.await? })
    }

    /// Whether this store belongs to the key `check` names: the first key to open it claims it.
    pub async fn claim(&self, check: &str) -> Result<bool, Error> {
        let txn = self.db.transaction(&[CUSTOM], TransactionMode::ReadWrite)?;
        let custom = txn.object_store(CUSTOM)?;
        let key = JsValue::from_str(KEY_CHECK);
        let stored: Option<JsValue> = custom.get(key.clone())?.await?;
        let ours = match stored.and_then(|value| value.as_string()) {
            Some(stored) => stored == check,
            None => {
                custom.put(&JsValue::from_str(check), Some(&key))?;
                true
            }
        };
        txn.commit()?.await?;
        Ok(ours)
    }

    /// Every stored update, oldest first; records that are not byte arrays are skipped.
    pub async fn load(&self) -> Result<Vec<Vec<u8>>, Error> {
        let txn = self.db.transaction(&[UPDATES], TransactionMode::ReadOnly)?;
        let values = txn.object_store(UPDATES)?.get_all(None, None)?.await?;
        Ok(values
            .into_iter()
            .filter_map(|value| value.dyn_into::<Uint8Array>().ok())
            .map(|array| array.to_vec())
            .collect())
    }

    /// Appends updates in one transaction; resolves once they are durable.
    pub async fn append(&self, updates: &[Vec<u8>]) -> Result<(), Error> {
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
        txn.commit()?.await?;
        Ok(())
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
        let records: Vec<Vec<u8>> = store
            .get_all(None, None)?
            .await?
            .into_iter()
            .filter_map(|value| value.dyn_into::<Uint8Array>().ok())
            .map(|array| array.to_vec())
            .collect();
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

impl Drop for Store {
    fn drop(&mut self) {
        self.db.close();
    }
}

/// Applies stored records to the document and returns all of it; `None` if it is gone.
type Merge = dyn Fn(&[Vec<u8>]) -> Option<Vec<u8>>;

/// Appends updates as they come, batched per event-loop turn (an edit is durable within
/// milliseconds), and compacts past [`COMPACT_AT`] records as y-indexeddb does.
pub struct Saver {
    store: Rc<Store>,
    pending: RefCell<Vec<Vec<u8>>>,
    writing: Cell<bool>,
    records: Cell<u32>,
    state: Cell<SaveState>,
    /// Merges stored records into the document and returns the whole of it, for compaction.
    merge: Box<Merge>,
    on_state: Box<dyn Fn(SaveState)>,
}

impl Saver {
    pub fn new(
        store: Store,
        records: u32,
        merge: impl Fn(&[Vec<u8>]) -> Option<Vec<u8>> + 'static,
        on_state: impl Fn(SaveState) + 'static,
    ) -> Rc<Saver> {
        let saver = Rc::new(Saver {
            store: Rc::new(store),
            pending: RefCell::new(Vec::new()),
            writing: Cell::new(false),
            records: Cell::new(records),
            state: Cell::new(SaveState::Saved),
            merge: Box::new(merge),
            on_state: Box::new(on_state),
        });
        if records >= COMPACT_AT {
            saver.clone().write();
        }
        saver
    }

    pub fn state(&self) -> SaveState {
        self.state.get()
    }

    pub fn save(self: &Rc<Self>, update: Vec<u8>) {
        self.pending.borrow_mut().push(update);
        if !self.writing.get() {
            self.clone().write();
        }
    }

    /// One writer at a time, so appends and compactions never interleave.
    fn write(self: Rc<Self>) {
        self.writing.set(true);
        self.set_state(SaveState::Saving);
        spawn_local(async move {
            loop {
                let batch = std::mem::take(&mut *self.pending.borrow_mut());
                let result = if !batch.is_empty() {
                    let appended = self.store.append(&batch).await;
                    self.records.set(self.records.get() + batch.len() as u32);
                    appended
                } else if self.records.get() >= COMPACT_AT {
                    let compacted = self.store.compact(|records| (self.merge)(records)).await;
                    self.records.set(1);
                    compacted
                } else {
                    break;
                };
                if let Err(error) = result {
                    gloo::console::error!("IndexedDB:", error.to_string());
                    self.pending.borrow_mut().clear();
                    self.writing.set(false);
                    return self.set_state(SaveState::Failed);
                }
            }
            self.writing.set(false);
            self.set_state(SaveState::Saved);
        });
    }

    fn set_state(&self, state: SaveState) {
        if self.state.replace(state) != state {
            (self.on_state)(state);
        }
    }
}
