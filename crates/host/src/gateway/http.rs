//! The HTTP side of the MCP client: the SDK's Streamable HTTP transport
//! over the `https` API's guarded client, so a server is reached only at
//! the address its operator wrote: names that resolve to internal
//! addresses are refused (an IP written out, or `localhost`, is what the
//! operator chose), no redirect is followed, no proxy is used, and no
//! answer is read past the gateway's size limit (a JSON body, or the whole
//! event stream that carries an answer).
//!
//! The SDK opens the session (the `initialize` handshake, the protocol
//! revision) and lists tools. A `tools/call` is then one POST made here,
//! in the session the SDK opened, with the headers and request `_meta` it
//! sends: the SDK's transport worker costs a call more than 100 µs of task
//! hops and typed decoding (docs/BENCHMARKS.md), the POST itself a few.

use std::collections::HashMap;
use std::sync::Arc;

use bytes::Bytes;
use futures_util::stream::{self, BoxStream, StreamExt};
use reqwest::header::{ACCEPT, CONTENT_TYPE, HeaderName, HeaderValue};
use rmcp::model::{ClientJsonRpcMessage, ServerJsonRpcMessage};
use rmcp::transport::streamable_http_client::{
    SseError, StreamableHttpClient, StreamableHttpError, StreamableHttpPostResponse,
};
use sse_stream::{Sse, SseStream};

use crate::api::https::{GuardedResolver, PrivateAddress};

/// The session header of Streamable HTTP.
const SESSION_HEADER: &str = "mcp-session-id";
const JSON: &str = "application/json";
const EVENT_STREAM: &str = "text/event-stream";
/// How much of an error page is quoted back.
const ERROR_PREFIX: usize = 512;

type HttpError = StreamableHttpError<reqwest::Error>;

/// The gateway's HTTP client for one server.
#[derive(Clone)]
pub(crate) struct GatewayHttp {
    client: reqwest::Client,
    max_bytes: usize,
    /// What the SDK's requests carry, for calls made here.
    seen: Arc<std::sync::Mutex<Seen>>,
}

/// The session as the SDK's requests show it.
#[derive(Default)]
struct Seen {
    uri: Option<Arc<str>>,
    session: Option<Arc<str>>,
    token: Option<String>,
    headers: HashMap<HeaderName, HeaderValue>,
    /// The `_meta` of its requests (the 2026-07-28 revision carries the
    /// protocol revision and client there), without its progress token.
    meta: Option<serde_json::Value>,
}

/// How a call made here ended.
pub(crate) enum Posted {
    /// The `result` of the answer.
    Result(serde_json::Value),
    /// A JSON-RPC error: its message.
    Error(String),
    /// The session is gone (the server answered 404): nothing was run;
    /// the SDK reopens it.
    Expired,
}

/// An answer larger than the gateway reads.
#[derive(Debug)]
pub(crate) struct TooLarge(pub(crate) usize);

impl std::fmt::Display for TooLarge {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "the server's answer is larger than the gateway's limit of {} bytes",
            self.0
        )
    }
}

impl std::error::Error for TooLarge {}

