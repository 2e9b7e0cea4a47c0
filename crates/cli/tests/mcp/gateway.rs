//! `yoi mcp-server` against the reference MCP server
//! (`@modelcontextprotocol/server-everything`, Streamable HTTP on a
//! loopback port; `cargo xtask e2e` installs it and names its script in
//! YOI_MCP_EVERYTHING): the server is added and pinned, its tools are
//! re-exported by `yoi mcp` through the guard and redact plugins, and the
//! audit log and runtime events record it all. The hostile servers are
//! yoi-host's `tests/mcp_gateway`.

use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use super::{StdioServer, call, is_error, names, tool, tool_text};
use crate::support::{Process, example};

fn installed(var: &str) -> String {
    std::env::var(var).unwrap_or_else(|_| {
        panic!("{var} is not set: run these tests with `cargo xtask e2e`, which installs the official MCP tools")
    })
}

/// `yoi --registry HOME ARGS`.
fn yoi(home: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_yoi"))
        .arg("--registry")
        .arg(home)
        .args(args)
        .stdin(Stdio::null())
        .output()
        .expect("yoi runs")
}

fn ok(out: Output) -> String {
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "{text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    text
}

/// The reference server on a free loopback port, once it listens.
fn everything() -> (Process, u16) {
    let port = TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port();
    let child = Command::new(installed("YOI_MCP_NODE"))
        .arg(installed("YOI_MCP_EVERYTHING"))
        .arg("streamableHttp")
        .env("PORT", port.to_string())
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("the reference server starts");
    let process = Process(child);
    let deadline = Instant::now() + Duration::from_secs(30);
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(
            Instant::now() < deadline,
            "the reference server never listened"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    (process, port)
}

#[test]
#[ignore = "needs the example components and the reference MCP server: run `cargo xtask e2e`"]
fn a_real_server_is_pinned_hooked_redacted_and_reexported() {
    let (_server, port) = everything();
    let url = format!("http://127.0.0.1:{port}/mcp");
    let home = tempfile::tempdir().expect("registry");
    let home = home.path();

    // Guard denies the server's `get-sum`; redact masks keys in output.
    for name in ["guard", "redact"] {
        ok(yoi(
            home,
            &["publish", example(name).to_str().expect("utf-8")],
        ));
    }
    ok(yoi(
        home,
        &[
            "config",
            "set",
            "example.guard",
            "deny",
            "[\"everything.get-sum\"]",
        ],
    ));
    for id in ["guard", "redact"] {
        ok(yoi(home, &["activate", &format!("example.{id}@0.1.0")]));
    }

    // Added and pinned; a name a plugin has is refused.
    let added = ok(yoi(home, &["mcp-server", "add", "everything", &url]));
    assert!(added.contains("everything.echo"), "{added}");
    assert!(added.contains("everything.get-sum"), "{added}");
    let taken = yoi(home, &["mcp-server", "add", "example.guard", &url]);
    assert!(!taken.status.success());
    assert!(String::from_utf8_lossy(&taken.stderr).contains("R0116"));

    let listed: Value =
        serde_json::from_str(&ok(yoi(home, &["mcp-server", "list", "--json"]))).expect("json");
    let pinned: Vec<&str> = listed[0]["pinned"]["tools"]
        .as_array()
        .expect("tools")
        .iter()
        .filter_map(|t| t["name"].as_str())
        .collect();
    assert!(
        pinned.contains(&"echo") && pinned.contains(&"get-sum"),
        "{pinned:?}"
    );
    let refreshed = ok(yoi(home, &["mcp-server", "refresh", "everything"]));
    assert!(
        refreshed.contains("the live list is the pinned list"),
        "{refreshed}"
    );
    let shown = ok(yoi(home, &["mcp-server", "show", "everything"]));
    assert!(
        shown.contains(&url) && shown.contains("token      none"),
        "{shown}"
    );

    // `yoi mcp` re-exports them through the hook chain.
    let args: Vec<String> = ["--registry", home.to_str().expect("utf-8"), "mcp"]
        .iter()
        .map(|a| (*a).to_owned())
        .collect();
    let mut mcp = StdioServer::start(&args);
    mcp.initialize("gateway-test");
    let list = mcp.request(1, "tools/list", json!({}));
    let all = names(&list);
    assert!(all.contains(&"everything.echo".to_owned()), "{all:?}");
    let echo = tool(&list, "everything.echo");
    assert_eq!(echo["_meta"]["dev.yoi/unsandboxed"], false, "{echo}");
    assert_eq!(echo["annotations"]["openWorldHint"], true, "{echo}");

    let blocked = call(&mut mcp, 2, "everything.get-sum", json!({"a": 1, "b": 2}));
    assert!(is_error(&blocked), "{blocked}");
    assert!(
        tool_text(&blocked).contains("blocked by plugin example.guard"),
        "{blocked}"
    );
    let echoed = call(
        &mut mcp,
        3,
        "everything.echo",
        json!({"message": "my key is sk-live0123456789abcdef"}),
    );
    assert!(!is_error(&echoed), "{echoed}");
    let text = tool_text(&echoed);
    assert!(
        text.contains("sk-****") && !text.contains("sk-live0123"),
        "{text}"
    );
    drop(mcp);

    // The audit log has the server's operations; the events have the
    // guard's receipt and the remote calls.
    // Hosts write events as they go, on a thread of their own.
    let deadline = Instant::now() + Duration::from_secs(10);
    let snapshot = loop {
        let snapshot: Value =
            serde_json::from_str(&ok(yoi(home, &["snapshot", "--json"]))).expect("json");
        let written = snapshot["events"]
            .as_array()
            .is_some_and(|e| e.iter().any(|e| e["kind"] == "mcp_call"));
        if written || Instant::now() > deadline {
            break snapshot;
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    let audits = snapshot["audits"].as_array().expect("audits");
    let actions: Vec<(&str, &str)> = audits
        .iter()
        .filter(|a| {
            a["action"]
                .as_str()
                .is_some_and(|x| x.starts_with("mcp_server"))
        })
        .map(|a| {
            (
                a["action"].as_str().unwrap_or_default(),
                a["outcome"].as_str().unwrap_or_default(),
            )
        })
        .collect();
    assert_eq!(
        actions,
        [
            ("mcp_server_add", "ok"),
            ("mcp_server_add", "error"),
            ("mcp_server_refresh", "ok"),
        ],
        "{audits:?}"
    );
    assert_eq!(snapshot["mcp_servers"][0]["name"], "everything");
    let events = snapshot["events"].as_array().expect("events");
    let calls: Vec<&Value> = events.iter().filter(|e| e["kind"] == "mcp_call").collect();
    assert!(
        calls
            .iter()
            .any(|e| e["detail"]["tool"] == "everything.echo" && e["detail"]["status"] == "ok"),
        "{calls:?}"
    );
    assert!(
        events.iter().any(|e| e["kind"] == "receipt"
            && e["plugin"] == "example.guard"
            && e["detail"]["point"] == "tool.pre_exec"),
        "the guard's receipt is recorded"
    );

    // A plugin published later under a server's name wins: the server's
    // tools are not served beside it.
    ok(yoi(home, &["mcp-server", "add", "example.minimal", &url]));
    ok(yoi(
        home,
        &["publish", example("minimal").to_str().expect("utf-8")],
    ));
    ok(yoi(home, &["activate", "example.minimal@0.1.0"]));
    let mut mcp = StdioServer::start(&args);
    mcp.initialize("gateway-test");
    let list = mcp.request(1, "tools/list", json!({}));
    let all = names(&list);
    assert!(all.contains(&"everything.echo".to_owned()), "{all:?}");
    assert!(
        !all.iter().any(|n| n.starts_with("example.minimal.")),
        "{all:?}"
    );
    drop(mcp);
    ok(yoi(home, &["mcp-server", "remove", "example.minimal"]));

    // Removed: `yoi mcp` no longer lists its tools.
    ok(yoi(home, &["mcp-server", "remove", "everything"]));
    let mut mcp = StdioServer::start(&args);
    mcp.initialize("gateway-test");
    let list = mcp.request(1, "tools/list", json!({}));
    assert!(!names(&list).iter().any(|n| n.starts_with("everything.")));
}

#[test]
#[ignore = "needs the example components and the reference MCP server: run `cargo xtask e2e`"]
fn a_stdio_server_runs_unsandboxed_only_where_the_host_names_it() {
    let node = installed("YOI_MCP_NODE");
    let script = installed("YOI_MCP_EVERYTHING");
    let home = tempfile::tempdir().expect("registry");
    let home = home.path();
    let added = ok(yoi(
        home,
        &[
            "mcp-server",
            "add",
            "local",
            "--stdio",
            &node,
            &script,
            "stdio",
        ],
    ));
    assert!(added.contains("local.echo"), "{added}");
    assert!(added.contains("runs outside every sandbox"), "{added}");
    let listed = ok(yoi(home, &["mcp-server", "list"]));
    assert!(listed.contains("[unsandboxed]"), "{listed}");

    // Without the switch, `yoi mcp` does not start it.
    let args = |config: Option<&Path>| -> Vec<String> {
        let mut a = vec![
            "--registry".to_owned(),
            home.display().to_string(),
            "mcp".to_owned(),
        ];
        if let Some(c) = config {
            a.extend(["--config".to_owned(), c.display().to_string()]);
        }
        a
    };
    let mut closed = StdioServer::start(&args(None));
    closed.initialize("gateway-test");
    let list = closed.request(1, "tools/list", json!({}));
    assert!(!names(&list).contains(&"local.echo".to_owned()), "{list}");
    drop(closed);

    // With it, the tool runs and is marked.
    let config = home.join("yoi.toml");
    std::fs::write(&config, format!("[mcp]\nstdio_commands = [{node:?}]\n")).expect("yoi.toml");
    let mut open = StdioServer::start(&args(Some(&config)));
    open.initialize("gateway-test");
    let list = open.request(1, "tools/list", json!({}));
    let echo = tool(&list, "local.echo");
    assert_eq!(echo["_meta"]["dev.yoi/unsandboxed"], true, "{echo}");
    let echoed = call(&mut open, 2, "local.echo", json!({"message": "over stdio"}));
    assert!(!is_error(&echoed), "{echoed}");
    assert!(tool_text(&echoed).contains("over stdio"), "{echoed}");
}
