use yew::prelude::*;

use crate::components::saved_badge::SavedBadge;
use crate::components::share_link::ShareLink;
use crate::components::status_badge::StatusBadge;
use crate::hooks::use_session::use_session;

#[derive(Properties, PartialEq)]
pub struct RoomViewProps {
    pub room: AttrValue,
    pub secret: Option<AttrValue>,
}

/// A room: its status and link above, the page's editor below. The editor is uncontrolled: the
/// session writes peers' changes into it directly, so typing never waits for a re-render.
#[function_component]
pub fn RoomView(props: &RoomViewProps) -> Html {
    let editor = use_node_ref();
    let status = use_session(&props.room, props.secret.as_deref(), editor.clone());
    html! {
        <>
            <header class="bar">
                <h1 class="brand">{ "Commonplace" }</h1>
                <span class="room" title="Room">{ props.room.clone() }</span>
                <StatusBadge status={status} />
                <SavedBadge state={status.saving} />
                <ShareLink />
            </header>
            if status.cannot_decrypt {
                <p id="decrypt-error" class="alert" role="alert">
                    { "cannot decrypt: check the link (others in this room use a different key)" }
                </p>
            }
            if let Some((received, total)) = status.receiving {
                <progress id="sync-progress" class="sync" max={total.to_string()}
                    value={received.to_string()} aria-label="Receiving the notebook" />
            }
            <main class="page">
                <textarea id="editor" ref={editor} aria-label="Page" spellcheck="false"
                    placeholder="Start writing. Everyone with the link sees it live." />
            </main>
        </>
    }
}