impl GatewayHttp {
    /// A client for `url`'s server: `localhost` may resolve to loopback
    /// (the operator wrote it); other names only to public addresses.
    pub(crate) fn new(
        url: &url::Url,
        connect_timeout: std::time::Duration,
        max_bytes: usize,
    ) -> Result<Self, String> {
        let loopback_names = match url.host_str() {
            Some(h) if h.eq_ignore_ascii_case("localhost") => vec!["localhost".to_owned()],
            _ => Vec::new(),
        };
        let client = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .no_proxy()
            .dns_resolver(Arc::new(GuardedResolver::new(loopback_names)))
            .connect_timeout(connect_timeout)
            .user_agent(concat!("yoi-gateway/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| format!("cannot start the HTTP client: {e}"))?;
        Ok(GatewayHttp {
            client,
            max_bytes,
            seen: Arc::default(),
        })
    }

    /// Notes what a request of the SDK's carries.
    fn note(
        &self,
        uri: &Arc<str>,
        message: &ClientJsonRpcMessage,
        session: Option<&Arc<str>>,
        token: Option<&String>,
        headers: &HashMap<HeaderName, HeaderValue>,
    ) {
        let mut seen = self.seen.lock().unwrap_or_else(|p| p.into_inner());
        seen.uri = Some(Arc::clone(uri));
        seen.session = session.cloned();
        seen.token = token.cloned();
        seen.headers.clone_from(headers);
        if let ClientJsonRpcMessage::Request(_) = message
            && let Ok(v) = serde_json::to_value(message)
        {
            seen.meta = v["params"]["_meta"].as_object().map(|m| {
                let mut m = m.clone();
                m.remove("progressToken");
                serde_json::Value::Object(m)
            });
        }
    }

    /// Whether the SDK opened a session calls can be made in.
    pub(crate) fn ready(&self) -> bool {
        self.seen
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .uri
            .is_some()
    }

    /// Calls `tool` with one POST in the SDK's session. Messages the
    /// server sends on the answer's stream before the answer: a request is
    /// answered (`ping` with an empty result, anything else as a method
    /// Yoi does not offer); `notifications/tools/list_changed` sets
    /// `changed`; other notifications are ignored.
    pub(crate) async fn call_tool(
        &self,
        id: &str,
        tool: &str,
        arguments: &serde_json::Value,
        changed: &std::sync::atomic::AtomicBool,
    ) -> Result<Posted, String> {
        let (uri, session, token, headers, meta) = {
            let seen = self.seen.lock().unwrap_or_else(|p| p.into_inner());
            let Some(uri) = seen.uri.clone() else {
                return Err("no session is open".into());
            };
            (
                uri,
                seen.session.clone(),
                seen.token.clone(),
                seen.headers.clone(),
                seen.meta.clone(),
            )
        };
        let mut params = serde_json::json!({"name": tool, "arguments": arguments});
        if let Some(meta) = meta {
            params["_meta"] = meta;
        }
        let body = serde_json::json!({"jsonrpc": "2.0", "id": id, "method": "tools/call", "params": params});
        let response = self
            .send(
                &uri,
                &body,
                session.as_deref(),
                token.clone(),
                headers.clone(),
            )
            .await?;
        let status = response.status();
        if status == reqwest::StatusCode::NOT_FOUND && session.is_some() {
            return Ok(Posted::Expired);
        }
        if !status.is_success() {
            let body = read_capped(response, self.max_bytes)
                .await
                .map_err(|e| e.to_string())?;
            if let Ok(v) = serde_json::from_slice::<serde_json::Value>(&body)
                && let Some(e) = v.get("error")
            {
                return Ok(Posted::Error(error_text(e)));
            }
            let text = String::from_utf8_lossy(&body[..body.len().min(ERROR_PREFIX)]).into_owned();
            return Err(format!(
                "HTTP {status}: {}",
                yoi_registry::clean_text(&text)
            ));
        }
        let content_type = response.headers().get(CONTENT_TYPE).cloned();
        if is(content_type.as_ref(), JSON) {
            let body = read_capped(response, self.max_bytes)
                .await
                .map_err(|e| e.to_string())?;
            let v: serde_json::Value = serde_json::from_slice(&body)
                .map_err(|e| format!("the answer is not JSON: {e}"))?;
            return answer_of(&v, id).ok_or_else(|| "the answer is not the call's".into());
        }
        if !is(content_type.as_ref(), EVENT_STREAM) {
            return Err(format!(
                "the answer's content type is {:?}, neither JSON nor an event stream",
                content_type
                    .as_ref()
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or("missing")
            ));
        }
        let mut events = SseStream::from_bytes_stream(capped(response, self.max_bytes));
        while let Some(event) = events.next().await {
            let event = event.map_err(|e| {
                if std::error::Error::source(&e).is_some_and(|s| s.is::<TooLarge>())
                    || e.to_string().contains("larger than the gateway")
                {
                    TooLarge(self.max_bytes).to_string()
                } else {
                    format!("the event stream broke: {e}")
                }
            })?;
            let Some(data) = event.data.filter(|d| !d.trim().is_empty()) else {
                continue;
            };
            let Ok(v) = serde_json::from_str::<serde_json::Value>(&data) else {
                continue;
            };
            if let Some(done) = answer_of(&v, id) {
                return Ok(done);
            }
            match (v.get("method").and_then(|m| m.as_str()), v.get("id")) {
                (Some(method), Some(request)) => {
                    let reply = if method == "ping" {
                        serde_json::json!({"jsonrpc": "2.0", "id": request, "result": {}})
                    } else {
                        serde_json::json!({"jsonrpc": "2.0", "id": request, "error": {
                            "code": -32601,
                            "message": format!("Yoi's gateway does not offer `{method}`")}})
                    };
                    // An answer the server may not wait for: its failure
                    // is the server's to report.
                    if let Ok(r) = self
                        .send(
                            &uri,
                            &reply,
                            session.as_deref(),
                            token.clone(),
                            headers.clone(),
                        )
                        .await
                    {
                        let _ = r.bytes().await;
                    }
                }
                (Some("notifications/tools/list_changed"), None) => {
                    changed.store(true, std::sync::atomic::Ordering::SeqCst);
                }
                _ => {}
            }
        }
        Err("the event stream ended without the call's answer".into())
    }

    async fn send(
        &self,
        uri: &str,
        body: &serde_json::Value,
        session: Option<&str>,
        token: Option<String>,
        headers: HashMap<HeaderName, HeaderValue>,
    ) -> Result<reqwest::Response, String> {
        let request = self
            .client
            .post(uri)
            .header(ACCEPT, format!("{JSON}, {EVENT_STREAM}"))
            .header(CONTENT_TYPE, JSON);
        with_headers(request, session, token, headers)
            .body(body.to_string())
            .send()
            .await
            .map_err(|e| match client_error(e) {
                StreamableHttpError::UnexpectedServerResponse(text) => text.into_owned(),
                other => other.to_string(),
            })
    }
}

/// The outcome in a JSON-RPC message that answers `id`, if it does.
fn answer_of(v: &serde_json::Value, id: &str) -> Option<Posted> {
    if v.get("id").and_then(|i| i.as_str()) != Some(id) || v.get("method").is_some() {
        return None;
    }
    if let Some(result) = v.get("result") {
        return Some(Posted::Result(result.clone()));
    }
    Some(Posted::Error(v.get("error").map_or_else(
        || "an answer with neither result nor error".into(),
        error_text,
    )))
}

fn error_text(e: &serde_json::Value) -> String {
    let message = e
        .get("message")
        .and_then(|m| m.as_str())
        .unwrap_or("an error");
    let code = e
        .get("code")
        .and_then(serde_json::Value::as_i64)
        .unwrap_or(0);
    yoi_registry::clean_text(&format!("{message} ({code})"))
}

/// The body as a stream that fails once more than `max` bytes came.
fn capped(
    response: reqwest::Response,
    max: usize,
) -> BoxStream<'static, Result<Bytes, std::io::Error>> {
    let body = response.bytes_stream().boxed();
    stream::unfold(
        (body, 0usize, false),
        move |(mut body, total, done)| async move {
            if done {
                return None;
            }
            match body.next().await {
                None => None,
                Some(Err(e)) => Some((Err(std::io::Error::other(e)), (body, total, true))),
                Some(Ok(chunk)) => {
                    let total = total.saturating_add(chunk.len());
                    if total > max {
                        Some((
                            Err(std::io::Error::other(TooLarge(max))),
                            (body, total, true),
                        ))
                    } else {
                        Some((Ok(chunk), (body, total, false)))
                    }
                }
            }
        },
    )
    .boxed()
}

/// The whole body, at most `max` bytes.
async fn read_capped(response: reqwest::Response, max: usize) -> Result<Vec<u8>, HttpError> {
    if response.content_length().is_some_and(|n| n > max as u64) {
        return Err(StreamableHttpError::ResponseBodyTooLarge { max_size: max });
    }
    let mut body = capped(response, max);
    let mut out = Vec::new();
    while let Some(chunk) = body.next().await {
        match chunk {
            Ok(c) => out.extend_from_slice(&c),
            Err(e) if e.get_ref().is_some_and(|e| e.is::<TooLarge>()) => {
                return Err(StreamableHttpError::ResponseBodyTooLarge { max_size: max });
            }
            Err(e) => return Err(StreamableHttpError::Io(e)),
        }
    }
    Ok(out)
}

fn is(content_type: Option<&HeaderValue>, mime: &str) -> bool {
    content_type
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|v| v.trim().eq_ignore_ascii_case(mime))
}

