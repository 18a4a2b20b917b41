//! The clients: WebSockets speaking y-webrtc's signaling to one server (or two), as its peers
//! do: subscribe to a topic, publish to it, answer the server's pings. Every wait is bounded.

use futures_util::{SinkExt, StreamExt};
use serde::Deserialize;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpStream;
use tokio::sync::{watch, Notify, Semaphore};
use tokio::time::{sleep, sleep_until, timeout, Instant};
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::WebSocketStream;

type Ws = WebSocketStream<TcpStream>;

/// Handshakes in flight at once (below the servers' accept backlogs).
const CONNECTING: usize = 128;
/// How long one connection, subscribe or answer may take.
const WAIT: Duration = Duration::from_secs(20);

/// Where clients connect: one server, or two sharing topics (clients alternate between them).
#[derive(Clone)]
pub struct Target {
    pub addrs: Vec<SocketAddr>,
    /// `/signal` for ours; y-webrtc's server upgrades any path.
    pub path: &'static str,
}

async fn connect(addr: SocketAddr, path: &str) -> Result<Ws, String> {
    let stream = TcpStream::connect(addr).await.map_err(|e| e.to_string())?;
    stream.set_nodelay(true).map_err(|e| e.to_string())?;
    // A small read buffer: 10,000 clients of tungstenite's default 128 KiB would hold 1.3 GB.
    let config = WebSocketConfig::default()
        .read_buffer_size(4096)
        .write_buffer_size(0);
    let url = format!("ws://{addr}{path}");
    let (ws, _) = tokio_tungstenite::client_async_with_config(url, stream, Some(config))
        .await
        .map_err(|e| e.to_string())?;
    Ok(ws)
}

async fn send(ws: &mut Ws, text: String) -> Result<(), String> {
    ws.send(Message::text(text))
        .await
        .map_err(|e| e.to_string())
}

