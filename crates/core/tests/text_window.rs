//! `TextWindow` against a model: a page (plain UTF-16), the window's text kept only through the
//! splices `TextWindow` returns (as the editor's textarea would be), and random steps: a peer's
//! splice anywhere (above, across either edge, inside, below, over all of it), the person's
//! splice inside the window, and moves of the window to lines a `WindowPolicy` picks (the text
//! then rewritten from the page, the selection carried over). After every step:
//!
//! - the window's text equals the page's text in `range()`;
//! - a caret in the window that no splice touched still sits before the same character (found
//!   through the page: a peer's edit above the window keeps the local caret on its character);
//! - a window's range from `line_range` starts and ends at line starts (or the page's end).

use commonplace_core::text::diff::Splice;
use commonplace_core::text::lines::LineIndex;
use commonplace_core::text::window::{line_range, TextWindow, WindowChange, WindowPolicy};
use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};

const PIECES: &[&str] = &[
    "a", "bc", " ", "\n", "\n", "é", "日本", "😀", "x\n", "\n\n", "",
];

fn units(s: &str) -> Vec<u16> {
    s.encode_utf16().collect()
}

fn apply(text: &mut Vec<u16>, splice: &Splice) {
    let (i, d) = (splice.index as usize, splice.delete as usize);
    text.splice(i..i + d, units(&splice.insert));
}

fn random_insert(rng: &mut SmallRng) -> String {
    (0..rng.random_range(0..6))
        .map(|_| PIECES[rng.random_range(0..PIECES.len())])
        .collect()
}

/// A random position in `text` that does not split a surrogate pair, within `range`.
fn position(rng: &mut SmallRng, text: &[u16], lo: usize, hi: usize) -> usize {
    let mut at = rng.random_range(lo..=hi);
    while at > 0 && at < text.len() && (0xDC00..0xE000).contains(&text[at]) {
        at -= 1;
    }
    at
}

/// A random splice of `text`: anywhere, deleting at most `most` units, inserting a few pieces.
fn random_splice(rng: &mut SmallRng, text: &[u16], most: usize) -> Splice {
    let i = position(rng, text, 0, text.len());
    let end = position(rng, text, i, (i + most).min(text.len()));
    Splice {
        index: i as u32,
        delete: (end - i) as u32,
        insert: random_insert(rng),
    }
}

fn random_page(rng: &mut SmallRng) -> Vec<u16> {
    let mut text = String::new();
    for _ in 0..rng.random_range(0..400) {
        text.push_str(PIECES[rng.random_range(0..PIECES.len())]);
    }
    units(&text)
}

/// Where a caret at page offset `caret` goes when `splice` is applied (a caret inside the
/// deleted part is not followed: `None`).
fn follow(caret: usize, splice: &Splice) -> Option<usize> {
    let (i, d) = (splice.index as usize, splice.delete as usize);
    let s = units(&splice.insert).len();
    if caret < i {
        Some(caret)
    } else if caret >= i + d && !(d == 0 && caret == i) {
        Some(caret + s - d)
    } else {
        None
    }
}

#[test]
fn the_window_always_holds_the_page_in_its_range() {
    let policy = WindowPolicy {
        margin: 5,
        slack: 2,
    };
    let (mut inside, mut above, mut below, mut moves) = (0, 0, 0, 0);
    for seed in 0..300u64 {
        let mut rng = SmallRng::seed_from_u64(seed);
        let mut page = random_page(&mut rng);
        let index = LineIndex::new(&String::from_utf16(&page).unwrap());
        let lines = index.line_count();
        let first = rng.random_range(0..lines);
        let mut window = TextWindow::new(line_range(&index, policy.lines(first..first + 3, lines)));
        let r = window.range();
        let mut shown = page[r.start as usize..r.end as usize].to_vec();
        // A caret in the window's offsets, as the textarea keeps it.
        let mut caret = position(&mut rng, &shown, 0, shown.len());
        for step in 0..60 {
            let context = format!("seed {seed} step {step}");
            match rng.random_range(0..10) {
                0..=5 => {
                    // A peer's splice anywhere in the page.
                    let splice = random_splice(&mut rng, &page, 30);
                    let caret_page = window.to_page(caret as u32) as usize;
                    let character = page.get(caret_page).copied();
                    let was = window.range();
                    match window.remote(&splice) {
                        WindowChange::Outside { shift } => {
                            if shift != 0 || (splice.index as usize) < was.start as usize {
                                above += 1;
                            } else {
                                below += 1;
                            }
                        }
                        WindowChange::Inside(local) => {
                            inside += 1;
                            // As setRangeText(.., "preserve") moves the caret.
                            let (li, ld) = (local.index as usize, local.delete as usize);
                            let ls = units(&local.insert).len();
                            if caret > li + ld || (caret == li + ld && ld > 0) {
                                caret = caret + ls - ld;
                            } else if caret > li {
                                caret = li;
                            }
                            apply(&mut shown, &local);
                        }
                    }
                    apply(&mut page, &splice);
                    // A caret well inside the window, untouched by the splice, stays on its
                    // character.
                    if let Some(moved) = follow(caret_page, &splice) {
                        let r = window.range();
                        if (r.start as usize) < moved && moved < r.end as usize {
                            assert_eq!(
                                window.to_page(caret as u32) as usize,
                                moved,
                                "{context}: caret"
                            );
                            assert_eq!(page.get(moved).copied(), character, "{context}");
                        }
                    }
                }
                6..=7 => {
                    // The person types or deletes in the window.
                    let local = random_splice(&mut rng, &shown, 10);
                    let global = window.local(&local);
                    apply(&mut shown, &local);
                    apply(&mut page, &global);
                    caret = local.index as usize + units(&local.insert).len();
                }
                _ => {
                    // The person scrolled: the window moves to the lines around the new view.
                    moves += 1;
                    let index = LineIndex::new(&String::from_utf16(&page).unwrap());
                    let lines = index.line_count();
                    let first = rng.random_range(0..lines);
                    let to = line_range(&index, policy.lines(first..first + 3, lines));
                    assert!(to.start == 0 || page[to.start as usize - 1] == u16::from(b'\n'));
                    assert!(
                        to.end as usize == page.len()
                            || page[to.end as usize - 1] == u16::from(b'\n')
                    );
                    let page_caret = window.to_page(caret as u32);
                    let (anchor, head) = window.move_to(to.clone(), (caret as u32, caret as u32));
                    assert_eq!(anchor, head);
                    assert_eq!(anchor, window.to_local(page_caret), "{context}");
                    caret = anchor as usize;
                    shown = page[to.start as usize..to.end as usize].to_vec();
                }
            }
            let r = window.range();
            assert!(
                r.end as usize <= page.len(),
                "{context}: {r:?} past the page"
            );
            assert_eq!(
                shown,
                page[r.start as usize..r.end as usize],
                "{context}: window {r:?}"
            );
            assert!(caret <= shown.len(), "{context}");
        }
    }
    // The random steps did reach every case.
    assert!(inside > 1000 && above > 1000 && below > 1000 && moves > 1000);
}

