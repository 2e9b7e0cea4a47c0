//! The embedder's entry point: build a [`Host`], load packages or boot from
//! the registry, dispatch.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use arc_swap::ArcSwap;
use serde::Serialize;
use wasmtime::Engine;
use wasmtime::component::Linker;
use yoi_manifest::{
    Capability, Compat, Diagnostics, FailMode, Hook, HookPoint, Package, PluginId, Rollout,
};

use crate::bindings::Contract;
use crate::cache::CompileCache;
use crate::error::HostError;
use crate::eventlog::EventLog;
use crate::options::Options;
use crate::plugin::{LoadOptions, LoadedPlugin, Origin, PluginInfo, SUPPORTED_POINTS};
use crate::report::ReloadReport;
use crate::sandbox::{PluginState, allowed_imports};
use crate::tooldefs::NativeEntry;

/// How often the engine's epoch advances. A handler's time limit is enforced
/// to within about one tick.
pub(crate) const EPOCH_TICK: Duration = Duration::from_millis(5);

/// The environment variable that starts every host in safe mode when set to
/// `1` (or `true`).
pub const SAFE_MODE_ENV: &str = "YOI_SAFE_MODE";

/// Whether [`SAFE_MODE_ENV`] asks for safe mode (`1` or `true`): what a
/// host built without an explicit choice does.
pub fn safe_mode_from_env() -> bool {
    std::env::var(SAFE_MODE_ENV).is_ok_and(|v| v == "1" || v.eq_ignore_ascii_case("true"))
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

/// The loaded plugins at one instant. Dispatch reads one snapshot from start
/// to end; changes build the next snapshot and swap it in whole.
#[derive(Default)]
pub(crate) struct Snapshot {
    pub(crate) plugins: Vec<Arc<LoadedPlugin>>,
    /// Each point's handlers in run order, computed when the snapshot is
    /// built so a dispatch never sorts.
    pub(crate) chains: BTreeMap<HookPoint, Vec<(Arc<LoadedPlugin>, Hook)>>,
    /// The registry change counter this snapshot reflects.
    pub(crate) change_seq: Option<i64>,
}

impl Snapshot {
    pub(crate) fn new(plugins: Vec<Arc<LoadedPlugin>>, change_seq: Option<i64>) -> Self {
        let mut chains: BTreeMap<HookPoint, Vec<(Arc<LoadedPlugin>, Hook)>> = BTreeMap::new();
        for p in &plugins {
            for hook in &p.info.hooks {
                chains
                    .entry(hook.point)
                    .or_default()
                    .push((Arc::clone(p), hook.clone()));
            }
        }
        for chain in chains.values_mut() {
            chain.sort_by(|(pa, ha), (pb, hb)| {
                hb.priority
                    .cmp(&ha.priority)
                    .then_with(|| pa.info.id.cmp(&pb.info.id))
                    .then_with(|| pa.order.cmp(&pb.order))
            });
        }
        Self {
            plugins,
            chains,
            change_seq,
        }
    }

    pub(crate) fn chain(&self, point: HookPoint) -> &[(Arc<LoadedPlugin>, Hook)] {
        self.chains.get(&point).map_or(&[], Vec::as_slice)
    }

    pub(crate) fn find(&self, id: &str) -> Option<&Arc<LoadedPlugin>> {
        self.plugins.iter().find(|p| p.info.id.as_str() == id)
    }
}

pub(crate) struct Shared {
    /// The loaded plugins' services and their drivers.
    pub(crate) services: crate::services::Services,
    /// Where the inbound HTTP listener listens, when the host has one.
    #[cfg_attr(not(feature = "services"), allow(dead_code))]
    pub(crate) inbound: std::sync::OnceLock<std::net::SocketAddr>,
    /// The embedder's model providers, in registration order.
    pub(crate) providers: RwLock<Vec<crate::providerspec::NativeProvider>>,
    /// The observer queues and their delivery thread.
    pub(crate) observers: crate::observers::Observers,
    /// Which plugin each package folder loaded, by its fingerprint.
    pub(crate) folder_plugins:
        Mutex<std::collections::BTreeMap<PathBuf, crate::plugin::Fingerprint>>,
    /// Who wants each folder reload's report (`Host::reloads`).
    pub(crate) reload_subscribers: Mutex<Vec<std::sync::mpsc::Sender<ReloadReport>>>,
    /// Watches the plugin folders while the host lives (hot reload): held
    /// only to be dropped with the host.
    #[cfg_attr(not(feature = "watch"), allow(dead_code))]
    pub(crate) folder_watcher: Mutex<Option<Box<dyn Send>>>,
    pub(crate) engine: Engine,
    pub(crate) linker: Linker<PluginState>,
    pub(crate) snapshot: ArcSwap<Snapshot>,
    /// Serializes snapshot changes (loads, reloads, crash-guard unloads);
    /// dispatch never takes it.
    pub(crate) update: Mutex<()>,
    pub(crate) next_order: AtomicU64,
    pub(crate) cache: Option<CompileCache>,
    /// What this host compiled, by digest (shared by plugins with the same
    /// code).
    pub(crate) compiled: crate::cache::Compiled,
    pub(crate) sink: Option<EventLog>,
    pub(crate) boot: Mutex<Option<ReloadReport>>,
    /// When the host was built, ms since the Unix epoch (its registry
    /// report's `started_at`).
    #[cfg_attr(not(feature = "registry"), allow(dead_code))]
    pub(crate) started_at: i64,
    pub(crate) options: Options,
    pub(crate) safe_mode: bool,
    /// The embedder's own tools.
    pub(crate) native: RwLock<Vec<Arc<NativeEntry>>>,
    /// One permit per guest call running in the whole host.
    pub(crate) calls: Arc<tokio::sync::Semaphore>,
    /// Recent load failures of registry plugins, for the crash guard.
    #[cfg_attr(not(feature = "registry"), allow(dead_code))]
    pub(crate) load_failures:
        Mutex<std::collections::HashMap<String, std::collections::VecDeque<std::time::Instant>>>,
    pub(crate) pressure: PressureCounters,
    /// Remote MCP servers' tools.
    #[cfg(feature = "mcp")]
    pub(crate) gateway: crate::gateway::Gateway,
}

/// Counters behind [`Host::pressure`].
#[derive(Default)]
pub(crate) struct PressureCounters {
    pub(crate) waiting: AtomicU64,
    pub(crate) peak_running: AtomicU64,
    pub(crate) busy: AtomicU64,
    pub(crate) evicted: AtomicU64,
}

/// How loaded the host is, for operators and tests.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Pressure {
    /// Guest calls running now.
    pub running: u64,
    /// Calls waiting for a slot now.
    pub waiting: u64,
    /// The most calls that ever ran at once.
    pub peak_running: u64,
    /// Calls that ended `busy`: no slot within their wait.
    pub busy: u64,
    /// Idle warm instances evicted to make room in the instance pool.
    pub evicted: u64,
    /// The host-wide limit on running calls.
    pub limit: u64,
    /// The per-plugin limit on running calls.
    pub per_plugin_limit: u64,
}

