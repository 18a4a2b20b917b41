//! What the version history takes, per 10,000 edits, with automatic versions and thinning as
//! the app makes them (issue 15's benchmark): prints figures, asserts only that the history is
//! whole (every kept version's texts are there, the newest is the notebook as it ended).
//!
//! The edits are seph-blog1's first 10,000 patches (all of them with `HISTORY_FULL=1`), typed
//! one every 300 ms in sittings of 500 edits, 10 minutes apart, two sittings a day: the room
//! makes a version after each pause (`AUTO_PAUSE_MS`), at most every `AUTO_EVERY_MS`, and thins
//! as each is made. Two notebooks: the trace's page alone, and the same page among 49 other
//! pages of 2 kB that nobody edits (what deduplicating texts saves).
//!
//! ```text
//! cargo test --release -p commonplace-core --test history_storage -- --nocapture
//! ```

mod support;

use commonplace_core::notebook::HOME;
use commonplace_core::room::{Effect, Input, Output, Room};
use support::trace::{self, Patch};

const EDIT_MS: u64 = 300;
const SITTING: usize = 500;
const BREAK_MS: u64 = 10 * 60_000;
const DAY_MS: u64 = 24 * 60 * 60_000;

struct Figures {
    versions: usize,
    history_bytes: usize,
    appended_bytes: usize,
    notebook_bytes: usize,
    naive_bytes: usize,
}

fn run(patches: &[Patch], other_pages: usize) -> Figures {
    let start = 1_800_000_000_000;
    let mut room = support::new_room("history-bench", "peer", 7, 7, start);
    room.set_user(start, "Ada", "#1e88e5");
    for i in 0..other_pages {
        let body: String = format!("Page {i}: ").repeat(2_048 / 10);
        room.create_page(start, &format!("Page {i}"), &body);
    }
    room.load_history(start, &[]);
    let mut appended = 0;
    let mut naive = 0;
    let mut now = start;
    let mut text = String::new();
    for (i, patch) in patches.iter().enumerate() {
        if i > 0 && i % SITTING == 0 {
            now += if (i / SITTING).is_multiple_of(2) {
                DAY_MS
            } else {
                BREAK_MS
            };
        }
        now += EDIT_MS;
        advance(&mut room, now, &mut appended, &mut naive);
        let splices = trace::to_splices(std::slice::from_ref(patch), Some(text.clone()));
        trace::apply_patches(&mut text, std::slice::from_ref(patch));
        room.edit(now, HOME, &splices, None);
    }
    advance(&mut room, now + DAY_MS, &mut appended, &mut naive);
    assert_eq!(room.page_text(HOME).as_deref(), Some(text.as_str()));
    let versions = room.versions();
    let newest = versions.first().expect("versions were made");
    let view = room
        .version_view(&newest.id, HOME)
        .expect("the newest version");
    let lines = view.lines.expect("its text was kept");
    assert!(
        lines
            .iter()
            .all(|l| matches!(l, commonplace_core::room::ChangedLine::Same(_))),
        "the newest version is the page as it ended"
    );
    for version in &versions {
        let view = room.version_view(&version.id, HOME).unwrap();
        assert!(view.lines.is_some(), "version {} lost its text", version.id);
    }
    Figures {
        versions: versions.len(),
        history_bytes: room.history_state().len(),
        appended_bytes: appended,
        notebook_bytes: room.encode_state().len(),
        naive_bytes: naive,
    }
}

/// Lets time pass to `to`, as the shell's timer would; counts what the history stores.
fn advance(room: &mut Room, to: u64, appended: &mut usize, naive: &mut usize) {
    loop {
        let outputs: Vec<Output> = std::iter::from_fn(|| room.poll_output()).collect();
        for output in outputs {
            if let Output::Effect(Effect::StoreHistory(update)) = output {
                *appended += update.len();
                // Every version's texts whole, none thinned or shared: what it saves.
                *naive += room
                    .pages()
                    .iter()
                    .filter_map(|p| room.page_text(&p.id))
                    .map(|t| t.len())
                    .sum::<usize>();
            }
        }
        match room.poll_timeout() {
            Some(due) if due <= to => room.handle(due, Input::Timeout),
            _ => return,
        }
    }
}

#[test]
fn history_storage_per_10k_edits() {
    let Some(patches) = trace::seph_blog1_patches("HISTORY_FULL", 10_000) else {
        return;
    };
    println!(
        "history storage, {} edits of seph-blog1 in sittings of {SITTING} (a version after each pause, thinned):",
        patches.len()
    );
    println!("  notebook         versions kept  history (compacted)  appended to IndexedDB  notebook itself  every version whole");
    for (label, others) in [("the page alone", 0), ("+ 49 pages, 2 kB", 49)] {
        let f = run(&patches, others);
        println!(
            "  {label:<16} {:>13}  {:>16} B  {:>19} B  {:>13} B  {:>17} B",
            f.versions, f.history_bytes, f.appended_bytes, f.notebook_bytes, f.naive_bytes
        );
    }
}
