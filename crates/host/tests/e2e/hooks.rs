//! Every hook point with a real component: it runs, its allowed changes are
//! kept, its forbidden changes and blocks are refused with a receipt.

use serde_json::{Value, json};
use yoi_host::{HookPoint, Status};

use super::{Probe, probe, redact_and_probe, result};

/// Per point: a valid event with `CMD` where the probe's commands go, an
/// allowed change (field, value, expected JSON) if the point has one, and a
/// field the point does not let a plugin change.
/// (point, event, allowed change, forbidden field)
type Case = (
    HookPoint,
    Value,
    Option<(&'static str, &'static str, Value)>,
    &'static str,
);

fn table() -> Vec<Case> {
    vec![
        (
            HookPoint::WorkItemPreCreate,
            json!({"title": "t", "payload": {"a": 1}, "session_key": "s", "source": "CMD", "instance": "i"}),
            Some(("title", "New", json!("New"))),
            "instance",
        ),
        (
            HookPoint::WorkItemPostCreate,
            json!({"id": "CMD", "title": "t", "payload": {}, "session_key": "s", "source": "chat"}),
            None,
            "title",
        ),
        (
            HookPoint::RunPrePrompt,
            json!({"system_prompt": "sys", "user_message": "hi", "agent_id": "CMD", "work_item_id": "w"}),
            Some(("system_prompt", "New", json!("New"))),
            "work_item_id",
        ),
        (
            HookPoint::ModelPreCall,
            json!({"model": "CMD", "temperature": 0.5, "max_tokens": null, "messages": [], "tools": [], "turn": 1}),
            Some(("max_tokens", "99", json!(99))),
            "turn",
        ),
        (
            HookPoint::ModelPostCall,
            json!({"response": {}, "model": "CMD", "turn": 1, "duration_ms": 5, "input_tokens": 1, "output_tokens": 2, "cost_usd": 0.01}),
            None,
            "turn",
        ),
        (
            HookPoint::ToolPreExec,
            json!({"tool_name": "CMD", "input": {"a": 1}, "call_id": "c", "turn": 0}),
            Some(("input", "[1]", json!([1]))),
            "call_id",
        ),
        (
            HookPoint::ToolPostExec,
            json!({"tool_name": "CMD", "input": {}, "output": "out", "duration_ms": 7, "turn": 0}),
            Some(("output", "New", json!("New"))),
            "duration_ms",
        ),
        (
            HookPoint::ToolResultPersist,
            json!({"tool_name": "CMD", "call_id": "c", "result": "r"}),
            Some(("result", "New", json!("New"))),
            "call_id",
        ),
        (
            HookPoint::ResponsePreDeliver,
            json!({"content": "hello", "channel": "CMD", "work_item_id": "w", "mode": "streaming"}),
            Some(("content", "New", json!("New"))),
            "work_item_id",
        ),
        (
            HookPoint::ResponsePostDeliver,
            json!({"content": "hello", "channel": "CMD", "ok": true, "detail": "sent"}),
            None,
            "detail",
        ),
        (
            HookPoint::ContextPreCompact,
            json!({"messages": [{"content": "CMD"}]}),
            None,
            "messages",
        ),
        (
            HookPoint::ContextPostCompact,
            json!({"messages": [{"content": "CMD"}], "summary": "s"}),
            Some(("summary", "New", json!("New"))),
            "messages",
        ),
        (
            HookPoint::HostStart,
            json!({"name": "CMD", "version": "1", "instance": "i"}),
            None,
            "version",
        ),
        (
            HookPoint::HostStop,
            json!({"name": "CMD", "version": "1", "instance": "i"}),
            None,
            "version",
        ),
    ]
}

fn with_command(event: &Value, command: &str) -> Value {
    let text = event
        .to_string()
        .replace("CMD", &format!("x #probe:{command}"));
    serde_json::from_str(&text).expect("still JSON")
}

