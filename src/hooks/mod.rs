//! Hooks that own browser resources for components.

pub mod use_session;
pub mod use_shortcuts;
