//! `yoi mcp`: the host's tools served to Model Context Protocol clients,
//! over stdio (newline-delimited JSON-RPC, nothing but protocol messages on
//! stdout) or Streamable HTTP (`--http ADDR`, one endpoint `/mcp`, a bearer
//! token, `Origin` checked). Both protocol revisions clients use are
//! served: the stateful 2025-11-25 (`initialize`, `Mcp-Session-Id`) and the
//! stateless 2026-07-28 (`server/discover`, `_meta` on every request); the
//! protocol itself is the official SDK's (`rmcp`). Every call goes through
//! `Host::call_tool_in`, so schema checks, the tool hooks, receipts,
//! observers and the crash guard apply as for any embedder. docs/mcp.md.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result};
use axum::extract::{Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use futures_util::Stream;
use rmcp::model::{
    CallToolRequestParams, CallToolResponse, CallToolResult, ContentBlock, Implementation,
    ListToolsResult, NumberOrString, PaginatedRequestParams, ServerCapabilities, ServerConfig,
    SubscriptionFilter, Tool, ToolAnnotations,
};
use rmcp::model::{ClientJsonRpcMessage, ServerJsonRpcMessage};
use rmcp::service::{NotificationContext, RequestContext, SubscriptionContext};
use rmcp::transport::async_rw::AsyncRwTransport;
use rmcp::transport::streamable_http_server::session::local::{
    LocalSessionManager, LocalSessionManagerError,
};
use rmcp::transport::streamable_http_server::session::{
    EventStore, ServerSseMessage, SessionId, SessionManager,
};
use rmcp::transport::streamable_http_server::{StreamableHttpServerConfig, StreamableHttpService};
use rmcp::{ErrorData, RoleServer, ServerHandler, ServiceExt};
use serde_json::Value;
use tokio::sync::watch;
use yoi_host::{HookContext, Host, ToolOutcome, ToolRequest, ToolSource, ToolSpec, ToolStatus};
use yoi_manifest::{Capability, FsMode};

use crate::ctx::Ctx;
use crate::serve::Token;
use crate::usage::UsageError;

/// The longest tool name MCP allows (its tool-name rules); a longer plugin
/// tool is left out of `tools/list` with a warning.
const MAX_TOOL_NAME: usize = 128;
/// The longest client name, session id or subject taken from a client, in
/// bytes.
const MAX_ID_BYTES: usize = 256;
/// The `_meta` key (and HTTP header) a client may name its rollout subject
/// with; docs/mcp.md ("Who is calling").
pub(crate) const SUBJECT_META: &str = "dev.yoi/subject";
/// The `_meta` key of a re-exported remote MCP tool: `true` when a local
/// process outside every sandbox serves it (docs/mcp.md).
const UNSANDBOXED_META: &str = "dev.yoi/unsandboxed";
/// The HTTP header form of [`SUBJECT_META`].
const SUBJECT_HEADER: &str = "yoi-subject";
/// How often the tool set is compared when no reload wakes the watcher
/// first (a crash guard's disable in a folder host, say).
const TOOL_SET_POLL: Duration = Duration::from_millis(250);

/// Where `yoi mcp`'s plugins come from.
pub(crate) struct Source {
    /// Plugin folders (like `yoi dev`); empty: the registry.
    pub(crate) dirs: Vec<PathBuf>,
    /// The host configuration file.
    pub(crate) config: Option<PathBuf>,
    /// Which rollouts apply (registry).
    pub(crate) scope: String,
    /// How often the registry is checked for missed changes, in ms.
    pub(crate) poll_ms: u64,
}

/// Runs `yoi mcp`: starts the host, then serves it on stdio or HTTP.
pub(crate) fn mcp(ctx: &Ctx, source: Source, options: Options) -> Result<ExitCode> {
    if options.max_message_bytes < 1024 {
        anyhow::bail!(UsageError(
            "--max-message-bytes must be at least 1024".into()
        ));
    }
    // Checked before the host starts: a wrong flag costs no compile.
    let tokens = match options.http {
        None => None,
        Some(addr) => Some(http_tokens(ctx, &options, addr)?),
    };
    let (host, _watcher) = if source.dirs.is_empty() {
        let scope = crate::fleet::parse_scope(&source.scope)?;
        let name = format!("{}-mcp", crate::fleet::host_name(None));
        // Plugin data beside the registry unless the configuration says
        // otherwise: MCP clients start `yoi mcp` with no more than that.
        let (_, home) = ctx.location()?;
        let (host, watcher) = crate::fleet::registry_host(
            ctx,
            &name,
            scope,
            source.config.as_deref(),
            source.poll_ms,
            Some(home.join("data")),
        )?;
        (host, Some(watcher))
    } else {
        let folders = crate::dev::folder_host(&source.dirs, source.config.as_deref())?;
        (folders.host, None)
    };
    // Loaded plugins serve; refused ones say why (on stderr: stdout is the
    // protocol's).
    if let Some(report) = host.boot_report() {
        for r in &report.refused {
            errln!(
                "yoi mcp: {}@{} not loaded: {}",
                r.plugin,
                r.version,
                r.reason
            );
        }
    }
    for server in host.mcp_servers() {
        for (tool, why) in &server.withheld {
            errln!("yoi mcp: {}.{tool} not served: {why}", server.name);
        }
    }
    errln!(
        "yoi mcp: {} tools from {} plugins{}",
        host.tools().len(),
        host.plugins().len(),
        match options.http {
            Some(_) => "",
            None => ", on stdio",
        }
    );
    if options.no_token {
        errln!(
            "warning: yoi mcp --no-token: any process on this machine can call these tools; \
             leave it to local test suites (docs/mcp.md)"
        );
    }
    match (options.http, tokens) {
        (Some(addr), Some((tokens, path))) => serve_http(host, options, addr, tokens, &path),
        _ => serve_stdio(host, options),
    }
}

/// The tokens HTTP requests need, and the file they came from: none with
/// `--no-token` (loopback only), else `--token-file`, else the registry
/// folder's `serve-tokens` (made when missing).
fn http_tokens(
    ctx: &Ctx,
    options: &Options,
    addr: std::net::SocketAddr,
) -> Result<(Option<Vec<Token>>, PathBuf)> {
    if options.no_token {
        if !addr.ip().is_loopback() {
            anyhow::bail!(UsageError(format!(
                "--no-token serves without tokens, so only on loopback; {addr} is not (listen on 127.0.0.1 or [::1], or drop --no-token)"
            )));
        }
        return Ok((None, PathBuf::from("(none: --no-token)")));
    }
    let path = match &options.token_file {
        Some(path) => path.clone(),
        None => {
            let (_, home) = ctx.location()?;
            std::fs::create_dir_all(&home)
                .with_context(|| format!("creating {}", home.display()))?;
            crate::serve::token_path(&home)
        }
    };
    let tokens = crate::serve::tokens_at(&path, options.token_file.is_none())?;
    if tokens.is_empty() {
        anyhow::bail!(UsageError(format!(
            "{} has no tokens; add a line `rw ACTOR TOKEN` (32 characters or more)",
            path.display()
        )));
    }
    Ok((Some(tokens), path))
}

/// What `yoi mcp` was asked for.
pub(crate) struct Options {
    /// `--http ADDR`: Streamable HTTP instead of stdio.
    pub(crate) http: Option<std::net::SocketAddr>,
    /// The subject of calls that name none (stdio).
    pub(crate) subject: Option<String>,
    /// `--token-file`: tokens for HTTP instead of the registry's
    /// `serve-tokens`.
    pub(crate) token_file: Option<PathBuf>,
    /// `--no-token`: HTTP without tokens (loopback only).
    pub(crate) no_token: bool,
    /// Browser origins allowed to call over HTTP (none by default).
    pub(crate) allow_origins: Vec<String>,
    /// The largest message, in bytes, on either transport.
    pub(crate) max_message_bytes: usize,
    /// Connection limits of the HTTP listener.
    pub(crate) limits: crate::listener::Limits,
}

/// The MCP server over one host: cheap to clone (one per HTTP session).
#[derive(Clone)]
pub(crate) struct Server {
    host: Host,
    /// Bumped whenever the tool set changes.
    changes: watch::Receiver<u64>,
    /// The subject of calls that name none.
    subject: Option<Arc<str>>,
    /// Names the stdio connection's calls in `session-id`.
    stdio_session: Option<Arc<str>>,
}

/// Who a request comes from, as the hook context tells plugins.
struct Caller {
    client: Option<String>,
    session: Option<String>,
    subject: Option<String>,
}

/// The token an HTTP request was admitted with (put there by [`admit`]).
#[derive(Clone)]
struct Admitted {
    actor: String,
}

/// `text` cut to at most `max` bytes, on a character boundary.
fn truncated(mut text: String, max: usize) -> String {
    if text.len() > max {
        let mut end = max;
        while !text.is_char_boundary(end) {
            end -= 1;
        }
        text.truncate(end);
    }
    text
}

/// A request id as text (`call-id` of the tool hooks).
fn request_id(id: &NumberOrString) -> String {
    match id {
        NumberOrString::Number(n) => n.to_string(),
        NumberOrString::String(s) => s.to_string(),
    }
}

impl Server {
    pub(crate) fn new(host: Host, subject: Option<String>, stdio: bool) -> Server {
        let changes = watch_tool_set(&host);
        Server {
            host,
            changes,
            subject: subject.map(Arc::from),
            stdio_session: stdio.then(|| Arc::from(format!("stdio-{}", std::process::id()))),
        }
    }

    /// The caller of a request: the client's name (from `initialize`, or
    /// the request's `_meta` under 2026-07-28), its session (the HTTP
    /// session, the stdio connection, else the request id) and its subject
    /// (`_meta` `dev.yoi/subject`, the `Yoi-Subject` header, the token's
    /// actor, `--subject`, in that order).
    fn caller(&self, context: &RequestContext<RoleServer>) -> Result<Caller, ErrorData> {
        let parts = context.extensions.get::<axum::http::request::Parts>();
        let header = |name: &str| {
            parts
                .and_then(|p| p.headers.get(name))
                .and_then(|v| v.to_str().ok())
                .filter(|v| !v.is_empty())
                .map(str::to_owned)
        };
        // The client's own words: kept to a length a receipt can carry.
        let client = context
            .meta
            .client_info()
            .map(|i| i.name)
            .or_else(|| context.peer.peer_info().map(|i| i.client_info.name.clone()))
            .map(|n| truncated(n, MAX_ID_BYTES));
        let session = header("mcp-session-id")
            .or_else(|| self.stdio_session.as_deref().map(str::to_owned))
            .or_else(|| Some(request_id(&context.id)))
            .map(|s| truncated(s, MAX_ID_BYTES));
        let meta_subject = context
            .meta
            .get(SUBJECT_META)
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty())
            .map(str::to_owned);
        let admitted = parts
            .and_then(|p| p.extensions.get::<Admitted>())
            .map(|a| a.actor.clone());
        let subject = meta_subject
            .or_else(|| header(SUBJECT_HEADER))
            .or(admitted)
            .or_else(|| self.subject.as_deref().map(str::to_owned));
        // The subject decides rollouts: refused, not cut, when too long.
        if let Some(subject) = &subject
            && subject.len() > MAX_ID_BYTES
        {
            return Err(ErrorData::invalid_params(
                format!(
                    "the subject is {} bytes; subjects are at most {MAX_ID_BYTES} (docs/mcp.md, \"Who is calling\")",
                    subject.len()
                ),
                None,
            ));
        }
        Ok(Caller {
            client,
            session,
            subject,
        })
    }

    /// The tools `subject` may call, as MCP lists them.
    fn listed(&self, subject: Option<&str>) -> Vec<Tool> {
        let specs = match subject {
            Some(s) => self.host.tools_for(s),
            None => self.host.tools(),
        };
        let plugins = self.host.plugins();
        specs
            .into_iter()
            .filter_map(|spec| {
                let grants = match &spec.source {
                    ToolSource::Plugin { id, .. } => plugins
                        .iter()
                        .find(|p| &p.id == id)
                        .map(|p| p.grants.as_slice()),
                    _ => None,
                };
                to_mcp(spec, grants)
            })
            .collect()
    }
}

