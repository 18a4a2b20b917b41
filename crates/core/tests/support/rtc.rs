//! The fake WebRTC of a [`Net`]: connection objects that behave like a browser's
//! `RTCPeerConnection` as the room's shell drives it (offer, answer with implicit rollback, the
//! data channel opening on both sides, closing on failure) and the data channels between them.
//! How long each step takes is the net's [`super::schedule::Schedule`]'s.

use commonplace_core::room::Input;
use commonplace_protocol::signaling::{IceCandidate, SignalData};
use rand::Rng;

use super::net::Net;
use super::schedule::{Ev, Fifo};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConnState {
    /// An initiator that has not produced its offer yet.
    Offering,
    /// A non-initiator waiting for an offer.
    Idle,
    HaveLocalOffer,
    /// Producing the answer to the offer of the remote connection `offer`.
    Answering {
        offer: u64,
    },
    Answered {
        offer: u64,
    },
    Linked {
        link: u64,
    },
}

/// The fake `RTCPeerConnection` one peer holds for another.
#[derive(Debug)]
pub struct Conn {
    id: u64,
    state: ConnState,
    /// `Input::ChannelOpen` was given to the room.
    opened: bool,
}

/// An established data channel between two connection objects.
#[derive(Debug)]
pub struct Link {
    /// (peer, connection id) on each side.
    ends: [(usize, u64); 2],
    alive: bool,
    /// When each side's `ChannelOpen` is due: frames to that side arrive no earlier.
    open_at: [u64; 2],
    /// From when each side's end can send (see `Schedule::announce_gap`): frames it sends
    /// earlier vanish, frames to it arrive no earlier.
    sendable_at: [u64; 2],
}

impl Net {
    /// `a` and `b` hold one data channel, open on both sides.
    pub fn linked(&self, a: usize, b: usize) -> bool {
        match (self.conns.get(&(a, b)), self.conns.get(&(b, a))) {
            (Some(x), Some(y)) => {
                matches!((x.state, y.state), (ConnState::Linked { link: l }, ConnState::Linked { link: m }) if l == m)
                    && x.opened
                    && y.opened
            }
            _ => false,
        }
    }

    /// The data channel `a`'s connection to `b` holds, if it has one.
    pub(super) fn link_of(&self, a: usize, b: usize) -> Option<u64> {
        match self.conns.get(&(a, b))?.state {
            ConnState::Linked { link } => Some(link),
            _ => None,
        }
    }

    /// The room asked for a connection to `r`: the shell makes a new one (closing the old).
    pub(super) fn connect(&mut self, i: usize, r: usize, initiator: bool) {
        self.peers[i].connects.push((self.now, r, initiator));
        if let Some(old) = self.conns.remove(&(i, r)) {
            // A shell replacing a connection closes the old one.
            if let ConnState::Linked { link } = old.state {
                self.kill_link(link, Some(i));
            }
        }
        let id = self.next_conn;
        self.next_conn += 1;
        let state = if initiator {
            ConnState::Offering
        } else {
            ConnState::Idle
        };
        self.conns.insert(
            (i, r),
            Conn {
                id,
                state,
                opened: false,
            },
        );
        self.trace(|| format!("connect {i} -> {r} (conn {id}, initiator {initiator})"));
        if initiator {
            let at = self.now + self.delay(self.schedule.webrtc_delay);
            self.queue.push(
                at,
                Ev::MakeOffer {
                    peer: i,
                    remote: r,
                    conn: id,
                },
            );
        }
    }

    pub(super) fn disconnect(&mut self, i: usize, r: usize) {
        self.stats.disconnects += 1;
        self.trace(|| format!("disconnect {i} -> {r}"));
        if let Some(old) = self.conns.remove(&(i, r)) {
            if let ConnState::Linked { link } = old.state {
                self.kill_link(link, Some(i));
            }
        }
    }

