//! Who is in the room and where their carets are, through y-protocols awareness.
//!
//! This peer's state follows the conventions of Yjs editor bindings (y-codemirror, y-quill,
//! y-prosemirror), so Yjs apps and Commonplace show each other's cursors:
//! `{ user: { name, color, colorLight }, cursor: { anchor, head } | null, page }` where `anchor`
//! and `head` are Yjs relative positions in JSON (`Y.relativePositionToJSON`) and `page` (ours)
//! is the id of the page the person has open. Other peers' states are read defensively: names
//! are cut short, colours must look like colours, and anything malformed is ignored.

use std::collections::HashMap;

use serde_json::{json, Map, Value};
use yrs::branch::{Branch, BranchPtr};
use yrs::sync::{Awareness, AwarenessUpdate, Message};
use yrs::{Assoc, ClientID, IndexedSequence, StickyIndex, Transact};

use super::Room;
use crate::app::identity;

/// y-protocols' awareness timing: states are renewed every 15 s and forgotten after 30 s.
pub const AWARENESS_RENEW_MS: u64 = 15_000;
pub const AWARENESS_TIMEOUT_MS: u64 = 30_000;

/// The largest state kept from anyone else: Commonplace's own is a few hundred bytes and a Yjs
/// editor binding's a few KiB. A bigger one (a hostile peer's megabyte) is refused, not cut:
/// a state is JSON, and half of it is none.
pub const MAX_STATE_BYTES: usize = 16 << 10;
/// The most other people whose states are kept at once. A room's mesh connects at most ~35
/// peers (y-webrtc's `maxConns`), a few tabs each; states for more newcomers than this are
/// refused until some leave (a hostile peer could name ten thousand in one frame).
pub const MAX_OTHERS: usize = 128;

/// Others who have a state (a removed one stays known, with none), and when they last spoke.
fn others_present(awareness: &Awareness) -> impl Iterator<Item = (ClientID, u64)> + '_ {
    let own = awareness.client_id();
    awareness
        .iter()
        .filter(move |(id, state)| *id != own && state.data.is_some())
        .map(|(id, state)| (id, state.last_updated))
}

/// What applying others' states did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Applied {
    /// Something someone shows changed.
    pub changed: bool,
    /// States refused by [`bound`].
    pub refused: usize,
}

/// Takes out of `update` what is not kept: states over [`MAX_STATE_BYTES`] or not JSON (we
/// would hand them on to newcomers, and y-protocols throws on them); states of people
/// not known yet once [`MAX_OTHERS`] others are present (taken in client id order, so the
/// same frame keeps the same ones everywhere); removals of people never known (each would
/// otherwise be remembered; an honest peer sends one on leaving, so they do not count). Returns
/// how many states were refused.
fn bound(awareness: &Awareness, update: &mut AwarenessUpdate) -> usize {
    let before = update.clients.len();
    let mut ignored = 0;
    update
        .clients
        .retain(|_, entry| entry.json.len() <= MAX_STATE_BYTES && is_json(&entry.json));
    let mut newcomers: Vec<ClientID> = update
        .clients
        .keys()
        .copied()
        .filter(|client| awareness.meta(*client).is_none())
        .collect();
    newcomers.sort_unstable();
    let mut room = MAX_OTHERS.saturating_sub(others_present(awareness).count());
    for client in newcomers {
        let removal = update
            .clients
            .get(&client)
            .is_none_or(|e| &*e.json == "null");
        if removal {
            update.clients.remove(&client);
            ignored += 1;
        } else if room == 0 {
            update.clients.remove(&client);
        } else {
            room -= 1;
        }
    }
    before - update.clients.len() - ignored
}

fn is_json(text: &str) -> bool {
    serde_json::from_str::<serde::de::IgnoredAny>(text).is_ok()
}

/// When the first of the others present is to be forgotten, unless heard from before.
fn others_expire(awareness: &Awareness) -> Option<u64> {
    others_present(awareness)
        .map(|(_, seen)| seen + AWARENESS_TIMEOUT_MS)
        .min()
}

/// Someone in the room, this person included.
#[derive(Debug, Clone, PartialEq)]
pub struct Person {
    pub client_id: u64,
    pub name: String,
    pub color: String,
    /// The page they have open, if they say (Yjs apps do not).
    pub page: Option<String>,
    /// Their peer id (Commonplace says it; for Yjs apps, the peer their state came from):
    /// which connection reaches them, for showing how ([`Room::paths`]).
    pub peer: Option<String>,
    pub me: bool,
}