/// Connects, subscribes to `topic`, and pings and waits for the pong: once it has come back,
/// the server has handled the subscribe (one connection's frames are handled in order; with
/// Redis, ours reads the next frame once Redis has the subscription).
async fn join(addr: SocketAddr, path: &str, topic: &str, pings: &AtomicU64) -> Result<Ws, String> {
    let mut ws = timeout(WAIT, connect(addr, path))
        .await
        .map_err(|_| "connect timed out".to_owned())??;
    send(
        &mut ws,
        format!(r#"{{"type":"subscribe","topics":["{topic}"]}}"#),
    )
    .await?;
    ping_pong(&mut ws, pings).await?;
    Ok(ws)
}

/// A signaling `ping`, and its `pong` (WebSocket pings on the way counted, and answered).
async fn ping_pong(ws: &mut Ws, pings: &AtomicU64) -> Result<(), String> {
    send(ws, r#"{"type":"ping"}"#.to_owned()).await?;
    let answer = timeout(WAIT, async {
        loop {
            match ws.next().await {
                Some(Ok(Message::Text(text))) if text.as_str().contains(r#""pong""#) => {
                    return Ok(())
                }
                Some(Ok(Message::Ping(_))) => {
                    pings.fetch_add(1, Ordering::Relaxed);
                }
                Some(Ok(_)) => {}
                Some(Err(e)) => return Err(e.to_string()),
                None => return Err("closed".to_owned()),
            }
        }
    });
    answer.await.map_err(|_| "no pong in time".to_owned())?
}

pub struct Idle {
    pub wanted: usize,
    /// Connected and subscribed.
    pub joined: usize,
    /// Still answering a signaling ping after the hold.
    pub held: usize,
    /// WebSocket pings from the server, answered (tungstenite answers them as it reads).
    pub pings: u64,
    pub connect_secs: f64,
    pub rss_before_kib: u64,
    pub rss_after_kib: u64,
    pub first_error: Option<String>,
}

/// `n` idle clients, in topics of 4 (rooms of four peers), held for `hold`; the server's
/// settled memory before and after they joined.
pub async fn idle(target: &Target, n: usize, hold: Duration, pid: u32) -> Idle {
    let rss_before_kib = crate::procs::settled_rss_kib(pid).await;
    let started = Instant::now();
    let gate = Arc::new(Semaphore::new(CONNECTING));
    let pings = Arc::new(AtomicU64::new(0));
    let joined = Arc::new(AtomicUsize::new(0));
    let failed = Arc::new(AtomicUsize::new(0));
    let (check, checking) = watch::channel(false);
    let mut tasks = Vec::with_capacity(n);
    for i in 0..n {
        let (gate, pings, joined, failed) =
            (gate.clone(), pings.clone(), joined.clone(), failed.clone());
        let mut checking = checking.clone();
        let addr = target.addrs[i % target.addrs.len()];
        let path = target.path;
        tasks.push(tokio::spawn(async move {
            let permit = gate.acquire_owned().await.expect("open");
            let mut ws = match join(addr, path, &format!("idle-{}", i / 4), &pings).await {
                Ok(ws) => ws,
                Err(e) => {
                    failed.fetch_add(1, Ordering::Relaxed);
                    return Err(format!("joining: {e}"));
                }
            };
            drop(permit);
            joined.fetch_add(1, Ordering::Relaxed);
            // Idle: read (answering pings) until told to check.
            loop {
                tokio::select! {
                    message = ws.next() => match message {
                        Some(Ok(Message::Ping(_))) => {
                            pings.fetch_add(1, Ordering::Relaxed);
                        }
                        Some(Ok(_)) => {}
                        Some(Err(e)) => return Err(format!("while idle: {e}")),
                        None => return Err("closed while idle".into()),
                    },
                    _ = checking.wait_for(|&check| check) => break,
                }
            }
            ping_pong(&mut ws, &pings)
                .await
                .map_err(|e| format!("after the hold: {e}"))?;
            let _ = ws.close(None).await;
            Ok(())
        }));
    }
    let deadline = Instant::now() + WAIT + Duration::from_secs(n as u64 / 100);
    while joined.load(Ordering::Relaxed) + failed.load(Ordering::Relaxed) < n
        && Instant::now() < deadline
    {
        sleep(Duration::from_millis(50)).await;
    }
    let connect_secs = started.elapsed().as_secs_f64();
    let rss_after_kib = crate::procs::settled_rss_kib(pid).await;
    sleep(hold).await;
    check.send_replace(true);
    let mut held = 0;
    let mut first_error = None;
    for task in tasks {
        match task.await {
            Ok(Ok(())) => held += 1,
            Ok(Err(e)) => {
                first_error.get_or_insert(e);
            }
            Err(e) => {
                first_error.get_or_insert(e.to_string());
            }
        }
    }
    Idle {
        wanted: n,
        joined: joined.load(Ordering::Relaxed),
        held,
        pings: pings.load(Ordering::Relaxed),
        connect_secs,
        rss_before_kib,
        rss_after_kib,
        first_error,
    }
}

/// How publishers publish.
#[derive(Clone, Copy, Debug)]
pub enum Pace {
    /// Each topic's publishes per second, spread evenly over its subscribers, each a steady clock.
    Rate(f64),
    /// Saturating: each client publishes again as soon as its previous publish has reached every
    /// subscriber of its topic (one publish in flight per client: the servers' queues stay short,
    /// and a second instance behind Redis cannot fall behind unseen).
    Closed,
}

#[derive(Clone, Debug)]
pub struct FanoutSpec {
    pub topics: usize,
    pub per_topic: usize,
    pub pace: Pace,
    pub warmup: Duration,
    pub measure: Duration,
    /// Bytes of padding in each publish's data (a frame is about this plus 110).
    pub pad: usize,
}

#[derive(Debug, Default)]
pub struct Fanout {
    pub clients: usize,
    pub joined: usize,
    /// Publishes sent during the measured window, per second.
    pub published_per_sec: f64,
    /// Deliveries of those publishes (to every subscriber, sender included), per second.
    pub delivered_per_sec: f64,
    pub p50_us: u64,
    pub p99_us: u64,
    /// Deliveries of every publish sent, expected less received (after the drain).
    pub lost: u64,
    /// Publishes received by a subscriber of another topic.
    pub crossed: u64,
    /// Publishes of one sender received out of the order it sent them.
    pub reordered: u64,
    /// Connections the server closed (or that failed) before the end.
    pub dropped: usize,
    /// CPU over the measured window, percent of one core: the servers (summed), Redis, this tool.
    pub server_cpu: f64,
    pub redis_cpu: f64,
    pub tool_cpu: f64,
    pub first_error: Option<String>,
}

#[derive(Deserialize)]
struct Frame {
    #[serde(rename = "type")]
    kind: String,
    topic: Option<String>,
    data: Option<Data>,
}

#[derive(Deserialize)]
struct Data {
    k: usize,
    s: usize,
    n: u64,
    t: u64,
}

struct Shared {
    epoch: Instant,
    /// Microseconds since `epoch`.
    window: (u64, u64),
    start: Instant,
    stop: Instant,
    drain_until: Instant,
    /// Publishes sent by each client, in all and in the window.
    sent: Vec<AtomicU64>,
    sent_in_window: AtomicU64,
    /// Set once every sender has stopped: deliveries each topic's subscribers must get.
    expected: Vec<AtomicU64>,
    counted: watch::Sender<bool>,
    /// Subscribers each client's publish in flight has reached, and its wake-up once all have.
    reached: Vec<AtomicUsize>,
    everyone: Vec<Notify>,
}

impl Shared {
    fn now_us(&self) -> u64 {
        self.epoch.elapsed().as_micros() as u64
    }
}

#[derive(Default)]
struct ClientStats {
    received: u64,
    delivered_in_window: u64,
    latencies: Vec<u32>,
    crossed: u64,
    reordered: u64,
    error: Option<String>,
}

/// `spec.topics` topics of `spec.per_topic` subscribers each, publishing as `spec.pace` says;
/// every delivery checked (its topic, its sender's order) and timed from the timestamp the
/// publisher put in it (one process, one clock).
pub async fn fanout(
    target: &Target,
    spec: &FanoutSpec,
    servers: &[u32],
    redis: Option<u32>,
) -> Fanout {
    let clients = spec.topics * spec.per_topic;
    let gate = Arc::new(Semaphore::new(CONNECTING));
    let pings = Arc::new(AtomicU64::new(0));
    let mut joining = Vec::with_capacity(clients);
    for c in 0..clients {
        let (topic, j) = (c / spec.per_topic, c % spec.per_topic);
        let addr = target.addrs[j % target.addrs.len()];
        let (gate, pings, path) = (gate.clone(), pings.clone(), target.path);
        joining.push(tokio::spawn(async move {
            let _permit = gate.acquire_owned().await.expect("open");
            join(addr, path, &format!("load-{topic}"), &pings).await
        }));
    }
    let mut sockets = Vec::with_capacity(clients);
    let mut result = Fanout {
        clients,
        ..Fanout::default()
    };
    for task in joining {
        match task
            .await
            .map_err(|e| e.to_string())
            .and_then(|joined| joined)
        {
            Ok(ws) => sockets.push(Some(ws)),
            Err(e) => {
                result.first_error.get_or_insert(format!("joining: {e}"));
                sockets.push(None);
            }
        }
    }
    result.joined = sockets.iter().flatten().count();
    if result.joined < clients {
        return result;
    }

    let epoch = Instant::now();
    let start = epoch + Duration::from_millis(100);
    let stop = start + spec.warmup + spec.measure;
    let shared = Arc::new(Shared {
        epoch,
        window: (
            (start + spec.warmup - epoch).as_micros() as u64,
            (stop - epoch).as_micros() as u64,
        ),
        start,
        stop,
        drain_until: stop + Duration::from_secs(5),
        sent: (0..clients).map(|_| AtomicU64::new(0)).collect(),
        sent_in_window: AtomicU64::new(0),
        expected: (0..spec.topics).map(|_| AtomicU64::new(0)).collect(),
        counted: watch::Sender::new(false),
        reached: (0..clients).map(|_| AtomicUsize::new(0)).collect(),
        everyone: (0..clients).map(|_| Notify::new()).collect(),
    });
    let pad = "x".repeat(spec.pad);
    let mut tasks = Vec::with_capacity(clients);
    for (c, ws) in sockets.into_iter().enumerate() {
        let ws = ws.expect("joined");
        let (shared, pad, spec) = (shared.clone(), pad.clone(), spec.clone());
        tasks.push(tokio::spawn(client(ws, c, spec, shared, pad)));
    }

    // CPU over the measured window.
    let ticks = |pids: &[u32]| {
        pids.iter()
            .map(|&p| crate::procs::cpu_ticks(p))
            .sum::<u64>()
    };
    let redis_pids: Vec<u32> = redis.into_iter().collect();
    sleep_until(start + spec.warmup).await;
    let before = (
        ticks(servers),
        ticks(&redis_pids),
        crate::procs::own_cpu_ticks(),
    );
    sleep_until(stop).await;
    let after = (
        ticks(servers),
        ticks(&redis_pids),
        crate::procs::own_cpu_ticks(),
    );
    let per_cent = |ticks: u64| {
        ticks as f64 * 100.0 / crate::procs::ticks_per_second() as f64 / spec.measure.as_secs_f64()
    };
    result.server_cpu = per_cent(after.0 - before.0);
    result.redis_cpu = per_cent(after.1 - before.1);
    result.tool_cpu = per_cent(after.2 - before.2);

    // Every sender has stopped (or is about to send its last): what each topic must receive.
    sleep(Duration::from_millis(200)).await;
    for (c, sent) in shared.sent.iter().enumerate() {
        let n = sent.load(Ordering::SeqCst);
        shared.expected[c / spec.per_topic].fetch_add(n * spec.per_topic as u64, Ordering::SeqCst);
    }
    shared.counted.send_replace(true);

    let mut latencies = Vec::new();
    let mut received = 0u64;
    let mut delivered = 0u64;
    for task in tasks {
        let stats = task.await.unwrap_or_else(|e| ClientStats {
            error: Some(e.to_string()),
            ..ClientStats::default()
        });
        received += stats.received;
        delivered += stats.delivered_in_window;
        result.crossed += stats.crossed;
        result.reordered += stats.reordered;
        latencies.extend_from_slice(&stats.latencies);
        if let Some(e) = stats.error {
            result.dropped += 1;
            result.first_error.get_or_insert(e);
        }
    }
    let expected: u64 = shared
        .expected
        .iter()
        .map(|e| e.load(Ordering::SeqCst))
        .sum();
    result.lost = expected.saturating_sub(received);
    let secs = spec.measure.as_secs_f64();
    result.published_per_sec = shared.sent_in_window.load(Ordering::SeqCst) as f64 / secs;
    result.delivered_per_sec = delivered as f64 / secs;
    latencies.sort_unstable();
    let at = |q: f64| {
        latencies
            .get(((latencies.len() as f64 * q) as usize).min(latencies.len().saturating_sub(1)))
            .map_or(0, |&us| u64::from(us))
    };
    result.p50_us = at(0.50);
    result.p99_us = at(0.99);
    result
}

/// One client of a fan-out run: its publisher and its reader, until its topic has received
/// everything sent to it or the drain time is up.
async fn client(
    ws: Ws,
    me: usize,
    spec: FanoutSpec,
    shared: Arc<Shared>,
    pad: String,
) -> ClientStats {
    let topic = me / spec.per_topic;
    let topic_name = format!("load-{topic}");
    let (mut sink, mut stream) = ws.split();
    let publisher = {
        let (shared, topic_name) = (shared.clone(), topic_name.clone());
        async move {
            let period = match spec.pace {
                Pace::Rate(per_topic) => {
                    Some(Duration::from_secs_f64(spec.per_topic as f64 / per_topic))
                }
                Pace::Closed => None,
            };
            // Spread the clocks of a topic's publishers (and of the topics) over one period.
            let phase = period.map_or(Duration::ZERO, |p| p.mul_f64((me % 97) as f64 / 97.0));
            let mut next = shared.start + phase;
            let mut n = 0u64;
            loop {
                if let Some(period) = period {
                    sleep_until(next).await;
                    next += period;
                    // Behind (a busy machine): skip what was missed rather than burst.
                    let now = Instant::now();
                    while next < now {
                        next += period;
                    }
                }
                if Instant::now() >= shared.stop {
                    return Ok::<(), String>(());
                }
                let t = shared.now_us();
                let frame = format!(
                    r#"{{"type":"publish","topic":"{topic_name}","data":{{"k":{topic},"s":{me},"n":{n},"t":{t},"pad":"{pad}"}}}}"#
                );
                n += 1;
                shared.reached[me].store(0, Ordering::SeqCst);
                shared.sent[me].fetch_add(1, Ordering::SeqCst);
                if t >= shared.window.0 && t < shared.window.1 {
                    shared.sent_in_window.fetch_add(1, Ordering::Relaxed);
                }
                sink.send(Message::text(frame))
                    .await
                    .map_err(|e| format!("publishing: {e}"))?;
                if period.is_none() {
                    // Saturating: the next one once this one has reached everyone (or the run is over).
                    let wait = shared.stop.saturating_duration_since(Instant::now());
                    let _ = timeout(wait, shared.everyone[me].notified()).await;
                }
            }
        }
    };
    let reader = async {
        let mut stats = ClientStats::default();
        let mut last_from: Vec<Option<u64>> = vec![None; spec.per_topic];
        let first = topic * spec.per_topic;
        let mut counted = shared.counted.subscribe();
        loop {
            let done = *counted.borrow_and_update();
            if done
                && stats.received
                    >= shared.expected[topic].load(Ordering::SeqCst) / spec.per_topic as u64
            {
                return Ok(stats);
            }
            let message = tokio::select! {
                message = stream.next() => message,
                _ = counted.changed(), if !done => continue,
                _ = sleep_until(shared.drain_until) => return Ok(stats),
            };
            let text = match message {
                Some(Ok(Message::Text(text))) => text,
                Some(Ok(_)) => continue,
                Some(Err(e)) => return Err((stats, format!("reading: {e}"))),
                None => return Err((stats, "closed by the server".to_owned())),
            };
            let now = shared.now_us();
            let Ok(frame) = serde_json::from_str::<Frame>(text.as_str()) else {
                stats.crossed += 1;
                continue;
            };
            let Some(data) = frame.data.filter(|_| frame.kind == "publish") else {
                continue;
            };
            if frame.topic.as_deref() != Some(topic_name.as_str())
                || data.k != topic
                || data.s < first
                || data.s >= first + spec.per_topic
            {
                stats.crossed += 1;
                continue;
            }
            stats.received += 1;
            let last = &mut last_from[data.s - first];
            if last.is_some_and(|last| data.n <= last) {
                stats.reordered += 1;
            }
            *last = Some(data.n);
            if shared.reached[data.s].fetch_add(1, Ordering::SeqCst) + 1 == spec.per_topic {
                shared.everyone[data.s].notify_one();
            }
            if data.t >= shared.window.0 && data.t < shared.window.1 {
                stats.delivered_in_window += 1;
                stats
                    .latencies
                    .push(now.saturating_sub(data.t).min(u32::MAX as u64) as u32);
            }
        }
    };
    let (published, read) = tokio::join!(publisher, reader);
    let mut stats = match read {
        Ok(stats) => stats,
        Err((mut stats, e)) => {
            stats.error = Some(e);
            stats
        }
    };
    if let Err(e) = published {
        stats.error.get_or_insert(e);
    }
    stats
}
