use commonplace_core::app::history::{fold_unchanged, restore_question, DiffRow, CONTEXT};
use commonplace_core::room::{ChangedLine, VersionEntry};
use wasm_bindgen::JsValue;
use web_sys::HtmlInputElement;
use yew::prelude::*;

use crate::components::shown_title;
use crate::hooks::use_session::SessionHandle;
use crate::session::NotebookState;

#[derive(Properties, PartialEq)]
pub struct HistoryPanelProps {
    pub notebook: NotebookState,
    pub session: SessionHandle,
}

/// The version history: save a version, the list of versions (time, name, who edited since the
/// one before), and the one selected: the open page then, with what changed since, and restore.
#[function_component]
pub fn HistoryPanel(props: &HistoryPanelProps) -> Html {
    let selected = use_state_eq(|| None::<String>);
    let restored = use_state_eq(|| false);
    // The unchanged stretches of the selected version's page, shown instead of folded.
    let whole = use_state_eq(|| false);
    let name = use_node_ref();
    {
        let session = props.session.clone();
        use_effect_with((), move |_| session.with(|s| s.read_history()));
    }
    // Read again only when the history changed: the panel renders on every change of the
    // notebook's views (someone's caret moving), and reading parses every version.
    let versions = {
        let session = props.session.clone();
        use_memo(props.notebook.history, move |_| {
            let mut versions = Vec::new();
            session.with(|s| versions = s.versions());
            versions
        })
    };
    let onsave = {
        let (session, name) = (props.session.clone(), name.clone());
        Callback::from(move |e: SubmitEvent| {
            e.prevent_default();
            let input = name.cast::<HtmlInputElement>();
            let typed = input.as_ref().map(|i| i.value()).unwrap_or_default();
            let typed = typed.trim();
            session.with(|s| s.save_version((!typed.is_empty()).then_some(typed)));
            if let Some(input) = input {
                input.set_value("");
            }
        })
    };
    let list = versions.iter().map(|version| {
        let id = version.id.clone();
        let pressed = selected.as_deref() == Some(id.as_str());
        let onclick = {
            let (selected, restored, whole) = (selected.clone(), restored.clone(), whole.clone());
            Callback::from(move |_| {
                restored.set(false);
                whole.set(false);
                selected.set((!pressed).then(|| id.clone()));
            })
        };
        html! {
            <li>
                <button type="button" class="version" data-version={version.id.clone()}
                    aria-pressed={pressed.to_string()} {onclick}>
                    <time class="version-time">{ shown_time(version.at) }</time>
                    if let Some(name) = &version.name {
                        <strong class="version-name">{ name.clone() }</strong>
                    }
                    <span class="version-authors">{ authors(version) }</span>
                </button>
            </li>
        }
    });
    let view = selected
        .as_deref()
        .and_then(|id| versions.iter().find(|v| v.id == id))
        .map(|version| version_view(props, version, &restored, &whole));
    html! {
        <aside id="history" class="history" aria-labelledby="history-title">
            <h2 id="history-title">{ "History" }</h2>
            <form class="save-version" onsubmit={onsave}>
                <input id="version-name" ref={name} type="text" maxlength="100"
                    placeholder="Name (optional)" aria-label="Version name" />
                <button id="save-version" type="submit">{ "Save version" }</button>
            </form>
            if versions.is_empty() {
                <p class="muted">{ "No versions yet. One is saved a little after you stop editing." }</p>
            } else {
                <ol id="versions" class="versions">{ for list }</ol>
            }
            { for view }
        </aside>
    }
}

