//! The tool registry: plugin tools and the embedder's native tools, listed
//! together for the model and called through one path that validates input
//! against the tool's JSON Schema and runs `tool.pre_exec`,
//! `tool.post_exec` and `tool.result_persist` around every tool.
//!
//! Plugin tools are namespaced `<plugin id>.<tool>` (`acme.weather.forecast`);
//! native tool names may not contain `.`, so the two never clash.

use std::sync::Arc;
use std::time::{Duration, Instant};

use semver::Version;
use serde::Serialize;
use serde_json::Value;
use wasmtime::Store;
use wasmtime::component::Instance;
use yoi_manifest::PluginId;

use crate::dispatch;
use crate::exports::{Guests, ToolInvocation};
use crate::hookevents::{CallContext, HookContext, MAX_CHANGED_FIELD_BYTES};
use crate::host::{Host, Shared};
use crate::instances::{self, CallRecord, GuestCall, MAX_DETAIL, Run};
use crate::observers::ObservationEvent;
use crate::plugin::LoadedPlugin;
use crate::receipt::{Blocked, Denial, LogLine, Receipt, Status, clean};
use crate::sandbox::PluginState;
use crate::settle::{self, Caller};
use crate::tooldefs::{
    NativeEntry, NativeTool, PluginTool, ToolStatus, compile, valid_native_name, validate,
};
use crate::{HostError, PersistResult, ToolCall, ToolResult};

/// Who implements a tool.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case", tag = "kind")]
pub enum ToolSource {
    /// The embedding application ([`Host::register_tool`]).
    Native,
    /// A loaded plugin.
    Plugin {
        /// Plugin id.
        id: PluginId,
        /// Plugin version.
        version: Version,
    },
    /// A remote MCP server declared in the registry (docs/mcp.md, "Yoi as
    /// a gateway").
    Mcp {
        /// The server's name.
        server: PluginId,
        /// Whether it runs outside every sandbox: a local process the host
        /// starts (stdio), not a remote endpoint.
        unsandboxed: bool,
    },
}

/// A tool as a model sees it, plus who implements it.
#[derive(Debug, Clone, Serialize)]
pub struct ToolSpec {
    /// The name the model calls: `<plugin id>.<tool>` for plugin tools.
    pub name: String,
    /// What it does.
    pub description: String,
    /// JSON Schema of its input.
    pub input_schema: Value,
    /// Who implements it.
    pub source: ToolSource,
}

impl ToolSpec {
    /// The `{name, description, input_schema}` object tool-calling model
    /// APIs take.
    pub fn definition(&self) -> Value {
        serde_json::json!({
            "name": self.name,
            "description": self.description,
            "input_schema": self.input_schema,
        })
    }
}

/// A model's request to call a tool.
#[derive(Debug, Clone, Serialize, serde::Deserialize)]
pub struct ToolRequest {
    /// The tool's name, as listed by [`Host::tools`].
    pub name: String,
    /// Its input, a JSON object.
    pub input: Value,
    /// The model's id for the call.
    pub call_id: String,
    /// The agent loop's turn.
    pub turn: u32,
}

/// The record of a plugin tool's own run.
#[derive(Debug, Clone, Serialize)]
pub struct ToolRun {
    /// The plugin.
    pub plugin: PluginId,
    /// Its version.
    pub version: Version,
    /// How the guest call ended.
    pub status: Status,
    /// Error text, if it failed.
    pub detail: Option<String>,
    /// Wall time of the call, instantiation included.
    #[serde(serialize_with = "crate::receipt::millis")]
    pub duration: Duration,
    /// What the plugin logged.
    pub logs: Vec<LogLine>,
    /// Host API calls its grants refused.
    pub denials: Vec<Denial>,
}

/// The record of a remote MCP tool's call.
#[derive(Debug, Clone, Serialize)]
pub struct RemoteRun {
    /// The server.
    pub server: PluginId,
    /// The tool's name on the server.
    pub tool: String,
    /// How the call ended: `ok` (the tool answered, maybe with an error it
    /// reports), `error`, `timeout` or `busy`.
    pub status: Status,
    /// Why it gave no answer, or the tool's own error.
    pub detail: Option<String>,
    /// Wall time of the call, connecting and any list check included.
    #[serde(serialize_with = "crate::receipt::millis")]
    pub duration: Duration,
}

