//! Remote MCP servers as tools (docs/mcp.md, "Yoi as a gateway"): the
//! servers an operator declared in the registry, their pinned tools
//! (`NAME.tool`) with compiled schemas, one session per server, and the
//! checks every call passes: the tool is pinned and unchanged on the
//! server, a slot is free, and the answer comes within the time and size
//! limits. The tool registry (`tools`) runs the hooks around it.

mod client;
mod http;

use std::collections::BTreeSet;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use arc_swap::ArcSwap;
use serde_json::Value;
use yoi_registry::{
    McpEndpoint, McpServerRecord, PinnedTool, Registry, ToolChange, ToolList, diff,
};

use client::{Connect, RemoteError, Session};

/// How the gateway treats remote servers (`[mcp]` in yoi.toml).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GatewayOptions {
    /// The most bytes of one answer read from a server (default 4 MiB).
    pub max_response_bytes: usize,
    /// How long a server's live tool list is trusted before a call lists
    /// it again (default 30 s; zero: before every call).
    pub recheck: Duration,
    /// Programs this host may start as stdio servers; they run outside
    /// every sandbox (default: none).
    pub stdio_commands: Vec<String>,
}

impl Default for GatewayOptions {
    fn default() -> Self {
        GatewayOptions {
            max_response_bytes: 4 * 1024 * 1024,
            recheck: Duration::from_secs(30),
            stdio_commands: Vec::new(),
        }
    }
}

/// A remote MCP server as a host serves it ([`Host::mcp_servers`](crate::Host::mcp_servers)).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct McpServerStatus {
    /// The server's name.
    pub name: String,
    /// Its URL, or `stdio: COMMAND ARGS`.
    pub endpoint: String,
    /// Whether it runs outside every sandbox (a local process).
    pub unsandboxed: bool,
    /// The tools served, as `NAME.tool`.
    pub tools: Vec<String>,
    /// Pinned tools not served here, with why.
    pub withheld: Vec<(String, String)>,
}

/// A pinned tool a host serves, with its compiled schema.
pub(crate) struct RemoteTool {
    pub(crate) pinned: PinnedTool,
    /// `SERVER.tool`.
    pub(crate) qualified: String,
    pub(crate) validator: jsonschema::Validator,
}

/// A declared server as this host serves it.
pub(crate) struct RemoteServer {
    pub(crate) record: McpServerRecord,
    token: Option<String>,
    /// The tools served.
    pub(crate) tools: Vec<RemoteTool>,
    /// Pinned tools not served here, and why.
    pub(crate) withheld: Vec<(String, String)>,
    /// Calls running at once (the host's per-plugin limit).
    pub(crate) slots: tokio::sync::Semaphore,
    session: tokio::sync::Mutex<Option<Arc<Session>>>,
    /// When the live list was last compared with the pins, and the tools
    /// it held back then.
    checked: std::sync::Mutex<Option<(Instant, BTreeSet<String>)>>,
}

impl RemoteServer {
    pub(crate) fn name(&self) -> &str {
        self.record.name.as_str()
    }

    /// Whether its tools run outside every sandbox.
    pub(crate) fn unsandboxed(&self) -> bool {
        self.record.endpoint.unsandboxed()
    }

    fn connect_options<'a>(&'a self, options: &'a GatewayOptions) -> Connect<'a> {
        Connect {
            endpoint: &self.record.endpoint,
            token: self.token.as_deref(),
            max_bytes: options.max_response_bytes,
            stdio_commands: &options.stdio_commands,
        }
    }
}

/// The servers a host serves, swapped whole on reload.
pub(crate) struct Gateway {
    pub(crate) options: GatewayOptions,
    /// Calls running at once per server (the host's per-plugin limit).
    per_server: usize,
    servers: ArcSwap<Vec<Arc<RemoteServer>>>,
}

/// What the tool registry needs to know of a call's outcome.
pub(crate) enum Called {
    /// The tool answered (`is_error`: the tool said it failed).
    Answer { text: String, is_error: bool },
    /// The call did not give an answer.
    Failed { timeout: bool, text: String },
    /// The live list changed the tool since it was pinned.
    Held(String),
}

impl Gateway {
    pub(crate) fn new(options: GatewayOptions, per_server: u32) -> Self {
        Gateway {
            options,
            per_server: usize::try_from(per_server).unwrap_or(1).max(1),
            servers: ArcSwap::default(),
        }
    }

    pub(crate) fn servers(&self) -> Arc<Vec<Arc<RemoteServer>>> {
        self.servers.load_full()
    }

