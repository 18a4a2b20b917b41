use std::cell::RefCell;
use std::rc::Rc;

use commonplace_core::app::pacing;
use commonplace_core::notebook::SearchHit;
use gloo::timers::callback::Timeout;
use web_sys::HtmlInputElement;
use yew::prelude::*;

use crate::components::shown_title;
use crate::hooks::use_session::SessionHandle;
use crate::perf;

#[derive(Properties, PartialEq)]
pub struct SearchProps {
    pub session: SessionHandle,
}

/// What was found, and for which query.
#[derive(Clone, PartialEq, Default)]
struct Found {
    query: String,
    hits: Vec<SearchHit>,
}

/// Finds text across all pages; a hit opens its page with the match selected. In a notebook
/// that searches slowly, keys typed quickly are searched once, for the latest query, when
/// typing pauses (`pacing::SearchPace`); the box shows every key at once.
#[function_component]
pub fn Search(props: &SearchProps) -> Html {
    let query = use_state_eq(String::new);
    let found = use_state_eq(Found::default);
    let pending = use_mut_ref(|| None::<Timeout>);
    let pace = use_mut_ref(pacing::SearchPace::default);
    let oninput = {
        let (session, query, found) = (props.session.clone(), query.clone(), found.setter());
        let (pending, pace) = (pending.clone(), pace.clone());
        Callback::from(move |e: InputEvent| {
            let Some(input) = e.target_dyn_into::<HtmlInputElement>() else {
                return;
            };
            let value = input.value();
            query.set(value.clone());
            // A later key replaces the search of an earlier one that has not run yet.
            pending.borrow_mut().take();
            let delay = pace.borrow().wait_ms(perf::now());
            let run = {
                let (session, found, pace) = (session.clone(), found.clone(), pace.clone());
                move || search(&session, value, &found, &pace)
            };
            if delay == 0 {
                run();
            } else {
                *pending.borrow_mut() = Some(Timeout::new(delay, run));
            }
        })
    };
    let query_len = found.query.trim().encode_utf16().count() as u32;
    let results = found.hits.iter().map(|hit| {
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
            if !query.trim().is_empty() && !found.query.trim().is_empty() {
                <ul id="search-results" aria-live="polite" data-query={found.query.clone()}>
                    if found.hits.is_empty() { <li class="muted">{ "Nothing found" }</li> }
                    { for results }
                </ul>
            }
        </section>
    }
}

/// Searches for `query` and shows what it found (`data-query` on the list says for which
/// query: the benchmark waits for it), noting how long that took.
fn search(
    session: &SessionHandle,
    query: String,
    found: &UseStateSetter<Found>,
    pace: &Rc<RefCell<pacing::SearchPace>>,
) {
    let start = perf::now();
    let mut hits = Vec::new();
    session.with(|s| hits = s.search(&query));
    pace.borrow_mut().ran(start, perf::now());
    found.set(Found { query, hits });
}
