//! End-to-end tests of the `yoi` binary against the example components.
//! Run them with `cargo xtask e2e`, which builds the components first.

use std::io::Write;
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::Duration;

mod agent_cli;
mod fleet;
mod hostile;
mod languages;
mod mcp;
mod support;
use support::{example, guard_archive, next_event, send, serve};

fn yoi(args: &[&str], stdin: Option<&str>) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_yoi"))
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("yoi runs");
    let mut input = child.stdin.take().expect("stdin");
    if let Some(text) = stdin {
        input.write_all(text.as_bytes()).expect("write stdin");
    }
    drop(input);
    child.wait_with_output().expect("yoi finishes")
}

/// `yoi plugin test EXAMPLE --hook tool.pre_exec --payload - [extra...]` with `stdin`.
fn plugin_test(example_name: &str, stdin: &str, extra: &[&str]) -> Output {
    plugin_test_at(example_name, "tool.pre_exec", stdin, extra)
}

/// `yoi plugin test examples/<name> --hook <hook> --payload -` with `stdin`.
fn plugin_test_at(example_name: &str, hook: &str, stdin: &str, extra: &[&str]) -> Output {
    let dir = example(example_name);
    let mut args = vec![
        "plugin",
        "test",
        dir.to_str().expect("utf-8 path"),
        "--hook",
        hook,
        "--payload",
        "-",
    ];
    args.extend_from_slice(extra);
    yoi(&args, Some(stdin))
}

fn text(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

#[test]
#[ignore = "needs the example components: run `cargo xtask e2e`"]
fn check_accepts_each_example() {
    for name in ["guard", "redact"] {
        let dir = example(name);
        let out = yoi(
            &["plugin", "check", dir.to_str().expect("utf-8 path")],
            None,
        );
        assert_eq!(out.status.code(), Some(0), "{}", text(&out));
        assert!(
            text(&out).starts_with(&format!("ok: example.{name}@0.1.0")),
            "{}",
            text(&out)
        );
        let file = dir.join("plugin.toml");
        let out = yoi(
            &["plugin", "check", file.to_str().expect("utf-8 path")],
            None,
        );
        assert_eq!(
            out.status.code(),
            Some(0),
            "a plugin.toml path works too: {}",
            text(&out)
        );
    }
}

#[test]
#[ignore = "needs the example components: run `cargo xtask e2e`"]
fn check_reports_every_manifest_problem_with_code_and_fix() {
    let tmp = tempfile::tempdir().expect("temp dir");
    std::fs::write(
        tmp.path().join("plugin.toml"),
        r#"
[plugin]
id = "Bad Id"
version = "one"
contract = "yoi:plugin@0.1.0"

[runtime]
kind = "wasm"
artifact = "../outside.wasm"
digest = "sha256:XYZ"

[[hooks]]
point = "tool.pre_exec"
fail = "maybe"
"#,
    )
    .expect("write manifest");
    let dir = tmp.path().to_str().expect("utf-8 path");
    let out = yoi(&["plugin", "check", dir], None);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let shown = text(&out);
    for code in ["E0101", "E0102", "E0104", "E0105", "E0103", "E0203"] {
        assert!(shown.contains(code), "missing {code} in:\n{shown}");
    }
    assert!(shown.contains("fix: "), "{shown}");
    assert!(shown.contains("6 problems found"), "{shown}");
    assert!(shown.contains("plugin.toml:3:6"), "{shown}");

    let json = yoi(&["plugin", "check", dir, "--json"], None);
    let report: serde_json::Value = serde_json::from_slice(&json.stdout).expect("JSON report");
    assert_eq!(report["ok"], false);
    assert_eq!(report["diagnostics"].as_array().map(Vec::len), Some(6));
    assert_eq!(report["diagnostics"][0]["code"], "E0101");
    assert_eq!(report["diagnostics"][0]["path"], "plugin.id");
    assert_eq!(report["diagnostics"][0]["span"]["line"], 3);
    assert_eq!(report["diagnostics"][0]["span"]["column"], 6);
    assert_eq!(report["diagnostics"][0]["name"], "id-format");
}

#[test]
#[ignore = "needs the example components: run `cargo xtask e2e`"]
fn check_refuses_a_tampered_artifact() {
    let tmp = tempfile::tempdir().expect("temp dir");
    let src = example("guard");
    std::fs::copy(src.join("plugin.toml"), tmp.path().join("plugin.toml")).expect("copy");
    let mut wasm = std::fs::read(src.join("guard.wasm")).expect("artifact");
    wasm.push(0);
    std::fs::write(tmp.path().join("guard.wasm"), wasm).expect("write");
    let out = yoi(
        &["plugin", "check", tmp.path().to_str().expect("utf-8")],
        None,
    );
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out).contains("E0302 digest-mismatch"),
        "{}",
        text(&out)
    );
}

