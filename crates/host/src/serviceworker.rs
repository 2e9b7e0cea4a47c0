//! A service's worker: its own thread, which starts the service in an
//! instance of its own, hands it one event at a time in arrival order,
//! carries out the commands it answers with (each checked first), restarts
//! it with capped exponential backoff after a failure, and stops it.
//! docs/services.md.

use std::collections::HashMap;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Weak};
use std::time::{Duration, Instant};

use serde_json::Value;
use wasmtime::Store;
use wasmtime::component::Instance;
use yoi_manifest::{Capability, Restart};

use crate::api::ApiFailure;
use crate::bindings::latest::exports::yoi::plugin::service as wit;
use crate::eventlog::event;
use crate::exports::{Guests, ServiceCall};
use crate::hookevents::{CallContext, HookContext};
use crate::host::Shared;
use crate::instances::{GuestCall, MAX_DETAIL, Run, invoke_in, reason_of};
use crate::plugin::Warm;
use crate::receipt::{LogLevel, LogLine, Status, clean};
use crate::sandbox::PluginState;
use crate::services::{Outgoing, Reply, Unit};
use crate::servicespec::{
    MAX_COMMANDS, MAX_DATA, MAX_FETCHES, MAX_KIND, MAX_TIMERS, MIN_TIMER, ServiceOutput,
    ServiceState,
};
use crate::settle::{self, Caller};

/// How often a busy service's counters are recorded.
const RECORD_EVERY: Duration = Duration::from_secs(2);

/// Status codes a service may not answer with: the host's own.
const HOP_BY_HOP: &[&str] = &[
    "connection",
    "content-length",
    "transfer-encoding",
    "keep-alive",
    "upgrade",
    "te",
    "trailer",
];

impl GuestCall for ServiceCall {
    type Out = Vec<wit::Command>;

    async fn call(
        &self,
        store: &mut Store<PluginState>,
        instance: &Instance,
        guests: &mut Guests,
    ) -> wasmtime::Result<Result<Vec<wit::Command>, String>> {
        guests.call_service(store, instance, self).await
    }
}

/// Starts `unit`'s worker thread.
pub(crate) fn spawn(shared: Weak<Shared>, unit: Arc<Unit>) -> std::io::Result<()> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let name: String = format!("yoi-service {}", unit.label())
        .chars()
        .take(60)
        .collect();
    std::thread::Builder::new().name(name).spawn(move || {
        runtime.block_on(run(shared.clone(), Arc::clone(&unit)));
        if let Some(shared) = shared.upgrade() {
            shared.services.ended(&unit);
        }
    })?;
    Ok(())
}

/// What one service instance's life holds besides the instance.
struct Life {
    shared: Weak<Shared>,
    unit: Arc<Unit>,
    io: Option<tokio::runtime::Handle>,
    held: Option<Warm>,
    timers: HashMap<String, tokio::task::JoinHandle<()>>,
    fetches: Arc<std::sync::atomic::AtomicUsize>,
    drivers: bool,
    recorded: Instant,
}

