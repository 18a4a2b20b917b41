use std::rc::Rc;

use commonplace_core::app::link_completion::{Shown, Suggestion};
use yew::prelude::*;

use crate::hooks::use_session::SessionHandle;

#[derive(Properties, PartialEq)]
pub struct LinkSuggestionsProps {
    pub shown: Rc<Shown>,
    /// Under the link's `[[` (px in the editor's box), or the stylesheet's place.
    pub at: Option<(i32, i32)>,
    pub session: SessionHandle,
}

/// The id of the list's item `index` (the editor's `aria-activedescendant` names the active one).
pub fn option_id(index: usize) -> String {
    format!("link-suggestion-{index}")
}

/// The pages a `[[wiki link]]` being typed may name, and an item creating the page typed when
/// none has that title. The keys are the editor's (the session takes arrows, Enter, Tab and
/// Escape from it while the list is open); a click accepts an item, and never takes the focus
/// from the editor.
#[function_component]
pub fn LinkSuggestions(props: &LinkSuggestionsProps) -> Html {
    let shown = &props.shown;
    let items = shown.suggestions.iter().enumerate().map(|(i, item)| {
        let onclick = {
            let session = props.session.clone();
            Callback::from(move |_: MouseEvent| session.with(|s| s.accept_link_suggestion(i)))
        };
        let active = i == shown.active;
        let selected = if active { "true" } else { "false" };
        match item {
            Suggestion::Page(title) => html! {
                <li id={option_id(i)} role="option" class="link-suggestion" data-title={title.clone()}
                    aria-selected={selected} {onclick}>{ title.clone() }</li>
            },
            Suggestion::Create(title) => html! {
                <li id={option_id(i)} role="option" class="link-suggestion create"
                    data-create={title.clone()} aria-selected={selected} {onclick}>
                    { "Create page “" }<strong>{ title.clone() }</strong>{ "”" }
                </li>
            },
        }
    });
    // Pressing on an item must not move the focus (and the caret) out of the editor.
    let onmousedown = Callback::from(|e: MouseEvent| e.prevent_default());
    let style = props
        .at
        // Kept inside the editor's box on the right (the list is at least 12rem wide).
        .map(|(x, y)| format!("left: max(0px, min({x}px, calc(100% - 13rem))); top: {y}px"));
    html! {
        <ul id="link-suggestions" role="listbox" aria-label="Link to a page"
            aria-activedescendant={option_id(shown.active)} {style} {onmousedown}>
            { for items }
        </ul>
    }
}
