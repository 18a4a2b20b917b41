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

use commonplace_core::notebook::{PageInfo, HOME};
use commonplace_core::peer_message::{self, PeerMessage};
use commonplace_core::room::{Input, Room};
use commonplace_core::text::diff::Splice;
use commonplace_core::text::editor::SimpleEdit;
use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};
use serde_json::{json, Value};
use support::net::{Net, Shell};
use support::peer::Held;
use support::schedule::Schedule;
use support::{first_seed, new_room, seed_count};
use yrs::sync::awareness::AwarenessUpdateEntry;
use yrs::sync::AwarenessUpdate;
use yrs::ClientID;

/// The client id of tab `i`.
fn client_id(i: usize) -> u64 {
    0x100 + i as u64
}

#[derive(Debug, Default)]
struct Stats {
    ops: u64,
    frames: u64,
    reordered: u64,
    /// `PageChanged` events (counted by the net).
    page_changed: u64,
    undos: u64,
    redos: u64,
    /// Times a tab's open page disappeared under it (deleted here or by another tab).
    lost_open_page: u64,
    /// Others' carets found in a tab's open page (after each step).
    cursors_seen: u64,
}

/// Tabs on one BroadcastChannel, with each frame's delivery to each tab in the test's hands
/// (a net whose frames are held), and what the people in them do.
struct Tabs {
    net: Net,
    rng: SmallRng,
    stats: Stats,
}

impl Tabs {
    fn new(count: usize, seed: u64) -> Tabs {
        let rooms = (0..count)
            .map(|i| {
                let id = format!("tab-{i}");
                new_room("notebook", &id, client_id(i), seed * 16 + i as u64, 0)
            })
            .collect();
        let mut net = Net::in_order(Schedule::held(), Shell::TAB);
        net.add_tabs(rooms);
        let mut tabs = Tabs {
            net,
            rng: SmallRng::seed_from_u64(seed),
            stats: Stats::default(),
        };
        for i in 0..count {
            tabs.check_editor(i);
        }
        tabs
    }

    fn room(&mut self, i: usize) -> &mut Room {
        self.net.room_mut(i)
    }

    /// Time passes: mostly less than the undo capture window (500 ms), sometimes more.
    fn tick(&mut self) -> u64 {
        self.net.now += self.rng.random_range(1..1_200);
        self.net.now
    }

    /// Carries out tab `i`'s outputs, then checks its editor against its page.
    fn drain(&mut self, i: usize) {
        self.net.drain(i);
        self.check_editor(i);
    }

    /// Tab `i`'s person does something to the room; the outputs are carried out and the
    /// editor checked.
    fn act<T>(&mut self, i: usize, action: impl FnOnce(&mut Room) -> T) -> T {
        let result = self.net.act(i, action);
        self.check_editor(i);
        result
    }

    fn check_editor(&mut self, i: usize) {
        check_editor(&mut self.net, &mut self.stats, i);
    }

    /// Tab `i` shows `page` (afresh, as the app does when the person picks a page).
    fn open(&mut self, i: usize, page: &str) {
        self.net.peers[i].open(page);
    }

    /// Delivers the frame at `at` in tab `to`'s inbox.
    fn deliver(&mut self, to: usize, at: usize) {
        self.stats.frames += 1;
        self.stats.reordered += (at > 0) as u64;
        self.net.deliver_held(to, at);
        self.check_editor(to);
    }

