//! `EditorText::simple_input` (the browser's fast path: the selection before an edit, the caret
//! and length after it) against `EditorText::input` (diffing the whole value), on random texts
//! with surrogate pairs, ZWJ sequences and newlines.
//!
//! - Simple edits (typing, backspace, forward delete, replacing or cutting a selection) give
//!   exactly the splice `input` gives, or are refused only when a cut splits a surrogate pair.
//! - Edits the reported numbers do not describe (an autocorrection next to the caret, a
//!   double-space period, numbers that do not fit at all) never leave a wrong text when the
//!   change lies within [`SIMPLE_CONTEXT`] units of the edit the numbers describe: `simple_input`
//!   refuses, or its splice is right. Changes farther away cannot be seen without reading the
//!   whole value (which is what the fast path avoids): the browser takes the fast path only for
//!   input types that are simple edits. They are counted, not asserted.

mod support;

use commonplace_core::text::diff::{self, Splice};
use commonplace_core::text::editor::{EditorText, NotSimple, SimpleEdit, SIMPLE_CONTEXT};
use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};

const PIECES: &[&str] = &[
    "a",
    "a",
    "b",
    "ab",
    " ",
    "\n",
    "é",
    "日本",
    "😀",
    "😃",
    "🎉",
    "👩‍👩‍👧",
    "x\n",
    "aa",
];

fn random_text(rng: &mut SmallRng, max_pieces: usize) -> String {
    (0..rng.random_range(0..=max_pieces))
        .map(|_| PIECES[rng.random_range(0..PIECES.len())])
        .collect()
}

fn units(text: &str) -> Vec<u16> {
    text.encode_utf16().collect()
}

fn is_low_surrogate(unit: u16) -> bool {
    (0xDC00..0xE000).contains(&unit)
}

/// Offsets that do not split a surrogate pair.
fn cuts(text: &[u16]) -> Vec<usize> {
    (0..=text.len())
        .filter(|&i| !text.get(i).is_some_and(|&u| is_low_surrogate(u)))
        .collect()
}

/// `value.slice(from, to)` as JavaScript does it: clamped, and converted to a Rust string
/// (lone surrogates become U+FFFD).
fn js_slice(value: &[u16], from: u32, to: u32) -> String {
    let to = (to as usize).min(value.len());
    let from = (from as usize).min(to);
    String::from_utf16_lossy(&value[from..to])
}

/// An edit as the element reports it, and the value it leaves.
struct Case {
    old: Vec<u16>,
    new: Vec<u16>,
    edit: SimpleEdit,
}

fn splice_units(old: &[u16], from: usize, to: usize, insert: &[u16]) -> Vec<u16> {
    let mut new = old[..from].to_vec();
    new.extend_from_slice(insert);
    new.extend_from_slice(&old[to..]);
    new
}

/// A random simple edit of `old`. With `anywhere`, cuts may split surrogate pairs (a browser
/// does not put the caret there, but nothing stops a script from doing it).
fn simple_case(rng: &mut SmallRng, old: Vec<u16>, anywhere: bool) -> Case {
    let cuts = if anywhere {
        (0..=old.len()).collect()
    } else {
        cuts(&old)
    };
    let pick = |rng: &mut SmallRng| cuts[rng.random_range(0..cuts.len())];
    let (mut a, mut b) = (pick(rng), pick(rng));
    if a > b {
        std::mem::swap(&mut a, &mut b);
    }
    let inserted = units(&random_text(rng, 3));
    let nonempty = if inserted.is_empty() {
        units("z")
    } else {
        inserted.clone()
    };
    // (selection before, replaced range, inserted text); the caret ends after the insert.
    let (selection, (from, to), insert) = match rng.random_range(0..5) {
        // Typing or pasting at the caret.
        0 => ((a, a), (a, a), nonempty),
        // Replacing the selection (pasting over it, typing over it, cutting it).
        1 => ((a, b), (a, b), inserted),
        // Backspace (or delete word backward): the caret was at b.
        2 => ((b, b), (a, b), Vec::new()),
        // Delete forward: the caret stays at a.
        3 => ((a, a), (a, b), Vec::new()),
        // Typing over a selection with the same start as what it replaces: "the" → "t".
        _ => {
            let typed: Vec<u16> = old[a..b].iter().take(2).copied().collect();
            ((a, b), (a, b), typed)
        }
    };
    let new = splice_units(&old, from, to, &insert);
    let edit = SimpleEdit {
        selection: (selection.0 as u32, selection.1 as u32),
        caret: (from + insert.len()) as u32,
        len: new.len() as u32,
    };
    Case { old, new, edit }
}

