//! Notebooks shared by several tabs: pages created, renamed, moved and deleted, text edited,
//! undone and redone, all at once, with frames delayed and reordered; undo that keeps to this
//! person's edits and to one page; presence (names, colours, carets) and hostile presence.
//!
//! The tabs meet on a simulated BroadcastChannel (every frame a tab posts reaches every other
//! tab), which needs no signaling; the room speaks the same y-protocols messages over it as to
//! peers. Each tab has an editor showing one page, kept as the browser keeps it: the person's
//! edits go in through `EditorText` (the fast path, or the diff when it refuses), others'
//! through the room's `PageChanged` splices. After every step the editor must show exactly the
//! page's text. `NOTEBOOK_SEEDS=n` runs n seeds of the randomized test, `SIM_SEED_START=s`
//! starts at seed s.

mod support;

use std::collections::VecDeque;

use commonplace_core::notebook::{PageInfo, HOME};
use commonplace_core::peer_message::{self, PeerMessage};
use commonplace_core::room::{Event, Input, Output, Room, Transmit};
use commonplace_core::text::diff::Splice;
use commonplace_core::text::editor::{EditorText, SimpleEdit};
use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};
use serde_json::{json, Value};
use support::{first_seed, new_room, seed_count};
use yrs::sync::awareness::AwarenessUpdateEntry;
use yrs::sync::AwarenessUpdate;
use yrs::ClientID;

/// The client id of tab `i`.
fn client_id(i: usize) -> u64 {
    0x100 + i as u64
}

struct Tab {
    room: Room,
    /// The page the tab shows, and what its editor holds.
    open: String,
    editor: EditorText,
}

#[derive(Debug, Default)]
struct Stats {
    ops: u64,
    frames: u64,
    reordered: u64,
    page_changed: u64,
    undos: u64,
    redos: u64,
    /// Times a tab's open page disappeared under it (deleted here or by another tab).
    lost_open_page: u64,
    /// Others' carets found in a tab's open page (after each step).
    cursors_seen: u64,
}

/// Tabs on one BroadcastChannel, with each frame's delivery to each tab in the test's hands.
struct Tabs {
    tabs: Vec<Tab>,
    /// Frames posted and not yet delivered, per receiving tab.
    inbox: Vec<VecDeque<Vec<u8>>>,
    now: u64,
    rng: SmallRng,
    stats: Stats,
}

impl Tabs {
    fn new(count: usize, seed: u64) -> Tabs {
        let tabs = (0..count)
            .map(|i| {
                let room = new_room(
                    "notebook",
                    &format!("tab-{i}"),
                    client_id(i),
                    seed * 16 + i as u64,
                    0,
                );
                Tab {
                    room,
                    open: HOME.to_owned(),
                    editor: EditorText::new(""),
                }
            })
            .collect();
        let mut tabs = Tabs {
            tabs,
            inbox: vec![VecDeque::new(); count],
            now: 0,
            rng: SmallRng::seed_from_u64(seed),
            stats: Stats::default(),
        };
        for i in 0..count {
            tabs.tabs[i].room.handle(0, Input::BroadcastOpen);
            tabs.drain(i);
        }
        tabs
    }

    fn room(&mut self, i: usize) -> &mut Room {
        &mut self.tabs[i].room
    }

    /// Time passes: mostly less than the undo capture window (500 ms), sometimes more.
    fn tick(&mut self) -> u64 {
        self.now += self.rng.random_range(1..1_200);
        self.now
    }

    /// Carries out tab `i`'s outputs, then checks its editor against its page.
    fn drain(&mut self, i: usize) {
        while let Some(output) = self.tabs[i].room.poll_output() {
            match output {
                Output::Transmit(Transmit::Tabs(bytes)) => {
                    for (j, inbox) in self.inbox.iter_mut().enumerate() {
                        if j != i {
                            inbox.push_back(bytes.clone());
                        }
                    }
                }
                Output::Event(Event::PageChanged { page, splices }) => {
                    self.stats.page_changed += 1;
                    let tab = &mut self.tabs[i];
                    if page == tab.open {
                        for splice in &splices {
                            tab.editor.apply(splice);
                        }
                    }
                }
                Output::Event(Event::Dropped(why)) => panic!("tab {i} dropped honest input: {why}"),
                _ => {}
            }
        }
        self.check_editor(i);
    }

