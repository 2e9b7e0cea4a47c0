//! Model providers: `examples/openai-compat` against a loopback stand-in
//! of the OpenAI chat completions API, `examples/hostile/surfaces` as a
//! provider that traps, loops or fails on demand, and native providers
//! beside them. Routing, streaming, the model hooks around every call, and
//! the fallback policy.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use serde_json::json;
use yoi_host::{
    Chunk, Completion, CompletionError, CompletionRequest, Fallback, FinishReason, HookContext,
    Host, Message, NativeProvider, ProviderError, ProviderSource, Role, Status, Usage,
};

use crate::chat::{ChatReply, ChatStub};
use crate::{altered_copy, builder, example};

const KEY: &str = "sk-test-0123456789";

fn secrets() -> BTreeMap<String, String> {
    BTreeMap::from([("OPENAI_API_KEY".to_owned(), KEY.to_owned())])
}

/// `examples/openai-compat` under `id`, serving `models`, pointed at
/// `stub` with its key granted.
fn load_openai(host: &Host, id: &str, models: &str, stub: &ChatStub) -> tempfile::TempDir {
    let dir = altered_copy("openai-compat", |m| {
        m.replace("id = \"example.openai-compat\"", &format!("id = \"{id}\""))
            .replace(
                "models = [\"gpt-*\", \"o1*\", \"o3*\", \"local-*\"]",
                &format!("models = [{models}]"),
            )
            .replace(
                "https = [\"api.openai.com\", \"http://127.0.0.1:18452\"]",
                &format!("https = [\"http://127.0.0.1:{}\"]", stub.port),
            )
    });
    let grants = [
        format!("https:http://127.0.0.1:{}", stub.port),
        "secret:OPENAI_API_KEY".to_owned(),
    ];
    host.load_with_grants(dir.path(), &grants)
        .unwrap_or_else(|e| panic!("loading {id}: {e}"));
    let values = json!({ "base_url": stub.url() });
    host.configure(id, values.as_object().cloned().unwrap_or_default())
        .expect("base_url is a declared setting");
    dir
}

fn request(model: &str, text: &str) -> CompletionRequest {
    CompletionRequest {
        model: model.into(),
        messages: vec![
            Message::new(Role::System, "You are terse."),
            Message::new(Role::User, text),
        ],
        tools: Vec::new(),
        temperature: Some(0.2),
        max_tokens: Some(4096),
        stop: Vec::new(),
        turn: 0,
    }
}

fn delta(text: &str) -> String {
    json!({"model": "large-2-0613", "choices": [{"index": 0, "delta": {"content": text}, "finish_reason": null}]})
        .to_string()
}

fn usage_event() -> String {
    json!({"model": "large-2-0613", "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}],
           "usage": {"prompt_tokens": 31, "completion_tokens": 4}})
    .to_string()
}

fn surfaces(host: &Host) {
    host.load_with_grants(example("hostile/surfaces"), &["fs:obs:rw"])
        .expect("surfaces loads");
}

