//! What a plugin instance can reach: its store state, the WASI subset it may
//! import (with nothing ambient behind it), and Yoi's host APIs.

use std::sync::Arc;

use wasmtime::component::{HasData, Linker, Resource, ResourceTable};
use wasmtime::{Engine, ResourceLimiter, StoreLimits, StoreLimitsBuilder};
use wasmtime_wasi::p2::pipe::{ClosedInputStream, MemoryOutputPipe};
use wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};

use crate::api::https::IncomingBody;
use crate::api::{ApiFailure, PluginApi};
use crate::bindings::latest::yoi::plugin::fs::{self as wit_fs, Entry};
use crate::bindings::latest::yoi::plugin::types::ApiError;
use crate::bindings::latest::yoi::plugin::{completions, config, context, https, log, secrets};
use crate::bindings::v0_2::yoi::plugin as v0_2;
use crate::bindings::v0_3::yoi::plugin as v0_3;
use crate::hookevents::{CallContext, HookContext};
use crate::receipt::{Denial, LogLevel, LogLine};

/// Bytes of stdout and of stderr kept per call. Writing more traps the call.
pub(crate) const STDIO_CAPACITY: usize = 64 * 1024;
/// Most log lines kept per call; later ones are counted, not stored.
pub(crate) const MAX_LOG_LINES: usize = 256;
/// Most denials recorded per call; later ones are still refused and logged.
const MAX_DENIALS: usize = 64;

/// The interfaces a plugin may import, without version (WASI's must be
/// 0.2.x, Yoi's the plugin's contract version: `yoi-manifest` checks).
/// Everything else is refused at load time, never linked as a trap.
///
/// WASI is here because the standard libraries of Rust, Python and
/// JavaScript guests import it even when a plugin never touches it. It is
/// linked with nothing behind it (docs/hooks.md, "What a plugin can
/// reach"): an empty environment, no arguments, a closed stdin, captured
/// and capped stdout/stderr, no preopened folder (so no file can be
/// opened), sockets that refuse every address and name lookups that
/// refuse every name. Clocks tell the time and randomness seeds hash maps;
/// neither reaches anything outside the instance. Files, the network and
/// secrets are reached only through Yoi's own `fs`, `https` and
/// `secrets`, which check the plugin's grants on every call.
pub(crate) const ALLOWED_IMPORTS: &[&str] = &[
    "wasi:io/error",
    "wasi:io/poll",
    "wasi:io/streams",
    "wasi:cli/environment",
    "wasi:cli/exit",
    "wasi:cli/stdin",
    "wasi:cli/stdout",
    "wasi:cli/stderr",
    "wasi:cli/terminal-input",
    "wasi:cli/terminal-output",
    "wasi:cli/terminal-stdin",
    "wasi:cli/terminal-stdout",
    "wasi:cli/terminal-stderr",
    "wasi:clocks/monotonic-clock",
    "wasi:clocks/wall-clock",
    "wasi:filesystem/types",
    "wasi:filesystem/preopens",
    "wasi:sockets/network",
    "wasi:sockets/instance-network",
    "wasi:sockets/tcp",
    "wasi:sockets/tcp-create-socket",
    "wasi:sockets/udp",
    "wasi:sockets/udp-create-socket",
    "wasi:sockets/ip-name-lookup",
    "wasi:random/random",
    "wasi:random/insecure",
    "wasi:random/insecure-seed",
    "yoi:plugin/types",
    "yoi:plugin/log",
    "yoi:plugin/context",
    "yoi:plugin/config",
    "yoi:plugin/https",
    "yoi:plugin/fs",
    "yoi:plugin/secrets",
    "yoi:plugin/completions",
];

/// Most response bodies (`https.open`) one instance may hold open at once.
const MAX_OPEN_BODIES: usize = 4;

/// The store limits, plus the largest memory size the instance reached, so
/// the host can retire a warm instance that grew large instead of keeping
/// its memory around.
pub(crate) struct Limiter {
    inner: StoreLimits,
    pub(crate) peak_memory: usize,
}

impl ResourceLimiter for Limiter {
    fn memory_growing(
        &mut self,
        current: usize,
        desired: usize,
        maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        let allowed = self.inner.memory_growing(current, desired, maximum)?;
        if allowed {
            self.peak_memory = self.peak_memory.max(desired);
        }
        Ok(allowed)
    }

