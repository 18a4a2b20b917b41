//! Signaling across instances (`--redis URL`): a publish on one server reaches the topic's
//! subscribers on every server started on the same Redis, through Redis pub/sub.
//!
//! The hub stays the one place that decides who gets what (`protocol::hub`, shared mode); this
//! module carries what it says between instances (`link.rs`, one task), in names and messages
//! of its own (`wire.rs`):
//!
//! - An instance subscribes to a topic's channel (`cp:signal:topic:<SHA-256 of the topic>`)
//!   only while one of its own clients is subscribed to the topic, and unsubscribes when the
//!   last one leaves: a topic nobody here is in costs this instance nothing.
//! - A publish from a client here is delivered here at once, as without Redis, and published on
//!   the topic's channel as `<instance id> p <frame>`; every instance subscribed delivers it to
//!   its own subscribers, and ignores what it published itself when it comes back.
//! - `clients` counts the subscribers of every instance. Each instance keeps its own count per
//!   topic in a hash of its own (`cp:signal:counts:<id>`), and says `<id> c` on the topic's
//!   channel when it changes; the others then read the sum of the counts of the instances that
//!   are there (`counts.lua`) and keep it until the next change (the hub adds it to its own
//!   count). "There" is Redis's own knowledge: each instance subscribes to a beacon channel of
//!   its own (`cp:signal:instance:<id>`), and Redis drops that subscription with the connection,
//!   so an instance that dies or loses Redis stops counting within a heartbeat. docs/scale-out.md
//!   says it all in order.
//!
//! Budgets hold across instances: a publish is charged to its sender, as on one server, for
//! every subscriber it reaches, here and elsewhere: as last counted for a topic with
//! subscribers here; otherwise (a client publishing where nobody here listens, which y-webrtc
//! clients do not do) counted in Redis for that publish, its sender not read from meanwhile
//! ([`Reached`]). What arrives from elsewhere goes into each receiver's bounded queue like a
//! local publish. Publishes wait
//! for Redis in a queue of at most [`QUEUE_LIMIT`] bytes; past it, clients are read from only
//! as it drains.
//!
//! Losing Redis: the instance goes on serving its own clients (publishes reach this
//! instance's subscribers, `clients` counts them alone), logs it once (then every 30 s, then
//! when it is back), tries again with backoff, and says everything again once back
//! (`outage.rs`, `link.rs`). [`RedisFanout::redis_signaling_state`] tells how it stands.

mod link;
mod outage;
mod wire;

use crate::store::redis::redact;
use commonplace_protocol::hub::{Forward, TopicChange};
use link::{Command, Link};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError, Weak};
use std::time::{Duration, Instant};
use tokio::sync::{mpsc, oneshot, Notify};
use tokio::time::timeout;
use wire::InstanceId;

/// Bytes of publishes waiting to go to Redis before clients are read from only as they go.
pub const QUEUE_LIMIT: usize = 16 * 1024 * 1024;
/// How long a client that is the first here to subscribe to a topic waits (its next frame not
/// read) for the subscription to be in place in Redis, so that whatever answers its next
/// publish reaches it. Redis answers in well under a millisecond; the wait ends at once when
/// the link is down.
const JOIN_PATIENCE: Duration = Duration::from_secs(2);
/// How long the server, as it stops, waits for the link to say goodbye to Redis.
const LEAVE_PATIENCE: Duration = Duration::from_secs(2);

/// Signaling across instances through the Redis at a URL: what [`crate::Options::fanout`] holds.
/// Clones share one state.
#[derive(Clone)]
pub struct RedisFanout {
    client: ::redis::Client,
    /// The URL, its password hidden.
    url: String,
    instance: InstanceId,
    state: Arc<Mutex<FanoutState>>,
}

/// How signaling across instances stands (for a health check or metrics).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FanoutState {
    /// Not yet connected since the server started.
    Connecting,
    /// Publishes reach the subscribers on every instance.
    Connected,
    /// Redis has been out of reach since then: publishes reach this instance's own clients
    /// only, and the link tries again with backoff.
    Lost { since: Instant },
}

impl RedisFanout {
    /// For the Redis at `url`; connects once the server runs, and again whenever it must.
    pub fn new(url: &str) -> Result<RedisFanout, String> {
        let shown = redact(url);
        let client = ::redis::Client::open(url)
            .map_err(|e| format!("--redis {shown} is not a Redis URL this server can use ({e})"))?;
        Ok(RedisFanout {
            client,
            url: shown,
            instance: InstanceId::random(),
            state: Arc::new(Mutex::new(FanoutState::Connecting)),
        })
    }

    /// This instance's id in Redis (new at each start).
    pub fn instance(&self) -> &str {
        self.instance.as_str()
    }

    /// How signaling across instances stands now.
    pub fn redis_signaling_state(&self) -> FanoutState {
        *self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// What the link needs of this instance's signaling: the hub, behind `signal.rs`.
pub trait Local: Send + Sync + 'static {
    /// A publish from another instance (its hub's `Forward::frame`), for the subscribers here.
    fn deliver(&self, frame: &str);
    /// Subscribers on the other instances, per topic.
    fn set_elsewhere(&self, counts: Vec<(String, usize)>);
    /// The other instances are out of reach: count nobody there.
    fn clear_elsewhere(&self);
}

/// The running link, as the connections' tasks see it.
pub struct Fanout {
    commands: mpsc::UnboundedSender<Command>,
    queue: Arc<Queue>,
    config: RedisFanout,
}

impl Fanout {
    /// Starts the link (a task on the current runtime) for the hub behind `local`.
    pub fn start(config: RedisFanout, local: Weak<dyn Local>) -> Fanout {
        let (commands, received) = mpsc::unbounded_channel();
        let queue = Arc::new(Queue::default());
        let link = Link::new(config.clone(), local, received, queue.clone());
        tokio::spawn(link.run());
        Fanout {
            commands,
            queue,
            config,
        }
    }

