use commonplace_core::app::status::{saved_label, SaveState};
use yew::prelude::*;

#[derive(Properties, PartialEq)]
pub struct SavedBadgeProps {
    pub state: SaveState,
    /// The browser had lost what it stored of this notebook (`SessionStatus::store_lost`).
    pub lost: bool,
}

/// Whether this browser holds everything written so far; and, if the browser had found its
/// stored copy corrupt and started it afresh, that too: what shows came back from others.
#[function_component]
pub fn SavedBadge(props: &SavedBadgeProps) -> Html {
    let (state, label) = saved_label(props.state);
    html! {
        <span id="saved" class={classes!("saved", state)} data-state={state}
            data-lost={props.lost.then_some("true")}
            title={props.lost.then_some(STORE_LOST)}>
            { label }
            if props.lost { { " · this browser had lost its copy" } }
        </span>
    }
}

const STORE_LOST: &str = "This browser found its stored copy of the notebook corrupt and \
    started it afresh: what shows came from the others in the room or the server copy.";