    fn memory_grow_failed(&mut self, error: wasmtime::Error) -> wasmtime::Result<()> {
        self.inner.memory_grow_failed(error)
    }

    fn table_growing(
        &mut self,
        current: usize,
        desired: usize,
        maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        self.inner.table_growing(current, desired, maximum)
    }

    fn table_grow_failed(&mut self, error: wasmtime::Error) -> wasmtime::Result<()> {
        self.inner.table_grow_failed(error)
    }

    fn instances(&self) -> usize {
        self.inner.instances()
    }

    fn tables(&self) -> usize {
        self.inner.tables()
    }

    fn memories(&self) -> usize {
        self.inner.memories()
    }
}

/// The data of one plugin instance's store.
pub struct PluginState {
    plugin: Arc<str>,
    api: Arc<PluginApi>,
    denials: Vec<Denial>,
    dropped_denials: usize,
    /// Made on the guest's first WASI call: a plugin that never makes one
    /// (most never write to stdout, and a PDK guest seeds no hash map)
    /// does not pay for seeding its random generators on every fresh
    /// instance.
    wasi: Option<Wasi>,
    table: ResourceTable,
    pub(crate) limits: Limiter,
    logs: Vec<LogLine>,
    dropped_logs: usize,
    /// The context of the call running, for `context.current`.
    context: Option<CallContext>,
    /// Response bodies the guest holds open (`https.open`).
    open_bodies: usize,
}

impl PluginState {
    /// Sets the context the next call reads (`None` between calls).
    pub(crate) fn set_context(&mut self, context: Option<CallContext>) {
        self.context = context;
    }

    pub(crate) fn new(plugin: Arc<str>, api: Arc<PluginApi>, memory_bytes: usize) -> Self {
        let limits = StoreLimitsBuilder::new()
            .memory_size(memory_bytes)
            .instances(64)
            .memories(16)
            .tables(64)
            .table_elements(1 << 20)
            .trap_on_grow_failure(true)
            .build();
        Self {
            plugin,
            api,
            denials: Vec::new(),
            dropped_denials: 0,
            wasi: None,
            table: ResourceTable::new(),
            limits: Limiter {
                inner: limits,
                peak_memory: 0,
            },
            logs: Vec::new(),
            dropped_logs: 0,
            context: None,
            open_bodies: 0,
        }
    }

    /// The instance's resources (sinks, response bodies).
    pub(crate) fn table(&mut self) -> &mut ResourceTable {
        &mut self.table
    }

    /// Whether the guest still holds a response body: such an instance is
    /// not kept warm, so no connection outlives its call.
    pub(crate) fn holds_resources(&self) -> bool {
        self.open_bodies > 0
    }

    /// Takes the log lines of the call, with captured stdout/stderr turned
    /// into log lines of their own. The flag says whether stdout or stderr
    /// was written: their buffers cannot be emptied, so such an instance is
    /// not reused.
    pub(crate) fn take_logs(&mut self) -> (Vec<LogLine>, bool) {
        let mut stdio = false;
        let pipes = self.wasi.as_ref().map(|w| {
            [
                (&w.stdout, LogLevel::Info, "stdout"),
                (&w.stderr, LogLevel::Warn, "stderr"),
            ]
        });
        for (pipe, level, stream) in pipes.into_iter().flatten() {
            let bytes = pipe.contents();
            if !bytes.is_empty() {
                stdio = true;
                let text = String::from_utf8_lossy(&bytes);
                let line = LogLine::new(level, &text, &[("stream".into(), stream.into())]);
                emit(&self.plugin, &line);
                self.logs.push(line);
            }
        }
        if self.dropped_logs > 0 {
            let n = std::mem::take(&mut self.dropped_logs).to_string();
            self.logs.push(LogLine::new(
                LogLevel::Warn,
                "log lines dropped: per-call limit reached",
                &[("dropped".into(), n)],
            ));
        }
        (std::mem::take(&mut self.logs), stdio)
    }

    /// Takes the denials of the call.
    pub(crate) fn take_denials(&mut self) -> Vec<Denial> {
        if self.dropped_denials > 0 {
            let n = std::mem::take(&mut self.dropped_denials);
            tracing::warn!(target: "yoi::grants", plugin = %self.plugin, "{n} more permission denials in one call were not recorded");
        }
        std::mem::take(&mut self.denials)
    }

