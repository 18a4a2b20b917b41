//! What the page's `<textarea>` shows, kept in step with the page.
//!
//! The element reports only its new value after an input event; comparing it with this mirror
//! recovers the splice the person made. Remote splices are applied to both the element and this
//! mirror, so the two always hold the same UTF-16 text.

use crate::text_diff::{self, Splice};

#[derive(Debug, Default, Clone)]
pub struct EditorText {
    units: Vec<u16>,
}

impl EditorText {
    pub fn new(text: &str) -> Self {
        EditorText {
            units: text.encode_utf16().collect(),
        }
    }

    /// The person changed the element's value to `value`, leaving the caret at `caret`
    /// (UTF-16): returns the splice to apply to the page, if anything changed.
    pub fn input(&mut self, value: &str, caret: Option<u32>) -> Option<Splice> {
        let new: Vec<u16> = value.encode_utf16().collect();
        let splice = text_diff::diff(&self.units, &new, caret.map(|c| c as usize))?;
        self.units = new;
        Some(splice)
    }

    /// A splice that came from a peer and is now in the page.
    pub fn apply(&mut self, splice: &Splice) {
        text_diff::apply(&mut self.units, splice);
    }

    pub fn text(&self) -> String {
        String::from_utf16_lossy(&self.units)
    }

    /// Length in UTF-16 code units, as the element counts.
    pub fn len(&self) -> usize {
        self.units.len()
    }

    pub fn is_empty(&self) -> bool {
        self.units.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn input_then_remote_splices_stay_in_step() {
        let mut editor = EditorText::new("hello");
        let splice = editor.input("hello!", Some(6)).unwrap();
        assert_eq!(
            (splice.index, splice.delete, splice.insert.as_str()),
            (5, 0, "!")
        );
        editor.apply(&Splice {
            index: 0,
            delete: 1,
            insert: "J".into(),
        });
        assert_eq!(editor.text(), "Jello!");
        assert_eq!(editor.input("Jello!", Some(2)), None);
    }
}
