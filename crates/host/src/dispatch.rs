//! Runs a hook point's chain: ordering, rollout, time limits, fail modes,
//! change and block rights, receipts. Instances are `instances`' business,
//! failure counting the crash guard's (`guard`), records the sink's.

use std::time::{Duration, Instant};

use serde_json::Value;
use wasmtime::Store;
use wasmtime::component::Instance;
use yoi_manifest::{FailMode, Hook, HookPoint};

use crate::error::HostError;
use crate::eventlog::event_record;
use crate::exports::{Exported, Guests};
use crate::hookevents::{CallContext, GuestOutcome, HookContext, Point};
use crate::host::Host;
use crate::instances::{CallRecord, GuestCall, MAX_DETAIL, Run, invoke};
use crate::observers::ObservationEvent;
use crate::receipt::{Blocked, Dispatch, Receipt, Status, clean};
use crate::sandbox::PluginState;
use crate::settle::{self, Caller};

/// An event of one hook point: what [`Host::dispatch`](crate::Host::dispatch)
/// takes. Implemented for every event type of this crate, and only those.
pub trait Event: Exported {
    /// The point this event belongs to.
    const POINT: HookPoint = <Self as Point>::POINT;
    /// Whether a plugin may block the event.
    const CAN_BLOCK: bool = <Self as Point>::CAN_BLOCK;
    /// The fields a plugin may change, by name.
    const CHANGEABLE: &'static [&'static str] = <Self as Point>::CHANGEABLE;
}

impl<T: Exported> Event for T {}

/// What a chain runs through its handlers: an event of one of Yoi's own
/// points (every [`Exported`] type) or of a point the host declared
/// (`host_points::HostEvent`). The rights are constants for Yoi's points
/// and the declaration's for a host's.
pub(crate) trait Chained: Send + Sync + Sized {
    /// The event as it crosses into the guest.
    type Wit: Send + Sync;

    fn point(&self) -> HookPoint;

    fn can_block(&self) -> bool;

    /// A handler's time limit: its manifest's (or, for a host-defined point
    /// whose manifest wrote none, the declaration's default).
    fn time_limit(&self, hook: &Hook) -> Duration {
        Duration::from_millis(u64::from(hook.timeout_ms))
    }

    fn to_wit(&self) -> Self::Wit;

    /// The event with a guest's change applied and the names of the fields
    /// that changed, or why the change is refused.
    fn accept_change(&self, changed: Self::Wit) -> Result<(Self, Vec<&'static str>), String>;

    fn call<'a>(
        &'a self,
        store: &'a mut Store<PluginState>,
        instance: &'a Instance,
        guests: &'a mut Guests,
        event: &'a Self::Wit,
    ) -> impl Future<Output = wasmtime::Result<Result<GuestOutcome<Self::Wit>, String>>> + Send + 'a;
}

impl<P: Exported> Chained for P {
    type Wit = <P as Point>::Wit;

    fn point(&self) -> HookPoint {
        <P as Point>::POINT
    }

    fn can_block(&self) -> bool {
        <P as Point>::CAN_BLOCK
    }

    fn to_wit(&self) -> Self::Wit {
        Point::to_wit(self)
    }

    fn accept_change(&self, changed: Self::Wit) -> Result<(Self, Vec<&'static str>), String> {
        Point::accept_change(self, changed)
    }

    fn call<'a>(
        &'a self,
        store: &'a mut Store<PluginState>,
        instance: &'a Instance,
        guests: &'a mut Guests,
        event: &'a Self::Wit,
    ) -> impl Future<Output = wasmtime::Result<Result<GuestOutcome<Self::Wit>, String>>> + Send + 'a
    {
        P::call(store, instance, guests, event)
    }
}

/// A hook point's handler called with its event.
struct HookCall<'e, C: Chained> {
    data: &'e C,
    event: &'e C::Wit,
}

impl<C: Chained> GuestCall for HookCall<'_, C> {
    type Out = GuestOutcome<C::Wit>;

    fn call<'a>(
        &'a self,
        store: &'a mut Store<PluginState>,
        instance: &'a Instance,
        guests: &'a mut Guests,
    ) -> impl Future<Output = wasmtime::Result<Result<Self::Out, String>>> + Send + 'a {
        self.data.call(store, instance, guests, self.event)
    }
}

