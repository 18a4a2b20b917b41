//! Work that waits until the next frame is painted: what the first page does not need (the
//! rest of a long page list, backlinks read from every page) comes after it is on screen.

use js_sys::{Function, Object, Reflect};
use wasm_bindgen::closure::Closure;
use wasm_bindgen::{JsCast, JsValue};

/// How long work waits for the browser to be idle after the frame, at most, ms.
const IDLE_TIMEOUT_MS: f64 = 100.0;

/// Runs `then` once, after the next frame is painted, when the browser is idle: from an
/// animation-frame callback, `requestIdleCallback` (which runs after that frame, and after the
/// tasks waiting then: input, and whatever else the browser has to do), or a timer where there
/// is none (Safari). Nothing cancels it: `then` holds only weak or no-op handles.
pub fn after_paint(then: impl FnOnce() + 'static) {
    let on_frame = Closure::once_into_js(move || {
        let window = gloo::utils::window();
        let work = Closure::once_into_js(then);
        let idle = Reflect::get(&window, &"requestIdleCallback".into())
            .ok()
            .and_then(|f| f.dyn_into::<Function>().ok());
        match idle {
            Some(idle) => {
                let options = Object::new();
                let _ = Reflect::set(
                    &options,
                    &"timeout".into(),
                    &JsValue::from_f64(IDLE_TIMEOUT_MS),
                );
                let _ = idle.call2(&window, &work, &options);
            }
            None => {
                let _ = window
                    .set_timeout_with_callback_and_timeout_and_arguments_0(work.unchecked_ref(), 0);
            }
        }
    });
    let _ = gloo::utils::window().request_animation_frame(on_frame.unchecked_ref());
}
