//! `tools/call` through a real `yoi mcp` process (release build) over
//! loopback, against the same call made in process:
//!
//! - the round trip of one call at a time, p50 / p99, in process
//!   (`Host::call_tool`), over stdio and over Streamable HTTP (2026-07-28,
//!   stateless, one kept-alive connection): the Rust notes tool with the
//!   guard before it (`tool.pre_exec`) and redact after it (`tool.post_exec`,
//!   `tool.result_persist`);
//! - the floors under those: the in-process call made from a spawned
//!   Tokio task (as a server on Tokio makes it), a `server/discover` that
//!   calls nothing, the same line echoed by `cat` over pipes, and an HTTP
//!   request the router answers 404;
//! - calls per second with 16 concurrent HTTP clients, each on its own
//!   connection, and the server's resident memory at rest and under that
//!   load.
//!
//! Not criterion: these are latency distributions and a process's memory.
//! Run it with `cargo xtask bench` (or `cargo bench -p yoi-cli --bench mcp`
//! after `cargo xtask build-examples`); `YOI_BENCH_SECS` sets the seconds of
//! the load phase (default 10), `YOI_BENCH_CALLS` the calls per latency run
//! (default 5000). The figures are in docs/BENCHMARKS.md.

use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use yoi_host::{Host, HostConfig, ToolRequest, ToolStatus};

#[path = "../tests/support/mod.rs"]
mod support;
use support::{Process, example, listening_url};

const CLIENTS: usize = 16;
const TOOL: &str = "example.notes.read_note";

