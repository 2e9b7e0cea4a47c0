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

#[allow(dead_code)]
/// `n` copies of guard with distinct ids. With `distinct_code`, each
/// artifact carries a custom section of its own, so every copy has its own
/// digest and is compiled on its own; without, they share one digest.
pub fn guard_copies(root: &Path, n: usize, distinct_code: bool) -> Vec<PathBuf> {
    let src = example("guard");
    let text = std::fs::read_to_string(src.join("plugin.toml")).expect("manifest");
    let wasm = std::fs::read(src.join("guard.wasm")).expect("artifact");
    (0..n)
        .map(|i| {
            let dir = root.join(format!("guard{i}"));
            std::fs::create_dir_all(&dir).expect("dir");
            let mut bytes = wasm.clone();
            if distinct_code {
                // A custom section (id 0): name "yoi-bench", then the index.
                let name = b"yoi-bench";
                let payload = format!("{i:08}");
                let size = 1 + name.len() + payload.len();
                bytes.push(0);
                bytes.push(u8::try_from(size).expect("small section"));
                bytes.push(u8::try_from(name.len()).expect("short name"));
                bytes.extend_from_slice(name);
                bytes.extend_from_slice(payload.as_bytes());
            }
            let digest = format!(
                "sha256:{:x}",
                <sha2::Sha256 as sha2::Digest>::digest(&bytes)
            );
            std::fs::write(dir.join("guard.wasm"), &bytes).expect("artifact");
            let mut t = text.replace(
                "id = \"example.guard\"",
                &format!("id = \"bench.guard{i:02}\""),
            );
            let start = t.find("digest = \"").expect("digest line") + "digest = \"".len();
            let end = start + t[start..].find('"').expect("digest end");
            t.replace_range(start..end, &digest);
            std::fs::write(dir.join("plugin.toml"), t).expect("manifest");
            dir
        })
        .collect()
}