    /// Each server as served now.
    pub(crate) fn status(&self) -> Vec<McpServerStatus> {
        self.servers
            .load()
            .iter()
            .map(|s| McpServerStatus {
                name: s.name().to_owned(),
                endpoint: s.record.endpoint.shown(),
                unsandboxed: s.unsandboxed(),
                tools: s.tools.iter().map(|t| t.qualified.clone()).collect(),
                withheld: s.withheld.clone(),
            })
            .collect()
    }

    /// Finds a served tool by its qualified name.
    pub(crate) fn find(&self, name: &str) -> Option<(Arc<RemoteServer>, usize)> {
        self.servers.load().iter().find_map(|s| {
            s.tools
                .iter()
                .position(|t| t.qualified == name)
                .map(|i| (Arc::clone(s), i))
        })
    }

    /// Serves `records`' pinned tools, except those a registry's pending
    /// list holds, those whose names a plugin has (`taken`: plugin ids and
    /// tool names), and a stdio server's unless this host allows its
    /// command. A server whose record did not change keeps its session.
    pub(crate) fn update(
        &self,
        records: &[McpServerRecord],
        registry: &Registry,
        taken: &BTreeSet<String>,
    ) {
        let current = self.servers.load_full();
        let mut next = Vec::new();
        for record in records {
            let name = record.name.as_str();
            let previous = current.iter().find(|s| s.name() == name);
            if let Some(p) = previous
                && p.record == *record
            {
                next.push(Arc::clone(p));
                continue;
            }
            let token = match registry.mcp_token(record) {
                Ok(t) => t,
                Err(e) => {
                    tracing::warn!(
                        server = name,
                        "MCP server not served: its token does not open: {e}"
                    );
                    continue;
                }
            };
            let mut tools = Vec::new();
            let mut withheld = Vec::new();
            let stdio = client::stdio_refusal(&record.endpoint, &self.options.stdio_commands);
            for (tool, change) in record.served() {
                let qualified = format!("{name}.{}", tool.name);
                let why = if let Some(why) = &stdio {
                    Some(why.clone())
                } else if taken.contains(name) {
                    Some(format!("a plugin named `{name}` is loaded; its tools win"))
                } else if taken.contains(&qualified) {
                    Some(format!("a plugin tool is named `{qualified}`; it wins"))
                } else {
                    change.map(|c| held_text(name, &c))
                };
                if let Some(why) = why {
                    withheld.push((tool.name.clone(), why));
                    continue;
                }
                match crate::tooldefs::compile(&tool.input_schema) {
                    Ok(validator) => tools.push(RemoteTool {
                        pinned: tool.clone(),
                        qualified,
                        validator,
                    }),
                    Err(e) => withheld.push((tool.name.clone(), e)),
                }
            }
            for (tool, why) in &withheld {
                tracing::warn!(server = name, tool, "MCP tool not served: {why}");
            }
            let same_session = previous
                .filter(|p| p.record.endpoint == record.endpoint && p.token == token)
                .and_then(|p| p.session.try_lock().ok().and_then(|s| s.clone()));
            next.push(Arc::new(RemoteServer {
                record: record.clone(),
                token,
                tools,
                withheld,
                slots: tokio::sync::Semaphore::new(self.per_server),
                session: tokio::sync::Mutex::new(same_session),
                checked: std::sync::Mutex::new(None),
            }));
        }
        self.servers.store(Arc::new(next));
    }