impl Shared {
    pub(crate) fn load_options(
        &self,
        origin: Origin,
        rollout: Option<Rollout>,
        grants: Vec<Capability>,
        config: serde_json::Map<String, serde_json::Value>,
    ) -> LoadOptions<'_> {
        LoadOptions {
            origin,
            rollout,
            grants,
            config,
            cache: self.cache.as_ref(),
            compiled: &self.compiled,
            host_memory_limit: self.options.memory_limit,
            api: self.options.api.clone(),
            order: self.next_order.fetch_add(1, Ordering::Relaxed),
            max_calls: self.options.max_calls_per_plugin,
            compile: &self.options.compile,
        }
    }
}

/// Refuses a package whose manifest this host's contracts cannot serve.
fn compatible(package: &Package) -> Result<(), HostError> {
    let problems = package.manifest().compatibility(&Host::compat());
    if problems.is_empty() {
        return Ok(());
    }
    let file = package.dir().join(yoi_manifest::MANIFEST_FILE);
    Err(HostError::Package {
        dir: package.dir().to_path_buf(),
        diagnostics: Diagnostics::new(
            problems,
            file.display().to_string(),
            Some(package.manifest_text().to_owned()),
        ),
    })
}

/// Refuses a second version of a plugin that `snapshot` already has.
fn already_loaded(
    snapshot: &Snapshot,
    plugin: &PluginId,
    version: &semver::Version,
) -> Result<(), HostError> {
    match snapshot.find(plugin.as_str()) {
        Some(loaded) => Err(HostError::AlreadyLoaded {
            plugin: plugin.clone(),
            loaded: loaded.info.version.clone(),
            version: version.clone(),
        }),
        None => Ok(()),
    }
}

