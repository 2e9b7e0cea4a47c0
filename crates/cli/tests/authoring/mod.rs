//! Authoring with `yoi plugin`: check, test, the tutorial as written, and
//! what `yoi plugin new` generates, packed and run.

use super::*;

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