/// Another person's caret (`head`) and selection (from `anchor`) in a page, as UTF-16 offsets.
#[derive(Debug, Clone, PartialEq)]
pub struct RemoteCursor {
    pub client_id: u64,
    pub name: String,
    pub color: String,
    pub anchor: u32,
    pub head: u32,
}

/// This peer's own presence, and the upkeep of everyone's (y-protocols' timing).
#[derive(Debug)]
pub(super) struct Presence {
    peer_id: String,
    user: Option<(String, String)>,
    page: Option<String>,
    cursor: Option<(StickyIndex, StickyIndex)>,
    /// The page and the (anchor, head) offsets `cursor` was taken at, while only this
    /// person's edits have changed that page since (they are followed in
    /// [`Presence::cursor_follows`]); `None` once anything else changed the notebook.
    cursor_at: Option<(String, u32, u32)>,
    /// The state last shared: an unchanged one is not sent again (a keystroke moves the caret
    /// in the text but not its relative position, so typing shares nothing).
    shared: Option<String>,
    last_renewal: u64,
    /// The peer whose frame last brought each person a newer state (not another tab's): for Yjs apps, which do
    /// not say their peer id, the connection that reaches them.
    heard_from: HashMap<ClientID, String>,
    /// When the first of the others present is to be forgotten (`None`: nobody else is here),
    /// kept as their states change: reading it from awareness locks every shard of its map,
    /// and the room is asked for its timeout after every keystroke.
    others_expire: Option<u64>,
}

impl Presence {
    pub fn new(now: u64, peer_id: String) -> Presence {
        Presence {
            peer_id,
            user: None,
            page: None,
            cursor: None,
            cursor_at: None,
            shared: None,
            last_renewal: now,
            heard_from: HashMap::new(),
            others_expire: None,
        }
    }

    /// Makes this person's state the one awareness holds: the update to send everyone, if it
    /// changed.
    fn share(&mut self, now: u64, awareness: &mut Awareness) -> Option<AwarenessUpdate> {
        let state = self.to_json();
        if self.shared.as_ref() == Some(&state) {
            return None;
        }
        self.shared = Some(state.clone());
        self.renewal(now, awareness, state)
    }

    /// Sets this person's state (again) and returns the update that tells everyone. Setting it
    /// again is what renews it: the clock goes up, and others take only a newer clock as a
    /// sign of life (y-protocols does `setLocalState(getLocalState())`).
    fn renewal(
        &mut self,
        now: u64,
        awareness: &mut Awareness,
        state: String,
    ) -> Option<AwarenessUpdate> {
        self.last_renewal = now;
        awareness.set_local_state_raw(state);
        awareness.update_with_clients([awareness.client_id()]).ok()
    }

    /// Whether this person's cursor, moved by their own `edits` of `page` ((index, deleted,
    /// inserted) in UTF-16 units, in order), is where the editor now says, `anchor` and `head`:
    /// then its relative positions are the same and need not be looked up again (an O(page)
    /// walk through the text's blocks, twice per keystroke). A position names the character
    /// after it (`Assoc::After`, or the end of the text), which an edit only moves: by what it
    /// inserted minus what it deleted when the edit is before it, not at all when after it; an
    /// edit deleting that character leaves no answer.
    pub fn cursor_follows(
        &mut self,
        page: &str,
        edits: &[(u32, u32, u32)],
        anchor: u32,
        head: u32,
    ) -> bool {
        let Some((at_page, mut old_anchor, mut old_head)) = self.cursor_at.take() else {
            return false;
        };
        let follow = |offset: &mut u32| {
            for &(index, deleted, inserted) in edits {
                if *offset >= index + deleted {
                    *offset = *offset - deleted + inserted;
                } else if *offset >= index {
                    return false;
                }
            }
            true
        };
        let same = at_page == page
            && follow(&mut old_anchor)
            && follow(&mut old_head)
            && (old_anchor, old_head) == (anchor, head);
        if same {
            self.cursor_at = Some((at_page, anchor, head));
        }
        same
    }

    /// Something other than this person's edits changed the notebook: offsets say nothing about
    /// where the cursor's relative positions are until it is set again.
    pub fn forget_cursor_offsets(&mut self) {
        self.cursor_at = None;
    }

    /// Everyone's state, for a newcomer or someone who asked.
    pub fn everyone(&self, awareness: &Awareness) -> Option<AwarenessUpdate> {
        let clients: Vec<ClientID> = awareness.iter().map(|(id, _)| id).collect();
        awareness.update_with_clients(clients).ok()
    }

