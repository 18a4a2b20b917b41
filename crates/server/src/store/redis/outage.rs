//! When Redis cannot serve: what a request is answered (503, or 507 when Redis is out of
//! memory, or 500), and what the log says about it, once when it starts, at most every
//! [`REPORT_EVERY`] while it lasts, and once when it ends. A lost Redis must not flood the log
//! with a line per request, nor stop the instance: it goes on serving signaling and the app,
//! and the browsers try their store requests again.

use super::super::StoreError;
use ::redis::RedisError;
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};
use tracing::{error, info, warn};

/// While Redis stays out of reach, one log line this often.
pub const REPORT_EVERY: Duration = Duration::from_secs(30);

/// What the browser is told while Redis is out of reach; it tries again with backoff.
pub const UNREACHABLE: &str =
    "the server cannot reach its store (Redis) right now: try again in a moment";

/// How a failed Redis request is answered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Failure {
    /// Redis cannot serve now (no connection, no answer in time, loading its data after a
    /// restart, a replica, a failed disk write): 503, and the outage is logged.
    Unreachable,
    /// Out of memory (`maxmemory`): 507, as a full disk is for SQLite.
    Full,
    /// Anything else (a script error, a command refused by an ACL): 500, logged.
    Failed,
}

/// How to answer `e`.
pub fn classify(e: &RedisError) -> Failure {
    if e.is_io_error() || e.is_timeout() || e.is_connection_dropped() {
        return Failure::Unreachable;
    }
    match e.code() {
        Some("OOM") => Failure::Full,
        // Temporary states of a Redis that is there: loading its AOF after a restart, a
        // replica or a master that lost its replicas, a cluster in the middle of a change,
        // another script running long, a failed save that makes it refuse writes.
        Some(
            "LOADING" | "READONLY" | "MASTERDOWN" | "TRYAGAIN" | "CLUSTERDOWN" | "BUSY" | "MISCONF",
        ) => Failure::Unreachable,
        _ => Failure::Failed,
    }
}

/// The outage, if there is one, as the log tells it.
pub struct Outage {
    /// Redis's URL, its password hidden.
    url: String,
    state: Mutex<State>,
}

#[derive(Default)]
struct State {
    /// When requests began to fail, while they do.
    since: Option<Instant>,
    /// Requests refused since the last line.
    refused: u64,
    /// Requests refused since the outage began.
    refused_total: u64,
    reported: Option<Instant>,
}

impl Outage {
    pub fn new(url: String) -> Self {
        Outage {
            url,
            state: Mutex::new(State::default()),
        }
    }

    /// Redis answered a request: if it had been out of reach, say that it is back.
    pub fn answered(&self) {
        let mut state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(since) = state.since.take() {
            info!(
                "store: Redis at {} serves the store again after {} s; {} store requests got 503 meanwhile",
                self.url,
                since.elapsed().as_secs(),
                state.refused_total
            );
            *state = State::default();
        }
    }

    /// A request failed with `e`: what to answer, and a log line if one is due.
    pub fn failed(&self, e: &RedisError) -> StoreError {
        match classify(e) {
            Failure::Unreachable => self.refused(&e.to_string()),
            Failure::Full => StoreError::Full(
                "the server's storage (Redis) is out of memory: try again later".into(),
            ),
            Failure::Failed => StoreError::Failed(format!("store in Redis at {}: {e}", self.url)),
        }
    }

    /// A request could not be served because Redis is out of reach (`why`): 503.
    pub fn refused(&self, why: &str) -> StoreError {
        let now = Instant::now();
        let mut state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        state.refused += 1;
        state.refused_total += 1;
        match (state.since, state.reported) {
            (None, _) => {
                error!(
                    "store: Redis at {} cannot serve the store ({why}); store requests get 503 until it is back, and the server reconnects with backoff meanwhile",
                    self.url
                );
                state.since = Some(now);
                state.reported = Some(now);
                state.refused = 0;
            }
            (Some(since), Some(reported)) if now - reported >= REPORT_EVERY => {
                warn!(
                    "store: Redis at {} still cannot serve the store after {} s ({why}); {} store requests got 503 since the last report",
                    self.url,
                    (now - since).as_secs(),
                    state.refused
                );
                state.reported = Some(now);
                state.refused = 0;
            }
            _ => {}
        }
        StoreError::Unavailable(UNREACHABLE.into())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ::redis::ErrorKind;
    use std::io;

    #[test]
    fn lost_connections_and_passing_states_are_503() {
        let io = RedisError::from(io::Error::from(io::ErrorKind::ConnectionRefused));
        assert_eq!(classify(&io), Failure::Unreachable);
        let timeout = RedisError::from(io::Error::from(io::ErrorKind::TimedOut));
        assert_eq!(classify(&timeout), Failure::Unreachable);
        let other = RedisError::from((ErrorKind::Client, "a client error"));
        assert_eq!(classify(&other), Failure::Failed);
    }

    #[test]
    fn an_outage_is_a_503_with_a_sentence() {
        let outage = Outage::new("redis://127.0.0.1:1/0".into());
        let io = RedisError::from(io::Error::from(io::ErrorKind::ConnectionRefused));
        for _ in 0..3 {
            assert_eq!(
                outage.failed(&io),
                StoreError::Unavailable(UNREACHABLE.into())
            );
        }
        {
            let state = outage.state.lock().unwrap();
            assert!(state.since.is_some());
            assert_eq!((state.refused, state.refused_total), (2, 3));
        }
        outage.answered();
        let state = outage.state.lock().unwrap();
        assert!(
            state.since.is_none(),
            "back: the next failure is news again"
        );
        assert_eq!(state.refused_total, 0);
    }
}