    /// The editor shows the open page's text, and others' carets in it are in it; when the
    /// page is gone, the app shows home.
    fn check_editor(&mut self, i: usize) {
        let tab = &self.tabs[i];
        match tab.room.page_text(&tab.open) {
            Some(text) => {
                assert!(
                    tab.editor.text() == text,
                    "tab {i}'s editor of page {} is {:?}, the page is {text:?}",
                    tab.open,
                    tab.editor.text()
                );
                let len = tab.editor.len() as u32;
                for cursor in tab.room.remote_cursors(&tab.open) {
                    assert!(
                        cursor.anchor <= len && cursor.head <= len,
                        "tab {i}: {cursor:?} is past the end of page {} ({len} units)",
                        tab.open
                    );
                    self.stats.cursors_seen += 1;
                }
            }
            None => {
                self.stats.lost_open_page += 1;
                self.open(i, HOME);
            }
        }
    }

    /// Tab `i` shows `page` (afresh, as the app does when the person picks a page).
    fn open(&mut self, i: usize, page: &str) {
        let tab = &mut self.tabs[i];
        let text = tab.room.page_text(page).expect("an existing page");
        tab.open = page.to_owned();
        tab.editor = EditorText::new(&text);
    }

    /// Delivers the frame at `at` in tab `to`'s inbox.
    fn deliver(&mut self, to: usize, at: usize) {
        let bytes = self.inbox[to].remove(at).expect("a frame");
        self.stats.frames += 1;
        self.stats.reordered += (at > 0) as u64;
        let now = self.now;
        self.tabs[to]
            .room
            .handle(now, Input::BroadcastFrame(&bytes));
        self.drain(to);
    }

    /// Delivers some of what is in flight, some of it out of order.
    fn deliver_some(&mut self) {
        for to in 0..self.tabs.len() {
            let count = self.rng.random_range(0..=self.inbox[to].len());
            for _ in 0..count {
                let len = self.inbox[to].len();
                if len == 0 {
                    break;
                }
                let at = if self.rng.random_bool(0.3) {
                    self.rng.random_range(0..len)
                } else {
                    0
                };
                self.deliver(to, at);
            }
        }
    }

    /// Delivers everything, in order, until nothing is in flight.
    fn settle(&mut self) {
        for _ in 0..10_000 {
            if self.inbox.iter().all(VecDeque::is_empty) {
                return;
            }
            for to in 0..self.tabs.len() {
                while !self.inbox[to].is_empty() {
                    self.deliver(to, 0);
                }
            }
        }
        panic!("the tabs never went quiet");
    }

    /// The person in tab `i` edits the open page in its editor: a random simple edit, as the
    /// browser reports it.
    fn type_in_editor(&mut self, i: usize) {
        let old: Vec<u16> = self.tabs[i].editor.text().encode_utf16().collect();
        let (edit, new) = random_simple_edit(&mut self.rng, &old);
        let value = String::from_utf16(&new).expect("whole characters");
        let now = self.tick();
        let tab = &mut self.tabs[i];
        let splice = match tab.editor.simple_input(edit, |from, to| {
            String::from_utf16_lossy(&new[from as usize..to as usize])
        }) {
            Ok(splice) => splice,
            Err(_) => tab.editor.input(&value, Some(edit.caret)),
        };
        assert_eq!(tab.editor.text(), value);
        if let Some(splice) = splice {
            let page = tab.open.clone();
            tab.room.edit(now, &page, &[splice], None);
        }
        self.drain(i);
    }

