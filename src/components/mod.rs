//! One component per file.

pub mod backlinks;
pub mod files;
pub mod page_list;
pub mod people;
pub mod room_view;
pub mod saved_badge;
pub mod search;
pub mod share_link;
pub mod sidebar;
pub mod status_badge;