/// The result of [`Host::call_tool`].
#[derive(Debug, Clone, Serialize)]
pub struct ToolOutcome {
    /// The tool's name.
    pub name: String,
    /// How it ended.
    pub status: ToolStatus,
    /// What the model sees: the result (after `tool.post_exec`), or the
    /// reason it did not run.
    pub output: String,
    /// What goes into the history (after `tool.result_persist`).
    pub persisted: String,
    /// Set when a `tool.pre_exec` handler blocked the call.
    pub blocked: Option<Blocked>,
    /// The plugin tool's own run (`None` for native tools, or when it did
    /// not run).
    pub run: Option<ToolRun>,
    /// A remote MCP tool's call (`None` for other tools, or when it was
    /// not made).
    pub remote: Option<RemoteRun>,
    /// Receipts of the hook handlers that ran around it, in order.
    pub receipts: Vec<Receipt>,
}

/// Calling a plugin tool's export.
struct ToolInvoke(ToolInvocation);

impl GuestCall for ToolInvoke {
    type Out = String;

    async fn call(
        &self,
        store: &mut Store<PluginState>,
        instance: &Instance,
        guests: &mut Guests,
    ) -> wasmtime::Result<Result<String, String>> {
        guests.call_tool(store, instance, &self.0).await
    }
}

/// Which tool a name refers to.
enum Target {
    Native(Arc<NativeEntry>),
    /// The plugin and the index of its tool.
    Plugin(Arc<LoadedPlugin>, usize),
    /// A remote MCP server and the index of its served tool.
    #[cfg(feature = "mcp")]
    Remote(Arc<crate::gateway::RemoteServer>, usize),
}

impl Host {
    /// Registers a native tool of the embedding application. It is listed
    /// with plugin tools and called through [`Host::call_tool`], with the
    /// same schema check and tool hooks.
    pub fn register_tool(&self, tool: NativeTool) -> Result<(), HostError> {
        let refuse = |reason: String| HostError::Tool {
            tool: tool.name.clone(),
            reason,
        };
        if !valid_native_name(&tool.name) {
            return Err(refuse(
                "native tool names are 1 to 64 letters, digits, `_` or `-` (a `.` is reserved for plugin tools)".into(),
            ));
        }
        let validator =
            compile(&tool.schema).map_err(|e| refuse(format!("its input schema {e}")))?;
        let mut native = self
            .shared
            .native
            .write()
            .unwrap_or_else(|p| p.into_inner());
        if native.iter().any(|n| n.tool.name == tool.name) {
            return Err(refuse(
                "a native tool with this name is already registered".into(),
            ));
        }
        native.push(Arc::new(NativeEntry { tool, validator }));
        Ok(())
    }

    /// The tools [`Host::call_tool`] runs: native tools, then plugin tools
    /// in load order (plugins on a partial rollout need a subject, see
    /// [`Host::tools_for`]).
    pub fn tools(&self) -> Vec<ToolSpec> {
        self.list_tools(None)
    }

    /// The tools [`Host::call_tool_for`] runs for `subject`: plugin tools on
    /// a partial rollout are listed only for subjects the rollout reaches.
    pub fn tools_for(&self, subject: &str) -> Vec<ToolSpec> {
        self.list_tools(Some(subject))
    }

