//! This browser's other tabs in the room, met on a BroadcastChannel named after it, in
//! y-webrtc's format: a tab says who it is (type 4, peer id) when it opens and when it hears a
//! newcomer, and goodbye when it goes. In a keyed room every frame is encrypted.
//!
//! Tabs that know each other this way do not connect over WebRTC.

use std::collections::BTreeSet;

use rand_chacha::ChaCha20Rng;

use crate::peer_message;
use commonplace_protocol::crypto::RoomKey;
use commonplace_protocol::frame;

use yrs::sync::{Message, SyncMessage};
use yrs::{ReadTxn, Transact};

use super::output::{Outputs, Transmit};
use super::{next_iv, PeerId, Room, Source, SYNC_RETRY_MS};

/// What a frame from another tab said.
#[derive(Debug, PartialEq)]
pub enum TabFrame {
    /// Nothing more for the room (a tab came or went: already answered).
    Handled,
    /// A tab this one did not know said who it is (already answered with who this one is): the
    /// room asks it for what it lacks, as what this tab changed before knowing of it went to
    /// nobody (see [`Tabs::post_to_known`]).
    Met,
    /// A y-protocols message for the room.
    Message(Vec<u8>),
    /// Cannot be read with our key (or is not a frame): the reason.
    Unreadable(String),
    Malformed(String),
}

pub struct Tabs {
    peer_id: PeerId,
    key: Option<RoomKey>,
    /// Draws the IVs of encrypted frames.
    rng: ChaCha20Rng,
    open: bool,
    tabs: BTreeSet<PeerId>,
    /// When this room last asked the other tabs for their state because of a gap.
    last_ask: Option<u64>,
}

impl Tabs {
    pub fn new(peer_id: PeerId, key: Option<RoomKey>, rng: ChaCha20Rng) -> Tabs {
        Tabs {
            peer_id,
            key,
            rng,
            open: false,
            tabs: BTreeSet::new(),
            last_ask: None,
        }
    }

    pub fn count(&self) -> usize {
        self.tabs.len()
    }

    pub fn contains(&self, peer: &str) -> bool {
        self.tabs.contains(peer)
    }

    /// y-webrtc's `Room.connect` on the BroadcastChannel: who I am, then the `greeting` frames.
    pub fn on_open(&mut self, greeting: &[Vec<u8>], out: &mut Outputs) {
        self.open = true;
        let hello = frame::encode_bc_peer_id(true, &self.peer_id);
        self.post(hello, out);
        for frame in greeting {
            self.post(frame.clone(), out);
        }
    }

    pub fn on_frame(&mut self, bytes: &[u8], out: &mut Outputs) -> TabFrame {
        if !self.open {
            return TabFrame::Handled;
        }
        let plain = match &self.key {
            Some(key) => match key.decrypt(bytes) {
                Ok(plain) => plain,
                Err(error) => return TabFrame::Unreadable(format!("broadcast frame: {error}")),
            },
            None => bytes.to_vec(),
        };
        if plain.first() != Some(&frame::MSG_BC_PEER_ID) {
            return TabFrame::Message(plain);
        }
        match frame::decode_bc_peer_id(&plain) {
            Ok((add, peer)) => match self.on_tab(add, peer, out) {
                true if add => TabFrame::Met,
                _ => TabFrame::Handled,
            },
            Err(error) => TabFrame::Malformed(format!("tab id: {error:?}")),
        }
    }

    /// Another tab joined or left; a newcomer learns of this tab from its answer. True if the
    /// set of tabs changed.
    fn on_tab(&mut self, add: bool, peer: PeerId, out: &mut Outputs) -> bool {
        if peer == self.peer_id {
            return false;
        }
        let changed = if add {
            self.tabs.insert(peer)
        } else {
            self.tabs.remove(&peer)
        };
        if changed {
            let hello = frame::encode_bc_peer_id(true, &self.peer_id);
            self.post(hello, out);
        }
        changed
    }

    /// Posts a frame to the other tabs, encrypted in a keyed room.
    pub fn post(&mut self, mut bytes: Vec<u8>, out: &mut Outputs) {
        if !self.open {
            return;
        }
        if let Some(key) = &self.key {
            bytes = key.encrypt(&bytes, next_iv(&mut self.rng));
        }
        out.transmit(Transmit::Tabs(bytes));
    }

    /// Posts what the room sends everyone (an update, presence), if another tab is known: in a
    /// keyed room encrypting a late join's whole notebook for no reader cost more than
    /// applying it. A tab that opens later asks for the state when it greets; one this tab
    /// meets is asked for its own ([`TabFrame::Met`]).
    pub fn post_to_known(&mut self, bytes: Vec<u8>, out: &mut Outputs) {
        if !self.tabs.is_empty() {
            self.post(bytes, out);
        }
    }

