//! One MCP session with a remote server, through the official SDK (`rmcp`):
//! connecting (Streamable HTTP through [`GatewayHttp`], or a local process
//! a host's configuration allows), listing tools with bounds on what a
//! server can make Yoi hold, and calling one, its answer turned into text
//! a model can read.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use rmcp::model::{
    CallToolRequestParams, ClientCapabilities, ClientConfig, Implementation, PaginatedRequestParams,
};
use rmcp::service::{NotificationContext, RunningService};
use rmcp::transport::streamable_http_client::StreamableHttpClientTransportConfig;
use rmcp::transport::{StreamableHttpClientTransport, TokioChildProcess};
use rmcp::{ClientHandler, RoleClient, ServiceExt};
use serde_json::Value;
use yoi_registry::{MAX_MCP_TOOLS, McpEndpoint, McpToolDef};

use super::http::{GatewayHttp, Posted, TooLarge};

/// The most pages of a tool list read (a server that pages forever is
/// stopped here).
const MAX_PAGES: usize = 100;

/// Why a remote call did not give an answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum RemoteError {
    /// The server could not be reached or the session broke.
    Unreachable(String),
    /// No answer within the time limit.
    Timeout,
    /// The server's answer broke a limit or the protocol.
    BadAnswer(String),
}

impl RemoteError {
    /// The text a model or an operator reads.
    pub(crate) fn text(&self, server: &str, limit: Duration) -> String {
        match self {
            RemoteError::Unreachable(why) => {
                format!("the MCP server `{server}` cannot be reached: {why}")
            }
            RemoteError::Timeout => format!(
                "the MCP server `{server}` did not answer within the time limit of {} ms",
                limit.as_millis()
            ),
            RemoteError::BadAnswer(why) => {
                format!("the MCP server `{server}` gave an answer Yoi refuses: {why}")
            }
        }
    }
}

/// The client side of a session: it notes that the server said its tool
/// list changed, so the next call lists again.
#[derive(Clone)]
pub(crate) struct GatewayClient {
    pub(crate) changed: Arc<AtomicBool>,
}

impl ClientHandler for GatewayClient {
    async fn on_tool_list_changed(&self, _context: NotificationContext<RoleClient>) {
        self.changed.store(true, Ordering::SeqCst);
    }

    fn get_info(&self) -> ClientConfig {
        ClientConfig::new(
            ClientCapabilities::default(),
            Implementation::new("yoi-gateway", env!("CARGO_PKG_VERSION")),
        )
    }
}

/// A connected session.
pub(crate) struct Session {
    pub(crate) service: RunningService<RoleClient, GatewayClient>,
    pub(crate) changed: Arc<AtomicBool>,
    /// Over HTTP: the client the SDK's transport uses, which makes calls.
    http: Option<GatewayHttp>,
    /// The most bytes of one answer read (for messages).
    max_bytes: usize,
}

/// Describes an SDK error for people: an oversized answer says so, and the
/// SDK's wrapping (transport type names) is left out of the error chain.
fn describe(e: &(dyn std::error::Error + 'static), max_bytes: usize) -> RemoteError {
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(e);
    let mut chain: Vec<String> = Vec::new();
    while let Some(err) = source {
        if err.downcast_ref::<TooLarge>().is_some() {
            return RemoteError::BadAnswer(TooLarge(max_bytes).to_string());
        }
        let text = err.to_string();
        if !chain.iter().any(|c| c.contains(&text)) {
            chain.push(text);
        }
        source = err.source();
    }
    let mut text = yoi_registry::clean_text(&chain.join(": "));
    // `Transport [rmcp::transport::...<...>] error: ` names Rust types.
    while let Some(start) = text.find("Transport [") {
        let Some(end) = text[start..].find("] error: ") else {
            break;
        };
        text.replace_range(start..start + end + "] error: ".len(), "");
    }
    for noise in [
        "Transport send error: ",
        "Send message error ",
        "Unexpected server response: ",
        "unexpected server response: ",
    ] {
        text = text.replace(noise, "");
    }
    text = text.replace(", when send initialize request", " (starting the session)");
    if text.contains("exceeded the maximum size") || text.contains("larger than the gateway") {
        RemoteError::BadAnswer(TooLarge(max_bytes).to_string())
    } else {
        RemoteError::Unreachable(text)
    }
}

/// What a connection needs.
pub(crate) struct Connect<'a> {
    pub(crate) endpoint: &'a McpEndpoint,
    pub(crate) token: Option<&'a str>,
    /// The most bytes of one answer read.
    pub(crate) max_bytes: usize,
    /// Commands this host may start (stdio servers).
    pub(crate) stdio_commands: &'a [String],
}

