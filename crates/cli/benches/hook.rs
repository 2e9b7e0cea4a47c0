//! The wall time of one `yoi hook claude-code` process (release build), as
//! Claude Code starts it: a `PreToolUse` event on stdin, the guard active
//! in a registry, the compile cache warm; against a shell hook that only
//! runs `jq` on the same input, the usual way such hooks are written.
//!
//! Not criterion: these are process latencies. Run it with
//! `cargo xtask bench` (or `cargo bench -p yoi-cli --bench hook` after
//! `cargo xtask build-examples`); `YOI_BENCH_RUNS` sets the runs (default
//! 300). The figures are in docs/BENCHMARKS.md.

use std::io::Write as _;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

#[path = "../tests/support/mod.rs"]
mod support;
use support::example;

const EVENT: &str = r#"{"session_id":"bench","transcript_path":"/tmp/t.jsonl","cwd":"/tmp","permission_mode":"default","hook_event_name":"PreToolUse","tool_name":"Bash","tool_input":{"command":"npm test","description":"Run the tests"},"tool_use_id":"toolu_bench"}"#;

/// One run of `program` with the event on stdin; its wall time.
fn once(program: &str, args: &[&str], envs: &[(&str, &std::path::Path)]) -> Duration {
    let started = Instant::now();
    let mut child = Command::new(program)
        .args(args)
        .envs(envs.iter().map(|(k, v)| (*k, *v)))
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("the hook starts");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(EVENT.as_bytes())
        .expect("the event");
    let status = child.wait().expect("the hook ends");
    assert!(status.success(), "{program} {args:?}: {status}");
    started.elapsed()
}

fn report(label: &str, mut samples: Vec<Duration>) {
    samples.sort();
    let pct = |p: f64| samples[((samples.len() - 1) as f64 * p).round() as usize];
    println!(
        "{label:<44} p50 {:>7.2} ms  p99 {:>7.2} ms  ({} runs)",
        pct(0.5).as_secs_f64() * 1e3,
        pct(0.99).as_secs_f64() * 1e3,
        samples.len()
    );
}

fn main() {
    let runs: usize = std::env::var("YOI_BENCH_RUNS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(300);
    let home = tempfile::tempdir().expect("registry");
    let cache = tempfile::tempdir().expect("compile cache");
    let yoi = env!("CARGO_BIN_EXE_yoi");
    let envs = [("YOI_CACHE", cache.path())];
    let registry = home.path().to_str().expect("utf-8");
    for args in [
        vec!["publish", example("guard").to_str().expect("utf-8")],
        vec!["activate", "example.guard@0.1.0"],
    ] {
        let status = Command::new(yoi)
            .args(["--registry", registry])
            .args(&args)
            .stdout(Stdio::null())
            .status()
            .expect("yoi");
        assert!(status.success(), "{args:?}");
    }
    let hook = ["--registry", registry, "hook", "claude-code"];
    // The first run compiles the guard into the cache.
    for _ in 0..10 {
        once(yoi, &hook, &envs);
    }
    let samples = (0..runs).map(|_| once(yoi, &hook, &envs)).collect();
    report("yoi hook claude-code (guard, warm cache)", samples);
    let jq = [
        "-c",
        "jq -c '{tool: .tool_name, command: .tool_input.command}' > /dev/null",
    ];
    let samples = (0..runs).map(|_| once("sh", &jq, &[])).collect();
    report("sh -c 'jq ...' (a shell hook reading its input)", samples);
}
