//! What a host was built with: limits, time budgets, where its state
//! lives. [`HostBuilder`](crate::HostBuilder) fills it in; the running host
//! reads it.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use yoi_manifest::CodeLimits;
use yoi_manifest::Scope;
#[cfg(feature = "registry")]
use yoi_registry::Registry;

use crate::api::ApiSettings;
use crate::plugin::CompileBounds;

/// How long a host keeps runtime events in the registry by default: 30 days.
#[cfg(feature = "registry")]
pub(crate) const DEFAULT_EVENT_RETENTION: std::time::Duration =
    std::time::Duration::from_secs(30 * 24 * 3600);

/// The settings of one host; defaults in `Default`, documented on the
/// builder's methods.
#[derive(Clone)]
pub(crate) struct Options {
    pub(crate) name: String,
    pub(crate) memory_limit: usize,
    pub(crate) chain_budget: Duration,
    pub(crate) reuse_instances: bool,
    pub(crate) cache_dir: Option<PathBuf>,
    #[cfg(feature = "registry")]
    pub(crate) registry: Option<Arc<Registry>>,
    /// How long runtime events are kept in the registry (`None`: forever).
    #[cfg(feature = "registry")]
    pub(crate) event_retention: Option<std::time::Duration>,
    pub(crate) scope: Scope,
    pub(crate) safe_mode: Option<bool>,
    /// Whether it lists itself in the registry's hosts.
    pub(crate) listed: bool,
    pub(crate) guard_failures: u32,
    pub(crate) guard_window: Duration,
    pub(crate) pool: Pool,
    pub(crate) api: ApiSettings,
    pub(crate) tool_timeout: Duration,
    pub(crate) max_calls: u32,
    pub(crate) max_calls_per_plugin: u32,
    pub(crate) queue_wait: Duration,
    pub(crate) compile: CompileBounds,
    pub(crate) fallback: crate::providerspec::Fallback,
    /// The host-wide capability list (`None`: grants are the embedder's
    /// or the registry's alone).
    pub(crate) cap: Option<crate::hostconfig::CapabilityCap>,
    /// Whether every registry version needs a trusted signature here.
    pub(crate) require_signatures: bool,
    /// Plugin folders to load and watch.
    pub(crate) folders: Option<FolderOptions>,
    /// The services' limits.
    pub(crate) services: crate::servicespec::ServiceLimits,
    /// Where the inbound HTTP listener listens, if the host has one.
    #[cfg_attr(not(feature = "services"), allow(dead_code))]
    pub(crate) inbound: Option<std::net::SocketAddr>,
    /// The hook points this host declares itself.
    pub(crate) host_points: Vec<Arc<crate::HostPointSpec>>,
    /// How remote MCP servers' tools are served.
    #[cfg(feature = "mcp")]
    pub(crate) gateway: crate::gateway::GatewayOptions,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            name: "yoi-host".into(),
            memory_limit: 64 * 1024 * 1024,
            chain_budget: Duration::from_millis(8000),
            reuse_instances: false,
            cache_dir: None,
            #[cfg(feature = "registry")]
            registry: None,
            #[cfg(feature = "registry")]
            event_retention: Some(DEFAULT_EVENT_RETENTION),
            scope: Scope::All,
            safe_mode: None,
            listed: true,
            guard_failures: 5,
            guard_window: Duration::from_secs(300),
            pool: Pool::Sized,
            api: ApiSettings::default(),
            tool_timeout: Duration::from_secs(30),
            max_calls: 64,
            max_calls_per_plugin: 16,
            queue_wait: Duration::from_millis(1000),
            compile: CompileBounds {
                limits: CodeLimits::default(),
                timeout: Duration::from_secs(60),
                worker: None,
                memory: 4 << 30,
            },
            fallback: crate::providerspec::Fallback::default(),
            cap: None,
            require_signatures: false,
            folders: None,
            services: crate::servicespec::ServiceLimits::default(),
            inbound: None,
            host_points: Vec::new(),
            #[cfg(feature = "mcp")]
            gateway: crate::gateway::GatewayOptions::default(),
        }
    }
}

/// How instances get their memories, tables and stacks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Pool {
    /// The pooling allocator, sized from the concurrency limits (the
    /// default): [`Pool::instances`].
    Sized,
    /// The pooling allocator with room for exactly this many instances
    /// (`HostBuilder::pooling_allocator`); running calls are kept within it.
    Fixed(u32),
    /// wasmtime's on-demand allocator: every instance maps its own memory.
    Off,
}

impl Pool {
    /// Instances the pool holds: for [`Pool::Sized`], twice the host's
    /// concurrency limit, so every running call has a slot and as many are
    /// left for services' instances, warm instances (when reuse is on) and
    /// calls a timeout abandoned while their instance is torn down.
    pub(crate) fn instances(self, max_calls: u32) -> Option<u32> {
        match self {
            Pool::Sized => Some(max_calls.saturating_mul(2).max(16)),
            Pool::Fixed(n) => Some(n.max(1)),
            Pool::Off => None,
        }
    }
}

/// What a host configured with plugin folders loads from them.
#[derive(Debug, Clone, Default)]
pub(crate) struct FolderOptions {
    pub(crate) folders: Vec<PathBuf>,
    pub(crate) grants: std::collections::BTreeMap<String, crate::hostconfig::GrantSpec>,
    pub(crate) values:
        std::collections::BTreeMap<String, serde_json::Map<String, serde_json::Value>>,
    pub(crate) hot_reload: bool,
}
