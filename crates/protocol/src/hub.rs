//! The signaling server's logic: y-webrtc's topic pub/sub (its `bin/server.js`), free of I/O.
//!
//! A shell feeds it connections and text frames and sends out the [`Delivery`]s it returns.
//! A `publish` is relayed as the whole received object, unknown fields and all, with `clients`
//! set to the topic's subscriber count, to every subscriber, sender included. The hub never
//! looks inside `data`: in rooms with a key it is ciphertext.
//!
//! Unlike server.js, the hub bounds what one connection may hold (see [`Limits`]) and drops
//! topics that become empty on unsubscribe, so a long-running server does not accumulate them.
//!
//! Several servers can share their topics ([`Hub::shared`]): the hub then also says which
//! topics' local subscriber counts changed ([`Hub::take_changes`]), hands each publish back for
//! the other servers ([`Handled::forward`]), delivers theirs ([`Hub::deliver`]), and counts in
//! `clients` the subscribers the shell says the others have ([`Hub::set_elsewhere`]). Carrying
//! all that between servers is the shell's business; the hub stays free of I/O.

use serde_json::{Map, Value};
use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::sync::Arc;

/// One connection, as the hub knows it. Ids are never reused.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ConnId(pub u64);

/// Bounds on what one connection, and all of them together, may make the hub hold.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    pub max_topics_per_conn: usize,
    /// In bytes.
    pub max_topic_len: usize,
    /// Topics the hub holds at once, all connections together. A subscribe that would create
    /// topics past it is refused ([`Rejected::TooManyTopicsOverall`]); subscribing to a topic
    /// that exists is not, so peers still join the rooms that are open.
    pub max_topics: usize,
}

/// 100,000 topics. The per-connection bound alone lets the server's 10,000 connections hold
/// 640,000 topics, about 1.2 KB each with names at their 512-byte limit (the name kept twice,
/// the subscriber set, the maps' nodes): some 770 MB for whoever opens connections and fills
/// them. A real room is a topic with people in it, and a browser holds one or two: 100,000 is
/// five times what 10,000 connected browsers use, and bounds the worst case near 120 MB.
pub const DEFAULT_MAX_TOPICS: usize = 100_000;

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_topics_per_conn: 64,
            max_topic_len: 512,
            max_topics: DEFAULT_MAX_TOPICS,
        }
    }
}

/// A frame to send to one connection. Receivers of one publish share one serialization.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Delivery {
    pub to: ConnId,
    pub frame: Arc<str>,
}

/// What one frame made the hub do.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Handled {
    /// Frames for this server's connections.
    pub deliveries: Vec<Delivery>,
    /// A publish for the topic's subscribers on other servers; only from a [`Hub::shared`] hub.
    pub forward: Option<Forward>,
}

/// A publish to pass on to the other servers sharing the topic.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Forward {
    pub topic: String,
    /// The publish as delivered here. Each server sets `clients` again as it delivers it.
    pub frame: Arc<str>,
    /// Subscribers on other servers, as last told ([`Hub::set_elsewhere`]): how many it reaches.
    pub elsewhere: usize,
}

/// A topic whose subscriber count on this server changed since the last [`Hub::take_changes`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TopicChange {
    pub topic: String,
    /// Subscribers before the first change since then.
    pub before: usize,
    pub now: usize,
}

/// Why a frame was not (wholly) acted on. The connection stays usable; the shell just logs it.
/// Carries no frame content, which may be a peer's encrypted data.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Rejected {
    /// The connection is not (or no longer) connected.
    UnknownConn,
    /// Not a JSON object with a string `type`, or fields of the wrong shape.
    Malformed(&'static str),
    UnknownType,
    /// The subscribe would take the connection past [`Limits::max_topics_per_conn`]; nothing
    /// in it was subscribed.
    TooManyTopics {
        limit: usize,
    },
    /// The subscribe would create topics past [`Limits::max_topics`], the hub's bound over all
    /// connections; nothing in it was subscribed. Existing topics can still be subscribed to.
    TooManyTopicsOverall {
        limit: usize,
    },
    /// A topic name longer than [`Limits::max_topic_len`]; nothing in the subscribe was subscribed.
    TopicTooLong {
        len: usize,
        limit: usize,
    },
}

