//! The notebooks this browser holds (`commonplace_core::app::notebooks`), kept in localStorage
//! for the start screen; and forgetting one: its IndexedDB database deleted with its entry.

use commonplace_core::app::notebooks::{NotebookEntry, Notebooks};
use idb::request::DeleteDatabaseRequest;
use idb::Factory;

const KEY: &str = "commonplace.notebooks";

fn storage() -> Option<web_sys::Storage> {
    gloo::utils::window().local_storage().ok().flatten()
}

pub fn load() -> Notebooks {
    let text = storage().and_then(|s| s.get_item(KEY).ok().flatten());
    Notebooks::parse(text.as_deref().unwrap_or("[]"))
}

/// Changes the entry of `room` (made if there is none) and keeps the list.
pub fn update(room: &str, secret: Option<&str>, change: impl FnOnce(&mut NotebookEntry)) {
    let mut list = load();
    list.update(room, secret, js_sys::Date::now() as u64, change);
    if let Some(storage) = storage() {
        let _ = storage.set_item(KEY, &list.to_json());
    }
}

/// Forgets `room`: its entry goes now; the returned request deletes this browser's copy, once
/// no tab has its database open (IndexedDB waits for them). Its version history's database
/// goes too, and its second copy (`journal`); neither is waited for: nothing shows them
/// without the notebook.
pub fn forget(room: &str) -> Result<DeleteDatabaseRequest, String> {
    let mut list = load();
    list.forget(room);
    if let Some(storage) = storage() {
        let _ = storage.set_item(KEY, &list.to_json());
    }
    let factory = Factory::new().map_err(|e| e.to_string())?;
    let _ = factory.delete(&crate::store::history_database(room));
    crate::journal::remove(room);
    factory.delete(room).map_err(|e| e.to_string())
}
