//! A loaded plugin: its manifest, compiled component and hook exports, checked
//! against the contract before anything runs; its warm instances; its
//! failure record for the crash guard.

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde::Serialize;
use wasmtime::component::{Component, Instance, InstancePre, Linker};
use wasmtime::{Engine, Store, UpdateDeadline};
use yoi_manifest::{
    Capability, CodeLimits, CodeStats, Digest, Hook, HookPoint, InputSchema, ObservationKind,
    Observer, Package, PluginId, Provider, Rollout, Scope,
};

use crate::api::config::PluginConfig;
use crate::api::{ApiSettings, PluginApi};
use crate::bindings::Contract;
use crate::cache::{CacheUse, CompileCache};
use crate::error::HostError;
use crate::exports::{Exports, Guests, Surfaces, Wanted};
use crate::sandbox::PluginState;
use crate::tooldefs::PluginTool;

/// The hook points this host dispatches: all of them.
pub const SUPPORTED_POINTS: [HookPoint; HookPoint::ALL.len()] = HookPoint::ALL;

/// Most idle warm instances kept per plugin. More concurrent events than
/// this still run (each gets an instance); the extras are dropped after.
const MAX_IDLE: usize = 8;

/// Shards of a plugin's idle instances (`MAX_IDLE` shared among them).
const IDLE_SHARDS: usize = 4;

/// One shard on a cache line of its own, so threads on different shards
/// never write the same line.
#[repr(align(128))]
#[derive(Default)]
struct IdleShard(Mutex<Vec<Warm>>);

/// A plugin's idle warm instances. A thread takes from and returns to its
/// own shard first, so two threads dispatching to one plugin do not take
/// turns on one lock (docs/BENCHMARKS.md, "Per-event isolation").
#[derive(Default)]
struct Idle([IdleShard; IDLE_SHARDS]);

impl Idle {
    /// This thread's shard.
    fn home() -> usize {
        static NEXT: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
        thread_local! {
            static HOME: usize = NEXT.fetch_add(1, Ordering::Relaxed) % IDLE_SHARDS;
        }
        HOME.with(|h| *h)
    }

    /// The shards, this thread's first.
    fn in_order(&self) -> impl Iterator<Item = &Mutex<Vec<Warm>>> {
        let home = Self::home();
        (0..IDLE_SHARDS).map(move |i| &self.0[(home + i) % IDLE_SHARDS].0)
    }

    fn take(&self) -> Option<Warm> {
        self.in_order()
            .find_map(|s| s.lock().unwrap_or_else(|p| p.into_inner()).pop())
    }

    /// Keeps `warm` unless every shard is full (it is then dropped).
    fn put(&self, warm: Warm) {
        for shard in self.in_order() {
            let mut idle = shard.lock().unwrap_or_else(|p| p.into_inner());
            if idle.len() < MAX_IDLE / IDLE_SHARDS {
                idle.push(warm);
                return;
            }
        }
    }

    fn evict(&self) -> usize {
        self.0
            .iter()
            .map(|s| std::mem::take(&mut *s.0.lock().unwrap_or_else(|p| p.into_inner())).len())
            .sum()
    }
}

/// What identifies a folder's package version: a change to either is a
/// new version to load.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Fingerprint {
    pub(crate) id: PluginId,
    digest: Digest,
    manifest: Digest,
}

impl Fingerprint {
    pub(crate) fn of(package: &Package) -> Fingerprint {
        let manifest = package.manifest();
        Fingerprint {
            id: manifest.plugin.id.clone(),
            digest: manifest.runtime.digest,
            manifest: Digest::of(package.manifest_text().as_bytes()),
        }
    }
}

/// Where a loaded plugin came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Origin {
    /// A package folder given to [`Host::load`](crate::Host::load).
    Local,
    /// The active version in the registry.
    Registry,
}

