//! The link to Redis: one task per server that keeps this instance's topics subscribed, its
//! counts written, and carries publishes both ways.
//!
//! It owns two connections, made and lost together: a pub/sub connection (`redis::aio::PubSub`,
//! RESP2: a connection that has subscribed can do nothing else) for the topics' channels and
//! this instance's beacon, and a multiplexed one for everything else (`PUBLISH`, the counts, the
//! scripts). Neither reconnects by itself: when either fails, or a request gets no answer
//! within [`OP_TIMEOUT`], both are dropped, and after a backoff (`outage.rs`) both are made
//! anew and everything is said again (`resync`): the beacon, every topic with subscribers here,
//! this instance's counts, and everyone else's read back.
//!
//! Commands come from the connections' tasks in the order the hub made them (`Command`), and
//! are handled in batches: a batch's new subscriptions are confirmed by Redis before its
//! publishes and count changes go out in one pipeline (so a client's publishes keep their order,
//! and leave after its subscription), and only then is a client waiting for its subscription
//! told it is done.

use super::outage::Outage;
use super::wire::{self, InstanceId, Message, TopicName};
use super::{FanoutState, Local, Queue, RedisFanout};
use ::redis::aio::{MultiplexedConnection, PubSubSink, PubSubStream};
use ::redis::{AsyncConnectionConfig, Msg, Script};
use commonplace_protocol::hub::TopicChange;
use futures_util::{FutureExt, StreamExt};
use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::future::Future;
use std::sync::{Arc, LazyLock, PoisonError, Weak};
use std::time::Duration;
use tokio::sync::{mpsc, oneshot};
use tokio::time::{interval_at, sleep, timeout, Instant, MissedTickBehavior};
use tracing::debug;

/// Each attempt to connect gives up after this.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(2);
/// A request to Redis not answered by then counts as the link lost. Signaling messages are at
/// most 256 KiB: far less than the store's 64 MiB snapshots.
pub const OP_TIMEOUT: Duration = Duration::from_secs(3);
/// How often the link checks that both connections answer, and which instances are there.
pub const HEARTBEAT: Duration = Duration::from_secs(2);
/// Commands handled together at most...
const BATCH: usize = 1024;
/// ...and bytes of publishes in one pipeline at most (one more publish may take it past).
const BATCH_BYTES: usize = 1024 * 1024;
/// Channels per `SUBSCRIBE`, topics per script call.
const CHUNK: usize = 512;
/// Messages from Redis handled before the link looks at its commands again.
const INBOUND_BATCH: usize = 1024;

static COUNTS: LazyLock<Script> = LazyLock::new(|| Script::new(include_str!("counts.lua")));
static HEARTBEAT_SCRIPT: LazyLock<Script> =
    LazyLock::new(|| Script::new(include_str!("heartbeat.lua")));

pub enum Command {
    /// `topic` has `count` subscribers here now. `fresh`: it had none before, so the hub has
    /// forgotten its count elsewhere. `joined`: answered (or dropped) once it is subscribed, or
    /// the link is down.
    Count {
        topic: String,
        count: usize,
        fresh: bool,
        joined: Option<oneshot::Sender<()>>,
    },
    /// A publish from a client here, for the other instances. `count`: answered with how many
    /// subscribers it reached there (for a topic without subscribers here, whose count elsewhere
    /// the hub does not keep).
    Publish {
        topic: String,
        frame: Arc<str>,
        count: Option<oneshot::Sender<usize>>,
    },
    /// The server is stopping: say so to Redis, then answer.
    Shutdown(oneshot::Sender<()>),
}

impl Command {
    /// The bytes it holds in the queue toward Redis.
    fn bytes(&self) -> usize {
        match self {
            Command::Publish { frame, .. } => frame.len(),
            _ => 0,
        }
    }

