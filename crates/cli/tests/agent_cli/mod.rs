//! `yoi hook claude-code` and `yoi hook codex` as real processes, fed
//! events recorded from each CLI's hook protocol, with the guard, redact
//! and policy examples (and the hostile probe) in a real registry; and
//! `yoi hook install`/`uninstall` on settings files.
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
//! - Also: `PreCompact` (`trigger`, `custom_instructions`; exit 2 blocks
//!   the compaction), `PostCompact` (`trigger`, `compact_summary`; nothing
//!   to block, no replacement summary), `SessionStart` (`source`, `model`),
//!   `SessionEnd` (`reason`).
//! - Settings: `~/.claude/settings.json` (user), `.claude/settings.json`
//!   (project), `{"hooks": {EVENT: [{"matcher"?, "hooks": [{"type":
//!   "command", "command", "args"?}]}]}}`; with `args` the command runs
//!   without a shell. Comments are allowed.
//!
//! # Codex's hook protocol
//!
//! From Codex 0.171.0 (`@openai/codex` on npm, 2026-12): the input and
//! output schemas the binary carries (`*.command.input`/`output`, draft-07,
//! `additionalProperties: false`), its output parser, and the hooks page of
//! its documentation.
//!
//! - **Input**: every event has `session_id`, `transcript_path` (string or
//!   null), `cwd`, `hook_event_name`, `model`; turn events `turn_id` and
//!   `permission_mode`; then `PreToolUse`: `tool_name` (`Bash` for shell
//!   commands, `apply_patch`, `mcp__SERVER__TOOL`), `tool_input` (`{command}`
//!   for shell commands; an MCP tool's arguments), `tool_use_id`;
//!   `PostToolUse`: also `tool_response`; `UserPromptSubmit`: `prompt`;
//!   `Stop`: `last_assistant_message`, `stop_hook_active`;
//!   `PreCompact`/`PostCompact`: `trigger`; `SessionStart`: `source`;
//!   `SessionEnd`: `reason`.
//! - **Exit codes**: 0 (stdout read as JSON when it looks like JSON); 2
//!   blocks `PreToolUse` with stderr as the reason, only when stderr is
//!   not empty; any other code, a timeout, or JSON Codex does not accept
//!   is a failed hook, and the action goes ahead.
//! - **Output** (unknown fields make the whole answer invalid):
//!   - `PreToolUse`: `hookSpecificOutput` with `permissionDecision`
//!     `deny` and a non-empty `permissionDecisionReason`; `updatedInput`
//!     only with `permissionDecision: "allow"` (`ask`, and `allow` without
//!     `updatedInput`, are refused), and a shell call's `updatedInput` must
//!     keep a string `command`; `continue: false` is refused;
//!   - `PostToolUse`: `decision: "block"` with a non-empty `reason`: the
//!     reason replaces the output the model sees; `continue: false` stops;
//!     no updated-output field for Codex's own tools;
//!   - `UserPromptSubmit`: `decision: "block"` with `reason`;
//!     `hookSpecificOutput.additionalContext`;
//!   - `Stop`: `decision: "block"` with `reason`: Codex continues;
//!   - `PreCompact`: `continue: false` with `stopReason` stops it.
//! - Matching hooks run concurrently; for competing `updatedInput`s the
//!   one that finished last wins.
//! - Settings: `~/.codex/hooks.json` (or `$CODEX_HOME/hooks.json`) and
//!   `<repo>/.codex/hooks.json` in Claude Code's shape; `command` runs
//!   through a shell.

mod real_clis;

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
    run_with(home, &[], args);
}

