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
