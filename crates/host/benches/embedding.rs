//! The calls the Node and Python packages make, from Rust: what their own
//! benchmarks (`bindings/*/bench`) are held against.
//!
//! - `embedding/typed_warm`, `typed_fresh`: `Host::dispatch` of the guard's
//!   `tool.pre_exec` event as a Rust type, warm and fresh
//! - `embedding/json_warm`, `json_fresh`: `JsonHost::dispatch` of the same
//!   event, parsed from JSON text into a `Value` and the answer written
//!   back as text
//! - `embedding/text_warm`, `text_fresh`: `JsonHost::dispatch_text`, JSON
//!   text straight to the event and from the answer: what both packages
//!   call
//! - `embedding/text_warm_cross_thread`: the same, handed to a worker of a
//!   multi-threaded runtime and waited for from another thread (what a
//!   call that cannot finish where it started costs: docs/embedding.md)
//!
//! Needs the example components: `cargo xtask bench` builds them and runs
//! this. Results are recorded in docs/BENCHMARKS.md.

mod support;

use std::sync::Arc;

use criterion::{BatchSize, Criterion, criterion_group, criterion_main};
use support::{example, guard_event, runtime};
use yoi_host::Host;
use yoi_host::embedding::JsonHost;

fn json_host(reuse: bool) -> JsonHost {
    let host =
        JsonHost::build(serde_json::json!({"config": {"limits": {"reuse_instances": reuse}}}))
            .expect("host");
    host.host().load(example("guard")).expect("guard loads");
    host
}

fn embedding(c: &mut Criterion) {
    let rt = runtime();
    let mut group = c.benchmark_group("embedding");
    let e = guard_event();
    let text = serde_json::to_string(&e).expect("event");
    for (name, reuse) in [("warm", true), ("fresh", false)] {
        let host = Host::builder()
            .reuse_instances(reuse)
            .build()
            .expect("host");
        host.load(example("guard")).expect("guard loads");
        group.bench_function(format!("typed_{name}"), |b| {
            b.iter_batched(
                || e.clone(),
                |e| rt.block_on(host.dispatch(e)),
                BatchSize::SmallInput,
            )
        });
        let json = json_host(reuse);
        group.bench_function(format!("json_{name}"), |b| {
            b.iter(|| {
                let event = serde_json::from_str(&text).expect("json");
                let out = rt
                    .block_on(json.dispatch("tool.pre_exec", event, None))
                    .expect("dispatched");
                out.to_string()
            })
        });
        group.bench_function(format!("text_{name}"), |b| {
            b.iter(|| {
                rt.block_on(json.dispatch_text("tool.pre_exec", &text, None))
                    .expect("dispatched")
            })
        });
    }
    // A Node or Python call that waits (on the network, a queue) or
    // computes past an epoch tick finishes on a worker of Yoi's
    // multi-threaded runtime: the hand-off's cost.
    let workers = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let json = Arc::new(json_host(true));
    group.bench_function("text_warm_cross_thread", |b| {
        b.iter(|| {
            let json = Arc::clone(&json);
            let text = text.clone();
            let task = workers
                .spawn(async move { json.dispatch_text("tool.pre_exec", &text, None).await });
            rt.block_on(task).expect("joined").expect("dispatched")
        })
    });
    group.finish();
}

criterion_group!(benches, embedding);
criterion_main!(benches);