    fn list_tools(&self, subject: Option<&str>) -> Vec<ToolSpec> {
        let mut out: Vec<ToolSpec> = self
            .shared
            .native
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .iter()
            .map(|n| ToolSpec {
                name: n.tool.name.clone(),
                description: n.tool.description.clone(),
                input_schema: n.tool.schema.clone(),
                source: ToolSource::Native,
            })
            .collect();
        let snapshot = self.shared.snapshot.load();
        for plugin in &snapshot.plugins {
            if !plugin.applies(subject, self.shared.options.scope) {
                continue;
            }
            out.extend(plugin.tools.iter().map(|t| ToolSpec {
                name: t.qualified.clone(),
                description: t.description.clone(),
                input_schema: t.schema.clone(),
                source: ToolSource::Plugin {
                    id: plugin.info.id.clone(),
                    version: plugin.info.version.clone(),
                },
            }));
        }
        #[cfg(feature = "mcp")]
        for server in self.shared.gateway.servers().iter() {
            out.extend(server.tools.iter().map(|t| ToolSpec {
                name: t.qualified.clone(),
                description: t.pinned.description.clone(),
                input_schema: t.pinned.input_schema.clone(),
                source: ToolSource::Mcp {
                    server: server.record.name.clone(),
                    unsandboxed: server.unsandboxed(),
                },
            }));
        }
        out
    }

    fn find_tool(&self, name: &str, subject: Option<&str>) -> Option<Target> {
        if let Some(n) = self
            .shared
            .native
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .iter()
            .find(|n| n.tool.name == name)
        {
            return Some(Target::Native(Arc::clone(n)));
        }
        let snapshot = self.shared.snapshot.load();
        let plugin = snapshot.plugins.iter().find_map(|p| {
            p.tools
                .iter()
                .position(|t| t.qualified == name)
                .filter(|_| p.applies(subject, self.shared.options.scope))
                .map(|i| Target::Plugin(Arc::clone(p), i))
        });
        #[cfg(feature = "mcp")]
        let plugin = plugin.or_else(|| {
            self.shared
                .gateway
                .find(name)
                .map(|(s, i)| Target::Remote(s, i))
        });
        plugin
    }

    /// Calls a tool for a model: checks the input against the tool's
    /// schema, runs `tool.pre_exec` (which may change the input or block the
    /// call), the tool, `tool.post_exec` (which may change the output) and
    /// `tool.result_persist` (which may change what is stored). Never fails:
    /// every way a call can end is a [`ToolStatus`] with an output the model
    /// can read.
    pub async fn call_tool(&self, request: ToolRequest) -> ToolOutcome {
        self.call_tool_in(&HookContext::default(), request).await
    }

    /// [`Host::call_tool`] for one subject (user, session, work item), so
    /// plugins on a partial rollout apply as they do in
    /// [`Host::dispatch_for`].
    pub async fn call_tool_for(&self, subject: &str, request: ToolRequest) -> ToolOutcome {
        self.call_tool_in(&HookContext::for_subject(subject), request)
            .await
    }

    /// [`Host::call_tool`] with the ids the embedder knows for the call; the
    /// hook handlers around the tool receive them as in
    /// [`Host::dispatch_in`].
    pub async fn call_tool_in(&self, context: &HookContext, request: ToolRequest) -> ToolOutcome {
        let started = Instant::now();
        let outcome = self.run_tool_call(context, request).await;
        self.shared.observers.emit(|| ObservationEvent::ToolCall {
            tool: outcome.name.clone(),
            plugin: outcome.run.as_ref().map(|r| r.plugin.clone()),
            status: outcome.status,
            duration: started.elapsed(),
        });
        outcome
    }

