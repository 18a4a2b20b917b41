//! The app's files compressed once, with brotli and gzip, so that a download costs a copy and
//! not a compression. Compressing per request ran on the runtime's threads: brotli at its best
//! quality spends seconds on a 4 MiB wasm file, and a thousand downloads of the app held
//! signaling up for seconds (issue 13).
//!
//! At start, every file of `dist` is compressed on a thread of its own at low priority. A file
//! that changes later (the app rebuilt while the server runs) is compressed again once it is
//! next asked for. Until its compressed copy is ready a file is served as it is: no request
//! ever waits for a compression.
//!
//! Why here and not as `.br` files written by the build: the server then serves any `dist`
//! correctly, however it was made or edited (a `.br` left beside a changed file would serve
//! the old file), and `scripts/serve` stays one build and one command.

use axum::body::{Body, Bytes};
use axum::extract::{Request, State};
use axum::http::header::{
    ACCEPT_ENCODING, CONTENT_ENCODING, CONTENT_LENGTH, CONTENT_TYPE, RANGE, VARY,
};
use axum::http::{HeaderValue, Method, StatusCode};
use axum::middleware::Next;
use axum::response::Response;
use std::collections::HashMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::SystemTime;
use tracing::{debug, warn};

/// Brotli's quality: 9, the best before the slow modes. On the app's 1.2 MB wasm file 11
/// saves another 10% (375 KB against 419 KB; gzip's best: 483 KB) for 30 times the CPU,
/// which every server start would pay (the browser tests start dozens).
const BROTLI_QUALITY: i32 = 9;
/// Brotli's window: 4 MiB, the size of a large wasm file.
const BROTLI_WINDOW_BITS: i32 = 22;
/// Smaller files are served as they are: the headers would cost more than the saving.
const MIN_LEN: u64 = 256;
/// Larger ones too: they would hold too much memory (the app's largest file is a few MiB).
const MAX_LEN: u64 = 64 * 1024 * 1024;

/// The compressed copies of `dist`'s files, by URL path.
pub struct Precompressed {
    dist: PathBuf,
    files: Mutex<HashMap<String, Copies>>,
    /// To the compressing thread.
    jobs: Mutex<mpsc::Sender<Job>>,
}

/// What is known of one file.
enum Copies {
    /// Being compressed, for the file as it was then.
    Queued(Stamp),
    Ready(Arc<Compressed>),
}

/// A file's version as far as the file system says: a rebuilt file differs in one or the other.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
struct Stamp {
    len: u64,
    modified: Option<SystemTime>,
}

impl Stamp {
    fn of(metadata: &std::fs::Metadata) -> Self {
        Stamp {
            len: metadata.len(),
            modified: metadata.modified().ok(),
        }
    }
}

struct Compressed {
    stamp: Stamp,
    /// `None`: this encoding did not make the file smaller.
    br: Option<Bytes>,
    gzip: Option<Bytes>,
}

struct Job {
    url_path: String,
    file: PathBuf,
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Encoding {
    Br,
    Gzip,
}

impl Encoding {
    fn name(self) -> &'static str {
        match self {
            Encoding::Br => "br",
            Encoding::Gzip => "gzip",
        }
    }
}

impl Precompressed {
    /// Starts compressing every file of `dist`, smallest first (the page shell is ready at
    /// once, the wasm file last).
    pub fn start(dist: PathBuf) -> Arc<Self> {
        let (jobs, queue) = mpsc::channel();
        let precompressed = Arc::new(Precompressed {
            dist,
            files: Mutex::new(HashMap::new()),
            jobs: Mutex::new(jobs),
        });
        let weak = Arc::downgrade(&precompressed);
        let spawned = std::thread::Builder::new()
            .name("precompress".into())
            .spawn(move || {
                lower_this_threads_priority();
                // Ends once the server (every `Precompressed`) is gone.
                for job in queue {
                    let Some(precompressed) = weak.upgrade() else {
                        return;
                    };
                    precompressed.compress(job);
                }
            });
        if let Err(e) = spawned {
            warn!("cannot start the compressing thread, the app is served uncompressed: {e}");
        }
        for (url_path, file, stamp) in files_by_size(&precompressed.dist) {
            precompressed.queue(url_path, file, stamp);
        }
        precompressed
    }

    fn files(&self) -> MutexGuard<'_, HashMap<String, Copies>> {
        // The map is consistent between calls: a panic elsewhere cannot leave it half-changed.
        self.files.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn queue(&self, url_path: String, file: PathBuf, stamp: Stamp) {
        self.files().insert(url_path.clone(), Copies::Queued(stamp));
        self.send(Job { url_path, file });
    }

    fn send(&self, job: Job) {
        let jobs = self.jobs.lock().unwrap_or_else(PoisonError::into_inner);
        // A closed queue: the thread could not start; the file is served as it is.
        let _ = jobs.send(job);
    }

