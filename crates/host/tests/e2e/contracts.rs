//! Contract versions side by side: components built for `yoi:plugin@0.1.0`
//! and `0.2.0` (each straight from its frozen WIT) and ones built with the
//! PDK for the newest contract run in one host, in one chain; the 0.2.0
//! one reads the hook context, in its hook handlers and in its tools.

use serde_json::json;
use yoi_host::{HookContext, Status};

use crate::{call, example, host_with, receipt_of};

fn context(agent: &str) -> HookContext {
    HookContext {
        work_item_id: Some("wi-7".into()),
        run_id: Some("run-3".into()),
        agent_id: Some(agent.into()),
        session_id: Some("s-42".into()),
        subject: Some("user-1".into()),
    }
}

#[tokio::test]
#[ignore = "needs the example components: run `cargo xtask e2e`"]
async fn a_0_1_component_and_a_0_2_component_share_one_chain() {
    let host = host_with(&[&example("legacy"), &example("session")]);
    let order: Vec<String> = host
        .handlers(yoi_host::HookPoint::ToolPreExec)
        .into_iter()
        .map(|h| h.plugin.to_string())
        .collect();
    assert_eq!(order, ["example.legacy", "example.session"]);

    let out = host
        .dispatch_in(&context("support"), call("search", json!({"q": "refunds"})))
        .await;
    assert_eq!(receipt_of(&out, "example.legacy").status, Status::Ok);
    assert_eq!(receipt_of(&out, "example.session").status, Status::Ok);
    // The 0.1.0 handler changed the input first; the 0.2.0 handler saw that
    // change and added what only its contract carries: the context.
    assert_eq!(
        out.data.input,
        json!({
            "checked_by": "legacy",
            "q": "refunds",
            "agent": "support",
            "session": "s-42",
            "point": "tool.pre_exec",
            "plugin": "example.session",
        })
    );
    assert_eq!(receipt_of(&out, "example.legacy").changed, ["input"]);
}

#[tokio::test]
#[ignore = "needs the example components: run `cargo xtask e2e`"]
async fn the_context_drives_per_agent_policy() {
    let host = host_with(&[&example("legacy"), &example("session")]);
    let out = host
        .dispatch_in(&context("intern"), call("deploy", json!({})))
        .await;
    let blocked = out.blocked.expect("the intern may not deploy");
    assert_eq!(blocked.plugin.as_str(), "example.session");
    assert_eq!(blocked.reason, "the intern agent may not deploy");

    // The same call from another agent runs.
    let out = host
        .dispatch_in(&context("release-bot"), call("deploy", json!({})))
        .await;
    assert!(out.blocked.is_none());
}

#[tokio::test]
#[ignore = "needs the example components: run `cargo xtask e2e`"]
async fn without_a_context_0_2_handlers_see_none_of_the_ids() {
    let host = host_with(&[&example("session")]);
    let out = host.dispatch(call("search", json!({}))).await;
    assert_eq!(
        out.data.input,
        json!({
            "agent": null,
            "session": null,
            "point": "tool.pre_exec",
            "plugin": "example.session",
        })
    );
}

#[tokio::test]
#[ignore = "needs the example components: run `cargo xtask e2e`"]
async fn a_tool_reads_the_context_of_its_call() {
    let host = host_with(&[&example("session")]);
    let out = host
        .call_tool_in(
            &context("support"),
            yoi_host::ToolRequest {
                name: "example.session.whoami".into(),
                input: json!({}),
                call_id: "c1".into(),
                turn: 0,
            },
        )
        .await;
    assert_eq!(out.status, yoi_host::ToolStatus::Ok, "{out:#?}");
    let seen: serde_json::Value = serde_json::from_str(&out.output).expect("JSON");
    assert_eq!(
        seen,
        json!({
            "point": null,
            "plugin": "example.session",
            "work_item": "wi-7",
            "run": "run-3",
            "agent": "support",
            "session": "s-42",
            "subject": "user-1",
        })
    );
}

#[test]
#[ignore = "needs the example components: run `cargo xtask e2e`"]
fn a_blocking_embedder_needs_no_runtime_of_its_own() {
    let host = host_with(&[&example("legacy")]);
    let out = host
        .dispatch_blocking(&HookContext::default(), call("search", json!({"q": 1})))
        .expect("a runtime starts");
    assert_eq!(out.data.input, json!({"checked_by": "legacy", "q": 1}));
    assert!(out.is_changed());
}

