//! The mesh on its own: links, glare, chunks, paths.

use rand_chacha::rand_core::SeedableRng;

use super::*;
use crate::room::output::{Output, Transmit};

fn mesh(max_conns: usize) -> Mesh {
    Mesh::new("me".into(), max_conns, ChaCha20Rng::from_seed([3; 32]))
}

fn drain(out: &mut Outputs) -> Vec<Output> {
    std::iter::from_fn(|| out.pop()).collect()
}

#[test]
fn announces_start_connections_up_to_max_conns() {
    let mut mesh = mesh(2);
    let mut out = Outputs::default();
    for peer in ["a", "me", "a", "b", "c"] {
        mesh.on_announce(0, peer.into(), &mut out);
    }
    let connects: Vec<_> = drain(&mut out)
        .into_iter()
        .map(|o| match o {
            Output::Effect(Effect::Connect { peer, initiator }) => (peer, initiator),
            other => panic!("{other:?}"),
        })
        .collect();
    assert_eq!(connects, [("a".into(), true), ("b".into(), true)]);
}

#[test]
fn glare_keeps_the_offer_with_the_larger_token() {
    let mut mesh = mesh(20);
    let mut out = Outputs::default();
    mesh.on_announce(0, "peer".into(), &mut out);
    let offer = SignalData::Offer { sdp: "v=0".into() };
    let Some(RoomSignal::Signal {
        token: Some(ours), ..
    }) = mesh.on_local_signal(1_000, "peer", offer.clone())
    else {
        panic!("a signal with a token");
    };
    drain(&mut out);
    mesh.on_remote_signal(
        1,
        "peer".into(),
        Some(ours - 1.0),
        offer.clone(),
        None,
        &mut out,
    );
    assert!(drain(&mut out).is_empty(), "their smaller offer loses");
    mesh.on_remote_signal(
        1,
        "peer".into(),
        Some(ours + 1.0),
        offer,
        Some(1 << 20),
        &mut out,
    );
    // Theirs wins: answered on a new connection, ours (with its offer) replaced.
    assert!(matches!(
        &drain(&mut out)[..],
        [
            Output::Effect(Effect::Connect {
                initiator: false,
                ..
            }),
            Output::Effect(Effect::Signal { .. })
        ]
    ));
}

/// Two peers that hear each other's announce at once both offer, and each may get the other's
/// offer while its own is still being made: exactly one of them must take the other's.
#[test]
fn peers_offering_at_once_take_exactly_one_offer_even_before_either_is_out() {
    let mut out = Outputs::default();
    let mut a = Mesh::new("a".into(), 20, ChaCha20Rng::from_seed([1; 32]));
    let mut b = Mesh::new("b".into(), 20, ChaCha20Rng::from_seed([2; 32]));
    a.on_announce(100, "b".into(), &mut out);
    b.on_announce(100, "a".into(), &mut out);
    drain(&mut out);
    // The tokens their offers will carry, once made.
    let token = |mesh: &Mesh, peer: &str| mesh.links[peer].glare_token;
    let (ta, tb) = (token(&a, "b"), token(&b, "a"));
    assert!(ta.is_some() && tb.is_some() && ta != tb, "{ta:?} {tb:?}");
    let offer = SignalData::Offer { sdp: "v=0".into() };
    let mut take = |mesh: &mut Mesh, from: &str, token| {
        mesh.on_remote_signal(
            101,
            from.into(),
            token,
            offer.clone(),
            Some(1 << 20),
            &mut out,
        );
        drain(&mut out)
    };
    let (by_a, by_b) = (take(&mut a, "b", tb), take(&mut b, "a", ta));
    assert!(
        by_a.is_empty() != by_b.is_empty(),
        "a took b's offer: {by_a:?}, b took a's: {by_b:?}"
    );
    // The side that takes the other's offer answers on a new connection: its own, which may
    // still be making its offer, is replaced, not rolled back.
    let (taken, from) = if by_a.is_empty() {
        (by_b, "a")
    } else {
        (by_a, "b")
    };
    assert!(
        matches!(
            &taken[..],
            [Output::Effect(Effect::Connect { peer, initiator: false }), Output::Effect(Effect::Signal { .. })] if peer == from
        ),
        "{taken:?}"
    );
}

