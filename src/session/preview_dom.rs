//! The preview's HTML shown by replacing only the top-level blocks that changed
//! ([`preview::changed_nodes`] says which): the browser lays out and shapes those again, not the
//! whole page.

use commonplace_core::app::preview;
use wasm_bindgen::JsCast;
use web_sys::{HtmlElement, HtmlTemplateElement, Node};

/// Shows `html` (safe HTML from the core's markdown renderer) in `element`.
pub(super) fn show_html(element: &HtmlElement, html: &str) {
    // Parsed inert in a template (not laid out, nothing loaded) to be compared with what shows.
    let template = gloo::utils::document()
        .create_element("template")
        .ok()
        .and_then(|t| t.dyn_into::<HtmlTemplateElement>().ok());
    let Some(template) = template else {
        return element.set_inner_html(html);
    };
    template.set_inner_html(html);
    let fresh = template.content();
    let (old, new) = (element.child_nodes(), fresh.child_nodes());
    let changed = preview::changed_nodes(
        old.length() as usize,
        new.length() as usize,
        |i, j| match (old.get(i as u32), new.get(j as u32)) {
            (Some(shown), Some(rendered)) => shown.is_equal_node(Some(&rendered)),
            _ => false,
        },
    );
    // The node lists are live: take the nodes out of them before moving any.
    let nodes = |list: &web_sys::NodeList, from: usize, to: usize| -> Vec<Node> {
        (from..to).filter_map(|i| list.get(i as u32)).collect()
    };
    let stale = nodes(&old, changed.start, changed.old_end);
    let incoming = nodes(&new, changed.start, changed.new_end);
    let before = old.get(changed.old_end as u32);
    for node in stale {
        let _ = element.remove_child(&node);
    }
    for node in incoming {
        let _ = element.insert_before(&node, before.as_ref());
    }
}
