//! Settings reach the guest (contract 0.3.0): declared defaults, an
//! embedder's values (`Host::configure`) and the registry's (`yoi config
//! set`), each change taking effect at the next event without a rebuild;
//! a name plugin.toml does not declare is an error the plugin sees.

use serde_json::json;
use yoi_host::{Host, HostError};

use crate::{Probe, call, example, host_with, probe, receipt_of};

fn values(v: serde_json::Value) -> serde_json::Map<String, serde_json::Value> {
    v.as_object().cloned().expect("an object")
}

async fn blocked(host: &Host, tool: &str) -> Option<String> {
    host.dispatch(call(tool, json!({})))
        .await
        .blocked
        .map(|b| b.reason)
}

#[tokio::test]
#[ignore = "needs the example components: run `cargo xtask e2e`"]
async fn the_guard_reads_its_deny_list_and_an_embedder_changes_it_live() {
    for (dir, id) in crate::GUARDS {
        guard_reads_its_deny_list(dir, id).await;
    }
}

async fn guard_reads_its_deny_list(dir: &str, id: &str) {
    let host = host_with(&[&example(dir)]);
    // The declared default.
    assert_eq!(
        blocked(&host, "shell").await.as_deref(),
        Some("tool `shell` is on the deny list")
    );
    assert_eq!(blocked(&host, "curl").await, None);

    host.configure(id, values(json!({"deny": ["curl"]})))
        .expect("configure");
    assert_eq!(
        blocked(&host, "shell").await,
        None,
        "the next event sees it"
    );
    assert!(blocked(&host, "curl").await.is_some());

    // Refused, and nothing changes.
    for (bad, why) in [
        (json!({"deny": "curl"}), "must be list"),
        (json!({"deny": [""]}), "shorter than 1 character"),
        (
            json!({"colour": "red"}),
            &*format!("`colour` is not a setting of {id}@0.1.0"),
        ),
    ] {
        let err = host
            .configure(id, values(bad.clone()))
            .expect_err("refused");
        assert!(matches!(err, HostError::Config { .. }), "{err}");
        assert!(err.to_string().contains(why), "{bad}: {err}");
    }
    let err = host
        .configure("example.nothing", values(json!({})))
        .expect_err("not loaded");
    assert!(err.to_string().contains("not loaded"), "{err}");
    assert!(
        blocked(&host, "curl").await.is_some(),
        "still the last good values"
    );

    // Back to the defaults.
    host.configure(id, values(json!({}))).expect("configure");
    assert!(blocked(&host, "shell").await.is_some());
}

#[tokio::test]
#[ignore = "needs the example components: run `cargo xtask e2e`"]
async fn a_setting_the_manifest_does_not_declare_is_an_error_in_the_guest() {
    let pkg = probe(Probe::default());
    let host = host_with(&[pkg.path()]);
    let out = host
        .dispatch(call("fetch #probe:config:deny_list", json!({})))
        .await;
    let r = receipt_of(&out, "hostile.probe");
    let logged: Vec<&str> = r.logs.iter().map(|l| l.message.as_str()).collect();
    assert!(
        logged.iter().any(|m| m.contains(
            "could not read config deny_list: configuration: `deny_list` is not a setting declared under [config] in plugin.toml"
        )),
        "{logged:#?}"
    );
}

#[cfg(feature = "registry")]
#[tokio::test]
#[ignore = "needs the example components: run `cargo xtask e2e`"]
async fn registry_settings_reach_the_guest_and_a_change_reloads_without_a_recompile() {
    use std::sync::Arc;
    use yoi_registry::{Activation, NewValue, Scope};

    let (_dir, reg) = crate::registry();
    crate::publish_and_activate(&reg, &example("guard"), &Activation::by("ops"));
    let host = crate::builder()
        .registry(Arc::clone(&reg))
        .build()
        .expect("boot");
    assert!(blocked(&host, "shell").await.is_some(), "the default");

    reg.set_config(
        "example.guard",
        Scope::All,
        "deny",
        NewValue::Json(json!(["curl"])),
        "ops",
    )
    .expect("set");
    let report = host.reload().expect("reload");
    assert_eq!(report.kept, ["example.guard"], "same code: {report:#?}");
    assert!(report.loaded.is_empty(), "nothing recompiled: {report:#?}");
    assert_eq!(blocked(&host, "shell").await, None);
    assert!(blocked(&host, "curl").await.is_some());

    // A canary host runs with the canary's value.
    reg.set_config(
        "example.guard",
        Scope::Canary,
        "deny",
        NewValue::Json(json!(["wget"])),
        "ops",
    )
    .expect("set for the canary");
    let canary = crate::builder()
        .registry(Arc::clone(&reg))
        .scope(Scope::Canary)
        .build()
        .expect("boot");
    assert!(blocked(&canary, "wget").await.is_some());
    assert_eq!(blocked(&canary, "curl").await, None);
    host.reload().expect("reload");
    assert!(
        blocked(&host, "curl").await.is_some(),
        "`all` hosts keep theirs"
    );
}

#[tokio::test]
#[ignore = "needs the example components: run `cargo xtask e2e`"]
async fn redact_masks_what_its_patterns_setting_says() {
    for (dir, id) in crate::REDACTS {
        redact_masks_by_its_patterns(dir, id).await;
    }
}

async fn redact_masks_by_its_patterns(dir: &str, id: &str) {
    use crate::result;
    use yoi_host::Status;

    let host = host_with(&[&example(dir)]);
    let text = "password=hunter2 account acct-12345";
    let out = host.dispatch(result(text)).await;
    assert_eq!(
        out.data.output, "password=**** account acct-12345",
        "the defaults"
    );

    host.configure(
        id,
        values(json!({"patterns": [{"pattern": "acct-[0-9]+", "replace": "acct-****"}]})),
    )
    .expect("configure");
    let out = host.dispatch(result(text)).await;
    assert_eq!(out.data.output, "password=hunter2 account acct-****");

    // A pattern that is no regular expression passes the schema (a string)
    // and fails in the plugin, with the reason in the receipt; fail-open
    // lets the output through unchanged.
    host.configure(
        id,
        values(json!({"patterns": [{"pattern": "acct-[", "replace": "x"}]})),
    )
    .expect("configure");
    let out = host.dispatch(result(text)).await;
    let r = receipt_of(&out, id);
    assert_eq!(r.status, Status::Error);
    let detail = r.detail.as_deref().unwrap_or_default();
    assert!(
        detail.contains("patterns[0] `acct-[` is not a regular expression"),
        "{detail}"
    );
    assert_eq!(out.data.output, text);
}
