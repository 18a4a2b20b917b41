//! The connection and storage badges: what a person is told about the room's reach and this
//! browser's copy, from the room's [`Status`] and what the shell knows.

use super::paths::{PathCounts, PathKind};
use crate::room::server_store::ServerCopy;
use crate::room::Status;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SignalingState {
    #[default]
    Connecting,
    Online,
    /// The signaling server cannot be reached (retrying); peers already connected carry on.
    Offline,
}

/// Where this browser's copy of the notebook stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SaveState {
    /// Reading the notebook from IndexedDB.
    #[default]
    Loading,
    Saving,
    Saved,
    /// IndexedDB refused (private mode, quota, blocked): edits live only in memory.
    Failed,
    /// This browser holds the room under another key: edits live only in memory.
    OtherKey,
}

/// Where the server's encrypted copy of the notebook stands (`docs/store.md`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ServerCopyState {
    /// Not known yet (the browser's copy is loading, the server not yet asked).
    #[default]
    Unknown,
    /// An open room: there is no key to seal a copy with, so there is none.
    OpenRoom,
    /// This server keeps no copies (`--no-store`, or an older server).
    NoStore,
    Copy(ServerCopy),
}

/// Everything the badges show.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct SessionStatus {
    pub signaling: SignalingState,
    pub peers: usize,
    /// Every connected peer has sent us its state since we last asked: nothing is arriving.
    pub synced: bool,
    /// Other tabs of this browser in the room.
    pub tabs: usize,
    pub saving: SaveState,
    /// A large sync is arriving: bytes received of the total.
    pub receiving: Option<(usize, usize)>,
    /// Peers reached through a TURN server, and through the signaling server.
    pub paths: PathCounts,
    /// Someone in the room uses another secret (or none), and nobody we can read is here:
    /// most likely this link's key is wrong.
    pub cannot_decrypt: bool,
    pub server_copy: ServerCopyState,
    /// The browser found this notebook's database corrupt and started it afresh: what it had
    /// stored came back only from peers or the server copy.
    pub store_lost: bool,
}

/// What the shell knows that the room does not.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ShellFacts {
    /// A first connection attempt to the signaling server ended (opened or failed).
    pub attempted: bool,
    /// The stored notebook has been read (or reading it failed).
    pub loaded: bool,
    /// The store's own state, once it is open.
    pub store: Option<SaveState>,
    /// This browser's copy of the room was stored under another key.
    pub store_of_other_key: bool,
    /// The browser started the room's database afresh, the old one corrupt.
    pub store_lost: bool,
    /// The open page shows some text.
    pub has_text: bool,
    pub receiving: Option<(usize, usize)>,
    /// How each connected peer is reached.
    pub paths: Vec<PathKind>,
    /// The room has a key (only a keyed room can keep a server copy).
    pub keyed: bool,
    /// The server keeps copies (`/config`'s `store`); `None`: not heard yet.
    pub server_keeps_copies: Option<bool>,
}

/// Turns room status and shell facts into what the badges show. Remembers one thing: whether
/// this key was ever trusted.
#[derive(Debug, Default)]
pub struct StatusModel {
    /// This key has read someone (a peer or a tab), or the notebook has text: when a stranger
    /// with another key shows up, the stranger's link is the likely wrong one, not ours.
    trusted: bool,
}