/// A host tool in MCP's terms; `None` (with a warning) for one whose name
/// MCP does not allow.
fn to_mcp(spec: ToolSpec, grants: Option<&[Capability]>) -> Option<Tool> {
    if !mcp_name(&spec.name) {
        tracing::warn!(
            tool = %spec.name,
            "left out of tools/list: MCP tool names are 1 to {MAX_TOOL_NAME} letters, digits, `_`, `-` or `.` (shorten the plugin id or the tool name)"
        );
        return None;
    }
    let Value::Object(schema) = spec.input_schema else {
        tracing::warn!(tool = %spec.name, "left out of tools/list: its input schema is not an object");
        return None;
    };
    let remote = match &spec.source {
        ToolSource::Mcp { unsandboxed, .. } => Some(*unsandboxed),
        _ => None,
    };
    let mut tool = Tool::new(spec.name, spec.description, Arc::new(schema));
    if let Some(grants) = grants {
        tool = tool.annotate(annotations(grants));
    }
    // A remote server's tool reaches beyond this host; one a local process
    // serves runs outside every sandbox, and says so.
    if let Some(unsandboxed) = remote {
        tool = tool.annotate(ToolAnnotations::new().open_world(true));
        let mut meta = serde_json::Map::new();
        meta.insert(UNSANDBOXED_META.into(), Value::Bool(unsandboxed));
        tool.meta = Some(rmcp::model::MetaObject(meta));
    }
    Some(tool)
}

