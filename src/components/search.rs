use commonplace_core::notebook::SearchHit;
use web_sys::HtmlInputElement;
use yew::prelude::*;

use crate::components::shown_title;
use crate::hooks::use_session::SessionHandle;

#[derive(Properties, PartialEq)]
pub struct SearchProps {
    pub session: SessionHandle,
}

/// Finds text across all pages; a hit opens its page with the match selected.
#[function_component]
pub fn Search(props: &SearchProps) -> Html {
    let query = use_state_eq(String::new);
    let hits = use_state_eq(Vec::<SearchHit>::new);
    let oninput = {
        let (session, query, hits) = (props.session.clone(), query.clone(), hits.clone());
        Callback::from(move |e: InputEvent| {
            let Some(input) = e.target_dyn_into::<HtmlInputElement>() else {
                return;
            };
            let value = input.value();
            let mut found = Vec::new();
            session.with(|s| found = s.search(&value));
            hits.set(found);
            query.set(value);
        })
    };
    let query_len = query.trim().encode_utf16().count() as u32;
    let results = hits.iter().map(|hit| {
        let onclick = {
            let (session, id, index) = (props.session.clone(), hit.id.clone(), hit.index);
            let len = if hit.snippet.is_empty() { 0 } else { query_len };
            Callback::from(move |_| session.with(|s| s.open_page_at(&id, index, len)))
        };
        html! {
            <li><button type="button" class="search-hit" data-page={hit.id.clone()} {onclick}>
                <strong>{ shown_title(&hit.title) }</strong>
                if !hit.snippet.is_empty() { <span class="snippet">{ hit.snippet.clone() }</span> }
            </button></li>
        }
    });
    html! {
        <section class="search" role="search">
            <input id="search" type="search" placeholder="Search all pages" value={(*query).clone()}
                aria-label="Search all pages" aria-controls="search-results" {oninput} />
            if !query.trim().is_empty() {
                <ul id="search-results" aria-live="polite">
                    if hits.is_empty() { <li class="muted">{ "Nothing found" }</li> }
                    { for results }
                </ul>
            }
        </section>
    }
}