    /// A command for each topic whose count changed; the last join carries `joined`.
    pub fn from_changes(
        changes: Vec<TopicChange>,
        joined: &mut Option<oneshot::Sender<()>>,
    ) -> Vec<Command> {
        let last_join = changes
            .iter()
            .rposition(|change| change.before == 0 && change.now > 0);
        changes
            .into_iter()
            .enumerate()
            .filter(|(_, change)| change.before != change.now)
            .map(|(i, change)| Command::Count {
                topic: change.topic,
                count: change.now,
                fresh: change.before == 0,
                joined: if Some(i) == last_join {
                    joined.take()
                } else {
                    None
                },
            })
            .collect()
    }
}

/// A topic with subscribers here.
struct Topic {
    name: TopicName,
    count: usize,
}

/// The topics with subscribers here and which of their channels Redis has confirmed: what the
/// link keeps true in Redis. Free of I/O: [`Topics::plan`] says what a batch of commands asks.
#[derive(Default)]
struct Topics {
    /// Every topic with subscribers here, up or down.
    counts: HashMap<String, Topic>,
    /// While up: the topics' channels Redis has confirmed, and their topics.
    subscribed: HashMap<String, String>,
}

/// What a batch of commands asks of Redis, in this order.
#[derive(Default)]
struct Plan {
    /// Channels to subscribe to (first, so that publishes and counts follow a subscription),
    /// with their topics...
    subscribe: Vec<(String, String)>,
    /// ...and to unsubscribe from.
    unsubscribe: Vec<String>,
    /// Publishes, in the order they came: channel, frame.
    publishes: Vec<(String, Arc<str>)>,
    /// This instance's counts that changed (0: gone), each told on the topic's channel.
    counts: Vec<(TopicName, usize)>,
    /// Topics whose counts elsewhere the hub needs: it has just got a first subscriber to them
    /// again (new here, or gone and back within the batch: still subscribed in Redis, but the
    /// hub forgot their count elsewhere when they emptied).
    refresh: Vec<String>,
    /// To answer once all that is done.
    joined: Vec<oneshot::Sender<()>>,
    /// Publishes to topics without subscribers here, to be answered their count elsewhere.
    probes: Vec<(String, Option<oneshot::Sender<usize>>)>,
    shutdown: Option<oneshot::Sender<()>>,
}

impl Topics {
    fn name(&self, topic: &str) -> TopicName {
        match self.counts.get(topic) {
            Some(known) => known.name.clone(),
            None => TopicName::of(topic),
        }
    }

    /// Records `topic`'s count here; true if it changed.
    fn set_count(&mut self, topic: &str, count: usize) -> bool {
        match (self.counts.get_mut(topic), count) {
            (None, 0) => false,
            (None, _) => {
                self.counts.insert(
                    topic.to_owned(),
                    Topic {
                        name: TopicName::of(topic),
                        count,
                    },
                );
                true
            }
            (Some(_), 0) => {
                self.counts.remove(topic);
                true
            }
            (Some(known), _) => std::mem::replace(&mut known.count, count) != count,
        }
    }

    /// Takes in `batch` (the counts are recorded at once; `subscribed` once Redis confirms) and
    /// says what to ask of Redis. Commands after a shutdown are dropped.
    fn plan(&mut self, batch: Vec<Command>) -> Plan {
        let mut plan = Plan::default();
        let mut changed = BTreeMap::new();
        let mut fresh = BTreeSet::new();
        for command in batch {
            match command {
                Command::Count {
                    topic,
                    count,
                    fresh: first,
                    joined,
                } => {
                    if first {
                        fresh.insert(topic.clone());
                    }
                    let before = self.counts.get(&topic).map_or(0, |known| known.count);
                    if self.set_count(&topic, count) {
                        changed.entry(topic).or_insert((before, count)).1 = count;
                    }
                    plan.joined.extend(joined);
                }
                Command::Publish {
                    topic,
                    frame,
                    count,
                } => {
                    let name = self.name(&topic);
                    plan.publishes.push((name.channel, frame));
                    if let Some(count) = count {
                        plan.probes.push((name.field, Some(count)));
                    }
                }
                Command::Shutdown(done) => {
                    plan.shutdown = Some(done);
                    break;
                }
            }
        }
        for (topic, (before, count)) in changed {
            if before == count {
                // Back where it began: Redis has it as it is.
                continue;
            }
            let name = self.name(&topic);
            match (count > 0, self.subscribed.contains_key(&name.channel)) {
                (true, false) => plan.subscribe.push((name.channel.clone(), topic)),
                (false, true) => plan.unsubscribe.push(name.channel.clone()),
                _ => {}
            }
            plan.counts.push((name, count));
        }
        plan.refresh = fresh
            .into_iter()
            .filter(|topic| self.counts.contains_key(topic))
            .collect();
        plan
    }
}