/// MCP's tool-name rule: 1 to 128 of `A-Z a-z 0-9 _ - .`.
fn mcp_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= MAX_TOOL_NAME
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.'))
}

/// The hints a plugin's grants support: read-only when it can neither
/// reach the network nor write a file; open-world when it can reach the
/// network.
fn annotations(grants: &[Capability]) -> ToolAnnotations {
    let network = grants
        .iter()
        .any(|g| matches!(g, Capability::Https(_) | Capability::WebSocket(_)));
    let writes = grants.iter().any(|g| {
        matches!(
            g,
            Capability::Fs {
                mode: FsMode::Rw,
                ..
            }
        )
    });
    ToolAnnotations::new()
        .read_only(!network && !writes)
        .open_world(network)
}

/// The text a model reads of an outcome: the output, then each refused
/// host call with the operator's fix.
fn result_text(outcome: &ToolOutcome) -> String {
    let mut text = outcome.output.clone();
    if let Some(run) = &outcome.run {
        for denial in &run.denials {
            if !text.is_empty() {
                text.push('\n');
            }
            text.push_str(&format!(
                "denied: {} `{}`: {}; {}",
                denial.capability, denial.target, denial.reason, denial.fix
            ));
        }
    }
    text
}

impl ServerHandler for Server {
    fn get_info(&self) -> ServerConfig {
        ServerConfig::new(
            ServerCapabilities::builder()
                .enable_tools()
                .enable_tool_list_changed()
                .build(),
        )
        .with_server_info(Implementation::new("yoi", env!("CARGO_PKG_VERSION")))
        .with_instructions(
            "Yoi's sandboxed plugin tools. Each call runs through the host's tool hooks; \
             a result marked as an error says why (blocked, invalid input, denied, timeout).",
        )
    }

