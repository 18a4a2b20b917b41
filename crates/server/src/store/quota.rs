//! What a store may hold (per store: bytes and records) and how fast a client may write
//! (per remote address: a byte budget, `budget.rs`). Decisions only; the backend applies the
//! store's inside its transaction, the routes the client's before reading a body.

use crate::budget::Budget;
use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Mutex, PoisonError};
use std::time::Duration;
use tokio::time::Instant;

/// 64 MiB per store: a notebook of 10 MB, its history until the next snapshot, and room.
pub const DEFAULT_QUOTA: u64 = 64 * 1024 * 1024;
/// 100,000 records per store: a browser snapshots long before.
pub const DEFAULT_MAX_RECORDS: u64 = 100_000;
/// 256 KiB per record: a browser batches a few seconds of typing into one.
pub const DEFAULT_MAX_RECORD: u64 = 256 * 1024;
/// 1 MiB/s of store writes per client.
pub const DEFAULT_RATE: u64 = 1024 * 1024;
/// 16 MiB at once per client: a 10 MB notebook's first snapshot passes without waiting.
pub const DEFAULT_BURST: u64 = 16 * 1024 * 1024;
/// What each write request costs a client on top of its body: so a flood of tiny requests
/// (each one a disk sync) is paced too.
pub const REQUEST_COST: u64 = 1024;

/// A store's limits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Quota {
    /// Bytes of records and snapshot together (what browsers sent; not the database's overhead).
    pub max_bytes: u64,
    /// Records kept at once (a snapshot's covered records no longer count).
    pub max_records: u64,
}

impl Default for Quota {
    fn default() -> Self {
        Quota {
            max_bytes: DEFAULT_QUOTA,
            max_records: DEFAULT_MAX_RECORDS,
        }
    }
}

/// What a store holds now.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Usage {
    pub bytes: u64,
    pub records: u64,
}

impl Quota {
    /// The largest snapshot accepted: the whole quota (and what a read reply's length field
    /// holds).
    pub fn max_snapshot(&self) -> u64 {
        self.max_bytes.min(u64::from(u32::MAX))
    }

    /// May a store holding `usage` take one more record of `len` bytes? `Err`: why not.
    pub fn check_append(&self, usage: Usage, len: u64) -> Result<(), String> {
        if usage.records >= self.max_records {
            return Err(format!(
                "this store is full: it holds {} records, its limit; store a snapshot to make room",
                usage.records
            ));
        }
        if usage.bytes.saturating_add(len) > self.max_bytes {
            return Err(format!(
                "this store is full: {} of its {} bytes are used and the record has {len}; store a snapshot to make room",
                usage.bytes, self.max_bytes
            ));
        }
        Ok(())
    }

    /// May a store go from `before` to `after` by storing a snapshot? Within the quota, or
    /// smaller than before: a snapshot that frees space is always taken.
    pub fn check_snapshot(&self, before: Usage, after: Usage) -> Result<(), String> {
        if after.bytes <= self.max_bytes || after.bytes < before.bytes {
            return Ok(());
        }
        Err(format!(
            "this store is full: with this snapshot it would hold {} bytes, over its {}",
            after.bytes, self.max_bytes
        ))
    }
}

/// Each client's budget for store writes, by remote address: an IPv4 address, or an IPv6 /64
/// (what one machine usually has to itself).
pub struct ClientRates {
    rate: u64,
    burst: u64,
    clients: Mutex<Clients>,
}

struct Clients {
    budgets: HashMap<IpAddr, Budget>,
    /// Forget clients whose budget is full again once there are this many.
    prune_at: usize,
}

const PRUNE_AT: usize = 1024;

impl ClientRates {
    pub fn new(rate: u64, burst: u64) -> Self {
        ClientRates {
            rate,
            burst,
            clients: Mutex::new(Clients {
                budgets: HashMap::new(),
                prune_at: PRUNE_AT,
            }),
        }
    }

    /// Admits a write costing `cost` bytes, or says how long the client must wait: a client
    /// is admitted while not in debt, so over any `t` seconds it writes at most
    /// `burst + rate × t` bytes plus one request.
    pub fn admit(&self, ip: IpAddr, cost: u64, now: Instant) -> Result<(), Duration> {
        let mut clients = self.clients.lock().unwrap_or_else(PoisonError::into_inner);
        if clients.budgets.len() >= clients.prune_at {
            clients.budgets.retain(|_, budget| !budget.is_full(now));
            clients.prune_at = PRUNE_AT.max(2 * clients.budgets.len());
        }
        let (rate, burst) = (self.rate, self.burst);
        let budget = clients
            .budgets
            .entry(client_key(ip))
            .or_insert_with(|| Budget::new(rate, burst, now));
        if let Some(wait) = budget.wait(now) {
            return Err(wait);
        }
        budget.spend(usize::try_from(cost).unwrap_or(usize::MAX), now);
        Ok(())
    }

