//! Frames on their way to one connection, bounded in bytes rather than in frames: a queue of
//! a few relayed 200 kB chunks holds more memory than thousands of small signals.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use tokio::sync::{mpsc, Notify};

/// What one queued frame holds besides its text (the pointer, the channel's slot, the
/// WebSocket header), so a flood of tiny frames is bounded too.
const FRAME_OVERHEAD: usize = 64;

/// The sending side, kept with the hub's connections.
pub struct Outbox {
    frames: mpsc::UnboundedSender<Arc<str>>,
    backlog: Arc<Backlog>,
}

/// The connection task's side: takes frames in order and tells the backlog once each is sent.
pub struct Inbox {
    frames: mpsc::UnboundedReceiver<Arc<str>>,
    backlog: Arc<Backlog>,
}

/// Bytes queued and not yet written to the socket.
pub struct Backlog {
    bytes: AtomicUsize,
    limit: usize,
    /// Signalled whenever a frame has been written, for a task waiting for room.
    drained: Notify,
}

/// The receiver is over its bound: it reads slower than others write to it.
#[derive(Debug, PartialEq, Eq)]
pub struct Overflow;

/// A queue that holds at most `limit` bytes, except that one frame always fits into an empty
/// queue (so a limit below the largest frame cannot make a connection unreachable).
pub fn outbox(limit: usize) -> (Outbox, Inbox) {
    let (tx, rx) = mpsc::unbounded_channel();
    let backlog = Arc::new(Backlog {
        bytes: AtomicUsize::new(0),
        limit,
        drained: Notify::new(),
    });
    (
        Outbox {
            frames: tx,
            backlog: backlog.clone(),
        },
        Inbox {
            frames: rx,
            backlog,
        },
    )
}

fn cost(frame: &str) -> usize {
    frame.len().saturating_add(FRAME_OVERHEAD)
}

impl Outbox {
    /// Queues `frame`, or refuses it when it would take the queue over its limit.
    pub fn push(&self, frame: Arc<str>) -> Result<(), Overflow> {
        let cost = cost(&frame);
        let room = |queued: usize| {
            let total = queued.saturating_add(cost);
            (queued == 0 || total <= self.backlog.limit).then_some(total)
        };
        self.backlog
            .bytes
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, room)
            .map_err(|_| Overflow)?;
        // A closed receiver means the connection is ending; its frames do not matter.
        let _ = self.frames.send(frame);
        Ok(())
    }

    /// The queue's byte count, shared with the connection's task.
    pub fn backlog(&self) -> Arc<Backlog> {
        self.backlog.clone()
    }
}

impl Inbox {
    /// The next frame; call [`Inbox::sent`] with it once it is written. `None` once every
    /// [`Outbox`] is gone.
    pub async fn next(&mut self) -> Option<Arc<str>> {
        self.frames.recv().await
    }

    /// `frame` has been written: its bytes leave the backlog.
    pub fn sent(&self, frame: &str) {
        let cost = cost(frame);
        let _ = self
            .backlog
            .bytes
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |queued| {
                Some(queued.saturating_sub(cost))
            });
        self.backlog.drained.notify_one();
    }
}

impl Backlog {
    /// Waits until a frame of `bytes` would fit. The connection's own reader waits here for
    /// room for an echo or a pong, so a peer that sends faster than it reads is slowed down
    /// instead of overflowing its own queue.
    pub async fn room_for(&self, bytes: usize) {
        loop {
            let queued = self.bytes.load(Ordering::Acquire);
            if queued == 0 || queued.saturating_add(cost_of_len(bytes)) <= self.limit {
                return;
            }
            // notify_one keeps a wake-up sent between the check and this wait.
            self.drained.notified().await;
        }
    }
}

fn cost_of_len(bytes: usize) -> usize {
    bytes.saturating_add(FRAME_OVERHEAD)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn frame(len: usize) -> Arc<str> {
        "x".repeat(len).into()
    }

    #[tokio::test]
    async fn bounded_in_bytes_and_drained_by_sending() {
        let (outbox, mut inbox) = outbox(1000);
        let half = 500 - FRAME_OVERHEAD;
        assert_eq!(outbox.push(frame(half)), Ok(()));
        assert_eq!(outbox.push(frame(half)), Ok(()));
        assert_eq!(outbox.push(frame(1)), Err(Overflow), "one byte too many");
        let first = inbox.next().await.unwrap();
        assert_eq!(
            outbox.push(frame(1)),
            Err(Overflow),
            "taken, not yet written"
        );
        inbox.sent(&first);
        assert_eq!(outbox.push(frame(1)), Ok(()));
    }

    #[tokio::test]
    async fn many_tiny_frames_are_bounded_too() {
        let (outbox, _inbox) = outbox(1000);
        let fitted = (0..100).take_while(|_| outbox.push(frame(0)).is_ok());
        assert_eq!(fitted.count(), 1000 / FRAME_OVERHEAD);
    }

    #[tokio::test]
    async fn one_frame_over_the_limit_fits_an_empty_queue() {
        let (outbox, mut inbox) = outbox(10);
        assert_eq!(outbox.push(frame(500)), Ok(()));
        assert_eq!(outbox.push(frame(1)), Err(Overflow));
        let next = inbox.next().await.unwrap();
        inbox.sent(&next);
        assert_eq!(outbox.push(frame(1)), Ok(()));
    }

    #[tokio::test]
    async fn room_for_waits_until_enough_is_written() {
        let (outbox, mut inbox) = outbox(1000);
        let backlog = outbox.backlog();
        for _ in 0..3 {
            outbox.push(frame(200)).unwrap();
        }
        let wait = tokio::spawn(async move { backlog.room_for(500).await });
        tokio::time::sleep(Duration::from_millis(20)).await;
        assert!(!wait.is_finished(), "792 queued, 564 more do not fit");
        let next = inbox.next().await.unwrap();
        inbox.sent(&next);
        tokio::time::sleep(Duration::from_millis(20)).await;
        assert!(!wait.is_finished(), "528 queued: still no room");
        let next = inbox.next().await.unwrap();
        inbox.sent(&next);
        tokio::time::timeout(Duration::from_secs(5), wait)
            .await
            .expect("264 queued leaves room")
            .unwrap();
    }
}
