//! `yoi hook claude-code|codex`: Yoi's hook chain behind an agent CLI's own hook
//! protocol (docs/agent-clis.md). The CLI starts one process per hook
//! event with the event as JSON on stdin; this runs the matching hook
//! point (in order, changes checked per field, in the sandbox) and answers
//! in the CLI's format on stdout, with the CLI's exit codes.
//!
//! Claude Code's protocol as this follows it is written down, with the
//! version of its documentation, in `crates/cli/tests/agent_cli/`.
//!
//! Failing closed: the CLIs treat most failures of a hook as "go ahead".
//! Wherever Yoi cannot run the chain (unreadable event, registry that
//! cannot be opened, a plugin that cannot load), an event that can be
//! stopped is stopped (exit 2), and a tool's output that may have needed
//! masking stops the agent (`continue: false`), so nothing a fail-closed
//! plugin was due to catch slips through by accident.

use std::io::Read as _;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context as _, Result};
use serde_json::{Map, Value, json};
use yoi_host::{Dispatch, HookContext, HookPoint, Host};

use crate::ctx::Ctx;

/// The largest event read from stdin. Tool inputs and outputs the CLIs
/// send are capped well below this (Claude Code: 10,000 characters of
/// hook output; tool results are truncated in the transcript).
pub(crate) const MAX_EVENT_BYTES: usize = 8 * 1024 * 1024;

/// The agent CLIs whose hook protocol `yoi hook` speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum Cli {
    /// Anthropic's Claude Code.
    ClaudeCode,
    /// OpenAI's Codex CLI.
    Codex,
}

impl Cli {
    /// The name the hook context carries as `agent-id` (and the argument
    /// of `yoi hook`).
    pub(crate) fn name(self) -> &'static str {
        match self {
            Cli::ClaudeCode => "claude-code",
            Cli::Codex => "codex",
        }
    }

    /// The CLI's name as its users write it.
    pub(crate) fn title(self) -> &'static str {
        match self {
            Cli::ClaudeCode => "Claude Code",
            Cli::Codex => "Codex",
        }
    }

    /// What Yoi's chain can decide and this CLI's protocol cannot carry
    /// (docs/agent-clis.md, "What each CLI cannot express").
    pub(crate) fn cannot_express(self) -> &'static [&'static str] {
        match self {
            Cli::ClaudeCode => &[
                "a rewritten prompt: the prompt is stopped, with the rewrite in the reason",
                "a changed final answer or compaction summary: reported on stderr only",
                "a changed output of a tool with structured output that is no longer its JSON: the agent is stopped",
                "the working folder and transcript path: not in the hook context of contracts up to 0.5.0",
            ],
            Cli::Codex => &[
                "a rewritten prompt: the prompt is stopped, with the rewrite in the reason",
                "a changed final answer or compaction summary: reported on stderr only",
                "a changed tool output: no updated-output field; it reaches the model as a block's reason in the output's place",
                "a shell call rewritten without a `command` string: denied",
                "the working folder and transcript path: not in the hook context of contracts up to 0.5.0",
            ],
        }
    }
}

/// Where the plugins come from.
pub(crate) struct Source {
    /// Plugin folders (with `yoi.toml`'s grants); none: the registry.
    pub(crate) dirs: Vec<PathBuf>,
    /// A host configuration file (limits, capability list; with folders,
    /// grants too).
    pub(crate) config: Option<PathBuf>,
}

/// What `yoi hook` answers: stdout (JSON), stderr, exit code.
#[derive(Debug, Default, PartialEq)]
pub(crate) struct Answer {
    pub(crate) stdout: Option<Value>,
    pub(crate) stderr: Option<String>,
    pub(crate) code: u8,
}

impl Answer {
    fn allow() -> Answer {
        Answer::default()
    }

    fn json(value: Value) -> Answer {
        Answer {
            stdout: Some(value),
            ..Answer::default()
        }
    }