    /// Charges an admitted client for bytes it turned out to send (a body of unknown length).
    pub fn spend(&self, ip: IpAddr, cost: u64, now: Instant) {
        let mut clients = self.clients.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(budget) = clients.budgets.get_mut(&client_key(ip)) {
            budget.spend(usize::try_from(cost).unwrap_or(usize::MAX), now);
        }
    }
}

/// The address a client's budget is kept under.
fn client_key(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V4(v4) => IpAddr::V4(v4),
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => {
                let mut octets = v6.octets();
                octets[8..].fill(0);
                IpAddr::from(octets)
            }
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn appends_stop_at_bytes_or_records() {
        let quota = Quota {
            max_bytes: 100,
            max_records: 3,
        };
        let usage = |bytes, records| Usage { bytes, records };
        assert!(quota.check_append(usage(0, 0), 100).is_ok());
        let e = quota.check_append(usage(1, 0), 100).unwrap_err();
        assert!(e.contains("1 of its 100 bytes"), "{e}");
        assert!(quota.check_append(usage(0, 2), 1).is_ok());
        let e = quota.check_append(usage(0, 3), 1).unwrap_err();
        assert!(e.contains("3 records"), "{e}");
        assert!(quota.check_append(usage(u64::MAX, 0), u64::MAX).is_err());
    }

    #[test]
    fn a_snapshot_that_shrinks_the_store_is_taken_over_quota() {
        let quota = Quota {
            max_bytes: 100,
            max_records: 3,
        };
        let usage = |bytes| Usage { bytes, records: 0 };
        assert!(quota.check_snapshot(usage(50), usage(100)).is_ok());
        assert!(quota.check_snapshot(usage(50), usage(101)).is_err());
        assert!(quota.check_snapshot(usage(300), usage(200)).is_ok());
        assert!(quota.check_snapshot(usage(200), usage(200)).is_err());
        assert_eq!(quota.max_snapshot(), 100);
        let huge = Quota {
            max_bytes: u64::MAX,
            max_records: 1,
        };
        assert_eq!(huge.max_snapshot(), u64::from(u32::MAX));
    }

    #[test]
    fn each_client_has_its_own_budget() {
        let now = Instant::now();
        let rates = ClientRates::new(1000, 2000);
        let a: IpAddr = "192.0.2.1".parse().unwrap();
        let b: IpAddr = "192.0.2.2".parse().unwrap();
        assert!(rates.admit(a, 1500, now).is_ok());
        assert!(
            rates.admit(a, 1500, now).is_ok(),
            "not in debt yet: admitted"
        );
        let wait = rates.admit(a, 1, now).unwrap_err();
        assert_eq!(wait, Duration::from_secs(1));
        assert!(
            rates.admit(b, 1500, now).is_ok(),
            "another client is not slowed"
        );
        assert!(rates.admit(a, 1, now + Duration::from_secs(1)).is_ok());
        rates.spend(a, 5000, now + Duration::from_secs(1));
        assert!(rates.admit(a, 1, now + Duration::from_secs(5)).is_err());
    }

    #[test]
    fn ipv6_clients_are_counted_by_their_64() {
        let now = Instant::now();
        let rates = ClientRates::new(1, 10);
        let one: IpAddr = "2001:db8:1:2::1".parse().unwrap();
        let same: IpAddr = "2001:db8:1:2:ffff::9".parse().unwrap();
        let other: IpAddr = "2001:db8:1:3::1".parse().unwrap();
        assert!(rates.admit(one, 100, now).is_ok());
        assert!(rates.admit(same, 1, now).is_err());
        assert!(rates.admit(other, 1, now).is_ok());
        let mapped: IpAddr = "::ffff:192.0.2.7".parse().unwrap();
        assert_eq!(client_key(mapped), "192.0.2.7".parse::<IpAddr>().unwrap());
    }

    #[test]
    fn idle_clients_are_forgotten() {
        let now = Instant::now();
        let rates = ClientRates::new(1_000_000, 10);
        for i in 0..5000u32 {
            let ip = IpAddr::from(i.to_be_bytes());
            assert!(rates
                .admit(ip, 10, now + Duration::from_millis(u64::from(i)))
                .is_ok());
        }
        let kept = rates.clients.lock().unwrap().budgets.len();
        assert!(kept < 1100, "{kept} budgets kept");
    }
}
