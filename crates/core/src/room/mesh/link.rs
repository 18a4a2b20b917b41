//! One peer as the mesh knows it: how its frames travel (a data channel, or the server), the
//! WebRTC connection being tried, and the sync handshake over whichever path is up.
//!
//! A pair that cannot open a data channel within [`RELAY_AFTER_MS`] talks through the signaling
//! server instead (Commonplace peers only: y-webrtc ignores relayed frames). A relayed pair
//! keeps trying a direct connection every [`DIRECT_RETRY_MS`], and moves to it once it opens.

use commonplace_protocol::chunk::{self, Reassembler};

use super::super::peer_sync::PeerSync;

/// A connection that has not opened by then is abandoned: re-announced, or, for a relayed
/// peer, tried again later.
pub const CONNECT_TIMEOUT_MS: u64 = 20_000;
/// A Commonplace peer whose data channel has not opened after this long is reached through
/// the server: ICE failed, or is still looking.
pub const RELAY_AFTER_MS: u64 = 5_000;
/// A relayed peer is offered a direct connection again this long after the last one ended.
pub const DIRECT_RETRY_MS: u64 = 60_000;
/// A peer reached only through the server that has sent nothing for this long is gone (it
/// renews its presence every 15 s): nothing else would tell, as no connection closes.
pub const RELAY_SILENCE_MS: u64 = 45_000;

/// How frames reach a peer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Path {
    /// Over a WebRTC data channel (the shell knows whether over a LAN, STUN or TURN).
    Direct,
    /// Through the signaling server, as publishes addressed to the peer.
    Relay,
}

/// What a link needs done, from [`Link::poll`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LinkStep {
    /// The connection never opened and there is no relay, or the relayed peer went silent:
    /// forget the peer, re-announce.
    GiveUp,
    /// Close the connection attempt that never opened; the relay carries on.
    StopConnecting,
    /// Start reaching the peer through the server.
    StartRelay,
    /// Offer a direct connection again.
    RetryDirect,
}

#[derive(Debug)]
pub struct Link {
    /// y-webrtc's glare token: set when this side decides to offer (or sends its first signal),
    /// cleared once an offer or answer from the other side is accepted.
    pub glare_token: Option<f64>,
    /// The shell's connection to the peer is an initiator's: its offer is being made, or out.
    pub offering: bool,
    /// The shell holds a WebRTC connection to the peer, since this time.
    pub connecting_since: Option<u64>,
    /// Its data channel is open.
    pub direct: bool,
    /// Frames go through the server (until a data channel opens, and then still accepted).
    pub relayed: bool,
    /// When to offer a direct connection again, while relayed without one.
    pub retry_direct_at: Option<u64>,
    /// When a frame last came through the server (or the relay started).
    pub relay_heard_at: u64,
    pub sync: PeerSync,
    /// The largest message the peer reassembles from chunks; `None`: a y-webrtc peer, which
    /// can be reached directly only.
    pub chunks: Option<usize>,
    pub next_chunked_id: u64,
    /// One per path: a chunked message arrives in order on its path, not across paths.
    pub reassemble_direct: Reassembler,
    pub reassemble_relay: Reassembler,
}

impl Link {
    /// A link whose WebRTC connection the shell is opening now.
    pub fn connecting(now: u64) -> Link {
        Link {
            glare_token: None,
            offering: false,
            connecting_since: Some(now),
            direct: false,
            relayed: false,
            retry_direct_at: None,
            relay_heard_at: now,
            sync: PeerSync::new(now, false),
            chunks: None,
            next_chunked_id: 0,
            reassemble_direct: Reassembler::new(chunk::MAX_MESSAGE),
            reassemble_relay: Reassembler::new(chunk::MAX_MESSAGE),
        }
    }

    /// A link the peer started through the server: it is a Commonplace peer (only those
    /// relay), and there is no connection yet.
    pub fn relayed_by_peer(now: u64) -> Link {
        let mut link = Link::connecting(now);
        link.connecting_since = None;
        link.chunks = Some(chunk::MAX_MESSAGE);
        link.relayed = true;
        link.retry_direct_at = Some(now + DIRECT_RETRY_MS);
        link
    }

    /// Frames can reach the peer.
    pub fn is_up(&self) -> bool {
        self.direct || self.relayed
    }