#[test]
fn the_policy_keeps_the_view_inside_the_window() {
    let policy = WindowPolicy::default();
    let mut rng = SmallRng::seed_from_u64(7);
    let lines = 100_000;
    let mut shown = policy.lines(0..40, lines);
    for _ in 0..10_000 {
        // Scrolls of up to a few screens either way, and jumps.
        let top: usize = if rng.random_bool(0.05) {
            rng.random_range(0..lines)
        } else {
            let by = rng.random_range(-200i64..200);
            (shown.start as i64 + policy.margin as i64 + by).clamp(0, lines as i64) as usize
        };
        let visible = top..(top + 40).min(lines);
        if policy.should_move(shown.clone(), visible.clone(), lines) {
            shown = policy.lines(visible.clone(), lines);
        }
        assert!(shown.start <= visible.start && visible.end <= shown.end);
        assert!(shown.len() <= 40 + 2 * policy.margin);
    }
}

/// `BigPage` (the page, its lines and its window together) over random steps: the textarea's
/// text kept only through what it returns equals its window, and the rows above, in and below
/// the window are the page's lines.
#[test]
fn a_big_page_keeps_its_window_and_rows() {
    use commonplace_core::text::big_page::BigPage;
    let policy = WindowPolicy {
        margin: 4,
        slack: 1,
    };
    for seed in 0..200u64 {
        let mut rng = SmallRng::seed_from_u64(seed);
        let mut page = random_page(&mut rng);
        let lines = page.iter().filter(|&&u| u == u16::from(b'\n')).count() + 1;
        let first = rng.random_range(0..lines);
        let mut big = BigPage::new(
            &String::from_utf16(&page).unwrap(),
            first..first + 2,
            policy,
        );
        let mut shown = units(&big.window_text());
        for step in 0..60 {
            let context = format!("seed {seed} step {step}");
            match rng.random_range(0..10) {
                0..=4 => {
                    let splice = random_splice(&mut rng, &page, 30);
                    if let WindowChange::Inside(local) = big.remote(&splice) {
                        apply(&mut shown, &local);
                    }
                    apply(&mut page, &splice);
                }
                5..=7 => {
                    let local = random_splice(&mut rng, &shown, 10);
                    let global = big.local(&local);
                    apply(&mut shown, &local);
                    apply(&mut page, &global);
                }
                _ => {
                    let count = big.line_count();
                    let top = rng.random_range(0..count);
                    if let Some(moved) = big.scrolled(top..(top + 2).min(count), (0, 0)) {
                        shown = units(&moved.text);
                    }
                }
            }
            assert_eq!(big.len(), page.len(), "{context}");
            assert_eq!(units(&big.window_text()), shown, "{context}");
            let r = big.window().range();
            assert_eq!(shown, page[r.start as usize..r.end as usize], "{context}");
            let count = page.iter().filter(|&&u| u == u16::from(b'\n')).count() + 1;
            let in_window = shown.iter().filter(|&&u| u == u16::from(b'\n')).count() + 1;
            let rows = big.rows();
            assert_eq!(
                rows.above + in_window + rows.below,
                count,
                "{context}: {rows:?}"
            );
        }
    }
}
