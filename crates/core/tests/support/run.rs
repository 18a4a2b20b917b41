//! Time in a [`Net`]: the events that are due happen in order, and frames a held schedule
//! parked in their receivers' inboxes arrive when the test says.

use commonplace_core::room::Input;

use super::net::Net;
use super::peer::Held;
use super::schedule::Ev;

impl Net {
    /// Parks a frame from `from` in `to`'s inbox, tagged with `from`'s tag.
    pub(super) fn hold(&mut self, from: usize, to: usize, ev: Ev) {
        let tag = self.peers[from].tag;
        self.peers[to].inbox.push_back(Held { tag, ev });
    }

    /// The next event due by `until`, with the clock moved to it; the caller dispatches it (or,
    /// for [`Ev::Edit`], makes the edit).
    pub fn next_due(&mut self, until: u64) -> Option<Ev> {
        let (time, ev) = self.queue.pop_due(until)?;
        self.now = self.now.max(time);
        self.stats.events += 1;
        Some(ev)
    }

    /// Everything due by `time` happens; the clock ends at `time`.
    pub fn run_until(&mut self, time: u64) {
        while let Some(ev) = self.next_due(time) {
            self.dispatch(ev);
        }
        self.now = self.now.max(time);
    }

    /// Everything in flight arrives, held frames too, in order, until nothing is.
    pub fn settle(&mut self) {
        self.settle_with(|_, _| {});
    }

    /// [`Net::settle`], calling `after(net, to)` after each held frame delivered to `to`.
    pub fn settle_with(&mut self, mut after: impl FnMut(&mut Net, usize)) {
        assert!(!self.schedule.timers, "with timers the net is never quiet");
        for _ in 0..10_000 {
            while let Some(ev) = self.next_due(u64::MAX) {
                self.dispatch(ev);
            }
            if self.peers.iter().all(|p| p.inbox.is_empty()) {
                return;
            }
            for to in 0..self.peers.len() {
                while !self.peers[to].inbox.is_empty() {
                    self.deliver_held(to, 0);
                    after(self, to);
                }
            }
        }
        panic!("the net never went quiet");
    }

    /// Delivers the frame at `at` in peer `to`'s inbox (0: the oldest). It takes its wire's
    /// latency: the clock moves by that much.
    pub fn deliver_held(&mut self, to: usize, at: usize) {
        let held = self.peers[to].inbox.remove(at).expect("a held frame");
        let latency = match held.ev {
            Ev::Frame { .. } => self.schedule.link_latency,
            _ => self.schedule.broadcast_latency,
        };
        self.now += self.delay(latency);
        self.dispatch(held.ev);
    }

    /// Delivers to `to`, oldest first, the held frames tagged at most `max_tag`.
    pub fn deliver_tagged(&mut self, to: usize, max_tag: u64) {
        while self.peers[to]
            .inbox
            .front()
            .is_some_and(|held| held.tag <= max_tag)
        {
            self.deliver_held(to, 0);
        }
    }

    pub(super) fn dispatch(&mut self, ev: Ev) {
        match ev {
            Ev::Join(i) => self.join(i),
            Ev::SigUp(i) => self.sig_up(i),
            Ev::SigDown(i) => self.sig_down(i),
            Ev::SigStall(i) => self.sig_stall(i),
            Ev::SigReconnect(i) => self.sig_reconnect(i),
            Ev::HubRecv { from, gen, frame } => self.hub_receive(from, gen, &frame),
            Ev::SigDeliver { to, gen, frame } => self.sig_deliver(to, gen, &frame),
            Ev::Wake(i) => {
                if self.peers[i].wake == Some(self.now) {
                    self.peers[i].wake = None;
                    // Browsers' timers fire a little late, never early.
                    self.feed(i, Input::Timeout);
                }
            }
            Ev::Edit(i) => panic!("peer {i}'s edit: edits are made by whoever schedules them"),
            Ev::MakeOffer { peer, remote, conn } => self.make_offer(peer, remote, conn),
            Ev::MakeAnswer {
                peer,
                remote,
                conn,
                offer,
            } => self.make_answer(peer, remote, conn, offer),
            Ev::MakeCandidate { peer, remote, conn } => self.make_candidate(peer, remote, conn),
            Ev::ChannelOpen {
                peer,
                remote,
                conn,
                link,
            } => self.channel_open(peer, remote, conn, link),
            Ev::Frame {
                to,
                from,
                link,
                bytes,
            } => self.frame_arrives(to, from, link, &bytes),
            Ev::PeerClosed { peer, remote, conn } => self.deliver_close(peer, remote, conn),
            Ev::ConnFail { peer, remote, conn } => self.conn_fail(peer, remote, conn),
            Ev::PartitionStart { group, peers } => self.partition_start(group, &peers),
            Ev::PartitionEnd { group } => self.partition_end(group),
            Ev::LinkFailure { all } => self.link_failure(all),
            Ev::BcDeliver { to, bytes } => self.feed(to, Input::BroadcastFrame(&bytes)),
            Ev::Act(i) => panic!("peer {i}'s action: actions are made by whoever schedules them"),
            Ev::Kill(i) => self.kill_browser(i),
            Ev::Restart(i) => self.restart_browser(i),
            Ev::Load(i) => self.load_stored(i),
            Ev::Online(i) => self.feed(i, Input::Online),
            Ev::StoreServe {
                from,
                request,
                http,
            } => self.store_serve(from, request, http),
            Ev::StoreAnswer {
                to,
                request,
                status,
                body,
            } => self.store_answer(to, request, status, &body),
        }
    }
}
