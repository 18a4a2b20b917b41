//! An accepted TCP connection as the server holds it: its place under `--max-connections`,
//! given back only when the socket closes (an upgraded WebSocket keeps it), and on request a
//! lingering close.
//!
//! Lingering: closing a socket whose client is still sending makes the kernel answer with a
//! reset, and a reset can destroy what the server said last before the client reads it (a
//! close frame "message too big" while the client is still sending the 10 MB message). So once
//! asked, the socket is half-closed after the last write and what still arrives is read and
//! thrown away, for a bounded time, before it is closed (nginx's `lingering_close`).

use std::io;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, ReadBuf};
use tokio::net::TcpStream;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio::time::{timeout, timeout_at, Instant};

use crate::metrics::Open;

/// The longest a closed connection is read from.
const LINGER_FOR: Duration = Duration::from_secs(5);
/// Closed sooner once the client has sent nothing for this long.
const LINGER_IDLE: Duration = Duration::from_millis(500);
/// And after at most this much (the client may send 10 MB at loopback speed; a client that
/// keeps sending faster than this for `LINGER_FOR` is not listened to any more).
const LINGER_BYTES: u64 = 64 * 1024 * 1024;
/// Refused connections get at most this many polite answers at once; past them, a flood of
/// connections is simply closed (each answer holds a socket for up to a second).
const POLITE_REFUSALS: usize = 64;

/// What a connection past the cap is told before it is closed.
const BUSY: &[u8] = b"HTTP/1.1 503 Service Unavailable\r\nContent-Type: text/plain\r\n\
Content-Length: 52\r\nRetry-After: 10\r\nConnection: close\r\n\r\n\
Commonplace: too many connections, try again later.\n";

/// Asks for a lingering close of the connection it was handed with (a request extension): the
/// WebSocket task calls it before it drops a socket whose client may still be sending.
#[derive(Clone, Debug, Default)]
pub struct Linger(Arc<AtomicBool>);

impl Linger {
    pub fn on_close(&self) {
        self.0.store(true, Ordering::Relaxed);
    }
}

/// A connection's place under the cap, and its count in `commonplace_connections_open`: both
/// held until the socket is closed.
pub type Place = (OwnedSemaphorePermit, Open);

/// The socket of one accepted connection, holding its place under the cap.
pub struct Accepted {
    /// `None` only once dropped (moved into the lingering task).
    stream: Option<TcpStream>,
    place: Option<Place>,
    linger: Linger,
}

impl Accepted {
    pub fn new(stream: TcpStream, place: Place) -> (Self, Linger) {
        let linger = Linger::default();
        let accepted = Accepted {
            stream: Some(stream),
            place: Some(place),
            linger: linger.clone(),
        };
        (accepted, linger)
    }

    fn stream(&mut self) -> io::Result<Pin<&mut TcpStream>> {
        match self.stream.as_mut() {
            Some(stream) => Ok(Pin::new(stream)),
            None => Err(io::ErrorKind::NotConnected.into()),
        }
    }
}

impl Drop for Accepted {
    fn drop(&mut self) {
        if !self.linger.0.load(Ordering::Relaxed) {
            return;
        }
        // Without a runtime (the process is ending) the socket simply closes.
        let (Some(stream), Ok(runtime)) =
            (self.stream.take(), tokio::runtime::Handle::try_current())
        else {
            return;
        };
        // The place stays taken while the socket is open.
        let place = self.place.take();
        runtime.spawn(async move {
            linger(stream, LINGER_FOR).await;
            drop(place);
        });
    }
}

/// Half-closes `stream` and reads what still comes, until the client closes too, stays quiet
/// for [`LINGER_IDLE`], or `most` or [`LINGER_BYTES`] are reached.
async fn linger(mut stream: TcpStream, most: Duration) {
    let until = Instant::now() + most;
    let _ = timeout_at(until, stream.shutdown()).await;
    let mut buf = vec![0u8; 16 * 1024];
    let mut read = 0u64;
    while read < LINGER_BYTES {
        let next = timeout(LINGER_IDLE, stream.read(&mut buf));
        match timeout_at(until, next).await {
            Ok(Ok(Ok(n))) if n > 0 => read += n as u64,
            _ => return,
        }
    }
}

/// The accept loop's answer to a connection past the cap: a 503 over plain HTTP (then a short
/// lingering close, so the client reads it), nothing over TLS, where it cannot be said before a
/// handshake that would cost as much as serving it.
pub struct Refusals {
    polite: Arc<Semaphore>,
}

impl Refusals {
    pub fn new() -> Self {
        Refusals {
            polite: Arc::new(Semaphore::new(POLITE_REFUSALS)),
        }
    }

    pub fn refuse(&self, stream: TcpStream, tls: bool) {
        if tls {
            return;
        }
        let Ok(answer) = self.polite.clone().try_acquire_owned() else {
            return;
        };
        tokio::spawn(async move {
            let mut stream = stream;
            if timeout(Duration::from_secs(1), stream.write_all(BUSY))
                .await
                .is_ok()
            {
                linger(stream, Duration::from_secs(1)).await;
            }
            drop(answer);
        });
    }
}

impl AsyncRead for Accepted {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        match self.stream() {
            Ok(stream) => stream.poll_read(cx, buf),
            Err(e) => Poll::Ready(Err(e)),
        }
    }
}

impl AsyncWrite for Accepted {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        match self.stream() {
            Ok(stream) => stream.poll_write(cx, buf),
            Err(e) => Poll::Ready(Err(e)),
        }
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        match self.stream() {
            Ok(stream) => stream.poll_write_vectored(cx, bufs),
            Err(e) => Poll::Ready(Err(e)),
        }
    }

    fn is_write_vectored(&self) -> bool {
        self.stream
            .as_ref()
            .is_some_and(AsyncWrite::is_write_vectored)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.stream() {
            Ok(stream) => stream.poll_flush(cx),
            Err(e) => Poll::Ready(Err(e)),
        }
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.stream() {
            Ok(stream) => stream.poll_shutdown(cx),
            Err(e) => Poll::Ready(Err(e)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_busy_answer_is_well_formed() {
        let text = std::str::from_utf8(BUSY).unwrap();
        let (head, body) = text.split_once("\r\n\r\n").unwrap();
        let length = format!("Content-Length: {}\r\n", body.len());
        assert!(head.starts_with("HTTP/1.1 503 "), "{head}");
        assert!(text.contains(&length), "{head}");
    }
}
