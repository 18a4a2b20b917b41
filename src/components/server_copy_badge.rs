use commonplace_core::app::status::{server_copy_label, ServerCopyState};
use yew::prelude::*;

#[derive(Properties, PartialEq)]
pub struct ServerCopyBadgeProps {
    pub state: ServerCopyState,
}

/// Whether the server's encrypted copy holds everything written here (`docs/store.md`).
#[function_component]
pub fn ServerCopyBadge(props: &ServerCopyBadgeProps) -> Html {
    let (state, label, _) = server_copy_label(props.state);
    html! {
        <span id="server-copy" class={classes!("saved", state)} data-state={state}>{ label }</span>
    }
}
