//! Runs a hook point's chain: ordering, rollout, time limits, fail modes,
//! change and block rights, the crash guard, receipts.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::task::Poll;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use wasmtime::component::Instance;
use wasmtime::{Store, Trap};
use yoi_manifest::FailMode;
use yoi_registry::EventRecord;

use crate::events::{GuestOutcome, HookGuests, Point};
use crate::host::{EPOCH_TICK, Host, Shared};
use crate::plugin::{LoadedPlugin, Origin, Warm};
use crate::receipt::{Blocked, Denial, Dispatch, LogLine, Receipt, Status, clean};
use crate::sandbox::PluginState;

/// Longest error text kept in a receipt.
pub(crate) const MAX_DETAIL: usize = 2048;

/// A warm instance whose memory grew past this is not kept for reuse.
const RECYCLE_MEMORY: usize = 16 * 1024 * 1024;

/// Slack on top of a handler's limit before the host-side timer cancels it.
/// The epoch deadline stops code running inside wasm; the timer stops a call
/// that waits on an async host function.
const TIMER_GRACE: Duration = Duration::from_millis(20);

/// How one guest call ended, before the point's rights are applied.
pub(crate) enum Run<O> {
    Answer(O),
    /// The guest returned its own error (the instance is healthy).
    GuestError(String),
    Failed(Status, String),
}

/// What a call left besides its answer: log lines and refused host calls.
#[derive(Default)]
pub(crate) struct CallRecord {
    pub(crate) logs: Vec<LogLine>,
    pub(crate) denials: Vec<Denial>,
}

/// One call into a guest export: a hook handler or a tool.
pub(crate) trait GuestCall: Sync {
    type Out: Send;

    fn call<'a>(
        &'a self,
        store: &'a mut Store<PluginState>,
        instance: &'a Instance,
        plugin: &'a LoadedPlugin,
        guests: &'a mut HookGuests,
    ) -> impl Future<Output = wasmtime::Result<Result<Self::Out, String>>> + Send + 'a;
}

/// A hook point's handler called with its event.
struct HookCall<'e, P: Point>(&'e P::Wit);

impl<P: Point> GuestCall for HookCall<'_, P> {
    type Out = GuestOutcome<P::Wit>;

    fn call<'a>(
        &'a self,
        store: &'a mut Store<PluginState>,
        instance: &'a Instance,
        plugin: &'a LoadedPlugin,
        guests: &'a mut HookGuests,
    ) -> impl Future<Output = wasmtime::Result<Result<Self::Out, String>>> + Send + 'a {
        P::call(store, instance, &plugin.exports, guests, self.0)
    }
}

