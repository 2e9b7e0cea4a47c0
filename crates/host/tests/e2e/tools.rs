//! The tool registry: plugin tools beside native ones, schema checks before
//! the guest runs, tool hooks around every tool, and denials recorded in the
//! registry's events.

use serde_json::json;
use yoi_host::{NativeTool, ToolSource, ToolStatus};
#[cfg(feature = "registry")]
use yoi_registry::Activation;

use crate::grants::{assert_denied, call_tool};
use crate::stub::{Reply, Stub};
use crate::{altered_copy, builder, example};
#[cfg(feature = "registry")]
use crate::{publish_and_activate, registry};

fn weather_report() -> Reply {
    Reply {
        headers: vec![("content-type".into(), "application/json".into())],
        ..Reply::ok(r#"{"conditions": "light rain", "temperature_c": 7.4, "wind_kmh": 18.0}"#)
    }
}

#[tokio::test]
#[ignore = "needs the example components: run `cargo xtask e2e`"]
async fn plugin_tools_are_listed_namespaced_beside_native_tools() {
    let data = tempfile::tempdir().unwrap();
    let host = builder().data_dir(data.path()).build().unwrap();
    host.load_with_grants(example("notes"), &["fs:notes:rw"])
        .unwrap();
    host.register_tool(NativeTool::new(
        "clock",
        "The time.",
        json!({"type": "object", "properties": {}}),
        |_| async { Ok("10:00".to_owned()) },
    ))
    .unwrap();

    let tools = host.tools();
    let names: Vec<&str> = tools.iter().map(|t| t.name.as_str()).collect();
    assert_eq!(
        names,
        [
            "clock",
            "example.notes.add_note",
            "example.notes.read_note",
            "example.notes.list_notes"
        ]
    );
    assert_eq!(tools[0].source, ToolSource::Native);
    let add = &tools[1];
    assert!(matches!(&add.source, ToolSource::Plugin { id, .. } if id.as_str() == "example.notes"));
    let def = add.definition();
    assert_eq!(def["name"], "example.notes.add_note");
    assert_eq!(def["input_schema"]["required"], json!(["title", "text"]));
    assert!(
        def["description"]
            .as_str()
            .unwrap()
            .starts_with("Saves a note")
    );

    // Native names cannot clash with plugin namespaces, or with each other.
    for bad in ["example.notes.add_note", "clock", ""] {
        let tool = NativeTool::new(bad, "x", json!({"type": "object"}), |_| async {
            Ok(String::new())
        });
        assert!(host.register_tool(tool).is_err(), "{bad}");
    }
    let bad_schema = NativeTool::new("odd", "x", json!({"type": "string"}), |_| async {
        Ok(String::new())
    });
    assert!(
        host.register_tool(bad_schema)
            .unwrap_err()
            .to_string()
            .contains("object")
    );
}

#[cfg(feature = "fs")]
#[tokio::test]
#[ignore = "needs the example components: run `cargo xtask e2e`"]
async fn notes_are_kept_through_the_fs_grant() {
    for (dir, id) in crate::NOTES {
        notes_are_kept(dir, id).await;
    }
}

async fn notes_are_kept(dir: &str, id: &str) {
    let data = tempfile::tempdir().unwrap();
    let host = builder().data_dir(data.path()).build().unwrap();
    host.load_with_grants(example(dir), &["fs:notes:rw"])
        .unwrap();

    let (_, out) = call_tool(
        &host,
        &format!("{id}.add_note"),
        json!({"title": "Shopping list", "text": "- eggs"}),
    )
    .await;
    assert_eq!(out.status, ToolStatus::Ok, "{out:#?}");
    assert_eq!(
        out.output,
        "saved `Shopping list` as notes/shopping-list.md"
    );
    let (_, out) = call_tool(
        &host,
        &format!("{id}.add_note"),
        json!({"title": "../../escape", "text": "x"}),
    )
    .await;
    assert_eq!(out.status, ToolStatus::Ok, "{out:#?}");
    let (_, out) = call_tool(&host, &format!("{id}.list_notes"), json!({})).await;
    assert_eq!(
        out.output, "escape (18 bytes)\nshopping-list (24 bytes)",
        "{out:#?}"
    );
    let (_, out) = call_tool(
        &host,
        &format!("{id}.read_note"),
        json!({"title": "shopping list"}),
    )
    .await;
    assert_eq!(
        out.output,
        "# shopping list\n\n- eggs\n".replace("shopping list", "Shopping list")
    );
    let on_disk = data.path().join(id).join("notes/shopping-list.md");
    assert!(on_disk.is_file(), "the note is in the plugin's data root");

    // Without the grant, the same call is refused, and the model is told.
    let host = builder().data_dir(data.path()).build().unwrap();
    host.load(example(dir)).unwrap();
    let (_, out) = call_tool(&host, &format!("{id}.list_notes"), json!({})).await;
    assert_eq!(out.status, ToolStatus::Error, "{out:#?}");
    assert!(out.output.contains("permission denied"), "{}", out.output);
    assert!(
        out.output.contains(&format!("yoi grant {id} fs:notes:ro")),
        "{}",
        out.output
    );
}

#[cfg(feature = "https")]
#[tokio::test]
#[ignore = "needs the example components: run `cargo xtask e2e`"]
async fn the_weather_tool_reaches_only_its_granted_service() {
    let stub = Stub::start(|path| {
        if path.starts_with("/v1/today?city=S%C3%A3o%20Paulo") {
            weather_report()
        } else {
            Reply {
                status: 404,
                ..Reply::default()
            }
        }
    });
    let origin = format!("http://127.0.0.1:{}", stub.port);
    let pkg = altered_copy("weather", |t| t.replace("http://127.0.0.1:18451", &origin));
    let secrets: std::collections::HashMap<String, String> = [
        ("WEATHER_API_URL".to_owned(), origin.clone()),
        ("WEATHER_API_KEY".to_owned(), "k-123".to_owned()),
    ]
    .into();
    let host = builder().secrets(secrets).build().unwrap();
    let grants = [
        format!("https:{origin}"),
        "secret:WEATHER_API_URL".into(),
        "secret:WEATHER_API_KEY".into(),
    ];
    host.load_with_grants(pkg.path(), &grants).unwrap();

    let (seen, out) = call_tool(
        &host,
        "example.weather.forecast",
        json!({"city": "São Paulo"}),
    )
    .await;
    assert_eq!(out.status, ToolStatus::Ok, "{out:#?}");
    assert_eq!(
        seen,
        json!({"city": "São Paulo", "summary": "light rain, 7 °C, wind 18 km/h"})
    );
    let request = stub.seen.lock().unwrap()[0].clone();
    assert!(request.contains("authorization: Bearer k-123"), "{request}");

    // Without the https grant, the tool fails with the fix in its output.
    let host = builder().build().unwrap();
    host.load_with_grants(pkg.path(), &["secret:WEATHER_API_URL"])
        .unwrap();
    let (_, out) = call_tool(&host, "example.weather.forecast", json!({"city": "Oslo"})).await;
    assert_eq!(out.status, ToolStatus::Error, "{out:#?}");
    assert!(out.output.contains("permission denied"), "{}", out.output);
}

#[tokio::test]
#[ignore = "needs the example components: run `cargo xtask e2e`"]
async fn input_failing_the_schema_is_refused_before_the_guest_runs() {
    let data = tempfile::tempdir().unwrap();
    let guard = crate::probe(crate::Probe::default());
    let host = builder().data_dir(data.path()).build().unwrap();
    host.load_with_grants(example("notes"), &["fs:notes:rw"])
        .unwrap();
    host.load(guard.path()).unwrap();

    for input in [
        json!({"title": "x"}),
        json!({"title": 3, "text": "x"}),
        json!({"title": "x", "text": "y", "extra": true}),
        json!("not an object"),
    ] {
        let (_, out) = call_tool(&host, "example.notes.add_note", input.clone()).await;
        assert_eq!(out.status, ToolStatus::InvalidInput, "{input}: {out:#?}");
        assert!(
            out.output.contains("does not match the tool's schema"),
            "{}",
            out.output
        );
        assert!(out.run.is_none(), "the tool never ran");
        assert!(out.receipts.is_empty(), "no hook ran either");
    }
    assert!(!data.path().join("example.notes").exists());

    // A pre_exec handler that makes the input invalid does not get it through.
    let (_, out) = call_tool(
        &host,
        "example.notes.add_note",
        json!({"title": "x", "text": "#probe:set:input=[1]"}),
    )
    .await;
    assert_eq!(out.status, ToolStatus::InvalidInput, "{out:#?}");
    assert!(
        out.output
            .contains("after a tool.pre_exec handler changed it"),
        "{}",
        out.output
    );

    let (_, out) = call_tool(&host, "example.notes.nope", json!({})).await;
    assert_eq!(out.status, ToolStatus::UnknownTool);
    assert!(
        out.output.contains("example.notes.add_note"),
        "{}",
        out.output
    );
}

#[cfg(feature = "fs")]
#[tokio::test]
#[ignore = "needs the example components: run `cargo xtask e2e`"]
async fn tool_hooks_run_around_plugin_and_native_tools() {
    let data = tempfile::tempdir().unwrap();
    let host = builder().data_dir(data.path()).build().unwrap();
    host.load_with_grants(example("notes"), &["fs:notes:rw"])
        .unwrap();
    host.load(example("redact")).unwrap();
    host.load(example("guard")).unwrap();
    host.register_tool(NativeTool::new(
        "env",
        "Reads the environment.",
        json!({"type": "object"}),
        |_| async { Ok("OPENAI_API_KEY=sk-abcdef1234567890".to_owned()) },
    ))
    .unwrap();
    host.register_tool(NativeTool::new(
        "shell",
        "Runs a command.",
        json!({"type": "object"}),
        |_| async { Ok("ran".to_owned()) },
    ))
    .unwrap();

    let (_, out) = call_tool(&host, "env", json!({})).await;
    assert_eq!(
        out.output, "OPENAI_API_KEY=sk-****",
        "redact's tool.post_exec ran: {out:#?}"
    );
    assert_eq!(out.persisted, "OPENAI_API_KEY=sk-****");
    let points: Vec<String> = out
        .receipts
        .iter()
        .map(|r| format!("{}@{}", r.plugin, r.point))
        .collect();
    assert_eq!(
        points,
        [
            "example.guard@tool.pre_exec",
            "example.redact@tool.post_exec",
            "example.redact@tool.result_persist",
        ]
    );

    let (_, out) = call_tool(&host, "shell", json!({"cmd": "ls"})).await;
    assert_eq!(out.status, ToolStatus::Blocked);
    assert_eq!(
        out.output,
        "blocked by plugin example.guard: tool `shell` is on the deny list"
    );

    let (_, out) = call_tool(
        &host,
        "example.notes.add_note",
        json!({"title": "keys", "text": "password=hunter2"}),
    )
    .await;
    assert_eq!(out.status, ToolStatus::Ok, "{out:#?}");
    assert_eq!(out.receipts.len(), 3, "guard, then redact twice: {out:#?}");
    let run = out.run.expect("the plugin tool ran");
    assert_eq!(run.plugin.as_str(), "example.notes");
}

#[cfg(feature = "registry")]
#[tokio::test]
#[ignore = "needs the example components: run `cargo xtask e2e`"]
async fn every_refusal_leaves_a_permission_denied_event() {
    let (_dir, reg) = registry();
    let pkg = altered_copy("hostile/reach", |t| t);
    // Publish with every request, then narrow the grants to one folder.
    publish_and_activate(&reg, pkg.path(), &Activation::by("tester"));
    reg.revoke(
        "hostile.reach",
        &[
            "fs:.:rw".into(),
            "secret:OTHER_KEY".into(),
            "https:api.example.com".into(),
        ],
        "tester",
    )
    .unwrap();
    reg.grant("hostile.reach", &["fs:notes:rw".into()], true, "tester")
        .unwrap();
    let data = tempfile::tempdir().unwrap();
    let host = builder()
        .registry(reg.clone())
        .data_dir(data.path())
        .build()
        .unwrap();
    assert_eq!(host.plugins().len(), 1, "{:?}", host.boot_report());

    let cases = [
        ("fetch", json!({"url": "https://api.example.com/"}), "https"),
        ("fetch", json!({"url": "http://127.0.0.1:9/"}), "https"),
        ("file", json!({"op": "read", "path": "../x"}), "fs"),
        ("file", json!({"op": "read", "path": "/etc/passwd"}), "fs"),
        (
            "file",
            json!({"op": "write", "path": "other/x", "data": "x"}),
            "fs",
        ),
        ("secret", json!({"key": "OTHER_KEY"}), "secret"),
    ];
    for (tool, input, capability) in &cases {
        let (seen, out) = call_tool(&host, &format!("hostile.reach.{tool}"), input.clone()).await;
        assert_denied(&seen, &out, capability);
    }
    host.flush_events();
    let events = reg.events(Some("hostile.reach"), 0, 100).unwrap();
    let denied: Vec<_> = events
        .iter()
        .filter(|e| e.kind == "permission_denied")
        .collect();
    assert_eq!(denied.len(), cases.len(), "{events:#?}");
    for (event, (tool, _, capability)) in denied.iter().zip(&cases) {
        assert_eq!(event.detail["capability"], *capability);
        assert_eq!(event.detail["during"], format!("hostile.reach.{tool}"));
        assert!(event.detail["fix"].as_str().is_some_and(|f| !f.is_empty()));
        assert!(event.detail["target"].as_str().is_some());
    }
    assert_eq!(denied[4].detail["granted"], json!(["fs:notes:rw"]));
    assert!(
        events.iter().any(|e| e.kind == "tool"),
        "tool runs are recorded too"
    );
}

#[cfg(feature = "registry")]
#[tokio::test]
#[ignore = "needs the example components: run `cargo xtask e2e`"]
async fn a_partial_rollout_offers_its_tools_only_to_the_subjects_it_reaches() {
    let (_dir, reg) = registry();
    let half = Activation {
        actor: "tester".into(),
        rollout: yoi_host::Rollout {
            scope: yoi_host::Scope::All,
            percent: 50,
        },
    };
    publish_and_activate(&reg, &example("notes"), &half);
    let data = tempfile::tempdir().unwrap();
    let host = builder()
        .registry(reg)
        .data_dir(data.path())
        .build()
        .unwrap();
    let subjects: Vec<String> = (0..40).map(|i| format!("user-{i}")).collect();
    let (inside, outside): (Vec<&String>, Vec<&String>) = subjects
        .iter()
        .partition(|s| yoi_manifest::bucket("example.notes", s) < 50);
    let (inside, outside) = (inside[0], outside[0]);

    assert!(
        host.tools().is_empty(),
        "no subject: a partial rollout offers nothing"
    );
    assert_eq!(host.tools_for(inside).len(), 3);
    assert!(host.tools_for(outside).is_empty());
    let request = |name: &str| yoi_host::ToolRequest {
        name: name.into(),
        input: json!({}),
        call_id: "c".into(),
        turn: 0,
    };
    let out = host
        .call_tool_for(inside, request("example.notes.list_notes"))
        .await;
    assert_eq!(out.status, ToolStatus::Ok, "{out:#?}");
    let out = host
        .call_tool_for(outside, request("example.notes.list_notes"))
        .await;
    assert_eq!(out.status, ToolStatus::UnknownTool, "{out:#?}");
}

#[cfg(feature = "registry")]
#[tokio::test]
#[ignore = "needs the example components: run `cargo xtask e2e`"]
async fn a_hook_handler_refused_a_host_call_has_the_denial_on_its_receipt() {
    let (_dir, reg) = registry();
    let pkg = crate::probe(crate::Probe::default());
    publish_and_activate(&reg, pkg.path(), &Activation::by("tester"));
    let host = builder().registry(reg.clone()).build().unwrap();
    let out = host
        .dispatch(crate::call(
            "fetch",
            json!({"note": "#probe:secret:DB_PASSWORD"}),
        ))
        .await;
    let receipt = crate::receipt_of(&out, "hostile.probe");
    assert_eq!(
        receipt.status,
        yoi_host::Status::Ok,
        "the handler went on: {receipt:#?}"
    );
    assert_eq!(receipt.denials.len(), 1, "{receipt:#?}");
    let denial = &receipt.denials[0];
    assert_eq!(
        (denial.capability.as_str(), denial.target.as_str()),
        ("secret", "DB_PASSWORD")
    );
    assert!(
        denial.fix.contains("does not request `secret:DB_PASSWORD`"),
        "{}",
        denial.fix
    );
    assert!(
        receipt.logs.iter().any(|l| l
            .message
            .starts_with("could not read secret DB_PASSWORD: permission denied")),
        "the guest saw a typed denial: {:#?}",
        receipt.logs
    );
    host.flush_events();
    let events = reg.events(Some("hostile.probe"), 0, 100).unwrap();
    let denied: Vec<_> = events
        .iter()
        .filter(|e| e.kind == "permission_denied")
        .collect();
    assert_eq!(denied.len(), 1, "{events:#?}");
    assert_eq!(denied[0].detail["during"], "tool.pre_exec");
}
