//! What the fuzz targets share: how one input is cut into several messages, a fixed key, and a
//! room wired to nothing with peers it has open channels to (as `crates/core/tests/robustness.rs`
//! sets one up).

use commonplace_core::notebook;
use commonplace_core::room::{Input, Output, Room, RoomConfig};
use commonplace_protocol::crypto::RoomKey;
use commonplace_protocol::signaling::SignalData;

/// The room the targets' rooms are in.
pub const ROOM: &str = "fuzz";
/// The peer id of the room under test.
pub const ME: &str = "me";

/// A fixed key: the targets decrypt with it, and the seeds are encrypted with it.
pub fn key() -> RoomKey {
    RoomKey::from_bytes([7; 32])
}

/// Cuts `data` into messages: each is a 2-byte little-endian length and that many bytes (the
/// last one takes what is left). [`join`] writes it.
pub fn pieces(mut data: &[u8]) -> Vec<&[u8]> {
    let mut out = Vec::new();
    while data.len() >= 2 {
        let len = u16::from_le_bytes([data[0], data[1]]) as usize;
        let rest = &data[2..];
        let (piece, after) = rest.split_at(len.min(rest.len()));
        out.push(piece);
        data = after;
    }
    out
}

/// The input [`pieces`] cuts into `messages`.
pub fn join<T: AsRef<[u8]>>(messages: &[T]) -> Vec<u8> {
    let mut out = Vec::new();
    for message in messages {
        let message = message.as_ref();
        let len = message.len().min(u16::MAX as usize);
        out.extend_from_slice(&(len as u16).to_le_bytes());
        out.extend_from_slice(&message[..len]);
    }
    out
}

/// A room named [`ROOM`] over a fresh document, keyed or not, whose signaling is open.
pub fn room(key: Option<RoomKey>, now: u64) -> Room {
    let config = RoomConfig {
        name: ROOM.to_owned(),
        peer_id: ME.to_owned(),
        client_id: 0xF022,
        entropy: [3; 32],
        max_conns: 20,
        key,
    };
    let mut room = Room::new(config, notebook::new_doc(0xF022), now);
    room.handle(now, Input::SignalingOpen);
    drain(&mut room);
    room
}

/// Everything the room asks for, in order.
pub fn drain(room: &mut Room) -> Vec<Output> {
    std::iter::from_fn(|| room.poll_output()).collect()
}

/// A publish of `data` to the room, as the server relays it.
pub fn publish(data: serde_json::Value) -> String {
    serde_json::json!({"type": "publish", "topic": ROOM, "clients": 2, "data": data}).to_string()
}

/// The same in a keyed room: `data` encrypted.
pub fn publish_keyed(key: Option<&RoomKey>, data: serde_json::Value) -> String {
    match key {
        None => publish(data),
        Some(key) => publish(key.encrypt_signal(&data, [9; 12]).into()),
    }
}

/// `peer` announces itself, the room offers, and the data channel opens.
pub fn open_peer(room: &mut Room, key: Option<&RoomKey>, now: u64, peer: &str) {
    let announce = publish_keyed(key, serde_json::json!({"type": "announce", "from": peer}));
    room.handle(now, Input::SignalingFrame(&announce));
    let offer = SignalData::Offer { sdp: "v=0".into() };
    room.handle(
        now,
        Input::LocalSignal {
            peer,
            signal: offer,
        },
    );
    room.handle(
        now,
        Input::ChannelOpen {
            peer,
            announced: false,
        },
    );
    drain(room);
}
