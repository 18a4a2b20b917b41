//! The name and colour this person shows others, remembered in this browser.

const NAME_KEY: &str = "commonplace.name";
const COLOR_KEY: &str = "commonplace.color";

/// Distinct on light and dark backgrounds alike.
pub const COLORS: &[&str] = &[
    "#e6194b", "#3cb44b", "#4363d8", "#f58231", "#911eb4", "#42d4f4", "#f032e6", "#9a6324",
    "#469990", "#bf6f00", "#800000", "#000075",
];
const ANIMALS: &[&str] = &[
    "Otter", "Heron", "Fox", "Badger", "Wren", "Lynx", "Hare", "Finch", "Owl", "Marten", "Newt",
    "Stoat",
];

fn storage() -> Option<web_sys::Storage> {
    gloo::utils::window().local_storage().ok().flatten()
}

/// The remembered name and colour, or new ones (remembered from now on).
pub fn load() -> (String, String) {
    let stored = |key| storage().and_then(|s| s.get_item(key).ok().flatten());
    let name = stored(NAME_KEY).unwrap_or_else(|| {
        let n = crate::random::u64() as usize;
        let name = format!("Anonymous {}", ANIMALS[n % ANIMALS.len()]);
        save_name(&name);
        name
    });
    let color = stored(COLOR_KEY)
        .filter(|c| COLORS.contains(&c.as_str()))
        .unwrap_or_else(|| {
            let color = COLORS[crate::random::u64() as usize % COLORS.len()].to_owned();
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