#[test]
fn large_frames_go_in_chunks_only_to_peers_that_reassemble_them() {
    let mut mesh = mesh(20);
    let mut out = Outputs::default();
    let offer = SignalData::Offer { sdp: "v=0".into() };
    mesh.on_remote_signal(0, "cp".into(), None, offer.clone(), Some(1 << 24), &mut out);
    mesh.on_remote_signal(0, "yjs".into(), None, offer, None, &mut out);
    mesh.on_open(0, "cp", true);
    mesh.on_open(0, "yjs", true);
    drain(&mut out);
    let big = vec![7u8; 3 * chunk::CHUNK_SIZE];
    mesh.broadcast(&big, None, &mut out);
    let sent = drain(&mut out);
    let to = |who: &str| {
        sent.iter()
            .filter_map(|o| match o {
                Output::Transmit(Transmit::Peer { peer, bytes }) if peer == who => {
                    Some(bytes.len())
                }
                _ => None,
            })
            .collect::<Vec<_>>()
    };
    assert_eq!(to("yjs"), [big.len()]);
    assert!(to("cp").len() >= 3);
    assert!(to("cp").iter().all(|&n| n <= chunk::CHUNK_SIZE + 32));

    // And what was chunked reassembles.
    let mut other = mesh_with_open_peer("me");
    let mut whole = None;
    for o in &sent {
        if let Output::Transmit(Transmit::Peer { peer, bytes }) = o {
            if peer == "cp" {
                if let Some(frame) = other.on_frame(0, "me", Path::Direct, bytes, &mut out) {
                    whole = Some(frame.into_owned());
                }
            }
        }
    }
    assert_eq!(whole, Some(big));
}

fn mesh_with_open_peer(peer: &str) -> Mesh {
    let mut mesh = Mesh::new("cp".into(), 20, ChaCha20Rng::from_seed([4; 32]));
    let mut out = Outputs::default();
    mesh.on_announce(0, peer.into(), &mut out);
    mesh.on_open(0, peer, false);
    mesh
}

#[test]
fn connections_that_never_open_are_abandoned() {
    let mut mesh = mesh(20);
    let mut out = Outputs::default();
    mesh.on_announce(0, "slow".into(), &mut out);
    mesh.on_announce(0, "quick".into(), &mut out);
    mesh.on_open(5, "quick", false);
    drain(&mut out);
    assert_eq!(mesh.poll_timeout(), Some(5)); // the quick one greets at once
    assert!(!mesh.on_timeout(CONNECT_TIMEOUT_MS - 1, &mut out));
    assert!(mesh.on_timeout(CONNECT_TIMEOUT_MS, &mut out));
    assert_eq!(
        drain(&mut out),
        [Output::Effect(Effect::Disconnect {
            peer: "slow".into()
        })]
    );
    assert!(mesh.knows("quick") && !mesh.knows("slow"));
}

/// A Commonplace peer (it said it reassembles chunks) that we signal with.
fn commonplace_peer(mesh: &mut Mesh, peer: &str, now: u64, out: &mut Outputs) {
    let offer = SignalData::Offer { sdp: "v=0".into() };
    mesh.on_remote_signal(now, peer.into(), None, offer, Some(1 << 24), out);
}

#[test]
fn a_peer_no_channel_reaches_is_relayed_then_moved_to_a_channel_that_opens() {
    let mut mesh = mesh(20);
    let mut out = Outputs::default();
    commonplace_peer(&mut mesh, "far", 0, &mut out);
    drain(&mut out);
    assert_eq!(mesh.poll_timeout(), Some(RELAY_AFTER_MS));
    assert!(!mesh.on_timeout(RELAY_AFTER_MS - 1, &mut out));
    assert_eq!(mesh.paths().count(), 0);
    assert!(!mesh.on_timeout(RELAY_AFTER_MS, &mut out));
    assert_eq!(
        mesh.paths().collect::<Vec<_>>(),
        [(&"far".to_string(), Path::Relay)]
    );
    // Frames for it go aside for the server, and it is greeted there.
    mesh.send("far", vec![0, 0, 1, 0], &mut out);
    assert_eq!(out.take_relayed(), [("far".to_string(), vec![0, 0, 1, 0])]);
    assert!(drain(&mut out).is_empty());
    // The attempt that never opened is closed, and a direct one offered again later (the
    // peer's presence renewals keep coming through the server meanwhile).
    assert!(mesh.on_relayed(CONNECT_TIMEOUT_MS - 1, "far"));
    assert!(!mesh.on_timeout(CONNECT_TIMEOUT_MS, &mut out));
    assert_eq!(
        drain(&mut out),
        [Output::Effect(Effect::Disconnect { peer: "far".into() })]
    );
    let retry = CONNECT_TIMEOUT_MS + DIRECT_RETRY_MS;
    for at in (CONNECT_TIMEOUT_MS..retry).step_by(15_000) {
        mesh.on_relayed(at, "far");
        assert!(!mesh.on_timeout(at, &mut out));
    }
    assert_eq!(mesh.poll_timeout().map(|t| t <= retry), Some(true));
    mesh.on_timeout(retry, &mut out);
    assert_eq!(
        drain(&mut out),
        [Output::Effect(Effect::Connect {
            peer: "far".into(),
            initiator: true
        })]
    );
    // This time the channel opens: frames go that way, the relay is still read.
    assert!(
        !mesh.on_open(retry + 100, "far", false),
        "it was reachable already"
    );
    assert_eq!(
        mesh.paths().collect::<Vec<_>>(),
        [(&"far".to_string(), Path::Direct)]
    );
    mesh.send("far", vec![1, 2], &mut out);
    assert!(out.take_relayed().is_empty());
    assert_eq!(drain(&mut out).len(), 1);
    // And when it closes again, the relay carries on.
    assert!(!mesh.on_closed(retry + 200, "far"));
    assert_eq!(
        mesh.paths().collect::<Vec<_>>(),
        [(&"far".to_string(), Path::Relay)]
    );
}