    /// How frames go to the peer now.
    pub fn path(&self) -> Option<Path> {
        match (self.direct, self.relayed) {
            (true, _) => Some(Path::Direct),
            (false, true) => Some(Path::Relay),
            (false, false) => None,
        }
    }

    /// The data channel opened: true if the peer was not reachable before (the sync
    /// handshake starts now; over a relay it had started already, and carries on).
    pub fn on_open(&mut self, now: u64, announced: bool) -> bool {
        if self.direct {
            return false;
        }
        self.direct = true;
        self.retry_direct_at = None;
        if self.relayed {
            return false;
        }
        self.sync = PeerSync::new(now, announced);
        true
    }

    /// The WebRTC connection closed: true if the peer is gone (nothing else reaches it).
    pub fn on_closed(&mut self, now: u64) -> bool {
        // ICE gave up before the channel ever opened: no need to wait out RELAY_AFTER_MS.
        let never_opened = self.connecting_since.is_some() && !self.direct;
        if never_opened && self.chunks.is_some() && !self.relayed {
            self.start_relay(now);
        }
        if self.direct && self.relayed {
            // The relay carries on from here: its silence counts from now.
            self.relay_heard_at = now;
        }
        self.connecting_since = None;
        self.direct = false;
        if self.relayed {
            self.retry_direct_at = Some(now + DIRECT_RETRY_MS);
        }
        !self.relayed
    }

    /// The peer relays to us: we answer the same way (until a data channel opens).
    pub fn on_relayed(&mut self, now: u64) {
        self.relay_heard_at = now;
        if !self.relayed {
            self.start_relay(now);
        }
    }

    fn start_relay(&mut self, now: u64) {
        self.relayed = true;
        self.relay_heard_at = now;
        if !self.direct {
            self.sync = PeerSync::new(now, false);
        }
    }

    /// The connection is made anew while the old one is open (the network came back, and the
    /// old one may sit out its retransmission backoff): the peer is unreachable until the new
    /// data channel opens, when the sync handshake starts over.
    pub fn restart(&mut self, now: u64) {
        self.direct = false;
        self.reassemble_direct = Reassembler::new(chunk::MAX_MESSAGE);
        self.on_connecting(now);
    }

    /// A new WebRTC connection is being opened (the shell was told `Connect`).
    pub fn on_connecting(&mut self, now: u64) {
        self.connecting_since = Some(now);
        self.retry_direct_at = None;
        self.glare_token = None;
        self.offering = false;
    }

    /// This side decided to offer (the shell is told to connect as initiator), with `token` as
    /// its glare token: taken now, not when the offer is out, so that glare is decided even
    /// when the other's offer comes while ours is being made.
    pub fn begin_offer(&mut self, token: f64) {
        self.glare_token = Some(token);
        self.offering = true;
    }

    /// What is due now, if anything; call again until `None`.
    pub fn poll(&mut self, now: u64) -> Option<LinkStep> {
        if self.relayed && !self.direct && now >= self.relay_heard_at + RELAY_SILENCE_MS {
            return Some(LinkStep::GiveUp);
        }
        if let Some(since) = self.connecting_since.filter(|_| !self.direct) {
            if self.chunks.is_some() && !self.relayed && now >= since + RELAY_AFTER_MS {
                self.start_relay(now);
                return Some(LinkStep::StartRelay);
            }
            if now >= since + CONNECT_TIMEOUT_MS {
                self.connecting_since = None;
                if !self.relayed {
                    return Some(LinkStep::GiveUp);
                }
                self.retry_direct_at = Some(now + DIRECT_RETRY_MS);
                return Some(LinkStep::StopConnecting);
            }
        }
        if self.retry_direct_at.is_some_and(|at| now >= at) {
            self.on_connecting(now);
            return Some(LinkStep::RetryDirect);
        }
        None
    }

    /// When [`Link::poll`] or the sync handshake next has something to do.
    pub fn poll_timeout(&self) -> Option<u64> {
        let connecting = self.connecting_since.filter(|_| !self.direct).map(|since| {
            if self.chunks.is_some() && !self.relayed {
                since + RELAY_AFTER_MS
            } else {
                since + CONNECT_TIMEOUT_MS
            }
        });
        let sync = self.is_up().then(|| self.sync.poll_timeout()).flatten();
        let silence =
            (self.relayed && !self.direct).then_some(self.relay_heard_at + RELAY_SILENCE_MS);
        [connecting, self.retry_direct_at, sync, silence]
            .into_iter()
            .flatten()
            .min()
    }
}
