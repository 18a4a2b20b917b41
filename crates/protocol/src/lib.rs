//! What Commonplace sends over a network, in y-webrtc's formats, and nothing of what it means:
//! no yrs here, so the signaling server depends on this crate alone.
//!
//! Between a peer and the signaling server (one WebSocket of JSON text frames):
//! - [`signaling`] — [`ClientMessage`](signaling::ClientMessage) peer → server,
//!   [`ServerMessage`](signaling::ServerMessage) server → peer, and
//!   [`RoomSignal`](signaling::RoomSignal) peer ↔ peer: the `data` of a publish, which the
//!   server relays to the topic's subscribers without reading it.
//! - [`hub`] — the server's side: y-webrtc's topic pub/sub as a state machine, free of I/O;
//!   takes peer → server frames and returns server → peer frames.
//!
//! Between a peer and its server over HTTP:
//! - [`config`] — `GET /config` (server → peer): the ICE servers to reach peers with.
//! - [`store`] — the end-to-end encrypted store under `/store/` (peer ↔ server): store ids,
//!   write tokens, the binary framing of a read, the JSON replies and errors.
//! - [`store_crypto`] — the encrypted store's id, key and write token, derived from the room
//!   key, and its sealed records (the server keeps them and cannot read them).
//!
//! Between peers (binary, peer ↔ peer):
//! - [`frame`] — y-webrtc's data-channel and BroadcastChannel frames: a message type and
//!   y-protocols' payload (sync, awareness), kept as encoded bytes; a tab's peer id.
//! - [`chunk`] — frames larger than a data channel carries, split and put back together
//!   (Commonplace peers only).
//! - [`crypto`] — y-webrtc's room encryption: `RoomKey`, AES-GCM envelopes, JSON as lib0 `Any`;
//!   for signaling publishes (peer ↔ peer, through the server) and BroadcastChannel frames.
//!
//! Under them all:
//! - [`lib0`] — the lib0 binary encoding they are written in, read without panics.

pub mod chunk;
pub mod config;
pub mod crypto;
pub mod frame;
pub mod hub;
pub mod lib0;
pub mod signaling;
pub mod store;
pub mod store_crypto;
pub mod yjs_update;