/// What the host knows about a loaded plugin.
#[derive(Debug, Clone, Serialize)]
pub struct PluginInfo {
    /// Plugin id.
    pub id: PluginId,
    /// Plugin version.
    pub version: semver::Version,
    /// The artifact digest the plugin was loaded from.
    pub digest: Digest,
    /// Declared hooks, in manifest order.
    pub hooks: Vec<Hook>,
    /// Where it came from.
    pub origin: Origin,
    /// Which part of the audience it reaches (registry plugins); `None`
    /// means every subject.
    pub rollout: Option<Rollout>,
    /// Capabilities the operator granted (`yoi grant` form in JSON).
    pub grants: Vec<Capability>,
    /// Whether the compiled code came from the compile cache.
    pub cache: CacheUse,
    /// Declared tools, namespaced: `<plugin id>.<tool>`.
    pub tools: Vec<String>,
    /// Declared model providers, namespaced: `<plugin id>.<provider>`.
    pub providers: Vec<String>,
    /// The observation kinds it receives (empty: not an observer).
    pub observes: Vec<ObservationKind>,
    /// Its services' names (`[[services]]`), in manifest order.
    pub services: Vec<String>,
}

/// A warm instance: a store, the instance living in it, and its exports
/// as looked up so far.
pub(crate) struct Warm {
    pub(crate) store: Store<PluginState>,
    pub(crate) instance: Instance,
    pub(crate) guests: Guests,
}

pub(crate) struct LoadedPlugin {
    pub(crate) info: PluginInfo,
    pub(crate) name: Arc<str>,
    pub(crate) pre: InstancePre<PluginState>,
    /// Its hook and tool exports, in the contract version it was built for.
    pub(crate) exports: Exports,
    /// The plugin's tools.
    pub(crate) tools: Vec<PluginTool>,
    /// The model providers it serves.
    pub(crate) providers: Vec<Provider>,
    /// What it observes, if it is an observer.
    pub(crate) observer: Option<Observer>,
    /// Its services, run by the service manager while it is loaded.
    pub(crate) services: Vec<yoi_manifest::Service>,
    /// Its grants and the host APIs behind them.
    pub(crate) api: Arc<PluginApi>,
    /// The plugin's `[limits] memory_mb`, clamped to the host's limit.
    pub(crate) memory_limit: usize,
    /// Registration order, the last tie-breaker of a chain.
    pub(crate) order: u64,
    /// One permit per call of this plugin running now, `max_calls` in all.
    pub(crate) calls: Arc<tokio::sync::Semaphore>,
    #[cfg_attr(not(feature = "registry"), allow(dead_code))]
    max_calls: u32,
    /// Idle instances ready for the next event (when reuse is on).
    idle: Idle,
    /// Recent failures, for the crash guard; `failing` lets a success skip
    /// the lock when there is nothing to reset.
    failures: Mutex<HashMap<String, VecDeque<Instant>>>,
    failing: AtomicBool,
}

/// A plugin's parts besides its code: tools, host APIs, providers and
/// observer.
type Parts = (
    Vec<PluginTool>,
    Arc<PluginApi>,
    (Vec<Provider>, Option<Observer>, Vec<yoi_manifest::Service>),
);

/// Where a plugin is loaded from and with what.
pub(crate) struct LoadOptions<'a> {
    pub(crate) origin: Origin,
    pub(crate) rollout: Option<Rollout>,
    pub(crate) grants: Vec<Capability>,
    pub(crate) cache: Option<&'a CompileCache>,
    /// What the host already compiled, by digest.
    pub(crate) compiled: &'a crate::cache::Compiled,
    pub(crate) host_memory_limit: usize,
    pub(crate) api: ApiSettings,
    /// Registration order, the last tie-breaker of a chain.
    pub(crate) order: u64,
    /// Most calls of this plugin running at once.
    pub(crate) max_calls: u32,
    /// Bounds on compiling it.
    pub(crate) compile: &'a CompileBounds,
    /// The operator's setting values (the defaults fill the rest).
    pub(crate) config: serde_json::Map<String, serde_json::Value>,
}

