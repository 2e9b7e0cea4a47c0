//! End-to-end tests of the `yoi` binary against the example components.
//! Run them with `cargo xtask e2e`, which builds the components first.

use std::io::Write;
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::Duration;

mod agent_cli;
mod authoring;
mod distribution;
mod fleet;
mod hostile;
mod languages;
mod mcp;
mod operating;
mod serving;
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

/// `yoi` as the operator `ops-test` on the registry in `home`.
fn operator(home: &Path) -> impl Fn(&[&str]) -> Output {
    let reg = home.to_str().expect("utf-8").to_owned();
    move |args: &[&str]| {
        let mut all = vec!["--registry", reg.as_str(), "--actor", "ops-test"];
        all.extend_from_slice(args);
        yoi(&all, None)
    }
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

/// A FIFO at `path`: opening it for reading would wait for a writer.
fn mkfifo(path: &Path) {
    let status = Command::new("mkfifo").arg(path).status().expect("mkfifo");
    assert!(status.success());
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
