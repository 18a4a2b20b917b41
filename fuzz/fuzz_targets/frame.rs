//! Data-channel and BroadcastChannel frames: `Frame::decode` (and what it decodes writes back
//! as the same frame), `decode_bc_peer_id`.
#![no_main]

use commonplace_protocol::frame::{decode_bc_peer_id, encode_bc_peer_id, Frame};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(frame) = Frame::decode(data) {
        let bytes = frame.encode();
        assert_eq!(
            Frame::decode(&bytes),
            Ok(frame),
            "a decoded frame re-encodes to itself"
        );
    }
    if let Ok((add, peer)) = decode_bc_peer_id(data) {
        assert_eq!(
            decode_bc_peer_id(&encode_bc_peer_id(add, &peer)),
            Ok((add, peer))
        );
    }
});
