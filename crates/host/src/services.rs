#![cfg_attr(not(feature = "services"), allow(dead_code))]
//! The service manager's state: one [`Unit`] per running service (its
//! bounded ingress queue with the service's backpressure policy, its
//! counters and state, its open connections and unanswered requests) and
//! the hub that starts and stops units as snapshots change. The work of a
//! unit (calling the guest, carrying out commands) is `serviceworker`'s;
//! its drivers are `wsdriver`'s and `inbound`'s. docs/services.md.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock, RwLock, mpsc};

use serde_json::Value;
use tokio::sync::{Notify, mpsc as tmpsc, oneshot};
use yoi_manifest::{Backpressure, RoutePattern, Service};

use crate::bindings::latest::exports::yoi::plugin::service as wit;
use crate::plugin::LoadedPlugin;
use crate::servicespec::{
    MAX_DATA, MAX_KIND, ServiceError, ServiceLimits, ServiceOutput, ServiceState, ServiceStatus,
};

/// How often a service's new errors in the same state are told at most.
const RETELL: std::time::Duration = std::time::Duration::from_secs(2);
/// Most timestamped signatures a service remembers within their window.
const MAX_REMEMBERED: usize = 100_000;
/// How often a service's refused signatures are recorded at most (each is
/// counted in its status).
pub(crate) const SIGNATURE_RECORD_EVERY: std::time::Duration = std::time::Duration::from_secs(10);

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// One event waiting for a service.
pub(crate) struct Queued {
    pub(crate) event: wit::Event,
}

impl Queued {
    /// The inbound request this event carries, if it is one.
    fn request(&self) -> Option<u64> {
        match &self.event {
            wit::Event::Request(r) => Some(r.id),
            _ => None,
        }
    }
}

/// What became of an event offered to a full or open queue.
#[derive(Debug, PartialEq)]
pub(crate) enum Offered<T> {
    /// It waits in the queue.
    Queued,
    /// It waits in the queue; the oldest waiting one made room.
    Displaced(T),
    /// The queue was full and refuses; here it is back.
    Refused(T),
}

/// A bounded queue with a backpressure policy: the part of a service's
/// ingress that decides what waits, what is dropped and what is refused.
pub(crate) struct Ingress<T> {
    items: Mutex<VecDeque<T>>,
    capacity: usize,
    policy: Backpressure,
    dropped: AtomicU64,
    refused: AtomicU64,
}

impl<T> Ingress<T> {
    pub(crate) fn new(capacity: usize, policy: Backpressure) -> Self {
        Ingress {
            items: Mutex::new(VecDeque::new()),
            capacity: capacity.max(1),
            policy,
            dropped: AtomicU64::new(0),
            refused: AtomicU64::new(0),
        }
    }

    /// Offers `item` under the policy, counting what is dropped or refused.
    pub(crate) fn offer(&self, item: T) -> Offered<T> {
        let mut q = lock(&self.items);
        if q.len() < self.capacity {
            q.push_back(item);
            Offered::Queued
        } else if self.policy == Backpressure::Refuse {
            self.refused.fetch_add(1, Ordering::Relaxed);
            Offered::Refused(item)
        } else {
            let oldest = q.pop_front();
            q.push_back(item);
            self.dropped.fetch_add(1, Ordering::Relaxed);
            match oldest {
                Some(o) => Offered::Displaced(o),
                None => Offered::Queued,
            }
        }
    }

    /// Like `offer`, but a refusal is not counted (the caller waits and
    /// offers again: nothing is lost).
    pub(crate) fn try_offer(&self, item: T) -> Offered<T> {
        let offered = self.offer(item);
        if matches!(offered, Offered::Refused(_)) {
            self.refused.fetch_sub(1, Ordering::Relaxed);
        }
        offered
    }

    /// Adds an item past the bound (the host owes it to the service).
    pub(crate) fn push_owed(&self, item: T) {
        lock(&self.items).push_back(item);
    }

    pub(crate) fn push_front(&self, item: T) {
        lock(&self.items).push_front(item);
    }

    pub(crate) fn take(&self) -> Option<T> {
        lock(&self.items).pop_front()
    }

    pub(crate) fn len(&self) -> usize {
        lock(&self.items).len()
    }

    pub(crate) fn dropped(&self) -> u64 {
        self.dropped.load(Ordering::Relaxed)
    }

