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
//! - `dispatch/fresh`: the same with a fresh instance per event
//! - `dispatch/fresh_pooled`: fresh instances from the pooling allocator
//! - `dispatch/chain_10`: ten plugins on one hook, warm
//! - `boot_50/cold` and `boot_50/warm`: 50 plugins from the registry,
//!   compiling, and from the compile cache
//! - `throughput/threads_1` and `threads_2`: 2,000 warm dispatches on one
//!   or two worker threads

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

mod support;

use support::{example, guard_event, runtime};

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use serde_json::Value;
use yoi_host::{Host, Registry, ToolCall};
use yoi_manifest::Package;
use yoi_registry::{Activation, Capability};

/// Copies of guard with distinct ids, in `root`.
fn guard_copies(root: &Path, n: usize) -> Vec<PathBuf> {
    let src = example("guard");
    let text = std::fs::read_to_string(src.join("plugin.toml")).expect("manifest");
    let wasm = std::fs::read(src.join("guard.wasm")).expect("artifact");
    (0..n)
        .map(|i| {
            let dir = root.join(format!("guard{i}"));
            std::fs::create_dir_all(&dir).expect("dir");
            std::fs::write(dir.join("guard.wasm"), &wasm).expect("artifact");
            let t = text.replace(
                "id = \"example.guard\"",
                &format!("id = \"bench.guard{i:02}\""),
            );
            std::fs::write(dir.join("plugin.toml"), t).expect("manifest");
            dir
        })
        .collect()
}

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

fn dispatch(c: &mut Criterion) {
    let rt = runtime();
    let warm = Host::builder().build().expect("host");
    warm.load(example("guard")).expect("guard loads");
    let fresh = Host::builder()
        .reuse_instances(false)
        .build()
        .expect("host");
    fresh.load(example("guard")).expect("guard loads");
    let pooled = Host::builder()
        .reuse_instances(false)
        .pooling_allocator(64)
        .build()
        .expect("host");
    pooled.load(example("guard")).expect("guard loads");
    let tmp = tempfile::tempdir().expect("temp");
    let chain = Host::builder().build().expect("host");
    for dir in guard_copies(tmp.path(), 10) {
        chain.load(dir).expect("copy loads");
    }
    let e = guard_event();

    let mut group = c.benchmark_group("dispatch");
    group.bench_function("native_floor", |b| {
        b.iter(|| native_guard(std::hint::black_box(&e)))
    });
    group.bench_function("warm", |b| b.iter(|| rt.block_on(warm.dispatch(e.clone()))));
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
    group.bench_function("fresh", |b| {
        b.iter(|| rt.block_on(fresh.dispatch(e.clone())))
    });
    group.bench_function("fresh_pooled", |b| {
        b.iter(|| rt.block_on(pooled.dispatch(e.clone())))
    });
    group.bench_function("chain_10", |b| {
        b.iter(|| rt.block_on(chain.dispatch(e.clone())))
    });
    group.finish();
}

/// A registry with 50 active plugins.
fn registry_of_50(root: &Path) -> Arc<Registry> {
    let reg = Arc::new(Registry::open(&root.join("registry")).expect("registry"));
    for dir in guard_copies(&root.join("packages"), 50) {
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
    let reg = registry_of_50(tmp.path());
    let cache = tmp.path().join("cache");
    let booted = Host::builder()
        .registry(Arc::clone(&reg))
        .compile_cache(&cache)
        .build()
        .expect("boot");
    assert_eq!(booted.plugins().len(), 50);
    drop(booted);

    let mut group = c.benchmark_group("boot_50");
    group.sample_size(10);
    group.bench_function("cold", |b| {
        b.iter(|| {
            let host = Host::builder()
                .registry(Arc::clone(&reg))
                .build()
                .expect("boot");
            assert_eq!(host.plugins().len(), 50);
        })
    });
    // The fixed part: engine, linker, threads, an empty registry read.
    let empty = Arc::new(Registry::open(&tmp.path().join("empty")).expect("registry"));
    group.bench_function("host_only", |b| {
        b.iter(|| {
            let host = Host::builder()
                .registry(Arc::clone(&empty))
                .compile_cache(&cache)
                .build()
                .expect("boot");
            assert!(host.plugins().is_empty());
        })
    });
    group.bench_function("warm", |b| {
        b.iter(|| {
            let host = Host::builder()
                .registry(Arc::clone(&reg))
                .compile_cache(&cache)
                .build()
                .expect("boot");
            assert_eq!(host.plugins().len(), 50);
        })
    });
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
    let host = Host::builder().build().expect("host");
    host.load(example("guard")).expect("guard loads");
    let mut group = c.benchmark_group("throughput");
    group.throughput(Throughput::Elements(TOTAL as u64));
    group.sample_size(20);
    for threads in [1, 2] {
        group.bench_with_input(BenchmarkId::new("threads", threads), &threads, |b, &n| {
            b.iter_custom(|iters| (0..iters).map(|_| run_parallel(&host, n, TOTAL)).sum())
        });
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