impl fmt::Display for Rejected {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Rejected::UnknownConn => write!(f, "unknown connection"),
            Rejected::Malformed(why) => write!(f, "malformed frame: {why}"),
            Rejected::UnknownType => write!(f, "unknown message type"),
            Rejected::TooManyTopics { limit } => write!(f, "more than {limit} topics"),
            Rejected::TooManyTopicsOverall { limit } => {
                write!(f, "the server holds {limit} topics, its limit: no new ones")
            }
            Rejected::TopicTooLong { len, limit } => {
                write!(f, "topic name of {len} bytes, limit {limit}")
            }
        }
    }
}

impl std::error::Error for Rejected {}

const PONG: &str = r#"{"type":"pong"}"#;

/// Topics and their subscribers. Ordered collections keep deliveries deterministic.
#[derive(Debug, Default)]
pub struct Hub {
    limits: Limits,
    next_id: u64,
    topics: BTreeMap<String, BTreeSet<ConnId>>,
    conns: BTreeMap<ConnId, BTreeSet<String>>,
    /// Only on a [`Hub::shared`] hub.
    shared: Option<Shared>,
}

/// What a hub sharing its topics with other servers keeps besides.
#[derive(Debug, Default)]
struct Shared {
    /// Subscribers on other servers, for topics with subscribers here.
    elsewhere: BTreeMap<String, usize>,
    /// Topics whose subscriber count changed since the last `take_changes`, with the count
    /// before the first change.
    changed: BTreeMap<String, usize>,
}

impl Hub {
    pub fn new(limits: Limits) -> Self {
        Hub {
            limits,
            ..Hub::default()
        }
    }

    /// A hub whose topics span several servers: see the module's documentation.
    pub fn shared(limits: Limits) -> Self {
        Hub {
            limits,
            shared: Some(Shared::default()),
            ..Hub::default()
        }
    }

    pub fn connect(&mut self) -> ConnId {
        let id = ConnId(self.next_id);
        self.next_id += 1;
        self.conns.insert(id, BTreeSet::new());
        id
    }

    /// Removes the connection's subscriptions. Unknown connections are ignored.
    pub fn disconnect(&mut self, conn: ConnId) {
        for topic in self.conns.remove(&conn).unwrap_or_default() {
            self.leave(conn, &topic);
        }
    }

    /// Handles one text frame from `from`, returning what to send to whom.
    pub fn receive(&mut self, from: ConnId, frame: &str) -> Result<Vec<Delivery>, Rejected> {
        self.handle(from, frame).map(|handled| handled.deliveries)
    }

    /// As [`receive`](Self::receive), with the publish to pass on to other servers, if any.
    pub fn handle(&mut self, from: ConnId, frame: &str) -> Result<Handled, Rejected> {
        if !self.conns.contains_key(&from) {
            return Err(Rejected::UnknownConn);
        }
        let Ok(Value::Object(message)) = serde_json::from_str(frame) else {
            return Err(Rejected::Malformed("not a JSON object"));
        };
        match message.get("type") {
            Some(Value::String(kind)) => match kind.as_str() {
                "subscribe" => self.subscribe(from, &message).map(|()| Handled::default()),
                "unsubscribe" => self
                    .unsubscribe(from, &message)
                    .map(|()| Handled::default()),
                "publish" => self.publish(message, self.shared.is_some()),
                "ping" => Ok(Handled {
                    deliveries: vec![Delivery {
                        to: from,
                        frame: PONG.into(),
                    }],
                    forward: None,
                }),
                _ => Err(Rejected::UnknownType),
            },
            _ => Err(Rejected::Malformed("no string type")),
        }
    }

    pub fn subscribers(&self, topic: &str) -> usize {
        self.topics.get(topic).map_or(0, BTreeSet::len)
    }

    pub fn topic_count(&self) -> usize {
        self.topics.len()
    }

    /// A publish another server received (its [`Forward::frame`]), for this server's
    /// subscribers to its topic, with `clients` counted here.
    pub fn deliver(&self, frame: &str) -> Result<Vec<Delivery>, Rejected> {
        let Ok(Value::Object(message)) = serde_json::from_str(frame) else {
            return Err(Rejected::Malformed("not a JSON object"));
        };
        match message.get("type") {
            Some(Value::String(kind)) if kind == "publish" => self
                .publish(message, false)
                .map(|handled| handled.deliveries),
            _ => Err(Rejected::Malformed("not a publish")),
        }
    }