pub(crate) async fn run_chain<C: Chained>(
    host: &Host,
    context: &HookContext,
    event: C,
) -> Dispatch<C> {
    let shared = &*host.shared;
    let subject = context.subject.as_deref();
    // Shared by every handler's call; made for the first handler that runs
    // (nothing to copy for an empty context).
    let mut call_context = None;
    let budget = shared.options.chain_budget;
    // One snapshot for the whole chain, however the plugins change meanwhile.
    // A guard, not a counted reference: it writes nothing other threads
    // read (a warm dispatch on two threads shares no cache line for it),
    // and becomes a counted reference if a reload swaps the snapshot.
    let snapshot = shared.snapshot.load();
    let started = Instant::now();
    let point = event.point();
    let can_block = event.can_block();
    let mut data = event;
    let mut blocked = None;
    let mut receipts = Vec::new();
    // The event in WIT form, rebuilt only when a handler changed it.
    let mut wit = None;

    for (plugin, hook) in snapshot.chain(point) {
        if !plugin.applies(subject, shared.options.scope) {
            continue;
        }
        // One clock read per handler start (a warm call is ~2 µs).
        let t0 = Instant::now();
        let left = budget.saturating_sub(t0.saturating_duration_since(started));
        let limit = data.time_limit(hook).min(left);
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
            let call = HookCall { data: &data, event };
            let call_context =
                call_context.get_or_insert_with(|| CallContext::new(Some(point), context));
            // The handler may wait for a slot only as long as the chain can
            // spare and still give it its whole limit.
            let spare = left.saturating_sub(limit);
            invoke(shared, plugin, (limit, spare), &call, call_context).await
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
            point,
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
            Ok(GuestOutcome::Block(reason)) if can_block => {
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
                receipt.detail = Some(format!("{point} may not block; the block was ignored"));
            }
            Err((status, why)) => {
                receipt.status = status;
                receipt.detail = Some(why.clone());
                if hook.fail == FailMode::Closed {
                    stop = true;
                    if can_block {
                        blocked = Some(Blocked {
                            plugin: plugin.info.id.clone(),
                            reason: format!("the plugin failed and its hook is fail-closed: {why}"),
                        });
                    }
                }
            }
        }
        receipt.duration = t0.elapsed();
        settle::guard(
            shared,
            plugin,
            Caller::Hook(point),
            receipt.status,
            &mut receipt.detail,
        );
        tracing::debug!(
            plugin = %receipt.plugin, point = %point, status = ?receipt.status,
            duration_ms = receipt.duration.as_secs_f64() * 1000.0, "hook handler finished"
        );
        if let Some(sink) = &shared.sink {
            sink.send(event_record(&receipt, subject));
        }
        shared.observers.emit(|| ObservationEvent::Receipt {
            plugin: receipt.plugin.clone(),
            version: receipt.version.clone(),
            point,
            status: receipt.status,
            duration: receipt.duration,
        });
        settle::denied(
            shared,
            plugin,
            Caller::Hook(point),
            &receipt.denials,
            subject,
        );
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

impl Host {
    /// Runs the hook point of `event`'s type with every handler that applies
    /// to all subjects (plugins on a partial rollout are skipped: use
    /// [`Host::dispatch_for`]).
    ///
    /// The answer holds the event as the handlers left it, who blocked it
    /// and why, and one receipt per handler. It never fails: a handler's
    /// failure is in its receipt.
    pub async fn dispatch<E: Event>(&self, event: E) -> Dispatch<E> {
        let out = run_chain(self, &HookContext::default(), event).await;
        self.observe_model_response(&out.data);
        out
    }

    /// What the observers hear of an event the embedder dispatched itself
    /// (a `model.post_call` is a model call; those made through
    /// `Host::complete` are reported there, with their provider).
    fn observe_model_response<E: Event>(&self, data: &E) {
        // Nothing is built when nobody listens.
        if !self.shared.observers.listening() {
            return;
        }
        if let Some(event) = data.observation() {
            self.shared.observers.emit(|| event);
        }
    }

    /// [`Host::dispatch`] for one subject (a user, session or work item):
    /// a plugin on a partial rollout runs only when the subject falls in its
    /// share, the same answer every time for the same subject.
    pub async fn dispatch_for<E: Event>(&self, subject: &str, event: E) -> Dispatch<E> {
        let out = run_chain(self, &HookContext::for_subject(subject), event).await;
        self.observe_model_response(&out.data);
        out
    }

    /// [`Host::dispatch`] with the ids the embedder knows for this event:
    /// handlers built for contract 0.2.0 or later receive them, and
    /// `context.subject` decides partial rollouts as in
    /// [`Host::dispatch_for`].
    pub async fn dispatch_in<E: Event>(&self, context: &HookContext, event: E) -> Dispatch<E> {
        let out = run_chain(self, context, event).await;
        self.observe_model_response(&out.data);
        out
    }

    /// [`Host::dispatch_in`] for callers without an async runtime: runs the
    /// chain on a Tokio current-thread runtime made for the call. That costs
    /// a runtime per call (tens of microseconds), so a host that dispatches
    /// often should keep its own runtime. Must not be called from inside a
    /// Tokio runtime (it panics there, as Tokio's `block_on` does).
    pub fn dispatch_blocking<E: Event>(
        &self,
        context: &HookContext,
        event: E,
    ) -> Result<Dispatch<E>, HostError> {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .build()
            .map_err(|e| HostError::Runtime(e.to_string()))?;
        let out = runtime.block_on(run_chain(self, context, event));
        self.observe_model_response(&out.data);
        Ok(out)
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
        let context = HookContext {
            subject: subject.map(str::to_owned),
            ..HookContext::default()
        };
        self.dispatch_json_in(&context, point, payload).await
    }

    /// [`Host::dispatch_json`] with the whole hook context: who is calling,
    /// in which session, for which subject.
    pub async fn dispatch_json_in(
        &self,
        context: &HookContext,
        point: HookPoint,
        payload: Value,
    ) -> Result<Dispatch<Value>, HostError> {
        if let HookPoint::Host(host) = point {
            return self.dispatch_point(context, host.as_str(), payload).await;
        }
        dispatch_json(self, context, point, payload)
            .await
            .map_err(|reason| HostError::Payload { point, reason })
    }

    /// [`Host::dispatch_json_in`] from JSON text to JSON text, parsed
    /// straight into the point's event and written straight from the
    /// answer, with no `Value` in between: what the Node and Python
    /// packages call (docs/embedding.md).
    pub(crate) async fn dispatch_text_in(
        &self,
        context: &HookContext,
        point: HookPoint,
        payload: &str,
    ) -> Result<String, HostError> {
        if let HookPoint::Host(_) = point {
            let payload = serde_json::from_str(payload).map_err(|e| HostError::Payload {
                point,
                reason: format!("the payload is not JSON: {e}"),
            })?;
            let out = self.dispatch_json_in(context, point, payload).await?;
            return Ok(serde_json::to_string(&out).unwrap_or_default());
        }
        dispatch_text(self, context, point, payload)
            .await
            .map_err(|reason| HostError::Payload { point, reason })
    }
}

/// JSON dispatch over the table's rows: parse the point's event, run it.
macro_rules! define_json_dispatch {
    ($(
        $(#[$doc:meta])*
        $event:ident = $variant:ident $name:literal since $since:tt, $wit:ident, $module:ident, block: $block:literal {
            $($fields:tt)*
        }
    )*) => {
        async fn dispatch_json(
            host: &Host,
            context: &HookContext,
            point: HookPoint,
            payload: Value,
        ) -> Result<Dispatch<Value>, String> {
            match point {
                $( HookPoint::$variant => {
                    let event: crate::hookevents::$event = serde_json::from_value(payload)
                        .map_err(|e| format!("the payload is not a valid {point} event: {e}"))?;
                    let out = run_chain(host, context, event).await;
                    host.observe_model_response(&out.data);
                    Ok(out.map_data(|d| serde_json::to_value(d).unwrap_or(Value::Null)))
                } )*
                other => Err(format!("{other} is not a hook point this host runs")),
            }
        }

        async fn dispatch_text(
            host: &Host,
            context: &HookContext,
            point: HookPoint,
            payload: &str,
        ) -> Result<String, String> {
            match point {
                $( HookPoint::$variant => {
                    let event: crate::hookevents::$event = serde_json::from_str(payload)
                        .map_err(|e| format!("the payload is not a valid {point} event: {e}"))?;
                    let out = run_chain(host, context, event).await;
                    host.observe_model_response(&out.data);
                    serde_json::to_string(&out)
                        .map_err(|e| format!("the answer could not be written as JSON: {e}"))
                } )*
                other => Err(format!("{other} is not a hook point this host runs")),
            }
        }
    };
}

yoi_manifest::foreach_hook_point!(define_json_dispatch);
