//! An example embedding of `yoi-host`: a scripted agent loop with a scripted
//! model, two native tools and no network, that calls every hook point in the
//! order a real agent would, and prints what each plugin did.
//!
//! ```text
//! cargo xtask demo
//! cargo run -p agent-host -- examples/guard examples/redact examples/policy
//! ```

use std::process::ExitCode;

use serde_json::{Value, json};
use yoi_host::{
    Compacted, Compaction, CreatedWorkItem, Delivered, Delivery, DeliveryMode, Dispatch, Host,
    HostStart, HostStop, ModelCall, ModelResponse, NewWorkItem, PersistResult, Prompt, Status,
    ToolCall, ToolResult,
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
            title: "Draft the release notes",
            request: "Write release notes for 2.4.",
            model: "huge-9",
            turns: vec![Turn::Answer("never reached")],
        },
    ]
}

/// The application's own tools. `fetch` leaks a secret on purpose, so the
/// redact plugin has something to do.
fn run_native_tool(call: &ToolCall) -> String {
    match call.tool_name.as_str() {
        "fetch" => format!(
            "GET {} -> 200\nservice: billing\nconfig: api_key=sk-live-9f8e7d6c5b4a3210 password=hunter2",
            call.input["url"].as_str().unwrap_or("?")
        ),
        "shell" => format!("ran {}", call.input["cmd"]),
        other => format!("unknown tool {other}"),
    }
}

fn show<E>(point: &str, d: &Dispatch<E>) {
    println!("  [{point}]");
    if d.receipts.is_empty() {
        println!("      (no plugin handles this point)");
    }
    for r in &d.receipts {
        let what = match r.status {
            Status::Ok if r.changed.is_empty() => "let it through".to_owned(),
            Status::Ok => format!("changed {}", r.changed.join(", ")),
            Status::Blocked => format!("BLOCKED: {}", r.detail.as_deref().unwrap_or("")),
            status => format!("{status:?}: {}", r.detail.as_deref().unwrap_or("")),
        };
        println!(
            "      {}@{}: {what} ({:.2} ms)",
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
    let tools = json!([{"name": "fetch"}, {"name": "shell"}]);
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
                let call_id = format!("call-{turn}");
                let pre = host
                    .dispatch(ToolCall {
                        tool_name: name.into(),
                        input,
                        call_id: call_id.clone(),
                        turn,
                    })
                    .await;
                show("tool.pre_exec", &pre);
                let output = match &pre.blocked {
                    Some(b) => b.message(),
                    None => {
                        let raw = run_native_tool(&pre.data);
                        let post = host
                            .dispatch(ToolResult {
                                tool_name: name.into(),
                                input: pre.data.input.clone(),
                                output: raw,
                                duration_ms: 12,
                                turn,
                            })
                            .await;
                        show("tool.post_exec", &post);
                        post.data.output
                    }
                };
                let persist = host
                    .dispatch(PersistResult {
                        tool_name: name.into(),
                        call_id,
                        result: output.clone(),
                    })
                    .await;
                show("tool.result_persist", &persist);
                println!("  -> the model sees: {output:?}");
                messages.push(json!({"role": "tool", "content": persist.data.result}));
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

#[tokio::main]
async fn main() -> ExitCode {
    let dirs: Vec<String> = std::env::args().skip(1).collect();
    if dirs.is_empty() {
        eprintln!(
            "usage: agent-host PACKAGE_DIR...\n  e.g. agent-host examples/guard examples/redact examples/policy"
        );
        return ExitCode::from(2);
    }
    let host = match Host::builder().build() {
        Ok(host) => host,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::FAILURE;
        }
    };
    for dir in &dirs {
        match host.load(dir) {
            Ok(info) => println!(
                "loaded {}@{} ({} hooks) from {dir}",
                info.id,
                info.version,
                info.hooks.len()
            ),
            Err(e) => {
                eprintln!("error: {e}");
                return ExitCode::FAILURE;
            }
        }
    }
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
    ExitCode::SUCCESS
}
