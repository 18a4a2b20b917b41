use yew::prelude::*;

use crate::store::SaveState;

#[derive(Properties, PartialEq)]
pub struct SavedBadgeProps {
    pub state: SaveState,
}

/// Whether this browser holds everything written so far.
#[function_component]
pub fn SavedBadge(props: &SavedBadgeProps) -> Html {
    let (state, label) = match props.state {
        SaveState::Loading => ("loading", "Opening…"),
        SaveState::Saving => ("saving", "Saving…"),
        SaveState::Saved => ("saved", "Saved locally"),
        SaveState::Failed => ("error", "Not saved: this browser refused storage"),
        SaveState::OtherKey => (
            "error",
            "Not saved: this browser keeps this room under another key",
        ),
    };
    html! {
        <span id="saved" class={classes!("saved", state)} data-state={state}>{ label }</span>
    }
}
