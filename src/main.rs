//! Commonplace in the browser: a thin shell over `commonplace-core`. Components draw, hooks own
//! browser resources, `session` wires the core's room to WebSocket, WebRTC and the editor.

mod app;
mod caret_layer;
mod components;
mod download;
mod frame;
mod head_start;
mod hooks;
mod identity;
mod journal;
mod notebooks;
mod perf;
mod random;
mod room_key;
mod session;
mod store;
mod transport;

fn main() {
    perf::mark(perf::START);
    yew::Renderer::<app::App>::new().render();
}
