//! Text as the editor holds it: UTF-16 splices (`diff`) and the mirror of what the `<textarea>`
//! shows (`editor`).

pub mod diff;
pub mod editor;

pub use diff::Splice;
pub use editor::EditorText;
