//! Dispatch and boot costs, against a native Rust closure doing the same
//! work (the floor).
//!
//! Needs the example components: `cargo xtask bench` builds them and runs
//! this. Results are recorded in docs/BENCHMARKS.md.
//!
//! - `dispatch/native_floor`: the guard plugin's logic as plain Rust
//! - `dispatch/warm`: one `tool.pre_exec` dispatch to one plugin, warm instance
//! - `dispatch/warm_in_context`: the same with every id of the hook
//!   context set (`Host::dispatch_in`)
//! - `dispatch/blocking`: `Host::dispatch_blocking`, a runtime per call
//! - `dispatch/bare_warm`, `bare_fresh`, `bare_fresh_pooled`,
//!   `bare_chain_10`: the same component called by wasmtime alone
//!   (`support/bare.rs`) with the event prebuilt in its WIT form, the
//!   floor each Yoi figure is held against; `bare_warm_epochs` with the
//!   epoch checks Yoi's deadlines need compiled in; `bare_warm_from_value`
//!   converting the event (its JSON input to text) on each call;
//!   `bare_warm_async` called on a fiber under the caller's runtime
//! - `dispatch/warm`: one `tool.pre_exec` dispatch to one plugin, warm
//!   instance (`reuse_instances(true)`)
//! - `dispatch/fresh`: the same with a fresh instance per event (the
//!   default), from the pooling allocator (the default)
//! - `dispatch/fresh_on_demand`: the same with the on-demand allocator
//! - `dispatch/chain_10`, `chain_10_fresh`: ten plugins on one hook, warm
//!   and fresh
//! - `boot_50/cold` and `boot_50/warm`: 50 plugins from the registry
//!   (copies of guard: one digest, compiled once), compiling, and from the
//!   compile cache; `cold_distinct` and `warm_distinct` the same with code
//!   of its own in each copy; `bare_compile_1` and `bare_deserialize_50`
//!   wasmtime alone
//! - `throughput/threads_1` and `threads_2`: 2,000 warm dispatches on one
//!   or two worker threads; `fresh_threads_*` the same with the default
//!   fresh instances; `bare_threads_*` wasmtime alone and
//!   `native_threads_*` plain Rust on one or two OS threads

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

#[path = "support/bare.rs"]
mod bare;
mod support;

use support::{example, guard_copies, guard_event, runtime};

use criterion::{
    BatchSize, Bencher, BenchmarkId, Criterion, Throughput, criterion_group, criterion_main,
};
use serde_json::Value;
use tokio::runtime::Runtime;
use yoi_host::{Host, Registry, ToolCall};
use yoi_manifest::Package;
use yoi_registry::{Activation, Capability};

/// What guard does, in plain Rust: the deny list, parse the input, look at
/// the URL, serialize the answer back.
fn native_guard(call: &ToolCall) -> Option<ToolCall> {
    if ["shell", "delete_file"].contains(&call.tool_name.as_str()) {
        return None;
    }
    let text = call.input.to_string();
    let mut input: Value = serde_json::from_str(&text).ok()?;
    if let Some(Value::String(url)) = input.get_mut("url")
        && let Some(rest) = url.strip_prefix("http://")
    {
        *url = format!("https://{rest}");
    }
    let mut out = call.clone();
    out.input = serde_json::from_str(&input.to_string()).ok()?;
    Some(out)
}

/// Times `host.dispatch` of a copy of `e`. The caller owns its event:
/// making the copy each iteration needs is not part of a dispatch.
fn time_dispatch(b: &mut Bencher, rt: &Runtime, host: &Host, e: &ToolCall) {
    b.iter_batched(
        || e.clone(),
        |e| rt.block_on(host.dispatch(e)),
        BatchSize::SmallInput,
    )
}

