//! Two texts compared line by line (a past version of a page and the page now): what the version
//! history shows, and the splices that restore a version while leaving unchanged lines alone, so
//! their characters keep their identity in the CRDT (others' carets and concurrent edits in them
//! survive the restore).
//!
//! Myers' O((N+M)·D) algorithm over lines interned to `u32` ids, in its linear-space form (the
//! middle snake, split and recurse): memory stays O(N+M) whatever D is, where keeping every
//! step's frontier for the trace-back would take D² ints (64 MB at D = 4,000) or force a cap
//! too low for real pages. Time is bounded by `MAX_EDITS`: past it the changed middle (after
//! the common first and last lines) is shown as removed, then added.

use super::diff::Splice;
use super::utf16;
use std::collections::HashMap;

/// Removed plus added lines past which the search gives up: real revisions of a page stay far
/// below it, and the work stays O((N+M)·MAX_EDITS) whatever the texts (a pair of 100k lines,
/// all different, costs ~MAX_EDITS² steps, not N·M).
const MAX_EDITS: usize = 4_000;

/// One line of the comparison, in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DiffLine<'a> {
    Same(&'a str),
    Removed(&'a str),
    Added(&'a str),
}

#[derive(Clone, Copy, PartialEq)]
enum Op {
    Same,
    Removed,
    Added,
}

/// old → new, line by line. Lines are split on '\n' and keep no terminator; a text ending in
/// '\n' has an empty last line (so "a\n" is ["a", ""]); "" is one empty line. Within a changed
/// run, its removed lines come before its added ones.
pub fn lines<'a>(old: &'a str, new: &'a str) -> Vec<DiffLine<'a>> {
    let (old, new): (Vec<&str>, Vec<&str>) = (old.split('\n').collect(), new.split('\n').collect());
    let mut ids = HashMap::new();
    let mut intern = |line: &&'a str| {
        let next = ids.len() as u32;
        *ids.entry(*line).or_insert(next)
    };
    let a: Vec<u32> = old.iter().map(&mut intern).collect();
    let b: Vec<u32> = new.iter().map(&mut intern).collect();
    let mut ops = Vec::with_capacity(a.len() + b.len());
    compare(&a, &b, MAX_EDITS.div_ceil(2) + 1, &mut ops);

    let mut out = Vec::with_capacity(ops.len());
    let (mut i, mut j, mut k) = (0, 0, 0);
    while k < ops.len() {
        if ops[k] == Op::Same {
            out.push(DiffLine::Same(old[i]));
            (i, j, k) = (i + 1, j + 1, k + 1);
            continue;
        }
        let run = ops[k..].iter().take_while(|op| **op != Op::Same);
        let removed = run.clone().filter(|op| **op == Op::Removed).count();
        let added = run.clone().count() - removed;
        out.extend(old[i..i + removed].iter().map(|l| DiffLine::Removed(l)));
        out.extend(new[j..j + added].iter().map(|l| DiffLine::Added(l)));
        (i, j, k) = (i + removed, j + added, k + removed + added);
    }
    out
}

/// The splices (applied one after another, each index in the text as the previous ones left it)
/// that turn `now` into `target`, one per changed run of lines, touching only those lines.
pub fn splices_to(now: &str, target: &str) -> Vec<Splice> {
    let diff = lines(now, target);
    let mut splices = Vec::new();
    // Where the next line starts in the target, which is also where it starts in the text as
    // the splices so far left it: everything before it already reads as the target.
    let mut at = 0;
    let mut k = 0;
    while k < diff.len() {
        if let DiffLine::Same(line) = diff[k] {
            at += utf16::len(line) + 1;
            k += 1;
            continue;
        }
        let (mut delete, mut added) = (0, Vec::new());
        while let Some(DiffLine::Removed(line) | DiffLine::Added(line)) = diff.get(k) {
            match diff[k] {
                DiffLine::Removed(_) => delete += utf16::len(line) + 1,
                _ => added.push(*line),
            }
            k += 1;
        }
        let inserted: usize = added.iter().map(|l| utf16::len(l) + 1).sum();
        // Each line owns the '\n' after it, but the last line has none: a run at the end takes
        // the '\n' before it instead when only one side has lines there (the other side then
        // has a same line before the run, so `at` > 0).
        let (index, delete, insert) = if k < diff.len() {
            (at, delete, added.iter().map(|l| format!("{l}\n")).collect())
        } else if added.is_empty() {
            (at.saturating_sub(1), delete, String::new())
        } else if delete == 0 {
            (at.saturating_sub(1), 0, format!("\n{}", added.join("\n")))
        } else {
            (at, delete - 1, added.join("\n"))
        };
        at += inserted;
        splices.push(Splice {
            index: index as u32,
            delete: delete as u32,
            insert,
        });
    }
    splices
}

/// Appends the ops turning `a` into `b`; `limit` bounds the middle snake's search (half of D).
fn compare(a: &[u32], b: &[u32], limit: usize, ops: &mut Vec<Op>) {
    let prefix = a.iter().zip(b).take_while(|(x, y)| x == y).count();
    let (a_rest, b_rest) = (&a[prefix..], &b[prefix..]);
    let suffix = a_rest
        .iter()
        .rev()
        .zip(b_rest.iter().rev())
        .take_while(|(x, y)| x == y)
        .count();
    let (a_mid, b_mid) = (
        &a_rest[..a_rest.len() - suffix],
        &b_rest[..b_rest.len() - suffix],
    );
    ops.extend(std::iter::repeat_n(Op::Same, prefix));
    match middle_snake(a_mid, b_mid, limit) {
        // The halves' edits add up to this one's, so they stay within the limit too.
        Some((x, y)) => {
            compare(&a_mid[..x], &b_mid[..y], limit, ops);
            compare(&a_mid[x..], &b_mid[y..], limit, ops);
        }
        None => {
            ops.extend(std::iter::repeat_n(Op::Removed, a_mid.len()));
            ops.extend(std::iter::repeat_n(Op::Added, b_mid.len()));
        }
    }
    ops.extend(std::iter::repeat_n(Op::Same, suffix));
}

/// Where an optimal path crosses the middle (Myers 1986, §4b; in the form of diff-match-patch's
/// `bisect`): a forward and a reverse search, each step one more edit, until they overlap. `None`
/// when a side is empty, nothing is shared, or the paths do not meet within `limit` steps.
fn middle_snake(a: &[u32], b: &[u32], limit: usize) -> Option<(usize, usize)> {
    let (n, m) = (a.len() as isize, b.len() as isize);
    if n == 0 || m == 0 {
        return None;
    }
    let max_d = ((n + m + 1) / 2).min(limit as isize);
    let (offset, width) = (max_d, 2 * max_d + 2);
    let (mut forward, mut reverse) = (
        vec![-1_isize; width as usize],
        vec![-1_isize; width as usize],
    );
    forward[offset as usize + 1] = 0;
    reverse[offset as usize + 1] = 0;
    let delta = n - m;
    let front = delta % 2 != 0;
    let (mut k1_start, mut k1_end, mut k2_start, mut k2_end) = (0, 0, 0, 0);
    let found = |x: isize, y: isize| (x > 0 || y > 0) && (x < n || y < m);
    for d in 0..max_d {
        for k1 in (-d + k1_start..=d - k1_end).step_by(2) {
            let i = (offset + k1) as usize;
            let mut x1 = if k1 == -d || (k1 != d && forward[i - 1] < forward[i + 1]) {
                forward[i + 1]
            } else {
                forward[i - 1] + 1
            };
            let mut y1 = x1 - k1;
            while x1 < n && y1 < m && a[x1 as usize] == b[y1 as usize] {
                (x1, y1) = (x1 + 1, y1 + 1);
            }
            forward[i] = x1;
            if x1 > n {
                k1_end += 2;
            } else if y1 > m {
                k1_start += 2;
            } else if front {
                let j = offset + delta - k1;
                if (0..width).contains(&j)
                    && reverse[j as usize] != -1
                    && x1 >= n - reverse[j as usize]
                {
                    return found(x1, y1).then_some((x1 as usize, y1 as usize));
                }
            }
        }
        for k2 in (-d + k2_start..=d - k2_end).step_by(2) {
            let i = (offset + k2) as usize;
            let mut x2 = if k2 == -d || (k2 != d && reverse[i - 1] < reverse[i + 1]) {
                reverse[i + 1]
            } else {
                reverse[i - 1] + 1
            };
            let mut y2 = x2 - k2;
            while x2 < n && y2 < m && a[(n - x2 - 1) as usize] == b[(m - y2 - 1) as usize] {
                (x2, y2) = (x2 + 1, y2 + 1);
            }
            reverse[i] = x2;
            if x2 > n {
                k2_end += 2;
            } else if y2 > m {
                k2_start += 2;
            } else if !front {
                let j = offset + delta - k2;
                if (0..width).contains(&j) && forward[j as usize] != -1 {
                    let x1 = forward[j as usize];
                    let y1 = offset + x1 - j;
                    if x1 >= n - x2 {
                        return found(x1, y1).then_some((x1 as usize, y1 as usize));
                    }
                }
            }
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::text::diff::apply;
    use rand::rngs::SmallRng;
    use rand::{Rng, SeedableRng};

    fn restored(now: &str, target: &str) -> String {
        let mut text: Vec<u16> = now.encode_utf16().collect();
        for splice in splices_to(now, target) {
            // `apply` clamps; the document would not.
            let end = (splice.index + splice.delete) as usize;
            assert!(end <= text.len() && (splice.delete > 0 || !splice.insert.is_empty()));
            apply(&mut text, &splice);
        }
        String::from_utf16(&text).unwrap()
    }

    /// Holds `lines(old, new)` and `splices_to` to both texts and, when given, to the fewest
    /// changed lines.
    fn check<'a>(old: &'a str, new: &'a str, fewest: Option<usize>) -> Vec<DiffLine<'a>> {
        let diff = lines(old, new);
        let (mut old_side, mut new_side, mut changed) = (vec![], vec![], 0);
        for line in &diff {
            match *line {
                DiffLine::Same(l) => (old_side.push(l), new_side.push(l)).0,
                DiffLine::Removed(l) => (old_side.push(l), changed += 1).0,
                DiffLine::Added(l) => (new_side.push(l), changed += 1).0,
            }
        }
        assert_eq!(
            (old_side.join("\n"), new_side.join("\n")),
            (old.into(), new.into())
        );
        let added_then_removed =
            |p: &[DiffLine]| matches!(p, [DiffLine::Added(_), DiffLine::Removed(_)]);
        assert!(
            !diff.windows(2).any(added_then_removed),
            "{old:?} → {new:?}"
        );
        assert!(
            fewest.is_none_or(|f| f == changed),
            "{old:?} → {new:?}: {changed} changed"
        );
        assert_eq!(restored(old, new), new, "{old:?} → {new:?}");
        diff
    }

    /// Removed plus added lines in a shortest edit: n + m − 2·LCS, by dynamic programming.
    fn fewest_edits(old: &str, new: &str) -> usize {
        let (a, b): (Vec<&str>, Vec<&str>) = (old.split('\n').collect(), new.split('\n').collect());
        let mut lcs = vec![vec![0; b.len() + 1]; a.len() + 1];
        for i in 0..a.len() {
            for j in 0..b.len() {
                lcs[i + 1][j + 1] = if a[i] == b[j] {
                    lcs[i][j] + 1
                } else {
                    lcs[i][j + 1].max(lcs[i + 1][j])
                };
            }
        }
        a.len() + b.len() - 2 * lcs[a.len()][b.len()]
    }

    #[test]
    fn small_cases_split_lines_as_documented() {
        use DiffLine::*;
        assert_eq!(check("", "", Some(0)), [Same("")]);
        assert_eq!(check("a\n", "a", Some(1)), [Same("a"), Removed("")]);
        assert_eq!(
            check("a\nb\nc", "a\nx\nc", Some(2)),
            [Same("a"), Removed("b"), Added("x"), Same("c")]
        );
        assert_eq!(check("a\nb", "b\na", Some(2)).len(), 3);
        assert!(splices_to("same\ntext", "same\ntext").is_empty());
        for (now, target) in [
            ("", "x"),
            ("x", ""),
            ("a", "a\nb"),
            ("a\nb", "a"),
            ("a\nb", "a\nc"),
            ("\n", ""),
            ("🎉\n", "🎉\né\n"),
        ] {
            check(now, target, Some(fewest_edits(now, target)));
        }
    }

    #[test]
    fn one_changed_line_of_a_thousand_is_one_splice_over_that_line() {
        let old: Vec<String> = (0..1000).map(|i| format!("line {i} é🎉")).collect();
        let mut new = old.clone();
        new[500] = "changed".into();
        let (old, new) = (old.join("\n"), new.join("\n"));
        let diff = check(&old, &new, Some(2));
        assert_eq!(
            diff[500..502],
            [
                DiffLine::Removed("line 500 é🎉"),
                DiffLine::Added("changed")
            ]
        );
        let start = utf16::len(&old[..old.find("line 500 ").unwrap()]) as u32;
        let want = Splice {
            index: start,
            delete: utf16::len("line 500 é🎉\n") as u32,
            insert: "changed\n".into(),
        };
        assert_eq!(splices_to(&old, &new), [want]);
    }

    #[test]
    fn random_texts_restore_exactly_with_the_fewest_changed_lines() {
        let pool = ["", "a", "b", "é", "🎉", "x🎉y", "日本", "longer line"];
        let mut rng = SmallRng::seed_from_u64(5);
        let text = |rng: &mut SmallRng| {
            let count = rng.random_range(0..12);
            let lines: Vec<&str> = (0..count)
                .map(|_| pool[rng.random_range(0..pool.len())])
                .collect();
            lines.join("\n") + if rng.random_bool(0.3) { "\n" } else { "" }
        };
        for _ in 0..3000 {
            let (old, new) = (text(&mut rng), text(&mut rng));
            check(&old, &new, Some(fewest_edits(&old, &new)));
        }
    }

    #[test]
    fn past_the_cap_the_middle_is_removed_then_added() {
        let numbered = |tag: &str, count| {
            (0..count)
                .map(|i| format!("{tag}{i}\n"))
                .collect::<String>()
        };
        let around = |tag: &str, half| {
            numbered(tag, half) + "shared\n" + &numbered(&format!("{tag}'"), half)
        };
        // Within the cap the shared line is found; past it, it is given up with the rest.
        let (old, new) = (around("o", 999), around("n", 999));
        assert!(check(&old, &new, Some(MAX_EDITS - 4)).contains(&DiffLine::Same("shared")));
        let (old, new) = (around("o", 1_500), around("n", 1_500));
        assert!(!check(&old, &new, None).contains(&DiffLine::Same("shared")));
        // 100k lines, all different, each side: returns quickly, still exact.
        let (old, new) = (numbered("o", 100_000), numbered("n", 100_000));
        assert_eq!(check(&old, &new, Some(200_000)).len(), 200_001);
    }
}