#[test]
fn y_webrtc_peers_are_never_relayed() {
    let mut mesh = mesh(20);
    let mut out = Outputs::default();
    let offer = SignalData::Offer { sdp: "v=0".into() };
    mesh.on_remote_signal(0, "yjs".into(), None, offer, None, &mut out);
    assert!(!mesh.on_timeout(RELAY_AFTER_MS, &mut out));
    assert_eq!(mesh.paths().count(), 0);
    assert!(
        mesh.on_timeout(CONNECT_TIMEOUT_MS, &mut out),
        "given up, re-announced"
    );
    assert!(!mesh.knows("yjs"));
}

#[test]
fn a_peer_that_relays_to_us_is_met_there() {
    let mut mesh = mesh(1);
    let mut out = Outputs::default();
    assert!(mesh.on_relayed(0, "far"));
    assert_eq!(
        mesh.paths().collect::<Vec<_>>(),
        [(&"far".to_string(), Path::Relay)]
    );
    assert!(!mesh.on_relayed(0, "me"), "not ourselves");
    assert!(
        !mesh.on_relayed(0, "another"),
        "max_conns holds for relays too"
    );
    // Its offer later finds no connection in the shell: one is made for it.
    let offer = SignalData::Offer { sdp: "v=0".into() };
    mesh.on_remote_signal(10, "far".into(), Some(1.0), offer, Some(1 << 24), &mut out);
    assert!(matches!(
        &drain(&mut out)[..],
        [
            Output::Effect(Effect::Connect {
                initiator: false,
                ..
            }),
            Output::Effect(Effect::Signal { .. })
        ]
    ));
}

#[test]
fn a_connection_that_fails_before_opening_goes_to_the_relay_at_once() {
    let mut mesh = mesh(20);
    let mut out = Outputs::default();
    commonplace_peer(&mut mesh, "far", 0, &mut out);
    drain(&mut out);
    // ICE failed after a second: no need to wait out RELAY_AFTER_MS, nor to forget the peer.
    assert!(!mesh.on_closed(1_000, "far"), "still reachable");
    assert_eq!(
        mesh.paths().collect::<Vec<_>>(),
        [(&"far".to_string(), Path::Relay)]
    );
}

#[test]
fn a_relayed_peer_that_goes_silent_or_says_goodbye_is_forgotten() {
    let mut mesh = mesh(20);
    let mut out = Outputs::default();
    assert!(mesh.on_relayed(0, "quiet"));
    // Heard from every 15 s, a relayed peer stays; silent for RELAY_SILENCE_MS, it is gone.
    mesh.on_relayed(15_000, "quiet");
    assert!(!mesh.on_timeout(15_000 + RELAY_SILENCE_MS - 1, &mut out));
    assert!(mesh.knows("quiet"));
    assert!(
        mesh.on_timeout(15_000 + RELAY_SILENCE_MS, &mut out),
        "given up, re-announced"
    );
    assert!(!mesh.knows("quiet"));
    // A peer with an open channel is never taken for gone by the relay's silence.
    commonplace_peer(&mut mesh, "near", 0, &mut out);
    mesh.on_open(100, "near", false);
    assert!(!mesh.on_timeout(10 * RELAY_SILENCE_MS, &mut out));
    assert!(mesh.knows("near"));
    assert!(
        !mesh.on_goodbye("near", &mut out),
        "its channel's closing says it"
    );
    // A relayed peer that says goodbye is forgotten at once.
    assert!(mesh.on_relayed(10 * RELAY_SILENCE_MS, "leaving"));
    drain(&mut out);
    assert!(mesh.on_goodbye("leaving", &mut out));
    assert!(!mesh.knows("leaving"));
    assert_eq!(
        drain(&mut out),
        [Output::Effect(Effect::Disconnect {
            peer: "leaving".into()
        })]
    );
}
