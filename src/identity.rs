//! The name and colour this person shows others, remembered in this browser (the policy for
//! both is `commonplace_core::app::identity`).

use commonplace_core::app::identity;

const NAME_KEY: &str = "commonplace.name";
const COLOR_KEY: &str = "commonplace.color";

fn storage() -> Option<web_sys::Storage> {
    gloo::utils::window().local_storage().ok().flatten()
}

/// The remembered name and colour, or new ones (remembered from now on).
pub fn load() -> (String, String) {
    let stored = |key| storage().and_then(|s| s.get_item(key).ok().flatten());
    let name = stored(NAME_KEY).unwrap_or_else(|| {
        let name = identity::default_name(crate::random::u64());
        save_name(&name);
        name
    });
    let color = stored(COLOR_KEY)
        .filter(|c| identity::is_palette_color(c))
        .unwrap_or_else(|| {
            let color = identity::default_color(crate::random::u64()).to_owned();
            if let Some(s) = storage() {
                let _ = s.set_item(COLOR_KEY, &color);
            }
            color
        });
    (name, color)
}

pub fn save_name(name: &str) {
    if let Some(s) = storage() {
        let _ = s.set_item(NAME_KEY, name);
    }
}