    /// Calls `tool` on `server` within `limit`: lists the live tools first
    /// when the last look is older than the recheck interval (or the
    /// server said they changed), and refuses a tool the live list
    /// changed. Returns the changes newly seen, to report.
    pub(crate) async fn call(
        &self,
        server: &RemoteServer,
        tool: &RemoteTool,
        input: &Value,
        limit: Duration,
        seen_by: &str,
    ) -> (Called, Option<(ToolList, Vec<ToolChange>)>) {
        let deadline = tokio::time::Instant::now() + limit;
        let run = async {
            let mut seen = None;
            let session = self.session(server, limit).await?;
            let stale = server
                .checked
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .as_ref()
                .is_none_or(|(at, _)| at.elapsed() >= self.options.recheck);
            if stale || session.changed.swap(false, Ordering::SeqCst) {
                match client::list(&session)
                    .await
                    .and_then(|defs| ToolList::pin(&defs, seen_by).map_err(RemoteError::BadAnswer))
                {
                    Ok(live) => {
                        let changes = diff(&server.record.pinned, &live);
                        let held: BTreeSet<String> = changes
                            .iter()
                            .filter(|c| !matches!(c, ToolChange::Added { .. }))
                            .map(|c| c.name().to_owned())
                            .collect();
                        *server.checked.lock().unwrap_or_else(|p| p.into_inner()) =
                            Some((Instant::now(), held));
                        let pending = server.record.pending.as_ref().map(|p| &p.digest);
                        if live.digest != server.record.pinned.digest
                            && pending != Some(&live.digest)
                        {
                            seen = Some((live, changes));
                        }
                    }
                    // A list that cannot be read now is no reason to stop
                    // serving what was pinned: the call goes on, and the
                    // next one looks again.
                    Err(e) => {
                        tracing::warn!(server = server.name(), "MCP tool list not read: {e:?}")
                    }
                }
            }
            let held = server
                .checked
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .as_ref()
                .and_then(|(_, h)| h.contains(&tool.pinned.name).then_some(()));
            if held.is_some() {
                let change = seen
                    .as_ref()
                    .and_then(|(_, c): &(ToolList, Vec<ToolChange>)| {
                        c.iter().find(|c| c.name() == tool.pinned.name).cloned()
                    })
                    .unwrap_or(ToolChange::Removed {
                        name: tool.pinned.name.clone(),
                    });
                return Ok::<_, RemoteError>((
                    Called::Held(held_text(server.name(), &change)),
                    seen,
                ));
            }
            let answer = client::call(&session, &tool.pinned.name, input).await;
            if matches!(answer, Err(RemoteError::Unreachable(_))) {
                // A broken session is not kept: the next call connects anew.
                *server.session.lock().await = None;
            }
            let answer = answer?;
            Ok((
                Called::Answer {
                    text: answer.text,
                    is_error: answer.is_error,
                },
                seen,
            ))
        };
        match tokio::time::timeout_at(deadline, run).await {
            Ok(Ok(done)) => done,
            Ok(Err(e)) => (
                Called::Failed {
                    timeout: e == RemoteError::Timeout,
                    text: e.text(server.name(), limit),
                },
                None,
            ),
            Err(_) => (
                Called::Failed {
                    timeout: true,
                    text: RemoteError::Timeout.text(server.name(), limit),
                },
                None,
            ),
        }
    }

    /// The server's session, connected when there is none (or it closed).
    async fn session(
        &self,
        server: &RemoteServer,
        limit: Duration,
    ) -> Result<Arc<Session>, RemoteError> {
        let mut slot = server.session.lock().await;
        if let Some(s) = slot.as_ref()
            && !s.service.is_transport_closed()
        {
            return Ok(Arc::clone(s));
        }
        let session =
            Arc::new(client::connect(&server.connect_options(&self.options), limit).await?);
        *slot = Some(Arc::clone(&session));
        Ok(session)
    }
}

/// Why a changed tool is not served.
fn held_text(server: &str, change: &ToolChange) -> String {
    let what = match change {
        ToolChange::Removed { .. } => "the server no longer lists it".to_owned(),
        ToolChange::Changed { fields, .. } if fields.is_empty() => {
            "the server changed it (in characters Yoi does not show)".to_owned()
        }
        ToolChange::Changed { fields, .. } => {
            format!("the server changed its {}", fields.join(" and "))
        }
        ToolChange::Added { .. } => "the server added it".to_owned(),
    };
    format!(
        "held: {what} since it was pinned; an operator approves the new list with `yoi mcp-server approve {server}`"
    )
}

/// Fetches a server's tool list and pins it (`yoi mcp-server add` and
/// `refresh`): connects within `limit`, lists, and closes the session.
pub async fn fetch_mcp_tools(
    endpoint: &McpEndpoint,
    token: Option<&str>,
    options: &GatewayOptions,
    limit: Duration,
    by: &str,
) -> Result<ToolList, String> {
    let name = endpoint.shown();
    let connect = Connect {
        endpoint,
        token,
        max_bytes: options.max_response_bytes,
        // The operator asked for this server by name: the stdio switch is
        // a host's, for the servers it starts on its own.
        stdio_commands: match endpoint {
            McpEndpoint::Stdio { command, .. } => std::slice::from_ref(command),
            McpEndpoint::Http { .. } => &[],
        },
    };
    let run = async {
        let session = client::connect(&connect, limit).await?;
        let defs = client::list(&session).await;
        let _ = session.service.cancel().await;
        defs
    };
    let defs = match tokio::time::timeout(limit, run).await {
        Ok(Ok(defs)) => defs,
        Ok(Err(e)) => return Err(e.text(&name, limit)),
        Err(_) => return Err(RemoteError::Timeout.text(&name, limit)),
    };
    ToolList::pin(&defs, by)
}
