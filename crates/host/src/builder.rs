//! Configuring and starting a host: the engine, the linker, the epoch
//! ticker, the compile cache, the event writer, and the boot from the
//! registry.

use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicU64;
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use arc_swap::ArcSwap;
use wasmtime::Engine;

use crate::compiler::engine_config;
use yoi_manifest::CodeLimits;
use yoi_manifest::Scope;
#[cfg(feature = "registry")]
use yoi_registry::Registry;

use crate::api::SecretSource;
use crate::cache::CompileCache;
use crate::error::HostError;
use crate::eventlog::EventLog;
use crate::host::{EPOCH_TICK, Host, PressureCounters, Shared, Snapshot};
use crate::hostconfig::{CapabilityCap, GrantSpec, HostConfig};
use crate::options::{FolderOptions, Options};
use crate::sandbox;

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
#[derive(Clone, Default)]
pub struct HostBuilder {
    pub(crate) options: Options,
}

impl Host {
    /// A builder with the default limits.
    pub fn builder() -> HostBuilder {
        HostBuilder::default()
    }
}

impl HostBuilder {
    /// The host's name, used as the actor of the audit entries it writes
    /// (crash-guard `auto_disable`). Default `yoi-host`.
    pub fn name(mut self, name: impl Into<String>) -> Self {
        self.options.name = name.into();
        self
    }

    /// Largest linear memory one plugin instance may grow to, in bytes
    /// (default 64 MiB). A plugin's `[limits] memory_mb` may ask for less,
    /// never more. Growing past it traps that instance only.
    pub fn memory_limit(mut self, bytes: usize) -> Self {
        self.options.memory_limit = bytes;
        self
    }

    /// Total time all handlers of one dispatch may take (default 8 s). A
    /// handler gets the smaller of its own `timeout_ms` and what is left.
    pub fn chain_budget(mut self, budget: Duration) -> Self {
        self.options.chain_budget = budget;
        self
    }

    /// Whether a plugin's healthy instances are kept warm and reused for
    /// later events, or every event gets a fresh instance (the default:
    /// per-event isolation).
    ///
    /// Without reuse, every event starts from the component's initial
    /// state: nothing one user's event left in a plugin's memory is there
    /// for the next. A fresh instance costs about 10 µs more than a warm
    /// call with the pooling allocator (docs/BENCHMARKS.md), plus whatever
    /// the plugin itself does on its first call (parsing its settings,
    /// compiling patterns). With reuse, a plugin's globals survive from
    /// one of its events to the next, which suits plugins with costly
    /// start-up. Either way, an instance that trapped, timed out, wrote to
    /// stdout or stderr, or grew its memory past 16 MiB is discarded, and
    /// no instance is ever shared between plugins or used by two events at
    /// once.
    pub fn reuse_instances(mut self, reuse: bool) -> Self {
        self.options.reuse_instances = reuse;
        self
    }

