//! The server's encrypted store in a [`Net`]: the rooms' `Transmit::Store` requests go out as
//! the HTTP the browser sends ([`StoreRequest::http`]), reach an in-memory store that keeps
//! records as the server does (`docs/store.md`: tokens, sequence numbers, one snapshot,
//! compare-and-swap, tombstones; replies in `protocol::store`'s framing, cut at a size bound),
//! and come back as the status and body the shell hands to [`StoreReply::from_http`].
//!
//! A request takes the store's latency each way; a peer cut off from the server (partitioned)
//! gets a failure, and one whose answer is lost on the way back (it was cut off meanwhile, or
//! its browser died) does not hear that the store did it: the store machine must cope.

use std::collections::BTreeMap;

use commonplace_core::room::server_store::{StoreReply, StoreRequest};
use commonplace_core::room::{Event, HttpRequest, Input, Output, Room, Transmit};
use commonplace_protocol::store::{AppendReply, ErrorBody, ReplyEncoder, SnapshotReply};
use rand::Rng;

use super::net::Net;
use super::schedule::Ev;

/// One store, as the server keeps it.
#[derive(Default, Clone)]
pub struct SimStore {
    /// The write token's authorization, set by the first write.
    token: Option<String>,
    records: Vec<(u64, Vec<u8>)>,
    snapshot: Option<(u64, Vec<u8>)>,
    last_seq: u64,
    gone: bool,
    /// Requests served, by method.
    pub served: BTreeMap<&'static str, u64>,
}

impl std::fmt::Debug for SimStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let seqs: Vec<u64> = self.records.iter().map(|(seq, _)| *seq).collect();
        f.debug_struct("SimStore")
            .field("records", &seqs)
            .field(
                "snapshot",
                &self.snapshot.as_ref().map(|(covers, _)| covers),
            )
            .field("gone", &self.gone)
            .field("served", &self.served)
            .finish()
    }
}

impl SimStore {
    /// What the server answers `request`: status and body. `limit` bounds a read's reply.
    pub fn serve(&mut self, request: &HttpRequest, limit: usize) -> (u16, Vec<u8>) {
        *self.served.entry(request.method).or_insert(0) += 1;
        let error = |status, why: &str| (status, ErrorBody::new(why).to_json().into_bytes());
        let write = request.method != "GET";
        if write && request.authorization.is_none() {
            return error(401, "a write needs its token");
        }
        if write && self.token.is_some() && self.token != request.authorization {
            return error(403, "wrong write token for this store");
        }
        if self.gone {
            return match request.method {
                "DELETE" => (204, Vec::new()),
                _ => error(410, "removed"),
            };
        }
        let exists = self.token.is_some();
        match request.method {
            "GET" => {
                let Some(after) = query(&request.path, "after") else {
                    return error(400, "no after");
                };
                if !exists {
                    return error(404, "no such store");
                }
                let mut encoder = ReplyEncoder::new(after, limit);
                let mut from = after;
                if let Some((covers, bytes)) = self.snapshot.as_ref().filter(|s| s.0 > after) {
                    encoder.snapshot(*covers, bytes).expect("snapshot first");
                    from = *covers;
                }
                for (seq, bytes) in self.records.iter().filter(|(seq, _)| *seq > from) {
                    if !encoder.record(*seq, bytes).expect("records in order") {
                        break;
                    }
                }
                (200, encoder.finish())
            }
            "POST" => {
                self.token = request.authorization.clone();
                self.last_seq += 1;
                let record = request.body.clone().unwrap_or_default();
                self.records.push((self.last_seq, record));
                let reply = AppendReply { seq: self.last_seq };
                (201, serde_json::to_vec(&reply).unwrap())
            }
            "PUT" => {
                if !exists {
                    return error(404, "no such store");
                }
                let (Some(covers), Some(replaces)) = (
                    query(&request.path, "covers"),
                    query(&request.path, "replaces"),
                ) else {
                    return error(400, "no covers or replaces");
                };
                let current = self.snapshot.as_ref().map_or(0, |s| s.0);
                if current != replaces {
                    let mut body = ErrorBody::new("stale");
                    body.covers = Some(current);
                    return (409, body.to_json().into_bytes());
                }
                if covers <= replaces || covers > self.last_seq {
                    return error(400, "a snapshot of records not written");
                }
                self.records.retain(|(seq, _)| *seq > covers);
                self.snapshot = Some((covers, request.body.clone().unwrap_or_default()));
                (200, serde_json::to_vec(&SnapshotReply { covers }).unwrap())
            }
            "DELETE" => {
                let token = self.token.take().or(request.authorization.clone());
                *self = SimStore {
                    token,
                    gone: true,
                    served: std::mem::take(&mut self.served),
                    ..SimStore::default()
                };
                (204, Vec::new())
            }
            _ => error(405, "no such method"),
        }
    }

    pub fn records(&self) -> usize {
        self.records.len()
    }

    pub fn has_snapshot(&self) -> bool {
        self.snapshot.is_some()
    }