    /// Exit 2: the CLI stops the event and shows `why` to the model.
    fn stop(why: String) -> Answer {
        Answer {
            stderr: Some(why),
            code: 2,
            ..Answer::default()
        }
    }

    fn note(mut self, note: String) -> Answer {
        self.stderr = Some(match self.stderr.take() {
            Some(first) => format!("{first}\n{note}"),
            None => note,
        });
        self
    }
}

/// One CLI event as a Yoi hook point.
struct Mapped {
    /// The CLI's event name.
    event: String,
    point: HookPoint,
    payload: Value,
}

fn text(event: &Value, field: &str) -> String {
    event
        .get(field)
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned()
}

/// A tool's output as the text a plugin reads: a string as it is, the
/// shell tools' stdout (and stderr after it, marked), anything else as JSON.
fn output_text(tool: &str, response: &Value) -> String {
    match response {
        Value::String(s) => s.clone(),
        Value::Object(o) if shell(tool) => {
            let out = o.get("stdout").and_then(Value::as_str).unwrap_or_default();
            match o.get("stderr").and_then(Value::as_str) {
                Some(err) if !err.is_empty() => format!("{out}\n[stderr]\n{err}"),
                _ => out.to_owned(),
            }
        }
        other => other.to_string(),
    }
}

fn shell(tool: &str) -> bool {
    matches!(tool, "Bash" | "PowerShell")
}

/// The changed output `text` in the shape of the tool's `response`, or
/// `None` when that shape cannot carry it (Claude Code's
/// `updatedToolOutput` must keep the tool's own shape).
fn output_value(tool: &str, response: &Value, text: &str) -> Option<Value> {
    match response {
        Value::String(_) => Some(Value::String(text.to_owned())),
        Value::Object(o) if shell(tool) => {
            let mut out = o.clone();
            out.insert("stdout".into(), Value::String(text.to_owned()));
            // What stderr held is in the text the plugins saw and changed.
            out.insert("stderr".into(), Value::String(String::new()));
            Some(Value::Object(out))
        }
        _ if tool.starts_with("mcp__") => Some(Value::String(text.to_owned())),
        _ => serde_json::from_str(text).ok(),
    }
}

/// The conversation so far, from the transcript the CLI names (one JSON
/// record a line), for the compaction hook. Bounded like an event; a
/// transcript that cannot be read is passed as no messages, and said.
fn transcript(event: &Value) -> (Value, Option<String>) {
    let Some(path) = event.get("transcript_path").and_then(Value::as_str) else {
        return (json!([]), None);
    };
    let read = std::fs::File::open(path).and_then(|f| {
        let mut bytes = Vec::new();
        f.take(MAX_EVENT_BYTES as u64 + 1).read_to_end(&mut bytes)?;
        Ok(bytes)
    });
    match read {
        Ok(bytes) if bytes.len() <= MAX_EVENT_BYTES => {
            let lines = String::from_utf8_lossy(&bytes)
                .lines()
                .filter_map(|l| serde_json::from_str::<Value>(l).ok())
                .collect();
            (Value::Array(lines), None)
        }
        Ok(_) => (
            json!([]),
            Some(format!(
                "yoi hook: the transcript {path} is larger than {MAX_EVENT_BYTES} bytes; plugins see no messages"
            )),
        ),
        Err(e) => (
            json!([]),
            Some(format!(
                "yoi hook: the transcript {path} could not be read ({e}); plugins see no messages"
            )),
        ),
    }
}

