//! The core's reading of a peer frame into yrs's y-protocols message (`peer_message::decode`),
//! and its payload as the room reads it (`peer_message::decode_update`; a state vector
//! answered).
#![no_main]

use commonplace_core::peer_message::{self, PeerMessage, SyncMessage};
use libfuzzer_sys::fuzz_target;
use yrs::{Doc, ReadTxn, Transact};

fuzz_target!(|data: &[u8]| {
    let Ok(message) = peer_message::decode(data) else {
        return;
    };
    let _ = peer_message::encode(&message);
    match message {
        PeerMessage::Sync(SyncMessage::SyncStep2(update) | SyncMessage::Update(update)) => {
            // Decoded only: how the room applies one (held back until what it builds on is
            // there, yrs's waiting part checked) is fuzzed by relay, awareness and room. A raw
            // `apply_update` into an empty document panics in yrs on some.
            let _ = peer_message::decode_update(&update);
        }
        PeerMessage::Sync(SyncMessage::SyncStep1(sv)) => {
            let doc = Doc::new();
            let _ = doc.transact().encode_state_as_update_v1(&sv);
        }
        _ => {}
    }
});
