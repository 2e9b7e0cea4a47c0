//! The embedder's entry point: build a [`Host`], load packages, dispatch.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use serde::Serialize;
use wasmtime::component::Linker;
use wasmtime::{Config, Engine};
use yoi_manifest::{Compat, Diagnostics, FailMode, Hook, HookPoint, Package, PluginId};

use crate::CONTRACT;
use crate::dispatch::run_chain;
use crate::error::HostError;
use crate::events::{ToolCall, ToolResult};
use crate::plugin::{LoadedPlugin, PluginInfo, SUPPORTED_POINTS};
use crate::receipt::Dispatch;
use crate::sandbox::{self, ALLOWED_IMPORTS, PluginState};

/// How often the engine's epoch advances. A handler's time limit is enforced
/// to within about one tick.
const EPOCH_TICK: Duration = Duration::from_millis(5);

/// Configures and builds a [`Host`].
#[derive(Debug, Clone)]
pub struct HostBuilder {
    memory_limit: usize,
    chain_budget: Duration,
}

impl Default for HostBuilder {
    fn default() -> Self {
        Self {
            memory_limit: 64 * 1024 * 1024,
            chain_budget: Duration::from_millis(8000),
        }
    }
}

impl HostBuilder {
    /// Largest linear memory one plugin instance may grow to, in bytes
    /// (default 64 MiB). A plugin's `[limits] memory_mb` may ask for less,
    /// never more. Growing past it traps that instance only.
    pub fn memory_limit(mut self, bytes: usize) -> Self {
        self.memory_limit = bytes;
        self
    }

    /// Total time all handlers of one dispatch may take (default 8 s). A
    /// handler gets the smaller of its own `timeout_ms` and what is left.
    pub fn chain_budget(mut self, budget: Duration) -> Self {
        self.chain_budget = budget;
        self
    }

    /// Starts the engine.
    pub fn build(self) -> Result<Host, HostError> {
        let mut config = Config::new();
        config
            .wasm_component_model(true)
            .epoch_interruption(true)
            .max_wasm_stack(512 * 1024);
        let engine = Engine::new(&config).map_err(|e| HostError::Engine(format!("{e:#}")))?;
        let linker = sandbox::linker(&engine).map_err(|e| HostError::Engine(format!("{e:#}")))?;
        spawn_epoch_ticker(&engine)?;
        Ok(Host {
            engine,
            linker,
            plugins: Vec::new(),
            chains: BTreeMap::new(),
            memory_limit: self.memory_limit,
            chain_budget: self.chain_budget,
        })
    }
}

/// Advances the engine's epoch every [`EPOCH_TICK`] so running guests notice
/// their deadlines. The thread ends once the engine is dropped.
fn spawn_epoch_ticker(engine: &Engine) -> Result<(), HostError> {
    let weak = engine.weak();
    std::thread::Builder::new()
        .name("yoi-epoch".into())
        .spawn(move || {
            loop {
                std::thread::sleep(EPOCH_TICK);
                match weak.upgrade() {
                    Some(engine) => engine.increment_epoch(),
                    None => return,
                }
            }
        })
        .map(drop)
        .map_err(|e| HostError::Engine(format!("cannot start the epoch thread: {e}")))
}

/// One handler in a point's chain, as [`Host::handlers`] reports it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Handler {
    /// Plugin id.
    pub plugin: PluginId,
    /// Plugin version.
    pub version: semver::Version,
    /// Priority (higher runs first).
    pub priority: i32,
    /// Fail mode.
    pub fail: FailMode,
    /// Time limit in milliseconds.
    pub timeout_ms: u32,
}

/// The Yoi runtime: loaded plugins and the hook points that run them.
///
/// Every dispatch runs each handler in a fresh, sandboxed instance with its
/// own memory cap and time limit; a handler that traps, loops or misbehaves
/// affects only its own receipt. Dispatch methods are `async`; run them on a
/// Tokio runtime (the WASI layer is built on Tokio).
///
/// ```no_run
/// # async fn demo() -> Result<(), yoi_host::HostError> {
/// use yoi_host::{Host, ToolCall};
///
/// let mut host = Host::builder().build()?;
/// host.load("examples/guard")?;
/// let call = ToolCall {
///     tool_name: "shell".into(),
///     input: serde_json::json!({"cmd": "ls"}),
///     call_id: "call-1".into(),
///     turn: 0,
/// };
/// let outcome = host.tool_pre_exec(call).await;
/// if let Some(blocked) = &outcome.blocked {
///     println!("{}", blocked.message());
/// }
/// # Ok(()) }
/// ```
pub struct Host {
    engine: Engine,
    linker: Linker<PluginState>,
    plugins: Vec<Arc<LoadedPlugin>>,
    /// Each point's handlers in run order, rebuilt when a plugin loads so a
    /// dispatch never sorts.
    chains: BTreeMap<HookPoint, Vec<(Arc<LoadedPlugin>, Hook)>>,
    memory_limit: usize,
    chain_budget: Duration,
}

impl Host {
    /// A builder with the default limits.
    pub fn builder() -> HostBuilder {
        HostBuilder::default()
    }

    /// What this host supports, for checking manifests.
    pub fn compat() -> Compat {
        Compat {
            contract: CONTRACT
                .parse()
                .unwrap_or_else(|e| unreachable!("CONTRACT is a valid contract: {e}")),
            engine: semver::Version::parse(env!("CARGO_PKG_VERSION"))
                .unwrap_or_else(|e| unreachable!("the crate version is semver: {e}")),
            hook_points: SUPPORTED_POINTS.to_vec(),
            imports: ALLOWED_IMPORTS.iter().map(|i| (*i).to_owned()).collect(),
            tools_interface: None,
        }
    }

