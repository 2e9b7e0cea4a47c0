//! The observer bridge: observations of the host's own work (receipts, tool
//! and model calls, denials, crash-guard disables, reloads, the embedder's
//! own) go onto one bounded queue per observer plugin and reach it in
//! batches, on a thread of their own, off the dispatch path. A full queue
//! drops its oldest observation and counts it (docs/observers.md).
//!
//! Emitting costs one atomic load when no observer wants the kind; else one
//! allocation shared by every queue that wants it, and one short lock per
//! queue (the `observe` benchmark).

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use arc_swap::ArcSwap;
use semver::Version;
use serde::Serialize;
use serde_json::Value;
use wasmtime::Store;
use wasmtime::component::Instance;
use yoi_manifest::{HookPoint, ObservationKind, Observer, PluginId};

use crate::bindings::latest::exports::yoi::plugin::observer as wit;
use crate::events::{CallContext, HookContext};
use crate::exports::Guests;
use crate::guard::crash_guard;
use crate::host::{Host, Shared, Snapshot};
use crate::instances::{GuestCall, Run, invoke};
use crate::plugin::LoadedPlugin;
use crate::receipt::{Status, clean};
use crate::sandbox::PluginState;
use crate::sink::{event, record_denials};
use crate::tools::ToolStatus;

/// What an observation reports. Observations carry who, what and how it
/// ended, never a plugin's payloads, logs or secrets.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "snake_case", tag = "kind")]
pub enum ObservationEvent {
    /// A hook handler ran.
    Receipt {
        /// The plugin.
        plugin: PluginId,
        /// Its version.
        version: Version,
        /// The point.
        point: HookPoint,
        /// How it ended.
        status: Status,
        /// Wall time.
        #[serde(serialize_with = "crate::receipt::millis")]
        duration: Duration,
    },
    /// A tool ran.
    ToolCall {
        /// The tool's name as the model sees it.
        tool: String,
        /// The plugin implementing it; `None` for native tools.
        plugin: Option<PluginId>,
        /// How it ended.
        status: ToolStatus,
        /// Wall time.
        #[serde(serialize_with = "crate::receipt::millis")]
        duration: Duration,
    },
    /// A model call finished.
    ModelCall {
        /// The model.
        model: String,
        /// The provider that answered, when the host routed it.
        provider: Option<String>,
        /// Prompt tokens.
        input_tokens: u64,
        /// Completion tokens.
        output_tokens: u64,
        /// Cost in US dollars (0 when unknown).
        cost_usd: f64,
        /// Wall time.
        #[serde(serialize_with = "crate::receipt::millis")]
        duration: Duration,
    },
    /// A plugin's host call was refused by its grants.
    PermissionDenied {
        /// The plugin.
        plugin: PluginId,
        /// `https`, `fs` or `secret`.
        capability: String,
        /// What it tried to reach.
        target: String,
    },
    /// The crash guard unloaded a plugin.
    AutoDisable {
        /// The plugin.
        plugin: PluginId,
        /// Its version.
        version: Version,
        /// Failures within the guard's window.
        failures: u32,
    },
    /// The host swapped its snapshot.
    Reload {
        /// `<id>@<version>` of every plugin now loaded.
        loaded: Vec<String>,
        /// Plugins refused, with why.
        refused: Vec<(String, String)>,
    },
    /// The embedding application's own observation ([`Host::observe`]).
    Custom {
        /// Its kind, as the embedder names it.
        name: String,
        /// Its data.
        data: Value,
    },
}

impl ObservationEvent {
    /// Its kind, as observers ask for it in plugin.toml.
    pub fn kind(&self) -> ObservationKind {
        match self {
            ObservationEvent::Receipt { .. } => ObservationKind::Receipt,
            ObservationEvent::ToolCall { .. } => ObservationKind::ToolCall,
            ObservationEvent::ModelCall { .. } => ObservationKind::ModelCall,
            ObservationEvent::PermissionDenied { .. } => ObservationKind::PermissionDenied,
            ObservationEvent::AutoDisable { .. } => ObservationKind::AutoDisable,
            ObservationEvent::Reload { .. } => ObservationKind::Reload,
            ObservationEvent::Custom { .. } => ObservationKind::Custom,
        }
    }
}