    /// Hands a host API result to the guest; a denial is logged (with the
    /// fix) and kept for the receipt first.
    fn settle<T>(&mut self, result: Result<T, ApiFailure>) -> Result<T, ApiError> {
        result.map_err(|failure| {
            let (error, denial) = failure.into_wit();
            if let Some(denial) = denial {
                self.record_denial(denial);
            }
            error
        })
    }

    fn record_denial(&mut self, d: Denial) {
        // A plugin that keeps calling what it may not is refused every time,
        // but only the first denials of a call are logged and kept.
        if self.denials.len() >= MAX_DENIALS {
            self.dropped_denials += 1;
            return;
        }
        tracing::warn!(
            target: "yoi::grants", plugin = %self.plugin, capability = %d.capability,
            target_ = %d.target, "permission denied: {}; {}", d.reason, d.fix
        );
        if self.logs.len() < MAX_LOG_LINES {
            self.logs.push(LogLine::new(
                LogLevel::Warn,
                &format!("permission denied: {}; {}", d.reason, d.fix),
                &[
                    ("capability".into(), d.capability.clone()),
                    ("target".into(), d.target.clone()),
                ],
            ));
        }
        self.denials.push(d);
    }
}

/// An instance's WASI context and the pipes its stdout and stderr are
/// captured in.
struct Wasi {
    ctx: WasiCtx,
    stdout: MemoryOutputPipe,
    stderr: MemoryOutputPipe,
}

impl Wasi {
    fn new() -> Self {
        let stdout = MemoryOutputPipe::new(STDIO_CAPACITY);
        let stderr = MemoryOutputPipe::new(STDIO_CAPACITY);
        let ctx = WasiCtx::builder()
            .stdin(ClosedInputStream)
            .stdout(stdout.clone())
            .stderr(stderr.clone())
            .allow_blocking_current_thread(false)
            .allow_tcp(false)
            .allow_udp(false)
            .allow_ip_name_lookup(false)
            .build();
        Self {
            ctx,
            stdout,
            stderr,
        }
    }
}

impl WasiView for PluginState {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        let wasi = self.wasi.get_or_insert_with(Wasi::new);
        WasiCtxView {
            ctx: &mut wasi.ctx,
            table: &mut self.table,
        }
    }
}

impl log::Host for PluginState {
    fn write(&mut self, level: log::Level, message: String, fields: Vec<(String, String)>) {
        if self.logs.len() >= MAX_LOG_LINES {
            self.dropped_logs += 1;
            return;
        }
        let line = LogLine::new(level.into(), &message, &fields);
        emit(&self.plugin, &line);
        self.logs.push(line);
    }
}

impl context::Host for PluginState {
    fn current(&mut self) -> context::HookContext {
        match &self.context {
            Some(c) => c.to_wit(&self.plugin),
            // Guest code runs only inside a call; a start function may ask
            // before any: it gets the plugin's id and nothing else.
            None => HookContext::default().to_wit(None, &self.plugin),
        }
    }
}

impl config::Host for PluginState {
    fn get(&mut self, key: String) -> Result<Option<String>, config::ConfigError> {
        self.api
            .config
            .get(&key)
            .map_err(config::ConfigError::Undeclared)
    }

    fn all(&mut self) -> String {
        self.api.config.all()
    }
}

impl https::Host for PluginState {
    async fn send(&mut self, request: https::Request) -> Result<https::Response, ApiError> {
        let api = Arc::clone(&self.api);
        let result = api.send(request).await;
        self.settle(result)
    }

    async fn open(
        &mut self,
        request: https::Request,
    ) -> Result<(https::ResponseHead, Resource<IncomingBody>), ApiError> {
        if self.open_bodies >= MAX_OPEN_BODIES {
            return Err(ApiError::Failed(format!(
                "{MAX_OPEN_BODIES} responses are open already; drop one (read it to the end) first"
            )));
        }
        let api = Arc::clone(&self.api);
        let result = api.open(request).await;
        let (head, body) = self.settle(result)?;
        let body = self
            .table
            .push(body)
            .map_err(|e| ApiError::Failed(format!("cannot keep the response: {e}")))?;
        self.open_bodies += 1;
        Ok((head, body))
    }
}

impl https::HostIncomingBody for PluginState {
    async fn read(
        &mut self,
        body: Resource<IncomingBody>,
        max: u32,
    ) -> Result<Option<Vec<u8>>, ApiError> {
        let body = self
            .table
            .get_mut(&body)
            .map_err(|e| ApiError::Failed(format!("no such response: {e}")))?;
        let result = body.read(max).await;
        self.settle(result)
    }