async fn run(shared: Weak<Shared>, unit: Arc<Unit>) {
    let io = shared.upgrade().and_then(|s| s.services.io().ok());
    let mut life = Life {
        shared,
        unit,
        io,
        held: None,
        timers: HashMap::new(),
        fetches: Arc::default(),
        drivers: false,
        recorded: Instant::now(),
    };
    let mut failures_in_row = 0u32;
    'life: while !life.unit.is_stopping() {
        life.unit.set_state(ServiceState::Starting, None);
        let info = wit::StartInfo {
            name: life.unit.spec.name.clone(),
            websocket: life.unit.spec.websocket.as_ref().map(ToString::to_string),
            route: life.unit.spec.http.as_ref().map(ToString::to_string),
            restarts: life.unit.restarts.load(Ordering::Relaxed),
        };
        let failure = match life.call(&ServiceCall::Start(info)).await {
            Some(Run::Answer(commands)) => {
                life.execute(commands).await;
                None
            }
            Some(Run::GuestError(message)) => {
                life.unit.errors.fetch_add(1, Ordering::Relaxed);
                Some(clean(&format!("start failed: {message}"), MAX_DETAIL))
            }
            Some(Run::Failed(Status::Busy, why)) => {
                // The host's limit, not the service's failure: wait, retry.
                life.unit.note_error(why);
                if life.pause(Duration::from_millis(100)).await {
                    break 'life;
                }
                continue 'life;
            }
            Some(Run::Failed(_, why)) => Some(format!("start failed: {}", reason_of(&why))),
            None => break 'life,
        };
        if let Some(why) = failure {
            if life.failed(&mut failures_in_row, why).await {
                break 'life;
            }
            continue 'life;
        }
        if life.drivers {
            // The connections outlived the instance: tell the new one.
            for id in life.unit.connection_ids() {
                life.unit.push_owed(wit::Event::Opened(wit::Opened {
                    connection: id,
                    url: life
                        .unit
                        .spec
                        .websocket
                        .as_ref()
                        .map(ToString::to_string)
                        .unwrap_or_default(),
                }));
            }
        } else {
            life.start_drivers();
            life.drivers = true;
        }
        // Running only once its start commands took effect and its drivers
        // are up (its route answers): a caller who waits for "running" must
        // not find the route missing. A command or driver that failed left
        // the state degraded, and that stays.
        if life.unit.state() == ServiceState::Starting {
            life.unit.set_state(ServiceState::Running, None);
        }
        loop {
            let Some(queued) = life.next().await else {
                break 'life;
            };
            let request = match &queued.event {
                wit::Event::Request(r) => Some(r.id),
                _ => None,
            };
            let call = ServiceCall::Handle(life.unit.spec.name.clone(), queued.event);
            let Some(run) = life.call(&call).await else {
                break 'life;
            };
            match run {
                Run::Answer(commands) => {
                    life.unit.processed.fetch_add(1, Ordering::Relaxed);
                    failures_in_row = 0;
                    life.execute(commands).await;
                    if life.unit.state() == ServiceState::Degraded && life.healthy_drivers() {
                        life.unit.set_state(ServiceState::Running, None);
                    }
                }
                Run::GuestError(message) => {
                    life.unit.processed.fetch_add(1, Ordering::Relaxed);
                    life.unit.errors.fetch_add(1, Ordering::Relaxed);
                    if let Some(id) = request {
                        life.unit.answer(
                            id,
                            Reply::text(500, "the service could not handle the request"),
                        );
                    }
                    life.unit.set_state(
                        ServiceState::Degraded,
                        Some(clean(&format!("handle failed: {message}"), MAX_DETAIL)),
                    );
                }
                Run::Failed(Status::Busy, why) => {
                    // The host's limit: the event waits its turn again.
                    if let ServiceCall::Handle(_, event) = call {
                        life.unit.put_back(crate::services::Queued { event });
                    }
                    life.unit.note_error(why);
                    if life.pause(Duration::from_millis(50)).await {
                        break 'life;
                    }
                }
                Run::Failed(_, why) => {
                    life.unit.processed.fetch_add(1, Ordering::Relaxed);
                    if let Some(id) = request {
                        life.unit.answer(
                            id,
                            Reply::text(502, "the service failed while handling the request"),
                        );
                    }
                    if life
                        .failed(&mut failures_in_row, reason_of(&why).to_owned())
                        .await
                    {
                        break 'life;
                    }
                    continue 'life;
                }
            }
            life.record_now_and_then();
        }
    }
    life.stop().await;
}

impl Life {
    fn shared(&self) -> Option<Arc<Shared>> {
        self.shared.upgrade()
    }

    /// Calls the service export in the service's own instance. `None` when
    /// the host is gone.
    async fn call(&mut self, call: &ServiceCall) -> Option<Run<Vec<wit::Command>>> {
        let shared = self.shared()?;
        let plugin = Arc::clone(&self.unit.plugin);
        let limit = Duration::from_millis(u64::from(self.unit.spec.timeout_ms));
        let context = CallContext::new(None, &HookContext::default());
        let (run, record) = invoke_in(
            &shared,
            &plugin,
            (limit, limit),
            call,
            &context,
            Some(&mut self.held),
        )
        .await;
        settle::denied(&shared, &plugin, Caller::Service, &record.denials, None);
        if let Run::Failed(status, _) = &run
            && *status != Status::Busy
        {
            self.unit.errors.fetch_add(1, Ordering::Relaxed);
        }
        Some(run)
    }

