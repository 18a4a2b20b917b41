//! At most one log line per interval for something one client can make happen again and again
//! (a rejected frame, a refused connection): one client sending 10,000 bad frames wrote 10,000
//! lines, 1.6 MB/s of log. The lines not written are counted and the next line says how many
//! it stands for, so nothing is lost from the totals.
//!
//! Time is an argument, so it is tested without sleeping.

use std::time::Duration;
use tokio::time::Instant;

/// Ten seconds: a flood shows within seconds, and costs a few lines a minute.
pub const INTERVAL: Duration = Duration::from_secs(10);

#[derive(Debug)]
pub struct ThrottledLog {
    interval: Duration,
    /// When the last line was written.
    last: Option<Instant>,
    /// Events since then that no line was written for.
    unwritten: u64,
}

impl ThrottledLog {
    pub fn new(interval: Duration) -> Self {
        ThrottledLog {
            interval,
            last: None,
            unwritten: 0,
        }
    }

    /// One more event: `Some(n)` if a line is to be written now, standing for `n` events (this
    /// one and the ones not written since the last line); `None` if it is only counted.
    pub fn event(&mut self, now: Instant) -> Option<u64> {
        self.unwritten = self.unwritten.saturating_add(1);
        let due = self
            .last
            .is_none_or(|last| now.saturating_duration_since(last) >= self.interval);
        if !due {
            return None;
        }
        self.last = Some(now);
        Some(std::mem::take(&mut self.unwritten))
    }

    /// The events no line was written for yet (for a last line when the client leaves).
    pub fn take_unwritten(&mut self) -> u64 {
        std::mem::take(&mut self.unwritten)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_line_per_interval_counting_the_rest() {
        let start = Instant::now();
        let mut log = ThrottledLog::new(Duration::from_secs(10));
        assert_eq!(log.event(start), Some(1), "the first is written at once");
        for i in 1..1000 {
            assert_eq!(log.event(start + Duration::from_millis(i)), None);
        }
        assert_eq!(log.event(start + Duration::from_secs(10)), Some(1000));
        assert_eq!(log.event(start + Duration::from_secs(11)), None);
        assert_eq!(log.take_unwritten(), 1);
        assert_eq!(log.take_unwritten(), 0);
        assert_eq!(log.event(start + Duration::from_secs(30)), Some(1));
    }

    #[test]
    fn time_going_backwards_writes_nothing_more() {
        let start = Instant::now() + Duration::from_secs(100);
        let mut log = ThrottledLog::new(Duration::from_secs(10));
        assert_eq!(log.event(start), Some(1));
        assert_eq!(log.event(start - Duration::from_secs(50)), None);
        assert_eq!(log.take_unwritten(), 1);
    }
}
