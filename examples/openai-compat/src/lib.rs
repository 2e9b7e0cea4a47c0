//! OpenAI-compatible provider: serves completions from any service that
//! speaks the OpenAI chat completions wire format (OpenAI itself, vLLM,
//! llama.cpp's server, Ollama's `/v1`, ...). Streaming answers arrive as
//! server-sent events and reach the embedder chunk by chunk.
//!
//! The service's address is the `base_url` setting; the key is the
//! `OPENAI_API_KEY` secret; both need the operator's grants.

use std::collections::BTreeMap;

use serde::Deserialize;
use serde_json::{Value, json};
use yoi_pdk::http;
use yoi_pdk::provider::{
    self, Completion, FinishReason, Provider, RateLimit, Request, Role, Sink, ToolCall, Usage,
};

struct OpenAiCompat;

impl Provider for OpenAiCompat {
    fn complete(_name: &str, request: Request, sink: &Sink) -> Result<Completion, provider::Error> {
        let base: String =
            yoi_pdk::config::get("base_url")?.unwrap_or_else(|| "https://api.openai.com/v1".into());
        let key = yoi_pdk::secrets::get("OPENAI_API_KEY")?;
        let url = format!("{}/chat/completions", base.trim_end_matches('/'));
        let http_request = http::Request::post(url)
            .header("authorization", format!("Bearer {key}"))
            .header(
                "accept",
                if request.stream {
                    "text/event-stream"
                } else {
                    "application/json"
                },
            )
            .json(&body(&request))?;
        if request.stream {
            streamed(http_request, &request, sink)
        } else {
            whole(http_request, &request)
        }
    }
}

yoi_pdk::register!(provider: OpenAiCompat);

/// The request in the service's terms.
fn body(request: &Request) -> Value {
    let messages: Vec<Value> = request
        .messages
        .iter()
        .map(|m| {
            let mut message = json!({
                "role": match m.role {
                    Role::System => "system",
                    Role::User => "user",
                    Role::Assistant => "assistant",
                    Role::Tool => "tool",
                },
                "content": m.content,
            });
            if !m.tool_calls.is_empty() {
                message["tool_calls"] = m
                    .tool_calls
                    .iter()
                    .map(|c| json!({"id": c.id, "type": "function", "function": {"name": c.name, "arguments": c.arguments}}))
                    .collect();
            }
            if let Some(id) = &m.tool_call_id {
                message["tool_call_id"] = json!(id);
            }
            message
        })
        .collect();
    let mut body = json!({
        "model": request.model,
        "messages": messages,
        "stream": request.stream,
    });
    if request.stream {
        body["stream_options"] = json!({"include_usage": true});
    }
    if !request.tools.is_empty() {
        body["tools"] = request
            .tools
            .iter()
            .map(|t| {
                let parameters: Value =
                    serde_json::from_str(&t.input_schema).unwrap_or_else(|_| json!({"type": "object"}));
                json!({"type": "function", "function": {"name": t.name, "description": t.description, "parameters": parameters}})
            })
            .collect();
    }
    if let Some(t) = request.temperature {
        body["temperature"] = json!(t);
    }
    if let Some(n) = request.max_tokens {
        body["max_tokens"] = json!(n);
    }
    if !request.stop.is_empty() {
        body["stop"] = json!(request.stop);
    }
    body
}

/// A failed answer as the host's typed error.
fn failure(status: u16, retry_after: Option<&str>, body: &[u8]) -> provider::Error {
    let text = String::from_utf8_lossy(body);
    let message = serde_json::from_slice::<Value>(body)
        .ok()
        .and_then(|v| v["error"]["message"].as_str().map(str::to_owned))
        .unwrap_or_else(|| text.chars().take(500).collect());
    let message = format!("the service answered {status}: {message}");
    match status {
        429 => provider::Error::RateLimited(RateLimit {
            retry_after_ms: retry_after
                .and_then(|s| s.trim().parse::<f64>().ok())
                .map(|secs| (secs * 1000.0) as u64),
            message,
        }),
        401 | 403 => provider::Error::Auth(message),
        400 | 404 | 413 | 422 => provider::Error::BadRequest(message),
        500..=599 => provider::Error::Unavailable(message),
        _ => provider::Error::Other(message),
    }
}

fn finish_reason(reason: Option<&str>) -> FinishReason {
    match reason {
        Some("stop") | None => FinishReason::Stop,
        Some("length") => FinishReason::Length,
        Some("tool_calls") | Some("function_call") => FinishReason::ToolCalls,
        Some("content_filter") => FinishReason::ContentFilter,
        Some(_) => FinishReason::Other,
    }
}

