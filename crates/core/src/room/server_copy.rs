//! The room's side of the server's encrypted store: this person's changes go to it, its
//! requests go out as [`Transmit::Store`], and what it holds comes into the document as
//! another peer's updates would (then on to the peers and tabs that lack them, and to this
//! browser's copy). The machine itself is [`super::server_store`].

use commonplace_protocol::store_crypto::{StoreKeys, WriterId};

use rand_chacha::rand_core::RngCore;

use yrs::updates::decoder::Decode;
use yrs::{ReadTxn, Transact, Update};

use super::output::{Effect, Transmit};
use super::server_store::{ServerStore, StoreReply};
use super::{Room, EMPTY_UPDATE, REMOTE};

impl Room {
    /// Keeps a copy in the server's store, once this browser's own copy is loaded: it is read,
    /// then changes go up. Only a keyed room can (the store is sealed with its key); an open
    /// room stays without a server copy, and a second call changes nothing.
    /// `writer` names this session's records: random, per session.
    pub fn open_server_store(&mut self, now: u64, writer: WriterId) {
        self.set_time(now);
        let Some((keys, mut nonces)) = self.unopened_store.take() else {
            return;
        };
        self.server_store = Some(ServerStore::new(keys, writer, move || {
            let mut nonce = [0; 12];
            nonces.fill_bytes(&mut nonce);
            nonce
        }));
        self.update_status();
    }

    /// The store id and write token to address [`Transmit::Store`] with; `None` without a
    /// server copy.
    pub fn store_keys(&self) -> Option<&StoreKeys> {
        self.server_store.as_ref().map(|store| store.keys())
    }

    /// The person removes the server's copy: the store is deleted, the notebook stays here.
    pub fn remove_server_copy(&mut self, now: u64) {
        self.set_time(now);
        if let Some(store) = &mut self.server_store {
            let request = store.delete_request();
            self.out.transmit(Transmit::Store(request));
        }
        self.remove_history_store();
        self.update_status();
    }

    /// A change of this person's, for the store too.
    pub(super) fn store_local(&mut self, update: &[u8]) {
        if let Some(store) = &mut self.server_store {
            store.on_local_update(self.now, update.to_vec());
        }
    }

    /// The store's next request, when one is due.
    pub(super) fn flush_server_store(&mut self) {
        let Some(store) = &mut self.server_store else {
            return;
        };
        if let Some(request) = store.poll_request(self.now, self.awareness.doc()) {
            self.out.transmit(Transmit::Store(request));
        }
        // Deciding can settle it too (nothing the store lacks after all).
        self.update_status();
    }

    pub(super) fn on_store_reply(&mut self, reply: StoreReply) {
        let Some(store) = &mut self.server_store else {
            return self
                .out
                .dropped("a store reply, but this room keeps no server copy".into());
        };
        let applied = store.on_reply(self.now, reply);
        for why in applied.dropped {
            self.out.dropped(why);
        }
        self.store_read.extend(applied.updates);
        if applied.more {
            return;
        }
        let updates = std::mem::take(&mut self.store_read);
        if updates.is_empty() {
            return;
        }
        // All of a read in one transaction, as the browser's own copy is loaded: records come
        // in the order they were written, not in the order of what they build on (a record may
        // need another writer's, written later). Received one by one, an update that waits in
        // yrs for a later record held back, for good, the next one of its own writer (issue
        // 16's soak, seeds 656 and 1379: a browser opening the notebook from the server showed
        // part of it).
        let mark = self.log.mark_before(updates.iter().map(Vec::len).sum());
        let (new, missing, dropped) = {
            let mut txn = self.doc().transact_mut_with(REMOTE);
            let mut dropped = Vec::new();
            for (i, bytes) in updates.iter().enumerate() {
                let applied = Update::decode_v1(bytes)
                    .map_err(|e| e.to_string())
                    .and_then(|update| txn.apply_update(update).map_err(|e| e.to_string()));
                if let Err(error) = applied {
                    dropped.push(format!("update {i} from the server store: {error}"));
                }
            }
            (txn.encode_update_v1(), txn.has_missing_updates(), dropped)
        };
        if dropped.is_empty() && !missing {
            self.log.log_since(mark, &[&new]);
        } else {
            self.log.distrust();
        }
        for why in dropped {
            self.out.dropped(why);
        }
        // Updates from peers held back for a gap the store filled follow on now.
        let mark = self.log.mark();
        let received = self.sync.retry_held(self.awareness.doc());
        self.log.log_since(mark, &received.new);
        self.take_changes();
        for new in std::iter::once(new).chain(received.new) {
            if new != EMPTY_UPDATE {
                self.broadcast_update(&new, None);
                self.out.effect(Effect::Store(new));
            }
        }
    }
}
