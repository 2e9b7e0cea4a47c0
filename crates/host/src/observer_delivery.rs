//! The observer bridge's delivery: each observer's loop that takes a
//! batch from its queue (`observers`) and hands it to the plugin's
//! current version, off the dispatch path; the embedder's `Host::observe`.
//! docs/observers.md.

use std::sync::{Arc, Weak};
use std::time::Duration;

use serde_json::Value;
use wasmtime::Store;
use wasmtime::component::Instance;

use crate::bindings::latest::exports::yoi::plugin::observer as wit;
use crate::eventlog::event;
use crate::exports::Guests;
use crate::hookevents::{CallContext, HookContext};
use crate::host::{Host, Shared};
use crate::instances::{GuestCall, Run, invoke};
use crate::observers::{MAX_CUSTOM_NAME, Observation, ObservationEvent, ObserverStatus, Queue};
use crate::receipt::{Status, clean};
use crate::sandbox::PluginState;
use crate::settle::{self, Caller};

/// Calling an observer's export with one batch.
struct ObserveCall {
    batch: wit::Batch,
}

impl GuestCall for ObserveCall {
    type Out = ();

    async fn call(
        &self,
        store: &mut Store<PluginState>,
        instance: &Instance,
        guests: &mut Guests,
    ) -> wasmtime::Result<Result<(), String>> {
        guests.call_observer(store, instance, &self.batch).await
    }
}

/// One observer's delivery loop: wait for observations, take a batch, hand
/// it to the plugin's current version, count what happened.
pub(crate) async fn deliver(shared: Weak<Shared>, queue: Arc<Queue>) {
    loop {
        queue.wait().await;
        loop {
            if queue.is_closed() {
                return;
            }
            let (batch, dropped) = queue.take();
            if batch.is_empty() && dropped == 0 {
                break;
            }
            let Some(shared) = shared.upgrade() else {
                return;
            };
            deliver_batch(&shared, &queue, batch, dropped).await;
        }
    }
}

async fn deliver_batch(shared: &Shared, queue: &Queue, batch: Vec<Arc<Observation>>, dropped: u64) {
    let count = batch.len() as u64;
    let snapshot = shared.snapshot.load_full();
    let Some(plugin) = snapshot.find(queue.plugin().as_str()).cloned() else {
        // It was unloaded while this batch waited.
        queue.failed(count, false);
        return;
    };
    if dropped > 0 {
        tracing::warn!(plugin = %plugin.info.id, dropped, "observer queue full: the oldest observations were dropped");
        if let Some(sink) = &shared.sink {
            sink.send(event(
                "observer_dropped",
                &plugin.info.id,
                &plugin.info.version,
                serde_json::json!({ "dropped": dropped, "capacity": queue.capacity() }),
            ));
        }
    }
    let call = ObserveCall {
        batch: wit::Batch {
            observations: batch.iter().map(|o| to_wit(o)).collect(),
            dropped,
        },
    };
    let context = CallContext::new(None, &HookContext::default());
    let limit = queue.timeout();
    let (run, record) = invoke(shared, &plugin, (limit, limit), &call, &context).await;
    let (status, mut detail) = match run {
        Run::Answer(()) => (Status::Ok, None),
        Run::GuestError(message) => (
            Status::Error,
            Some(clean(
                &format!("observer returned an error: {message}"),
                crate::instances::MAX_DETAIL,
            )),
        ),
        Run::Failed(status, why) => (status, Some(why)),
    };
    match status {
        Status::Ok => queue.delivered(count),
        _ => {
            queue.failed(count, true);
            tracing::warn!(plugin = %plugin.info.id, ?status, detail = detail.as_deref().unwrap_or_default(), "observer batch failed");
        }
    }
    // Its failures are its own: they count toward its crash guard only.
    settle::guard(shared, &plugin, Caller::Observer, status, &mut detail);
    settle::denied(shared, &plugin, Caller::Observer, &record.denials, None);
    if status != Status::Ok
        && let Some(sink) = &shared.sink
    {
        sink.send(event(
            "observer_failed",
            &plugin.info.id,
            &plugin.info.version,
            serde_json::json!({ "status": status, "detail": detail, "batch": count }),
        ));
    }
}

fn to_wit(o: &Observation) -> wit::Observation {
    let us = |d: &Duration| u64::try_from(d.as_micros()).unwrap_or(u64::MAX);
    let event = match &o.event {
        ObservationEvent::Receipt {
            plugin,
            version,
            point,
            status,
            duration,
        } => wit::Event::Receipt(wit::HandlerRan {
            plugin: plugin.to_string(),
            version: version.to_string(),
            point: point.as_str().to_owned(),
            status: status.as_str().to_owned(),
            duration_us: us(duration),
        }),
        ObservationEvent::ToolCall {
            tool,
            plugin,
            status,
            duration,
        } => wit::Event::ToolCall(wit::ToolRan {
            tool: tool.clone(),
            plugin: plugin.as_ref().map(ToString::to_string),
            status: status.as_str().to_owned(),
            duration_us: us(duration),
        }),
        ObservationEvent::ModelCall {
            model,
            provider,
            input_tokens,
            output_tokens,
            cost_usd,
            duration,
        } => wit::Event::ModelCall(wit::ModelCalled {
            model: model.clone(),
            provider: provider.clone(),
            input_tokens: *input_tokens,
            output_tokens: *output_tokens,
            cost_usd: *cost_usd,
            duration_ms: u64::try_from(duration.as_millis()).unwrap_or(u64::MAX),
        }),
        ObservationEvent::PermissionDenied {
            plugin,
            capability,
            target,
        } => wit::Event::PermissionDenied(wit::PermissionDenied {
            plugin: plugin.to_string(),
            capability: capability.clone(),
            target: target.clone(),
        }),
        ObservationEvent::AutoDisable {
            plugin,
            version,
            failures,
        } => wit::Event::AutoDisable(wit::PluginDisabled {
            plugin: plugin.to_string(),
            version: version.to_string(),
            failures: *failures,
        }),
        ObservationEvent::Reload { loaded, refused } => wit::Event::Reload(wit::Reloaded {
            loaded: loaded.clone(),
            refused: refused.clone(),
        }),
        ObservationEvent::Custom { name, data } => wit::Event::Custom(wit::Custom {
            kind: name.clone(),
            data: data.to_string(),
        }),
    };
    wit::Observation {
        seq: o.seq,
        at_ms: o.at_ms,
        event,
    }
}

impl Host {
    /// Hands the embedding application's own observation to the observers
    /// that receive `custom` ones; `name` says what it is (at most 128
    /// bytes, longer names are cut). Costs nothing when none does. Never
    /// blocks: a slow observer's queue drops its oldest observation.
    pub fn observe(&self, name: &str, data: Value) {
        self.shared.observers.emit(|| ObservationEvent::Custom {
            name: clean(name, MAX_CUSTOM_NAME),
            data,
        });
    }

    /// Each observer's queue: what waits, what was delivered and dropped.
    pub fn observers(&self) -> Vec<ObserverStatus> {
        self.shared.observers.statuses()
    }
}
