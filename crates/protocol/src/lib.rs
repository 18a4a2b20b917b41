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

pub mod hub;
pub mod signaling;
