//! What goes wrong in a [`Net`] when a scenario says so: partitions (a group of peers loses the
//! signaling server and everyone outside the group) and data channels that fail.

use rand::Rng;

use super::net::Net;
use super::schedule::{Ev, SECOND};

impl Net {
    /// Whether `a` and `b` are on the same side of every partition.
    pub(super) fn reachable(&self, a: usize, b: usize) -> bool {
        self.peers[a].group == self.peers[b].group
    }

    pub(super) fn partition_start(&mut self, group: u32, peers: &[usize]) {
        // A browser's tabs share its network.
        let members: Vec<usize> = (0..self.peers.len())
            .filter(|&p| peers.iter().any(|&q| self.same_browser(p, q)))
            .filter(|&p| self.joined(p) && self.peers[p].group.is_none())
            .collect();
        self.trace(|| format!("partition {group}: {members:?}"));
        for &p in &members {
            self.peers[p].group = Some(group);
        }
        for link in self.cut_links() {
            self.kill_link(link, None);
        }
        for p in members {
            self.sig_down(p);
        }
    }

    /// The group rejoins the main network; each member's socket reconnects after a while.
    pub(super) fn partition_end(&mut self, group: u32) {
        self.trace(|| format!("partition {group} heals"));
        for p in 0..self.peers.len() {
            if self.peers[p].group == Some(group) {
                self.peers[p].group = None;
                let at = self.now + self.delay((50, 3 * SECOND));
                self.queue.push(at, Ev::SigUp(p));
            }
        }
    }

    /// One random live data channel fails, or every one (`all`).
    pub(super) fn link_failure(&mut self, all: bool) {
        let mut alive = self.alive_links();
        if !all && !alive.is_empty() {
            alive = vec![alive[self.rng().random_range(0..alive.len())]];
        }
        for link in alive {
            self.stats.link_failures += 1;
            self.trace(|| format!("link {link} fails"));
            self.kill_link(link, None);
        }
    }
}