    /// The next event, or `None` when the unit stops.
    async fn next(&mut self) -> Option<crate::services::Queued> {
        loop {
            if self.unit.is_stopping() {
                return None;
            }
            if let Some(q) = self.unit.take() {
                return Some(q);
            }
            self.record_now_and_then();
            self.unit.arrived.notified().await;
        }
    }

    /// Waits `time`; `true` when the unit stops meanwhile.
    async fn pause(&self, time: Duration) -> bool {
        let mut stop = self.unit.stop.subscribe();
        if *stop.borrow_and_update() {
            return true;
        }
        tokio::select! {
            _ = tokio::time::sleep(time) => self.unit.is_stopping(),
            _ = stop.changed() => true,
        }
    }

    /// A failure of the instance: gives up (`true`) or waits out the
    /// backoff before the restart.
    async fn failed(&mut self, failures_in_row: &mut u32, why: String) -> bool {
        self.held = None;
        *failures_in_row += 1;
        let spec = &self.unit.spec;
        if spec.restart == Restart::Never || *failures_in_row > spec.max_restarts {
            let detail = if spec.restart == Restart::Never {
                format!("{why} (restart = \"never\")")
            } else {
                format!(
                    "{why} (gave up after {} failures in a row; max_restarts = {})",
                    failures_in_row, spec.max_restarts
                )
            };
            tracing::error!(service = %self.unit.label(), "service failed: {detail}");
            self.unit.set_state(ServiceState::Failed, Some(detail));
            return true;
        }
        let doublings = (*failures_in_row - 1).min(20);
        let backoff = u64::from(spec.backoff_ms)
            .saturating_mul(1 << doublings)
            .min(u64::from(spec.max_backoff_ms));
        tracing::warn!(service = %self.unit.label(), backoff_ms = backoff, "service failed, restarting: {why}");
        self.unit.set_state(
            ServiceState::Degraded,
            Some(format!("{why}; restarting in {backoff} ms")),
        );
        if self.pause(Duration::from_millis(backoff)).await {
            return true;
        }
        self.unit.restarts.fetch_add(1, Ordering::Relaxed);
        false
    }

    /// Whether the drivers are as they should be (the connection up).
    /// Whether every driver the service declares works: its connection is
    /// up and its route is answered (a refused route stays degraded).
    fn healthy_drivers(&self) -> bool {
        (self.unit.spec.websocket.is_none() || self.unit.connected.load(Ordering::Relaxed))
            && (self.unit.spec.http.is_none() || self.unit.route_active.load(Ordering::Relaxed))
    }

    fn record_now_and_then(&mut self) {
        if self.recorded.elapsed() >= RECORD_EVERY {
            self.recorded = Instant::now();
            if let Some(shared) = self.shared() {
                record_status(&shared, &self.unit);
            }
        }
    }