/// The hook point a CLI event runs, or `None` for events Yoi has no point
/// for (they are let through). Claude Code and Codex name their events
/// and fields alike (docs/agent-clis.md).
fn map_event(cli: Cli, event: &Value) -> Result<Option<(Mapped, Option<String>)>, String> {
    let name = event
        .get("hook_event_name")
        .and_then(Value::as_str)
        .ok_or("the event has no `hook_event_name`")?
        .to_owned();
    let tool = text(event, "tool_name");
    let mut note = None;
    let host = || {
        json!({
            "name": cli.name(),
            "version": "",
            "instance": text(event, "session_id"),
        })
    };
    let (point, payload) = match name.as_str() {
        "PreToolUse" => (
            HookPoint::ToolPreExec,
            json!({
                "tool_name": tool,
                "input": event.get("tool_input").cloned().unwrap_or(json!({})),
                "call_id": text(event, "tool_use_id"),
                "turn": 0,
            }),
        ),
        "PostToolUse" => (
            HookPoint::ToolPostExec,
            json!({
                "tool_name": tool,
                "input": event.get("tool_input").cloned().unwrap_or(json!({})),
                "output": output_text(&tool, event.get("tool_response").unwrap_or(&Value::Null)),
                "duration_ms": event.get("duration_ms").and_then(Value::as_u64).unwrap_or(0),
                "turn": 0,
            }),
        ),
        "UserPromptSubmit" => (
            HookPoint::RunPrePrompt,
            json!({
                "system_prompt": "",
                "user_message": text(event, "prompt"),
                "agent_id": cli.name(),
                "work_item_id": text(event, "session_id"),
            }),
        ),
        "Stop" => (
            HookPoint::ResponsePreDeliver,
            json!({
                "content": text(event, "last_assistant_message"),
                "channel": cli.name(),
                "work_item_id": text(event, "session_id"),
                "mode": "final",
            }),
        ),
        "PreCompact" => {
            let (messages, why) = transcript(event);
            note = why;
            (
                HookPoint::ContextPreCompact,
                json!({ "messages": messages }),
            )
        }
        "PostCompact" => (
            HookPoint::ContextPostCompact,
            json!({ "messages": [], "summary": text(event, "compact_summary") }),
        ),
        "SessionStart" => (HookPoint::HostStart, host()),
        "SessionEnd" => (HookPoint::HostStop, host()),
        _ => return Ok(None),
    };
    Ok(Some((
        Mapped {
            event: name,
            point,
            payload,
        },
        note,
    )))
}

/// Which plugins changed the event, for the CLI's reason texts.
fn changers(dispatch: &Dispatch<Value>) -> String {
    let mut ids: Vec<String> = dispatch
        .receipts
        .iter()
        .filter(|r| !r.changed.is_empty())
        .map(|r| r.plugin.to_string())
        .collect();
    ids.dedup();
    ids.join(", ")
}

/// `{"hookSpecificOutput": {"hookEventName": event, ...fields}}`.
fn specific(event: &str, fields: Value) -> Value {
    let mut out = Map::new();
    out.insert("hookEventName".into(), Value::String(event.to_owned()));
    if let Value::Object(fields) = fields {
        out.extend(fields);
    }
    json!({ "hookSpecificOutput": out })
}

