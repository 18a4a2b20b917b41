//! What one edit costs `EditorText` as the page grows: prints nanoseconds per edit at 100k and 1M
//! UTF-16 units. Ignored by default (it measures, asserts nothing about speed); run it optimised:
//!
//! ```text
//! cargo test --release -p commonplace-core --test editor_cost -- --ignored --nocapture
//! ```
//!
//! - typing: one character typed in the middle of the page through `simple_input` (the
//!   browser's fast path), as the person types;
//! - remote: a peer's one-character splice through `apply`, at offsets spread over the page, as
//!   when someone else types far from here;
//! - both: the two interleaved, two people typing in different places.

use std::hint::black_box;
use std::time::Instant;

use commonplace_core::text::diff::Splice;
use commonplace_core::text::editor::{EditorText, SimpleEdit};

const EDITS: usize = 20_000;

fn page(units: usize) -> String {
    let line = "the quick brown fox jumps over the lazy dog, 😀 é\n";
    let mut text = line.repeat(units / line.encode_utf16().count() + 1);
    while text.encode_utf16().count() > units {
        text.pop();
    }
    text
}

/// Types the `typed`-th 'x' at `middle + typed` through the fast path: the element's value is
/// `page` with `typed + 1` x's at `middle` (the fast path reads only a few units of it back).
fn type_at(editor: &mut EditorText, page: &[u16], middle: usize, typed: usize) {
    let at = (middle + typed) as u32;
    let edit = SimpleEdit {
        selection: (at, at),
        caret: at + 1,
        len: editor.len() as u32 + 1,
    };
    let value = |i: usize| {
        if i < middle {
            page[i]
        } else if i <= middle + typed {
            u16::from(b'x')
        } else {
            page[i - typed - 1]
        }
    };
    let splice = editor.simple_input(edit, |from, to| {
        let units: Vec<u16> = (from as usize..to as usize).map(value).collect();
        String::from_utf16_lossy(&units)
    });
    assert!(matches!(splice, Ok(Some(_))), "the fast path refused");
    black_box(splice.ok());
}

fn ns_per_edit(units: usize, what: &str) -> f64 {
    let text = page(units);
    let page: Vec<u16> = text.encode_utf16().collect();
    let mut editor = EditorText::new(&text);
    // Not inside a surrogate pair.
    let mut middle = page.len() / 2;
    while (0xDC00..0xE000).contains(&page[middle]) {
        middle += 1;
    }
    // Where the other person types in "both": after the typing and its context.
    let elsewhere = (page.len() / 10 * 9) as u32;
    let mut next = 0x9E37_79B9_u32;
    let start = Instant::now();
    for i in 0..EDITS {
        match what {
            "typing" => type_at(&mut editor, &page, middle, i),
            "remote" => {
                next = next.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
                let at = next % editor.len() as u32;
                editor.apply(&Splice {
                    index: at,
                    delete: 0,
                    insert: "y".into(),
                });
            }
            _ if i % 2 == 0 => type_at(&mut editor, &page, middle, i / 2),
            _ => editor.apply(&Splice {
                index: elsewhere + (i / 2) as u32,
                delete: 0,
                insert: "y".into(),
            }),
        }
    }
    let elapsed = start.elapsed();
    black_box(editor.len());
    elapsed.as_nanos() as f64 / EDITS as f64
}

#[test]
#[ignore = "a measurement: run with --release -- --ignored --nocapture"]
fn nanoseconds_per_edit() {
    for units in [1_000, 100_000, 1_000_000] {
        let typing = ns_per_edit(units, "typing");
        let remote = ns_per_edit(units, "remote");
        let both = ns_per_edit(units, "both");
        println!(
            "{units:>9} units: typing {typing:>8.0} ns/edit, remote {remote:>8.0} ns/edit, both {both:>8.0} ns/edit"
        );
    }
}
