//! How this browser reaches each person: what the people list and the status line say.

use crate::room::Path;

/// The way frames travel to a peer, as a person would name it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PathKind {
    /// A data channel between host addresses: the same machine or network.
    Direct,
    /// A data channel through NATs, found with STUN (server-reflexive candidates).
    Stun,
    /// A data channel relayed by a TURN server.
    Turn,
    /// No data channel: frames go through the signaling server.
    ServerRelay,
}

impl PathKind {
    /// From the room's path and, for a data channel, the types of the selected ICE candidate
    /// pair (`host`, `srflx`, `prflx`, `relay`; `None` before the browser says).
    pub fn of(path: Path, local: Option<&str>, remote: Option<&str>) -> PathKind {
        match path {
            Path::Relay => PathKind::ServerRelay,
            Path::Direct => {
                let types = [local, remote];
                if types.contains(&Some("relay")) {
                    PathKind::Turn
                } else if types.contains(&Some("srflx")) {
                    PathKind::Stun
                } else {
                    // host, or prflx (an address learned in the checks: on a LAN, a host's).
                    PathKind::Direct
                }
            }
        }
    }

    /// `data-path` in the DOM.
    pub fn attribute(self) -> &'static str {
        match self {
            PathKind::Direct => "direct",
            PathKind::Stun => "stun",
            PathKind::Turn => "turn",
            PathKind::ServerRelay => "relay",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            PathKind::Direct => "direct",
            PathKind::Stun => "direct via STUN",
            PathKind::Turn => "TURN relay",
            PathKind::ServerRelay => "server relay",
        }
    }
}

/// How one person is reached: the kind, and the round trip if known.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Reach {
    pub kind: PathKind,
    pub rtt_ms: Option<u64>,
}

impl Reach {
    /// `direct · 3 ms`
    pub fn describe(&self) -> String {
        match self.rtt_ms {
            Some(ms) => format!("{} · {ms} ms", self.kind.label()),
            None => self.kind.label().to_owned(),
        }
    }
}

/// How many peers are reached by a path that is not a plain direct one (STUN's is direct too).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct PathCounts {
    pub turn: usize,
    pub server: usize,
}

impl PathCounts {
    pub fn of(kinds: impl IntoIterator<Item = PathKind>) -> PathCounts {
        let mut counts = PathCounts::default();
        for kind in kinds {
            match kind {
                PathKind::Turn => counts.turn += 1,
                PathKind::ServerRelay => counts.server += 1,
                PathKind::Direct | PathKind::Stun => {}
            }
        }
        counts
    }

    /// The status line's words, e.g. `1 via TURN, 2 via the server`; empty when every peer
    /// is reached directly.
    pub fn summary(self) -> String {
        let mut parts = Vec::new();
        if self.turn > 0 {
            parts.push(format!("{} via TURN", self.turn));
        }
        if self.server > 0 {
            parts.push(format!("{} via the server", self.server));
        }
        parts.join(", ")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn candidate_types_name_the_path() {
        let direct = |l, r| PathKind::of(Path::Direct, l, r);
        assert_eq!(direct(Some("host"), Some("host")), PathKind::Direct);
        assert_eq!(direct(Some("host"), Some("prflx")), PathKind::Direct);
        assert_eq!(direct(None, None), PathKind::Direct);
        assert_eq!(direct(Some("srflx"), Some("prflx")), PathKind::Stun);
        assert_eq!(direct(Some("host"), Some("srflx")), PathKind::Stun);
        assert_eq!(direct(Some("relay"), Some("srflx")), PathKind::Turn);
        assert_eq!(direct(Some("srflx"), Some("relay")), PathKind::Turn);
        assert_eq!(
            PathKind::of(Path::Relay, Some("relay"), None),
            PathKind::ServerRelay
        );
    }

    #[test]
    fn words_for_people() {
        let reach = Reach {
            kind: PathKind::Stun,
            rtt_ms: Some(42),
        };
        assert_eq!(reach.describe(), "direct via STUN · 42 ms");
        assert_eq!(PathKind::ServerRelay.attribute(), "relay");
        assert_eq!(
            PathCounts::of([PathKind::Direct, PathKind::Stun]).summary(),
            ""
        );
        assert_eq!(
            PathCounts::of([PathKind::Turn, PathKind::ServerRelay, PathKind::ServerRelay])
                .summary(),
            "1 via TURN, 2 via the server"
        );
    }
}