    async fn drop(&mut self, body: Resource<IncomingBody>) -> wasmtime::Result<()> {
        self.table.delete(body)?;
        self.open_bodies = self.open_bodies.saturating_sub(1);
        Ok(())
    }
}

/// Runs a host call that may block (the filesystem, the embedder's secret
/// source) on a blocking thread. The kernel or a remote secret store may
/// not answer: the handler's host-side timer then abandons the wait and
/// the instance, and the executor never blocks.
async fn on_blocking_thread<T: Send + 'static>(
    api: &Arc<PluginApi>,
    call: impl FnOnce(&PluginApi) -> Result<T, ApiFailure> + Send + 'static,
) -> Result<T, ApiFailure> {
    let api = Arc::clone(api);
    tokio::task::spawn_blocking(move || call(&api))
        .await
        .unwrap_or_else(|e| {
            Err(ApiFailure::Failed(format!(
                "the filesystem call failed: {e}"
            )))
        })
}

/// One blocking import (`fs`, `secrets`): the call runs off the executor,
/// then settles.
macro_rules! blocking_call {
    ($self:ident, |$api:ident| $body:expr) => {{
        let r = on_blocking_thread(&$self.api, move |$api| $body).await;
        $self.settle(r)
    }};
}

impl wit_fs::Host for PluginState {
    async fn read(&mut self, path: String) -> Result<Vec<u8>, ApiError> {
        blocking_call!(self, |api| api.fs_read(&path))
    }

    async fn write(&mut self, path: String, data: Vec<u8>) -> Result<(), ApiError> {
        blocking_call!(self, |api| api.fs_write(&path, &data, false))
    }

    async fn append(&mut self, path: String, data: Vec<u8>) -> Result<(), ApiError> {
        blocking_call!(self, |api| api.fs_write(&path, &data, true))
    }

    async fn list_dir(&mut self, path: String) -> Result<Vec<Entry>, ApiError> {
        blocking_call!(self, |api| api.fs_list(&path))
    }

    async fn stat(&mut self, path: String) -> Result<Entry, ApiError> {
        blocking_call!(self, |api| api.fs_stat(&path))
    }

    async fn create_dir(&mut self, path: String) -> Result<(), ApiError> {
        blocking_call!(self, |api| api.fs_create_dir(&path))
    }

    async fn remove(&mut self, path: String) -> Result<(), ApiError> {
        blocking_call!(self, |api| api.fs_remove(&path))
    }

    async fn rename(&mut self, from: String, to: String) -> Result<(), ApiError> {
        blocking_call!(self, |api| api.fs_rename(&from, &to))
    }

    async fn symlink(&mut self, target: String, link: String) -> Result<(), ApiError> {
        blocking_call!(self, |api| api.fs_symlink(&target, &link))
    }

    async fn hard_link(&mut self, existing: String, link: String) -> Result<(), ApiError> {
        blocking_call!(self, |api| api.fs_hard_link(&existing, &link))
    }
}

impl secrets::Host for PluginState {
    async fn get(&mut self, key: String) -> Result<String, ApiError> {
        // Refusals are decided inline; only the source is asked off-thread.
        let source = match self.api.secret_source(&key) {
            Ok(source) => source,
            Err(refused) => return self.settle(Err(refused)),
        };
        blocking_call!(self, |_api| crate::api::fetch_secret(&*source, &key))
    }
}

impl From<log::Level> for LogLevel {
    fn from(level: log::Level) -> Self {
        match level {
            log::Level::Trace => LogLevel::Trace,
            log::Level::Debug => LogLevel::Debug,
            log::Level::Info => LogLevel::Info,
            log::Level::Warn => LogLevel::Warn,
            log::Level::Error => LogLevel::Error,
        }
    }
}

/// Sends a plugin's log line to `tracing`, tagged with the plugin id.
pub(crate) fn emit(plugin: &str, line: &LogLine) {
    let fields = line.rendered_fields();
    let message = &line.message;
    match line.level {
        LogLevel::Trace => tracing::trace!(target: "yoi::plugin", plugin, fields, "{message}"),
        LogLevel::Debug => tracing::debug!(target: "yoi::plugin", plugin, fields, "{message}"),
        LogLevel::Info => tracing::info!(target: "yoi::plugin", plugin, fields, "{message}"),
        LogLevel::Warn => tracing::warn!(target: "yoi::plugin", plugin, fields, "{message}"),
        LogLevel::Error => tracing::error!(target: "yoi::plugin", plugin, fields, "{message}"),
    }
}