/// One observation, numbered in the host's order.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Observation {
    /// Its place in the host's sequence, from 1.
    pub seq: u64,
    /// When it happened, in milliseconds since the Unix epoch.
    pub at_ms: u64,
    /// What happened.
    pub event: ObservationEvent,
}

/// An observer's queue as [`Host::observers`] reports it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ObserverStatus {
    /// The observer plugin.
    pub plugin: PluginId,
    /// The kinds it receives.
    pub kinds: Vec<ObservationKind>,
    /// Observations handed to its queue since it was attached.
    pub received: u64,
    /// Observations waiting now.
    pub queued: u64,
    /// Its bound.
    pub capacity: u64,
    /// Observations handed to it in batches that it accepted.
    pub delivered: u64,
    /// Observations dropped because its queue was full.
    pub dropped: u64,
    /// Observations in batches that failed (error, trap, timeout).
    pub failed: u64,
    /// Batches that failed.
    pub failed_batches: u64,
}

impl ObserverStatus {
    /// Whether every observation it received was delivered, dropped or
    /// failed: nothing waits or is being delivered.
    pub fn idle(&self) -> bool {
        self.delivered + self.dropped + self.failed == self.received
    }
}

/// Largest `name` of a custom observation.
const MAX_CUSTOM_NAME: usize = 128;

/// One observer's queue and counters.
struct Queue {
    plugin: PluginId,
    kinds: Vec<ObservationKind>,
    bits: u32,
    capacity: usize,
    batch: usize,
    timeout: Duration,
    items: Mutex<Pending>,
    wake: tokio::sync::Notify,
    closed: AtomicBool,
    received: AtomicU64,
    delivered: AtomicU64,
    dropped: AtomicU64,
    failed: AtomicU64,
    failed_batches: AtomicU64,
}

#[derive(Default)]
struct Pending {
    items: VecDeque<Arc<Observation>>,
    /// Dropped since the last batch was taken.
    dropped: u64,
}

impl Queue {
    fn new(plugin: PluginId, decl: &Observer) -> Queue {
        Queue {
            plugin,
            kinds: decl.kinds.clone(),
            bits: decl.kinds.iter().fold(0, |b, k| b | k.bit()),
            capacity: decl.queue as usize,
            batch: decl.batch as usize,
            timeout: Duration::from_millis(u64::from(decl.timeout_ms)),
            items: Mutex::new(Pending::default()),
            wake: tokio::sync::Notify::new(),
            closed: AtomicBool::new(false),
            received: AtomicU64::new(0),
            delivered: AtomicU64::new(0),
            dropped: AtomicU64::new(0),
            failed: AtomicU64::new(0),
            failed_batches: AtomicU64::new(0),
        }
    }

    /// Queues one observation; drops the oldest when full. Never waits
    /// except for the lock, which is held only to push or take.
    fn push(&self, observation: &Arc<Observation>) {
        let mut pending = self.items.lock().unwrap_or_else(|p| p.into_inner());
        if pending.items.len() >= self.capacity {
            pending.items.pop_front();
            pending.dropped += 1;
            self.dropped.fetch_add(1, Ordering::Relaxed);
        }
        pending.items.push_back(Arc::clone(observation));
        self.received.fetch_add(1, Ordering::Relaxed);
        drop(pending);
        self.wake.notify_one();
    }

    /// The next batch and the drops since the last one.
    fn take(&self) -> (Vec<Arc<Observation>>, u64) {
        let mut pending = self.items.lock().unwrap_or_else(|p| p.into_inner());
        let n = pending.items.len().min(self.batch);
        let batch = pending.items.drain(..n).collect();
        (batch, std::mem::take(&mut pending.dropped))
    }