    /// On the compressing thread.
    fn compress(&self, job: Job) {
        let started = std::time::Instant::now();
        let compressed = match compress_file(&job.file) {
            Ok(compressed) => compressed,
            Err(e) => {
                debug!(file = %job.file.display(), "not compressed: {e}");
                self.files().remove(&job.url_path);
                return;
            }
        };
        debug!(
            file = %job.file.display(),
            len = compressed.stamp.len,
            br = compressed.br.as_ref().map(Bytes::len),
            gzip = compressed.gzip.as_ref().map(Bytes::len),
            ms = started.elapsed().as_millis() as u64,
            "compressed"
        );
        self.files()
            .insert(job.url_path, Copies::Ready(Arc::new(compressed)));
    }

    /// The compressed copy to answer with, if one the client takes is ready for the file as it
    /// is now; queues a compression if none is on its way.
    fn lookup(
        &self,
        url_path: &str,
        stamp: Stamp,
        accepted: Accepted,
    ) -> Option<(Encoding, Bytes)> {
        let file = self.dist.join(relative_file(url_path)?);
        let mut files = self.files();
        match files.get(url_path) {
            Some(Copies::Ready(copies)) if copies.stamp == stamp => {
                let br = copies.br.clone().filter(|_| accepted.br);
                let gzip = copies.gzip.clone().filter(|_| accepted.gzip);
                return br
                    .map(|bytes| (Encoding::Br, bytes))
                    .or_else(|| gzip.map(|bytes| (Encoding::Gzip, bytes)));
            }
            Some(Copies::Queued(queued)) if *queued == stamp => return None,
            _ => {}
        }
        // New since the start, or changed since it was compressed (the app was rebuilt).
        files.insert(url_path.to_string(), Copies::Queued(stamp));
        drop(files);
        debug!(path = url_path, "compressing it (new or changed)");
        self.send(Job {
            url_path: url_path.to_string(),
            file,
        });
        None
    }
}

/// Middleware before the file service: answers from a compressed copy when the client takes
/// one and it is ready; otherwise the file service answers with the file as it is.
pub async fn serve(
    State(precompressed): State<Arc<Precompressed>>,
    request: Request,
    next: Next,
) -> Response {
    // Read before awaiting: a request's body is not `Sync`, so no reference to it may be held.
    let asked = Asked::from(&request);
    let Some(answer) = precompressed_answer(&precompressed, asked).await else {
        let mut response = next.run(request).await;
        // What a cache keeps depends on Accept-Encoding, even when this answer is plain.
        response
            .headers_mut()
            .insert(VARY, HeaderValue::from_static("accept-encoding"));
        return response;
    };
    answer
}

/// What of a request decides whether a compressed copy answers it.
struct Asked {
    /// GET or HEAD (a HEAD gets no body), with no Range: the file service handles the rest.
    plain_get: bool,
    head: bool,
    accepted: Accepted,
    url_path: String,
}

impl Asked {
    fn from(request: &Request) -> Self {
        let head = request.method() == Method::HEAD;
        let accept_encoding = accept_encoding(request);
        Asked {
            plain_get: (head || request.method() == Method::GET)
                && !request.headers().contains_key(RANGE),
            head,
            accepted: Accepted::from_header(&accept_encoding),
            url_path: request.uri().path().to_string(),
        }
    }
}

async fn precompressed_answer(precompressed: &Precompressed, asked: Asked) -> Option<Response> {
    if !asked.plain_get || !(asked.accepted.br || asked.accepted.gzip) {
        return None;
    }
    let url_path = asked.url_path.as_str();
    let file = precompressed.dist.join(relative_file(url_path)?);
    let metadata = tokio::fs::metadata(&file).await.ok()?;
    if !metadata.is_file() {
        return None;
    }
    let (encoding, bytes) = precompressed.lookup(url_path, Stamp::of(&metadata), asked.accepted)?;
    let content_type = mime_guess::from_path(&file)
        .first_raw()
        .unwrap_or("application/octet-stream");
    let len = bytes.len();
    let body = if asked.head {
        Body::empty()
    } else {
        Body::from(bytes)
    };
    let mut response = Response::new(body);
    *response.status_mut() = StatusCode::OK;
    let headers = response.headers_mut();
    headers.insert(CONTENT_TYPE, HeaderValue::from_static(content_type));
    headers.insert(CONTENT_ENCODING, HeaderValue::from_static(encoding.name()));
    headers.insert(CONTENT_LENGTH, HeaderValue::from(len));
    headers.insert(VARY, HeaderValue::from_static("accept-encoding"));
    Some(response)
}