    /// The updates of the records, opened with `keys`.
    pub fn updates(&self, keys: &commonplace_protocol::store_crypto::StoreKeys) -> Vec<Vec<u8>> {
        self.records
            .iter()
            .filter_map(|(_, sealed)| keys.open_update(sealed).ok())
            .map(|record| record.update)
            .collect()
    }

    /// Each record opened with `keys`: its writer's first byte, its counter, and the clock
    /// ranges of each client it inserts (for reading a failure).
    pub fn describe(&self, keys: &commonplace_protocol::store_crypto::StoreKeys) -> Vec<String> {
        use yrs::updates::decoder::Decode;
        self.records
            .iter()
            .map(|(seq, sealed)| match keys.open_update(sealed) {
                Ok(record) => {
                    let ranges = yrs::Update::decode_v1(&record.update)
                        .map(|u| format!("{:?} deletes {:?}", u.insertions(true), u.delete_set()))
                        .unwrap_or_default();
                    format!(
                        "{seq}: writer {:02x} #{} {ranges}",
                        record.writer[0], record.counter
                    )
                }
                Err(e) => format!("{seq}: {e:?}"),
            })
            .collect()
    }
}

/// The value of `name=` in a path's query.
fn query(path: &str, name: &str) -> Option<u64> {
    let (_, query) = path.split_once('?')?;
    query
        .split('&')
        .find_map(|pair| pair.strip_prefix(name)?.strip_prefix('='))
        .and_then(|v| v.parse().ok())
}

/// The store id a request addresses: `/store/{id}...`.
fn store_of(path: &str) -> String {
    let rest = path.strip_prefix("/store/").unwrap_or(path);
    rest.split(['/', '?']).next().unwrap_or("").to_owned()
}

impl Net {
    /// Room `i` asked its server store something: it goes out over HTTP.
    pub(super) fn send_to_store(&mut self, i: usize, request: StoreRequest) {
        let keys = self
            .room(i)
            .store_keys()
            .expect("a room that asks has a store");
        let http = request.http(keys);
        let latency = self.delay(self.schedule.store_latency);
        let failing = self.schedule.store_failures;
        if self.peers[i].group.is_some() || (failing > 0.0 && self.rng().random_bool(failing)) {
            // No network, or the server (a proxy) failed: the shell's fetch fails.
            let at = self.now + latency;
            self.queue.push(
                at,
                Ev::StoreAnswer {
                    to: i,
                    request,
                    status: 0,
                    body: Vec::new(),
                },
            );
            return;
        }
        self.stats.store_requests += 1;
        self.queue.push(
            self.now + latency,
            Ev::StoreServe {
                from: i,
                request,
                http,
            },
        );
    }

    /// The server does what was asked, then answers (the answer is lost if `from` is cut off
    /// by then).
    pub(super) fn store_serve(&mut self, from: usize, request: StoreRequest, http: HttpRequest) {
        let limit = self.schedule.store_reply_limit;
        let store = self.stores.entry(store_of(&http.path)).or_default();
        let (status, body) = store.serve(&http, limit);
        self.trace(|| format!("store <- {from}: {} {} -> {status}", http.method, http.path));
        let latency = self.delay(self.schedule.store_latency);
        self.queue.push(
            self.now + latency,
            Ev::StoreAnswer {
                to: from,
                request,
                status,
                body,
            },
        );
    }

    pub(super) fn store_answer(
        &mut self,
        to: usize,
        request: StoreRequest,
        status: u16,
        body: &[u8],
    ) {
        let status = if self.peers[to].group.is_some() {
            0
        } else {
            status
        };
        let reply = if status == 0 {
            StoreReply::Failed {
                why: "the network failed".into(),
            }
        } else {
            StoreReply::from_http(&request, status, body)
        };
        self.feed(to, Input::StoreReply(reply));
    }

    /// Whether any room kept a copy on the server.
    pub fn has_store(&self) -> bool {
        !self.stores.is_empty()
    }

    /// The stores, by id.
    pub fn stores(&self) -> &BTreeMap<String, SimStore> {
        &self.stores
    }

    /// A new browser with `room` (keyed, nothing stored) reads the server's copy, at once and
    /// with nothing else going on: what someone opening the notebook anywhere would get.
    pub fn read_server_copy(&mut self, room: &mut Room) -> Result<(), String> {
        room.open_server_store(self.now, [0xEE; 16]);
        for _ in 0..10_000 {
            let Some(output) = room.poll_output() else {
                return Ok(());
            };
            match output {
                Output::Transmit(Transmit::Store(request)) => {
                    let keys = room.store_keys().expect("opened");
                    let http = request.http(keys);
                    let limit = self.schedule.store_reply_limit;
                    let store = self.stores.entry(store_of(&http.path)).or_default();
                    let (status, body) = store.serve(&http, limit);
                    let reply = StoreReply::from_http(&request, status, &body);
                    room.handle(self.now, Input::StoreReply(reply));
                }
                Output::Event(Event::Dropped(why)) => return Err(why),
                _ => {}
            }
        }
        Err("the store machine never stopped asking".into())
    }
}