    /// An edit of some page, not through the editor (the page is open elsewhere, say): one or
    /// two splices in one call.
    fn edit_directly(&mut self, i: usize, page: &str) {
        let Some(text) = self.tabs[i].room.page_text(page) else {
            return;
        };
        let mut units: Vec<u16> = text.encode_utf16().collect();
        let mut splices = Vec::new();
        for _ in 0..self.rng.random_range(1..=2) {
            let (edit, new) = random_simple_edit(&mut self.rng, &units);
            let (from, to) = (
                edit.selection.0.min(edit.caret),
                edit.caret + units.len() as u32 - edit.len,
            );
            splices.push(Splice {
                index: from,
                delete: to - from,
                insert: String::from_utf16(&new[from as usize..edit.caret as usize])
                    .expect("whole characters"),
            });
            units = new;
        }
        let now = self.tick();
        let tab = &mut self.tabs[i];
        tab.room.edit(now, page, &splices, None);
        if page == tab.open {
            // The editor shows this page too: it takes the splices as the room did.
            for splice in &splices {
                tab.editor.apply(splice);
            }
        }
        self.drain(i);
    }

    fn random_page(&mut self, i: usize, with_home: bool) -> Option<String> {
        let pages: Vec<PageInfo> = self.tabs[i]
            .room
            .pages()
            .into_iter()
            .filter(|p| with_home || p.id != HOME)
            .collect();
        (!pages.is_empty()).then(|| pages[self.rng.random_range(0..pages.len())].id.clone())
    }

    /// One thing the person in tab `i` does.
    fn random_op(&mut self, i: usize) {
        self.stats.ops += 1;
        let roll = self.rng.random_range(0..100);
        match roll {
            0..=39 => self.type_in_editor(i),
            40..=51 => {
                if let Some(page) = self.random_page(i, true) {
                    self.edit_directly(i, &page);
                }
            }
            52..=59 => {
                let now = self.tick();
                // Mostly the open page (ctrl-z in the editor), now and then another.
                let page = match self.random_page(i, true) {
                    Some(page) if self.rng.random_bool(0.15) => page,
                    _ => self.tabs[i].open.clone(),
                };
                self.stats.undos += self.room(i).undo(now, &page) as u64;
                self.drain(i);
            }
            60..=64 => {
                let now = self.tick();
                let page = self.tabs[i].open.clone();
                self.stats.redos += self.room(i).redo(now, &page) as u64;
                self.drain(i);
            }
            65..=71 => {
                let now = self.tick();
                let title = random_title(&mut self.rng);
                let body = random_text(&mut self.rng, 4);
                let id = if self.rng.random_bool(0.8) {
                    self.room(i).create_page(now, &title, &body)
                } else {
                    let pages = [(title.as_str(), body.as_str()), ("Imported", "# x\n")];
                    self.room(i).import_pages(now, &pages).remove(0)
                };
                self.drain(i);
                if self.rng.random_bool(0.5) {
                    self.open(i, &id);
                }
            }
            72..=77 => {
                if let Some(page) = self.random_page(i, true) {
                    let now = self.tick();
                    let title = random_title(&mut self.rng);
                    self.room(i).rename_page(now, &page, &title);
                    self.drain(i);
                }
            }
            78..=84 => {
                if let Some(page) = self.random_page(i, true) {
                    let now = self.tick();
                    let to = self.rng.random_range(0..=self.tabs[i].room.pages().len());
                    self.room(i).move_page(now, &page, to);
                    self.drain(i);
                }
            }
            85..=90 => {
                // Now and then the open page itself.
                let open = self.tabs[i].open.clone();
                let page = if open != HOME && self.rng.random_bool(0.3) {
                    Some(open)
                } else {
                    self.random_page(i, false)
                };
                if let Some(page) = page {
                    let now = self.tick();
                    assert!(self.room(i).delete_page(now, &page));
                    self.drain(i);
                }
            }
            91..=95 => {
                if let Some(page) = self.random_page(i, true) {
                    self.open(i, &page);
                }
            }
            96..=97 => {
                // The caret moves (a selection, either way), somewhere in the open page.
                let now = self.tick();
                let len = self.tabs[i].editor.len() as u32;
                let (anchor, head) = (
                    self.rng.random_range(0..=len),
                    self.rng.random_range(0..=len),
                );
                let page = self.tabs[i].open.clone();
                self.room(i).set_cursor(now, &page, anchor, head);
                self.drain(i);
            }
            _ => {
                let now = self.tick();
                self.room(i).handle(now, Input::Timeout);
                self.drain(i);
            }
        }
    }