fn dispatch(c: &mut Criterion) {
    let rt = runtime();
    let warm = Host::builder().reuse_instances(true).build().expect("host");
    warm.load(example("guard")).expect("guard loads");
    // The default: a fresh instance per event, from the pooling allocator.
    let fresh = Host::builder().build().expect("host");
    fresh.load(example("guard")).expect("guard loads");
    let on_demand = Host::builder().on_demand_allocator().build().expect("host");
    on_demand.load(example("guard")).expect("guard loads");
    let tmp = tempfile::tempdir().expect("temp");
    let copies = guard_copies(tmp.path(), 10, false);
    let chain = Host::builder().reuse_instances(true).build().expect("host");
    let chain_fresh = Host::builder().build().expect("host");
    for dir in &copies {
        chain.load(dir).expect("copy loads");
        chain_fresh.load(dir).expect("copy loads");
    }
    let e = guard_event();

    let wasm = std::fs::read(example("guard").join("guard.wasm")).expect("artifact");
    let bare_warm = bare::Bare::new(&wasm, None);
    let bare_pooled = bare::Bare::new(&wasm, Some(64));
    let wit = bare::wit_event(&e);

    let mut group = c.benchmark_group("dispatch");
    group.bench_function("native_floor", |b| {
        b.iter(|| native_guard(std::hint::black_box(&e)))
    });
    group.bench_function("bare_warm", |b| {
        let mut instance = bare_warm.instance();
        b.iter(|| bare::Bare::call(&mut instance, std::hint::black_box(&wit)))
    });
    // A bare host with Yoi's event API: the event's JSON input is
    // serialized into the WIT record on every call, as Yoi must.
    let bare_epochs = bare::Bare::with_epochs(&wasm, None, true);
    group.bench_function("bare_warm_epochs", |b| {
        let mut instance = bare_epochs.instance();
        b.iter(|| bare::Bare::call(&mut instance, std::hint::black_box(&wit)))
    });
    group.bench_function("bare_warm_from_value", |b| {
        let mut instance = bare_warm.instance();
        b.iter(|| bare::Bare::call(&mut instance, &bare::wit_event(std::hint::black_box(&e))))
    });
    // The same call on a fiber, polled by the runtime Yoi's dispatch runs
    // on: what an async host pays before doing anything of its own.
    let bare_async = bare::asynchronous::BareAsync::new(&wasm);
    group.bench_function("bare_warm_async", |b| {
        let mut instance = rt.block_on(bare_async.instance());
        b.iter(|| {
            rt.block_on(bare::asynchronous::BareAsync::call(
                &mut instance,
                std::hint::black_box(&wit),
            ))
        })
    });
    group.bench_function("bare_fresh", |b| {
        b.iter(|| bare_warm.call_fresh(std::hint::black_box(&wit)))
    });
    group.bench_function("bare_fresh_pooled", |b| {
        b.iter(|| bare_pooled.call_fresh(std::hint::black_box(&wit)))
    });
    group.bench_function("warm", |b| time_dispatch(b, &rt, &warm, &e));
    let ctx = yoi_host::HookContext {
        work_item_id: Some("wi-2026-11-0042".into()),
        run_id: Some("run-7f3a".into()),
        agent_id: Some("support-bot".into()),
        session_id: Some("session-91c2".into()),
        subject: Some("user-1234".into()),
    };
    group.bench_function("warm_in_context", |b| {
        b.iter(|| rt.block_on(warm.dispatch_in(&ctx, e.clone())))
    });
    group.bench_function("blocking", |b| {
        b.iter(|| warm.dispatch_blocking(&ctx, e.clone()).expect("runtime"))
    });
    group.bench_function("fresh", |b| time_dispatch(b, &rt, &fresh, &e));
    group.bench_function("fresh_on_demand", |b| time_dispatch(b, &rt, &on_demand, &e));
    group.bench_function("bare_chain_10", |b| {
        let mut instances: Vec<_> = (0..10).map(|_| bare_warm.instance()).collect();
        b.iter(|| {
            for instance in &mut instances {
                std::hint::black_box(bare::Bare::call(instance, &wit));
            }
        })
    });
    group.bench_function("chain_10", |b| time_dispatch(b, &rt, &chain, &e));
    group.bench_function("chain_10_fresh", |b| {
        time_dispatch(b, &rt, &chain_fresh, &e)
    });
    group.finish();
}

/// A registry with 50 active plugins: copies of guard, of one digest or
/// each with code of its own (`distinct_code`).
fn registry_of_50(root: &Path, distinct_code: bool) -> Arc<Registry> {
    let reg = Arc::new(Registry::open(&root.join("registry")).expect("registry"));
    for dir in guard_copies(&root.join("packages"), 50, distinct_code) {
        let package = Package::open(&dir, &Host::compat()).expect("package");
        let record = reg
            .publish(&package, &Host::compat(), "bench")
            .expect("publish")
            .record;
        let caps: Vec<String> = Capability::requested_by(package.manifest())
            .iter()
            .map(ToString::to_string)
            .collect();
        reg.grant(record.plugin.as_str(), &caps, true, "bench")
            .expect("grant");
        reg.activate(
            record.plugin.as_str(),
            &record.version,
            &Activation::by("bench"),
        )
        .expect("activate");
    }
    reg
}