/// Why a stdio server is not started, if it is not.
pub(crate) fn stdio_refusal(endpoint: &McpEndpoint, allowed: &[String]) -> Option<String> {
    match endpoint {
        McpEndpoint::Stdio { command, .. } if !allowed.iter().any(|c| c == command) => {
            Some(format!(
                "a stdio server runs outside every sandbox, and this host's configuration does not name `{command}`; to run it, add it to `[mcp] stdio_commands` in yoi.toml"
            ))
        }
        _ => None,
    }
}

/// Connects and initializes a session within `limit`.
pub(crate) async fn connect(c: &Connect<'_>, limit: Duration) -> Result<Session, RemoteError> {
    let changed = Arc::new(AtomicBool::new(false));
    let handler = GatewayClient {
        changed: Arc::clone(&changed),
    };
    let mut http_client = None;
    let started = async {
        match c.endpoint {
            McpEndpoint::Http { url } => {
                let parsed = url::Url::parse(url)
                    .map_err(|e| RemoteError::Unreachable(format!("`{url}` is not a URL: {e}")))?;
                let http = GatewayHttp::new(&parsed, limit, c.max_bytes)
                    .map_err(RemoteError::Unreachable)?;
                http_client = Some(http.clone());
                let mut config = StreamableHttpClientTransportConfig::with_uri(url.as_str())
                    .max_json_response_size(c.max_bytes)
                    .max_sse_event_size(c.max_bytes)
                    .reinit_on_expired_session(true);
                if let Some(token) = c.token {
                    config = config.auth_header(token);
                }
                let transport = StreamableHttpClientTransport::with_client(http, config);
                handler
                    .serve(transport)
                    .await
                    .map_err(|e| describe(&e, c.max_bytes))
            }
            McpEndpoint::Stdio { command, args } => {
                if let Some(why) = stdio_refusal(c.endpoint, c.stdio_commands) {
                    return Err(RemoteError::Unreachable(why));
                }
                let mut cmd = tokio::process::Command::new(command);
                cmd.args(args).kill_on_drop(true);
                let (child, _stderr) = TokioChildProcess::builder(cmd)
                    .stderr(std::process::Stdio::null())
                    .spawn()
                    .map_err(|e| {
                        RemoteError::Unreachable(format!("`{command}` does not start: {e}"))
                    })?;
                handler
                    .serve(child)
                    .await
                    .map_err(|e| describe(&e, c.max_bytes))
            }
        }
    };
    let service = tokio::time::timeout(limit, started)
        .await
        .map_err(|_| RemoteError::Timeout)??;
    Ok(Session {
        service,
        changed,
        http: http_client,
        max_bytes: c.max_bytes,
    })
}

/// The server's tools, every page, at most [`MAX_MCP_TOOLS`] + 1 of them
/// (one more than Yoi pins, so a longer list is seen as too long without
/// being read whole).
pub(crate) async fn list(session: &Session) -> Result<Vec<McpToolDef>, RemoteError> {
    let mut out = Vec::new();
    let mut cursor = None;
    for _ in 0..MAX_PAGES {
        let page = session
            .service
            .list_tools(Some(PaginatedRequestParams::default().with_cursor(cursor)))
            .await
            .map_err(|e| match e {
                rmcp::ServiceError::UnexpectedResponse => RemoteError::BadAnswer(
                    "its tools/list answer is not a tool list as MCP defines it (each tool needs a name and an inputSchema object)".into(),
                ),
                e => describe(&e, session.max_bytes),
            })?;
        for tool in page.tools {
            if out.len() > MAX_MCP_TOOLS {
                return Ok(out);
            }
            out.push(McpToolDef {
                name: tool.name.into_owned(),
                description: tool.description.map(|d| d.into_owned()),
                input_schema: Value::Object((*tool.input_schema).clone()),
                annotations: tool.annotations.and_then(|a| serde_json::to_value(a).ok()),
            });
        }
        match page.next_cursor {
            Some(next) if !next.is_empty() => cursor = Some(next),
            _ => return Ok(out),
        }
    }
    Err(RemoteError::BadAnswer(format!(
        "the tool list goes on past {MAX_PAGES} pages"
    )))
}