    async fn run_tool_call(&self, context: &HookContext, request: ToolRequest) -> ToolOutcome {
        let subject = context.subject.as_deref();
        let ToolRequest {
            name,
            input,
            call_id,
            turn,
        } = request;
        let mut outcome = ToolOutcome {
            name: name.clone(),
            status: ToolStatus::Ok,
            output: String::new(),
            persisted: String::new(),
            blocked: None,
            run: None,
            remote: None,
            receipts: Vec::new(),
        };
        let finish = |mut outcome: ToolOutcome, status, output: String| {
            outcome.status = status;
            outcome.persisted.clone_from(&output);
            outcome.output = output;
            outcome
        };
        let Some(target) = self.find_tool(&name, subject) else {
            let known: Vec<String> = self
                .list_tools(subject)
                .into_iter()
                .map(|t| t.name)
                .collect();
            let output = format!("unknown tool `{name}`; available: {}", known.join(", "));
            return finish(outcome, ToolStatus::UnknownTool, output);
        };
        let validator = match &target {
            Target::Native(n) => &n.validator,
            Target::Plugin(p, i) => &*p.tools[*i].validator,
            #[cfg(feature = "mcp")]
            Target::Remote(s, i) => &s.tools[*i].validator,
        };
        if let Err(why) = validate(validator, &input) {
            return finish(outcome, ToolStatus::InvalidInput, why);
        }

        let pre = dispatch::run_chain(
            self,
            context,
            ToolCall {
                tool_name: name.clone(),
                input,
                call_id: call_id.clone(),
                turn,
            },
        )
        .await;
        outcome.receipts.extend(pre.receipts);
        if let Some(blocked) = pre.blocked {
            let output = blocked.message();
            outcome.blocked = Some(blocked);
            return finish(outcome, ToolStatus::Blocked, output);
        }
        let input = pre.data.input;
        if let Err(why) = validate(validator, &input) {
            let output = format!("{why} (after a tool.pre_exec handler changed it)");
            return finish(outcome, ToolStatus::InvalidInput, output);
        }

        let started = Instant::now();
        let timeout = self.shared.options.tool_timeout;
        let (status, output) = match &target {
            Target::Native(n) => {
                match tokio::time::timeout(timeout, (n.tool.run)(input.clone())).await {
                    Ok(Ok(text)) => (ToolStatus::Ok, text),
                    Ok(Err(e)) => (ToolStatus::Error, format!("error: {e}")),
                    Err(_) => (
                        ToolStatus::Timeout,
                        format!(
                            "error: the tool took longer than {} ms",
                            timeout.as_millis()
                        ),
                    ),
                }
            }
            Target::Plugin(plugin, i) => {
                let tool = &plugin.tools[*i];
                let (status, output, run) = self
                    .run_plugin_tool(plugin, tool, &input, &call_id, context)
                    .await;
                outcome.run = Some(run);
                (status, output)
            }
            #[cfg(feature = "mcp")]
            Target::Remote(server, i) => {
                let (status, output, run) = self
                    .run_remote_tool(server, &server.tools[*i], &input, subject)
                    .await;
                outcome.remote = Some(run);
                (status, output)
            }
        };
        let duration_ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);

        let post = dispatch::run_chain(
            self,
            context,
            ToolResult {
                tool_name: name.clone(),
                input,
                output,
                duration_ms,
                turn,
            },
        )
        .await;
        outcome.receipts.extend(post.receipts);
        let output = post.data.output;
        let persist = dispatch::run_chain(
            self,
            context,
            PersistResult {
                tool_name: name.clone(),
                call_id,
                result: output.clone(),
            },
        )
        .await;
        outcome.receipts.extend(persist.receipts);
        outcome.status = status;
        outcome.output = output;
        outcome.persisted = persist.data.result;
        outcome
    }

    async fn run_plugin_tool(
        &self,
        plugin: &Arc<LoadedPlugin>,
        tool: &PluginTool,
        input: &Value,
        call_id: &str,
        context: &HookContext,
    ) -> (ToolStatus, String, ToolRun) {
        let shared = &*self.shared;
        let subject = context.subject.as_deref();
        let call_context = CallContext::new(None, context);
        let invocation = ToolInvoke(ToolInvocation {
            name: tool.name.clone(),
            input: input.to_string(),
            call_id: call_id.to_owned(),
        });
        let limit = shared.options.tool_timeout;
        let t0 = Instant::now();
        let (run, CallRecord { logs, denials }) =
            instances::invoke(shared, plugin, (limit, limit), &invocation, &call_context).await;
        let run_kind = match &run {
            Run::Answer(_) => RunKind::Answer,
            Run::GuestError(_) => RunKind::GuestError,
            Run::Failed(..) => RunKind::Failed,
        };
        let (status, detail, output) = match run {
            Run::Answer(text) if text.len() > MAX_CHANGED_FIELD_BYTES => {
                let why = format!(
                    "the tool returned {} bytes; results are limited to {MAX_CHANGED_FIELD_BYTES}",
                    text.len()
                );
                (
                    Status::Error,
                    Some(why.clone()),
                    (ToolStatus::Error, format!("error: {why}")),
                )
            }
            Run::Answer(text) => (Status::Ok, None, (ToolStatus::Ok, text)),
            Run::GuestError(message) => {
                let message = clean(&message, MAX_DETAIL);
                (
                    Status::Error,
                    Some(message.clone()),
                    (ToolStatus::Error, format!("error: {message}")),
                )
            }
            Run::Failed(status, why) => {
                let tool_status = match status {
                    Status::Timeout => ToolStatus::Timeout,
                    Status::Busy => ToolStatus::Busy,
                    _ => ToolStatus::Error,
                };
                (
                    status,
                    Some(why.clone()),
                    (tool_status, format!("error: {why}")),
                )
            }
        };
        // A tool's own error is an answer for the model; a trap, a timeout
        // or an oversized result is a failure of the plugin.
        let mut detail = detail;
        let guard_status = match run_kind {
            RunKind::Answer | RunKind::Failed => status,
            RunKind::GuestError => Status::RejectedChange,
        };
        let caller = Caller::Tool(&tool.name, &tool.qualified);
        settle::guard(shared, plugin, caller, guard_status, &mut detail);
        let run = ToolRun {
            plugin: plugin.info.id.clone(),
            version: plugin.info.version.clone(),
            status,
            detail,
            duration: t0.elapsed(),
            logs,
            denials,
        };
        record_tool_run(shared, plugin, &tool.qualified, &run, subject);
        settle::denied(shared, plugin, caller, &run.denials, subject);
        (output.0, output.1, run)
    }
}