    pub(crate) fn refused(&self) -> u64 {
        self.refused.load(Ordering::Relaxed)
    }
}

/// A message for a WebSocket connection's driver.
pub(crate) enum Outgoing {
    Frame(wit::Payload),
    Close(u16, String),
}

/// The answer to an inbound request.
pub(crate) struct Reply {
    pub(crate) status: u16,
    pub(crate) headers: Vec<(String, String)>,
    pub(crate) body: Vec<u8>,
}

impl Reply {
    /// A short plain-text answer of the host's own.
    pub(crate) fn text(status: u16, text: &str) -> Reply {
        Reply {
            status,
            headers: vec![("content-type".into(), "text/plain; charset=utf-8".into())],
            body: format!("{text}\n").into_bytes(),
        }
    }
}

/// One running service: its queue, counters and what the host holds open
/// for it.
pub(crate) struct Unit {
    pub(crate) plugin: Arc<LoadedPlugin>,
    pub(crate) spec: Service,
    pub(crate) limits: ServiceLimits,
    queue: Ingress<Queued>,
    /// Wakes the worker: an event arrived, or the unit is stopping.
    pub(crate) arrived: Notify,
    /// Wakes drivers waiting for room (`refuse`: WebSocket reads pause).
    room: Notify,
    state: Mutex<(ServiceState, Option<String>)>,
    /// When a change was last told (`on_change`).
    told: Mutex<std::time::Instant>,
    stopping: AtomicBool,
    /// Wakes everything of the unit that waits, to stop.
    pub(crate) stop: tokio::sync::watch::Sender<bool>,
    pub(crate) processed: AtomicU64,
    pub(crate) refused_commands: AtomicU64,
    pub(crate) bad_signatures: AtomicU64,
    /// When a refused signature was last recorded, and how many were
    /// refused since: refusals are counted always, recorded at most once
    /// per [`SIGNATURE_RECORD_EVERY`].
    signature_records: Mutex<(Option<std::time::Instant>, u64)>,
    /// Timestamped signatures accepted and still within their window, with
    /// when each was signed: a replay of one is refused.
    accepted: Mutex<HashMap<Vec<u8>, i64>>,
    pub(crate) errors: AtomicU64,
    pub(crate) restarts: AtomicU32,
    pub(crate) connected: AtomicBool,
    pub(crate) route_active: AtomicBool,
    /// Open WebSocket connections, by id.
    connections: Mutex<HashMap<u64, tmpsc::UnboundedSender<Outgoing>>>,
    /// Inbound requests waiting for `respond`, by id.
    pending: Mutex<HashMap<u64, oneshot::Sender<Reply>>>,
    next_id: AtomicU64,
    /// Called on every state change (the host records it).
    on_change: OnChange,
}

impl Unit {
    fn new(
        plugin: Arc<LoadedPlugin>,
        spec: Service,
        limits: ServiceLimits,
        on_change: OnChange,
    ) -> Unit {
        Unit {
            queue: Ingress::new(spec.queue as usize, spec.backpressure),
            plugin,
            spec,
            limits,
            arrived: Notify::new(),
            room: Notify::new(),
            state: Mutex::new((ServiceState::Starting, None)),
            told: Mutex::new(std::time::Instant::now()),
            stopping: AtomicBool::new(false),
            stop: tokio::sync::watch::Sender::new(false),
            processed: AtomicU64::new(0),
            refused_commands: AtomicU64::new(0),
            bad_signatures: AtomicU64::new(0),
            signature_records: Mutex::new((None, 0)),
            accepted: Mutex::new(HashMap::new()),
            errors: AtomicU64::new(0),
            restarts: AtomicU32::new(0),
            connected: AtomicBool::new(false),
            route_active: AtomicBool::new(false),
            connections: Mutex::new(HashMap::new()),
            pending: Mutex::new(HashMap::new()),
            next_id: AtomicU64::new(1),
            on_change,
        }
    }

    /// `<plugin>/<service>`, for messages and thread names.
    pub(crate) fn label(&self) -> String {
        format!("{}/{}", self.plugin.info.id, self.spec.name)
    }