pub(crate) async fn run_chain<P: Point>(
    host: &Host,
    subject: Option<&str>,
    event: P,
) -> Dispatch<P> {
    let shared = &*host.shared;
    let budget = shared.settings.chain_budget;
    // One snapshot for the whole chain, however the plugins change meanwhile.
    let snapshot = shared.snapshot.load_full();
    let started = Instant::now();
    let mut data = event;
    let mut blocked = None;
    let mut receipts = Vec::new();
    // The event in WIT form, rebuilt only when a handler changed it.
    let mut wit = None;

    for (plugin, hook) in snapshot.chain(P::POINT) {
        if !applies(plugin, subject) {
            continue;
        }
        let left = budget.saturating_sub(started.elapsed());
        let limit = Duration::from_millis(u64::from(hook.timeout_ms)).min(left);
        let t0 = Instant::now();
        let (run, record) = if limit.is_zero() {
            // The earlier handlers spent the budget: not this plugin's
            // failure.
            let why = format!(
                "not run: the chain budget of {} ms was used up by earlier handlers",
                budget.as_millis()
            );
            (Run::Failed(Status::Busy, why), CallRecord::default())
        } else {
            let event = wit.get_or_insert_with(|| data.to_wit());
            invoke(shared, plugin, limit, &HookCall::<P>(event)).await
        };
        // A handler's own error is a failure like a trap, for the fail mode.
        let answer = match run {
            Run::Answer(outcome) => Ok(outcome),
            Run::GuestError(message) => Err((
                Status::Error,
                clean(&format!("handler returned an error: {message}"), MAX_DETAIL),
            )),
            Run::Failed(status, why) => Err((status, why)),
        };

        let mut receipt = Receipt {
            plugin: plugin.info.id.clone(),
            version: plugin.info.version.clone(),
            point: P::POINT,
            status: Status::Ok,
            changed: Vec::new(),
            detail: None,
            duration: Duration::ZERO,
            logs: record.logs,
            denials: record.denials,
        };
        let mut stop = false;
        match answer {
            Ok(GuestOutcome::Continue) => {}
            Ok(GuestOutcome::Change(changed)) => match data.accept_change(changed) {
                Ok((next, fields)) => {
                    if !fields.is_empty() {
                        data = next;
                        wit = None;
                    }
                    receipt.changed = fields;
                }
                Err(why) => {
                    receipt.status = Status::RejectedChange;
                    receipt.detail = Some(format!("{why}; the change was ignored"));
                }
            },
            Ok(GuestOutcome::Block(reason)) if P::CAN_BLOCK => {
                let reason = clean(&reason, MAX_DETAIL);
                receipt.status = Status::Blocked;
                receipt.detail = Some(reason.clone());
                blocked = Some(Blocked {
                    plugin: plugin.info.id.clone(),
                    reason,
                });
                stop = true;
            }
            Ok(GuestOutcome::Block(_)) => {
                receipt.status = Status::RejectedChange;
                receipt.detail = Some(format!("{} may not block; the block was ignored", P::POINT));
            }
            Err((status, why)) => {
                receipt.status = status;
                receipt.detail = Some(why.clone());
                if hook.fail == FailMode::Closed {
                    stop = true;
                    if P::CAN_BLOCK {
                        blocked = Some(Blocked {
                            plugin: plugin.info.id.clone(),
                            reason: format!("the plugin failed and its hook is fail-closed: {why}"),
                        });
                    }
                }
            }
        }
        receipt.duration = t0.elapsed();
        crash_guard(shared, plugin, receipt.status, &mut receipt.detail);
        tracing::debug!(
            plugin = %receipt.plugin, point = %P::POINT, status = ?receipt.status,
            duration_ms = receipt.duration.as_secs_f64() * 1000.0, "hook handler finished"
        );
        if let Some(sink) = &shared.sink {
            sink.send(event_record(&receipt, subject));
        }
        // Most runs have no denial: no record, no allocation.
        if !receipt.denials.is_empty() {
            record_denials(
                shared,
                &plugin.info,
                &receipt.denials,
                subject,
                P::POINT.as_str(),
            );
        }
        receipts.push(receipt);
        if stop {
            break;
        }
    }

    Dispatch {
        data,
        blocked,
        receipts,
    }
}

/// Whether a plugin on a partial rollout runs for this subject. Without a
/// subject, only plugins that reach everyone run.
pub(crate) fn applies(plugin: &LoadedPlugin, subject: Option<&str>) -> bool {
    match (plugin.info.rollout, subject) {
        (None, _) => true,
        (Some(r), _) if r.percent >= 100 => true,
        (Some(r), Some(subject)) => {
            yoi_registry::bucket(plugin.info.id.as_str(), subject) < r.percent
        }
        (Some(_), None) => false,
    }
}

/// Counts failures, whatever surface they came through (hooks, tools); when
/// a plugin reaches the limit within the window, it is unloaded and, if it
/// came from the registry, disabled there. `Busy` is the host's limit, not
/// the plugin's failure, and counts for nothing.
pub(crate) fn crash_guard(
    shared: &Shared,
    plugin: &Arc<LoadedPlugin>,
    status: Status,
    detail: &mut Option<String>,
) {
    let limit = shared.settings.guard_failures;
    if limit == 0 {
        return;
    }
    match status {
        Status::Ok | Status::Blocked => plugin.record_success(),
        Status::RejectedChange | Status::Busy => {}
        Status::Timeout | Status::Error => {
            let window = shared.settings.guard_window;
            let n = plugin.record_failure(window);
            if n < limit as usize || !shared.remove(plugin.info.id.as_str(), Some(plugin)) {
                return;
            }
            let reason = format!(
                "{n} failures within {} s (crash guard); last: {}",
                window.as_secs(),
                detail.as_deref().map_or("unknown", reason_of)
            );
            tracing::error!(plugin = %plugin.info.id, version = %plugin.info.version, "plugin unloaded: {reason}");
            let mut note = format!(
                "crash guard: {n} failures within {} s; the plugin was unloaded",
                window.as_secs()
            );
            if plugin.info.origin == Origin::Registry
                && let Some(registry) = &shared.settings.registry
            {
                // A registry write may wait on another process's lock: it
                // runs off the dispatch path, never inside the caller's time.
                let registry = Arc::clone(registry);
                let (id, host) = (plugin.info.id.to_string(), shared.settings.name.clone());
                let disable = move || {
                    if let Err(e) = registry.auto_disable(&id, &reason, &host) {
                        tracing::error!(plugin = %id, error = %e, "could not disable the plugin in the registry");
                    }
                };
                match tokio::runtime::Handle::try_current() {
                    Ok(rt) => drop(rt.spawn_blocking(disable)),
                    Err(_) => disable(),
                }
                note.push_str(&format!(
                    " and is being disabled in the registry; `yoi enable {}` re-enables it",
                    plugin.info.id
                ));
            }
            let detail = detail.get_or_insert_with(String::new);
            detail.push_str(&format!(" ({note})"));
        }
    }
}

