//! When the link to Redis is down: how long until the next try, and what the log says.
//!
//! Signaling goes on without Redis, for this instance's own clients: a lost link costs them
//! nothing but the other instances. The link is tried again after [`FIRST_RETRY`], then twice as
//! long each time up to [`MAX_RETRY`]. The log says it once when it is lost, at most every
//! [`REPORT_EVERY`] while it stays lost, and once when it is back, with how many publishes
//! reached this instance's clients only meanwhile: not a line per try or per publish (the
//! store's `outage.rs` does the same for store requests).
//!
//! Time is an argument, so it is tested without sleeping.

use std::time::Duration;
use tokio::time::Instant;
use tracing::{error, info, warn};

pub const FIRST_RETRY: Duration = Duration::from_millis(100);
pub const MAX_RETRY: Duration = Duration::from_secs(2);
pub const REPORT_EVERY: Duration = Duration::from_secs(30);

#[derive(Debug)]
pub struct Outage {
    /// Redis's URL, its password hidden.
    url: String,
    /// This instance's id, as the first line says it.
    instance: String,
    /// Whether the link was ever up.
    was_up: bool,
    /// Since when the link is down, while it is.
    since: Option<Instant>,
    /// When the last line about it was written.
    reported: Option<Instant>,
    /// The wait before the next try.
    backoff: Duration,
    /// Publishes that reached this instance's clients only, since the last line, and in all.
    skipped: u64,
    skipped_total: u64,
}

impl Outage {
    pub fn new(url: String, instance: String) -> Outage {
        Outage {
            url,
            instance,
            was_up: false,
            since: None,
            reported: None,
            backoff: FIRST_RETRY,
            skipped: 0,
            skipped_total: 0,
        }
    }

    /// Since when the link is down, if it is.
    pub fn since(&self) -> Option<Instant> {
        self.since
    }

    /// The link failed, or could not be made (`why`): logs if a line is due, and returns how
    /// long to wait before trying again.
    pub fn failed(&mut self, why: &str, now: Instant) -> Duration {
        match (self.since, self.reported) {
            (None, _) => {
                self.since = Some(now);
                self.reported = Some(now);
                self.backoff = FIRST_RETRY;
                let what = if self.was_up { "lost" } else { "cannot reach" };
                error!(
                    "signaling: {what} Redis at {} ({why}): publishes reach this instance's own clients only until it is back; trying again with backoff",
                    self.url
                );
            }
            (Some(since), Some(reported))
                if now.saturating_duration_since(reported) >= REPORT_EVERY =>
            {
                self.reported = Some(now);
                warn!(
                    "signaling: Redis at {} still out of reach after {} s ({why}); {} publishes reached this instance's clients only since the last report",
                    self.url,
                    now.saturating_duration_since(since).as_secs(),
                    self.skipped
                );
                self.skipped = 0;
            }
            _ => {}
        }
        let wait = self.backoff;
        self.backoff = (self.backoff * 2).min(MAX_RETRY);
        wait
    }

    /// A publish from a client here was not carried to the other instances.
    pub fn skipped(&mut self) {
        self.skipped += 1;
        self.skipped_total += 1;
    }

    /// The link is up, subscribed to the `topics` this instance's clients are in.
    pub fn up(&mut self, topics: usize, now: Instant) {
        match self.since.take() {
            None if !self.was_up => info!(
                "signaling: shared with the other instances through Redis at {} (this instance: {})",
                self.url, self.instance
            ),
            None => {}
            Some(since) => info!(
                "signaling: Redis at {} carries signaling between instances again after {} s; re-subscribed to {topics} {}; {} publishes reached this instance's clients only meanwhile",
                self.url,
                now.saturating_duration_since(since).as_secs(),
                if topics == 1 { "topic" } else { "topics" },
                self.skipped_total
            ),
        }
        self.was_up = true;
        self.reported = None;
        self.backoff = FIRST_RETRY;
        self.skipped = 0;
        self.skipped_total = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tries_again_with_backoff_and_reports_now_and_then() {
        let mut outage = Outage::new("redis://127.0.0.1:1/0".into(), "0123456789abcdef".into());
        let start = Instant::now();
        outage.up(0, start);
        assert_eq!(outage.since(), None);
        let mut now = start;
        let mut waits = Vec::new();
        for _ in 0..8 {
            let wait = outage.failed("refused", now);
            waits.push(wait.as_millis());
            now += wait;
        }
        assert_eq!(waits, [100, 200, 400, 800, 1600, 2000, 2000, 2000]);
        assert_eq!(outage.since(), Some(start));
        assert_eq!(outage.reported, Some(start), "8.1 s: no second line yet");
        outage.skipped();
        outage.failed("refused", start + REPORT_EVERY);
        assert_eq!(outage.reported, Some(start + REPORT_EVERY));
        assert_eq!((outage.skipped, outage.skipped_total), (0, 1));
        outage.up(3, start + REPORT_EVERY * 2);
        assert_eq!(outage.since(), None);
        assert_eq!(outage.skipped_total, 0);
        // The next outage starts from the first wait again.
        assert_eq!(outage.failed("refused", now), FIRST_RETRY);
    }

    #[test]
    fn time_going_backwards_does_not_panic() {
        let mut outage = Outage::new("redis://x".into(), "id".into());
        let start = Instant::now() + Duration::from_secs(100);
        outage.failed("refused", start);
        outage.failed("refused", start - Duration::from_secs(50));
        outage.up(0, start - Duration::from_secs(90));
    }
}
