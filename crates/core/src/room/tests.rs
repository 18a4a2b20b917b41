//! The room as a whole: tabs, peers, the store, secrets.

use serde_json::Value;

use super::*;
use crate::notebook;
use crate::text::Splice;
use commonplace_protocol::chunk;
use commonplace_protocol::signaling::{ClientMessage, SignalData};

fn keyed_tab(peer_id: &str, client_id: u64, key: Option<RoomKey>) -> Room {
    let config = RoomConfig {
        name: "r".into(),
        peer_id: peer_id.into(),
        client_id,
        entropy: [client_id as u8; 32],
        max_conns: 20,
        key,
    };
    Room::new(config, notebook::new_doc(client_id), 0)
}

pub(super) fn tab(peer_id: &str, client_id: u64) -> Room {
    keyed_tab(peer_id, client_id, None)
}

fn drain(room: &mut Room) -> Vec<Output> {
    std::iter::from_fn(|| room.poll_output()).collect()
}

/// Two browsers in one room: signaling relayed as the hub would, a data channel opened
/// once offer and answer are through, frames delivered in order until both are quiet.
/// Returns everything else they asked for.
fn pair(rooms: &mut [Room; 2]) -> Vec<(usize, Output)> {
    for room in rooms.iter_mut() {
        room.handle(0, Input::SignalingOpen);
    }
    let mut rest = Vec::new();
    let mut answered = false;
    loop {
        let mut delivered = false;
        for from in 0..2 {
            let to = 1 - from;
            for output in drain(&mut rooms[from]) {
                match output {
                    Output::Transmit(Transmit::Server(text)) => {
                        let ClientMessage::Publish { topic, data } =
                            serde_json::from_str(&text).unwrap()
                        else {
                            continue;
                        };
                        let frame =
                            serde_json::json!({"type": "publish", "topic": topic, "data": data});
                        rooms[to].handle(0, Input::SignalingFrame(&frame.to_string()));
                        delivered = true;
                    }
                    // The browser offers as initiator and answers an offer.
                    Output::Effect(Effect::Connect { peer, initiator }) if initiator => {
                        let signal = SignalData::Offer { sdp: "v=0".into() };
                        rooms[from].handle(
                            0,
                            Input::LocalSignal {
                                peer: &peer,
                                signal,
                            },
                        );
                        delivered = true;
                    }
                    Output::Effect(Effect::Signal {
                        peer,
                        signal: SignalData::Offer { .. },
                    }) => {
                        let signal = SignalData::Answer { sdp: "v=0".into() };
                        rooms[from].handle(
                            0,
                            Input::LocalSignal {
                                peer: &peer,
                                signal,
                            },
                        );
                        delivered = true;
                    }
                    Output::Effect(Effect::Signal {
                        signal: SignalData::Answer { .. },
                        ..
                    }) if !answered => {
                        answered = true;
                        let ids = [rooms[0].peer_id().to_owned(), rooms[1].peer_id().to_owned()];
                        let (a, b) = (&ids[1], &ids[0]);
                        rooms[0].handle(
                            0,
                            Input::ChannelOpen {
                                peer: a,
                                announced: false,
                            },
                        );
                        rooms[1].handle(
                            0,
                            Input::ChannelOpen {
                                peer: b,
                                announced: true,
                            },
                        );
                        delivered = true;
                    }
                    Output::Transmit(Transmit::Peer { bytes, .. }) => {
                        let peer = rooms[from].peer_id().to_owned();
                        rooms[to].handle(
                            0,
                            Input::PeerFrame {
                                peer: &peer,
                                bytes: &bytes,
                            },
                        );
                        rest.push((from, Output::Transmit(Transmit::Peer { peer, bytes })));
                        delivered = true;
                    }
                    other => rest.push((from, other)),
                }
            }
        }
        if !delivered {
            return rest;
        }
    }
}

#[test]
fn large_messages_travel_in_chunks_between_commonplace_peers() {
    let mut rooms = [tab("a", 1), tab("b", 2)];
    let big = "0123456789abcdef".repeat(64 * 1024); // 1 MiB
    rooms[0].edit(0, notebook::HOME, &[splice(0, &big)], None);
    drain(&mut rooms[0]);
    let rest = pair(&mut rooms);
    assert_eq!(rooms[1].text(), big);
    let sizes: Vec<usize> = rest
        .iter()
        .filter_map(|(_, o)| match o {
            Output::Transmit(Transmit::Peer { bytes, .. }) => Some(bytes.len()),
            _ => None,
        })
        .collect();
    assert!(
        sizes.iter().all(|&n| n <= chunk::CHUNK_SIZE + 32),
        "{sizes:?}"
    );
    let progress: Vec<(usize, usize)> = rest
        .iter()
        .filter_map(|(i, o)| match o {
            Output::Event(Event::Receiving {
                received, total, ..
            }) if *i == 1 => Some((*received, *total)),
            _ => None,
        })
        .collect();
    assert!(progress.len() >= 16, "{progress:?}");
    assert_eq!(progress.last().map(|(r, t)| r == t), Some(true));
}

