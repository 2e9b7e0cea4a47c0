//! The host and the registry: boot, safe mode, digest pinning, the compile
//! cache, the crash guard, rollout, and hot reload under load.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

use serde_json::json;
use yoi_host::{CacheUse, Host, Origin, Status};
use yoi_registry::{Activation, Rollout, Scope};

use super::{Probe, altered_copy, call, example, probe, publish_and_activate, registry, result};

/// The events table does not grow without bound: a host expires what is
/// past its retention as it writes, and audits it.
#[tokio::test]
#[ignore = "needs the example components: run `cargo xtask e2e`"]
async fn a_host_expires_events_past_its_retention() {
    let (_dir, reg) = registry();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock")
        .as_millis() as i64;
    let day = 24 * 3600 * 1000;
    let old = |at: i64| yoi_registry::EventRecord {
        host: None,
        id: 0,
        at,
        kind: "receipt".into(),
        plugin: "example.guard".into(),
        version: Some("0.1.0".into()),
        detail: json!({}),
    };
    reg.record_events(&[old(now - 40 * day), old(now - 2 * day)])
        .expect("events");
    publish_and_activate(&reg, &example("guard"), &Activation::by("alice"));
    let host = super::builder()
        .name("host-a")
        .registry(Arc::clone(&reg))
        .event_retention(Some(Duration::from_secs(7 * 24 * 3600)))
        .build()
        .expect("boot");
    host.dispatch(call("fetch", json!({}))).await;
    host.flush_events();

    let events = reg.events(None, 0, 100).expect("events");
    assert_eq!(events.len(), 2, "{events:#?}");
    assert!(events.iter().all(|e| e.at > now - 7 * day));
    assert!(
        events.iter().any(|e| e.at >= now),
        "the new receipt is kept"
    );
    let new = events
        .iter()
        .find(|e| e.at >= now)
        .expect("the new receipt");
    assert_eq!(
        new.host.as_deref(),
        Some("host-a"),
        "events carry the host's name"
    );
    let audits = reg.audits(None, 0, 100).expect("audits");
    let expiry = audits
        .iter()
        .find(|a| a.action == "expire_events")
        .expect("the expiry is audited");
    assert_eq!(expiry.actor, "host-a");
    assert!(
        expiry.reason.starts_with("deleted 1 events"),
        "{}",
        expiry.reason
    );
}

#[tokio::test]
#[ignore = "needs the example components: run `cargo xtask e2e`"]
async fn a_host_boots_from_the_registry_and_records_receipts() {
    let (_dir, reg) = registry();
    for name in ["guard", "redact", "policy"] {
        publish_and_activate(&reg, &example(name), &Activation::by("alice"));
    }
    let host = super::builder()
        .registry(Arc::clone(&reg))
        .build()
        .expect("boot");
    let report = host.boot_report().expect("booted from the registry");
    assert_eq!(report.loaded.len(), 3, "{report:#?}");
    assert!(report.refused.is_empty());
    let plugins = host.plugins();
    assert!(plugins.iter().all(|p| p.origin == Origin::Registry));
    assert!(plugins.iter().all(|p| p.grants.is_empty()), "{plugins:#?}");

    let out = host.dispatch(call("shell", json!({}))).await;
    assert!(out.is_blocked());
    host.flush_events();
    let events = reg.events(Some("example.guard"), 0, 10).expect("events");
    assert_eq!(events.len(), 1);
    assert_eq!(events[0].kind, "receipt");
    assert_eq!(events[0].detail["status"], "blocked");
    assert_eq!(events[0].detail["point"], "tool.pre_exec");
    assert_eq!(events[0].host.as_deref(), Some("yoi-host"));
    assert_eq!(host.dropped_events(), 0);

    // The host reported itself: who it is and exactly what it runs.
    let hosts = reg.hosts().expect("hosts");
    assert_eq!(hosts.len(), 1, "{hosts:#?}");
    assert_eq!(hosts[0].name, "yoi-host");
    assert_eq!(hosts[0].change_seq, reg.change_seq().expect("seq"));
    let mut loaded: Vec<_> = hosts[0].loaded.iter().map(|l| l.plugin.as_str()).collect();
    loaded.sort();
    assert_eq!(
        loaded,
        ["example.guard", "example.policy", "example.redact"]
    );
    for l in &hosts[0].loaded {
        let p = plugins
            .iter()
            .find(|p| p.id.as_str() == l.plugin)
            .expect("loaded");
        assert_eq!(l.digest, p.digest.to_string());
        assert_eq!(l.version, p.version.to_string());
    }
}

