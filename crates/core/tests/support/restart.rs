//! Browsers that die and start again in a [`Net`]: every tab of the browser goes at once, with
//! no goodbye (a crash, a killed process, a laptop lid), and what its store had persisted is all
//! that is left. It starts again later as new tabs, in new slots of the net (new peer ids and
//! client ids, as the app draws them per session), each loading the browser's store.
//!
//! Every `Effect::Store` is taken as persisted: losing the last writes is the durability
//! test's subject (a real browser), not the soak's.

use commonplace_core::room::Room;
use rand::Rng;

use super::net::Net;
use super::peer::Peer;
use super::schedule::{Ev, SECOND};

impl Net {
    /// The live tab that stands for peer `i` now: itself, or the tab that replaced it.
    pub fn current(&self, mut i: usize) -> usize {
        while let Some(next) = self.peers[i].successor {
            i = next;
        }
        i
    }

    /// Peer `i`'s browser dies: each of its tabs' rooms is gone, its signaling socket and data
    /// channels with it (the other ends hear of the channels closing after a while).
    pub(super) fn kill_browser(&mut self, i: usize) {
        let i = self.current(i);
        if !self.joined(i) {
            return;
        }
        let browser = self.peers[i].browser;
        let tabs: Vec<usize> = (0..self.peers.len())
            .filter(|&p| self.peers[p].browser == browser && self.joined(p))
            .collect();
        self.trace(|| format!("browser of peer {i} dies: tabs {tabs:?}"));
        for &p in &tabs {
            self.peers[p].room = None;
            self.peers[p].wake = None;
            self.peers[p].inbox.clear();
            if let Some((conn, _)) = self.peers[p].sig.take() {
                self.hub.disconnect(conn);
            }
            let held: Vec<(usize, usize)> = self
                .conns
                .keys()
                .filter(|&&(a, b)| a == p || b == p)
                .copied()
                .collect();
            for (a, b) in held {
                if let Some(link) = self.link_of(a, b) {
                    self.kill_link(link, Some(p));
                }
                if a == p {
                    self.conns.remove(&(a, b));
                }
            }
        }
    }

    /// The browser of peer `i` (dead) starts again: each of its tabs anew, in a new slot, with
    /// the browser's stored updates to load soon after its room is made.
    pub(super) fn restart_browser(&mut self, i: usize) {
        let i = self.current(i);
        if self.joined(i) {
            return;
        }
        self.stats.restarts += 1;
        let browser = self.peers[i].browser;
        let dead: Vec<usize> = (0..self.peers.len())
            .filter(|&p| {
                self.peers[p].browser == browser
                    && self.peers[p].successor.is_none()
                    && !self.joined(p)
            })
            .collect();
        // The tabs shared one IndexedDB: each new tab reads all of it.
        let stored: Vec<Vec<u8>> = dead
            .iter()
            .flat_map(|&p| self.peers[p].stored.iter().cloned())
            .collect();
        for p in dead {
            let client_id = loop {
                let id = self.rng().random_range(1..(1u64 << 32));
                if self.peers.iter().all(|q| q.client_id != id) {
                    break id;
                }
            };
            let n = self.peers.len();
            let id = format!("{:08x}-sim-peer-{n}", self.rng().random::<u32>());
            let seed = self.rng().random();
            let old = &self.peers[p];
            let mut peer = Peer::new(id, client_id, browser, seed);
            peer.key = old.key.clone();
            peer.group = old.group;
            peer.user = old.user.clone();
            peer.stored = stored.clone();
            peer.loaded = false;
            let new = self.add_peer(peer);
            self.peers[p].successor = Some(new);
            self.trace(|| format!("peer {p} starts again as peer {new}"));
            self.join(new);
            // The store is read while signaling and the other tabs are reached.
            let at = self.now + self.delay((0, SECOND / 2));
            self.queue.push(at, Ev::Load(new));
        }
    }

    /// A restarted tab loads what its browser had stored, then keeps a server copy too.
    pub(super) fn load_stored(&mut self, i: usize) {
        if !self.joined(i) || self.peers[i].loaded {
            return;
        }
        let stored = self.peers[i].stored.clone();
        let now = self.now;
        self.trace(|| format!("peer {i} loads {} stored updates", stored.len()));
        self.act(i, |room: &mut Room| room.load(now, &stored));
        self.peers[i].loaded = true;
        self.open_server_copy(i);
        // The name the person had is remembered by the app; the room is told it again.
        if let Some((name, color)) = self.peers[i].user.clone() {
            self.act(i, |room| room.set_user(now, &name, &color));
        }
    }
}
