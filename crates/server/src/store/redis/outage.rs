//! When Redis cannot serve: what a request is answered (503, or 507 when Redis is out of
//! memory, or 500), when Redis is asked again, and what the log says.
//!
//! A lost Redis must not stop the instance (it goes on serving signaling and the app), nor
//! make each store request wait for a connection that will not come: once a request has found
//! Redis out of reach, the next ones are answered 503 at once, without asking Redis, and one
//! request at a time is let through to try (the connection is made anew on the way), first
//! after [`FIRST_RETRY`], then twice as long each time up to [`MAX_RETRY`]. The first to
//! succeed ends the outage. The browsers try their store requests again with a backoff of
//! their own. The log says it once when it starts, at most every [`REPORT_EVERY`] while it
//! lasts, and once when it ends, with how many requests were refused: not a line per request.
//!
//! Requests are not the only ones to ask: a probe (`redis.rs`) asks Redis every few seconds,
//! so that an outage begins and ends when Redis goes and comes back even while no store
//! request comes (`/healthz` and `/metrics` report [`Outage::is_lost`]; a load balancer that
//! stopped sending requests to a degraded instance must see it recover).

use super::super::StoreError;
use ::redis::RedisError;
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};
use tracing::{error, info, warn};

/// While Redis stays out of reach, one log line this often.
pub const REPORT_EVERY: Duration = Duration::from_secs(30);
/// After a request found Redis out of reach, the next try is this much later...
pub const FIRST_RETRY: Duration = Duration::from_millis(100);
/// ...and each one after twice as long, up to this: at most this long after Redis is back,
/// requests are served again.
pub const MAX_RETRY: Duration = Duration::from_secs(2);

/// What the browser is told while Redis is out of reach; it tries again with backoff.
pub const UNREACHABLE: &str =
    "the server cannot reach its store (Redis) right now: try again in a moment";

/// How a failed Redis request is answered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Failure {
    /// Redis cannot serve now (no connection, no answer in time, loading its data after a
    /// restart, a replica, a failed disk write): 503, and the outage begins.
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

/// The outage, if there is one.
pub struct Outage {
    /// Redis's URL, its password hidden.
    url: String,
    state: Mutex<State>,
}

#[derive(Default)]
struct State {
    /// When Redis was found out of reach, while it is.
    since: Option<Instant>,
    /// Meanwhile, requests before this are refused without asking Redis...
    next_try: Option<Instant>,
    /// ...and the one after it is let through, and the next try put off by this much.
    backoff: Duration,
    /// What the last failure said.
    why: String,
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

    /// May a request ask Redis now? Always while Redis serves; during an outage, once
    /// each time the backoff has passed. Otherwise 503.
    pub fn admit(&self) -> Result<(), StoreError> {
        self.admit_at(Instant::now())
    }

    fn admit_at(&self, now: Instant) -> Result<(), StoreError> {
        let mut state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        match state.next_try {
            None => Ok(()),
            Some(next_try) if now >= next_try => {
                state.next_try = Some(now + state.backoff);
                state.backoff = (state.backoff * 2).min(MAX_RETRY);
                Ok(())
            }
            Some(_) => Err(self.refuse(&mut state, now)),
        }
    }

    /// True while Redis is known out of reach.
    pub fn is_lost(&self) -> bool {
        self.state
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .since
            .is_some()
    }

    /// The probe failed with `e`: if that says Redis cannot serve, the outage begins (without
    /// counting a refused request); any other answer is Redis answering.
    pub fn probe_failed(&self, e: &RedisError) {
        match classify(e) {
            Failure::Unreachable => self.lost(&e.to_string()),
            Failure::Full | Failure::Failed => self.answered(),
        }
    }

    /// The probe found Redis out of reach (`why`).
    pub fn lost(&self, why: &str) {
        self.lost_at(why, Instant::now());
    }

    fn lost_at(&self, why: &str, now: Instant) {
        let mut state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        why.clone_into(&mut state.why);
        self.begin(&mut state, now);
        self.report(&mut state, now);
    }

    /// Redis answered a request: if it had been out of reach, say that it is back.
    pub fn answered(&self) {
        let mut state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(since) = state.since {
            info!(
                "store: Redis at {} serves the store again after {} s; {} store requests got 503 meanwhile",
                self.url,
                since.elapsed().as_secs(),
                state.refused_total
            );
            *state = State::default();
        }
    }

    /// A request failed with `e`: what to answer (and the outage begins, if `e` says Redis
    /// cannot serve).
    pub fn failed(&self, e: &RedisError) -> StoreError {
        match classify(e) {
            Failure::Unreachable => self.unreachable(&e.to_string()),
            Failure::Full => StoreError::Full(
                "the server's storage (Redis) is out of memory: try again later".into(),
            ),
            Failure::Failed => StoreError::Failed(format!("store in Redis at {}: {e}", self.url)),
        }
    }

