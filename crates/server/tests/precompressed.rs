//! The app's files are compressed once, not per request: many downloads of the app with
//! `Accept-Encoding: br` are answered from bytes made in advance, while signaling on the same
//! server stays responsive.

mod common;

use common::http::Http;
use common::*;
use commonplace_server::Options;
use std::io::Read;
use std::path::Path;
use std::time::Duration;
use tokio::time::{sleep, Instant};

const WASM: &str = "/commonplace-0123456789abcdef_bg.wasm";
/// What the test downloads at once; each one, compressed per request with brotli at its
/// default quality, costs seconds of CPU.
const DOWNLOADS: usize = 24;
/// Time for all of them, generous for a loaded machine: from memory they take milliseconds.
const DOWNLOADS_WITHIN: Duration = Duration::from_secs(20);
/// The slowest ping → pong allowed meanwhile.
const PONG_WITHIN: Duration = Duration::from_secs(2);

/// 2 MiB of words: compressible, like JavaScript and wasm, and slow to compress well.
fn compressible() -> Vec<u8> {
    let words = [
        "local.get",
        "i32.add",
        "call",
        "br_if",
        "memory",
        "export",
        "function",
        "return",
        "const",
        "let",
        "await",
        "struct",
        "impl",
        "yrs",
        "peer",
        "topic",
        "publish",
    ];
    let mut state = 0x2545_f491_4f6c_dd1d_u64;
    let mut out = Vec::with_capacity(2 << 20);
    while out.len() < 2 << 20 {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        out.extend_from_slice(words[(state % words.len() as u64) as usize].as_bytes());
        out.push(if state & 0x30 == 0 { b'\n' } else { b' ' });
        if state & 0x3c0 == 0 {
            out.extend_from_slice(format!("{}", state % 100_000).as_bytes());
        }
    }
    out
}

fn write_dist(dist: &Path, wasm: &[u8]) {
    std::fs::create_dir_all(dist).unwrap();
    std::fs::write(
        dist.join("index.html"),
        "<!doctype html><title>Commonplace</title>",
    )
    .unwrap();
    std::fs::write(dist.join(&WASM[1..]), wasm).unwrap();
}

fn unbrotli(bytes: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    brotli::Decompressor::new(bytes, 64 * 1024)
        .read_to_end(&mut out)
        .expect("not brotli");
    out
}

const ACCEPT: (&str, &str) = ("Accept-Encoding", "gzip, deflate, br");

async fn get_br(addr: std::net::SocketAddr) -> common::http::Reply {
    Http::once(addr, "GET", WASM, &[ACCEPT], b"").await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn app_downloads_are_served_precompressed_while_signaling_stays_responsive() {
    let dist = temp_dir("precompressed-dist");
    let wasm = compressible();
    write_dist(&dist, &wasm);
    let server = start(Options::new(&dist)).await;

    // Until the server has compressed the file (at start, in the background) it answers with
    // the file as it is.
    let plain = get_br(server.addr).await;
    assert_eq!(plain.status, 200);
    if plain.header("content-encoding").is_none() {
        assert_eq!(plain.body, wasm, "served as it is while not compressed yet");
    }
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let head = Http::once(server.addr, "HEAD", WASM, &[ACCEPT], b"").await;
        if head.header("content-encoding") == Some("br") {
            break;
        }
        assert!(Instant::now() < deadline, "never served compressed");
        sleep(Duration::from_millis(100)).await;
    }
    let first = get_br(server.addr).await;
    assert_eq!(first.header("content-encoding"), Some("br"));
    assert_eq!(unbrotli(&first.body), wasm);
    assert!(
        first.body.len() < wasm.len() / 3,
        "{} bytes",
        first.body.len()
    );

    let mut signal = connect(server.addr).await;
    let started = Instant::now();
    let downloads: Vec<_> = (0..DOWNLOADS)
        .map(|_| tokio::spawn(get_br(server.addr)))
        .collect();
    let mut all = tokio::spawn(async move {
        let mut replies = Vec::new();
        for download in downloads {
            // A download with no reply in time panics its task; it is missing from the count.
            replies.extend(download.await.ok());
        }
        replies
    });
    let mut pongs = Vec::new();
    let replies = loop {
        let pinged = Instant::now();
        tokio::select! {
            () = sync(&mut signal) => pongs.push(pinged.elapsed()),
            replies = &mut all => break replies.unwrap(),
            () = sleep(PONG_WITHIN) => pongs.push(pinged.elapsed()),
        }
        if started.elapsed() > DOWNLOADS_WITHIN {
            all.abort();
            break Vec::new();
        }
        sleep(Duration::from_millis(20)).await;
    };
    let elapsed = started.elapsed();
    let slowest = pongs.iter().max().copied().unwrap_or_default();
    println!(
        "{} of {DOWNLOADS} downloads in {elapsed:?}; {} pongs meanwhile, slowest {slowest:?}",
        replies.len(),
        pongs.len()
    );
    assert_eq!(
        replies.len(),
        DOWNLOADS,
        "{DOWNLOADS} downloads did not all finish within {DOWNLOADS_WITHIN:?}"
    );
    assert!(slowest < PONG_WITHIN, "a pong took {slowest:?}");
    for reply in &replies {
        assert_eq!(reply.header("content-encoding"), Some("br"));
        // Made once: every download gets the same bytes, with their length known up front.
        assert_eq!(reply.body, first.body);
        let length = reply.header("content-length").map(str::parse::<usize>);
        assert_eq!(length, Some(Ok(first.body.len())), "{:?}", reply.headers);
    }
    std::fs::remove_dir_all(&dist).unwrap();
}