    /// Every tab has the same pages (ids, titles, order) and the same texts; every editor
    /// shows its page.
    fn check_converged(&mut self, seed: u64) {
        let pages = self.tabs[0].room.pages();
        for (i, tab) in self.tabs.iter().enumerate() {
            assert_eq!(
                tab.room.pages(),
                pages,
                "seed {seed}: tab {i}'s pages differ"
            );
            for page in &pages {
                assert!(
                    tab.room.page_text(&page.id) == self.tabs[0].room.page_text(&page.id),
                    "seed {seed}: tab {i}'s page {} differs",
                    page.id
                );
            }
        }
        for i in 0..self.tabs.len() {
            self.check_editor(i);
        }
    }
}

const PIECES: &[&str] = &["a", "bc", " ", "\n", "é", "日本", "😀", "👩‍👩‍👧", "[[x]]", "# "];

fn random_text(rng: &mut SmallRng, max_pieces: usize) -> String {
    (0..rng.random_range(0..=max_pieces))
        .map(|_| PIECES[rng.random_range(0..PIECES.len())])
        .collect()
}

fn random_title(rng: &mut SmallRng) -> String {
    const TITLES: &[&str] = &[
        "Ideas",
        "ideas ",
        "Ünïcödé",
        "😀 page",
        "",
        "[[Home]]",
        "a/b",
    ];
    TITLES[rng.random_range(0..TITLES.len())].to_owned()
}

/// A random simple edit of `old` (typing, replacing or cutting a selection, backspace, forward
/// delete) as the element reports it, and the value it leaves.
fn random_simple_edit(rng: &mut SmallRng, old: &[u16]) -> (SimpleEdit, Vec<u16>) {
    let cuts: Vec<usize> = (0..=old.len())
        .filter(|&i| !old.get(i).is_some_and(|u| (0xDC00..0xE000).contains(u)))
        .collect();
    let pick = |rng: &mut SmallRng| cuts[rng.random_range(0..cuts.len())];
    let (mut a, mut b) = (pick(rng), pick(rng));
    if a > b {
        std::mem::swap(&mut a, &mut b);
    }
    // Long pages shrink.
    if old.len() > 300 {
        b = (a + 40).min(old.len());
        while !cuts.contains(&b) {
            b -= 1;
        }
    }
    let inserted: Vec<u16> = random_text(rng, 2).encode_utf16().collect();
    let (selection, insert) = match rng.random_range(0..4) {
        0 if old.len() <= 300 => ((a, a), inserted),
        1 => ((a, b), inserted),
        // Backspace from b.
        2 => ((b, b), Vec::new()),
        _ => ((a, b), Vec::new()),
    };
    let (from, to) = if selection == (a, a) { (a, a) } else { (a, b) };
    let mut new = old[..from].to_vec();
    new.extend_from_slice(&insert);
    new.extend_from_slice(&old[to..]);
    let edit = SimpleEdit {
        selection: (selection.0 as u32, selection.1 as u32),
        caret: (from + insert.len()) as u32,
        len: new.len() as u32,
    };
    (edit, new)
}

#[test]
fn tabs_converge_under_random_page_operations_edits_and_undo() {
    let first = first_seed();
    let count = seed_count("NOTEBOOK_SEEDS", 40);
    let mut total = Stats::default();
    for seed in first..first + count {
        let mut tabs = Tabs::new(3, seed);
        tabs.settle();
        for _ in 0..40 {
            for _ in 0..tabs.rng.random_range(1..=6) {
                let i = tabs.rng.random_range(0..3);
                tabs.random_op(i);
            }
            tabs.deliver_some();
        }
        tabs.settle();
        tabs.check_converged(seed);
        let s = &tabs.stats;
        total.ops += s.ops;
        total.frames += s.frames;
        total.reordered += s.reordered;
        total.page_changed += s.page_changed;
        total.undos += s.undos;
        total.redos += s.redos;
        total.lost_open_page += s.lost_open_page;
        total.cursors_seen += s.cursors_seen;
    }
    println!("{count} seeds from {first}: {total:?}");
    assert!(
        total.undos > 0 && total.redos > 0 && total.lost_open_page > 0 && total.cursors_seen > 0
    );
}

