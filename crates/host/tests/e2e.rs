//! End-to-end tests: real components built from `examples/`, loaded and run
//! through `yoi-host`. Run them with `cargo xtask e2e`, which builds the
//! components first.

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde_json::json;
use yoi_host::{HookPoint, Host, HostError, Status, ToolCall, ToolResult};
use yoi_manifest::{Code, Digest};

fn example(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../examples")
        .join(name)
}

fn host_with(packages: &[&Path]) -> Host {
    let mut host = Host::builder().build().expect("host starts");
    for dir in packages {
        host.load(dir).unwrap_or_else(|e| {
            panic!(
                "loading {}: {e}\n(run `cargo xtask build-examples` first)",
                dir.display()
            )
        });
    }
    host
}

fn call(tool: &str, input: serde_json::Value) -> ToolCall {
    ToolCall {
        tool_name: tool.into(),
        input,
        call_id: "call-1".into(),
        turn: 3,
    }
}

fn result(output: &str) -> ToolResult {
    ToolResult {
        tool_name: "fetch".into(),
        input: json!({}),
        output: output.into(),
        duration_ms: 7,
        turn: 1,
    }
}

/// Copies a package folder into a temp dir, applies `edit` to its manifest
/// text, and re-pins the digest when asked, so tests can break one thing.
fn altered_copy(name: &str, edit: impl Fn(String) -> String) -> tempfile::TempDir {
    let src = example(name);
    let tmp = tempfile::tempdir().expect("temp dir");
    for entry in std::fs::read_dir(&src).expect("example dir") {
        let path = entry.expect("entry").path();
        let file = path.file_name().expect("file name").to_owned();
        if path.extension().is_some_and(|e| e == "wasm") || file == "plugin.toml" {
            std::fs::copy(&path, tmp.path().join(file)).expect("copy");
        }
    }
    let manifest = tmp.path().join("plugin.toml");
    let text = std::fs::read_to_string(&manifest).expect("manifest");
    std::fs::write(&manifest, edit(text)).expect("write manifest");
    tmp
}

#[tokio::test]
#[ignore = "needs the example components: run `cargo xtask e2e`"]
async fn guard_blocks_a_denied_tool_with_its_reason() {
    let host = host_with(&[&example("guard")]);
    let out = host
        .tool_pre_exec(call("shell", json!({"cmd": "rm -rf /"})))
        .await;
    let blocked = out.blocked.as_ref().expect("blocked");
    assert_eq!(blocked.plugin.as_str(), "example.guard");
    assert_eq!(blocked.reason, "tool `shell` is on the deny list");
    assert_eq!(
        blocked.message(),
        "blocked by plugin example.guard: tool `shell` is on the deny list"
    );
    let r = &out.receipts[0];
    assert_eq!(
        (r.status, r.point),
        (Status::Blocked, HookPoint::ToolPreExec)
    );
    assert_eq!(r.logs[0].message, "refused tool `shell`");
}

#[tokio::test]
#[ignore = "needs the example components: run `cargo xtask e2e`"]
async fn guard_rewrites_input_as_written_by_the_guest() {
    let host = host_with(&[&example("guard")]);
    let out = host
        .tool_pre_exec(call(
            "fetch",
            json!({"url": "http://example.com/a?b=1", "n": 2}),
        ))
        .await;
    assert!(out.blocked.is_none());
    assert_eq!(
        out.data.input,
        json!({"url": "https://example.com/a?b=1", "n": 2})
    );
    assert_eq!((out.data.call_id.as_str(), out.data.turn), ("call-1", 3));
    assert_eq!(out.receipts[0].status, Status::Ok);
    assert_eq!(out.receipts[0].changed, vec!["input"]);

    let untouched = host
        .tool_pre_exec(call("fetch", json!({"url": "https://x"})))
        .await;
    assert_eq!(untouched.data.input, json!({"url": "https://x"}));
    assert!(untouched.receipts[0].changed.is_empty());
}