    /// Room `i` sends a frame to `r` over their data channel.
    pub(super) fn send_frame(&mut self, i: usize, r: usize, bytes: Vec<u8>) {
        let Some(conn) = self.conns.get(&(i, r)) else {
            // The channel failed and the room has not heard yet.
            self.stats.frames_lost += 1;
            self.trace(|| format!("{i} -> {r}: frame on no connection, lost"));
            return;
        };
        let (ConnState::Linked { link }, true) = (conn.state, conn.opened) else {
            self.errors.push(format!(
                "t={} peer {i} sent to {r} before its channel opened",
                self.now
            ));
            return;
        };
        let l = &self.links[&link];
        let side = if l.ends[0].0 == r { 0 } else { 1 };
        let not_before = l.open_at[side].max(l.sendable_at[side]);
        if self.now < l.sendable_at[1 - side] {
            self.stats.frames_sent_too_early += 1;
            self.stats.frames_lost += 1;
            self.trace(|| format!("{i} -> {r}: frame sent before its end could send, dropped"));
            return;
        }
        let ev = Ev::Frame {
            to: r,
            from: i,
            link,
            bytes,
        };
        if self.schedule.hold_frames {
            return self.hold(i, r, ev);
        }
        let latency = self.delay(self.schedule.link_latency);
        let lossy = self.schedule.lose_only_from.is_none_or(|from| from == i);
        let lose = self.schedule.lose_frames;
        if lossy && lose > 0.0 && self.rng().random_bool(lose) {
            self.stats.frames_lost += 1;
            self.trace(|| format!("{i} -> {r}: frame lost"));
            return;
        }
        let ordered = !self.schedule.reorder_within_link;
        let wire = Fifo::Data(link, i);
        let at = self
            .queue
            .fifo_time(wire.clone(), self.now, latency, not_before, ordered);
        let twice = self.schedule.duplicate_frames;
        if twice > 0.0 && self.rng().random_bool(twice) {
            let Ev::Frame { bytes, .. } = &ev else {
                unreachable!()
            };
            let copy = Ev::Frame {
                to: r,
                from: i,
                link,
                bytes: bytes.clone(),
            };
            let again = self.delay(self.schedule.link_latency);
            let later = self.queue.fifo_time(wire, at, again, not_before, ordered);
            self.queue.push(later, copy);
        }
        self.queue.push(at, ev);
    }

    /// A frame arrives, if its channel is alive and still the one `to` uses for `from`.
    pub(super) fn frame_arrives(&mut self, to: usize, from: usize, link: u64, bytes: &[u8]) {
        let live = self.links.get(&link).filter(|l| l.alive).map(|l| l.ends);
        let current = live.is_some_and(|ends| {
            ends.iter()
                .any(|&(p, c)| p == to && self.conn_is(to, from, c, |_| true))
        });
        if current && self.conns[&(to, from)].opened {
            self.stats.frames += 1;
            self.stats.frame_bytes += bytes.len() as u64;
            let id = self.peers[from].id.clone();
            if self.trace {
                if let Ok(commonplace_core::peer_message::PeerMessage::Awareness(update)) =
                    commonplace_core::peer_message::decode(bytes)
                {
                    let clients: Vec<_> = update
                        .clients
                        .iter()
                        .map(|(c, e)| (c.get(), e.clock, e.json.len()))
                        .collect();
                    self.trace(|| format!("awareness {from} -> {to}: {clients:?}"));
                }
            }
            self.feed(to, Input::PeerFrame { peer: &id, bytes });
        } else {
            self.stats.frames_lost += 1;
            self.trace(|| format!("{from} -> {to}: frame arrives on a dead channel, lost"));
        }
    }

    pub(super) fn make_offer(&mut self, peer: usize, remote: usize, conn: u64) {
        if self.conn_is(peer, remote, conn, |s| s == ConnState::Offering) {
            self.set_state(peer, remote, ConnState::HaveLocalOffer);
            let signal = SignalData::Offer {
                sdp: format!("sim-offer {conn}"),
            };
            self.local_signal(peer, remote, signal);
            self.maybe_candidate(peer, remote, conn);
        }
    }

    pub(super) fn make_answer(&mut self, peer: usize, remote: usize, conn: u64, offer: u64) {
        if self.conn_is(peer, remote, conn, |s| s == ConnState::Answering { offer }) {
            self.set_state(peer, remote, ConnState::Answered { offer });
            let signal = SignalData::Answer {
                sdp: format!("sim-answer {conn} {offer}"),
            };
            self.local_signal(peer, remote, signal);
            self.maybe_candidate(peer, remote, conn);
        }
    }