/// Delivers every broadcast frame to every other tab until all are quiet, as a
/// BroadcastChannel does; returns everything else the tabs asked for.
/// Tabs of one browser: BroadcastChannel frames delivered until all are quiet. Returns
/// everything else they asked for.
pub(super) fn settle(tabs: &mut [Room]) -> Vec<(usize, Output)> {
    let mut rest = Vec::new();
    loop {
        let mut frames = Vec::new();
        for (i, tab) in tabs.iter_mut().enumerate() {
            for output in drain(tab) {
                match output {
                    Output::Transmit(Transmit::Tabs(bytes)) => frames.push((i, bytes)),
                    other => rest.push((i, other)),
                }
            }
        }
        if frames.is_empty() {
            return rest;
        }
        for (from, bytes) in frames {
            for (i, tab) in tabs.iter_mut().enumerate() {
                if i != from {
                    tab.handle(1, Input::BroadcastFrame(&bytes));
                }
            }
        }
    }
}

fn splice(index: u32, insert: &str) -> Splice {
    Splice {
        index,
        delete: 0,
        insert: insert.into(),
    }
}

#[test]
fn tabs_sync_over_the_broadcast_channel_and_skip_webrtc() {
    let mut tabs = [tab("a", 1), tab("b", 2)];
    tabs[0].edit(0, notebook::HOME, &[splice(0, "written offline")], None);
    for tab in &mut tabs {
        tab.handle(1, Input::BroadcastOpen);
    }
    let rest = settle(&mut tabs);
    assert_eq!(tabs[1].text(), "written offline");
    assert!(rest
        .iter()
        .any(|(i, o)| *i == 1 && matches!(o, Output::Effect(Effect::Store(_)))));
    assert_eq!(tabs[0].status().tabs, 1);
    assert_eq!(tabs[1].status().tabs, 1);

    tabs[1].edit(2, notebook::HOME, &[splice(0, "> ")], None);
    settle(&mut tabs);
    assert_eq!(tabs[0].text(), "> written offline");

    // The other tab is known: its announce over signaling starts no WebRTC connection.
    tabs[0].handle(3, Input::SignalingOpen);
    drain(&mut tabs[0]);
    let announce = r#"{"type":"publish","topic":"r","data":{"type":"announce","from":"b"}}"#;
    tabs[0].handle(3, Input::SignalingFrame(announce));
    assert!(!drain(&mut tabs[0])
        .iter()
        .any(|o| matches!(o, Output::Effect(Effect::Connect { .. }))));

    tabs[1].leave(4);
    settle(&mut tabs);
    assert_eq!(tabs[0].status().tabs, 0);
}

#[test]
fn every_change_is_stored_once_and_loads_back() {
    let mut writer = tab("a", 1);
    writer.edit(0, notebook::HOME, &[splice(0, "héllo 👋")], None);
    writer.edit(0, notebook::HOME, &[splice(0, "¡")], None);
    let stored: Vec<Vec<u8>> = drain(&mut writer)
        .into_iter()
        .filter_map(|o| match o {
            Output::Effect(Effect::Store(update)) => Some(update),
            _ => None,
        })
        .collect();
    assert_eq!(stored.len(), 2);

    let mut reader = tab("b", 2);
    reader.load(1, &stored);
    assert_eq!(reader.text(), "¡héllo 👋");
    let outputs = drain(&mut reader);
    assert!(!outputs
        .iter()
        .any(|o| matches!(o, Output::Effect(Effect::Store(_)))));
    assert!(outputs
        .iter()
        .any(|o| matches!(o, Output::Event(Event::PageChanged { .. }))));

    let mut compacted = tab("c", 3);
    compacted.load(1, &[reader.encode_state()]);
    assert_eq!(compacted.text(), "¡héllo 👋");

    let mut damaged = tab("d", 4);
    damaged.load(1, &[vec![1, 2, 3], writer.encode_state()]);
    assert_eq!(damaged.text(), "¡héllo 👋");
    assert!(drain(&mut damaged)
        .iter()
        .any(|o| matches!(o, Output::Event(Event::Dropped(_)))));
}