    /// Counts a refused signature; when one is due to be recorded, how
    /// many were refused since the last record (this one included).
    /// Anyone who can reach the route can send unsigned requests: they
    /// must not grow the registry one event each.
    pub(crate) fn signature_record_due(&self) -> Option<u64> {
        let mut records = lock(&self.signature_records);
        records.1 += 1;
        let now = std::time::Instant::now();
        if records
            .0
            .is_some_and(|t| now.duration_since(t) < SIGNATURE_RECORD_EVERY)
        {
            return None;
        }
        let refused = records.1;
        *records = (Some(now), 0);
        Some(refused)
    }

    /// Whether `tag`, a valid signature made at `at` (Unix seconds), is
    /// used for the first time within its window of `max_age_s` seconds
    /// either side of now; it is remembered until it can no longer be
    /// accepted. At most [`MAX_REMEMBERED`] are remembered: past that, new
    /// ones are refused until old ones expire (the host's limit, logged).
    pub(crate) fn first_use(&self, tag: &[u8], at: i64, max_age_s: u32) -> bool {
        let now = crate::eventlog::now_ms() / 1000;
        let alive = |signed: i64| signed.saturating_add(i64::from(max_age_s)) >= now;
        let mut accepted = lock(&self.accepted);
        if accepted.len() % 256 == 255 || accepted.len() >= MAX_REMEMBERED {
            accepted.retain(|_, signed| alive(*signed));
        }
        if accepted.contains_key(tag) {
            return false;
        }
        if accepted.len() >= MAX_REMEMBERED {
            tracing::warn!(service = %self.label(), "{MAX_REMEMBERED} signed requests in one window: refusing more until some expire");
            return false;
        }
        accepted.insert(tag.to_vec(), at);
        true
    }

    /// A new id for a connection or a request.
    pub(crate) fn next_id(&self) -> u64 {
        self.next_id.fetch_add(1, Ordering::Relaxed)
    }

    pub(crate) fn state(&self) -> ServiceState {
        lock(&self.state).0
    }

    /// Moves to `state`; `error` replaces the last error when given.
    pub(crate) fn set_state(&self, state: ServiceState, error: Option<String>) {
        {
            let mut s = lock(&self.state);
            // A final state is final.
            if s.0.is_final() {
                return;
            }
            let moved = s.0 != state;
            let news = error.is_some();
            s.0 = state;
            if news {
                s.1 = error;
            }
            // A new state is always told; a new error in the same state
            // (a gateway that stays down, retried with backoff) at most
            // every RETELL, so it cannot flood the registry's events.
            let mut told = lock(&self.told);
            if !(moved || news && told.elapsed() >= RETELL) {
                return;
            }
            *told = std::time::Instant::now();
        }
        (self.on_change)(self);
    }

    /// Records a problem without changing the state.
    pub(crate) fn note_error(&self, error: String) {
        lock(&self.state).1 = Some(error);
    }

    pub(crate) fn is_stopping(&self) -> bool {
        self.stopping.load(Ordering::Acquire)
    }

    /// Asks everything of the unit to stop.
    pub(crate) fn request_stop(&self) {
        self.stopping.store(true, Ordering::Release);
        self.stop.send_replace(true);
        self.arrived.notify_one();
        self.room.notify_waiters();
    }

    /// Hands an ingress event over under the service's backpressure
    /// policy: `Err` gives it back when the queue is full and the policy is
    /// `refuse`, or when the service no longer runs.
    pub(crate) fn offer(&self, event: wit::Event) -> Result<(), Box<wit::Event>> {
        self.offer_as(event, false)
    }

    fn offer_as(&self, event: wit::Event, waiting: bool) -> Result<(), Box<wit::Event>> {
        if self.is_stopping() || self.state().is_final() {
            return Err(Box::new(event));
        }
        let queued = Queued { event };
        let offered = if waiting {
            self.queue.try_offer(queued)
        } else {
            self.queue.offer(queued)
        };
        match offered {
            Offered::Refused(back) => return Err(Box::new(back.event)),
            Offered::Displaced(oldest) => {
                if let Some(request) = oldest.request() {
                    self.answer(
                        request,
                        Reply::text(503, "dropped: the service's queue was full"),
                    );
                }
            }
            Offered::Queued => {}
        }
        self.arrived.notify_one();
        Ok(())
    }

