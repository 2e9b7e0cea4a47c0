//! An instance's store state: what its host API calls act on (its API
//! context, the denials and log lines of the call, the resources it holds),
//! its WASI context with nothing ambient behind it, and its limits. The
//! host API units of this module implement the contract's calls on it;
//! `sandbox` links them.

use std::sync::Arc;

use wasmtime::component::{HasData, ResourceTable};
use wasmtime::{ResourceLimiter, StoreLimits, StoreLimitsBuilder};
use wasmtime_wasi::p2::pipe::{ClosedInputStream, MemoryOutputPipe};
use wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};

use super::log::emit;
use super::{ApiFailure, PluginApi};
use crate::bindings::latest::yoi::plugin::types::ApiError;
use crate::hookevents::CallContext;
use crate::receipt::{Denial, LogLevel, LogLine};

/// Bytes of stdout and of stderr kept per call. Writing more traps the call.
pub(crate) const STDIO_CAPACITY: usize = 64 * 1024;
/// Most log lines kept per call; later ones are counted, not stored.
pub(crate) const MAX_LOG_LINES: usize = 256;
/// Most denials recorded per call; later ones are still refused and logged.
const MAX_DENIALS: usize = 64;

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
    pub(crate) plugin: Arc<str>,
    pub(crate) api: Arc<PluginApi>,
    denials: Vec<Denial>,
    dropped_denials: usize,
    /// Made on the guest's first WASI call: a plugin that never makes one
    /// (most never write to stdout, and a PDK guest seeds no hash map)
    /// does not pay for seeding its random generators on every fresh
    /// instance.
    wasi: Option<Wasi>,
    pub(crate) table: ResourceTable,
    pub(crate) limits: Limiter,
    pub(crate) logs: Vec<LogLine>,
    pub(crate) dropped_logs: usize,
    /// The context of the call running, for `context.current`.
    pub(crate) context: Option<CallContext>,
    /// Response bodies the guest holds open (`https.open`).
    pub(crate) open_bodies: usize,
    /// When the running call's time limit ends (`None`: no limit).
    pub(crate) deadline: Option<std::time::Instant>,
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
            deadline: None,
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
    pub(crate) fn settle<T>(&mut self, result: Result<T, ApiFailure>) -> Result<T, ApiError> {
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

/// How bindings reach a store's state.
pub(crate) struct HasState;

impl HasData for HasState {
    type Data<'a> = &'a mut PluginState;
}
