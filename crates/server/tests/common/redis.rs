//! A real `redis-server` for the tests: on a free loopback port, in a folder of its own, with
//! its append-only file synced on every write (as docs/store.md asks of a production Redis)
//! and no RDB snapshots. Killed (and its folder removed) when dropped.
//!
//! `scripts/setup` installs Debian's `redis-server`. Where it is missing, [`RedisServer::start`]
//! says so and returns `None`, and the test skips; on CI (`CI` set) a missing Redis fails the
//! test instead, so that the Redis tests cannot quietly stop running there.

use super::{temp_dir, WAIT};
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub struct RedisServer {
    child: Option<Child>,
    pub addr: SocketAddr,
    /// Its `--dir`: the AOF is in `appendonlydir/`, its log in `redis.log`.
    pub dir: PathBuf,
    extra: Vec<String>,
}

impl RedisServer {
    /// A new Redis in a new folder (named after `name`); `None` if `redis-server` is missing.
    pub fn start(name: &str) -> Option<RedisServer> {
        RedisServer::start_with(name, &[])
    }

    /// With more (or overriding) settings, e.g. `["--appendonly", "no"]`.
    pub fn start_with(name: &str, extra: &[&str]) -> Option<RedisServer> {
        if !installed() {
            let why = "redis-server is not installed (scripts/setup installs it)";
            assert!(std::env::var_os("CI").is_none(), "on CI: {why}");
            eprintln!("SKIPPED {name}: {why}");
            return None;
        }
        let dir = temp_dir(&format!("redis-{name}"));
        std::fs::create_dir_all(&dir).unwrap();
        let extra: Vec<String> = extra.iter().map(|s| s.to_string()).collect();
        // A port that was free a moment ago may be taken meanwhile by another test: try again.
        for _ in 0..5 {
            let port = free_port();
            let addr = SocketAddr::from(([127, 0, 0, 1], port));
            let mut redis = RedisServer {
                child: None,
                addr,
                dir: dir.clone(),
                extra: extra.clone(),
            };
            if redis.launch() {
                return Some(redis);
            }
        }
        panic!(
            "redis-server did not start: see {}",
            dir.join("redis.log").display()
        );
    }

    /// `redis://127.0.0.1:PORT/0`
    pub fn url(&self) -> String {
        format!("redis://{}/0", self.addr)
    }

    /// SIGKILL: a crash, nothing flushed on the way out.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// SIGSTOP: there, but silent (as a Redis behind a broken network path).
    pub fn pause(&self) {
        self.signal(libc::SIGSTOP);
    }

    /// SIGCONT, after [`pause`].
    pub fn resume(&self) {
        self.signal(libc::SIGCONT);
    }

    fn signal(&self, signal: i32) {
        let child = self.child.as_ref().expect("running");
        // SAFETY: signals a child this test started.
        unsafe { libc::kill(child.id() as i32, signal) };
    }

    /// Starts again on the same port and folder (so from the same AOF), after [`kill`].
    pub fn restart(&mut self) {
        assert!(self.child.is_none(), "kill it first");
        let deadline = Instant::now() + WAIT;
        // The port may linger for a moment after the kill.
        while !self.launch() {
            assert!(
                Instant::now() < deadline,
                "redis-server did not start again"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Starts the process and waits until it answers `PING`; `false` if it exited first.
    fn launch(&mut self) -> bool {
        let log = self.dir.join("redis.log");
        let mut child = Command::new("redis-server")
            .args([
                "--port",
                &self.addr.port().to_string(),
                "--bind",
                "127.0.0.1",
            ])
            .arg("--dir")
            .arg(&self.dir)
            .args([
                "--appendonly",
                "yes",
                "--appendfsync",
                "always",
                "--save",
                "",
            ])
            .arg("--logfile")
            .arg(&log)
            .args(&self.extra)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let deadline = Instant::now() + WAIT;
        loop {
            if child.try_wait().unwrap().is_some() {
                return false;
            }
            if ping(self.addr) {
                self.child = Some(child);
                return true;
            }
            if Instant::now() > deadline {
                let _ = child.kill();
                let _ = child.wait();
                panic!("redis-server did not answer: see {}", log.display());
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// A client to look at what Redis holds.
    pub fn client(&self) -> redis::Connection {
        redis::Client::open(self.url())
            .unwrap()
            .get_connection_with_timeout(WAIT)
            .unwrap()
    }

    /// The append-only files, with their bytes: `appendonlydir/*` (Redis 7), or
    /// `appendonly.aof` (before).
    pub fn aof_files(&self) -> Vec<(PathBuf, Vec<u8>)> {
        let mut files = files_under(&self.dir.join("appendonlydir"));
        files.extend(
            files_under(&self.dir)
                .into_iter()
                .filter(|(path, _)| path.extension().is_some_and(|ext| ext == "aof")),
        );
        files
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        if self.child.is_some() {
            // A paused Redis dies of SIGKILL all the same; resumed, it is not left stopped if
            // the kill fails.
            self.resume();
        }
        self.kill();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn installed() -> bool {
    Command::new("redis-server")
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|status| status.success())
}

pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Does Redis answer `PING` with `PONG` (and not, say, `LOADING`)?
fn ping(addr: SocketAddr) -> bool {
    let Ok(mut stream) = TcpStream::connect_timeout(&addr, Duration::from_millis(200)) else {
        return false;
    };
    let _ = stream.set_read_timeout(Some(Duration::from_secs(1)));
    if stream.write_all(b"PING\r\n").is_err() {
        return false;
    }
    let mut answer = [0u8; 7];
    stream.read_exact(&mut answer).is_ok() && &answer == b"+PONG\r\n"
}

fn files_under(dir: &Path) -> Vec<(PathBuf, Vec<u8>)> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut files: Vec<_> = entries
        .filter_map(|entry| {
            let path = entry.ok()?.path();
            let bytes = std::fs::read(&path).ok()?;
            Some((path, bytes))
        })
        .collect();
    files.sort();
    files
}