/// The Yoi runtime: loaded plugins and the hook points that run them.
///
/// Each handler runs sandboxed with its own memory cap and time limit; a
/// handler that traps, loops or misbehaves affects only its own receipt.
/// `Host` is cheap to clone and `Send + Sync`: share it across threads and
/// dispatch from many at once. Dispatch methods are `async`; run them on a
/// Tokio runtime with timers enabled (`#[tokio::main]` does).
///
/// ```no_run
/// # async fn demo() -> Result<(), yoi_host::HostError> {
/// use yoi_host::{Host, ToolCall};
///
/// let host = Host::builder().build()?;
/// host.load("examples/guard")?;
/// let call = ToolCall {
///     tool_name: "shell".into(),
///     input: serde_json::json!({"cmd": "ls"}),
///     call_id: "call-1".into(),
///     turn: 0,
/// };
/// let outcome = host.dispatch(call).await;
/// if let Some(blocked) = &outcome.blocked {
///     println!("{}", blocked.message());
/// }
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct Host {
    pub(crate) shared: Arc<Shared>,
}

impl Host {
    /// What this host supports, for checking manifests.
    pub fn compat() -> Compat {
        Compat {
            contracts: Contract::ALL.iter().map(|c| c.version()).collect(),
            engine: semver::Version::parse(env!("CARGO_PKG_VERSION"))
                .unwrap_or_else(|e| unreachable!("the crate version is semver: {e}")),
            hook_points: SUPPORTED_POINTS.to_vec(),
            imports: allowed_imports(),
            tools_interface: Some("yoi:plugin/tools".into()),
        }
    }

    /// Whether the host runs in safe mode (nothing loads).
    pub fn safe_mode(&self) -> bool {
        self.shared.safe_mode
    }

    /// Opens the package folder `dir`, verifies it and loads the plugin
    /// with no grants: its `https`, `fs` and `secrets` calls are all denied.
    pub fn load(&self, dir: impl AsRef<Path>) -> Result<PluginInfo, HostError> {
        self.load_with_grants(dir, &[] as &[&str])
    }

    /// Like [`Host::load`], granting the plugin `grants`, written as for
    /// `yoi grant` (`https:api.example.com`, `fs:notes:rw`, `secret:KEY`).
    /// Each must stay within what the manifest requests.
    ///
    /// ```no_run
    /// # fn demo(host: &yoi_host::Host) -> Result<(), yoi_host::HostError> {
    /// host.load_with_grants("examples/notes", &["fs:notes:rw"])?;
    /// # Ok(()) }
    /// ```
    pub fn load_with_grants(
        &self,
        dir: impl AsRef<Path>,
        grants: &[impl AsRef<str>],
    ) -> Result<PluginInfo, HostError> {
        let dir = dir.as_ref();
        self.refuse_in_safe_mode()?;
        let package =
            Package::open(dir, &Self::compat()).map_err(|diagnostics| HostError::Package {
                dir: dir.to_path_buf(),
                diagnostics,
            })?;
        self.load_package_with_grants(package, grants)
    }

    /// Loads a package held in memory: `plugin.toml`'s text and the
    /// component's bytes, checked exactly as a folder is (limits, manifest,
    /// this host's contract, the pinned digest, the component's imports and
    /// exports). Tool schemas must be inline. `grants` as in
    /// [`Host::load_with_grants`].
    ///
    /// ```no_run
    /// # fn demo(host: &yoi_host::Host) -> Result<(), Box<dyn std::error::Error>> {
    /// let manifest = std::fs::read_to_string("examples/minimal/plugin.toml")?;
    /// let component = std::fs::read("examples/minimal/minimal.wasm")?;
    /// host.load_bytes(&manifest, component, &[] as &[&str])?;
    /// # Ok(()) }
    /// ```
    pub fn load_bytes(
        &self,
        manifest: &str,
        component: Vec<u8>,
        grants: &[impl AsRef<str>],
    ) -> Result<PluginInfo, HostError> {
        self.refuse_in_safe_mode()?;
        let name = "memory";
        let package = Package::from_bytes(name, manifest, component, &Self::compat()).map_err(
            |diagnostics| HostError::Package {
                dir: PathBuf::from(name),
                diagnostics,
            },
        )?;
        self.load_package_with_grants(package, grants)
    }

