//! The elements a drawing writes: the two layers over the textarea's client area, a box per
//! selected row, a caret (with its name flag) per person. Elements are kept from one drawing to
//! the next and only added or removed as the counts change.

use wasm_bindgen::{JsCast, UnwrapThrowExt};
use web_sys::{Document, HtmlElement};

use super::dom::{new_div, px_string, set_styles};
use super::draw::{Area, CaretMark, SelectionBox};
use super::Inner;

/// Names longer than this are cut (the flag is small anyway).
const MAX_NAME_CHARS: usize = 64;

/// What the last drawing left in the layers.
#[derive(Default)]
pub(super) struct Drawn {
    carets: Vec<CaretElement>,
    boxes: Vec<HtmlElement>,
}

struct CaretElement {
    root: HtmlElement,
    name: HtmlElement,
    shown_name: String,
}

impl Inner {
    /// Writes a drawing: `area` is where the layers go (`None`: nothing to draw, everything
    /// drawn is removed).
    pub(super) fn paint(&self, area: Option<&Area>, boxes: &[SelectionBox], marks: &[CaretMark]) {
        let mut drawn = self.drawn.borrow_mut();
        let Some(area) = area else {
            drawn.sync_carets(&self.document, &self.carets, 0);
            drawn.sync_boxes(&self.document, &self.selections, 0);
            return;
        };
        for layer in [&self.selections, &self.carets] {
            set_styles(
                &layer.style(),
                &[
                    ("left", &px_string(area.left)),
                    ("top", &px_string(area.top)),
                    ("width", &px_string(area.width)),
                    ("height", &px_string(area.height)),
                ],
            );
        }
        drawn.sync_boxes(&self.document, &self.selections, boxes.len());
        for (element, selected) in drawn.boxes.iter().zip(boxes) {
            let rect = &selected.rect;
            let _ = element.set_attribute("data-client", &selected.client.to_string());
            set_styles(
                &element.style(),
                &[
                    ("left", &px_string(rect.x)),
                    ("top", &px_string(rect.y)),
                    ("width", &px_string(rect.w)),
                    ("height", &px_string(rect.h)),
                    ("--color", selected.color),
                ],
            );
        }
        drawn.sync_carets(&self.document, &self.carets, marks.len());
        for (element, mark) in drawn.carets.iter_mut().zip(marks) {
            let (root, rect) = (&element.root, &mark.rect);
            let _ = root.set_attribute("data-client", &mark.caret.client.to_string());
            let _ = root.set_attribute("data-index", &mark.head.to_string());
            if rect.y < rect.h {
                // No room above the first visible line: the flag goes below.
                let _ = root.set_attribute("data-flag", "below");
            } else {
                let _ = root.remove_attribute("data-flag");
            }
            set_styles(
                &root.style(),
                &[
                    ("left", &px_string(rect.x)),
                    ("top", &px_string(rect.y)),
                    ("height", &px_string(rect.h)),
                    ("--color", mark.color),
                ],
            );
            let name: String = mark.caret.name.chars().take(MAX_NAME_CHARS).collect();
            if element.shown_name != name {
                element.name.set_text_content(Some(&name));
                element.shown_name = name;
            }
        }
    }
}

impl Drawn {
    fn sync_boxes(&mut self, document: &Document, layer: &HtmlElement, count: usize) {
        while self.boxes.len() > count {
            if let Some(rect) = self.boxes.pop() {
                rect.remove();
            }
        }
        while self.boxes.len() < count {
            let rect = new_div(document, "remote-selection");
            layer.append_child(&rect).unwrap_throw();
            self.boxes.push(rect);
        }
    }

    fn sync_carets(&mut self, document: &Document, layer: &HtmlElement, count: usize) {
        while self.carets.len() > count {
            if let Some(caret) = self.carets.pop() {
                caret.root.remove();
            }
        }
        while self.carets.len() < count {
            let root = new_div(document, "remote-caret");
            let name: HtmlElement = document
                .create_element("span")
                .unwrap_throw()
                .unchecked_into();
            name.set_class_name("remote-caret-name");
            root.append_child(&name).unwrap_throw();
            layer.append_child(&root).unwrap_throw();
            self.carets.push(CaretElement {
                root,
                name,
                shown_name: String::new(),
            });
        }
    }
}