/// The file a URL path names inside `dist`, only for plain names: anything unusual (`..`,
/// percent-escapes, hidden files) is left to the file service, which serves it as it is.
fn relative_file(url_path: &str) -> Option<PathBuf> {
    let path = url_path.strip_prefix('/')?;
    let mut file = PathBuf::new();
    for segment in path.split('/') {
        if segment.is_empty() {
            continue;
        }
        let plain = segment
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'));
        if !plain || segment.starts_with('.') {
            return None;
        }
        file.push(segment);
    }
    if path.is_empty() || path.ends_with('/') {
        file.push("index.html");
    }
    Some(file)
}

/// The URL path the file service serves `relative` at.
fn url_path(relative: &Path) -> Option<String> {
    let mut url = String::new();
    for part in relative.iter() {
        url.push('/');
        url.push_str(part.to_str()?);
    }
    Some(url)
}

/// Which of our encodings the client takes (brotli is preferred when both are).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
struct Accepted {
    br: bool,
    gzip: bool,
}

impl Accepted {
    fn from_header(accept_encoding: &str) -> Self {
        Accepted {
            br: accepts(accept_encoding, "br"),
            gzip: accepts(accept_encoding, "gzip"),
        }
    }
}

/// A request's `Accept-Encoding` values as one list.
pub(crate) fn accept_encoding(request: &Request) -> String {
    request
        .headers()
        .get_all(ACCEPT_ENCODING)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .collect::<Vec<_>>()
        .join(",")
}

/// Whether `Accept-Encoding` allows `coding`: named (or `*`) with a quality above zero.
pub(crate) fn accepts(accept_encoding: &str, coding: &str) -> bool {
    let mut wildcard = false;
    for item in accept_encoding.split(',') {
        let mut parts = item.split(';');
        let name = parts.next().unwrap_or_default().trim();
        let quality = parts
            .filter_map(|p| p.trim().strip_prefix("q="))
            .find_map(|q| q.trim().parse::<f32>().ok())
            .unwrap_or(1.0);
        if name.eq_ignore_ascii_case(coding) {
            return quality > 0.0;
        }
        if name == "*" {
            wildcard = quality > 0.0;
        }
    }
    wildcard
}

/// Every file under `dist` (hidden ones left out), smallest first, with its URL path.
fn files_by_size(dist: &Path) -> Vec<(String, PathBuf, Stamp)> {
    let mut found = Vec::new();
    let mut folders = vec![dist.to_path_buf()];
    while let Some(folder) = folders.pop() {
        let Ok(entries) = std::fs::read_dir(&folder) else {
            continue;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            let hidden = entry
                .file_name()
                .to_str()
                .is_none_or(|n| n.starts_with('.'));
            let Ok(metadata) = entry.metadata() else {
                continue;
            };
            if hidden {
                continue;
            }
            if metadata.is_dir() {
                folders.push(path);
            } else if metadata.is_file() && (MIN_LEN..=MAX_LEN).contains(&metadata.len()) {
                let url = path.strip_prefix(dist).ok().and_then(url_path);
                if let Some(url) = url {
                    found.push((url, path, Stamp::of(&metadata)));
                }
            }
        }
    }
    found.sort_by_key(|(_, _, stamp)| stamp.len);
    found
}

fn compress_file(file: &Path) -> std::io::Result<Compressed> {
    let before = std::fs::metadata(file)?;
    let stamp = Stamp::of(&before);
    if !before.is_file() || !(MIN_LEN..=MAX_LEN).contains(&before.len()) {
        // Served as it is, and not looked at again until it changes.
        return Ok(Compressed {
            stamp,
            br: None,
            gzip: None,
        });
    }
    let bytes = std::fs::read(file)?;
    if stamp.len != bytes.len() as u64 {
        return Err(std::io::Error::other("changed while read"));
    }
    // Kept only if it saves at least a sixteenth: a PNG or a font is compressed already.
    let worth = |compressed: Vec<u8>| {
        (compressed.len() + bytes.len() / 16 <= bytes.len()).then(|| Bytes::from(compressed))
    };
    let params = brotli::enc::BrotliEncoderParams {
        quality: BROTLI_QUALITY,
        lgwin: BROTLI_WINDOW_BITS,
        size_hint: bytes.len(),
        ..Default::default()
    };
    let mut br = Vec::new();
    brotli::BrotliCompress(&mut bytes.as_slice(), &mut br, &params)?;
    let mut gzip = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    gzip.write_all(&bytes)?;
    let gzip = gzip.finish()?;
    Ok(Compressed {
        stamp,
        br: worth(br),
        gzip: worth(gzip),
    })
}