    /// Delivers some of what is in flight, some of it out of order.
    fn deliver_some(&mut self) {
        for to in 0..self.net.peers.len() {
            let count = self.rng.random_range(0..=self.net.peers[to].inbox.len());
            for _ in 0..count {
                let len = self.net.peers[to].inbox.len();
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
        let stats = &mut self.stats;
        self.net.settle_with(|net, to| {
            stats.frames += 1;
            check_editor(net, stats, to);
        });
    }

    /// The person in tab `i` edits the open page in its editor: a random simple edit, as the
    /// browser reports it.
    fn type_in_editor(&mut self, i: usize) {
        let old: Vec<u16> = self.net.peers[i].editor.text().encode_utf16().collect();
        let (edit, new) = random_simple_edit(&mut self.rng, &old);
        let value = String::from_utf16(&new).expect("whole characters");
        let now = self.tick();
        let tab = &mut self.net.peers[i];
        let splice = match tab.editor.simple_input(edit, |from, to| {
            String::from_utf16_lossy(&new[from as usize..to as usize])
        }) {
            Ok(splice) => splice,
            Err(_) => tab.editor.input(&value, Some(edit.caret)),
        };
        assert_eq!(tab.editor.text(), value);
        if let Some(splice) = splice {
            let page = tab.page.clone();
            tab.room_mut().edit(now, &page, &[splice], None);
        }
        self.drain(i);
    }

    /// An edit of some page, not through the editor (the page is open elsewhere, say): one or
    /// two splices in one call.
    fn edit_directly(&mut self, i: usize, page: &str) {
        let Some(text) = self.net.room(i).page_text(page) else {
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
        self.tick();
        // The editor, if it shows this page too, takes the splices as the room does.
        self.net.edit(i, page, &splices);
        self.check_editor(i);
    }

    fn random_page(&mut self, i: usize, with_home: bool) -> Option<String> {
        let pages: Vec<PageInfo> = self
            .net
            .room(i)
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
                    _ => self.net.peers[i].page.clone(),
                };
                self.stats.undos += self.act(i, |room| room.undo(now, &page)) as u64;
            }
            60..=64 => {
                let now = self.tick();
                let page = self.net.peers[i].page.clone();
                self.stats.redos += self.act(i, |room| room.redo(now, &page)) as u64;
            }
            65..=71 => {
                let now = self.tick();
                let title = random_title(&mut self.rng);
                let body = random_text(&mut self.rng, 4);
                let id = if self.rng.random_bool(0.8) {
                    self.act(i, |room| room.create_page(now, &title, &body))
                } else {
                    let pages = [(title.as_str(), body.as_str()), ("Imported", "# x\n")];
                    self.act(i, |room| room.import_pages(now, &pages).remove(0))
                };
                if self.rng.random_bool(0.5) {
                    self.open(i, &id);
                }
            }
            72..=77 => {
                if let Some(page) = self.random_page(i, true) {
                    let now = self.tick();
                    let title = random_title(&mut self.rng);
                    self.act(i, |room| room.rename_page(now, &page, &title));
                }
            }
            78..=84 => {
                if let Some(page) = self.random_page(i, true) {
                    let now = self.tick();
                    let to = self.rng.random_range(0..=self.net.room(i).pages().len());
                    self.act(i, |room| room.move_page(now, &page, to));
                }
            }
            85..=90 => {
                // Now and then the open page itself.
                let open = self.net.peers[i].page.clone();
                let page = if open != HOME && self.rng.random_bool(0.3) {
                    Some(open)
                } else {
                    self.random_page(i, false)
                };
                if let Some(page) = page {
                    let now = self.tick();
                    assert!(self.act(i, |room| room.delete_page(now, &page)));
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
                let len = self.net.peers[i].editor.len() as u32;
                let (anchor, head) = (
                    self.rng.random_range(0..=len),
                    self.rng.random_range(0..=len),
                );
                let page = self.net.peers[i].page.clone();
                self.act(i, |room| room.set_cursor(now, &page, anchor, head));
            }
            _ => {
                self.tick();
                self.net.feed(i, Input::Timeout);
                self.check_editor(i);
            }
        }
    }

    /// Every tab has the same pages (ids, titles, order) and the same texts; every editor
    /// shows its page.
    fn check_converged(&mut self, seed: u64) {
        let pages = self.net.room(0).pages();
        for (i, tab) in self.net.peers.iter().enumerate() {
            let room = tab.room();
            assert_eq!(room.pages(), pages, "seed {seed}: tab {i}'s pages differ");
            for page in &pages {
                assert!(
                    room.page_text(&page.id) == self.net.room(0).page_text(&page.id),
                    "seed {seed}: tab {i}'s page {} differs",
                    page.id
                );
            }
        }
        for i in 0..self.net.peers.len() {
            self.check_editor(i);
        }
    }
}

/// The editor of tab `i` shows the open page's text, and others' carets in it are in it; when
/// the page is gone, the app shows home.
fn check_editor(net: &mut Net, stats: &mut Stats, i: usize) {
    let tab = &net.peers[i];
    match tab.room().page_text(&tab.page) {
        Some(text) => {
            assert!(
                tab.editor.text() == text,
                "tab {i}'s editor of page {} is {:?}, the page is {text:?}",
                tab.page,
                tab.editor.text()
            );
            let len = tab.editor.len() as u32;
            for cursor in tab.room().remote_cursors(&tab.page) {
                assert!(
                    cursor.anchor <= len && cursor.head <= len,
                    "tab {i}: {cursor:?} is past the end of page {} ({len} units)",
                    tab.page
                );
                stats.cursors_seen += 1;
            }
        }
        None => {
            stats.lost_open_page += 1;
            net.peers[i].open(HOME);
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
        total.page_changed += tabs.net.stats.page_changes;
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
        self.net.now = self.net.now.max(now);
        self.net.edit(i, page, splices);
        self.check_editor(i);
        self.settle();
    }

    /// Both tabs' room timers fire at `now` (these tabs run none of their own).
    fn fire_timers(&mut self, now: u64) {
        self.net.now = self.net.now.max(now);
        for i in 0..self.net.peers.len() {
            self.net.feed(i, Input::Timeout);
        }
        self.settle();
    }

    fn text(&self, i: usize, page: &str) -> String {
        self.net.room(i).page_text(page).expect("the page is there")
    }

    fn undo(&mut self, i: usize, now: u64, page: &str) -> bool {
        self.net.now = self.net.now.max(now);
        let done = self.act(i, |room| room.undo(now, page));
        self.settle();
        done
    }

    fn redo(&mut self, i: usize, now: u64, page: &str) -> bool {
        self.net.now = self.net.now.max(now);
        let done = self.act(i, |room| room.redo(now, page));
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

    let people = tabs.net.room(1).people();
    let ada = people.iter().find(|p| !p.me).expect("A is there");
    assert_eq!(ada.client_id, client_id(0));
    assert_eq!(
        (ada.name.as_str(), ada.color.as_str(), ada.page.as_deref()),
        ("Ada Lovelace", "#1e88e5", Some(p.as_str()))
    );
    assert!(people[0].me, "this person first");
    let cursors = |tabs: &Tabs, page: &str| -> Vec<(u32, u32)> {
        tabs.net
            .room(1)
            .remote_cursors(page)
            .iter()
            .map(|c| (c.anchor, c.head))
            .collect()
    };
    assert_eq!(cursors(&tabs, &p), [(2, 5)]);
    let cursor = &tabs.net.room(1).remote_cursors(&p)[0];
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
    for tab in &tabs.net.peers {
        let ada = tab
            .room()
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
    let waiting = tabs.net.peers[1 - i].inbox.iter().map(Held::bytes);
    support::posted_state(waiting, client_id(i)).expect("the tab posted its state")
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
            tabs.room(1).handle(now, Input::BroadcastFrame(&frame));
            // Nothing here is a dropped frame: awareness is taken as it comes, read defensively.
            while tabs.room(1).poll_output().is_some() {}
            let room = tabs.net.room(1);
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
    let now = tabs.net.now;
    tabs.room(1).handle(now, Input::BroadcastFrame(&frame));
    let me = |tabs: &Tabs| {
        tabs.net
            .room(1)
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
    let seen_by_a = tabs.net.room(0).people();
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
    let now = tabs.net.now;
    tabs.room(1).handle(now, Input::BroadcastFrame(&frame));
    let cursors = tabs.net.room(1).remote_cursors(&q);
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
    let pages = tabs.net.room(0).pages();
    let home = pages.iter().find(|p| p.id == HOME).expect("home");
    assert_eq!(home.title, "Start", "the rename was lost: {pages:?}");
    assert_eq!(
        pages.last().map(|p| p.id.as_str()),
        Some(HOME),
        "the move was lost: {pages:?}"
    );
}

/// The notebook's title is in the document: a rename reaches the other tab, which is told (with
/// the page list), and a blank name makes it untitled again.
#[test]
fn the_notebook_title_is_shared_and_reported() {
    let mut tabs = two_tabs();
    assert_eq!(tabs.net.room(1).notebook_title(), None);
    let told = tabs.net.peers[1].pages_changed;
    tabs.room(0).rename_notebook(100, "  Reading notes ");
    tabs.drain(0);
    tabs.settle();
    assert!(
        tabs.net.peers[1].pages_changed > told,
        "the other tab was not told"
    );
    assert_eq!(
        tabs.net.room(1).notebook_title().as_deref(),
        Some("Reading notes")
    );
    tabs.room(1).rename_notebook(200, "   ");
    tabs.drain(1);
    tabs.settle();
    assert_eq!(tabs.net.room(0).notebook_title(), None, "blank: untitled");
    tabs.check_converged(3);
}

#[test]
fn renaming_rewrites_the_links_to_the_page_everywhere_and_undoes_as_one_step() {
    let mut tabs = two_tabs();
    let alpha = tabs.room(0).create_page(100, "Alpha", "");
    let beta_text = "see [[Alpha]] and [[Alpha|the first]]";
    let beta = tabs.room(0).create_page(100, "Beta", beta_text);
    // Not links to Alpha: code, a longer title; a link whatever its case and spaces.
    let other_text = "`[[Alpha]]`, [[Alphabet]], [[ ALPHA ]]\n```\n[[Alpha]]\n```\n";
    let other = tabs.room(0).create_page(100, "Alphabet", other_text);
    tabs.drain(0);
    tabs.settle();
    tabs.open(0, &alpha);
    tabs.open(1, &beta);
    // A types in Alpha just before renaming it: two steps, not one.
    tabs.edit_at(0, 1_000, &alpha, &[splice(0, "self: [[alpha]]")]);
    // B types in Beta while A renames; neither has the other's change yet.
    tabs.net.now = 1_100;
    tabs.net.edit(1, &beta, &[splice(0, "B: ")]);
    tabs.act(0, |room| {
        room.rename_page_from(1_200, &alpha, "Gamma", &alpha)
    });
    tabs.settle();
    for i in 0..2 {
        assert_eq!(tabs.net.room(i).pages()[1].title, "Gamma");
        assert_eq!(tabs.text(i, &alpha), "self: [[Gamma]]");
        assert_eq!(
            tabs.text(i, &beta),
            "B: see [[Gamma]] and [[Gamma|the first]]"
        );
        assert_eq!(
            tabs.text(i, &other),
            "`[[Alpha]]`, [[Alphabet]], [[ Gamma ]]\n```\n[[Alpha]]\n```\n"
        );
    }
    // A types elsewhere afterwards: that is Beta's to undo, not Alpha's.
    tabs.edit_at(0, 1_300, &beta, &[splice(0, "A ")]);
    // One undo in Alpha takes the title and every link back, and leaves B's and A's typing.
    assert!(tabs.undo(0, 2_000, &alpha));
    for i in 0..2 {
        assert_eq!(tabs.net.room(i).pages()[1].title, "Alpha");
        assert_eq!(tabs.text(i, &alpha), "self: [[alpha]]");
        assert_eq!(tabs.text(i, &beta), format!("A B: {beta_text}"));
        assert_eq!(tabs.text(i, &other), other_text);
    }
    assert!(tabs.undo(0, 2_100, &alpha));
    assert_eq!(tabs.text(1, &alpha), "");
    assert!(tabs.redo(0, 3_000, &alpha));
    assert!(tabs.redo(0, 3_100, &alpha));
    assert_eq!(tabs.net.room(1).pages()[1].title, "Gamma");
    assert_eq!(
        tabs.text(1, &beta),
        "A B: see [[Gamma]] and [[Gamma|the first]]"
    );
    assert!(tabs.undo(0, 4_000, &beta));
    assert_eq!(
        tabs.text(1, &beta),
        "B: see [[Gamma]] and [[Gamma|the first]]"
    );
    tabs.check_converged(7);
}

/// Two people rename the same page at once: the title keeps one of the two, and so do the
/// links (each rewrite inserted its own title where the old one was; the one whose title lost
/// takes its insertion out once it sees the other's).
#[test]
fn concurrent_renames_of_a_page_leave_its_links_with_the_title_that_won() {
    let mut tabs = two_tabs();
    let alpha = tabs.room(0).create_page(100, "Alpha", "");
    let links = "see [[Alpha]], [[ Alpha |the first]] and [[Alpha]]";
    let beta = tabs.room(0).create_page(100, "Beta", links);
    tabs.drain(0);
    tabs.settle();
    tabs.open(0, &beta);
    tabs.open(1, &beta);
    // Neither has the other's rename when making their own.
    tabs.act(0, |room| room.rename_page(1_000, &alpha, "Gamma"));
    tabs.act(1, |room| room.rename_page(1_000, &alpha, "Delta"));
    tabs.settle();
    let won = tabs.net.room(0).pages()[1].title.clone();
    assert_eq!(tabs.net.room(1).pages()[1].title, won);
    // The merge holds both insertions until the loser's repair (a timer of the room's).
    assert_ne!(
        tabs.text(0, &beta),
        links.replace("Alpha", &won),
        "the test no longer makes both rewrites merge"
    );
    tabs.fire_timers(2_000);
    for i in 0..2 {
        assert_eq!(tabs.text(i, &beta), links.replace("Alpha", &won), "tab {i}");
    }
    tabs.check_converged(7);

    // A later rename (no longer concurrent) is left alone by the repair.
    tabs.act(0, |room| room.rename_page(3_000, &alpha, "Epsilon"));
    tabs.settle();
    tabs.fire_timers(4_000);
    for i in 0..2 {
        assert_eq!(
            tabs.text(i, &beta),
            links.replace("Alpha", "Epsilon"),
            "tab {i}"
        );
    }
}

#[test]
fn a_rename_leaves_links_that_lead_elsewhere() {
    let mut tabs = two_tabs();
    let first = tabs.room(0).create_page(100, "Twin", "");
    let second = tabs.room(0).create_page(100, "Twin", "");
    let linking = tabs.room(0).create_page(100, "Links", "[[Twin]] [[Other]]");
    tabs.drain(0);
    // [[Twin]] opens the first Twin: renaming the second leaves it.
    tabs.act(0, |room| room.rename_page(200, &second, "Second"));
    assert_eq!(tabs.text(0, &linking), "[[Twin]] [[Other]]");
    // Renaming to a title an earlier page has would send the links there: they stay.
    let other = tabs.room(0).create_page(300, "Other", "");
    tabs.drain(0);
    tabs.act(0, |room| room.rename_page(400, &other, "Twin"));
    assert_eq!(tabs.text(0, &linking), "[[Twin]] [[Other]]");
    tabs.act(0, |room| room.rename_page(500, &first, "First"));
    assert_eq!(tabs.text(0, &linking), "[[First]] [[Other]]");
    tabs.settle();
    assert_eq!(tabs.text(1, &linking), "[[First]] [[Other]]");
    tabs.check_converged(7);
}