    /// Connects the endpoint and routes the path the grants allow; what
    /// they do not allow is refused with the fix.
    fn start_drivers(&mut self) {
        let Some(shared) = self.shared() else { return };
        let api = &self.unit.plugin.api;
        if let Some(endpoint) = &self.unit.spec.websocket {
            let granted = api.grants.all.iter().any(|c| match c {
                Capability::WebSocket(p) => endpoint.within(p),
                _ => false,
            });
            if granted {
                match &self.io {
                    Some(io) => crate::wsdriver::spawn(io, Arc::clone(&self.unit)),
                    None => self.unit.set_state(
                        ServiceState::Degraded,
                        Some("the host's service runtime did not start (the host's limit)".into()),
                    ),
                }
            } else {
                let failure = api.deny(
                    "websocket",
                    endpoint.to_string(),
                    format!("the endpoint {endpoint} is not granted"),
                    Some(Capability::WebSocket(endpoint.capability())),
                );
                self.refuse(&shared, "connect", failure);
                self.unit.set_state(ServiceState::Degraded, None);
            }
        }
        if let Some(route) = &self.unit.spec.http {
            let granted = api.grants.all.iter().any(|c| match c {
                Capability::Route(p) => p.matches(route.as_str()),
                _ => false,
            });
            if !granted {
                let failure = api.deny(
                    "route",
                    route.to_string(),
                    format!("the route {route} is not granted"),
                    Some(Capability::Route(route.clone())),
                );
                self.refuse(&shared, "route", failure);
                self.unit.set_state(ServiceState::Degraded, None);
            } else if !crate::inbound::listening(&shared) {
                self.unit.set_state(
                    ServiceState::Degraded,
                    Some(format!(
                        "the route {route} is granted, but this host has no inbound HTTP listener; \
                         the embedder sets one with HostBuilder::inbound_http"
                    )),
                );
            } else {
                match shared
                    .services
                    .add_route(route.clone(), Arc::clone(&self.unit))
                {
                    Ok(()) => self.unit.route_active.store(true, Ordering::Relaxed),
                    Err(owner) => {
                        let failure = api.refuse(
                            "route",
                            route.to_string(),
                            format!(
                                "the route {route} is already answered by {}; a route has one owner",
                                owner.label()
                            ),
                            format!(
                                "grant this plugin another route (`yoi revoke {} route:{route}`, then grant one of its own), \
                                 or deactivate {} first",
                                self.unit.plugin.info.id,
                                owner.plugin.info.id
                            ),
                        );
                        self.refuse(&shared, "route", failure);
                        self.unit.set_state(ServiceState::Degraded, None);
                    }
                }
            }
        }
    }

    /// Refuses a command (see [`refuse`]).
    fn refuse(&self, shared: &Shared, command: &str, failure: ApiFailure) {
        refuse(shared, &self.unit, command, failure);
    }

    /// Carries out a service's commands, in order, each checked first.
    async fn execute(&mut self, commands: Vec<wit::Command>) {
        let Some(shared) = self.shared() else { return };
        let total = commands.len();
        for command in commands.into_iter().take(MAX_COMMANDS) {
            self.execute_one(&shared, command);
        }
        if total > MAX_COMMANDS {
            self.refuse(
                &shared,
                "commands",
                ApiFailure::TooLarge(format!(
                    "{} of {total} commands were dropped: one answer may hold {MAX_COMMANDS}",
                    total - MAX_COMMANDS
                )),
            );
        }
    }

