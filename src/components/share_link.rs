use wasm_bindgen_futures::{spawn_local, JsFuture};
use yew::prelude::*;

/// The link to this room (the address bar's), ready to copy.
#[function_component]
pub fn ShareLink() -> Html {
    let href = gloo::utils::window().location().href().unwrap_or_default();
    let copied = use_state_eq(|| false);
    let onclick = {
        let href = href.clone();
        let copied = copied.clone();
        Callback::from(move |_| {
            let clipboard = gloo::utils::window().navigator().clipboard();
            let promise = clipboard.write_text(&href);
            let copied = copied.clone();
            spawn_local(async move {
                copied.set(JsFuture::from(promise).await.is_ok());
            });
        })
    };
    html! {
        <span class="share">
            <input id="share-link" readonly=true value={href} aria-label="Link to this room"
                onfocus={Callback::from(|e: FocusEvent| {
                    if let Some(input) = e.target_dyn_into::<web_sys::HtmlInputElement>() {
                        input.select();
                    }
                })} />
            <button id="copy-link" type="button" {onclick}>
                { if *copied { "Copied" } else { "Copy link" } }
            </button>
        </span>
    }
}