/// p-th percentile of sorted samples.
fn pct(sorted: &[Duration], p: f64) -> Duration {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

fn us(d: Duration) -> String {
    format!("{:.0} µs", d.as_secs_f64() * 1e6)
}

fn report(label: &str, mut samples: Vec<Duration>) -> Duration {
    samples.sort();
    let p50 = pct(&samples, 0.5);
    println!(
        "{label:<28} p50 {:>8}  p99 {:>8}  ({} calls)",
        us(p50),
        us(pct(&samples, 0.99)),
        samples.len()
    );
    p50
}

/// The plugins served.
fn folders() -> Vec<std::path::PathBuf> {
    ["notes", "guard", "redact"]
        .iter()
        .map(|n| example(n))
        .collect()
}

/// The grants, limits and folders of the plugins, as a `yoi.toml` in `dir`.
fn config(dir: &std::path::Path) -> std::path::PathBuf {
    let path = dir.join("yoi.toml");
    std::fs::write(
        &path,
        r#"[host]
data = "data"
cache = "cache"
hot_reload = false

[capabilities]
allow = ["fs:.:rw"]

[grants]
"example.notes" = "requested"
"example.guard" = []
"example.redact" = []
"#,
    )
    .expect("yoi.toml");
    // The note every call reads.
    let notes = dir.join("data/example.notes/notes");
    std::fs::create_dir_all(&notes).expect("notes folder");
    path
}

fn call_body(id: u64) -> Value {
    json!({
        "jsonrpc": "2.0", "id": id, "method": "tools/call",
        "params": {
            "_meta": {
                "io.modelcontextprotocol/protocolVersion": "2026-07-28",
                "io.modelcontextprotocol/clientInfo": {"name": "bench", "version": "1"},
                "io.modelcontextprotocol/clientCapabilities": {}
            },
            "name": TOOL,
            "arguments": {"title": "bench"}
        }
    })
}

fn in_process(config: &std::path::Path, calls: usize) -> Duration {
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    let host = Host::builder()
        .apply(&HostConfig::load(config).expect("config"))
        .plugin_folders(folders(), false)
        .build()
        .expect("host");
    runtime.block_on(async {
        let add = host
            .call_tool(ToolRequest {
                name: "example.notes.add_note".into(),
                input: json!({"title": "bench", "text": "a note, with sk-abcdefghijkl in it"}),
                call_id: "setup".into(),
                turn: 0,
            })
            .await;
        assert_eq!(add.status, ToolStatus::Ok, "{}", add.output);
        let request = |i: usize| ToolRequest {
            name: TOOL.into(),
            input: json!({"title": "bench"}),
            call_id: format!("c{i}"),
            turn: 0,
        };
        let mut samples = Vec::with_capacity(calls);
        for i in 0..calls + calls / 10 {
            let started = Instant::now();
            let outcome = host.call_tool(request(i)).await;
            let took = started.elapsed();
            assert_eq!(outcome.status, ToolStatus::Ok, "{}", outcome.output);
            if i >= calls / 10 {
                samples.push(took);
            }
        }
        let p50 = report("in process (Host::call_tool)", samples);
        // The same call made the way a server built on Tokio makes it: on a
        // task of the runtime's workers, awaited from another thread.
        let mut spawned = Vec::with_capacity(calls);
        for i in 0..calls + calls / 10 {
            let started = Instant::now();
            let host = host.clone();
            let outcome = tokio::spawn(async move { host.call_tool(request(i)).await })
                .await
                .expect("the call's task");
            let took = started.elapsed();
            assert_eq!(outcome.status, ToolStatus::Ok, "{}", outcome.output);
            if i >= calls / 10 {
                spawned.push(took);
            }
        }
        report("  on a spawned task", spawned);
        p50
    })
}

/// The floor of any stdio server on this machine: the same line written
/// to `cat` and read back (two pipe hops and two process wake-ups).
fn pipe_floor(calls: usize) {
    let mut child = Command::new("cat")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("cat");
    let mut stdin = child.stdin.take().expect("stdin");
    let mut out = BufReader::new(child.stdout.take().expect("stdout"));
    let _process = Process(child);
    let body = call_body(0).to_string();
    let mut line = String::new();
    let mut samples = Vec::with_capacity(calls);
    for i in 0..calls + calls / 10 {
        let started = Instant::now();
        writeln!(stdin, "{body}").expect("write");
        stdin.flush().expect("flush");
        line.clear();
        out.read_line(&mut line).expect("echo");
        if i >= calls / 10 {
            samples.push(started.elapsed());
        }
    }
    report("  pipes alone (cat)", samples);
}

fn stdio(config: &std::path::Path, calls: usize) -> Duration {
    let mut child = Command::new(env!("CARGO_BIN_EXE_yoi"))
        .args(["mcp", "--config"])
        .arg(config)
        .args(folders())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("yoi mcp");
    let mut stdin = child.stdin.take().expect("stdin");
    let mut out = BufReader::new(child.stdout.take().expect("stdout"));
    let _process = Process(child);
    let mut line = String::new();
    let mut samples = Vec::with_capacity(calls);
    for i in 0..(calls + calls / 10) as u64 {
        let started = Instant::now();
        writeln!(stdin, "{}", call_body(i)).expect("write");
        stdin.flush().expect("flush");
        line.clear();
        out.read_line(&mut line).expect("answer");
        let took = started.elapsed();
        let answer: Value = serde_json::from_str(&line).expect("json");
        assert_eq!(answer["result"]["isError"], false, "{answer}");
        if i >= (calls / 10) as u64 {
            samples.push(took);
        }
    }
    let p50 = report("yoi mcp, stdio", samples);
    let mut pings = Vec::with_capacity(calls);
    for i in 0..calls as u64 {
        let started = Instant::now();
        writeln!(stdin, "{}", ping_body(i)).expect("write");
        stdin.flush().expect("flush");
        line.clear();
        out.read_line(&mut line).expect("answer");
        pings.push(started.elapsed());
        assert!(line.contains("supportedVersions"), "{line}");
    }
    report("  server/discover (no host)", pings);
    pipe_floor(calls);
    p50
}

/// A 2026-07-28 `server/discover`: the protocol's round trip with no host
/// call.
fn ping_body(id: u64) -> Value {
    json!({
        "jsonrpc": "2.0", "id": id, "method": "server/discover",
        "params": {"_meta": {
            "io.modelcontextprotocol/protocolVersion": "2026-07-28",
            "io.modelcontextprotocol/clientInfo": {"name": "bench", "version": "1"},
            "io.modelcontextprotocol/clientCapabilities": {}
        }}
    })
}

/// The resident memory of process `pid`, in MiB.
fn rss_mib(pid: u32) -> f64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
        .map_or(0.0, |kb| kb / 1024.0)
}

async fn post(client: &reqwest::Client, url: &str, id: u64) {
    let response = client
        .post(url)
        .header("Content-Type", "application/json")
        .header("Accept", "application/json, text/event-stream")
        .header("MCP-Protocol-Version", "2026-07-28")
        .header("Mcp-Method", "tools/call")
        .header("Mcp-Name", TOOL)
        .body(call_body(id).to_string())
        .send()
        .await
        .expect("answered");
    assert!(response.status().is_success(), "{}", response.status());
    let answer: Value =
        serde_json::from_slice(&response.bytes().await.expect("body")).expect("json");
    assert_eq!(answer["result"]["isError"], false, "{answer}");
}

