use commonplace_core::app::status::{connection_label, server_copy_label, SessionStatus};
use yew::prelude::*;

#[derive(Properties, PartialEq)]
pub struct StatusBadgeProps {
    pub status: SessionStatus,
}

/// Connection status at a glance; `data-*` attributes carry it for tests and styling.
#[function_component]
pub fn StatusBadge(props: &StatusBadgeProps) -> Html {
    let status = &props.status;
    let (state, label, syncing) = connection_label(status);
    let (_, _, server_saved) = server_copy_label(status.server_copy);
    html! {
        <span id="status" class={classes!("status", state)} role="status" aria-live="polite"
            data-signaling={state} data-peers={status.peers.to_string()}
            data-tabs={status.tabs.to_string()} data-synced={(!syncing).to_string()}
            data-decrypt-error={status.cannot_decrypt.to_string()}
            data-server-saved={if server_saved { "yes" } else { "no" }}>
            { label }
        </span>
    }
}