    /// Loads an already opened (digest-verified) package with no grants. It
    /// is checked against this host's contract again, whatever it was
    /// opened with.
    pub fn load_package(&self, package: Package) -> Result<PluginInfo, HostError> {
        self.load_package_with_grants(package, &[] as &[&str])
    }

    /// [`Host::load_package`] with grants, as in [`Host::load_with_grants`].
    pub fn load_package_with_grants(
        &self,
        package: Package,
        grants: &[impl AsRef<str>],
    ) -> Result<PluginInfo, HostError> {
        self.refuse_in_safe_mode()?;
        let manifest = package.manifest();
        let requested = Capability::requested_by(manifest);
        let mut granted = Vec::new();
        let cap = self.shared.options.cap.as_ref();
        // Grants come in as the embedder wrote them: read once, here.
        for text in grants {
            let text = text.as_ref();
            let refuse = |reason: String| HostError::Grant {
                plugin: manifest.plugin.id.clone(),
                grant: text.to_owned(),
                reason,
            };
            let cap_: Capability = text.parse().map_err(|e| refuse(format!("{e}")))?;
            if !requested.iter().any(|r| cap_.within(r)) {
                return Err(refuse(
                    "plugin.toml does not request it, and a grant can only narrow a request; add it to [capabilities]".into(),
                ));
            }
            if let Some(why) = cap.and_then(|c| c.refuses(&cap_)) {
                return Err(refuse(why));
            }
            granted.push(cap_);
        }
        compatible(&package)?;
        let s = &self.shared;
        already_loaded(
            &s.snapshot.load(),
            &manifest.plugin.id,
            &manifest.plugin.version,
        )?;
        let plugin = LoadedPlugin::load(
            &s.engine,
            &s.linker,
            package,
            s.load_options(Origin::Local, None, granted, serde_json::Map::new()),
        )?;
        let info = plugin.info.clone();
        let _update = s.update.lock().unwrap_or_else(|p| p.into_inner());
        let current = s.snapshot.load_full();
        // Checked again under the lock: another thread may have loaded it.
        already_loaded(&current, &info.id, &info.version)?;
        let mut plugins = current.plugins.clone();
        plugins.push(Arc::new(plugin));
        s.publish(Snapshot::new(plugins, current.change_seq));
        tracing::info!(plugin = %info.id, version = %info.version, digest = %info.digest, "plugin loaded");
        Ok(info)
    }

    /// Checks that `package` would load on this host, without loading it:
    /// its manifest against this host's contracts, then its component
    /// compiled (within the compile limits, cached by digest) and linked
    /// against the host's APIs and WASI, import types included. Nothing in
    /// the component runs, and nothing is registered. `yoi plugin check`
    /// and `yoi publish` run it, so a component that cannot link is refused
    /// before it reaches a registry, not at load on every host.
    pub fn check(&self, package: Package) -> Result<PluginInfo, HostError> {
        compatible(&package)?;
        let s = &self.shared;
        let plugin = LoadedPlugin::load(
            &s.engine,
            &s.linker,
            package,
            s.load_options(Origin::Local, None, Vec::new(), serde_json::Map::new()),
        )?;
        Ok(plugin.info.clone())
    }

    fn refuse_in_safe_mode(&self) -> Result<(), HostError> {
        if self.shared.safe_mode {
            Err(HostError::SafeMode)
        } else {
            Ok(())
        }
    }