    /// The other servers have `count` subscribers to `topic`: `clients` counts them, and
    /// [`Forward::elsewhere`] says so. Kept only while the topic has subscribers here (only they
    /// read `clients`), and only by a [`Hub::shared`] hub.
    pub fn set_elsewhere(&mut self, topic: &str, count: usize) {
        let Some(shared) = &mut self.shared else {
            return;
        };
        if count == 0 || !self.topics.contains_key(topic) {
            shared.elsewhere.remove(topic);
        } else {
            shared.elsewhere.insert(topic.to_owned(), count);
        }
    }

    /// Forgets every count [`set_elsewhere`](Self::set_elsewhere) gave (the other servers are
    /// out of reach).
    pub fn clear_elsewhere(&mut self) {
        if let Some(shared) = &mut self.shared {
            shared.elsewhere.clear();
        }
    }

    /// Subscribers on other servers, as last told.
    pub fn elsewhere(&self, topic: &str) -> usize {
        self.shared
            .as_ref()
            .and_then(|shared| shared.elsewhere.get(topic).copied())
            .unwrap_or(0)
    }

    /// The topics whose subscriber count here changed since the last call, in topic order;
    /// always empty unless the hub is [`Hub::shared`].
    pub fn take_changes(&mut self) -> Vec<TopicChange> {
        let Some(shared) = &mut self.shared else {
            return Vec::new();
        };
        std::mem::take(&mut shared.changed)
            .into_iter()
            .map(|(topic, before)| TopicChange {
                now: self.topics.get(&topic).map_or(0, BTreeSet::len),
                topic,
                before,
            })
            .collect()
    }

    fn subscribe(&mut self, conn: ConnId, message: &Map<String, Value>) -> Result<(), Rejected> {
        let names = topic_names(message)?;
        let limit = self.limits.max_topic_len;
        if let Some(long) = names.iter().find(|name| name.len() > limit) {
            return Err(Rejected::TopicTooLong {
                len: long.len(),
                limit,
            });
        }
        let Some(mine) = self.conns.get_mut(&conn) else {
            return Err(Rejected::UnknownConn);
        };
        let new: BTreeSet<&str> = names
            .into_iter()
            .filter(|name| !mine.contains(*name))
            .collect();
        let limit = self.limits.max_topics_per_conn;
        if mine.len() + new.len() > limit {
            return Err(Rejected::TooManyTopics { limit });
        }
        let created = new
            .iter()
            .filter(|name| !self.topics.contains_key(**name))
            .count();
        let limit = self.limits.max_topics;
        if created > 0 && self.topics.len() + created > limit {
            return Err(Rejected::TooManyTopicsOverall { limit });
        }
        for name in new {
            let subscribers = self.topics.entry(name.to_owned()).or_default();
            if let Some(shared) = &mut self.shared {
                shared
                    .changed
                    .entry(name.to_owned())
                    .or_insert(subscribers.len());
            }
            subscribers.insert(conn);
            mine.insert(name.to_owned());
        }
        Ok(())
    }

    fn unsubscribe(&mut self, conn: ConnId, message: &Map<String, Value>) -> Result<(), Rejected> {
        for name in topic_names(message)? {
            if self
                .conns
                .get_mut(&conn)
                .is_some_and(|mine| mine.remove(name))
            {
                self.leave(conn, name);
            }
        }
        Ok(())
    }