    async fn list_tools(
        &self,
        _request: Option<PaginatedRequestParams>,
        context: RequestContext<RoleServer>,
    ) -> Result<ListToolsResult, ErrorData> {
        let caller = self.caller(&context)?;
        Ok(ListToolsResult::with_all_items(
            self.listed(caller.subject.as_deref()),
        ))
    }

    async fn call_tool(
        &self,
        request: CallToolRequestParams,
        context: RequestContext<RoleServer>,
    ) -> Result<CallToolResponse, ErrorData> {
        let caller = self.caller(&context)?;
        let name = request.name.to_string();
        let unknown = |name: &str| {
            ErrorData::invalid_params(
                format!("unknown tool `{name}`: tools/list names the tools this caller may call"),
                None,
            )
        };
        // A name MCP does not allow is never listed, so never called.
        if !mcp_name(&name) {
            return Err(unknown(&name));
        }
        let hook_context = HookContext {
            agent_id: caller.client,
            session_id: caller.session,
            subject: caller.subject,
            ..HookContext::default()
        };
        let input = Value::Object(request.arguments.unwrap_or_default());
        let outcome = self
            .host
            .call_tool_in(
                &hook_context,
                ToolRequest {
                    name,
                    input,
                    call_id: truncated(request_id(&context.id), MAX_ID_BYTES),
                    turn: 0,
                },
            )
            .await;
        if outcome.status == ToolStatus::UnknownTool {
            return Err(unknown(&outcome.name));
        }
        let text = vec![ContentBlock::text(result_text(&outcome))];
        Ok(if outcome.status == ToolStatus::Ok {
            CallToolResult::success(text)
        } else {
            CallToolResult::error(text)
        }
        .into())
    }

