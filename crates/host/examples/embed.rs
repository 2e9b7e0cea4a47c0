//! The smallest useful embedding of Yoi: build a host, load one plugin
//! package from a folder, dispatch one event, print what happened. Copy it
//! to start your own (docs/hooks.md explains every step).
//!
//! ```sh
//! cargo xtask build-examples          # builds examples/guard's component
//! cargo run -p yoi-host --example embed -- examples/guard
//! ```

use std::time::Duration;

use yoi_host::{Host, ToolCall};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let dir = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "examples/guard".into());

    // Limits have safe defaults; these two are the ones most hosts tune.
    let host = Host::builder()
        .memory_limit(32 * 1024 * 1024)
        .chain_budget(Duration::from_secs(2))
        .build()?;

    // Opening checks the manifest, the digest and the component's imports
    // and exports; nothing of the plugin runs until an event comes.
    let plugin = host.load(&dir)?;
    println!(
        "loaded {}@{} ({} hooks)",
        plugin.id,
        plugin.version,
        plugin.hooks.len()
    );

    // The model wants to run a shell command: ask the plugins first.
    let call = ToolCall {
        tool_name: "shell".into(),
        input: serde_json::json!({ "cmd": "rm -rf /" }),
        call_id: "call-1".into(),
        turn: 1,
    };
    let out = host.dispatch(call).await;

    for r in &out.receipts {
        let detail = r.detail.as_deref().unwrap_or("");
        println!(
            "{} {}: {:?} in {:?} {detail}",
            r.point, r.plugin, r.status, r.duration
        );
    }
    match &out.blocked {
        Some(blocked) => println!("blocked: {}", blocked.message()),
        None if out.is_changed() => println!("changed: {}", out.data.input),
        None => println!("allowed unchanged"),
    }
    Ok(())
}