    fn status(&self) -> ObserverStatus {
        let queued = self
            .items
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .items
            .len();
        ObserverStatus {
            plugin: self.plugin.clone(),
            kinds: self.kinds.clone(),
            received: self.received.load(Ordering::Relaxed),
            queued: queued as u64,
            capacity: self.capacity as u64,
            delivered: self.delivered.load(Ordering::Relaxed),
            dropped: self.dropped.load(Ordering::Relaxed),
            failed: self.failed.load(Ordering::Relaxed),
            failed_batches: self.failed_batches.load(Ordering::Relaxed),
        }
    }
}

/// The host's observers: their queues and the thread delivering to them.
pub(crate) struct Observers {
    seq: AtomicU64,
    /// Every kind some observer wants, as bits: the fast "nobody listens".
    wanted: AtomicU32,
    queues: ArcSwap<Vec<Arc<Queue>>>,
    /// Changes to the set of queues, one at a time.
    sync: Mutex<HashMap<PluginId, Arc<Queue>>>,
    delivery: Mutex<Option<Delivery>>,
}

/// The thread observers run on: one current-thread runtime, one task per
/// observer. It ends when the host is dropped.
struct Delivery {
    handle: tokio::runtime::Handle,
    _stop: tokio::sync::oneshot::Sender<()>,
}

impl Default for Observers {
    fn default() -> Self {
        Observers {
            seq: AtomicU64::new(0),
            wanted: AtomicU32::new(0),
            queues: ArcSwap::from_pointee(Vec::new()),
            sync: Mutex::new(HashMap::new()),
            delivery: Mutex::new(None),
        }
    }
}

impl Observers {
    /// Hands an observation to every observer that wants its kind. `make`
    /// runs only when one does.
    pub(crate) fn emit(&self, make: impl FnOnce() -> ObservationEvent) {
        if self.wanted.load(Ordering::Relaxed) == 0 {
            return;
        }
        let event = make();
        let bit = event.kind().bit();
        if self.wanted.load(Ordering::Relaxed) & bit == 0 {
            return;
        }
        let observation = Arc::new(Observation {
            seq: self.seq.fetch_add(1, Ordering::Relaxed) + 1,
            at_ms: SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX)),
            event,
        });
        for queue in self.queues.load().iter() {
            if queue.bits & bit != 0 {
                queue.push(&observation);
            }
        }
    }

    /// Makes the queues match the observers of `snapshot`: a new observer
    /// gets a queue and a task; one that left has its queue closed. A new
    /// version of the same plugin keeps the queue (and what waits in it).
    pub(crate) fn sync(&self, shared: &Weak<Shared>, snapshot: &Snapshot) {
        let mut queues = self.sync.lock().unwrap_or_else(|p| p.into_inner());
        let wanted: HashMap<&PluginId, &Observer> = snapshot
            .plugins
            .iter()
            .filter_map(|p| p.observer.as_ref().map(|o| (&p.info.id, o)))
            .collect();
        let before = queues.len();
        queues.retain(|id, queue| {
            let keep = wanted
                .get(id)
                .is_some_and(|decl| queue.bits == decl.kinds.iter().fold(0, |b, k| b | k.bit()));
            if !keep {
                queue.closed.store(true, Ordering::Relaxed);
                queue.wake.notify_one();
            }
            keep
        });
        let mut changed = queues.len() != before;
        for (id, decl) in wanted {
            if queues.contains_key(id) {
                continue;
            }
            let queue = Arc::new(Queue::new(id.clone(), decl));
            match self.spawn(shared, Arc::clone(&queue)) {
                Ok(()) => {
                    queues.insert(id.clone(), queue);
                    changed = true;
                }
                Err(e) => {
                    tracing::error!(plugin = %id, error = %e, "cannot start the observer thread; the observer receives nothing")
                }
            }
        }
        if changed {
            let mut list: Vec<Arc<Queue>> = queues.values().cloned().collect();
            list.sort_by(|a, b| a.plugin.cmp(&b.plugin));
            self.wanted
                .store(list.iter().fold(0, |b, q| b | q.bits), Ordering::Relaxed);
            self.queues.store(Arc::new(list));
        }
    }

    /// Starts the delivery task of `queue`, and the thread on first use.
    fn spawn(&self, shared: &Weak<Shared>, queue: Arc<Queue>) -> std::io::Result<()> {
        let mut delivery = self.delivery.lock().unwrap_or_else(|p| p.into_inner());
        if delivery.is_none() {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_time()
                .build()?;
            let handle = runtime.handle().clone();
            let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
            std::thread::Builder::new()
                .name("yoi-observers".into())
                .spawn(move || {
                    // Ends when the host drops its `Delivery` (the sender).
                    let _ = runtime.block_on(stopped);
                })?;
            *delivery = Some(Delivery {
                handle,
                _stop: stop,
            });
        }
        if let Some(d) = delivery.as_ref() {
            d.handle.spawn(deliver(Weak::clone(shared), queue));
        }
        Ok(())
    }

    pub(crate) fn statuses(&self) -> Vec<ObserverStatus> {
        self.queues.load().iter().map(|q| q.status()).collect()
    }

    /// Closes every queue (the host is going away).
    fn close(&self) {
        for queue in self.queues.load().iter() {
            queue.closed.store(true, Ordering::Relaxed);
            queue.wake.notify_one();
        }
    }
}

