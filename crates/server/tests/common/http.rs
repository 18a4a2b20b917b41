//! A small HTTP/1.1 client for the store tests: one keep-alive connection, requests written by
//! hand, responses read with Content-Length or chunked bodies. Enough to see exactly what the
//! server sends, status, headers and bytes.

use super::WAIT;
use std::net::{IpAddr, SocketAddr};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpSocket, TcpStream};
use tokio::time::timeout;

pub struct Http {
    addr: SocketAddr,
    stream: TcpStream,
}

#[derive(Debug, Clone)]
pub struct Reply {
    pub status: u16,
    /// Names in lowercase.
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Reply {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    pub fn json(&self) -> serde_json::Value {
        assert_eq!(
            self.header("content-type"),
            Some("application/json"),
            "{self:?}"
        );
        serde_json::from_slice(&self.body).unwrap()
    }

    /// The `error` sentence of a JSON error body.
    pub fn error(&self) -> String {
        let json = self.json();
        json["error"]
            .as_str()
            .expect("an error sentence")
            .to_string()
    }
}

/// How a request sends its body.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Framing {
    Length,
    Chunked,
}

impl Http {
    pub async fn connect(addr: SocketAddr) -> Http {
        let stream = timeout(WAIT, TcpStream::connect(addr))
            .await
            .unwrap()
            .unwrap();
        stream.set_nodelay(true).unwrap();
        Http { addr, stream }
    }

    /// From another loopback address (e.g. 127.0.0.2): another client, as the server counts.
    pub async fn connect_from(addr: SocketAddr, from: IpAddr) -> Http {
        let socket = TcpSocket::new_v4().unwrap();
        socket.bind(SocketAddr::new(from, 0)).unwrap();
        let stream = timeout(WAIT, socket.connect(addr)).await.unwrap().unwrap();
        stream.set_nodelay(true).unwrap();
        Http { addr, stream }
    }

    /// One request on a connection of its own.
    pub async fn once(
        addr: SocketAddr,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: &[u8],
    ) -> Reply {
        Http::connect(addr)
            .await
            .request(method, path, headers, body)
            .await
    }

    pub async fn request(
        &mut self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: &[u8],
    ) -> Reply {
        self.send(method, path, headers, body, Framing::Length)
            .await
    }

    pub async fn send(
        &mut self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: &[u8],
        framing: Framing,
    ) -> Reply {
        let mut head = format!("{method} {path} HTTP/1.1\r\nHost: {}\r\n", self.addr);
        for (name, value) in headers {
            head.push_str(&format!("{name}: {value}\r\n"));
        }
        let mut request = Vec::new();
        match framing {
            Framing::Length => {
                let given = headers
                    .iter()
                    .any(|(name, _)| name.eq_ignore_ascii_case("content-length"));
                if !given && (!body.is_empty() || method == "POST" || method == "PUT") {
                    head.push_str(&format!("Content-Length: {}\r\n", body.len()));
                }
                head.push_str("\r\n");
                request.extend_from_slice(head.as_bytes());
                request.extend_from_slice(body);
            }
            Framing::Chunked => {
                head.push_str("Transfer-Encoding: chunked\r\n\r\n");
                request.extend_from_slice(head.as_bytes());
                for chunk in body.chunks(16 * 1024) {
                    request.extend_from_slice(format!("{:x}\r\n", chunk.len()).as_bytes());
                    request.extend_from_slice(chunk);
                    request.extend_from_slice(b"\r\n");
                }
                request.extend_from_slice(b"0\r\n\r\n");
            }
        }
        // The server may answer (413, 429) before reading a large body, and close: write and
        // read at once, and keep what was read even if the write fails.
        // The server sends nothing but the reply, so a reader made for this one reads no
        // further than its end.
        let (stream_read, mut stream_write) = self.stream.split();
        let mut reader = BufReader::new(stream_read);
        let write = async move {
            let _ = stream_write.write_all(&request).await;
        };
        let read = read_reply(&mut reader, method == "HEAD");
        let (reply, ()) = timeout(WAIT, async { tokio::join!(read, write) })
            .await
            .expect("no reply in time");
        reply
    }
}

/// A reply to HEAD has a body's headers and no body.
async fn read_reply<R: tokio::io::AsyncBufRead + Unpin>(stream: &mut R, head: bool) -> Reply {
    let mut status_line = String::new();
    stream.read_line(&mut status_line).await.unwrap();
    let status: u16 = status_line
        .get(9..12)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("not an HTTP status line: {status_line:?}"));
    let mut headers = Vec::new();
    loop {
        let mut line = String::new();
        stream.read_line(&mut line).await.unwrap();
        let line = line.trim_end();
        if line.is_empty() {
            break;
        }
        let (name, value) = line.split_once(':').unwrap();
        headers.push((name.to_ascii_lowercase(), value.trim().to_string()));
    }
    let find = |name: &str| {
        headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.clone())
    };
    let mut body = Vec::new();
    if head {
    } else if let Some(len) = find("content-length") {
        body.resize(len.parse().unwrap(), 0);
        stream.read_exact(&mut body).await.unwrap();
    } else if find("transfer-encoding").is_some_and(|v| v.contains("chunked")) {
        loop {
            let mut size = String::new();
            stream.read_line(&mut size).await.unwrap();
            let size = usize::from_str_radix(size.trim(), 16).unwrap();
            let mut chunk = vec![0; size + 2];
            stream.read_exact(&mut chunk).await.unwrap();
            if size == 0 {
                break;
            }
            body.extend_from_slice(&chunk[..size]);
        }
    }
    Reply {
        status,
        headers,
        body,
    }
}
