//! The notebooks this browser holds, as the start screen (`/` without a room) lists them: kept
//! by the shell in localStorage as the session learns about each (its link, name, pages, stored
//! size, when it was last edited here), read back tolerantly (a damaged list is an empty one,
//! a damaged entry is skipped).

use serde::{Deserialize, Serialize};

/// One notebook this browser holds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct NotebookEntry {
    pub room: String,
    /// The room's secret, for the link that opens it again; `None`: an open room.
    #[serde(default)]
    pub secret: Option<String>,
    /// `None` while untitled.
    #[serde(default)]
    pub title: Option<String>,
    #[serde(default)]
    pub pages: usize,
    /// What its records take in this browser's IndexedDB.
    #[serde(default)]
    pub bytes: u64,
    /// When this person last changed it here (ms since the Unix epoch); `None`: never.
    #[serde(default)]
    pub edited_at: Option<u64>,
    /// When it was last opened here.
    #[serde(default)]
    pub opened_at: u64,
    /// The server keeps an encrypted copy of it (as last seen).
    #[serde(default)]
    pub server_copy: bool,
}

impl NotebookEntry {
    pub fn new(room: &str, secret: Option<&str>, now: u64) -> Self {
        NotebookEntry {
            room: room.to_owned(),
            secret: secret.map(str::to_owned),
            title: None,
            pages: 1,
            bytes: 0,
            edited_at: None,
            opened_at: now,
            server_copy: false,
        }
    }

    /// The link's fragment that opens it (as `notebook::link::RoomLink` writes it).
    pub fn fragment(&self) -> String {
        crate::notebook::link::RoomLink {
            room: self.room.clone(),
            key: self.secret.clone(),
        }
        .fragment()
    }

    fn recent(&self) -> u64 {
        self.edited_at.unwrap_or(0).max(self.opened_at)
    }

    /// What "Forget on this browser" asks before it deletes this browser's copy.
    pub fn forget_question(&self) -> String {
        let name = shown_name(self.title.as_deref());
        let elsewhere = if self.server_copy {
            "The server keeps an encrypted copy, and others in the room may still have theirs: \
             the link opens it again."
        } else {
            "The server keeps no copy: unless someone else in the room still has it, it is gone \
             for good."
        };
        format!("Forget “{name}” on this browser? {elsewhere}")
    }
}

/// A notebook's name as shown: its title, or what an untitled one is called.
pub fn shown_name(title: Option<&str>) -> &str {
    title.unwrap_or("Untitled notebook")
}

/// The list, most recently used first.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Notebooks(Vec<NotebookEntry>);

impl Notebooks {
    /// Reads the stored list; what cannot be read is left out.
    pub fn parse(json: &str) -> Notebooks {
        let values: Vec<serde_json::Value> = serde_json::from_str(json).unwrap_or_default();
        let mut entries: Vec<NotebookEntry> = values
            .into_iter()
            .filter_map(|value| serde_json::from_value(value).ok())
            .filter(|entry: &NotebookEntry| !entry.room.is_empty())
            .collect();
        entries.sort_by_key(|entry| std::cmp::Reverse(entry.recent()));
        entries.dedup_by(|a, b| a.room == b.room);
        Notebooks(entries)
    }

    pub fn to_json(&self) -> String {
        serde_json::to_string(&self.0).unwrap_or_else(|_| "[]".to_owned())
    }

    pub fn entries(&self) -> &[NotebookEntry] {
        &self.0
    }

    /// Changes the entry of `room` (made first if there is none), which moves to the front.
    pub fn update(
        &mut self,
        room: &str,
        secret: Option<&str>,
        now: u64,
        change: impl FnOnce(&mut NotebookEntry),
    ) {
        let mut entry = match self.0.iter().position(|e| e.room == room) {
            Some(at) => self.0.remove(at),
            None => NotebookEntry::new(room, secret, now),
        };
        change(&mut entry);
        self.0.insert(0, entry);
        self.0
            .sort_by_key(|entry| std::cmp::Reverse(entry.recent()));
    }

    pub fn forget(&mut self, room: &str) {
        self.0.retain(|entry| entry.room != room);
    }
}

/// A size as the list shows it.
pub fn describe_bytes(bytes: u64) -> String {
    match bytes {
        0..=999 => format!("{bytes} B"),
        1_000..=999_999 => format!("{} kB", (bytes + 500) / 1_000),
        _ => format!("{:.1} MB", bytes as f64 / 1e6),
    }
}

/// How long ago `then` was, as the list shows it.
pub fn describe_age(now: u64, then: u64) -> String {
    let minutes = now.saturating_sub(then) / 60_000;
    match minutes {
        0 => "just now".to_owned(),
        1..=59 => format!("{minutes} min ago"),
        60..=1_439 => format!("{} h ago", minutes / 60),
        1_440..=2_879 => "yesterday".to_owned(),
        _ => format!("{} days ago", minutes / 1_440),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn most_recent_first_and_updated_in_place() {
        let mut list = Notebooks::default();
        list.update("a", Some("s"), 100, |_| {});
        list.update("b", None, 200, |_| {});
        list.update("a", None, 300, |e| {
            e.opened_at = 300;
            e.title = Some("Alpha".into());
        });
        let rooms: Vec<_> = list.entries().iter().map(|e| e.room.as_str()).collect();
        assert_eq!(rooms, ["a", "b"]);
        assert_eq!(
            list.entries()[0].secret.as_deref(),
            Some("s"),
            "kept from before"
        );
        let back = Notebooks::parse(&list.to_json());
        assert_eq!(back, list);
        list.forget("a");
        assert_eq!(list.entries().len(), 1);
    }

    #[test]
    fn a_damaged_list_reads_as_what_can_be_read() {
        assert_eq!(Notebooks::parse("not json"), Notebooks::default());
        assert_eq!(Notebooks::parse("{}"), Notebooks::default());
        let list = Notebooks::parse(r#"[{"room":"a","pages":"x"},{"room":"b"},7,{"room":""}]"#);
        let rooms: Vec<_> = list.entries().iter().map(|e| e.room.as_str()).collect();
        assert_eq!(rooms, ["b"]);
    }

    #[test]
    fn the_link_opens_it_again() {
        let entry = NotebookEntry::new("room1", Some("key1"), 0);
        let link = crate::notebook::link::RoomLink::parse(&entry.fragment())
            .unwrap()
            .unwrap();
        assert_eq!(
            (link.room.as_str(), link.key.as_deref()),
            ("room1", Some("key1"))
        );
    }

    #[test]
    fn sizes_ages_and_the_question() {
        assert_eq!(describe_bytes(512), "512 B");
        assert_eq!(describe_bytes(12_400), "12 kB");
        assert_eq!(describe_bytes(3_450_000), "3.5 MB");
        let hour = 3_600_000;
        assert_eq!(describe_age(10 * hour, 10 * hour), "just now");
        assert_eq!(describe_age(10 * hour, 10 * hour - 300_000), "5 min ago");
        assert_eq!(describe_age(30 * hour, 0), "yesterday");
        let mut entry = NotebookEntry::new("r", None, 0);
        assert!(entry.forget_question().contains("gone for good"));
        entry.server_copy = true;
        entry.title = Some("Quotes".into());
        let question = entry.forget_question();
        assert!(question.contains("“Quotes”") && question.contains("encrypted copy"));
    }
}
