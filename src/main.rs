//! Commonplace in the browser: a thin shell over `commonplace-core`. Components draw, hooks own
//! browser resources, `session` wires the core's room to WebSocket, WebRTC and the editor.

mod app;
mod caret_layer;
mod components;
mod download;
mod hooks;
mod identity;
mod perf;
mod random;
mod session;
mod store;
mod transport;

fn main() {
    yew::Renderer::<app::App>::new().render();
}
