use commonplace_core::app::notebooks::shown_name;
use yew::prelude::*;

use crate::components::rename_input::RenameInput;
use crate::hooks::use_session::SessionHandle;

#[derive(Properties, PartialEq)]
pub struct NotebookTitleProps {
    /// `None` while untitled.
    pub title: Option<String>,
    pub session: SessionHandle,
}

/// The notebook's name in the header, renamed by anyone in the room (click it), and in the
/// browser tab's title.
#[function_component]
pub fn NotebookTitle(props: &NotebookTitleProps) -> Html {
    let renaming = use_state_eq(|| false);
    use_effect_with(props.title.clone(), |title| {
        let tab = match title {
            Some(title) => format!("{title} · Commonplace"),
            None => "Commonplace".to_owned(),
        };
        gloo::utils::document().set_title(&tab);
    });
    if *renaming {
        let onrename = {
            let session = props.session.clone();
            Callback::from(move |title: String| session.with(|s| s.rename_notebook(&title)))
        };
        let ondone = {
            let renaming = renaming.clone();
            Callback::from(move |()| renaming.set(false))
        };
        return html! {
            <RenameInput value={props.title.clone().unwrap_or_default()} label="Notebook title"
                id="notebook-title-input" class="notebook-title-input" {onrename} {ondone} />
        };
    }
    let start = Callback::from(move |_| renaming.set(true));
    let untitled = props.title.is_none();
    html! {
        <button type="button" id="notebook-title" class="notebook-title" title="Rename the notebook"
            data-untitled={untitled.to_string()} onclick={start}>
            { shown_name(props.title.as_deref()) }
        </button>
    }
}
