//! The room's WebRTC connections: one [`Link`] per peer, negotiated as y-webrtc does (its glare
//! rule, its `maxConns`), with large frames sent in chunks to peers that reassemble them.
//!
//! It carries bytes and keeps each link's sync handshake ([`PeerSync`]); what the bytes mean is
//! the room's business.

use std::borrow::Cow;
use std::collections::BTreeMap;

use rand_chacha::rand_core::RngCore;
use rand_chacha::ChaCha20Rng;

use commonplace_protocol::chunk::{self, Reassembled, Reassembler};
use commonplace_protocol::signaling::{RoomSignal, SignalData};

use super::output::{Effect, Event, Outputs};
use super::peer_sync::{Nudge, PeerSync};
use super::PeerId;

/// A connection that has not opened by then is abandoned and the room re-announced.
pub const CONNECT_TIMEOUT_MS: u64 = 20_000;

#[derive(Debug)]
struct Link {
    /// y-webrtc's glare token: set when this side sends its first signal, cleared once an
    /// offer or answer from the other side is accepted.
    glare_token: Option<f64>,
    open: bool,
    created_at: u64,
    sync: PeerSync,
    /// The largest message the peer reassembles from chunks; `None`: a y-webrtc peer.
    chunks: Option<usize>,
    next_chunked_id: u64,
    reassembler: Reassembler,
}

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

    pub fn open_peers(&self) -> impl Iterator<Item = &PeerId> {
        self.links.iter().filter(|(_, l)| l.open).map(|(id, _)| id)
    }

    /// Every open peer has sent its state since we last asked.
    pub fn all_synced(&self) -> bool {
        self.links
            .values()
            .filter(|l| l.open)
            .all(|l| l.sync.synced())
    }

    pub fn sync_mut(&mut self, peer: &str) -> Option<&mut PeerSync> {
        self.links.get_mut(peer).map(|l| &mut l.sync)
    }

    /// Someone announced themselves: connect as initiator, if there is room.
    pub fn on_announce(&mut self, now: u64, from: PeerId, out: &mut Outputs) {
        if from != self.peer_id && !self.knows(&from) && self.has_room() {
            self.add(now, from, true, out);
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
        if let Some(link) = self.links.get_mut(&from) {
            match signal {
                SignalData::Offer { .. } => {
                    if link
                        .glare_token
                        .is_some_and(|local| local > token.unwrap_or(0.0))
                    {
                        return;
                    }
                    link.glare_token = None;
                }
                SignalData::Answer { .. } => link.glare_token = None,
                _ => {}
            }
        } else if self.has_room() {
            self.add(now, from.clone(), false, out);
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
        let fraction = (self.rng.next_u64() >> 11) as f64 / (1u64 << 53) as f64;
        let link = self.links.get_mut(peer)?;
        let token = *link.glare_token.get_or_insert(now as f64 + fraction);
        Some(RoomSignal::Signal {
            from: self.peer_id.clone(),
            to: peer.to_owned(),
            token: Some(token),
            signal,
            chunks: Some(chunk::MAX_MESSAGE as u64),
        })
    }

    fn add(&mut self, now: u64, peer: PeerId, initiator: bool, out: &mut Outputs) {
        let link = Link {
            glare_token: None,
            open: false,
            created_at: now,
            sync: PeerSync::new(now, false),
            chunks: None,
            next_chunked_id: 0,
            reassembler: Reassembler::new(chunk::MAX_MESSAGE),
        };
        self.links.insert(peer.clone(), link);
        out.effect(Effect::Connect { peer, initiator });
    }

    /// The channel to `peer` opened: true if it was not open yet.
    pub fn on_open(&mut self, now: u64, peer: &str, announced: bool) -> bool {
        match self.links.get_mut(peer) {
            Some(link) if !link.open => {
                link.open = true;
                link.sync = PeerSync::new(now, announced);
                true
            }
            _ => false,
        }
    }

    /// The connection to `peer` closed: true if it was ours.
    pub fn on_closed(&mut self, peer: &str) -> bool {
        self.links.remove(peer).is_some()
    }

    /// A frame from `peer`: the whole message once its last chunk is in, `None` meanwhile (or
    /// if it was bad: then it is dropped with a reason).
    pub fn on_frame<'a>(
        &mut self,
        peer: &str,
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
        match link.reassembler.push(bytes) {
            Ok(Reassembled::Partial { received, total }) => {
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

    /// Sends a frame to a peer, in chunks if it is large and the peer reassembles them.
    pub fn send(&mut self, peer: &str, bytes: Vec<u8>, out: &mut Outputs) {
        let Some(link) = self.links.get_mut(peer) else {
            return;
        };
        let chunked =
            bytes.len() > chunk::CHUNK_SIZE && link.chunks.is_some_and(|max| bytes.len() <= max);
        if !chunked {
            return out.to_peer(peer, bytes);
        }
        let id = link.next_chunked_id;
        link.next_chunked_id += 1;
        for chunk in chunk::split(id, &bytes, chunk::CHUNK_SIZE) {
            out.to_peer(peer, chunk);
        }
    }

    /// Sends a frame to every open peer but `except`.
    pub fn broadcast(&mut self, bytes: &[u8], except: Option<&str>, out: &mut Outputs) {
        let to: Vec<PeerId> = self
            .open_peers()
            .filter(|id| Some(id.as_str()) != except)
            .cloned()
            .collect();
        for peer in to {
            self.send(&peer, bytes.to_vec(), out);
        }
    }

    /// Abandons connections that did not open in time: true if any was.
    pub fn drop_stale(&mut self, now: u64, out: &mut Outputs) -> bool {
        let stale: Vec<PeerId> = self
            .links
            .iter()
            .filter(|(_, l)| !l.open && now.saturating_sub(l.created_at) >= CONNECT_TIMEOUT_MS)
            .map(|(id, _)| id.clone())
            .collect();
        for peer in &stale {
            self.links.remove(peer);
            out.effect(Effect::Disconnect { peer: peer.clone() });
        }
        !stale.is_empty()
    }

    /// What each open link's sync handshake calls for now.
    pub fn nudges(&mut self, now: u64) -> Vec<(PeerId, Nudge)> {
        let mut nudges = Vec::new();
        for (id, link) in self.links.iter_mut().filter(|(_, l)| l.open) {
            while let Some(nudge) = link.sync.poll(now) {
                nudges.push((id.clone(), nudge));
            }
        }
        nudges
    }

    pub fn poll_timeout(&self) -> Option<u64> {
        self.links
            .values()
            .filter_map(|l| match l.open {
                true => l.sync.poll_timeout(),
                false => Some(l.created_at + CONNECT_TIMEOUT_MS),
            })
            .min()
    }

    pub fn report(&self) -> String {
        use std::fmt::Write as _;
        let mut report = String::new();
        for (id, link) in &self.links {
            let _ = write!(report, "\npeer {id}: open {}, {:?}", link.open, link.sync);
        }
        report
    }
}

#[cfg(test)]
mod tests {
    use rand_chacha::rand_core::SeedableRng;

    use super::*;
    use crate::room::output::{Output, Transmit};

    fn mesh(max_conns: usize) -> Mesh {
        Mesh::new("me".into(), max_conns, ChaCha20Rng::from_seed([3; 32]))
    }

    fn drain(out: &mut Outputs) -> Vec<Output> {
        std::iter::from_fn(|| out.pop()).collect()
    }

    #[test]
    fn announces_start_connections_up_to_max_conns() {
        let mut mesh = mesh(2);
        let mut out = Outputs::default();
        for peer in ["a", "me", "a", "b", "c"] {
            mesh.on_announce(0, peer.into(), &mut out);
        }
        let connects: Vec<_> = drain(&mut out)
            .into_iter()
            .map(|o| match o {
                Output::Effect(Effect::Connect { peer, initiator }) => (peer, initiator),
                other => panic!("{other:?}"),
            })
            .collect();
        assert_eq!(connects, [("a".into(), true), ("b".into(), true)]);
    }

    #[test]
    fn glare_keeps_the_offer_with_the_larger_token() {
        let mut mesh = mesh(20);
        let mut out = Outputs::default();
        mesh.on_announce(0, "peer".into(), &mut out);
        let offer = SignalData::Offer { sdp: "v=0".into() };
        let Some(RoomSignal::Signal {
            token: Some(ours), ..
        }) = mesh.on_local_signal(1_000, "peer", offer.clone())
        else {
            panic!("a signal with a token");
        };
        drain(&mut out);
        mesh.on_remote_signal(
            1,
            "peer".into(),
            Some(ours - 1.0),
            offer.clone(),
            None,
            &mut out,
        );
        assert!(drain(&mut out).is_empty(), "their smaller offer loses");
        mesh.on_remote_signal(
            1,
            "peer".into(),
            Some(ours + 1.0),
            offer,
            Some(1 << 20),
            &mut out,
        );
        assert!(matches!(
            &drain(&mut out)[..],
            [Output::Effect(Effect::Signal { .. })]
        ));
    }

    #[test]
    fn large_frames_go_in_chunks_only_to_peers_that_reassemble_them() {
        let mut mesh = mesh(20);
        let mut out = Outputs::default();
        let offer = SignalData::Offer { sdp: "v=0".into() };
        mesh.on_remote_signal(0, "cp".into(), None, offer.clone(), Some(1 << 24), &mut out);
        mesh.on_remote_signal(0, "yjs".into(), None, offer, None, &mut out);
        mesh.on_open(0, "cp", true);
        mesh.on_open(0, "yjs", true);
        drain(&mut out);
        let big = vec![7u8; 3 * chunk::CHUNK_SIZE];
        mesh.broadcast(&big, None, &mut out);
        let sent = drain(&mut out);
        let to = |who: &str| {
            sent.iter()
                .filter_map(|o| match o {
                    Output::Transmit(Transmit::Peer { peer, bytes }) if peer == who => {
                        Some(bytes.len())
                    }
                    _ => None,
                })
                .collect::<Vec<_>>()
        };
        assert_eq!(to("yjs"), [big.len()]);
        assert!(to("cp").len() >= 3);
        assert!(to("cp").iter().all(|&n| n <= chunk::CHUNK_SIZE + 32));

        // And what was chunked reassembles.
        let mut other = mesh_with_open_peer("me");
        let mut whole = None;
        for o in &sent {
            if let Output::Transmit(Transmit::Peer { peer, bytes }) = o {
                if peer == "cp" {
                    if let Some(frame) = other.on_frame("me", bytes, &mut out) {
                        whole = Some(frame.into_owned());
                    }
                }
            }
        }
        assert_eq!(whole, Some(big));
    }

    fn mesh_with_open_peer(peer: &str) -> Mesh {
        let mut mesh = Mesh::new("cp".into(), 20, ChaCha20Rng::from_seed([4; 32]));
        let mut out = Outputs::default();
        mesh.on_announce(0, peer.into(), &mut out);
        mesh.on_open(0, peer, false);
        mesh
    }

    #[test]
    fn connections_that_never_open_are_abandoned() {
        let mut mesh = mesh(20);
        let mut out = Outputs::default();
        mesh.on_announce(0, "slow".into(), &mut out);
        mesh.on_announce(0, "quick".into(), &mut out);
        mesh.on_open(5, "quick", false);
        drain(&mut out);
        assert_eq!(mesh.poll_timeout(), Some(5)); // the quick one greets at once
        assert!(!mesh.drop_stale(CONNECT_TIMEOUT_MS - 1, &mut out));
        assert!(mesh.drop_stale(CONNECT_TIMEOUT_MS, &mut out));
        assert_eq!(
            drain(&mut out),
            [Output::Effect(Effect::Disconnect {
                peer: "slow".into()
            })]
        );
        assert!(mesh.knows("quick") && !mesh.knows("slow"));
    }
}
