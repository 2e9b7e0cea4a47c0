//! Resident memory: what a loaded plugin and an idle warm instance cost,
//! what 50 plugins with different code cost to boot, and whether a million
//! dispatches leave anything behind.
//!
//! Not criterion: these are sizes read from `/proc/self/statm` (Linux),
//! and one timed boot. Run with `cargo xtask bench` (or `cargo bench -p
//! yoi-host --bench memory`); `YOI_BENCH_DISPATCHES` sets the length of
//! the long runs (default 1,000,000). The figures are in
//! docs/BENCHMARKS.md.

use std::time::Instant;

mod support;

use support::{example, guard_copies as copies, guard_event, runtime};
use yoi_host::Host;

/// Resident bytes of this process.
fn rss() -> usize {
    let statm = std::fs::read_to_string("/proc/self/statm").expect("/proc/self/statm (Linux)");
    let pages: usize = statm
        .split_whitespace()
        .nth(1)
        .and_then(|p| p.parse().ok())
        .expect("resident pages");
    pages * 4096
}

fn mib(bytes: f64) -> String {
    format!("{:.2} MiB", bytes / (1024.0 * 1024.0))
}

/// Dispatches `n` events, printing the resident size every tenth of the
/// way; returns (RSS after the first tenth, RSS at the end).
fn long_run(label: &str, host: &Host, n: usize) -> (usize, usize) {
    let rt = runtime();
    let tenth = (n / 10).max(1);
    let mut first = 0;
    let started = Instant::now();
    for i in 1..=n {
        let out = rt.block_on(host.dispatch(guard_event()));
        assert_eq!(out.receipts.len(), 1);
        if i % tenth == 0 {
            let now = rss();
            if i == tenth {
                first = now;
            }
            println!("  {label}: {i:>8} dispatches, RSS {}", mib(now as f64));
        }
    }
    let last = rss();
    println!(
        "  {label}: {n} dispatches in {:.1} s; RSS after the first tenth {}, at the end {} ({:+} KiB)",
        started.elapsed().as_secs_f64(),
        mib(first as f64),
        mib(last as f64),
        (last as i64 - first as i64) / 1024
    );
    (first, last)
}

fn main() {
    // `cargo bench` passes `--bench`; a filter means another bench was asked for.
    if std::env::args().skip(1).any(|a| !a.starts_with('-')) {
        return;
    }
    let n: usize = std::env::var("YOI_BENCH_DISPATCHES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1_000_000);
    let tmp = tempfile::tempdir().expect("temp");
    let distinct = copies(&tmp.path().join("distinct"), 50, true);
    let shared = copies(&tmp.path().join("shared"), 50, false);

    println!("memory: resident sizes (RSS), guard copies");
    let base = rss();
    let host = Host::builder().reuse_instances(true).build().expect("host");
    let with_host = rss();
    println!(
        "  empty host (engine, pool reserved): {}",
        mib((with_host - base) as f64)
    );

    let started = Instant::now();
    for dir in &distinct {
        host.load(dir).expect("copy loads");
    }
    let boot = started.elapsed();
    let loaded = rss();
    println!(
        "  50 plugins with distinct code, compiled: {:.2} s; {} per loaded plugin",
        boot.as_secs_f64(),
        mib((loaded - with_host) as f64 / 50.0)
    );

    let rt = runtime();
    let out = rt.block_on(host.dispatch(guard_event()));
    assert_eq!(out.receipts.len(), 50);
    let warm = rss();
    println!(
        "  after one dispatch through all 50 (one idle warm instance each): {} per idle warm instance",
        mib((warm - loaded) as f64 / 50.0)
    );
    drop(host);

    let host = Host::builder().build().expect("host");
    let before = rss();
    for dir in &shared {
        host.load(dir).expect("copy loads");
    }
    println!(
        "  50 plugins sharing one digest: {} per loaded plugin (one compiled component)",
        mib((rss() - before) as f64 / 50.0)
    );
    drop(host);

    println!("memory: {n} dispatches to one plugin");
    let fresh = Host::builder().build().expect("host");
    fresh.load(example("guard")).expect("guard loads");
    let (first, last) = long_run("fresh (default)", &fresh, n);
    drop(fresh);
    let warm = Host::builder().reuse_instances(true).build().expect("host");
    warm.load(example("guard")).expect("guard loads");
    let (wfirst, wlast) = long_run("warm", &warm, n);
    // Growth past the first tenth is a leak: allow allocator noise only.
    for (label, a, b) in [("fresh", first, last), ("warm", wfirst, wlast)] {
        assert!(
            b <= a + 2 * 1024 * 1024,
            "{label}: resident memory grew from {} to {} over the run",
            mib(a as f64),
            mib(b as f64)
        );
    }
}
