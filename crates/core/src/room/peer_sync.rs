//! Where the y-sync handshake with one peer stands, and when to nudge it along.
//!
//! y-protocols' sync is one exchange: each side sends its state vector (step 1) and answers the
//! other's with what it lacks (step 2). Lose one frame of it and, without this, the pair stays
//! connected and apart for good. So each side keeps asking until it has the other's answer, and
//! makes sure the other side gets ours even if its question went missing.

/// An answerer waits for the other side to speak first, at most this long. Chromium announces
/// a channel the other side created (`datachannel`, readyState "open", then `open`) before its
/// own end has finished the open handshake, and silently drops what is sent in between: no
/// exception, no close, only "Send failed INVALID_STATE" in its log. It delivers a frame to that
/// end only once the end is open, so a frame received proves our frames will go out. The side
/// that created the channel always speaks first (y-webrtc and Commonplace both send sync step 1
/// the moment they connect), so in practice the wait is the other side's latency.
///
/// This was the cause of late joiners staying empty (issue 9): the joiner answers the offer,
/// sent its sync step 1 the moment its end was announced, Chromium dropped it, and the other
/// side never sent the notebook. Found with Chromium's own log (`--enable-logging=stderr
/// --vmodule=*/webrtc/*=1`): in each failed join the answering renderer logged `Send failed
/// INVALID_STATE` from `rtc_data_channel.cc` for exactly the frames that never arrived; 4 of 400
/// joins under CPU load, 0 of 200 once the answerer waited.
pub const ANSWERER_WAIT_MS: u64 = 1_000;
/// A peer that has not answered our sync step 1 is asked again after this long, then after
/// twice as long each time, up to [`SYNC_RETRY_MAX_MS`].
pub const SYNC_RETRY_MS: u64 = 2_000;
pub const SYNC_RETRY_MAX_MS: u64 = 32_000;
/// Once synced, a peer is asked again this often anyway, as y-websocket's `resyncInterval`
/// does: a state vector is a few bytes, and an update lost on the way for any reason (a
/// browser's bug, a dropped send) is then found within a minute instead of never.
pub const RESYNC_MS: u64 = 60_000;
/// A peer that never asked for our state (its step 1 lost) is sent all of it unasked, at most
/// this many times, on the same backoff.
const MAX_UNASKED_STATES: u8 = 3;

/// What the room should send a peer now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Nudge {
    /// Our sync step 1 and awareness: the start of the exchange.
    Greet,
    /// Our sync step 1 again (and our own awareness): no answer yet.
    AskAgain,
    /// Our whole state as an unasked sync step 2: the peer never asked.
    SendState,
    /// Our sync step 1, routinely (see [`RESYNC_MS`]); the room stays synced meanwhile.
    Resync,
}

#[derive(Debug)]
pub struct PeerSync {
    opened_at: u64,
    /// The channel was announced by the other side (see [`ANSWERER_WAIT_MS`]).
    announced: bool,
    /// A frame arrived from the peer.
    heard: bool,
    greeted: bool,
    /// The peer sent its state (sync step 2) since we last asked.
    has_theirs: bool,
    /// The peer asked for our state (sync step 1), so our answer carried all of it.
    has_ours: bool,
    /// When to ask again (or, once synced, to resync), and the wait after that.
    next_ask: u64,
    backoff: u64,
    /// When to send our state unasked, and how often we did.
    next_unasked: u64,
    unasked: u8,
    /// When our last question (sync step 1) went out, and how long the last answer took: the
    /// round trip as a person feels it, over whatever path the frames take.
    asked_at: Option<u64>,
    rtt: Option<u64>,
}

impl PeerSync {
    /// Its state in words, for `Room::sync_report`. Written out rather than `{:?}`: the browser
    /// app's build prints derived Debug as the type's name alone (.cargo/config.toml).
    pub fn report(&self) -> String {
        let or_none = |t: Option<u64>| t.map_or_else(|| "none".to_owned(), |t| t.to_string());
        format!(
            "opened at {}, announced {}, heard {}, greeted {}, has theirs {}, has ours {}, \
             next ask {} (backoff {}), next unasked {} ({} sent), asked at {}, rtt {}",
            self.opened_at,
            self.announced,
            self.heard,
            self.greeted,
            self.has_theirs,
            self.has_ours,
            self.next_ask,
            self.backoff,
            self.next_unasked,
            self.unasked,
            or_none(self.asked_at),
            or_none(self.rtt),
        )
    }

