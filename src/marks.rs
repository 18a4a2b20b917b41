//! Performance marks at the milestones of joining a room (`performance.getEntriesByType("mark")`
//! in the console, or a benchmark): where the time to "connected" goes. Marks are cheap and
//! nothing depends on them.

/// The app started (wasm loaded and running).
pub const START: &str = "commonplace:start";
/// The room view asked to join (after the app's first render).
pub const JOIN: &str = "commonplace:join";
/// The room key is derived (keyed rooms only).
pub const KEY: &str = "commonplace:key";
/// The signaling socket opened.
pub const SIGNALING: &str = "commonplace:signaling";
/// The stored notebook is loaded and shown.
pub const STORE: &str = "commonplace:store";
/// The first data channel to a peer opened.
pub const PEER: &str = "commonplace:peer";

pub fn mark(name: &str) {
    if let Some(performance) = gloo::utils::window().performance() {
        let _ = performance.mark(name);
    }
}
