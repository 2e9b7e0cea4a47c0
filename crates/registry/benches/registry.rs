//! Registry throughput on this machine's disk (real fsyncs), and snapshot
//! time at 10,000 versions / 100,000 audit rows: SQLite, and PostgreSQL
//! beside it when `YOI_TEST_POSTGRES` names a server (`cargo xtask bench`
//! starts one).
//!
//! `cargo bench -p yoi-registry`; results are recorded in docs/BENCHMARKS.md.

use criterion::{BatchSize, Criterion, criterion_group, criterion_main};
use semver::Version;
use yoi_manifest::Package;

#[path = "../tests/common/mod.rs"]
mod common;
mod seed;
use yoi_registry::Activation;

fn package(plugin: &str, version: &str) -> Package {
    // A realistic artifact size (the example components are 15-130 KB).
    let mut tag = vec![0u8; 64 * 1024];
    tag[..version.len()].copy_from_slice(version.as_bytes());
    common::package_with(plugin, version, tag, "")
}

/// The group name for a store: SQLite's keep their first names.
fn group_name(base: &str, store: &common::TestStore) -> String {
    match store.label {
        "sqlite" => base.to_owned(),
        other => format!("{base}-{other}"),
    }
}

fn lifecycle(c: &mut Criterion) {
    for store in common::stores() {
        lifecycle_on(c, &store);
    }
}

fn lifecycle_on(c: &mut Criterion, store: &common::TestStore) {
    let reg = store.open();
    let mut group = c.benchmark_group(group_name("lifecycle", store));
    group.sample_size(50);

    // Packages are built outside the timed part: the test component is
    // assembled from text, which is not what publish costs.
    let compat = common::compat();
    let mut n = 0u64;
    group.bench_function("publish 64 KiB artifact", |b| {
        b.iter_batched(
            || {
                n += 1;
                package("bench.publish", &format!("1.0.{n}"))
            },
            |p| reg.publish(&p, &compat, "bench").expect("publish"),
            BatchSize::SmallInput,
        )
    });

    reg.publish(&package("bench.flip", "1.0.0"), &common::compat(), "bench")
        .expect("publish");
    reg.publish(&package("bench.flip", "2.0.0"), &common::compat(), "bench")
        .expect("publish");
    let (v1, v2) = (Version::new(1, 0, 0), Version::new(2, 0, 0));
    let how = Activation::by("bench");
    let mut flip = false;
    group.bench_function("activate", |b| {
        b.iter(|| {
            flip = !flip;
            reg.activate("bench.flip", if flip { &v1 } else { &v2 }, &how)
                .expect("activate");
        })
    });

    let mut m = 0u64;
    group.bench_function("publish + activate", |b| {
        b.iter_batched(
            || {
                m += 1;
                package("bench.pa", &format!("1.0.{m}"))
            },
            |p| {
                let record = reg.publish(&p, &compat, "bench").expect("publish").record;
                reg.activate("bench.pa", &record.version, &how)
                    .expect("activate");
            },
            BatchSize::SmallInput,
        )
    });
    group.finish();
}

fn snapshot(c: &mut Criterion) {
    for store in common::stores() {
        // Creates the schema, then fills it through the store seam.
        drop(store.open());
        match &store.location {
            yoi_registry::Location::Folder(dir) => seed::seed(dir, 10_000, 100_000, 0),
            yoi_registry::Location::Postgres(url) => seed::seed_store(
                &yoi_registry::PostgresStore::connect(url).expect("store"),
                10_000,
                100_000,
                0,
            ),
        }
        snapshot_on(c, &store);
    }
}

fn snapshot_on(c: &mut Criterion, store: &common::TestStore) {
    let reg = store.open();
    let mut group = c.benchmark_group(group_name("snapshot", store));
    group.sample_size(10);
    group.bench_function("10k versions, 100k audit rows", |b| {
        b.iter(|| {
            let s = reg.snapshot().expect("snapshot");
            assert_eq!((s.versions.len(), s.audits.len()), (10_000, 100_000));
            s
        })
    });
    group.finish();
}

criterion_group!(benches, lifecycle, snapshot);
criterion_main!(benches);
