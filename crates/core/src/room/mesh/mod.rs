//! The room's peers: one [`Link`] each, reached over a WebRTC data channel negotiated as
//! y-webrtc does (its glare rule, its `maxConns`) or, when none opens, through the server
//! ([`link`]); large frames go in chunks to peers that reassemble them.
//!
//! It carries bytes and keeps each link's sync handshake ([`PeerSync`]); what the bytes mean is
//! the room's business.

use std::borrow::Cow;
use std::collections::BTreeMap;

use rand_chacha::rand_core::RngCore;
use rand_chacha::ChaCha20Rng;

use commonplace_protocol::chunk::{self, Reassembled};
use commonplace_protocol::signaling::{RoomSignal, SignalData};

use super::output::{Effect, Event, Outputs};
use super::peer_sync::{Nudge, PeerSync};
use super::PeerId;

mod link;

use link::{Link, LinkStep};
pub use link::{Path, CONNECT_TIMEOUT_MS, DIRECT_RETRY_MS, RELAY_AFTER_MS, RELAY_SILENCE_MS};

pub struct Mesh {
    peer_id: PeerId,
    max_conns: usize,
    links: BTreeMap<PeerId, Link>,
    /// Draws the glare tokens' fractions.
    rng: ChaCha20Rng,
}

impl Mesh {
    pub fn new(peer_id: PeerId, max_conns: usize, rng: ChaCha20Rng) -> Mesh {
        Mesh {
            peer_id,
            max_conns,
            links: BTreeMap::new(),
            rng,
        }
    }

    pub fn knows(&self, peer: &str) -> bool {
        self.links.contains_key(peer)
    }

    pub fn has_room(&self) -> bool {
        self.links.len() < self.max_conns
    }

    /// Peers frames can reach now, and how.
    pub fn paths(&self) -> impl Iterator<Item = (&PeerId, Path)> {
        self.links
            .iter()
            .filter_map(|(id, l)| l.path().map(|path| (id, path)))
    }

    /// A peer reached only through the server said it is leaving: true if it was.
    pub fn on_goodbye(&mut self, peer: &str, out: &mut Outputs) -> bool {
        let relayed_only = self.links.get(peer).and_then(Link::path) == Some(Path::Relay);
        if relayed_only {
            self.links.remove(peer);
            out.effect(Effect::Disconnect {
                peer: peer.to_owned(),
            });
        }
        relayed_only
    }

    /// The last sync round trip with `peer`, ms.
    pub fn rtt(&self, peer: &str) -> Option<u64> {
        self.links.get(peer).and_then(|l| l.sync.rtt())
    }

    /// Every reachable peer has sent its state since we last asked.
    pub fn all_synced(&self) -> bool {
        self.links
            .values()
            .filter(|l| l.is_up())
            .all(|l| l.sync.synced())
    }

    pub fn sync_mut(&mut self, peer: &str) -> Option<&mut PeerSync> {
        self.links.get_mut(peer).map(|l| &mut l.sync)
    }

    /// Someone announced themselves: connect as initiator, if there is room.
    pub fn on_announce(&mut self, now: u64, from: PeerId, out: &mut Outputs) {
        if from != self.peer_id && !self.knows(&from) && self.has_room() {
            let mut link = Link::connecting(now);
            link.begin_offer(glare_token(&mut self.rng, now));
            self.links.insert(from.clone(), link);
            out.effect(Effect::Connect {
                peer: from,
                initiator: true,
            });
        }
    }

    /// The network is back after it was gone (the browser's `online` event). A data channel
    /// that lived through that may be stuck for seconds in SCTP's retransmission backoff, with
    /// what was typed meanwhile in it: each Commonplace peer's connection is made anew, this
    /// side offering (the peer takes an offer on an open channel as the same). A y-webrtc peer
    /// keeps its channel: it would take the offer as a renegotiation of the old connection.
    pub fn restart_direct(&mut self, now: u64, out: &mut Outputs) {
        for (peer, link) in &mut self.links {
            if link.direct && link.chunks.is_some() {
                link.restart(now);
                link.begin_offer(glare_token(&mut self.rng, now));
                out.effect(Effect::Connect {
                    peer: peer.clone(),
                    initiator: true,
                });
            }
        }
    }