    /// Applies others' states: whether anything someone shows changed, and how many states
    /// were refused (too big, or newcomers past [`MAX_OTHERS`]).
    pub fn on_update(
        &mut self,
        awareness: &mut Awareness,
        from: Option<&str>,
        mut update: AwarenessUpdate,
    ) -> Result<Applied, String> {
        // Only this peer speaks for itself: a peer replaying our client id (with a higher
        // clock) would otherwise replace our name, and we would pass it on.
        update.clients.remove(&awareness.client_id());
        let refused = bound(awareness, &mut update);
        // A person's own renewals are the newest; a peer passing them on repeats a clock seen.
        for (client, entry) in &update.clients {
            let newer = awareness
                .meta(*client)
                .is_none_or(|(clock, _)| entry.clock > clock);
            if let (true, Some(from)) = (newer, from) {
                self.heard_from.insert(*client, from.to_owned());
            }
        }
        if self.heard_from.len() > 2 * awareness.iter().count() + 16 {
            self.heard_from
                .retain(|client, _| awareness.meta(*client).is_some());
        }
        let applied = awareness
            .apply_update_summary(update)
            .map(|summary| Applied {
                changed: summary.is_some(),
                refused,
            })
            .map_err(|e| e.to_string());
        self.others_expire = others_expire(awareness);
        applied
    }

    /// Renews this person's state when due; forgets others who went quiet. Returns the renewal
    /// to send, and whether anyone was forgotten.
    pub fn on_timeout(
        &mut self,
        now: u64,
        awareness: &mut Awareness,
    ) -> (Option<AwarenessUpdate>, bool) {
        let due = now.saturating_sub(self.last_renewal) >= AWARENESS_RENEW_MS;
        let renewal = match awareness.local_state_raw() {
            Some(state) if due => self.renewal(now, awareness, state.to_string()),
            _ => None,
        };
        let outdated: Vec<ClientID> = others_present(awareness)
            .filter(|&(_, seen)| now.saturating_sub(seen) >= AWARENESS_TIMEOUT_MS)
            .map(|(id, _)| id)
            .collect();
        for &id in &outdated {
            awareness.remove_state(id);
        }
        self.others_expire = others_expire(awareness);
        (renewal, !outdated.is_empty())
    }

    pub fn poll_timeout(&self) -> Option<u64> {
        let renewal = self.last_renewal + AWARENESS_RENEW_MS;
        Some(self.others_expire.map_or(renewal, |e| e.min(renewal)))
    }

    fn to_json(&self) -> String {
        let mut state = Map::new();
        if let Some((name, color)) = &self.user {
            let light = format!("{color}33");
            state.insert(
                "user".into(),
                json!({ "name": name, "color": color, "colorLight": light }),
            );
        }
        if let Some(page) = &self.page {
            state.insert("page".into(), json!(page));
        }
        state.insert("peer".into(), json!(self.peer_id));
        let cursor = match &self.cursor {
            Some((anchor, head)) => json!({ "anchor": anchor, "head": head }),
            None => Value::Null,
        };
        state.insert("cursor".into(), cursor);
        Value::Object(state).to_string()
    }
}

impl Room {
    /// Sets the name and colour others see (a colour like `#1e88e5`). Like every change of
    /// this person's own presence, it is not echoed as [`super::Event::PresenceChanged`].
    pub fn set_user(&mut self, now: u64, name: &str, color: &str) {
        let name = identity::clean_name(name).unwrap_or_default();
        let color = identity::color_or_default(color).to_owned();
        self.presence.user = Some((name, color));
        self.share_presence(now);
    }

    /// Sets the page this person has open and their selection in it (UTF-16 offsets; the caret
    /// is at `head`). Others see it follow concurrent edits: it is kept as relative positions.
    pub fn set_cursor(&mut self, now: u64, page: &str, anchor: u32, head: u32) {
        self.set_time(now);
        let cursor = {
            let txn = self.doc().transact();
            self.pages.notebook().body(&txn, page).map(|body| {
                // yrs gives no position at the end of a text (an empty one included), where
                // Yjs's `createRelativePositionFromTypeIndex` gives the text itself
                // (`{ tname }` or `{ type }`), which stays at its end: so do we.
                let at = |index| {
                    body.sticky_index(&txn, index, Assoc::After)
                        .unwrap_or_else(|| StickyIndex::from_type(&txn, &body, Assoc::After))
                };
                (at(anchor), at(head))
            })
        };
        self.presence.cursor_at = cursor.is_some().then(|| (page.to_owned(), anchor, head));
        self.presence.page = Some(page.to_owned());
        self.presence.cursor = cursor;
        self.share_presence(now);
    }

