//! Real editing traces (`support::trace::traces_dir`: `$COMMONPLACE_TRACES`, or
//! `../shared/traces/` beside the repository; see its README) replayed through real rooms, and
//! seeded synthetic traces of the same shapes for clones without them.

mod support;

use support::replay::{replay_concurrent, replay_sequential};
use support::trace::{self, synth_concurrent, synth_sequential, Trace};

/// The client ids of the concurrent replays' agents.
const AGENTS: [u64; 2] = [0x1_0001, 0x2_0002];

fn check_concurrent(name: &str, trace: &Trace) {
    let (net, replay) = replay_concurrent(trace, AGENTS);
    println!("{}", replay.report(name));
    for i in 0..2 {
        assert!(
            net.room(i).text() == trace.end,
            "{name}: room {i}'s page is not endContent"
        );
        assert!(
            net.peers[i].editor.text() == trace.end,
            "{name}: room {i}'s editor is not endContent"
        );
    }
}

/// How many txns of a long sequential trace to replay: all in optimized builds or with
/// `TRACE_FULL=1`, else the first `debug` (the editor path costs O(length) per keystroke, slow
/// without optimizations); `TRACE_TXNS=n` sets the number.
fn sequential_limit(debug: usize) -> Option<usize> {
    if let Some(n) = std::env::var("TRACE_TXNS")
        .ok()
        .and_then(|v| v.parse().ok())
    {
        return Some(n);
    }
    let full = !cfg!(debug_assertions) || std::env::var_os("TRACE_FULL").is_some();
    (!full).then_some(debug)
}

fn check_sequential(name: &str, trace: &Trace, limit: Option<usize>) {
    assert!(
        trace::apply_all(trace) == trace.end,
        "{name}: the patches do not make endContent"
    );
    let (net, replay, value) = replay_sequential(trace, limit, 5_000);
    let expected = if replay.txns >= trace.txns.len() {
        assert!(
            value == trace.end,
            "{name}: the textarea does not end at endContent"
        );
        &trace.end
    } else {
        println!(
            "{name}: replayed the first {} of {} txns (TRACE_FULL=1 for all)",
            replay.txns,
            trace.txns.len()
        );
        &value
    };
    println!("{}", replay.report(name));
    // Patches count code points: none splits a surrogate pair, so the browser's fast path
    // takes every one of them.
    assert_eq!(
        replay.simple.refused, 0,
        "{name}: simple_input refused simple edits"
    );
    assert!(
        net.peers[0].editor.text() == *expected,
        "{name}: A's editor differs"
    );
    assert!(net.room(0).text() == *expected, "{name}: A's page differs");
    assert!(net.room(1).text() == *expected, "{name}: B's page differs");
    assert!(
        net.peers[1].editor.text() == *expected,
        "{name}: B's editor differs"
    );
}

#[test]
fn friendsforever_concurrent_replay_converges() {
    let Some(trace) = trace::load("friendsforever.json.gz") else {
        return;
    };
    check_concurrent("friendsforever", &trace);
}

#[test]
fn seph_blog1_through_the_editor_path() {
    let Some(trace) = trace::load("seph-blog1.json.gz") else {
        return;
    };
    check_sequential("seph-blog1", &trace, sequential_limit(12_000));
}

#[test]
fn rustcode_through_the_editor_path() {
    let Some(trace) = trace::load("rustcode.json.gz") else {
        return;
    };
    check_sequential("rustcode", &trace, sequential_limit(1_500));
}

#[test]
fn synthetic_concurrent_traces_converge() {
    for seed in 0..20 {
        let trace = synth_concurrent(seed, 400, AGENTS);
        assert!(trace.has_astral());
        check_concurrent(&format!("synthetic concurrent {seed}"), &trace);
    }
}

#[test]
fn synthetic_sequential_traces_through_the_editor_path() {
    for seed in 0..20 {
        let trace = synth_sequential(seed, 1_000);
        assert!(trace.has_astral());
        check_sequential(&format!("synthetic sequential {seed}"), &trace, None);
    }
}
