//! One component per file.

pub mod backlinks;
pub mod files;
pub mod history_panel;
pub mod link_suggestions;
pub mod notebook_list;
pub mod notebook_title;
pub mod page_list;
pub mod people;
pub mod rename_input;
pub mod room_view;
pub mod saved_badge;
pub mod search;
pub mod server_copy_badge;
pub mod share_link;
pub mod sidebar;
pub mod status_badge;

/// What an untitled page is called wherever titles are shown.
pub fn shown_title(title: &str) -> String {
    if title.trim().is_empty() {
        "Untitled".to_owned()
    } else {
        title.to_owned()
    }
}