    /// `message` to the topic's subscribers here, `clients` set to them and those elsewhere;
    /// and, if `forward`, to pass on to the other servers.
    fn publish(&self, mut message: Map<String, Value>, forward: bool) -> Result<Handled, Rejected> {
        let Some(Value::String(topic)) = message.get("topic") else {
            return Err(Rejected::Malformed("publish without a string topic"));
        };
        let receivers = self.topics.get(topic);
        if receivers.is_none() && !forward {
            return Ok(Handled::default());
        }
        let elsewhere = self.elsewhere(topic);
        let forward_topic = forward.then(|| topic.clone());
        let here = receivers.map_or(0, BTreeSet::len);
        message.insert("clients".into(), (here + elsewhere).into());
        let frame: Arc<str> = Value::Object(message).to_string().into();
        Ok(Handled {
            deliveries: receivers
                .into_iter()
                .flatten()
                .map(|&to| Delivery {
                    to,
                    frame: frame.clone(),
                })
                .collect(),
            forward: forward_topic.map(|topic| Forward {
                topic,
                frame,
                elsewhere,
            }),
        })
    }

    /// Takes `conn` out of `topic`'s subscribers, deleting the topic once nobody is left.
    fn leave(&mut self, conn: ConnId, topic: &str) {
        if let Some(subscribers) = self.topics.get_mut(topic) {
            if let Some(shared) = &mut self.shared {
                shared
                    .changed
                    .entry(topic.to_owned())
                    .or_insert(subscribers.len());
            }
            subscribers.remove(&conn);
            if subscribers.is_empty() {
                self.topics.remove(topic);
                if let Some(shared) = &mut self.shared {
                    shared.elsewhere.remove(topic);
                }
            }
        }
    }
}