fn http(config: &std::path::Path, calls: usize, secs: u64) -> Duration {
    let mut child = Command::new(env!("CARGO_BIN_EXE_yoi"))
        .args(["mcp", "--config"])
        .arg(config)
        .args(folders())
        .args(["--http", "127.0.0.1:0", "--no-token"])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("yoi mcp --http");
    let pid = child.id();
    let mut out = BufReader::new(child.stdout.take().expect("stdout"));
    let _process = Process(child);
    let url = listening_url(&mut out);
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    runtime.block_on(async {
        let client = reqwest::Client::new();
        let mut samples = Vec::with_capacity(calls);
        for i in 0..(calls + calls / 10) as u64 {
            let started = Instant::now();
            post(&client, &url, i).await;
            if i >= (calls / 10) as u64 {
                samples.push(started.elapsed());
            }
        }
        let p50 = report("yoi mcp, Streamable HTTP", samples);
        let mut pings = Vec::with_capacity(calls);
        for i in 0..calls as u64 {
            let started = Instant::now();
            let response = client
                .post(&url)
                .header("Content-Type", "application/json")
                .header("Accept", "application/json, text/event-stream")
                .header("MCP-Protocol-Version", "2026-07-28")
                .header("Mcp-Method", "server/discover")
                .body(ping_body(i).to_string())
                .send()
                .await
                .expect("answered");
            assert!(response.status().is_success(), "{}", response.status());
            response.bytes().await.expect("body");
            pings.push(started.elapsed());
        }
        report("  server/discover (no host)", pings);
        // The HTTP stack alone: a route that is not there, answered 404 by
        // the router without the MCP layer.
        let floor_url = url.replace("/mcp", "/none");
        let mut floor = Vec::with_capacity(calls);
        for _ in 0..calls {
            let started = Instant::now();
            let response = client.post(&floor_url).body("{}").send().await.expect("answered");
            assert_eq!(response.status(), 404);
            response.bytes().await.expect("body");
            floor.push(started.elapsed());
        }
        report("  HTTP alone (a 404)", floor);

        tokio::time::sleep(Duration::from_millis(500)).await;
        let at_rest = rss_mib(pid);
        let done = Arc::new(AtomicU64::new(0));
        let stop = Arc::new(AtomicBool::new(false));
        let started = Instant::now();
        let mut tasks = Vec::new();
        for c in 0..CLIENTS {
            let (url, done, stop) = (url.clone(), done.clone(), stop.clone());
            tasks.push(tokio::spawn(async move {
                let client = reqwest::Client::new();
                let mut id = (c as u64) << 32;
                while !stop.load(Ordering::Relaxed) {
                    post(&client, &url, id).await;
                    id += 1;
                    done.fetch_add(1, Ordering::Relaxed);
                }
            }));
        }
        let mut peak = at_rest;
        while started.elapsed() < Duration::from_secs(secs) {
            tokio::time::sleep(Duration::from_millis(100)).await;
            peak = peak.max(rss_mib(pid));
        }
        stop.store(true, Ordering::Relaxed);
        for task in tasks {
            task.await.expect("client");
        }
        let rate = done.load(Ordering::Relaxed) as f64 / started.elapsed().as_secs_f64();
        println!(
            "{CLIENTS} HTTP clients: {rate:.0} calls/s; server RSS {at_rest:.1} MiB at rest, {peak:.1} MiB peak under load"
        );
        p50
    })
}

fn main() {
    // `cargo bench` passes `--bench`; nothing else is taken.
    let secs: u64 = std::env::var("YOI_BENCH_SECS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(10);
    let calls: usize = std::env::var("YOI_BENCH_CALLS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(5000);
    let dir = tempfile::tempdir().expect("temp dir");
    let config = config(dir.path());
    println!("tools/call {TOOL}, guard before it, redact after it:");
    let base = in_process(&config, calls);
    let over_stdio = stdio(&config, calls);
    let over_http = http(&config, calls, secs);
    println!(
        "overhead over Host::call_tool at p50: stdio {}, HTTP {}",
        us(over_stdio.saturating_sub(base)),
        us(over_http.saturating_sub(base))
    );
}
