//! The signaling server of a [`Net`]: the real [`commonplace_protocol::hub::Hub`], reached over
//! one WebSocket per peer that can drop, reconnect or go half-open. A socket has a generation:
//! frames of an old one never arrive on its replacement.

use commonplace_core::room::Input;

use super::net::Net;
use super::schedule::{Ev, Fifo, SECOND};

impl Net {
    /// Peer `i`'s socket opens, unless it is already open or cut off by a partition.
    pub(super) fn sig_up(&mut self, i: usize) {
        let peer = &self.peers[i];
        if peer.room.is_none() || peer.sig.is_some() || peer.group.is_some() {
            return;
        }
        let conn = self.hub.connect();
        self.hub_owner.insert(conn, i);
        let peer = &mut self.peers[i];
        peer.sig_gen += 1;
        peer.sig = Some((conn, peer.sig_gen));
        self.trace(|| format!("signaling {i} up"));
        self.feed(i, Input::SignalingOpen);
    }

    pub(super) fn sig_down(&mut self, i: usize) {
        if let Some((conn, _)) = self.peers[i].sig.take() {
            self.hub.disconnect(conn);
            self.trace(|| format!("signaling {i} down"));
            self.feed(i, Input::SignalingClosed);
        }
    }

    /// Peer `i`'s socket goes half-open: whatever either end sends vanishes, and nothing says
    /// so; the room must notice by itself.
    pub fn sig_stall(&mut self, i: usize) {
        if let Some((_, gen)) = self.peers[i].sig {
            self.trace(|| format!("signaling {i} stalls"));
            self.stalled.insert((i, gen));
        }
    }

    /// The room asked for a new socket: the shell closes this one and opens another soon.
    pub(super) fn sig_reconnect(&mut self, i: usize) {
        self.stats.signaling_reconnects += 1;
        self.sig_down(i);
        let at = self.now + self.delay((10, 2 * SECOND));
        self.queue.push(at, Ev::SigUp(i));
    }

    /// A text frame from room `i` to the server, on its socket (lost if there is none).
    pub(super) fn send_to_hub(&mut self, i: usize, frame: String) {
        let Some((_, gen)) = self.peers[i].sig else {
            self.stats.signaling_lost += 1;
            return;
        };
        let latency = self.delay(self.schedule.signaling_latency);
        let at = self
            .queue
            .fifo_time(Fifo::SigUp(i, gen), self.now, latency, 0, true);
        self.trace(|| format!("sig {i} ->: {frame}"));
        self.queue.push(
            at,
            Ev::HubRecv {
                from: i,
                gen,
                frame,
            },
        );
    }

    /// The hub handles a frame from `from`'s socket of generation `gen`, if that socket is
    /// still up, and sends what it answers down the receivers' sockets.
    pub(super) fn hub_receive(&mut self, from: usize, gen: u64, frame: &str) {
        let Some((conn, g)) = self.peers[from].sig else {
            self.stats.signaling_lost += 1;
            return;
        };
        if g != gen || self.stalled.contains(&(from, gen)) {
            self.stats.signaling_lost += 1;
            return;
        }
        self.hub_log.push(frame.to_owned());
        match self.hub.receive(conn, frame) {
            Ok(deliveries) => {
                for delivery in deliveries {
                    let to = self.hub_owner[&delivery.to];
                    let Some((_, gen)) = self.peers[to].sig else {
                        continue;
                    };
                    let latency = self.delay(self.schedule.signaling_latency);
                    let at =
                        self.queue
                            .fifo_time(Fifo::SigDown(to, gen), self.now, latency, 0, true);
                    self.queue.push(
                        at,
                        Ev::SigDeliver {
                            to,
                            gen,
                            frame: delivery.frame,
                        },
                    );
                }
            }
            Err(rejected) => self.errors.push(format!(
                "hub rejected {frame:?} from peer {from}: {rejected}"
            )),
        }
    }

    /// A frame from the hub reaches `to`, if the socket it was sent down is still up.
    pub(super) fn sig_deliver(&mut self, to: usize, gen: u64, frame: &str) {
        if self.peers[to].sig.is_some_and(|(_, g)| g == gen) && !self.stalled.contains(&(to, gen)) {
            self.stats.signaling_frames += 1;
            self.trace(|| format!("sig -> {to}: {frame}"));
            self.feed(to, Input::SignalingFrame(frame));
        } else {
            self.stats.signaling_lost += 1;
        }
    }
}
