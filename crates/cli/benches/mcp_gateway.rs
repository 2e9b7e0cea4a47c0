//! What Yoi adds to a remote MCP tool call (docs/mcp.md, "Yoi as a
//! gateway"): one `tools/call` of an `echo` tool on an MCP server built
//! with the official Rust SDK, served on loopback over Streamable HTTP
//! (sessions, JSON answers), made
//!
//! - straight to the server: the JSON-RPC request POSTed on a kept-alive
//!   connection, the answer read and parsed;
//! - through Yoi (`Host::call_tool` on the pinned `bench.echo`), with no
//!   plugin: the schema check, the pin check, a slot, the SDK's client,
//!   the receipt and event;
//! - through Yoi with the guard (`tool.pre_exec`) and redact
//!   (`tool.post_exec`, `tool.result_persist`) plugins: the same plus the
//!   hooks' own cost.
//!
//! p50 and p99 of one call at a time. Not criterion: latency
//! distributions. Run it with `cargo xtask bench` (or `cargo bench -p
//! yoi-cli --bench mcp_gateway` after `cargo xtask build-examples`);
//! `YOI_BENCH_CALLS` sets the calls per run (default 5000). The figures
//! are in docs/BENCHMARKS.md.

use std::sync::Arc;
use std::time::{Duration, Instant};

use rmcp::model::{
    CallToolRequestParams, CallToolResponse, CallToolResult, ContentBlock, ListToolsResult,
    PaginatedRequestParams, ServerCapabilities, ServerConfig, Tool,
};
use rmcp::service::RequestContext;
use rmcp::transport::streamable_http_server::session::local::LocalSessionManager;
use rmcp::transport::streamable_http_server::{StreamableHttpServerConfig, StreamableHttpService};
use rmcp::{ErrorData, RoleServer, ServerHandler};
use serde_json::{Value, json};
use yoi_host::{
    GatewayOptions, Host, NativeTool, Registry, ToolRequest, ToolStatus, fetch_mcp_tools,
};
use yoi_registry::{McpEndpoint, NewMcpServer};

#[path = "../tests/support/mod.rs"]
mod support;
use support::example;

/// p-th percentile of sorted samples.
fn pct(sorted: &[Duration], p: f64) -> Duration {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

fn report(label: &str, mut samples: Vec<Duration>) -> (Duration, Duration) {
    samples.sort();
    let (p50, p99) = (pct(&samples, 0.5), pct(&samples, 0.99));
    println!(
        "{label:<36} p50 {:>7.1} µs  p99 {:>7.1} µs  ({} calls)",
        p50.as_secs_f64() * 1e6,
        p99.as_secs_f64() * 1e6,
        samples.len()
    );
    (p50, p99)
}

/// The remote server: one `echo` tool.
#[derive(Clone)]
struct Echo;

impl ServerHandler for Echo {
    fn get_info(&self) -> ServerConfig {
        ServerConfig::new(ServerCapabilities::builder().enable_tools().build())
    }

    async fn list_tools(
        &self,
        _request: Option<PaginatedRequestParams>,
        _context: RequestContext<RoleServer>,
    ) -> Result<ListToolsResult, ErrorData> {
        let schema = json!({"type": "object", "properties": {"text": {"type": "string"}}, "required": ["text"]});
        let Value::Object(schema) = schema else {
            unreachable!("an object")
        };
        Ok(ListToolsResult::with_all_items(vec![Tool::new(
            "echo",
            "Echoes its text.",
            Arc::new(schema),
        )]))
    }

    async fn call_tool(
        &self,
        request: CallToolRequestParams,
        _context: RequestContext<RoleServer>,
    ) -> Result<CallToolResponse, ErrorData> {
        let text = request
            .arguments
            .as_ref()
            .and_then(|a| a.get("text"))
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned();
        Ok(CallToolResult::success(vec![ContentBlock::text(text)]).into())
    }
}

async fn serve() -> String {
    let config = StreamableHttpServerConfig::default().with_json_response(true);
    let service: StreamableHttpService<Echo, LocalSessionManager> =
        StreamableHttpService::new(|| Ok(Echo), Default::default(), config);
    let router = axum::Router::new().nest_service("/mcp", service);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move {
        // As any production server does: an answer written in two parts
        // must not wait for the client's delayed acknowledgement.
        use axum::serve::ListenerExt as _;
        let listener = listener.tap_io(|tcp| {
            let _ = tcp.set_nodelay(true);
        });
        let _ = axum::serve(listener, router).await;
    });
    format!("http://{addr}/mcp")
}

/// The call made straight to the server: a session opened once, then one
/// POST per call on a kept-alive connection.
struct Direct {
    client: reqwest::Client,
    url: String,
    session: Option<String>,
}