/// What `input` and `simple_input` make of a case, each on its own copy of the mirror.
fn both(
    case: &Case,
) -> (
    Option<Splice>,
    EditorText,
    Result<Option<Splice>, NotSimple>,
    EditorText,
) {
    let old = String::from_utf16(&case.old).expect("texts are whole");
    let new = String::from_utf16_lossy(&case.new);
    let mut diffed = EditorText::new(&old);
    let expected = diffed.input(&new, Some(case.edit.caret));
    let mut fast = EditorText::new(&old);
    let got = fast.simple_input(case.edit, |a, b| js_slice(&case.new, a, b));
    (expected, diffed, got, fast)
}

/// Whether a cut of the edit (the selection, the replaced range, the caret) splits a pair.
fn splits_a_pair(case: &Case) -> bool {
    let low = |text: &[u16], at: u32| text.get(at as usize).is_some_and(|&u| is_low_surrogate(u));
    let SimpleEdit {
        selection: (s, e),
        caret,
        len,
    } = case.edit;
    let to = caret as i64 - (len as i64 - case.old.len() as i64);
    low(&case.old, s)
        || low(&case.old, e)
        || low(&case.old, s.min(caret))
        || low(&case.old, to.max(0) as u32)
        || low(&case.new, caret)
}

#[test]
fn simple_edits_give_the_same_splice_as_diffing_the_value() {
    let cases = support::seed_count("SIMPLE_CASES", 20_000);
    let mut rng = SmallRng::seed_from_u64(0x0051_171E);
    let (mut refused, mut split_cases, mut unchanged) = (0, 0, 0);
    for n in 0..cases {
        let old = units(&random_text(&mut rng, 24));
        let anywhere = n % 10 == 9;
        let case = simple_case(&mut rng, old, anywhere);
        let (expected, diffed, got, fast) = both(&case);
        let splits = splits_a_pair(&case);
        split_cases += splits as u32;
        match got {
            Ok(splice) => {
                assert_eq!(
                    splice,
                    expected,
                    "case {n}: {:?} → {:?} by {:?}",
                    String::from_utf16_lossy(&case.old),
                    String::from_utf16_lossy(&case.new),
                    case.edit
                );
                assert_eq!(fast.text(), diffed.text(), "case {n}");
                unchanged += splice.is_none() as u32;
            }
            Err(NotSimple) => {
                assert!(
                    splits,
                    "case {n}: refused a simple edit: {:?} → {:?} by {:?}",
                    String::from_utf16_lossy(&case.old),
                    String::from_utf16_lossy(&case.new),
                    case.edit
                );
                refused += 1;
                assert_eq!(fast.len(), case.old.len(), "a refusal changes nothing");
            }
        }
    }
    println!(
        "{cases} simple edits: {refused} refused ({split_cases} split a surrogate pair), \
         {unchanged} changed nothing"
    );
}

/// A change the reported numbers do not describe, with the old text range it touches.
struct Misreported {
    case: Case,
    /// The old units `[lo, hi)` differ from what the reported edit says (a superset of them).
    lo: usize,
    hi: usize,
}

/// A simple edit, plus a change next to it that the numbers do not mention (an autocorrection
/// of the word before, a double-space period, a smart quote): the browser says "insertText"
/// but changed more.
fn near_miss(rng: &mut SmallRng, old: Vec<u16>) -> Misreported {
    let simple = simple_case(rng, old, false);
    let SimpleEdit {
        selection: _,
        caret,
        len,
    } = simple.edit;
    let old = simple.old;
    let delta = len as i64 - old.len() as i64;
    let (from, to) = (
        simple.edit.selection.0.min(caret) as usize,
        (caret as i64 - delta) as usize,
    );
    let inserted = simple.new[from..caret as usize].to_vec();
    let cuts = cuts(&old);
    let reach = SIMPLE_CONTEXT as usize + 3;
    let left: Vec<usize> = cuts
        .iter()
        .copied()
        .filter(|&c| c <= from && from - c <= reach)
        .collect();
    let right: Vec<usize> = cuts
        .iter()
        .copied()
        .filter(|&c| c >= to && c - to <= reach)
        .collect();
    let lo = left[rng.random_range(0..left.len())];
    let hi = right[rng.random_range(0..right.len())];
    let before = units(&random_text(rng, 2));
    let after = units(&random_text(rng, 1));
    let (before, after) = match rng.random_range(0..3) {
        0 => (before, old[to..hi].to_vec()),
        1 => (old[lo..from].to_vec(), after),
        _ => (before, after),
    };
    // The double-space period: ". " for the space before the caret.
    let (lo, before) = if rng.random_bool(0.1) && from > 0 && old[from - 1] == b' ' as u16 {
        (from - 1, units(". "))
    } else {
        (lo, before)
    };
    let mut middle = before.clone();
    middle.extend_from_slice(&inserted);
    let caret = lo + middle.len();
    middle.extend_from_slice(&after);
    let new = splice_units(&old, lo, hi, &middle);
    let edit = SimpleEdit {
        caret: caret as u32,
        len: new.len() as u32,
        ..simple.edit
    };
    Misreported {
        case: Case { old, new, edit },
        lo,
        hi,
    }
}