/// Now, in milliseconds since the epoch.
pub(crate) fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

/// Sends one `permission_denied` event per denial to the registry, if the
/// host has one. `during` is the hook point or tool that was running.
pub(crate) fn record_denials(
    shared: &Shared,
    plugin: &crate::PluginInfo,
    denials: &[Denial],
    subject: Option<&str>,
    during: &str,
) {
    let Some(sink) = &shared.sink else { return };
    for d in denials {
        sink.send(event(
            "permission_denied",
            &plugin.id,
            &plugin.version,
            serde_json::json!({
                "capability": d.capability,
                "target": d.target,
                "reason": d.reason,
                "granted": d.granted,
                "fix": d.fix,
                "during": during,
                "subject": subject,
            }),
        ));
    }
}

/// Records a plugin tool's run (kind `tool`) and its denials.
pub(crate) fn record_tool_run(
    shared: &Shared,
    plugin: &LoadedPlugin,
    tool: &str,
    run: &crate::ToolRun,
    subject: Option<&str>,
) {
    tracing::debug!(plugin = %plugin.info.id, tool, status = ?run.status, "tool finished");
    if let Some(sink) = &shared.sink {
        sink.send(event(
            "tool",
            &plugin.info.id,
            &plugin.info.version,
            serde_json::json!({
                "tool": tool,
                "status": run.status,
                "detail": run.detail,
                "duration_ms": run.duration.as_secs_f64() * 1000.0,
                "subject": subject,
            }),
        ));
    }
    record_denials(shared, &plugin.info, &run.denials, subject, tool);
}

/// An event for the registry's events table, stamped now.
fn event(
    kind: &str,
    plugin: &yoi_manifest::PluginId,
    version: &semver::Version,
    detail: serde_json::Value,
) -> EventRecord {
    EventRecord {
        id: 0,
        at: now_ms(),
        kind: kind.into(),
        plugin: plugin.to_string(),
        version: Some(version.to_string()),
        detail,
    }
}

fn event_record(receipt: &Receipt, subject: Option<&str>) -> EventRecord {
    event(
        "receipt",
        &receipt.plugin,
        &receipt.version,
        serde_json::json!({
            "point": receipt.point,
            "status": receipt.status,
            "changed": receipt.changed,
            "detail": receipt.detail,
            "duration_ms": receipt.duration.as_secs_f64() * 1000.0,
            "subject": subject,
        }),
    )
}

/// Longest wasm backtrace kept in a receipt's detail, after the reason.
const MAX_BACKTRACE: usize = 1024;
/// Longest function name kept per backtrace frame.
const MAX_FRAME: usize = 96;

/// A trap in words: the reason first and whole (a trap code such as `call
/// stack exhausted`, or the error's own message), then, on a line of its
/// own, a trimmed wasm backtrace. The crash guard and `yoi list` keep only
/// the first line.
pub(crate) fn trap_detail(e: &wasmtime::Error) -> String {
    let reason = match e.downcast_ref::<Trap>() {
        Some(trap) => trap.to_string(),
        None => e
            .chain()
            .map(ToString::to_string)
            // The backtrace is a context of its own; it comes below.
            .filter(|c| !c.contains("wasm backtrace:"))
            .collect::<Vec<_>>()
            .join(": "),
    };
    let mut detail = clean(&format!("trapped: {reason}"), MAX_DETAIL - MAX_BACKTRACE);
    if let Some(bt) = e.downcast_ref::<wasmtime::WasmBacktrace>() {
        let frames: Vec<String> = bt
            .frames()
            .iter()
            .map(|f| {
                let name = f.func_name().unwrap_or("<unnamed>");
                clean(name, MAX_FRAME)
            })
            .collect();
        if !frames.is_empty() {
            detail.push('\n');
            detail.push_str(&clean(
                &format!("wasm backtrace: {}", frames.join(" <- ")),
                MAX_BACKTRACE,
            ));
        }
    }
    detail
}