    /// Everyone in the room who has said anything, this person first.
    pub fn people(&self) -> Vec<Person> {
        let own = self.awareness.client_id();
        let mut people: Vec<Person> = self
            .awareness
            .iter()
            .filter_map(|(id, state)| {
                let state: Value = serde_json::from_str(state.data.as_deref()?).ok()?;
                let mut person = person(id.get(), own.get(), &state);
                if person.peer.is_none() && !person.me {
                    person.peer = self.presence.heard_from.get(&id).cloned();
                }
                Some(person)
            })
            .collect();
        people.sort_by(|a, b| b.me.cmp(&a.me).then(a.name.cmp(&b.name)));
        people
    }

    /// Other people's carets and selections in `page`, where they are now.
    pub fn remote_cursors(&self, page: &str) -> Vec<RemoteCursor> {
        let own = self.awareness.client_id();
        let txn = self.doc().transact();
        let Some(body) = self.pages.notebook().body(&txn, page) else {
            return Vec::new();
        };
        let branch: &Branch = body.as_ref();
        let target = BranchPtr::from(branch);
        self.awareness
            .iter()
            .filter(|(id, _)| *id != own)
            .filter_map(|(id, state)| {
                let id = id.get();
                let state: Value = serde_json::from_str(state.data.as_deref()?).ok()?;
                let cursor = state.get("cursor")?;
                let offset = |key: &str| {
                    let index: StickyIndex =
                        serde_json::from_value(cursor.get(key)?.clone()).ok()?;
                    let offset = index.get_offset(&txn)?;
                    (offset.branch == target).then_some(offset.index)
                };
                let (anchor, head) = (offset("anchor")?, offset("head")?);
                let Person { name, color, .. } = person(id, own.get(), &state);
                Some(RemoteCursor {
                    client_id: id,
                    name,
                    color,
                    anchor,
                    head,
                })
            })
            .collect()
    }

    fn share_presence(&mut self, now: u64) {
        self.set_time(now);
        if let Some(update) = self.presence.share(now, &mut self.awareness) {
            self.broadcast(&Message::Awareness(update), None);
        }
    }
}