#[cfg(feature = "mcp")]
impl Host {
    /// The remote MCP servers this host serves (from its registry), each
    /// with the tools it serves and those it withholds, and why.
    pub fn mcp_servers(&self) -> Vec<crate::McpServerStatus> {
        self.shared.gateway.status()
    }

    /// Calls a remote MCP tool in a slot of the host's and the server's,
    /// within the tool time limit. A live list that changed is recorded in
    /// the registry (audited) and observed as `mcp.tools_changed`.
    async fn run_remote_tool(
        &self,
        server: &Arc<crate::gateway::RemoteServer>,
        tool: &crate::gateway::RemoteTool,
        input: &Value,
        subject: Option<&str>,
    ) -> (ToolStatus, String, RemoteRun) {
        use crate::gateway::Called;
        let shared = &*self.shared;
        let limit = shared.options.tool_timeout;
        let started = Instant::now();
        let who = format!("the MCP server {}", server.name());
        let run = |status, detail: Option<String>| RemoteRun {
            server: server.record.name.clone(),
            tool: tool.pinned.name.clone(),
            status,
            detail,
            duration: started.elapsed(),
        };
        let (status, output, detail) = match instances::Slot::take(
            shared,
            &server.slots,
            &who,
            limit,
        )
        .await
        {
            Err(why) => {
                let r = run(Status::Busy, Some(why.clone()));
                return (ToolStatus::Busy, format!("error: {why}"), r);
            }
            Ok(_slot) => {
                let (called, seen) = shared
                    .gateway
                    .call(server, tool, input, limit, &shared.options.name)
                    .await;
                if let Some((live, changes)) = seen {
                    self.report_mcp_change(server, &live, &changes);
                }
                match called {
                    Called::Answer { text, .. } if text.len() > MAX_CHANGED_FIELD_BYTES => {
                        let why = format!(
                            "the tool returned {} bytes; results are limited to {MAX_CHANGED_FIELD_BYTES}",
                            text.len()
                        );
                        (ToolStatus::Error, format!("error: {why}"), Some(why))
                    }
                    Called::Answer {
                        text,
                        is_error: false,
                    } => (ToolStatus::Ok, text, None),
                    Called::Answer {
                        text,
                        is_error: true,
                    } => (ToolStatus::Error, format!("error: {text}"), Some(text)),
                    Called::Failed { timeout, text } => (
                        if timeout {
                            ToolStatus::Timeout
                        } else {
                            ToolStatus::Error
                        },
                        format!("error: {text}"),
                        Some(text),
                    ),
                    Called::Held(why) => (ToolStatus::Error, format!("error: {why}"), Some(why)),
                }
            }
        };
        let run_status = match status {
            ToolStatus::Ok => Status::Ok,
            ToolStatus::Timeout => Status::Timeout,
            _ => Status::Error,
        };
        let run = run(run_status, detail);
        if let Some(sink) = &shared.sink {
            sink.send(crate::eventlog::event(
                "mcp_call",
                &server.record.name,
                &semver::Version::new(0, 0, 0),
                serde_json::json!({
                    "tool": tool.qualified,
                    "status": status,
                    "detail": run.detail,
                    "duration_ms": run.duration.as_secs_f64() * 1000.0,
                    "subject": subject,
                }),
            ));
        }
        (status, output, run)
    }