    /// Opens the package folder `dir`, verifies it and loads the plugin.
    pub fn load(&mut self, dir: impl AsRef<Path>) -> Result<PluginInfo, HostError> {
        let dir = dir.as_ref();
        let package =
            Package::open(dir, &Self::compat()).map_err(|diagnostics| HostError::Package {
                dir: dir.to_path_buf(),
                diagnostics,
            })?;
        self.load_package(package)
    }

    /// Loads an already opened (digest-verified) package. It is checked
    /// against this host's contract again, whatever it was opened with.
    pub fn load_package(&mut self, package: Package) -> Result<PluginInfo, HostError> {
        let manifest = &package.manifest;
        let problems = manifest.compatibility(&Self::compat());
        if !problems.is_empty() {
            let file = package.dir.join(yoi_manifest::MANIFEST_FILE);
            return Err(HostError::Package {
                dir: package.dir.clone(),
                diagnostics: Diagnostics::new(
                    problems,
                    file.display().to_string(),
                    Some(package.manifest_text.clone()),
                ),
            });
        }
        if let Some(loaded) = self
            .plugins
            .iter()
            .find(|p| p.info.id == manifest.plugin.id)
        {
            return Err(HostError::AlreadyLoaded {
                plugin: manifest.plugin.id.clone(),
                loaded: loaded.info.version.clone(),
                version: manifest.plugin.version.clone(),
            });
        }
        let plugin = LoadedPlugin::load(&self.engine, &self.linker, package, self.memory_limit)?;
        let info = plugin.info.clone();
        tracing::info!(plugin = %info.id, version = %info.version, digest = %info.digest, "plugin loaded");
        self.plugins.push(Arc::new(plugin));
        self.rebuild_chains();
        Ok(info)
    }

    /// The loaded plugins, in load order.
    pub fn plugins(&self) -> impl Iterator<Item = &PluginInfo> {
        self.plugins.iter().map(|p| &p.info)
    }

    /// The handlers of `point` in the order they run: priority descending,
    /// then plugin id, then load order.
    pub fn handlers(&self, point: HookPoint) -> Vec<Handler> {
        self.chain(point)
            .iter()
            .map(|(p, hook)| Handler {
                plugin: p.info.id.clone(),
                version: p.info.version.clone(),
                priority: hook.priority,
                fail: hook.fail,
                timeout_ms: hook.timeout_ms,
            })
            .collect()
    }

    /// The handlers of `point` in run order.
    pub(crate) fn chain(&self, point: HookPoint) -> &[(Arc<LoadedPlugin>, Hook)] {
        self.chains.get(&point).map_or(&[], Vec::as_slice)
    }

    fn rebuild_chains(&mut self) {
        let mut chains: BTreeMap<HookPoint, Vec<(usize, Arc<LoadedPlugin>, Hook)>> =
            BTreeMap::new();
        for (order, p) in self.plugins.iter().enumerate() {
            for hook in &p.info.hooks {
                chains
                    .entry(hook.point)
                    .or_default()
                    .push((order, Arc::clone(p), hook.clone()));
            }
        }
        self.chains = chains
            .into_iter()
            .map(|(point, mut chain)| {
                chain.sort_by(|(oa, pa, ha), (ob, pb, hb)| {
                    hb.priority
                        .cmp(&ha.priority)
                        .then_with(|| pa.info.id.cmp(&pb.info.id))
                        .then_with(|| oa.cmp(ob))
                });
                (point, chain.into_iter().map(|(_, p, h)| (p, h)).collect())
            })
            .collect();
    }

    pub(crate) fn engine(&self) -> &Engine {
        &self.engine
    }

    pub(crate) fn chain_budget(&self) -> Duration {
        self.chain_budget
    }

    pub(crate) fn epoch_tick() -> Duration {
        EPOCH_TICK
    }

    /// Runs `tool.pre_exec`. When the result is blocked, do not run the tool;
    /// give the model [`Blocked::message`](crate::Blocked::message) instead.
    pub async fn tool_pre_exec(&self, call: ToolCall) -> Dispatch<ToolCall> {
        run_chain(self, call).await
    }

    /// Runs `tool.post_exec`; use the returned `data.output` as the tool's result.
    pub async fn tool_post_exec(&self, result: ToolResult) -> Dispatch<ToolResult> {
        run_chain(self, result).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn is_send<T: Send>(_: &T) {}
    fn is_send_sync<T: Send + Sync>() {}

    /// Embedders share one host across threads and spawn dispatches on a
    /// multi-threaded runtime: both must stay possible.
    #[test]
    fn host_is_shareable_and_dispatch_futures_are_send() {
        is_send_sync::<Host>();
        let host = Host::builder().build().expect("host starts");
        let call = ToolCall {
            tool_name: "t".into(),
            input: serde_json::Value::Null,
            call_id: String::new(),
            turn: 0,
        };
        is_send(&host.tool_pre_exec(call));
        let result = ToolResult {
            tool_name: "t".into(),
            input: serde_json::Value::Null,
            output: String::new(),
            duration_ms: 0,
            turn: 0,
        };
        is_send(&host.tool_post_exec(result));
    }

    #[tokio::test]
    async fn a_host_without_plugins_passes_events_through() {
        let host = Host::builder().build().expect("host starts");
        let call = ToolCall {
            tool_name: "t".into(),
            input: serde_json::json!({"a": 1}),
            call_id: "c".into(),
            turn: 1,
        };
        let out = host.tool_pre_exec(call.clone()).await;
        assert_eq!(out.data, call);
        assert!(out.blocked.is_none() && out.receipts.is_empty());
    }
}
