//! The embedder's entry point: build a [`Host`], load packages or boot from
//! the registry, dispatch.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use arc_swap::ArcSwap;
use serde::Serialize;
use serde_json::Value;
use wasmtime::component::Linker;
use wasmtime::{Config, Engine, InstanceAllocationStrategy, PoolingAllocationConfig};
use yoi_manifest::{CodeLimits, Compat, Diagnostics, FailMode, Hook, HookPoint, Package, PluginId};
use yoi_registry::{Registry, Scope};

use crate::CONTRACT;
use crate::api::{ApiSettings, SecretSource};
use crate::cache::CompileCache;
use crate::dispatch::run_chain;
use crate::error::HostError;
use crate::events::{Event, dispatch_json};
use crate::plugin::{
    CompileBounds, LoadOptions, LoadedPlugin, Origin, PluginInfo, SUPPORTED_POINTS,
};
use crate::receipt::Dispatch;
use crate::sandbox::{self, ALLOWED_IMPORTS, PluginState};
use crate::sink::EventSink;
use crate::tools::NativeEntry;

/// How often the engine's epoch advances. A handler's time limit is enforced
/// to within about one tick.
pub(crate) const EPOCH_TICK: Duration = Duration::from_millis(5);

/// The environment variable that starts every host in safe mode when set to
/// `1` (or `true`).
pub const SAFE_MODE_ENV: &str = "YOI_SAFE_MODE";

/// Configures and builds a [`Host`].
///
/// ```no_run
/// # fn demo() -> Result<(), yoi_host::HostError> {
/// use std::sync::Arc;
/// use yoi_host::Host;
///
/// let registry = Arc::new(yoi_registry::Registry::open("/var/lib/yoi".as_ref()).unwrap());
/// let host = Host::builder()
///     .registry(registry)
///     .compile_cache("/var/cache/yoi")
///     .crash_guard(5, std::time::Duration::from_secs(300))
///     .build()?;
/// println!("{:?}", host.boot_report());
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct HostBuilder {
    pub(crate) name: String,
    pub(crate) memory_limit: usize,
    pub(crate) chain_budget: Duration,
    pub(crate) reuse_instances: bool,
    pub(crate) cache_dir: Option<PathBuf>,
    pub(crate) registry: Option<Arc<Registry>>,
    pub(crate) scope: Scope,
    pub(crate) safe_mode: Option<bool>,
    pub(crate) guard_failures: u32,
    pub(crate) guard_window: Duration,
    pub(crate) pool: Option<u32>,
    pub(crate) api: ApiSettings,
    pub(crate) tool_timeout: Duration,
    pub(crate) max_calls: u32,
    pub(crate) max_calls_per_plugin: u32,
    pub(crate) queue_wait: Duration,
    pub(crate) compile: CompileBounds,
}

impl Default for HostBuilder {
    fn default() -> Self {
        Self {
            name: "yoi-host".into(),
            memory_limit: 64 * 1024 * 1024,
            chain_budget: Duration::from_millis(8000),
            reuse_instances: true,
            cache_dir: None,
            registry: None,
            scope: Scope::All,
            safe_mode: None,
            guard_failures: 5,
            guard_window: Duration::from_secs(300),
            pool: None,
            api: ApiSettings::default(),
            tool_timeout: Duration::from_secs(30),
            max_calls: 64,
            max_calls_per_plugin: 16,
            queue_wait: Duration::from_millis(1000),
            compile: CompileBounds {
                limits: CodeLimits::default(),
                timeout: Duration::from_secs(60),
            },
        }
    }
}

impl HostBuilder {
    /// The host's name, used as the actor of the audit entries it writes
    /// (crash-guard `auto_disable`). Default `yoi-host`.
    pub fn name(mut self, name: impl Into<String>) -> Self {
        self.name = name.into();
        self
    }

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

    /// Whether a plugin's healthy instances are kept warm and reused for
    /// later events (default `true`), or every event gets a fresh instance.
    ///
    /// Either way, an instance that trapped, timed out, wrote to stdout or
    /// stderr, or grew its memory past 16 MiB is discarded, and no instance
    /// is ever shared between plugins or used by two events at once. With
    /// reuse, a plugin's globals may survive from one of its events to the
    /// next; without it, every event starts from the component's initial
    /// state, at the price of an instantiation per handler.
    pub fn reuse_instances(mut self, reuse: bool) -> Self {
        self.reuse_instances = reuse;
        self
    }

