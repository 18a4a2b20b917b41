use yew::prelude::*;

use crate::components::shown_title;
use crate::hooks::use_session::SessionHandle;
use crate::session::NotebookState;

#[derive(Properties, PartialEq)]
pub struct BacklinksProps {
    pub notebook: NotebookState,
    pub session: SessionHandle,
}

/// The pages that link to the open one with `[[its title]]`.
#[function_component]
pub fn Backlinks(props: &BacklinksProps) -> Html {
    let Some(backlinks) = &props.notebook.backlinks else {
        // Not found yet (the notebook has just loaded): no claim that there are none.
        return html! {
            <section id="backlinks" aria-labelledby="backlinks-title">
                <h3 id="backlinks-title">{ "Linked from" }</h3>
            </section>
        };
    };
    let links = backlinks.iter().map(|page| {
        let onclick = {
            let (session, id) = (props.session.clone(), page.id.clone());
            Callback::from(move |_| session.with(|s| s.open_page(&id)))
        };
        html! {
            <li><button type="button" class="backlink" data-page={page.id.clone()} {onclick}>
                { shown_title(&page.title) }
            </button></li>
        }
    });
    html! {
        <section id="backlinks" aria-labelledby="backlinks-title">
            <h3 id="backlinks-title">{ "Linked from" }</h3>
            if backlinks.is_empty() {
                <p class="muted">{ "No page links here yet." }</p>
            } else {
                <ul>{ for links }</ul>
            }
        </section>
    }
}