/// The two connections, while the link is up.
struct Session {
    sink: PubSubSink,
    stream: PubSubStream,
    conn: MultiplexedConnection,
}

/// Why serving a session ended.
enum Stop {
    Lost(String),
    /// The server is stopping; answer this once done (`None`: nobody waits).
    Shutdown(Option<oneshot::Sender<()>>),
}

pub struct Link {
    config: RedisFanout,
    me: InstanceId,
    local: Weak<dyn Local>,
    commands: mpsc::UnboundedReceiver<Command>,
    queue: Arc<Queue>,
    topics: Topics,
    /// The instances there at the last heartbeat.
    alive: HashSet<String>,
    outage: Outage,
}

impl Link {
    pub fn new(
        config: RedisFanout,
        local: Weak<dyn Local>,
        commands: mpsc::UnboundedReceiver<Command>,
        queue: Arc<Queue>,
    ) -> Link {
        Link {
            me: config.instance.clone(),
            outage: Outage::new(config.url.clone(), config.instance.to_string()),
            config,
            local,
            commands,
            queue,
            topics: Topics::default(),
            alive: HashSet::new(),
        }
    }

    pub async fn run(mut self) {
        loop {
            let stop = match self.connect().await {
                Ok(session) => self.serve(session).await,
                Err(why) => Stop::Lost(why),
            };
            let why = match stop {
                Stop::Shutdown(done) => {
                    if let Some(done) = done {
                        let _ = done.send(());
                    }
                    return;
                }
                Stop::Lost(why) => why,
            };
            self.down();
            let wait = self.outage.failed(&why, Instant::now());
            self.set_state(FanoutState::Lost {
                since: self.outage.since().unwrap_or_else(Instant::now).into_std(),
            });
            if let Some(done) = self.wait_down(wait).await {
                if let Some(done) = done {
                    let _ = done.send(());
                }
                return;
            }
        }
    }

    fn set_state(&self, state: FanoutState) {
        *self
            .config
            .state
            .lock()
            .unwrap_or_else(PoisonError::into_inner) = state;
    }

    /// The link is down: nothing is subscribed, and the other instances count for nothing.
    fn down(&mut self) {
        self.topics.subscribed.clear();
        self.alive.clear();
        if let Some(local) = self.local.upgrade() {
            local.clear_elsewhere();
        }
    }

    /// Waits `wait` before the next try, keeping track of the topics meanwhile. `Some` if the
    /// server is stopping.
    async fn wait_down(&mut self, wait: Duration) -> Option<Option<oneshot::Sender<()>>> {
        let until = sleep(wait);
        tokio::pin!(until);
        loop {
            let command = tokio::select! {
                () = &mut until => return None,
                command = self.commands.recv() => command,
            };
            match command {
                None => return Some(None),
                Some(Command::Shutdown(done)) => return Some(Some(done)),
                Some(Command::Count {
                    topic,
                    count,
                    joined,
                    ..
                }) => {
                    self.topics.set_count(&topic, count);
                    drop(joined);
                }
                Some(Command::Publish { frame, .. }) => {
                    self.queue.release(frame.len());
                    self.outage.skipped();
                }
            }
        }
    }

    async fn connect(&mut self) -> Result<Session, String> {
        let client = &self.config.client;
        let pubsub = within(CONNECT_TIMEOUT, client.get_async_pubsub()).await?;
        let config = AsyncConnectionConfig::new()
            .set_connection_timeout(Some(CONNECT_TIMEOUT))
            .set_response_timeout(Some(OP_TIMEOUT));
        let conn = within(
            CONNECT_TIMEOUT,
            client.get_multiplexed_async_connection_with_config(&config),
        )
        .await?;
        let (sink, stream) = pubsub.split();
        let mut session = Session { sink, stream, conn };
        self.resync(&mut session).await?;
        Ok(session)
    }

