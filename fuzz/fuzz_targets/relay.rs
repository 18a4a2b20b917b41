//! Frames relayed through the signaling server (`relay` publishes, base64 of a data-channel
//! frame or chunk) into a room, from two peers, with time passing. Each message: its first byte
//! picks the sender and whether the frame goes in as base64 of the rest or as the rest itself.
#![no_main]

use base64::Engine;
use commonplace_core::room::Input;
use commonplace_fuzz::{drain, pieces, publish, room, ME};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let mut now = 1_000;
    let mut room = room(None, now);
    for piece in pieces(data) {
        let Some((&how, rest)) = piece.split_first() else {
            now += 5_000;
            room.handle(now, Input::Timeout);
            drain(&mut room);
            continue;
        };
        let from = ["x", "y"][usize::from(how & 1)];
        let frame = if how & 2 == 0 {
            base64::engine::general_purpose::STANDARD.encode(rest)
        } else {
            String::from_utf8_lossy(rest).into_owned()
        };
        let publish =
            publish(serde_json::json!({"type": "relay", "from": from, "to": ME, "frame": frame}));
        room.handle(now, Input::SignalingFrame(&publish));
        drain(&mut room);
    }
});