    /// Hands an ingress event over, waiting for room under `refuse` (how a
    /// WebSocket connection pauses its reads). `false` when the unit stops.
    pub(crate) async fn offer_waiting(&self, event: wit::Event) -> bool {
        let mut event = event;
        loop {
            let room = self.room.notified();
            tokio::pin!(room);
            room.as_mut().enable();
            match self.offer_as(event, true) {
                Ok(()) => return true,
                Err(back) => {
                    if self.is_stopping() || self.state().is_final() {
                        return false;
                    }
                    event = *back;
                }
            }
            room.await;
        }
    }

    /// Hands over an event the host itself owes the service (a fetch's
    /// answer, a refused command, a connection opened or closed): never
    /// refused, since the service asked for it or must know it.
    pub(crate) fn push_owed(&self, event: wit::Event) {
        if self.is_stopping() {
            return;
        }
        self.queue.push_owed(Queued { event });
        self.arrived.notify_one();
    }

    /// The next event, if any.
    pub(crate) fn take(&self) -> Option<Queued> {
        let next = self.queue.take();
        if next.is_some() {
            self.room.notify_waiters();
        }
        next
    }

    /// Puts an event back at the front (the host could not run it now).
    pub(crate) fn put_back(&self, queued: Queued) {
        self.queue.push_front(queued);
    }

    pub(crate) fn queued(&self) -> usize {
        self.queue.len()
    }

    /// Registers an open connection.
    pub(crate) fn connection_opened(&self, id: u64, tx: tmpsc::UnboundedSender<Outgoing>) {
        lock(&self.connections).insert(id, tx);
    }

    pub(crate) fn connection_closed(&self, id: u64) {
        lock(&self.connections).remove(&id);
    }

    /// The ids of the open connections.
    pub(crate) fn connection_ids(&self) -> Vec<u64> {
        let mut ids: Vec<u64> = lock(&self.connections).keys().copied().collect();
        ids.sort_unstable();
        ids
    }

    /// Sends to a connection; `false` when it is not open.
    pub(crate) fn send_to(&self, id: u64, out: Outgoing) -> bool {
        lock(&self.connections)
            .get(&id)
            .is_some_and(|tx| tx.send(out).is_ok())
    }

    /// Registers an inbound request waiting for its answer.
    pub(crate) fn await_answer(&self, id: u64) -> oneshot::Receiver<Reply> {
        let (tx, rx) = oneshot::channel();
        lock(&self.pending).insert(id, tx);
        rx
    }

    /// Forgets an inbound request (answered by the host after its time).
    pub(crate) fn forget(&self, id: u64) {
        lock(&self.pending).remove(&id);
    }

    /// Answers an inbound request; `false` when none waits under that id.
    pub(crate) fn answer(&self, id: u64, reply: Reply) -> bool {
        let tx = lock(&self.pending).remove(&id);
        tx.is_some_and(|tx| tx.send(reply).is_ok())
    }

    /// Answers every waiting request (the unit stops).
    pub(crate) fn answer_all(&self, status: u16, text: &str) {
        let all: Vec<_> = lock(&self.pending).drain().collect();
        for (_, tx) in all {
            let _ = tx.send(Reply::text(status, text));
        }
    }

    /// Its status now.
    pub(crate) fn status(&self) -> ServiceStatus {
        let (state, last_error) = lock(&self.state).clone();
        let n = |a: &AtomicU64| a.load(Ordering::Relaxed);
        ServiceStatus {
            plugin: self.plugin.info.id.clone(),
            version: self.plugin.info.version.clone(),
            service: self.spec.name.clone(),
            state,
            websocket: self.spec.websocket.as_ref().map(ToString::to_string),
            connected: self.connected.load(Ordering::Relaxed),
            route: self.spec.http.as_ref().map(ToString::to_string),
            queued: self.queued() as u64,
            capacity: u64::from(self.spec.queue),
            backpressure: self.spec.backpressure,
            processed: n(&self.processed),
            dropped: self.queue.dropped(),
            refused: self.queue.refused(),
            refused_commands: n(&self.refused_commands),
            bad_signatures: n(&self.bad_signatures),
            errors: n(&self.errors),
            restarts: self.restarts.load(Ordering::Relaxed),
            last_error,
        }
    }
}

/// What a unit's state change does (the host records it).
pub(crate) type OnChange = Arc<dyn Fn(&Unit) + Send + Sync>;