/// What compiling one component may cost: structural limits checked before
/// the compiler sees the bytes, a wall-clock limit on the compile, and,
/// with a worker, the memory the compiling process may map.
#[derive(Debug, Clone)]
pub(crate) struct CompileBounds {
    pub(crate) limits: CodeLimits,
    pub(crate) timeout: Duration,
    /// Compiles run in this child process when set (killed at the
    /// timeout); in a thread of the host otherwise.
    pub(crate) worker: Option<crate::compiler::Worker>,
    /// Most bytes a worker may map.
    pub(crate) memory: u64,
}

/// Digests whose compile ran past its time limit in a thread of this
/// process and still runs, once per such compile: past
/// [`MAX_OVERDUE_PER_DIGEST`] of the same code, its loads are refused until
/// one ends (another plugin's load never is). A host with a compile worker
/// has none: its overdue compiles are killed.
static OVERDUE_COMPILES: Mutex<Vec<Digest>> = Mutex::new(Vec::new());
const MAX_OVERDUE_PER_DIGEST: usize = 2;

/// Compiles `artifact` with bounded work: the code limits are checked first
/// (one cheap pass, E0411), then the compile runs in the compile worker
/// (killed at the timeout, its memory freed), or without one on a thread
/// that is given up after the timeout. docs/hooks.md, "Compiling".
pub(crate) fn compile_bounded(
    engine: &Engine,
    (digest, artifact): (&Digest, &[u8]),
    memory_limit: usize,
    bounds: &CompileBounds,
) -> Result<Component, String> {
    CodeStats::measure(artifact, &bounds.limits)
        .map_err(|why| format!("E0411 code-too-complex: the component {why}"))?;
    if let Some(worker) = &bounds.worker {
        return crate::compiler::compile_in_child(
            worker,
            engine,
            (memory_limit, bounds.memory),
            artifact,
            bounds.timeout,
        );
    }
    let overdue = OVERDUE_COMPILES
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .iter()
        .filter(|d| *d == digest)
        .count();
    if overdue >= MAX_OVERDUE_PER_DIGEST {
        return Err(format!(
            "{overdue} earlier compiles of this code ({digest}) overran their time limit and \
             still run; try again once they end (a host with a compile worker stops such \
             compiles: HostBuilder::compile_worker)"
        ));
    }
    let (tx, rx) = std::sync::mpsc::sync_channel(1);
    // Whether the caller gave up waiting; decided under the lock, so the
    // overdue count is exact whichever side gets there first.
    let gave_up = Arc::new(Mutex::new(false));
    let engine = engine.clone();
    let bytes = artifact.to_vec();
    let flag = Arc::clone(&gave_up);
    let own = *digest;
    std::thread::Builder::new()
        .name("yoi-compile".into())
        .spawn(move || {
            let compiled = Component::new(&engine, &bytes).map_err(|e| format!("{e:#}"));
            let gave_up = flag.lock().unwrap_or_else(|p| p.into_inner());
            if *gave_up {
                let mut list = OVERDUE_COMPILES.lock().unwrap_or_else(|p| p.into_inner());
                if let Some(at) = list.iter().position(|d| *d == own) {
                    list.swap_remove(at);
                }
            } else {
                let _ = tx.send(compiled);
            }
        })
        .map_err(|e| format!("cannot start a compile thread: {e}"))?;
    match rx.recv_timeout(bounds.timeout) {
        Ok(compiled) => compiled,
        Err(_) => {
            let mut gave_up = gave_up.lock().unwrap_or_else(|p| p.into_inner());
            // It may have finished just now.
            if let Ok(compiled) = rx.try_recv() {
                return compiled;
            }
            *gave_up = true;
            OVERDUE_COMPILES
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .push(*digest);
            Err(format!(
                "compiling took longer than {} s and was given up; the component is too \
                 large to load on this host (HostBuilder::compile_limits)",
                bounds.timeout.as_secs_f64()
            ))
        }
    }
}

