//! Hook points the host declares itself (contract 0.6.0): a build
//! pipeline's `build.pre_compile` and `build.post_compile`, handled by the
//! build guard in Rust, Python and JavaScript, next to components of every
//! older contract (0.1.0 to 0.5.0) in the same host.

use std::time::{Duration, Instant};

use serde_json::{Value, json};
use yoi_host::{HookContext, HookPoint, Host, HostError, HostPointSpec, Status};

use crate::{builder, call, example, load_all, receipt_of};

const RUST: &str = "example.build-guard";
const PYTHON: &str = "example.py-build-guard";
const JAVASCRIPT: &str = "example.js-build-guard";

fn schema() -> Value {
    json!({
        "type": "object",
        "required": ["target", "flags"],
        "additionalProperties": false,
        "properties": {
            "target": {"type": "string", "minLength": 1},
            "flags": {"type": "array", "items": {"type": "string"}},
            "build_id": {"type": "string"}
        }
    })
}

/// The pipeline's points, with `changeable` fields for `build.pre_compile`.
fn host(changeable: &[&str], may_block: bool, schema: Value) -> Host {
    let pre = HostPointSpec::new("build.pre_compile", schema)
        .and_then(|s| s.changeable(changeable))
        .expect("a valid declaration")
        .may_block(may_block);
    let post = HostPointSpec::new(
        "build.post_compile",
        json!({"type": "object", "required": ["target", "ok"]}),
    )
    .expect("a valid declaration");
    builder()
        .host_point(pre)
        .host_point(post)
        .build()
        .expect("host starts")
}

fn guards(host: &Host) {
    load_all(
        host,
        &[
            &example("build-guard"),
            &example("py-build-guard"),
            &example("js-build-guard"),
        ],
    );
}

async fn pre_compile(host: &Host, event: Value) -> yoi_host::Dispatch<Value> {
    host.dispatch_point(&HookContext::default(), "build.pre_compile", event)
        .await
        .expect("a valid event of a declared point")
}

#[tokio::test]
#[ignore = "needs the example components: run `cargo xtask e2e`"]
async fn the_first_stamp_wins_and_every_language_runs_in_priority_order() {
    let host = host(&["flags", "build_id"], true, schema());
    guards(&host);
    let point: HookPoint = "build.pre_compile".parse().expect("a host point");
    let order: Vec<String> = host
        .handlers(point)
        .into_iter()
        .map(|h| h.plugin.to_string())
        .collect();
    assert_eq!(order, [PYTHON, JAVASCRIPT, RUST]);
    assert_eq!(host.host_points().len(), 2);

    let out = pre_compile(&host, json!({"target": "app", "flags": ["-O2"]})).await;
    assert!(out.blocked.is_none(), "{:#?}", out.receipts);
    // Python stamps first; the others see the stamp and leave it.
    assert_eq!(
        out.data,
        json!({"target": "app", "flags": ["-O2"], "build_id": "py-app"})
    );
    assert_eq!(receipt_of(&out, PYTHON).changed, ["build_id"]);
    for plugin in [JAVASCRIPT, RUST] {
        let r = receipt_of(&out, plugin);
        assert_eq!(r.status, Status::Ok, "{r:?}");
        assert!(r.changed.is_empty(), "{r:?}");
        assert_eq!(r.point, point);
    }
}

#[tokio::test]
#[ignore = "needs the example components: run `cargo xtask e2e`"]
async fn a_forbidden_flag_is_refused_by_each_guard() {
    // One guard at a time: each language's block reaches the pipeline.
    for (folder, plugin, says) in [
        (
            "build-guard",
            RUST,
            "--insecure is not allowed in builds of legacy",
        ),
        ("py-build-guard", PYTHON, "(Python)"),
        ("js-build-guard", JAVASCRIPT, "(JavaScript)"),
    ] {
        let host = host(&["flags", "build_id"], true, schema());
        load_all(&host, &[&example(folder)]);
        let out = pre_compile(&host, json!({"target": "legacy", "flags": ["--insecure"]})).await;
        let blocked = out.blocked.as_ref().expect("blocked");
        assert_eq!(blocked.plugin.as_str(), plugin);
        assert!(blocked.reason.contains(says), "{blocked:?}");
        assert_eq!(receipt_of(&out, plugin).status, Status::Blocked);
    }
}

#[tokio::test]
#[ignore = "needs the example components: run `cargo xtask e2e`"]
async fn a_change_outside_the_declared_rights_is_refused() {
    // `build_id` is not changeable here: every stamp is refused and ignored.
    let host = host(&["flags"], true, schema());
    guards(&host);
    let event = json!({"target": "app", "flags": ["-O2"]});
    let out = pre_compile(&host, event.clone()).await;
    assert_eq!(out.data, event, "nothing outside the rights got through");
    for plugin in [PYTHON, JAVASCRIPT, RUST] {
        let r = receipt_of(&out, plugin);
        assert_eq!(r.status, Status::RejectedChange, "{r:?}");
        let detail = r.detail.as_deref().unwrap_or_default();
        assert!(
            detail.contains(
                "changed `build_id`, which build.pre_compile does not let a plugin change"
            ),
            "{detail}"
        );
    }

    // A block where the declaration allows none is refused too.
    let host = self::host(&["flags", "build_id"], false, schema());
    load_all(&host, &[&example("build-guard")]);
    let out = pre_compile(&host, json!({"target": "x", "flags": ["--insecure"]})).await;
    assert!(out.blocked.is_none());
    let r = receipt_of(&out, RUST);
    assert_eq!(r.status, Status::RejectedChange);
    assert!(
        r.detail
            .as_deref()
            .unwrap_or_default()
            .contains("may not block"),
        "{r:?}"
    );
}

