//! The session's side of the server's encrypted store (`docs/store.md`): opened once this
//! browser's copy is loaded and the server has said it keeps copies; the room's requests go
//! out over HTTP and their answers come back in. What to send and what an answer means is the
//! core's (`room::server_store`, `room::store_http`).

use commonplace_core::room::server_store::{StoreReply, StoreRequest};
use commonplace_core::room::Input;
use wasm_bindgen_futures::spawn_local;

use super::{now, Inner, Session};
use crate::random;
use crate::transport::server_store;

impl Session {
    /// Deletes the server's copy of this notebook; it stays in the browsers, and the server
    /// refuses to keep it again.
    pub fn remove_server_copy(&self) {
        self.inner.remove_server_copy();
    }
}

impl Inner {
    /// The server said whether it keeps copies (`/config`, or the last one this browser kept).
    pub(super) fn server_keeps_copies(&self, keeps: bool) {
        self.server_keeps_copies.set(Some(keeps));
        self.open_server_store();
        self.report_status();
    }

    /// Opens the store once both are known: this browser's copy (read first, so only what it
    /// lacks comes from the server) and that the server keeps copies. Open rooms keep none.
    pub(super) fn open_server_store(&self) {
        if !self.keyed || !self.loaded.get() || self.server_keeps_copies.get() != Some(true) {
            return;
        }
        let mut writer = [0; 16];
        random::fill(&mut writer);
        self.room.borrow_mut().open_server_store(now(), writer);
        self.pump();
        self.open_history_store();
    }

    /// Carries a request of the notebook's store, or of the version history's.
    pub(super) fn send_to_store(&self, request: StoreRequest, history: bool) {
        let http = {
            let room = self.room.borrow();
            let keys = if history {
                room.history_store_keys()
            } else {
                room.store_keys()
            };
            keys.map(|keys| request.http(keys))
        };
        let Some(http) = http else {
            return;
        };
        let me = self.me.clone();
        spawn_local(async move {
            let reply = match server_store::send(&http).await {
                Ok((status, body)) => StoreReply::from_http(&request, status, &body),
                Err(why) => StoreReply::Failed { why },
            };
            if let Some(inner) = me.upgrade() {
                inner.handle(if history {
                    Input::HistoryStoreReply(reply)
                } else {
                    Input::StoreReply(reply)
                });
            }
        });
    }

    fn remove_server_copy(&self) {
        self.room.borrow_mut().remove_server_copy(now());
        self.pump();
        self.report_status();
    }
}