fn boot(c: &mut Criterion) {
    let tmp = tempfile::tempdir().expect("temp");
    let reg = registry_of_50(&tmp.path().join("one"), false);
    let distinct = registry_of_50(&tmp.path().join("distinct"), true);
    // The fixed part: engine, linker, threads, an empty registry read.
    let empty = Arc::new(Registry::open(&tmp.path().join("empty")).expect("registry"));
    let cache = tmp.path().join("cache");
    // Boots a host on `reg`, with the compile cache or compiling, and
    // checks it loaded `n` plugins.
    let boot = |reg: &Arc<Registry>, cached: bool, n: usize| {
        let mut builder = Host::builder().registry(Arc::clone(reg));
        if cached {
            builder = builder.compile_cache(&cache);
        }
        let host = builder.build().expect("boot");
        assert_eq!(host.plugins().len(), n);
    };
    boot(&reg, true, 50);
    boot(&distinct, true, 50);

    let wasm = std::fs::read(example("guard").join("guard.wasm")).expect("artifact");
    let precompiled = bare::precompile(&wasm);

    let mut group = c.benchmark_group("boot_50");
    group.sample_size(10);
    // wasmtime alone: one compile (what 50 copies of one digest need), and
    // 50 precompiled copies loaded.
    group.bench_function("bare_compile_1", |b| b.iter(|| bare::compile(&wasm)));
    group.bench_function("bare_deserialize_50", |b| {
        b.iter(|| bare::deserialize(&precompiled, 50))
    });
    group.bench_function("cold", |b| b.iter(|| boot(&reg, false, 50)));
    group.bench_function("host_only", |b| b.iter(|| boot(&empty, true, 0)));
    group.bench_function("warm", |b| b.iter(|| boot(&reg, true, 50)));
    // 50 plugins whose code differs (a custom section each): 50 compiles,
    // or 50 cache entries read.
    group.bench_function("warm_distinct", |b| b.iter(|| boot(&distinct, true, 50)));
    group.bench_function("cold_distinct", |b| b.iter(|| boot(&distinct, false, 50)));
    group.finish();
}

/// Dispatches `total` events split over `threads` worker threads.
fn run_parallel(host: &Host, threads: usize, total: usize) -> Duration {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(threads)
        .enable_all()
        .build()
        .expect("runtime");
    let started = Instant::now();
    rt.block_on(async {
        let tasks: Vec<_> = (0..threads)
            .map(|_| {
                let host = host.clone();
                tokio::spawn(async move {
                    for _ in 0..total / threads {
                        host.dispatch(guard_event()).await;
                    }
                })
            })
            .collect();
        for t in tasks {
            t.await.expect("task");
        }
    });
    started.elapsed()
}

/// The same split with wasmtime alone: a warm instance per OS thread.
fn run_bare(bare: &bare::Bare, threads: usize, total: usize) -> Duration {
    let event = bare::wit_event(&guard_event());
    let started = Instant::now();
    std::thread::scope(|s| {
        for _ in 0..threads {
            s.spawn(|| {
                let mut instance = bare.instance();
                for _ in 0..total / threads {
                    std::hint::black_box(bare::Bare::call(&mut instance, &event));
                }
            });
        }
    });
    started.elapsed()
}

fn run_native(threads: usize, total: usize) -> Duration {
    let started = Instant::now();
    std::thread::scope(|s| {
        for _ in 0..threads {
            s.spawn(|| {
                let e = guard_event();
                for _ in 0..total / threads {
                    std::hint::black_box(native_guard(std::hint::black_box(&e)));
                }
            });
        }
    });
    started.elapsed()
}

fn throughput(c: &mut Criterion) {
    const TOTAL: usize = 2000;
    let host = Host::builder().reuse_instances(true).build().expect("host");
    host.load(example("guard")).expect("guard loads");
    let fresh = Host::builder().build().expect("host");
    fresh.load(example("guard")).expect("guard loads");
    let wasm = std::fs::read(example("guard").join("guard.wasm")).expect("artifact");
    let bare = bare::Bare::new(&wasm, Some(64));
    let mut group = c.benchmark_group("throughput");
    group.throughput(Throughput::Elements(TOTAL as u64));
    group.sample_size(20);
    for threads in [1, 2] {
        group.bench_with_input(BenchmarkId::new("threads", threads), &threads, |b, &n| {
            b.iter_custom(|iters| (0..iters).map(|_| run_parallel(&host, n, TOTAL)).sum())
        });
        group.bench_with_input(
            BenchmarkId::new("fresh_threads", threads),
            &threads,
            |b, &n| b.iter_custom(|iters| (0..iters).map(|_| run_parallel(&fresh, n, TOTAL)).sum()),
        );
        group.bench_with_input(
            BenchmarkId::new("bare_threads", threads),
            &threads,
            |b, &n| b.iter_custom(|iters| (0..iters).map(|_| run_bare(&bare, n, TOTAL)).sum()),
        );
        // The floor: the same work in plain Rust, to see what the machine
        // itself gives a second thread.
        group.bench_with_input(
            BenchmarkId::new("native_threads", threads),
            &threads,
            |b, &n| b.iter_custom(|iters| (0..iters).map(|_| run_native(n, TOTAL)).sum()),
        );
    }
    group.finish();
}

criterion_group!(benches, dispatch, boot, throughput);
criterion_main!(benches);