    /// The folder holding each plugin's data root, `<dir>/<plugin id>/`,
    /// which its `fs` grants are relative to. Without it, `fs` calls fail.
    pub fn data_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.api.data_dir = Some(dir.into());
        self
    }

    /// Bytes each plugin may keep in its data root (default 64 MiB). A write
    /// that would pass it is refused and recorded as a denial.
    pub fn fs_quota(mut self, bytes: u64) -> Self {
        self.api.limits.fs_quota = bytes;
        self
    }

    /// Files, folders and links each plugin may keep in its data root
    /// (default 10,000): empty files cost the disk inodes and directory
    /// blocks that a byte quota does not see. A call that would pass it is
    /// refused and recorded as a denial.
    pub fn fs_entry_quota(mut self, entries: u64) -> Self {
        self.api.limits.fs_entries = entries;
        self
    }

    /// Where plugins' granted secrets come from (`secret:KEY` grants). Without
    /// one, every secret reads as not found.
    pub fn secrets(mut self, source: impl SecretSource + 'static) -> Self {
        self.api.secrets = Some(Arc::new(source));
        self
    }

    /// Bounds on a plugin's `https` calls: the longest a request may take,
    /// redirects included (default 10 s; a handler's own time limit still
    /// applies), and the largest request and response bodies (default 1 MiB
    /// and 4 MiB).
    pub fn https_limits(
        mut self,
        timeout: Duration,
        request_bytes: usize,
        response_bytes: usize,
    ) -> Self {
        let limits = &mut self.api.limits;
        limits.http_timeout = timeout;
        limits.http_request_bytes = request_bytes;
        limits.http_response_bytes = response_bytes;
        self
    }

    /// Longest one tool call may run (default 30 s), whether a plugin tool
    /// or a native one.
    pub fn tool_timeout(mut self, timeout: Duration) -> Self {
        self.tool_timeout = timeout;
        self
    }

    /// Keeps compiled components in `dir`, keyed by artifact digest and
    /// engine, so a restart recompiles nothing. The folder must be writable
    /// only by the host's user.
    pub fn compile_cache(mut self, dir: impl Into<PathBuf>) -> Self {
        self.cache_dir = Some(dir.into());
        self
    }

    /// Boots from `registry`: the host loads each active version of each
    /// enabled plugin, with its grants, and [`Host::reload`] follows changes.
    /// Receipts are recorded in the registry's events table.
    pub fn registry(mut self, registry: Arc<Registry>) -> Self {
        self.registry = Some(registry);
        self
    }

    /// The scope this host runs as (default `all`): versions activated for
    /// another scope (`beta`, `canary`, `internal`) are not loaded here.
    pub fn scope(mut self, scope: Scope) -> Self {
        self.scope = scope;
        self
    }

    /// Safe mode: no plugin is loaded at all. When not set here, the
    /// `YOI_SAFE_MODE` environment variable decides.
    pub fn safe_mode(mut self, on: bool) -> Self {
        self.safe_mode = Some(on);
        self
    }

    /// The crash guard: `failures` handler failures (errors or timeouts)
    /// within `window` unload the plugin and, for registry plugins, disable
    /// it in the registry (`auto_disable`). A success resets the count.
    /// Default 5 in 5 minutes; `failures = 0` turns the guard off.
    pub fn crash_guard(mut self, failures: u32, window: Duration) -> Self {
        self.guard_failures = failures;
        self.guard_window = window;
        self
    }

    /// How many guest calls may run at once: in the whole host (default 64)
    /// and for any one plugin (default 16). Each running call holds one
    /// instance, which may grow to the memory limit, so the host's worst
    /// case is about `host × memory_limit` for running calls plus the idle
    /// warm instances (at most 8 per plugin, each under 16 MiB): with the
    /// defaults, 64 × 64 MiB = 4 GiB plus 128 MiB per plugin
    /// (docs/hooks.md, "Concurrency and memory"). A call beyond either
    /// limit waits its turn, first come first served, for at most
    /// [`HostBuilder::queue_wait`] and never past its own time limit; one
    /// that gets no turn ends `busy`, which never counts against the plugin.
    /// The per-plugin limit keeps one flooded plugin from taking every
    /// slot from the others.
    pub fn concurrency(mut self, host: u32, per_plugin: u32) -> Self {
        self.max_calls = host.max(1);
        self.max_calls_per_plugin = per_plugin.max(1);
        self
    }

    /// Longest a call waits for a free slot before it ends `busy`
    /// (default 1 s; a handler's own time limit still applies).
    pub fn queue_wait(mut self, wait: Duration) -> Self {
        self.queue_wait = wait;
        self
    }

    /// Bounds on compiling a plugin: structural limits on its code, checked
    /// by one cheap pass before the compiler runs (default
    /// [`CodeLimits::default`], the limits every package is published
    /// under; a host may only be stricter in effect), and the longest a
    /// compile may take before it is given up (default 60 s). A refused
    /// compile refuses that plugin only.
    pub fn compile_limits(mut self, limits: CodeLimits, timeout: Duration) -> Self {
        self.compile = CompileBounds { limits, timeout };
        self
    }

    /// Uses wasmtime's pooling allocator with room for `instances` live
    /// instances (warm ones included): memories, tables and stacks are
    /// reserved up front and recycled, which makes a fresh instance several
    /// times cheaper. The price is address space reserved at start (a few
    /// GiB per slot, virtual, not resident) and a hard cap. Running calls
    /// are kept within the pool ([`HostBuilder::concurrency`] is clamped to
    /// it); when idle warm instances fill the rest, they are evicted before
    /// a call is refused, and a call that still finds no slot ends `busy`,
    /// never `error`. Off by default.
    pub fn pooling_allocator(mut self, instances: u32) -> Self {
        self.pool = Some(instances);
        self
    }

    /// Starts the engine, and boots from the registry if one is set.
    pub fn build(mut self) -> Result<Host, HostError> {
        if let Some(n) = self.pool {
            self.max_calls = self.max_calls.min(n.max(1));
        }
        let engine_err = |e: wasmtime::Error| HostError::Engine(format!("{e:#}"));
        let mut config = Config::new();
        config
            .wasm_component_model(true)
            .epoch_interruption(true)
            .max_wasm_stack(512 * 1024);
        if let Some(n) = self.pool {
            let mut pool = PoolingAllocationConfig::new();
            pool.total_component_instances(n)
                .total_core_instances(n.saturating_mul(4))
                .total_memories(n.saturating_mul(2))
                .total_tables(n.saturating_mul(4))
                .total_stacks(n)
                .max_core_instances_per_component(16)
                .max_memories_per_component(4)
                .max_tables_per_component(16)
                .max_memory_size(self.memory_limit);
            config.allocation_strategy(InstanceAllocationStrategy::Pooling(pool));
        }
        let engine = Engine::new(&config).map_err(engine_err)?;
        let linker = sandbox::linker(&engine).map_err(engine_err)?;
        spawn_epoch_ticker(&engine)?;
        let cache = self
            .cache_dir
            .as_deref()
            .map(|dir| {
                CompileCache::open(dir, &engine).map_err(|e| HostError::Cache {
                    dir: dir.to_path_buf(),
                    reason: e.to_string(),
                })
            })
            .transpose()?;
        let sink = self
            .registry
            .as_ref()
            .map(|r| EventSink::spawn(Arc::clone(r)))
            .transpose()
            .map_err(|e| HostError::Engine(format!("cannot start the event writer: {e}")))?;
        let safe_mode = self.safe_mode.unwrap_or_else(|| {
            std::env::var(SAFE_MODE_ENV).is_ok_and(|v| v == "1" || v.eq_ignore_ascii_case("true"))
        });
        if safe_mode {
            tracing::warn!("safe mode: no plugin will be loaded");
        }
        let max_calls = self.max_calls as usize;
        let host = Host {
            shared: Arc::new(Shared {
                engine,
                linker,
                snapshot: ArcSwap::from_pointee(Snapshot::default()),
                update: Mutex::new(()),
                next_order: AtomicU64::new(0),
                cache,
                sink,
                boot: Mutex::new(None),
                settings: self,
                safe_mode,
                native: RwLock::new(Vec::new()),
                calls: Arc::new(tokio::sync::Semaphore::new(max_calls)),
                load_failures: Mutex::default(),
                pressure: PressureCounters::default(),
            }),
        };
        if host.shared.settings.registry.is_some() {
            let report = host.reload()?;
            *host.shared.boot.lock().unwrap_or_else(|p| p.into_inner()) = Some(report);
        }
        Ok(host)
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
    pub(crate) engine: Engine,
    pub(crate) linker: Linker<PluginState>,
    pub(crate) snapshot: ArcSwap<Snapshot>,
    /// Serializes snapshot changes (loads, reloads, crash-guard unloads);
    /// dispatch never takes it.
    pub(crate) update: Mutex<()>,
    next_order: AtomicU64,
    pub(crate) cache: Option<CompileCache>,
    pub(crate) sink: Option<EventSink>,
    boot: Mutex<Option<crate::ReloadReport>>,
    pub(crate) settings: HostBuilder,
    pub(crate) safe_mode: bool,
    /// The embedder's own tools.
    pub(crate) native: RwLock<Vec<Arc<NativeEntry>>>,
    /// One permit per guest call running in the whole host.
    pub(crate) calls: Arc<tokio::sync::Semaphore>,
    /// Recent load failures of registry plugins, for the crash guard.
    pub(crate) load_failures:
        Mutex<std::collections::HashMap<String, std::collections::VecDeque<std::time::Instant>>>,
    pub(crate) pressure: PressureCounters,
}