#[tokio::test]
#[ignore = "needs the example components: run `cargo xtask e2e`"]
async fn a_plugin_provider_streams_its_answer_between_the_model_hooks() {
    let stub = ChatStub::start(|_| ChatReply::Stream {
        events: vec![delta("Oslo "), delta("is "), delta("rainy."), usage_event()],
        gap: Duration::from_millis(150),
    });
    let host = builder().secrets(secrets()).build().expect("host");
    // Policy caps max_tokens at 1024 in `model.pre_call` and runs at
    // `model.post_call`: both around the plugin's call.
    host.load(example("policy")).expect("policy");
    let _dir = load_openai(&host, "acme.chat", "\"large-*\"", &stub);

    let (tx, mut rx) = tokio::sync::mpsc::channel(16);
    let started = Instant::now();
    let reader = tokio::spawn(async move {
        let mut got = Vec::new();
        while let Some(chunk) = rx.recv().await {
            got.push((chunk, started.elapsed()));
        }
        got
    });
    let outcome = host
        .complete_streaming(
            &HookContext::default(),
            request("large-2", "Weather in Oslo?"),
            tx,
        )
        .await;
    let finished = started.elapsed();
    let chunks = reader.await.expect("reader");

    let completion = outcome.result.as_ref().expect("an answer");
    assert_eq!(completion.content, "Oslo is rainy.");
    assert_eq!(completion.model, "large-2-0613");
    assert_eq!(completion.finish_reason, FinishReason::Stop);
    assert_eq!(
        (
            completion.usage.input_tokens,
            completion.usage.output_tokens
        ),
        (31, 4)
    );
    assert_eq!(outcome.provider.as_deref(), Some("acme.chat.chat"));
    let texts: Vec<&Chunk> = chunks.iter().map(|(c, _)| c).collect();
    assert_eq!(
        texts,
        [
            &Chunk::Text("Oslo ".into()),
            &Chunk::Text("is ".into()),
            &Chunk::Text("rainy.".into())
        ]
    );
    // Each chunk reached the embedder while the service was still sending.
    assert!(
        chunks[0].1 + Duration::from_millis(300) < finished,
        "first chunk at {:?}, answer at {finished:?}",
        chunks[0].1
    );

    // The hooks ran around the call: policy's cap reached the service.
    let points: Vec<(String, &str, Status)> = outcome
        .receipts
        .iter()
        .map(|r| (r.plugin.to_string(), r.point.as_str(), r.status))
        .collect();
    assert_eq!(
        points,
        [
            ("example.policy".into(), "model.pre_call", Status::Ok),
            ("example.policy".into(), "model.post_call", Status::Ok),
        ]
    );
    assert_eq!(outcome.receipts[0].changed, ["max_tokens"]);
    let seen = stub.seen.lock().unwrap().clone();
    assert_eq!(seen.len(), 1);
    let sent = &seen[0];
    assert_eq!(sent.path, "/v1/chat/completions");
    assert_eq!(
        sent.authorization.as_deref(),
        Some(&*format!("Bearer {KEY}"))
    );
    assert_eq!(sent.body["model"], "large-2");
    assert_eq!(sent.body["max_tokens"], 1024);
    assert_eq!(sent.body["stream"], true);
    assert_eq!(sent.body["messages"][1]["role"], "user");
    assert_eq!(sent.body["messages"][1]["content"], "Weather in Oslo?");
}

#[tokio::test]
#[ignore = "needs the example components: run `cargo xtask e2e`"]
async fn a_call_without_a_reader_gets_the_whole_answer_in_one_response() {
    let stub = ChatStub::start(|_| ChatReply::Whole {
        status: 200,
        headers: Vec::new(),
        body: json!({
            "model": "local-7b",
            "choices": [{"index": 0, "finish_reason": "tool_calls", "message": {
                "role": "assistant", "content": "",
                "tool_calls": [{"id": "call_1", "type": "function",
                    "function": {"name": "forecast", "arguments": "{\"city\":\"Oslo\"}"}}]}}],
            "usage": {"prompt_tokens": 12, "completion_tokens": 9}
        })
        .to_string(),
    });
    let host = builder().secrets(secrets()).build().expect("host");
    let _dir = load_openai(&host, "acme.chat", "\"local-*\"", &stub);
    let mut req = request("local-7b", "Weather?");
    req.tools = vec![yoi_host::ToolDefinition {
        name: "forecast".into(),
        description: "Weather for a city.".into(),
        input_schema: json!({"type": "object", "properties": {"city": {"type": "string"}}}),
    }];
    let outcome = host.complete(req).await;
    let completion = outcome.result.expect("an answer");
    assert_eq!(completion.finish_reason, FinishReason::ToolCalls);
    assert_eq!(completion.tool_calls[0].name, "forecast");
    assert_eq!(completion.tool_calls[0].arguments, "{\"city\":\"Oslo\"}");
    let sent = stub.seen.lock().unwrap()[0].body.clone();
    assert_eq!(sent["stream"], false);
    assert_eq!(sent["tools"][0]["function"]["name"], "forecast");
    assert_eq!(sent["tools"][0]["function"]["parameters"]["type"], "object");
}