    /// Says everything again on new connections: the beacon first (so that no heartbeat
    /// takes this instance for gone while it writes its counts), every topic, the counts
    /// (Redis may have lost them, kept old ones, or had them removed while this instance was
    /// out of reach), a count message on every topic (so the others read them), then the
    /// others' counts.
    async fn resync(&mut self, session: &mut Session) -> Result<(), String> {
        within(OP_TIMEOUT, session.sink.subscribe(self.me.beacon())).await?;
        let channels: Vec<(String, String)> = self
            .topics
            .counts
            .iter()
            .map(|(topic, known)| (known.name.channel.clone(), topic.clone()))
            .collect();
        for chunk in channels.chunks(CHUNK) {
            let names: Vec<&str> = chunk.iter().map(|(channel, _)| channel.as_str()).collect();
            within(OP_TIMEOUT, session.sink.subscribe(&names)).await?;
        }
        self.topics.subscribed = channels.into_iter().collect();
        let key = self.me.counts_key();
        let mut pipe = ::redis::pipe();
        pipe.atomic().cmd("DEL").arg(&key).ignore();
        let topics: Vec<&Topic> = self.topics.counts.values().collect();
        for chunk in topics.chunks(CHUNK) {
            let mut hset = ::redis::cmd("HSET");
            hset.arg(&key);
            for topic in chunk {
                hset.arg(&topic.name.field).arg(topic.count);
            }
            pipe.add_command(hset).ignore();
        }
        pipe.cmd("SADD")
            .arg(wire::INSTANCES)
            .arg(self.me.as_str())
            .ignore();
        for topic in &topics {
            pipe.cmd("PUBLISH")
                .arg(&topic.name.channel)
                .arg(wire::count(&self.me))
                .ignore();
        }
        within(OP_TIMEOUT, pipe.query_async::<()>(&mut session.conn)).await?;
        self.heartbeat(session).await?;
        let all: Vec<String> = self.topics.counts.keys().cloned().collect();
        self.refresh(session, all).await?;
        self.outage.up(self.topics.counts.len(), Instant::now());
        self.set_state(FanoutState::Connected);
        Ok(())
    }

    async fn serve(&mut self, mut session: Session) -> Stop {
        let mut heartbeat = interval_at(Instant::now() + HEARTBEAT, HEARTBEAT);
        heartbeat.set_missed_tick_behavior(MissedTickBehavior::Delay);
        let mut stale = BTreeSet::new();
        loop {
            let step = tokio::select! {
                command = self.commands.recv() => match command {
                    Some(command) => self.apply(&mut session, command).await,
                    None => Ok(Some(None)),
                },
                message = session.stream.next() => match message {
                    Some(message) => {
                        self.inbound(&message, &mut stale);
                        Ok(None)
                    }
                    None => Err("the connection was closed".to_string()),
                },
                _ = heartbeat.tick() => self.heartbeat(&mut session).await.map(|()| None),
            };
            match step {
                Err(why) => return Stop::Lost(why),
                Ok(Some(done)) => {
                    self.leave(&mut session).await;
                    return Stop::Shutdown(done);
                }
                Ok(None) => {}
            }
            // What already came: handle it before asking Redis for counts.
            for _ in 0..INBOUND_BATCH {
                match session.stream.next().now_or_never() {
                    Some(Some(message)) => self.inbound(&message, &mut stale),
                    Some(None) => return Stop::Lost("the connection was closed".into()),
                    None => break,
                }
            }
            if !stale.is_empty() {
                let topics = std::mem::take(&mut stale).into_iter().collect();
                if let Err(why) = self.refresh(&mut session, topics).await {
                    return Stop::Lost(why);
                }
            }
        }
    }