impl LoadedPlugin {
    /// Compiles (or fetches from the cache) and checks a package whose
    /// manifest and component were already inspected against this host's
    /// contract. Nothing in the component runs here.
    pub(crate) fn load(
        engine: &Engine,
        linker: &Linker<PluginState>,
        package: Package,
        opts: LoadOptions<'_>,
    ) -> Result<LoadedPlugin, HostError> {
        let tool_schemas = package.tool_schemas().to_vec();
        let (manifest, artifact) = package.into_parts();
        let config = PluginConfig::new(&manifest, &Default::default());
        let config = match opts.origin {
            Origin::Registry => config.and_then(|c| c.with_deployed(opts.config)),
            Origin::Local => config.and_then(|c| c.with_values(&opts.config)),
        }
        .map_err(|reason| HostError::Config {
            plugin: manifest.plugin.id.clone(),
            reason,
            fix: "give values of the settings plugin.toml declares under [config], of their types (docs/configuration.md)".into(),
        })?;
        let api = Arc::new(PluginApi::new(&manifest, &opts.grants, opts.api, config));
        let plugin = manifest.plugin.id.clone();
        let version = manifest.plugin.version.clone();
        let digest = manifest.runtime.digest;
        let contract =
            Contract::serving(&manifest.plugin.contract).ok_or_else(|| HostError::Compile {
                plugin: plugin.clone(),
                version: version.clone(),
                reason: format!(
                    "E0107 contract-incompatible: it targets {}, which this host does not serve",
                    manifest.plugin.contract
                ),
            })?;

        let compile = || {
            compile_bounded(
                engine,
                (&digest, &artifact),
                opts.host_memory_limit,
                opts.compile,
            )
        };
        let compiled = opts.compiled.get_or(digest, || match opts.cache {
            Some(cache) => cache.get_or_compile(engine, &digest, compile),
            None => compile().map(|c| (c, CacheUse::Off)),
        });
        let (component, cache) = compiled.map_err(|reason| HostError::Compile {
            plugin: plugin.clone(),
            version: version.clone(),
            reason,
        })?;

        let pre = linker
            .instantiate_pre(&component)
            .map_err(|e| HostError::Link {
                plugin: plugin.clone(),
                version: version.clone(),
                reason: format!("{e:#}"),
            })?;

        let mut tools = Vec::new();
        for (i, tool) in manifest.tools.iter().enumerate() {
            let schema = match (&tool.input_schema, tool_schemas.get(i)) {
                (InputSchema::Inline(schema), _) | (InputSchema::File(_), Some(schema)) => schema,
                (InputSchema::File(file), None) => {
                    return Err(HostError::Tool {
                        tool: format!("{plugin}.{}", tool.name),
                        reason: format!(
                            "its input schema is the file `{file}`, which this source does not carry; write the schema inline in plugin.toml"
                        ),
                    });
                }
            };
            tools.push(PluginTool::new(&plugin, tool, schema).map_err(|reason| {
                HostError::Tool {
                    tool: format!("{plugin}.{}", tool.name),
                    reason,
                }
            })?);
        }

        // Yoi's own points each have their export; host-defined points
        // share one (`host-hooks`).
        let points: Vec<HookPoint> = manifest
            .hooks
            .iter()
            .map(|h| h.point)
            .filter(|p| p.host().is_none())
            .collect();
        let surfaces = Surfaces {
            provider: !manifest.providers.is_empty(),
            observer: manifest.observer.is_some(),
            service: !manifest.services.is_empty(),
            host_hooks: manifest.hooks.iter().any(|h| h.point.host().is_some()),
        };
        let exports = Exports::resolve(contract, &pre, &points, !tools.is_empty(), surfaces)
            .map_err(|missing| match missing.wanted {
                Wanted::Hook(point) => HostError::MissingExport {
                    plugin: plugin.clone(),
                    version: version.clone(),
                    point,
                    interface: missing.interface,
                },
                Wanted::Tools => HostError::Tool {
                    tool: tools[0].qualified.clone(),
                    reason: format!(
                        "plugin.toml declares tools, but the component does not export `{}`; register them with `yoi_pdk::register!(tools: ...)`",
                        missing.interface
                    ),
                },
                Wanted::Surface(surface) => HostError::Compile {
                    plugin: plugin.clone(),
                    version: version.clone(),
                    reason: format!(
                        "plugin.toml declares {}, but the component does not export `{}`; target {} or later and register it with `yoi_pdk::register!`",
                        surface.table(),
                        missing.interface,
                        surface.since()
                    ),
                },
            })?;

        let requested = manifest.limits.memory_mb.map(|mb| {
            usize::try_from(mb)
                .unwrap_or(usize::MAX)
                .saturating_mul(1024 * 1024)
        });
        let memory_limit =
            requested.map_or(opts.host_memory_limit, |r| r.min(opts.host_memory_limit));
        let info = PluginInfo {
            id: plugin,
            version,
            digest,
            hooks: manifest.hooks,
            origin: opts.origin,
            rollout: opts.rollout,
            grants: opts.grants,
            cache,
            tools: tools.iter().map(|t| t.qualified.clone()).collect(),
            providers: manifest
                .providers
                .iter()
                .map(|p| format!("{}.{}", manifest.plugin.id, p.name))
                .collect(),
            observes: manifest
                .observer
                .as_ref()
                .map_or_else(Vec::new, |o| o.kinds.clone()),
            services: manifest.services.iter().map(|s| s.name.clone()).collect(),
        };
        Ok(LoadedPlugin::new(
            info,
            pre,
            exports,
            (
                tools,
                api,
                (manifest.providers, manifest.observer, manifest.services),
            ),
            memory_limit,
            (opts.order, opts.max_calls),
        ))
    }

