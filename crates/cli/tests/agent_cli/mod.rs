//! `yoi hook claude-code` as a real process, fed events recorded from
//! Claude Code's documented hook protocol, with the guard, redact and
//! policy examples (and the hostile probe) in a real registry.
//!
//! # Claude Code's hook protocol, as these tests hold Yoi to it
//!
//! From Claude Code's hooks reference (code.claude.com/docs/en/hooks, the
//! revision that documents v2.1.218, read 2026-12-07):
//!
//! - **Input** (stdin, one JSON object): `session_id`, `transcript_path`,
//!   `cwd`, `permission_mode`, `hook_event_name`, optional `prompt_id`,
//!   `effort`, `agent_id`, `agent_type`; then per event:
//!   - `PreToolUse`: `tool_name`, `tool_input`, `tool_use_id`;
//!   - `PostToolUse`: also `tool_response` (the tool's structured output;
//!     `Bash`: `{stdout, stderr, interrupted, isImage}`) and `duration_ms`;
//!   - `UserPromptSubmit`: `prompt`;
//!   - `Stop`: `last_assistant_message`, `stop_hook_active`.
//! - **Exit codes**: 0 with JSON on stdout (only then is JSON read); 2
//!   blocks (stdout ignored, stderr shown to the model); any other code is
//!   a non-blocking error and the action goes ahead.
//! - **Output**:
//!   - `PreToolUse`: `hookSpecificOutput` with `hookEventName`,
//!     `permissionDecision` (`allow`, `deny`, `ask`, `defer`),
//!     `permissionDecisionReason` (shown to the model on deny),
//!     `updatedInput` (replaces the whole input), `additionalContext`;
//!   - `PostToolUse`: top-level `decision: "block"` and `reason` (added
//!     beside the output; the model still sees the output), and
//!     `hookSpecificOutput.updatedToolOutput` (replaces what the model sees;
//!     it must have the tool's output shape);
//!   - `UserPromptSubmit`: top-level `decision: "block"` and `reason` (the
//!     prompt is erased); `hookSpecificOutput.additionalContext`; the
//!     prompt itself cannot be replaced;
//!   - `Stop`: top-level `decision: "block"` and `reason`: Claude keeps
//!     working with the reason;
//!   - everywhere: `continue: false` with `stopReason` stops Claude.
//! - Matching hooks run in parallel; output strings are capped at 10,000
//!   characters.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use serde_json::{Value, json};

use crate::support::example;

/// A registry folder with the guard (deny list `["Bash"]`), redact and
/// policy active.
fn registry() -> tempfile::TempDir {
    let home = tempfile::tempdir().expect("registry");
    for name in ["guard", "redact", "policy"] {
        run(
            home.path(),
            &["publish", example(name).to_str().expect("utf-8")],
        );
        run(home.path(), &["activate", &format!("example.{name}@0.1.0")]);
    }
    run(
        home.path(),
        &["config", "set", "example.guard", "deny", "[\"Bash\"]"],
    );
    home
}