/// Two tabs, settled after each step.
fn two_tabs() -> Tabs {
    let mut tabs = Tabs::new(2, 7);
    tabs.settle();
    tabs
}

fn splice(index: u32, insert: &str) -> Splice {
    Splice {
        index,
        delete: 0,
        insert: insert.into(),
    }
}

impl Tabs {
    /// Tab `i` edits `page` at `now` (its editor follows if the page is open there).
    fn edit_at(&mut self, i: usize, now: u64, page: &str, splices: &[Splice]) {
        self.now = self.now.max(now);
        let tab = &mut self.tabs[i];
        tab.room.edit(now, page, splices, None);
        if page == tab.open {
            for splice in splices {
                tab.editor.apply(splice);
            }
        }
        self.drain(i);
        self.settle();
    }

    fn text(&self, i: usize, page: &str) -> String {
        self.tabs[i]
            .room
            .page_text(page)
            .expect("the page is there")
    }

    fn undo(&mut self, i: usize, now: u64, page: &str) -> bool {
        self.now = self.now.max(now);
        let done = self.tabs[i].room.undo(now, page);
        self.drain(i);
        self.settle();
        done
    }

    fn redo(&mut self, i: usize, now: u64, page: &str) -> bool {
        self.now = self.now.max(now);
        let done = self.tabs[i].room.redo(now, page);
        self.drain(i);
        self.settle();
        done
    }
}

#[test]
fn undo_removes_only_this_persons_text_and_redo_restores_it() {
    let mut tabs = two_tabs();
    tabs.edit_at(0, 1_000, HOME, &[splice(0, "Hello")]);
    // B types inside A's text and after it.
    tabs.edit_at(1, 2_000, HOME, &[splice(2, "X"), splice(6, " world")]);
    assert_eq!(tabs.text(0, HOME), "HeXllo world");
    tabs.edit_at(0, 5_000, HOME, &[splice(12, "!")]);
    // Undo goes back one step at a time, and never touches B's text.
    assert!(tabs.undo(0, 6_000, HOME));
    assert_eq!(tabs.text(0, HOME), "HeXllo world");
    assert!(tabs.undo(0, 6_100, HOME));
    assert_eq!(tabs.text(0, HOME), "X world");
    assert_eq!(tabs.text(1, HOME), "X world");
    assert!(!tabs.undo(0, 6_200, HOME), "nothing left to undo");
    // B has nothing of its own in the undo stack of A, and its own undo is its own.
    assert!(tabs.redo(0, 7_000, HOME));
    assert_eq!(tabs.text(1, HOME), "HeXllo world");
    assert!(tabs.redo(0, 7_100, HOME));
    assert_eq!(tabs.text(1, HOME), "HeXllo world!");
    assert!(!tabs.redo(0, 7_200, HOME));
    assert!(tabs.undo(1, 8_000, HOME));
    assert_eq!(tabs.text(0, HOME), "Hello!");
    // The editors followed every step (checked on each drain); once more at the end.
    tabs.check_converged(7);
}

