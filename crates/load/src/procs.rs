//! The processes a run starts and watches: our server, y-webrtc's `bin/server.js`, a
//! `redis-server`; their memory and CPU read from `/proc`. Each one is killed when dropped,
//! and its folder (logs, Redis's files) removed.

use std::io::{BufRead, BufReader, Read};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// How long a process may take to start listening.
const START: Duration = Duration::from_secs(15);

pub struct Proc {
    pub name: String,
    child: Child,
    pub addr: SocketAddr,
    dir: PathBuf,
}

/// A new empty folder under the system's temporary folder, removed with the process.
fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("commonplace-load-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("a temporary folder");
    dir
}

pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free loopback port")
}

impl Proc {
    /// `commonplace-server` on a free loopback port, without a store unless `redis` is given.
    /// Its stderr (the log) goes to a file, shown if it dies.
    pub fn ours(
        binary: &Path,
        name: &str,
        redis: Option<&str>,
        extra: &[String],
    ) -> Result<Proc, String> {
        let dir = temp_dir(name);
        let log = std::fs::File::create(dir.join("stderr.log")).map_err(|e| e.to_string())?;
        let mut command = Command::new(binary);
        command
            .args(["--port", "0", "--bind", "127.0.0.1", "--dist"])
            .arg(dir.join("no-dist"))
            .args(extra)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(log);
        match redis {
            Some(url) => command.args(["--redis", url]),
            None => command.arg("--no-store"),
        };
        let mut child = command
            .spawn()
            .map_err(|e| format!("{}: {e}", binary.display()))?;
        let stdout = child.stdout.take().expect("piped");
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let mut reader = BufReader::new(stdout);
            let mut line = String::new();
            let _ = reader.read_line(&mut line);
            let _ = tx.send(line);
            // Keep reading so that the server never blocks on a full pipe.
            let _ = std::io::copy(&mut reader, &mut std::io::sink());
        });
        let line = rx.recv_timeout(START).unwrap_or_default();
        let addr = line
            .trim_end()
            .strip_prefix("Commonplace is running: open http://")
            .and_then(|rest| rest.strip_suffix('/'))
            .and_then(|addr| addr.parse().ok());
        let mut proc = Proc {
            name: name.into(),
            child,
            addr: SocketAddr::from(([127, 0, 0, 1], 0)),
            dir,
        };
        match addr {
            Some(addr) => {
                proc.addr = addr;
                Ok(proc)
            }
            None => Err(format!("{name} did not start: {}", proc.log_tail())),
        }
    }

    /// y-webrtc's own signaling server, `node node_modules/y-webrtc/bin/server.js`.
    pub fn y_webrtc(repo: &Path) -> Result<Proc, String> {
        let dir = temp_dir("y-webrtc");
        let log = std::fs::File::create(dir.join("stderr.log")).map_err(|e| e.to_string())?;
        let port = free_port();
        let child = Command::new("node")
            .arg(repo.join("node_modules/y-webrtc/bin/server.js"))
            .env("PORT", port.to_string())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .map_err(|e| format!("node: {e}"))?;
        let proc = Proc {
            name: "y-webrtc".into(),
            child,
            addr: SocketAddr::from(([127, 0, 0, 1], port)),
            dir,
        };
        proc.wait_listening()?;
        Ok(proc)
    }

    /// A `redis-server` on a free loopback port with a folder of its own, persisting nothing.
    pub fn redis() -> Result<Proc, String> {
        let dir = temp_dir("redis");
        let port = free_port();
        let child = Command::new("redis-server")
            .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
            .arg("--dir")
            .arg(&dir)
            .args(["--appendonly", "no", "--save", ""])
            .arg("--logfile")
            .arg(dir.join("stderr.log"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|e| format!("redis-server: {e}"))?;
        let proc = Proc {
            name: "redis".into(),
            child,
            addr: SocketAddr::from(([127, 0, 0, 1], port)),
            dir,
        };
        proc.wait_listening()?;
        Ok(proc)
    }

    pub fn redis_url(&self) -> String {
        format!("redis://{}/0", self.addr)
    }

    fn wait_listening(&self) -> Result<(), String> {
        let deadline = Instant::now() + START;
        while TcpStream::connect_timeout(&self.addr, Duration::from_millis(200)).is_err() {
            if Instant::now() > deadline {
                return Err(format!(
                    "{} did not listen on {}: {}",
                    self.name,
                    self.addr,
                    self.log_tail()
                ));
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        Ok(())
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// `Err` with the end of its log if it has exited.
    pub fn check_alive(&mut self) -> Result<(), String> {
        match self.child.try_wait() {
            Ok(None) => Ok(()),
            Ok(Some(status)) => Err(format!(
                "{} exited ({status}): {}",
                self.name,
                self.log_tail()
            )),
            Err(e) => Err(format!("{}: {e}", self.name)),
        }
    }

    fn log_tail(&self) -> String {
        let mut text = String::new();
        if let Ok(mut file) = std::fs::File::open(self.dir.join("stderr.log")) {
            let _ = file.read_to_string(&mut text);
        }
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(15)..].join("\n")
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        // COMMONPLACE_LOAD_LOGS=DIR keeps every process's log there.
        if let Some(keep) = std::env::var_os("COMMONPLACE_LOAD_LOGS") {
            let to = PathBuf::from(keep).join(format!("{}-{}.log", self.name, self.child.id()));
            let _ = std::fs::copy(self.dir.join("stderr.log"), to);
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// VmRSS in KiB (0 if the process is gone).
pub fn rss_kib(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|status| {
            let line = status.lines().find(|l| l.starts_with("VmRSS:"))?.to_owned();
            line.split_whitespace().nth(1)?.parse().ok()
        })
        .unwrap_or(0)
}

/// Waits until the process's memory stops moving (its connections have set up what they hold),
/// at most ~10 s; the last reading.
pub async fn settled_rss_kib(pid: u32) -> u64 {
    let mut last = rss_kib(pid);
    for _ in 0..50 {
        tokio::time::sleep(Duration::from_millis(200)).await;
        let now = rss_kib(pid);
        if now.abs_diff(last) < 64 {
            return now;
        }
        last = now;
    }
    last
}

/// utime + stime of a process (`self` for this one), in clock ticks.
pub fn cpu_ticks(pid: u32) -> u64 {
    cpu_ticks_of(&format!("/proc/{pid}/stat"))
}

pub fn own_cpu_ticks() -> u64 {
    cpu_ticks_of("/proc/self/stat")
}

fn cpu_ticks_of(path: &str) -> u64 {
    let Ok(stat) = std::fs::read_to_string(path) else {
        return 0;
    };
    // Fields after the command name (which may hold spaces), from field 3 on: utime is 14, stime 15.
    let Some(rest) = stat.rsplit_once(')').map(|(_, rest)| rest) else {
        return 0;
    };
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let get = |i: usize| {
        fields
            .get(i - 3)
            .and_then(|f| f.parse::<u64>().ok())
            .unwrap_or(0)
    };
    get(14) + get(15)
}

pub fn ticks_per_second() -> u64 {
    // SAFETY: sysconf reads a constant.
    let ticks = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    if ticks > 0 {
        ticks as u64
    } else {
        100
    }
}

/// The machine's load averages, `/proc/loadavg`'s first three fields.
pub fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|l| l.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|_| "?".into())
}

/// Raises this process's open-files limit (children inherit it): 65536, or the hard limit if
/// that cannot be raised (not root). The limit in force.
pub fn raise_open_files(wanted: u64) -> u64 {
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit writes one rlimit.
    if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) } != 0 {
        return 0;
    }
    let raised = libc::rlimit {
        rlim_cur: wanted.max(limit.rlim_cur),
        rlim_max: wanted.max(limit.rlim_max),
    };
    // SAFETY: setrlimit reads one rlimit.
    if unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &raised) } == 0 {
        return raised.rlim_cur;
    }
    let soft = libc::rlimit {
        rlim_cur: limit.rlim_max,
        rlim_max: limit.rlim_max,
    };
    // SAFETY: as above.
    if unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &soft) } == 0 {
        return soft.rlim_cur;
    }
    limit.rlim_cur
}

impl Proc {
    /// The value after `key` (up to a space) on the first log line containing `line`.
    pub fn log_field(&self, line: &str, key: &str) -> Option<String> {
        let text = std::fs::read_to_string(self.dir.join("stderr.log")).ok()?;
        let found = text.lines().find(|l| l.contains(line))?;
        let rest = &found[found.find(key)? + key.len()..];
        Some(rest.split_whitespace().next()?.to_owned())
    }
}