    /// Records that a server's live list differs from its pins: in the
    /// registry (hosts reload and hold the changed tools) and for
    /// observers.
    fn report_mcp_change(
        &self,
        server: &crate::gateway::RemoteServer,
        live: &yoi_registry::ToolList,
        changes: &[yoi_registry::ToolChange],
    ) {
        let shared = &*self.shared;
        tracing::warn!(
            server = server.name(),
            "MCP server's tools changed since they were pinned: {}",
            yoi_registry::summary(changes)
        );
        if let Some(registry) = &shared.options.registry
            && let Err(e) = registry.observe_mcp_tools(
                server.name(),
                live,
                &shared.options.name,
                "mcp_server_changed",
            )
        {
            tracing::warn!(server = server.name(), "the change was not recorded: {e}");
        }
        shared.observers.emit(|| ObservationEvent::Custom {
            name: "mcp.tools_changed".into(),
            data: serde_json::json!({
                "server": server.name(),
                "digest": live.digest,
                "pinned": server.record.pinned.digest,
                "changes": changes,
            }),
        });
    }
}

/// How a tool's guest call ended, for the crash guard.
enum RunKind {
    Answer,
    GuestError,
    Failed,
}

/// Records a plugin tool's run (kind `tool`).
fn record_tool_run(
    shared: &Shared,
    plugin: &LoadedPlugin,
    tool: &str,
    run: &ToolRun,
    subject: Option<&str>,
) {
    tracing::debug!(plugin = %plugin.info.id, tool, status = ?run.status, "tool finished");
    if let Some(sink) = &shared.sink {
        sink.send(crate::eventlog::event(
            "tool",
            &plugin.info.id,
            &plugin.info.version,
            serde_json::json!({
                "tool": tool,
                "status": run.status,
                "detail": run.detail,
                "duration_ms": run.duration.as_secs_f64() * 1000.0,
                "subject": subject,
            }),
        ));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn input_is_checked_against_the_schema() {
        let schema = json!({
            "type": "object",
            "properties": {"city": {"type": "string", "minLength": 1}},
            "required": ["city"],
            "additionalProperties": false
        });
        let v = compile(&schema).unwrap();
        assert!(validate(&v, &json!({"city": "Oslo"})).is_ok());
        let err = validate(&v, &json!({"city": 3, "x": 1})).unwrap_err();
        assert!(err.contains("/city"), "{err}");
        assert!(err.contains("x"), "{err}");
        assert!(validate(&v, &json!("Oslo")).is_err());
    }

    #[test]
    fn schemas_that_are_not_object_schemas_are_refused() {
        assert!(compile(&json!({"type": "string"})).is_err());
        assert!(compile(&json!({"type": "object", "properties": 3})).is_err());
    }

    #[test]
    fn native_names_cannot_look_like_plugin_tools() {
        assert!(valid_native_name("read_file"));
        assert!(valid_native_name("fetch-2"));
        assert!(!valid_native_name("acme.fetch"));
        assert!(!valid_native_name(""));
        assert!(!valid_native_name(&"x".repeat(65)));
    }
}