#[test]
fn undo_of_one_page_leaves_the_others_alone() {
    let mut tabs = two_tabs();
    let p = tabs.room(0).create_page(100, "P", "");
    let q = tabs.room(0).create_page(100, "Q", "");
    tabs.drain(0);
    tabs.settle();
    tabs.open(0, &p);
    // Within one capture window: one undo step per page, not one for both.
    tabs.edit_at(0, 1_000, &p, &[splice(0, "p text")]);
    tabs.edit_at(0, 1_100, &q, &[splice(0, "q text")]);
    tabs.edit_at(1, 1_200, &p, &[splice(0, "B: ")]);
    assert!(tabs.undo(0, 2_000, &p));
    assert_eq!(tabs.text(1, &p), "B: ");
    assert_eq!(tabs.text(1, &q), "q text");
    assert_eq!(tabs.text(0, HOME), "");
    assert!(!tabs.undo(0, 2_100, &p));
    assert!(!tabs.undo(0, 2_100, HOME), "nothing was typed at home");
    assert!(tabs.redo(0, 3_000, &p));
    assert_eq!(tabs.text(1, &p), "B: p text");
    assert_eq!(tabs.text(1, &q), "q text");
    assert!(tabs.undo(0, 4_000, &q));
    assert_eq!(tabs.text(1, &q), "");
    assert_eq!(tabs.text(1, &p), "B: p text");
    // A deleted page takes its history with it.
    assert!(tabs.room(0).delete_page(5_000, &q));
    tabs.drain(0);
    tabs.settle();
    assert!(!tabs.redo(0, 5_100, &q));
    tabs.check_converged(7);
}

/// Whether a colour can carry nothing but a colour into a style: `#` and hex digits. (Which
/// lengths are allowed is `app::identity`'s policy; this only checks it is harmless.)
fn harmless_color(color: &str) -> bool {
    color
        .strip_prefix('#')
        .is_some_and(|hex| !hex.is_empty() && hex.bytes().all(|b| b.is_ascii_hexdigit()))
}

#[test]
fn presence_shows_names_pages_and_carets_that_follow_edits() {
    let mut tabs = two_tabs();
    let p = tabs.room(0).create_page(100, "P", "0123456789");
    tabs.drain(0);
    tabs.settle();
    tabs.room(0).set_user(200, "  Ada Lovelace  ", "#1e88e5");
    tabs.room(0).set_cursor(200, &p, 2, 5);
    tabs.drain(0);
    tabs.settle();

    let people = tabs.tabs[1].room.people();
    let ada = people.iter().find(|p| !p.me).expect("A is there");
    assert_eq!(ada.client_id, client_id(0));
    assert_eq!(
        (ada.name.as_str(), ada.color.as_str(), ada.page.as_deref()),
        ("Ada Lovelace", "#1e88e5", Some(p.as_str()))
    );
    assert!(people[0].me, "this person first");
    let cursors = |tabs: &Tabs, page: &str| -> Vec<(u32, u32)> {
        tabs.tabs[1]
            .room
            .remote_cursors(page)
            .iter()
            .map(|c| (c.anchor, c.head))
            .collect()
    };
    assert_eq!(cursors(&tabs, &p), [(2, 5)]);
    let cursor = &tabs.tabs[1].room.remote_cursors(&p)[0];
    assert_eq!(
        (cursor.name.as_str(), cursor.color.as_str()),
        ("Ada Lovelace", "#1e88e5")
    );
    assert!(
        cursors(&tabs, HOME).is_empty(),
        "A's caret is on another page"
    );

    // B types before the caret, inside the selection and after it: the caret follows.
    tabs.edit_at(1, 300, &p, &[splice(0, "ab")]);
    assert_eq!(cursors(&tabs, &p), [(4, 7)]);
    tabs.edit_at(1, 400, &p, &[splice(5, "😀")]);
    assert_eq!(cursors(&tabs, &p), [(4, 9)]);
    tabs.edit_at(1, 500, &p, &[splice(12, "zz")]);
    assert_eq!(cursors(&tabs, &p), [(4, 9)]);
    // A backward selection keeps its direction.
    tabs.room(0).set_cursor(600, &p, 9, 4);
    tabs.drain(0);
    tabs.settle();
    assert_eq!(cursors(&tabs, &p), [(9, 4)]);

    // What A says of itself is cleaned up before anyone sees it.
    let long = "Ada ".repeat(100);
    tabs.room(0).set_user(700, &long, "red;background:url(x)");
    tabs.drain(0);
    tabs.settle();
    for tab in &tabs.tabs {
        let ada = tab
            .room
            .people()
            .into_iter()
            .find(|p| p.client_id == client_id(0))
            .expect("A is there");
        assert!(ada.name.chars().count() <= 40, "{:?}", ada.name);
        assert!(harmless_color(&ada.color), "{:?}", ada.color);
    }
}