    /// A request found Redis out of reach (`why`): 503, and the outage begins if it had not.
    pub fn unreachable(&self, why: &str) -> StoreError {
        self.unreachable_at(why, Instant::now())
    }

    fn unreachable_at(&self, why: &str, now: Instant) -> StoreError {
        let mut state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        why.clone_into(&mut state.why);
        self.begin(&mut state, now);
        self.refuse(&mut state, now)
    }

    /// The outage begins, unless it has already.
    fn begin(&self, state: &mut State, now: Instant) {
        if state.since.is_none() {
            state.since = Some(now);
            state.next_try = Some(now + FIRST_RETRY);
            state.backoff = FIRST_RETRY * 2;
        }
    }

    /// Counts a refused request, and logs if a line is due.
    fn refuse(&self, state: &mut State, now: Instant) -> StoreError {
        state.refused += 1;
        state.refused_total += 1;
        self.report(state, now);
        StoreError::Unavailable(UNREACHABLE.into())
    }

    /// Logs if a line is due: when the outage begins, then every [`REPORT_EVERY`].
    fn report(&self, state: &mut State, now: Instant) {
        let since = state.since.unwrap_or(now);
        match state.reported {
            None => {
                error!(
                    "store: Redis at {} cannot serve the store ({}); store requests get 503 until it is back, and the server tries again with backoff meanwhile",
                    self.url, state.why
                );
                state.reported = Some(now);
                state.refused = 0;
            }
            Some(reported) if now - reported >= REPORT_EVERY => {
                warn!(
                    "store: Redis at {} still cannot serve the store after {} s ({}); {} store requests got 503 since the last report",
                    self.url,
                    (now - since).as_secs(),
                    state.why,
                    state.refused
                );
                state.reported = Some(now);
                state.refused = 0;
            }
            Some(_) => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ::redis::ErrorKind;
    use std::io;

    fn refused() -> RedisError {
        RedisError::from(io::Error::from(io::ErrorKind::ConnectionRefused))
    }

    #[test]
    fn lost_connections_and_passing_states_are_503() {
        assert_eq!(classify(&refused()), Failure::Unreachable);
        let timeout = RedisError::from(io::Error::from(io::ErrorKind::TimedOut));
        assert_eq!(classify(&timeout), Failure::Unreachable);
        let other = RedisError::from((ErrorKind::Client, "a client error"));
        assert_eq!(classify(&other), Failure::Failed);
    }

    #[test]
    fn during_an_outage_redis_is_asked_once_per_backoff() {
        let outage = Outage::new("redis://127.0.0.1:1/0".into());
        let start = Instant::now();
        assert!(
            outage.admit_at(start).is_ok(),
            "no outage: every request goes"
        );
        assert!(outage.admit_at(start).is_ok());
        let unavailable = StoreError::Unavailable(UNREACHABLE.into());
        assert_eq!(outage.failed(&refused()), unavailable);
        outage.answered();
        assert_eq!(outage.unreachable_at("refused", start), unavailable);
        // Which requests get through, asked every 10 ms for 10 s.
        let mut tries = Vec::new();
        for ms in (0..10_000).step_by(10) {
            let at = start + Duration::from_millis(ms);
            match outage.admit_at(at) {
                Ok(()) => tries.push(ms),
                Err(e) => assert_eq!(e, unavailable),
            }
        }
        // After 100 ms, then 200, 400, 800, 1600 later, then every 2 s.
        assert_eq!(tries, [100, 300, 700, 1500, 3100, 5100, 7100, 9100]);
        {
            let state = outage.state.lock().unwrap();
            assert_eq!(state.refused_total, 1 + 1000 - 8);
        }
        outage.answered();
        assert!(
            outage.admit_at(start).is_ok(),
            "back: every request goes again"
        );
        let state = outage.state.lock().unwrap();
        assert!(state.since.is_none(), "the next failure is news again");
        assert_eq!(state.refused_total, 0);
    }

    #[test]
    fn the_probe_begins_and_ends_an_outage_without_counting_requests() {
        let outage = Outage::new("redis://127.0.0.1:1/0".into());
        let start = Instant::now();
        assert!(!outage.is_lost());
        outage.probe_failed(&RedisError::from((ErrorKind::Client, "not an outage")));
        assert!(!outage.is_lost(), "Redis answered, if with an error");
        outage.lost_at("refused", start);
        assert!(outage.is_lost());
        assert!(outage.admit_at(start).is_err(), "requests get 503 at once");
        assert!(
            outage.admit_at(start + FIRST_RETRY).is_ok(),
            "and one tries"
        );
        outage.lost_at("refused again", start + FIRST_RETRY);
        {
            let state = outage.state.lock().unwrap();
            assert_eq!(state.refused_total, 1, "the probe refused no request");
            assert_eq!(state.since, Some(start), "one outage");
        }
        outage.answered();
        assert!(!outage.is_lost());
    }
}
