use commonplace_core::notebook::link::RoomLink;
use gloo::events::EventListener;
use yew::prelude::*;

use crate::components::notebook_list::NotebookList;
use crate::components::room_view::RoomView;
use crate::random;

/// What the address bar opens: a room's link, or (`/` alone) the start screen.
fn room_from_location() -> Result<Option<RoomLink>, String> {
    let hash = gloo::utils::window().location().hash().unwrap_or_default();
    RoomLink::parse(&hash).map_err(|error| error.to_string())
}

/// A new notebook: a random room and secret, put in the address bar (which then opens it and
/// always holds the link to share).
fn open_new_notebook() {
    let (mut name, mut secret) = ([0u8; 12], [0u8; 16]);
    random::fill(&mut name);
    random::fill(&mut secret);
    let link = RoomLink::new_random(name, secret);
    let _ = gloo::utils::window().location().set_hash(&link.fragment());
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
        Ok(Some(link)) => {
            let secret = link.key.clone().map(AttrValue::from);
            let id = link.fragment();
            html! { <RoomView key={id} room={link.room.clone()} {secret} /> }
        }
        Ok(None) => html! { <NotebookList onnew={Callback::from(|()| open_new_notebook())} /> },
        Err(error) => html! {
            <main class="error" role="alert">
                <h1>{ "Commonplace" }</h1>
                <p>{ format!("This link cannot be opened: {error}.") }</p>
                <p><a href="/">{ "Your notebooks" }</a></p>
            </main>
        },
    }
}
