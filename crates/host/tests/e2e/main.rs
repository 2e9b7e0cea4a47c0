//! End-to-end tests: real components built from `examples/`, loaded and run
//! through `yoi-host`. Run them with `cargo xtask e2e`, which builds the
//! components first.
//!
//! Most hostile behaviour comes from one fixture, `examples/hostile/probe`,
//! which handles every hook point and obeys `#probe:<command>` found in the
//! event's text; tests package it under different ids, priorities, time
//! limits and fail modes with [`probe`].

// With features off (`--no-default-features`) the tests that need them are
// left out, and the helpers they share go unused.
#![cfg_attr(
    not(all(feature = "registry", feature = "https", feature = "fs")),
    allow(unused)
)]

mod chat;
mod concurrency;
mod config;
mod contracts;
mod dispatcher;
mod features;
#[cfg(feature = "fs")]
mod folders;
#[cfg(feature = "fs")]
mod fs_links;
#[cfg(feature = "services")]
mod gateway;
mod grants;
mod guard;
mod hooks;
mod host_points;
mod hostile;
#[cfg(feature = "registry")]
mod lifecycle;
// Observers and providers here write files and call HTTP services.
#[cfg(all(feature = "https", feature = "fs"))]
mod observers;
mod packages;
#[cfg(all(feature = "https", feature = "fs"))]
mod providers;
#[cfg(feature = "services")]
mod services;
mod stub;
mod tools;
#[cfg(feature = "registry")]
mod trust;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde_json::json;
#[cfg(feature = "registry")]
use yoi_host::{Capability, Registry};
use yoi_host::{Dispatch, Host, Receipt, Status, ToolCall, ToolResult};
use yoi_manifest::Digest;
#[cfg(feature = "registry")]
use yoi_manifest::Package;
#[cfg(feature = "registry")]
use yoi_registry::Activation;

/// The guard example and its Python twin: the same behaviour, held to the
/// same assertions. (folder, plugin id)
pub const GUARDS: [(&str, &str); 2] =
    [("guard", "example.guard"), ("py-guard", "example.py-guard")];
/// The redact example and its JavaScript twin.
pub const REDACTS: [(&str, &str); 2] = [
    ("redact", "example.redact"),
    ("js-redact", "example.js-redact"),
];
/// The notes example and its Python and JavaScript twins.
pub const NOTES: [(&str, &str); 3] = [
    ("notes", "example.notes"),
    ("py-notes", "example.py-notes"),
    ("js-notes", "example.js-notes"),
];

pub fn example(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../examples")
        .join(name)
}

/// A host builder with a compile cache shared by every test (and kept
/// between runs), so each component is compiled once, not once per test.
pub fn builder() -> yoi_host::HostBuilder {
    Host::builder().compile_cache(Path::new(env!("CARGO_TARGET_TMPDIR")).join("yoi-e2e-cache"))
}

pub fn host_with(packages: &[&Path]) -> Host {
    let host = builder().build().expect("host starts");
    load_all(&host, packages);
    host
}

pub fn load_all(host: &Host, packages: &[&Path]) {
    for dir in packages {
        host.load(dir).unwrap_or_else(|e| {
            panic!(
                "loading {}: {e}\n(run `cargo xtask build-examples` first)",
                dir.display()
            )
        });
    }
}

pub fn call(tool: &str, input: serde_json::Value) -> ToolCall {
    ToolCall {
        tool_name: tool.into(),
        input,
        call_id: "call-1".into(),
        turn: 3,
    }
}

pub fn result(output: &str) -> ToolResult {
    ToolResult {
        tool_name: "fetch".into(),
        input: json!({}),
        output: output.into(),
        duration_ms: 7,
        turn: 1,
    }
}

/// Copies a package folder into a temp dir and applies `edit` to its
/// manifest text, so tests can change one thing.
pub fn altered_copy(name: &str, edit: impl Fn(String) -> String) -> tempfile::TempDir {
    let src = example(name);
    let tmp = tempfile::tempdir().expect("temp dir");
    for entry in std::fs::read_dir(&src).expect("example dir") {
        let path = entry.expect("entry").path();
        let file = path.file_name().expect("file name").to_owned();
        if path.extension().is_some_and(|e| e == "wasm") || file == "plugin.toml" {
            std::fs::copy(&path, tmp.path().join(file)).expect("copy");
        }
    }
    let manifest = tmp.path().join("plugin.toml");
    let text = std::fs::read_to_string(&manifest).expect("manifest");
    std::fs::write(&manifest, edit(text)).expect("write manifest");
    tmp
}