#[derive(Deserialize, Default)]
struct WireUsage {
    #[serde(default)]
    prompt_tokens: u64,
    #[serde(default)]
    completion_tokens: u64,
}

impl From<WireUsage> for Usage {
    fn from(u: WireUsage) -> Usage {
        Usage {
            input_tokens: u.prompt_tokens,
            output_tokens: u.completion_tokens,
        }
    }
}

/// The whole answer in one response.
fn whole(http_request: http::Request, request: &Request) -> Result<Completion, provider::Error> {
    let response = http_request.send()?;
    if !response.is_success() {
        return Err(failure(
            response.status,
            response.header("retry-after"),
            &response.body,
        ));
    }
    let v: Value = response
        .json()
        .map_err(|e| provider::Error::Other(e.to_string()))?;
    let choice = &v["choices"][0];
    let tool_calls = choice["message"]["tool_calls"]
        .as_array()
        .map(|calls| {
            calls
                .iter()
                .map(|c| ToolCall {
                    id: c["id"].as_str().unwrap_or_default().to_owned(),
                    name: c["function"]["name"]
                        .as_str()
                        .unwrap_or_default()
                        .to_owned(),
                    arguments: c["function"]["arguments"]
                        .as_str()
                        .unwrap_or("{}")
                        .to_owned(),
                })
                .collect()
        })
        .unwrap_or_default();
    Ok(Completion {
        model: v["model"].as_str().unwrap_or(&request.model).to_owned(),
        content: choice["message"]["content"]
            .as_str()
            .unwrap_or_default()
            .to_owned(),
        tool_calls,
        finish_reason: finish_reason(choice["finish_reason"].as_str()),
        usage: serde_json::from_value::<WireUsage>(v["usage"].clone())
            .unwrap_or_default()
            .into(),
    })
}

/// A tool call assembled from its streamed fragments.
#[derive(Default)]
struct Partial {
    id: String,
    name: String,
    arguments: String,
}

/// The answer as server-sent events, each text delta handed to the sink
/// as it arrives.
fn streamed(
    http_request: http::Request,
    request: &Request,
    sink: &Sink,
) -> Result<Completion, provider::Error> {
    let mut stream = http_request.open()?;
    if !stream.is_success() {
        let retry_after = stream.header("retry-after").map(str::to_owned);
        let body = stream.read_to_end()?;
        return Err(failure(stream.status, retry_after.as_deref(), &body));
    }
    let mut model = request.model.clone();
    let mut content = String::new();
    let mut calls: BTreeMap<u64, Partial> = BTreeMap::new();
    let mut reason = None;
    let mut usage = Usage {
        input_tokens: 0,
        output_tokens: 0,
    };
    let mut listening = true;
    for event in stream.events() {
        let event = event?;
        if event.data == "[DONE]" {
            break;
        }
        let v: Value = serde_json::from_str(&event.data).map_err(|e| {
            provider::Error::Other(format!("the service sent an event that is not JSON: {e}"))
        })?;
        if let Some(m) = v["model"].as_str() {
            model = m.to_owned();
        }
        if let Ok(u) = serde_json::from_value::<WireUsage>(v["usage"].clone()) {
            usage = u.into();
        }
        let Some(choice) = v["choices"].get(0) else {
            continue;
        };
        if let Some(r) = choice["finish_reason"].as_str() {
            reason = Some(r.to_owned());
        }
        let delta = &choice["delta"];
        if let Some(text) = delta["content"].as_str().filter(|t| !t.is_empty()) {
            content.push_str(text);
            if listening {
                listening = sink.text(text);
            }
        }
        for fragment in delta["tool_calls"].as_array().into_iter().flatten() {
            let call = calls
                .entry(fragment["index"].as_u64().unwrap_or(0))
                .or_default();
            if let Some(id) = fragment["id"].as_str() {
                call.id = id.to_owned();
            }
            if let Some(name) = fragment["function"]["name"].as_str() {
                call.name.push_str(name);
            }
            if let Some(args) = fragment["function"]["arguments"].as_str() {
                call.arguments.push_str(args);
            }
        }
        if !listening {
            // The embedder stopped reading: return what there is.
            break;
        }
    }
    let tool_calls: Vec<ToolCall> = calls
        .into_values()
        .map(|c| ToolCall {
            id: c.id,
            name: c.name,
            arguments: c.arguments,
        })
        .collect();
    for call in &tool_calls {
        if listening {
            listening = sink.tool_call(call.clone());
        }
    }
    Ok(Completion {
        model,
        content,
        tool_calls,
        finish_reason: finish_reason(reason.as_deref()),
        usage,
    })
}
