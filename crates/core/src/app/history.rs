//! How the History panel shows a page then against now: changed lines with a few unchanged
//! ones around them, and long unchanged runs folded into one row (a page of thousands of lines
//! with one change shows that change, not thousands of rows).

use crate::room::ChangedLine;

/// Unchanged lines shown on each side of a change.
pub const CONTEXT: usize = 3;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DiffRow<'a> {
    Line(&'a ChangedLine),
    /// This many unchanged lines, not shown.
    Folded(usize),
}

/// The rows to show for `lines`, keeping `context` unchanged lines around each change. A fold
/// of a single line is shown as the line (the row would take as much room).
pub fn fold_unchanged(lines: &[ChangedLine], context: usize) -> Vec<DiffRow<'_>> {
    let changed: Vec<bool> = lines
        .iter()
        .map(|line| !matches!(line, ChangedLine::Same(_)))
        .collect();
    // Distance to the nearest change, both ways, decides whether an unchanged line is shown.
    let mut near = vec![false; lines.len()];
    let mut since = usize::MAX;
    for i in 0..lines.len() {
        since = if changed[i] {
            0
        } else {
            since.saturating_add(1)
        };
        near[i] = since <= context;
    }
    since = usize::MAX;
    for i in (0..lines.len()).rev() {
        since = if changed[i] {
            0
        } else {
            since.saturating_add(1)
        };
        near[i] |= since <= context;
    }
    let mut rows = Vec::new();
    let mut i = 0;
    while i < lines.len() {
        if near[i] {
            rows.push(DiffRow::Line(&lines[i]));
            i += 1;
            continue;
        }
        let start = i;
        while i < lines.len() && !near[i] {
            i += 1;
        }
        match i - start {
            1 => rows.push(DiffRow::Line(&lines[start])),
            n => rows.push(DiffRow::Folded(n)),
        }
    }
    rows
}

/// What the person is asked before the whole notebook is restored: what it does to pages, and
/// that it is undone like any change. `when`: the version's time as shown.
pub fn restore_question(added_since: usize, removed_since: usize, when: &str) -> String {
    let mut question = format!("Restore the whole notebook as it was on {when}?");
    let pages = |n: usize| {
        if n == 1 {
            "1 page".to_owned()
        } else {
            format!("{n} pages")
        }
    };
    if added_since > 0 {
        question.push_str(&format!(
            " {} added since will be removed.",
            pages(added_since)
        ));
    }
    if removed_since > 0 {
        question.push_str(&format!(
            " {} removed since will come back.",
            pages(removed_since)
        ));
    }
    question.push_str(" Everyone in the room gets it as a change; Undo takes it back.");
    question
}

#[cfg(test)]
mod tests {
    use super::*;

    fn same(n: usize) -> Vec<ChangedLine> {
        (0..n)
            .map(|i| ChangedLine::Same(format!("line {i}")))
            .collect()
    }

    #[test]
    fn a_change_in_a_long_page_shows_with_its_context_and_folds_the_rest() {
        let mut lines = same(100);
        lines[50] = ChangedLine::Added("new".into());
        let rows = fold_unchanged(&lines, 3);
        assert_eq!(rows.len(), 1 + 7 + 1);
        assert_eq!(rows[0], DiffRow::Folded(47));
        assert_eq!(rows[4], DiffRow::Line(&lines[50]));
        assert_eq!(rows[8], DiffRow::Folded(46));
    }

    #[test]
    fn nothing_changed_is_one_fold_and_a_fold_of_one_line_is_the_line() {
        let lines = same(10);
        assert_eq!(fold_unchanged(&lines, 3), vec![DiffRow::Folded(10)]);
        let mut lines = same(9);
        lines[0] = ChangedLine::Removed("a".into());
        lines[8] = ChangedLine::Removed("b".into());
        // Lines 4 is the only one farther than 3 from a change.
        let rows = fold_unchanged(&lines, 3);
        assert_eq!(rows.len(), 9);
        assert!(rows.iter().all(|r| matches!(r, DiffRow::Line(_))));
        assert!(fold_unchanged(&[], 3).is_empty());
    }

    #[test]
    fn the_restore_question_says_what_happens_to_pages() {
        let q = restore_question(1, 2, "1 Dec, 10:00");
        assert!(q.contains("1 page added since will be removed"), "{q}");
        assert!(q.contains("2 pages removed since will come back"), "{q}");
        assert!(!restore_question(0, 0, "x").contains("pages"));
    }
}
