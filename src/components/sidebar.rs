use commonplace_core::app::status::ServerCopyState;
use yew::prelude::*;

use crate::components::files::Files;
use crate::components::page_list::PageList;
use crate::components::people::People;
use crate::components::search::Search;
use crate::hooks::use_session::SessionHandle;
use crate::session::NotebookState;

#[derive(Properties, PartialEq)]
pub struct SidebarProps {
    pub notebook: NotebookState,
    pub session: SessionHandle,
    pub server_copy: ServerCopyState,
}

/// Search, the pages, who is here, files, and the keyboard shortcuts.
#[function_component]
pub fn Sidebar(props: &SidebarProps) -> Html {
    let session = props.session.clone();
    html! {
        <nav id="sidebar" class="sidebar" aria-label="Notebook">
            <Search session={session.clone()} />
            <PageList pages={props.notebook.pages.clone()} active={props.notebook.active.clone()}
                session={session.clone()} />
            <People notebook={props.notebook.clone()} session={session.clone()} />
            <Files session={session} server_copy={props.server_copy} />
            <details class="shortcuts">
                <summary>{ "Keyboard shortcuts" }</summary>
                <dl>
                    <dt><kbd>{ "Ctrl" }</kbd>{ "+" }<kbd>{ "Z" }</kbd></dt><dd>{ "Undo your last edit" }</dd>
                    <dt><kbd>{ "Ctrl" }</kbd>{ "+" }<kbd>{ "Shift" }</kbd>{ "+" }<kbd>{ "Z" }</kbd>{ " or " }<kbd>{ "Ctrl" }</kbd>{ "+" }<kbd>{ "Y" }</kbd></dt><dd>{ "Redo" }</dd>
                    <dt><kbd>{ "Alt" }</kbd>{ "+" }<kbd>{ "N" }</kbd></dt><dd>{ "New page" }</dd>
                    <dt><kbd>{ "Alt" }</kbd>{ "+" }<kbd>{ "↑" }</kbd>{ " / " }<kbd>{ "↓" }</kbd></dt><dd>{ "Previous / next page" }</dd>
                    <dt><kbd>{ "Ctrl" }</kbd>{ "+" }<kbd>{ "K" }</kbd></dt><dd>{ "Search all pages" }</dd>
                    <dt><kbd>{ "Alt" }</kbd>{ "+" }<kbd>{ "E" }</kbd></dt><dd>{ "Back to the editor" }</dd>
                </dl>
            </details>
        </nav>
    }
}
