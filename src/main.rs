//! Commonplace in the browser: a thin shell over `commonplace-core`. Components draw, hooks own
//! browser resources, `session` wires the core's room to WebSocket, WebRTC and the editor.

mod app;
mod caret_layer;
mod components;
mod download;
mod hooks;
mod head_start;
mod identity;
mod marks;
mod random;
mod room_key;
mod session;
mod store;
mod transport;

fn main() {
    marks::mark(marks::START);
    yew::Renderer::<app::App>::new().render();
}