/// A tool's answer as text, and whether the tool said it failed.
pub(crate) struct Answer {
    pub(crate) text: String,
    pub(crate) is_error: bool,
}

/// Calls a tool.
pub(crate) async fn call(
    session: &Session,
    tool: &str,
    input: &Value,
) -> Result<Answer, RemoteError> {
    let arguments = match input {
        Value::Object(map) => map.clone(),
        _ => serde_json::Map::new(),
    };
    if let Some(http) = session.http.as_ref().filter(|h| h.ready()) {
        static CALLS: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);
        // Ids of their own, so they never meet the SDK's numbered ones.
        let id = format!("yoi-{}", CALLS.fetch_add(1, Ordering::Relaxed));
        let posted = http
            .call_tool(
                &id,
                tool,
                &Value::Object(arguments.clone()),
                &session.changed,
            )
            .await;
        match posted {
            Ok(Posted::Result(result)) => return Ok(answer(&result)),
            Ok(Posted::Error(text)) => {
                return Ok(Answer {
                    text: format!("the server refused the call: {text}"),
                    is_error: true,
                });
            }
            // The SDK reopens the session and calls again below: the
            // server ran nothing.
            Ok(Posted::Expired) => {}
            Err(text)
                if text.contains("larger than the gateway")
                    || text.contains("exceeded the maximum size") =>
            {
                return Err(RemoteError::BadAnswer(
                    TooLarge(session.max_bytes).to_string(),
                ));
            }
            Err(text) => return Err(RemoteError::Unreachable(text)),
        }
    }
    let params = CallToolRequestParams::new(tool.to_owned()).with_arguments(arguments);
    let result = session
        .service
        .call_tool(params)
        .await
        .map_err(|e| match e {
            rmcp::ServiceError::UnexpectedResponse => RemoteError::BadAnswer(
                "its tools/call answer is not a tool result as MCP defines it".into(),
            ),
            e => describe(&e, session.max_bytes),
        })?;
    Ok(answer(
        &serde_json::to_value(&result).unwrap_or(Value::Null),
    ))
}

/// A `tools/call` result (JSON) as text for a model.
fn answer(result: &Value) -> Answer {
    if result.get("resultType").and_then(Value::as_str) == Some("input_required") {
        return Answer {
            text: "the tool asks for input from the user, which Yoi's gateway cannot give".into(),
            is_error: true,
        };
    }
    let mut parts: Vec<String> = result
        .get("content")
        .and_then(Value::as_array)
        .map(|blocks| blocks.iter().map(block_text).collect())
        .unwrap_or_default();
    if parts.is_empty()
        && let Some(structured) = result.get("structuredContent")
    {
        parts.push(structured.to_string());
    }
    Answer {
        text: yoi_registry::clean_text(&parts.join("\n")),
        is_error: result
            .get("isError")
            .and_then(Value::as_bool)
            .unwrap_or(false),
    }
}

/// One content block as text: text as it is; other kinds described, since
/// a tool result in Yoi is text.
fn block_text(v: &Value) -> String {
    let s = |k: &str| v.get(k).and_then(Value::as_str).unwrap_or_default();
    match s("type") {
        "text" => s("text").to_owned(),
        kind @ ("image" | "audio") => format!(
            "[{kind}: {}, {} bytes of base64]",
            s("mimeType"),
            s("data").len()
        ),
        "resource" => {
            let r = v.get("resource").cloned().unwrap_or(Value::Null);
            match r.get("text").and_then(Value::as_str) {
                Some(text) => text.to_owned(),
                None => format!(
                    "[resource: {}]",
                    r.get("uri").and_then(Value::as_str).unwrap_or_default()
                ),
            }
        }
        "resource_link" => format!("[resource link: {}]", s("uri")),
        other => format!("[{} content]", yoi_registry::clean_text(other)),
    }
}
