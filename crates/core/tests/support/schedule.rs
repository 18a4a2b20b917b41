//! When things happen in a [`Net`](super::net::Net): how long each wire takes, what it loses,
//! and the queue of what is due. The in-order harness and the simulator differ only in the
//! [`Schedule`] they give the net; everything else is the same code.

use std::cmp::Ordering;
use std::collections::{BTreeMap, BinaryHeap};
use std::sync::Arc;

pub const SECOND: u64 = 1_000;

/// The latencies and losses of a net's wires, and who decides when frames arrive.
#[derive(Debug, Clone)]
pub struct Schedule {
    /// One-way latency of a signaling WebSocket frame, ms (inclusive range).
    pub signaling_latency: (u64, u64),
    /// One-way latency of a data-channel frame, ms.
    pub link_latency: (u64, u64),
    /// Latency of a BroadcastChannel frame from one tab to another, ms.
    pub broadcast_latency: (u64, u64),
    /// Frames on one data channel may overtake each other (real channels are ordered).
    pub reorder_within_link: bool,
    /// How long the fake WebRTC takes to make an offer or answer, open a channel or notice a close, ms.
    pub webrtc_delay: (u64, u64),
    /// Fake connections also emit an ICE candidate after each offer and answer.
    pub candidates: bool,
    /// How long after the answerer's channel is announced open its own end can send, ms.
    /// Chromium fires `datachannel` (and `open`) for a channel the other side created before
    /// its own end of it has finished the open handshake, and silently drops whatever is sent
    /// in between ("Send failed INVALID_STATE" in its log, no exception, no close). Frames to
    /// that end arrive only once it can send: Chromium queues them until then.
    pub announce_gap: (u64, u64),
    /// Probability that a data-channel frame silently vanishes: a broken transport, for checking
    /// that the simulator notices lost updates. Zero for every honest run.
    pub lose_frames: f64,
    /// Probability that a data-channel frame arrives twice (the second copy a little later, in
    /// order): nothing real does that either; a room must not be hurt by it.
    pub duplicate_frames: f64,
    /// Only frames sent by this peer are lost (with probability `lose_frames`).
    pub lose_only_from: Option<usize>,
    /// Data-channel and BroadcastChannel frames wait in the receiver's inbox until the test
    /// delivers them ([`super::net::Net::deliver_held`]): for replays that follow a causal
    /// graph, and for reordering by hand. A held frame takes its wire's latency when delivered.
    pub hold_frames: bool,
    /// Whether two peers can open a data channel at a time: `false` for a pair behind
    /// symmetric NATs with no TURN (their connections fail); they can still meet through the
    /// server.
    pub direct_path: fn(usize, usize, u64) -> bool,
    /// Rooms are woken when [`commonplace_core::room::Room::poll_timeout`] asks, as the
    /// browser's shell does. Off, time passes only as the test says, and a test that wants a
    /// room's timeouts gives it `Input::Timeout` itself.
    pub timers: bool,
    /// One-way latency of a request to the server's store, ms.
    pub store_latency: (u64, u64),
    /// Probability that a store request fails on the way (a proxy's error, a dropped fetch).
    pub store_failures: f64,
    /// A store read's reply is cut at about this many bytes (the server's is 8 MiB): smaller,
    /// the browser reads in several steps.
    pub store_reply_limit: usize,
}

impl Schedule {
    /// The simulator's: random latencies everywhere, timers on.
    pub fn random() -> Schedule {
        Schedule {
            signaling_latency: (5, 150),
            link_latency: (5, 200),
            broadcast_latency: (0, 3),
            reorder_within_link: false,
            webrtc_delay: (1, 400),
            candidates: true,
            announce_gap: (0, 30),
            lose_frames: 0.0,
            duplicate_frames: 0.0,
            lose_only_from: None,
            hold_frames: false,
            direct_path: |_, _, _| true,
            timers: true,
            store_latency: (5, 300),
            store_failures: 0.0,
            store_reply_limit: 8 << 20,
        }
    }

    /// Everything arrives at once, in the order it was sent; no timers.
    pub fn in_order() -> Schedule {
        let mut schedule = Schedule::random();
        let wires = [
            &mut schedule.signaling_latency,
            &mut schedule.link_latency,
            &mut schedule.broadcast_latency,
            &mut schedule.webrtc_delay,
            &mut schedule.announce_gap,
        ];
        for latency in wires {
            *latency = (0, 0);
        }
        schedule.candidates = false;
        schedule.timers = false;
        schedule
    }

    /// In order, with frames held for the test to deliver. A data-channel frame takes 1 ms, so
    /// the rooms' clock moves as a replay goes; tabs' frames take none.
    pub fn held() -> Schedule {
        Schedule {
            hold_frames: true,
            link_latency: (1, 1),
            ..Schedule::in_order()
        }
    }
}

