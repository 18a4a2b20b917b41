//! The fuzz targets' seeds (`fuzz/`, docs/fuzzing.md), made from real messages as the tests
//! make them: each seed must be accepted by the decoder its target fuzzes (so a seed that stops
//! meaning anything fails here), and with `FUZZ_SEEDS_DIR=DIR` they are written to
//! `DIR/TARGET/seed-N`, which is how `fuzz/corpus/` was filled:
//! `FUZZ_SEEDS_DIR=$PWD/fuzz/corpus cargo test -p commonplace-core --test fuzz_seeds`.
//!
//! Several targets read one input as several messages: each a 2-byte little-endian length and
//! that many bytes ([`join`], as `fuzz/src/lib.rs` cuts them).

use std::collections::BTreeMap;

use commonplace_core::app::journal;
use commonplace_core::app::notebooks::Notebooks;
use commonplace_core::notebook::files::{import_files, notebook_zip, read_zip, ExportedPage};
use commonplace_core::notebook::link::RoomLink;
use commonplace_core::notebook::markdown::render;
use commonplace_core::notebook::{self, html_check};
use commonplace_core::peer_message::{self, PeerMessage, SyncMessage};
use commonplace_protocol::chunk::{self, Reassembled, Reassembler};
use commonplace_protocol::config::{ClientConfig, ServedConfig};
use commonplace_protocol::crypto::{decode_any, encode_any, RoomKey};
use commonplace_protocol::frame;
use commonplace_protocol::hub::{Hub, Limits};
use commonplace_protocol::signaling::{ClientMessage, ServerMessage};
use commonplace_protocol::store::{decode_reply, ErrorBody, ReplyEncoder, StoreId};
use commonplace_protocol::store_crypto::{Snapshot, StoreKeys, Update as SealedUpdate};
use serde_json::json;
use yrs::sync::Awareness;
use yrs::{ReadTxn, StateVector, Text, Transact};

/// The fuzz targets' fixed key (`fuzz/src/lib.rs`).
fn key() -> RoomKey {
    RoomKey::from_bytes([7; 32])
}

fn join<T: AsRef<[u8]>>(messages: &[T]) -> Vec<u8> {
    let mut out = Vec::new();
    for message in messages {
        let message = message.as_ref();
        out.extend_from_slice(&(message.len() as u16).to_le_bytes());
        out.extend_from_slice(message);
    }
    out
}

/// Real data-channel frames: updates of a page typed and cut, a whole state, a state vector,
/// an awareness update, a query, a tab's peer id (as robustness.rs's corpus).
fn peer_frames() -> Vec<Vec<u8>> {
    let doc = notebook::new_doc(0xC0DE);
    let page = notebook::Notebook::new(&doc).home().clone();
    let mut frames = Vec::new();
    for (index, text) in [(0, "hello "), (6, "wörld "), (3, "😀👩‍👩‍👧"), (0, "# 日本語\n")]
    {
        let mut txn = doc.transact_mut();
        page.insert(&mut txn, index, text);
        let update = txn.encode_update_v1();
        frames.push(peer_message::encode(&PeerMessage::Sync(
            SyncMessage::Update(update),
        )));
    }
    let state = doc
        .transact()
        .encode_state_as_update_v1(&StateVector::default());
    frames.push(peer_message::encode(&PeerMessage::Sync(
        SyncMessage::SyncStep2(state),
    )));
    let sv = doc.transact().state_vector();
    frames.push(peer_message::encode(&PeerMessage::Sync(
        SyncMessage::SyncStep1(sv),
    )));
    frames.push(awareness_frame());
    frames.push(peer_message::encode(&PeerMessage::AwarenessQuery));
    frames.push(frame::encode_bc_peer_id(true, "another-tab"));
    frames
}

fn awareness_frame() -> Vec<u8> {
    let mut awareness = Awareness::new(notebook::new_doc(0xA3A));
    awareness.set_local_state_raw(
        r##"{"user":{"name":"Zoë","color":"#ff0"},"cursor":{"page":"home","anchor":"AQ","head":"AQ"}}"##,
    );
    peer_message::encode(&PeerMessage::Awareness(awareness.update().unwrap()))
}

fn publish(data: serde_json::Value) -> String {
    let publish = ServerMessage::Publish {
        topic: "fuzz".into(),
        data,
        clients: Some(2),
    };
    serde_json::to_string(&publish).unwrap()
}