#[tokio::test]
#[ignore = "needs the example components: run `cargo xtask e2e`"]
async fn an_unavailable_provider_falls_back_to_the_next_that_serves_the_model() {
    let down = ChatStub::start(|_| ChatReply::Whole {
        status: 503,
        headers: Vec::new(),
        body: json!({"error": {"message": "overloaded"}}).to_string(),
    });
    let up = ChatStub::start(|r| ChatReply::text(r, "fine"));
    let host = builder().secrets(secrets()).build().expect("host");
    let _a = load_openai(&host, "a.first", "\"large-*\"", &down);
    let _b = load_openai(&host, "b.second", "\"large-2\"", &up);
    let names: Vec<String> = host
        .providers_for("large-2", None)
        .into_iter()
        .map(|r| r.name)
        .collect();
    assert_eq!(names, ["a.first.chat", "b.second.chat"]);

    let outcome = host.complete(request("large-2", "ok?")).await;
    assert_eq!(outcome.result.expect("the second answers").content, "fine");
    assert_eq!(outcome.provider.as_deref(), Some("b.second.chat"));
    assert_eq!(outcome.attempts.len(), 2);
    let first = &outcome.attempts[0];
    assert_eq!(first.status, Status::Ok, "a typed error is an answer");
    assert!(
        matches!(&first.error, Some(ProviderError::Unavailable(m)) if m.contains("503") && m.contains("overloaded")),
        "{:?}",
        first.error
    );
}