/// The CLI's way to stop `event` for `why`: a block, or a fail-closed
/// plugin that failed, or a chain that could not run at all. Each CLI
/// treats most hook failures as "go ahead", so each event gets the one
/// answer its CLI reads as "stop" (docs/agent-clis.md, "Failing closed").
fn refuse(cli: Cli, name: Option<&str>, event: Option<&Value>, why: String) -> Answer {
    let active = event.and_then(|e| e.get("stop_hook_active")) == Some(&Value::Bool(true));
    match (cli, name) {
        (_, Some("PreToolUse")) => Answer::json(specific(
            "PreToolUse",
            json!({"permissionDecision": "deny", "permissionDecisionReason": why}),
        )),
        // The output may have needed masking. Codex shows the reason in
        // the output's place; Claude Code has no such answer for every
        // tool, so the agent stops before the model reads it.
        (Cli::Codex, Some("PostToolUse")) => Answer::json(json!({
            "decision": "block",
            "reason": format!("The tool's output was withheld: {why}"),
        })),
        (Cli::ClaudeCode, Some("PostToolUse")) => {
            Answer::json(json!({ "continue": false, "stopReason": why }))
        }
        (_, Some("UserPromptSubmit")) => {
            Answer::json(json!({ "decision": "block", "reason": why }))
        }
        // A second block while the CLI already continues after one would
        // never end.
        (_, Some("Stop")) if active => Answer::allow().note(format!(
            "yoi hook: {why} (not blocked again: the agent is already continuing after a block)"
        )),
        (_, Some("Stop")) => Answer::json(json!({
            "decision": "block",
            "reason": format!("The answer was not accepted: {why}"),
        })),
        (Cli::Codex, Some("PreCompact")) => {
            Answer::json(json!({ "continue": false, "stopReason": why }))
        }
        (Cli::ClaudeCode, Some("PreCompact")) => Answer::stop(why),
        // Nothing left to stop: the session started or ended, the
        // compaction happened.
        (_, Some("SessionStart" | "SessionEnd" | "PostCompact")) => {
            Answer::allow().note(format!("yoi hook: {why}"))
        }
        // Unknown or unreadable: exit 2 is the one answer both CLIs read
        // as "stop" wherever stopping is possible.
        _ => Answer::stop(why),
    }
}

/// The CLI's answer to a chain that ran.
fn answer_event(
    cli: Cli,
    mapped: &Mapped,
    event: &Value,
    dispatch: &Dispatch<Value>,
    persisted: Option<&Dispatch<Value>>,
) -> Answer {
    let name = mapped.event.as_str();
    let blocked = dispatch
        .blocked
        .as_ref()
        .or(persisted.and_then(|p| p.blocked.as_ref()));
    if let Some(b) = blocked {
        return refuse(cli, Some(name), Some(event), b.message());
    }
    match name {
        "PreToolUse" => {
            if !dispatch.is_changed() {
                return Answer::allow();
            }
            let input = dispatch.data.get("input").cloned().unwrap_or(json!({}));
            // The whole changed input, so nothing another hook did is lost.
            match cli {
                // "ask": a plugin's rewrite never skips the user's own
                // approval.
                Cli::ClaudeCode => Answer::json(specific(
                    "PreToolUse",
                    json!({
                        "permissionDecision": "ask",
                        "permissionDecisionReason": format!(
                            "Yoi's plugins changed this call's input ({}): check it before it runs",
                            changers(dispatch)
                        ),
                        "updatedInput": input,
                    }),
                )),
                // Codex takes a rewrite only with "allow" (it refuses
                // "ask", and "allow" without a rewrite), and a shell
                // call's rewrite must keep its `command` string: a rewrite
                // Codex would refuse would let the original run.
                Cli::Codex => {
                    let had_command = event
                        .pointer("/tool_input/command")
                        .is_some_and(Value::is_string);
                    if had_command && !input.get("command").is_some_and(Value::is_string) {
                        return refuse(
                            cli,
                            Some(name),
                            Some(event),
                            format!(
                                "Yoi's plugins ({}) changed this call's input without a `command` \
                                 string, which Codex cannot run",
                                changers(dispatch)
                            ),
                        );
                    }
                    Answer::json(specific(
                        "PreToolUse",
                        json!({"permissionDecision": "allow", "updatedInput": input}),
                    ))
                }
            }
        }
        "PostToolUse" => {
            let last = persisted.unwrap_or(dispatch);
            let changed = dispatch.is_changed() || persisted.is_some_and(Dispatch::is_changed);
            if !changed {
                return Answer::allow();
            }
            let key = if persisted.is_some() {
                "result"
            } else {
                "output"
            };
            let new = last
                .data
                .get(key)
                .and_then(Value::as_str)
                .unwrap_or_default();
            let tool = text(event, "tool_name");
            if cli == Cli::Codex {
                // Codex has no updated-output field for its own tools; the
                // reason of a block is what the model reads in the
                // output's place.
                return Answer::json(json!({ "decision": "block", "reason": new }));
            }
            let response = event.get("tool_response").unwrap_or(&Value::Null);
            match output_value(&tool, response, new) {
                Some(value) => Answer::json(specific(
                    "PostToolUse",
                    json!({ "updatedToolOutput": value }),
                )),
                // The model must not see what a plugin masked, and this
                // tool's output cannot carry the change: stop.
                None => Answer::json(json!({
                    "continue": false,
                    "stopReason": format!(
                        "Yoi's plugins changed the output of {tool} ({}) in a way its output \
                         cannot carry, so the agent was stopped before the model saw it",
                        changers(last)
                    ),
                })),
            }
        }
        "UserPromptSubmit" => {
            let prompt = dispatch
                .data
                .get("user_message")
                .and_then(Value::as_str)
                .unwrap_or_default();
            if prompt != text(event, "prompt") {
                return Answer::json(json!({
                    "decision": "block",
                    "reason": format!(
                        "Yoi's plugins ({}) rewrote this prompt, and {} cannot take a \
                         rewritten prompt, so it was stopped. As rewritten: {prompt}",
                        changers(dispatch),
                        cli.title()
                    ),
                }));
            }
            match dispatch.data.get("system_prompt").and_then(Value::as_str) {
                // What plugins add to the system prompt reaches the model
                // as context beside the prompt.
                Some(added) if !added.trim().is_empty() => Answer::json(specific(
                    "UserPromptSubmit",
                    json!({ "additionalContext": added.trim() }),
                )),
                _ => Answer::allow(),
            }
        }
        "Stop" if dispatch.is_changed() => Answer::allow().note(format!(
            "yoi hook: plugins ({}) changed the final answer; {} shows the answer as written",
            changers(dispatch),
            cli.title()
        )),
        "PostCompact" if dispatch.is_changed() => Answer::allow().note(format!(
            "yoi hook: plugins ({}) changed the compaction summary; {} keeps its own",
            changers(dispatch),
            cli.title()
        )),
        _ => Answer::allow(),
    }
}

