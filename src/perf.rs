//! User Timing measures (`cp:…`) around the steps a large sync takes, so a benchmark (and anyone
//! with DevTools' Performance panel) can see where the time goes. Only steps that took a while
//! are recorded: typing would otherwise fill the timeline with thousands of tiny entries.
//! And performance marks (`commonplace:…`) at the milestones of joining a room, where the time
//! to "connected" goes (connect_bench.mjs prints them).

use wasm_bindgen::{JsCast, JsValue};

/// Steps shorter than this are not recorded, ms.
const MIN_MS: f64 = 4.0;

/// Records `cp:<name>` from its creation until it is dropped, if that took at least [`MIN_MS`].
pub struct Span {
    name: &'static str,
    start: f64,
}

pub fn span(name: &'static str) -> Span {
    Span { name, start: now() }
}

impl Drop for Span {
    fn drop(&mut self) {
        let end = now();
        if end - self.start < MIN_MS {
            return;
        }
        let Some(performance) = gloo::utils::window().performance() else {
            return;
        };
        // `performance.measure(name, { start, end })`: web-sys binds only the mark-name forms.
        let options = js_sys::Object::new();
        let _ = js_sys::Reflect::set(&options, &"start".into(), &JsValue::from_f64(self.start));
        let _ = js_sys::Reflect::set(&options, &"end".into(), &JsValue::from_f64(end));
        if let Ok(measure) = js_sys::Reflect::get(&performance, &"measure".into()) {
            if let Some(measure) = measure.dyn_ref::<js_sys::Function>() {
                let name = JsValue::from_str(&format!("cp:{}", self.name));
                let _ = measure.call2(&performance, &name, &options);
            }
        }
    }
}

/// `performance.now()`, ms.
pub fn now() -> f64 {
    gloo::utils::window().performance().map_or(0.0, |p| p.now())
}

// Milestones of joining a room.

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