struct HasState;

impl HasData for HasState {
    type Data<'a> = &'a mut PluginState;
}

/// The linker every plugin is instantiated with: exactly [`ALLOWED_IMPORTS`].
pub(crate) fn linker(engine: &Engine) -> wasmtime::Result<Linker<PluginState>> {
    let mut l = Linker::new(engine);
    // All of WASI 0.2, with nothing behind it (see ALLOWED_IMPORTS and
    // `PluginState::new`).
    wasmtime_wasi::p2::add_to_linker_async(&mut l)?;
    // Every contract version's host APIs, each under its own versioned
    // name: one linker serves components of all of them.
    link_contracts(&mut l)?;
    // Host APIs an older version had in another form, adapted.
    v0_2::context::add_to_linker::<PluginState, HasState>(&mut l, |s| s)?;
    v0_3::context::add_to_linker::<PluginState, HasState>(&mut l, |s| s)?;
    v0_3::config::add_to_linker::<PluginState, HasState>(&mut l, |s| s)?;
    Ok(l)
}

/// Links the newest contract's host APIs again under an older version's
/// interface names. Component types match by structure, so an older
/// version whose interfaces did not change (0.4.0: 0.5.0 only added an
/// export) is served by the same calls with no conversion.
fn link_unchanged_host_apis(l: &mut Linker<PluginState>, version: &str) -> wasmtime::Result<()> {
    use wasmtime::StoreContextMut;
    use wasmtime::component::ResourceType;

    type Cx<'a> = StoreContextMut<'a, PluginState>;

    /// A host call that waits, answered by the newest contract's `Host`.
    macro_rules! wait {
        ($inst:ident, $name:literal, |$s:ident $(, $a:ident: $t:ty)*| $call:expr) => {
            $inst.func_wrap_async($name, |mut cx: Cx<'_>, ($($a,)*): ($($t,)*)| {
                Box::new(async move {
                    let $s = cx.data_mut();
                    Ok(($call.await,))
                })
            })?;
        };
    }
    /// A host call that answers at once.
    macro_rules! now {
        ($inst:ident, $name:literal, |$s:ident $(, $a:ident: $t:ty)*| $call:expr) => {
            $inst.func_wrap($name, |mut cx: Cx<'_>, ($($a,)*): ($($t,)*)| {
                let $s = cx.data_mut();
                Ok(($call,))
            })?;
        };
    }
    let name = |iface: &str| {
        format!(
            "{}/{iface}@{version}",
            yoi_manifest::ContractVersion::PACKAGE
        )
    };

    let mut i = l.instance(&name("log"))?;
    i.func_wrap(
        "write",
        |mut cx: Cx<'_>, (level, message, fields): (log::Level, String, Vec<(String, String)>)| {
            log::Host::write(cx.data_mut(), level, message, fields);
            Ok(())
        },
    )?;
    let mut i = l.instance(&name("context"))?;
    now!(i, "current", |s| context::Host::current(s));
    let mut i = l.instance(&name("config"))?;
    now!(i, "get", |s, key: String| config::Host::get(s, key));
    now!(i, "all", |s| config::Host::all(s));

    let mut i = l.instance(&name("https"))?;
    i.resource_async(
        "incoming-body",
        ResourceType::host::<IncomingBody>(),
        |mut cx: Cx<'_>, rep| {
            Box::new(async move {
                https::HostIncomingBody::drop(cx.data_mut(), Resource::new_own(rep)).await
            })
        },
    )?;
    wait!(i, "send", |s, r: https::Request| https::Host::send(s, r));
    wait!(i, "open", |s, r: https::Request| https::Host::open(s, r));
    wait!(
        i,
        "[method]incoming-body.read",
        |s, b: Resource<IncomingBody>, max: u32| { https::HostIncomingBody::read(s, b, max) }
    );

    let mut i = l.instance(&name("fs"))?;
    wait!(i, "read", |s, p: String| wit_fs::Host::read(s, p));
    wait!(i, "write", |s, p: String, d: Vec<u8>| wit_fs::Host::write(
        s, p, d
    ));
    wait!(
        i,
        "append",
        |s, p: String, d: Vec<u8>| wit_fs::Host::append(s, p, d)
    );
    wait!(i, "list-dir", |s, p: String| wit_fs::Host::list_dir(s, p));
    wait!(i, "stat", |s, p: String| wit_fs::Host::stat(s, p));
    wait!(i, "create-dir", |s, p: String| wit_fs::Host::create_dir(
        s, p
    ));
    wait!(i, "remove", |s, p: String| wit_fs::Host::remove(s, p));
    wait!(i, "rename", |s, a: String, b: String| wit_fs::Host::rename(
        s, a, b
    ));
    wait!(i, "symlink", |s, a: String, b: String| {
        wit_fs::Host::symlink(s, a, b)
    });
    wait!(i, "hard-link", |s, a: String, b: String| {
        wit_fs::Host::hard_link(s, a, b)
    });

    let mut i = l.instance(&name("secrets"))?;
    wait!(i, "get", |s, key: String| secrets::Host::get(s, key));

    let mut i = l.instance(&name("completions"))?;
    i.resource_async(
        "sink",
        ResourceType::host::<crate::providerspec::Sink>(),
        |mut cx: Cx<'_>, rep| {
            Box::new(async move {
                completions::HostSink::drop(cx.data_mut(), Resource::new_own(rep)).await
            })
        },
    )?;
    wait!(
        i,
        "[method]sink.push",
        |s, sink: Resource<crate::providerspec::Sink>, chunk: completions::Chunk| {
            completions::HostSink::push(s, sink, chunk)
        }
    );
    Ok(())
}

