//! Python and JavaScript plugins through the `yoi` binary: the tutorial in
//! Python as docs/authoring.md writes it, the examples through publish,
//! grant, activate and a host booted from the registry, and a denied
//! `https` call seen by each language as a typed error with the fix.

use std::path::{Path, PathBuf};

use serde_json::json;

use super::{example, operate_and_boot, run_in, runtime, tutorial_from_pack};

/// Where `yoi plugin pack` keeps componentize-py and componentize-js:
/// `$YOI_TOOLS` (set by `cargo xtask e2e`), else `target/tools`.
fn tools() -> PathBuf {
    std::env::var_os("YOI_TOOLS")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_TARGET_TMPDIR")).join("../tools"))
}

/// These tests compile components of 12 to 18 MB; one at a time keeps each
/// compile well inside the host's time limit on a small machine.
static ONE_AT_A_TIME: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn serial() -> std::sync::MutexGuard<'static, ()> {
    ONE_AT_A_TIME
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// A host builder with the compile cache `yoi plugin check` and `test`
/// fill (`$YOI_CACHE`, which `cargo xtask e2e` points at the host suite's
/// cache), so a component compiled once is not compiled again here.
fn builder() -> yoi_host::HostBuilder {
    let cache = std::env::var_os("YOI_CACHE")
        .map(PathBuf::from)
        .or_else(|| dirs::cache_dir().map(|d| d.join("yoi").join("compiled")))
        .unwrap_or_else(|| Path::new(env!("CARGO_TARGET_TMPDIR")).join("yoi-e2e-cache"));
    yoi_host::Host::builder().compile_cache(cache)
}

fn tool_call(name: &str, input: serde_json::Value) -> yoi_host::ToolRequest {
    yoi_host::ToolRequest {
        name: name.into(),
        input,
        call_id: "call-1".into(),
        turn: 0,
    }
}

/// docs/authoring.md's Python tutorial, command by command, editing nothing.
#[test]
#[ignore = "needs the example components: run `cargo xtask e2e`"]
fn the_python_tutorial_works_as_written() {
    let _one = serial();
    let work = tempfile::tempdir().expect("temp dir");
    let home = work.path().join("registry");
    let tools = tools();
    let env = [("YOI_HOME", home.as_path()), ("YOI_TOOLS", tools.as_path())];

    let docs = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/authoring.md"),
    )
    .expect("authoring.md");
    let script = "yoi plugin new demo --lang python --hook tool.pre_exec\ncd demo\nyoi plugin pack\n\
                  yoi publish demo-0.1.0.yoi\nyoi activate demo@0.1.0\n";
    assert!(
        docs.contains(script),
        "the Python tutorial's commands changed; update this test"
    );

    let out = run_in(
        work.path(),
        &env,
        &[
            "plugin",
            "new",
            "demo",
            "--lang",
            "python",
            "--hook",
            "tool.pre_exec",
        ],
    );
    assert!(
        out.contains("created demo (hook tool.pre_exec, in python) in demo"),
        "{out}"
    );
    let dir = work.path().join("demo");
    for file in [
        "plugin.toml",
        "app.py",
        "yoi.py",
        "README.md",
        ".gitignore",
        "event.json",
    ] {
        assert!(dir.join(file).is_file(), "{file} is missing");
    }
    let app = std::fs::read_to_string(dir.join("app.py")).expect("app.py");
    assert!(
        app.contains("def tool_pre_exec(event: yoi.ToolCall):"),
        "{app}"
    );

    let digest = tutorial_from_pack(&dir, &env, &home, builder());

    // A second pack with nothing changed reuses the component.
    let out = run_in(&dir, &env, &["plugin", "pack"]);
    assert!(
        out.contains("[1/5] python plugin: componentize-py 0.25.1"),
        "{out}"
    );
    assert!(out.contains("unchanged since the last build"), "{out}");
    assert!(out.contains(&digest), "{out}");
}

