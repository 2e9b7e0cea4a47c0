//! Instances: taking a call slot (the host's and the plugin's limits),
//! reusing a warm instance or making one, the time limits (epoch deadline
//! and host-side timer), and what a call leaves behind.

use std::sync::atomic::Ordering;
use std::task::Poll;
use std::time::Duration;

use wasmtime::component::Instance;
use wasmtime::{Store, Trap};

use crate::exports::Guests;
use crate::hookevents::CallContext;
use crate::host::{EPOCH_TICK, Shared};
use crate::plugin::{LoadedPlugin, Warm};
use crate::receipt::{Denial, LogLine, Status, clean};
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
        guests: &'a mut Guests,
    ) -> impl Future<Output = wasmtime::Result<Result<Self::Out, String>>> + Send + 'a;
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
/// one of the host's, given back when the call ends. The calls running are
/// the host's permits taken, so nothing else is counted per call: every
/// write to memory all threads share costs a warm call on a second thread.
pub(crate) struct Slot<'a> {
    _plugin: tokio::sync::SemaphorePermit<'a>,
    _host: tokio::sync::SemaphorePermit<'a>,
}

impl<'a> Slot<'a> {
    /// Takes a slot, waiting first come first served for at most the host's
    /// queue wait and never past `wait` (what the caller can spare). The
    /// caller's own permit (its plugin's, or its MCP server's: `own`, for
    /// `who`) comes first, so a flooded plugin queues behind itself, not in
    /// front of the others.
    pub(crate) async fn take(
        shared: &'a Shared,
        own: &'a tokio::sync::Semaphore,
        who: &str,
        wait: Duration,
    ) -> Result<Slot<'a>, String> {
        let pressure = &shared.pressure;
        let slot = |p, h| {
            let running = shared.running_calls();
            // Written only when a new peak is reached.
            if running > pressure.peak_running.load(Ordering::Relaxed) {
                pressure.peak_running.fetch_max(running, Ordering::Relaxed);
            }
            Slot {
                _plugin: p,
                _host: h,
            }
        };
        // The common case: both free, no timer.
        if let Ok(p) = own.try_acquire() {
            if let Ok(h) = shared.calls.try_acquire() {
                return Ok(slot(p, h));
            }
            drop(p);
        }
        let wait = wait.min(shared.options.queue_wait);
        let started = tokio::time::Instant::now();
        let deadline = started + wait;
        pressure.waiting.fetch_add(1, Ordering::Relaxed);
        let plugin_permit = tokio::time::timeout_at(deadline, own.acquire()).await;
        let taken = match plugin_permit {
            Ok(Ok(p)) => match tokio::time::timeout_at(deadline, shared.calls.acquire()).await {
                Ok(Ok(h)) => Ok(slot(p, h)),
                _ => Err(format!(
                    "not run: the host was running its limit of {} calls and none finished \
                     within {} ms (the host's limit, not the plugin's failure; see \
                     HostBuilder::concurrency)",
                    shared.options.max_calls,
                    wait.as_millis()
                )),
            },
            _ => Err(format!(
                "not run: {} was already running its limit of {} calls and none finished \
                 within {} ms (the host's limit, not the plugin's failure; see \
                 HostBuilder::concurrency)",
                who,
                shared.options.max_calls_per_plugin,
                wait.as_millis()
            )),
        };
        pressure.waiting.fetch_sub(1, Ordering::Relaxed);
        taken
    }
}

/// Runs one guest call with the plugin's memory cap and `limit`, in a warm
/// instance of the plugin when one is idle (and reuse is on), else a fresh
/// one. `wait` is the longest the caller can spare for a free slot (the
/// host's queue wait caps it): time spent waiting is the host's, so the
/// call still gets all of `limit` once it starts, and one that cannot
/// start in time ends `busy`, never `timeout`.
pub(crate) async fn invoke<C: GuestCall>(
    shared: &Shared,
    plugin: &LoadedPlugin,
    (limit, wait): (Duration, Duration),
    call: &C,
    context: &CallContext,
) -> (Run<C::Out>, CallRecord) {
    invoke_in(shared, plugin, (limit, wait), call, context, None).await
}

/// [`invoke`] in an instance of the caller's own (a service's, which lives
/// from `start` to `stop`): taken from `held` (or made), and put back
/// there while it stays healthy, never into the plugin's pool.
pub(crate) async fn invoke_in<C: GuestCall>(
    shared: &Shared,
    plugin: &LoadedPlugin,
    (limit, wait): (Duration, Duration),
    call: &C,
    context: &CallContext,
    mut held: Option<&mut Option<Warm>>,
) -> (Run<C::Out>, CallRecord) {
    let _slot = match Slot::take(shared, &plugin.calls, plugin.info.id.as_str(), wait).await {
        Ok(taken) => taken,
        Err(why) => {
            shared.pressure.busy.fetch_add(1, Ordering::Relaxed);
            return (Run::Failed(Status::Busy, why), CallRecord::default());
        }
    };
    let reuse = shared.options.reuse_instances;
    let warm = match held.as_deref_mut() {
        Some(own) => own.take(),
        None if reuse => plugin.take_idle(),
        None => None,
    };
    let (mut store, mut instance, mut guests) = match warm {
        Some(Warm {
            store,
            instance,
            guests,
        }) => (store, Some(instance), guests),
        None => (
            plugin.new_store(&shared.engine),
            None,
            plugin.exports.guests(),
        ),
    };
    // The store's epoch callback (LoadedPlugin::new_store) traps at the
    // first tick past this instant and yields at every tick before it.
    store.data_mut().deadline = std::time::Instant::now().checked_add(limit);
    store.set_epoch_deadline(1);

    // The epoch deadline covers instantiation too (a start function may
    // loop). The timer covers time spent waiting on async host calls, which
    // the epoch cannot interrupt. A call that finishes without waiting (the
    // common case) never arms the timer.
    let deadline = tokio::time::Instant::now() + limit + EPOCH_TICK * 2 + TIMER_GRACE;
    // What `context.current` answers during this call: two reference-count
    // bumps, nothing copied until the plugin asks.
    store.data_mut().set_context(Some(context.clone()));
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
            call.call(&mut store, &inst, &mut guests).await
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
    store.data_mut().set_context(None);
    let (logs, used_stdio) = store.data_mut().take_logs();
    let denials = store.data_mut().take_denials();
    // A trapped or timed-out instance is never reused: it is dropped here.
    if let Some(own) = held {
        if healthy && let Some(instance) = instance {
            *own = Some(Warm {
                store,
                instance,
                guests,
            });
        }
    } else if reuse
        && healthy
        && !used_stdio
        && !store.data().holds_resources()
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