/// Each contract version's host APIs, linked by how they relate to the
/// newest version's (the contract table's `host_apis`), and the adapters
/// of the `adapted` ones.
macro_rules! link_contracts {
    ($(
        $variant:ident $v:ident ($major:literal, $minor:literal, $patch:literal) $path:literal
        host_apis($apis:ident) exports($($surface:ident),*) $doc:literal;
    )*) => {
        fn link_contracts(l: &mut Linker<PluginState>) -> wasmtime::Result<()> {
            $( link_contract!($apis, $v, l, concat!($major, ".", $minor, ".", $patch)); )*
            Ok(())
        }
        $( adapt_contract!($apis, $v); )*
    };
}

macro_rules! link_contract {
    (newest, $v:ident, $l:ident, $version:expr) => {
        log::add_to_linker::<PluginState, HasState>($l, |s| s)?;
        context::add_to_linker::<PluginState, HasState>($l, |s| s)?;
        config::add_to_linker::<PluginState, HasState>($l, |s| s)?;
        https::add_to_linker::<PluginState, HasState>($l, |s| s)?;
        wit_fs::add_to_linker::<PluginState, HasState>($l, |s| s)?;
        secrets::add_to_linker::<PluginState, HasState>($l, |s| s)?;
        completions::add_to_linker::<PluginState, HasState>($l, |s| s)?;
    };
    (shared, $v:ident, $l:ident, $version:expr) => {
        link_unchanged_host_apis($l, $version)?;
    };
    (adapted, $v:ident, $l:ident, $version:expr) => {{
        use crate::bindings::$v::yoi::plugin as api;
        api::log::add_to_linker::<PluginState, HasState>($l, |s| s)?;
        api::https::add_to_linker::<PluginState, HasState>($l, |s| s)?;
        api::fs::add_to_linker::<PluginState, HasState>($l, |s| s)?;
        api::secrets::add_to_linker::<PluginState, HasState>($l, |s| s)?;
    }};
}

macro_rules! adapt_contract {
    (adapted, $v:ident) => {
        older_host_apis!($v);
    };
    ($apis:ident, $v:ident) => {};
}

/// The `context` of contracts 0.2.0 and 0.3.0: the newest one's record.
macro_rules! older_context {
    ($v:ident) => {
        impl $v::context::Host for PluginState {
            fn current(&mut self) -> $v::context::HookContext {
                let c = context::Host::current(self);
                $v::context::HookContext {
                    point: c.point,
                    plugin_id: c.plugin_id,
                    work_item_id: c.work_item_id,
                    run_id: c.run_id,
                    agent_id: c.agent_id,
                    session_id: c.session_id,
                    subject: c.subject,
                }
            }
        }
    };
}
older_context!(v0_2);
older_context!(v0_3);

impl v0_3::config::Host for PluginState {
    fn get(&mut self, key: String) -> Result<Option<String>, v0_3::config::ConfigError> {
        config::Host::get(self, key).map_err(|e| match e {
            config::ConfigError::Undeclared(k) => v0_3::config::ConfigError::Undeclared(k),
        })
    }

