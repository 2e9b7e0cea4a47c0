//! Real example plugins, and packages refused before anything runs.

use serde_json::json;
use yoi_host::{HookPoint, Host, HostError, Status};
use yoi_manifest::{Code, Digest};

use super::{GUARDS, REDACTS, altered_copy, call, example, host_with, result};

#[tokio::test]
#[ignore = "needs the example components: run `cargo xtask e2e`"]
async fn guard_blocks_a_denied_tool_with_its_reason() {
    for (dir, id) in GUARDS {
        let host = host_with(&[&example(dir)]);
        let out = host
            .dispatch(call("shell", json!({"cmd": "rm -rf /"})))
            .await;
        let blocked = out.blocked.as_ref().expect("blocked");
        assert_eq!(blocked.plugin.as_str(), id);
        assert_eq!(blocked.reason, "tool `shell` is on the deny list");
        assert_eq!(
            blocked.message(),
            format!("blocked by plugin {id}: tool `shell` is on the deny list")
        );
        let r = &out.receipts[0];
        assert_eq!(
            (r.status, r.point),
            (Status::Blocked, HookPoint::ToolPreExec),
            "{id}"
        );
        assert_eq!(r.logs[0].message, "refused tool `shell`", "{id}");
    }
}

#[tokio::test]
#[ignore = "needs the example components: run `cargo xtask e2e`"]
async fn guard_rewrites_input_as_written_by_the_guest() {
    for (dir, id) in GUARDS {
        let host = host_with(&[&example(dir)]);
        let out = host
            .dispatch(call(
                "fetch",
                json!({"url": "http://example.com/a?b=1", "n": 2}),
            ))
            .await;
        assert!(out.blocked.is_none(), "{id}");
        assert_eq!(
            out.data.input,
            json!({"url": "https://example.com/a?b=1", "n": 2}),
            "{id}"
        );
        assert_eq!((out.data.call_id.as_str(), out.data.turn), ("call-1", 3));
        assert_eq!(out.receipts[0].status, Status::Ok, "{id}");
        assert_eq!(out.receipts[0].changed, vec!["input"], "{id}");
        assert!(out.is_changed());
        assert_eq!(out.changed_fields(), ["input"]);
        assert_eq!(
            out.receipts[0].logs[0].message,
            "rewrote input.url from http:// to https://"
        );

        let untouched = host
            .dispatch(call("fetch", json!({"url": "https://x"})))
            .await;
        assert_eq!(untouched.data.input, json!({"url": "https://x"}), "{id}");
        assert!(untouched.receipts[0].changed.is_empty(), "{id}");
        assert!(!untouched.is_changed());
    }
}

#[tokio::test]
#[ignore = "needs the example components: run `cargo xtask e2e`"]
async fn redact_masks_secrets_in_tool_output() {
    for (dir, id) in REDACTS {
        let host = host_with(&[&example(dir)]);
        let out = host
            .dispatch(result(
                "OPENAI_API_KEY=sk-proj-abcdef123456\ndb password=hunter2 ok",
            ))
            .await;
        assert_eq!(
            out.data.output, "OPENAI_API_KEY=sk-****\ndb password=**** ok",
            "{id}"
        );
        let r = &out.receipts[0];
        assert_eq!(r.plugin.as_str(), id);
        assert_eq!((r.status, r.changed.clone()), (Status::Ok, vec!["output"]));
        assert_eq!(r.logs[0].message, "masked secrets in tool output", "{id}");
        assert_eq!(r.logs[0].fields, vec![("count".to_owned(), "2".to_owned())]);
    }
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

    let host = Host::builder().build().expect("host");
    let err = host
        .load(pkg.path())
        .expect_err("tampered artifact refused");
    assert!(package_problems(&err).has(Code::DigestMismatch));
    let text = err.to_string();
    assert!(text.contains(&Digest::of(&bytes).to_string()), "{text}");
    assert!(text.contains("E0302"), "{text}");
    assert_eq!(host.plugins().len(), 0, "nothing was loaded");
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
    let host = Host::builder().build().expect("host");
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
    assert_eq!(host.plugins().len(), 0);
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

    let host = Host::builder().build().expect("host");
    let err = host.load(pkg.path()).expect_err("core module refused");
    assert!(package_problems(&err).has(Code::NotAComponent), "{err}");
}

#[test]
#[ignore = "needs the example components: run `cargo xtask e2e`"]
fn the_same_plugin_cannot_be_loaded_twice() {
    let host = host_with(&[&example("guard")]);
    let err = host
        .load(example("guard"))
        .expect_err("second load refused");
    assert!(matches!(err, HostError::AlreadyLoaded { .. }), "{err}");
}
