use commonplace_core::notebook::link::RoomLink;
use gloo::events::EventListener;
use yew::prelude::*;

use crate::components::room_view::RoomView;
use crate::random;

/// Reads the room from the address bar; opening `<origin>/` creates a room and puts its link
/// there, so the address bar always holds the link to share.
fn room_from_location() -> Result<RoomLink, String> {
    let location = gloo::utils::window().location();
    let hash = location.hash().unwrap_or_default();
    match RoomLink::parse(&hash) {
        Ok(Some(link)) => Ok(link),
        Ok(None) => {
            let (mut name, mut secret) = ([0u8; 12], [0u8; 16]);
            random::fill(&mut name);
            random::fill(&mut secret);
            let link = RoomLink::new_random(name, secret);
            let history = gloo::utils::window().history().map_err(|_| "no history")?;
            let _ = history.replace_state_with_url(
                &wasm_bindgen::JsValue::NULL,
                "",
                Some(&link.fragment()),
            );
            Ok(link)
        }
        Err(error) => Err(error.to_string()),
    }
}

#[function_component]
pub fn App() -> Html {
    let room = use_state(room_from_location);
    {
        let room = room.clone();
        use_effect_with((), move |_| {
            let listener = EventListener::new(&gloo::utils::window(), "hashchange", move |_| {
                room.set(room_from_location())
            });
            move || drop(listener)
        });
    }
    match &*room {
        Ok(link) => {
            let secret = link.key.clone().map(AttrValue::from);
            let id = link.fragment();
            html! { <RoomView key={id} room={link.room.clone()} {secret} /> }
        }
        Err(error) => html! {
            <main class="error" role="alert">
                <h1>{ "Commonplace" }</h1>
                <p>{ format!("This link cannot be opened: {error}.") }</p>
                <p><a href="/">{ "Start a new notebook" }</a></p>
            </main>
        },
    }
}