/// Starts a unit's worker; set by the builder, which knows the host.
pub(crate) type Runner = Box<dyn Fn(Arc<Unit>) -> std::io::Result<()> + Send + Sync>;

/// Every service of the loaded plugins, and the parts they share.
pub(crate) struct Services {
    units: Mutex<BTreeMap<(String, String), Arc<Unit>>>,
    /// Services that ended (stopped or failed), kept for their status
    /// until their plugin runs them again.
    ended: Mutex<BTreeMap<(String, String), ServiceStatus>>,
    /// Inbound routes the host answers, each to its unit.
    routes: RwLock<Vec<(RoutePattern, Arc<Unit>)>>,
    outputs: Mutex<Vec<mpsc::Sender<ServiceOutput>>>,
    pub(crate) limits: ServiceLimits,
    runner: OnceLock<Runner>,
    on_change: OnceLock<OnChange>,
    /// The runtime the drivers run on (connections, the listener, timers,
    /// fetches), made on first use.
    io: Mutex<Option<tokio::runtime::Runtime>>,
    io_handle: OnceLock<tokio::runtime::Handle>,
}

impl Services {
    pub(crate) fn new(limits: ServiceLimits) -> Services {
        Services {
            units: Mutex::new(BTreeMap::new()),
            ended: Mutex::new(BTreeMap::new()),
            routes: RwLock::new(Vec::new()),
            outputs: Mutex::new(Vec::new()),
            limits,
            runner: OnceLock::new(),
            on_change: OnceLock::new(),
            io: Mutex::new(None),
            io_handle: OnceLock::new(),
        }
    }

    /// Sets how units start and what a state change does.
    pub(crate) fn wire(&self, runner: Runner, on_change: OnChange) {
        let _ = self.runner.set(runner);
        let _ = self.on_change.set(on_change);
    }

    /// The drivers' runtime.
    pub(crate) fn io(&self) -> std::io::Result<tokio::runtime::Handle> {
        if let Some(h) = self.io_handle.get() {
            return Ok(h.clone());
        }
        let mut io = lock(&self.io);
        if io.is_none() {
            let rt = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(1)
                .thread_name("yoi-service-io")
                .enable_all()
                .build()?;
            let _ = self.io_handle.set(rt.handle().clone());
            *io = Some(rt);
        }
        self.io_handle
            .get()
            .cloned()
            .ok_or_else(|| std::io::Error::other("the service runtime did not start"))
    }

    /// Starts the services of newly loaded plugins (and of new versions),
    /// and stops those whose plugin left or changed.
    pub(crate) fn sync(&self, plugins: &[Arc<LoadedPlugin>]) {
        let mut want: BTreeMap<(String, String), (&Arc<LoadedPlugin>, &Service)> = BTreeMap::new();
        for p in plugins {
            for s in &p.services {
                want.insert((p.info.id.to_string(), s.name.clone()), (p, s));
            }
        }
        let mut units = lock(&self.units);
        let mut stopped = Vec::new();
        units.retain(|key, unit| {
            let keep = want
                .get(key)
                .is_some_and(|(p, _)| Arc::ptr_eq(p, &unit.plugin));
            if !keep {
                stopped.push(Arc::clone(unit));
            }
            keep
        });
        for unit in &stopped {
            unit.request_stop();
        }
        let (Some(runner), Some(on_change)) = (self.runner.get(), self.on_change.get()) else {
            return;
        };
        for (key, (plugin, spec)) in want {
            if units.contains_key(&key) {
                continue;
            }
            let unit = Arc::new(Unit::new(
                Arc::clone(plugin),
                spec.clone(),
                self.limits.clone(),
                Arc::clone(on_change),
            ));
            lock(&self.ended).remove(&key);
            match runner(Arc::clone(&unit)) {
                Ok(()) => {
                    units.insert(key, unit);
                }
                Err(e) => {
                    unit.set_state(
                        ServiceState::Failed,
                        Some(format!(
                            "the host could not start a thread for it: {e} (the host's limit)"
                        )),
                    );
                    lock(&self.ended).insert(key, unit.status());
                }
            }
        }
    }

