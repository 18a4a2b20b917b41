//! Text as the editor holds it: UTF-16 splices (`diff`, and by line `line_diff`), the mirror of what the `<textarea>`
//! shows (`editor`, kept in `utf16_chunks`), the text's lines (`lines`), and the window of a big
//! page an editor holds (`window`, and `big_page` the page with it), all in UTF-16 units as the browser counts.

pub mod big_page;
pub mod diff;
pub mod editor;
pub mod line_diff;
pub mod lines;
mod prefix_sums;
pub mod utf16;
mod utf16_chunks;
pub mod window;

pub use diff::Splice;
pub use editor::EditorText;
pub use lines::LineIndex;
pub use window::{TextWindow, WindowChange, WindowPolicy};