    /// A message from Redis.
    fn inbound(&mut self, message: &Msg, stale: &mut BTreeSet<String>) {
        // A topic no longer subscribed (its last subscriber here left meanwhile), or the beacon.
        let Some(topic) = self.topics.subscribed.get(message.get_channel_name()) else {
            return;
        };
        match wire::parse(message.get_payload_bytes()) {
            Some((from, _)) if from == self.me.as_str() => {}
            Some((_, Message::Publish(frame))) => {
                if let Some(local) = self.local.upgrade() {
                    local.deliver(frame);
                }
            }
            Some((_, Message::Count)) => {
                stale.insert(topic.clone());
            }
            None => debug!(
                len = message.get_payload_bytes().len(),
                "signaling: a message on a topic's channel that is not one of ours, ignored"
            ),
        }
    }

    /// Handles `first` and the commands waiting behind it. `Ok(Some(_))`: the server is
    /// stopping.
    async fn apply(
        &mut self,
        session: &mut Session,
        first: Command,
    ) -> Result<Option<Option<oneshot::Sender<()>>>, String> {
        let mut batch = vec![first];
        let mut bytes = batch[0].bytes();
        while batch.len() < BATCH && bytes < BATCH_BYTES {
            match self.commands.try_recv() {
                Ok(command) => {
                    bytes += command.bytes();
                    batch.push(command);
                }
                Err(_) => break,
            }
        }
        // The queue's bytes are released however this ends: sent, or the link lost.
        let _release = Release(self.queue.clone(), bytes);
        let plan = self.topics.plan(batch);

        for chunk in plan.subscribe.chunks(CHUNK) {
            let names: Vec<&str> = chunk.iter().map(|(channel, _)| channel.as_str()).collect();
            within(OP_TIMEOUT, session.sink.subscribe(&names)).await?;
            self.topics.subscribed.extend(chunk.iter().cloned());
        }
        for chunk in plan.unsubscribe.chunks(CHUNK) {
            within(OP_TIMEOUT, session.sink.unsubscribe(chunk)).await?;
            for channel in chunk {
                self.topics.subscribed.remove(channel);
            }
        }
        // The publishes in order, then this instance's counts, each with a word on the topic's
        // channel so that the others read them again: one pipeline.
        let mut pipe = ::redis::pipe();
        for (channel, frame) in &plan.publishes {
            pipe.cmd("PUBLISH")
                .arg(channel)
                .arg(wire::publish(&self.me, frame))
                .ignore();
        }
        let key = self.me.counts_key();
        for (name, count) in &plan.counts {
            if *count > 0 {
                pipe.cmd("HSET")
                    .arg(&key)
                    .arg(&name.field)
                    .arg(count)
                    .ignore();
            } else {
                pipe.cmd("HDEL").arg(&key).arg(&name.field).ignore();
            }
            pipe.cmd("PUBLISH")
                .arg(&name.channel)
                .arg(wire::count(&self.me))
                .ignore();
        }
        if !pipe.is_empty() {
            within(OP_TIMEOUT, pipe.query_async::<()>(&mut session.conn)).await?;
        }
        if !plan.refresh.is_empty() {
            self.refresh(session, plan.refresh).await?;
        }
        for join in plan.joined {
            let _ = join.send(());
        }
        let mut probes = plan.probes;
        for chunk in probes.chunks_mut(CHUNK) {
            let fields = chunk.iter().map(|(field, _)| field.as_str());
            let sums = self.sums(session, fields).await?;
            for ((_, reply), sum) in chunk.iter_mut().zip(sums) {
                if let Some(reply) = reply.take() {
                    let _ = reply.send(sum);
                }
            }
        }
        Ok(plan.shutdown.map(Some))
    }

