//! Hostile HTTP clients against the app's file server: no request path reaches a file outside
//! `--dist` (traversal in every spelling, symlinks out of it, NUL bytes), and oversized request
//! headers are refused at once while everyone else is served. Requests are written by hand
//! over a `TcpStream`, so nothing normalises a path on the way.

mod common;

use common::*;
use commonplace_server::Options;
use std::net::SocketAddr;
use std::path::Path;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::time::{timeout, Instant};

/// What the file beside `dist` holds; no answer may contain it.
const SECRET: &str = "commonplace-secret-beside-dist-5b1f";

/// `root/dist` (the app), `root/secret.txt` beside it, and symlinks in `dist` pointing out of it
/// (to the secret, to the folder above, to /etc) and one pointing inside (allowed).
fn hostile_dist(root: &Path) -> std::path::PathBuf {
    let dist = root.join("dist");
    std::fs::create_dir_all(dist.join("sub")).unwrap();
    std::fs::create_dir_all(dist.join("out")).unwrap();
    std::fs::write(dist.join("index.html"), "<!doctype html><title>app</title>").unwrap();
    std::fs::write(
        dist.join("sub/page.js"),
        "console.log('in dist') ".repeat(40),
    )
    .unwrap();
    // Long and compressible, so that the precompressed path would serve it too.
    std::fs::write(root.join("secret.txt"), format!("{SECRET}\n").repeat(100)).unwrap();
    std::fs::create_dir_all(root.join("outside")).unwrap();
    std::fs::write(
        root.join("outside/index.html"),
        format!("{SECRET}\n").repeat(100),
    )
    .unwrap();
    let link = |target: &str, name: &str| std::os::unix::fs::symlink(target, dist.join(name));
    link("../secret.txt", "leak.txt").unwrap();
    link("..", "up").unwrap();
    link("/etc", "etc").unwrap();
    link("../outside", "elsewhere").unwrap();
    // A folder inside whose index.html is a link out: served for `/out/`.
    std::os::unix::fs::symlink("../../secret.txt", dist.join("out/index.html")).unwrap();
    link("index.html", "alias.html").unwrap();
    dist
}

/// One request written as given, `Connection: close`; the whole answer, or what came before the
/// server closed.
async fn raw_request(addr: SocketAddr, target: &[u8], extra: &str) -> Vec<u8> {
    let mut stream = TcpStream::connect(addr).await.unwrap();
    let mut request = b"GET ".to_vec();
    request.extend_from_slice(target);
    request.extend_from_slice(
        format!(" HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n{extra}\r\n").as_bytes(),
    );
    let _ = stream.write_all(&request).await;
    let mut answer = Vec::new();
    let _ = timeout(WAIT, stream.read_to_end(&mut answer))
        .await
        .expect("no answer in time");
    answer
}

fn status(answer: &[u8]) -> Option<u16> {
    std::str::from_utf8(answer.get(9..12)?).ok()?.parse().ok()
}