fn with_headers(
    mut request: reqwest::RequestBuilder,
    session: Option<&str>,
    token: Option<String>,
    custom: HashMap<HeaderName, HeaderValue>,
) -> reqwest::RequestBuilder {
    if let Some(s) = session {
        request = request.header(SESSION_HEADER, s);
    }
    if let Some(t) = token {
        request = request.bearer_auth(t);
    }
    for (name, value) in custom {
        request = request.header(name, value);
    }
    request
}

/// A client error in words, with its causes: the SDK keeps only the text
/// of its client's errors, so a refused address must be told here.
fn client_error(e: reqwest::Error) -> HttpError {
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(&e);
    while let Some(err) = source {
        if let Some(p) = err.downcast_ref::<PrivateAddress>() {
            return StreamableHttpError::UnexpectedServerResponse(
                format!(
                    "{p}; write the server's address out (an IP, or http://localhost) to reach it"
                )
                .into(),
            );
        }
        source = err.source();
    }
    let e = e.without_url();
    let mut text = e.to_string();
    let mut source = std::error::Error::source(&e);
    while let Some(err) = source {
        text = format!("{text}: {err}");
        source = err.source();
    }
    StreamableHttpError::UnexpectedServerResponse(text.into())
}

impl StreamableHttpClient for GatewayHttp {
    type Error = reqwest::Error;