    pub(super) fn make_candidate(&mut self, peer: usize, remote: usize, conn: u64) {
        if self.conn_is(peer, remote, conn, |_| true) {
            let candidate = IceCandidate {
                candidate: format!(
                    "candidate:{conn} 1 udp 2122260223 192.0.2.{} 5000 typ host",
                    peer % 250
                ),
                sdp_m_line_index: Some(0),
                sdp_mid: Some("0".into()),
            };
            self.local_signal(peer, remote, SignalData::Candidate { candidate });
        }
    }

    pub(super) fn channel_open(&mut self, peer: usize, remote: usize, conn: u64, link: u64) {
        let alive = self.links.get(&link).is_some_and(|l| l.alive);
        if alive && self.conn_is(peer, remote, conn, |s| s == ConnState::Linked { link }) {
            self.conns.get_mut(&(peer, remote)).expect("checked").opened = true;
            self.peers[peer].opens.push((self.now, remote));
            let id = self.peers[remote].id.clone();
            self.trace(|| format!("open {peer} -> {remote} (conn {conn}, link {link})"));
            // The offerer (the link's first end) created the channel.
            let announced = self.links[&link].ends[1].0 == peer;
            self.feed(
                peer,
                Input::ChannelOpen {
                    peer: &id,
                    announced,
                },
            );
        }
    }

    pub(super) fn conn_fail(&mut self, peer: usize, remote: usize, conn: u64) {
        if self.conn_is(peer, remote, conn, |_| true) {
            self.stats.conn_failures += 1;
            let closed = self.conns.remove(&(peer, remote)).expect("checked");
            if let ConnState::Linked { link } = closed.state {
                self.kill_link(link, Some(peer));
            }
            self.deliver_close(peer, remote, conn);
        }
    }

    fn conn_is(
        &self,
        peer: usize,
        remote: usize,
        conn: u64,
        state: impl Fn(ConnState) -> bool,
    ) -> bool {
        self.conns
            .get(&(peer, remote))
            .is_some_and(|c| c.id == conn && state(c.state))
    }

    fn set_state(&mut self, peer: usize, remote: usize, state: ConnState) {
        self.conns
            .get_mut(&(peer, remote))
            .expect("connection exists")
            .state = state;
    }

    fn local_signal(&mut self, peer: usize, remote: usize, signal: SignalData) {
        let id = self.peers[remote].id.clone();
        self.feed(peer, Input::LocalSignal { peer: &id, signal });
    }

    fn maybe_candidate(&mut self, peer: usize, remote: usize, conn: u64) {
        if self.schedule.candidates {
            let at = self.now + self.delay((0, 50));
            self.queue
                .push(at, Ev::MakeCandidate { peer, remote, conn });
        }
    }

    /// The data channel died: each side whose connection is still this one loses it and,
    /// after a while, hears of it. `except` already knows.
    pub(super) fn kill_link(&mut self, link: u64, except: Option<usize>) {
        let Some(l) = self.links.get_mut(&link) else {
            return;
        };
        if !l.alive {
            return;
        }
        l.alive = false;
        let ends = l.ends;
        let [(a, _), (b, _)] = ends;
        for (k, &(p, conn)) in ends.iter().enumerate() {
            let q = if k == 0 { b } else { a };
            if Some(p) == except || !self.conn_is(p, q, conn, |_| true) {
                continue;
            }
            self.conns.remove(&(p, q));
            let at = self.now + self.delay(self.schedule.webrtc_delay);
            self.queue.push(
                at,
                Ev::PeerClosed {
                    peer: p,
                    remote: q,
                    conn,
                },
            );
        }
    }

    /// The live data channels.
    pub(super) fn alive_links(&self) -> Vec<u64> {
        self.links
            .iter()
            .filter(|(_, l)| l.alive)
            .map(|(&id, _)| id)
            .collect()
    }

    /// The live data channels between peers that cannot reach each other.
    pub(super) fn cut_links(&self) -> Vec<u64> {
        self.links
            .iter()
            .filter(|(_, l)| l.alive && !self.reachable(l.ends[0].0, l.ends[1].0))
            .map(|(&id, _)| id)
            .collect()
    }