/// `yoi --registry HOME ARGS` with `env` set, which must succeed.
fn run_with(home: &Path, env: &[(&str, &Path)], args: &[&str]) {
    let out = Command::new(env!("CARGO_BIN_EXE_yoi"))
        .envs(env.iter().copied())
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

/// The answer lets the event through (no JSON, exit 0), saying `note` on
/// stderr.
fn let_through(answer: (Option<Value>, i32, String), note: &str) {
    let (json, code, stderr) = answer;
    assert_eq!((json, code), (None, 0), "{stderr}");
    assert!(stderr.contains(note), "{stderr}");
}

/// The answer adds text to the prompt as context beside it.
fn assert_context(json: Option<Value>, code: i32) {
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
}

/// The answer is the CLIs' deny of a tool call, with `why` in its reason.
fn assert_denied(json: Option<Value>, why: &str) {
    let json = json.expect("an answer");
    assert_eq!(
        json["hookSpecificOutput"]["permissionDecision"], "deny",
        "{json}"
    );
    assert!(
        json["hookSpecificOutput"]["permissionDecisionReason"]
            .as_str()
            .is_some_and(|r| r.contains(why)),
        "{json}"
    );
}

/// `yoi hook claude-code` with `event` on stdin.
fn hook(home: &Path, extra: &[&str], event: &[u8]) -> Output {
    hook_as("claude-code", home, extra, event)
}

/// `yoi hook CLI` with `event` on stdin.
fn hook_as(cli: &str, home: &Path, extra: &[&str], event: &[u8]) -> Output {
    use std::io::Write as _;
    let mut child = Command::new(env!("CARGO_BIN_EXE_yoi"))
        .arg("--registry")
        .arg(home)
        .args(["hook", cli])
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

/// `yoi hook codex` answering the recorded Codex event `name` with
/// `fields`.
fn codex(home: &Path, name: &str, fields: Value) -> (Option<Value>, i32, String) {
    answer(&hook_as("codex", home, &[], &codex_event(name, fields)))
}

/// A recorded Codex event: the common fields Codex 0.171.0 sends with
/// every event (its `*.command.input` schemas) and `fields`.
fn codex_event(name: &str, fields: Value) -> Vec<u8> {
    let mut e = json!({
        "session_id": "0199a1b2-codex-thread",
        "turn_id": "turn-3",
        "transcript_path": null,
        "cwd": "/home/dev/app",
        "model": "gpt-5.5-codex",
        "permission_mode": "default",
        "hook_event_name": name,
    });
    e.as_object_mut()
        .expect("object")
        .extend(fields.as_object().expect("fields").clone());
    e.to_string().into_bytes()
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
    assert_context(json, code);
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
    let_through(
        call(
            home.path(),
            &[],
            "Stop",
            json!({"last_assistant_message": "done; the key was sk-abcdefghijklmnop1234", "stop_hook_active": false}),
        ),
        "changed the final answer",
    );
    // The compacted summary, marked by the policy: Claude Code keeps its
    // own, so the change is reported.
    let_through(
        call(
            home.path(),
            &[],
            "PostCompact",
            json!({"trigger": "auto", "compact_summary": "We refactored the parser."}),
        ),
        "changed the compaction summary",
    );
    // A session's start and end are the host's: the policy sees both.
    for (event, fields) in [
        (
            "SessionStart",
            json!({"source": "startup", "model": "claude-opus-4-7"}),
        ),
        ("SessionEnd", json!({"reason": "clear"})),
    ] {
        assert_eq!(
            call(home.path(), &[], event, fields),
            (None, 0, String::new())
        );
    }
    let policy = receipts(home.path(), "example.policy");
    for point in ["context.post_compact", "host.start", "host.stop"] {
        assert!(
            policy.iter().any(|r| r["point"] == point),
            "{point}: {policy:?}"
        );
    }
    // Events Yoi has no point for are let through, said on stderr.
    let_through(
        call(
            home.path(),
            &[],
            "Notification",
            json!({"message": "Claude needs your permission", "notification_type": "permission_prompt"}),
        ),
        "Notification has no Yoi hook point",
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
    assert_denied(json, "hostile.probe");

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
    assert_eq!(code, 0, "{stderr}");
    assert_denied(json, "could not check it");
    // Compaction waits (exit 2 is Claude Code's block there).
    let (_, code, _) = call(
        broken.path(),
        &[],
        "PreCompact",
        json!({"trigger": "auto", "custom_instructions": null}),
    );
    assert_eq!(code, 2);
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
    let_through(
        call(
            &empty.path().join("nothing-here"),
            &[],
            "PreToolUse",
            json!({"tool_name": "Bash", "tool_input": {"command": "ls"}, "tool_use_id": "toolu_12"}),
        ),
        "nothing to run",
    );
}

/// The settings docs/agent-clis.md shows are what `yoi hook install`
/// writes for each event.
#[test]
fn the_documented_settings_are_what_install_writes() {
    let docs = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/agent-clis.md"),
    )
    .expect("docs/agent-clis.md");
    let documented = docs
        .split_once("For Claude Code each event gets:\n\n```json\n")
        .expect("the settings block")
        .1
        .split_once("\n```")
        .expect("its end")
        .0;
    let mut documented: Value = serde_json::from_str(documented).expect("the block is JSON");
    documented["hooks"][0]["command"] = json!(env!("CARGO_BIN_EXE_yoi"));
    let home = tempfile::tempdir().expect("home");
    let out = Command::new(env!("CARGO_BIN_EXE_yoi"))
        .env("HOME", home.path())
        .env_remove("YOI_HOME")
        .env_remove("YOI_REGISTRY")
        .args(["hook", "install", "--for", "claude-code"])
        .output()
        .expect("yoi runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let written =
        std::fs::read_to_string(home.path().join(".claude/settings.json")).expect("written");
    let written = parse_settings(&written);
    let events = written["hooks"].as_object().expect("hooks");
    assert_eq!(events.len(), 8, "{written}");
    for (event, groups) in events {
        assert!(
            docs.contains(&format!("`{event}`")),
            "{event} is documented"
        );
        assert_eq!(groups, &json!([documented.clone()]), "{event}");
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

/// Codex's events, as Codex 0.171.0 sends them, get the chain's answer in
/// the words Codex reads (its protocol is written down at the top of this
/// file).
#[test]
#[ignore = "needs the example components: run with `cargo xtask e2e`"]
fn codex_events_get_the_chains_answer_in_codexs_words() {
    let home = registry();
    let shell = |command: &str, id: &str| json!({"tool_name": "Bash", "tool_input": {"command": command}, "tool_use_id": id});
    // A denied tool: Codex's deny, with the guard's reason.
    let (json, code, _) = codex(home.path(), "PreToolUse", shell("rm -rf build", "call_01"));
    assert_eq!(code, 0);
    assert_eq!(
        json,
        Some(json!({"hookSpecificOutput": {
            "hookEventName": "PreToolUse",
            "permissionDecision": "deny",
            "permissionDecisionReason": "blocked by plugin example.guard: tool `Bash` is on the deny list",
        }}))
    );
    // A changed input of an MCP tool: the whole input, with "allow" (the
    // one decision Codex takes a rewrite with).
    let (json, code, _) = codex(
        home.path(),
        "PreToolUse",
        json!({"tool_name": "mcp__fetch__fetch", "tool_input": {"url": "http://docs.example.com/", "max_length": 5000},
               "tool_use_id": "call_02"}),
    );
    assert_eq!(code, 0);
    assert_eq!(
        json,
        Some(json!({"hookSpecificOutput": {
            "hookEventName": "PreToolUse",
            "permissionDecision": "allow",
            "updatedInput": {"url": "https://docs.example.com/", "max_length": 5000},
        }}))
    );
    // A shell command's rewrite without a `command` string would be
    // refused by Codex, which then runs the original: denied instead.
    let dir = tempfile::tempdir().expect("folder");
    let probe = closed_probe(dir.path());
    let config = probe_config(dir.path());
    let out = hook_as(
        "codex",
        home.path(),
        &[
            probe.to_str().expect("utf-8"),
            "--config",
            config.to_str().expect("utf-8"),
        ],
        &codex_event("PreToolUse", shell("ls #probe:set:input=[1]", "call_03")),
    );
    let (json, code, _) = answer(&out);
    assert_eq!(code, 0);
    assert_denied(json, "without a `command` string");
    // A secret in a shell command's output: the masked output as the
    // block's reason, which Codex gives the model in the output's place.
    let (json, code, _) = codex(
        home.path(),
        "PostToolUse",
        json!({"tool_name": "Bash", "tool_input": {"command": "env"},
               "tool_response": "PATH=/usr/bin\nOPENAI_KEY=sk-abcdefghijklmnop1234\n",
               "tool_use_id": "call_04"}),
    );
    assert_eq!(code, 0);
    assert_eq!(
        json,
        Some(json!({"decision": "block", "reason": "PATH=/usr/bin\nOPENAI_KEY=sk-****\n"}))
    );
    let redact = receipts(home.path(), "example.redact");
    assert!(
        redact.iter().any(|r| r["point"] == "tool.result_persist"),
        "{redact:?}"
    );
    // The prompt gets the policy's rules as context; the final answer's
    // change is reported.
    let (json, code, _) = codex(
        home.path(),
        "UserPromptSubmit",
        json!({"prompt": "fix the build"}),
    );
    assert_context(json, code);
    let_through(
        codex(
            home.path(),
            "Stop",
            json!({"last_assistant_message": "the key is sk-abcdefghijklmnop1234", "stop_hook_active": false}),
        ),
        "Codex shows the answer as written",
    );
    for (event, fields) in [
        ("PreCompact", json!({"trigger": "auto"})),
        ("SessionStart", json!({"source": "startup"})),
        ("SessionEnd", json!({"reason": "exit"})),
    ] {
        assert_eq!(
            codex(home.path(), event, fields),
            (None, 0, String::new()),
            "{event}"
        );
    }

    // A registry that cannot be opened: every event that can be stopped
    // is, in Codex's words for it (its other exit codes mean "go ahead").
    let broken = tempfile::tempdir().expect("broken");
    std::fs::write(broken.path().join("registry.db"), b"not a database").expect("write");
    let (json, code, _) = codex(broken.path(), "PreToolUse", shell("ls", "call_05"));
    assert_eq!(code, 0);
    assert_eq!(
        json.expect("an answer")["hookSpecificOutput"]["permissionDecision"],
        "deny"
    );
    let (json, _, _) = codex(
        broken.path(),
        "PostToolUse",
        json!({"tool_name": "Bash", "tool_input": {"command": "env"}, "tool_response": "KEY=sk-abcdefghijklmnop1234", "tool_use_id": "call_06"}),
    );
    let json = json.expect("an answer");
    assert_eq!(json["decision"], "block");
    assert!(
        json["reason"]
            .as_str()
            .is_some_and(|r| r.starts_with("The tool's output was withheld")),
        "{json}"
    );
    let (json, _, _) = codex(broken.path(), "PreCompact", json!({"trigger": "manual"}));
    assert_eq!(json.expect("an answer")["continue"], false);
    let (json, _, _) = codex(broken.path(), "UserPromptSubmit", json!({"prompt": "hi"}));
    assert_eq!(json.expect("an answer")["decision"], "block");
    // A stop already continuing after a block is not blocked again.
    let_through(
        codex(
            broken.path(),
            "Stop",
            json!({"last_assistant_message": "done", "stop_hook_active": true}),
        ),
        "not blocked again",
    );
}

/// `yoi hook install`/`uninstall` as a user runs them, with `HOME` (and
/// the registry) in temporary folders.
fn settings_cmd(home: &Path, registry: &Path, cwd: &Path, args: &[&str]) -> (bool, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_yoi"))
        .env("HOME", home)
        .env_remove("CODEX_HOME")
        .env("YOI_HOME", registry)
        .current_dir(cwd)
        .args(args)
        .output()
        .expect("yoi runs");
    (
        out.status.success(),
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
    )
}

/// Settings with hooks of the user's own, in their own layout: install
/// adds Yoi beside them, uninstall gives back the same bytes.
#[test]
fn install_and_uninstall_round_trip_settings_with_hooks_already_there() {
    let claude = r#"{
  // the team's settings
  "model": "opus",
  "hooks": {
    "PreToolUse": [
      {
        "matcher": "Bash",
        "hooks": [{ "type": "command", "command": "./scripts/check-bash.sh", "timeout": 30 }]
      }
    ],
    "Stop": []
  },
  "permissions": {"allow": ["Bash(npm test)"]}
}
"#;
    let codex = "{\"hooks\":{\"SessionStart\":[{\"matcher\":\"startup|resume\",\"hooks\":[{\"type\":\"command\",\"command\":\"sh .codex/hooks/start.sh\",\"statusMessage\":\"Loading\"}]}]}}";
    for (cli, file, before, project) in [
        ("claude-code", ".claude/settings.json", claude, false),
        ("codex", ".codex/hooks.json", codex, false),
        ("claude-code", ".claude/settings.json", claude, true),
        ("codex", ".codex/hooks.json", codex, true),
    ] {
        let home = tempfile::tempdir().expect("home");
        let project_dir = tempfile::tempdir().expect("project");
        let registry = tempfile::tempdir().expect("registry");
        let base = if project {
            project_dir.path()
        } else {
            home.path()
        };
        let path = base.join(file);
        std::fs::create_dir_all(path.parent().expect("folder")).expect("folder");
        std::fs::write(&path, before).expect("settings");
        let scope = if project { "--project" } else { "--user" };
        let run =
            |args: &[&str]| settings_cmd(home.path(), registry.path(), project_dir.path(), args);

        // A dry run shows the change and writes nothing.
        let (ok, out) = run(&["hook", "install", "--for", cli, scope, "--dry-run"]);
        assert!(ok, "{out}");
        assert!(
            out.contains("dry run")
                && out.lines().any(|l| l.starts_with('+')
                    && l.contains(&format!(
                        "hook{}",
                        if cli == "codex" { " codex" } else { "\"" }
                    ))),
            "{out}"
        );
        assert_eq!(
            std::fs::read_to_string(&path).expect("read"),
            before,
            "{cli}"
        );

        let (ok, out) = run(&["hook", "install", "--for", cli, scope]);
        assert!(ok, "{out}");
        let installed = std::fs::read_to_string(&path).expect("read");
        let value: Value = parse_settings(&installed);
        for event in [
            "PreToolUse",
            "PostToolUse",
            "UserPromptSubmit",
            "Stop",
            "PreCompact",
            "PostCompact",
            "SessionStart",
            "SessionEnd",
        ] {
            let groups = value["hooks"][event].as_array().expect(event);
            let ours = groups
                .iter()
                .flat_map(|g| g["hooks"].as_array().expect("handlers"))
                .filter(|h| {
                    let line = match h["args"].as_array() {
                        Some(args) => args
                            .iter()
                            .map(|a| a.as_str().unwrap_or(""))
                            .collect::<Vec<_>>()
                            .join(" "),
                        None => h["command"].as_str().unwrap_or("").to_owned(),
                    };
                    line.ends_with(&format!("hook {cli}"))
                        && line.contains(&format!("--registry {}", registry.path().display()))
                })
                .count();
            assert_eq!(ours, 1, "{cli} {event}: {installed}");
        }
        // What was there is still there, first.
        if cli == "claude-code" {
            assert!(
                installed.starts_with("{\n  // the team's settings\n  \"model\": \"opus\","),
                "{installed}"
            );
            assert_eq!(value["hooks"]["PreToolUse"][0]["matcher"], "Bash");
        } else {
            assert_eq!(
                value["hooks"]["SessionStart"][0]["matcher"],
                "startup|resume"
            );
        }
        // The doctor says what this CLI cannot take.
        let (_, out) = run(&["doctor"]);
        assert!(
            out.contains("note[R0313]") || out.contains("R0313"),
            "{out}"
        );
        // Installing again changes nothing.
        let (ok, out) = run(&["hook", "install", "--for", cli, scope]);
        assert!(ok && out.contains("already"), "{out}");
        assert_eq!(std::fs::read_to_string(&path).expect("read"), installed);

        let (ok, out) = run(&["hook", "uninstall", "--for", cli, scope]);
        assert!(ok, "{out}");
        assert_eq!(
            std::fs::read_to_string(&path).expect("read"),
            before,
            "{cli} {scope}"
        );
    }
}

/// Edited after install: uninstall takes out Yoi's entries alone and
/// keeps the edit; a file install created is removed with it; broken
/// settings are refused with what is wrong, and left alone.
#[test]
fn uninstall_after_an_edit_takes_out_only_yois_entries() {
    let home = tempfile::tempdir().expect("home");
    let registry = tempfile::tempdir().expect("registry");
    let run = |args: &[&str]| settings_cmd(home.path(), registry.path(), home.path(), args);
    let path = home.path().join(".claude/settings.json");
    // No settings before: install creates them, uninstall removes them.
    assert!(run(&["hook", "install", "--for", "claude-code"]).0);
    assert!(path.is_file());
    assert!(run(&["hook", "uninstall", "--for", "claude-code"]).0);
    assert!(!path.exists());

    let before = "{\n  \"hooks\": {\n    \"Stop\": [\n      {\"hooks\": [{\"type\": \"command\", \"command\": \"./notify.sh\"}]}\n    ]\n  }\n}\n";
    std::fs::write(&path, before).expect("settings");
    assert!(run(&["hook", "install", "--for", "claude-code"]).0);
    let installed = std::fs::read_to_string(&path).expect("read");
    let edited = installed.replacen("\"hooks\": {", "\"model\": \"sonnet\",\n  \"hooks\": {", 1);
    std::fs::write(&path, &edited).expect("edit");
    let (ok, out) = run(&["hook", "uninstall", "--for", "claude-code"]);
    assert!(ok && out.contains("edited since install"), "{out}");
    let after = std::fs::read_to_string(&path).expect("read");
    assert_eq!(
        parse_settings(&after),
        json!({"model": "sonnet", "hooks": {"Stop": [{"hooks": [{"type": "command", "command": "./notify.sh"}]}]}}),
        "{after}"
    );
    assert!(!after.contains("yoi"), "{after}");

    for (bad, says) in [
        ("{\"hooks\": ", "is not valid JSON"),
        ("[1, 2]", "no JSON object at the top"),
        ("{\"hooks\": [1]}", "`hooks` in"),
        ("{\"hooks\": {\"PreToolUse\": {}}}", "`hooks.PreToolUse`"),
    ] {
        std::fs::write(&path, bad).expect("settings");
        let (ok, out) = run(&["hook", "install", "--for", "claude-code"]);
        assert!(!ok && out.contains(says), "{bad}: {out}");
        assert_eq!(
            std::fs::read_to_string(&path).expect("read"),
            bad,
            "left alone"
        );
    }
}

/// JSON with comments, as Claude Code's own settings allow.
fn parse_settings(text: &str) -> Value {
    let stripped: String = text
        .lines()
        .filter(|l| !l.trim_start().starts_with("//"))
        .collect::<Vec<_>>()
        .join("\n");
    serde_json::from_str(&stripped).expect("settings JSON")
}