#[tokio::test]
#[ignore = "needs the example components: run `cargo xtask e2e`"]
async fn a_change_that_breaks_the_schema_is_refused() {
    // The host wants build ids like `b-<16 hex digits>`: the Rust guard's
    // stamp fits, the Python and JavaScript ones do not.
    let mut strict = schema();
    strict["properties"]["build_id"]["pattern"] = json!("^b-[0-9a-f]{16}$");
    let host = host(&["flags", "build_id"], true, strict);
    guards(&host);
    let out = pre_compile(&host, json!({"target": "app", "flags": []})).await;
    for plugin in [PYTHON, JAVASCRIPT] {
        let r = receipt_of(&out, plugin);
        assert_eq!(r.status, Status::RejectedChange, "{r:?}");
        assert!(
            r.detail
                .as_deref()
                .unwrap_or_default()
                .contains("does not match build.pre_compile's schema"),
            "{r:?}"
        );
    }
    assert_eq!(receipt_of(&out, RUST).changed, ["build_id"]);
    let id = out.data["build_id"].as_str().expect("stamped");
    assert!(id.starts_with("b-") && id.len() == 18, "{id}");
}

#[tokio::test]
#[ignore = "needs the example components: run `cargo xtask e2e`"]
async fn events_that_fail_the_schema_or_name_no_declared_point_are_refused() {
    let host = host(&["flags", "build_id"], true, schema());
    guards(&host);
    let context = HookContext::default();
    for bad in [
        json!({"target": 7, "flags": []}),
        json!({"flags": []}),
        json!({"target": "app", "flags": [], "extra": true}),
        json!(["not", "an", "object"]),
    ] {
        let err = host
            .dispatch_point(&context, "build.pre_compile", bad.clone())
            .await
            .expect_err("refused before any plugin runs");
        assert!(matches!(err, HostError::HostPoint { .. }), "{err}");
        assert!(err.to_string().contains("build.pre_compile"), "{err}");
    }
    let err = host
        .dispatch_point(&context, "deploy.pre_release", json!({}))
        .await
        .expect_err("not declared");
    assert!(
        err.to_string()
            .contains("does not declare it (it declares: build.pre_compile, build.post_compile)"),
        "{err}"
    );
    // The JSON entry point reaches declared points the same way.
    let point: HookPoint = "build.pre_compile".parse().expect("a host point");
    let out = host
        .dispatch_json_in(&context, point, json!({"target": "a", "flags": []}))
        .await
        .expect("dispatched");
    assert_eq!(out.data["build_id"], "py-a");
}

#[tokio::test]
#[ignore = "needs the example components: run `cargo xtask e2e`"]
async fn components_of_every_older_contract_run_beside_it() {
    let host = host(&["flags", "build_id"], true, schema());
    guards(&host);
    load_all(
        &host,
        &[
            &example("legacy"),      // 0.1.0
            &example("session"),     // 0.2.0
            &example("settings-v3"), // 0.3.0
            &example("echo-v5"),     // 0.5.0
        ],
    );
    let out = pre_compile(&host, json!({"target": "app", "flags": []})).await;
    assert_eq!(out.data["build_id"], "py-app");

    let out = host.dispatch(call("search", json!({"q": 1}))).await;
    for plugin in [
        "example.legacy",
        "example.session",
        "example.settings-v3",
        "example.echo-v5",
    ] {
        assert_eq!(receipt_of(&out, plugin).status, Status::Ok, "{plugin}");
    }
    assert_eq!(out.data.input["checked_by"], "legacy");
    assert_eq!(out.data.input["seen_by"], "echo-v5");

    // The 0.5.0 service, called through 0.5.0's own interface.
    let outputs = host.service_outputs();
    let started = Instant::now();
    loop {
        match host.send_to_service("example.echo-v5", "echo", "ping", json!({"n": 1})) {
            Ok(()) => break,
            Err(e) if started.elapsed() < Duration::from_secs(10) => {
                let _ = e;
                std::thread::sleep(Duration::from_millis(20));
            }
            Err(e) => panic!("the 0.5.0 service takes no message: {e}"),
        }
    }
    let echoed = loop {
        let o = outputs
            .recv_timeout(Duration::from_secs(10))
            .expect("an output of the 0.5.0 service");
        if o.kind == "echo" {
            break o;
        }
    };
    assert_eq!(echoed.plugin.as_str(), "example.echo-v5");
    assert_eq!(echoed.data, json!({"n": 1}));
}