    fn execute_one(&mut self, shared: &Shared, command: wit::Command) {
        let unit = &self.unit;
        match command {
            wit::Command::Send(f) => {
                let size = match &f.payload {
                    wit::Payload::Text(t) => t.len(),
                    wit::Payload::Binary(b) => b.len(),
                };
                if size > unit.limits.frame_bytes {
                    self.refuse(
                        shared,
                        "send",
                        ApiFailure::TooLarge(format!(
                            "the message has {size} bytes; the limit is {}",
                            unit.limits.frame_bytes
                        )),
                    );
                } else if !unit.send_to(f.connection, Outgoing::Frame(f.payload)) {
                    self.refuse(
                        shared,
                        "send",
                        ApiFailure::NotFound(format!("connection {} is not open", f.connection)),
                    );
                }
            }
            wit::Command::Close(c) => {
                let reason: String = c.reason.chars().take(60).collect();
                let code = if (1000..5000).contains(&c.code) {
                    c.code
                } else {
                    1000
                };
                if !unit.send_to(c.connection, Outgoing::Close(code, reason)) {
                    self.refuse(
                        shared,
                        "close",
                        ApiFailure::NotFound(format!("connection {} is not open", c.connection)),
                    );
                }
            }
            wit::Command::Respond(a) => match check_answer(&a, unit.limits.request_bytes * 4) {
                Err(why) => {
                    unit.answer(
                        a.request,
                        Reply::text(502, "the service's answer was refused"),
                    );
                    self.refuse(shared, "respond", ApiFailure::Invalid(why));
                }
                Ok(()) => {
                    let reply = Reply {
                        status: a.status,
                        headers: a.headers,
                        body: a.body,
                    };
                    if !unit.answer(a.request, reply) {
                        self.refuse(
                            shared,
                            "respond",
                            ApiFailure::NotFound(format!(
                                "request {} is not waiting: it was answered, or its time ran out",
                                a.request
                            )),
                        );
                    }
                }
            },
            wit::Command::Fetch(f) => self.fetch(shared, f),
            wit::Command::Schedule(t) => self.schedule(shared, t),
            wit::Command::Cancel(name) => {
                if let Some(timer) = self.timers.remove(&name) {
                    timer.abort();
                }
            }
            wit::Command::Emit(e) => {
                let data = if e.kind.is_empty() || e.kind.len() > MAX_KIND {
                    Err(format!("the kind must have 1 to {MAX_KIND} bytes"))
                } else if e.data.len() > MAX_DATA {
                    Err(format!(
                        "the data has {} bytes; the limit is {MAX_DATA}",
                        e.data.len()
                    ))
                } else {
                    serde_json::from_str::<Value>(&e.data)
                        .map_err(|err| format!("the data is not JSON: {err}"))
                };
                match data {
                    Err(why) => self.refuse(shared, "emit", ApiFailure::Invalid(why)),
                    Ok(data) => {
                        shared
                            .observers
                            .emit(|| crate::observers::ObservationEvent::Custom {
                                name: e.kind.clone(),
                                data: data.clone(),
                            });
                        shared.services.output(ServiceOutput {
                            plugin: unit.plugin.info.id.clone(),
                            service: unit.spec.name.clone(),
                            kind: e.kind,
                            data,
                        });
                    }
                }
            }
            wit::Command::Log(l) => {
                let line = LogLine::new(
                    LogLevel::from(l.level),
                    &l.message,
                    &[("service".into(), unit.spec.name.clone())],
                );
                crate::api::log::emit(&unit.plugin.name, &line);
            }
        }
    }

    /// Sends a `fetch` under the plugin's `https` grants; its answer comes
    /// back as an event.
    fn fetch(&mut self, shared: &Shared, f: wit::FetchRequest) {
        let Some(io) = self.io.clone() else {
            self.refuse(
                shared,
                "fetch",
                ApiFailure::Failed(
                    "the host's service runtime did not start (the host's limit)".into(),
                ),
            );
            return;
        };
        if self.fetches.load(Ordering::Relaxed) >= MAX_FETCHES {
            self.refuse(
                shared,
                "fetch",
                ApiFailure::Failed(format!(
                    "{MAX_FETCHES} fetches are in flight already; wait for their answers"
                )),
            );
            return;
        }
        self.fetches.fetch_add(1, Ordering::Relaxed);
        let unit = Arc::clone(&self.unit);
        let weak = self.shared.clone();
        let fetches = Arc::clone(&self.fetches);
        io.spawn(async move {
            let api = Arc::clone(&unit.plugin.api);
            let result = api.send(f.request).await;
            fetches.fetch_sub(1, Ordering::Relaxed);
            match result {
                Ok(response) => unit.push_owed(wit::Event::Fetched(wit::Fetched {
                    tag: f.tag,
                    outcome: Ok(response),
                })),
                Err(failure @ ApiFailure::Denied(_)) => {
                    if let Some(shared) = weak.upgrade() {
                        refuse(&shared, &unit, "fetch", failure);
                    }
                }
                Err(failure) => {
                    let (error, _) = failure.into_wit();
                    unit.push_owed(wit::Event::Fetched(wit::Fetched {
                        tag: f.tag,
                        outcome: Err(error),
                    }));
                }
            }
        });
    }

