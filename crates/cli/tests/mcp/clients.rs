//! `yoi mcp` under the official tools: the MCP Python SDK as a client over
//! both transports and both revisions, and the MCP conformance suite
//! against `yoi mcp --http`. `cargo xtask e2e` installs both (pinned) and
//! names them in YOI_MCP_PYTHONPATH, YOI_MCP_NODE and YOI_MCP_CONFORMANCE.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use serde_json::Value;

use super::{Plugins, spawn_http};
use crate::support::example;

/// An installed tool's path, from the variable `cargo xtask e2e` sets.
fn tool(var: &str) -> String {
    std::env::var(var).unwrap_or_else(|_| {
        panic!("{var} is not set: run these tests with `cargo xtask e2e`, which installs the official MCP tools")
    })
}

/// `yoi --registry HOME ARGS`, which must succeed.
fn yoi_in(home: &Path, args: &[&str]) -> Output {
    let out = Command::new(env!("CARGO_BIN_EXE_yoi"))
        .arg("--registry")
        .arg(home)
        .args(args)
        .stdin(Stdio::null())
        .output()
        .expect("yoi runs");
    assert!(
        out.status.success(),
        "yoi {args:?}: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// A registry with notes, the Python and JavaScript notes, the guard (denying
/// `example.notes.list_notes`) and redact active, and weather published
/// but not active, granted nothing.
fn registry() -> tempfile::TempDir {
    let home = tempfile::tempdir().expect("registry");
    for name in [
        "notes", "py-notes", "js-notes", "guard", "redact", "weather",
    ] {
        yoi_in(
            home.path(),
            &["publish", example(name).to_str().expect("utf-8")],
        );
    }
    yoi_in(home.path(), &["grant", "example.notes", "fs:notes:rw"]);
    yoi_in(home.path(), &["grant", "example.py-notes", "fs:notes:rw"]);
    yoi_in(home.path(), &["grant", "example.js-notes", "fs:notes:rw"]);
    // Weather may be activated, but its calls out are refused (step 6).
    yoi_in(
        home.path(),
        &[
            "grant",
            "example.weather",
            "--deny",
            "https:api.weather.example",
            "https:http://127.0.0.1:18451",
            "secret:WEATHER_API_KEY",
            "secret:WEATHER_API_URL",
        ],
    );
    yoi_in(
        home.path(),
        &[
            "config",
            "set",
            "example.guard",
            "deny",
            "[\"example.notes.list_notes\"]",
        ],
    );
    for id in ["notes", "py-notes", "js-notes", "guard", "redact"] {
        yoi_in(home.path(), &["activate", &format!("example.{id}@0.1.0")]);
    }
    home
}

/// Runs client.py with `env`; when it says `listening`, runs `change`.
/// Returns its events.
fn python_client(args: [&str; 2], env: &[(&str, String)], change: impl FnOnce()) -> Vec<Value> {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/mcp/client.py");
    let python = std::env::var("YOI_PYTHON").unwrap_or_else(|_| "python3".into());
    let mut child = Command::new(python)
        .arg(script)
        .args(args)
        .env("PYTHONPATH", tool("YOI_MCP_PYTHONPATH"))
        .envs(env.iter().map(|(k, v)| (*k, v.as_str())))
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("python3 runs");
    let stdout = child.stdout.take().expect("stdout");
    let (tx, lines) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { return };
            let _ = tx.send(line);
        }
    });
    let mut events = Vec::new();
    let mut change = Some(change);
    while let Ok(line) = lines.recv_timeout(Duration::from_secs(120)) {
        let event: Value = serde_json::from_str(&line).unwrap_or_else(|e| panic!("{e}: {line}"));
        if event["event"] == "listening"
            && let Some(change) = change.take()
        {
            change();
        }
        events.push(event);
    }
    let out = child.wait_with_output().expect("the client ends");
    assert!(
        out.status.success(),
        "the Python client failed ({}) after {events:#?}:\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    events
}

fn event<'a>(events: &'a [Value], name: &str) -> &'a Value {
    events
        .iter()
        .find(|e| e["event"] == name)
        .unwrap_or_else(|| panic!("no {name} in {events:#?}"))
}

fn call<'a>(events: &'a [Value], tool: &str) -> Vec<&'a Value> {
    events
        .iter()
        .filter(|e| e["event"] == "call" && e["name"] == tool)
        .collect()
}

fn names(event: &Value) -> Vec<&str> {
    event["names"]
        .as_array()
        .expect("names")
        .iter()
        .filter_map(Value::as_str)
        .collect()
}

