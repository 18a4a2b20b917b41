//! The session's side of the version history (`docs/history.md`): this browser's copy, a
//! database of its own in y-indexeddb's layout, read a few seconds after the notebook or when
//! the History panel opens (versions are made only after it is: the room needs the one
//! before); the server's sealed copy, opened with the notebook's; and what the panel asks.
//! What a version is, when one is made and what restoring does are the core's
//! (`room::history`).

use commonplace_core::room::{VersionEntry, VersionTiming, VersionView};
use gloo::timers::callback::Timeout;
use wasm_bindgen_futures::spawn_local;

use super::{now, Inner, Session};

use crate::random;
use crate::store::{Saver, Store};

/// How long after the notebook is loaded its history is read (see `read_history_later`).
const READ_AFTER_MS: u32 = 5_000;
/// localStorage: when automatic versions are made, `"PAUSE_MS,EVERY_MS"` (tests shorten them).
const TIMING_KEY: &str = "commonplace.versionTiming";

impl Session {
    /// The History panel opened: its versions are wanted now.
    pub fn read_history(&self) {
        self.inner.read_history();
    }

    /// Every version, newest first; empty while the history is read.
    pub fn versions(&self) -> Vec<VersionEntry> {
        self.inner.room.borrow().versions()
    }

    /// Saves a version of the notebook now, named or not.
    pub fn save_version(&self, name: Option<&str>) {
        self.inner.room.borrow_mut().save_version(now(), name);
        self.inner.pump();
    }

    /// The open page as version `id` held it, against now.
    pub fn version_view(&self, id: &str) -> Option<VersionView> {
        let page = self.inner.active.borrow().clone();
        self.inner.room.borrow().version_view(id, &page)
    }

    /// Restores the open page as version `id` held it; undo takes it back.
    pub fn restore_page(&self, id: &str) -> bool {
        let page = self.inner.active.borrow().clone();
        let restored = self
            .inner
            .room
            .borrow_mut()
            .restore_page(now(), id, &page, &page);
        self.inner.pump();
        restored
    }

    /// Undoes this person's last change of the open page (a restore, say).
    pub fn undo(&self) {
        self.inner.undo_or_redo(true);
    }

    /// Restores the whole notebook as version `id` held it, and shows the page whose undo takes
    /// it back (the open one, or the home page if the open one was added since and is gone).
    pub fn restore_notebook(&self, id: &str) -> bool {
        let page = self.inner.active.borrow().clone();
        let shown = self
            .inner
            .room
            .borrow_mut()
            .restore_notebook(now(), id, &page);
        self.inner.pump();
        match shown {
            Some(shown) => {
                if shown != page {
                    self.inner.open_page(&shown);
                }
                true
            }
            None => false,
        }
    }
}

impl Inner {
    /// Reads this browser's history a few seconds after the notebook loaded (or when the History
    /// panel opens, if sooner): never during a join, whose first second is the newcomer's
    /// busiest, and nothing needs it sooner (a version follows a pause of many seconds).
    pub(super) fn read_history_later(&self) {
        let me = self.me.clone();
        let timer = Timeout::new(READ_AFTER_MS, move || {
            if let Some(inner) = me.upgrade() {
                inner.read_history();
            }
        });
        *self.history_timer.borrow_mut() = Some(timer);
    }

    /// Reads this browser's history, once.
    pub(super) fn read_history(&self) {
        if self.history_asked.replace(true) {
            return;
        }
        self.history_timer.borrow_mut().take();
        let me = self.me.clone();
        let name = self.history_db.clone();
        spawn_local(async move {
            let read = Store::open_and_read_all(&name).await;
            if let Some(inner) = me.upgrade() {
                inner.history_read(read);
            }
        });
    }

    fn history_read(&self, read: Result<(Store, Vec<Vec<u8>>), String>) {
        if let Some(timing) = stored_timing() {
            self.room.borrow_mut().set_version_timing(timing);
        }
        let records = match read {
            Ok((store, records)) => {
                let me = self.me.clone();
                let merge = move |records: &[Vec<u8>]| {
                    let inner = me.upgrade()?;
                    inner.room.borrow_mut().load_history(now(), records);
                    inner.pump();
                    let state = inner.room.borrow().history_state();
                    Some(state)
                };
                *self.history_saver.borrow_mut() =
                    Some(Saver::new(store, &records, None, merge, |_| {}));
                records
            }
            Err(error) => {
                gloo::console::error!("IndexedDB: the version history is kept in memory:", error);
                Vec::new()
            }
        };
        self.room.borrow_mut().load_history(now(), &records);
        self.pump();
        self.open_history_store();
    }

    /// Opens the history's server store once its copy here is read and the notebook's store
    /// is open (a keyed room whose server keeps copies).
    pub(super) fn open_history_store(&self) {
        let ready = {
            let room = self.room.borrow();
            room.history_loaded() && room.store_keys().is_some()
        };
        if !ready {
            return;
        }
        let mut writer = [0; 16];
        random::fill(&mut writer);
        self.room.borrow_mut().open_history_store(now(), writer);
        self.pump();
    }

    pub(super) fn store_history(&self, update: Vec<u8>) {
        if let Some(saver) = &*self.history_saver.borrow() {
            saver.save(update);
        }
    }

    /// The panel reads the versions again.
    pub(super) fn on_history_changed(&self) {
        self.update_view(|view| view.history = view.history.wrapping_add(1));
    }
}

fn stored_timing() -> Option<VersionTiming> {
    let storage = gloo::utils::window().local_storage().ok().flatten()?;
    VersionTiming::parse(&storage.get_item(TIMING_KEY).ok().flatten()?)
}