#[test]
#[ignore = "needs the example components: run `cargo xtask e2e`"]
fn test_runs_a_hook_with_a_payload_file_or_stdin() {
    let guard = example("guard");
    let tmp = tempfile::tempdir().expect("temp dir");
    let payload = tmp.path().join("shell.json");
    let shell = r#"{"tool_name": "shell", "input": {"cmd": "ls"}, "call_id": "c1"}"#;
    std::fs::write(&payload, shell).expect("payload");
    let args = [
        "plugin",
        "test",
        guard.to_str().expect("utf-8"),
        "--hook",
        "tool.pre_exec",
        "--payload",
        payload.to_str().expect("utf-8"),
    ];
    let out = yoi(&args, None);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let expected = "result: blocked by plugin example.guard: tool `shell` is on the deny list";
    assert!(text(&out).contains(expected), "{}", text(&out));

    let fetch = r#"{"tool_name": "fetch", "input": {"url": "http://example.com"}}"#;
    let out = plugin_test("guard", fetch, &["--json"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let dispatch: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON");
    assert_eq!(dispatch["data"]["input"]["url"], "https://example.com");
    assert_eq!(dispatch["receipts"][0]["status"], "ok");
    assert_eq!(dispatch["receipts"][0]["changed"][0], "input");
}

#[test]
#[ignore = "needs the example components: run `cargo xtask e2e`"]
fn test_exits_1_when_a_handler_fails_and_2_on_usage_errors() {
    let out = plugin_test(
        "hostile/probe",
        r#"{"tool_name": "x #probe:loop", "input": {}}"#,
        &[],
    );
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(text(&out).contains("timeout"), "{}", text(&out));

    // Every hook point can be tested, with its own payload fields.
    let out = plugin_test_at(
        "hostile/probe",
        "model.pre_call",
        r#"{"model": "m #probe:set:max_tokens=64", "turn": 2}"#,
        &["--json"],
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let dispatch: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON");
    assert_eq!(dispatch["data"]["max_tokens"], 64);
    let out = plugin_test_at("hostile/probe", "model.pre_call", r#"{"modle": "m"}"#, &[]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(
        text(&out).contains("unknown field `modle`"),
        "{}",
        text(&out)
    );

    let out = yoi(
        &[
            "plugin",
            "test",
            "x",
            "--hook",
            "tool.whatever",
            "--payload",
            "-",
        ],
        None,
    );
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(text(&out).contains("unknown hook point"), "{}", text(&out));

    let out = plugin_test("guard", r#"{"tool": "x"}"#, &[]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out).contains("not a valid tool.pre_exec event"),
        "{}",
        text(&out)
    );
}

/// `yoi` as the operator `ops-test` on the registry in `home`.
fn operator(home: &Path) -> impl Fn(&[&str]) -> Output {
    let reg = home.to_str().expect("utf-8").to_owned();
    move |args: &[&str]| {
        let mut all = vec!["--registry", reg.as_str(), "--actor", "ops-test"];
        all.extend_from_slice(args);
        yoi(&all, None)
    }
}

#[test]
#[ignore = "needs the example components: run `cargo xtask e2e`"]
fn operator_flow_publish_grant_activate_rollback_audit_clear() {
    let home = tempfile::tempdir().expect("registry folder");
    let run = operator(home.path());
    let guard = example("guard");
    let guard = guard.to_str().expect("utf-8");

    let out = run(&["publish", guard]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert!(
        text(&out).contains("published example.guard@0.1.0"),
        "{}",
        text(&out)
    );
    let again = run(&["publish", guard]);
    assert!(
        text(&again).contains("already published"),
        "{}",
        text(&again)
    );

    // Logging needs no grant; asking for one says so.
    let refused = run(&["grant", "example.guard", "log"]);
    assert_ne!(refused.status.code(), Some(0));
    assert!(
        text(&refused).contains("logging needs no grant"),
        "{}",
        text(&refused)
    );

    // A refused publish is in the audit log, with its reason.
    let broken = tempfile::tempdir().expect("broken package");
    std::fs::copy(
        example("guard").join("guard.wasm"),
        broken.path().join("guard.wasm"),
    )
    .expect("copy");
    let manifest = std::fs::read_to_string(example("guard").join("plugin.toml")).expect("manifest");
    std::fs::write(
        broken.path().join("plugin.toml"),
        manifest.replace("digest = \"sha256:", "digest = \"sha256:0"),
    )
    .expect("write");
    let out = run(&["publish", broken.path().to_str().expect("utf-8")]);
    assert_ne!(out.status.code(), Some(0), "{}", text(&out));
    let audit = text(&run(&["audit"]));
    assert!(
        audit.contains("publish") && audit.contains("was refused: E01"),
        "{audit}"
    );
    let out = run(&[
        "activate",
        "example.guard@0.1.0",
        "--scope",
        "canary",
        "--rollout",
        "25",
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));

    // A second version: same component, newer manifest version.
    let v2 = tempfile::tempdir().expect("v2 package");
    let src = example("guard");
    std::fs::copy(src.join("guard.wasm"), v2.path().join("guard.wasm")).expect("copy");
    let manifest = std::fs::read_to_string(src.join("plugin.toml")).expect("manifest");
    std::fs::write(
        v2.path().join("plugin.toml"),
        manifest.replacen("version = \"0.1.0\"", "version = \"0.2.0\"", 1),
    )
    .expect("write");
    assert_eq!(
        run(&["publish", v2.path().to_str().expect("utf-8")])
            .status
            .code(),
        Some(0)
    );
    assert_eq!(
        run(&["activate", "example.guard@0.2.0"]).status.code(),
        Some(0)
    );
    let out = run(&["rollback", "example.guard@0.1.0"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));

    let show = run(&["show", "example.guard", "--json"]);
    let show: serde_json::Value = serde_json::from_slice(&show.stdout).expect("show JSON");
    let states: Vec<(&str, &str)> = show["versions"]
        .as_array()
        .expect("versions")
        .iter()
        .map(|v| {
            (
                v["version"].as_str().unwrap_or(""),
                v["state"].as_str().unwrap_or(""),
            )
        })
        .collect();
    assert_eq!(states, vec![("0.1.0", "active"), ("0.2.0", "rolled_back")]);
    assert_eq!(
        show["versions"][0]["rollout"]["percent"], 100,
        "rollback keeps the rolled-back rollout"
    );

    let list = run(&["list", "--json"]);
    let list: serde_json::Value = serde_json::from_slice(&list.stdout).expect("list JSON");
    assert_eq!(list[0]["active"], "0.1.0");

    let audit = run(&["audit", "example.guard", "--json"]);
    let lines: Vec<serde_json::Value> = String::from_utf8_lossy(&audit.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).expect("JSON line"))
        .collect();
    let actions: Vec<(&str, &str)> = lines
        .iter()
        .map(|l| {
            (
                l["record"]["action"].as_str().unwrap_or(""),
                l["record"]["outcome"].as_str().unwrap_or(""),
            )
        })
        .collect();
    assert_eq!(
        actions,
        vec![
            ("publish", "ok"),
            ("publish", "ok"),
            ("grant", "error"),
            ("activate", "ok"),
            ("publish", "ok"),
            ("activate", "ok"),
            ("rollback", "ok"),
        ]
    );
    assert!(lines.iter().all(|l| l["record"]["actor"] == "ops-test"));

    // The snapshot pages through the audit log.
    let out = run(&["snapshot", "--json", "--after", "0", "--limit", "3"]);
    let snap: serde_json::Value = serde_json::from_slice(&out.stdout).expect("snapshot JSON");
    assert_eq!(snap["audits"].as_array().map(Vec::len), Some(3));
    assert_eq!(snap["active_versions"]["example.guard"], "0.1.0");
    let next = snap["audits_next"].as_i64().expect("a next page");
    let out = run(&["snapshot", "--json", "--after", &next.to_string()]);
    let rest: serde_json::Value = serde_json::from_slice(&out.stdout).expect("snapshot JSON");
    let all = run(&["snapshot", "--json", "--limit", "1000"]);
    let all: serde_json::Value = serde_json::from_slice(&all.stdout).expect("snapshot JSON");
    let count = |v: &serde_json::Value| v["audits"].as_array().map_or(0, Vec::len);
    assert!(count(&rest) > 0);
    assert_eq!(3 + count(&rest), count(&all), "{rest:#}");
    assert!(rest["audits_next"].is_null());
    assert_eq!(rest["seq"], snap["seq"]);
    // Without a cursor: the newest records, as a dashboard wants them.
    let out = run(&["snapshot", "--json", "--limit", "2"]);
    let newest: serde_json::Value = serde_json::from_slice(&out.stdout).expect("snapshot JSON");
    let ids = |v: &serde_json::Value| -> Vec<i64> {
        v["audits"]
            .as_array()
            .expect("audits")
            .iter()
            .filter_map(|a| a["id"].as_i64())
            .collect()
    };
    assert_eq!(ids(&newest), ids(&all)[ids(&all).len() - 2..]);
    assert!(newest["audits_next"].is_null());

    // Removing: never the active version, and not with a malformed target.
    let out = run(&["remove", "example.guard@0.1.0"]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(
        text(&out).contains("R0111 example.guard@0.1.0 is active"),
        "{}",
        text(&out)
    );
    let out = run(&["remove", "example.guard"]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(text(&out).contains("ID@VERSION"), "{}", text(&out));
    let out = run(&["remove", "example.guard", "--all"]);
    assert_eq!(
        out.status.code(),
        Some(1),
        "one version is active: {}",
        text(&out)
    );
    let out = run(&["remove", "example.guard@0.2.0"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert!(
        text(&out).contains("removed example.guard@0.2.0"),
        "{}",
        text(&out)
    );
    let show = run(&["show", "example.guard", "--json"]);
    let show: serde_json::Value = serde_json::from_slice(&show.stdout).expect("show JSON");
    assert_eq!(show["versions"].as_array().map(Vec::len), Some(1));

    let out = run(&["prune", "--events-older-than", "soon"]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(text(&out).contains("e.g. 30d"), "{}", text(&out));
    let out = run(&["prune", "--events-older-than", "30d"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert!(
        text(&out).starts_with("pruned 0 events and 0 unreferenced artifacts"),
        "{}",
        text(&out)
    );

    assert_eq!(run(&["clear"]).status.code(), Some(2), "clear needs --yes");
    assert_eq!(run(&["clear", "--yes"]).status.code(), Some(0));
    let list = run(&["list", "--json"]);
    assert_eq!(String::from_utf8_lossy(&list.stdout).trim(), "[]");
}

/// A current-thread runtime for calls into a host the test booted.
fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime")
}

/// Runs `yoi` in `dir` with the tutorial's environment; fails with its
/// output unless it succeeds.
fn run_in(dir: &Path, env: &[(&str, &Path)], args: &[&str]) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_yoi"))
        .args(args)
        .current_dir(dir)
        .envs(env.iter().map(|(k, v)| (*k, v.as_os_str())))
        .env("YOI_ACTOR", "tutorial")
        .stdin(Stdio::null())
        .output()
        .expect("yoi runs");
    let all = text(&out);
    assert!(
        out.status.success(),
        "`yoi {}` failed:\n{all}",
        args.join(" ")
    );
    all
}

/// docs/authoring.md's tutorial, command by command, editing nothing.
#[test]
#[ignore = "needs the example components: run `cargo xtask e2e`"]
fn the_authoring_tutorial_works_as_written() {
    let work = tempfile::tempdir().expect("temp dir");
    let home = work.path().join("registry");
    // The generated crate builds in a target folder kept between runs.
    let target = Path::new(env!("CARGO_TARGET_TMPDIR")).join("tutorial-target");
    let env = [
        ("YOI_HOME", home.as_path()),
        ("CARGO_TARGET_DIR", target.as_path()),
    ];

    let docs = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/authoring.md"),
    )
    .expect("authoring.md");
    let script = "yoi plugin new demo --hook tool.pre_exec\ncd demo\nyoi plugin pack\n\
                  yoi publish demo-0.1.0.yoi\nyoi activate demo@0.1.0\n";
    assert!(
        docs.contains(script),
        "the tutorial's commands changed; update this test"
    );

    let out = run_in(
        work.path(),
        &env,
        &["plugin", "new", "demo", "--hook", "tool.pre_exec"],
    );
    assert!(
        out.contains("created demo (hook tool.pre_exec) in demo"),
        "{out}"
    );
    let crate_dir = work.path().join("demo");
    for file in [
        "Cargo.toml",
        "plugin.toml",
        "src/lib.rs",
        "README.md",
        ".gitignore",
        "event.json",
    ] {
        assert!(crate_dir.join(file).is_file(), "{file} is missing");
    }

    // `cargo xtask e2e` points the generated crate at the packaged PDK
    // (`cargo package -p yoi-pdk`): what an author outside this repository
    // builds against.
    if let Some(pdk) = std::env::var_os("YOI_PDK_PATH") {
        let cargo_toml = std::fs::read_to_string(crate_dir.join("Cargo.toml")).expect("Cargo.toml");
        let pdk = Path::new(&pdk).canonicalize().expect("packaged PDK");
        assert!(
            cargo_toml.contains(&format!("{:?}", pdk.display().to_string())),
            "{cargo_toml}"
        );
        assert!(pdk.join("wit").is_dir(), "the packaged PDK carries its WIT");
    }
    tutorial_from_pack(&crate_dir, &env, &home, yoi_host::Host::builder());
}

/// The tutorial from `yoi plugin pack` on, in the plugin folder `dir` the
/// tutorial's `yoi plugin new demo --hook tool.pre_exec` made: pack (its
/// five steps, the digest written), check, test, publish, activate, and a
/// host booted from the registry in `home` (with `builder`) runs it.
/// Returns the digest.
fn tutorial_from_pack(
    dir: &Path,
    env: &[(&str, &Path)],
    home: &Path,
    builder: yoi_host::HostBuilder,
) -> String {
    let out = run_in(dir, env, &["plugin", "pack"]);
    for step in ["[1/5]", "[2/5]", "[3/5]", "[4/5]", "[5/5]"] {
        assert!(out.contains(step), "pack shows its progress: {out}");
    }
    assert!(out.contains("packed ./demo-0.1.0.yoi"), "{out}");
    let digest = out
        .lines()
        .find_map(|l| l.trim().strip_prefix("digest: "))
        .expect("pack prints the digest")
        .to_owned();
    assert!(digest.starts_with("sha256:"), "{digest}");
    let manifest = std::fs::read_to_string(dir.join("plugin.toml")).expect("manifest");
    assert!(
        manifest.contains(&format!("digest = \"{digest}\"")),
        "{manifest}"
    );
    let out = run_in(dir, env, &["plugin", "check", "."]);
    assert!(out.contains("ok: demo@0.1.0"), "{out}");
    let out = run_in(
        dir,
        env,
        &[
            "plugin",
            "test",
            "--hook",
            "tool.pre_exec",
            "--payload",
            "event.json",
        ],
    );
    assert!(out.contains("tool.pre_exec demo@0.1.0: ok"), "{out}");
    assert!(out.contains("log info: tool.pre_exec"), "{out}");

    let out = run_in(dir, env, &["publish", "demo-0.1.0.yoi"]);
    assert!(
        out.contains(&format!("published demo@0.1.0 ({digest})")),
        "{out}"
    );
    let out = run_in(dir, env, &["activate", "demo@0.1.0"]);
    assert!(out.contains("activated demo@0.1.0"), "{out}");

    // A host booted from that registry runs it.
    let registry = std::sync::Arc::new(yoi_registry::Registry::open(home).expect("registry"));
    let host = builder.registry(registry).build().expect("host");
    let boot = host.boot_report().expect("boot report");
    assert!(boot.refused.is_empty(), "{boot:#?}");
    let out = runtime().block_on(host.dispatch(yoi_host::ToolCall {
        tool_name: "shell".into(),
        input: serde_json::json!({"cmd": "ls"}),
        call_id: "call-1".into(),
        turn: 0,
    }));
    assert_eq!(out.receipts.len(), 1, "{:#?}", out.receipts);
    let receipt = &out.receipts[0];
    assert_eq!(receipt.plugin.as_str(), "demo");
    assert_eq!(receipt.status, yoi_host::Status::Ok);
    assert_eq!(receipt.logs[0].message, "tool.pre_exec");
    digest
}

/// The minimal hook plugin in docs/authoring.md is `examples/minimal`,
/// verbatim, at most 15 lines, and it works.
#[test]
#[ignore = "needs the example components: run `cargo xtask e2e`"]
fn the_minimal_hook_plugin_is_short_and_works() {
    let source = std::fs::read_to_string(example("minimal/src/lib.rs")).expect("lib.rs");
    let lines = source.lines().count();
    assert!(lines <= 15, "the minimal plugin is {lines} lines");
    let docs = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/authoring.md"),
    )
    .expect("authoring.md");
    assert!(
        docs.contains(&format!("```rust\n{source}```")),
        "docs/authoring.md quotes examples/minimal/src/lib.rs verbatim"
    );
    let out = plugin_test(
        "minimal",
        r#"{"tool_name": "shell", "input": {}, "call_id": "c", "turn": 0}"#,
        &[],
    );
    assert!(out.status.success(), "{}", text(&out));
    assert!(
        text(&out).contains("result: blocked by plugin example.minimal: shell access is disabled"),
        "{}",
        text(&out)
    );
}

/// A generated provider, observer and service pack as generated: the
/// templates' `[[providers]]`, `[observer]` and `[[services]]` (with its
/// route requested) match what the code registers.
#[test]
#[ignore = "needs the example components: run `cargo xtask e2e`"]
fn generated_providers_observers_and_services_pack() {
    let work = tempfile::tempdir().expect("temp dir");
    let target = Path::new(env!("CARGO_TARGET_TMPDIR")).join("tutorial-target");
    let env = [("CARGO_TARGET_DIR", target.as_path())];
    let out = run_in(
        work.path(),
        &env,
        &[
            "plugin",
            "new",
            "acme.relay",
            "--provider",
            "chat",
            "--observer",
            "--service",
            "inbox",
        ],
    );
    assert!(
        out.contains("created acme.relay (provider chat, observer, service inbox)"),
        "{out}"
    );
    let dir = work.path().join("acme.relay");
    let manifest = std::fs::read_to_string(dir.join("plugin.toml")).expect("manifest");
    assert!(
        manifest.contains("[[providers]]\nname = \"chat\""),
        "{manifest}"
    );
    assert!(manifest.contains("[observer]\n"), "{manifest}");
    assert!(
        manifest.contains("[[services]]")
            && manifest.contains("name = \"inbox\"\nhttp = \"/hooks/inbox\"")
            && manifest.contains("routes = [\"/hooks/inbox\"]"),
        "{manifest}"
    );
    let out = run_in(&dir, &env, &["plugin", "pack"]);
    assert!(out.contains("packed ./acme.relay-0.1.0.yoi"), "{out}");
    for (flag, name, what) in [
        ("--provider", "Chat", "cannot be a provider name"),
        ("--service", "In Box", "cannot be a service name"),
    ] {
        let out = yoi(&["plugin", "new", "x.y", flag, name], None);
        assert_eq!(out.status.code(), Some(2), "{}", text(&out));
        assert!(text(&out).contains(what), "{}", text(&out));
    }
}

/// A generated tool plugin packs as generated, and `plugin test --tool`
/// runs its tool; a granted plugin's files and secrets reach it in tests.
#[test]
#[ignore = "needs the example components: run `cargo xtask e2e`"]
fn generated_tools_pack_and_tools_run_under_plugin_test() {
    let work = tempfile::tempdir().expect("temp dir");
    let target = Path::new(env!("CARGO_TARGET_TMPDIR")).join("tutorial-target");
    let env = [("CARGO_TARGET_DIR", target.as_path())];
    let out = run_in(
        work.path(),
        &env,
        &[
            "plugin",
            "new",
            "acme.kit",
            "--hook",
            "tool.post_exec",
            "--tool",
            "lookup",
            "--tool",
            "find_all",
        ],
    );
    assert!(
        out.contains("created acme.kit (hook tool.post_exec, tool lookup, tool find_all)"),
        "{out}"
    );
    let dir = work.path().join("acme.kit");
    let out = run_in(&dir, &env, &["plugin", "pack"]);
    assert!(out.contains("packed ./acme.kit-0.1.0.yoi"), "{out}");
    let out = yoi(
        &[
            "plugin",
            "test",
            dir.to_str().expect("utf-8"),
            "--tool",
            "find_all",
            "--input",
            "-",
        ],
        Some(r#"{"text": "hello"}"#),
    );
    assert!(out.status.success(), "{}", text(&out));
    assert!(
        text(&out).contains("result: find_all got: hello"),
        "{}",
        text(&out)
    );
    let out = yoi(
        &[
            "plugin",
            "test",
            dir.to_str().expect("utf-8"),
            "--tool",
            "lookup",
            "--input",
            "-",
        ],
        Some(r#"{"wrong": 1}"#),
    );
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(
        text(&out).contains("status: invalid_input"),
        "{}",
        text(&out)
    );

    // An example with fs and secrets: granted what it requests, in a data
    // root of our choice.
    let data = work.path().join("data");
    let reach = example("hostile/reach");
    let reach = reach.to_str().expect("utf-8");
    let data_arg = data.to_str().expect("utf-8");
    let out = yoi(
        &[
            "plugin", "test", reach, "--tool", "file", "--input", "-", "--data", data_arg,
        ],
        Some(r#"{"op": "write", "path": "a.txt", "data": "kept"}"#),
    );
    assert!(out.status.success(), "{}", text(&out));
    assert_eq!(
        std::fs::read_to_string(data.join("hostile.reach/a.txt")).expect("written"),
        "kept"
    );
    let out = yoi(
        &[
            "plugin",
            "test",
            reach,
            "--tool",
            "secret",
            "--input",
            "-",
            "--secret",
            "GRANTED_KEY=s3",
            "--json",
        ],
        Some(r#"{"key": "GRANTED_KEY"}"#),
    );
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(json["status"], "ok", "{json:#}");
    assert_eq!(json["output"], r#"{"ok":"s3"}"#);
    let out = yoi(
        &["plugin", "test", reach, "--tool", "secret", "--input", "-"],
        Some(r#"{"key": "NOT_REQUESTED"}"#),
    );
    assert!(text(&out).contains("permission denied"), "{}", text(&out));
}

/// `yoi doctor` on a registry that goes wrong in each way it can: a grant
/// that outlived the request it was made for, an active version this build
/// cannot run, a tampered artifact, a damaged database. Each is reported
/// with its code and fix, and the exit code says whether anything is wrong.
#[test]
#[ignore = "needs the example components: run `cargo xtask e2e`"]
fn doctor_finds_what_breaks_a_registry() {
    let home = tempfile::tempdir().expect("registry folder");
    let run = operator(home.path());
    let ok = |args: &[&str]| {
        let out = run(args);
        assert_eq!(out.status.code(), Some(0), "yoi {args:?}: {}", text(&out));
    };
    let example_path = |name: &str| example(name).to_str().expect("utf-8").to_owned();

    // An empty folder is healthy: nothing was published.
    let out = run(&["doctor"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert!(text(&out).contains("no registry at"), "{}", text(&out));

    ok(&["publish", &example_path("guard")]);
    ok(&["activate", "example.guard@0.1.0"]);
    ok(&["publish", &example_path("weather")]);
    ok(&[
        "grant",
        "example.weather",
        "https:api.weather.example",
        "https:http://127.0.0.1:18451",
        "secret:WEATHER_API_KEY",
        "secret:WEATHER_API_URL",
    ]);
    ok(&["activate", "example.weather@0.1.0"]);
    let out = run(&["doctor"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert!(text(&out).trim_end().ends_with("healthy"), "{}", text(&out));

    // 0.2.0 no longer asks for the local stand-in; the grant for it stays.
    let narrower = tempfile::tempdir().expect("package");
    for file in ["weather.wasm", "plugin.toml"] {
        std::fs::copy(example("weather").join(file), narrower.path().join(file)).expect("copy");
    }
    let manifest = narrower.path().join("plugin.toml");
    let text_before = std::fs::read_to_string(&manifest).expect("manifest");
    let changed = text_before
        .replacen("version = \"0.1.0\"", "version = \"0.2.0\"", 1)
        .replace(
            "https = [\"api.weather.example\", \"http://127.0.0.1:18451\"]",
            "https = [\"api.weather.example\"]",
        );
    assert_ne!(changed, text_before);
    std::fs::write(&manifest, changed).expect("write");
    ok(&["publish", narrower.path().to_str().expect("utf-8")]);
    ok(&["activate", "example.weather@0.2.0"]);

    // An active version built for a contract this build does not serve
    // (published through the library with another host's compatibility).
    {
        let registry = yoi_registry::Registry::open(home.path()).expect("registry");
        let other_host = yoi_manifest::Compat {
            contracts: vec!["yoi:plugin@0.9.0".parse().expect("contract")],
            ..yoi_host::Host::compat()
        };
        let component = wat::parse_str(
            "(component (core module) (instance $i) \
             (export \"yoi:plugin/tool-pre-exec@0.9.0\" (instance $i)))",
        )
        .expect("component");
        let text = format!(
            "[plugin]\nid = \"acme.future\"\nversion = \"1.0.0\"\ncontract = \"yoi:plugin@0.9.0\"\n\n\
             [runtime]\nkind = \"wasm-component\"\nartifact = \"f.wasm\"\ndigest = \"{}\"\n\n\
             [[hooks]]\npoint = \"tool.pre_exec\"\n",
            yoi_manifest::Digest::of(&component)
        );
        let package = yoi_manifest::Package::from_bytes("future", &text, component, &other_host)
            .expect("the other host accepts it");
        registry
            .publish(&package, &other_host, "ops-test")
            .expect("publish");
        registry
            .activate(
                "acme.future",
                &semver::Version::new(1, 0, 0),
                &yoi_registry::Activation::by("ops-test"),
            )
            .expect("activate");
    }

    // And guard's stored artifact is altered.
    let snapshot = run(&["show", "example.guard", "--json"]);
    let show: serde_json::Value = serde_json::from_slice(&snapshot.stdout).expect("show JSON");
    let digest = show["versions"][0]["digest"]
        .as_str()
        .expect("digest")
        .to_owned();
    let blob = home
        .path()
        .join("blobs/sha256")
        .join(digest.trim_start_matches("sha256:"));
    std::fs::write(&blob, b"not the component").expect("tamper");

    let out = run(&["doctor"]);
    let all = text(&out);
    assert_eq!(out.status.code(), Some(1), "{all}");
    assert!(all.contains("error[R0105] example.weather: the grant `https:http://127.0.0.1:18451` is wider than what example.weather@0.2.0 requests"), "{all}");
    assert!(
        all.contains("fix: `yoi revoke example.weather https:http://127.0.0.1:18451`"),
        "{all}"
    );
    assert!(all.contains("error[R0203] acme.future@1.0.0:"), "{all}");
    assert!(all.contains("yoi:plugin@0.9.0"), "{all}");
    assert!(all.contains("error[R0201] example.guard@0.1.0:"), "{all}");
    assert!(all.contains("3 problem(s)"), "{all}");

    let out = run(&["doctor", "--json"]);
    assert_eq!(out.status.code(), Some(1));
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON");
    assert_eq!(report["healthy"], false);
    let codes: Vec<&str> = report["findings"]
        .as_array()
        .expect("findings")
        .iter()
        .filter(|f| f["severity"] == "problem")
        .map(|f| f["code"].as_str().unwrap_or_default())
        .collect();
    assert_eq!(codes.len(), 3, "{codes:?}");
    for code in ["R0105", "R0201", "R0203"] {
        assert!(codes.contains(&code), "{codes:?}");
    }
    assert!(
        report["findings"]
            .as_array()
            .expect("findings")
            .iter()
            .all(|f| f["fix"].is_string())
    );

    // A token file others can read.
    let tokens = home.path().join("serve-tokens");
    std::fs::write(&tokens, format!("rw operator {}\n", "a".repeat(64))).expect("tokens");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&tokens, std::fs::Permissions::from_mode(0o644)).expect("chmod");
        let all = text(&run(&["doctor"]));
        assert!(all.contains("error[R0308]"), "{all}");
        assert!(all.contains("chmod 600"), "{all}");
        std::fs::set_permissions(&tokens, std::fs::Permissions::from_mode(0o600)).expect("chmod");
        let all = text(&run(&["doctor"]));
        assert!(
            !all.contains("R0308") && all.contains("readable by its owner only"),
            "{all}"
        );
    }

    // A damaged database: nothing else can be checked, and it says how back.
    let db = home.path().join(yoi_registry::DATABASE_FILE);
    let mut bytes = std::fs::read(&db).expect("db");
    bytes[4096..8192].fill(0xa5);
    std::fs::write(&db, bytes).expect("damage");
    let out = run(&["doctor"]);
    let all = text(&out);
    assert_eq!(out.status.code(), Some(1), "{all}");
    assert!(all.contains("error[R0304]"), "{all}");
    assert!(all.contains("fix:"), "{all}");
}

/// The HTTP API on a real process: tokens, publish, activate, snapshot,
/// every refusal audited, and the change stream.
#[tokio::test]
#[ignore = "needs the example components: run `cargo xtask e2e`"]
async fn serve_answers_every_write_with_its_audit_record() {
    let server = serve();
    let work = tempfile::tempdir().expect("temp");
    let op = |json: serde_json::Value| Some(json.to_string().into_bytes());

    // Tokens: none, unknown, read-only.
    let (status, body) = send(&server, "/api/v1/snapshot", None, None).await;
    assert_eq!(status, 401, "{body}");
    let (status, _) = send(&server, "/api/v1/snapshot", Some(&"0".repeat(64)), None).await;
    assert_eq!(status, 401);
    let (status, body) = send(&server, "/api/v1/snapshot", Some(&server.ro), None).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["versions"], serde_json::json!([]));
    let activate =
        serde_json::json!({"op": "activate", "plugin": "example.guard", "version": "0.1.0"});
    let (status, body) = send(
        &server,
        "/api/v1/operations",
        Some(&server.ro),
        op(activate.clone()),
    )
    .await;
    assert_eq!(status, 403, "{body}");
    // Refused writes are audited like any failed write: the read-only
    // token's actor, and a write without a valid token as `unauthenticated`
    // (the first from an address in a window; the rest are summarized,
    // see hostile::unauthenticated_floods_leave_a_bounded_record).
    assert_eq!(body["audit"]["actor"], "dashboard", "{body}");
    assert_eq!(body["audit"]["outcome"], "error", "{body}");
    for (token, recorded) in [(None, true), (Some("0".repeat(64)), false)] {
        let (status, body) = send(
            &server,
            "/api/v1/packages",
            token.as_deref(),
            Some(b"anything".to_vec()),
        )
        .await;
        assert_eq!(status, 401, "{body}");
        if recorded {
            assert_eq!(body["audit"]["actor"], "unauthenticated", "{body}");
            assert_eq!(body["audit"]["action"], "publish", "{body}");
        } else {
            assert!(body["audit"].is_null(), "{body}");
        }
    }

    // The change stream, opened before the writes.
    let client = reqwest::Client::new();
    let mut stream = client
        .get(format!("{}/api/v1/changes", server.url))
        .bearer_auth(&server.ro)
        .send()
        .await
        .expect("stream");
    assert_eq!(stream.status().as_u16(), 200);

    // Publish a .yoi, then activate it.
    let (status, body) = send(
        &server,
        "/api/v1/packages",
        Some(&server.rw),
        Some(guard_archive(work.path())),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["ok"], true);
    assert_eq!(body["audit"]["action"], "publish");
    assert_eq!(body["audit"]["actor"], "operator");
    assert_eq!(body["record"]["record"]["state"], "published");
    let (status, body) = send(
        &server,
        "/api/v1/operations",
        Some(&server.rw),
        op(activate.clone()),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["record"]["state"], "active");
    assert_eq!(body["audit"]["outcome"], "ok");

    // First where the registry stood when the stream opened, then the
    // change, which the server announces as soon as it wrote it.
    let hello = next_event(&mut stream).await;
    assert!(hello.starts_with("event: marks\n"), "{hello}");
    let update = next_event(&mut stream).await;
    assert!(update.starts_with("event: plugins.updated\n"), "{update}");
    let marks: serde_json::Value =
        serde_json::from_str(update.split("data: ").nth(1).expect("data").trim()).expect("JSON");
    assert!(
        marks["seq"].as_i64() > Some(0) && marks["audit"].as_i64() > Some(0),
        "{marks}"
    );
    // A change by another process (here the CLI) arrives within a second.
    for args in [
        &["disable", "example.guard", "--reason", "by the CLI"][..],
        &["enable", "example.guard"][..],
    ] {
        let out = Command::new(env!("CARGO_BIN_EXE_yoi"))
            .arg("--registry")
            .arg(&server.home)
            .args(args)
            .output()
            .expect("yoi runs");
        assert!(out.status.success(), "{}", text(&out));
        let heard = tokio::time::timeout(Duration::from_secs(1), next_event(&mut stream))
            .await
            .expect("another process's change is announced within a second");
        assert!(heard.starts_with("event: plugins.updated\n"), "{heard}");
        // The snapshot served next holds the change (not a copy kept from
        // before it).
        let (_, snap) = send(&server, "/api/v1/snapshot", Some(&server.ro), None).await;
        let disabled = snap["disabled"].get("example.guard").is_some();
        assert_eq!(disabled, args[0] == "disable", "{args:?}: {snap}");
    }

    // Refusals: each answered with its status and its audit record.
    let (status, body) = send(
        &server,
        "/api/v1/operations",
        Some(&server.rw),
        op(serde_json::json!({"op": "rollback", "plugin": "example.guard", "version": "9.9.9"})),
    )
    .await;
    assert_eq!(status, 404, "{body}");
    assert_eq!(body["audit"]["outcome"], "error");
    let (status, body) = send(
        &server,
        "/api/v1/operations",
        Some(&server.rw),
        Some(b"{not json".to_vec()),
    )
    .await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(body["audit"]["action"], "request");
    let (status, body) = send(
        &server,
        "/api/v1/operations",
        Some(&server.rw),
        op(serde_json::json!({"op": "activate", "plugin": "example.guard", "version": "0.1.0", "force": true})),
    )
    .await;
    assert_eq!(status, 400, "{body}");
    assert!(
        body["error"].as_str().is_some_and(|e| e.contains("force")),
        "{body}"
    );
    let (status, body) = send(
        &server,
        "/api/v1/operations",
        Some(&server.rw),
        Some(vec![b' '; 200 * 1024]),
    )
    .await;
    assert_eq!(
        status, 413,
        "an oversized body is refused before it is read"
    );
    assert_eq!(body["audit"]["outcome"], "error", "{body}");
    assert!(
        body["audit"]["reason"]
            .as_str()
            .is_some_and(|r| r.contains("limit of 65536 bytes")),
        "{body}"
    );
    let (status, body) = send(
        &server,
        "/api/v1/packages",
        Some(&server.rw),
        Some(b"not an archive".to_vec()),
    )
    .await;
    assert_eq!(status, 422, "{body}");
    assert_eq!(body["audit"]["action"], "publish");
    let (status, body) = send(&server, "/api/v1/nothing", Some(&server.rw), None).await;
    assert_eq!(status, 404, "{body}");

    // Two writers at once: both answered and audited, one consistent state.
    let deactivate =
        serde_json::json!({"op": "deactivate", "plugin": "example.guard", "version": "0.1.0"});
    let (a, b) = tokio::join!(
        send(
            &server,
            "/api/v1/operations",
            Some(&server.rw),
            op(deactivate.clone())
        ),
        send(
            &server,
            "/api/v1/operations",
            Some(&server.rw),
            op(deactivate.clone())
        ),
    );
    let oks = [&a, &b]
        .iter()
        .filter(|(_, body)| body["ok"] == true)
        .count();
    assert_eq!(oks, 1, "{a:?} {b:?}");
    assert!(a.1["audit"]["id"] != b.1["audit"]["id"]);
    let (_, snap) = send(
        &server,
        "/api/v1/snapshot?limit=1000",
        Some(&server.ro),
        None,
    )
    .await;
    assert_eq!(snap["active_versions"], serde_json::json!({}));
    let audits = snap["audits"].as_array().expect("audits");
    assert_eq!(
        audits
            .iter()
            .filter(|a| a["action"] == "deactivate")
            .count(),
        2,
        "both writers are in the audit log"
    );
    // What the CLI reads is what the API serves.
    let out = Command::new(env!("CARGO_BIN_EXE_yoi"))
        .args([
            "--registry",
            server.home.to_str().expect("utf-8"),
            "snapshot",
            "--json",
            "--limit",
            "1000",
        ])
        .output()
        .expect("yoi snapshot");
    let cli: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON");
    assert_eq!(cli, snap);
}

/// A package as JSON: the manifest and the artifact as base64 or as a
/// file:// URL. The URL is not trusted: only files inside a folder the
/// operator named with --files-from, links followed, regular files only.
/// Every refusal is answered with its reason and is in the audit log.
#[tokio::test]
#[ignore = "needs the example components: run with `cargo xtask e2e`"]
async fn serve_takes_json_packages_and_refuses_hostile_artifacts() {
    use base64::Engine as _;
    use support::{send_json, serve_with};
    let allowed = tempfile::tempdir().expect("allowed folder");
    let outside = tempfile::tempdir().expect("outside folder");
    let artifact = std::fs::read(example("guard").join("guard.wasm")).expect("artifact");
    let digest = yoi_manifest::Digest::of(&artifact).to_string();
    std::fs::write(allowed.path().join("guard.wasm"), &artifact).expect("copy");
    std::fs::write(outside.path().join("guard.wasm"), &artifact).expect("copy");
    std::os::unix::fs::symlink(
        outside.path().join("guard.wasm"),
        allowed.path().join("link.wasm"),
    )
    .expect("link");
    mkfifo(&allowed.path().join("fifo.wasm"));
    let manifest = |version: &str| -> String {
        std::fs::read_to_string(example("guard").join("plugin.toml"))
            .expect("manifest")
            .replacen(
                "version = \"0.1.0\"",
                &format!("version = \"{version}\""),
                1,
            )
    };
    let url = |path: &Path| format!("file://{}", path.display());
    let server = serve_with(&["--files-from", allowed.path().to_str().expect("utf-8")]);
    let packages = "/api/v1/packages";

    // Base64, with the manifest as text.
    let b64 = base64::engine::general_purpose::STANDARD.encode(&artifact);
    let pkg = serde_json::json!({"manifest": manifest("1.0.0"), "artifact_digest": digest, "artifact": b64});
    let (status, body) = send_json(&server, packages, &server.rw, &pkg).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["record"]["record"]["version"], "1.0.0");
    // A file inside the allowed folder, with the manifest as a JSON object
    // and an actor the token acts for.
    let table: toml::Table = toml::from_str(&manifest("1.1.0")).expect("TOML");
    let pkg = serde_json::json!({
        "manifest": table, "artifact_digest": digest,
        "artifact": url(&allowed.path().join("guard.wasm")), "actor": "build-7",
    });
    let (status, body) = send_json(&server, packages, &server.rw, &pkg).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["audit"]["actor"], "build-7 via operator");

    // Hostile artifacts: each refused, with the reason, and audited.
    let outside_file = outside.path().join("guard.wasm");
    let escape = allowed
        .path()
        .join("../")
        .join(outside.path().file_name().expect("name"))
        .join("guard.wasm");
    let cases: Vec<(String, &str)> = vec![
        (
            url(&outside_file),
            "not inside a folder given with --files-from",
        ),
        (url(&escape), "not inside a folder given with --files-from"),
        (
            url(&allowed.path().join("link.wasm")),
            "not inside a folder given with --files-from",
        ),
        (url(&allowed.path().join("fifo.wasm")), "not a regular file"),
        (url(&allowed.path().join("missing.wasm")), "does not exist"),
        (
            "file://example.com/etc/passwd".into(),
            "not a file:// URL of a local path",
        ),
        ("https://example.com/guard.wasm".into(), "scheme `https:`"),
        ("data:application/wasm;base64,AAAA".into(), "scheme `data:`"),
        (
            "%%% not base64 %%%".into(),
            "neither base64 nor a file:// URL",
        ),
    ];
    for (i, (artifact, why)) in cases.iter().enumerate() {
        let pkg = serde_json::json!({
            "manifest": manifest(&format!("2.0.{i}")), "artifact_digest": digest, "artifact": artifact,
        });
        let (status, body) = send_json(&server, packages, &server.rw, &pkg).await;
        assert_eq!(status, 422, "{artifact}: {body}");
        let error = body["error"].as_str().expect("error");
        assert!(error.contains(why), "{artifact}: {error}");
        assert_eq!(body["audit"]["action"], "publish", "{body}");
        assert_eq!(body["audit"]["outcome"], "error", "{body}");
        assert!(
            body["audit"]["reason"]
                .as_str()
                .is_some_and(|r| r.contains(why))
        );
    }
    // A digest that is not the bytes', and a manifest that pins another.
    let other = format!("sha256:{}", "0".repeat(64));
    let pkg = serde_json::json!({"manifest": manifest("3.0.0"), "artifact_digest": other, "artifact": b64});
    let (status, body) = send_json(&server, packages, &server.rw, &pkg).await;
    assert_eq!(status, 422, "{body}");
    assert!(
        body["error"]
            .as_str()
            .is_some_and(|e| e.contains("hash to")),
        "{body}"
    );
    let pinned = manifest("3.0.1").replace(&digest, &other);
    let pkg = serde_json::json!({"manifest": pinned, "artifact_digest": digest, "artifact": b64});
    let (status, body) = send_json(&server, packages, &server.rw, &pkg).await;
    assert_eq!(status, 422, "{body}");
    assert!(
        body["error"].as_str().is_some_and(|e| e.contains("E0")),
        "coded: {body}"
    );
    // Malformed requests: 400, audited.
    for (bad, why) in [
        (
            serde_json::json!({"manifest": "x", "artifact_digest": digest, "artifact": b64, "extra": 1}),
            "unknown field",
        ),
        (
            serde_json::json!({"manifest": 7, "artifact_digest": digest, "artifact": b64}),
            "plugin.toml's text or a JSON object",
        ),
        (
            serde_json::json!({"manifest": "x", "artifact_digest": digest, "artifact": b64, "actor": "a b"}),
            "`actor`",
        ),
        (serde_json::json!([1, 2]), "a JSON package is"),
        // One field under the push contract's name and Yoi's own.
        (
            serde_json::json!({"manifest": "x", "artifact_digest": digest, "artifactDigest": digest, "artifact": b64}),
            "duplicate field",
        ),
        (
            serde_json::json!({"manifest": "x", "artifactUrl": b64, "artifact": b64}),
            "each field under one name",
        ),
    ] {
        let (status, body) = send_json(&server, packages, &server.rw, &bad).await;
        let expected = if why.contains("plugin.toml") {
            422
        } else {
            400
        };
        assert_eq!(status, expected, "{bad}: {body}");
        assert!(
            body["error"].as_str().is_some_and(|e| e.contains(why)),
            "{bad}: {body}"
        );
        assert_eq!(body["audit"]["outcome"], "error", "{body}");
    }
    // The push contract's names: the manifest as an object, the file by
    // `artifactUrl`, the digest by `artifactDigest`, or no digest (the
    // manifest pins one); no artifact at all is refused with the fix.
    let table: toml::Table = toml::from_str(&manifest("4.0.0")).expect("TOML");
    let contract = serde_json::json!({
        "manifest": table, "artifactDigest": digest,
        "artifactUrl": url(&allowed.path().join("guard.wasm")),
    });
    let (status, body) = send_json(&server, packages, &server.rw, &contract).await;
    assert_eq!(status, 200, "{body}");
    let table: toml::Table = toml::from_str(&manifest("4.0.1")).expect("TOML");
    let undigested = serde_json::json!({"manifest": table, "artifactUrl": url(&allowed.path().join("guard.wasm"))});
    let (status, body) = send_json(&server, packages, &server.rw, &undigested).await;
    assert_eq!(status, 200, "{body}");
    let bare = serde_json::json!({"manifest": manifest("4.0.2")});
    let (status, body) = send_json(&server, packages, &server.rw, &bare).await;
    assert_eq!(status, 422, "{body}");
    assert!(
        body["error"]
            .as_str()
            .is_some_and(|e| e.contains("no artifact") && e.contains("artifactUrl")),
        "{body}"
    );
    // The snapshot in the contract's shape, Yoi's fields beside.
    let (status, snap) = support::send(
        &server,
        "/api/v1/snapshot?shape=contract",
        Some(&server.ro),
        None,
    )
    .await;
    assert_eq!(status, 200, "{snap}");
    let v = snap["versions"]
        .as_array()
        .and_then(|vs| vs.iter().find(|v| v["version"] == "4.0.0"))
        .expect("4.0.0 in the snapshot");
    assert_eq!(v["pluginId"], "example.guard", "{v}");
    assert_eq!(v["state"], "published");
    assert_eq!(
        v["rollout"],
        serde_json::json!({"scope": "all", "rolloutPct": 100})
    );
    assert_eq!(
        v["manifest"]["plugin"]["version"], "4.0.0",
        "an object: {v}"
    );
    assert!(
        v["manifestText"]
            .as_str()
            .is_some_and(|t| t.contains("[plugin]"))
    );
    assert_eq!(v["digest"], serde_json::json!(digest));
    for key in ["publishedAt", "publishedBy", "updatedAt"] {
        assert!(v.get(key).is_some(), "{key}: {v}");
    }
    assert!(snap["activeVersions"].is_object(), "{snap}");
    assert!(snap["audits"].as_array().is_some_and(|a| !a.is_empty()));
    assert!(snap.get("grants").is_some() && snap.get("hosts").is_some());
    let (status, plain) = support::send(
        &server,
        "/api/v1/snapshot?shape=odd",
        Some(&server.ro),
        None,
    )
    .await;
    assert_eq!(status, 400, "{plain}");

    // Read-only tokens cannot publish.
    let (status, _) = send_json(&server, packages, &server.ro, &pkg).await;
    assert_eq!(status, 403);

    // Without --files-from, file:// artifacts are off, with the fix.
    let plain = support::serve();
    let pkg = serde_json::json!({
        "manifest": manifest("1.0.0"), "artifact_digest": digest,
        "artifact": url(&allowed.path().join("guard.wasm")),
    });
    let (status, body) = send_json(&plain, packages, &plain.rw, &pkg).await;
    assert_eq!(status, 422, "{body}");
    assert!(
        body["error"]
            .as_str()
            .is_some_and(|e| e.contains("--files-from")),
        "{body}"
    );
}

/// A FIFO at `path`: opening it for reading would wait for a writer.
fn mkfifo(path: &Path) {
    let status = Command::new("mkfifo").arg(path).status().expect("mkfifo");
    assert!(status.success());
}

/// `yoi config`: values checked at set time against the active version,
/// shown by scope with secrets masked, a secret never in the audit log or
/// the database file, and the same through the HTTP API.
#[tokio::test]
#[ignore = "needs the example components: run with `cargo xtask e2e`"]
async fn config_values_are_checked_scoped_and_secrets_stay_sealed() {
    const SECRET: &str = "sk-e2e-secret-0042";
    let home = tempfile::tempdir().expect("registry");
    let run = operator(home.path());
    // The guard package (it declares the setting `deny`).
    let pkg = tempfile::tempdir().expect("package");
    std::fs::copy(
        example("guard").join("guard.wasm"),
        pkg.path().join("guard.wasm"),
    )
    .expect("copy");
    // The guard declares `deny`; a secret setting is added.
    let manifest = std::fs::read_to_string(example("guard").join("plugin.toml")).expect("read")
        + "\n[config.api_key]\ntype = \"string\"\nsecret = true\n";
    std::fs::write(pkg.path().join("plugin.toml"), manifest).expect("write");
    let dir = pkg.path().to_str().expect("utf-8");
    let out = run(&["publish", dir]);
    assert!(out.status.success(), "{}", text(&out));
    let out = run(&["activate", "example.guard@0.1.0"]);
    assert!(out.status.success(), "{}", text(&out));

    let out = run(&["config", "set", "example.guard", "deny", r#"["rm","dd"]"#]);
    assert!(out.status.success(), "{}", text(&out));
    let out = run(&[
        "config",
        "set",
        "example.guard",
        "deny",
        r#"["rm"]"#,
        "--scope",
        "canary",
    ]);
    assert!(out.status.success(), "{}", text(&out));
    let out = run(&["config", "set", "example.guard", "api_key", SECRET]);
    assert!(out.status.success(), "{}", text(&out));
    assert!(!text(&out).contains(SECRET), "{}", text(&out));
    // Refused at set time with the schema's reason, exit 1.
    let out = run(&["config", "set", "example.guard", "deny", "[1]"]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(text(&out).contains("R0113"), "{}", text(&out));
    assert!(
        text(&out).contains("1 is not of type \"string\""),
        "{}",
        text(&out)
    );
    let out = run(&[
        "config",
        "set",
        "example.guard",
        "deny",
        "[]",
        "--scope",
        "moon",
    ]);
    assert_eq!(out.status.code(), Some(2), "a usage error: {}", text(&out));

    let out = run(&["config", "show", "example.guard"]);
    let shown = text(&out);
    assert!(out.status.success(), "{shown}");
    assert!(
        shown.contains("deny  (list, default [\"shell\",\"delete_file\"])"),
        "{shown}"
    );
    assert!(shown.contains("all: [\"rm\",\"dd\"]"), "{shown}");
    assert!(shown.contains("canary: [\"rm\"]"), "{shown}");
    assert!(shown.contains("all: •••••• (secret)"), "{shown}");
    let out = run(&["config", "show", "example.guard", "--json"]);
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON");
    assert_eq!(json["settings"][0]["name"], "deny");
    assert_eq!(json["values"].as_array().map(Vec::len), Some(3));

    // The secret is nowhere to be read: not in show, the audit log, the
    // snapshot, or any file of the registry folder.
    for args in [
        &["config", "show", "example.guard", "--json"][..],
        &["audit", "example.guard", "--json"][..],
        &["snapshot", "--json", "--after", "0", "--limit", "1000"][..],
    ] {
        let out = run(args);
        assert!(out.status.success(), "{args:?}: {}", text(&out));
        assert!(!text(&out).contains(SECRET), "{args:?} shows the secret");
    }
    for entry in std::fs::read_dir(home.path()).expect("folder") {
        let path = entry.expect("entry").path();
        if path.is_file() {
            let bytes = std::fs::read(&path).expect("read");
            let found = bytes.windows(SECRET.len()).any(|w| w == SECRET.as_bytes());
            assert!(!found, "the secret is readable in {}", path.display());
        }
    }

    // `yoi doctor` checks the key that seals the secrets.
    let out = run(&["doctor"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert!(
        text(&out).contains("secret settings of 1 plugins open"),
        "{}",
        text(&out)
    );
    let key = home.path().join("config.key");
    let saved = std::fs::read(&key).expect("key file");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o644)).expect("chmod");
        let out = run(&["doctor"]);
        assert_eq!(out.status.code(), Some(1), "{}", text(&out));
        assert!(text(&out).contains("error[R0309]"), "{}", text(&out));
        std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o600)).expect("chmod");
    }
    std::fs::remove_file(&key).expect("lose the key");
    let out = run(&["doctor"]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(text(&out).contains("error[R0305]"), "{}", text(&out));
    std::fs::write(&key, saved).expect("restore the key");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o600)).expect("chmod");
    }

    // A secret given in a file or on standard input (never an argument
    // `ps` shows), for the canary scope; `doctor` opens every scope's, so a
    // canary value that no longer opens is found while `all`'s still does.
    let file = pkg.path().join("canary-key.txt");
    std::fs::write(&file, "sk-canary-from-file-7\n").expect("write");
    let file_arg = file.to_str().expect("utf-8");
    let out = run(&[
        "config",
        "set",
        "example.guard",
        "api_key",
        "--from-file",
        file_arg,
        "--scope",
        "canary",
    ]);
    assert!(out.status.success(), "{}", text(&out));
    let out = yoi(
        &[
            "--registry",
            home.path().to_str().expect("utf-8"),
            "config",
            "set",
            "example.guard",
            "api_key",
            "-",
            "--scope",
            "beta",
        ],
        Some("sk-beta-from-stdin-8\n"),
    );
    assert!(out.status.success(), "{}", text(&out));
    let out = run(&["doctor"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let db = rusqlite::Connection::open(home.path().join(yoi_registry::DATABASE_FILE)).expect("db");
    db.execute(
        "UPDATE config SET value = (SELECT value FROM config WHERE scope = 'all' AND key = 'api_key') \
         WHERE scope = 'canary' AND key = 'api_key'",
        [],
    )
    .expect("swap the canary's sealed value");
    drop(db);
    let out = run(&["doctor"]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(text(&out).contains("error[R0305]"), "{}", text(&out));
    let out = run(&[
        "config",
        "unset",
        "example.guard",
        "api_key",
        "--scope",
        "canary",
    ]);
    assert!(out.status.success(), "{}", text(&out));

    // `yoi plugin test` takes values from --config and --config-file.
    let payload = pkg.path().join("call.json");
    std::fs::write(
        &payload,
        r#"{"tool_name":"curl","input":"{}","call_id":"c1","turn":1}"#,
    )
    .expect("payload");
    let test = |extra: &[&str]| {
        let mut args = vec!["plugin", "test", dir, "--hook", "tool.pre_exec"];
        args.extend(["--payload", payload.to_str().expect("utf-8")]);
        args.extend_from_slice(extra);
        yoi(&args, None)
    };
    let out = test(&[]);
    assert!(
        text(&out).contains(": ok in"),
        "the default lets curl through: {}",
        text(&out)
    );
    let out = test(&["--config", r#"deny=["curl"]"#]);
    assert!(
        text(&out).contains("tool `curl` is on the deny list"),
        "{}",
        text(&out)
    );
    let file = pkg.path().join("settings.toml");
    std::fs::write(&file, "deny = [\"curl\"]\n").expect("settings file");
    let out = test(&["--config-file", file.to_str().expect("utf-8")]);
    assert!(
        text(&out).contains("tool `curl` is on the deny list"),
        "{}",
        text(&out)
    );
    for (bad, why) in [
        ("deny=curl", "written as JSON"),
        (
            "denny=[]",
            "`denny` is not a setting of example.guard; it declares: deny",
        ),
        ("deny", "is not KEY=VALUE"),
    ] {
        let out = test(&["--config", bad]);
        assert_eq!(out.status.code(), Some(2), "{bad}: {}", text(&out));
        assert!(text(&out).contains(why), "{bad}: {}", text(&out));
    }

    // The same through the HTTP API.
    let server = support::serve_in(home.path(), &[]);
    let ops = "/api/v1/operations";
    let set = serde_json::json!({"op": "config_set", "plugin": "example.guard", "key": "deny", "value": ["curl"]});
    let (status, body) = support::send_json(&server, ops, &server.rw, &set).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["record"]["value"], serde_json::json!(["curl"]));
    let bad = serde_json::json!({"op": "config_set", "plugin": "example.guard", "key": "deny", "value": "curl"});
    let (status, body) = support::send_json(&server, ops, &server.rw, &bad).await;
    assert_eq!(status, 422, "{body}");
    assert_eq!(body["audit"]["outcome"], "error");
    let unknown = serde_json::json!({"op": "config_unset", "plugin": "example.guard", "key": "deny", "scope": "beta"});
    let (status, body) = support::send_json(&server, ops, &server.rw, &unknown).await;
    assert_eq!(status, 404, "{body}");
    let (_, snap) = send(&server, "/api/v1/snapshot", Some(&server.ro), None).await;
    let config = snap["config"].as_array().expect("config in the snapshot");
    let secret = config
        .iter()
        .find(|c| c["key"] == "api_key")
        .expect("api_key");
    assert_eq!(
        (secret["secret"].clone(), secret["value"].clone()),
        (true.into(), serde_json::Value::Null)
    );
    assert!(!snap.to_string().contains(SECRET));
}

/// Runs the operator's commands on the registry in `home`, each of which
/// must succeed, then boots a host from it.
fn operate_and_boot(
    home: &Path,
    steps: &[&[&str]],
    builder: yoi_host::HostBuilder,
) -> yoi_host::Host {
    let run = operator(home);
    for args in steps {
        let out = run(args);
        assert_eq!(out.status.code(), Some(0), "{args:?}: {}", text(&out));
    }
    let registry = std::sync::Arc::new(yoi_registry::Registry::open(home).expect("registry"));
    builder.registry(registry).build().expect("host boots")
}

/// An observer that falls behind: the host drops its oldest observations,
/// records how many in the registry's events, and `yoi show` says so.
#[test]
#[ignore = "needs the example components: run `cargo xtask e2e`"]
fn show_counts_what_a_slow_observer_dropped() {
    let home = tempfile::tempdir().expect("registry folder");
    let run = operator(home.path());
    let surfaces = example("hostile/surfaces");
    let data = tempfile::tempdir().expect("data");
    let host = operate_and_boot(
        home.path(),
        &[
            &["publish", surfaces.to_str().expect("utf-8")],
            &["grant", "example.surfaces", "fs:obs:rw"],
            &["config", "set", "example.surfaces", "spin", "40000000"],
            &["activate", "example.surfaces@0.1.0"],
        ],
        yoi_host::Host::builder().data_dir(data.path()),
    );
    for i in 0..200 {
        host.observe("tick", serde_json::json!({ "i": i }));
    }
    let started = std::time::Instant::now();
    while !host.observers()[0].idle() {
        assert!(started.elapsed().as_secs() < 20, "{:?}", host.observers());
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    host.flush_events();
    let dropped = host.observers()[0].dropped;
    assert!(dropped > 100, "{:?}", host.observers());

    let out = run(&["show", "example.surfaces"]);
    let shown = text(&out);
    assert!(
        shown.contains("observer of receipt, tool_call, model_call")
            && shown.contains("provider example.surfaces.probe serves probe-*")
            && shown.contains(&format!("dropped {dropped} observations (queue full)")),
        "{shown}"
    );
    let json: serde_json::Value =
        serde_json::from_slice(&run(&["show", "example.surfaces", "--json"]).stdout).expect("json");
    assert_eq!(json["observer"]["dropped"], dropped);
    assert_eq!(json["providers"][0]["name"], "probe");
}

/// A host runs the services probe from the registry; its `flaky` service
/// traps and is restarted, its `doomed` one fails: `yoi service list` and
/// `show` say so from what the host recorded.
#[test]
#[ignore = "needs the example components: run `cargo xtask e2e`"]
fn service_show_says_a_trapping_service_was_restarted() {
    let home = tempfile::tempdir().expect("registry folder");
    let run = operator(home.path());
    let probe = example("hostile/services");
    let host = operate_and_boot(
        home.path(),
        &[
            &["publish", probe.to_str().expect("utf-8")],
            &[
                "grant",
                "example.services",
                "https:http://127.0.0.1:18471",
                "route:/probe",
                "--deny",
            ],
            &["activate", "example.services@0.1.0"],
        ],
        yoi_host::Host::builder(),
    );
    let until = |what: &str, done: &dyn Fn() -> bool| {
        let started = std::time::Instant::now();
        while !done() {
            assert!(
                started.elapsed().as_secs() < 20,
                "{what}: {:?}",
                host.services()
            );
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
    };
    let state = |name: &str| host.service("example.services", name).map(|s| s.state);
    until("flaky runs", &|| {
        state("flaky") == Some(yoi_host::ServiceState::Running)
    });
    host.send_to_service("example.services", "flaky", "trap", serde_json::json!({}))
        .expect("taken");
    until("flaky restarted", &|| {
        host.service("example.services", "flaky")
            .is_some_and(|s| s.restarts == 1 && s.state == yoi_host::ServiceState::Running)
    });
    until("doomed failed", &|| {
        state("doomed") == Some(yoi_host::ServiceState::Failed)
    });
    host.flush_events();

    let out = run(&["service", "show", "example.services/flaky"]);
    let shown = text(&out);
    assert_eq!(out.status.code(), Some(0), "{shown}");
    assert!(
        shown.contains("state:            running")
            && shown.contains("restarts:         1")
            && shown.contains("errors:           1")
            && shown.contains("last error:       trapped")
            && shown.contains("restarting in 50 ms"),
        "{shown}"
    );
    let out = run(&["service", "list", "example.services"]);
    let listed = text(&out);
    println!("{listed}\n{shown}");
    assert!(
        listed
            .lines()
            .any(|l| l.starts_with("example.services/doomed") && l.contains(" failed ")),
        "{listed}"
    );
    let json: serde_json::Value = serde_json::from_slice(
        &run(&["service", "show", "example.services/doomed", "--json"]).stdout,
    )
    .expect("json");
    assert_eq!(
        (json["state"].as_str(), json["restarts"].as_u64()),
        (Some("failed"), Some(2))
    );
    assert!(
        json["last_error"]
            .as_str()
            .unwrap_or_default()
            .contains("gave up")
    );

    let shown = text(&run(&["show", "example.services"]));
    assert!(
        shown.contains("service flaky (timers and messages; queue 256, refuse; `yoi service show example.services/flaky`)")
            && shown.contains("service silent (route /probe/silent; queue 1, refuse;"),
        "{shown}"
    );
    let snapshot: serde_json::Value =
        serde_json::from_slice(&run(&["snapshot", "--json"]).stdout).expect("snapshot");
    let services: Vec<(&str, &str)> = snapshot["services"]
        .as_array()
        .expect("services")
        .iter()
        .map(|e| {
            (
                e["detail"]["service"].as_str().unwrap_or_default(),
                e["detail"]["state"].as_str().unwrap_or_default(),
            )
        })
        .collect();
    assert!(services.contains(&("doomed", "failed")), "{services:?}");
    assert!(services.contains(&("flaky", "running")), "{services:?}");
    let out = run(&["service", "show", "example.services/nothing"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out).contains("recorded services: "), "{}", text(&out));
    let out = run(&["service", "show", "no-slash"]);
    assert_eq!(out.status.code(), Some(2));
}

/// `yoi dev` over a plugin folder: each line of stdout as JSON, read on a
/// thread so a test can wait for one with a deadline.
struct Dev {
    child: std::process::Child,
    stdin: std::process::ChildStdin,
    lines: std::sync::mpsc::Receiver<serde_json::Value>,
}

impl Dev {
    fn start(dir: &Path) -> Dev {
        let mut child = Command::new(env!("CARGO_BIN_EXE_yoi"))
            .args(["dev", "--json"])
            .current_dir(dir)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("yoi dev starts");
        let stdin = child.stdin.take().expect("stdin");
        let stdout = child.stdout.take().expect("stdout");
        let (tx, lines) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            use std::io::BufRead;
            for line in std::io::BufReader::new(stdout)
                .lines()
                .map_while(Result::ok)
            {
                let value = serde_json::from_str(&line)
                    .unwrap_or_else(|_| serde_json::json!({ "unparsed": line }));
                if tx.send(value).is_err() {
                    return;
                }
            }
        });
        Dev {
            child,
            stdin,
            lines,
        }
    }

    /// The next line with `"event": event`, within `limit`.
    fn next(&self, event: &str, limit: std::time::Duration) -> serde_json::Value {
        let deadline = std::time::Instant::now() + limit;
        loop {
            let left = deadline.saturating_duration_since(std::time::Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(v) if v["event"] == event => return v,
                Ok(_) => {}
                Err(e) => panic!("no `{event}` line within {limit:?}: {e}"),
            }
        }
    }

    fn send(&mut self, line: &str) {
        use std::io::Write;
        writeln!(self.stdin, "{line}").expect("write to yoi dev");
    }

    /// Whether `tool` is blocked by the guard now.
    fn blocks(&mut self, tool: &str) -> bool {
        self.send(&format!(
            r#"hook tool.pre_exec {{"tool_name": "{tool}", "input": {{}}, "call_id": "c", "turn": 0}}"#
        ));
        let result = self.next("result", std::time::Duration::from_secs(10));
        !result["dispatch"]["blocked"].is_null()
    }
}

impl Drop for Dev {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `yoi dev` loads a plugin folder with yoi.toml's grants, picks up an
/// edited package within a second, and keeps the old version running when
/// the new one is broken.
#[test]
#[ignore = "needs the example components: run `cargo xtask e2e`"]
fn dev_mode_reloads_an_edited_package_and_keeps_the_old_one_when_broken() {
    use std::time::{Duration, Instant};
    let work = tempfile::tempdir().expect("temp dir");
    let pkg = work.path().join("plugins/guard");
    std::fs::create_dir_all(&pkg).expect("folder");
    for file in ["plugin.toml", "guard.wasm"] {
        std::fs::copy(example("guard").join(file), pkg.join(file)).expect("copy");
    }
    std::fs::write(
        work.path().join("yoi.toml"),
        "[plugins]\nfolders = [\"plugins\"]\n",
    )
    .expect("yoi.toml");
    let mut dev = Dev::start(work.path());
    let first = dev.next("reload", Duration::from_secs(60));
    assert_eq!(
        first["report"]["loaded"][0]["id"], "example.guard",
        "{first}"
    );
    assert!(dev.blocks("shell"));
    assert!(!dev.blocks("rm"));

    // The author edits the package: its deny list's default.
    let manifest = std::fs::read_to_string(pkg.join("plugin.toml")).expect("manifest");
    let edited = manifest.replace(
        "default = [\"shell\", \"delete_file\"]",
        "default = [\"rm\"]",
    );
    assert_ne!(edited, manifest);
    let t0 = Instant::now();
    std::fs::write(pkg.join("plugin.toml"), &edited).expect("edit");
    let reload = dev.next("reload", Duration::from_secs(5));
    let took = t0.elapsed();
    assert_eq!(
        reload["report"]["loaded"][0]["id"], "example.guard",
        "{reload}"
    );
    assert!(took < Duration::from_secs(1), "picked up in {took:?}");
    assert!(dev.blocks("rm"));
    assert!(!dev.blocks("shell"));

    // A broken edit: the running version stays, and the reason is printed.
    std::fs::write(
        pkg.join("plugin.toml"),
        edited.replace("[runtime]", "[runtime"),
    )
    .expect("break");
    let refused = dev.next("reload", Duration::from_secs(5));
    let why = &refused["report"]["refused"][0];
    assert_eq!(why["kept_previous"], "0.1.0", "{refused}");
    assert!(
        why["reason"].as_str().unwrap_or_default().contains("E0001"),
        "{refused}"
    );
    assert!(dev.blocks("rm"), "the previous version keeps running");

    // A wrong digest is refused the same way; fixing it loads it.
    std::fs::write(pkg.join("guard.wasm"), b"\0asm not really").expect("corrupt");
    std::fs::write(pkg.join("plugin.toml"), &edited).expect("fix the manifest");
    let refused = dev.next("reload", Duration::from_secs(5));
    assert!(
        refused["report"]["refused"][0]["reason"]
            .as_str()
            .unwrap_or_default()
            .contains("E0302"),
        "{refused}"
    );
    assert!(dev.blocks("rm"));
    std::fs::copy(example("guard").join("guard.wasm"), pkg.join("guard.wasm")).expect("restore");
    let fixed = dev.next("reload", Duration::from_secs(5));
    assert!(
        fixed["report"]["kept"]
            .as_array()
            .is_some_and(|k| k.contains(&serde_json::json!("example.guard"))),
        "the same package as running: kept, {fixed}"
    );
    dev.send("quit");
}

/// `yoi upgrade`: the difference against the active version, refusals that
/// change nothing (a required setting without a value, undecided
/// capabilities, no confirmation), then each decision and the activation
/// on the active version's scope and rollout, every step audited.
#[test]
#[ignore = "needs the example components: run `cargo xtask e2e`"]
fn upgrade_shows_the_difference_and_changes_nothing_until_it_can_run() {
    let home = tempfile::tempdir().expect("registry folder");
    let run = operator(home.path());
    let guard = example("guard");
    let out = run(&["publish", guard.to_str().expect("utf-8")]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let out = run(&[
        "activate",
        "example.guard@0.1.0",
        "--scope",
        "canary",
        "--rollout",
        "30",
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    // 0.2.0 asks for the network and a required setting, and retypes none.
    let pkg = tempfile::tempdir().expect("package");
    std::fs::copy(guard.join("guard.wasm"), pkg.path().join("guard.wasm")).expect("copy");
    let manifest = std::fs::read_to_string(guard.join("plugin.toml"))
        .expect("manifest")
        .replacen("version = \"0.1.0\"", "version = \"0.2.0\"", 1)
        + "\n[config.region]\ntype = \"string\"\nrequired = true\n\n\
           [capabilities]\nhttps = [\"api.example.com\"]\nsecrets = [\"api_key\"]\n";
    std::fs::write(pkg.path().join("plugin.toml"), manifest).expect("write");
    let out = run(&["publish", pkg.path().to_str().expect("utf-8")]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let audits = |home: &Path| {
        yoi_registry::Registry::open(home)
            .expect("registry")
            .snapshot()
            .expect("snapshot")
            .audits
            .len()
    };
    let before = audits(home.path());

    // The plan, as JSON, changes nothing.
    let out = run(&["upgrade", "example.guard", "0.2.0", "--json"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let plan: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON");
    assert_eq!(plan["from"], "0.1.0");
    assert_eq!(plan["rollout"]["scope"], "canary");
    assert_eq!(
        plan["undecided"],
        serde_json::json!(["https:api.example.com", "secret:api_key"])
    );
    assert_eq!(
        plan["diff"]["settings"]["newly_required"],
        serde_json::json!(["region"])
    );

    // A required setting without a value: the diff, the fix, no change.
    let out = run(&[
        "upgrade",
        "example.guard",
        "0.2.0",
        "--yes",
        "--grant-added",
    ]);
    assert_ne!(out.status.code(), Some(0));
    let said = text(&out);
    assert!(
        said.contains("upgrade example.guard 0.1.0 -> 0.2.0 (scope canary, 30%"),
        "{said}"
    );
    assert!(said.contains("+ https:api.example.com"), "{said}");
    assert!(
        said.contains("not decided: a grant or a denial is needed"),
        "{said}"
    );
    assert!(said.contains("! region is required by 0.2.0"), "{said}");
    assert!(
        said.contains("yoi config set example.guard region VALUE"),
        "{said}"
    );
    assert_eq!(audits(home.path()), before, "nothing changed: {said}");

    // The fix works while 0.1.0 runs: the setting is 0.2.0's.
    let out = run(&["config", "set", "example.guard", "region", "eu"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let before = audits(home.path());
    // Undecided capabilities, no terminal to ask on: refused, the fix named.
    let out = run(&["upgrade", "example.guard@0.2.0", "--yes"]);
    assert_ne!(out.status.code(), Some(0));
    assert!(
        text(&out).contains("--grant-added or --deny-added"),
        "{}",
        text(&out)
    );
    // Decided, but not confirmed.
    let out = run(&["upgrade", "example.guard", "0.2.0", "--deny-added"]);
    assert_ne!(out.status.code(), Some(0));
    assert!(text(&out).contains("--yes` to confirm"), "{}", text(&out));
    assert_eq!(audits(home.path()), before, "nothing changed");

    // Confirmed: one grant each, then the activation on canary at 30 %.
    let out = run(&[
        "upgrade",
        "example.guard",
        "0.2.0",
        "--yes",
        "--grant-added",
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let said = text(&out);
    assert!(said.contains("granted https:api.example.com"), "{said}");
    assert!(said.contains("granted secret:api_key"), "{said}");
    assert!(
        said.contains("activated example.guard@0.2.0 (scope canary, 30%); 0.1.0 is now inactive"),
        "{said}"
    );
    let snapshot = yoi_registry::Registry::open(home.path())
        .expect("registry")
        .snapshot()
        .expect("snapshot");
    let actions: Vec<&str> = snapshot.audits[before..]
        .iter()
        .map(|a| a.action.as_str())
        .collect();
    assert_eq!(
        actions,
        ["grant", "grant", "activate"],
        "each its own decision"
    );
    assert!(
        snapshot.audits[before..]
            .iter()
            .all(|a| a.actor == "ops-test")
    );
    // Again: nothing to do.
    let out = run(&["upgrade", "example.guard", "0.2.0"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert!(
        text(&out).contains("active version already"),
        "{}",
        text(&out)
    );
}

/// Install with a preview over the API: an upload is opened and described
/// without being published; its token is used once, expires, and is bound
/// to the digest it showed; refusals are audited.
#[tokio::test]
#[ignore = "needs the example components: run with `cargo xtask e2e`"]
async fn a_previewed_upload_is_published_only_by_its_token_and_digest() {
    use support::send_json;
    let server = serve();
    let dir = tempfile::tempdir().expect("temp");
    let archive = guard_archive(dir.path());
    let digest = yoi_manifest::Package::open(&example("guard"), &yoi_host::Host::compat())
        .map(|p| yoi_manifest::Digest::of(p.artifact()).to_string())
        .expect("guard");
    let preview = |token: String| {
        let archive = archive.clone();
        let server = &server;
        async move { send(server, "/api/v1/previews", Some(&token), Some(archive)).await }
    };
    let snapshot_versions = |server: &support::Server| {
        yoi_registry::Registry::open(&server.home)
            .expect("registry")
            .snapshot()
            .expect("snapshot")
            .versions
            .len()
    };

    // The preview: what it is and asks for, nothing published.
    let (status, body) = preview(server.rw.clone()).await;
    assert_eq!(status, 200, "{body}");
    let p = &body["record"];
    assert_eq!(p["plugin"], "example.guard");
    assert_eq!(p["version"], "0.1.0");
    assert_eq!(p["kind"], "new");
    assert_eq!(p["digest"], serde_json::json!(digest));
    assert_eq!(p["hooks"], serde_json::json!(["tool.pre_exec"]));
    assert_eq!(p["settings"][0]["name"], "deny");
    assert!(
        p["contract"]
            .as_str()
            .is_some_and(|c| c.starts_with("yoi:plugin@"))
    );
    assert!(p["expires_at"].as_i64() > Some(0));
    assert_eq!(snapshot_versions(&server), 0, "a preview publishes nothing");
    let token = p["token"].as_str().expect("token").to_owned();

    // Another digest: refused, audited, and the token is spent.
    let other = format!("sha256:{}", "0".repeat(64));
    let confirm = "/api/v1/previews/publish";
    let (status, body) = send_json(
        &server,
        confirm,
        &server.rw,
        &serde_json::json!({"token": token, "digest": other}),
    )
    .await;
    assert_eq!(status, 409, "{body}");
    assert!(
        body["error"]
            .as_str()
            .is_some_and(|e| e.contains("the preview showed")),
        "{body}"
    );
    assert_eq!(body["audit"]["action"], "publish");
    assert_eq!(body["audit"]["outcome"], "error");
    let (status, body) = send_json(
        &server,
        confirm,
        &server.rw,
        &serde_json::json!({"token": token, "digest": digest}),
    )
    .await;
    assert_eq!(status, 404, "spent: {body}");
    assert_eq!(snapshot_versions(&server), 0);

    // A fresh preview, confirmed with its digest: published, once.
    let (_, body) = preview(server.rw.clone()).await;
    let token = body["record"]["token"].as_str().expect("token").to_owned();
    let yes = serde_json::json!({"token": token, "digest": digest, "actor": "page"});
    let (status, body) = send_json(&server, confirm, &server.rw, &yes).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["audit"]["action"], "publish");
    assert_eq!(body["audit"]["actor"], "page via operator");
    assert_eq!(snapshot_versions(&server), 1);
    let (status, _) = send_json(&server, confirm, &server.rw, &yes).await;
    assert_eq!(status, 404, "used once");
    // The same upload again is described as what it would be.
    let (_, body) = preview(server.rw.clone()).await;
    assert_eq!(body["record"]["kind"], "republish", "{body}");

    // Read-only tokens preview nothing; garbage is refused and audited.
    let (status, _) = preview(server.ro.clone()).await;
    assert_eq!(status, 403);
    let (status, body) = send(
        &server,
        "/api/v1/previews",
        Some(&server.rw),
        Some(b"not an archive".to_vec()),
    )
    .await;
    assert_eq!(status, 422, "{body}");
    assert!(
        body["error"]
            .as_str()
            .is_some_and(|e| e.contains("cannot be previewed")),
        "{body}"
    );
    assert_eq!(body["audit"]["action"], "preview");
}

/// The page's reads: an upgrade plan, the doctor's report, the server's
/// posture; each for any token, refused without one, bad queries answered
/// with what is wrong.
#[tokio::test]
#[ignore = "needs the example components: run with `cargo xtask e2e`"]
async fn serve_answers_upgrade_plans_the_doctor_and_its_posture() {
    let server = serve();
    let dir = tempfile::tempdir().expect("temp");
    let (status, body) = send(
        &server,
        "/api/v1/packages",
        Some(&server.rw),
        Some(guard_archive(dir.path())),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let plan = "/api/v1/upgrade?plugin=example.guard&version=0.1.0";
    let (status, body) = send(&server, plan, Some(&server.ro), None).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        body["from"],
        serde_json::Value::Null,
        "nothing runs: {body}"
    );
    assert_eq!(body["to"]["version"], "0.1.0");
    assert_eq!(
        body["diff"]["hooks"]["added"],
        serde_json::json!(["tool.pre_exec"])
    );
    for (query, status_wanted, why) in [
        ("plugin=example.guard&version=9.9.9", 404, "9.9.9"),
        (
            "plugin=example.guard&version=latest",
            400,
            "not a semver version",
        ),
        ("plugin=example.guard", 400, "plugin=ID&version=VERSION"),
    ] {
        let (status, body) = send(
            &server,
            &format!("/api/v1/upgrade?{query}"),
            Some(&server.ro),
            None,
        )
        .await;
        assert_eq!(status, status_wanted, "{query}: {body}");
        assert!(
            body["error"].as_str().is_some_and(|e| e.contains(why)),
            "{query}: {body}"
        );
    }
    let (status, _) = send(&server, plan, None, None).await;
    assert_eq!(status, 401);

    let (status, report) = send(&server, "/api/v1/doctor", Some(&server.ro), None).await;
    assert_eq!(status, 200, "{report}");
    assert_eq!(report["healthy"], true, "{report}");
    assert!(report["checked"].as_array().is_some_and(|c| !c.is_empty()));
    let (status, _) = send(&server, "/api/v1/doctor", None, None).await;
    assert_eq!(status, 401);

    let (status, who) = send(&server, "/api/v1/whoami", Some(&server.ro), None).await;
    assert_eq!(status, 200, "{who}");
    assert_eq!(
        who["posture"],
        serde_json::json!({"registry": "sqlite", "database_in_clear": false, "exposed": false, "files_from": 0, "safe_mode": false})
    );
}