    /// Tells `peer`'s room that its connection `conn` to `remote` closed, unless the room has
    /// moved on to a newer connection object (a shell drops events of replaced connections).
    pub(super) fn deliver_close(&mut self, peer: usize, remote: usize, conn: u64) {
        if self
            .conns
            .get(&(peer, remote))
            .is_some_and(|c| c.id != conn)
        {
            self.stats.stale_closes += 1;
            return;
        }
        self.conns.remove(&(peer, remote));
        self.peers[peer].closes.push((self.now, remote));
        let id = self.peers[remote].id.clone();
        self.trace(|| format!("closed {peer} -> {remote} (conn {conn})"));
        self.feed(peer, Input::PeerClosed { peer: &id });
    }

    /// The room hands its connection to `r` a signal from `r`: what a browser would do with it.
    pub(super) fn on_remote_signal(&mut self, i: usize, r: usize, signal: SignalData) {
        self.trace(|| format!("signal {r} => {i}: {signal:?}"));
        let Some(conn) = self.conns.get(&(i, r)) else {
            // Only after a failure the room has not heard of yet: the shell has no connection.
            return;
        };
        let (id, state) = (conn.id, conn.state);
        match signal {
            SignalData::Offer { sdp } => {
                let Some(offer) = parse_sdp(&sdp, "sim-offer").and_then(|v| v.first().copied())
                else {
                    self.errors.push(format!("bad offer sdp {sdp:?}"));
                    return;
                };
                if let ConnState::Linked { .. } = state {
                    // Renegotiation by a stale remote connection: ignored until the close arrives.
                    self.stats.offers_to_linked += 1;
                    return;
                }
                // Implicit rollback of our own offer, if any, then answer.
                self.set_state(i, r, ConnState::Answering { offer });
                let at = self.now + self.delay(self.schedule.webrtc_delay);
                self.queue.push(
                    at,
                    Ev::MakeAnswer {
                        peer: i,
                        remote: r,
                        conn: id,
                        offer,
                    },
                );
            }
            SignalData::Answer { sdp } => {
                let parsed = parse_sdp(&sdp, "sim-answer");
                let Some(&[answerer, offer]) = parsed.as_deref() else {
                    self.errors.push(format!("bad answer sdp {sdp:?}"));
                    return;
                };
                let remote_ready =
                    self.conn_is(r, i, answerer, |s| s == ConnState::Answered { offer });
                if state == ConnState::HaveLocalOffer
                    && offer == id
                    && remote_ready
                    && self.reachable(i, r)
                    && (self.schedule.direct_path)(i, r, self.now)
                {
                    self.establish(i, id, r, answerer);
                } else {
                    // An answer in the wrong state, or to another offer: the connection fails.
                    let at = self.now + self.delay(self.schedule.webrtc_delay);
                    self.queue.push(
                        at,
                        Ev::ConnFail {
                            peer: i,
                            remote: r,
                            conn: id,
                        },
                    );
                }
            }
            SignalData::Candidate { .. } | SignalData::Unsupported => {}
        }
    }

    fn establish(&mut self, a: usize, conn_a: u64, b: usize, conn_b: u64) {
        let link = self.next_link;
        self.next_link += 1;
        self.stats.links += 1;
        // `a` offered and created the channel; `b` answered, and is told of it by `datachannel`.
        let open_a = self.now + self.delay(self.schedule.webrtc_delay);
        let open_b = self.now + self.delay(self.schedule.webrtc_delay);
        let sendable_b = open_b + self.delay(self.schedule.announce_gap);
        self.links.insert(
            link,
            Link {
                ends: [(a, conn_a), (b, conn_b)],
                alive: true,
                open_at: [open_a, open_b],
                sendable_at: [open_a, sendable_b],
            },
        );
        self.set_state(a, b, ConnState::Linked { link });
        self.set_state(b, a, ConnState::Linked { link });
        self.trace(|| format!("link {link}: {a} (conn {conn_a}) <-> {b} (conn {conn_b})"));
        self.queue.push(
            open_a,
            Ev::ChannelOpen {
                peer: a,
                remote: b,
                conn: conn_a,
                link,
            },
        );
        self.queue.push(
            open_b,
            Ev::ChannelOpen {
                peer: b,
                remote: a,
                conn: conn_b,
                link,
            },
        );
    }
}

fn parse_sdp(sdp: &str, kind: &str) -> Option<Vec<u64>> {
    let mut words = sdp.split(' ');
    if words.next()? != kind {
        return None;
    }
    words.map(|w| w.parse().ok()).collect()
}