/// The selected version: the open page then against now, and the two restores.
fn version_view(
    props: &HistoryPanelProps,
    version: &VersionEntry,
    restored: &UseStateHandle<bool>,
    whole: &UseStateHandle<bool>,
) -> Html {
    let mut view = None;
    props.session.with(|s| view = s.version_view(&version.id));
    let Some(view) = view else {
        return html! {};
    };
    let when = shown_time(version.at);
    let page_title = shown_title(&props.notebook.title(&props.notebook.active));
    let restore_page = {
        let (session, id, restored) = (props.session.clone(), version.id.clone(), restored.clone());
        Callback::from(move |_| {
            let mut done = false;
            session.with(|s| done = s.restore_page(&id));
            restored.set(done);
        })
    };
    let restore_notebook = {
        let (session, id, restored) = (props.session.clone(), version.id.clone(), restored.clone());
        let question = restore_question(view.added.len(), view.removed.len(), &when);
        Callback::from(move |_| {
            if !gloo::dialogs::confirm(&question) {
                return;
            }
            let mut done = false;
            session.with(|s| done = s.restore_notebook(&id));
            restored.set(done);
        })
    };
    let undo = {
        let (session, restored) = (props.session.clone(), restored.clone());
        Callback::from(move |_| {
            session.with(|s| s.undo());
            restored.set(false);
        })
    };
    let pages = |label: &str, titles: &[String]| {
        (!titles.is_empty()).then(|| {
            let titles: Vec<String> = titles.iter().map(|t| shown_title(t)).collect();
            html! { <p>{ format!("{label}: {}", titles.join(", ")) }</p> }
        })
    };
    let body = match (&view.title, &view.lines) {
        (None, _) => {
            html! { <p class="muted">{ format!("“{page_title}” did not exist then.") }</p> }
        }
        (Some(_), None) => html! { <p class="muted">{ "This page's text was not kept." }</p> },
        (Some(_), Some(lines)) => {
            let context = if **whole { usize::MAX } else { CONTEXT };
            let unfold = {
                let whole = whole.clone();
                Callback::from(move |_| whole.set(true))
            };
            let rows = fold_unchanged(lines, context)
                .into_iter()
                .map(|row| match row {
                    DiffRow::Line(ChangedLine::Same(l)) => diff_line("same", l),
                    DiffRow::Line(ChangedLine::Removed(l)) => diff_line("removed", l),
                    DiffRow::Line(ChangedLine::Added(l)) => diff_line("added", l),
                    DiffRow::Folded(n) => html! {
                        <button type="button" class="diff-fold" title="Show the whole page"
                            onclick={unfold.clone()}>
                            { format!("… {n} unchanged lines") }
                        </button>
                    },
                });
            html! { <div id="version-diff" class="diff" role="list">{ for rows }</div> }
        }
    };
    html! {
        <section id="version-view" class="version-view" aria-label={format!("Version of {when}")}>
            <h3>{ format!("{page_title}, {when}") }</h3>
            <p class="muted">{ "Red: there then, gone now. Green: new since." }</p>
            <div id="version-pages">
                { for pages("Pages added since", &view.added) }
                { for pages("Pages removed since", &view.removed) }
            </div>
            { body }
            <div class="restore">
                if view.lines.is_some() {
                    <button type="button" data-restore="page" onclick={restore_page}>
                        { "Restore this page" }
                    </button>
                }
                <button type="button" data-restore="notebook" onclick={restore_notebook}>
                    { "Restore the whole notebook" }
                </button>
                if **restored {
                    <button type="button" id="undo-restore" onclick={undo}>{ "Undo restore" }</button>
                }
            </div>
        </section>
    }
}

fn diff_line(kind: &'static str, line: &str) -> Html {
    html! { <div class="diff-line" data-diff={kind} role="listitem">{ line.to_owned() }{ "\n" }</div> }
}

fn authors(version: &VersionEntry) -> String {
    match version.authors.as_slice() {
        [] => "No new edits".to_owned(),
        names => format!("by {}", names.join(", ")),
    }
}

/// A time as this browser's locale writes it.
fn shown_time(at: u64) -> String {
    let date = js_sys::Date::new(&JsValue::from_f64(at as f64));
    date.to_locale_string("default", &JsValue::UNDEFINED).into()
}