#[tokio::test]
#[ignore = "needs the example components: run `cargo xtask e2e`"]
async fn changes_and_blocks_beyond_a_points_rights_are_rejected() {
    let host = host_with(&[&example("hostile/meddle"), &example("guard")]);
    // meddle (priority 200) renames the tool to `shell`; the rename must be
    // ignored, so guard (priority 100) still sees `fetch` and does not block.
    let out = host
        .tool_pre_exec(call("fetch", json!({"url": "https://a"})))
        .await;
    let meddle = &out.receipts[0];
    assert_eq!(meddle.status, Status::RejectedChange);
    let detail = meddle.detail.as_deref().unwrap_or_default();
    assert!(
        detail.contains("only `input`") && detail.contains("`tool_name`"),
        "{detail}"
    );
    assert_eq!(out.data.tool_name, "fetch");
    assert_eq!(
        out.data.input,
        json!({"url": "https://a"}),
        "the whole change is ignored"
    );
    assert!(out.blocked.is_none());
    assert_eq!(out.receipts[1].status, Status::Ok);

    let post = host.tool_post_exec(result("result")).await;
    assert!(post.blocked.is_none(), "tool.post_exec cannot block");
    assert_eq!(post.receipts[0].status, Status::RejectedChange);
    assert_eq!(post.data.output, "result");
}

#[tokio::test]
#[ignore = "needs the example components: run `cargo xtask e2e`"]
async fn redact_masks_secrets_in_tool_output() {
    let host = host_with(&[&example("redact")]);
    let out = host
        .tool_post_exec(result(
            "OPENAI_API_KEY=sk-proj-abcdef123456\ndb password=hunter2 ok",
        ))
        .await;
    assert_eq!(
        out.data.output,
        "OPENAI_API_KEY=sk-****\ndb password=**** ok"
    );
    let r = &out.receipts[0];
    assert_eq!((r.status, r.changed.clone()), (Status::Ok, vec!["output"]));
    assert_eq!(r.logs[0].fields, vec![("count".to_owned(), "2".to_owned())]);
}

#[tokio::test]
#[ignore = "needs the example components: run `cargo xtask e2e`"]
async fn a_looping_guest_is_stopped_by_its_time_limit() {
    let host = host_with(&[&example("hostile/spin"), &example("guard")]);
    // spin: priority 0, timeout 100 ms, fail open; guard (priority 100) runs first.
    let started = std::time::Instant::now();
    let out = host
        .tool_pre_exec(call("fetch", json!({"url": "http://a"})))
        .await;
    let elapsed = started.elapsed();
    assert!(elapsed < Duration::from_secs(3), "took {elapsed:?}");
    assert_eq!(out.receipts.len(), 2);
    assert_eq!(out.receipts[0].plugin.as_str(), "example.guard");
    let spin = &out.receipts[1];
    assert_eq!(spin.status, Status::Timeout);
    assert!(
        spin.duration >= Duration::from_millis(100),
        "{:?}",
        spin.duration
    );
    assert!(out.blocked.is_none(), "fail-open lets the event through");
    assert_eq!(
        out.data.input,
        json!({"url": "https://a"}),
        "guard's change stays"
    );

    // A fresh instance per event: the host keeps working.
    let again = host.tool_pre_exec(call("shell", json!({}))).await;
    assert!(again.is_blocked());
}

#[tokio::test]
#[ignore = "needs the example components: run `cargo xtask e2e`"]
async fn a_fail_closed_timeout_blocks_the_event() {
    let pkg = altered_copy("hostile/spin", |t| {
        t.replace("fail = \"open\"", "fail = \"closed\"")
    });
    let host = host_with(&[pkg.path()]);
    let out = host.tool_pre_exec(call("fetch", json!({}))).await;
    let blocked = out.blocked.expect("fail-closed blocks");
    assert!(blocked.reason.contains("fail-closed"), "{}", blocked.reason);
    assert_eq!(out.receipts[0].status, Status::Timeout);
}

