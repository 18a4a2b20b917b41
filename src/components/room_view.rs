use wasm_bindgen::JsCast;
use yew::prelude::*;

use crate::components::backlinks::Backlinks;
use crate::components::history_panel::HistoryPanel;
use crate::components::link_suggestions::{option_id, LinkSuggestions};
use crate::components::notebook_title::NotebookTitle;
use crate::components::saved_badge::SavedBadge;
use crate::components::server_copy_badge::ServerCopyBadge;
use crate::components::share_link::ShareLink;
use crate::components::shown_title;
use crate::components::sidebar::Sidebar;
use crate::components::status_badge::StatusBadge;
use crate::hooks::use_session::{use_session, SessionElements};
use crate::hooks::use_shortcuts::use_shortcuts;

#[derive(Properties, PartialEq)]
pub struct RoomViewProps {
    pub room: AttrValue,
    pub secret: Option<AttrValue>,
}

/// A room: status and link above, pages and people at the side, the open page's editor and its
/// preview in the middle. The editor is uncontrolled: the session writes peers' changes into it
/// directly, so typing never waits for a re-render; the preview is filled by the session too.
#[function_component]
pub fn RoomView(props: &RoomViewProps) -> Html {
    let elements = SessionElements {
        editor: use_node_ref(),
        overlay: use_node_ref(),
        preview: use_node_ref(),
    };
    let (status, notebook, session) =
        use_session(&props.room, props.secret.as_deref(), elements.clone());
    use_shortcuts(&notebook, &session);
    let title = shown_title(&notebook.title(&notebook.active));
    // Wiki links in the preview open (or create) their page, by click or by Enter.
    let follow = {
        let session = session.clone();
        move |target: Option<web_sys::EventTarget>| {
            let link = target
                .and_then(|t| t.dyn_into::<web_sys::Element>().ok())
                .and_then(|e| e.closest("a.wikilink").ok().flatten());
            if let Some(title) = link.and_then(|l| l.get_attribute("data-title")) {
                session.with(|s| s.follow_link(&title));
                return true;
            }
            false
        }
    };
    // A task's checkbox toggles its `[ ]` in the source; one the text no longer has as shown
    // stays as it was.
    let onclick = {
        let follow = follow.clone();
        let session = session.clone();
        Callback::from(move |e: MouseEvent| {
            if follow(e.target()) {
                return e.prevent_default();
            }
            let task = e
                .target()
                .and_then(|t| t.dyn_into::<web_sys::Element>().ok())
                .filter(|e| e.matches("input[data-task]").unwrap_or(false));
            if let Some(task) = task {
                let number = task.get_attribute("data-task").and_then(|n| n.parse().ok());
                // As rendered (the attribute), not as the click just left it (the property).
                let checked = task.has_attribute("checked");
                let toggled = number.is_some_and(|n| {
                    let mut toggled = false;
                    session.with(|s| toggled = s.toggle_task(n, checked));
                    toggled
                });
                if !toggled {
                    e.prevent_default();
                }
            }
        })
    };
    let onkeydown = Callback::from(move |e: KeyboardEvent| {
        if e.key() == "Enter" && follow(e.target()) {
            e.prevent_default();
        }
    });
    let history_open = use_state_eq(|| false);
    let toggle_history = {
        let history_open = history_open.clone();
        Callback::from(move |_| history_open.set(!*history_open))
    };
    let suggestions = notebook.link_suggestions.clone();
    let active_suggestion = suggestions.as_ref().map(|s| option_id(s.active));
    html! {
        <>
            <header class="bar">
                <h1 class="brand">{ "Commonplace" }</h1>
                <NotebookTitle title={notebook.title.clone()} session={session.clone()} />
                <span class="room" title="Room">{ props.room.clone() }</span>
                <StatusBadge status={status} />
                <SavedBadge state={status.saving} lost={status.store_lost} />
                <ServerCopyBadge state={status.server_copy} />
                <button type="button" id="history-button" aria-controls="history"
                    aria-expanded={history_open.to_string()} onclick={toggle_history}>
                    { "History" }
                </button>
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
            <div class="layout">
                <Sidebar notebook={notebook.clone()} session={session.clone()}
                    server_copy={status.server_copy} />
                <main class="page" aria-labelledby="page-title">
                    <h2 id="page-title">{ title.clone() }</h2>
                    <div class="panes">
                        <div class="editor-wrap">
                            // Read-only until the session has loaded the stored notebook
                            // (it starts after the room key is derived); the session lifts it.
                            <textarea id="editor" ref={elements.editor} spellcheck="false" readonly=true
                                aria-label={format!("Text of {title} (markdown)")}
                                aria-autocomplete="list"
                                aria-controls={suggestions.is_some().then_some("link-suggestions")}
                                aria-activedescendant={active_suggestion}
                                placeholder="Start writing. Everyone with the link sees it live. [[Page title]] links to a page." />
                            <div class="caret-overlay" ref={elements.overlay} aria-hidden="true" />
                            if let Some(shown) = suggestions {
                                <LinkSuggestions {shown} at={notebook.link_suggestions_at}
                                    session={session.clone()} />
                            }
                        </div>
                        <section id="preview" class="preview" ref={elements.preview}
                            aria-label="Preview" aria-live="off" {onclick} {onkeydown} />
                    </div>
                    <Backlinks notebook={notebook.clone()} session={session.clone()} />
                </main>
                if *history_open {
                    <HistoryPanel notebook={notebook.clone()} session={session.clone()} />
                }
            </div>
        </>
    }
}