/// Every hook point, as plugin.toml names them: the probe exports them all,
/// so its packages must declare them all.
pub const ALL_POINTS: [yoi_host::HookPoint; 14] = yoi_host::HookPoint::ALL;

/// How a probe package is declared.
pub struct Probe<'a> {
    pub id: &'a str,
    pub priority: i32,
    pub timeout_ms: u32,
    pub fail: &'a str,
    pub points: &'a [yoi_host::HookPoint],
}

impl Default for Probe<'_> {
    fn default() -> Self {
        Probe {
            id: "hostile.probe",
            priority: 200,
            timeout_ms: 200,
            fail: "open",
            points: &ALL_POINTS,
        }
    }
}

/// A package of the probe fixture with its own id, hooks and limits.
pub fn probe(p: Probe<'_>) -> tempfile::TempDir {
    let wasm = std::fs::read(example("hostile/probe/probe.wasm"))
        .expect("probe.wasm (run `cargo xtask build-examples` first)");
    let tmp = tempfile::tempdir().expect("temp dir");
    std::fs::write(tmp.path().join("probe.wasm"), &wasm).expect("write");
    let mut text = format!(
        "[plugin]\nid = \"{}\"\nversion = \"0.1.0\"\ncontract = \"{}\"\n\n\
         [runtime]\nkind = \"wasm-component\"\nartifact = \"probe.wasm\"\ndigest = \"{}\"\n",
        p.id,
        yoi_host::CONTRACT,
        Digest::of(&wasm)
    );
    for point in p.points {
        text.push_str(&format!(
            "\n[[hooks]]\npoint = \"{point}\"\npriority = {}\ntimeout_ms = {}\nfail = \"{}\"\n",
            p.priority, p.timeout_ms, p.fail
        ));
    }
    std::fs::write(tmp.path().join("plugin.toml"), text).expect("write manifest");
    tmp
}

/// The receipt of `plugin`, which must be there.
pub fn receipt_of<'a, E>(d: &'a Dispatch<E>, plugin: &str) -> &'a Receipt {
    d.receipts
        .iter()
        .find(|r| r.plugin.as_str() == plugin)
        .unwrap_or_else(|| panic!("no receipt of {plugin}: {:#?}", d.receipts))
}

pub fn statuses<E>(d: &Dispatch<E>) -> Vec<(String, Status)> {
    d.receipts
        .iter()
        .map(|r| (r.plugin.to_string(), r.status))
        .collect()
}

/// A registry in a temp dir.
#[cfg(feature = "registry")]
pub fn registry() -> (tempfile::TempDir, Arc<Registry>) {
    let dir = tempfile::tempdir().expect("temp dir");
    let registry = Registry::open(dir.path()).expect("registry opens");
    (dir, Arc::new(registry))
}

/// Publishes a package folder, grants everything it asks for, activates it.
#[cfg(feature = "registry")]
pub fn publish_and_activate(registry: &Registry, dir: &Path, how: &Activation) -> Package {
    let package = Package::open(dir, &Host::compat()).expect("package opens");
    let record = registry
        .publish(&package, &Host::compat(), "tester")
        .expect("publish")
        .record;
    let caps: Vec<String> = Capability::requested_by(package.manifest())
        .iter()
        .map(ToString::to_string)
        .collect();
    if !caps.is_empty() {
        registry
            .grant(record.plugin.as_str(), &caps, true, "tester")
            .expect("grant");
    }
    registry
        .activate(record.plugin.as_str(), &record.version, how)
        .expect("activate");
    package
}

/// A host with redact and a default probe; the temp dir must outlive it.
pub fn redact_and_probe() -> (Host, tempfile::TempDir) {
    let pkg = probe(Probe::default());
    let host = host_with(&[pkg.path(), &example("redact")]);
    (host, pkg)
}