impl StatusModel {
    pub fn view(&mut self, room: Status, shell: ShellFacts) -> SessionStatus {
        if room.peers > 0 || room.tabs > 0 || shell.has_text {
            self.trusted = true;
        }
        let signaling = match (room.online, shell.attempted) {
            (true, _) => SignalingState::Online,
            (false, false) => SignalingState::Connecting,
            (false, true) => SignalingState::Offline,
        };
        let saving = match shell.store {
            Some(state) => state,
            None if shell.store_of_other_key => SaveState::OtherKey,
            None if shell.loaded => SaveState::Failed,
            None => SaveState::Loading,
        };
        SessionStatus {
            signaling,
            peers: room.peers,
            synced: room.synced,
            tabs: room.tabs,
            saving,
            receiving: shell.receiving,
            paths: PathCounts::of(shell.paths.iter().copied()),
            cannot_decrypt: shell.store_of_other_key || (room.undecryptable && !self.trusted),
            server_copy: match (room.server_copy, shell.keyed, shell.server_keeps_copies) {
                (_, false, _) => ServerCopyState::OpenRoom,
                (ServerCopy::None, true, Some(false)) => ServerCopyState::NoStore,
                (ServerCopy::None, true, _) => ServerCopyState::Unknown,
                (copy, true, _) => ServerCopyState::Copy(copy),
            },
            store_lost: shell.store_lost,
        }
    }
}

/// The connection badge: its state (`data-signaling`), its text, and whether the room is
/// still syncing with someone (`data-synced` is its opposite).
pub fn connection_label(status: &SessionStatus) -> (&'static str, String, bool) {
    let (state, mut label) = match status.signaling {
        SignalingState::Connecting => ("connecting", "Connecting…".to_owned()),
        SignalingState::Online => (
            "online",
            format!("Connected · {}", count(status.peers, "peer")),
        ),
        SignalingState::Offline => (
            "offline",
            format!("Offline · {}", count(status.peers, "peer")),
        ),
    };
    let paths = status.paths.summary();
    if !paths.is_empty() {
        label.push_str(&format!(" ({paths})"));
    }
    let syncing = status.peers > 0 && !status.synced;
    if syncing {
        label.push_str(" · syncing…");
    }
    if status.tabs > 0 {
        label.push_str(&format!(" · {}", count(status.tabs, "other tab")));
    }
    (state, label, syncing)
}

/// The storage badge: its state (`data-state`) and text.
pub fn saved_label(state: SaveState) -> (&'static str, &'static str) {
    match state {
        SaveState::Loading => ("loading", "Opening…"),
        SaveState::Saving => ("saving", "Saving…"),
        SaveState::Saved => ("saved", "Saved locally"),
        SaveState::Failed => ("error", "Not saved: this browser refused storage"),
        SaveState::OtherKey => (
            "error",
            "Not saved: this browser keeps this room under another key",
        ),
    }
}

/// The server copy badge: its state (`data-state`), its text, and whether every change of
/// this browser's is in the store (`#status[data-server-saved="yes"]`).
pub fn server_copy_label(state: ServerCopyState) -> (&'static str, &'static str, bool) {
    match state {
        ServerCopyState::Unknown | ServerCopyState::Copy(ServerCopy::None) => {
            ("pending", "Not yet on server", false)
        }
        ServerCopyState::Copy(ServerCopy::Pending) => ("pending", "Not yet on server", false),
        ServerCopyState::Copy(ServerCopy::Saved) => ("saved", "Saved to server", true),
        ServerCopyState::Copy(ServerCopy::Refused) => (
            "error",
            "Not on server: the server refused this notebook's changes",
            false,
        ),
        ServerCopyState::Copy(ServerCopy::Removed) => {
            ("none", "No server copy: it was removed", false)
        }
        ServerCopyState::OpenRoom => (
            "none",
            "No server copy: an open room (only a link with a key keeps one)",
            false,
        ),
        ServerCopyState::NoStore => ("none", "No server copy: this server keeps none", false),
    }
}