    pub fn new(now: u64, announced: bool) -> PeerSync {
        PeerSync {
            opened_at: now,
            announced,
            heard: false,
            greeted: false,
            has_theirs: false,
            has_ours: false,
            next_ask: u64::MAX,
            backoff: SYNC_RETRY_MS,
            next_unasked: u64::MAX,
            unasked: 0,
            asked_at: None,
            rtt: None,
        }
    }

    /// Whether the room may greet the peer as soon as the channel opens.
    pub fn may_speak(&self) -> bool {
        self.heard || !self.announced
    }

    /// Every frame counts: whoever sent it, our end of the channel is open.
    pub fn on_frame(&mut self) {
        self.heard = true;
    }

    /// Part of a large message from the peer arrived (a chunk): while one is arriving, the
    /// answer to our question may be in it, so asking again waits. A 10 MB notebook takes
    /// longer than [`SYNC_RETRY_MS`] to arrive; asking again then had the peer encode and send
    /// all of it a second time, behind the first.
    pub fn on_arriving(&mut self, now: u64) {
        if self.greeted && !self.has_theirs {
            self.next_ask = self.next_ask.max(now + SYNC_RETRY_MS);
        }
    }

    /// The peer answered with its state (sync step 2).
    pub fn on_their_state(&mut self, now: u64) {
        if let Some(asked_at) = self.asked_at.take() {
            self.rtt = Some(now.saturating_sub(asked_at));
        }
        self.has_theirs = true;
        self.next_ask = now + RESYNC_MS;
        self.backoff = SYNC_RETRY_MS;
    }

    /// The peer asked for our state (sync step 1) and got our answer.
    pub fn on_asked(&mut self) {
        self.has_ours = true;
        self.next_unasked = u64::MAX;
    }

    /// The peer has something we lack (its state vector is ahead of ours, or an update from it
    /// had to be held back for a missing predecessor): true if the room should ask now. While a
    /// question is already out, its retry covers this.
    pub fn on_missing(&mut self, now: u64) -> bool {
        if !self.greeted || !self.has_theirs {
            return false;
        }
        self.has_theirs = false;
        self.next_ask = now + self.backoff;
        self.asked_at = Some(now);
        true
    }

    /// How long the last answer to our question took, ms.
    pub fn rtt(&self) -> Option<u64> {
        self.rtt
    }

    /// The exchange is done this way round: we hold what the peer had when it answered.
    pub fn synced(&self) -> bool {
        self.has_theirs
    }

    /// What to send now, if anything; call again until `None`.
    pub fn poll(&mut self, now: u64) -> Option<Nudge> {
        if !self.greeted {
            if !self.may_speak() && now < self.opened_at + ANSWERER_WAIT_MS {
                return None;
            }
            self.greeted = true;
            self.next_ask = now + self.backoff;
            self.next_unasked = now + SYNC_RETRY_MS;
            self.asked_at = Some(now);
            return Some(Nudge::Greet);
        }
        if now >= self.next_ask {
            self.asked_at = Some(now);
            if self.has_theirs {
                self.next_ask = now + RESYNC_MS;
                return Some(Nudge::Resync);
            }
            self.backoff = (self.backoff * 2).min(SYNC_RETRY_MAX_MS);
            self.next_ask = now + self.backoff;
            return Some(Nudge::AskAgain);
        }
        if !self.has_ours && now >= self.next_unasked && self.unasked < MAX_UNASKED_STATES {
            self.unasked += 1;
            self.next_unasked = now + (SYNC_RETRY_MS << self.unasked).min(SYNC_RETRY_MAX_MS);
            return Some(Nudge::SendState);
        }
        None
    }