    fn accepted_subscription_filter(
        &self,
        requested: &SubscriptionFilter,
    ) -> Option<SubscriptionFilter> {
        let _ = requested;
        Some(SubscriptionFilter::builder().tools_list_changed().build())
    }

    /// 2026-07-28: a `subscriptions/listen` stream hears every change of the
    /// tool set until the client cancels it.
    async fn listen(&self, context: SubscriptionContext) -> Result<(), ErrorData> {
        let mut changes = self.changes.clone();
        changes.mark_unchanged();
        loop {
            tokio::select! {
                () = context.cancelled() => return Ok(()),
                changed = changes.changed() => {
                    if changed.is_err() {
                        return Ok(());
                    }
                    if context.sink().notify_tool_list_changed().await.is_err() {
                        return Ok(());
                    }
                }
            }
        }
    }

    /// 2025-11-25: an initialized session hears every change of the tool
    /// set until its transport closes.
    async fn on_initialized(&self, context: NotificationContext<RoleServer>) {
        let peer = context.peer;
        let mut changes = self.changes.clone();
        changes.mark_unchanged();
        tokio::spawn(async move {
            loop {
                tokio::select! {
                    changed = changes.changed() => {
                        if changed.is_err() || peer.notify_tool_list_changed().await.is_err() {
                            return;
                        }
                    }
                    () = tokio::time::sleep(Duration::from_secs(5)) => {
                        if peer.is_transport_closed() {
                            return;
                        }
                    }
                }
            }
        });
    }
}

/// What decides the tool set: each plugin's id, version, tools, grants and
/// rollout, and the native and remote MCP tools.
fn tool_set(host: &Host) -> String {
    let plugins: Vec<Value> = host
        .plugins()
        .into_iter()
        .map(|p| {
            serde_json::json!([
                p.id.as_str(),
                p.version.to_string(),
                p.tools,
                p.grants.iter().map(ToString::to_string).collect::<Vec<_>>(),
                serde_json::to_value(p.rollout).unwrap_or(Value::Null),
            ])
        })
        .collect();
    // Native and remote MCP tools by name and description: an approved
    // list changes a description under the same name.
    let native: Vec<(String, String)> = host
        .tools()
        .into_iter()
        .filter(|t| !matches!(t.source, ToolSource::Plugin { .. }))
        .map(|t| (t.name, t.description))
        .collect();
    serde_json::json!([plugins, native]).to_string()
}

