//! An example embedding of `yoi-host`: a scripted agent loop with a scripted
//! model, two native tools and the tools of the loaded plugins, that calls
//! every hook point in the order a real agent would and prints what each
//! plugin did. A stand-in weather service runs on 127.0.0.1:18451, so the
//! weather plugin's HTTPS calls never leave the machine. One model,
//! `local-chat`, is served by the `openai-compat` provider plugin from a
//! stand-in chat service on 127.0.0.1:18452, streaming; the `usage-meter`
//! observer totals every model call. The `chat-bridge` service bridges a
//! stand-in chat gateway (WebSocket, 127.0.0.1:18460) and signed webhooks
//! (the host's inbound listener) to work items and back.
//!
//! The host plays the operator too: it grants each plugin what its manifest
//! requests, and nothing more.
//!
//! ```text
//! cargo xtask demo
//! cargo run -p agent-host -- examples/guard examples/redact examples/policy examples/weather examples/notes examples/openai-compat examples/usage-meter examples/chat-bridge
//! ```

mod gateway;
mod openai;
mod weather;

use std::collections::HashMap;
use std::process::ExitCode;

use serde_json::{Value, json};
use yoi_host::{
    Chunk, Compacted, Compaction, CompletionRequest, CreatedWorkItem, Delivered, Delivery,
    DeliveryMode, Dispatch, HookContext, Host, HostStart, HostStop, Message, ModelCall,
    ModelResponse, NativeTool, NewWorkItem, Prompt, ProviderSource, Receipt, Role, Status,
    ToolRequest, ToolStatus,
};