fn run(home: &Path, args: &[&str]) {
    let out = Command::new(env!("CARGO_BIN_EXE_yoi"))
        .arg("--registry")
        .arg(home)
        .args(args)
        .output()
        .expect("yoi runs");
    assert!(
        out.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// `yoi hook claude-code` with `event` on stdin.
fn hook(home: &Path, extra: &[&str], event: &[u8]) -> Output {
    use std::io::Write as _;
    let mut child = Command::new(env!("CARGO_BIN_EXE_yoi"))
        .arg("--registry")
        .arg(home)
        .args(["hook", "claude-code"])
        .args(extra)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("yoi hook");
    let mut stdin = child.stdin.take().expect("stdin");
    // A CLI may stop writing early; a refused write is not the test's.
    let _ = stdin.write_all(event);
    drop(stdin);
    child.wait_with_output().expect("answer")
}

/// The answer's JSON (stdout), exit code and stderr.
fn answer(out: &Output) -> (Option<Value>, i32, String) {
    let stdout = String::from_utf8_lossy(&out.stdout);
    let json = (!stdout.trim().is_empty())
        .then(|| serde_json::from_str(stdout.trim()).expect("stdout is one JSON object"));
    (
        json,
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// `yoi hook claude-code` (with `extra` arguments) answering the recorded
/// event `name` with `fields`.
fn call(home: &Path, extra: &[&str], name: &str, fields: Value) -> (Option<Value>, i32, String) {
    answer(&hook(home, extra, &event(name, fields)))
}

/// A recorded event: the common fields and `fields`.
fn event(name: &str, fields: Value) -> Vec<u8> {
    let mut e = json!({
        "session_id": "5f1c9c2e-claude-session",
        "transcript_path": "/home/dev/.claude/projects/app/5f1c9c2e.jsonl",
        "cwd": "/home/dev/app",
        "permission_mode": "default",
        "hook_event_name": name,
    });
    e.as_object_mut()
        .expect("object")
        .extend(fields.as_object().expect("fields").clone());
    e.to_string().into_bytes()
}

/// The receipts of `plugin` in the registry's runtime events.
fn receipts(home: &Path, plugin: &str) -> Vec<Value> {
    let registry = yoi_registry::Registry::open(home).expect("registry");
    registry
        .events(Some(plugin), 0, 1000)
        .expect("events")
        .into_iter()
        .filter(|e| e.kind == "receipt")
        .map(|e| e.detail)
        .collect()
}

#[test]
#[ignore = "needs the example components: run with `cargo xtask e2e`"]
fn claude_code_tool_events_get_the_chains_answer_in_claude_codes_words() {
    let home = registry();

    // A denied tool: the CLI's deny, with the guard's reason; a receipt.
    let (json, code, _) = call(
        home.path(),
        &[],
        "PreToolUse",
        json!({"tool_name": "Bash", "tool_input": {"command": "rm -rf build", "description": "clean"},
                   "tool_use_id": "toolu_01"}),
    );
    assert_eq!(code, 0);
    assert_eq!(
        json,
        Some(json!({"hookSpecificOutput": {
            "hookEventName": "PreToolUse",
            "permissionDecision": "deny",
            "permissionDecisionReason": "blocked by plugin example.guard: tool `Bash` is on the deny list",
        }}))
    );
    let guard = receipts(home.path(), "example.guard");
    assert!(
        guard
            .iter()
            .any(|r| r["point"] == "tool.pre_exec" && r["status"] == "blocked"),
        "{guard:?}"
    );

    // A changed input: the whole input as changed, and the user asked.
    let (json, code, _) = call(
        home.path(),
        &[],
        "PreToolUse",
        json!({"tool_name": "WebFetch", "tool_input": {"url": "http://docs.example.com/api", "prompt": "list the endpoints"},
                   "tool_use_id": "toolu_02"}),
    );
    assert_eq!(code, 0);
    assert_eq!(
        json,
        Some(json!({"hookSpecificOutput": {
            "hookEventName": "PreToolUse",
            "permissionDecision": "ask",
            "permissionDecisionReason": "Yoi's plugins changed this call's input (example.guard): check it before it runs",
            "updatedInput": {"url": "https://docs.example.com/api", "prompt": "list the endpoints"},
        }}))
    );

    // Nothing to say: no output, the CLI's own permission flow goes on.
    let (json, code, stderr) = call(
        home.path(),
        &[],
        "PreToolUse",
        json!({"tool_name": "Read", "tool_input": {"file_path": "/home/dev/app/README.md"}, "tool_use_id": "toolu_03"}),
    );
    assert_eq!((json, code, stderr), (None, 0, String::new()));

    // A secret in a Bash command's output (stdout and stderr) never
    // reaches the model: the output in the Bash tool's own shape, masked.
    let (json, code, _) = call(
        home.path(),
        &[],
        "PostToolUse",
        json!({"tool_name": "Bash", "tool_input": {"command": "env"},
               "tool_response": {"stdout": "PATH=/usr/bin\nOPENAI_KEY=sk-abcdefghijklmnop1234\n",
                                 "stderr": "warning: token sk-zyxwvutsrqponmlk9876 expires", "interrupted": false, "isImage": false},
               "tool_use_id": "toolu_04", "duration_ms": 12}),
    );
    assert_eq!(code, 0);
    let updated = &json.expect("an answer")["hookSpecificOutput"]["updatedToolOutput"];
    assert_eq!(
        updated,
        &json!({"stdout": "PATH=/usr/bin\nOPENAI_KEY=sk-****\n\n[stderr]\nwarning: token sk-**** expires",
                "stderr": "", "interrupted": false, "isImage": false})
    );
    let redact = receipts(home.path(), "example.redact");
    assert!(
        redact
            .iter()
            .any(|r| r["point"] == "tool.post_exec" && r["changed"] == json!(["output"])),
        "{redact:?}"
    );
    assert!(
        redact.iter().any(|r| r["point"] == "tool.result_persist"),
        "{redact:?}"
    );
}

#[test]
#[ignore = "needs the example components: run with `cargo xtask e2e`"]
fn claude_code_prompts_and_stops_map_to_what_the_cli_can_take() {
    let home = registry();
    // The policy's house rules reach Claude as context beside the prompt.
    let (json, code, _) = call(
        home.path(),
        &[],
        "UserPromptSubmit",
        json!({"prompt": "refactor the parser"}),
    );
    assert_eq!(code, 0);
    let json = json.expect("an answer");
    assert_eq!(
        json["hookSpecificOutput"]["hookEventName"],
        "UserPromptSubmit"
    );
    assert!(
        json["hookSpecificOutput"]["additionalContext"]
            .as_str()
            .is_some_and(|c| !c.is_empty()),
        "{json}"
    );
    // A prompt a plugin rewrites cannot go through rewritten (Claude Code
    // takes no replacement prompt): stopped, the rewrite in the reason.
    let dir = tempfile::tempdir().expect("folder");
    let probe = closed_probe(dir.path());
    let config = probe_config(dir.path());
    let (json, code, _) = call(
        home.path(),
        &[
            probe.to_str().expect("utf-8"),
            "--config",
            config.to_str().expect("utf-8"),
        ],
        "UserPromptSubmit",
        json!({"prompt": "draft #probe:set:user_message=rewritten-by-probe"}),
    );
    assert_eq!(code, 0);
    let json = json.expect("an answer");
    assert_eq!(json["decision"], "block", "{json}");
    let reason = json["reason"].as_str().expect("reason");
    assert!(
        reason.contains("(hostile.probe)") && reason.ends_with("As rewritten: rewritten-by-probe"),
        "{reason}"
    );
    // The final answer, redacted on its way out: Claude Code shows what it
    // wrote, so the change is only reported.
    let (json, code, stderr) = call(
        home.path(),
        &[],
        "Stop",
        json!({"last_assistant_message": "done; the key was sk-abcdefghijklmnop1234", "stop_hook_active": false}),
    );
    assert_eq!((json, code), (None, 0));
    assert!(stderr.contains("changed the final answer"), "{stderr}");
    // Events Yoi has no point for are let through, said on stderr.
    let (json, code, stderr) = call(
        home.path(),
        &[],
        "SessionStart",
        json!({"source": "startup"}),
    );
    assert_eq!((json, code), (None, 0));
    assert!(
        stderr.contains("SessionStart has no Yoi hook point"),
        "{stderr}"
    );
}

/// The probe with its `tool.pre_exec` handler failing closed, as a folder.
fn closed_probe(dir: &Path) -> PathBuf {
    let src = example("hostile/probe");
    let dst = dir.join("probe");
    std::fs::create_dir_all(&dst).expect("folder");
    std::fs::copy(src.join("probe.wasm"), dst.join("probe.wasm")).expect("copy");
    let manifest = std::fs::read_to_string(src.join("plugin.toml")).expect("manifest");
    let closed = manifest.replacen(
        "point = \"tool.pre_exec\"\npriority = 200\ntimeout_ms = 200\nfail = \"open\"",
        "point = \"tool.pre_exec\"\npriority = 200\ntimeout_ms = 200\nfail = \"closed\"",
        1,
    );
    assert_ne!(closed, manifest, "the probe's tool.pre_exec entry changed");
    std::fs::write(dst.join("plugin.toml"), closed).expect("write");
    dst
}

/// A `yoi.toml` beside the probe folder that grants it nothing.
fn probe_config(dir: &Path) -> PathBuf {
    let path = dir.join("yoi.toml");
    std::fs::write(&path, "[grants]\n\"hostile.probe\" = []\n").expect("yoi.toml");
    path
}

#[test]
#[ignore = "needs the example components: run with `cargo xtask e2e`"]
fn what_the_clis_let_through_yoi_stops() {
    let home = registry();
    // A fail-closed plugin that times out denies; it never lets the call
    // through (the CLIs let a timed-out hook's call through).
    let dir = tempfile::tempdir().expect("folder");
    let probe = closed_probe(dir.path());
    let config = probe_config(dir.path());
    let (json, code, _) = call(
        home.path(),
        &[
            probe.to_str().expect("utf-8"),
            "--config",
            config.to_str().expect("utf-8"),
        ],
        "PreToolUse",
        json!({"tool_name": "Bash", "tool_input": {"command": "echo #probe:loop"}, "tool_use_id": "toolu_09"}),
    );
    assert_eq!(code, 0);
    let json = json.expect("an answer");
    assert_eq!(
        json["hookSpecificOutput"]["permissionDecision"], "deny",
        "{json}"
    );
    assert!(
        json["hookSpecificOutput"]["permissionDecisionReason"]
            .as_str()
            .is_some_and(|r| r.contains("hostile.probe")),
        "{json}"
    );

    // Input Yoi cannot read: exit 2 (the CLI's block), never a go-ahead.
    for bad in [
        b"not json".to_vec(),
        b"{\"hook_event_name\": \"PreToolUse\", \"tool_na".to_vec(),
        b"[1, 2]".to_vec(),
        b"{\"tool_name\": \"Bash\"}".to_vec(),
        vec![b' '; 9 * 1024 * 1024],
    ] {
        let out = hook(home.path(), &[], &bad);
        let (json, code, stderr) = answer(&out);
        assert_eq!(
            (json, code),
            (None, 2),
            "{}",
            String::from_utf8_lossy(&bad[..bad.len().min(60)])
        );
        assert!(stderr.contains("could not check it"), "{stderr}");
    }

    // A registry that cannot be opened: a tool call is denied, a tool's
    // output stops the agent.
    let broken = tempfile::tempdir().expect("broken");
    std::fs::write(broken.path().join("registry.db"), b"not a database").expect("write");
    let (json, code, stderr) = call(
        broken.path(),
        &[],
        "PreToolUse",
        json!({"tool_name": "Bash", "tool_input": {"command": "ls"}, "tool_use_id": "toolu_10"}),
    );
    assert_eq!((json, code), (None, 2), "{stderr}");
    let (json, code, _) = call(
        broken.path(),
        &[],
        "PostToolUse",
        json!({"tool_name": "Bash", "tool_input": {"command": "env"},
               "tool_response": {"stdout": "x", "stderr": "", "interrupted": false, "isImage": false}, "tool_use_id": "toolu_11"}),
    );
    assert_eq!(code, 0);
    assert_eq!(json.expect("an answer")["continue"], false);

    // No registry and no folders: nothing to run, let through, said so.
    let empty = tempfile::tempdir().expect("empty");
    let (json, code, stderr) = call(
        &empty.path().join("nothing-here"),
        &[],
        "PreToolUse",
        json!({"tool_name": "Bash", "tool_input": {"command": "ls"}, "tool_use_id": "toolu_12"}),
    );
    assert_eq!((json, code), (None, 0));
    assert!(stderr.contains("nothing to run"), "{stderr}");
}

/// The settings docs/agent-clis.md tells users to write parse as Claude
/// Code's settings, and each hook runs `yoi hook claude-code` for an event
/// the bridge maps.
#[test]
fn the_documented_claude_code_settings_run_yoi_for_every_mapped_event() {
    let docs = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/agent-clis.md"),
    )
    .expect("docs/agent-clis.md");
    let settings = docs
        .split_once("cat > .claude/settings.local.json <<'EOF'\n")
        .expect("the settings block")
        .1
        .split_once("\nEOF")
        .expect("its end")
        .0;
    let settings: Value = serde_json::from_str(settings).expect("the settings are JSON");
    let hooks = settings["hooks"].as_object().expect("hooks");
    let events: Vec<&str> = hooks.keys().map(String::as_str).collect();
    assert_eq!(
        events,
        ["PostToolUse", "PreToolUse", "Stop", "UserPromptSubmit"]
    );
    for (event, groups) in hooks {
        for group in groups.as_array().expect("matcher groups") {
            for handler in group["hooks"].as_array().expect("handlers") {
                assert_eq!(handler["type"], "command", "{event}");
                assert_eq!(handler["command"], "yoi", "{event}");
                assert_eq!(handler["args"], json!(["hook", "claude-code"]), "{event}");
            }
        }
    }
}

/// Two plugins change one call's input: both changes arrive, in order (the
/// CLIs run matching hooks in parallel, and one hook's change is lost).
/// The session example also shows the hook context: the CLI as the agent,
/// its session id as the session.
#[test]
#[ignore = "needs the example components: run with `cargo xtask e2e`"]
fn two_plugins_changing_one_input_both_land() {
    let home = tempfile::tempdir().expect("no registry");
    let dir = tempfile::tempdir().expect("folders");
    let config = dir.path().join("yoi.toml");
    std::fs::write(
        &config,
        "[grants]\n\"example.guard\" = []\n\"example.session\" = []\n",
    )
    .expect("yoi.toml");
    // The guard (priority 100) upgrades the URL to https, then the session
    // plugin (0) stamps the call with who made it.
    let (json, code, stderr) = call(
        home.path(),
        &[
            example("guard").to_str().expect("utf-8"),
            example("session").to_str().expect("utf-8"),
            "--config",
            config.to_str().expect("utf-8"),
        ],
        "PreToolUse",
        json!({"tool_name": "WebFetch",
               "tool_input": {"url": "http://docs.example.com/", "prompt": "list the endpoints"},
               "tool_use_id": "toolu_20"}),
    );
    assert_eq!(code, 0, "{stderr}");
    let out = &json.expect("an answer")["hookSpecificOutput"];
    assert_eq!(
        out["updatedInput"],
        json!({"url": "https://docs.example.com/", "prompt": "list the endpoints",
               "agent": "claude-code", "session": "5f1c9c2e-claude-session",
               "point": "tool.pre_exec", "plugin": "example.session"}),
        "{out}"
    );
    assert_eq!(
        out["permissionDecisionReason"],
        "Yoi's plugins changed this call's input (example.guard, example.session): check it before it runs"
    );
}