    /// Reads the other instances' counts of `topics` (those still with subscribers here) and
    /// hands them to the hub.
    async fn refresh(&self, session: &mut Session, topics: Vec<String>) -> Result<(), String> {
        let topics: Vec<(String, &Topic)> = topics
            .into_iter()
            .filter_map(|topic| {
                let known = self.topics.counts.get(&topic)?;
                Some((topic, known))
            })
            .collect();
        let mut counts = Vec::with_capacity(topics.len());
        for chunk in topics.chunks(CHUNK) {
            let fields = chunk.iter().map(|(_, known)| known.name.field.as_str());
            let sums = self.sums(session, fields).await?;
            counts.extend(chunk.iter().map(|(topic, _)| topic.clone()).zip(sums));
        }
        if let Some(local) = self.local.upgrade() {
            local.set_elsewhere(counts);
        }
        Ok(())
    }

    /// The subscribers on the other instances to each topic (by field), in order.
    async fn sums(
        &self,
        session: &mut Session,
        fields: impl ExactSizeIterator<Item = &str>,
    ) -> Result<Vec<usize>, String> {
        let asked = fields.len();
        let mut call = COUNTS.prepare_invoke();
        call.key(wire::INSTANCES)
            .arg(self.me.as_str())
            .arg(wire::COUNTS)
            .arg(wire::BEACON);
        for field in fields {
            call.arg(field);
        }
        let sums: Vec<usize> = within(OP_TIMEOUT, call.invoke_async(&mut session.conn)).await?;
        if sums.len() != asked {
            return Err(format!(
                "the counts script answered {} sums for {asked} topics",
                sums.len()
            ));
        }
        Ok(sums)
    }

    /// Checks both connections, registers this instance, and reads again every topic's
    /// counts if an instance went away since the last time (its subscribers count no more).
    async fn heartbeat(&mut self, session: &mut Session) -> Result<(), String> {
        within(OP_TIMEOUT, session.sink.ping::<::redis::Value>()).await?;
        let mut call = HEARTBEAT_SCRIPT.prepare_invoke();
        call.key(wire::INSTANCES)
            .arg(self.me.as_str())
            .arg(wire::COUNTS)
            .arg(wire::BEACON);
        let alive: Vec<String> = within(OP_TIMEOUT, call.invoke_async(&mut session.conn)).await?;
        let alive: HashSet<String> = alive.into_iter().collect();
        let gone = self.alive.iter().filter(|id| !alive.contains(*id)).count();
        self.alive = alive;
        if gone > 0 {
            debug!(gone, "signaling: instances gone; reading the counts again");
            let all = self.topics.counts.keys().cloned().collect();
            self.refresh(session, all).await?;
        }
        Ok(())
    }

    /// The server is stopping (its connections are closed, and their counts sent): this
    /// instance's counts and registration go, so the others stop counting them at once.
    async fn leave(&mut self, session: &mut Session) {
        let mut pipe = ::redis::pipe();
        pipe.cmd("DEL").arg(self.me.counts_key()).ignore();
        pipe.cmd("SREM")
            .arg(wire::INSTANCES)
            .arg(self.me.as_str())
            .ignore();
        if let Err(why) = within(OP_TIMEOUT, pipe.query_async::<()>(&mut session.conn)).await {
            debug!("signaling: could not unregister from Redis as the server stops: {why}");
        }
    }
}

/// Gives bytes back to the queue when dropped.
struct Release(Arc<Queue>, usize);

impl Drop for Release {
    fn drop(&mut self) {
        self.0.release(self.1);
    }
}

