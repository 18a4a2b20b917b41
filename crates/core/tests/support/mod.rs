//! Test support shared by the integration tests. Rooms are wired together one way: a [`net`]
//! of [`peer`]s whose [`schedule`] says when things arrive (at once and in order, held for the
//! test to deliver, or the [`sim`]ulator's random latencies and faults), run by [`run`], with
//! the real hub ([`server`]), a fake WebRTC ([`rtc`]) and the faults a scenario asks for
//! ([`faults`]); the simulator's random edits are [`edits`].
//! Editing traces ([`trace`]) are replayed through it ([`replay`]). [`html`] is a strict
//! scanner of the markdown preview's HTML.
//!
//! Each test binary compiles this module on its own and uses only part of it.
#![allow(dead_code)]

pub mod clock;
pub mod edits;
pub mod faults;
pub mod html;
pub mod net;
pub mod peer;
pub mod replay;
pub mod restart;
pub mod rtc;
pub mod run;
pub mod schedule;
pub mod server;
pub mod sim;
pub mod soak;
pub mod store;
pub mod trace;

use commonplace_core::notebook;
use commonplace_core::peer_message::{self, PeerMessage};
use commonplace_core::room::{Output, Room, RoomConfig};
use commonplace_protocol::crypto::RoomKey;
use serde_json::Value;

/// A room named `name` over a fresh document, as every peer starts.
pub fn new_room(name: &str, peer_id: &str, client_id: u64, seed: u64, now: u64) -> Room {
    new_keyed_room(name, peer_id, client_id, seed, None, now)
}

/// The same, with this key (or none).
pub fn new_keyed_room(
    name: &str,
    peer_id: &str,
    client_id: u64,
    seed: u64,
    key: Option<RoomKey>,
    now: u64,
) -> Room {
    let mut entropy = [0; 32];
    entropy[..8].copy_from_slice(&seed.to_le_bytes());
    let config = RoomConfig {
        name: name.to_owned(),
        peer_id: peer_id.to_owned(),
        client_id,
        entropy,
        max_conns: 20,
        key,
    };
    Room::new(config, notebook::new_doc(client_id), now)
}

/// Everything a room wired to nothing asks for, in order.
pub fn outputs(room: &mut Room) -> Vec<Output> {
    std::iter::from_fn(|| room.poll_output()).collect()
}

/// The latest awareness state `client` posted of itself among `frames` (oldest first), as
/// JSON: what the others were told.
pub fn posted_state<'a>(
    frames: impl DoubleEndedIterator<Item = &'a [u8]>,
    client: u64,
) -> Option<Value> {
    frames
        .rev()
        .find_map(|bytes| match peer_message::decode(bytes) {
            Ok(PeerMessage::Awareness(update)) => update
                .clients
                .into_iter()
                .find(|(id, _)| id.get() == client)
                .and_then(|(_, entry)| serde_json::from_str(&entry.json).ok()),
            _ => None,
        })
}

/// How many seeds a seeded test runs: `default`, or the value of the environment variable `var`.
pub fn seed_count(var: &str, default: u64) -> u64 {
    std::env::var(var)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// The first seed a seeded test runs (`SIM_SEED_START`, default 0), so one failing seed can be
/// rerun alone: `SIM_SEED_START=17 SIM_SEEDS=1 cargo test ...`.
pub fn first_seed() -> u64 {
    seed_count("SIM_SEED_START", 0)
}

/// The page text's length in UTF-16 code units, as the room and the editor count.
pub fn utf16_len(text: &str) -> usize {
    text.encode_utf16().count()
}
