//! The service drivers of a host built without the `services` feature
//! (see the crate docs): services still start, handle messages and timers
//! and fetch, but a WebSocket endpoint is never connected and no route is
//! answered; the service says which feature to enable.

/// No WebSocket driver.
pub(crate) mod wsdriver {
    use std::sync::Arc;

    use crate::services::Unit;
    use crate::servicespec::ServiceState;

    pub(crate) fn spawn(_io: &tokio::runtime::Handle, unit: Arc<Unit>) {
        unit.set_state(
            ServiceState::Degraded,
            Some(
                "this host was built without yoi-host's `services` feature, so it cannot connect \
                 WebSocket endpoints; the embedder enables it in Cargo.toml (it is on by default)"
                    .into(),
            ),
        );
    }
}

/// No inbound listener.
pub(crate) mod inbound {
    use crate::host::Shared;

    pub(crate) fn listening(_shared: &Shared) -> bool {
        false
    }
}