#[tokio::test]
#[ignore = "needs the example components: run `cargo xtask e2e`"]
async fn safe_mode_boots_with_no_plugin() {
    let (_dir, reg) = registry();
    publish_and_activate(&reg, &example("guard"), &Activation::by("alice"));
    let host = super::builder()
        .registry(reg)
        .safe_mode(true)
        .build()
        .expect("boot");
    assert!(host.boot_report().expect("report").safe_mode);
    assert!(host.plugins().is_empty());
    let out = host.dispatch(call("shell", json!({}))).await;
    assert!(!out.is_blocked() && out.receipts.is_empty());
}

#[tokio::test]
#[ignore = "needs the example components: run `cargo xtask e2e`"]
async fn a_changed_artifact_is_refused_at_boot_and_the_others_run() {
    let (dir, reg) = registry();
    let guard = publish_and_activate(&reg, &example("guard"), &Activation::by("alice"));
    publish_and_activate(&reg, &example("redact"), &Activation::by("alice"));
    let blob = dir
        .path()
        .join("blobs/sha256")
        .join(guard.manifest().runtime.digest.hex());
    let mut bytes = std::fs::read(&blob).expect("stored artifact");
    bytes[100] ^= 0xff;
    std::fs::write(&blob, &bytes).expect("tamper");

    let host = super::builder().registry(reg).build().expect("boot");
    let report = host.boot_report().expect("report");
    assert_eq!(report.refused.len(), 1, "{report:#?}");
    let refusal = &report.refused[0];
    assert_eq!(refusal.plugin, "example.guard");
    assert!(refusal.reason.contains("is corrupt"), "{}", refusal.reason);
    assert!(refusal.reason.contains("fix:"), "{}", refusal.reason);
    let ids: Vec<_> = host.plugins().iter().map(|p| p.id.to_string()).collect();
    assert_eq!(ids, ["example.redact"]);
    let out = host.dispatch(result("password=hunter2")).await;
    assert_eq!(out.data.output, "password=****");
}

#[tokio::test]
#[ignore = "needs the example components: run `cargo xtask e2e`"]
async fn the_compile_cache_is_reused_across_restarts_and_rebuilt_when_corrupt() {
    let (_dir, reg) = registry();
    publish_and_activate(&reg, &example("guard"), &Activation::by("alice"));
    let cache = tempfile::tempdir().expect("cache dir");
    let boot = || {
        Host::builder()
            .registry(Arc::clone(&reg))
            .compile_cache(cache.path())
            .build()
            .expect("boot")
    };
    let first = boot();
    assert_eq!(first.plugins()[0].cache, CacheUse::Miss);
    drop(first);
    let second = boot();
    assert_eq!(second.plugins()[0].cache, CacheUse::Hit);
    assert!(second.dispatch(call("shell", json!({}))).await.is_blocked());
    drop(second);

    let entry = std::fs::read_dir(cache.path())
        .expect("cache entries")
        .map(|e| e.expect("entry").path())
        .find(|p| p.extension().is_some_and(|e| e == "cwasm"))
        .expect("a cache entry");
    let mut bytes = std::fs::read(&entry).expect("entry");
    let middle = bytes.len() / 2;
    bytes[middle] ^= 0xff;
    std::fs::write(&entry, &bytes).expect("corrupt");
    let third = boot();
    assert_eq!(third.plugins()[0].cache, CacheUse::Rebuilt);
    assert!(third.dispatch(call("shell", json!({}))).await.is_blocked());
    drop(third);
    assert_eq!(
        boot().plugins()[0].cache,
        CacheUse::Hit,
        "the rebuilt entry is good"
    );
}

/// Two plugins with the same code compile once: the second shares the
/// first's compiled component, and each still runs as itself.
#[tokio::test]
#[ignore = "needs the example components: run `cargo xtask e2e`"]
async fn plugins_with_the_same_code_compile_once() {
    let copy = altered_copy("guard", |t| {
        t.replace("id = \"example.guard\"", "id = \"example.guard-twin\"")
    });
    // No compile cache: the only way not to compile is to share.
    let host = Host::builder().build().expect("host");
    let first = host.load(example("guard")).expect("guard loads");
    let twin = host.load(copy.path()).expect("the copy loads");
    assert_eq!(first.cache, CacheUse::Off);
    assert_eq!(twin.cache, CacheUse::InMemory, "same digest, compiled once");
    assert_eq!(first.digest, twin.digest);
    let out = host.dispatch(call("shell", json!({}))).await;
    assert!(out.is_blocked());
    let ids: Vec<_> = out.receipts.iter().map(|r| r.plugin.to_string()).collect();
    assert_eq!(ids, ["example.guard"], "the first blocks, the chain stops");
    // Unloading one keeps the other's code.
    assert!(host.unload("example.guard"));
    let out = host.dispatch(call("shell", json!({}))).await;
    assert_eq!(out.receipts[0].plugin.as_str(), "example.guard-twin");
    assert!(out.is_blocked());
}

