use yew::prelude::*;

use crate::session::{SessionStatus, SignalingState};

#[derive(Properties, PartialEq)]
pub struct StatusBadgeProps {
    pub status: SessionStatus,
}

/// Connection status at a glance; `data-*` attributes carry it for tests and styling.
#[function_component]
pub fn StatusBadge(props: &StatusBadgeProps) -> Html {
    let SessionStatus {
        signaling,
        peers,
        synced,
        tabs,
        cannot_decrypt,
        ..
    } = props.status;
    let (state, mut label) = match signaling {
        SignalingState::Connecting => ("connecting", "Connecting…".to_owned()),
        SignalingState::Online => ("online", format!("Connected · {}", count(peers, "peer"))),
        SignalingState::Offline => ("offline", format!("Offline · {}", count(peers, "peer"))),
    };
    let syncing = peers > 0 && !synced;
    if syncing {
        label.push_str(" · syncing…");
    }
    if tabs > 0 {
        label.push_str(&format!(" · {}", count(tabs, "other tab")));
    }
    html! {
        <span id="status" class={classes!("status", state)} role="status" aria-live="polite"
            data-signaling={state} data-peers={peers.to_string()} data-tabs={tabs.to_string()}
            data-synced={(!syncing).to_string()}
            data-decrypt-error={cannot_decrypt.to_string()}>
            { label }
        </span>
    }
}

fn count(n: usize, noun: &str) -> String {
    match n {
        1 => format!("1 {noun}"),
        n => format!("{n} {noun}s"),
    }
}