/// `request`'s answer, or why there is none within `limit`.
async fn within<T>(
    limit: Duration,
    request: impl Future<Output = ::redis::RedisResult<T>>,
) -> Result<T, String> {
    match timeout(limit, request).await {
        Ok(Ok(value)) => Ok(value),
        Ok(Err(e)) => Err(e.to_string()),
        Err(_) => Err(format!("no answer within {} s", limit.as_secs())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn count(topic: &str, count: usize, fresh: bool) -> Command {
        Command::Count {
            topic: topic.into(),
            count,
            fresh,
            joined: None,
        }
    }

    fn publish(topic: &str, frame: &str, probe: bool) -> Command {
        Command::Publish {
            topic: topic.into(),
            frame: frame.into(),
            count: probe.then(|| oneshot::channel().0),
        }
    }

    fn channel(topic: &str) -> String {
        TopicName::of(topic).channel
    }

    /// What a plan asks: topics to subscribe to, channels to unsubscribe from, counts to
    /// write by channel, topics to read the others' counts of.
    type Asks = (Vec<String>, Vec<String>, Vec<(String, usize)>, Vec<String>);

    fn asks(plan: &Plan) -> Asks {
        (
            plan.subscribe
                .iter()
                .map(|(_, topic)| topic.clone())
                .collect(),
            plan.unsubscribe.clone(),
            plan.counts
                .iter()
                .map(|(name, count)| (name.channel.clone(), *count))
                .collect(),
            plan.refresh.clone(),
        )
    }

    /// As the link does once Redis has confirmed.
    fn confirm(topics: &mut Topics, plan: &Plan) {
        topics.subscribed.extend(plan.subscribe.iter().cloned());
        for channel in &plan.unsubscribe {
            topics.subscribed.remove(channel);
        }
    }

    #[test]
    fn a_first_subscriber_subscribes_writes_the_count_and_reads_the_others() {
        let mut topics = Topics::default();
        let (done, _) = oneshot::channel();
        let plan = topics.plan(vec![Command::Count {
            topic: "room".into(),
            count: 1,
            fresh: true,
            joined: Some(done),
        }]);
        assert_eq!(
            asks(&plan),
            (
                vec!["room".into()],
                vec![],
                vec![(channel("room"), 1)],
                vec!["room".into()]
            )
        );
        assert_eq!(plan.joined.len(), 1);
        confirm(&mut topics, &plan);
        // More subscribers: only the count.
        let plan = topics.plan(vec![count("room", 2, false), count("room", 3, false)]);
        assert_eq!(
            asks(&plan),
            (vec![], vec![], vec![(channel("room"), 3)], vec![])
        );
        // The last leaves: unsubscribed, its count removed.
        let plan = topics.plan(vec![count("room", 0, false)]);
        assert_eq!(
            asks(&plan),
            (
                vec![],
                vec![channel("room")],
                vec![(channel("room"), 0)],
                vec![]
            )
        );
        confirm(&mut topics, &plan);
        assert!(topics.counts.is_empty() && topics.subscribed.is_empty());
    }

    #[test]
    fn gone_and_back_within_a_batch_stays_subscribed_and_reads_the_others_again() {
        let mut topics = Topics::default();
        let plan = topics.plan(vec![count("room", 1, true)]);
        confirm(&mut topics, &plan);
        let plan = topics.plan(vec![count("room", 0, false), count("room", 1, true)]);
        assert_eq!(
            asks(&plan),
            (vec![], vec![], vec![], vec!["room".into()]),
            "the hub forgot the count elsewhere when the topic emptied"
        );
        // In and out within a batch: never subscribed, nothing to write or read.
        let plan = topics.plan(vec![count("brief", 1, true), count("brief", 0, false)]);
        assert_eq!(asks(&plan), (vec![], vec![], vec![], vec![]));
        // A count that ends where it began is not written.
        let plan = topics.plan(vec![count("room", 2, false), count("room", 1, false)]);
        assert_eq!(asks(&plan), (vec![], vec![], vec![], vec![]));
    }

    #[test]
    fn publishes_keep_their_order_and_a_shutdown_ends_the_batch() {
        let mut topics = Topics::default();
        let (done, _) = oneshot::channel();
        let plan = topics.plan(vec![
            count("room", 1, true),
            publish("room", "1", false),
            publish("elsewhere", "2", true),
            publish("room", "3", false),
            Command::Shutdown(done),
            publish("room", "after", false),
        ]);
        let published: Vec<(String, &str)> = plan
            .publishes
            .iter()
            .map(|(channel, frame)| (channel.clone(), &**frame))
            .collect();
        assert_eq!(
            published,
            [
                (channel("room"), "1"),
                (channel("elsewhere"), "2"),
                (channel("room"), "3")
            ]
        );
        assert_eq!(plan.probes.len(), 1);
        assert_eq!(plan.probes[0].0, TopicName::of("elsewhere").field);
        assert!(plan.shutdown.is_some());
    }
}