#[tokio::test]
#[ignore = "needs the example components: run `cargo xtask e2e`"]
async fn a_trapping_or_looping_provider_falls_back_and_counts_toward_its_crash_guard() {
    let up = ChatStub::start(|r| ChatReply::text(r, "rescued"));
    let host = builder().secrets(secrets()).build().expect("host");
    surfaces(&host);
    let _b = load_openai(&host, "z.backup", "\"probe-*\"", &up);

    for (command, status) in [("panic", Status::Error), ("loop", Status::Timeout)] {
        let started = Instant::now();
        let outcome = host
            .complete(request("probe-1", &format!("#probe:{command}")))
            .await;
        assert_eq!(
            outcome.result.expect("the backup answers").content,
            "rescued"
        );
        let first = &outcome.attempts[0];
        assert_eq!(first.provider, "example.surfaces.probe");
        assert_eq!(first.status, status, "{command}: {:?}", first.error);
        assert!(matches!(first.error, Some(ProviderError::Unavailable(_))));
        // The loop is stopped at the provider's 500 ms limit.
        assert!(started.elapsed() < Duration::from_secs(3), "{command}");
    }

    // Without a fallback policy the failure is the answer.
    let strict = builder()
        .provider_fallback(Fallback::NEVER)
        .secrets(secrets())
        .build()
        .expect("host");
    surfaces(&strict);
    let _c = load_openai(&strict, "z.backup", "\"probe-*\"", &up);
    let outcome = strict.complete(request("probe-1", "#probe:panic")).await;
    match outcome.result {
        Err(CompletionError::Provider { provider, error }) => {
            assert_eq!(provider, "example.surfaces.probe");
            assert!(error.to_string().contains("trapped"), "{error}");
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(outcome.attempts.len(), 1);
}

#[tokio::test]
#[ignore = "needs the example components: run `cargo xtask e2e`"]
async fn rate_limits_and_auth_errors_reach_the_embedder_typed_without_fallback() {
    let limited = ChatStub::start(|_| ChatReply::Whole {
        status: 429,
        headers: vec![("retry-after".into(), "2".into())],
        body: json!({"error": {"message": "too many requests"}}).to_string(),
    });
    let host = builder().secrets(secrets()).build().expect("host");
    let _a = load_openai(&host, "a.first", "\"large-*\"", &limited);
    surfaces(&host);
    let outcome = host.complete(request("large-2", "hi")).await;
    match outcome.result {
        Err(CompletionError::Provider {
            error:
                ProviderError::RateLimited {
                    retry_after_ms,
                    message,
                },
            ..
        }) => {
            assert_eq!(retry_after_ms, Some(2000));
            assert!(message.contains("too many requests"), "{message}");
        }
        other => panic!("{other:?}"),
    }
    let outcome = host.complete(request("probe-1", "#probe:auth")).await;
    assert!(matches!(
        outcome.result,
        Err(CompletionError::Provider {
            error: ProviderError::Auth(_),
            ..
        })
    ));
}

#[tokio::test]
#[ignore = "needs the example components: run `cargo xtask e2e`"]
async fn native_providers_come_first_and_an_unknown_model_names_every_provider() {
    let host = builder().build().expect("host");
    surfaces(&host);
    let native = NativeProvider::new("house", &["probe-native"], |req, chunks| async move {
        chunks.send(Chunk::Text("from the house".into())).await;
        Ok(Completion {
            model: req.model,
            content: "from the house".into(),
            tool_calls: Vec::new(),
            finish_reason: FinishReason::Stop,
            usage: Usage {
                input_tokens: 1,
                output_tokens: 3,
                cost_usd: 0.5,
            },
        })
    })
    .expect("native provider");
    host.register_provider(native).expect("registered");
    let routes = host.providers_for("probe-native", None);
    assert_eq!(routes[0].name, "house");
    assert_eq!(routes[0].source, ProviderSource::Native);
    assert_eq!(routes[1].name, "example.surfaces.probe");

    let outcome = host.complete(request("probe-native", "hi")).await;
    assert_eq!(outcome.provider.as_deref(), Some("house"));
    assert_eq!(outcome.result.expect("answer").usage.cost_usd, 0.5);

    let outcome = host.complete(request("gpt-9", "hi")).await;
    match outcome.result {
        Err(CompletionError::NoProvider { model, known }) => {
            assert_eq!(model, "gpt-9");
            assert!(
                known.contains("house (probe-native)")
                    && known.contains("example.surfaces.probe (probe-*)"),
                "{known}"
            );
        }
        other => panic!("{other:?}"),
    }
    let bad = NativeProvider::new("a.b", &["x"], |_, _| async {
        Err(ProviderError::Other("x".into()))
    });
    assert!(bad.is_err(), "a `.` is reserved for plugin providers");
}

#[tokio::test]
#[ignore = "needs the example components: run `cargo xtask e2e`"]
async fn a_provider_without_a_grant_is_refused_with_the_fix_and_a_blocked_call_runs_nothing() {
    let stub = ChatStub::start(|_| ChatReply::Stream {
        events: vec![delta("never")],
        gap: Duration::ZERO,
    });
    let host = builder().secrets(secrets()).build().expect("host");
    let dir = altered_copy("openai-compat", |m| {
        m.replace(
            "https = [\"api.openai.com\", \"http://127.0.0.1:18452\"]",
            &format!("https = [\"http://127.0.0.1:{}\"]", stub.port),
        )
    });
    // The key is granted, the endpoint is not.
    host.load_with_grants(dir.path(), &["secret:OPENAI_API_KEY"])
        .expect("loads");
    let values = json!({ "base_url": stub.url() });
    host.configure(
        "example.openai-compat",
        values.as_object().cloned().unwrap_or_default(),
    )
    .expect("configured");
    let outcome = host.complete(request("gpt-4o", "hi")).await;
    let attempt = &outcome.attempts[0];
    assert_eq!(attempt.denials.len(), 1, "{attempt:?}");
    assert!(
        attempt.denials[0].fix.contains(&format!(
            "yoi grant example.openai-compat https:http://127.0.0.1:{}",
            stub.port
        )),
        "{:?}",
        attempt.denials[0]
    );
    assert!(matches!(
        outcome.result,
        Err(CompletionError::Provider {
            error: ProviderError::Auth(_),
            ..
        })
    ));
    assert!(stub.seen.lock().unwrap().is_empty(), "nothing was sent");

    // Policy blocks unapproved models before any provider runs.
    host.load(example("policy")).expect("policy");
    let outcome = host.complete(request("gpt-4o", "hi")).await;
    assert!(matches!(outcome.result, Err(CompletionError::Blocked(_))));
    assert!(outcome.attempts.is_empty());
}

#[tokio::test]
#[ignore = "needs the example components: run `cargo xtask e2e`"]
async fn an_embedder_that_stops_reading_stops_the_provider() {
    let host = builder().build().expect("host");
    surfaces(&host);
    let (tx, mut rx) = tokio::sync::mpsc::channel(1);
    let reader = tokio::spawn(async move {
        let mut n = 0;
        while rx.recv().await.is_some() {
            n += 1;
            if n == 5 {
                break; // drops the receiver
            }
        }
        n
    });
    let outcome = host
        .complete_streaming(
            &HookContext::default(),
            request("probe-1", "#probe:until-closed"),
            tx,
        )
        .await;
    assert_eq!(reader.await.expect("reader"), 5);
    let answer = outcome.result.expect("the provider returned what it had");
    assert!(
        answer.content.starts_with("stopped after"),
        "{}",
        answer.content
    );
}