    fn all(&mut self) -> String {
        config::Host::all(self)
    }
}

// The older contracts' host APIs (`log`, `https`, `fs` and `secrets` did
// not change after 0.1.0): the same calls as the newest contract's, with
// the records that are not shared converted at the edge.
macro_rules! older_host_apis {
    ($module:ident) => {
        // A block of its own per version: `old_entry` is each one's.
        const _: () = {
            use crate::bindings::$module::yoi::plugin as v;
            impl v::log::Host for PluginState {
                fn write(
                    &mut self,
                    level: v::log::Level,
                    message: String,
                    fields: Vec<(String, String)>,
                ) {
                    let level = match level {
                        v::log::Level::Trace => log::Level::Trace,
                        v::log::Level::Debug => log::Level::Debug,
                        v::log::Level::Info => log::Level::Info,
                        v::log::Level::Warn => log::Level::Warn,
                        v::log::Level::Error => log::Level::Error,
                    };
                    log::Host::write(self, level, message, fields);
                }
            }

            impl v::https::Host for PluginState {
                async fn send(
                    &mut self,
                    r: v::https::Request,
                ) -> Result<v::https::Response, ApiError> {
                    use v::https::Method as Old;
                    let method = match r.method {
                        Old::Get => https::Method::Get,
                        Old::Head => https::Method::Head,
                        Old::Post => https::Method::Post,
                        Old::Put => https::Method::Put,
                        Old::Patch => https::Method::Patch,
                        Old::Delete => https::Method::Delete,
                    };
                    let request = https::Request {
                        method,
                        url: r.url,
                        headers: r.headers,
                        body: r.body,
                        timeout_ms: r.timeout_ms,
                    };
                    let response = https::Host::send(self, request).await?;
                    Ok(v::https::Response {
                        status: response.status,
                        headers: response.headers,
                        body: response.body,
                        url: response.url,
                    })
                }
            }

            fn old_entry(e: Entry) -> v::fs::Entry {
                use wit_fs::EntryKind as New;
                v::fs::Entry {
                    name: e.name,
                    kind: match e.kind {
                        New::File => v::fs::EntryKind::File,
                        New::Directory => v::fs::EntryKind::Directory,
                        New::Symlink => v::fs::EntryKind::Symlink,
                        New::Other => v::fs::EntryKind::Other,
                    },
                    size: e.size,
                }
            }

            impl v::fs::Host for PluginState {
                async fn read(&mut self, path: String) -> Result<Vec<u8>, ApiError> {
                    wit_fs::Host::read(self, path).await
                }
                async fn write(&mut self, path: String, data: Vec<u8>) -> Result<(), ApiError> {
                    wit_fs::Host::write(self, path, data).await
                }
                async fn append(&mut self, path: String, data: Vec<u8>) -> Result<(), ApiError> {
                    wit_fs::Host::append(self, path, data).await
                }
                async fn list_dir(&mut self, path: String) -> Result<Vec<v::fs::Entry>, ApiError> {
                    let entries = wit_fs::Host::list_dir(self, path).await?;
                    Ok(entries.into_iter().map(old_entry).collect())
                }
                async fn stat(&mut self, path: String) -> Result<v::fs::Entry, ApiError> {
                    wit_fs::Host::stat(self, path).await.map(old_entry)
                }
                async fn create_dir(&mut self, path: String) -> Result<(), ApiError> {
                    wit_fs::Host::create_dir(self, path).await
                }
                async fn remove(&mut self, path: String) -> Result<(), ApiError> {
                    wit_fs::Host::remove(self, path).await
                }
                async fn rename(&mut self, from: String, to: String) -> Result<(), ApiError> {
                    wit_fs::Host::rename(self, from, to).await
                }
                async fn symlink(&mut self, target: String, link: String) -> Result<(), ApiError> {
                    wit_fs::Host::symlink(self, target, link).await
                }
                async fn hard_link(
                    &mut self,
                    existing: String,
                    link: String,
                ) -> Result<(), ApiError> {
                    wit_fs::Host::hard_link(self, existing, link).await
                }
            }

            impl v::secrets::Host for PluginState {
                async fn get(&mut self, key: String) -> Result<String, ApiError> {
                    secrets::Host::get(self, key).await
                }
            }
        };
    };
}
yoi_manifest::foreach_contract!(link_contracts);