fn signals() -> Vec<serde_json::Value> {
    vec![
        json!({"type": "announce", "from": "p"}),
        json!({"type": "signal", "from": "p", "to": "me", "token": 1_700_000_000_000.25,
            "signal": {"type": "offer", "sdp": "v=0\r\no=- 1 2 IN IP4 127.0.0.1\r\n"}, "chunks": 268435456}),
        json!({"type": "signal", "from": "p", "to": "me", "signal": {"type": "answer", "sdp": "v=0"}}),
        json!({"type": "signal", "from": "p", "to": "me", "signal": {"type": "candidate",
            "candidate": {"candidate": "candidate:1 1 udp 2122260223 10.0.0.1 50000 typ host",
            "sdpMLineIndex": 0, "sdpMid": "0"}}}),
        json!({"type": "signal", "from": "p", "to": "me", "signal": {"type": "renegotiate", "renegotiate": true}}),
        json!({"type": "relay", "from": "p", "to": "me", "frame": "AAEBAA=="}),
        json!({"type": "relay", "from": "p", "to": "me", "frame": ""}),
    ]
}

/// Updates with every kind of content yrs writes (strings, formats, embeds, Any values of every
/// type, XML, a subdocument, deletions), a diff, and a state vector.
fn yjs_updates() -> Vec<Vec<u8>> {
    use yrs::types::xml::{XmlElementPrelim, XmlFragment, XmlTextPrelim};
    use yrs::{Any, Array, Doc, Map};
    let doc = Doc::new();
    let text = doc.get_or_insert_text("page");
    let map = doc.get_or_insert_map("map");
    let array = doc.get_or_insert_array("array");
    let xml = doc.get_or_insert_xml_fragment("xml");
    {
        let mut txn = doc.transact_mut();
        text.insert(&mut txn, 0, "hello wörld");
        text.format(&mut txn, 0, 5, [("bold".into(), Any::Bool(true))].into());
        text.insert_embed(&mut txn, 3, Any::from(vec![Any::Null, Any::from(1.5)]));
        map.insert(&mut txn, "n", Any::from(-7i64));
        map.insert(&mut txn, "big", Any::from(1i64 << 40));
        map.insert(&mut txn, "buf", Any::Buffer(vec![1u8, 2, 3].into()));
        map.insert(&mut txn, "undefined", Any::Undefined);
        map.insert(&mut txn, "sub", Doc::new());
        array.insert_range(
            &mut txn,
            0,
            [Any::from("a"), Any::from(vec![Any::from(true)])],
        );
        xml.insert(
            &mut txn,
            0,
            XmlElementPrelim::new("p", [XmlTextPrelim::new("x").into()]),
        );
    }
    let before = doc.transact().state_vector();
    {
        let mut txn = doc.transact_mut();
        text.remove_range(&mut txn, 1, 4);
        map.remove(&mut txn, "n");
    }
    let txn = doc.transact();
    vec![
        txn.encode_state_as_update_v1(&StateVector::default()),
        txn.encode_state_as_update_v1(&before),
        yrs::updates::encoder::Encode::encode_v1(&txn.state_vector()),
    ]
}