#[test]
fn a_silent_signaling_server_is_pinged_then_given_up() {
    let mut room = tab("me", 1);
    room.handle(0, Input::SignalingOpen);
    drain(&mut room);
    room.handle(10_000, Input::Timeout);
    assert!(drain(&mut room)
        .iter()
        .all(|o| !matches!(o, Output::Transmit(Transmit::Server(_)))));
    room.handle(15_000, Input::Timeout);
    assert!(
        drain(&mut room).contains(&Output::Transmit(Transmit::Server(
            r#"{"type":"ping"}"#.into()
        )))
    );
    room.handle(16_000, Input::Timeout);
    assert!(!drain(&mut room)
        .iter()
        .any(|o| matches!(o, Output::Transmit(Transmit::Server(_)))));
    room.handle(29_000, Input::SignalingFrame(r#"{"type":"pong"}"#));
    room.handle(45_000, Input::Timeout);
    assert!(!drain(&mut room).contains(&Output::Effect(Effect::ReconnectSignaling)));
    room.handle(59_000, Input::Timeout);
    let outputs = drain(&mut room);
    assert!(
        outputs.contains(&Output::Effect(Effect::ReconnectSignaling)),
        "{outputs:?}"
    );
    assert!(!room.status().online);
}

#[test]
fn keyed_tabs_encrypt_the_broadcast_channel() {
    let key = || Some(RoomKey::from_bytes([1; 32]));
    let mut tabs = [
        keyed_tab("a", 1, key()),
        keyed_tab("b", 2, key()),
        keyed_tab("c", 3, Some(RoomKey::from_bytes([2; 32]))),
    ];
    tabs[0].edit(0, notebook::HOME, &[splice(0, "secret words")], None);
    for tab in &mut tabs {
        tab.handle(1, Input::BroadcastOpen);
    }
    let frames: Vec<Vec<u8>> = drain(&mut tabs[0])
        .into_iter()
        .filter_map(|o| match o {
            Output::Transmit(Transmit::Tabs(bytes)) => Some(bytes),
            _ => None,
        })
        .collect();
    assert!(!frames.is_empty());
    for bytes in &frames {
        assert!(bytes.starts_with(b"\x07AES-GCM"), "{bytes:?}");
        assert!(!bytes.windows(6).any(|w| w == b"secret"));
        for tab in &mut tabs[1..] {
            tab.handle(1, Input::BroadcastFrame(bytes));
        }
    }
    settle(&mut tabs);
    assert_eq!(tabs[1].text(), "secret words");
    assert_eq!((tabs[0].status().tabs, tabs[1].status().tabs), (1, 1));
    assert_eq!(tabs[2].text(), "");
    assert_eq!(tabs[2].status().tabs, 0);
    // Every tab learns that someone in the room holds another key.
    assert!(tabs.iter().all(|t| t.status().undecryptable));
}

#[test]
fn keyed_rooms_publish_ciphertext_and_read_only_ciphertext() {
    let key = RoomKey::from_bytes([1; 32]);
    let mut keyed = keyed_tab("me", 1, Some(key.clone()));
    keyed.handle(0, Input::SignalingOpen);
    let publishes: Vec<String> = drain(&mut keyed)
        .into_iter()
        .filter_map(|o| match o {
            Output::Transmit(Transmit::Server(frame)) if frame.contains("publish") => Some(frame),
            _ => None,
        })
        .collect();
    assert_eq!(publishes.len(), 1);
    let publish: Value = serde_json::from_str(&publishes[0]).unwrap();
    let data = publish["data"].as_str().expect("a string");
    assert_eq!(
        key.decrypt_signal(data).unwrap(),
        serde_json::json!({"type": "announce", "from": "me"})
    );

    // A clear announce starts nothing; the room answers it (once) with its own, encrypted.
    let clear = r#"{"type":"publish","topic":"r","data":{"type":"announce","from":"b"}}"#;
    keyed.handle(1, Input::SignalingFrame(clear));
    let answer = drain(&mut keyed);
    assert!(!answer
        .iter()
        .any(|o| matches!(o, Output::Effect(Effect::Connect { .. }))));
    assert_eq!(answer.len(), 2, "{answer:?}"); // subscribe, announce
    assert!(matches!(&answer[1], Output::Transmit(Transmit::Server(f)) if !f.contains("announce")));
    // Another key's signals are dropped and flagged; answered again only after a while.
    let announce = serde_json::json!({"type": "announce", "from": "b"});
    let frame = |key: &RoomKey| {
        let data = key.encrypt_signal(&announce, [9; 12]);
        serde_json::json!({"type": "publish", "topic": "r", "data": data}).to_string()
    };
    let other = RoomKey::from_bytes([2; 32]);
    keyed.handle(2, Input::SignalingFrame(&frame(&other)));
    assert!(
        matches!(drain(&mut keyed)[..], [Output::Event(Event::Dropped(_)), Output::Event(Event::StatusChanged(s))] if s.undecryptable)
    );
    keyed.handle(
        STRANGER_ANNOUNCE_MS + 1,
        Input::SignalingFrame(&frame(&other)),
    );
    assert_eq!(drain(&mut keyed).len(), 3); // subscribe, announce, dropped
    keyed.handle(
        STRANGER_ANNOUNCE_MS + 2,
        Input::SignalingFrame(&frame(&key)),
    );
    assert!(drain(&mut keyed).contains(&Output::Effect(Effect::Connect {
        peer: "b".into(),
        initiator: true
    })));

    let mut open = tab("me", 1);
    open.handle(0, Input::SignalingOpen);
    drain(&mut open);
    open.handle(1, Input::SignalingFrame(&frame(&key)));
    let outputs = drain(&mut open);
    assert!(!outputs
        .iter()
        .any(|o| matches!(o, Output::Effect(Effect::Connect { .. }))));
    assert!(open.status().undecryptable);
}