fn count(n: usize, noun: &str) -> String {
    match n {
        1 => format!("1 {noun}"),
        n => format!("{n} {noun}s"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn room(peers: usize, undecryptable: bool) -> Status {
        Status {
            online: true,
            peers,
            tabs: 0,
            synced: true,
            undecryptable,
            ..Status::default()
        }
    }

    #[test]
    fn a_stranger_alarms_only_a_key_that_never_read_anyone() {
        let mut fresh = StatusModel::default();
        let view = fresh.view(room(0, true), ShellFacts::default());
        assert!(
            view.cannot_decrypt,
            "nobody readable here, someone unreadable: our key is wrong"
        );

        let mut trusted = StatusModel::default();
        trusted.view(room(1, false), ShellFacts::default());
        let view = trusted.view(room(0, true), ShellFacts::default());
        assert!(
            !view.cannot_decrypt,
            "we read a peer once: the stranger has the wrong key"
        );

        let mut writer = StatusModel::default();
        let facts = ShellFacts {
            has_text: true,
            ..ShellFacts::default()
        };
        assert!(!writer.view(room(0, true), facts).cannot_decrypt);

        let other_key = ShellFacts {
            store_of_other_key: true,
            ..ShellFacts::default()
        };
        let view = StatusModel::default().view(room(0, false), other_key);
        assert!(view.cannot_decrypt);
        assert_eq!(view.saving, SaveState::OtherKey);
    }

    #[test]
    fn a_store_the_browser_lost_is_said_while_saving_goes_on() {
        let lost = ShellFacts {
            loaded: true,
            store: Some(SaveState::Saved),
            store_lost: true,
            ..ShellFacts::default()
        };
        let view = StatusModel::default().view(room(0, false), lost);
        assert!(view.store_lost);
        assert_eq!(view.saving, SaveState::Saved);
        assert!(!view.cannot_decrypt);
    }

    #[test]
    fn offline_means_a_first_attempt_ended() {
        let mut model = StatusModel::default();
        let offline = Status::default();
        assert_eq!(
            model.view(offline, ShellFacts::default()).signaling,
            SignalingState::Connecting
        );
        let attempted = ShellFacts {
            attempted: true,
            loaded: true,
            ..ShellFacts::default()
        };
        let view = model.view(offline, attempted);
        assert_eq!(view.signaling, SignalingState::Offline);
        assert_eq!(
            view.saving,
            SaveState::Failed,
            "loaded, and no store: storage refused"
        );
    }

    #[test]
    fn badges_say_it_in_words() {
        let mut status = SessionStatus {
            signaling: SignalingState::Online,
            peers: 2,
            synced: false,
            tabs: 1,
            ..SessionStatus::default()
        };
        assert_eq!(
            connection_label(&status),
            (
                "online",
                "Connected · 2 peers · syncing… · 1 other tab".into(),
                true
            )
        );
        status.synced = true;
        status.peers = 1;
        status.tabs = 0;
        assert_eq!(connection_label(&status).1, "Connected · 1 peer");
        status.paths.server = 1;
        assert_eq!(
            connection_label(&status).1,
            "Connected · 1 peer (1 via the server)"
        );
        status.paths.server = 0;
        status.signaling = SignalingState::Offline;
        status.peers = 0;
        assert_eq!(
            connection_label(&status),
            ("offline", "Offline · 0 peers".into(), false)
        );
        assert_eq!(saved_label(SaveState::Saved), ("saved", "Saved locally"));
    }

    #[test]
    fn the_server_copy_badge_says_why_there_is_none() {
        let with = |copy, keyed, keeps| {
            let room = Status {
                server_copy: copy,
                ..Status::default()
            };
            let facts = ShellFacts {
                keyed,
                server_keeps_copies: keeps,
                ..ShellFacts::default()
            };
            server_copy_label(StatusModel::default().view(room, facts).server_copy)
        };
        assert_eq!(with(ServerCopy::None, false, Some(true)).0, "none");
        assert!(with(ServerCopy::None, false, Some(true))
            .1
            .contains("open room"));
        assert!(with(ServerCopy::None, true, Some(false))
            .1
            .contains("keeps none"));
        assert_eq!(with(ServerCopy::None, true, None).1, "Not yet on server");
        assert_eq!(
            with(ServerCopy::Saved, true, Some(true)),
            ("saved", "Saved to server", true)
        );
        assert_eq!(
            with(ServerCopy::Pending, true, None),
            ("pending", "Not yet on server", false)
        );
        assert!(with(ServerCopy::Removed, true, Some(true))
            .1
            .contains("removed"));
    }
}
