//! The Yoi runtime: load plugin components and run them at hook points.
//!
//! An embedder builds a [`Host`], loads package folders (each a `plugin.toml`
//! plus a component whose digest it pins) or boots from a `Registry`, and
//! dispatches typed events, one type per hook point ([`ToolCall`],
//! [`Prompt`], [`ModelCall`], ...). The answer is a [`Dispatch`]: the event as
//! the plugins left it, whether one of them blocked it, and one [`Receipt`]
//! per handler.
//!
//! Plugins run sandboxed: a fresh instance per plugin per event by default
//! (per-event isolation; [`HostBuilder::reuse_instances`] keeps warm ones), a
//! memory cap, a time limit enforced inside wasm (epoch interruption), and no
//! ambient authority — the only imports linked are Yoi's host APIs and
//! WASI 0.2 with nothing behind it (no folder to open, no address to
//! connect, an empty environment; stdio captured; clocks and randomness).
//! A component that imports anything else is refused at load time. A registry-backed host follows
//! activations with hot reload, caches compiled code, and disables plugins
//! that keep failing (the crash guard). `docs/hooks.md` has the whole story.
//!
//! The embedder's ids for an event reach plugins of contract 0.2.0 as a
//! [`HookContext`] ([`Host::dispatch_in`], [`Host::call_tool_in`]); components of every contract
//! version [`Host::compat`] lists run side by side. A host without an async
//! runtime uses [`Host::dispatch_blocking`]; a component held in memory
//! loads with [`Host::load_bytes`].
//!
//! # Features
//!
//! A minimal host (`default-features = false`) loads plugins from folders or
//! bytes, dispatches hooks and runs tools, with the `log` and `secrets` host
//! APIs. Each default feature adds one part and what it needs:
//!
//! | feature | brings | compiles in |
//! |---|---|---|
//! | `registry` | `HostBuilder::registry`: boot from the registry, hot reload (`Host::reload`, `Host::watch`), receipts in its events table, crash-guard disables | `yoi-registry` and SQLite (bundled) |
//! | `https` | the `https` host API | `reqwest`, `rustls` |
//! | `fs` | the `fs` host API | `rustix` |
//! | `watch` | hot reload of plugin folders (`yoi.toml`, `yoi dev`) | `notify` |
//! | `services` | the services' drivers: outbound WebSocket, inbound HTTP (`HostBuilder::inbound_http`), signatures | `tokio-tungstenite`, `hyper`, `ring` |
//!
//! Without `https` or `fs`, components that import those APIs still load;
//! their calls fail with an error naming the feature to enable (the host's
//! limit, never recorded as the plugin's denial). Tool input schemas are
//! always checked: `jsonschema` comes with `yoi-manifest`, which validates
//! them at publish, so a feature would not make a host smaller.
//! docs/BENCHMARKS.md has the binary sizes.
//!
//! ```no_run
//! # async fn demo() -> Result<(), yoi_host::HostError> {
//! let host = yoi_host::Host::builder().build()?;
//! host.load("examples/redact")?;
//! let result = yoi_host::ToolResult {
//!     tool_name: "read_env".into(),
//!     input: serde_json::json!({}),
//!     output: "OPENAI_API_KEY=sk-abcdef1234567890".into(),
//!     duration_ms: 3,
//!     turn: 0,
//! };
//! let outcome = host.dispatch(result).await;
//! assert_eq!(outcome.data.output, "OPENAI_API_KEY=sk-****");
//! # Ok(()) }
//! ```
#![deny(missing_docs)]

// The hook table (`foreach_hook_point!`) is the manifest's: every module
// that expands it imports it from there.
mod api;
mod bindings;
mod builder;
mod cache;
mod compiler;
mod dispatch;
pub mod embedding;
mod error;
mod eventlog;
mod exports;
mod folders;
#[cfg(feature = "mcp")]
mod gateway;
mod guard;
mod hookevents;
mod host;
mod hostconfig;
mod hostpoints;
mod hostpointspec;
#[cfg(feature = "services")]
mod inbound;
mod instances;
#[cfg(not(feature = "services"))]
mod nodrivers;
mod observer_delivery;
mod observers;
mod options;
mod plugin;
mod providers;
mod providerspec;
mod receipt;
#[cfg(feature = "registry")]
mod reload;
mod report;
mod resources;
mod sandbox;
mod services;
mod servicespec;
mod serviceworker;
mod settle;
mod tooldefs;
mod tools;
#[cfg(feature = "services")]
mod wsdriver;
#[cfg(not(feature = "services"))]
use nodrivers::{inbound, wsdriver};

pub use api::{EnvSecrets, SecretSource};
pub use builder::HostBuilder;
pub use cache::CacheUse;
pub use compiler::compile_worker_main;
pub use dispatch::Event;
pub use error::HostError;
#[cfg(feature = "watch")]
pub use folders::FolderWatcher;
pub use folders::{Discovered, PackageInfo, discover};
#[cfg(feature = "mcp")]
pub use gateway::{GatewayOptions, McpServerStatus, fetch_mcp_tools};
pub use hookevents::{
    Compacted, Compaction, CreatedWorkItem, Delivered, Delivery, DeliveryMode, HookContext,
    HostStart, HostStop, MAX_CHANGED_FIELD_BYTES, ModelCall, ModelResponse, NewWorkItem,
    PersistResult, PointInfo, Prompt, ToolCall, ToolResult, hook_points,
};
pub use host::{Handler, Host, Pressure, SAFE_MODE_ENV, safe_mode_from_env};
pub use hostconfig::{
    CONFIG_FILE, CONFIG_SCHEMA, CapabilitiesSection, CapabilityCap, CrashGuardSection, GrantSpec,
    HostConfig, HostSection, LimitsSection, McpSection, PluginsSection, PointSection,
    fields as config_fields,
};
pub use hostpointspec::HostPointSpec;
pub use observers::{Observation, ObservationEvent, ObserverStatus};
pub use plugin::{Origin, PluginInfo, SUPPORTED_POINTS};
pub use providerspec::{
    Attempt, Chunk, ChunkSender, Completion, CompletionError, CompletionOutcome, CompletionRequest,
    Fallback, FinishReason, Message, ModelToolCall, NativeProvider, ProviderError, ProviderFuture,
    ProviderRoute, ProviderSource, Role, ToolDefinition, Usage,
};
pub use receipt::{Blocked, Denial, Dispatch, LogLevel, LogLine, Receipt, Status};
#[cfg(feature = "registry")]
pub use reload::{HEARTBEAT, Watcher};
pub use report::{Refusal, ReloadReport};
pub use servicespec::{ServiceError, ServiceOutput, ServiceState, ServiceStatus};
pub use tooldefs::{NativeFuture, NativeTool, ToolStatus};
pub use tools::{ToolOutcome, ToolRequest, ToolRun, ToolSource, ToolSpec};
pub use yoi_manifest::{Backpressure, Capability, Rollout, Scope};
pub use yoi_manifest::{CodeLimits, FailMode, HookPoint, ModelPattern, ObservationKind, PluginId};
#[cfg(feature = "registry")]
pub use yoi_registry::{Location, Registry};

/// The newest WIT contract this host implements: what new plugins target.
/// [`Host::compat`] lists every version it runs.
pub const CONTRACT: &str = yoi_manifest::ContractVersion::CURRENT_STR;