/// When the chain could not run: stop what can be stopped, and keep an
/// unchecked tool output from the model.
fn cannot_run(cli: Cli, name: Option<&str>, event: Option<&Value>, why: &str) -> Answer {
    refuse(
        cli,
        name,
        event,
        format!("yoi hook: {why}; the event was stopped because Yoi's plugins could not check it"),
    )
}

/// Boots the host: plugin folders, or the registry (not listed among its
/// hosts: this process lives for one event).
fn boot(ctx: &Ctx, source: &Source) -> Result<Option<Host>> {
    if !source.dirs.is_empty() {
        let folders = crate::dev::folder_host(&source.dirs, source.config.as_deref())?;
        return Ok(Some(folders.host));
    }
    let (location, home) = ctx.location()?;
    if let yoi_registry::Location::Folder(dir) = &location
        && !dir.join(yoi_registry::DATABASE_FILE).is_file()
    {
        return Ok(None);
    }
    let registry = std::sync::Arc::new(
        yoi_registry::Registry::open_for_one_event(&location, &home)
            .with_context(|| format!("opening the registry at {location}"))?,
    );
    let mut builder = crate::plugin::local_host();
    let config = source
        .config
        .as_deref()
        .map(yoi_host::HostConfig::load)
        .transpose()?;
    if let Some(config) = &config {
        builder = builder.apply(config);
    }
    if config.as_ref().is_none_or(|c| c.host.data.is_none()) {
        builder = builder.data_dir(home.join("data"));
    }
    // One event, one instance: no pool reserved up front (compiled code
    // is the same with or without one, so the cache stays shared).
    let host = builder
        .name(format!("{}-hook", crate::fleet::host_name(None)))
        .registry(registry)
        .listed(false)
        .on_demand_allocator()
        .build()
        .context("starting the host")?;
    if let Some(report) = host.boot_report()
        && let Some(r) = report.refused.first()
    {
        // A plugin that was due may be the one that fails closed.
        anyhow::bail!(
            "{}@{} could not be loaded: {}",
            r.plugin,
            r.version,
            r.reason
        );
    }
    Ok(Some(host))
}