    /// When [`PeerSync::poll`] next has something to say.
    pub fn poll_timeout(&self) -> Option<u64> {
        if !self.greeted {
            return Some(if self.may_speak() {
                self.opened_at
            } else {
                self.opened_at + ANSWERER_WAIT_MS
            });
        }
        let unasked =
            (!self.has_ours && self.unasked < MAX_UNASKED_STATES).then_some(self.next_unasked);
        Some(unasked.map_or(self.next_ask, |t| t.min(self.next_ask)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_report_says_every_field() {
        let mut sync = PeerSync::new(7, true);
        sync.on_their_state(9);
        let report = sync.report();
        assert!(
            report.starts_with("opened at 7, announced true,"),
            "{report}"
        );
        assert!(report.contains("has theirs true"), "{report}");
        assert!(report.ends_with("asked at none, rtt none"), "{report}");
    }

    #[test]
    fn a_large_answer_still_arriving_is_not_asked_for_again() {
        let mut sync = PeerSync::new(0, false);
        assert_eq!(sync.poll(0), Some(Nudge::Greet));
        sync.on_asked();
        // Chunks keep arriving past the retry time: no second question meanwhile.
        for now in (500..=6_000).step_by(500) {
            sync.on_arriving(now);
            assert_eq!(sync.poll(now), None, "at {now}");
        }
        // The stream stops without an answer: asked again one retry later.
        assert_eq!(sync.poll(6_000 + SYNC_RETRY_MS), Some(Nudge::AskAgain));
        // Once answered, arriving chunks do not put off the routine resync.
        sync.on_their_state(9_000);
        sync.on_arriving(9_000 + RESYNC_MS - 1);
        assert_eq!(sync.poll(9_000 + RESYNC_MS), Some(Nudge::Resync));
    }

    #[test]
    fn the_side_that_created_the_channel_greets_at_once() {
        let mut sync = PeerSync::new(100, false);
        assert_eq!(sync.poll_timeout(), Some(100));
        assert_eq!(sync.poll(100), Some(Nudge::Greet));
    }

    #[test]
    fn an_answerer_waits_for_a_frame_or_a_second() {
        let mut sync = PeerSync::new(100, true);
        assert_eq!(sync.poll(100), None);
        assert_eq!(sync.poll_timeout(), Some(100 + ANSWERER_WAIT_MS));
        sync.on_frame();
        assert_eq!(sync.poll(101), Some(Nudge::Greet));
        assert_eq!(sync.poll(101), None, "once");

        let mut silent = PeerSync::new(100, true);
        assert_eq!(silent.poll(100 + ANSWERER_WAIT_MS - 1), None);
        assert_eq!(silent.poll(100 + ANSWERER_WAIT_MS), Some(Nudge::Greet));
    }

    #[test]
    fn an_unanswered_question_is_asked_again_with_backoff() {
        let mut sync = PeerSync::new(0, false);
        assert_eq!(sync.poll(0), Some(Nudge::Greet));
        sync.on_asked();
        let mut asked_at = Vec::new();
        let mut now = 0;
        while now <= 120_000 {
            if sync.poll(now) == Some(Nudge::AskAgain) {
                asked_at.push(now);
            }
            now += 500;
        }
        assert_eq!(
            asked_at,
            [2_000, 6_000, 14_000, 30_000, 62_000, 94_000],
            "doubling from 2 s, at most 32 s apart"
        );
        sync.on_their_state(100_000);
        assert!(sync.synced());
        assert_eq!(
            sync.rtt(),
            Some(100_000 - 94_000),
            "answered 6 s after the last question"
        );
        assert_eq!(sync.poll(100_001), None);
        assert_eq!(sync.poll_timeout(), Some(100_000 + RESYNC_MS));
        assert_eq!(sync.poll(100_000 + RESYNC_MS), Some(Nudge::Resync));
        assert!(
            sync.synced(),
            "a routine resync is no reason to show 'syncing'"
        );
    }

    #[test]
    fn a_peer_that_never_asks_is_sent_our_state_a_few_times() {
        let mut sync = PeerSync::new(0, false);
        assert_eq!(sync.poll(0), Some(Nudge::Greet));
        sync.on_their_state(0);
        let sent: Vec<u64> = (0..200_000)
            .step_by(1_000)
            .filter(|&t| sync.poll(t) == Some(Nudge::SendState))
            .collect();
        assert_eq!(sent, [2_000, 6_000, 14_000]);
    }

    #[test]
    fn learning_that_the_peer_has_more_asks_once_and_waits_for_the_answer() {
        let mut sync = PeerSync::new(0, false);
        assert!(!sync.on_missing(0), "nothing to ask before the greeting");
        assert_eq!(sync.poll(0), Some(Nudge::Greet));
        assert!(!sync.on_missing(10), "the greeting's question is still out");
        sync.on_their_state(20);
        sync.on_asked();
        assert!(sync.on_missing(5_000));
        assert!(!sync.synced());
        assert!(!sync.on_missing(5_001), "one question at a time");
        assert_eq!(sync.poll(6_000), None);
        assert_eq!(sync.poll(7_000), Some(Nudge::AskAgain));
        sync.on_their_state(7_010);
        assert!(sync.synced());
    }
}