impl Direct {
    fn post(&self, body: Value) -> reqwest::RequestBuilder {
        let mut r = self
            .client
            .post(&self.url)
            .header("accept", "application/json, text/event-stream")
            .header("content-type", "application/json")
            .header("mcp-protocol-version", "2025-11-25")
            .body(body.to_string());
        if let Some(s) = &self.session {
            r = r.header("mcp-session-id", s.as_str());
        }
        r
    }

    async fn open(url: &str) -> Direct {
        let mut d = Direct {
            client: reqwest::Client::new(),
            url: url.to_owned(),
            session: None,
        };
        let init = d
            .post(
                json!({"jsonrpc": "2.0", "id": 0, "method": "initialize", "params": {
                "protocolVersion": "2025-11-25", "capabilities": {},
                "clientInfo": {"name": "bench", "version": "1"}}}),
            )
            .send()
            .await
            .expect("initialize");
        d.session = init
            .headers()
            .get("mcp-session-id")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        init.bytes().await.expect("initialize answer");
        d.post(json!({"jsonrpc": "2.0", "method": "notifications/initialized"}))
            .send()
            .await
            .expect("initialized");
        d
    }

    /// One `tools/call` of `echo`; its text.
    async fn call(&self, id: u64, text: &str) -> String {
        let mut answer = self
            .post(json!({"jsonrpc": "2.0", "id": id, "method": "tools/call",
                         "params": {"name": "echo", "arguments": {"text": text}}}))
            .send()
            .await
            .expect("call");
        // Read until the answer is whole, as a client streaming the events
        // does, not until the server ends the stream.
        let mut bytes = Vec::new();
        let body = loop {
            if let Some(body) = complete(&bytes) {
                break body;
            }
            match answer.chunk().await.expect("body") {
                Some(chunk) => bytes.extend_from_slice(&chunk),
                None => break message(&bytes),
            }
        };
        body["result"]["content"][0]["text"]
            .as_str()
            .unwrap_or_else(|| panic!("a text result: {body}"))
            .to_owned()
    }
}

async fn direct(d: &Direct, calls: usize) -> (Duration, Duration) {
    let mut samples = Vec::with_capacity(calls);
    for i in 0..calls + calls / 10 {
        let started = Instant::now();
        let text = d.call(i as u64 + 1, "hello").await;
        let took = started.elapsed();
        assert_eq!(text, "hello");
        if i >= calls / 10 {
            samples.push(took);
        }
    }
    report("straight to the server", samples)
}

/// The answer, once `bytes` hold a whole event carrying it (or whole JSON).
fn complete(bytes: &[u8]) -> Option<Value> {
    let text = std::str::from_utf8(bytes).ok()?;
    if let Ok(v) = serde_json::from_str::<Value>(text) {
        return Some(v);
    }
    text.split("\n\n")
        .filter(|_| text.contains("\n\n"))
        .flat_map(|event| event.lines())
        .filter_map(|l| l.strip_prefix("data:"))
        .find_map(|d| {
            serde_json::from_str::<Value>(d.trim())
                .ok()
                .filter(|v| v.get("result").is_some() || v.get("error").is_some())
        })
}

/// The JSON-RPC answer in a body: JSON, or the `data:` of a server-sent
/// event (a server with sessions answers a POST with a stream whose first
/// event only primes it).
fn message(bytes: &[u8]) -> Value {
    let text = String::from_utf8_lossy(bytes);
    serde_json::from_str(&text).unwrap_or_else(|_| {
        text.lines()
            .filter_map(|l| l.strip_prefix("data:"))
            .find_map(|d| serde_json::from_str::<Value>(d.trim()).ok())
            .unwrap_or_else(|| panic!("no JSON-RPC message in {text}"))
    })
}

async fn through(host: &Host, tool: &str, label: &str, calls: usize) -> (Duration, Duration) {
    let mut samples = Vec::with_capacity(calls);
    for i in 0..calls + calls / 10 {
        let started = Instant::now();
        let outcome = host
            .call_tool(ToolRequest {
                name: tool.into(),
                input: json!({"text": "hello"}),
                call_id: format!("c{i}"),
                turn: 0,
            })
            .await;
        let took = started.elapsed();
        assert_eq!(
            (outcome.status, outcome.output.as_str()),
            (ToolStatus::Ok, "hello"),
            "{outcome:?}"
        );
        if i >= calls / 10 {
            samples.push(took);
        }
    }
    report(label, samples)
}

