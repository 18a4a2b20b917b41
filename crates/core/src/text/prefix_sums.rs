//! Running totals over a sequence of counts that change one at a time (a Fenwick tree): the
//! chunked texts here ([`super::lines::LineIndex`], [`super::utf16_chunks::Utf16Chunks`]) keep
//! one count per chunk, so that finding the chunk of an offset, and updating a chunk's count
//! after a keystroke, take O(log chunks) instead of a walk over the chunks before it.
//!
//! The sequence itself cannot grow or shrink in place: a chunk split or dropped rebuilds the
//! totals ([`PrefixSums::new`], O(chunks)), which happens at most once per chunk's worth of text
//! added or removed.

#[derive(Debug, Clone, Default)]
pub(crate) struct PrefixSums {
    /// `tree[i]` (1-based) is the sum of the `i & i.wrapping_neg()` counts ending at count `i`.
    tree: Vec<usize>,
}

impl PrefixSums {
    /// O(n).
    pub(crate) fn new(counts: impl IntoIterator<Item = usize>) -> Self {
        let mut tree = vec![0];
        tree.extend(counts);
        let n = tree.len() - 1;
        for i in 1..=n {
            let parent = i + (i & i.wrapping_neg());
            if parent <= n {
                tree[parent] += tree[i];
            }
        }
        PrefixSums { tree }
    }

    pub(crate) fn len(&self) -> usize {
        self.tree.len().saturating_sub(1)
    }

    /// Count `i` changes by `delta` (it must not go below zero).
    pub(crate) fn add(&mut self, i: usize, delta: isize) {
        let mut i = i + 1;
        while i < self.tree.len() {
            self.tree[i] = self.tree[i].wrapping_add_signed(delta);
            i += i & i.wrapping_neg();
        }
    }

    /// The sum of the counts before count `i`.
    pub(crate) fn prefix(&self, i: usize) -> usize {
        let mut i = i.min(self.len());
        let mut sum = 0;
        while i > 0 {
            sum += self.tree[i];
            i -= i & i.wrapping_neg();
        }
        sum
    }

    pub(crate) fn total(&self) -> usize {
        self.prefix(self.len())
    }

    /// Where `target` falls if the counts are laid end to end: the first count `i` whose
    /// running total (counts `..=i`) exceeds `target`, and the sum of the counts before it.
    /// `None` when `target` is at or past the total.
    pub(crate) fn find(&self, target: usize) -> Option<(usize, usize)> {
        let n = self.len();
        let mut at = 0;
        let mut rest = target;
        let mut step = if n == 0 { 0 } else { 1 << n.ilog2() };
        while step > 0 {
            let next = at + step;
            if next <= n && self.tree[next] <= rest {
                at = next;
                rest -= self.tree[next];
            }
            step >>= 1;
        }
        (at < n).then(|| (at, target - rest))
    }
}

#[cfg(test)]
mod tests {
    use super::PrefixSums;

    #[test]
    fn sums_and_finds_agree_with_a_walk() {
        let mut counts = vec![3, 0, 5, 1, 0, 0, 7, 2, 4, 0, 9, 1, 1];
        let mut sums = PrefixSums::new(counts.iter().copied());
        for round in 0..40 {
            let i = (round * 7) % counts.len();
            let delta = if counts[i] > 2 && round % 3 == 0 {
                -2
            } else {
                1
            };
            counts[i] = counts[i].wrapping_add_signed(delta);
            sums.add(i, delta);
            let mut before = 0;
            for (i, &count) in counts.iter().enumerate() {
                assert_eq!(sums.prefix(i), before);
                for target in before..before + count {
                    assert_eq!(sums.find(target), Some((i, before)), "target {target}");
                }
                before += count;
            }
            assert_eq!(sums.total(), before);
            assert_eq!(sums.prefix(counts.len()), before);
            assert_eq!(sums.find(before), None);
        }
    }

    #[test]
    fn empty_and_single() {
        let empty = PrefixSums::new([]);
        assert_eq!((empty.len(), empty.total(), empty.find(0)), (0, 0, None));
        let one = PrefixSums::new([4]);
        assert_eq!(
            (one.find(0), one.find(3), one.find(4)),
            (Some((0, 0)), Some((0, 0)), None)
        );
    }
}
