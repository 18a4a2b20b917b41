//! One component per file.

pub mod room_view;
pub mod saved_badge;
pub mod share_link;
pub mod status_badge;
