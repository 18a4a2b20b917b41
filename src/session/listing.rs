//! Keeps this notebook's entry in the browser's list of notebooks (`crate::notebooks`, the
//! start screen): opened now; its name, pages, stored size and server copy whenever the page
//! list changes or the store has loaded; when this person last edited it, at most every few
//! seconds while typing (a localStorage write per keystroke would be on the typing path).

use std::cell::RefCell;

use commonplace_core::room::server_store::ServerCopy;
use gloo::timers::callback::Timeout;

use super::{now, Inner};
use crate::notebooks;

/// How long an edit waits before the list hears of it.
const EDITED_AFTER_MS: u32 = 3_000;

pub(super) struct Listing {
    room: String,
    secret: Option<String>,
    edited: RefCell<Option<Timeout>>,
}

impl Listing {
    pub(super) fn new(room: &str, secret: Option<&str>) -> Self {
        notebooks::update(room, secret, |entry| entry.opened_at = now());
        Listing {
            room: room.to_owned(),
            secret: secret.map(str::to_owned),
            edited: RefCell::new(None),
        }
    }
}

impl Inner {
    /// The entry's name, pages, size and server copy, as they are now (and, with `edited_at`,
    /// when this person last edited it).
    pub(super) fn list_notebook(&self, edited_at: Option<u64>) {
        let listing = &self.listing;
        let room = self.room.borrow();
        let (title, pages) = (room.notebook_title(), room.pages().len());
        let server_copy = matches!(
            room.status().server_copy,
            ServerCopy::Saved | ServerCopy::Pending
        );
        drop(room);
        let bytes = self
            .saver
            .borrow()
            .as_ref()
            .map(|saver| saver.stored_bytes());
        notebooks::update(&listing.room, listing.secret.as_deref(), |entry| {
            entry.title = title;
            entry.pages = pages;
            entry.server_copy |= server_copy;
            if let Some(bytes) = bytes {
                entry.bytes = bytes;
            }
            if edited_at.is_some() {
                entry.edited_at = edited_at;
            }
        });
    }

    /// This person edited the notebook: the list hears of it a little later.
    pub(super) fn list_edit(&self) {
        if self.listing.edited.borrow().is_some() {
            return;
        }
        let me = self.me.clone();
        let timer = Timeout::new(EDITED_AFTER_MS, move || {
            let Some(inner) = me.upgrade() else { return };
            inner.listing.edited.borrow_mut().take();
            inner.list_notebook(Some(now()));
        });
        *self.listing.edited.borrow_mut() = Some(timer);
    }
}
