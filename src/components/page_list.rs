use std::rc::Rc;

use commonplace_core::notebook::{PageInfo, HOME};
use web_sys::HtmlInputElement;
use yew::prelude::*;

use crate::components::shown_title;
use crate::hooks::use_session::SessionHandle;

/// Only what the list shows: a change to who is here or to the backlinks (which the whole
/// `NotebookState` holds) must not redraw 500 pages' items, each with five buttons.
#[derive(Properties, PartialEq)]
pub struct PageListProps {
    pub pages: Rc<Vec<PageInfo>>,
    /// The open page's id.
    pub active: String,
    pub session: SessionHandle,
}

/// The pages, in order: open, rename (button or double-click), move (buttons or drag and drop),
/// delete (not the home page), and a button for a new one.
#[function_component]
pub fn PageList(props: &PageListProps) -> Html {
    let renaming = use_state_eq(|| None::<String>);
    let dragging = use_mut_ref(|| None::<String>);
    let session = &props.session;
    let count = props.pages.len();
    let items = props.pages.iter().enumerate().map(|(i, page)| {
        let id = page.id.clone();
        let title = page.title.clone();
        let shown = shown_title(&title);
        let active = props.active == id;
        let open = {
            let (session, id) = (session.clone(), id.clone());
            Callback::from(move |_| session.with(|s| s.open_page(&id)))
        };
        let start_rename = {
            let (renaming, id) = (renaming.clone(), id.clone());
            Callback::from(move |_| renaming.set(Some(id.clone())))
        };
        let move_to = |to: usize| {
            let (session, id) = (session.clone(), id.clone());
            Callback::from(move |_| session.with(|s| s.move_page(&id, to)))
        };
        let delete = {
            let (session, id, shown) = (session.clone(), id.clone(), shown.clone());
            Callback::from(move |_| {
                let question = format!("Delete the page “{shown}” for everyone in this room?");
                if gloo::dialogs::confirm(&question) {
                    session.with(|s| s.delete_page(&id));
                }
            })
        };
        let ondragstart = {
            let (dragging, id) = (dragging.clone(), id.clone());
            Callback::from(move |_: DragEvent| *dragging.borrow_mut() = Some(id.clone()))
        };
        let ondragover = Callback::from(|e: DragEvent| e.prevent_default());
        let ondrop = {
            let (dragging, session) = (dragging.clone(), session.clone());
            Callback::from(move |e: DragEvent| {
                e.prevent_default();
                if let Some(dragged) = dragging.borrow_mut().take() {
                    session.with(|s| s.move_page(&dragged, i));
                }
            })
        };
        let editing = renaming.as_deref() == Some(id.as_str());
        html! {
            <li class="page-item" data-page={id.clone()} key={id.clone()} draggable="true"
                aria-current={active.then_some("page")} {ondragstart} {ondragover} {ondrop}>
                if editing {
                    <RenameInput id={id.clone()} title={title.clone()}
                        session={session.clone()} renaming={renaming.clone()} />
                } else {
                    <button type="button" class="page-link" onclick={open}
                        ondblclick={start_rename.clone()}>{ shown.clone() }</button>
                    <span class="page-actions">
                        <button type="button" class="rename-page icon" onclick={start_rename}
                            aria-label={format!("Rename {shown}")} title="Rename">{ "✎" }</button>
                        <button type="button" class="move-up icon" disabled={i == 0}
                            onclick={move_to(i.saturating_sub(1))}
                            aria-label={format!("Move {shown} up")} title="Move up">{ "↑" }</button>
                        <button type="button" class="move-down icon" disabled={i + 1 == count}
                            onclick={move_to(i + 1)}
                            aria-label={format!("Move {shown} down")} title="Move down">{ "↓" }</button>
                        if id != HOME {
                            <button type="button" class="delete-page icon" onclick={delete}
                                aria-label={format!("Delete {shown}")} title="Delete">{ "✕" }</button>
                        }
                    </span>
                }
            </li>
        }
    });
    let new_page = {
        let (session, renaming) = (session.clone(), renaming.clone());
        Callback::from(move |_| {
            let mut id = None;
            session.with(|s| id = Some(s.create_page("Untitled")));
            renaming.set(id);
        })
    };
    html! {
        <section class="pages" aria-labelledby="pages-title">
            <h2 id="pages-title" class="section-title">{ "Pages" }</h2>
            <ul id="pages">{ for items }</ul>
            <button type="button" id="new-page" onclick={new_page}>{ "+ New page" }</button>
        </section>
    }
}

#[derive(Properties, PartialEq)]
struct RenameInputProps {
    id: String,
    title: String,
    session: SessionHandle,
    renaming: UseStateHandle<Option<String>>,
}

/// Enter or leaving the field renames; Escape cancels.
#[function_component]
fn RenameInput(props: &RenameInputProps) -> Html {
    let input = use_node_ref();
    {
        let input = input.clone();
        use_effect_with((), move |_| {
            if let Some(input) = input.cast::<HtmlInputElement>() {
                let _ = input.focus();
                input.select();
            }
        });
    }
    let commit = {
        let (id, session, renaming) = (
            props.id.clone(),
            props.session.clone(),
            props.renaming.clone(),
        );
        let old = props.title.clone();
        move |input: HtmlInputElement| {
            if renaming.is_none() {
                return;
            }
            let title = input.value().trim().to_owned();
            if title != old {
                session.with(|s| s.rename_page(&id, &title));
            }
            renaming.set(None);
        }
    };
    let onkeydown = {
        let (commit, renaming) = (commit.clone(), props.renaming.clone());
        Callback::from(move |e: KeyboardEvent| match e.key().as_str() {
            "Enter" => {
                e.prevent_default();
                if let Some(input) = e.target_dyn_into::<HtmlInputElement>() {
                    commit(input);
                }
            }
            "Escape" => renaming.set(None),
            _ => {}
        })
    };
    let onblur = Callback::from(move |e: FocusEvent| {
        if let Some(input) = e.target_dyn_into::<HtmlInputElement>() {
            commit(input);
        }
    });
    html! {
        <input ref={input} class="page-title-input" value={props.title.clone()}
            aria-label="Page title" {onkeydown} {onblur} />
    }
}