/// Follows the host's tool set: the receiver's value changes whenever it
/// does. Woken by every reload, and checked every [`TOOL_SET_POLL`] for
/// changes that come without one.
fn watch_tool_set(host: &Host) -> watch::Receiver<u64> {
    let (tx, rx) = watch::channel(0u64);
    let reloads = host.reloads();
    let host = host.clone();
    let spawned = std::thread::Builder::new()
        .name("yoi-mcp-tools".into())
        .spawn(move || {
            let mut last = tool_set(&host);
            loop {
                match reloads.recv_timeout(TOOL_SET_POLL) {
                    Ok(_) | Err(std::sync::mpsc::RecvTimeoutError::Timeout) => {}
                    Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => {
                        std::thread::sleep(TOOL_SET_POLL);
                    }
                }
                if tx.is_closed() {
                    return;
                }
                let now = tool_set(&host);
                if now != last {
                    last = now;
                    tx.send_modify(|g| *g += 1);
                }
            }
        });
    if let Err(e) = spawned {
        tracing::warn!("clients will not hear of tool changes: {e}");
    }
    rx
}

/// Serves MCP on stdin and stdout until the client closes stdin.
pub(crate) fn serve_stdio(host: Host, options: Options) -> Result<ExitCode> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async move {
        let server = Server::new(host, options.subject, true);
        // Non-blocking pipes when the client launched us with pipes (MCP
        // clients do): reads and writes on the reactor, not a blocking
        // thread per message.
        let (stdin, stdout) = rmcp::transport::io::stdio_pipes();
        let transport = AsyncRwTransport::new_server(stdin, stdout)
            .with_max_line_length(options.max_message_bytes);
        let running = server
            .serve(transport)
            .await
            .context("starting the MCP server on stdio")?;
        let _ = running.waiting().await;
        Ok(ExitCode::SUCCESS)
    })
}

/// Sessions (2025-11-25 over HTTP) kept at once; an `initialize` beyond
/// them is refused until one ends (DELETE) or idles out (5 minutes).
const MAX_SESSIONS: usize = 1024;

/// Why a session could not be made or used.
#[derive(Debug, thiserror::Error)]
enum SessionsError {
    #[error(
        "{MAX_SESSIONS} sessions are open, the most this server keeps: end one (HTTP DELETE) or wait for idle ones to close (5 minutes)"
    )]
    Full,
    #[error(transparent)]
    Local(#[from] LocalSessionManagerError),
}

/// The SDK's in-memory sessions, at most [`MAX_SESSIONS`] of them, so
/// clients that open sessions without end cannot grow the server without
/// end.
#[derive(Default)]
struct BoundedSessions(LocalSessionManager);

impl SessionManager for BoundedSessions {
    type Error = SessionsError;
    type Transport = <LocalSessionManager as SessionManager>::Transport;

    async fn create_session(&self) -> Result<(SessionId, Self::Transport), SessionsError> {
        if self.0.sessions.read().await.len() >= MAX_SESSIONS {
            return Err(SessionsError::Full);
        }
        Ok(self.0.create_session().await?)
    }

    async fn initialize_session(
        &self,
        id: &SessionId,
        message: ClientJsonRpcMessage,
    ) -> Result<ServerJsonRpcMessage, SessionsError> {
        Ok(self.0.initialize_session(id, message).await?)
    }

    async fn has_session(&self, id: &SessionId) -> Result<bool, SessionsError> {
        Ok(self.0.has_session(id).await?)
    }

    async fn close_session(&self, id: &SessionId) -> Result<(), SessionsError> {
        Ok(self.0.close_session(id).await?)
    }

    async fn create_stream(
        &self,
        id: &SessionId,
        message: ClientJsonRpcMessage,
    ) -> Result<impl Stream<Item = ServerSseMessage> + Send + Sync + 'static, SessionsError> {
        Ok(self.0.create_stream(id, message).await?)
    }

    async fn accept_message(
        &self,
        id: &SessionId,
        message: ClientJsonRpcMessage,
    ) -> Result<(), SessionsError> {
        Ok(self.0.accept_message(id, message).await?)
    }

    async fn create_standalone_stream(
        &self,
        id: &SessionId,
    ) -> Result<impl Stream<Item = ServerSseMessage> + Send + Sync + 'static, SessionsError> {
        Ok(self.0.create_standalone_stream(id).await?)
    }

    async fn resume(
        &self,
        id: &SessionId,
        last_event_id: String,
    ) -> Result<impl Stream<Item = ServerSseMessage> + Send + Sync + 'static, SessionsError> {
        Ok(self.0.resume(id, last_event_id).await?)
    }

    fn event_store(&self) -> Option<Arc<dyn EventStore>> {
        self.0.event_store()
    }
}

