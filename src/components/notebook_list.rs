use commonplace_core::app::notebooks::{describe_age, describe_bytes, shown_name, NotebookEntry};
use wasm_bindgen_futures::spawn_local;
use yew::prelude::*;

use crate::notebooks;

#[derive(Properties, PartialEq)]
pub struct NotebookListProps {
    /// Opens a new notebook.
    pub onnew: Callback<()>,
}

/// The start screen (`/` without a room): the notebooks this browser holds, most recently
/// used first, each opened by its link or forgotten on this browser; and a new one.
#[function_component]
pub fn NotebookList(props: &NotebookListProps) -> Html {
    let list = use_state(notebooks::load);
    use_effect_with((), |_| gloo::utils::document().set_title("Commonplace"));
    let now = js_sys::Date::now() as u64;
    let items = list.entries().iter().map(|entry| {
        let forget = {
            let (entry, list) = (entry.clone(), list.clone());
            Callback::from(move |_| {
                if !gloo::dialogs::confirm(&entry.forget_question()) {
                    return;
                }
                let deleting = notebooks::forget(&entry.room);
                list.set(notebooks::load());
                spawn_local(async move {
                    let deleted = match deleting {
                        Ok(request) => request.await.map_err(|e| e.to_string()),
                        Err(why) => Err(why),
                    };
                    if let Err(why) = deleted {
                        gloo::console::warn!("could not delete this browser's copy:", why);
                    }
                });
            })
        };
        html! {
            <li class="notebook" data-room={entry.room.clone()}>
                <a class="notebook-link" href={entry.fragment()}>{ shown_name(entry.title.as_deref()) }</a>
                <span class="notebook-facts">{ facts(entry, now) }</span>
                <button type="button" class="forget-notebook" onclick={forget}>
                    { "Forget on this browser" }
                </button>
            </li>
        }
    });
    let onnew = {
        let onnew = props.onnew.clone();
        Callback::from(move |_| onnew.emit(()))
    };
    html! {
        <main id="start" class="start" aria-labelledby="start-title">
            <h1 class="brand">{ "Commonplace" }</h1>
            <h2 id="start-title">{ "Your notebooks" }</h2>
            if list.entries().is_empty() {
                <p id="no-notebooks">{ "No notebook in this browser yet." }</p>
            }
            <ul id="notebooks">{ for items }</ul>
            <button type="button" id="new-notebook" onclick={onnew}>{ "+ New notebook" }</button>
        </main>
    }
}

fn facts(entry: &NotebookEntry, now: u64) -> String {
    let edited = match entry.edited_at {
        Some(at) => format!("edited {}", describe_age(now, at)),
        None => format!("opened {}", describe_age(now, entry.opened_at)),
    };
    let pages = match entry.pages {
        1 => "1 page".to_owned(),
        n => format!("{n} pages"),
    };
    format!("{edited} · {pages} · {}", describe_bytes(entry.bytes))
}