    /// Whether to ask the other tabs for their state now (an update from one of them had a
    /// gap): at most once per [`SYNC_RETRY_MS`], as all tabs answer.
    pub fn ask_due(&mut self, now: u64) -> bool {
        let due = self
            .last_ask
            .is_none_or(|last| now.saturating_sub(last) >= SYNC_RETRY_MS);
        if due {
            self.last_ask = Some(now);
        }
        due
    }

    /// Says goodbye, so the other tabs forget this one at once.
    pub fn leave(&mut self, out: &mut Outputs) {
        let goodbye = frame::encode_bc_peer_id(false, &self.peer_id);
        self.post(goodbye, out);
    }
}

impl Room {
    /// Greets the other tabs: who I am, what I have, who is there.
    pub(super) fn on_broadcast_open(&mut self) {
        let state_vector = self.doc().transact().state_vector();
        let own = self.awareness.client_id();
        let mut greeting = vec![
            Message::Sync(SyncMessage::SyncStep1(state_vector)),
            Message::Sync(SyncMessage::SyncStep2(self.encode_state())),
            Message::AwarenessQuery,
        ];
        if let Ok(update) = self.awareness.update_with_clients([own]) {
            greeting.push(Message::Awareness(update));
        }
        let frames: Vec<Vec<u8>> = greeting.iter().map(peer_message::encode).collect();
        self.tabs.on_open(&frames, &mut self.out);
    }

    pub(super) fn on_broadcast_frame(&mut self, bytes: &[u8]) {
        match self.tabs.on_frame(bytes, &mut self.out) {
            TabFrame::Handled => {}
            TabFrame::Met => {
                let state_vector = self.doc().transact().state_vector();
                self.reply(
                    Source::Broadcast,
                    &Message::Sync(SyncMessage::SyncStep1(state_vector)),
                );
            }
            TabFrame::Message(plain) => match peer_message::decode(&plain) {
                Ok(message) => self.on_message(Source::Broadcast, message),
                Err(error) => self.out.dropped(format!("broadcast frame: {error:?}")),
            },
            TabFrame::Unreadable(why) => self.undecryptable(why),
            TabFrame::Malformed(why) => self.out.dropped(why),
        }
    }
}

#[cfg(test)]
mod tests {
    use rand_chacha::rand_core::SeedableRng;

    use super::*;
    use crate::room::output::Output;

    fn tab(id: &str, key: Option<RoomKey>) -> Tabs {
        Tabs::new(id.into(), key, ChaCha20Rng::from_seed([5; 32]))
    }

    fn posts(out: &mut Outputs) -> Vec<Vec<u8>> {
        std::iter::from_fn(|| out.pop())
            .map(|o| match o {
                Output::Transmit(Transmit::Tabs(bytes)) => bytes,
                other => panic!("{other:?}"),
            })
            .collect()
    }

    #[test]
    fn tabs_learn_of_each_other_and_forget_on_goodbye() {
        let (mut a, mut b) = (tab("a", None), tab("b", None));
        let (mut out_a, mut out_b) = (Outputs::default(), Outputs::default());
        b.on_open(&[], &mut out_b);
        posts(&mut out_b);
        a.on_open(&[], &mut out_a);
        // Alone (b's hello not heard yet), a tab posts nothing of the room's: nobody reads it.
        a.post_to_known(vec![0, 2, 0], &mut out_a);
        for frame in posts(&mut out_a) {
            assert_eq!(b.on_frame(&frame, &mut out_b), TabFrame::Met);
        }
        for frame in posts(&mut out_b) {
            a.on_frame(&frame, &mut out_a);
        }
        assert!(a.contains("b") && b.contains("a"));
        a.post_to_known(vec![0, 2, 0], &mut out_a);
        assert_eq!(posts(&mut out_a).last(), Some(&vec![0, 2, 0]));
        b.leave(&mut out_b);
        for frame in posts(&mut out_b) {
            a.on_frame(&frame, &mut out_a);
        }
        assert_eq!(a.count(), 0);
    }

    #[test]
    fn keyed_tabs_post_ciphertext_and_cannot_read_other_keys() {
        let key = RoomKey::from_bytes([1; 32]);
        let mut keyed = tab("a", Some(key));
        let mut other = tab("c", Some(RoomKey::from_bytes([2; 32])));
        let (mut out, mut out_other) = (Outputs::default(), Outputs::default());
        keyed.on_open(&[b"\x00\x00\x01\x00".to_vec()], &mut out);
        other.on_open(&[], &mut out_other);
        for frame in posts(&mut out) {
            assert!(frame.starts_with(b"\x07AES-GCM"), "{frame:?}");
            assert!(matches!(
                other.on_frame(&frame, &mut out_other),
                TabFrame::Unreadable(_)
            ));
        }
        assert_eq!(other.count(), 0);
    }
}