/// Yoi's cost by pairs: each round makes the call straight to the server,
/// then through Yoi, and keeps the difference, so both see the same
/// machine at the same moment. p50 and p99 of the differences, in µs.
async fn paired(d: &Direct, host: &Host, label: &str, calls: usize) -> (f64, f64) {
    let mut diffs = Vec::with_capacity(calls);
    for i in 0..calls + calls / 10 {
        let t0 = Instant::now();
        let text = d.call(2_000_000 + i as u64, "hello").await;
        let straight = t0.elapsed();
        assert_eq!(text, "hello");
        let t1 = Instant::now();
        let outcome = host
            .call_tool(ToolRequest {
                name: "bench.echo".into(),
                input: json!({"text": "hello"}),
                call_id: format!("p{i}"),
                turn: 0,
            })
            .await;
        let through = t1.elapsed();
        assert_eq!(outcome.status, ToolStatus::Ok, "{}", outcome.output);
        if i >= calls / 10 {
            diffs.push((through.as_secs_f64() - straight.as_secs_f64()) * 1e6);
        }
    }
    diffs.sort_by(f64::total_cmp);
    let at = |p: f64| diffs[(((diffs.len() - 1) as f64) * p).round() as usize];
    let (p50, p99) = (at(0.5), at(0.99));
    println!(
        "{label:<36} p50 {p50:>+7.1} µs  p99 {p99:>+7.1} µs  ({} pairs)",
        diffs.len()
    );
    (p50, p99)
}

fn main() {
    // `cargo bench` passes `--bench`; this is not criterion.
    let calls: usize = std::env::var("YOI_BENCH_CALLS")
        .ok()
        .and_then(|c| c.parse().ok())
        .unwrap_or(5000);
    let runtime = if std::env::var_os("YOI_BENCH_ONE_THREAD").is_some() {
        tokio::runtime::Builder::new_current_thread()
    } else {
        let mut b = tokio::runtime::Builder::new_multi_thread();
        b.worker_threads(2);
        b
    }
    .enable_all()
    .build()
    .expect("runtime");
    let home = tempfile::tempdir().expect("registry");
    let registry = Arc::new(Registry::open(home.path()).expect("registry"));
    runtime.block_on(async {
        let url = serve().await;
        let endpoint = McpEndpoint::Http { url: url.clone() };
        let list = fetch_mcp_tools(
            &endpoint,
            None,
            &GatewayOptions::default(),
            Duration::from_secs(5),
            "bench",
        )
        .await
        .expect("fetch");
        registry
            .add_mcp_server(
                &NewMcpServer {
                    name: "bench".into(),
                    endpoint,
                    token: None,
                },
                &list,
                "bench",
            )
            .expect("add");

        let straight = Arc::new(Direct::open(&url).await);
        let (direct_p50, direct_p99) = direct(&straight, calls).await;
        let bare = Host::builder()
            .registry(Arc::clone(&registry))
            .build()
            .expect("host");
        // The same request made by a native tool: Yoi's tool path around
        // a plain HTTP client, without the SDK's.
        let id = Arc::new(std::sync::atomic::AtomicU64::new(1_000_000));
        let for_tool = Arc::clone(&straight);
        bare.register_tool(NativeTool::new(
            "native_echo",
            "Echoes through a plain HTTP client.",
            json!({"type": "object", "properties": {"text": {"type": "string"}}}),
            move |input| {
                let (d, id) = (Arc::clone(&for_tool), Arc::clone(&id));
                async move {
                    let n = id.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    Ok(d.call(n, input["text"].as_str().unwrap_or_default()).await)
                }
            },
        ))
        .expect("native tool");
        through(
            &bare,
            "native_echo",
            "  a native tool making that request",
            calls,
        )
        .await;
        bare.register_tool(NativeTool::new(
            "noop",
            "Answers at once.",
            json!({"type": "object"}),
            |_| async { Ok("hello".to_owned()) },
        ))
        .expect("noop");
        through(&bare, "noop", "  a native tool answering at once", calls).await;
        let (bare_p50, bare_p99) =
            through(&bare, "bench.echo", "through Yoi, no plugin", calls).await;
        let hooked = Host::builder()
            .registry(Arc::clone(&registry))
            .plugin_folders(vec![example("guard"), example("redact")], false)
            .build()
            .expect("host");
        let (hooked_p50, hooked_p99) = through(
            &hooked,
            "bench.echo",
            "through Yoi, guard and redact",
            calls,
        )
        .await;
        let _ = (
            direct_p50, direct_p99, bare_p50, bare_p99, hooked_p50, hooked_p99,
        );
        println!("Yoi's cost, call by call (through Yoi minus straight to the server):");
        paired(&straight, &bare, "  no plugin", calls).await;
        paired(
            &straight,
            &hooked,
            "  guard and redact (three hooks)",
            calls,
        )
        .await;
    });
}
