//! The core's reading of a peer frame into yrs's y-protocols message (`peer_message::decode`),
//! and its payload into what the room applies (state vector, update, awareness update).
#![no_main]

use commonplace_core::peer_message::{self, PeerMessage, SyncMessage};
use libfuzzer_sys::fuzz_target;
use yrs::updates::decoder::Decode;
use yrs::{Doc, ReadTxn, Transact, Update};

fuzz_target!(|data: &[u8]| {
    let Ok(message) = peer_message::decode(data) else {
        return;
    };
    let _ = peer_message::encode(&message);
    match message {
        PeerMessage::Sync(SyncMessage::SyncStep2(update) | SyncMessage::Update(update)) => {
            if let Ok(update) = Update::decode_v1(&update) {
                let doc = Doc::new();
                let _ = doc.transact_mut().apply_update(update);
            }
        }
        PeerMessage::Sync(SyncMessage::SyncStep1(sv)) => {
            let doc = Doc::new();
            let _ = doc.transact().encode_state_as_update_v1(&sv);
        }
        _ => {}
    }
});