/// Who a peer's awareness state says they are; nonsense becomes a guest name and grey.
fn person(id: u64, own: u64, state: &Value) -> Person {
    let user = state.get("user");
    let name = user
        .and_then(|u| u.get("name"))
        .and_then(Value::as_str)
        .and_then(identity::clean_name)
        .unwrap_or_else(|| format!("Guest {}", id % 1000));
    let color = user
        .and_then(|u| u.get("color"))
        .and_then(Value::as_str)
        .map_or(identity::DEFAULT_COLOR, identity::color_or_default)
        .to_owned();
    let page = state.get("page").and_then(Value::as_str).map(str::to_owned);
    // A peer id is a UUID: anything longer is not one.
    let peer = state
        .get("peer")
        .and_then(Value::as_str)
        .filter(|p| p.len() <= 64)
        .map(str::to_owned);
    Person {
        peer,
        client_id: id,
        name,
        color,
        page,
        me: id == own,
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicU64, Ordering};
    use std::sync::Arc;

    use yrs::Doc;

    use super::*;

    fn awareness(client: u64, clock: &Arc<AtomicU64>) -> Awareness {
        let clock = clock.clone();
        let mut awareness = Awareness::with_clock(Doc::with_client_id(client), move || {
            clock.load(Ordering::Relaxed)
        });
        awareness.set_local_state_raw("{}");
        awareness
    }

    #[test]
    fn an_idle_person_stays_present_because_renewals_count() {
        let time = Arc::new(AtomicU64::new(0));
        let (mut ada, mut bob) = (awareness(1, &time), awareness(2, &time));
        let (mut ada_presence, mut bob_presence) =
            (Presence::new(0, "a".into()), Presence::new(0, "b".into()));
        ada_presence.user = Some(("Ada".into(), "#123456".into()));
        let first = ada_presence.share(0, &mut ada).unwrap();
        assert_eq!(
            bob_presence.on_update(&mut bob, Some("alice"), first),
            Ok(Applied {
                changed: true,
                refused: 0
            })
        );
        // Ada does nothing for two minutes; her renewals reach Bob.
        for now in (1..=120).map(|s| s * 1_000) {
            time.store(now, Ordering::Relaxed);
            if let (Some(renewal), _) = ada_presence.on_timeout(now, &mut ada) {
                bob_presence
                    .on_update(&mut bob, Some("alice"), renewal)
                    .unwrap();
            }
            let (_, forgotten) = bob_presence.on_timeout(now, &mut bob);
            assert!(!forgotten, "Bob forgot Ada at {now} ms");
        }
        assert!(bob.state::<serde_json::Value>(ada.client_id()).is_some());
        // Once her renewals stop (she is gone), Bob forgets her after 30 s.
        let mut forgotten_at = None;
        for now in (121..=200).map(|s| s * 1_000) {
            time.store(now, Ordering::Relaxed);
            if bob_presence.on_timeout(now, &mut bob).1 {
                forgotten_at.get_or_insert(now);
            }
        }
        let last_renewal = 120_000 - 120_000 % AWARENESS_RENEW_MS;
        assert_eq!(forgotten_at, Some(last_renewal + AWARENESS_TIMEOUT_MS));
    }

    fn states(entries: impl IntoIterator<Item = (u64, String)>) -> AwarenessUpdate {
        AwarenessUpdate {
            clients: entries
                .into_iter()
                .map(|(client, json)| {
                    let json = json.into();
                    (
                        ClientID::new(client),
                        yrs::sync::awareness::AwarenessUpdateEntry { clock: 1, json },
                    )
                })
                .collect(),
        }
    }

    fn others(awareness: &Awareness) -> usize {
        others_present(awareness).count()
    }

    #[test]
    fn a_state_too_big_or_not_json_is_refused_and_the_rest_kept() {
        let time = Arc::new(AtomicU64::new(0));
        let mut bob = awareness(2, &time);
        let mut presence = Presence::new(0, "b".into());
        let huge = format!(r#"{{"user":{{"name":"{}"}}}}"#, "M".repeat(1 << 20));
        let fine = r#"{"user":{"name":"Ada"}}"#.to_owned();
        let broken = "{not json".to_owned();
        let update = states([(7, huge), (8, fine), (9, broken)]);
        let applied = presence.on_update(&mut bob, Some("x"), update);
        assert_eq!(
            applied,
            Ok(Applied {
                changed: true,
                refused: 2
            })
        );
        assert!(
            bob.meta(ClientID::new(7)).is_none(),
            "the megabyte was kept"
        );
        assert!(
            bob.meta(ClientID::new(9)).is_none(),
            "a state that is no JSON was kept"
        );
        assert_eq!(others(&bob), 1);
    }

    #[test]
    fn ten_thousand_newcomers_in_one_frame_are_bounded() {
        let time = Arc::new(AtomicU64::new(0));
        let mut bob = awareness(2, &time);
        let mut presence = Presence::new(0, "b".into());
        let crowd = (1_000..11_000).map(|c| (c, format!(r#"{{"user":{{"name":"M{c}"}}}}"#)));
        let applied = presence
            .on_update(&mut bob, Some("x"), states(crowd))
            .unwrap();
        assert_eq!(applied.refused, 10_000 - MAX_OTHERS);
        assert_eq!(others(&bob), MAX_OTHERS);
        assert!(
            bob.iter().count() <= MAX_OTHERS + 1,
            "refused ones remembered"
        );
        // The lowest client ids were kept: every peer keeps the same ones.
        assert!(
            bob.meta(ClientID::new(1_000)).is_some() && bob.meta(ClientID::new(10_999)).is_none()
        );
        // Full: another newcomer waits; a known person's new state still counts.
        let applied = presence
            .on_update(&mut bob, Some("x"), states([(5, "{}".to_owned())]))
            .unwrap();
        assert_eq!(applied.refused, 1);
        let mut update = states([(1_000, r#"{"user":{"name":"Ada"}}"#.to_owned())]);
        update.clients.values_mut().for_each(|e| e.clock = 2);
        let applied = presence.on_update(&mut bob, Some("x"), update).unwrap();
        assert_eq!(
            applied,
            Applied {
                changed: true,
                refused: 0
            }
        );
    }

    #[test]
    fn removals_of_people_never_known_are_not_remembered() {
        let time = Arc::new(AtomicU64::new(0));
        let mut bob = awareness(2, &time);
        let mut presence = Presence::new(0, "b".into());
        let ghosts = (1_000..2_000).map(|c| (c, "null".to_owned()));
        let applied = presence
            .on_update(&mut bob, Some("x"), states(ghosts))
            .unwrap();
        assert_eq!(applied.refused, 0, "nothing worth a log line");
        assert_eq!(bob.iter().count(), 1, "only Bob himself");
    }
}