/// Something due in the net.
#[derive(Debug)]
pub enum Ev {
    /// A peer joins: its room is made and its shell opens what the net's [`super::net::Shell`] says.
    Join(usize),
    SigUp(usize),
    SigDown(usize),
    /// The signaling connection goes half-open: frames vanish both ways, nothing says so.
    SigStall(usize),
    /// The room asked for a new signaling connection.
    SigReconnect(usize),
    HubRecv {
        from: usize,
        gen: u64,
        frame: String,
    },
    SigDeliver {
        to: usize,
        gen: u64,
        frame: Arc<str>,
    },
    /// The room asked to be woken now (`Room::poll_timeout`): the only timer a room has.
    Wake(usize),
    /// A person edits: the simulator's random edits, made by whoever drives the net
    /// ([`super::net::Net::next_due`] hands them back).
    Edit(usize),
    MakeOffer {
        peer: usize,
        remote: usize,
        conn: u64,
    },
    MakeAnswer {
        peer: usize,
        remote: usize,
        conn: u64,
        offer: u64,
    },
    MakeCandidate {
        peer: usize,
        remote: usize,
        conn: u64,
    },
    ChannelOpen {
        peer: usize,
        remote: usize,
        conn: u64,
        link: u64,
    },
    Frame {
        to: usize,
        from: usize,
        link: u64,
        bytes: Vec<u8>,
    },
    /// The connection `conn` of `peer` to `remote` closed (the remote side went away).
    PeerClosed {
        peer: usize,
        remote: usize,
        conn: u64,
    },
    /// The connection `conn` of `peer` to `remote` failed on its own (bad answer, ICE failure).
    ConnFail {
        peer: usize,
        remote: usize,
        conn: u64,
    },
    PartitionStart {
        group: u32,
        peers: Vec<usize>,
    },
    PartitionEnd {
        group: u32,
    },
    LinkFailure {
        all: bool,
    },
    /// A frame on the BroadcastChannel of `from`'s browser reaches tab `to`.
    BcDeliver {
        to: usize,
        bytes: Vec<u8>,
    },
    /// A person does something other than typing (a page operation, undo, presence): the
    /// simulator's random actions, made by whoever drives the net, like [`Ev::Edit`].
    Act(usize),
    /// The browser of this peer dies with all its tabs: no goodbye, no more writes.
    Kill(usize),
    /// A killed peer's browser starts again: each tab anew (new peer and client ids), from
    /// what its store had persisted.
    Restart(usize),
    /// A restarted tab's stored updates are read and loaded (signaling may be up already).
    Load(usize),
    /// The browser's network is back (`online` event).
    Online(usize),
    /// A request to the server's store reaches it (`None`: the request never got there).
    StoreServe {
        from: usize,
        request: commonplace_core::room::server_store::StoreRequest,
        http: commonplace_core::room::HttpRequest,
    },
    /// The store's answer (HTTP status and body) reaches `to`; status 0: the request failed on
    /// the way (no network).
    StoreAnswer {
        to: usize,
        request: commonplace_core::room::server_store::StoreRequest,
        status: u16,
        body: Vec<u8>,
    },
}

impl Ev {
    /// Events that belong to the scenario (not to the machinery it set going).
    fn is_scenario(&self) -> bool {
        matches!(
            self,
            Ev::Join(_)
                | Ev::Edit(_)
                | Ev::Act(_)
                | Ev::Kill(_)
                | Ev::Restart(_)
                | Ev::Load(_)
                | Ev::PartitionStart { .. }
                | Ev::PartitionEnd { .. }
                | Ev::LinkFailure { .. }
                | Ev::SigDown(_)
                | Ev::SigStall(_)
        )
    }

    /// Counted as pending scenario: the scenario's own, and reconnections after faults.
    fn keeps_scenario_going(&self) -> bool {
        self.is_scenario() || matches!(self, Ev::SigUp(_))
    }
}

/// One ordered wire, whose frames never overtake each other.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub enum Fifo {
    /// Peer to hub, per signaling connection.
    SigUp(usize, u64),
    /// Hub to peer, per signaling connection.
    SigDown(usize, u64),
    /// One direction of one data channel: (link, sender).
    Data(u64, usize),
    /// BroadcastChannel, from one tab to another.
    Bc(usize, usize),
}

struct Scheduled {
    time: u64,
    seq: u64,
    ev: Ev,
}

impl PartialEq for Scheduled {
    fn eq(&self, other: &Self) -> bool {
        (self.time, self.seq) == (other.time, other.seq)
    }
}
impl Eq for Scheduled {}
impl PartialOrd for Scheduled {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Scheduled {
    /// Reversed: the heap pops the earliest event, ties in scheduling order.
    fn cmp(&self, other: &Self) -> Ordering {
        (other.time, other.seq).cmp(&(self.time, self.seq))
    }
}

/// What is due, earliest first (ties in the order they were scheduled), and when each ordered
/// wire last delivered.
#[derive(Default)]
pub struct Queue {
    heap: BinaryHeap<Scheduled>,
    seq: u64,
    fifo: BTreeMap<Fifo, u64>,
    /// Scenario events not yet due: while there are any, the scenario is not over.
    pub pending_scenario: usize,
}

impl Queue {
    pub fn push(&mut self, time: u64, ev: Ev) {
        if ev.keeps_scenario_going() {
            self.pending_scenario += 1;
        }
        self.seq += 1;
        self.heap.push(Scheduled {
            time,
            seq: self.seq,
            ev,
        });
    }

    /// The earliest event, if it is due by `until`.
    pub fn pop_due(&mut self, until: u64) -> Option<(u64, Ev)> {
        if self.heap.peek()?.time > until {
            return None;
        }
        let Scheduled { time, ev, .. } = self.heap.pop().expect("peeked");
        if ev.keeps_scenario_going() {
            self.pending_scenario = self.pending_scenario.saturating_sub(1);
        }
        Some((time, ev))
    }

    /// The delivery time of a frame sent at `now` on `wire`: never before an earlier one when
    /// the wire is `ordered`.
    pub fn fifo_time(
        &mut self,
        wire: Fifo,
        now: u64,
        latency: u64,
        not_before: u64,
        ordered: bool,
    ) -> u64 {
        let mut time = (now + latency).max(not_before);
        let last = self.fifo.entry(wire).or_insert(0);
        if ordered {
            time = time.max(*last);
        }
        *last = (*last).max(time);
        time
    }
}
