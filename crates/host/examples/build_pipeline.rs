//! An embedding with hook points of its own (contract 0.6.0): a small build
//! pipeline declares `build.pre_compile` and `build.post_compile`, loads
//! plugins that handle them, and runs three builds through them. A plugin
//! may change only the fields the pipeline declares (`flags`, `build_id`),
//! may block only before a compile, and every change is checked against the
//! event's schema (docs/hooks.md, "Host-defined points").
//!
//! ```sh
//! cargo xtask build-examples          # builds examples/build-guard
//! cargo run -p yoi-host --example build_pipeline -- examples/build-guard
//! ```

use std::time::Duration;

use serde_json::{Value, json};
use yoi_host::{HookContext, Host, HostPointSpec};

/// The pipeline's points, as it declares them.
fn points() -> Result<Vec<HostPointSpec>, yoi_host::HostError> {
    let pre = HostPointSpec::new(
        "build.pre_compile",
        json!({
            "type": "object",
            "required": ["target", "flags"],
            "additionalProperties": false,
            "properties": {
                "target": {"type": "string", "minLength": 1},
                "flags": {"type": "array", "items": {"type": "string"}},
                "build_id": {"type": "string", "pattern": "^b-[0-9a-f]{16}$"}
            }
        }),
    )?
    .changeable(["flags", "build_id"])?
    .may_block(true)
    .default_timeout(Duration::from_millis(500));
    let post = HostPointSpec::new(
        "build.post_compile",
        json!({
            "type": "object",
            "required": ["target", "ok"],
            "properties": {
                "target": {"type": "string"},
                "ok": {"type": "boolean"},
                "build_id": {"type": "string"}
            }
        }),
    )?;
    Ok(vec![pre, post])
}

/// "Compiles" one target: what a real pipeline would run between its two
/// points.
fn compile(build: &Value) -> bool {
    build["flags"]
        .as_array()
        .is_some_and(|flags| flags.iter().all(|f| f.as_str() != Some("-Werror")))
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let folders: Vec<String> = std::env::args().skip(1).collect();
    let folders = if folders.is_empty() {
        vec!["examples/build-guard".to_owned()]
    } else {
        folders
    };

    let mut builder = Host::builder();
    for point in points()? {
        builder = builder.host_point(point);
    }
    let host = builder.build()?;
    for dir in &folders {
        let plugin = host.load(dir)?;
        println!("loaded {}@{}", plugin.id, plugin.version);
    }

    let builds = [
        json!({"target": "app", "flags": ["-O2"]}),
        json!({"target": "tool", "flags": ["-O0", "-Werror"]}),
        json!({"target": "legacy", "flags": ["--insecure"]}),
    ];
    for build in builds {
        let context = HookContext::default();
        let before = host
            .dispatch_point(&context, "build.pre_compile", build)
            .await?;
        for r in &before.receipts {
            let detail = r.detail.as_deref().unwrap_or("");
            println!(
                "  {} {}: {:?} changed {:?} {detail}",
                r.point, r.plugin, r.status, r.changed
            );
        }
        let target = before.data["target"]
            .as_str()
            .unwrap_or_default()
            .to_owned();
        if let Some(blocked) = &before.blocked {
            println!("{target}: refused: {}", blocked.message());
            continue;
        }
        let ok = compile(&before.data);
        let id = before.data["build_id"].as_str().unwrap_or("(none)");
        println!(
            "{target}: compiled as {id}: {}",
            if ok { "ok" } else { "failed" }
        );
        let done = json!({"target": target, "ok": ok, "build_id": id});
        host.dispatch_point(&context, "build.post_compile", done)
            .await?;
    }
    Ok(())
}