    /// Keeps an ended unit's status (called by its worker as it exits).
    pub(crate) fn ended(&self, unit: &Unit) {
        let key = (unit.plugin.info.id.to_string(), unit.spec.name.clone());
        let mut units = lock(&self.units);
        if units.get(&key).is_some_and(|u| std::ptr::eq(&**u, unit)) {
            units.remove(&key);
        }
        // A newer unit of the same service reports for itself.
        if !units.contains_key(&key) {
            lock(&self.ended).insert(key, unit.status());
        }
    }

    /// Every service's status: running ones first by plugin and name, then
    /// ended ones.
    pub(crate) fn statuses(&self) -> Vec<ServiceStatus> {
        let mut all: Vec<ServiceStatus> = lock(&self.units).values().map(|u| u.status()).collect();
        let ended = lock(&self.ended);
        all.extend(ended.values().cloned());
        all.sort_by(|a, b| (&a.plugin, &a.service).cmp(&(&b.plugin, &b.service)));
        all
    }

    /// The running unit of a service.
    pub(crate) fn unit(&self, plugin: &str, service: &str) -> Option<Arc<Unit>> {
        lock(&self.units)
            .get(&(plugin.to_owned(), service.to_owned()))
            .cloned()
    }

    /// Every running unit.
    pub(crate) fn all_units(&self) -> Vec<Arc<Unit>> {
        lock(&self.units).values().cloned().collect()
    }

    /// Answers `route` for `unit` from now on, unless another service owns
    /// it: a route has one owner, decided when it is claimed. The same
    /// service (a restart, a new version of the plugin) takes its route
    /// back; any other claim is refused with the owner, who keeps it
    /// (docs/services.md, "Routes").
    pub(crate) fn add_route(&self, route: RoutePattern, unit: Arc<Unit>) -> Result<(), Arc<Unit>> {
        let mut routes = self.routes.write().unwrap_or_else(|p| p.into_inner());
        let same_service =
            |u: &Unit| u.plugin.info.id == unit.plugin.info.id && u.spec.name == unit.spec.name;
        if let Some((_, owner)) = routes.iter().find(|(r, u)| *r == route && !same_service(u)) {
            return Err(Arc::clone(owner));
        }
        routes.retain(|(r, u)| *r != route && !Arc::ptr_eq(u, &unit));
        routes.push((route, unit));
        // The longest route wins; sorted once here, not per request.
        routes.sort_by_key(|(r, _)| std::cmp::Reverse(r.as_str().len()));
        Ok(())
    }

    /// Stops answering `unit`'s route.
    pub(crate) fn remove_route(&self, unit: &Unit) {
        self.routes
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .retain(|(_, u)| !std::ptr::eq(&**u, unit));
    }

    /// The unit answering `path`, if any.
    pub(crate) fn route(&self, path: &str) -> Option<Arc<Unit>> {
        self.routes
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .iter()
            .find(|(r, _)| r.matches(path))
            .map(|(_, u)| Arc::clone(u))
    }

    /// Hands a service's observation to whoever follows the outputs.
    pub(crate) fn output(&self, out: ServiceOutput) {
        lock(&self.outputs).retain(|tx| tx.send(out.clone()).is_ok());
    }

    /// A new follower of the services' outputs.
    pub(crate) fn follow(&self) -> mpsc::Receiver<ServiceOutput> {
        let (tx, rx) = mpsc::channel();
        lock(&self.outputs).push(tx);
        rx
    }

    /// Hands the embedder's message to a service.
    pub(crate) fn send(
        &self,
        plugin: &str,
        service: &str,
        kind: &str,
        data: Value,
    ) -> Result<(), ServiceError> {
        let Some(unit) = self.unit(plugin, service) else {
            let ended = lock(&self.ended)
                .get(&(plugin.to_owned(), service.to_owned()))
                .map(|s| s.state);
            return Err(match ended {
                Some(state) => ServiceError::NotRunning {
                    plugin: plugin.to_owned(),
                    service: service.to_owned(),
                    state: state.as_str(),
                },
                None => ServiceError::NotFound {
                    plugin: plugin.to_owned(),
                    service: service.to_owned(),
                },
            });
        };
        let data = data.to_string();
        if kind.len() > MAX_KIND || data.len() > MAX_DATA {
            return Err(ServiceError::TooLarge(format!(
                "the kind may have {MAX_KIND} bytes and the data {MAX_DATA} bytes"
            )));
        }
        let event = wit::Event::Message(wit::Message {
            kind: kind.to_owned(),
            data,
        });
        unit.offer(event).map_err(|_| {
            let state = unit.state();
            if state.is_final() || unit.is_stopping() {
                ServiceError::NotRunning {
                    plugin: plugin.to_owned(),
                    service: service.to_owned(),
                    // A final state says more than that it is stopping.
                    state: if state.is_final() {
                        state.as_str()
                    } else {
                        "stopping"
                    },
                }
            } else {
                ServiceError::QueueFull {
                    plugin: plugin.to_owned(),
                    service: service.to_owned(),
                    capacity: u64::from(unit.spec.queue),
                }
            }
        })
    }