/// Compression yields to serving: on Linux a thread has its own nice value.
fn lower_this_threads_priority() {
    #[cfg(target_os = "linux")]
    // SAFETY: setpriority with who = 0 changes only the calling thread (Linux semantics).
    unsafe {
        libc::setpriority(libc::PRIO_PROCESS, 0, 10);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accept_encoding_with_qualities() {
        let accepted = |header: &str| {
            let a = Accepted::from_header(header);
            (a.br, a.gzip)
        };
        assert_eq!(accepted("gzip, deflate, br"), (true, true));
        assert_eq!(accepted("gzip"), (false, true));
        assert_eq!(accepted("br;q=0, gzip;q=0.5"), (false, true));
        assert_eq!(accepted("BR"), (true, false));
        assert_eq!(accepted("*"), (true, true));
        assert_eq!(accepted("*;q=0"), (false, false));
        assert_eq!(accepted("br;q=0, *"), (false, true));
        assert_eq!(accepted("identity"), (false, false));
        assert_eq!(accepted(""), (false, false));
        assert_eq!(accepted(";;,;q=,br;q=x"), (true, false));
    }

    #[test]
    fn only_plain_url_paths_name_a_file() {
        let file = |p: &str| relative_file(p).map(|f| f.to_string_lossy().into_owned());
        assert_eq!(file("/").as_deref(), Some("index.html"));
        assert_eq!(file("/index.html").as_deref(), Some("index.html"));
        assert_eq!(file("/a/b-1_2.js").as_deref(), Some("a/b-1_2.js"));
        assert_eq!(file("/a/").as_deref(), Some("a/index.html"));
        for odd in [
            "",
            "x",
            "/../etc/passwd",
            "/a/../b",
            "/.git/config",
            "/%2e%2e/x",
            "/a b",
        ] {
            assert_eq!(file(odd), None, "{odd}");
        }
    }

    #[test]
    fn compressed_once_served_while_unchanged_and_again_after_a_change() {
        let dist = std::env::temp_dir().join(format!("cp-precompressed-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dist);
        std::fs::create_dir_all(dist.join("sub")).unwrap();
        let text = "peer topic publish announce ".repeat(200);
        std::fs::write(dist.join("sub/app.js"), &text).unwrap();
        std::fs::write(dist.join("tiny.txt"), "x").unwrap();
        std::fs::write(dist.join(".hidden"), &text).unwrap();
        let mut state = 0x9e37_79b9_7f4a_7c15_u64;
        let random: Vec<u8> = (0..4096)
            .map(|_| {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                state as u8
            })
            .collect();
        std::fs::write(dist.join("noise.bin"), &random).unwrap();
        let found: Vec<String> = files_by_size(&dist).into_iter().map(|f| f.0).collect();
        assert_eq!(found, ["/noise.bin", "/sub/app.js"]);

        let precompressed = Precompressed::start(dist.clone());
        let stamp = Stamp::of(&std::fs::metadata(dist.join("sub/app.js")).unwrap());
        let ready = |stamp, br, gzip| {
            for _ in 0..500 {
                let accepted = Accepted { br, gzip };
                if let Some(found) = precompressed.lookup("/sub/app.js", stamp, accepted) {
                    return found;
                }
                std::thread::sleep(std::time::Duration::from_millis(10));
            }
            panic!("never compressed");
        };
        let (encoding, br) = ready(stamp, true, true);
        assert_eq!(encoding, Encoding::Br);
        let mut plain = Vec::new();
        brotli::BrotliDecompress(&mut br.as_ref(), &mut plain).unwrap();
        assert_eq!(plain, text.as_bytes());
        let (encoding, gzip) = ready(stamp, false, true);
        assert_eq!(encoding, Encoding::Gzip);
        let mut plain = String::new();
        std::io::Read::read_to_string(&mut flate2::read::GzDecoder::new(gzip.as_ref()), &mut plain)
            .unwrap();
        assert_eq!(plain, text);

        // A changed file is not answered from the old copy; it is compressed again.
        let text = "a rebuilt app ".repeat(300);
        std::fs::write(dist.join("sub/app.js"), &text).unwrap();
        let stamp = Stamp::of(&std::fs::metadata(dist.join("sub/app.js")).unwrap());
        let both = Accepted {
            br: true,
            gzip: true,
        };
        assert_eq!(precompressed.lookup("/sub/app.js", stamp, both), None);
        let (_, br) = ready(stamp, true, false);
        let mut plain = Vec::new();
        brotli::BrotliDecompress(&mut br.as_ref(), &mut plain).unwrap();
        assert_eq!(plain, text.as_bytes());
        // Incompressible bytes keep no copy.
        let stamp = Stamp::of(&std::fs::metadata(dist.join("noise.bin")).unwrap());
        for _ in 0..500 {
            if matches!(
                precompressed.files().get("/noise.bin"),
                Some(Copies::Ready(_))
            ) {
                break;
            }
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
        assert_eq!(precompressed.lookup("/noise.bin", stamp, both), None);
        std::fs::remove_dir_all(&dist).unwrap();
    }
}
