//! What one client can make the server write to its log: a line now and then with a count,
//! not a line for each rejected frame.

mod common;

use common::*;
use futures_util::SinkExt;
use serde_json::json;
use std::ffi::OsStr;
use tokio_tungstenite::tungstenite::Message;

const REJECTED: usize = 10_000;

#[tokio::test]
async fn ten_thousand_rejected_subscribes_make_a_few_log_lines() {
    let server = start_binary(&[OsStr::new("--no-store")]).unwrap();
    let mut ws = connect(server.addr).await;
    let topics: Vec<String> = (0..64).map(|i| format!("t{i}")).collect();
    let topics: Vec<&str> = topics.iter().map(String::as_str).collect();
    subscribe(&mut ws, &topics).await;
    // The 65th topic, again and again.
    let frame = json!({"type": "subscribe", "topics": ["t64"]}).to_string();
    for _ in 0..REJECTED {
        ws.feed(Message::text(frame.clone())).await.unwrap();
    }
    ws.flush().await.unwrap();
    sync(&mut ws).await;
    ws.close(None).await.unwrap();
    let _ = closed(&mut ws).await;

    let log = server.stop();
    let lines: Vec<&str> = log.lines().filter(|l| l.contains("rejected")).collect();
    println!(
        "{} log lines about rejected frames:\n{}",
        lines.len(),
        lines.join("\n")
    );
    assert!(
        (1..=3).contains(&lines.len()),
        "{} lines about rejected frames",
        lines.len()
    );
    // What was not written is counted: the lines add up to every rejected frame.
    let counted: usize = lines.iter().map(|l| rejected_count(l)).sum();
    assert_eq!(counted, REJECTED, "{lines:#?}");
}

/// The `rejected=N` field of a log line (1 if it has none: the line is about one frame).
fn rejected_count(line: &str) -> usize {
    line.split_whitespace()
        .find_map(|field| field.strip_prefix("rejected="))
        .and_then(|n| n.parse().ok())
        .unwrap_or(1)
}
