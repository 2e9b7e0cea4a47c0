//! The crash guard counts every failure of a plugin's own making, whatever
//! the surface: hook calls, tool calls, and loads that fail on its code.
//! Compiling is bounded before and while it runs.

use std::time::Duration;

use serde_json::json;
use yoi_host::{CodeLimits, Host, ToolStatus};
#[cfg(feature = "registry")]
use yoi_registry::Activation;

use crate::example;
use crate::grants::reach;
#[cfg(feature = "registry")]
use crate::{publish_and_activate, registry};

#[tokio::test]
#[ignore = "needs the example components: run `cargo xtask e2e`"]
async fn trapping_tool_calls_reach_the_crash_guard_and_tool_errors_do_not() {
    let r = reach(&[], &[], |b| b.crash_guard(3, Duration::from_secs(300)));
    // A tool's own error is an answer for the model, not a crash.
    for _ in 0..5 {
        let (_, out) = r.call("file", json!({"op": "nope", "path": "x"})).await;
        assert_eq!(out.status, ToolStatus::Error, "{out:#?}");
    }
    assert_eq!(r.host.plugins().len(), 1);
    for i in 1..=3 {
        let (_, out) = r.call("crash", json!({})).await;
        assert_eq!(out.status, ToolStatus::Error, "{out:#?}");
        let detail = out.run.as_ref().unwrap().detail.clone().unwrap_or_default();
        assert!(detail.starts_with("trapped: "), "{detail}");
        assert_eq!(detail.contains("crash guard"), i == 3, "{detail}");
    }
    assert!(r.host.plugins().is_empty(), "unloaded after 3 traps");
    let (_, out) = r.call("crash", json!({})).await;
    assert_eq!(out.status, ToolStatus::UnknownTool);
}

/// A success resets only its own surface's count: a tool that traps on
/// every call is disabled even while another surface of the plugin (here,
/// another tool) keeps succeeding in between.
#[tokio::test]
#[ignore = "needs the example components: run `cargo xtask e2e`"]
async fn successes_elsewhere_never_reset_a_failing_surfaces_count() {
    let r = reach(&[], &["fs:.:rw"], |b| {
        b.crash_guard(3, Duration::from_secs(300))
    });
    for i in 1..=3 {
        let (_, ok) = r.call("file", json!({"op": "list", "path": "."})).await;
        assert_eq!(ok.status, ToolStatus::Ok, "{ok:#?}");
        let (_, out) = r.call("crash", json!({})).await;
        let detail = out.run.as_ref().unwrap().detail.clone().unwrap_or_default();
        assert_eq!(detail.contains("crash guard"), i == 3, "{i}: {detail}");
    }
    assert!(r.host.plugins().is_empty(), "unloaded after 3 traps");
}

#[test]
#[ignore = "needs the example components: run `cargo xtask e2e`"]
fn compiling_is_bounded_by_code_limits_and_time() {
    // No compile cache: these hosts must compile.
    let strict = CodeLimits {
        function_bytes: 1000,
        ..CodeLimits::default()
    };
    let host = Host::builder()
        .compile_limits(strict, Duration::from_secs(60))
        .build()
        .expect("host");
    let err = host.load(example("guard")).unwrap_err().to_string();
    assert!(err.contains("E0411 code-too-complex"), "{err}");
    assert!(err.contains("limit is 1000 bytes"), "{err}");

    let host = Host::builder()
        .compile_limits(CodeLimits::default(), Duration::from_millis(1))
        .build()
        .expect("host");
    let err = host.load(example("policy")).unwrap_err().to_string();
    assert!(err.contains("took longer than 0.001 s"), "{err}");
    assert!(host.plugins().is_empty());
}

#[cfg(feature = "registry")]
#[test]
#[ignore = "needs the example components: run `cargo xtask e2e`"]
fn a_registry_plugin_that_keeps_failing_to_load_is_disabled() {
    let (_dir, reg) = registry();
    publish_and_activate(&reg, &example("guard"), &Activation::by("tester"));
    publish_and_activate(&reg, &example("redact"), &Activation::by("tester"));
    let strict = CodeLimits {
        function_bytes: 1000,
        ..CodeLimits::default()
    };
    let host = Host::builder()
        .registry(reg.clone())
        .crash_guard(2, Duration::from_secs(300))
        .compile_limits(strict, Duration::from_secs(60))
        .build()
        .expect("host boots, refusing what fails");
    let boot = host.boot_report().expect("boot report");
    assert_eq!(boot.refused.len(), 2, "{boot:#?}");
    assert!(reg.snapshot().unwrap().disabled.is_empty());
    let again = host.reload().expect("reload");
    assert_eq!(again.refused.len(), 2);
    let disabled = reg.snapshot().unwrap().disabled;
    assert_eq!(disabled.len(), 2, "{disabled:#?}");
    let why = &disabled["example.guard"];
    assert!(why.contains("2 failures within 300 s"), "{why}");
    assert!(why.contains("failed to load example.guard@"), "{why}");
    assert!(why.contains("E0411"), "{why}");
    assert!(!why.contains('\n'), "one line for `yoi list`: {why}");
    let audits = reg.snapshot().unwrap().audits;
    assert!(audits.iter().any(|a| a.action == "auto_disable"));
}

/// An 18 MB Python component compiles within the default bounds, and a
/// restart is served from the compile cache: a host whose compile time
/// limit no compile could meet still loads it from there.
#[test]
#[ignore = "needs the example components: run `cargo xtask e2e`"]
fn a_large_python_component_compiles_within_bounds_and_restarts_from_the_cache() {
    let wasm = std::fs::metadata(example("py-guard/py-guard.wasm")).expect("built");
    assert!(wasm.len() > 10_000_000, "{} bytes", wasm.len());
    let cache = tempfile::tempdir().expect("cache");
    let host = Host::builder()
        .compile_cache(cache.path())
        .build()
        .expect("host");
    host.load(example("py-guard"))
        .expect("compiles within the default code limits and time");
    let cached: Vec<_> = std::fs::read_dir(cache.path())
        .expect("cache")
        .filter_map(Result::ok)
        .filter(|e| e.path().extension().is_some_and(|x| x == "cwasm"))
        .collect();
    assert_eq!(cached.len(), 1, "one compiled artifact, by digest");

    let impatient = |cache: Option<&std::path::Path>| {
        let b = Host::builder().compile_limits(CodeLimits::default(), Duration::from_millis(1));
        match cache {
            Some(dir) => b.compile_cache(dir),
            None => b,
        }
        .build()
        .expect("host")
    };
    let restarted = impatient(Some(cache.path()));
    restarted
        .load(example("py-guard"))
        .expect("served from the compile cache: nothing to compile");
    let err = impatient(None)
        .load(example("py-guard"))
        .expect_err("a compile cannot meet 1 ms")
        .to_string();
    assert!(err.contains("took longer than 0.001 s"), "{err}");
}
