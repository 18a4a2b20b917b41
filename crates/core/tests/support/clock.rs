//! A clock for figures on a shared machine.

use std::time::{Duration, Instant};

/// A clock of this thread's time on a CPU (Linux's `/proc/thread-self/schedstat`, in ns), else
/// of wall time: the machine is shared, and time spent waiting for a core is not the code's.
/// Linux counts it at scheduler ticks: for spans of many milliseconds, not a single step.
pub struct Clock(Instant, Option<u64>);

impl Clock {
    fn cpu_ns() -> Option<u64> {
        let stat = std::fs::read_to_string("/proc/thread-self/schedstat").ok()?;
        stat.split_whitespace().next()?.parse().ok()
    }

    pub fn start() -> Clock {
        Clock(Instant::now(), Clock::cpu_ns())
    }

    pub fn elapsed(&self) -> Duration {
        match (self.1, Clock::cpu_ns()) {
            (Some(from), Some(to)) => Duration::from_nanos(to - from),
            _ => self.0.elapsed(),
        }
    }
}
