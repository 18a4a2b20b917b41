//! When the views do work that grows with the notebook: how much of the page list is drawn
//! before the first page shows, and when the search box searches.

/// Page-list items drawn in the first frame: more than a sidebar shows. A notebook of 500
/// pages would otherwise create and lay out some 3,500 elements before its first page shows.
pub const FIRST_ITEMS: usize = 40;

/// Items added to the list in each later step.
pub const MORE_ITEMS: usize = 100;

/// How many items to draw in the next step, after `shown` of `len` were drawn: [`MORE_ITEMS`]
/// more (each item is a component of its own: a step builds only the new ones, each step a
/// short task when the browser is idle), and once the list has caught up, all of it from then
/// on (`usize::MAX`), so a page added later is drawn at once. `None`: nothing more to draw.
pub fn next_items(shown: usize, len: usize) -> Option<usize> {
    if shown >= len {
        return None;
    }
    let next = shown.saturating_add(MORE_ITEMS);
    Some(if next >= len { usize::MAX } else { next })
}

/// A search this quick runs on every keystroke.
const SEARCH_QUICK_MS: f64 = 8.0;
/// The longest a search waits after the last one.
const SEARCH_MAX_REST_MS: f64 = 150.0;

/// When the search box searches, from what the last search cost. A quick search runs on every
/// keystroke. After a slower one, the box rests twice its cost: a key typed in that rest waits
/// for its end, and a later key replaces the query that waits (the shell keeps one pending
/// search), so keys typed faster than the notebook can be searched become one search of the
/// latest query, and searching takes at most a third of the time. A key typed after a pause is
/// searched at once: a query pasted or typed slowly waits for nothing.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct SearchPace {
    /// The last search's cost and when it ended, ms.
    last: Option<(f64, f64)>,
}

impl SearchPace {
    /// How long a query typed at `now` (ms) waits before it is searched; 0: search at once.
    pub fn wait_ms(&self, now: f64) -> u32 {
        let Some((cost, ended)) = self.last else {
            return 0;
        };
        if cost <= SEARCH_QUICK_MS || !now.is_finite() {
            return 0;
        }
        let rest = (2.0 * cost).min(SEARCH_MAX_REST_MS);
        let left = ended + rest - now;
        // A clock that went back waits no longer than a whole rest.
        if left > 0.0 {
            left.min(rest).ceil() as u32
        } else {
            0
        }
    }

    /// A search ran from `start` to `end` (ms); a bad clock counts as a quick search.
    pub fn ran(&mut self, start: f64, end: f64) {
        let cost = end - start;
        self.last = (cost.is_finite() && end.is_finite()).then_some((cost.max(0.0), end));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_list_grows_to_every_item_then_stays_whole() {
        let (mut shown, len, mut frames) = (FIRST_ITEMS, 501, 0);
        while let Some(next) = next_items(shown, len) {
            assert!(next > shown, "{shown} -> {next}");
            shown = next;
            frames += 1;
        }
        assert_eq!(
            shown,
            usize::MAX,
            "once caught up, later pages are drawn at once"
        );
        assert_eq!(
            frames, 5,
            "40, 140, 240, 340, 440, then all 501: {frames} steps"
        );
        assert_eq!(
            next_items(FIRST_ITEMS, 3),
            None,
            "a short list is drawn in one frame"
        );
        assert_eq!(next_items(0, 1), Some(usize::MAX));
        assert_eq!(next_items(usize::MAX, 10_000), None);
        assert_eq!(next_items(FIRST_ITEMS, FIRST_ITEMS + 1), Some(usize::MAX));
    }

    #[test]
    fn a_quick_search_runs_on_every_key_a_slow_one_rests_twice_its_cost() {
        let mut pace = SearchPace::default();
        assert_eq!(pace.wait_ms(0.0), 0, "the first search runs at once");
        pace.ran(0.0, 2.0);
        assert_eq!(pace.wait_ms(2.5), 0, "quick: every key");
        pace.ran(100.0, 130.0);
        assert_eq!(
            pace.wait_ms(131.0),
            59,
            "30 ms: a key right after waits for the 60 ms rest"
        );
        assert_eq!(pace.wait_ms(170.5), 20);
        assert_eq!(pace.wait_ms(190.0), 0, "after the rest: at once");
        assert_eq!(pace.wait_ms(5_000.0), 0, "after a pause: at once");
        pace.ran(0.0, 900.0);
        assert_eq!(pace.wait_ms(900.0), 150, "the rest is capped");
        assert_eq!(
            pace.wait_ms(10.0),
            150,
            "a clock gone back waits at most one rest"
        );
    }

    #[test]
    fn a_bad_clock_never_stalls_search() {
        let mut pace = SearchPace::default();
        pace.ran(0.0, f64::NAN);
        assert_eq!(pace.wait_ms(1.0), 0);
        pace.ran(f64::NEG_INFINITY, 5.0);
        assert_eq!(pace.wait_ms(6.0), 0);
        pace.ran(10.0, 5.0);
        assert_eq!(pace.wait_ms(6.0), 0, "a negative cost is quick");
        pace.ran(0.0, 50.0);
        assert_eq!(pace.wait_ms(f64::NAN), 0);
        assert_eq!(pace.wait_ms(f64::INFINITY), 0);
    }
}