    /// A plugin with no warm instances and no recorded failures.
    fn new(
        info: PluginInfo,
        pre: InstancePre<PluginState>,
        exports: Exports,
        (tools, api, (providers, observer, services)): Parts,
        memory_limit: usize,
        (order, max_calls): (u64, u32),
    ) -> LoadedPlugin {
        LoadedPlugin {
            name: Arc::from(info.id.as_str()),
            info,
            pre,
            exports,
            tools,
            providers,
            observer,
            services,
            api,
            memory_limit,
            order,
            calls: Arc::new(tokio::sync::Semaphore::new(max_calls as usize)),
            max_calls,
            idle: Idle::default(),
            failures: Mutex::new(HashMap::new()),
            failing: AtomicBool::new(false),
        }
    }

    /// The same compiled plugin under a new rollout, grants or settings.
    /// Warm instances are not carried over: they were made under the old
    /// ones (and a guest may have read its settings once).
    pub(crate) fn redeployed(
        &self,
        rollout: Option<Rollout>,
        grants: Vec<Capability>,
        config: PluginConfig,
    ) -> LoadedPlugin {
        let mut info = self.info.clone();
        info.rollout = rollout;
        let api = Arc::new(self.api.redeployed(&grants, config));
        info.grants = grants;
        LoadedPlugin::new(
            info,
            self.pre.clone(),
            self.exports.clone(),
            (
                self.tools.clone(),
                api,
                (
                    self.providers.clone(),
                    self.observer.clone(),
                    self.services.clone(),
                ),
            ),
            self.memory_limit,
            (self.order, self.max_calls),
        )
    }

    /// Whether this plugin runs for an event about `subject` on a host of
    /// scope `scope`: one rule for hooks and tools, the rollout's own
    /// ([`Rollout::applies`]). Plugins loaded from folders reach everyone.
    pub(crate) fn applies(&self, subject: Option<&str>, scope: Scope) -> bool {
        self.info
            .rollout
            .is_none_or(|r| r.applies(self.info.id.as_str(), subject, scope))
    }