/// What the scripted model does on a turn.
enum Turn {
    Tool(&'static str, Value),
    Answer(&'static str),
}

/// A work item the demo submits, with the model's script for it.
struct Script {
    title: &'static str,
    request: &'static str,
    model: &'static str,
    turns: Vec<Turn>,
}

fn scripts() -> Vec<Script> {
    vec![
        Script {
            title: "   Check the billing service   ",
            request: "Is billing healthy? Clean up the temp files too.",
            model: "large-2",
            turns: vec![
                Turn::Tool("fetch", json!({"url": "http://status.internal/billing"})),
                Turn::Tool("shell", json!({"cmd": "rm -rf /tmp/*"})),
                Turn::Answer(
                    "Billing is up (200). I did not clean the temp files: the shell tool is \
                     not allowed. Its config still uses password=hunter2, rotate it.",
                ),
            ],
        },
        Script {
            title: "  ",
            request: "(an item without a title)",
            model: "large-2",
            turns: vec![],
        },
        Script {
            title: "Plan the Oslo trip",
            request: "What is the weather in Oslo? Note it down. And in Atlantis?",
            model: "large-2",
            turns: vec![
                Turn::Tool("example.weather.forecast", json!({"city": "Oslo"})),
                Turn::Tool(
                    "example.notes.add_note",
                    json!({"title": "Oslo trip", "text": "Pack a rain jacket."}),
                ),
                Turn::Tool("example.notes.list_notes", json!({})),
                Turn::Tool("example.weather.forecast", json!({"town": "Atlantis"})),
                Turn::Tool("example.weather.forecast", json!({"city": "Atlantis"})),
                Turn::Answer(
                    "Oslo: light rain, 7 °C. I saved a note to pack a rain jacket. \
                     I could not get a forecast for Atlantis.",
                ),
            ],
        },
        Script {
            title: "Draft the release notes",
            request: "Write release notes for 2.4.",
            model: "huge-9",
            turns: vec![Turn::Answer("never reached")],
        },
    ]
}

/// The application's own tools. `fetch` leaks a secret on purpose, so the
/// redact plugin has something to do; `shell` is on the guard's deny list.
fn register_native_tools(host: &Host) -> Result<(), yoi_host::HostError> {
    host.register_tool(NativeTool::new(
        "fetch",
        "Fetches a URL from the internal network.",
        json!({"type": "object", "properties": {"url": {"type": "string"}}, "required": ["url"]}),
        |input| async move {
            Ok(format!(
                "GET {} -> 200\nservice: billing\nconfig: api_key=sk-live-9f8e7d6c5b4a3210 password=hunter2",
                input["url"].as_str().unwrap_or("?")
            ))
        },
    ))?;
    host.register_tool(NativeTool::new(
        "shell",
        "Runs a shell command.",
        json!({"type": "object", "properties": {"cmd": {"type": "string"}}, "required": ["cmd"]}),
        |input| async move { Ok(format!("ran {}", input["cmd"])) },
    ))
}

fn show<E>(point: &str, d: &Dispatch<E>) {
    println!("  [{point}]");
    if d.receipts.is_empty() {
        println!("      (no plugin handles this point)");
    }
    show_receipts(&d.receipts, false);
}

/// Prints receipts; `points` adds each one's hook point (for the hooks
/// that run around a tool).
fn show_receipts(receipts: &[Receipt], points: bool) {
    for r in receipts {
        let what = match r.status {
            Status::Ok if r.changed.is_empty() => "let it through".to_owned(),
            Status::Ok => format!("changed {}", r.changed.join(", ")),
            Status::Blocked => format!("BLOCKED: {}", r.detail.as_deref().unwrap_or("")),
            status => format!("{status:?}: {}", r.detail.as_deref().unwrap_or("")),
        };
        let point = if points {
            format!(" {}", r.point)
        } else {
            String::new()
        };
        println!(
            "      {}@{}{point}: {what} ({:.2} ms)",
            r.plugin,
            r.version,
            r.duration.as_secs_f64() * 1000.0
        );
        for line in &r.logs {
            let fields = line.rendered_fields();
            let sep = if fields.is_empty() { "" } else { "  " };
            println!("        log: {}{sep}{fields}", line.message);
        }
    }
}

/// An operator changes the guard's deny list while the host runs: no
/// rebuild, no restart; the next call is decided by the new list.
async fn reconfigure_guard(host: &Host) -> Result<(), Box<dyn std::error::Error>> {
    if !host
        .plugins()
        .iter()
        .any(|p| p.id.as_str() == "example.guard")
    {
        return Ok(());
    }
    let deny = json!({"deny": ["fetch"]});
    println!("\n== the operator sets example.guard's deny list to [\"fetch\"], live");
    host.configure(
        "example.guard",
        deny.as_object().cloned().unwrap_or_default(),
    )?;
    for (turn, tool) in ["shell", "fetch"].into_iter().enumerate() {
        let out = host
            .dispatch(yoi_host::ToolCall {
                tool_name: tool.into(),
                input: json!({"url": "https://status.internal/billing"}),
                call_id: format!("after-{turn}"),
                turn: turn as u32 + 1,
            })
            .await;
        println!("  {tool}:");
        show("tool.pre_exec", &out);
    }
    Ok(())
}

async fn run_item(host: &Host, n: usize, script: Script) {
    println!("\n== work item {n}: {:?}", script.title);
    let draft = host
        .dispatch(NewWorkItem {
            title: script.title.into(),
            payload: json!({"request": script.request}),
            session_key: format!("session-{n}"),
            source: "chat".into(),
            instance: "demo-1".into(),
        })
        .await;
    show("work_item.pre_create", &draft);
    if let Some(b) = &draft.blocked {
        println!("  -> not created: {}", b.message());
        return;
    }
    let item = draft.data;
    let id = format!("wi-{n}");
    let created = host
        .dispatch(CreatedWorkItem {
            id: id.clone(),
            title: item.title.clone(),
            payload: item.payload.clone(),
            session_key: item.session_key.clone(),
            source: item.source.clone(),
        })
        .await;
    show("work_item.post_create", &created);
    println!("  -> created {id}: {:?}", item.title);

    let prompt = host
        .dispatch(Prompt {
            system_prompt: "You are the ops assistant.".into(),
            user_message: script.request.into(),
            agent_id: "ops".into(),
            work_item_id: id.clone(),
        })
        .await;
    show("run.pre_prompt", &prompt);
    println!("  -> system prompt: {:?}", prompt.data.system_prompt);

    let mut messages = vec![
        json!({"role": "system", "content": prompt.data.system_prompt}),
        json!({"role": "user", "content": prompt.data.user_message}),
    ];
    let tools = Value::Array(host.tools().iter().map(|t| t.definition()).collect());
    let mut answer = None;
    for (turn, step) in script.turns.into_iter().enumerate() {
        let turn = u32::try_from(turn).unwrap_or(u32::MAX);
        let call = host
            .dispatch_for(
                &item.session_key,
                ModelCall {
                    model: script.model.into(),
                    temperature: Some(0.2),
                    max_tokens: Some(4096),
                    messages: Value::Array(messages.clone()),
                    tools: tools.clone(),
                    turn,
                },
            )
            .await;
        show("model.pre_call", &call);
        if let Some(b) = &call.blocked {
            println!("  -> model call skipped, the run ends: {}", b.message());
            return;
        }
        println!(
            "  -> calling {} with max_tokens {:?}",
            call.data.model, call.data.max_tokens
        );
        let response = match &step {
            Turn::Tool(name, input) => json!({"tool_call": {"name": name, "input": input}}),
            Turn::Answer(text) => json!({"content": text}),
        };
        let post = host
            .dispatch(ModelResponse {
                response: response.clone(),
                model: call.data.model.clone(),
                turn,
                duration_ms: 420,
                input_tokens: 900,
                output_tokens: 120,
                cost_usd: 0.062,
            })
            .await;
        show("model.post_call", &post);
        messages.push(json!({"role": "assistant", "content": response}));

        match step {
            Turn::Answer(text) => {
                answer = Some(text.to_owned());
                break;
            }
            Turn::Tool(name, input) => {
                println!("  [tool {name} {input}]");
                let outcome = host
                    .call_tool_for(
                        &item.session_key,
                        ToolRequest {
                            name: name.into(),
                            input,
                            call_id: format!("call-{turn}"),
                            turn,
                        },
                    )
                    .await;
                show_receipts(&outcome.receipts, true);
                if let Some(run) = &outcome.run {
                    println!(
                        "      {}@{} ran the tool: {:?} ({:.2} ms)",
                        run.plugin,
                        run.version,
                        run.status,
                        run.duration.as_secs_f64() * 1000.0
                    );
                    for d in &run.denials {
                        println!("        PERMISSION DENIED ({}): {}", d.capability, d.reason);
                        println!("          fix: {}", d.fix);
                    }
                }
                let status = match outcome.status {
                    ToolStatus::Ok => String::new(),
                    other => format!(" [{other:?}]"),
                };
                println!("  -> the model sees{status}: {:?}", outcome.output);
                messages.push(json!({"role": "tool", "content": outcome.persisted}));
            }
        }
    }

    let count = messages.len();
    let history = Value::Array(messages);
    let pre = host
        .dispatch(Compaction {
            messages: history.clone(),
        })
        .await;
    show("context.pre_compact", &pre);
    let compacted = host
        .dispatch(Compacted {
            messages: history,
            summary: format!("{count} messages about {:?}", item.title),
        })
        .await;
    show("context.post_compact", &compacted);
    println!("  -> summary: {:?}", compacted.data.summary);

    let content = answer.unwrap_or_default();
    let deliver = host
        .dispatch(Delivery {
            content,
            channel: "chat".into(),
            work_item_id: id.clone(),
            mode: DeliveryMode::Final,
        })
        .await;
    show("response.pre_deliver", &deliver);
    if let Some(b) = &deliver.blocked {
        println!("  -> delivery suppressed: {}", b.message());
        return;
    }
    println!("  -> delivered: {:?}", deliver.data.content);
    let delivered = host
        .dispatch(Delivered {
            content: deliver.data.content,
            channel: "chat".into(),
            ok: true,
            detail: "sent".into(),
        })
        .await;
    show("response.post_deliver", &delivered);
}

/// A model call through the host's provider registry: `model.pre_call`,
/// the provider plugin streaming from the stand-in, `model.post_call`.
async fn stream_reply(host: &Host) {
    println!("\n== streaming: release notes from local-chat, through a provider plugin");
    for route in host.providers_for("local-chat", None) {
        let source = match route.source {
            ProviderSource::Native => "native".to_owned(),
            ProviderSource::Plugin { id, version } => format!("plugin {id}@{version}"),
        };
        println!("  route: {} ({source})", route.name);
    }
    let (tx, mut rx) = tokio::sync::mpsc::channel(32);
    let printer = tokio::spawn(async move {
        let mut n = 0;
        print!("  >> ");
        while let Some(chunk) = rx.recv().await {
            if let Chunk::Text(text) = chunk {
                print!("{text}");
                let _ = std::io::Write::flush(&mut std::io::stdout());
                n += 1;
            }
        }
        println!();
        n
    });
    let outcome = host
        .complete_streaming(
            &HookContext::for_subject("demo-user"),
            CompletionRequest {
                model: "local-chat".into(),
                messages: vec![
                    Message::new(Role::System, "You write release notes."),
                    Message::new(Role::User, "Write two sentences of release notes for 2.4."),
                ],
                tools: Vec::new(),
                temperature: Some(0.3),
                max_tokens: Some(8192),
                stop: Vec::new(),
                turn: 0,
            },
            tx,
        )
        .await;
    let chunks = printer.await.unwrap_or(0);
    show_receipts(&outcome.receipts, true);
    match &outcome.result {
        Ok(done) => println!(
            "  -> {chunks} chunks streamed by {}; {} tokens in, {} out",
            outcome.provider.as_deref().unwrap_or("?"),
            done.usage.input_tokens,
            done.usage.output_tokens
        ),
        Err(e) => println!("  -> no answer: {e}"),
    }
}

/// The next output of `kind` a service emitted, within five seconds.
async fn next_output(
    outputs: &std::sync::mpsc::Receiver<yoi_host::ServiceOutput>,
    kind: &str,
) -> Option<yoi_host::ServiceOutput> {
    for _ in 0..250 {
        while let Ok(out) = outputs.try_recv() {
            if out.kind == kind {
                return Some(out);
            }
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    None
}

/// A work item a service asked for, through the host's hooks.
async fn create_from(host: &Host, out: &yoi_host::ServiceOutput) -> Option<NewWorkItem> {
    let d = &out.data;
    let draft = host
        .dispatch(NewWorkItem {
            title: d["title"].as_str().unwrap_or_default().into(),
            payload: d["payload"].clone(),
            session_key: d["session_key"].as_str().unwrap_or_default().into(),
            source: d["source"].as_str().unwrap_or_default().into(),
            instance: "demo-1".into(),
        })
        .await;
    show("work_item.pre_create", &draft);
    if let Some(b) = &draft.blocked {
        println!("  -> not created: {}", b.message());
        return None;
    }
    println!(
        "  -> created a work item from {}/{}: {:?} (session {})",
        out.plugin, out.service, draft.data.title, draft.data.session_key
    );
    Some(draft.data)
}

/// The chat bridge: the gateway's question becomes a work item here, the
/// agent's delivered answer goes back as a reply frame; a signed webhook
/// becomes a work item too, and a forged one never reaches the plugin.
async fn bridge_chat(
    host: &Host,
    outputs: &std::sync::mpsc::Receiver<yoi_host::ServiceOutput>,
    received: &gateway::Received,
) {
    println!("\n== services: the chat bridge");
    let Some(out) = next_output(outputs, "work_item").await else {
        println!(
            "  (the gateway's message never arrived: {:?})",
            host.services()
        );
        return;
    };
    println!(
        "  gateway -> bridge: ana in #ops asks {:?}",
        out.data["payload"]["text"].as_str().unwrap_or_default()
    );
    if let Some(ack) = gateway::frame(received, "ack").await {
        println!("  bridge -> gateway: {ack}");
    }
    if create_from(host, &out).await.is_none() {
        return;
    }
    let deliver = host
        .dispatch(Delivery {
            content: "Billing is up: 200 from status.internal.".into(),
            channel: "chat:ops".into(),
            work_item_id: "wi-chat-1".into(),
            mode: DeliveryMode::Final,
        })
        .await;
    show("response.pre_deliver", &deliver);
    let sent = host.send_to_service(
        "example.chat-bridge",
        "gateway",
        "deliver",
        json!({ "channel": "ops", "text": deliver.data.content, "reply_to": "c-1" }),
    );
    if let Err(e) = sent {
        println!("  -> not handed to the bridge: {e}");
    } else if let Some(reply) = gateway::frame(received, "reply").await {
        println!("  bridge -> gateway: {reply}");
    }

    let Some(addr) = host.inbound_addr() else {
        return;
    };
    let body = r#"{"channel":"alerts","user":"ci","text":"Deploy 2.4 failed at step 3"}"#;
    println!("  webhook POST /hooks/chat, forged signature:");
    let forged = gateway::sign("not-the-secret", "/hooks/chat", body);
    println!(
        "    -> {}",
        gateway::post(addr, "/hooks/chat", Some(&forged), body)
    );
    println!("  webhook POST /hooks/chat, signed:");
    let signed = gateway::sign(gateway::SECRET, "/hooks/chat", body);
    println!(
        "    -> {}",
        gateway::post(addr, "/hooks/chat", Some(&signed), body)
    );
    if let Some(out) = next_output(outputs, "work_item").await {
        create_from(host, &out).await;
    }
    println!("  services:");
    for s in host.services() {
        println!(
            "    {}/{}: {}, {} processed, {} dropped, {} refused, {} bad signatures, {} restarts",
            s.plugin,
            s.service,
            s.state.as_str(),
            s.processed,
            s.dropped,
            s.refused,
            s.bad_signatures,
            s.restarts
        );
    }
}

/// What the usage-meter observer wrote, once it caught up.
async fn usage_summary(host: &Host, data: &std::path::Path) {
    if host.observers().is_empty() {
        return;
    }
    for _ in 0..100 {
        if host.observers().iter().all(|o| o.idle()) {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    println!("\n== observers");
    for o in host.observers() {
        println!(
            "  {}: {} observations delivered, {} dropped",
            o.plugin, o.delivered, o.dropped
        );
    }
    let folder = data.join("example.usage-meter/usage");
    let Ok(entries) = std::fs::read_dir(&folder) else {
        return;
    };
    for entry in entries.flatten() {
        let Ok(text) = std::fs::read_to_string(entry.path()) else {
            continue;
        };
        let Ok(day) = serde_json::from_str::<Value>(&text) else {
            continue;
        };
        println!(
            "  usage-meter wrote usage/{}:",
            entry.file_name().to_string_lossy()
        );
        if let Some(models) = day["models"].as_object() {
            for (model, t) in models {
                println!(
                    "    {model}: {} calls, {} tokens in, {} out, ${:.4}",
                    t["calls"],
                    t["input_tokens"],
                    t["output_tokens"],
                    t["cost_usd"].as_f64().unwrap_or(0.0)
                );
            }
        }
    }
}

#[tokio::main]
async fn main() -> ExitCode {
    match run(std::env::args().skip(1).collect()).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

async fn run(dirs: Vec<String>) -> Result<(), Box<dyn std::error::Error>> {
    if dirs.is_empty() {
        return Err("usage: agent-host PACKAGE_DIR...\n  e.g. agent-host examples/guard examples/redact examples/policy examples/weather examples/notes".into());
    }
    let stand_in = weather::serve()?;
    let chat = openai::serve()?;
    let gateway = gateway::serve().await?;
    let data = std::env::temp_dir().join(format!("yoi-demo-{}", std::process::id()));
    let secrets: HashMap<String, String> = [
        ("WEATHER_API_URL".to_owned(), stand_in.clone()),
        ("WEATHER_API_KEY".to_owned(), "demo-key".to_owned()),
        ("OPENAI_API_KEY".to_owned(), openai::KEY.to_owned()),
        ("CHAT_WEBHOOK_SECRET".to_owned(), gateway::SECRET.to_owned()),
    ]
    .into();
    let host = Host::builder()
        .data_dir(&data)
        .secrets(secrets)
        .inbound_http(std::net::SocketAddr::from(([127, 0, 0, 1], 0)))
        .build()?;
    // Services start as their plugins load: follow what they emit first.
    let outputs = host.service_outputs();
    register_native_tools(&host)?;
    for dir in &dirs {
        // The operator's part: grant what the manifest requests.
        let manifest = yoi_manifest::Manifest::parse(&std::fs::read_to_string(
            std::path::Path::new(dir).join("plugin.toml"),
        )?)
        .map_err(|d| d.to_string())?;
        let grants: Vec<String> = yoi_registry::Capability::requested_by(&manifest)
            .iter()
            .map(ToString::to_string)
            .collect();
        let info = host.load_with_grants(dir, &grants)?;
        if info.id.as_str() == "example.openai-compat" {
            // The operator points the provider at the stand-in.
            let values = json!({ "base_url": chat });
            host.configure(
                info.id.as_str(),
                values.as_object().cloned().unwrap_or_default(),
            )?;
        }
        println!(
            "loaded {}@{} ({} hooks, {} tools) from {dir}{}",
            info.id,
            info.version,
            info.hooks.len(),
            info.tools.len(),
            if grants.is_empty() {
                String::new()
            } else {
                format!("\n  granted: {}", grants.join(", "))
            }
        );
    }
    println!(
        "tools the model sees: {}",
        host.tools()
            .iter()
            .map(|t| t.name.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    );
    let me = || {
        (
            "agent-host".to_owned(),
            env!("CARGO_PKG_VERSION").to_owned(),
            "demo-1".to_owned(),
        )
    };
    let (name, version, instance) = me();
    show(
        "host.start",
        &host
            .dispatch(HostStart {
                name,
                version,
                instance,
            })
            .await,
    );
    for (n, script) in scripts().into_iter().enumerate() {
        run_item(&host, n + 1, script).await;
    }
    reconfigure_guard(&host).await?;
    if host.providers_for("local-chat", None).is_empty() {
        println!("\n(no provider serves local-chat: load examples/openai-compat to stream one)");
    } else {
        stream_reply(&host).await;
    }
    if host.services().is_empty() {
        println!("\n(no service runs: load examples/chat-bridge to bridge a chat gateway)");
    } else {
        bridge_chat(&host, &outputs, &gateway).await;
    }
    usage_summary(&host, &data).await;
    println!();
    let (name, version, instance) = me();
    show(
        "host.stop",
        &host
            .dispatch(HostStop {
                name,
                version,
                instance,
            })
            .await,
    );
    host.shutdown_services(std::time::Duration::from_secs(2));
    let _ = std::fs::remove_dir_all(&data);
    Ok(())
}
