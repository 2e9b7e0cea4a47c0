//! Runs a hook point's chain: ordering, rollout, time limits, fail modes,
//! change and block rights, the crash guard, receipts.

use std::sync::Arc;
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
            let why = format!(
                "not run: the chain budget of {} ms was used up",
                budget.as_millis()
            );
            (Run::Failed(Status::Timeout, why), CallRecord::default())
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
        crash_guard(shared, plugin, &mut receipt);
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

/// Counts failures; when a plugin reaches the limit within the window, it is
/// unloaded and, if it came from the registry, disabled there.
fn crash_guard(shared: &Shared, plugin: &Arc<LoadedPlugin>, receipt: &mut Receipt) {
    let limit = shared.settings.guard_failures;
    if limit == 0 {
        return;
    }
    match receipt.status {
        Status::Ok | Status::Blocked => plugin.record_success(),
        Status::RejectedChange => {}
        Status::Timeout | Status::Error => {
            let window = shared.settings.guard_window;
            let n = plugin.record_failure(window);
            if n < limit as usize || !shared.remove(plugin.info.id.as_str(), Some(plugin)) {
                return;
            }
            let reason = format!(
                "{n} failures within {} s (crash guard); last: {}",
                window.as_secs(),
                receipt.detail.as_deref().unwrap_or("unknown")
            );
            tracing::error!(plugin = %plugin.info.id, version = %plugin.info.version, "plugin unloaded: {reason}");
            let mut note = format!(
                "crash guard: {n} failures within {} s; the plugin was unloaded",
                window.as_secs()
            );
            if plugin.info.origin == Origin::Registry
                && let Some(registry) = &shared.settings.registry
            {
                match registry.auto_disable(plugin.info.id.as_str(), &reason, &shared.settings.name)
                {
                    Ok(()) => note.push_str(&format!(
                        " and disabled in the registry; `yoi enable {}` re-enables it",
                        plugin.info.id
                    )),
                    Err(e) => {
                        tracing::error!(plugin = %plugin.info.id, error = %e, "could not disable the plugin in the registry")
                    }
                }
            }
            let detail = receipt.detail.get_or_insert_with(String::new);
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

/// Runs one guest call with the plugin's memory cap and `limit`, in a warm
/// instance of the plugin when one is idle (and reuse is on), else a fresh
/// one.
pub(crate) async fn invoke<C: GuestCall>(
    shared: &Shared,
    plugin: &LoadedPlugin,
    limit: Duration,
    call: &C,
) -> (Run<C::Out>, CallRecord) {
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
                    let inst = plugin.pre.instantiate_async(&mut store).await?;
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
        Ok(Err(e)) if e.downcast_ref::<Trap>() == Some(&Trap::Interrupt) => Run::Failed(
            Status::Timeout,
            format!("stopped after its time limit of {} ms", limit.as_millis()),
        ),
        Ok(Err(e)) => Run::Failed(Status::Error, clean(&format!("trapped: {e:#}"), MAX_DETAIL)),
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