    /// The folder holding each plugin's data root, `<dir>/<plugin id>/`,
    /// which its `fs` grants are relative to. Without it, `fs` calls fail.
    pub fn data_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.options.api.data_dir = Some(dir.into());
        self
    }

    /// Bytes each plugin may keep in its data root (default 64 MiB). A write
    /// that would pass it is refused and recorded as a denial.
    pub fn fs_quota(mut self, bytes: u64) -> Self {
        self.options.api.limits.fs_quota = bytes;
        self
    }

    /// Files, folders and links each plugin may keep in its data root
    /// (default 10,000): empty files cost the disk inodes and directory
    /// blocks that a byte quota does not see. A call that would pass it is
    /// refused and recorded as a denial.
    pub fn fs_entry_quota(mut self, entries: u64) -> Self {
        self.options.api.limits.fs_entries = entries;
        self
    }

    /// Where plugins' granted secrets come from (`secret:KEY` grants). Without
    /// one, every secret reads as not found.
    pub fn secrets(mut self, source: impl SecretSource + 'static) -> Self {
        self.options.api.secrets = Some(Arc::new(source));
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
        let limits = &mut self.options.api.limits;
        limits.http_timeout = timeout;
        limits.http_request_bytes = request_bytes;
        limits.http_response_bytes = response_bytes;
        self
    }

    /// Longest one tool call may run (default 30 s), whether a plugin tool
    /// or a native one.
    pub fn tool_timeout(mut self, timeout: Duration) -> Self {
        self.options.tool_timeout = timeout;
        self
    }

    /// Keeps compiled components in `dir`, keyed by artifact digest and
    /// engine, so a restart recompiles nothing. The folder must be writable
    /// only by the host's user.
    pub fn compile_cache(mut self, dir: impl Into<PathBuf>) -> Self {
        self.options.cache_dir = Some(dir.into());
        self
    }

    /// Boots from `registry`: the host loads each active version of each
    /// enabled plugin, with its grants, and [`Host::reload`] follows changes.
    /// Receipts are recorded in the registry's events table.
    #[cfg(feature = "registry")]
    pub fn registry(mut self, registry: Arc<Registry>) -> Self {
        self.options.registry = Some(registry);
        self
    }

    /// Listens for inbound HTTP on `addr` (port 0 picks a free one; see
    /// [`Host::inbound_addr`](crate::Host::inbound_addr)): each service's
    /// granted route is answered there. Without it, services with an `http`
    /// route run degraded. docs/services.md.
    #[cfg(feature = "services")]
    pub fn inbound_http(mut self, addr: std::net::SocketAddr) -> Self {
        self.options.inbound = Some(addr);
        self
    }

    /// How long an inbound request waits for its service's `respond`
    /// before the host answers 504 (default 10 s).
    pub fn service_answer_timeout(mut self, timeout: Duration) -> Self {
        self.options.services.answer_timeout = timeout;
        self
    }

    /// How often the host pings a service's WebSocket connection; two
    /// intervals without a frame from the peer end it (default 20 s).
    pub fn service_heartbeat(mut self, every: Duration) -> Self {
        self.options.services.heartbeat = every.max(Duration::from_millis(10));
        self
    }

    /// How long runtime events (receipts, denials, tool runs) stay in the
    /// registry's events table (default 30 days; `None` keeps them all). The
    /// host expires older ones as it writes, at most once an hour, audited
    /// as `expire_events`. `yoi prune --events-older-than` does the same by
    /// hand.
    #[cfg(feature = "registry")]
    pub fn event_retention(mut self, keep: Option<Duration>) -> Self {
        self.options.event_retention = keep;
        self
    }

    /// The scope this host runs as (default `all`): versions activated for
    /// another scope (`beta`, `canary`, `internal`) are not loaded here.
    pub fn scope(mut self, scope: Scope) -> Self {
        self.options.scope = scope;
        self
    }

    /// Whether this host lists itself in the registry's hosts (`yoi hosts`,
    /// the ops page) when it loads from the registry (default `true`). A
    /// process that lives for one event, such as `yoi hook`, does not:
    /// it would show as a host that keeps falling silent.
    pub fn listed(mut self, listed: bool) -> Self {
        self.options.listed = listed;
        self
    }

    /// Safe mode: no plugin is loaded at all. When not set here, the
    /// `YOI_SAFE_MODE` environment variable decides.
    pub fn safe_mode(mut self, on: bool) -> Self {
        self.options.safe_mode = Some(on);
        self
    }

    /// The crash guard: `failures` handler failures (errors or timeouts)
    /// within `window` unload the plugin and, for registry plugins, disable
    /// it in the registry (`auto_disable`). A success resets the count.
    /// Default 5 in 5 minutes; `failures = 0` turns the guard off.
    pub fn crash_guard(mut self, failures: u32, window: Duration) -> Self {
        self.options.guard_failures = failures;
        self.options.guard_window = window;
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
    /// [`HostBuilder::queue_wait`] (and, in a hook chain, only as long as
    /// the chain's budget can spare); the wait is the host's, so once a call
    /// starts it gets its whole time limit. One that gets no turn ends
    /// `busy`, which never counts against the plugin.
    /// The per-plugin limit keeps one flooded plugin from taking every
    /// slot from the others.
    pub fn concurrency(mut self, host: u32, per_plugin: u32) -> Self {
        self.options.max_calls = host.max(1);
        self.options.max_calls_per_plugin = per_plugin.max(1);
        self
    }

    /// Longest a call waits for a free slot before it ends `busy`
    /// (default 1 s; a handler's own time limit still applies).
    pub fn queue_wait(mut self, wait: Duration) -> Self {
        self.options.queue_wait = wait;
        self
    }

    /// Bounds on compiling a plugin: structural limits on its code, checked
    /// by one cheap pass before the compiler runs (default
    /// [`CodeLimits::default`], the limits every package is published
    /// under; a host may only be stricter in effect), and the longest a
    /// compile may take before it is given up (default 60 s). A refused
    /// compile refuses that plugin only.
    pub fn compile_limits(mut self, limits: CodeLimits, timeout: Duration) -> Self {
        self.options.compile.limits = limits;
        self.options.compile.timeout = timeout;
        self
    }

    /// Compiles in a child process: `program` with `args`, which must call
    /// [`compile_worker_main`](crate::compile_worker_main) (the `yoi`
    /// binary does for `yoi __compile`). The child limits its own memory to
    /// `memory_bytes` and its CPU time to the compile time limit before it
    /// reads the component, and the host kills it at that limit: a compile
    /// that is given up really stops and gives its memory back, which a
    /// compile in the host's own process cannot. Without a worker, compiles
    /// run on a thread of the host (the default for embedders).
    pub fn compile_worker(
        mut self,
        program: impl Into<PathBuf>,
        args: impl IntoIterator<Item = impl Into<std::ffi::OsString>>,
        memory_bytes: u64,
    ) -> Self {
        self.options.compile.worker = Some(crate::compiler::Worker {
            program: program.into(),
            args: args.into_iter().map(Into::into).collect(),
        });
        self.options.compile.memory = memory_bytes;
        self
    }

    /// Sizes wasmtime's pooling allocator for exactly `instances` live
    /// instances (warm ones and services' included). The pool is on by
    /// default, with room for twice the host's concurrency limit
    /// ([`HostBuilder::concurrency`]): memories, tables and stacks are
    /// reserved up front and recycled, and a recycled memory keeps the
    /// pages its last instance touched mapped (up to 1 MiB), resetting
    /// only those it wrote, which makes a fresh instance several times
    /// cheaper. The price is address space reserved at start (a few GiB
    /// per slot, virtual, not resident) and a hard cap. Running calls are
    /// kept within the pool ([`HostBuilder::concurrency`] is clamped to
    /// it); when idle warm instances fill the rest, they are evicted
    /// before a call is refused, and a call that still finds no slot ends
    /// `busy`, never `error`.
    pub fn pooling_allocator(mut self, instances: u32) -> Self {
        self.options.pool = crate::options::Pool::Fixed(instances);
        self
    }

    /// Turns the pooling allocator off: every instance maps and unmaps its
    /// own memory (no address space reserved up front, no cap beyond the
    /// concurrency limits, fresh instances several times dearer). For
    /// hosts in a process whose address space is limited (`ulimit -v`).
    pub fn on_demand_allocator(mut self) -> Self {
        self.options.pool = crate::options::Pool::Off;
        self
    }

    /// When [`Host::complete`] tries the next provider of a model after one
    /// failed (default: after `unavailable` and after a plugin provider's
    /// trap or timeout, never after chunks were streamed; see
    /// [`Fallback`](crate::Fallback)).
    pub fn provider_fallback(mut self, fallback: crate::Fallback) -> Self {
        self.options.fallback = fallback;
        self
    }

    /// Applies a host configuration file (`yoi.toml`, docs/configuration.md):
    /// name, data root, compile cache, limits, crash guard, the host-wide
    /// capability list, and the plugin folders with their grants, settings
    /// and hot reload. Each field has its own builder method, which may be
    /// called after this to override it.
    ///
    /// ```no_run
    /// # fn demo() -> Result<(), yoi_host::HostError> {
    /// let host = yoi_host::Host::builder().config("yoi.toml")?.build()?;
    /// # Ok(()) }
    /// ```
    pub fn config(self, path: impl AsRef<Path>) -> Result<Self, HostError> {
        Ok(self.apply(&HostConfig::load(path)?))
    }

    /// Applies an already parsed [`HostConfig`].
    pub fn apply(mut self, c: &HostConfig) -> Self {
        if let Some(name) = &c.host.name {
            self = self.name(name.clone());
        }
        if let Some(data) = &c.host.data {
            self = self.data_dir(c.resolve(data));
        }
        if let Some(cache) = &c.host.cache {
            self = self.compile_cache(c.resolve(cache));
        }
        let l = &c.limits;
        if let Some(reuse) = l.reuse_instances {
            self = self.reuse_instances(reuse);
        }
        if let Some(mb) = l.memory_mb {
            self = self.memory_limit(mb as usize * 1024 * 1024);
        }
        if let Some(d) = HostConfig::millis(l.chain_budget_ms) {
            self = self.chain_budget(d);
        }
        if let Some(d) = HostConfig::millis(l.tool_timeout_ms) {
            self = self.tool_timeout(d);
        }
        if l.max_calls.is_some() || l.max_calls_per_plugin.is_some() {
            let host = l.max_calls.unwrap_or(self.options.max_calls);
            let per = l
                .max_calls_per_plugin
                .unwrap_or(self.options.max_calls_per_plugin);
            self = self.concurrency(host, per);
        }
        if let Some(d) = HostConfig::millis(l.queue_wait_ms) {
            self = self.queue_wait(d);
        }
        if c.crash_guard.failures.is_some() || c.crash_guard.window_s.is_some() {
            let failures = c
                .crash_guard
                .failures
                .unwrap_or(self.options.guard_failures);
            let window = c
                .crash_guard
                .window_s
                .map_or(self.options.guard_window, Duration::from_secs);
            self = self.crash_guard(failures, window);
        }
        self = self.capabilities(c.cap());
        if let Some(required) = c.trust.require_signatures {
            self = self.require_signatures(required);
        }
        #[cfg(feature = "mcp")]
        {
            let m = &c.mcp;
            let mut g = self.options.gateway.clone();
            if let Some(n) = m.max_response_bytes {
                g.max_response_bytes = usize::try_from(n).unwrap_or(usize::MAX).max(1024);
            }
            if let Some(s) = m.recheck_s {
                g.recheck = Duration::from_secs(s);
            }
            g.stdio_commands.clone_from(&m.stdio_commands);
            self = self.mcp_gateway(g);
        }
        // `HostConfig::parse` checked the declarations.
        for spec in c.host_points().unwrap_or_default() {
            self = self.host_point(spec);
        }
        self.options.folders = Some(FolderOptions {
            folders: c.folders(),
            grants: c.grants.clone(),
            values: c.settings.clone(),
            hot_reload: c.hot_reload(),
        });
        self
    }

    /// How remote MCP servers declared in the registry are served: the
    /// largest answer read, how often a server's live tool list is
    /// compared with its pins, and which local programs may be started as
    /// stdio servers (they run outside every sandbox). docs/mcp.md, "Yoi
    /// as a gateway".
    #[cfg(feature = "mcp")]
    pub fn mcp_gateway(mut self, options: crate::GatewayOptions) -> Self {
        self.options.gateway = options;
        self
    }

    /// Loads only registry versions with a trusted signature, whatever the
    /// registry's trust policy requires (`[trust] require_signatures` in
    /// yoi.toml). The registry's keys decide who is trusted.
    pub fn require_signatures(mut self, required: bool) -> Self {
        self.options.require_signatures = required;
        self
    }

    /// Declares a hook point of this host's own (contract 0.6.0): plugins
    /// handle it with `[[hooks]] point = "<its name>"`, and
    /// [`Host::dispatch_point`] runs it. A later declaration of the same
    /// name replaces an earlier one.
    pub fn host_point(mut self, spec: crate::HostPointSpec) -> Self {
        let points = &mut self.options.host_points;
        points.retain(|p| p.point() != spec.point());
        points.push(Arc::new(spec));
        self
    }

    /// The host-wide capability list: every grant this host gives (by its
    /// embedder, the registry or yoi.toml) must lie within `allow` and away
    /// from `deny`. A host configured with yoi.toml always has one, empty
    /// (allowing nothing) unless the file says otherwise; without it, the
    /// grants are the embedder's or the registry's alone.
    pub fn capabilities(mut self, cap: CapabilityCap) -> Self {
        self.options.cap = Some(cap);
        self
    }

    /// Loads the packages in these folders at build (a folder holding
    /// plugin.toml is one package; otherwise each subfolder holding one
    /// is), with no grants unless [`HostBuilder::folder_grants`] gives them;
    /// with `hot_reload`, watches them and reloads what changes
    /// (`Host::reload_folders`).
    pub fn plugin_folders(mut self, folders: Vec<PathBuf>, hot_reload: bool) -> Self {
        let f = self
            .options
            .folders
            .get_or_insert_with(FolderOptions::default);
        f.folders = folders;
        f.hot_reload = hot_reload;
        self
    }

    /// What a folder plugin is granted: `yoi grant` forms, or
    /// [`GrantSpec::Keyword`] `"requested"` for all it requests (always
    /// within [`HostBuilder::capabilities`]).
    pub fn folder_grants(mut self, plugin: &str, grants: GrantSpec) -> Self {
        self.options
            .folders
            .get_or_insert_with(FolderOptions::default)
            .grants
            .insert(plugin.to_owned(), grants);
        self
    }

    /// The setting values of a folder plugin (its `[config]`).
    pub fn folder_settings(
        mut self,
        plugin: &str,
        values: serde_json::Map<String, serde_json::Value>,
    ) -> Self {
        self.options
            .folders
            .get_or_insert_with(FolderOptions::default)
            .values
            .insert(plugin.to_owned(), values);
        self
    }

    /// Starts the engine, boots from the registry if one is set, and loads
    /// the plugin folders if any are configured (watching them with hot
    /// reload on).
    pub fn build(mut self) -> Result<Host, HostError> {
        if let crate::options::Pool::Fixed(n) = self.options.pool {
            self.options.max_calls = self.options.max_calls.min(n.max(1));
        }
        let pool = self.options.pool.instances(self.options.max_calls);
        let engine_err = |e: wasmtime::Error| HostError::Engine(format!("{e:#}"));
        let config = engine_config(pool, self.options.memory_limit);
        let engine = Engine::new(&config).map_err(engine_err)?;
        let linker = sandbox::linker(&engine).map_err(engine_err)?;
        spawn_epoch_ticker(&engine)?;
        let cache = self
            .options
            .cache_dir
            .as_deref()
            .map(|dir| {
                CompileCache::open(dir, &engine).map_err(|e| HostError::Cache {
                    dir: dir.to_path_buf(),
                    reason: e.to_string(),
                })
            })
            .transpose()?;
        #[cfg(feature = "registry")]
        let sink = self
            .options
            .registry
            .as_ref()
            .map(|r| {
                let retention = crate::eventlog::Retention {
                    keep: self.options.event_retention,
                    actor: self.options.name.clone(),
                };
                EventLog::spawn(Arc::clone(r), self.options.name.clone(), retention)
            })
            .transpose()
            .map_err(|e| HostError::Engine(format!("cannot start the event writer: {e}")))?;
        #[cfg(not(feature = "registry"))]
        let sink: Option<EventLog> = None;
        let safe_mode = self
            .options
            .safe_mode
            .unwrap_or_else(crate::host::safe_mode_from_env);
        if safe_mode {
            tracing::warn!("safe mode: no plugin will be loaded");
        }
        let max_calls = self.options.max_calls as usize;
        #[cfg(feature = "mcp")]
        let gateway = crate::gateway::Gateway::new(
            self.options.gateway.clone(),
            self.options.max_calls_per_plugin,
        );
        let host = Host {
            shared: Arc::new_cyclic(|me| Shared {
                providers: RwLock::new(Vec::new()),
                observers: {
                    let me = me.clone();
                    crate::observers::Observers::new(Box::new(move |queue| {
                        Box::pin(crate::observer_delivery::deliver(me.clone(), queue))
                    }))
                },
                services: {
                    let services = crate::services::Services::new(self.options.services.clone());
                    let runner = me.clone();
                    let recorder = me.clone();
                    services.wire(
                        Box::new(move |unit| crate::serviceworker::spawn(runner.clone(), unit)),
                        Arc::new(move |unit| {
                            if let Some(shared) = recorder.upgrade() {
                                crate::serviceworker::record_status(&shared, unit);
                            }
                        }),
                    );
                    services
                },
                inbound: std::sync::OnceLock::new(),
                folder_plugins: Mutex::default(),
                reload_subscribers: Mutex::default(),
                folder_watcher: Mutex::new(None),
                engine,
                linker,
                snapshot: ArcSwap::from_pointee(Snapshot::default()),
                update: Mutex::new(()),
                next_order: AtomicU64::new(0),
                cache,
                compiled: crate::cache::Compiled::default(),
                sink,
                boot: Mutex::new(None),
                options: self.options,
                safe_mode,
                started_at: crate::eventlog::now_ms(),
                native: RwLock::new(Vec::new()),
                calls: Arc::new(tokio::sync::Semaphore::new(max_calls)),
                load_failures: Mutex::default(),
                pressure: PressureCounters::default(),
                #[cfg(feature = "mcp")]
                gateway,
            }),
        };
        #[cfg(feature = "services")]
        if let Some(addr) = host.shared.options.inbound {
            crate::inbound::start(&host.shared, addr).map_err(|e| HostError::Inbound {
                addr,
                reason: e.to_string(),
            })?;
        }
        #[cfg(feature = "registry")]
        if host.shared.options.registry.is_some() {
            let report = host.reload()?;
            *host.shared.boot.lock().unwrap_or_else(|p| p.into_inner()) = Some(report);
        }
        if host.shared.options.folders.is_some() {
            host.boot_folders()?;
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

#[cfg(test)]
mod tests {
    use super::*;
    use wasmtime::{Instance, Module, Store};

    /// A recycled pool slot is reset whatever path resets it: a byte inside
    /// the part kept resident (reset by the dirty-page scan or by copying)
    /// and one past it (unmapped), over an initial image and over zeroes.
    /// Nothing one instance wrote is there for the next.
    #[test]
    fn a_recycled_memory_holds_nothing_of_its_last_instance() {
        let engine = Engine::new(&engine_config(Some(2), 64 << 20)).expect("engine");
        // 48 pages = 3 MiB: offsets 0x100 (in the image) and 0x2000 (zero)
        // lie in the resident first MiB, 0x200000 past it.
        let wat = r#"(module
            (memory (export "m") 48)
            (data (i32.const 0x100) "\07")
            (func (export "write")
                (i32.store8 (i32.const 0x100) (i32.const 42))
                (i32.store8 (i32.const 0x2000) (i32.const 42))
                (i32.store8 (i32.const 0x200000) (i32.const 42)))
            (func (export "read") (param i32) (result i32)
                (i32.load8_u (local.get 0))))"#;
        let module = Module::new(&engine, wat::parse_str(wat).expect("wat")).expect("module");
        for round in 0..20 {
            let mut store = Store::new(&engine, ());
            store.set_epoch_deadline(u64::MAX / 2);
            let instance = Instance::new(&mut store, &module, &[]).expect("instance");
            let read = instance
                .get_typed_func::<i32, i32>(&mut store, "read")
                .expect("read");
            for (offset, pristine) in [(0x100, 7), (0x2000, 0), (0x200000, 0)] {
                let seen = read.call(&mut store, offset).expect("read");
                assert_eq!(seen, pristine, "round {round}: offset {offset:#x}");
            }
            instance
                .get_typed_func::<(), ()>(&mut store, "write")
                .expect("write")
                .call(&mut store, ())
                .expect("write");
            assert_eq!(read.call(&mut store, 0x2000).expect("read"), 42);
        }
    }
}