fn seeds() -> BTreeMap<&'static str, Vec<Vec<u8>>> {
    let mut seeds: BTreeMap<&'static str, Vec<Vec<u8>>> = BTreeMap::new();
    let frames = peer_frames();
    let key = key();

    let mut client = vec![r#"{"type":"pong"}"#.to_owned()];
    client.extend(signals().into_iter().map(publish));
    client.push(publish(key.encrypt_signal(&signals()[0], [1; 12]).into()));
    seeds.insert(
        "signaling_client",
        client.into_iter().map(String::into_bytes).collect(),
    );

    let requests: Vec<String> = [
        ClientMessage::Subscribe {
            topics: vec!["room".into(), "other".into()],
        },
        ClientMessage::Publish {
            topic: "room".into(),
            data: signals()[0].clone(),
        },
        ClientMessage::Ping,
        ClientMessage::Unsubscribe {
            topics: vec!["room".into()],
        },
    ]
    .iter()
    .map(ClientMessage::to_json)
    .collect();
    let server: Vec<Vec<u8>> = (0..2u8)
        .map(|mode| [vec![mode], join(&requests)].concat())
        .chain(requests.iter().map(|r| [vec![0], join(&[r])].concat()))
        .collect();
    seeds.insert("signaling_server", server);

    seeds.insert("frame", frames.clone());
    seeds.insert("peer_message", frames.clone());

    let step2 = &frames[4];
    seeds.insert(
        "chunk",
        vec![
            join(&chunk::split(0, step2, 16)),
            join(&chunk::split(7, &frames[0], 8)),
        ],
    );

    let envelopes = vec![
        key.encrypt(b"plain bytes", [1; 12]),
        key.encrypt_json(&signals()[1], [2; 12]),
        key.encrypt_signal(&signals()[0], [3; 12]).into_bytes(),
        encode_any(&signals()[3]),
    ];
    seeds.insert("crypto", envelopes);

    let values = [
        json!(null),
        json!([true, false, 1, -5, 2147483648u64, 1.5, 0.1, "ü"]),
        signals()[1].clone(),
        json!({"nested": {"deeper": [[], {}]}}),
    ];
    seeds.insert("lib0_any", values.iter().map(encode_any).collect());
    seeds.insert("yjs_update", yjs_updates());

    let chunked = chunk::split(3, step2, 32);
    let relayed: Vec<Vec<u8>> = frames
        .iter()
        .chain(&chunked)
        .map(|f| [vec![0], f.clone()].concat())
        .collect();
    seeds.insert(
        "relay",
        vec![
            join(&relayed),
            join(&[[vec![1], frames[5].clone()].concat(), vec![]]),
        ],
    );

    let keys = StoreKeys::derive(&key);
    let sealed = |counter: u64, update: &[u8]| {
        keys.seal_update(
            &SealedUpdate {
                writer: [1; 16],
                counter,
                update: update.to_vec(),
            },
            [counter as u8; 12],
        )
    };
    let mut read = ReplyEncoder::new(0, 1 << 20);
    read.snapshot(
        4,
        &keys.seal_snapshot(
            &Snapshot {
                covers: 4,
                writers: BTreeMap::from([([1; 16], 3)]),
                state: vec![0, 0],
            },
            [9; 12],
        ),
    )
    .unwrap();
    read.record(5, &sealed(4, &[0, 0])).unwrap();
    read.record(6, &sealed(5, &[0, 0])).unwrap();
    let mut cut = ReplyEncoder::new(0, 64);
    for seq in 1..5 {
        if !cut.record(seq, &sealed(seq, &[0, 0])).unwrap() {
            break;
        }
    }
    let store_reply =
        |status: u8, after: u8, body: &[u8]| [vec![status, 0, after], body.to_vec()].concat();
    seeds.insert(
        "store_reply",
        vec![
            store_reply(0, 0, &read.finish()),
            store_reply(0, 0, &cut.finish()),
            store_reply(1, 0, br#"{"seq":7}"#),
            store_reply(0, 0, br#"{"covers":4}"#),
            store_reply(4, 0, br#"{"error":"the snapshot is stale","covers":9}"#),
            store_reply(6, 0, ErrorBody::new("over quota").to_json().as_bytes()),
            store_reply(0, 0, keys.store_id().to_string().as_bytes()),
            store_reply(0, 0, keys.write_token().as_bytes()),
        ],
    );

    // Journals as the browser leaves them: one slot; both, the second compacted from the first.
    let slots = |a: &[u8], b: &[u8]| {
        [
            (a.len() as u16).to_le_bytes().to_vec(),
            a.to_vec(),
            b.to_vec(),
        ]
        .concat()
    };
    let mut files = journal::SlotFiles::default();
    let state = yjs_updates()[0].clone();
    let (mut opened, start) = journal::Journal::open(&files.read(), || state.clone());
    files.write(&start);
    files.write(&opened.append(&yjs_updates()[1..]));
    let one_slot = slots(&files.slots[0], &files.slots[1]);
    files.write(&opened.start(&state));
    seeds.insert(
        "journal",
        vec![one_slot, slots(&files.slots[0], &files.slots[1])],
    );

    // The plaintexts inside sealed records (the target seals its input), and records as sealed.
    let mut snapshot_plain = 4u64.to_be_bytes().to_vec();
    snapshot_plain.extend_from_slice(&1u32.to_be_bytes());
    snapshot_plain.extend_from_slice(&[1; 16]);
    snapshot_plain.extend_from_slice(&3u64.to_be_bytes());
    snapshot_plain.extend_from_slice(&[0, 0]);
    let mut update_plain = [1u8; 16].to_vec();
    update_plain.extend_from_slice(&4u64.to_be_bytes());
    update_plain.extend_from_slice(&[0, 0]);
    seeds.insert(
        "store_crypto",
        vec![snapshot_plain, update_plain, sealed(1, &[0, 0])],
    );

    let config = ClientConfig::parse(
        r#"{"iceServers":[{"urls":["stun:stun.example.org:3478"]},{"urls":["turn:turn.example.org:3478?transport=udp","turns:turn.example.org:5349"],"username":"1700000000:x","credential":"c3VwZXI="}],"expiresAt":1700003600000,"store":true}"#,
    )
    .unwrap();
    let served = ServedConfig {
        served_at: 1_700_000_000_000,
        config: config.clone(),
    };
    seeds.insert(
        "client_config",
        vec![
            serde_json::to_vec(&config).unwrap(),
            served.to_script_text().into_bytes(),
            b"60000,600000".to_vec(),
        ],
    );

    seeds.insert(
        "markdown",
        [
            "# Title\n\nSome *emphasis*, **strong**, ~~gone~~ and `code`.\n\n- [ ] task\n- [x] done\n1. one\n2. two\n",
            "| a | b |\n|:--|--:|\n| [[Page]] | [link](https://example.org \"t\") |\n\n> quote\n\n---\n",
            "```rust\nfn f() -> &str {}\n```\n\n![img](https://example.org/a.png) <script>alert(1)</script>\n",
            "[[Wiki link]] [[ missing ]] [x](javascript:alert(1)) <a href=\"x\">y</a> &amp; &#39;\n",
        ]
        .iter()
        .map(|s| s.as_bytes().to_vec())
        .collect(),
    );

    let pages = vec![
        ExportedPage {
            title: "Home".into(),
            body: "# Home\n[[Ideas]]\n".into(),
        },
        ExportedPage {
            title: "Ideas/2024: \"a\"?".into(),
            body: "- one\r\n- two".into(),
        },
    ];
    seeds.insert(
        "zip_import",
        vec![notebook_zip(&pages), notebook_zip(&pages[..1])],
    );

    seeds.insert(
        "markdown_import",
        vec![
            join(&[
                &b"Ideas.md"[..],
                b"\xef\xbb\xbf# Ideas\r\n- one\r\n",
                b"notes.txt",
                b"x",
            ]),
            join(&[
                &b"Caf%C3%A9 %2F 1.markdown"[..],
                b"body",
                b"image.png",
                b"\x89PNG",
            ]),
        ],
    );

    seeds.insert(
        "room_link",
        vec![
            b"#room=abc&key=s3cr%C3%A9t".to_vec(),
            RoomLink::new_random([1; 12], [2; 16])
                .fragment()
                .into_bytes(),
            b"room=%20x%20".to_vec(),
        ],
    );

    let awareness_payload = match frame::Frame::decode(&frames[6]) {
        Ok(frame::Frame::Awareness(payload)) => payload.to_vec(),
        other => panic!("not an awareness frame: {other:?}"),
    };
    seeds.insert(
        "awareness",
        vec![
            join(&[
                [vec![0], awareness_payload.clone()].concat(),
                vec![],
                [vec![3], frames[6].clone()].concat(),
            ]),
            join(&[[vec![2], awareness_payload].concat()]),
        ],
    );

    let mut notebooks = Notebooks::parse("[]");
    notebooks.update("abc", Some("secret"), 1_700_000_000_000, |entry| {
        entry.title = Some("Plans".into());
        entry.pages = 3;
        entry.bytes = 4096;
        entry.edited_at = Some(1_700_000_000_500);
        entry.server_copy = true;
    });
    notebooks.update("open-room", None, 1_600_000_000_000, |_| {});
    seeds.insert(
        "notebooks",
        vec![
            notebooks.to_json().into_bytes(),
            br#"[{"room":"x"},{"room":""},3,{"room":"x","pages":-1}]"#.to_vec(),
        ],
    );
    seeds
}

/// Each seed means something to the decoder its target fuzzes.
fn check(target: &str, seed: &[u8]) {
    let text = || std::str::from_utf8(seed).unwrap();
    let pieces = || pieces_of(seed);
    match target {
        "signaling_client" => assert!(ServerMessage::parse(text()).is_some()),
        "signaling_server" => {
            let mut hub = Hub::new(Limits::default());
            let conn = hub.connect();
            for piece in pieces_of(&seed[1..]) {
                hub.handle(conn, std::str::from_utf8(&piece).unwrap())
                    .unwrap();
            }
        }
        "frame" => {
            assert!(frame::Frame::decode(seed).is_ok() || frame::decode_bc_peer_id(seed).is_ok())
        }
        "peer_message" => {
            assert!(peer_message::decode(seed).is_ok() || frame::decode_bc_peer_id(seed).is_ok())
        }
        "chunk" => {
            let mut reassembler = Reassembler::new(1 << 20);
            let last = pieces().iter().map(|p| reassembler.push(p).unwrap()).last();
            assert!(matches!(last, Some(Reassembled::Complete(_))));
        }
        "crypto" => {
            let key = key();
            let ok = key.decrypt(seed).is_ok()
                || std::str::from_utf8(seed).is_ok_and(|t| key.decrypt_signal(t).is_ok())
                || decode_any(seed).is_ok();
            assert!(ok);
        }
        "lib0_any" => assert!(decode_any(seed).is_ok()),
        "yjs_update" => assert!(
            commonplace_protocol::yjs_update::check_v1(seed).is_ok()
                || commonplace_protocol::yjs_update::check_state_vector_v1(seed).is_ok()
        ),
        "relay" => assert!(pieces().iter().any(|p| p.len() > 1)),
        "store_reply" => {
            let body = &seed[3..];
            let ok = decode_reply(body, 0).is_ok_and(|r| r.last().is_some())
                || serde_json::from_slice::<serde_json::Value>(body).is_ok()
                || StoreId::parse(std::str::from_utf8(body).unwrap()).is_ok()
                || std::str::from_utf8(body).is_ok_and(|t| t.len() == 43);
            assert!(ok);
        }
        "store_crypto" => {
            let keys = StoreKeys::derive(&key());
            let ok = keys.open_update(seed).is_ok() || seed.len() >= 24;
            assert!(ok);
        }
        "client_config" => {
            let ok = ClientConfig::parse(text()).is_ok()
                || ServedConfig::parse(text()).is_ok()
                || commonplace_core::room::VersionTiming::parse(text()).is_some();
            assert!(ok);
        }
        "markdown" => html_check::check_safe(&render(text(), &|_| true)).unwrap(),
        "zip_import" => {
            assert!(!read_zip(seed).unwrap().is_empty());
            assert!(!import_files("notes.zip", seed.to_vec()).unwrap().is_empty());
        }
        "markdown_import" => {
            let pieces = pieces();
            let name = String::from_utf8(pieces[0].clone()).unwrap();
            assert_eq!(import_files(&name, pieces[1].clone()).unwrap().len(), 1);
        }
        "room_link" => assert!(RoomLink::parse(text()).unwrap().is_some()),
        "awareness" => {
            let first = &pieces()[0];
            let mut frame = vec![frame::MSG_AWARENESS];
            commonplace_protocol::lib0::write_var_uint8_array(&mut frame, &first[1..]);
            assert!(peer_message::decode(&frame).is_ok());
        }
        "notebooks" => assert!(!Notebooks::parse(text()).entries().is_empty()),
        "journal" => {
            let (split, rest) = seed.split_at(2);
            let (a, b) = rest.split_at(usize::from(u16::from_le_bytes([split[0], split[1]])));
            assert!(!journal::read([a, b]).records.is_empty());
        }
        other => panic!("no check for {other}"),
    }
}

fn pieces_of(bytes: &[u8]) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    let mut rest = bytes;
    while rest.len() >= 2 {
        let len = u16::from_le_bytes([rest[0], rest[1]]) as usize;
        let (piece, after) = rest[2..].split_at(len.min(rest.len() - 2));
        out.push(piece.to_vec());
        rest = after;
    }
    out
}

#[test]
fn fuzz_seeds_mean_something_to_their_decoders() {
    let seeds = seeds();
    let dir = std::env::var_os("FUZZ_SEEDS_DIR").map(std::path::PathBuf::from);
    for (target, list) in &seeds {
        for (n, seed) in list.iter().enumerate() {
            check(target, seed);
            if let Some(dir) = &dir {
                let dir = dir.join(target);
                std::fs::create_dir_all(&dir).unwrap();
                std::fs::write(dir.join(format!("seed-{n}")), seed).unwrap();
            }
        }
    }
    // Every target but the room (whose input is `arbitrary`'s, not a message) has seeds.
    assert_eq!(seeds.len(), 19);
}