/// The string entries of `topics`; like server.js, other entries are skipped and a missing or
/// null `topics` means none.
fn topic_names(message: &Map<String, Value>) -> Result<Vec<&str>, Rejected> {
    match message.get("topics") {
        None | Some(Value::Null) => Ok(Vec::new()),
        Some(Value::Array(topics)) => Ok(topics.iter().filter_map(Value::as_str).collect()),
        Some(_) => Err(Rejected::Malformed("topics is not an array")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn hub() -> Hub {
        Hub::new(Limits::default())
    }

    fn subscribe(hub: &mut Hub, conn: ConnId, topics: &[&str]) {
        let frame = json!({"type": "subscribe", "topics": topics}).to_string();
        assert_eq!(hub.receive(conn, &frame), Ok(vec![]));
    }

    fn publish(hub: &mut Hub, from: ConnId, topic: &str) -> Vec<Delivery> {
        let frame = json!({"type": "publish", "topic": topic, "data": "x"}).to_string();
        hub.receive(from, &frame).unwrap()
    }

    fn receivers(deliveries: &[Delivery]) -> Vec<ConnId> {
        deliveries.iter().map(|d| d.to).collect()
    }

    fn parse(delivery: &Delivery) -> Value {
        serde_json::from_str(&delivery.frame).unwrap()
    }

    #[test]
    fn publish_reaches_every_subscriber_including_the_sender() {
        let mut hub = hub();
        let (a, b, c) = (hub.connect(), hub.connect(), hub.connect());
        subscribe(&mut hub, a, &["room"]);
        subscribe(&mut hub, b, &["room", "other"]);
        subscribe(&mut hub, c, &["other"]);
        let sent = publish(&mut hub, a, "room");
        assert_eq!(receivers(&sent), [a, b]);
        assert_eq!(
            parse(&sent[0]),
            json!({"type": "publish", "topic": "room", "data": "x", "clients": 2})
        );
        assert!(
            Arc::ptr_eq(&sent[0].frame, &sent[1].frame),
            "one serialization for all receivers"
        );
        // Publishing needs no subscription, and a topic nobody subscribes reaches nobody.
        assert_eq!(receivers(&publish(&mut hub, c, "room")), [a, b]);
        assert_eq!(publish(&mut hub, a, "nobody"), []);
    }

    #[test]
    fn publish_keeps_unknown_fields_and_overwrites_clients() {
        let mut hub = hub();
        let a = hub.connect();
        subscribe(&mut hub, a, &["r"]);
        let frame = json!({"type": "publish", "topic": "r", "clients": 99, "extra": [1, {"x": null}],
            "data": {"type": "signal", "to": "b", "token": 1700000000000.25}});
        let sent = hub.receive(a, &frame.to_string()).unwrap();
        let mut expected = frame;
        expected["clients"] = json!(1);
        assert_eq!(parse(&sent[0]), expected);
    }

    #[test]
    fn unsubscribe_stops_delivery_and_drops_empty_topics() {
        let mut hub = hub();
        let (a, b) = (hub.connect(), hub.connect());
        subscribe(&mut hub, a, &["r", "s"]);
        subscribe(&mut hub, b, &["r"]);
        let frame = json!({"type": "unsubscribe", "topics": ["r", "s", "never", 7]}).to_string();
        assert_eq!(hub.receive(a, &frame), Ok(vec![]));
        assert_eq!(receivers(&publish(&mut hub, b, "r")), [b]);
        assert_eq!(parse(&publish(&mut hub, b, "r")[0])["clients"], 1);
        assert_eq!(hub.topic_count(), 1);
        // The unsubscribed topics are forgotten for a, so its disconnect leaves b subscribed.
        hub.disconnect(a);
        assert_eq!((hub.subscribers("r"), hub.topic_count()), (1, 1));
    }

    #[test]
    fn disconnect_removes_all_subscriptions() {
        let mut hub = hub();
        let (a, b) = (hub.connect(), hub.connect());
        subscribe(&mut hub, a, &["r", "s"]);
        subscribe(&mut hub, b, &["r"]);
        hub.disconnect(a);
        assert_eq!(
            (
                hub.subscribers("r"),
                hub.subscribers("s"),
                hub.topic_count()
            ),
            (1, 0, 1)
        );
        assert_eq!(parse(&publish(&mut hub, b, "r")[0])["clients"], 1);
        hub.disconnect(b);
        hub.disconnect(b);
        assert_eq!(hub.topic_count(), 0);
    }

    #[test]
    fn ping_gets_pong() {
        let mut hub = hub();
        let a = hub.connect();
        let sent = hub.receive(a, r#"{"type":"ping"}"#).unwrap();
        assert_eq!(receivers(&sent), [a]);
        assert_eq!(&*sent[0].frame, r#"{"type":"pong"}"#);
    }

    #[test]
    fn malformed_frames_are_rejected_without_effect() {
        let mut hub = hub();
        let a = hub.connect();
        subscribe(&mut hub, a, &["r"]);
        for frame in [
            "",
            "{",
            "[]",
            "null",
            "\"publish\"",
            "{}",
            r#"{"type":7}"#,
            r#"{"type":"publish","data":1}"#,
            r#"{"type":"publish","topic":["r"]}"#,
            r#"{"type":"subscribe","topics":"r"}"#,
        ] {
            assert!(
                matches!(hub.receive(a, frame), Err(Rejected::Malformed(_))),
                "{frame:?}"
            );
        }
        assert_eq!(
            hub.receive(a, r#"{"type":"shout"}"#),
            Err(Rejected::UnknownType)
        );
        // Non-string topics are skipped, as server.js does; a missing list means none.
        subscribe(&mut hub, a, &[]);
        assert_eq!(
            hub.receive(a, r#"{"type":"subscribe","topics":[1,null,"s"]}"#),
            Ok(vec![])
        );
        assert_eq!(hub.receive(a, r#"{"type":"subscribe"}"#), Ok(vec![]));
        assert_eq!(hub.topic_count(), 2);
        assert_eq!(receivers(&publish(&mut hub, a, "r")), [a]);
    }

    #[test]
    fn topic_limits_reject_the_whole_subscribe() {
        let mut hub = Hub::new(Limits {
            max_topics_per_conn: 3,
            max_topic_len: 4,
            ..Limits::default()
        });
        let (a, b) = (hub.connect(), hub.connect());
        subscribe(&mut hub, a, &["t1", "t2"]);
        let too_many = json!({"type": "subscribe", "topics": ["t1", "t3", "t4"]}).to_string();
        assert_eq!(
            hub.receive(a, &too_many),
            Err(Rejected::TooManyTopics { limit: 3 })
        );
        assert_eq!(hub.subscribers("t3"), 0);
        // Re-subscribing counts once; the limit is per connection.
        subscribe(&mut hub, a, &["t1", "t3", "t3"]);
        subscribe(&mut hub, b, &["t4", "t5", "t6"]);
        let long = json!({"type": "subscribe", "topics": ["t7", "12345"]}).to_string();
        let mut c = hub.connect();
        assert_eq!(
            hub.receive(c, &long),
            Err(Rejected::TopicTooLong { len: 5, limit: 4 })
        );
        assert_eq!(hub.topic_count(), 6);
        // After a disconnect there is room again: a new connection starts from zero.
        hub.disconnect(c);
        c = hub.connect();
        subscribe(&mut hub, c, &["t7", "1234"]);
    }

    #[test]
    fn past_the_topics_overall_no_new_topic_is_made_but_existing_ones_are_joined() {
        let mut hub = Hub::new(Limits {
            max_topics_per_conn: 3,
            max_topics: 5,
            ..Limits::default()
        });
        let (a, b, c) = (hub.connect(), hub.connect(), hub.connect());
        subscribe(&mut hub, a, &["t1", "t2", "t3"]);
        subscribe(&mut hub, b, &["t4", "t5"]);
        assert_eq!(hub.topic_count(), 5);
        // A subscribe that would make one more topic is refused whole, even its existing topics.
        let full = Rejected::TooManyTopicsOverall { limit: 5 };
        let mixed = json!({"type": "subscribe", "topics": ["t1", "t6"]}).to_string();
        assert_eq!(hub.receive(c, &mixed), Err(full.clone()));
        assert_eq!((hub.subscribers("t1"), hub.subscribers("t6")), (1, 0));
        // Joining rooms that exist is not: a peer still finds the others in theirs.
        subscribe(&mut hub, c, &["t1", "t5"]);
        assert_eq!(receivers(&publish(&mut hub, a, "t1")), [a, c]);
        // Re-subscribing to its own topics is no new topic either.
        subscribe(&mut hub, b, &["t4", "t5"]);
        // The per-connection bound is checked first; nothing of the frame is subscribed.
        let many = json!({"type": "subscribe", "topics": ["t6", "t7"]}).to_string();
        assert_eq!(
            hub.receive(a, &many),
            Err(Rejected::TooManyTopics { limit: 3 })
        );
        assert_eq!(hub.topic_count(), 5);
        // Topics emptied by an unsubscribe or a disconnect make room again.
        let leave = json!({"type": "unsubscribe", "topics": ["t4"]}).to_string();
        hub.receive(b, &leave).unwrap();
        subscribe(&mut hub, c, &["t6"]);
        let new = json!({"type": "subscribe", "topics": ["t7"]}).to_string();
        assert_eq!(hub.receive(b, &new), Err(full));
        hub.disconnect(a);
        assert_eq!(
            hub.topic_count(),
            3,
            "t1 lives on with c; t2 and t3 are gone"
        );
        subscribe(&mut hub, b, &["t7"]);
        assert_eq!(hub.topic_count(), 4);
    }

    #[test]
    fn a_hub_on_its_own_forwards_nothing_and_reports_no_changes() {
        let mut hub = hub();
        let a = hub.connect();
        subscribe(&mut hub, a, &["r"]);
        hub.set_elsewhere("r", 5);
        let frame = json!({"type": "publish", "topic": "r", "data": "x"}).to_string();
        let handled = hub.handle(a, &frame).unwrap();
        assert_eq!(handled.forward, None);
        assert_eq!(parse(&handled.deliveries[0])["clients"], 1);
        assert_eq!(hub.take_changes(), []);
        assert_eq!(hub.elsewhere("r"), 0);
    }

    fn change(topic: &str, before: usize, now: usize) -> TopicChange {
        TopicChange {
            topic: topic.into(),
            before,
            now,
        }
    }

    #[test]
    fn a_shared_hub_reports_which_topics_changed_since_it_was_last_asked() {
        let mut hub = Hub::shared(Limits::default());
        let (a, b) = (hub.connect(), hub.connect());
        subscribe(&mut hub, a, &["r", "s"]);
        subscribe(&mut hub, b, &["r"]);
        assert_eq!(hub.take_changes(), [change("r", 0, 2), change("s", 0, 1)]);
        assert_eq!(hub.take_changes(), []);
        // Subscribing again, or to nothing new, changes nothing.
        subscribe(&mut hub, a, &["r"]);
        assert_eq!(hub.take_changes(), []);
        let unsubscribe = json!({"type": "unsubscribe", "topics": ["s", "never"]}).to_string();
        hub.receive(a, &unsubscribe).unwrap();
        hub.disconnect(b);
        assert_eq!(hub.take_changes(), [change("r", 2, 1), change("s", 1, 0)]);
        // Gone and back between two calls: reported with its count before and now.
        hub.disconnect(a);
        let c = hub.connect();
        subscribe(&mut hub, c, &["r"]);
        assert_eq!(hub.take_changes(), [change("r", 1, 1)]);
    }

    #[test]
    fn a_shared_hub_counts_subscribers_elsewhere_and_forwards_every_publish() {
        let mut hub = Hub::shared(Limits::default());
        let (a, b, c) = (hub.connect(), hub.connect(), hub.connect());
        subscribe(&mut hub, a, &["r"]);
        subscribe(&mut hub, b, &["r"]);
        hub.set_elsewhere("r", 3);
        // Only for topics with subscribers here.
        hub.set_elsewhere("nobody here", 4);
        assert_eq!((hub.elsewhere("r"), hub.elsewhere("nobody here")), (3, 0));
        let frame = json!({"type": "publish", "topic": "r", "data": "x"}).to_string();
        let handled = hub.handle(a, &frame).unwrap();
        assert_eq!(receivers(&handled.deliveries), [a, b]);
        let sent = parse(&handled.deliveries[0]);
        assert_eq!(sent["clients"], 5, "2 here, 3 elsewhere");
        let forward = handled.forward.unwrap();
        assert_eq!((forward.topic.as_str(), forward.elsewhere), ("r", 3));
        assert!(Arc::ptr_eq(&forward.frame, &handled.deliveries[0].frame));
        // A publish to a topic nobody here subscribes to still goes to the others.
        let frame = json!({"type": "publish", "topic": "t", "data": "y"}).to_string();
        let handled = hub.handle(c, &frame).unwrap();
        assert_eq!(handled.deliveries, []);
        let forward = handled.forward.unwrap();
        assert_eq!((forward.topic.as_str(), forward.elsewhere), ("t", 0));
        // Pings and subscriptions are this server's own business.
        assert_eq!(hub.handle(c, r#"{"type":"ping"}"#).unwrap().forward, None);

        // What another server forwards reaches the subscribers here, counted here.
        let theirs = json!({"type": "publish", "topic": "r", "data": "z", "clients": 99});
        let delivered = hub.deliver(&theirs.to_string()).unwrap();
        assert_eq!(receivers(&delivered), [a, b]);
        let mut expected = theirs;
        expected["clients"] = json!(5);
        assert_eq!(parse(&delivered[0]), expected);
        assert_eq!(
            hub.deliver(&json!({"type": "publish", "topic": "t"}).to_string()),
            Ok(vec![])
        );
        for junk in [
            "{",
            r#"{"type":"subscribe","topics":["r"]}"#,
            r#"{"type":"publish"}"#,
        ] {
            assert!(
                matches!(hub.deliver(junk), Err(Rejected::Malformed(_))),
                "{junk}"
            );
        }

        // Counts elsewhere go with the last subscriber here, and all at once when cleared.
        hub.disconnect(a);
        assert_eq!(hub.elsewhere("r"), 3);
        hub.disconnect(b);
        assert_eq!(hub.elsewhere("r"), 0);
        subscribe(&mut hub, c, &["r"]);
        assert_eq!(hub.elsewhere("r"), 0, "not remembered from before");
        hub.set_elsewhere("r", 1);
        hub.clear_elsewhere();
        assert_eq!(hub.elsewhere("r"), 0);
        hub.set_elsewhere("r", 2);
        hub.set_elsewhere("r", 0);
        assert_eq!(hub.elsewhere("r"), 0);
    }

    #[test]
    fn frames_from_unknown_connections_are_rejected() {
        let mut hub = hub();
        let a = hub.connect();
        hub.disconnect(a);
        assert_eq!(
            hub.receive(a, r#"{"type":"ping"}"#),
            Err(Rejected::UnknownConn)
        );
        assert_eq!(
            hub.receive(ConnId(42), r#"{"type":"subscribe","topics":["r"]}"#),
            Err(Rejected::UnknownConn)
        );
        assert_eq!(hub.topic_count(), 0);
        assert_ne!(hub.connect(), a, "ids are not reused");
    }
}