#[tokio::test]
#[ignore = "needs the example components: run `cargo xtask e2e`"]
async fn every_point_runs_a_real_component_and_enforces_its_rights() {
    let pkg = probe(Probe::default());
    let host = super::builder().build().expect("host");
    host.load(pkg.path()).expect("probe loads");
    let table = table();
    assert_eq!(
        table.len(),
        HookPoint::ALL.len(),
        "the table covers every point"
    );

    for (point, event, allowed, fixed) in table {
        // A handler that only looks: ok, its log line names the point.
        let plain = with_command(&event, "none-at-all")
            .to_string()
            .replace("#probe:none-at-all", "");
        let plain: Value = serde_json::from_str(&plain).expect("json");
        let out = host
            .dispatch_json(point, None, plain.clone())
            .await
            .expect("dispatch");
        let r = &out.receipts[0];
        assert_eq!((r.status, r.point), (Status::Ok, point), "{point}: {r:#?}");
        assert_eq!(r.logs[0].fields, [("point".to_owned(), point.to_string())]);
        assert_eq!(out.data, plain, "{point}: unchanged");

        // An allowed change is kept, exactly as the guest wrote it.
        if let Some((field, value, expected)) = allowed {
            let input = with_command(&event, &format!("set:{field}={value}"));
            let out = host
                .dispatch_json(point, None, input)
                .await
                .expect("dispatch");
            let r = &out.receipts[0];
            assert_eq!(r.status, Status::Ok, "{point}: {r:#?}");
            assert_eq!(r.changed, [field], "{point}");
            assert_eq!(out.data[field], expected, "{point}");
        }

        // A change to a field the point does not allow is ignored whole.
        let input = with_command(&event, &format!("set:{fixed}=0"));
        let out = host
            .dispatch_json(point, None, input.clone())
            .await
            .expect("dispatch");
        let r = &out.receipts[0];
        assert_eq!(r.status, Status::RejectedChange, "{point}: {r:#?}");
        let detail = r.detail.as_deref().unwrap_or_default();
        assert!(detail.contains(&format!("`{fixed}`")), "{point}: {detail}");
        assert_eq!(out.data, input, "{point}: nothing changed");

        // Blocking: honoured where the point allows it, refused elsewhere.
        let out = host
            .dispatch_json(point, None, with_command(&event, "block"))
            .await
            .expect("dispatch");
        let r = &out.receipts[0];
        let can_block = matches!(
            point,
            HookPoint::WorkItemPreCreate
                | HookPoint::ModelPreCall
                | HookPoint::ToolPreExec
                | HookPoint::ResponsePreDeliver
        );
        if can_block {
            assert_eq!(r.status, Status::Blocked, "{point}");
            let b = out.blocked.expect("blocked");
            assert_eq!(b.reason, format!("probe blocked {point}"));
        } else {
            assert_eq!(r.status, Status::RejectedChange, "{point}");
            assert!(out.blocked.is_none(), "{point} cannot block");
            assert!(
                r.detail
                    .as_deref()
                    .unwrap_or_default()
                    .contains("may not block"),
                "{point}"
            );
        }
    }
}

#[tokio::test]
#[ignore = "needs the example components: run `cargo xtask e2e`"]
async fn each_handler_sees_the_data_as_changed_before_it() {
    // probe (priority 200) writes a password into the output; redact
    // (priority 50) runs next and must see, and mask, what probe wrote.
    let (host, _dirs) = redact_and_probe();
    let out = host
        .dispatch(result("#probe:set:output=password=hunter2"))
        .await;
    assert_eq!(out.data.output, "password=****");
    assert_eq!(out.receipts[0].plugin.as_str(), "hostile.probe");
    assert_eq!(out.receipts[0].changed, ["output"]);
    assert_eq!(out.receipts[1].plugin.as_str(), "example.redact");
    assert_eq!(out.receipts[1].changed, ["output"]);
}
