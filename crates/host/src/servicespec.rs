//! What an embedder sees of plugin services: their states and counters
//! ([`ServiceStatus`]), what they emit ([`ServiceOutput`]), why a message
//! could not be handed to one ([`ServiceError`]), and the limits the host
//! holds them to. The manager itself is `services`. docs/services.md.

use std::time::Duration;

use semver::Version;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use yoi_manifest::{Backpressure, PluginId};

/// Where a service is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ServiceState {
    /// Its instance is being made and `start` runs (also after a restart's
    /// backoff).
    Starting,
    /// Started, handling events, and its drivers are connected.
    Running,
    /// Still handling events, but something is wrong: its connection is
    /// down, an ingress is not granted, its last event failed, or it waits
    /// out a restart's backoff. `last_error` says which.
    Degraded,
    /// Stopped by the host: its plugin was deactivated, replaced or
    /// unloaded, or the host shut down.
    Stopped,
    /// It failed more times in a row than its `max_restarts` (or once with
    /// `restart = "never"`); the host gave up on it.
    Failed,
}

impl ServiceState {
    /// The state's name, as `yoi service list` prints it.
    pub fn as_str(self) -> &'static str {
        match self {
            ServiceState::Starting => "starting",
            ServiceState::Running => "running",
            ServiceState::Degraded => "degraded",
            ServiceState::Stopped => "stopped",
            ServiceState::Failed => "failed",
        }
    }

    /// Whether the service is over for good (its plugin's version must be
    /// loaded again to run it).
    pub fn is_final(self) -> bool {
        matches!(self, ServiceState::Stopped | ServiceState::Failed)
    }
}

/// One service's state and counters, as [`Host::services`](crate::Host::services)
/// reports them (and the host records them as `service_status` events).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ServiceStatus {
    /// The plugin.
    pub plugin: PluginId,
    /// Its version.
    pub version: Version,
    /// The service's name.
    pub service: String,
    /// Where it is.
    pub state: ServiceState,
    /// Its WebSocket endpoint, if any.
    pub websocket: Option<String>,
    /// Whether that endpoint is connected now.
    pub connected: bool,
    /// Its inbound route, if any, and whether the host answers it.
    pub route: Option<String>,
    /// Events waiting now.
    pub queued: u64,
    /// Its queue's bound.
    pub capacity: u64,
    /// What happens when the queue is full.
    pub backpressure: Backpressure,
    /// Events handed to the service (answered or not).
    pub processed: u64,
    /// Events dropped to make room (`drop_oldest`).
    pub dropped: u64,
    /// Events refused because the queue was full (`refuse`): inbound
    /// requests answered 503, messages refused to the embedder. WebSocket
    /// reads pause instead and lose nothing.
    pub refused: u64,
    /// Commands the host did not carry out (a missing grant, an unknown
    /// connection or request, a limit).
    pub refused_commands: u64,
    /// Inbound requests refused for a missing or wrong signature.
    pub bad_signatures: u64,
    /// Events the service answered with an error, and traps and time-outs.
    pub errors: u64,
    /// Times the host started it again after a failure.
    pub restarts: u32,
    /// The latest problem, with its fix when there is one.
    pub last_error: Option<String>,
}

/// An observation a service emitted (its `emit` command), for the embedding
/// application ([`Host::service_outputs`](crate::Host::service_outputs)).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ServiceOutput {
    /// The plugin.
    pub plugin: PluginId,
    /// The service.
    pub service: String,
    /// What it is, as the service names it.
    pub kind: String,
    /// Its data.
    pub data: Value,
}

/// Why [`Host::send_to_service`](crate::Host::send_to_service) did not hand
/// a message over.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ServiceError {
    /// No loaded plugin runs a service of that name.
    #[error("no loaded plugin runs the service `{plugin}/{service}`; `Host::services` lists them")]
    NotFound {
        /// The plugin asked for.
        plugin: String,
        /// The service asked for.
        service: String,
    },
    /// The service was stopped or failed.
    #[error("the service `{plugin}/{service}` is {state}; it takes no messages")]
    NotRunning {
        /// The plugin.
        plugin: String,
        /// The service.
        service: String,
        /// Its state.
        state: &'static str,
    },
    /// Its queue is full and its policy is `refuse`.
    #[error(
        "the service `{plugin}/{service}` has {capacity} events waiting, its limit; try again later"
    )]
    QueueFull {
        /// The plugin.
        plugin: String,
        /// The service.
        service: String,
        /// Its queue's bound.
        capacity: u64,
    },
    /// The message's kind or data is too large.
    #[error("the message is too large: {0}")]
    TooLarge(String),
}

/// The limits the host holds services to, set on the
/// [`HostBuilder`](crate::HostBuilder).
#[derive(Debug, Clone)]
pub(crate) struct ServiceLimits {
    /// Largest WebSocket message in or out.
    pub(crate) frame_bytes: usize,
    /// Largest inbound request body.
    pub(crate) request_bytes: usize,
    /// How long an inbound request waits for the service's `respond`.
    pub(crate) answer_timeout: Duration,
    /// How long reading an inbound request's head and body may take.
    #[cfg_attr(not(feature = "services"), allow(dead_code))]
    pub(crate) read_timeout: Duration,
    /// How often a WebSocket connection is pinged; two intervals without
    /// any frame from the peer end it.
    pub(crate) heartbeat: Duration,
    /// Longest wait for a WebSocket connection and its handshake.
    #[cfg_attr(not(feature = "services"), allow(dead_code))]
    pub(crate) connect_timeout: Duration,
    /// Longest `stop` and connection close when a service stops.
    pub(crate) stop_deadline: Duration,
}

impl Default for ServiceLimits {
    fn default() -> Self {
        ServiceLimits {
            frame_bytes: 1024 * 1024,
            request_bytes: 1024 * 1024,
            answer_timeout: Duration::from_secs(10),
            read_timeout: Duration::from_secs(10),
            heartbeat: Duration::from_secs(20),
            connect_timeout: Duration::from_secs(10),
            stop_deadline: Duration::from_secs(5),
        }
    }
}

/// Most timers one service may hold.
pub(crate) const MAX_TIMERS: usize = 64;
/// Shortest timer interval.
pub(crate) const MIN_TIMER: Duration = Duration::from_millis(10);
/// Most `fetch` commands of one service in flight.
pub(crate) const MAX_FETCHES: usize = 16;
/// Most commands one event may return; the rest are refused.
pub(crate) const MAX_COMMANDS: usize = 256;
/// Largest kind of an emitted observation or an embedder's message.
pub(crate) const MAX_KIND: usize = 128;
/// Largest data of an emitted observation or an embedder's message.
pub(crate) const MAX_DATA: usize = 1024 * 1024;