    /// A store for a new instance of this plugin, with its memory cap, its
    /// host API context and its clock: at each epoch tick a guest past its
    /// call's time limit traps, and one within it yields to the executor.
    /// The yield keeps a long computation from holding any thread longer
    /// than a tick: an embedder may start a call on its own thread (an
    /// event loop's) and move it to Yoi's runtime when it yields
    /// (docs/embedding.md, "Where calls run").
    pub(crate) fn new_store(&self, engine: &Engine) -> Store<PluginState> {
        let state = PluginState::new(self.name.clone(), Arc::clone(&self.api), self.memory_limit);
        let mut store = Store::new(engine, state);
        store.limiter(|s| &mut s.limits);
        store.epoch_deadline_callback(|store| {
            Ok(match store.data().deadline {
                Some(deadline) if Instant::now() >= deadline => UpdateDeadline::Interrupt,
                _ => UpdateDeadline::Yield(1),
            })
        });
        store
    }

    /// An idle warm instance, if one is ready.
    pub(crate) fn take_idle(&self) -> Option<Warm> {
        self.idle.take()
    }

    /// Drops the idle instances; returns how many.
    pub(crate) fn evict_idle(&self) -> usize {
        self.idle.evict()
    }

    /// Keeps a healthy instance for the next event.
    pub(crate) fn put_idle(&self, warm: Warm) {
        self.idle.put(warm);
    }

    /// Records a success on `surface`: that surface's failure count starts
    /// again, and only that one's (a hook that succeeds says nothing of a
    /// tool that traps).
    pub(crate) fn record_success(&self, surface: &Surface<'_>) {
        if self.failing.load(Ordering::Relaxed) {
            let mut failures = self.failures.lock().unwrap_or_else(|p| p.into_inner());
            failures.remove(&surface.key());
            if failures.is_empty() {
                self.failing.store(false, Ordering::Relaxed);
            }
        }
    }

    /// Records a failure on `surface`; returns how many of the plugin's
    /// failures, on every surface, fell within `window` since each
    /// surface's last success.
    pub(crate) fn record_failure(&self, surface: &Surface<'_>, window: Duration) -> usize {
        let mut failures = self.failures.lock().unwrap_or_else(|p| p.into_inner());
        self.failing.store(true, Ordering::Relaxed);
        record_in_window(failures.entry(surface.key()).or_default(), window);
        let now = Instant::now();
        failures
            .values()
            .map(|f| {
                f.iter()
                    .filter(|t| now.duration_since(**t) <= window)
                    .count()
            })
            .sum()
    }
}

/// Where a plugin's call came from, for the crash guard: each surface's
/// failures are reset by its own successes only (docs/hooks.md, "Crash
/// guard").
#[derive(Debug, Clone, Copy)]
pub(crate) enum Surface<'a> {
    /// A hook point's handler.
    Hook(HookPoint),
    /// One of the plugin's tools.
    Tool(&'a str),
    /// Its model provider.
    Provider,
    /// Its observer.
    Observer,
}

impl Surface<'_> {
    fn key(&self) -> String {
        match self {
            Surface::Hook(point) => format!("hook {point}"),
            Surface::Tool(name) => format!("tool {name}"),
            Surface::Provider => "provider".into(),
            Surface::Observer => "observer".into(),
        }
    }
}

/// Records a failure now and forgets those older than `window`; returns
/// how many are left. The crash guard's one counting rule, for calls and
/// loads alike.
pub(crate) fn record_in_window(failures: &mut VecDeque<Instant>, window: Duration) -> usize {
    let now = Instant::now();
    while failures
        .front()
        .is_some_and(|t| now.duration_since(*t) > window)
    {
        failures.pop_front();
    }
    failures.push_back(now);
    failures.len()
}