/// The tokens HTTP clients may use; `None` with `--no-token`.
struct Tokens(Option<Vec<Token>>);

/// Admits a request with a known bearer token, refusing the rest with 401
/// and `WWW-Authenticate`.
async fn admit(State(tokens): State<Arc<Tokens>>, mut request: Request, next: Next) -> Response {
    let Some(tokens) = &tokens.0 else {
        return next.run(request).await;
    };
    let given = request
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "));
    let token = given.and_then(|g| tokens.iter().find(|t| crate::tokens::same(&t.secret, g)));
    let Some(token) = token else {
        tracing::warn!(
            "refused an MCP request: {}",
            if given.is_some() {
                "the token is not one of ours"
            } else {
                "no bearer token"
            }
        );
        let body = serde_json::json!({
            "jsonrpc": "2.0",
            "id": null,
            "error": {
                "code": -32001,
                "message": "send `Authorization: Bearer <token>` with a token from the registry's serve-tokens file (or --token-file); docs/mcp.md",
            }
        });
        let mut response = (StatusCode::UNAUTHORIZED, axum::Json(body)).into_response();
        response.headers_mut().insert(
            header::WWW_AUTHENTICATE,
            HeaderValue::from_static("Bearer realm=\"yoi\""),
        );
        return response;
    };
    request.extensions_mut().insert(Admitted {
        actor: token.actor.clone(),
    });
    next.run(request).await
}

/// Serves MCP over Streamable HTTP on `/mcp` until stopped.
pub(crate) fn serve_http(
    host: Host,
    options: Options,
    addr: std::net::SocketAddr,
    tokens: Option<Vec<Token>>,
    token_path: &std::path::Path,
) -> Result<ExitCode> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    let server = Server::new(host, options.subject.clone(), false);
    runtime.block_on(async move {
        let listener = tokio::net::TcpListener::bind(addr)
            .await
            .with_context(|| format!("listening on {addr}"))?;
        let bound = listener.local_addr()?;
        let mut limits = options.limits;
        limits.hosts = crate::listener::Limits::hosts_for(bound, &limits.hosts);
        // The listener checks `Host` (one rule for every server of Yoi's);
        // the SDK checks `Origin`: the server's own origin (on loopback) and
        // the listed ones pass, any other browser origin is refused. No page
        // is served here, so the own origin carries no page's request.
        let mut origins = options.allow_origins.clone();
        if bound.ip().is_loopback() {
            origins.extend(
                crate::listener::Limits::hosts_for(bound, &[])
                    .iter()
                    .map(|h| format!("http://{h}")),
            );
        }
        let config = StreamableHttpServerConfig::default()
            .disable_allowed_hosts()
            .with_allowed_origins(origins)
            .enforce_origin_validation()
            .with_json_response(true)
            .with_max_request_body_bytes(options.max_message_bytes);
        let service: StreamableHttpService<Server, BoundedSessions> =
            StreamableHttpService::new(move || Ok(server.clone()), Default::default(), config);
        let router = axum::Router::new().nest_service("/mcp", service).layer(
            axum::middleware::from_fn_with_state(Arc::new(Tokens(tokens)), admit),
        );
        let mut out = std::io::stdout();
        let _ = std::io::Write::write_fmt(
            &mut out,
            format_args!(
                "listening on http://{bound}/mcp\ntokens: {}\n",
                token_path.display()
            ),
        );
        let _ = std::io::Write::flush(&mut out);
        if !bound.ip().is_loopback() {
            errln!(
                "warning: yoi mcp listens on {bound}, beyond this machine, over plain HTTP: \
                 tokens and tool results cross the network unencrypted. Listen on loopback \
                 behind a TLS proxy instead, and name the proxy's host with --allow-host \
                 (docs/mcp.md)"
            );
        }
        crate::listener::run(listener, router, limits).await;
        Ok(ExitCode::SUCCESS)
    })
}
