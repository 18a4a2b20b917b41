use commonplace_core::app::status::{saved_label, SaveState};
use yew::prelude::*;

#[derive(Properties, PartialEq)]
pub struct SavedBadgeProps {
    pub state: SaveState,
}

/// Whether this browser holds everything written so far.
#[function_component]
pub fn SavedBadge(props: &SavedBadgeProps) -> Html {
    let (state, label) = saved_label(props.state);
    html! {
        <span id="saved" class={classes!("saved", state)} data-state={state}>{ label }</span>
    }
}
