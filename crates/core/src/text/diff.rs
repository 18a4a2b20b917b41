//! The smallest splice that turns one text into another, in UTF-16 code units.
//!
//! A `<textarea>` reports only its new value after an input event; the edit it made is recovered
//! here. Offsets are UTF-16 because that is how browsers count (`selectionStart`, `setRangeText`)
//! and how the document is configured (`OffsetKind::Utf16`).

/// Replace `delete` units at `index` with `insert`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Splice {
    pub index: u32,
    pub delete: u32,
    pub insert: String,
}

impl Splice {
    /// This splice and `next` (applied after it) as one, when `next` inserts right after what
    /// this one inserted, or right before it: typing, as a flood of small updates brings it.
    pub fn then(&self, next: &Splice) -> Option<Splice> {
        if next.delete != 0 {
            return None;
        }
        let end = self.index + super::utf16::len(&self.insert) as u32;
        let insert = if next.index == end {
            format!("{}{}", self.insert, next.insert)
        } else if next.index == self.index {
            format!("{}{}", next.insert, self.insert)
        } else {
            return None;
        };
        Some(Splice {
            index: self.index,
            delete: self.delete,
            insert,
        })
    }
}

/// The splice turning `old` into `new`, or `None` when they are equal.
///
/// `caret` is where the caret sits in `new` after the edit: the change must end at or after it,
/// which places an edit inside a run of equal characters where the person made it (typing "a"
/// between the two letters of "aa" is an insert at 1, not at 2).
pub fn diff(old: &[u16], new: &[u16], caret: Option<usize>) -> Option<Splice> {
    if old == new {
        return None;
    }
    let max_common = old.len().min(new.len());
    let (mut prefix, mut suffix) = match caret {
        Some(caret) => {
            let suffix = common_suffix(old, new, max_common).min(new.len().saturating_sub(caret));
            (common_prefix(old, new, max_common - suffix), suffix)
        }
        None => {
            let prefix = common_prefix(old, new, max_common);
            (prefix, common_suffix(old, new, max_common - prefix))
        }
    };
    // Never split a surrogate pair: move the cut before a high surrogate and after a low one.
    if prefix > 0 && is_high_surrogate(new[prefix - 1]) {
        prefix -= 1;
    }
    if suffix > 0 && is_low_surrogate(new[new.len() - suffix]) {
        suffix -= 1;
    }
    Some(Splice {
        index: prefix as u32,
        delete: (old.len() - prefix - suffix) as u32,
        insert: String::from_utf16_lossy(&new[prefix..new.len() - suffix]),
    })
}

fn common_prefix(a: &[u16], b: &[u16], limit: usize) -> usize {
    a.iter()
        .zip(b)
        .take(limit)
        .take_while(|(x, y)| x == y)
        .count()
}

fn common_suffix(a: &[u16], b: &[u16], limit: usize) -> usize {
    a.iter()
        .rev()
        .zip(b.iter().rev())
        .take(limit)
        .take_while(|(x, y)| x == y)
        .count()
}

fn is_high_surrogate(unit: u16) -> bool {
    (0xD800..0xDC00).contains(&unit)
}

fn is_low_surrogate(unit: u16) -> bool {
    (0xDC00..0xE000).contains(&unit)
}

/// Applies a splice to UTF-16 text, clamping out-of-range offsets.
pub fn apply(text: &mut Vec<u16>, splice: &Splice) {
    let start = (splice.index as usize).min(text.len());
    let end = (start + splice.delete as usize).min(text.len());
    text.splice(start..end, splice.insert.encode_utf16());
}