    pub fn redis_signaling_state(&self) -> FanoutState {
        self.config.redis_signaling_state()
    }

    /// The hub's topics changed (`Hub::take_changes`); call with the hub's lock held, so that
    /// changes and publishes reach the link in the hub's order. A [`Joined`] if a topic got its
    /// first subscriber here.
    pub fn changed(&self, changes: Vec<TopicChange>) -> Option<Joined> {
        if changes.is_empty() {
            return None;
        }
        let (done, joined) = oneshot::channel();
        let mut done = Some(done);
        for command in Command::from_changes(changes, &mut done) {
            let _ = self.commands.send(command);
        }
        // Still here: no topic got its first subscriber.
        done.is_none().then_some(Joined(joined))
    }

    /// A publish from a client here, for the other instances (with the hub's lock held).
    /// `counted`: whether [`Forward::elsewhere`] is known, which it is for topics with
    /// subscribers here; if not, a [`Reached`] tells what it reached once Redis has said.
    pub fn forward(&self, forward: Forward, counted: bool) -> Option<Reached> {
        let len = forward.frame.len();
        let (count, reached) = if counted {
            (None, None)
        } else {
            let (count, reached) = oneshot::channel();
            (Some(count), Some(Reached { len, reached }))
        };
        self.queue.add(len);
        let sent = self.commands.send(Command::Publish {
            topic: forward.topic,
            frame: forward.frame,
            count,
        });
        if sent.is_err() {
            self.queue.release(len);
        }
        reached
    }

    /// Waits until the queue toward Redis has room.
    pub async fn room(&self) {
        self.queue.room().await;
    }

    /// The server is stopping, its connections closed: unregisters from Redis (briefly).
    pub async fn leave(&self) {
        let (done, left) = oneshot::channel();
        if self.commands.send(Command::Shutdown(done)).is_ok() {
            let _ = timeout(LEAVE_PATIENCE, left).await;
        }
    }
}

/// Answered once a client's new topics are subscribed in Redis (or the link is down).
pub struct Joined(oneshot::Receiver<()>);

impl Joined {
    pub async fn wait(self) {
        let _ = timeout(JOIN_PATIENCE, self.0).await;
    }
}

/// What a publish to a topic without subscribers here reached on the other instances.
pub struct Reached {
    len: usize,
    reached: oneshot::Receiver<usize>,
}

impl Reached {
    /// The bytes the other instances wrote for it: its length for each subscriber there. 0 if
    /// the link is down (it went nowhere) or Redis does not say in time.
    pub async fn bytes(self) -> usize {
        match timeout(JOIN_PATIENCE, self.reached).await {
            Ok(Ok(subscribers)) => self.len.saturating_mul(subscribers),
            _ => 0,
        }
    }
}

/// Bytes of publishes on their way to Redis.
#[derive(Default)]
pub struct Queue {
    bytes: AtomicUsize,
    drained: Notify,
}

impl Queue {
    fn add(&self, bytes: usize) {
        self.bytes.fetch_add(bytes, Ordering::AcqRel);
    }

    fn release(&self, bytes: usize) {
        if bytes == 0 {
            return;
        }
        let _ = self
            .bytes
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |queued| {
                Some(queued.saturating_sub(bytes))
            });
        self.drained.notify_waiters();
    }

    async fn room(&self) {
        loop {
            // Made before the check, so a release in between is not missed.
            let drained = self.drained.notified();
            if self.bytes.load(Ordering::Acquire) < QUEUE_LIMIT {
                return;
            }
            drained.await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn change(topic: &str, before: usize, now: usize) -> TopicChange {
        TopicChange {
            topic: topic.into(),
            before,
            now,
        }
    }

    #[test]
    fn only_a_first_subscriber_here_waits_and_unchanged_counts_are_not_sent() {
        let (done, _) = oneshot::channel();
        let mut done = Some(done);
        let commands = Command::from_changes(
            vec![
                change("a", 0, 1),
                change("b", 1, 1),
                change("c", 0, 2),
                change("d", 3, 2),
            ],
            &mut done,
        );
        assert!(done.is_none(), "taken by a join");
        let sent: Vec<(String, usize, bool)> = commands
            .into_iter()
            .map(|command| match command {
                Command::Count {
                    topic,
                    count,
                    joined,
                    ..
                } => (topic, count, joined.is_some()),
                _ => panic!("only counts"),
            })
            .collect();
        assert_eq!(
            sent,
            [
                ("a".into(), 1, false),
                ("c".into(), 2, true),
                ("d".into(), 2, false)
            ]
        );
        let (done, _) = oneshot::channel();
        let mut done = Some(done);
        Command::from_changes(vec![change("a", 1, 2), change("b", 1, 0)], &mut done);
        assert!(done.is_some(), "nobody joined");
    }

    #[tokio::test]
    async fn the_queue_makes_readers_wait_until_it_drains() {
        let queue = Arc::new(Queue::default());
        queue.add(QUEUE_LIMIT - 1);
        queue.room().await;
        queue.add(1);
        let waiting = tokio::spawn({
            let queue = queue.clone();
            async move { queue.room().await }
        });
        tokio::time::sleep(Duration::from_millis(20)).await;
        assert!(!waiting.is_finished());
        queue.release(10);
        timeout(Duration::from_secs(5), waiting)
            .await
            .expect("room after a release")
            .unwrap();
    }
}
