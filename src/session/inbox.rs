//! Frames from peers that come faster than one task each can handle them (a hostile peer's
//! flood of small updates, `docs/hostile-peers.md`): the first is handled at once, as ever;
//! those that arrive before the next task runs wait here, and that task handles them together,
//! within a time budget, with one pump of the room's outputs (which merges what it relays and
//! stores from them: `commonplace_core::room` output queue). Typing, one frame every tens of
//! milliseconds, never waits.

use std::collections::VecDeque;

use commonplace_core::room::PeerId;
use gloo::timers::callback::Timeout;

/// How long one drain handles frames before it lets the browser draw and take input.
pub const DRAIN_BUDGET_MS: f64 = 8.0;

#[derive(Default)]
pub struct Inbox {
    /// (peer, its connection's id, frame), in the order they came.
    waiting: VecDeque<(PeerId, u64, Vec<u8>)>,
    /// The task that handles them, once one is due.
    drain: Option<Timeout>,
}

impl Inbox {
    /// A drain is due: a new frame waits its turn behind the others.
    pub fn busy(&self) -> bool {
        self.drain.is_some()
    }

    pub fn push(&mut self, peer: &str, connection: u64, bytes: Vec<u8>) {
        self.waiting.push_back((peer.to_owned(), connection, bytes));
    }

    pub fn pop(&mut self) -> Option<(PeerId, u64, Vec<u8>)> {
        self.waiting.pop_front()
    }

    pub fn is_empty(&self) -> bool {
        self.waiting.is_empty()
    }

    pub fn set_drain(&mut self, drain: Option<Timeout>) {
        self.drain = drain;
    }
}