/// The first line of a detail: its reason without the backtrace.
pub(crate) fn reason_of(detail: &str) -> &str {
    detail.lines().next().unwrap_or_default()
}

/// Whether an instantiation failed because the pooling allocator had no
/// free slot (the host's limit, not the plugin's fault).
fn pool_full(e: &wasmtime::Error) -> bool {
    e.chain()
        .any(|c| c.is::<wasmtime::PoolConcurrencyLimitError>())
}

/// A call's place among the running calls: one permit of its plugin's and
/// one of the host's, given back when the call ends.
struct Slot<'a> {
    _plugin: tokio::sync::SemaphorePermit<'a>,
    _host: tokio::sync::SemaphorePermit<'a>,
    pressure: &'a crate::host::PressureCounters,
}

impl<'a> Slot<'a> {
    /// Takes a slot, waiting first come first served for at most the host's
    /// queue wait and never past `limit`. The plugin's own permit comes
    /// first, so a flooded plugin queues behind itself, not in front of
    /// the others.
    async fn take(
        shared: &'a Shared,
        plugin: &'a LoadedPlugin,
        limit: Duration,
    ) -> Result<(Slot<'a>, Duration), String> {
        let pressure = &shared.pressure;
        let slot = |p, h| {
            let running = pressure.running.fetch_add(1, Ordering::Relaxed) + 1;
            pressure.peak_running.fetch_max(running, Ordering::Relaxed);
            Slot {
                _plugin: p,
                _host: h,
                pressure,
            }
        };
        // The common case: both free, no timer.
        if let Ok(p) = plugin.calls.try_acquire() {
            if let Ok(h) = shared.calls.try_acquire() {
                return Ok((slot(p, h), Duration::ZERO));
            }
            drop(p);
        }
        let wait = limit.min(shared.settings.queue_wait);
        let started = tokio::time::Instant::now();
        let deadline = started + wait;
        pressure.waiting.fetch_add(1, Ordering::Relaxed);
        let plugin_permit = tokio::time::timeout_at(deadline, plugin.calls.acquire()).await;
        let taken = match plugin_permit {
            Ok(Ok(p)) => match tokio::time::timeout_at(deadline, shared.calls.acquire()).await {
                Ok(Ok(h)) => Ok((slot(p, h), started.elapsed())),
                _ => Err(format!(
                    "not run: the host was running its limit of {} calls and none finished \
                     within {} ms (the host's limit, not the plugin's failure; see \
                     HostBuilder::concurrency)",
                    shared.settings.max_calls,
                    wait.as_millis()
                )),
            },
            _ => Err(format!(
                "not run: {} was already running its limit of {} calls and none finished \
                 within {} ms (the host's limit, not the plugin's failure; see \
                 HostBuilder::concurrency)",
                plugin.info.id,
                shared.settings.max_calls_per_plugin,
                wait.as_millis()
            )),
        };
        pressure.waiting.fetch_sub(1, Ordering::Relaxed);
        taken
    }
}

impl Drop for Slot<'_> {
    fn drop(&mut self) {
        self.pressure.running.fetch_sub(1, Ordering::Relaxed);
    }
}

