//! The signaling JSON a peer reads from the server: `ServerMessage::parse`, then what a publish
//! carries (`RoomSignal`, simple-peer's `SignalData`), then the same frame through a room.
#![no_main]

use commonplace_core::room::Input;
use commonplace_fuzz::{drain, room};
use commonplace_protocol::signaling::{RoomSignal, ServerMessage, SignalData};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Some(ServerMessage::Publish { data, .. }) = ServerMessage::parse(text) {
        if let Ok(RoomSignal::Signal { signal, .. }) = RoomSignal::from_value(data.clone()) {
            let _ = serde_json::to_string(&signal);
        }
        let _ = SignalData::from_value(data);
    }
    let mut room = room(None, 1_000);
    room.handle(1_000, Input::SignalingFrame(text));
    drain(&mut room);
});