    /// Sets the setting values of a plugin loaded from a folder or bytes
    /// (the registry configures its own: `yoi config set`). Every value must
    /// be of a setting its plugin.toml declares and meet its schema; the
    /// rest take their defaults. Dispatches already running finish with the
    /// old values; the next ones get new instances with the new values.
    ///
    /// ```no_run
    /// # fn demo(host: &yoi_host::Host) -> Result<(), yoi_host::HostError> {
    /// let values = serde_json::json!({ "deny": ["shell", "rm"] });
    /// host.configure("example.guard", values.as_object().cloned().unwrap_or_default())?;
    /// # Ok(()) }
    /// ```
    pub fn configure(
        &self,
        plugin: &str,
        values: serde_json::Map<String, serde_json::Value>,
    ) -> Result<(), HostError> {
        let s = &self.shared;
        let _update = s.update.lock().unwrap_or_else(|p| p.into_inner());
        let current = s.snapshot.load_full();
        let Some(loaded) = current.find(plugin) else {
            return Err(HostError::Config {
                plugin: yoi_manifest::PluginId::new(plugin).map_err(|why| HostError::Config {
                    plugin: yoi_manifest::PluginId::new("invalid")
                        .unwrap_or_else(|_| unreachable!()),
                    reason: format!("`{plugin}` {why}"),
                    fix: "name a loaded plugin".into(),
                })?,
                reason: "it is not loaded".into(),
                fix: "load it first (`Host::plugins` lists what is loaded)".into(),
            });
        };
        if loaded.info.origin != Origin::Local {
            return Err(HostError::Config {
                plugin: loaded.info.id.clone(),
                reason: "its settings come from the registry".into(),
                fix: format!("`yoi config set {plugin} KEY VALUE` (docs/configuration.md)"),
            });
        }
        let config = loaded
            .api
            .config
            .with_values(&values)
            .map_err(|reason| HostError::Config {
                plugin: loaded.info.id.clone(),
                reason,
                fix: "give values of the settings plugin.toml declares under [config], of their types".into(),
            })?;
        let next =
            Arc::new(loaded.redeployed(loaded.info.rollout, loaded.info.grants.clone(), config));
        let plugins = current
            .plugins
            .iter()
            .map(|p| {
                if p.info.id == next.info.id {
                    Arc::clone(&next)
                } else {
                    Arc::clone(p)
                }
            })
            .collect();
        s.publish(Snapshot::new(plugins, current.change_seq));
        tracing::info!(plugin = %plugin, "plugin reconfigured");
        Ok(())
    }

    /// Unloads a plugin; dispatches already running finish with it. Returns
    /// whether it was loaded.
    pub fn unload(&self, plugin: &str) -> bool {
        self.shared.remove(plugin, None)
    }

    /// The loaded plugins, in load order.
    pub fn plugins(&self) -> Vec<PluginInfo> {
        self.shared
            .snapshot
            .load()
            .plugins
            .iter()
            .map(|p| p.info.clone())
            .collect()
    }

