//! Soak: many seeded simulations, each with its whole scenario drawn from its seed
//! (`support::soak`), across cores. Ignored by `cargo test`; `scripts/soak --runs N` runs it:
//!
//! ```text
//! SOAK_RUNS=1000 SOAK_SEED=0 SOAK_JOBS=2 cargo test --release -p commonplace-core --test soak -- --ignored --nocapture
//! ```
//!
//! Each run is one seed on one thread (a panic is caught and reported as that seed's failure).
//! The first failure stops the soak and prints the seed, what went wrong and the command that
//! replays it alone with every event traced.

mod support;

use std::panic::{self, AssertUnwindSafe};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::Instant;

use support::seed_count;
use support::sim::SECOND;
use support::soak::{soak_run, SoakStats};

/// How a failing seed is run again, alone and traced.
fn replay_command(seed: u64) -> String {
    format!("scripts/soak --runs 1 --seed {seed} --trace")
}

#[test]
#[ignore = "long: run by scripts/soak"]
fn soak() {
    let runs = seed_count("SOAK_RUNS", 100);
    let first = seed_count("SOAK_SEED", 0);
    let jobs = seed_count(
        "SOAK_JOBS",
        std::thread::available_parallelism().map_or(1, |n| n.get() as u64),
    )
    .clamp(1, runs.max(1));
    // SOAK_KEEP_GOING=1: run every seed, and list each failure's first line.
    let keep_going = std::env::var_os("SOAK_KEEP_GOING").is_some();
    let next = AtomicU64::new(first);
    let done = AtomicU64::new(0);
    let failed = AtomicBool::new(false);
    let totals = Mutex::new(SoakStats::default());
    let failures: Mutex<Vec<(u64, String)>> = Mutex::new(Vec::new());
    let start = Instant::now();
    // Panics are caught and reported per seed; the default hook would print each one as well.
    let quiet = runs > 1;
    let hook = panic::take_hook();
    if quiet {
        panic::set_hook(Box::new(|_| {}));
    }
    std::thread::scope(|scope| {
        for _ in 0..jobs {
            scope.spawn(|| loop {
                if failed.load(Ordering::Relaxed) && !keep_going {
                    return;
                }
                let seed = next.fetch_add(1, Ordering::Relaxed);
                if seed >= first + runs {
                    return;
                }
                match panic::catch_unwind(AssertUnwindSafe(|| soak_run(seed))) {
                    Ok(Ok(stats)) => totals.lock().unwrap().add(&stats),
                    Ok(Err(why)) => {
                        failed.store(true, Ordering::Relaxed);
                        failures.lock().unwrap().push((seed, why));
                    }
                    Err(panic) => {
                        failed.store(true, Ordering::Relaxed);
                        let why = panic
                            .downcast_ref::<String>()
                            .cloned()
                            .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
                            .unwrap_or_else(|| "a panic".into());
                        failures
                            .lock()
                            .unwrap()
                            .push((seed, format!("seed {seed} panicked: {why}")));
                    }
                }
                let n = done.fetch_add(1, Ordering::Relaxed) + 1;
                if n.is_multiple_of(1000) {
                    let secs = start.elapsed().as_secs_f64();
                    println!("soak: {n} runs in {secs:.0} s");
                }
            });
        }
    });
    if quiet {
        panic::set_hook(hook);
    }
    let elapsed = start.elapsed().as_secs_f64();
    let done = done.load(Ordering::Relaxed);
    let t = totals.into_inner().unwrap();
    println!(
        "soak: {done} runs (seeds from {first}) on {jobs} threads in {elapsed:.1} s: {:.1} runs/s; \
         {} peers, {} keyed rooms, {} events, {} simulated s, {} browser restarts, {} actions \
         besides typing, {} store requests; {} runs where peers saw a caret at different offsets",
        done as f64 / elapsed.max(1e-9),
        t.peers,
        t.keyed,
        t.events,
        t.simulated_ms / SECOND,
        t.restarts,
        t.acts,
        t.store_requests,
        t.caret_disagreements,
    );
    let mut failures = failures.into_inner().unwrap();
    failures.sort();
    if keep_going {
        for (seed, why) in &failures {
            // The first line, and the reasons of dropped input (their lines are quoted).
            let reasons = why.lines().filter(|l| l.trim_start().starts_with('"'));
            let line = why
                .lines()
                .take(1)
                .chain(reasons)
                .collect::<Vec<_>>()
                .join(" | ");
            println!(
                "soak: seed {seed}: {}",
                line.chars().take(400).collect::<String>()
            );
        }
    }
    if let Some((seed, why)) = failures.first() {
        panic!(
            "soak: {} of {done} runs failed; the first, seed {seed}:\n{why}\n\nreplay: {}",
            failures.len(),
            replay_command(*seed)
        );
    }
    println!("soak: 0 failures");
}