/// The Python and JavaScript examples as an operator runs them: published
/// from their folders, granted, activated, and run by a host booted from
/// the registry (which re-checks every digest).
#[test]
#[ignore = "needs the example components: run `cargo xtask e2e`"]
fn python_and_javascript_examples_run_from_the_registry() {
    let _one = serial();
    let home = tempfile::tempdir().expect("registry folder");
    let data = tempfile::tempdir().expect("data");
    let path = |name: &str| example(name).to_str().expect("utf-8").to_owned();
    let (guard, redact, notes) = (path("py-guard"), path("js-redact"), path("py-notes"));
    let host = operate_and_boot(
        home.path(),
        &[
            &["publish", &guard],
            &["publish", &redact],
            &["publish", &notes],
            &["grant", "example.py-notes", "fs:notes:rw"],
            &["activate", "example.py-guard@0.1.0"],
            &["activate", "example.js-redact@0.1.0"],
            &["activate", "example.py-notes@0.1.0"],
        ],
        builder().data_dir(data.path()),
    );
    let boot = host.boot_report().expect("boot report");
    assert!(boot.refused.is_empty(), "{boot:#?}");
    assert_eq!(boot.loaded.len(), 3, "{boot:#?}");
    let rt = runtime();

    let out = rt.block_on(host.dispatch(yoi_host::ToolCall {
        tool_name: "shell".into(),
        input: json!({"cmd": "rm -rf /"}),
        call_id: "call-1".into(),
        turn: 0,
    }));
    let blocked = out.blocked.expect("blocked");
    assert_eq!(
        blocked.message(),
        "blocked by plugin example.py-guard: tool `shell` is on the deny list"
    );

    let out = rt.block_on(host.call_tool(tool_call(
        "example.py-notes.add_note",
        json!({"title": "Keys", "text": "the key is sk-abcdef123456"}),
    )));
    assert_eq!(out.status, yoi_host::ToolStatus::Ok, "{out:#?}");
    // js-redact masks the Python tool's output before the model sees it.
    let out = rt.block_on(host.call_tool(tool_call(
        "example.py-notes.read_note",
        json!({"title": "Keys"}),
    )));
    assert_eq!(out.output, "# Keys\n\nthe key is sk-****\n", "{out:#?}");
    let stored = std::fs::read_to_string(data.path().join("example.py-notes/notes/keys.md"))
        .expect("the note is in the plugin's data root");
    assert!(stored.contains("sk-abcdef123456"), "{stored}");
}

/// A plugin in `language` whose tool calls https://api.example.com and
/// answers what the PDK raised: its type, capability, target and fix.
fn https_prober(work: &Path, language: &str, env: &[(&str, &Path)]) -> PathBuf {
    run_in(
        work,
        env,
        &[
            "plugin", "new", "prober", "--lang", language, "--tool", "fetch",
        ],
    );
    let dir = work.join("prober");
    let (file, code) = if language == "python" {
        (
            "app.py",
            "import yoi\n\n\ndef fetch(text):\n    try:\n        yoi.https.get(\"https://api.example.com/v1/\" + text)\n    \
             except yoi.Denied as e:\n        return {\"type\": type(e).__name__, \"is_api_error\": isinstance(e, yoi.ApiError), \
             \"capability\": e.capability, \"target\": e.target, \"fix\": e.fix, \"message\": str(e)}\n    return \"reached\"\n",
        )
    } else {
        (
            "app.js",
            "import { https, Denied, ApiError } from './yoi.js';\n\nexport function fetch({ text }) {\n  try {\n    \
             https.get(`https://api.example.com/v1/${text}`);\n  } catch (e) {\n    if (!(e instanceof Denied)) throw e;\n    \
             return { type: e.constructor.name, is_api_error: e instanceof ApiError, capability: e.capability, \
             target: e.target, fix: e.fix, message: e.message };\n  }\n  return 'reached';\n}\n",
        )
    };
    std::fs::write(dir.join(file), code).expect("write the prober");
    let manifest = std::fs::read_to_string(dir.join("plugin.toml")).expect("plugin.toml");
    let manifest = manifest.replace(
        "# https = [\"api.example.com\"]",
        "https = [\"*.example.com\"]",
    );
    std::fs::write(dir.join("plugin.toml"), manifest).expect("request https");
    run_in(&dir, env, &["plugin", "pack"]);
    dir
}

