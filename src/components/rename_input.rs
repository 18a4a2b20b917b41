use web_sys::HtmlInputElement;
use yew::prelude::*;

#[derive(Properties, PartialEq)]
pub struct RenameInputProps {
    pub value: String,
    pub label: AttrValue,
    #[prop_or_default]
    pub id: Option<AttrValue>,
    pub class: AttrValue,
    /// The new name (trimmed), only if it differs from `value`.
    pub onrename: Callback<String>,
    /// Renaming ended: renamed, unchanged or cancelled.
    pub ondone: Callback<()>,
}

/// A field that renames something: focused with its text selected; Enter or leaving the field
/// renames (once: Enter ends the renaming, and the field's blur that follows must not rename
/// again); Escape cancels.
#[function_component]
pub fn RenameInput(props: &RenameInputProps) -> Html {
    let input = use_node_ref();
    let done = use_mut_ref(|| false);
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
        let (onrename, ondone, done) = (props.onrename.clone(), props.ondone.clone(), done.clone());
        let old = props.value.clone();
        move |input: HtmlInputElement| {
            if done.replace(true) {
                return;
            }
            let value = input.value().trim().to_owned();
            if value != old {
                onrename.emit(value);
            }
            ondone.emit(());
        }
    };
    let onkeydown = {
        let (commit, ondone, done) = (commit.clone(), props.ondone.clone(), done.clone());
        Callback::from(move |e: KeyboardEvent| match e.key().as_str() {
            "Enter" => {
                e.prevent_default();
                if let Some(input) = e.target_dyn_into::<HtmlInputElement>() {
                    commit(input);
                }
            }
            "Escape" => {
                *done.borrow_mut() = true;
                ondone.emit(());
            }
            _ => {}
        })
    };
    let onblur = Callback::from(move |e: FocusEvent| {
        if let Some(input) = e.target_dyn_into::<HtmlInputElement>() {
            commit(input);
        }
    });
    html! {
        <input ref={input} id={props.id.clone()} class={props.class.clone()}
            value={props.value.clone()} aria-label={props.label.clone()} {onkeydown} {onblur} />
    }
}