/// Where a selection offset goes when `splice` is written over the text, as `setRangeText`
/// places it: with `end` (the caret after the change: undo and redo) every offset goes to the
/// end of what was inserted; otherwise ("preserve") an offset after the replaced units moves by
/// the change in length, one inside them goes to its start (`is_end: false`, the selection's
/// start) or to the end of the insertion (`is_end: true`), and one before them stays. The
/// editor writes others' changes with the browser's own editing, which leaves the selection
/// after the change, and puts it back here.
pub fn selection_after(splice: &Splice, offset: u32, is_end: bool, end: bool) -> u32 {
    let start = splice.index;
    let replaced_end = start.saturating_add(splice.delete);
    let inserted_end = start.saturating_add(splice.insert.encode_utf16().count() as u32);
    if end {
        inserted_end
    } else if offset > replaced_end {
        offset - splice.delete + (inserted_end - start)
    } else if offset > start {
        if is_end {
            inserted_end
        } else {
            start
        }
    } else {
        offset
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_selection_moves_as_set_range_text_would_move_it() {
        // "hello world": "lo w" (3..7) becomes "LL".
        let s = Splice {
            index: 3,
            delete: 4,
            insert: "LL".into(),
        };
        let at = |offset, is_end| selection_after(&s, offset, is_end, false);
        assert_eq!(at(2, false), 2, "before the change");
        assert_eq!(at(3, false), 3, "at its start");
        assert_eq!(at(5, false), 3, "inside it, a start");
        assert_eq!(at(5, true), 5, "inside it, an end");
        assert_eq!(at(7, true), 5, "at its end");
        assert_eq!(at(9, false), 7, "after it");
        assert_eq!(selection_after(&s, 0, false, true), 5, "undo: after it");
        // A caret where a peer inserts stays before the insertion.
        let insert = Splice {
            index: 4,
            delete: 0,
            insert: "ab".into(),
        };
        assert_eq!(selection_after(&insert, 4, false, false), 4);
        assert_eq!(selection_after(&insert, 4, true, false), 4);
        assert_eq!(selection_after(&insert, 5, true, false), 7);
    }

    fn units(s: &str) -> Vec<u16> {
        s.encode_utf16().collect()
    }

    fn splice(old: &str, new: &str, caret: Option<usize>) -> Option<(u32, u32, String)> {
        diff(&units(old), &units(new), caret).map(|s| (s.index, s.delete, s.insert))
    }

    #[test]
    fn equal_texts_have_no_splice() {
        assert_eq!(splice("abc", "abc", Some(1)), None);
    }

    #[test]
    fn caret_places_inserts_and_deletes_in_runs() {
        assert_eq!(splice("aa", "aaa", Some(2)), Some((1, 0, "a".into())));
        assert_eq!(splice("aa", "aaa", Some(3)), Some((2, 0, "a".into())));
        assert_eq!(splice("aa", "aaa", None), Some((2, 0, "a".into())));
        assert_eq!(splice("aaa", "aa", Some(1)), Some((1, 1, "".into())));
        assert_eq!(splice("aaa", "aa", Some(0)), Some((0, 1, "".into())));
    }

    #[test]
    fn replacement_of_a_selection() {
        assert_eq!(
            splice("hello world", "hello there", Some(11)),
            Some((6, 5, "there".into()))
        );
        assert_eq!(splice("abc", "", Some(0)), Some((0, 3, "".into())));
        assert_eq!(splice("", "xyz", Some(3)), Some((0, 0, "xyz".into())));
    }

    #[test]
    fn surrogate_pairs_stay_whole() {
        // 👩 and 🎉 share their high surrogate (U+D83C vs U+D83D differ, so use two with equal highs).
        let (old, new) = ("x😀y", "x😃y");
        let s = diff(&units(old), &units(new), Some(3)).unwrap();
        assert_eq!((s.index, s.delete, s.insert.as_str()), (1, 2, "😃"));
        let mut text = units(old);
        apply(&mut text, &s);
        assert_eq!(String::from_utf16(&text).unwrap(), new);
        assert_eq!(splice("a🎉", "a", Some(1)), Some((1, 2, "".into())));
    }

    #[test]
    fn diff_then_apply_round_trips() {
        let cases = [
            ("", "é"),
            ("日本", "日本語"),
            ("a👩‍👩‍👧b", "ab"),
            ("abcabc", "abXabc"),
            ("tää", "tä"),
        ];
        for (old, new) in cases {
            for caret in 0..=units(new).len() {
                let s = diff(&units(old), &units(new), Some(caret)).unwrap();
                let mut text = units(old);
                apply(&mut text, &s);
                assert_eq!(
                    String::from_utf16(&text).unwrap(),
                    new,
                    "{old:?} → {new:?} caret {caret}"
                );
            }
        }
    }
}
