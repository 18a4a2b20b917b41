//! What index.html's inline script began before the app ran (`window.commonplaceHeadStart`):
//! the signaling socket (subscribed and announced, once the key was there), a peer connection
//! made while the page waited, the `/config` request, the room key's derivation and the read of
//! the room's IndexedDB (`store::Store::open_and_read`), for the room in the link the page was
//! opened with. Each is taken at most once, and only by a session of that same room and secret
//! (the script parses the link its own way; anything that does not match is left to the app).

use js_sys::{Promise, Reflect};
use wasm_bindgen::{JsCast, JsValue};
use web_sys::WebSocket;

const GLOBAL: &str = "commonplaceHeadStart";

fn start() -> Option<JsValue> {
    let start = Reflect::get(&gloo::utils::window(), &GLOBAL.into()).ok()?;
    (!start.is_undefined() && !start.is_null()).then_some(start)
}

fn string(start: &JsValue, field: &str) -> Option<String> {
    Reflect::get(start, &field.into()).ok()?.as_string()
}

/// Removes `field` from the head start and returns it.
fn take(start: &JsValue, field: &str) -> Option<JsValue> {
    let value = Reflect::get(start, &field.into()).ok()?;
    let _ = Reflect::delete_property(start.unchecked_ref::<js_sys::Object>(), &field.into());
    (!value.is_undefined() && !value.is_null()).then_some(value)
}

/// Whether the head start was for the link of `room` with `secret`.
fn same_link(start: &JsValue, room: &str, secret: &str) -> bool {
    string(start, "room").as_deref() == Some(room)
        && string(start, "secret").as_deref() == Some(secret)
}

/// The derivation of the key of `room` with `secret` (a promise of 32 bytes' ArrayBuffer).
pub fn key(room: &str, secret: &str) -> Option<Promise> {
    let start = start()?;
    let same = same_link(&start, room, secret);
    take(&start, "key").filter(|_| same)?.dyn_into().ok()
}

/// The key of `room` with `secret` (32 bytes' ArrayBuffer), if derived already (then the
/// derivation is taken too). Read without awaiting, the room joins in the same turn the app
/// starts, before the first layout and paint instead of after them.
pub fn key_derived(room: &str, secret: &str) -> Option<JsValue> {
    let start = start()?;
    let same = same_link(&start, room, secret);
    let bits = take(&start, "keyBits").filter(|_| same)?;
    take(&start, "key");
    Some(bits)
}

/// The signaling socket the head start opened.
pub struct BegunSignaling {
    pub socket: WebSocket,
    /// The peer id it announced in the room, if it did (the room must go on with it: peers
    /// may be offering to it already).
    pub announced: Option<String>,
    /// What the server sent before the app took the socket, oldest first.
    pub heard: Vec<String>,
}

/// The signaling socket opened to `url`, if it was for the room `room` (its announce counts
/// only for the same `secret`). Taking it ends the head start's part: it announces no more.
pub fn signaling(room: &str, secret: Option<&str>, url: &str) -> Option<BegunSignaling> {
    let start = start()?;
    let same = string(&start, "room").as_deref() == Some(room)
        && string(&start, "socketUrl").as_deref() == Some(url);
    let socket: WebSocket = take(&start, "socket").filter(|_| same)?.dyn_into().ok()?;
    socket.set_onmessage(None);
    let heard = take(&start, "heard").map(|heard| js_sys::Array::from(&heard));
    let announced = take(&start, "peerId")
        .and_then(|id| id.as_string())
        .filter(|_| string(&start, "secret").as_deref() == secret);
    let heard = heard
        .filter(|_| announced.is_some())
        .map(|heard| heard.iter().filter_map(|frame| frame.as_string()).collect())
        .unwrap_or_default();
    Some(BegunSignaling {
        socket,
        announced,
        heard,
    })
}

/// The `/config` request (a promise of its body's text; rejected unless 200).
pub fn config() -> Option<Promise> {
    take(&start()?, "config")?.dyn_into().ok()
}

/// The `/config` answer's body, if it came already (then the request is taken too).
pub fn config_answered() -> Option<String> {
    let start = start()?;
    let text = take(&start, "configText")?.as_string()?;
    take(&start, "config");
    Some(text)
}

/// The read of `room`'s IndexedDB (a promise of `{ db, check, records }`).
pub fn store(room: &str) -> Option<Promise> {
    let start = start()?;
    let same = string(&start, "room").as_deref() == Some(room);
    take(&start, "store").filter(|_| same)?.dyn_into().ok()
}

/// The peer connection the head start made (no ICE servers yet), for the app's first connection.
pub fn peer_connection() -> Option<web_sys::RtcPeerConnection> {
    take(&start()?, "peerConnection")?.dyn_into().ok()
}
