//! Providers and observers: what they cost on the paths they touch.
//!
//! Needs the example components: `cargo xtask bench` builds them and runs
//! this. Results are recorded in docs/BENCHMARKS.md.
//!
//! - `provider/native` and `provider/plugin`: `Host::complete`, streaming a
//!   20-chunk answer from a loopback OpenAI-style stand-in, by a native
//!   provider (reqwest, the same wire format) and by
//!   `examples/openai-compat`; the difference is the plugin's overhead
//! - `observe/none` and `observe/enqueue`: `Host::observe` with no
//!   observer, and with one whose queue is always full (every call drops
//!   the oldest): the cost on the caller's path
//! - `dispatch_observed/plain` and `dispatch_observed/slow_observer`: one
//!   warm `tool.pre_exec` dispatch to guard, without and with a slow
//!   observer of receipts attached

mod support;

#[path = "../tests/e2e/chat.rs"]
#[allow(dead_code)]
mod chat;

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use chat::{ChatReply, ChatStub};
use criterion::{Criterion, criterion_group, criterion_main};
use serde_json::{Value, json};
use support::{example, guard_event, runtime};
use yoi_host::{
    Chunk, ChunkSender, Completion, CompletionRequest, FinishReason, HookContext, Host, Message,
    NativeProvider, ProviderError, Role, Usage,
};

/// Twenty pieces of text and a usage event, as the stand-in streams them.
fn answer() -> Vec<String> {
    let mut events: Vec<String> = (0..20)
        .map(|i| {
            json!({"model": "bench-1", "choices": [{"index": 0, "delta": {"content": format!("word{i} ")}}]})
                .to_string()
        })
        .collect();
    events.push(
        json!({"model": "bench-1", "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}],
               "usage": {"prompt_tokens": 12, "completion_tokens": 20}})
        .to_string(),
    );
    events
}

/// A native provider doing what `examples/openai-compat` does: post the
/// request, read the server-sent events as they arrive, push each text
/// delta, total the answer.
fn native(base: String) -> NativeProvider {
    let client = reqwest::Client::new();
    NativeProvider::new("native", &["bench-*"], move |req: CompletionRequest, chunks: ChunkSender| {
        let client = client.clone();
        let url = format!("{base}/chat/completions");
        async move {
            let body = json!({"model": req.model, "stream": true,
                "messages": req.messages.iter().map(|m| json!({"role": "user", "content": m.content})).collect::<Vec<_>>()});
            let mut response = client
                .post(url)
                .bearer_auth("sk-bench")
                .header("content-type", "application/json")
                .body(body.to_string())
                .send()
                .await
                .map_err(|e| ProviderError::Unavailable(e.to_string()))?;
            let mut buffer: Vec<u8> = Vec::new();
            let mut content = String::new();
            let mut usage = Usage::default();
            while let Some(bytes) = response
                .chunk()
                .await
                .map_err(|e| ProviderError::Unavailable(e.to_string()))?
            {
                buffer.extend_from_slice(&bytes);
                while let Some(at) = buffer.windows(2).position(|w| w == b"\n\n") {
                    let event: Vec<u8> = buffer.drain(..at + 2).collect();
                    let text = String::from_utf8_lossy(&event);
                    let Some(data) = text.trim().strip_prefix("data: ") else { continue };
                    if data == "[DONE]" {
                        continue;
                    }
                    let v: Value = serde_json::from_str(data)
                        .map_err(|e| ProviderError::Other(e.to_string()))?;
                    if let Some(t) = v["choices"][0]["delta"]["content"].as_str() {
                        content.push_str(t);
                        chunks.send(Chunk::Text(t.to_owned())).await;
                    }
                    if let Some(u) = v.get("usage") {
                        usage.input_tokens = u["prompt_tokens"].as_u64().unwrap_or(0);
                        usage.output_tokens = u["completion_tokens"].as_u64().unwrap_or(0);
                    }
                }
            }
            Ok(Completion {
                model: req.model,
                content,
                tool_calls: Vec::new(),
                finish_reason: FinishReason::Stop,
                usage,
            })
        }
    })
    .expect("native provider")
}

fn request() -> CompletionRequest {
    CompletionRequest {
        model: "bench-1".into(),
        messages: vec![Message::new(Role::User, "Say twenty words.")],
        tools: Vec::new(),
        temperature: None,
        max_tokens: None,
        stop: Vec::new(),
        turn: 0,
    }
}

