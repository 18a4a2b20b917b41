//! Text as the editor holds it: UTF-16 splices (`diff`), the mirror of what the `<textarea>`
//! shows (`editor`, kept in `utf16_chunks`), and the text's lines (`lines`), all in UTF-16 units
//! as the browser counts.

pub mod diff;
pub mod editor;
pub mod lines;
mod prefix_sums;
mod utf16_chunks;

pub use diff::Splice;
pub use editor::EditorText;
pub use lines::LineIndex;
