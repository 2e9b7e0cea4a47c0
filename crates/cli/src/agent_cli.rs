//! `yoi hook claude-code`: Yoi's hook chain behind an agent CLI's own hook
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

use crate::ops::Ctx;

/// The largest event read from stdin. Tool inputs and outputs the CLIs
/// send are capped well below this (Claude Code: 10,000 characters of
/// hook output; tool results are truncated in the transcript).
pub(crate) const MAX_EVENT_BYTES: usize = 8 * 1024 * 1024;

/// The agent CLIs whose hook protocol `yoi hook` speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum Cli {
    /// Anthropic's Claude Code.
    ClaudeCode,
}

impl Cli {
    /// The name the hook context carries as `agent-id`.
    fn name(self) -> &'static str {
        match self {
            Cli::ClaudeCode => "claude-code",
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
/// `None` when that shape cannot carry it.
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

/// The hook point a Claude Code event runs, or `None` for events Yoi has
/// no point for (they are let through).
fn map_claude(event: &Value) -> Result<Option<Mapped>, String> {
    let name = event
        .get("hook_event_name")
        .and_then(Value::as_str)
        .ok_or("the event has no `hook_event_name`")?
        .to_owned();
    let tool = text(event, "tool_name");
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
                "agent_id": "claude-code",
                "work_item_id": text(event, "session_id"),
            }),
        ),
        "Stop" => (
            HookPoint::ResponsePreDeliver,
            json!({
                "content": text(event, "last_assistant_message"),
                "channel": "claude-code",
                "work_item_id": text(event, "session_id"),
                "mode": "final",
            }),
        ),
        _ => return Ok(None),
    };
    Ok(Some(Mapped {
        event: name,
        point,
        payload,
    }))
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

/// The CLI's answer to a chain that ran.
fn answer_claude(
    mapped: &Mapped,
    event: &Value,
    dispatch: &Dispatch<Value>,
    persisted: Option<&Dispatch<Value>>,
) -> Answer {
    let hso = |fields: Map<String, Value>| {
        let mut out = Map::new();
        out.insert("hookEventName".into(), Value::String(mapped.event.clone()));
        out.extend(fields);
        json!({ "hookSpecificOutput": out })
    };
    match mapped.event.as_str() {
        "PreToolUse" => {
            if let Some(b) = &dispatch.blocked {
                let mut f = Map::new();
                f.insert("permissionDecision".into(), json!("deny"));
                f.insert("permissionDecisionReason".into(), json!(b.message()));
                return Answer::json(hso(f));
            }
            if dispatch.is_changed() {
                // The whole changed input, so nothing another hook did is
                // lost. "ask": a plugin's rewrite never skips the user's
                // own approval (docs/agent-clis.md).
                let mut f = Map::new();
                f.insert("permissionDecision".into(), json!("ask"));
                f.insert(
                    "permissionDecisionReason".into(),
                    json!(format!(
                        "Yoi's plugins changed this call's input ({}): check it before it runs",
                        changers(dispatch)
                    )),
                );
                f.insert(
                    "updatedInput".into(),
                    dispatch.data.get("input").cloned().unwrap_or(json!({})),
                );
                return Answer::json(hso(f));
            }
            Answer::allow()
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
            let response = event.get("tool_response").unwrap_or(&Value::Null);
            match output_value(&tool, response, new) {
                Some(value) => {
                    let mut f = Map::new();
                    f.insert("updatedToolOutput".into(), value);
                    Answer::json(hso(f))
                }
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
                        "Yoi's plugins ({}) rewrote this prompt, and Claude Code cannot take a \
                         rewritten prompt, so it was stopped. As rewritten: {prompt}",
                        changers(dispatch)
                    ),
                }));
            }
            match dispatch.data.get("system_prompt").and_then(Value::as_str) {
                Some(added) if !added.trim().is_empty() => {
                    // What plugins add to the system prompt reaches Claude
                    // as context beside the prompt.
                    let mut f = Map::new();
                    f.insert("additionalContext".into(), json!(added.trim()));
                    Answer::json(hso(f))
                }
                _ => Answer::allow(),
            }
        }
        "Stop" => {
            let mut answer = match &dispatch.blocked {
                // Claude Code keeps working on a blocked stop; once it is
                // already doing so, a second block would never end.
                Some(b) if event.get("stop_hook_active") != Some(&Value::Bool(true)) => {
                    Answer::json(json!({
                        "decision": "block",
                        "reason": format!("The answer was not accepted: {}", b.message()),
                    }))
                }
                Some(b) => Answer::allow().note(format!(
                    "yoi hook: {} (not blocked again: Claude Code is already continuing after a block)",
                    b.message()
                )),
                None => Answer::allow(),
            };
            if dispatch.blocked.is_none() && dispatch.is_changed() {
                answer = answer.note(format!(
                    "yoi hook: plugins ({}) changed the final answer; Claude Code shows the answer as written",
                    changers(dispatch)
                ));
            }
            answer
        }
        _ => Answer::allow(),
    }
}

/// When the chain could not run: stop what can be stopped, and stop the
/// agent rather than let an unchecked tool output reach the model.
fn cannot_run(event_name: Option<&str>, why: &str) -> Answer {
    let why =
        format!("yoi hook: {why}; the event was stopped because Yoi's plugins could not check it");
    match event_name {
        Some("PostToolUse") => Answer::json(json!({ "continue": false, "stopReason": why })),
        _ => Answer::stop(why),
    }
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
    let registry = std::sync::Arc::new(ctx.open()?);
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
    let host = builder
        .name(format!("{}-hook", crate::host::host_name(None)))
        .registry(registry)
        .listed(false)
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
            None,
            &format!("the event is larger than {MAX_EVENT_BYTES} bytes"),
        );
    }
    let event: Value = match serde_json::from_slice(input) {
        Ok(event @ Value::Object(_)) => event,
        Ok(_) => return cannot_run(None, "the event is not a JSON object"),
        Err(e) => return cannot_run(None, &format!("the event is not JSON: {e}")),
    };
    let name = event.get("hook_event_name").and_then(Value::as_str);
    let mapped = match cli {
        Cli::ClaudeCode => map_claude(&event),
    };
    let mapped = match mapped {
        Ok(Some(mapped)) => mapped,
        Ok(None) => {
            return Answer::allow().note(format!(
                "yoi hook: {} has no Yoi hook point; let through",
                name.unwrap_or("this event")
            ));
        }
        Err(why) => return cannot_run(name, &why),
    };
    let host = match boot(ctx, source) {
        Ok(Some(host)) => host,
        Ok(None) => {
            return Answer::allow().note(
                "yoi hook: no registry and no plugin folders: nothing to run, let through".into(),
            );
        }
        Err(e) => return cannot_run(name, &format!("{e:#}")),
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
        Err(e) => return cannot_run(name, &e.to_string()),
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
    match ran {
        Ok((first, persisted)) => answer_claude(&mapped, &event, &first, persisted.as_ref()),
        Err(e) => cannot_run(name, &e.to_string()),
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
        assert!(map_claude(&json!({"tool_name": "Bash"})).is_err());
        assert!(matches!(
            map_claude(&json!({"hook_event_name": "Notification"})),
            Ok(None)
        ));
        let mapped = map_claude(
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
}
