//! What happens to a room from outside: the shell's transports report it, with the time, to
//! [`super::Room::handle`]. (What the person does goes through the room's methods: `edit`,
//! `set_cursor`, the page operations.)

use commonplace_protocol::signaling::SignalData;

use super::server_store::StoreReply;

#[derive(Debug, Clone, PartialEq)]
pub enum Input<'a> {
    /// The signaling WebSocket opened.
    SignalingOpen,
    /// The signaling WebSocket closed; open peer connections carry on without it.
    SignalingClosed,
    /// A text frame from the signaling server.
    SignalingFrame(&'a str),
    /// This peer's WebRTC connection to `peer` produced an offer, answer or candidate.
    LocalSignal { peer: &'a str, signal: SignalData },
    /// The data channel to `peer` is open. `announced`: the other side created it and this
    /// end learned of it from a `datachannel` event (see [`super::ANSWERER_WAIT_MS`]).
    ChannelOpen { peer: &'a str, announced: bool },
    /// A frame arrived on the data channel from `peer`.
    PeerFrame { peer: &'a str, bytes: &'a [u8] },
    /// The connection to `peer` closed or failed.
    PeerClosed { peer: &'a str },
    /// The room's BroadcastChannel is open: greet the other tabs.
    BroadcastOpen,
    /// A frame from another tab on the BroadcastChannel.
    BroadcastFrame(&'a [u8]),
    /// The time [`super::Room::poll_timeout`] asked for has come (a little late is fine).
    Timeout,
    /// The server's store answered the request in flight.
    StoreReply(StoreReply),
    /// The history's store answered the request in flight.
    HistoryStoreReply(StoreReply),
    /// The network is back (`online` event): the store is tried again at once, and each
    /// Commonplace peer's connection is made anew (see `Mesh::restart_direct`).
    Online,
}
