use std::cell::RefCell;
use std::rc::Rc;

use commonplace_core::app::pacing;
use commonplace_core::notebook::{PageInfo, HOME};
use yew::prelude::*;

use crate::components::rename_input::RenameInput;
use crate::components::shown_title;
use crate::frame::after_paint;
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
/// delete (not the home page), and a button for a new one. A long list is drawn over a few
/// frames, its first items with the first page (`pacing::next_items`); each item is a component
/// of its own, redrawn only when what it shows changes.
#[function_component]
pub fn PageList(props: &PageListProps) -> Html {
    let renaming = use_state_eq(|| None::<String>);
    let dragging = use_mut_ref(|| None::<String>);
    let limit = use_state_eq(|| pacing::FIRST_ITEMS);
    {
        let grow = limit.setter();
        use_effect_with((*limit, props.pages.len()), move |&(shown, len)| {
            if let Some(next) = pacing::next_items(shown, len) {
                after_paint(move || grow.set(next));
            }
        });
    }
    let count = props.pages.len();
    let items = props
        .pages
        .iter()
        .take(*limit)
        .enumerate()
        .map(|(i, page)| {
            html! {
                <PageItem key={page.id.clone()} page={page.clone()} index={i} last={i + 1 == count}
                    active={props.active == page.id}
                    editing={renaming.as_deref() == Some(page.id.as_str())}
                    session={props.session.clone()} renaming={renaming.setter()}
                    dragging={Dragging(dragging.clone())} />
            }
        });
    let new_page = {
        let (session, renaming) = (props.session.clone(), renaming.clone());
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

/// The page being dragged, shared by the list's items (the same cell for all: compared by
/// identity, so it never makes an item redraw).
#[derive(Clone)]
struct Dragging(Rc<RefCell<Option<String>>>);

impl PartialEq for Dragging {
    fn eq(&self, other: &Self) -> bool {
        Rc::ptr_eq(&self.0, &other.0)
    }
}

#[derive(Properties, PartialEq)]
struct PageItemProps {
    page: PageInfo,
    index: usize,
    last: bool,
    active: bool,
    editing: bool,
    session: SessionHandle,
    renaming: UseStateSetter<Option<String>>,
    dragging: Dragging,
}

#[function_component]
fn PageItem(props: &PageItemProps) -> Html {
    let PageItemProps {
        page,
        index: i,
        session,
        renaming,
        ..
    } = props;
    let (i, id, title) = (*i, page.id.clone(), page.title.clone());
    let shown = shown_title(&title);
    let open = {
        let (session, id) = (session.clone(), id.clone());
        Callback::from(move |_| session.with(|s| s.open_page(&id)))
    };
    let start_rename = {
        let (renaming, id) = (renaming.clone(), id.clone());
        Callback::from(move |_| renaming.set(Some(id.clone())))
    };
    let rename = {
        let (session, id) = (session.clone(), id.clone());
        Callback::from(move |title: String| session.with(|s| s.rename_page(&id, &title)))
    };
    let end_rename = {
        let renaming = renaming.clone();
        Callback::from(move |()| renaming.set(None))
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
        let (dragging, id) = (props.dragging.0.clone(), id.clone());
        Callback::from(move |_: DragEvent| *dragging.borrow_mut() = Some(id.clone()))
    };
    let ondragover = Callback::from(|e: DragEvent| e.prevent_default());
    let ondrop = {
        let (dragging, session) = (props.dragging.0.clone(), session.clone());
        Callback::from(move |e: DragEvent| {
            e.prevent_default();
            if let Some(dragged) = dragging.borrow_mut().take() {
                session.with(|s| s.move_page(&dragged, i));
            }
        })
    };
    html! {
        <li class="page-item" data-page={id.clone()} draggable="true"
            aria-current={props.active.then_some("page")} {ondragstart} {ondragover} {ondrop}>
            if props.editing {
                <RenameInput value={title.clone()} label="Page title" class="page-title-input"
                    onrename={rename} ondone={end_rename} />
            } else {
                <button type="button" class="page-link" onclick={open}
                    ondblclick={start_rename.clone()}>{ shown.clone() }</button>
                <span class="page-actions">
                    <button type="button" class="rename-page icon" onclick={start_rename}
                        aria-label={format!("Rename {shown}")} title="Rename">{ "✎" }</button>
                    <button type="button" class="move-up icon" disabled={i == 0}
                        onclick={move_to(i.saturating_sub(1))}
                        aria-label={format!("Move {shown} up")} title="Move up">{ "↑" }</button>
                    <button type="button" class="move-down icon" disabled={props.last}
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
}