    async fn post_message(
        &self,
        uri: Arc<str>,
        message: ClientJsonRpcMessage,
        session_id: Option<Arc<str>>,
        auth_header: Option<String>,
        custom_headers: HashMap<HeaderName, HeaderValue>,
    ) -> Result<StreamableHttpPostResponse, HttpError> {
        self.note(
            &uri,
            &message,
            session_id.as_ref(),
            auth_header.as_ref(),
            &custom_headers,
        );
        let request = self
            .client
            .post(uri.as_ref())
            .header(ACCEPT, format!("{JSON}, {EVENT_STREAM}"))
            .header(CONTENT_TYPE, JSON);
        let body = serde_json::to_vec(&message)?;
        let response = with_headers(request, session_id.as_deref(), auth_header, custom_headers)
            .body(body)
            .send()
            .await
            .map_err(client_error)?;
        let status = response.status();
        if status == reqwest::StatusCode::ACCEPTED || status == reqwest::StatusCode::NO_CONTENT {
            return Ok(StreamableHttpPostResponse::Accepted);
        }
        if status == reqwest::StatusCode::NOT_FOUND && session_id.is_some() {
            return Err(StreamableHttpError::SessionExpired);
        }
        let awaits_nothing = !matches!(message, ClientJsonRpcMessage::Request(_));
        let session = response
            .headers()
            .get(SESSION_HEADER)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let content_type = response.headers().get(CONTENT_TYPE).cloned();
        if status.is_redirection() {
            let to = response
                .headers()
                .get(reqwest::header::LOCATION)
                .and_then(|v| v.to_str().ok())
                .unwrap_or("elsewhere");
            return Err(StreamableHttpError::UnexpectedServerResponse(
                format!(
                    "the server redirects ({status}) to {}; Yoi follows no redirect: add the server by its final URL",
                    crate::api::https::shown_text(to)
                )
                .into(),
            ));
        }
        if !status.is_success() {
            // A JSON-RPC error keeps its meaning; anything else is quoted
            // short.
            let body = read_capped(response, self.max_bytes).await?;
            if is(content_type.as_ref(), JSON)
                && let Ok(message @ ServerJsonRpcMessage::Error(_)) =
                    serde_json::from_slice::<ServerJsonRpcMessage>(&body)
            {
                return Ok(StreamableHttpPostResponse::Json(message, session));
            }
            let text = String::from_utf8_lossy(&body[..body.len().min(ERROR_PREFIX)]).into_owned();
            return Err(StreamableHttpError::UnexpectedServerResponse(
                format!("HTTP {status}: {}", yoi_registry::clean_text(&text)).into(),
            ));
        }
        if is(content_type.as_ref(), EVENT_STREAM) {
            let events = SseStream::from_bytes_stream(capped(response, self.max_bytes)).boxed();
            return Ok(StreamableHttpPostResponse::Sse(events, session));
        }
        if is(content_type.as_ref(), JSON) {
            let body = read_capped(response, self.max_bytes).await?;
            return match serde_json::from_slice::<ServerJsonRpcMessage>(&body) {
                Ok(message) => Ok(StreamableHttpPostResponse::Json(message, session)),
                Err(_) if awaits_nothing => Ok(StreamableHttpPostResponse::Accepted),
                Err(e) => Err(StreamableHttpError::UnexpectedServerResponse(
                    format!("the answer is not a JSON-RPC message: {e}").into(),
                )),
            };
        }
        if awaits_nothing {
            return Ok(StreamableHttpPostResponse::Accepted);
        }
        Err(StreamableHttpError::UnexpectedContentType(
            content_type.and_then(|v| v.to_str().ok().map(str::to_owned)),
        ))
    }

    async fn delete_session(
        &self,
        uri: Arc<str>,
        session_id: Arc<str>,
        auth_header: Option<String>,
        custom_headers: HashMap<HeaderName, HeaderValue>,
    ) -> Result<(), HttpError> {
        let request = self.client.delete(uri.as_ref());
        // Ending a session is a courtesy: whatever the server answers, the
        // session is over for Yoi.
        let _ = with_headers(request, Some(&session_id), auth_header, custom_headers)
            .send()
            .await;
        Ok(())
    }

    async fn get_stream(
        &self,
        _uri: Arc<str>,
        _session_id: Option<Arc<str>>,
        _last_event_id: Option<String>,
        _auth_header: Option<String>,
        _custom_headers: HashMap<HeaderName, HeaderValue>,
    ) -> Result<BoxStream<'static, Result<Sse, SseError>>, HttpError> {
        // No standing stream: a server's messages arrive on the streams of
        // Yoi's own requests, and a changed tool list is found by listing
        // again (docs/mcp.md, "When a server changes its tools").
        Err(StreamableHttpError::ServerDoesNotSupportSse)
    }
}