#[tokio::test]
#[ignore = "needs the example components: run `cargo xtask e2e`"]
async fn handlers_run_by_priority_then_id() {
    let low_guard = altered_copy("guard", |t| t.replace("priority = 100", "priority = -5"));
    let host = host_with(&[low_guard.path(), &example("hostile/spin")]);
    let order: Vec<_> = host
        .handlers(HookPoint::ToolPreExec)
        .into_iter()
        .map(|h| (h.plugin.to_string(), h.priority))
        .collect();
    assert_eq!(
        order,
        vec![
            ("hostile.spin".to_owned(), 0),
            ("example.guard".to_owned(), -5)
        ]
    );
}

#[test]
#[ignore = "needs the example components: run `cargo xtask e2e`"]
fn a_digest_mismatch_is_refused_with_both_digests() {
    let pkg = altered_copy("guard", |t| t);
    let wasm = pkg.path().join("guard.wasm");
    let mut bytes = std::fs::read(&wasm).expect("artifact");
    let last = bytes.len() - 1;
    bytes[last] ^= 0xff;
    std::fs::write(&wasm, &bytes).expect("tamper");

    let mut host = Host::builder().build().expect("host");
    let err = host
        .load(pkg.path())
        .expect_err("tampered artifact refused");
    assert!(package_problems(&err).has(Code::DigestMismatch));
    let text = err.to_string();
    assert!(text.contains(&Digest::of(&bytes).to_string()), "{text}");
    assert!(text.contains("E0302"), "{text}");
    assert_eq!(host.plugins().count(), 0, "nothing was loaded");
}

/// The package's diagnostics when loading fails the package checks.
fn package_problems(err: &HostError) -> &yoi_manifest::Diagnostics {
    match err {
        HostError::Package { diagnostics, .. } => diagnostics,
        other => panic!("expected package diagnostics, got {other}"),
    }
}

#[test]
#[ignore = "needs the example components: run `cargo xtask e2e`"]
fn manifest_hooks_must_match_component_exports() {
    let pkg = altered_copy("guard", |t| t.replace("tool.pre_exec", "tool.post_exec"));
    let mut host = Host::builder().build().expect("host");
    let err = host.load(pkg.path()).expect_err("mismatch refused");
    let problems = package_problems(&err);
    assert!(problems.has(Code::HookNotExported), "{err}");
    assert!(problems.has(Code::HookNotDeclared), "{err}");
    assert!(problems.render(false).contains("register!"), "{err}");

    let both = altered_copy("guard", |t| {
        format!("{t}\n[[hooks]]\npoint = \"tool.post_exec\"\n")
    });
    let err = host.load(both.path()).expect_err("missing export refused");
    let problems = package_problems(&err);
    assert_eq!(problems.len(), 1, "{err}");
    assert!(problems.has(Code::HookNotExported), "{err}");
    assert_eq!(host.plugins().count(), 0);
}

#[test]
#[ignore = "needs the example components: run `cargo xtask e2e`"]
fn a_core_module_is_refused_as_not_a_component() {
    let pkg = altered_copy("guard", |t| t);
    let core_module = b"\0asm\x01\0\0\0";
    std::fs::write(pkg.path().join("guard.wasm"), core_module).expect("write");
    let manifest = pkg.path().join("plugin.toml");
    let text = std::fs::read_to_string(&manifest).expect("read");
    let pinned = text
        .lines()
        .find(|l| l.starts_with("digest"))
        .expect("digest line")
        .to_owned();
    let text = text.replace(
        &pinned,
        &format!("digest = \"{}\"", Digest::of(core_module)),
    );
    std::fs::write(&manifest, text).expect("write");

    let mut host = Host::builder().build().expect("host");
    let err = host.load(pkg.path()).expect_err("core module refused");
    assert!(package_problems(&err).has(Code::NotAComponent), "{err}");
}

#[test]
#[ignore = "needs the example components: run `cargo xtask e2e`"]
fn the_same_plugin_cannot_be_loaded_twice() {
    let mut host = host_with(&[&example("guard")]);
    let err = host
        .load(example("guard"))
        .expect_err("second load refused");
    assert!(matches!(err, HostError::AlreadyLoaded { .. }), "{err}");
}