#[test]
#[ignore = "needs the example components: run `cargo xtask e2e`"]
fn a_contract_the_host_does_not_serve_names_every_version_it_does() {
    // The minor version after the newest: no host of this release serves it.
    let newest = yoi_host::Host::compat()
        .newest()
        .cloned()
        .expect("a contract");
    let next = format!("yoi:plugin@{}.{}.0", newest.0.major, newest.0.minor + 1);
    let dir = crate::altered_copy("legacy", |m| m.replace("yoi:plugin@0.1.0", &next));
    let host = host_with(&[]);
    let err = host
        .load(dir.path())
        .expect_err("the next contract is not served");
    let text = err.to_string();
    let served = yoi_host::Host::compat().contracts_text();
    assert!(
        served.starts_with("yoi:plugin@0.1.0, yoi:plugin@0.2.0"),
        "{served}"
    );
    assert!(
        text.contains(&format!("targets {next}")) && text.contains(&served),
        "{text}"
    );
}

/// `examples/relay`, built for 0.4.0, runs on the 0.4.0 names of the
/// newest host APIs (docs/hooks.md): `config`, `https.open` with its body
/// resource, the chunk `sink`, `context`, `log`, and its observer's `fs`.
#[cfg(all(feature = "https", feature = "fs"))]
#[tokio::test]
#[ignore = "needs the example components: run `cargo xtask e2e`"]
async fn a_0_4_provider_and_observer_run_on_the_newest_host() {
    use yoi_host::{Chunk, CompletionRequest, Message, Role};

    let stub = crate::stub::Stub::start(|_| crate::stub::Reply::ok("one two three"));
    let data = tempfile::tempdir().expect("data dir");
    let dir = crate::altered_copy("relay", |m| {
        m.replace("127.0.0.1:18452", &format!("127.0.0.1:{}", stub.port))
    });
    let host = crate::builder()
        .data_dir(data.path())
        .build()
        .expect("host");
    host.load_with_grants(
        dir.path(),
        &[
            format!("https:http://127.0.0.1:{}", stub.port),
            "fs:relay:rw".into(),
        ],
    )
    .expect("a 0.4.0 component loads");

    let (tx, mut rx) = tokio::sync::mpsc::channel(16);
    let reader = tokio::spawn(async move {
        let mut text = String::new();
        while let Some(Chunk::Text(t)) = rx.recv().await {
            text.push_str(&t);
        }
        text
    });
    let request = CompletionRequest {
        model: "relay-1".into(),
        messages: vec![Message::new(Role::User, "relay it")],
        tools: Vec::new(),
        temperature: None,
        max_tokens: None,
        stop: Vec::new(),
        turn: 0,
    };
    let outcome = host
        .complete_streaming(&context("writer"), request, tx)
        .await;
    let answer = outcome.result.as_ref().expect("an answer");
    assert_eq!(answer.content, "one two three");
    assert_eq!(reader.await.expect("reader"), "one two three");
    assert_eq!(outcome.provider.as_deref(), Some("example.relay.relay"));
    let attempt = &outcome.attempts[0];
    assert!(
        attempt
            .logs
            .iter()
            .any(|l| l.message == "relayed" && l.rendered_fields() == "agent=writer"),
        "{:?}",
        attempt.logs
    );

    host.observe("ping", json!({}));
    let seen = data.path().join("example.relay/relay/seen.log");
    let until = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while !seen.exists() {
        assert!(
            std::time::Instant::now() < until,
            "the observer never wrote"
        );
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    assert_eq!(host.observers()[0].failed, 0);
}

/// A component built for contract 0.3.0 (the first with settings) runs on
/// the newest host: its hook is called, and it reads the operator's
/// settings through the 0.3.0 `config` interface.
#[tokio::test]
#[ignore = "needs the example components: run `cargo xtask e2e`"]
async fn a_component_built_for_0_3_0_runs_with_its_settings_on_the_newest_host() {
    let host = host_with(&[&example("settings-v3")]);
    let manifest =
        std::fs::read_to_string(example("settings-v3").join("plugin.toml")).expect("manifest");
    assert!(manifest.contains("contract = \"yoi:plugin@0.3.0\""));
    // The default of `deny` is ["shell"].
    let out = host.dispatch(call("shell", json!({}))).await;
    let blocked = out.blocked.as_ref().expect("blocked by its default");
    assert!(
        blocked
            .reason
            .contains("denied by settings (contract 0.3.0)"),
        "{blocked:?}"
    );
    let out = host.dispatch(call("curl", json!({}))).await;
    assert!(out.blocked.is_none(), "{:#?}", out.receipts);
    // The operator's value replaces the default.
    host.configure(
        "example.settings-v3",
        json!({"deny": ["curl"]})
            .as_object()
            .cloned()
            .unwrap_or_default(),
    )
    .expect("configure");
    let out = host.dispatch(call("curl", json!({}))).await;
    assert!(out.blocked.is_some(), "{:#?}", out.receipts);
    let out = host.dispatch(call("shell", json!({}))).await;
    assert!(out.blocked.is_none(), "{:#?}", out.receipts);
}
