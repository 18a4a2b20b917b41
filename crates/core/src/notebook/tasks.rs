//! Task-list checkboxes clicked in the preview, turned back into edits of the source.
//!
//! The preview numbers its checkboxes in the page's order (`data-task="N"`, see
//! [`super::markdown`]); the same parser finds the N-th task marker here, so a checkbox and its
//! `[ ]` agree by construction.

use pulldown_cmark::{Event, Parser};

use super::markdown::options;
use crate::text::diff::Splice;
use crate::text::utf16;

/// The splice that toggles the `task`-th task marker (`[ ]` ↔ `[x]`, `[X]` too) of `markdown`,
/// which the preview showed as `checked`. `None` if the text changed since: no such marker, or
/// it no longer reads as it was shown (toggling it would do the opposite of what was clicked).
pub fn toggle(markdown: &str, task: usize, checked: bool) -> Option<Splice> {
    let (range, now_checked) = Parser::new_ext(markdown, options())
        .into_offset_iter()
        .filter_map(|(event, range)| match event {
            Event::TaskListMarker(checked) => Some((range, checked)),
            _ => None,
        })
        .nth(task)?;
    if now_checked != checked {
        return None;
    }
    // The marker's box, `[` then one character then `]`, at the start of its range.
    let source = markdown.get(range.clone())?;
    let open = source.find('[')?;
    let inside = range.start + open + 1;
    let mark = markdown.get(inside..inside + 1)?;
    let expected = if checked {
        ["x", "X"].contains(&mark)
    } else {
        mark == " "
    };
    if !expected || markdown.get(inside + 1..inside + 2) != Some("]") {
        return None;
    }
    Some(Splice {
        index: utf16::len(&markdown[..inside]) as u32,
        delete: 1,
        insert: if checked { " " } else { "x" }.to_owned(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn apply(text: &str, splice: &Splice) -> String {
        let mut units = utf16::units(text);
        let at = splice.index as usize;
        let insert: Vec<u16> = splice.insert.encode_utf16().collect();
        units.splice(at..at + splice.delete as usize, insert);
        String::from_utf16(&units).unwrap()
    }

    fn toggled(text: &str, task: usize, checked: bool) -> Option<String> {
        toggle(text, task, checked).map(|splice| apply(text, &splice))
    }

    #[test]
    fn toggles_the_nth_marker_both_ways() {
        let text = "- [ ] milk\n- [x] bread\n- [X] eggs";
        assert_eq!(
            toggled(text, 0, false).unwrap(),
            "- [x] milk\n- [x] bread\n- [X] eggs"
        );
        assert_eq!(
            toggled(text, 1, true).unwrap(),
            "- [ ] milk\n- [ ] bread\n- [X] eggs"
        );
        assert_eq!(
            toggled(text, 2, true).unwrap(),
            "- [ ] milk\n- [x] bread\n- [ ] eggs"
        );
    }

    #[test]
    fn offsets_count_utf16_units_and_skip_what_is_not_a_task() {
        // An emoji is two units; a `[ ]` in code or in a plain paragraph is no task.
        let text =
            "😀 `- [ ] no`\n\n    - [ ] code\n\n[ ] not a list\n\n1. [ ] 😀\n   - [x] nested";
        let splice = toggle(text, 0, false).unwrap();
        assert_eq!(apply(text, &splice).matches("[x]").count(), 2);
        assert!(apply(text, &splice).contains("1. [x] 😀"));
        assert_eq!(
            toggled(text, 1, true).unwrap(),
            text.replace("- [x] nested", "- [ ] nested")
        );
    }

    #[test]
    fn refuses_when_the_text_changed() {
        let text = "- [ ] milk\n- [x] bread";
        // No third task; the first is no longer as shown (someone ticked it meanwhile).
        assert_eq!(toggle(text, 2, false), None);
        assert_eq!(toggle(text, 0, true), None);
        assert_eq!(toggle("", 0, false), None);
        assert_eq!(toggle("- plain item", 0, false), None);
    }

    #[test]
    fn the_renderer_numbers_the_same_markers() {
        let text = "- [ ] a\n\n```\n- [ ] not\n```\n\n> - [x] quoted";
        let html = super::super::markdown::render(text, &|_| true);
        assert!(html.contains("data-task=\"0\">"), "{html}");
        assert!(html.contains("data-task=\"1\" checked>"), "{html}");
        assert!(!html.contains("data-task=\"2\""), "{html}");
        assert_eq!(
            toggled(text, 1, true).unwrap(),
            text.replace("[x] quoted", "[ ] quoted")
        );
    }
}