/// Runs one guest call with the plugin's memory cap and `limit`, in a warm
/// instance of the plugin when one is idle (and reuse is on), else a fresh
/// one.
pub(crate) async fn invoke<C: GuestCall>(
    shared: &Shared,
    plugin: &LoadedPlugin,
    limit: Duration,
    call: &C,
) -> (Run<C::Out>, CallRecord) {
    let (_slot, waited) = match Slot::take(shared, plugin, limit).await {
        Ok(taken) => taken,
        Err(why) => {
            shared.pressure.busy.fetch_add(1, Ordering::Relaxed);
            return (Run::Failed(Status::Busy, why), CallRecord::default());
        }
    };
    // Waiting for the slot counts against the call's own limit.
    let limit = limit.saturating_sub(waited);
    let reuse = shared.settings.reuse_instances;
    let (mut store, mut instance, mut guests) = match plugin.take_idle().filter(|_| reuse) {
        Some(Warm {
            store,
            instance,
            guests,
        }) => (store, Some(instance), guests),
        None => (
            plugin.new_store(&shared.engine),
            None,
            HookGuests::default(),
        ),
    };
    let ticks = limit.as_nanos().div_ceil(EPOCH_TICK.as_nanos()) + 1;
    store.set_epoch_deadline(u64::try_from(ticks).unwrap_or(u64::MAX));

    // The epoch deadline covers instantiation too (a start function may
    // loop). The timer covers time spent waiting on async host calls, which
    // the epoch cannot interrupt. A call that finishes without waiting (the
    // common case) never arms the timer.
    let deadline = tokio::time::Instant::now() + limit + EPOCH_TICK * 2 + TIMER_GRACE;
    let answer = {
        let call = async {
            let inst = match instance {
                Some(inst) => inst,
                None => {
                    let inst = match plugin.pre.instantiate_async(&mut store).await {
                        Err(e) if pool_full(&e) => {
                            // Idle warm instances hold pool slots: give them
                            // back before refusing anyone.
                            shared.evict_idle();
                            plugin.pre.instantiate_async(&mut store).await?
                        }
                        other => other?,
                    };
                    instance = Some(inst);
                    inst
                }
            };
            call.call(&mut store, &inst, plugin, &mut guests).await
        };
        let mut call = std::pin::pin!(call);
        let first = std::future::poll_fn(|cx| Poll::Ready(call.as_mut().poll(cx))).await;
        match first {
            Poll::Ready(answer) => Ok(answer),
            Poll::Pending => tokio::time::timeout_at(deadline, call).await,
        }
    };

    let mut healthy = false;
    let run = match answer {
        Err(_elapsed) => Run::Failed(
            Status::Timeout,
            format!(
                "cancelled after its time limit of {} ms while waiting on the host",
                limit.as_millis()
            ),
        ),
        Ok(Err(e)) if pool_full(&e) => Run::Failed(
            Status::Busy,
            "not run: the host's instance pool is full, even after evicting idle instances \
             (the host's limit, not the plugin's failure; raise HostBuilder::pooling_allocator)"
                .into(),
        ),
        Ok(Err(e)) if e.downcast_ref::<Trap>() == Some(&Trap::Interrupt) => Run::Failed(
            Status::Timeout,
            format!("stopped after its time limit of {} ms", limit.as_millis()),
        ),
        Ok(Err(e)) => Run::Failed(Status::Error, trap_detail(&e)),
        Ok(Ok(Err(message))) => {
            healthy = true;
            Run::GuestError(message)
        }
        Ok(Ok(Ok(outcome))) => {
            healthy = true;
            Run::Answer(outcome)
        }
    };
    let (logs, used_stdio) = store.data_mut().take_logs();
    let denials = store.data_mut().take_denials();
    // A trapped or timed-out instance is never reused: it is dropped here.
    if reuse
        && healthy
        && !used_stdio
        && store.data().limits.peak_memory <= RECYCLE_MEMORY
        && let Some(instance) = instance
    {
        plugin.put_idle(Warm {
            store,
            instance,
            guests,
        });
    }
    (run, CallRecord { logs, denials })
}

#[cfg(test)]
mod tests {
    use super::*;
    use wasmtime::{Engine, Instance, Module};

    /// A recursion trap in a function with a 300-character name: the reason
    /// comes first and whole, the backtrace after it, trimmed.
    #[test]
    fn a_trap_keeps_its_reason_first_whatever_the_backtrace() {
        let name = "f".repeat(300);
        let wat = format!(r#"(module (func ${name} (export "run") call ${name}))"#);
        let engine = Engine::default();
        let module = Module::new(&engine, wat::parse_str(&wat).unwrap()).unwrap();
        let mut store = Store::new(&engine, ());
        let instance = Instance::new(&mut store, &module, &[]).unwrap();
        let run = instance
            .get_typed_func::<(), ()>(&mut store, "run")
            .unwrap();
        let e = run.call(&mut store, ()).unwrap_err();
        let detail = trap_detail(&e);
        assert_eq!(
            reason_of(&detail),
            "trapped: wasm trap: call stack exhausted",
            "{detail}"
        );
        assert!(detail.len() <= MAX_DETAIL, "{}", detail.len());
        let backtrace = detail.lines().nth(1).unwrap_or_default();
        assert!(backtrace.starts_with("wasm backtrace: fff"), "{detail}");
        assert!(backtrace.len() <= MAX_BACKTRACE + 4);
    }
}
