//! Which versions to keep as they age, so that years of history stay a bounded size: every
//! version of the last hour, the newest of each hour for a day, of each day for a month, of
//! each week after that. Named versions are kept; so is the newest of all.
//!
//! Buckets are fixed spans of time since the epoch (not since now), so two browsers thinning
//! the same history at different moments keep the same versions, and what one drops the other
//! would drop too.

pub const MINUTE_MS: u64 = 60_000;
pub const HOUR_MS: u64 = 60 * MINUTE_MS;
pub const DAY_MS: u64 = 24 * HOUR_MS;
const WEEK_MS: u64 = 7 * DAY_MS;
const MONTH_MS: u64 = 30 * DAY_MS;

/// A version as thinning sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Aged<'a> {
    pub id: &'a str,
    /// When it was made (ms since the epoch).
    pub at: u64,
    pub named: bool,
}

/// The span of time a version of age `age` shares with its neighbours: within it only the
/// newest is kept. `None`: too young to thin.
fn bucket(age: u64) -> Option<u64> {
    match age {
        a if a < HOUR_MS => None,
        a if a < DAY_MS => Some(HOUR_MS),
        a if a < MONTH_MS => Some(DAY_MS),
        _ => Some(WEEK_MS),
    }
}

/// The ids of the versions to drop at `now`.
pub fn to_drop<'a>(versions: &[Aged<'a>], now: u64) -> Vec<&'a str> {
    let mut sorted: Vec<&Aged> = versions.iter().collect();
    // Newest first, ties by id: every browser decides the same.
    sorted.sort_by(|a, b| b.at.cmp(&a.at).then_with(|| b.id.cmp(a.id)));
    let mut drop = Vec::new();
    // The bucket the last kept unnamed version fell in: (span, index of the span).
    let mut kept: Option<(u64, u64)> = None;
    for (i, version) in sorted.iter().enumerate() {
        if version.named {
            continue;
        }
        let Some(span) = bucket(now.saturating_sub(version.at)) else {
            continue;
        };
        let slot = (span, version.at / span);
        if kept == Some(slot) && i > 0 {
            drop.push(version.id);
        } else {
            kept = Some(slot);
        }
    }
    drop
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ids(n: usize) -> Vec<String> {
        (0..n).map(|i| format!("v{i:05}")).collect()
    }

    /// A version every 5 minutes back from `now`, one per id.
    fn every_5_minutes(ids: &[String], now: u64) -> Vec<Aged<'_>> {
        ids.iter()
            .enumerate()
            .map(|(i, id)| Aged {
                id,
                at: now - i as u64 * 5 * MINUTE_MS,
                named: false,
            })
            .collect()
    }

    #[test]
    fn the_last_hour_is_kept_whole() {
        let now = 100 * DAY_MS;
        let ids = ids(12);
        let versions = every_5_minutes(&ids, now);
        assert!(to_drop(&versions, now).is_empty());
    }

    #[test]
    fn older_versions_thin_to_one_per_hour_day_and_week() {
        // A version every 5 minutes for 90 days.
        let now = 1_000 * DAY_MS;
        let count = (90 * DAY_MS / (5 * MINUTE_MS)) as usize;
        let ids = ids(count);
        let versions = every_5_minutes(&ids, now);
        let dropped = to_drop(&versions, now);
        let kept = count - dropped.len();
        // 12 in the last hour, ~23 hours, ~29 days, ~9 weeks (bucket edges add one or two).
        assert!((70..=80).contains(&kept), "kept {kept}");
        // Thinning again at once drops nothing more: it is stable.
        let left: Vec<Aged> = versions
            .iter()
            .filter(|v| !dropped.contains(&v.id))
            .copied()
            .collect();
        assert!(to_drop(&left, now).is_empty());
    }

    #[test]
    fn named_versions_and_the_newest_stay() {
        let now = 1_000 * DAY_MS;
        let versions = [
            Aged {
                id: "newest",
                at: now - 40 * DAY_MS,
                named: false,
            },
            Aged {
                id: "a",
                at: now - 40 * DAY_MS - 1,
                named: false,
            },
            Aged {
                id: "named",
                at: now - 40 * DAY_MS - 2,
                named: true,
            },
        ];
        assert_eq!(to_drop(&versions, now), vec!["a"]);
    }

    #[test]
    fn the_same_versions_are_dropped_in_any_order() {
        let now = 10 * DAY_MS;
        let versions: Vec<Aged> = ["a", "b", "c", "d"]
            .iter()
            .map(|id| Aged {
                id,
                at: now - 2 * DAY_MS,
                named: false,
            })
            .collect();
        let mut reversed = versions.clone();
        reversed.reverse();
        let mut one = to_drop(&versions, now);
        let mut other = to_drop(&reversed, now);
        one.sort();
        other.sort();
        assert_eq!(one, other);
        assert_eq!(one.len(), 3);
    }
}