/// Runs one event: `input` is what the CLI wrote on stdin.
pub(crate) fn answer(ctx: &Ctx, cli: Cli, source: &Source, input: &[u8]) -> Answer {
    if input.len() > MAX_EVENT_BYTES {
        return cannot_run(
            cli,
            None,
            None,
            &format!("the event is larger than {MAX_EVENT_BYTES} bytes"),
        );
    }
    let event: Value = match serde_json::from_slice(input) {
        Ok(event @ Value::Object(_)) => event,
        Ok(_) => return cannot_run(cli, None, None, "the event is not a JSON object"),
        Err(e) => return cannot_run(cli, None, None, &format!("the event is not JSON: {e}")),
    };
    let name = event.get("hook_event_name").and_then(Value::as_str);
    let (mapped, note) = match map_event(cli, &event) {
        Ok(Some(mapped)) => mapped,
        Ok(None) => {
            return Answer::allow().note(format!(
                "yoi hook: {} has no Yoi hook point; let through",
                name.unwrap_or("this event")
            ));
        }
        Err(why) => return cannot_run(cli, name, Some(&event), &why),
    };
    let host = match boot(ctx, source) {
        Ok(Some(host)) => host,
        Ok(None) => {
            return Answer::allow().note(
                "yoi hook: no registry and no plugin folders: nothing to run, let through".into(),
            );
        }
        Err(e) => return cannot_run(cli, name, Some(&event), &format!("{e:#}")),
    };
    let context = HookContext {
        agent_id: Some(cli.name().into()),
        session_id: event
            .get("session_id")
            .and_then(Value::as_str)
            .map(|s| s.chars().take(256).collect()),
        ..HookContext::default()
    };
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(e) => return cannot_run(cli, name, Some(&event), &e.to_string()),
    };
    let ran = runtime.block_on(async {
        let first = host
            .dispatch_json_in(&context, mapped.point, mapped.payload.clone())
            .await?;
        // A tool's result is also what the CLI keeps in its transcript.
        let persisted = if mapped.point == HookPoint::ToolPostExec {
            let result = json!({
                "tool_name": text(&event, "tool_name"),
                "call_id": text(&event, "tool_use_id"),
                "result": first.data.get("output").cloned().unwrap_or(json!("")),
            });
            Some(
                host.dispatch_json_in(&context, HookPoint::ToolResultPersist, result)
                    .await?,
            )
        } else {
            None
        };
        Ok::<_, yoi_host::HostError>((first, persisted))
    });
    host.flush_events();
    let answer = match ran {
        Ok((first, persisted)) => answer_event(cli, &mapped, &event, &first, persisted.as_ref()),
        Err(e) => cannot_run(cli, name, Some(&event), &e.to_string()),
    };
    match note {
        Some(note) => answer.note(note),
        None => answer,
    }
}

