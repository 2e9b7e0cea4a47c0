//! The same plugins in Rust, Python and JavaScript, side by side in one
//! run: the minimal `tool.pre_exec` plugin (block `shell`) in all three,
//! and the guard (deny list and URL upgrade) in Rust and Python.
//!
//! Needs the example components: `cargo xtask bench` builds them (the
//! Python and JavaScript ones with `yoi plugin pack`) and runs this.
//! Results are recorded in docs/BENCHMARKS.md.
//!
//! - `languages/compile_cold/<plugin>`: a load that compiles (no cache)
//! - `languages/load_cached/<plugin>`: a load from the compile cache
//! - `languages/warm/<plugin>`: one dispatch, warm instance
//! - `languages/fresh/<plugin>`: one dispatch, fresh instance per event
//!
//! Component sizes are printed before the measurements.

use std::time::{Duration, Instant};

mod support;

use support::{example, guard_event, runtime};

use criterion::{Criterion, criterion_group, criterion_main};
use yoi_host::Host;

/// (label, example folder)
const PLUGINS: [(&str, &str); 5] = [
    ("rust_minimal", "minimal"),
    ("python_minimal", "py-minimal"),
    ("js_minimal", "js-minimal"),
    ("rust_guard", "guard"),
    ("python_guard", "py-guard"),
];

fn component_size(dir: &str) -> u64 {
    std::fs::read_dir(example(dir))
        .expect("example folder")
        .filter_map(Result::ok)
        .find(|e| e.path().extension().is_some_and(|x| x == "wasm"))
        .and_then(|e| e.metadata().ok())
        .map_or(0, |m| m.len())
}

/// The time `iters` loads of `dir` take, each into a new host from `host`
/// (the host's own start-up is not counted).
fn timed_loads(iters: u64, dir: &str, host: impl Fn() -> yoi_host::HostBuilder) -> Duration {
    let mut total = Duration::ZERO;
    for _ in 0..iters {
        let host = host().build().expect("host");
        let started = Instant::now();
        host.load(example(dir)).expect("loads");
        total += started.elapsed();
    }
    total
}

fn languages(c: &mut Criterion) {
    for (label, dir) in PLUGINS {
        eprintln!(
            "languages: {label:<15} component {:>10} bytes",
            component_size(dir)
        );
    }
    let rt = runtime();
    let e = guard_event();
    let cache = tempfile::tempdir().expect("cache");

    let mut group = c.benchmark_group("languages");
    // Compiling a Python or JavaScript component takes seconds: ten
    // samples of one load each.
    group.sample_size(10);
    group.measurement_time(Duration::from_secs(1));
    group.warm_up_time(Duration::from_millis(1));
    for (label, dir) in PLUGINS {
        group.bench_function(format!("compile_cold/{label}"), |b| {
            b.iter_custom(|iters| timed_loads(iters, dir, Host::builder))
        });
    }
    for (label, dir) in PLUGINS {
        // Fill the cache once, then every load reads it.
        let warm_up = Host::builder()
            .compile_cache(cache.path())
            .build()
            .expect("host");
        warm_up.load(example(dir)).expect("loads");
        group.bench_function(format!("load_cached/{label}"), |b| {
            b.iter_custom(|iters| {
                timed_loads(iters, dir, || Host::builder().compile_cache(cache.path()))
            })
        });
    }
    group.finish();

    let mut group = c.benchmark_group("languages");
    for (label, dir) in PLUGINS {
        let warm = Host::builder()
            .compile_cache(cache.path())
            .reuse_instances(true)
            .build()
            .expect("host");
        warm.load(example(dir)).expect("loads");
        let fresh = Host::builder()
            .compile_cache(cache.path())
            .reuse_instances(false)
            .build()
            .expect("host");
        fresh.load(example(dir)).expect("loads");
        group.bench_function(format!("warm/{label}"), |b| {
            b.iter(|| rt.block_on(warm.dispatch(e.clone())))
        });
        group.bench_function(format!("fresh/{label}"), |b| {
            b.iter(|| rt.block_on(fresh.dispatch(e.clone())))
        });
    }
    group.finish();
}

criterion_group!(benches, languages);
criterion_main!(benches);
