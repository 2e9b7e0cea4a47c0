//! Observations of the host's own work and the queues that hold them for
//! observer plugins: one bounded queue per observer, dropping its oldest
//! observation (and counting it) when full, and the thread that runs their
//! delivery (the delivery itself is `observer_delivery`'s). docs/observers.md.
//!
//! Emitting costs one atomic load when no observer wants the kind; else one
//! allocation shared by every queue that wants it, and one short lock per
//! queue (the `observe` benchmark).

use std::collections::{HashMap, VecDeque};
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use arc_swap::ArcSwap;
use semver::Version;
use serde::Serialize;
use serde_json::Value;
use yoi_manifest::{HookPoint, ObservationKind, Observer, PluginId};

use crate::receipt::Status;
use crate::tooldefs::ToolStatus;

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
pub(crate) const MAX_CUSTOM_NAME: usize = 128;

/// One observer's queue and counters.
pub(crate) struct Queue {
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
    pub(crate) fn take(&self) -> (Vec<Arc<Observation>>, u64) {
        let mut pending = self.items.lock().unwrap_or_else(|p| p.into_inner());
        let n = pending.items.len().min(self.batch);
        let batch = pending.items.drain(..n).collect();
        (batch, std::mem::take(&mut pending.dropped))
    }

    /// The observer plugin.
    pub(crate) fn plugin(&self) -> &PluginId {
        &self.plugin
    }

    /// Its bound.
    pub(crate) fn capacity(&self) -> usize {
        self.capacity
    }

    /// The time limit of one batch.
    pub(crate) fn timeout(&self) -> Duration {
        self.timeout
    }

    /// Waits until something was queued (or the queue closed) since the
    /// last wait.
    pub(crate) async fn wait(&self) {
        self.wake.notified().await;
    }

    /// Whether the observer left the host: its delivery ends.
    pub(crate) fn is_closed(&self) -> bool {
        self.closed.load(Ordering::Relaxed)
    }

    /// `n` observations reached the observer.
    pub(crate) fn delivered(&self, n: u64) {
        self.delivered.fetch_add(n, Ordering::Relaxed);
    }

    /// A batch of `n` observations failed (or had no observer to go to).
    pub(crate) fn failed(&self, n: u64, batch: bool) {
        self.failed.fetch_add(n, Ordering::Relaxed);
        if batch {
            self.failed_batches.fetch_add(1, Ordering::Relaxed);
        }
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

/// Starts the delivery of one queue: `observe::deliver`, given by the
/// builder, so this module needs nothing above it.
pub(crate) type Deliver =
    Box<dyn Fn(Arc<Queue>) -> Pin<Box<dyn Future<Output = ()> + Send>> + Send + Sync>;

/// The host's observers: their queues and the thread delivering to them.
pub(crate) struct Observers {
    seq: AtomicU64,
    /// Every kind some observer wants, as bits: the fast "nobody listens".
    wanted: AtomicU32,
    queues: ArcSwap<Vec<Arc<Queue>>>,
    /// Changes to the set of queues, one at a time.
    sync: Mutex<HashMap<PluginId, Arc<Queue>>>,
    delivery: Mutex<Option<Delivery>>,
    deliver: Deliver,
}

/// The thread observers run on: one current-thread runtime, one task per
/// observer. It ends when the host is dropped.
struct Delivery {
    handle: tokio::runtime::Handle,
    _stop: tokio::sync::oneshot::Sender<()>,
}

fn bits(kinds: &[ObservationKind]) -> u32 {
    kinds.iter().fold(0, |b, k| b | k.bit())
}

impl Observers {
    pub(crate) fn new(deliver: Deliver) -> Observers {
        Observers {
            seq: AtomicU64::new(0),
            wanted: AtomicU32::new(0),
            queues: ArcSwap::from_pointee(Vec::new()),
            sync: Mutex::new(HashMap::new()),
            delivery: Mutex::new(None),
            deliver,
        }
    }

    /// Whether any observer listens at all: one atomic load.
    pub(crate) fn listening(&self) -> bool {
        self.wanted.load(Ordering::Relaxed) != 0
    }

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

    /// Makes the queues match `observers` (each loaded observer plugin and
    /// what it declared): a new observer gets a queue and its delivery; one
    /// that left, or changed its kinds, has its queue closed. A new version
    /// of the same plugin with the same kinds keeps the queue (and what
    /// waits in it).
    pub(crate) fn sync(&self, observers: &[(&PluginId, &Observer)]) {
        let mut queues = self.sync.lock().unwrap_or_else(|p| p.into_inner());
        let before = queues.len();
        queues.retain(|id, queue| {
            let keep = observers
                .iter()
                .any(|(o, decl)| *o == id && queue.bits == bits(&decl.kinds));
            if !keep {
                queue.closed.store(true, Ordering::Relaxed);
                queue.wake.notify_one();
            }
            keep
        });
        let mut changed = queues.len() != before;
        for (id, decl) in observers {
            if queues.contains_key(*id) {
                continue;
            }
            let queue = Arc::new(Queue::new((*id).clone(), decl));
            match self.spawn(Arc::clone(&queue)) {
                Ok(()) => {
                    queues.insert((*id).clone(), queue);
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

    /// Starts the delivery of `queue`, and the thread on first use.
    fn spawn(&self, queue: Arc<Queue>) -> std::io::Result<()> {
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
            d.handle.spawn((self.deliver)(queue));
        }
        Ok(())
    }

    pub(crate) fn statuses(&self) -> Vec<ObserverStatus> {
        self.queues.load().iter().map(|q| q.status()).collect()
    }
}

impl Drop for Observers {
    fn drop(&mut self) {
        for queue in self.queues.load().iter() {
            queue.closed.store(true, Ordering::Relaxed);
            queue.wake.notify_one();
        }
    }
}