const MANY_DOWNLOADS: usize = 1000;

/// One download of the app over a connection of its own: the reply's head and its body, read
/// to the end (whatever the time: the test prints it rather than asserting on it).
async fn download(addr: std::net::SocketAddr) -> Result<(String, Vec<u8>), String> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut stream = tokio::net::TcpStream::connect(addr)
        .await
        .map_err(|e| e.to_string())?;
    let request = format!(
        "GET {WASM} HTTP/1.1\r\nHost: {addr}\r\nAccept-Encoding: br\r\nConnection: close\r\n\r\n"
    );
    stream
        .write_all(request.as_bytes())
        .await
        .map_err(|e| e.to_string())?;
    let mut answer = Vec::new();
    let read = tokio::time::timeout(Duration::from_secs(300), stream.read_to_end(&mut answer));
    read.await
        .map_err(|_| "no end in 300 s")?
        .map_err(|e| e.to_string())?;
    let at = answer
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .ok_or("no head")?;
    let head = String::from_utf8_lossy(&answer[..at]).to_ascii_lowercase();
    Ok((head, answer[at + 4..].to_vec()))
}

/// A thousand downloads of the app at once (the real binary), while a room of three publishes
/// every 20 ms: every download complete and byte for byte the compressed app, and the room's
/// members never evicted and never missing a publish. Times are printed, not asserted.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_thousand_downloads_while_a_room_keeps_editing() {
    use common::room::room;
    let dist = temp_dir("thousand-downloads-dist");
    let wasm = compressible();
    write_dist(&dist, &wasm);
    let server = start_binary(&[
        std::ffi::OsStr::new("--no-store"),
        "--dist".as_ref(),
        dist.as_ref(),
    ])
    .unwrap();
    let pid = server.pid();
    let deadline = Instant::now() + Duration::from_secs(120);
    let first = loop {
        let reply = get_br(server.addr).await;
        if reply.header("content-encoding") == Some("br") {
            break reply;
        }
        assert!(Instant::now() < deadline, "never served compressed");
        sleep(Duration::from_millis(100)).await;
    };
    assert_eq!(unbrotli(&first.body), wasm);
    let room = room(server.addr, 3, Duration::from_millis(20)).await;
    let rss_before = settled_rss_kib(pid).await;

    let started = Instant::now();
    let downloads: Vec<_> = (0..MANY_DOWNLOADS)
        .map(|_| tokio::spawn(download(server.addr)))
        .collect();
    let mut times = Vec::new();
    let mut failed = Vec::new();
    let mut peak = 0;
    for (i, task) in downloads.into_iter().enumerate() {
        match task.await.unwrap() {
            Ok((head, body)) => {
                times.push(started.elapsed());
                let expected = format!("content-length: {}", first.body.len());
                if !head.starts_with("http/1.1 200")
                    || !head.contains("content-encoding: br")
                    || !head.contains(&expected)
                    || body != first.body
                {
                    failed.push(format!("download {i}: {head}, {} bytes", body.len()));
                }
            }
            Err(e) => failed.push(format!("download {i}: {e}")),
        }
        if i % 100 == 0 {
            peak = peak.max(vm_rss_kib(pid));
        }
    }
    let elapsed = started.elapsed();
    let rounds = room.stop().await;
    let rss_after = settled_rss_kib(pid).await;
    let mb = (MANY_DOWNLOADS * first.body.len()) as f64 / 1e6;
    println!(
        "{MANY_DOWNLOADS} downloads of {} bytes (br) in {elapsed:?}, {mb:.0} MB, {:.0} MB/s; \
         the room published {rounds} rounds meanwhile, every one delivered; server RSS \
         {rss_before} KiB before, {peak} KiB at most during, {rss_after} KiB after",
        first.body.len(),
        mb / elapsed.as_secs_f64()
    );
    assert!(
        failed.is_empty(),
        "{} failed: {:#?}",
        failed.len(),
        &failed[..failed.len().min(5)]
    );
    assert!(rounds > 0);
    server.stop();
    std::fs::remove_dir_all(&dist).unwrap();
}