#[tokio::test]
#[ignore = "needs the example components: run `cargo xtask e2e`"]
async fn the_crash_guard_disables_a_failing_plugin_and_success_resets_it() {
    let (_dir, reg) = registry();
    let pkg = probe(Probe::default());
    publish_and_activate(&reg, pkg.path(), &Activation::by("alice"));
    let host = super::builder()
        .registry(Arc::clone(&reg))
        .crash_guard(3, Duration::from_secs(60))
        .build()
        .expect("boot");
    let panic = || call("x #probe:panic", json!({}));

    // Two failures, a success, two failures: never three in a row counted.
    for _ in 0..2 {
        assert_eq!(
            host.dispatch(panic()).await.receipts[0].status,
            Status::Error
        );
    }
    assert_eq!(
        host.dispatch(call("x", json!({}))).await.receipts[0].status,
        Status::Ok
    );
    for _ in 0..2 {
        host.dispatch(panic()).await;
    }
    assert_eq!(host.plugins().len(), 1, "success reset the count");

    let third = host.dispatch(panic()).await;
    let detail = third.receipts[0].detail.as_deref().unwrap_or_default();
    assert!(detail.contains("crash guard: 3 failures"), "{detail}");
    assert!(detail.contains("yoi enable hostile.probe"), "{detail}");
    assert!(host.plugins().is_empty(), "unloaded");
    assert!(host.dispatch(panic()).await.receipts.is_empty());

    // The registry write runs off the dispatch path: wait for it.
    let mut snapshot = reg.snapshot().expect("snapshot");
    for _ in 0..100 {
        if snapshot.disabled.contains_key("hostile.probe") {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
        snapshot = reg.snapshot().expect("snapshot");
    }
    assert!(snapshot.disabled.contains_key("hostile.probe"));
    let audit = snapshot.audits.last().expect("audit");
    assert_eq!(
        (audit.action.as_str(), audit.actor.as_str()),
        ("auto_disable", "yoi-host")
    );
    // A reload keeps it out until an operator re-enables it.
    host.reload().expect("reload");
    assert!(host.plugins().is_empty());
    reg.enable("hostile.probe", "alice").expect("enable");
    host.reload().expect("reload");
    assert_eq!(host.plugins().len(), 1);
}

#[tokio::test]
#[ignore = "needs the example components: run `cargo xtask e2e`"]
async fn rollout_and_scope_decide_per_subject_and_host() {
    let (_dir, reg) = registry();
    let half = Activation {
        actor: "alice".into(),
        rollout: Rollout {
            scope: Scope::All,
            percent: 50,
        },
    };
    publish_and_activate(&reg, &example("guard"), &half);
    let canary = Activation {
        actor: "alice".into(),
        rollout: Rollout {
            scope: Scope::Canary,
            percent: 100,
        },
    };
    publish_and_activate(&reg, &example("redact"), &canary);

    let host = super::builder()
        .registry(Arc::clone(&reg))
        .build()
        .expect("boot");
    let ids: Vec<_> = host.plugins().iter().map(|p| p.id.to_string()).collect();
    assert_eq!(ids, ["example.guard"], "redact is for canary hosts only");

    let mut reached = 0;
    for n in 0..200 {
        let subject = format!("user-{n}");
        let first = host.dispatch_for(&subject, call("shell", json!({}))).await;
        let again = host.dispatch_for(&subject, call("shell", json!({}))).await;
        assert_eq!(
            first.is_blocked(),
            again.is_blocked(),
            "same subject, same answer"
        );
        reached += usize::from(first.is_blocked());
    }
    assert!((70..=130).contains(&reached), "about half: {reached}");
    let anonymous = host.dispatch(call("shell", json!({}))).await;
    assert!(
        anonymous.receipts.is_empty(),
        "no subject: partial rollouts skip"
    );

    let canary_host = super::builder()
        .registry(reg)
        .scope(Scope::Canary)
        .build()
        .expect("boot");
    assert_eq!(canary_host.plugins().len(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
#[ignore = "needs the example components: run `cargo xtask e2e`"]
async fn hot_reload_under_concurrent_dispatch_loses_no_call() {
    let (_dir, reg) = registry();
    publish_and_activate(&reg, &example("redact"), &Activation::by("alice"));
    let v2 = altered_copy("redact", |t| {
        t.replace("version = \"0.1.0\"", "version = \"0.2.0\"")
    });
    let host = super::builder()
        .registry(Arc::clone(&reg))
        .build()
        .expect("boot");
    let _watch = host.watch(Duration::from_millis(20)).expect("watch");

    let stop = Arc::new(AtomicBool::new(false));
    // Stops the workers even when an assertion below fails.
    struct StopOnDrop(Arc<AtomicBool>);
    impl Drop for StopOnDrop {
        fn drop(&mut self) {
            self.0.store(true, Ordering::Relaxed);
        }
    }
    let _stop_guard = StopOnDrop(Arc::clone(&stop));
    let calls = Arc::new(AtomicUsize::new(0));
    let mut workers = Vec::new();
    for _ in 0..4 {
        let host = host.clone();
        let stop = Arc::clone(&stop);
        let calls = Arc::clone(&calls);
        workers.push(tokio::spawn(async move {
            let mut versions = std::collections::BTreeSet::new();
            while !stop.load(Ordering::Relaxed) {
                tokio::task::yield_now().await;
                let out = host.dispatch(result("password=hunter2")).await;
                // Every call ran on a whole snapshot: exactly one redact,
                // which did its job.
                assert_eq!(out.receipts.len(), 1, "{:#?}", out.receipts);
                assert_eq!(out.receipts[0].status, Status::Ok);
                assert_eq!(out.data.output, "password=****");
                versions.insert(out.receipts[0].version.to_string());
                calls.fetch_add(1, Ordering::Relaxed);
            }
            versions
        }));
    }

    // Waits until the watcher swapped in `version` (compiling takes a
    // while in debug builds), with dispatch running all along.
    let running = |version: &'static str| {
        let host = host.clone();
        async move {
            for _ in 0..600 {
                if host.plugins()[0].version.to_string() == version {
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    return;
                }
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            panic!("the host did not reload to {version}");
        }
    };
    tokio::time::sleep(Duration::from_millis(100)).await;
    let package = publish_and_activate(&reg, v2.path(), &Activation::by("alice"));
    running("0.2.0").await;
    reg.rollback("example.redact", &semver::Version::new(0, 1, 0), "alice")
        .expect("rollback");
    running("0.1.0").await;
    reg.activate(
        "example.redact",
        &package.manifest().plugin.version,
        &Activation::by("alice"),
    )
    .expect("activate again");
    running("0.2.0").await;
    stop.store(true, Ordering::Relaxed);

    let mut seen = std::collections::BTreeSet::new();
    for w in workers {
        seen.extend(w.await.expect("worker finished without a failed call"));
    }
    assert!(
        calls.load(Ordering::Relaxed) > 20,
        "{}",
        calls.load(Ordering::Relaxed)
    );
    assert_eq!(seen.into_iter().collect::<Vec<_>>(), ["0.1.0", "0.2.0"]);
}

#[tokio::test]
#[ignore = "needs the example components: run `cargo xtask e2e`"]
async fn a_failed_reload_keeps_the_running_version_and_says_why() {
    let (dir, reg) = registry();
    publish_and_activate(&reg, &example("guard"), &Activation::by("alice"));
    let host = super::builder()
        .registry(Arc::clone(&reg))
        .build()
        .expect("boot");

    // Version 0.2.0 (same artifact), published and activated; then the
    // stored artifact rots before the host reloads.
    let v2 = altered_copy("guard", |t| {
        t.replace("version = \"0.1.0\"", "version = \"0.2.0\"")
    });
    let package = publish_and_activate(&reg, v2.path(), &Activation::by("alice"));
    let blob = dir
        .path()
        .join("blobs/sha256")
        .join(package.manifest().runtime.digest.hex());
    std::fs::write(&blob, b"rotten").expect("rot");

    let report = host.reload().expect("the registry itself is readable");
    assert_eq!(report.refused.len(), 1, "{report:#?}");
    assert_eq!(report.refused[0].version, "0.2.0");
    assert_eq!(report.refused[0].kept_previous.as_deref(), Some("0.1.0"));
    assert_eq!(host.plugins()[0].version.to_string(), "0.1.0");
    assert!(host.dispatch(call("shell", json!({}))).await.is_blocked());
}