const TRAVERSALS: &[&[u8]] = &[
    b"/../secret.txt",
    b"/../../secret.txt",
    b"/sub/../../secret.txt",
    b"/%2e%2e/secret.txt",
    b"/%2e%2e/%2e%2e/etc/passwd",
    b"/%2E%2E/secret.txt",
    b"/..%2fsecret.txt",
    b"/..%2Fsecret.txt",
    b"/sub%2f..%2f..%2fsecret.txt",
    b"/.%2e/secret.txt",
    b"/%2e./secret.txt",
    b"/..\\secret.txt",
    b"/..%5csecret.txt",
    b"/sub\\..\\..\\secret.txt",
    b"//etc/passwd",
    b"///etc/passwd",
    b"/%2fetc/passwd",
    b"//secret.txt",
    b"/%252e%252e/secret.txt",
    b"/..;/secret.txt",
    b"/%c0%ae%c0%ae/secret.txt",
    b"/%ef%bc%8e%ef%bc%8e/secret.txt",
    b"/secret.txt%00",
    b"/%00/../secret.txt",
    b"/index.html%00.txt",
    b"/%00",
    b"/leak.txt",
    b"/leak.txt%00",
    b"/up/secret.txt",
    b"/up/dist/../secret.txt",
    b"/etc/passwd",
    b"/etc/hostname",
    b"/elsewhere/",
    b"/elsewhere/index.html",
    b"/out/",
    b"/out/index.html",
    b"http://x/../secret.txt",
    b"*",
];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_path_reaches_a_file_outside_dist() {
    let root = temp_dir("hostile-dist");
    let dist = hostile_dist(&root);
    let server = start(Options::new(&dist)).await;
    let passwd = std::fs::read_to_string("/etc/passwd").unwrap_or_default();
    let passwd_line = passwd.lines().next().unwrap_or("root:x:0:0");
    // Both ways a file is served: from the precompressed copies (the client takes br) and by
    // the file service (it takes nothing); the compressed copies are made in the background,
    // so every request goes twice, a while apart.
    let mut statuses = std::collections::BTreeMap::new();
    let mut leaks = Vec::new();
    for round in 0..2 {
        for target in TRAVERSALS {
            for extra in ["", "Accept-Encoding: br, gzip\r\n"] {
                let answer = raw_request(server.addr, target, extra).await;
                let text = String::from_utf8_lossy(&answer);
                let shown = String::from_utf8_lossy(target);
                let code = status(&answer);
                if text.contains(SECRET) || text.contains(passwd_line) {
                    leaks.push(format!("{shown} {extra:?}: {code:?}, a file outside dist"));
                } else if !matches!(code, None | Some(400 | 403 | 404)) {
                    leaks.push(format!("{shown} {extra:?}: {text}"));
                }
                statuses.insert(shown.into_owned(), code);
            }
        }
        if round == 0 {
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
    }
    println!("{statuses:?}");
    assert!(leaks.is_empty(), "{leaks:#?}");
    // The app itself is served, a link inside it too, and the server is still answering.
    for target in [&b"/"[..], b"/sub/page.js", b"/alias.html"] {
        let answer = raw_request(server.addr, target, "").await;
        assert_eq!(
            status(&answer),
            Some(200),
            "{}",
            String::from_utf8_lossy(target)
        );
    }
    sync(&mut connect(server.addr).await).await;
    std::fs::remove_dir_all(&root).unwrap();
}

/// A request head with `headers` after the request line, written while the answer is read
/// (the server may answer and close before it has read it all): the answer, and how long it
/// took.
async fn oversized_request(addr: SocketAddr, headers: Vec<u8>) -> (Vec<u8>, Duration) {
    let started = Instant::now();
    let stream = TcpStream::connect(addr).await.unwrap();
    let (mut read, mut write) = stream.into_split();
    let writer = tokio::spawn(async move {
        let mut request = format!("GET / HTTP/1.1\r\nHost: {addr}\r\n").into_bytes();
        request.extend_from_slice(&headers);
        request.extend_from_slice(b"\r\n");
        let _ = write.write_all(&request).await;
        write
    });
    let mut answer = Vec::new();
    let _ = timeout(WAIT, read.read_to_end(&mut answer))
        .await
        .expect("neither answered nor closed in time");
    let elapsed = started.elapsed();
    writer.abort();
    (answer, elapsed)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oversized_request_headers_are_refused_at_once_and_others_are_served() {
    let root = temp_dir("hostile-headers");
    let dist = hostile_dist(&root);
    let server = start(Options::new(&dist)).await;
    let mut ws = connect(server.addr).await;
    subscribe(&mut ws, &["room"]).await;

    let one_huge = format!("X-Huge: {}\r\n", "a".repeat(1 << 20)).into_bytes();
    let many: Vec<u8> = (0..10_000)
        .flat_map(|i| format!("X-Header-{i}: {i}\r\n").into_bytes())
        .collect();
    let long_line = {
        let mut target = b"GET /".to_vec();
        target.extend(std::iter::repeat_n(b'a', 1 << 20));
        target
    };
    for (what, headers) in [("one 1 MiB header", one_huge), ("10,000 headers", many)] {
        let (answer, elapsed) = oversized_request(server.addr, headers).await;
        let head = String::from_utf8_lossy(&answer[..answer.len().min(200)]).into_owned();
        println!("{what}: {:?} after {elapsed:?}", status(&answer));
        assert!(
            matches!(status(&answer), None | Some(431)),
            "{what}: {head}"
        );
        // Meanwhile the room goes on.
        sync(&mut ws).await;
    }
    // A request line of 1 MiB (the path) as well.
    let stream = TcpStream::connect(server.addr).await.unwrap();
    let (mut read, mut write) = stream.into_split();
    let writer = tokio::spawn(async move {
        let _ = write.write_all(&long_line).await;
        let _ = write.write_all(b" HTTP/1.1\r\nHost: x\r\n\r\n").await;
        write
    });
    let mut answer = Vec::new();
    let _ = timeout(WAIT, read.read_to_end(&mut answer))
        .await
        .expect("neither answered nor closed in time");
    writer.abort();
    println!("a 1 MiB request line: {:?}", status(&answer));
    assert!(
        matches!(status(&answer), None | Some(400 | 414 | 431)),
        "{}",
        String::from_utf8_lossy(&answer[..answer.len().min(200)])
    );

    let answer = raw_request(server.addr, b"/", "").await;
    assert_eq!(status(&answer), Some(200));
    sync(&mut ws).await;
    std::fs::remove_dir_all(&root).unwrap();
}
