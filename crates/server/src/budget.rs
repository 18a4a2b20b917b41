//! How many bytes a connection may send the server: a token bucket, refilled at a steady rate
//! up to a burst.
//!
//! The connection's task reads a message, spends its length, and before reading the next one
//! waits until the bucket is out of debt. Waiting instead of dropping matters: a relayed
//! chunk that went missing would break a late joiner's sync, while a sender that is simply
//! not read from is slowed by TCP. Over any span of `t` seconds a connection gets at most
//! `burst + rate × t` bytes read, plus the one message that took it into debt.
//!
//! Time is an argument, so the arithmetic is tested without sleeping.

use std::time::Duration;
use tokio::time::Instant;

/// A byte counts as this many units, so that `rate × nanoseconds` is a whole number of units
/// and refills of a few nanoseconds are not rounded away.
const UNIT: i128 = 1_000_000_000;

#[derive(Debug)]
pub struct Budget {
    /// Bytes per second, at least 1.
    rate: i128,
    /// In units.
    burst: i128,
    /// In units; below zero after a message bigger than what was left.
    level: i128,
    /// When `level` was last brought up to date.
    at: Instant,
}

impl Budget {
    /// Starts full: a new connection may send `burst` bytes at once.
    pub fn new(rate: u64, burst: u64, now: Instant) -> Self {
        let burst = i128::from(burst) * UNIT;
        Budget {
            rate: i128::from(rate.max(1)),
            burst,
            level: burst,
            at: now,
        }
    }

    /// Takes `bytes` just read; the level may go below zero.
    pub fn spend(&mut self, bytes: usize, now: Instant) {
        self.refill(now);
        let bytes = i128::try_from(bytes).unwrap_or(i128::MAX / UNIT);
        self.level = self.level.saturating_sub(bytes.saturating_mul(UNIT));
    }

    /// How long until the bucket is out of debt; `None` if it is not in debt.
    pub fn wait(&mut self, now: Instant) -> Option<Duration> {
        self.refill(now);
        if self.level >= 0 {
            return None;
        }
        // Units over units per nanosecond, rounded up so the wait is never too short.
        let nanos = (-self.level + self.rate - 1) / self.rate;
        Some(Duration::from_nanos(
            u64::try_from(nanos).unwrap_or(u64::MAX),
        ))
    }

    /// True once the bucket has refilled completely: whatever pacing there was is over.
    pub fn is_full(&mut self, now: Instant) -> bool {
        self.refill(now);
        self.level >= self.burst
    }

    fn refill(&mut self, now: Instant) {
        // A `now` before `at` (callers' clocks read out of order) refills nothing.
        let elapsed =
            i128::try_from(now.saturating_duration_since(self.at).as_nanos()).unwrap_or(i128::MAX);
        let refilled = self.level.saturating_add(elapsed.saturating_mul(self.rate));
        self.level = refilled.min(self.burst);
        self.at = self.at.max(now);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: Duration = Duration::from_millis(1);

    #[test]
    fn a_burst_passes_at_once_then_the_rate_holds() {
        let start = Instant::now();
        let mut budget = Budget::new(1000, 5000, start);
        for _ in 0..5 {
            assert_eq!(budget.wait(start), None);
            budget.spend(1000, start);
        }
        assert_eq!(budget.wait(start), None, "exactly the burst: not in debt");
        budget.spend(1, start);
        assert_eq!(budget.wait(start), Some(MS), "1 byte at 1000 bytes/s");
        budget.spend(499, start);
        assert_eq!(budget.wait(start), Some(500 * MS));
        assert_eq!(budget.wait(start + 200 * MS), Some(300 * MS));
        assert_eq!(budget.wait(start + 500 * MS), None);
    }

    #[test]
    fn a_message_bigger_than_the_burst_is_read_then_paid_for() {
        let start = Instant::now();
        let mut budget = Budget::new(100, 10, start);
        assert_eq!(budget.wait(start), None);
        budget.spend(1010, start);
        assert_eq!(budget.wait(start), Some(Duration::from_secs(10)));
    }

    #[test]
    fn refill_stops_at_the_burst() {
        let start = Instant::now();
        let mut budget = Budget::new(1000, 2000, start);
        budget.spend(2000, start);
        assert!(!budget.is_full(start + 1999 * MS));
        assert!(budget.is_full(start + 2000 * MS));
        // An hour idle still allows only the burst.
        let later = start + Duration::from_secs(3600);
        budget.spend(2001, later);
        assert_eq!(budget.wait(later), Some(MS));
    }

    #[test]
    fn small_refills_add_up() {
        let start = Instant::now();
        let mut budget = Budget::new(3, 0, start);
        budget.spend(3, start);
        // 3 bytes/s in steps of a third of a second less a nanosecond: nothing is lost.
        let step = Duration::from_nanos(333_333_333);
        let mut now = start;
        for _ in 0..3 {
            now += step;
            assert!(budget.wait(now).is_some());
        }
        assert_eq!(budget.wait(now + Duration::from_nanos(1)), None);
    }

    #[test]
    fn time_going_backwards_and_extreme_values_do_not_panic() {
        let start = Instant::now() + Duration::from_secs(10);
        let mut budget = Budget::new(0, u64::MAX, start);
        budget.spend(usize::MAX, start - Duration::from_secs(5));
        budget.spend(usize::MAX, start);
        assert!(budget.wait(start - Duration::from_secs(10)).is_some());
        assert!(!budget.is_full(start));
        let mut empty = Budget::new(u64::MAX, 0, start);
        empty.spend(1, start);
        assert_eq!(empty.wait(start), Some(Duration::from_nanos(1)));
    }
}
