use web_sys::HtmlInputElement;
use yew::prelude::*;

use crate::components::shown_title;
use crate::hooks::use_session::SessionHandle;
use crate::identity;
use crate::session::NotebookState;

#[derive(Properties, PartialEq)]
pub struct PeopleProps {
    pub notebook: NotebookState,
    pub session: SessionHandle,
}

/// Who is in the room (this person first, with an editable name) and which page each has open.
#[function_component]
pub fn People(props: &PeopleProps) -> Html {
    let name = use_state(|| identity::load().0);
    let onchange = {
        let (session, name) = (props.session.clone(), name.clone());
        Callback::from(move |e: Event| {
            let Some(input) = e.target_dyn_into::<HtmlInputElement>() else {
                return;
            };
            let value = input.value().trim().to_owned();
            if value.is_empty() {
                return;
            }
            identity::save_name(&value);
            let color = identity::load().1;
            session.with(|s| s.set_user(&value, &color));
            name.set(value);
        })
    };
    let people = props.notebook.people.iter().map(|person| {
        let page = person
            .page
            .as_deref()
            .filter(|id| props.notebook.pages.iter().any(|p| p.id == *id))
            .map(|id| shown_title(&props.notebook.title(id)));
        // How this browser reaches them (see session::reach); nothing for itself.
        let reach = person
            .peer
            .as_ref()
            .filter(|_| !person.me)
            .and_then(|peer| props.notebook.reach.get(peer));
        let path = reach.map(|r| r.kind.attribute());
        html! {
            <li class="person" data-client={person.client_id.to_string()} data-me={person.me.to_string()} data-path={path}>
                <span class="swatch" style={format!("background:{}", person.color)} aria-hidden="true" />
                <span class="person-name">{ person.name.clone() }</span>
                if person.me { <span class="muted">{ " (you)" }</span> }
                if let Some(page) = page { <span class="person-page muted">{ format!(" · {page}") }</span> }
                if let Some(reach) = reach {
                    <span class="person-path muted" title="How this browser reaches them">{ reach.describe() }</span>
                }
            </li>
        }
    });
    html! {
        <section class="people" aria-labelledby="people-title">
            <h2 id="people-title" class="section-title">{ "People here" }</h2>
            <label class="field">{ "Your name" }
                <input id="my-name" value={(*name).clone()} maxlength="40" {onchange} />
            </label>
            <ul id="people-list">{ for people }</ul>
        </section>
    }
}