    /// A signal for us from `from`, with y-webrtc's glare rule: when both sides offered, the
    /// offer with the larger token wins.
    pub fn on_remote_signal(
        &mut self,
        now: u64,
        from: PeerId,
        token: Option<f64>,
        signal: SignalData,
        chunks: Option<u64>,
        out: &mut Outputs,
    ) {
        if signal == SignalData::Unsupported {
            return;
        }
        let offer = matches!(signal, SignalData::Offer { .. });
        if let Some(link) = self.links.get_mut(&from) {
            if offer && link.direct && link.chunks.is_some() {
                // A Commonplace peer makes its connection anew (`restart_direct`).
                link.restart(now);
                out.effect(Effect::Connect {
                    peer: from.clone(),
                    initiator: false,
                });
            } else if link.connecting_since.is_none() && !link.direct {
                // A relayed peer offers again: the shell has no connection to give it to.
                if !offer {
                    return;
                }
                link.on_connecting(now);
                out.effect(Effect::Connect {
                    peer: from.clone(),
                    initiator: false,
                });
            }
            match signal {
                SignalData::Offer { .. } => {
                    if link
                        .glare_token
                        .is_some_and(|local| local > token.unwrap_or(0.0))
                    {
                        return;
                    }
                    if link.offering {
                        // Our offer lost: we answer theirs on a connection of our own rather
                        // than roll ours back. Chromium's implicit rollback sometimes left the
                        // answer's ICE gathering stalled (no candidate ever, no path: 1 in 15
                        // pairs opened at once ended on the server relay), and the offer still
                        // being made could go out with a new token and win on their side too.
                        link.on_connecting(now);
                        out.effect(Effect::Connect {
                            peer: from.clone(),
                            initiator: false,
                        });
                    }
                    link.glare_token = None;
                }
                SignalData::Answer { .. } => {
                    link.glare_token = None;
                    link.offering = false;
                }
                _ => {}
            }
        } else if self.has_room() {
            self.links.insert(from.clone(), Link::connecting(now));
            out.effect(Effect::Connect {
                peer: from.clone(),
                initiator: false,
            });
        } else {
            return;
        }
        if let (Some(link), Some(max)) = (self.links.get_mut(&from), chunks) {
            link.chunks = Some(usize::try_from(max).unwrap_or(usize::MAX));
        }
        out.effect(Effect::Signal { peer: from, signal });
    }

    /// Our connection to `peer` produced a signal: what to publish, with our glare token.
    pub fn on_local_signal(
        &mut self,
        now: u64,
        peer: &str,
        signal: SignalData,
    ) -> Option<RoomSignal> {
        let link = self.links.get_mut(peer)?;
        let token = *link
            .glare_token
            .get_or_insert_with(|| glare_token(&mut self.rng, now));
        Some(RoomSignal::Signal {
            from: self.peer_id.clone(),
            to: peer.to_owned(),
            token: Some(token),
            signal,
            chunks: Some(chunk::MAX_MESSAGE as u64),
        })
    }

    /// The data channel to `peer` opened: true if the peer was not reachable before.
    pub fn on_open(&mut self, now: u64, peer: &str, announced: bool) -> bool {
        self.links
            .get_mut(peer)
            .is_some_and(|link| link.on_open(now, announced))
    }

    /// The connection to `peer` closed: true if the peer is gone (no relay reaches it).
    pub fn on_closed(&mut self, now: u64, peer: &str) -> bool {
        let gone = self
            .links
            .get_mut(peer)
            .is_some_and(|link| link.on_closed(now));
        if gone {
            self.links.remove(peer);
        }
        gone
    }

    /// A relayed frame arrived from `peer`: it is reachable that way (a peer we did not know,
    /// or had given up on, is met again). False if there is no room for it.
    pub fn on_relayed(&mut self, now: u64, peer: &str) -> bool {
        if peer == self.peer_id {
            return false;
        }
        let room = self.has_room();
        match self.links.get_mut(peer) {
            Some(link) => link.on_relayed(now),
            None if room => {
                self.links
                    .insert(peer.to_owned(), Link::relayed_by_peer(now));
            }
            None => return false,
        }
        true
    }