impl Drop for Observers {
    fn drop(&mut self) {
        self.close();
    }
}

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
        plugin: &LoadedPlugin,
        guests: &mut Guests,
    ) -> wasmtime::Result<Result<(), String>> {
        plugin
            .exports
            .call_observer(store, instance, guests, &self.batch)
            .await
    }
}

/// One observer's delivery loop: wait for observations, take a batch, hand
/// it to the plugin's current version, count what happened.
async fn deliver(shared: Weak<Shared>, queue: Arc<Queue>) {
    loop {
        queue.wake.notified().await;
        loop {
            if queue.closed.load(Ordering::Relaxed) {
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
    let Some(plugin) = snapshot.find(queue.plugin.as_str()).cloned() else {
        // It was unloaded while this batch waited.
        queue.failed.fetch_add(count, Ordering::Relaxed);
        return;
    };
    if dropped > 0 {
        tracing::warn!(plugin = %plugin.info.id, dropped, "observer queue full: the oldest observations were dropped");
        if let Some(sink) = &shared.sink {
            sink.send(event(
                "observer_dropped",
                &plugin.info.id,
                &plugin.info.version,
                serde_json::json!({ "dropped": dropped, "capacity": queue.capacity }),
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
    let (run, record) = invoke(shared, &plugin, queue.timeout, &call, &context).await;
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
        Status::Ok => {
            queue.delivered.fetch_add(count, Ordering::Relaxed);
        }
        _ => {
            queue.failed.fetch_add(count, Ordering::Relaxed);
            queue.failed_batches.fetch_add(1, Ordering::Relaxed);
            tracing::warn!(plugin = %plugin.info.id, ?status, detail = detail.as_deref().unwrap_or_default(), "observer batch failed");
        }
    }
    // Its failures are its own: they count toward its crash guard only.
    crash_guard(shared, &plugin, status, &mut detail);
    if !record.denials.is_empty() {
        record_denials(
            shared.sink.as_ref(),
            &plugin.info,
            &record.denials,
            None,
            "observer",
        );
    }
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

/// Hands each denial to the observers of `permission_denied`.
pub(crate) fn observe_denials(
    shared: &Shared,
    plugin: &crate::plugin::PluginInfo,
    denials: &[crate::receipt::Denial],
) {
    for d in denials {
        shared
            .observers
            .emit(|| ObservationEvent::PermissionDenied {
                plugin: plugin.id.clone(),
                capability: d.capability.clone(),
                target: d.target.clone(),
            });
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