/// `yoi hook CLI`: reads the event from stdin, answers on stdout.
pub(crate) fn hook(ctx: &Ctx, cli: Cli, source: Source) -> Result<ExitCode> {
    let mut input = Vec::new();
    std::io::stdin()
        .take(MAX_EVENT_BYTES as u64 + 1)
        .read_to_end(&mut input)
        .context("reading the event from stdin")?;
    let answer = answer(ctx, cli, &source, &input);
    if let Some(out) = &answer.stdout {
        crate::terminal::write_out(&format!("{out}\n"));
    }
    if let Some(err) = &answer.stderr {
        crate::terminal::write_err(&format!("{err}\n"));
    }
    Ok(ExitCode::from(answer.code))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_shell_tools_output_round_trips_in_its_own_shape() {
        let response =
            json!({"stdout": "a\n", "stderr": "b", "interrupted": false, "isImage": false});
        let text = output_text("Bash", &response);
        assert_eq!(text, "a\n\n[stderr]\nb");
        assert_eq!(
            output_value("Bash", &response, "masked"),
            Some(json!({"stdout": "masked", "stderr": "", "interrupted": false, "isImage": false}))
        );
    }

    #[test]
    fn other_outputs_keep_their_shape_or_are_refused() {
        assert_eq!(output_text("Read", &json!("text")), "text");
        assert_eq!(
            output_value("Read", &json!("text"), "new"),
            Some(json!("new"))
        );
        let object = json!({"filePath": "/a", "success": true});
        assert_eq!(output_text("Write", &object), object.to_string());
        assert_eq!(
            output_value("Write", &object, r#"{"filePath":"/b","success":true}"#),
            Some(json!({"filePath": "/b", "success": true}))
        );
        assert_eq!(output_value("Write", &object, "not json"), None);
        assert_eq!(
            output_value("mcp__gh__issue", &object, "plain"),
            Some(json!("plain"))
        );
    }

    #[test]
    fn an_event_without_a_name_or_with_an_unmapped_one() {
        assert!(map_event(Cli::ClaudeCode, &json!({"tool_name": "Bash"})).is_err());
        assert!(matches!(
            map_event(Cli::Codex, &json!({"hook_event_name": "Notification"})),
            Ok(None)
        ));
        let (mapped, _) = map_event(
            Cli::ClaudeCode,
            &json!({"hook_event_name": "PreToolUse", "tool_name": "Bash",
            "tool_input": {"command": "ls"}, "tool_use_id": "t1"}),
        )
        .expect("maps")
        .expect("a point");
        assert_eq!(mapped.point, HookPoint::ToolPreExec);
        assert_eq!(
            mapped.payload,
            json!({"tool_name": "Bash", "input": {"command": "ls"}, "call_id": "t1", "turn": 0})
        );
    }

    #[test]
    fn a_transcript_is_read_line_by_line_within_the_bound() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("t.jsonl");
        std::fs::write(
            &path,
            "{\"type\":\"user\"}\nnot json\n{\"type\":\"assistant\"}\n",
        )
        .expect("write");
        let event = json!({"transcript_path": path});
        assert_eq!(
            transcript(&event),
            (json!([{"type": "user"}, {"type": "assistant"}]), None)
        );
        let (messages, note) = transcript(&json!({"transcript_path": dir.path().join("gone")}));
        assert_eq!(messages, json!([]));
        assert!(note.is_some_and(|n| n.contains("could not be read")));
    }

    #[test]
    fn each_cli_is_stopped_in_its_own_words() {
        let why = || "no".to_owned();
        let stop = Some(&json!({"stop_hook_active": true}));
        // The same refusal, in each CLI's answer for the event.
        assert_eq!(
            refuse(Cli::Codex, Some("PostToolUse"), None, why()).stdout,
            Some(json!({"decision": "block", "reason": "The tool's output was withheld: no"}))
        );
        assert_eq!(
            refuse(Cli::ClaudeCode, Some("PostToolUse"), None, why()).stdout,
            Some(json!({"continue": false, "stopReason": "no"}))
        );
        assert_eq!(
            refuse(Cli::ClaudeCode, Some("PreCompact"), None, why()).code,
            2
        );
        assert_eq!(
            refuse(Cli::Codex, Some("PreCompact"), None, why()).stdout,
            Some(json!({"continue": false, "stopReason": "no"}))
        );
        assert_eq!(refuse(Cli::Codex, Some("Stop"), stop, why()).code, 0);
        assert_eq!(refuse(Cli::Codex, Some("Stop"), stop, why()).stdout, None);
        assert_eq!(refuse(Cli::ClaudeCode, None, None, why()).code, 2);
    }
}