/// What every run must show: steps 1 to 6 of the client.
fn check_run(events: &[Value], protocol: &str) {
    let connected = event(events, "connected");
    assert_eq!(connected["protocol"], protocol, "{connected}");
    assert_eq!(connected["server"], "yoi");

    // 1. The tools of the active plugins, in Rust, Python and JavaScript,
    // with hints.
    let tools = event(events, "tools");
    let listed = names(tools);
    for expected in [
        "example.notes.add_note",
        "example.notes.read_note",
        "example.py-notes.add_note",
        "example.js-notes.add_note",
    ] {
        assert!(listed.contains(&expected), "{expected}: {listed:?}");
    }
    assert!(!listed.contains(&"example.weather.forecast"), "{listed:?}");
    assert_eq!(
        tools["annotations"]["example.notes.add_note"]["readOnlyHint"], false,
        "{tools}"
    );

    // 2. Calls run; 4. redact masks the key on the way back.
    let added = call(events, "example.notes.add_note");
    assert_eq!(added[0]["is_error"], false, "{added:?}");
    let read = call(events, "example.notes.read_note");
    let text = read[0]["text"].as_str().expect("text");
    assert!(
        text.contains("sk-****") && !text.contains("sk-abcdefghijklmnop"),
        "{text}"
    );
    for tool in ["example.py-notes.add_note", "example.js-notes.add_note"] {
        let added = call(events, tool);
        assert_eq!(added[0]["is_error"], false, "{added:?}");
    }

    // 3. The guard blocks, and the model reads why.
    let blocked = call(events, "example.notes.list_notes");
    assert_eq!(blocked[0]["is_error"], true);
    assert!(
        blocked[0]["text"]
            .as_str()
            .is_some_and(|t| t.contains("blocked by plugin example.guard")),
        "{blocked:?}"
    );

    // 5. An activation in another process reaches the client.
    event(events, "changed");
    let after = names(event(events, "tools-after"));
    assert!(after.contains(&"example.weather.forecast"), "{after:?}");

    // 6. A call its grants refuse names the fix.
    let weather = call(events, "example.weather.forecast");
    assert!(
        weather[0]["text"]
            .as_str()
            .is_some_and(|t| t.contains("yoi grant example.weather")),
        "{weather:?}"
    );
}

#[test]
#[ignore = "needs the example components and the MCP tools: run `cargo xtask e2e`"]
fn the_official_python_client_lists_calls_and_hears_changes_on_both_transports() {
    let home = registry();
    let registry_arg = home.path().display().to_string();
    let activate = || {
        yoi_in(home.path(), &["activate", "example.weather@0.1.0"]);
    };
    let deactivate = || {
        yoi_in(home.path(), &["deactivate", "example.weather@0.1.0"]);
    };
    let command = serde_json::json!([
        env!("CARGO_BIN_EXE_yoi"),
        "--registry",
        registry_arg,
        "mcp",
        "--poll-ms",
        "200"
    ])
    .to_string();
    for (mode, protocol) in [("legacy", "2025-11-25"), ("auto", "2026-07-28")] {
        let events = python_client(
            ["stdio", mode],
            &[("YOI_MCP_COMMAND", command.clone())],
            activate,
        );
        check_run(&events, protocol);
        deactivate();
    }
    let args: Vec<String> = ["--registry", &registry_arg, "mcp", "--poll-ms", "200"]
        .iter()
        .map(|a| (*a).to_owned())
        .collect();
    let server = spawn_http(&args, home.path());
    for (mode, protocol) in [("legacy", "2025-11-25"), ("auto", "2026-07-28")] {
        let events = python_client(
            ["http", mode],
            &[
                ("YOI_MCP_URL", server.url.clone()),
                ("YOI_MCP_TOKEN", server.token.clone()),
            ],
            activate,
        );
        check_run(&events, protocol);
        deactivate();
    }
}

/// The conformance suite's server scenarios that apply to a server of
/// tools only; docs/mcp.md lists the rest and why they do not apply.
const SCENARIOS: &[&str] = &[
    "server-initialize",
    "ping",
    "tools-list",
    "server-sse-polling",
    "server-sse-multiple-streams",
    "dns-rebinding-protection",
];

#[test]
#[ignore = "needs the example components and the MCP tools: run `cargo xtask e2e`"]
fn the_official_conformance_suite_passes_every_scenario_for_a_tools_server() {
    let plugins = Plugins::with(&["notes", "guard"]);
    let mut args = plugins.args();
    // The suite sends no token.
    args.push("--no-token".into());
    let server = spawn_http(&args, plugins.dir.path());
    let results = plugins.dir.path().join("conformance");
    for scenario in SCENARIOS {
        let out = Command::new(tool("YOI_MCP_NODE"))
            .arg(tool("YOI_MCP_CONFORMANCE"))
            .args(["server", "--url", &server.url, "--scenario", scenario, "-o"])
            .arg(&results)
            .stdin(Stdio::null())
            .output()
            .expect("the conformance suite runs");
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(out.status.success(), "{scenario}:\n{text}");
        assert!(text.contains(" 0 failed"), "{scenario}:\n{text}");
        eprintln!(
            "conformance {scenario}: {}",
            text.lines()
                .find(|l| l.starts_with("Passed:"))
                .unwrap_or("passed")
        );
    }
}
