//! Load on a real `yoi serve` process (release build) over loopback:
//!
//! - the snapshot route (plain, and in the push contract's shape the page
//!   reads) on a registry of 10,000 versions, 100,000 audit
//!   records and 100,000 runtime events, under 16 concurrent clients, each on
//!   its own connection: latency p50 / p90 / p99 / max and throughput, for
//!   the dashboard's query (newest 100 of each log) and a paging one;
//! - the change stream fanned out to 100 subscribers: the time from a write
//!   to each subscriber's `plugins.updated`, for writes through the API and
//!   for writes by another process (the CLI).
//!
//! Not criterion: these are latency distributions under concurrency. Run it
//! with `cargo xtask bench` (or `cargo bench -p yoi-cli --bench serve`);
//! `YOI_BENCH_SECS` sets the seconds per load phase (default 10). The
//! figures are in docs/BENCHMARKS.md.

use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::Mutex;

#[path = "../../registry/benches/seed/mod.rs"]
mod seed;
#[path = "../tests/support/mod.rs"]
mod support;
use support::Server;

const CLIENTS: usize = 16;
const SUBSCRIBERS: usize = 100;
const WRITES: usize = 40;

/// p-th percentile of sorted samples.
fn pct(sorted: &[Duration], p: f64) -> Duration {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

fn ms(d: Duration) -> String {
    format!("{:.2} ms", d.as_secs_f64() * 1000.0)
}

/// `CLIENTS` clients asking for the snapshot for `secs` seconds; with
/// `churn`, a write every quarter second meanwhile (each one a cache miss).
async fn snapshot_load(server: &Server, query: &str, secs: u64, churn: bool) {
    let url = format!("{}/api/v1/snapshot{query}", server.url);
    let samples = Arc::new(Mutex::new(Vec::new()));
    let bytes = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let warmup = Instant::now() + Duration::from_secs(1);
    let end = warmup + Duration::from_secs(secs);
    let mut tasks = Vec::new();
    for _ in 0..CLIENTS {
        let (url, token) = (url.clone(), server.rw.clone());
        let (samples, bytes) = (samples.clone(), bytes.clone());
        tasks.push(tokio::spawn(async move {
            // One client each: its own connection, like separate dashboards.
            let client = reqwest::Client::new();
            let mut mine = Vec::new();
            loop {
                let started = Instant::now();
                if started >= end {
                    break;
                }
                let response = client
                    .get(&url)
                    .bearer_auth(&token)
                    .send()
                    .await
                    .expect("answer");
                assert_eq!(response.status(), 200);
                let body = response.bytes().await.expect("body");
                if started >= warmup {
                    mine.push(started.elapsed());
                    bytes.store(body.len(), std::sync::atomic::Ordering::Relaxed);
                }
            }
            samples.lock().await.extend(mine);
        }));
    }
    let writer = churn.then(|| {
        let (url, token) = (
            format!("{}/api/v1/operations", server.url),
            server.rw.clone(),
        );
        tokio::spawn(async move {
            let client = reqwest::Client::new();
            for i in 0.. {
                if Instant::now() >= end {
                    break;
                }
                let op = if i % 2 == 0 {
                    serde_json::json!({"op": "disable", "plugin": "plugin.2", "reason": "bench"})
                } else {
                    serde_json::json!({"op": "enable", "plugin": "plugin.2"})
                };
                let sent = client.post(&url).bearer_auth(&token).body(op.to_string());
                assert_eq!(sent.send().await.expect("answer").status(), 200);
                tokio::time::sleep(Duration::from_millis(250)).await;
            }
        })
    });
    for task in tasks {
        task.await.expect("client");
    }
    if let Some(writer) = writer {
        writer.await.expect("writer");
    }
    let mut all = samples.lock().await.clone();
    all.sort();
    let label = format!("{query}{}", if churn { " +4 writes/s" } else { "" });
    println!(
        "snapshot {label:<34} {CLIENTS} clients: {:>6} requests, {:>7.1} req/s, p50 {}, p90 {}, p99 {}, max {}, {} KiB each",
        all.len(),
        all.len() as f64 / secs as f64,
        ms(pct(&all, 0.50)),
        ms(pct(&all, 0.90)),
        ms(pct(&all, 0.99)),
        ms(pct(&all, 1.0)),
        bytes.load(std::sync::atomic::Ordering::Relaxed) / 1024,
    );
}

/// 100 subscribers; `write` performs one registry write and returns the
/// instant it was committed; each subscriber notes when it heard of it.
async fn fan_out<F, Fut>(server: &Server, label: &str, writes: usize, mut write: F)
where
    F: FnMut(usize) -> Fut,
    Fut: std::future::Future<Output = Instant>,
{
    let heard: Arc<Mutex<Vec<(i64, Instant)>>> = Arc::new(Mutex::new(Vec::new()));
    let mut ready = Vec::new();
    let mut tasks = Vec::new();
    for _ in 0..SUBSCRIBERS {
        let (url, token, heard) = (
            format!("{}/api/v1/changes", server.url),
            server.rw.clone(),
            heard.clone(),
        );
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        ready.push(rx);
        tasks.push(tokio::spawn(async move {
            let client = reqwest::Client::new();
            let mut stream = client
                .get(&url)
                .bearer_auth(&token)
                .send()
                .await
                .expect("stream");
            let mut tx = Some(tx);
            let mut buffer = String::new();
            while let Ok(Some(chunk)) = stream.chunk().await {
                let at = Instant::now();
                buffer.push_str(&String::from_utf8_lossy(&chunk));
                while let Some(end) = buffer.find("\n\n") {
                    let block: String = buffer.drain(..end + 2).collect();
                    if block.contains("event: marks") {
                        if let Some(tx) = tx.take() {
                            let _ = tx.send(());
                        }
                    } else if block.contains("event: plugins.updated") {
                        let data = block.split("data: ").nth(1).unwrap_or_default();
                        let marks: serde_json::Value =
                            serde_json::from_str(data.trim()).expect("marks");
                        let seq = marks["seq"].as_i64().expect("seq");
                        heard.lock().await.push((seq, at));
                    }
                }
            }
        }));
    }
    for rx in ready {
        rx.await.expect("subscribed");
    }
    let mut committed = Vec::new();
    for i in 0..writes {
        committed.push(write(i).await);
        // Apart enough that each write is its own notification.
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    for task in &tasks {
        task.abort();
    }
    let heard = heard.lock().await.clone();
    let first_seq = heard.iter().map(|(s, _)| *s).min().expect("events heard");
    let mut delays = Vec::new();
    for (seq, at) in &heard {
        let i = usize::try_from(seq - first_seq).expect("index");
        if let Some(done) = committed.get(i) {
            delays.push(at.saturating_duration_since(*done));
        }
    }
    delays.sort();
    println!(
        "changes, {label:<28} {SUBSCRIBERS} subscribers × {writes} writes: {} deliveries of {}, p50 {}, p99 {}, max {}",
        delays.len(),
        SUBSCRIBERS * writes,
        ms(pct(&delays, 0.50)),
        ms(pct(&delays, 0.99)),
        ms(pct(&delays, 1.0)),
    );
}

fn main() {
    // `cargo bench` passes `--bench`; a filter argument picks nothing here.
    let secs: u64 = std::env::var("YOI_BENCH_SECS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(10);
    let home = tempfile::tempdir().expect("registry folder");
    let started = Instant::now();
    seed::seed(home.path(), 10_000, 100_000, 100_000);
    println!(
        "seeded 10,000 versions, 100,000 audit records, 100,000 events in {:.1} s",
        started.elapsed().as_secs_f64()
    );
    // Every client here comes from one address: the per-address limit
    // (64 by default) would refuse the 100 subscribers.
    let server = support::serve_in(home.path(), &["--max-connections-per-peer", "256"]);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    runtime.block_on(async {
        snapshot_load(&server, "", secs, false).await;
        snapshot_load(&server, "?after=0&limit=1000", secs, false).await;
        snapshot_load(&server, "", secs, true).await;
        // The page's query: the push contract's shape, each version's
        // manifest as an object and its requests with their decisions.
        snapshot_load(&server, "?shape=contract&limit=50", secs, false).await;
        snapshot_load(&server, "?shape=contract&limit=50", secs, true).await;

        let client = reqwest::Client::new();
        let operations = format!("{}/api/v1/operations", server.url);
        fan_out(&server, "writes through the API", WRITES, |i| {
            let (client, url, token) = (client.clone(), operations.clone(), server.rw.clone());
            async move {
                let op = if i % 2 == 0 {
                    serde_json::json!({"op": "disable", "plugin": "plugin.0", "reason": "bench"})
                } else {
                    serde_json::json!({"op": "enable", "plugin": "plugin.0"})
                };
                let response = client
                    .post(&url)
                    .bearer_auth(&token)
                    .body(op.to_string())
                    .send()
                    .await
                    .expect("answer");
                assert_eq!(response.status(), 200);
                Instant::now()
            }
        })
        .await;
        let home = home.path().to_path_buf();
        fan_out(&server, "writes by another process", WRITES / 2, |i| {
            let home = home.clone();
            async move {
                let args: Vec<&str> = if i % 2 == 0 {
                    vec!["disable", "plugin.1", "--reason", "bench"]
                } else {
                    vec!["enable", "plugin.1"]
                };
                let out = tokio::task::spawn_blocking(move || {
                    Command::new(env!("CARGO_BIN_EXE_yoi"))
                        .arg("--registry")
                        .arg(&home)
                        .args(&args)
                        .output()
                })
                .await
                .expect("joined")
                .expect("yoi runs");
                assert!(out.status.success(), "{out:?}");
                Instant::now()
            }
        })
        .await;
    });
}