    /// The handlers of `point` in the order they run: priority descending,
    /// then plugin id, then load order.
    pub fn handlers(&self, point: HookPoint) -> Vec<Handler> {
        self.shared
            .snapshot
            .load()
            .chain(point)
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

    /// What the boot from the registry loaded and refused (`None` without a
    /// registry).
    pub fn boot_report(&self) -> Option<ReloadReport> {
        self.shared
            .boot
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// Waits until every receipt of finished dispatches is written to the
    /// registry's events table (they are written in the background).
    pub fn flush_events(&self) {
        if let Some(sink) = &self.shared.sink {
            sink.flush();
        }
    }

    /// How many guest calls run and wait now, the peak, and how many ended
    /// `busy`.
    pub fn pressure(&self) -> Pressure {
        let p = &self.shared.pressure;
        let s = &self.shared.options;
        Pressure {
            running: self.shared.running_calls(),
            waiting: p.waiting.load(Ordering::Relaxed),
            peak_running: p.peak_running.load(Ordering::Relaxed),
            busy: p.busy.load(Ordering::Relaxed),
            evicted: p.evicted.load(Ordering::Relaxed),
            limit: u64::from(s.max_calls),
            per_plugin_limit: u64::from(s.max_calls_per_plugin),
        }
    }

    /// Receipts that could not be recorded (queue full or registry error).
    pub fn dropped_events(&self) -> u64 {
        self.shared.sink.as_ref().map_or(0, EventLog::dropped)
    }
}

impl Shared {
    /// Guest calls running now: the host's call permits taken.
    pub(crate) fn running_calls(&self) -> u64 {
        let free = self.calls.available_permits();
        u64::from(self.options.max_calls).saturating_sub(free as u64)
    }

    /// Drops every idle warm instance in the host, to free pool slots.
    pub(crate) fn evict_idle(&self) {
        let n: usize = self
            .snapshot
            .load()
            .plugins
            .iter()
            .map(|p| p.evict_idle())
            .sum();
        self.pressure.evicted.fetch_add(n as u64, Ordering::Relaxed);
    }

    /// Takes a plugin out of the current snapshot. With `only`, removes it
    /// only if it is still that very instance (a reload may have replaced it).
    pub(crate) fn remove(&self, plugin: &str, only: Option<&Arc<LoadedPlugin>>) -> bool {
        let _update = self.update.lock().unwrap_or_else(|p| p.into_inner());
        let current = self.snapshot.load_full();
        let Some(found) = current.find(plugin) else {
            return false;
        };
        if only.is_some_and(|o| !Arc::ptr_eq(o, found)) {
            return false;
        }
        let plugins = current
            .plugins
            .iter()
            .filter(|p| p.info.id.as_str() != plugin)
            .cloned()
            .collect();
        self.publish(Snapshot::new(plugins, current.change_seq));
        true
    }

    /// Tells the observers of `reload` what a reload left loaded and
    /// refused.
    pub(crate) fn observe_reload(&self, report: &ReloadReport) {
        self.observers
            .emit(|| crate::observers::ObservationEvent::Reload {
                loaded: self
                    .snapshot
                    .load()
                    .plugins
                    .iter()
                    .map(|p| format!("{}@{}", p.info.id, p.info.version))
                    .collect(),
                refused: report
                    .refused
                    .iter()
                    .map(|r| (r.plugin.clone(), r.reason.clone()))
                    .collect(),
            });
    }

    /// Swaps `snapshot` in, and gives its observers their queues. Callers
    /// hold `update`.
    pub(crate) fn publish(&self, snapshot: Snapshot) {
        let observers: Vec<_> = snapshot
            .plugins
            .iter()
            .filter_map(|p| p.observer.as_ref().map(|o| (&p.info.id, o)))
            .collect();
        self.observers.sync(&observers);
        self.services.sync(&snapshot.plugins);
        let used = snapshot.plugins.iter().map(|p| p.info.digest).collect();
        self.snapshot.store(Arc::new(snapshot));
        // In-flight calls on the old snapshot hold their own references.
        self.compiled.retain(&used);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{ToolCall, ToolResult};

    fn is_send<T: Send>(_: &T) {}
    fn is_send_sync<T: Send + Sync>() {}

    /// Embedders share one host across threads and spawn dispatches on a
    /// multi-threaded runtime: both must stay possible.
    #[test]
    fn host_is_shareable_and_dispatch_futures_are_send() {
        is_send_sync::<Host>();
        let host = Host::builder().build().expect("host starts");
        is_send(&host.dispatch(ToolCall::default()));
        is_send(&host.dispatch_for("user", ToolResult::default()));
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
        let out = host.dispatch(call.clone()).await;
        assert_eq!(out.data, call);
        assert!(out.blocked.is_none() && out.receipts.is_empty());
    }

    #[test]
    fn safe_mode_refuses_loads_and_says_how_to_leave_it() {
        let host = Host::builder()
            .safe_mode(true)
            .build()
            .expect("host starts");
        assert!(host.safe_mode());
        let err = host.load("does-not-matter").unwrap_err();
        assert!(err.to_string().contains("YOI_SAFE_MODE"), "{err}");
    }

    #[tokio::test]
    async fn json_payloads_are_checked_against_the_point() {
        let host = Host::builder().build().expect("host starts");
        let err = host
            .dispatch_json(
                HookPoint::ModelPreCall,
                None,
                serde_json::json!({"modle": "x"}),
            )
            .await
            .unwrap_err();
        assert!(err.to_string().contains("unknown field `modle`"), "{err}");
        let ok = host
            .dispatch_json(HookPoint::HostStart, None, serde_json::json!({"name": "a"}))
            .await
            .expect("valid");
        assert_eq!(ok.data["name"], "a");
    }
}