/// An awareness frame from client `client` with state `json` (clock `clock`), as another tab
/// would post it.
fn awareness_frame(client: u64, clock: u32, json: &str) -> Vec<u8> {
    let update = AwarenessUpdate {
        clients: [(
            ClientID::new(client),
            AwarenessUpdateEntry {
                clock,
                json: json.into(),
            },
        )]
        .into(),
    };
    peer_message::encode(&PeerMessage::Awareness(update))
}

/// The latest awareness state tab `i` posted for itself and the other tab has yet to receive.
fn posted_state(tabs: &Tabs, i: usize) -> Value {
    let own = client_id(i);
    tabs.inbox[1 - i]
        .iter()
        .rev()
        .find_map(|bytes| match peer_message::decode(bytes) {
            Ok(PeerMessage::Awareness(update)) => update
                .clients
                .into_iter()
                .find(|(id, _)| id.get() == own)
                .and_then(|(_, entry)| serde_json::from_str(&entry.json).ok()),
            _ => None,
        })
        .expect("the tab posted its state")
}

#[test]
fn hostile_presence_is_ignored_or_cleaned_up() {
    let mut tabs = two_tabs();
    let p = tabs.room(0).create_page(100, "P", "0123456789");
    let q = tabs.room(0).create_page(100, "Q", "abcdefghij");
    tabs.drain(0);
    tabs.settle();
    // Real relative positions, in Q: the ingredients of a cursor that lies about its page.
    tabs.room(0).set_cursor(200, &q, 1, 3);
    tabs.drain(0);
    let real = posted_state(&tabs, 0);
    tabs.settle();
    let in_q = real["cursor"].clone();
    assert!(in_q["anchor"]["item"].is_object(), "{real}");
    let item = |client: u64, clock: u64| json!({ "item": { "client": client, "clock": clock }, "assoc": 0 });
    let huge_name = "x".repeat(1 << 20);
    let states: Vec<String> = vec![
        "not json {".into(),
        "".into(),
        "[1, 2, 3]".into(),
        "\"just a string\"".into(),
        json!({ "user": { "name": huge_name, "color": "red;background:url(x)" } }).to_string(),
        json!({ "user": { "name": "<img src=x onerror=alert(1)>", "color": "#12345g" } })
            .to_string(),
        json!({ "user": { "name": 5, "color": ["#fff"] }, "page": { "id": 1 }, "cursor": 7 })
            .to_string(),
        json!({ "user": "Mallory", "page": p, "cursor": { "anchor": 1, "head": "2" } })
            .to_string(),
        // Items nobody has, or past what a client has written.
        json!({ "page": p, "cursor": { "anchor": item(999_999, 0), "head": item(999_999, 1) } })
            .to_string(),
        json!({ "page": p, "cursor": { "anchor": item(client_id(0), 1 << 30), "head": item(client_id(0), u32::MAX as u64) } })
            .to_string(),
        json!({ "page": p, "cursor": { "anchor": item(client_id(0), 1 << 40), "head": item(0, 0) } })
            .to_string(),
        json!({ "page": p, "cursor": { "anchor": { "item": { "client": -1, "clock": 0.5 } }, "head": { "assoc": 7 } } })
            .to_string(),
        json!({ "page": p, "cursor": { "anchor": { "item": null, "type": null, "tname": null }, "head": {} } })
            .to_string(),
        // Root types that are not the page, and an unknown one.
        json!({ "page": p, "cursor": { "anchor": { "tname": "pages" }, "head": { "tname": "meta" } } })
            .to_string(),
        json!({ "page": p, "cursor": { "anchor": { "tname": "nope", "assoc": -1 }, "head": { "tname": "nope" } } })
            .to_string(),
        // Another page's positions, claiming to be on P; half in Q, half in P's pages entry.
        json!({ "page": p, "cursor": in_q }).to_string(),
        json!({ "page": p, "cursor": { "anchor": in_q["anchor"], "head": { "type": { "client": client_id(0), "clock": 0 } } } })
            .to_string(),
        "null".into(),
    ];
    // Past the clocks A's own states have used, so that they replace them.
    let mut clock = 1_000;
    for (n, state) in states.iter().enumerate() {
        for client in [0xBAD, client_id(0)] {
            clock += 1;
            let frame = awareness_frame(client, clock, state);
            let now = tabs.tick();
            tabs.tabs[1].room.handle(now, Input::BroadcastFrame(&frame));
            // Nothing here is a dropped frame: awareness is taken as it comes, read defensively.
            while tabs.tabs[1].room.poll_output().is_some() {}
            let room = &tabs.tabs[1].room;
            for person in room.people() {
                assert!(person.name.chars().count() <= 40, "state {n}");
                assert!(
                    harmless_color(&person.color),
                    "state {n}: {:?}",
                    person.color
                );
            }
            assert!(
                room.remote_cursors(&p).is_empty(),
                "state {n} from {client:#x}: {:?}",
                room.remote_cursors(&p)
            );
            for page in [HOME, q.as_str()] {
                for cursor in room.remote_cursors(page) {
                    let len = room.page_text(page).unwrap().encode_utf16().count() as u32;
                    assert!(cursor.anchor <= len && cursor.head <= len, "state {n}");
                }
            }
        }
    }
    // Someone claiming to be this tab is not believed: only this tab speaks for itself.
    let frame = awareness_frame(client_id(1), 1 << 20, r#"{"user":{"name":"Not B"}}"#);
    tabs.tabs[1]
        .room
        .handle(tabs.now, Input::BroadcastFrame(&frame));
    let me = |tabs: &Tabs| {
        tabs.tabs[1]
            .room
            .people()
            .into_iter()
            .find(|p| p.me)
            .unwrap()
    };
    assert_ne!(
        me(&tabs).name,
        "Not B",
        "a spoof replaced this tab's own state"
    );
    let now = tabs.tick();
    tabs.room(1).set_user(now, "B", "#abc");
    tabs.drain(1);
    assert_eq!(me(&tabs).name, "B");
    tabs.settle();
    let seen_by_a = tabs.tabs[0].room.people();
    assert!(
        seen_by_a
            .iter()
            .any(|p| p.client_id == client_id(1) && p.name == "B"),
        "{seen_by_a:?}"
    );
    // The real cursor, on the page it is on, still works.
    let frame = awareness_frame(
        0xBAD,
        clock + 1,
        &json!({ "page": q, "cursor": in_q }).to_string(),
    );
    tabs.tabs[1]
        .room
        .handle(tabs.now, Input::BroadcastFrame(&frame));
    let cursors = tabs.tabs[1].room.remote_cursors(&q);
    assert!(
        cursors
            .iter()
            .any(|c| c.client_id == 0xBAD && (c.anchor, c.head) == (1, 3)),
        "{cursors:?}"
    );
}

/// The home page's title and order live in a root map (no entry to create first), so two
/// tabs that are first to rename and to move it at the same time both keep their change.
#[test]
fn concurrent_first_rename_and_move_of_home_both_stick() {
    let mut tabs = two_tabs();
    tabs.room(0).create_page(100, "P", "");
    tabs.drain(0);
    tabs.settle();
    tabs.room(0).rename_page(200, HOME, "Start");
    tabs.drain(0);
    tabs.room(1).move_page(200, HOME, 5);
    tabs.drain(1);
    tabs.settle();
    tabs.check_converged(7);
    let pages = tabs.tabs[0].room.pages();
    let home = pages.iter().find(|p| p.id == HOME).expect("home");
    assert_eq!(home.title, "Start", "the rename was lost: {pages:?}");
    assert_eq!(
        pages.last().map(|p| p.id.as_str()),
        Some(HOME),
        "the move was lost: {pages:?}"
    );
}