    /// Stops every service; waits until they ended or `deadline` passed.
    pub(crate) fn stop_all(&self, deadline: std::time::Duration) {
        let units = self.all_units();
        for unit in &units {
            unit.request_stop();
        }
        let until = std::time::Instant::now() + deadline;
        while std::time::Instant::now() < until && !lock(&self.units).is_empty() {
            std::thread::sleep(std::time::Duration::from_millis(5));
        }
    }
}

impl Drop for Services {
    fn drop(&mut self) {
        for unit in lock(&self.units).values() {
            unit.request_stop();
        }
        // Dropping a runtime from inside another one would panic.
        if let Some(rt) = lock(&self.io).take() {
            rt.shutdown_background();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[derive(Debug, Clone)]
    enum Op {
        Offer,
        Owed,
        Take,
    }

    fn ops() -> impl Strategy<Value = Vec<Op>> {
        proptest::collection::vec(
            prop_oneof![3 => Just(Op::Offer), 1 => Just(Op::Owed), 2 => Just(Op::Take)],
            0..200,
        )
    }

    proptest! {
        /// Against a model: the queue never holds more offered items than
        /// its bound, keeps arrival order, drops exactly the oldest under
        /// `drop_oldest`, refuses exactly the newcomers under `refuse`, and
        /// every item is taken, dropped or refused exactly once.
        #[test]
        fn the_queue_follows_its_policy_exactly(
            capacity in 1usize..8,
            drop_oldest in any::<bool>(),
            ops in ops(),
        ) {
            let policy = if drop_oldest { Backpressure::DropOldest } else { Backpressure::Refuse };
            let q = Ingress::new(capacity, policy);
            let mut model: VecDeque<u32> = VecDeque::new();
            let (mut next, mut taken, mut lost) = (0u32, Vec::new(), Vec::new());
            for op in ops {
                match op {
                    Op::Offer => {
                        next += 1;
                        let got = q.offer(next);
                        if model.len() < capacity {
                            model.push_back(next);
                            prop_assert_eq!(got, Offered::Queued);
                        } else if drop_oldest {
                            let oldest = model.pop_front();
                            model.push_back(next);
                            match oldest {
                                Some(o) => { prop_assert_eq!(got, Offered::Displaced(o)); lost.push(o); }
                                None => prop_assert_eq!(got, Offered::Queued),
                            }
                        } else {
                            prop_assert_eq!(got, Offered::Refused(next));
                            lost.push(next);
                        }
                    }
                    Op::Owed => {
                        next += 1;
                        q.push_owed(next);
                        model.push_back(next);
                    }
                    Op::Take => {
                        let got = q.take();
                        prop_assert_eq!(got, model.pop_front());
                        taken.extend(got);
                    }
                }
                prop_assert_eq!(q.len(), model.len());
            }
            let counted = if drop_oldest { q.dropped() } else { q.refused() };
            prop_assert_eq!(counted, lost.len() as u64);
            prop_assert_eq!(if drop_oldest { q.refused() } else { q.dropped() }, 0);
            let mut all: Vec<u32> = taken.into_iter().chain(lost).chain(model).collect();
            all.sort_unstable();
            prop_assert_eq!(all, (1..=next).collect::<Vec<_>>());
        }
    }

    #[test]
    fn a_waiting_offer_is_not_counted_as_refused() {
        let q = Ingress::new(1, Backpressure::Refuse);
        assert_eq!(q.try_offer(1), Offered::Queued);
        assert_eq!(q.try_offer(2), Offered::Refused(2));
        assert_eq!(q.refused(), 0);
        assert_eq!(q.offer(3), Offered::Refused(3));
        assert_eq!(q.refused(), 1);
    }
}