async fn stream(host: &Host) -> usize {
    let (tx, mut rx) = tokio::sync::mpsc::channel(64);
    let reader = tokio::spawn(async move {
        let mut n = 0;
        while rx.recv().await.is_some() {
            n += 1;
        }
        n
    });
    let outcome = host
        .complete_streaming(&HookContext::default(), request(), tx)
        .await;
    assert!(outcome.result.is_ok(), "{:?}", outcome.result);
    let n = reader.await.expect("reader");
    assert_eq!(n, 20);
    n
}

fn provider(c: &mut Criterion) {
    let rt = runtime();
    let stub = ChatStub::start(|_| ChatReply::Stream {
        events: answer(),
        gap: Duration::ZERO,
    });
    let _guard = rt.enter();
    let native_host = Host::builder().build().expect("host");
    native_host
        .register_provider(native(stub.url()))
        .expect("registered");

    let dir = tempfile::tempdir().expect("temp dir");
    let src = example("openai-compat");
    for file in ["plugin.toml", "openai_compat.wasm"] {
        let text = std::fs::read(src.join(file)).expect("example file");
        let text = if file == "plugin.toml" {
            String::from_utf8(text)
                .expect("utf-8")
                .replace("\"local-*\"", "\"local-*\", \"bench-*\"")
                .replace(
                    "http://127.0.0.1:18452",
                    &format!("http://127.0.0.1:{}", stub.port),
                )
                .into_bytes()
        } else {
            text
        };
        std::fs::write(dir.path().join(file), text).expect("copy");
    }
    let plugin_host = Host::builder()
        .reuse_instances(true)
        .secrets(BTreeMap::from([(
            "OPENAI_API_KEY".to_owned(),
            "sk-bench".to_owned(),
        )]))
        .build()
        .expect("host");
    plugin_host
        .load_with_grants(
            dir.path(),
            &[
                format!("https:http://127.0.0.1:{}", stub.port),
                "secret:OPENAI_API_KEY".to_owned(),
            ],
        )
        .expect("openai-compat loads");
    let base = json!({ "base_url": stub.url() });
    plugin_host
        .configure(
            "example.openai-compat",
            base.as_object().cloned().unwrap_or_default(),
        )
        .expect("configured");

    let mut group = c.benchmark_group("provider");
    group.bench_function("native", |b| b.iter(|| rt.block_on(stream(&native_host))));
    group.bench_function("plugin", |b| b.iter(|| rt.block_on(stream(&plugin_host))));
    group.finish();
}

/// A host whose crash guard is off, so the slow observer (whose batches
/// run out of time) stays attached for the whole run.
fn observed_host(data: &Path) -> Host {
    Host::builder()
        .reuse_instances(true)
        .data_dir(data)
        .crash_guard(0, Duration::from_secs(1))
        .build()
        .expect("host")
}

/// Surfaces as a slow observer of every kind, its queue always full.
fn slow_observer(host: &Host) {
    host.load_with_grants(example("hostile/surfaces"), &["fs:obs:rw"])
        .expect("surfaces loads");
    let slow = json!({ "spin": 2_000_000_000u64 });
    host.configure(
        "example.surfaces",
        slow.as_object().cloned().unwrap_or_default(),
    )
    .expect("slow");
}

fn observe(c: &mut Criterion) {
    let rt = runtime();
    let _guard = rt.enter();
    let none = Host::builder().build().expect("host");
    let data = tempfile::tempdir().expect("temp dir");
    let observed = observed_host(data.path());
    slow_observer(&observed);
    let mut group = c.benchmark_group("observe");
    group.bench_function("none", |b| b.iter(|| none.observe("tick", Value::Null)));
    group.bench_function("enqueue", |b| {
        b.iter(|| observed.observe("tick", Value::Null))
    });
    group.finish();
    let status = &observed.observers()[0];
    assert!(status.dropped > 0, "the queue was full: {status:?}");
}

fn dispatch_observed(c: &mut Criterion) {
    let rt = runtime();
    let _guard = rt.enter();
    let plain = Host::builder().reuse_instances(true).build().expect("host");
    plain.load(example("guard")).expect("guard");
    let data = tempfile::tempdir().expect("temp dir");
    let observed = observed_host(data.path());
    observed.load(example("guard")).expect("guard");
    slow_observer(&observed);
    let e = guard_event();
    let mut group = c.benchmark_group("dispatch_observed");
    group.bench_function("plain", |b| {
        b.iter(|| rt.block_on(plain.dispatch(e.clone())))
    });
    group.bench_function("slow_observer", |b| {
        b.iter(|| rt.block_on(observed.dispatch(e.clone())))
    });
    group.finish();
    let status = &observed.observers()[0];
    assert!(
        status.dropped > 0,
        "the observer was slower than dispatch: {status:?}"
    );
}

criterion_group!(benches, observe, dispatch_observed, provider);
criterion_main!(benches);
