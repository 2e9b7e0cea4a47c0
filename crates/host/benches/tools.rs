//! Tool calls and host API costs, against native equivalents.
//!
//! Needs the example components: `cargo xtask bench` builds them and runs
//! this. Results are recorded in docs/BENCHMARKS.md.
//!
//! - `tools/native`: `call_tool` of a native tool: schema check and the three
//!   tool hook points with no handler (the registry's own overhead)
//! - `tools/plugin_fs`: the notes plugin's `read_note` (a schema check, a
//!   warm instance, one granted `fs.read`)
//! - `tools/plugin_denied`: a tool whose `secrets.get` is refused (the
//!   denial path: typed error, log line, record)
//! - `https/plugin`: one granted GET through the plugin's `https` API to an
//!   HTTP server on 127.0.0.1, against `https/native`, the same GET with a
//!   plain reqwest client (the floor)

mod support;

#[path = "../tests/e2e/chat.rs"]
#[allow(dead_code)]
mod chat;
#[path = "../tests/e2e/stub.rs"]
#[allow(dead_code)]
mod stub;

use criterion::{Criterion, criterion_group, criterion_main};
use serde_json::{Value, json};
use support::{example, runtime};
use yoi_host::{Host, NativeTool, ToolRequest, ToolStatus};

fn request(name: &str, input: Value) -> ToolRequest {
    ToolRequest {
        name: name.into(),
        input,
        call_id: "c1".into(),
        turn: 0,
    }
}

fn tools(c: &mut Criterion) {
    let rt = runtime();
    let data = tempfile::tempdir().expect("temp dir");
    // Warm instances, as these figures were first measured (docs/BENCHMARKS.md).
    let host = Host::builder()
        .reuse_instances(true)
        .data_dir(data.path())
        .build()
        .expect("host");
    host.register_tool(NativeTool::new(
        "echo",
        "Echoes.",
        json!({"type": "object", "properties": {"text": {"type": "string"}}, "required": ["text"]}),
        |input| async move { Ok(input["text"].as_str().unwrap_or_default().to_owned()) },
    ))
    .expect("native tool");
    host.load_with_grants(example("notes"), &["fs:notes:rw"])
        .expect("notes");
    host.load_with_grants(example("hostile/reach"), &["secret:GRANTED_KEY"])
        .expect("reach");
    let note = rt.block_on(host.call_tool(request(
        "example.notes.add_note",
        json!({"title": "bench", "text": "x".repeat(512)}),
    )));
    assert_eq!(note.status, ToolStatus::Ok, "{note:?}");

    let mut g = c.benchmark_group("tools");
    g.bench_function("native", |b| {
        b.iter(|| rt.block_on(host.call_tool(request("echo", json!({"text": "hi"})))))
    });
    g.bench_function("plugin_fs", |b| {
        b.iter(|| {
            let out = rt.block_on(host.call_tool(request(
                "example.notes.read_note",
                json!({"title": "bench"}),
            )));
            assert_eq!(out.status, ToolStatus::Ok);
        })
    });
    g.bench_function("plugin_denied", |b| {
        b.iter(|| {
            let out = rt.block_on(
                host.call_tool(request("hostile.reach.secret", json!({"key": "OTHER_KEY"}))),
            );
            assert_eq!(out.run.map(|r| r.denials.len()), Some(1));
        })
    });
    g.finish();
}

fn https(c: &mut Criterion) {
    let rt = runtime();
    let server = stub::Stub::start(|_| stub::Reply::ok("ok"));
    let origin = format!("http://127.0.0.1:{}", server.port);
    let pkg = tempfile::tempdir().expect("temp dir");
    let src = example("hostile/reach");
    std::fs::copy(src.join("reach.wasm"), pkg.path().join("reach.wasm")).expect("copy");
    let manifest = std::fs::read_to_string(src.join("plugin.toml")).expect("manifest");
    std::fs::write(
        pkg.path().join("plugin.toml"),
        manifest.replace(
            "https = [\"api.example.com\"]",
            &format!("https = [\"{origin}\"]"),
        ),
    )
    .expect("manifest");
    let host = Host::builder().reuse_instances(true).build().expect("host");
    host.load_with_grants(pkg.path(), &[format!("https:{origin}")])
        .expect("reach");
    let url = format!("{origin}/x");

    let mut g = c.benchmark_group("https");
    g.bench_function("plugin", |b| {
        b.iter(|| {
            let out =
                rt.block_on(host.call_tool(request("hostile.reach.fetch", json!({"url": url}))));
            assert!(out.output.contains("\"status\":200"), "{}", out.output);
        })
    });
    let client = reqwest::Client::new();
    g.bench_function("native", |b| {
        b.iter(|| {
            rt.block_on(async {
                let r = client.get(&url).send().await.expect("get");
                r.bytes().await.expect("body")
            })
        })
    });
    g.finish();
}

criterion_group!(benches, tools, https);
criterion_main!(benches);
