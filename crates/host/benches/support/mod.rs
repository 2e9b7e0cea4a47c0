//! What the host's benchmarks share: the example components, a runtime,
//! and the `tool.pre_exec` event every dispatch benchmark sends.

use std::path::{Path, PathBuf};

use serde_json::json;
use yoi_host::ToolCall;

/// The example package `name` (`guard`, `hostile/reach`), which must be
/// built.
pub fn example(name: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../examples")
        .join(name);
    let built = std::fs::read_dir(&dir)
        .map(|entries| {
            entries
                .filter_map(Result::ok)
                .any(|e| e.path().extension().is_some_and(|x| x == "wasm"))
        })
        .unwrap_or(false);
    assert!(
        built,
        "{} has no component: run `cargo xtask bench` (it builds the examples)",
        dir.display()
    );
    dir
}

/// A current-thread runtime, as a host embedded in a small service uses.
#[allow(dead_code)]
pub fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime")
}

/// A ~200-byte `tool.pre_exec` event that guard lets through unchanged.
#[allow(dead_code)]
pub fn guard_event() -> ToolCall {
    ToolCall {
        tool_name: "fetch".into(),
        input: json!({
            "url": "https://api.example.com/v1/reports/2026-11?format=json&limit=50",
            "headers": {"accept": "application/json"},
            "timeout_s": 10
        }),
        call_id: "call-0001".into(),
        turn: 3,
    }
}
