//! Registry throughput on this machine's disk (real fsyncs), and snapshot
//! time at 10,000 versions / 100,000 audit rows.
//!
//! `cargo bench -p yoi-registry`; results are recorded in docs/BENCHMARKS.md.

use criterion::{BatchSize, Criterion, criterion_group, criterion_main};
use semver::Version;
use yoi_manifest::Package;

#[path = "../tests/common/mod.rs"]
mod common;
use yoi_registry::{
    Activation, AuditRecord, Outcome, Registry, Rollout, SqliteStore, State, Store, VersionRecord,
};

fn manifest_text(plugin: &str, version: &str, digest: &str) -> String {
    format!(
        "[plugin]\nid = \"{plugin}\"\nversion = \"{version}\"\ncontract = \"yoi:plugin@0.1.0\"\n\n\
         [runtime]\nkind = \"wasm-component\"\nartifact = \"p.wasm\"\ndigest = \"{digest}\"\n\n\
         [[hooks]]\npoint = \"tool.pre_exec\"\n"
    )
}

fn package(plugin: &str, version: &str) -> Package {
    // A realistic artifact size (the example components are 15-130 KB).
    let mut tag = vec![0u8; 64 * 1024];
    tag[..version.len()].copy_from_slice(version.as_bytes());
    common::package_with(plugin, version, tag, "")
}

fn lifecycle(c: &mut Criterion) {
    let dir = tempfile::tempdir().expect("temp dir");
    let reg = Registry::open(dir.path()).expect("registry");
    let mut group = c.benchmark_group("lifecycle");
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
    let dir = tempfile::tempdir().expect("temp dir");
    {
        // Seed through the store directly: 10,000 versions and 100,000
        // audit rows in one transaction.
        let store =
            SqliteStore::open(&dir.path().join(yoi_registry::DATABASE_FILE)).expect("store");
        store
            .write(|tx| {
                for i in 0..10_000u64 {
                    let plugin = format!("plugin.{}", i / 10);
                    let version = Version::new(1, 0, i % 10);
                    let digest = format!("sha256:{:064x}", i);
                    tx.insert_version(&VersionRecord {
                        manifest: manifest_text(&plugin, &version.to_string(), &digest),
                        plugin: yoi_manifest::PluginId::new(&plugin).expect("id"),
                        version,
                        digest: digest.parse().expect("digest"),
                        state: if i % 10 == 9 {
                            State::Active
                        } else {
                            State::Inactive
                        },
                        rollout: Rollout::default(),
                        published_at: 1,
                        published_by: "seed".into(),
                        updated_at: 1,
                        seq: 0,
                    })?;
                }
                for i in 0..100_000i64 {
                    tx.append_audit(&AuditRecord {
                        id: 0,
                        at: i,
                        actor: "seed".into(),
                        action: "activate".into(),
                        plugin: Some(format!("plugin.{}", i % 1000)),
                        version: Some("1.0.9".into()),
                        outcome: Outcome::Ok,
                        reason: "active for scope all at 100%".into(),
                    })?;
                }
                Ok(())
            })
            .expect("seed");
    }
    let reg = Registry::open(dir.path()).expect("registry");
    let mut group = c.benchmark_group("snapshot");
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
