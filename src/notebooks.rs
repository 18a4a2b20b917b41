//! The notebooks this browser holds (`commonplace_core::app::notebooks`), kept in localStorage
//! for the start screen; and forgetting one: its IndexedDB database deleted with its entry.

use commonplace_core::app::notebooks::{NotebookEntry, Notebooks};
use idb::request::DeleteDatabaseRequest;
use idb::Factory;

const KEY: &str = "commonplace.notebooks";
/// Rooms forgotten whose second copy (`journal`) may not be removed yet: another tab had it.
const FORGOTTEN_KEY: &str = "commonplace.forgotten";

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
    set_forgotten(room, true);
    crate::journal::remove(room);
    factory.delete(room).map_err(|e| e.to_string())
}

/// Whether `room` was forgotten and its second copy may still be there (removed once no tab
/// has it, or emptied when the room is next opened: never brought back).
pub fn forgotten(room: &str) -> bool {
    forgotten_rooms().iter().any(|r| r == room)
}

/// `room`'s second copy is gone or started afresh: it is no longer forgotten.
pub fn remembered(room: &str) {
    set_forgotten(room, false);
}

fn forgotten_rooms() -> Vec<String> {
    let text = storage().and_then(|s| s.get_item(FORGOTTEN_KEY).ok().flatten());
    serde_json::from_str(text.as_deref().unwrap_or("[]")).unwrap_or_default()
}

fn set_forgotten(room: &str, forgotten: bool) {
    let mut rooms = forgotten_rooms();
    rooms.retain(|r| r != room);
    if forgotten {
        rooms.push(room.to_owned());
    }
    if let Some(storage) = storage() {
        let json = serde_json::to_string(&rooms).unwrap_or_else(|_| "[]".to_owned());
        let _ = storage.set_item(FORGOTTEN_KEY, &json);
    }
}