/// Counters behind [`Host::pressure`].
#[derive(Default)]
pub(crate) struct PressureCounters {
    pub(crate) running: AtomicU64,
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
        rollout: Option<yoi_registry::Rollout>,
        grants: Vec<String>,
    ) -> LoadOptions<'_> {
        LoadOptions {
            origin,
            rollout,
            grants,
            cache: self.cache.as_ref(),
            host_memory_limit: self.settings.memory_limit,
            api: self.settings.api.clone(),
            order: self.next_order.fetch_add(1, Ordering::Relaxed),
            max_calls: self.settings.max_calls_per_plugin,
            compile: self.settings.compile,
        }
    }
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
        let manifest = &package.manifest;
        let requested = yoi_registry::Capability::requested_by(manifest);
        let mut granted = Vec::new();
        for text in grants {
            let text = text.as_ref();
            let refuse = |reason: String| HostError::Grant {
                plugin: manifest.plugin.id.clone(),
                grant: text.to_owned(),
                reason,
            };
            let cap: yoi_registry::Capability = text.parse().map_err(|e| refuse(format!("{e}")))?;
            if !requested.iter().any(|r| cap.within(r)) {
                return Err(refuse(
                    "plugin.toml does not request it, and a grant can only narrow a request; add it to [capabilities]".into(),
                ));
            }
            granted.push(cap.to_string());
        }
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
            s.load_options(Origin::Local, None, granted),
        )?;
        let info = plugin.info.clone();
        let _update = s.update.lock().unwrap_or_else(|p| p.into_inner());
        let current = s.snapshot.load_full();
        // Checked again under the lock: another thread may have loaded it.
        already_loaded(&current, &info.id, &info.version)?;
        let mut plugins = current.plugins.clone();
        plugins.push(Arc::new(plugin));
        s.snapshot
            .store(Arc::new(Snapshot::new(plugins, current.change_seq)));
        tracing::info!(plugin = %info.id, version = %info.version, digest = %info.digest, "plugin loaded");
        Ok(info)
    }

    fn refuse_in_safe_mode(&self) -> Result<(), HostError> {
        if self.shared.safe_mode {
            Err(HostError::SafeMode)
        } else {
            Ok(())
        }
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
    pub fn boot_report(&self) -> Option<crate::ReloadReport> {
        self.shared
            .boot
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// Runs the hook point of `event`'s type with every handler that applies
    /// to all subjects (plugins on a partial rollout are skipped: use
    /// [`Host::dispatch_for`]).
    ///
    /// The answer holds the event as the handlers left it, who blocked it
    /// and why, and one receipt per handler. It never fails: a handler's
    /// failure is in its receipt.
    pub async fn dispatch<E: Event>(&self, event: E) -> Dispatch<E> {
        run_chain(self, None, event).await
    }

    /// [`Host::dispatch`] for one subject (a user, session or work item):
    /// a plugin on a partial rollout runs only when the subject falls in its
    /// share, the same answer every time for the same subject.
    pub async fn dispatch_for<E: Event>(&self, subject: &str, event: E) -> Dispatch<E> {
        run_chain(self, Some(subject), event).await
    }

    /// Runs `point` with an event given as JSON (the point's event fields),
    /// for tools that read payloads from files. Fails only when the payload
    /// is not a valid event of that point.
    pub async fn dispatch_json(
        &self,
        point: HookPoint,
        subject: Option<&str>,
        payload: Value,
    ) -> Result<Dispatch<Value>, HostError> {
        dispatch_json(self, subject, point, payload)
            .await
            .map_err(|reason| HostError::Payload { point, reason })
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
        let s = &self.shared.settings;
        Pressure {
            running: p.running.load(Ordering::Relaxed),
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
        self.shared.sink.as_ref().map_or(0, EventSink::dropped)
    }
}

impl Shared {
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
        self.snapshot
            .store(Arc::new(Snapshot::new(plugins, current.change_seq)));
        true
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
