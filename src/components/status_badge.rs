use yew::prelude::*;

use crate::session::{SessionStatus, SignalingState};

#[derive(Properties, PartialEq)]
pub struct StatusBadgeProps {
    pub status: SessionStatus,
}

/// Connection status at a glance; `data-*` attributes carry it for tests and styling.
#[function_component]
pub fn StatusBadge(props: &StatusBadgeProps) -> Html {
    let SessionStatus { signaling, peers } = props.status;
    let (state, label) = match signaling {
        SignalingState::Connecting => ("connecting", "Connecting…".to_owned()),
        SignalingState::Online => ("online", format!("Connected · {}", peer_count(peers))),
        SignalingState::Offline => ("offline", format!("Offline · {}", peer_count(peers))),
    };
    html! {
        <span id="status" class={classes!("status", state)} role="status" aria-live="polite"
            data-signaling={state} data-peers={peers.to_string()}>
            { label }
        </span>
    }
}

fn peer_count(peers: usize) -> String {
    match peers {
        1 => "1 peer".to_owned(),
        n => format!("{n} peers"),
    }
}
