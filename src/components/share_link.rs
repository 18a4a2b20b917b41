use wasm_bindgen_futures::{spawn_local, JsFuture};
use yew::prelude::*;

/// The link to this room (the address bar's), ready to copy, and as a QR code for a phone.
#[function_component]
pub fn ShareLink() -> Html {
    let href = gloo::utils::window().location().href().unwrap_or_default();
    let copied = use_state_eq(|| false);
    let show_qr = use_state_eq(|| false);
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
    let toggle_qr = {
        let show_qr = show_qr.clone();
        Callback::from(move |_| show_qr.set(!*show_qr))
    };
    // `autofocus` does nothing on an element added after the page loaded: focus Close when the
    // dialog opens (so Escape reaches it), and the QR button again when it closes.
    let (close_button, qr_button) = (use_node_ref(), use_node_ref());
    {
        let (close_button, qr_button) = (close_button.clone(), qr_button.clone());
        let opened = use_mut_ref(|| false);
        use_effect_with(*show_qr, move |&shown| {
            let target = if shown { &close_button } else { &qr_button };
            let was_open = std::mem::replace(&mut *opened.borrow_mut(), shown);
            if shown || was_open {
                if let Some(button) = target.cast::<web_sys::HtmlElement>() {
                    let _ = button.focus();
                }
            }
        });
    }
    let close_on_escape = {
        let show_qr = show_qr.clone();
        Callback::from(move |e: KeyboardEvent| {
            if e.key() == "Escape" {
                show_qr.set(false);
            }
        })
    };
    html! {
        <span class="share">
            <input id="share-link" readonly=true value={href.clone()} aria-label="Link to this room"
                onfocus={Callback::from(|e: FocusEvent| {
                    if let Some(input) = e.target_dyn_into::<web_sys::HtmlInputElement>() {
                        input.select();
                    }
                })} />
            <button id="copy-link" type="button" {onclick}>
                { if *copied { "Copied" } else { "Copy link" } }
            </button>
            <button id="show-qr" ref={qr_button} type="button" onclick={toggle_qr.clone()}
                aria-expanded={show_qr.to_string()} aria-controls="qr-dialog">{ "QR code" }</button>
            if *show_qr {
                <div id="qr-dialog" class="qr-dialog" role="dialog" aria-label="QR code of the link"
                    onkeydown={close_on_escape}>
                    <QrCode text={href} />
                    <p>{ "Scan with a phone to join this notebook. Anyone with the link can read and edit it." }</p>
                    <button type="button" ref={close_button} onclick={toggle_qr}>{ "Close" }</button>
                </div>
            }
        </span>
    }
}

#[derive(Properties, PartialEq)]
struct QrCodeProps {
    text: String,
}

#[function_component]
fn QrCode(props: &QrCodeProps) -> Html {
    match commonplace_core::notebook::qr::svg(&props.text) {
        // Our own SVG: the link is only in the modules' pattern, never in markup.
        Some(svg) => html! {
            <div id="qr" class="qr" role="img" aria-label="QR code of the link to this room">
                { Html::from_html_unchecked(AttrValue::from(svg)) }
            </div>
        },
        None => html! { <p>{ "The link is too long for a QR code." }</p> },
    }
}