/// A denied `https` call from Python and from JavaScript raises the PDK's
/// typed error, whose fix is the exact `yoi grant` an operator runs. The
/// plugin requests `*.example.com`; the operator granted only
/// `status.example.com`.
#[test]
#[ignore = "needs the example components: run `cargo xtask e2e`"]
fn a_denied_https_call_is_a_typed_error_with_the_fix_in_python_and_javascript() {
    let _one = serial();
    let tools = tools();
    for language in ["python", "js"] {
        let work = tempfile::tempdir().expect("temp dir");
        let home = work.path().join("registry");
        let env = [("YOI_HOME", home.as_path()), ("YOI_TOOLS", tools.as_path())];
        let dir = https_prober(work.path(), language, &env);
        let host = operate_and_boot(
            &home,
            &[
                &["publish", dir.to_str().expect("utf-8")],
                &["grant", "prober", "https:status.example.com"],
                &["activate", "prober@0.1.0"],
            ],
            builder(),
        );
        let out = runtime()
            .block_on(host.call_tool(tool_call("prober.fetch", json!({"text": "status"}))));
        assert_eq!(out.status, yoi_host::ToolStatus::Ok, "{language}: {out:#?}");
        let seen: serde_json::Value = serde_json::from_str(&out.output).expect("json");
        assert_eq!(seen["type"], "Denied", "{language}: {seen}");
        assert_eq!(seen["is_api_error"], true, "{language}: {seen}");
        assert_eq!(seen["capability"], "https", "{language}: {seen}");
        assert_eq!(
            seen["target"], "https://api.example.com/v1/status",
            "{language}: {seen}"
        );
        assert_eq!(
            seen["fix"], "to allow it, run `yoi grant prober https:api.example.com`",
            "{language}: {seen}"
        );
        let message = seen["message"].as_str().unwrap_or_default();
        assert!(
            message.starts_with("permission denied: ")
                && message.ends_with("(to allow it, run `yoi grant prober https:api.example.com`)"),
            "{language}: {message}"
        );
    }
}

/// The shortest Python and JavaScript plugins in docs/authoring.md are
/// `examples/py-minimal` and `examples/js-minimal`, verbatim, and they work.
#[test]
#[ignore = "needs the example components: run `cargo xtask e2e`"]
fn the_shortest_python_and_javascript_plugins_are_quoted_and_work() {
    let _one = serial();
    let docs = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/authoring.md"),
    )
    .expect("authoring.md");
    for (name, file, fence) in [
        ("py-minimal", "app.py", "python"),
        ("js-minimal", "app.js", "js"),
    ] {
        let source = std::fs::read_to_string(example(name).join(file)).expect("source");
        let lines = source.lines().count();
        assert!(lines <= 8, "{name} is {lines} lines");
        assert!(
            docs.contains(&format!("```{fence}\n{source}```")),
            "docs/authoring.md quotes examples/{name}/{file} verbatim"
        );
        let out = super::plugin_test(
            name,
            r#"{"tool_name": "shell", "input": {}, "call_id": "c", "turn": 0}"#,
            &[],
        );
        let all = super::text(&out);
        assert!(out.status.success(), "{all}");
        assert!(
            all.contains(&format!(
                "result: blocked by plugin example.{name}: shell access is disabled"
            )),
            "{all}"
        );
    }
}

/// With the package registries unreachable (loopback addresses nothing
/// listens on), `pack` fails with an error naming the package, its pinned
/// version and the registry, and leaves no half-installed toolchain.
#[test]
#[ignore = "needs the example components: run `cargo xtask e2e`"]
fn an_unreachable_registry_is_a_clear_error_naming_the_pinned_tool() {
    let work = tempfile::tempdir().expect("temp dir");
    let empty_tools = work.path().join("tools");
    let home = work.path().join("registry");
    for (language, package) in [
        ("python", "componentize-py 0.25.1 from PyPI"),
        (
            "js",
            "@bytecodealliance/componentize-js 0.23.0 from the npm registry",
        ),
    ] {
        let env = [
            ("YOI_HOME", home.as_path()),
            ("YOI_TOOLS", empty_tools.as_path()),
        ];
        let name = format!("offline-{language}");
        run_in(
            work.path(),
            &env,
            &["plugin", "new", &name, "--lang", language],
        );
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_yoi"))
            .args(["plugin", "pack"])
            .current_dir(work.path().join(&name))
            .env("YOI_TOOLS", &empty_tools)
            .env("YOI_HOME", &home)
            .env("PIP_INDEX_URL", "http://127.0.0.1:9/simple/")
            .env("PIP_RETRIES", "0")
            .env("PIP_TIMEOUT", "2")
            .env("PIP_NO_CACHE_DIR", "1")
            .env("npm_config_registry", "http://127.0.0.1:9/")
            .env("npm_config_fetch_retries", "0")
            .env("npm_config_cache", work.path().join("npm-cache"))
            .env("npm_config_prefer_online", "true")
            .output()
            .expect("yoi runs");
        let all = super::text(&out);
        assert_eq!(out.status.code(), Some(1), "{all}");
        assert!(
            all.contains(&format!("could not install {package}")),
            "{language}: {all}"
        );
        assert!(all.contains("fix: check that"), "{language}: {all}");
        let left: Vec<_> = std::fs::read_dir(&empty_tools)
            .map(|d| d.filter_map(Result::ok).map(|e| e.file_name()).collect())
            .unwrap_or_default();
        assert!(
            left.is_empty(),
            "{language}: nothing half-installed: {left:?}"
        );
    }
}