/// Any change of a range, reported with numbers that may or may not fit it: a random
/// selection and a random caret.
fn random_report(rng: &mut SmallRng, old: Vec<u16>) -> Misreported {
    let (mut lo, mut hi) = (
        rng.random_range(0..=old.len()),
        rng.random_range(0..=old.len()),
    );
    if lo > hi {
        std::mem::swap(&mut lo, &mut hi);
    }
    let new = splice_units(&old, lo, hi, &units(&random_text(rng, 3)));
    let near = |rng: &mut SmallRng, at: usize, max: usize| {
        let off = rng.random_range(0..=6) as i64 - 3;
        (at as i64 + off).clamp(0, max as i64) as u32
    };
    let (mut s, mut e) = (near(rng, lo, old.len() + 1), near(rng, hi, old.len() + 1));
    if rng.random_bool(0.8) && s > e {
        std::mem::swap(&mut s, &mut e);
    }
    let caret = if rng.random_bool(0.5) {
        rng.random_range(0..=new.len() as u32 + 1)
    } else {
        near(
            rng,
            lo + (new.len() + hi).saturating_sub(old.len() + lo),
            new.len(),
        )
    };
    let edit = SimpleEdit {
        selection: (s, e),
        caret,
        len: new.len() as u32,
    };
    Misreported {
        case: Case { old, new, edit },
        lo,
        hi,
    }
}

/// The old range `[from, to)` the numbers say was replaced, if they fit at all.
fn claimed(case: &Case) -> Option<(usize, usize)> {
    let SimpleEdit {
        selection: (s, e),
        caret,
        len,
    } = case.edit;
    let delta = len as i64 - case.old.len() as i64;
    let (from, to) = (s.min(caret) as i64, caret as i64 - delta);
    (s <= e && e as i64 <= to && from <= to && to <= case.old.len() as i64 && caret <= len)
        .then_some((from as usize, to as usize))
}

#[derive(Debug, Default)]
struct Outcomes {
    cases: u32,
    refused: u32,
    right: u32,
    /// Accepted with a wrong text, the change too far from the edit to be seen.
    wrong_far: u32,
}

fn check_misreported(n: u64, m: &Misreported, outcomes: &mut Outcomes) {
    let case = &m.case;
    outcomes.cases += 1;
    let (_, _, got, fast) = both(case);
    let truth = String::from_utf16_lossy(&case.new);
    match got {
        Err(NotSimple) => {
            outcomes.refused += 1;
            assert_eq!(fast.len(), case.old.len(), "a refusal changes nothing");
        }
        Ok(splice) => {
            // Whatever it says, the splice is what it did to the mirror.
            let mut old = case.old.clone();
            if let Some(splice) = &splice {
                diff::apply(&mut old, splice);
            }
            assert_eq!(String::from_utf16_lossy(&old), fast.text(), "case {n}");
            assert_eq!(
                fast.len(),
                case.new.len(),
                "case {n}: the length is checked"
            );
            if fast.text() == truth {
                outcomes.right += 1;
                return;
            }
            let (from, to) = claimed(case).expect("accepted numbers fit");
            let context = SIMPLE_CONTEXT as usize;
            let seen = from.saturating_sub(context) <= m.lo && m.hi <= to + context;
            assert!(
                !seen,
                "case {n}: a change next to the edit went unnoticed: {:?} → {:?} by {:?} gave {:?}",
                String::from_utf16_lossy(&case.old),
                truth,
                case.edit,
                fast.text()
            );
            outcomes.wrong_far += 1;
        }
    }
}

#[test]
fn edits_the_numbers_do_not_describe_never_leave_a_wrong_text_nearby() {
    let cases = support::seed_count("SIMPLE_CASES", 20_000);
    let mut rng = SmallRng::seed_from_u64(0xBAD_ED17);
    let (mut near, mut random) = (Outcomes::default(), Outcomes::default());
    for n in 0..cases {
        let old = units(&random_text(&mut rng, 24));
        if n % 2 == 0 {
            check_misreported(n, &near_miss(&mut rng, old), &mut near);
        } else {
            check_misreported(n, &random_report(&mut rng, old), &mut random);
        }
    }
    println!("misreported next to the edit: {near:?}");
    println!("random numbers: {random:?}");
    assert!(near.refused > near.cases / 4, "{near:?}");
}
