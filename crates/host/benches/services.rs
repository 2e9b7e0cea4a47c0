//! Services: throughput, latency at the edge, and memory.
//!
//! Needs the example components: `cargo xtask bench` builds them and runs
//! this. Results are recorded in docs/BENCHMARKS.md.
//!
//! - `service/echo`: one `message` event through one service of
//!   `examples/hostile/services`, which answers with an `emit`, until the
//!   embedder has the output: events per second through one service's queue,
//!   worker and commands (batches of 100, so the queue is never empty)
//! - `service/frame_round_trip`: a frame from the loopback gateway stand-in
//!   to `examples/chat-bridge` and its `ack` frame back at the stand-in;
//!   p50 and p99 over 2,000 round trips are printed too
//! - memory per idle service (printed): resident memory of a plugin with 51
//!   services minus one with 1, net of the plugin's own code

mod support;

#[path = "../tests/e2e/gateway.rs"]
#[allow(dead_code)]
mod gateway;

use std::path::Path;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use gateway::Gateway;
use serde_json::json;
use support::example;
use yoi_host::{Host, ServiceState};

const PROBE: &str = "example.services";

fn host() -> Host {
    Host::builder()
        .compile_cache(Path::new(env!("CARGO_TARGET_TMPDIR")).join("yoi-bench-cache"))
        .build()
        .expect("host")
}

fn until(what: &str, done: impl Fn() -> bool) {
    let started = Instant::now();
    while !done() {
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "timed out waiting for {what}"
        );
        std::thread::sleep(Duration::from_millis(2));
    }
}

/// A copy of a package with its manifest edited.
fn copy(name: &str, edit: impl Fn(String) -> String) -> tempfile::TempDir {
    let src = example(name);
    let tmp = tempfile::tempdir().expect("temp dir");
    for entry in std::fs::read_dir(&src).expect("example").flatten() {
        let path = entry.path();
        if path.extension().is_some_and(|e| e == "wasm") || path.ends_with("plugin.toml") {
            std::fs::copy(&path, tmp.path().join(entry.file_name())).expect("copy");
        }
    }
    let manifest = tmp.path().join("plugin.toml");
    let text = std::fs::read_to_string(&manifest).expect("manifest");
    std::fs::write(&manifest, edit(text)).expect("manifest");
    tmp
}

fn echo(c: &mut Criterion) {
    let host = host();
    host.load(example("hostile/services")).expect("probe");
    until("flaky runs", || {
        host.service(PROBE, "flaky")
            .is_some_and(|s| s.state == ServiceState::Running)
    });
    let outputs = host.service_outputs();
    let mut g = c.benchmark_group("service");
    const BATCH: u64 = 100;
    g.throughput(Throughput::Elements(BATCH));
    g.bench_function("echo", |b| {
        b.iter_custom(|iters| {
            let started = Instant::now();
            for _ in 0..iters {
                for i in 0..BATCH {
                    host.send_to_service(PROBE, "flaky", "echo", json!({ "i": i }))
                        .expect("room");
                }
                let mut got = 0;
                while got < BATCH {
                    let out = outputs
                        .recv_timeout(Duration::from_secs(10))
                        .expect("an output");
                    if out.kind == "echo" {
                        got += 1;
                    }
                }
            }
            started.elapsed()
        });
    });
    g.finish();
}

fn frame_round_trip(c: &mut Criterion) {
    let gw = Gateway::start();
    let port = gw.port;
    let dir = copy("chat-bridge", |m| {
        m.replace("127.0.0.1:18460", &format!("127.0.0.1:{port}"))
    });
    let host = host();
    host.load_with_grants(dir.path(), &[format!("websocket:ws://127.0.0.1:{port}")])
        .expect("bridge");
    until("the connection", || gw.accepted.load(Ordering::SeqCst) == 1);
    until("running", || {
        host.service("example.chat-bridge", "gateway")
            .is_some_and(|s| s.connected && s.state == ServiceState::Running)
    });
    let frames = gw.frames();
    let mut n = 0u64;
    let mut round_trip = || {
        n += 1;
        let started = Instant::now();
        gw.send(&format!(
            r#"{{"type":"message","id":"m{n}","channel":"bench","user":"b","text":"ping"}}"#
        ));
        let ack = frames
            .recv_timeout(Duration::from_secs(10))
            .expect("an ack");
        debug_assert!(ack.contains("ack"));
        started.elapsed()
    };
    let mut samples: Vec<Duration> = (0..2000).map(|_| round_trip()).collect();
    samples.sort_unstable();
    let pct = |p: f64| samples[((samples.len() as f64 - 1.0) * p) as usize];
    println!(
        "service/frame_round_trip over {} round trips: p50 {:?}, p99 {:?}, max {:?}",
        samples.len(),
        pct(0.50),
        pct(0.99),
        samples[samples.len() - 1]
    );
    let mut g = c.benchmark_group("service");
    g.bench_function("frame_round_trip", |b| {
        b.iter_custom(|iters| (0..iters).map(|_| round_trip()).sum());
    });
    g.finish();
}

/// Resident memory of this process, in bytes.
fn rss() -> u64 {
    let statm = std::fs::read_to_string("/proc/self/statm").unwrap_or_default();
    let pages: u64 = statm
        .split_whitespace()
        .nth(1)
        .and_then(|p| p.parse().ok())
        .unwrap_or(0);
    pages * 4096
}

/// The probe as `id` with `n` copies of an idle service (`idle1`...).
fn with_services(id: &str, n: usize) -> tempfile::TempDir {
    copy("hostile/services", |m| {
        let head = m
            .split("[[services]]")
            .next()
            .unwrap_or_default()
            .to_owned();
        let services: String = (1..=n)
            .map(|i| format!("[[services]]\nname = \"idle{i}\"\n\n"))
            .collect();
        head.replace("id = \"example.services\"", &format!("id = \"{id}\"")) + &services
    })
}

fn memory(c: &mut Criterion) {
    const N: usize = 50;
    let host = host();
    let running = |id: &str, n: usize| {
        host.services()
            .iter()
            .filter(|s| s.plugin.as_str() == id && s.state == ServiceState::Running)
            .count()
            == n
    };
    let settle = || {
        std::thread::sleep(Duration::from_millis(300));
        rss()
    };
    let (a, b, z) = (
        with_services("bench.a", 1),
        with_services("bench.b", N + 1),
        with_services("bench.z", 1),
    );
    host.load(a.path()).expect("a");
    until("a", || running("bench.a", 1));
    let r1 = settle();
    host.load(b.path()).expect("b");
    until("b", || running("bench.b", N + 1));
    let r2 = settle();
    host.load(z.path()).expect("z");
    until("z", || running("bench.z", 1));
    let r3 = settle();
    let plugin = r3.saturating_sub(r2);
    let per_service = (r2.saturating_sub(r1)).saturating_sub(plugin) / N as u64;
    println!(
        "memory: {} KiB per idle service ({N} services: +{} KiB; one more plugin with one service: +{} KiB)",
        per_service / 1024,
        r2.saturating_sub(r1) / 1024,
        plugin / 1024
    );
    let mut g = c.benchmark_group("service");
    g.bench_function("statuses_of_53", |b| b.iter(|| host.services().len()));
    g.finish();
}

criterion_group!(benches, echo, frame_round_trip, memory);
criterion_main!(benches);