    fn schedule(&mut self, shared: &Shared, t: wit::Timer) {
        let Some(io) = self.io.clone() else {
            self.refuse(
                shared,
                "schedule",
                ApiFailure::Failed(
                    "the host's service runtime did not start (the host's limit)".into(),
                ),
            );
            return;
        };
        if t.name.is_empty() || t.name.len() > MAX_KIND {
            self.refuse(
                shared,
                "schedule",
                ApiFailure::Invalid(format!("a timer's name must have 1 to {MAX_KIND} bytes")),
            );
            return;
        }
        self.timers.retain(|_, h| !h.is_finished());
        if !self.timers.contains_key(&t.name) && self.timers.len() >= MAX_TIMERS {
            self.refuse(
                shared,
                "schedule",
                ApiFailure::Failed(format!(
                    "a service may hold {MAX_TIMERS} timers; cancel one first"
                )),
            );
            return;
        }
        let every = Duration::from_millis(u64::from(t.after_ms)).max(MIN_TIMER);
        let unit = Arc::clone(&self.unit);
        let name = t.name.clone();
        let repeat = t.repeat;
        let task = io.spawn(async move {
            let mut next = tokio::time::Instant::now() + every;
            loop {
                tokio::time::sleep_until(next).await;
                if unit.is_stopping() {
                    return;
                }
                // A tick is an ingress event like any other: under `refuse`
                // a full queue skips it (and counts it).
                let _ = unit.offer(wit::Event::Tick(wit::Tick {
                    timer: name.clone(),
                }));
                if !repeat {
                    return;
                }
                next += every;
            }
        });
        if let Some(old) = self.timers.insert(t.name, task) {
            old.abort();
        }
    }

    /// Ends the service: its `stop` (within the host's deadline), then its
    /// timers, connections, route and waiting requests.
    async fn stop(mut self) {
        let failed = self.unit.state() == ServiceState::Failed;
        if !failed && self.held.is_some() {
            let name = self.unit.spec.name.clone();
            let limit = self.unit.limits.stop_deadline;
            if let Some(shared) = self.shared() {
                let plugin = Arc::clone(&self.unit.plugin);
                let context = CallContext::new(None, &HookContext::default());
                let run_for = limit.min(
                    Duration::from_millis(u64::from(self.unit.spec.timeout_ms))
                        .max(Duration::from_millis(100)),
                );
                // Waiting for a slot and running both fit the stop deadline.
                let (run, _) = invoke_in(
                    &shared,
                    &plugin,
                    (run_for, limit.saturating_sub(run_for)),
                    &ServiceCall::Stop(name),
                    &context,
                    Some(&mut self.held),
                )
                .await;
                if let Run::Answer(commands) = run {
                    // Only what can still happen: frames, answers, words.
                    let last: Vec<_> = commands
                        .into_iter()
                        .filter(|c| {
                            matches!(
                                c,
                                wit::Command::Send(_)
                                    | wit::Command::Close(_)
                                    | wit::Command::Respond(_)
                                    | wit::Command::Emit(_)
                                    | wit::Command::Log(_)
                            )
                        })
                        .collect();
                    self.execute(last).await;
                }
            }
        }
        for (_, timer) in self.timers.drain() {
            timer.abort();
        }
        self.unit.request_stop();
        if let Some(shared) = self.shared() {
            shared.services.remove_route(&self.unit);
        }
        self.unit.route_active.store(false, Ordering::Relaxed);
        self.unit.answer_all(503, "the service stopped");
        // Give the drivers a moment to send their close frames.
        let until = Instant::now() + self.unit.limits.stop_deadline.min(Duration::from_secs(1));
        while self.unit.connected.load(Ordering::Relaxed) && Instant::now() < until {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        self.held = None;
        if !failed {
            self.unit.set_state(ServiceState::Stopped, None);
        }
        if let Some(shared) = self.shared() {
            record_status(&shared, &self.unit);
        }
    }
}

/// Refuses a command: counted, recorded (a denial as a `permission_denied`
/// event, with the fix), kept as the last error, and told to the service
/// as a `refused` event.
fn refuse(shared: &Shared, unit: &Unit, command: &str, failure: ApiFailure) {
    unit.refused_commands.fetch_add(1, Ordering::Relaxed);
    let (error, denial) = failure.into_wit();
    let why = match &denial {
        Some(d) => format!("{command} refused: {}; {}", d.reason, d.fix),
        None => format!("{command} refused: {}", api_error_text(&error)),
    };
    tracing::warn!(service = %unit.label(), "{why}");
    if let Some(d) = denial {
        settle::denied(
            shared,
            &unit.plugin,
            Caller::Service,
            std::slice::from_ref(&d),
            None,
        );
    }
    unit.note_error(why);
    unit.push_owed(wit::Event::Refused(wit::Refused {
        command: command.to_owned(),
        error,
    }));
}

fn api_error_text(e: &crate::bindings::latest::yoi::plugin::types::ApiError) -> String {
    use crate::bindings::latest::yoi::plugin::types::ApiError as E;
    match e {
        E::Denied(d) => format!("{}; {}", d.reason, d.fix),
        E::NotFound(m) | E::Invalid(m) | E::TooLarge(m) | E::Timeout(m) | E::Failed(m) => m.clone(),
    }
}

/// Checks a service's answer to an inbound request.
fn check_answer(a: &wit::Answer, max_body: usize) -> Result<(), String> {
    if !(200..=599).contains(&a.status) {
        return Err(format!("status {} is not an answer (200 to 599)", a.status));
    }
    if a.body.len() > max_body {
        return Err(format!(
            "the body has {} bytes; the limit is {max_body}",
            a.body.len()
        ));
    }
    if a.headers.len() > 64 {
        return Err("an answer may have 64 headers".into());
    }
    for (name, value) in &a.headers {
        let lower = name.to_ascii_lowercase();
        if name.is_empty()
            || !name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"-_".contains(&b))
        {
            return Err(format!("`{}` is not a header name", name.escape_default()));
        }
        if HOP_BY_HOP.contains(&lower.as_str()) {
            return Err(format!("the host sets `{lower}` itself"));
        }
        if value.len() > 8192 || value.bytes().any(|b| b == b'\r' || b == b'\n' || b == 0) {
            return Err(format!(
                "the value of `{lower}` is too long or has a line break"
            ));
        }
    }
    Ok(())
}

