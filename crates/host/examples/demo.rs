//! A scripted agent turn through Yoi plugins: the model asks for two tool
//! calls, and the host runs `tool.pre_exec` before and `tool.post_exec` after
//! each one, printing what every plugin did.
//!
//! `cargo xtask demo` builds the example plugins and runs this with
//! `examples/guard` and `examples/redact`:
//!
//! ```text
//! cargo run -p yoi-host --example demo -- examples/guard examples/redact
//! ```

use std::process::ExitCode;

use serde_json::{Value, json};
use yoi_host::{Dispatch, Host, Receipt, Status, ToolCall, ToolResult};

/// A native tool of the embedding application. Deliberately leaky, so the
/// redact plugin has something to do.
fn run_native_tool(call: &ToolCall) -> String {
    match call.tool_name.as_str() {
        "fetch" => format!(
            "GET {} -> 200\nservice: billing\nconfig: api_key=sk-live-9f8e7d6c5b4a3210 password=hunter2",
            call.input["url"].as_str().unwrap_or("?")
        ),
        other => format!("{other} ran"),
    }
}

fn describe(r: &Receipt) -> String {
    let what = match r.status {
        Status::Ok if r.changed.is_empty() => "let it through unchanged".to_owned(),
        Status::Ok => format!("changed {}", r.changed.join(", ")),
        Status::Blocked => format!("BLOCKED it: {}", r.detail.as_deref().unwrap_or("")),
        status => format!("{status:?}: {}", r.detail.as_deref().unwrap_or("")),
    };
    format!(
        "    {:<15} {}@{} {what} ({:.1} ms)",
        r.point.as_str(),
        r.plugin,
        r.version,
        r.duration.as_secs_f64() * 1000.0
    )
}

fn print_receipts<E>(d: &Dispatch<E>) {
    if d.receipts.is_empty() {
        println!("    (no plugin handles this point)");
    }
    for r in &d.receipts {
        println!("{}", describe(r));
        for line in &r.logs {
            let fields = line.rendered_fields();
            let sep = if fields.is_empty() { "" } else { "  " };
            println!("      plugin log: {}{sep}{fields}", line.message);
        }
    }
}

async fn tool_turn(host: &Host, turn: u32, tool: &str, input: Value) {
    println!("\nturn {turn}: the model calls `{tool}` with {input}");
    let call = ToolCall {
        tool_name: tool.into(),
        input,
        call_id: format!("call-{turn}"),
        turn,
    };
    let pre = host.tool_pre_exec(call).await;
    print_receipts(&pre);
    if let Some(blocked) = &pre.blocked {
        println!(
            "  the tool does not run; the model sees:\n    \"{}\"",
            blocked.message()
        );
        return;
    }
    println!("  the tool runs with {}", pre.data.input);
    let output = run_native_tool(&pre.data);
    let post = host
        .tool_post_exec(ToolResult {
            tool_name: pre.data.tool_name.clone(),
            input: pre.data.input.clone(),
            output,
            duration_ms: 42,
            turn,
        })
        .await;
    print_receipts(&post);
    println!("  the model sees:");
    for line in post.data.output.lines() {
        println!("    | {line}");
    }
}

#[tokio::main]
async fn main() -> ExitCode {
    let dirs: Vec<String> = std::env::args().skip(1).collect();
    if dirs.is_empty() {
        eprintln!("usage: demo PACKAGE_DIR...   (cargo xtask demo runs it with the examples)");
        return ExitCode::from(2);
    }
    let mut host = match Host::builder().build() {
        Ok(host) => host,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(1);
        }
    };
    println!("Yoi demo: loading {} plugin package(s)", dirs.len());
    for dir in &dirs {
        match host.load(dir) {
            Ok(info) => {
                for hook in &info.hooks {
                    println!(
                        "  loaded {}@{}  {} (priority {}, fail {}, {} ms)",
                        info.id,
                        info.version,
                        hook.point,
                        hook.priority,
                        hook.fail,
                        hook.timeout_ms
                    );
                }
            }
            Err(e) => {
                eprintln!("error: {e}");
                return ExitCode::from(1);
            }
        }
    }

    tool_turn(
        &host,
        0,
        "fetch",
        json!({"url": "http://status.example.com/health"}),
    )
    .await;
    tool_turn(&host, 1, "shell", json!({"cmd": "cat ~/.ssh/id_ed25519"})).await;
    tool_turn(&host, 2, "calculator", json!({"expr": "6*7"})).await;
    ExitCode::SUCCESS
}