    /// A frame from `peer` over `path`: the whole message once its last chunk is in, `None`
    /// meanwhile (or if it was bad: then it is dropped with a reason).
    pub fn on_frame<'a>(
        &mut self,
        now: u64,
        peer: &str,
        path: Path,
        bytes: &'a [u8],
        out: &mut Outputs,
    ) -> Option<Cow<'a, [u8]>> {
        if bytes.first() != Some(&chunk::MSG_CHUNK) {
            return Some(Cow::Borrowed(bytes));
        }
        let link = self.links.get_mut(peer)?;
        let receiving = |received, total| Event::Receiving {
            peer: peer.to_owned(),
            received,
            total,
        };
        let reassembler = match path {
            Path::Direct => &mut link.reassemble_direct,
            Path::Relay => &mut link.reassemble_relay,
        };
        match reassembler.push(bytes) {
            Ok(Reassembled::Partial { received, total }) => {
                link.sync.on_arriving(now);
                out.event(receiving(received, total));
                None
            }
            // A chunk of chunks would recurse: nobody honest sends one.
            Ok(Reassembled::Complete(frame)) if frame.first() == Some(&chunk::MSG_CHUNK) => {
                out.dropped(format!("chunk from {peer}: nested chunks"));
                None
            }
            Ok(Reassembled::Complete(frame)) => {
                out.event(receiving(frame.len(), frame.len()));
                Some(Cow::Owned(frame))
            }
            Err(error) => {
                out.dropped(format!("chunk from {peer}: {error:?}"));
                None
            }
        }
    }

    /// Sends a frame to a peer, on its path, in chunks if it is large and the peer reassembles
    /// them.
    pub fn send(&mut self, peer: &str, bytes: Vec<u8>, out: &mut Outputs) {
        let Some(link) = self.links.get_mut(peer) else {
            return;
        };
        let Some(path) = link.path() else {
            return;
        };
        let mut send = |frame| match path {
            Path::Direct => out.frame_to(peer, frame),
            Path::Relay => out.relay(peer, frame),
        };
        let chunked =
            bytes.len() > chunk::CHUNK_SIZE && link.chunks.is_some_and(|max| bytes.len() <= max);
        if !chunked {
            return send(bytes);
        }
        let id = link.next_chunked_id;
        link.next_chunked_id += 1;
        for chunk in chunk::split(id, &bytes, chunk::CHUNK_SIZE) {
            send(chunk);
        }
    }

    /// Every reachable peer but `except`.
    fn reachable_but<'a>(&'a self, except: Option<&'a str>) -> impl Iterator<Item = &'a PeerId> {
        self.paths()
            .map(|(id, _)| id)
            .filter(move |id| Some(id.as_str()) != except)
    }

    /// Whether a frame to every reachable peer but `except` would reach anyone.
    pub fn reaches_any_but(&self, except: Option<&str>) -> bool {
        self.reachable_but(except).next().is_some()
    }

    /// Sends a frame to every reachable peer but `except`.
    pub fn broadcast(&mut self, bytes: &[u8], except: Option<&str>, out: &mut Outputs) {
        let to: Vec<PeerId> = self.reachable_but(except).cloned().collect();
        for peer in to {
            self.send(&peer, bytes.to_vec(), out);
        }
    }

    /// Moves every link along (connection timeouts, relays, direct retries): true if a peer
    /// was given up, so the room should announce itself again.
    pub fn on_timeout(&mut self, now: u64, out: &mut Outputs) -> bool {
        let mut gave_up = false;
        let mut gone = Vec::new();
        for (id, link) in &mut self.links {
            while let Some(step) = link.poll(now) {
                match step {
                    LinkStep::GiveUp => {
                        gone.push(id.clone());
                        out.effect(Effect::Disconnect { peer: id.clone() });
                        gave_up = true;
                        break;
                    }
                    LinkStep::StopConnecting => {
                        out.effect(Effect::Disconnect { peer: id.clone() });
                    }
                    LinkStep::StartRelay => {}
                    LinkStep::RetryDirect => {
                        link.begin_offer(glare_token(&mut self.rng, now));
                        out.effect(Effect::Connect {
                            peer: id.clone(),
                            initiator: true,
                        });
                    }
                }
            }
        }
        for id in gone {
            self.links.remove(&id);
        }
        gave_up
    }

    /// What each reachable link's sync handshake calls for now.
    pub fn nudges(&mut self, now: u64) -> Vec<(PeerId, Nudge)> {
        let mut nudges = Vec::new();
        for (id, link) in self.links.iter_mut().filter(|(_, l)| l.is_up()) {
            while let Some(nudge) = link.sync.poll(now) {
                nudges.push((id.clone(), nudge));
            }
        }
        nudges
    }

    pub fn poll_timeout(&self) -> Option<u64> {
        self.links.values().filter_map(Link::poll_timeout).min()
    }

    pub fn report(&self) -> String {
        use std::fmt::Write as _;
        let mut report = String::new();
        for (id, link) in &self.links {
            let _ = write!(
                report,
                "\npeer {id}: {:?}, {}",
                link.path(),
                link.sync.report()
            );
        }
        report
    }
}

/// y-webrtc's glare token: the time, plus a random fraction so that two never tie. An offering
/// side takes it when it decides to offer, not when its offer is out: two peers that hear each
/// other's announce at once (two head starts announcing together) each get the other's offer
/// while making their own, and with no token yet both took the other's and both answered.
fn glare_token(rng: &mut ChaCha20Rng, now: u64) -> f64 {
    let fraction = (rng.next_u64() >> 11) as f64 / (1u64 << 53) as f64;
    now as f64 + fraction
}

#[cfg(test)]
mod tests;