/// Records a service's status as a `service_status` runtime event (what
/// `yoi service list` reads).
pub(crate) fn record_status(shared: &Shared, unit: &Unit) {
    if let Some(sink) = &shared.sink {
        let status = unit.status();
        sink.send(event(
            "service_status",
            &status.plugin,
            &status.version,
            serde_json::to_value(&status).unwrap_or(Value::Null),
        ));
    }
}

impl crate::Host {
    /// Every service of the loaded plugins (and those that ended since):
    /// state, queue, counters, restarts and last error, by plugin and
    /// name. docs/services.md.
    pub fn services(&self) -> Vec<crate::ServiceStatus> {
        self.shared.services.statuses()
    }

    /// One service's status.
    pub fn service(&self, plugin: &str, service: &str) -> Option<crate::ServiceStatus> {
        self.services()
            .into_iter()
            .find(|s| s.plugin.as_str() == plugin && s.service == service)
    }

    /// Hands the embedding application's message to a service, as its
    /// `message` event (`kind` at most 128 bytes, `data` at most 1 MiB as
    /// JSON). Never blocks: a full queue refuses it under `refuse`, or
    /// drops the oldest event under `drop_oldest`.
    pub fn send_to_service(
        &self,
        plugin: &str,
        service: &str,
        kind: &str,
        data: Value,
    ) -> Result<(), crate::ServiceError> {
        self.shared.services.send(plugin, service, kind, data)
    }

    /// What services emit (their `emit` commands), from now on, in order.
    /// Each call gets a receiver of its own; dropping it unsubscribes.
    pub fn service_outputs(&self) -> std::sync::mpsc::Receiver<crate::ServiceOutput> {
        self.shared.services.follow()
    }

    /// Where the inbound HTTP listener listens
    /// ([`HostBuilder::inbound_http`](crate::HostBuilder)), if it does.
    pub fn inbound_addr(&self) -> Option<std::net::SocketAddr> {
        self.shared.inbound.get().copied()
    }

    /// Stops every service: each one's `stop` runs, then its timers,
    /// connections and route end. Waits until all have ended or
    /// `deadline` passed. Dropping the host stops them too, without
    /// waiting.
    pub fn shutdown_services(&self, deadline: Duration) {
        self.shared.services.stop_all(deadline);
    }
}
