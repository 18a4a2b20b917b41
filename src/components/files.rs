use commonplace_core::app::status::ServerCopyState;
use commonplace_core::room::server_store::ServerCopy;
use wasm_bindgen_futures::{spawn_local, JsFuture};
use web_sys::HtmlInputElement;
use yew::prelude::*;

use crate::download;
use crate::hooks::use_session::SessionHandle;

#[derive(Properties, PartialEq)]
pub struct FilesProps {
    pub session: SessionHandle,
    pub server_copy: ServerCopyState,
}

/// Export the page or the notebook (markdown files, or a Yjs update) and import them back;
/// remove the server's copy.
#[function_component]
pub fn Files(props: &FilesProps) -> Html {
    let message = use_state_eq(String::new);
    let session = &props.session;
    let export_page = {
        let session = session.clone();
        Callback::from(move |_| {
            session.with(|s| {
                let (name, bytes) = s.export_page();
                download::save(&name, &bytes, "text/markdown");
            })
        })
    };
    let export_markdown = {
        let session = session.clone();
        Callback::from(move |_| {
            session
                .with(|s| download::save("notebook.zip", &s.export_markdown(), "application/zip"))
        })
    };
    let export_update = {
        let session = session.clone();
        Callback::from(move |_| {
            session.with(|s| {
                download::save(
                    "notebook.yjs",
                    &s.export_update(),
                    "application/octet-stream",
                )
            })
        })
    };
    let import = |as_update: bool| {
        let (session, message) = (session.clone(), message.clone());
        Callback::from(move |e: Event| {
            let Some(input) = e.target_dyn_into::<HtmlInputElement>() else {
                return;
            };
            let (session, message) = (session.clone(), message.clone());
            spawn_local(async move {
                let files = read_files(&input).await;
                input.set_value("");
                let mut result = Err("nothing to import".to_owned());
                session.with(|s| {
                    result = if as_update {
                        files
                            .iter()
                            .try_for_each(|(name, bytes)| {
                                s.import_update(bytes).map_err(|e| format!("{name}: {e}"))
                            })
                            .map(|()| "Notebook imported.".to_owned())
                    } else {
                        s.import_files(files).map(|n| match n {
                            0 => "No markdown files found.".to_owned(),
                            1 => "Imported 1 page.".to_owned(),
                            n => format!("Imported {n} pages."),
                        })
                    };
                });
                message.set(result.unwrap_or_else(|e| format!("Cannot import: {e}")));
            });
        })
    };
    let removable = matches!(
        props.server_copy,
        ServerCopyState::Copy(ServerCopy::Saved | ServerCopy::Pending | ServerCopy::Refused)
    );
    let remove_server_copy = {
        let (session, message) = (session.clone(), message.clone());
        Callback::from(move |_| {
            let asked = gloo::utils::window().confirm_with_message(
                "Remove the server's copy of this notebook? It stays in the browsers that \
                 have it; nobody can open it from the server alone any more, and the server \
                 keeps no new copy.",
            );
            if asked == Ok(true) {
                session.with(|s| s.remove_server_copy());
                message.set("The server's copy was removed.".to_owned());
            }
        })
    };
    html! {
        <section class="files" aria-labelledby="files-title">
            <h2 id="files-title" class="section-title">{ "Files" }</h2>
            <div class="file-buttons">
                <button type="button" id="export-page" onclick={export_page}>{ "Export page (.md)" }</button>
                <button type="button" id="export-markdown" onclick={export_markdown}>{ "Export notebook (.zip)" }</button>
                <button type="button" id="export-yjs" onclick={export_update}>{ "Export notebook (Yjs)" }</button>
                <label class="file-button">{ "Import pages (.md, .zip)" }
                    <input type="file" id="import-files" accept=".md,.markdown,.txt,.zip" multiple=true
                        onchange={import(false)} />
                </label>
                <label class="file-button">{ "Import notebook (Yjs)" }
                    <input type="file" id="import-yjs" accept=".yjs,.bin" onchange={import(true)} />
                </label>
                if removable {
                    <button type="button" id="remove-server-copy" onclick={remove_server_copy}>
                        { "Remove server copy" }
                    </button>
                }
            </div>
            <p id="files-message" role="status">{ (*message).clone() }</p>
        </section>
    }
}

/// The chosen files' names and bytes.
async fn read_files(input: &HtmlInputElement) -> Vec<(String, Vec<u8>)> {
    let mut out = Vec::new();
    let Some(list) = input.files() else {
        return out;
    };
    for i in 0..list.length() {
        let Some(file) = list.get(i) else { continue };
        if let Ok(buffer) = JsFuture::from(file.array_buffer()).await {
            out.push((file.name(), js_sys::Uint8Array::new(&buffer).to_vec()));
        }
    }
    out
}
