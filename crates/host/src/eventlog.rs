//! Telemetry: receipts, tool runs and denials as records for the registry's
//! events table, written off the dispatch path. Dispatch hands a record to a
//! bounded queue and returns; one thread writes them in batches (one
//! transaction per batch).

use std::time::{SystemTime, UNIX_EPOCH};

#[cfg(feature = "registry")]
pub(crate) use writer::{EventLog, Retention};
#[cfg(feature = "registry")]
use yoi_registry::EventRecord;

use crate::plugin::PluginInfo;
use crate::receipt::{Denial, Receipt};

/// The writer: a bounded queue and one thread writing to the registry.
#[cfg(feature = "registry")]
mod writer {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicU64, Ordering};
    use std::sync::mpsc::{Receiver, Sender, SyncSender, TrySendError, channel, sync_channel};
    use std::time::{Duration, Instant};

    use yoi_registry::{EventRecord, Registry};

    /// Records waiting to be written; past this, new ones are dropped (and
    /// counted) rather than slowing dispatch down.
    const QUEUE: usize = 16 * 1024;
    /// Most records per transaction.
    const BATCH: usize = 512;

    enum Msg {
        Event(EventRecord),
        Flush(Sender<()>),
    }

    pub(crate) struct EventLog {
        tx: SyncSender<Msg>,
        dropped: Arc<AtomicU64>,
    }

    impl EventLog {
        /// Starts the writer; every record it writes carries `host`, the
        /// host's name.
        pub(crate) fn spawn(
            registry: Arc<Registry>,
            host: String,
            retention: Retention,
        ) -> std::io::Result<Self> {
            let (tx, rx) = sync_channel(QUEUE);
            let dropped = Arc::new(AtomicU64::new(0));
            let counter = Arc::clone(&dropped);
            std::thread::Builder::new()
                .name("yoi-events".into())
                .spawn(move || write_loop(&registry, &host, &rx, &counter, &retention))?;
            Ok(Self { tx, dropped })
        }

        /// Queues a record; never blocks.
        pub(crate) fn send(&self, event: EventRecord) {
            match self.tx.try_send(Msg::Event(event)) {
                Ok(()) => {}
                Err(TrySendError::Full(_) | TrySendError::Disconnected(_)) => {
                    self.dropped.fetch_add(1, Ordering::Relaxed);
                }
            }
        }

        /// Waits until every record queued before this call is written.
        pub(crate) fn flush(&self) {
            let (ack, done) = channel();
            if self.tx.send(Msg::Flush(ack)).is_ok() {
                let _ = done.recv();
            }
        }

        /// Records dropped because the queue was full or the writer stopped.
        pub(crate) fn dropped(&self) -> u64 {
            self.dropped.load(Ordering::Relaxed)
        }
    }

    /// How long events are kept, and who the expiry is audited as.
    pub(crate) struct Retention {
        pub(crate) keep: Option<Duration>,
        pub(crate) actor: String,
    }

    /// How often the writer expires old events.
    const EXPIRE_EVERY: Duration = Duration::from_secs(3600);

    fn write_loop(
        registry: &Registry,
        host: &str,
        rx: &Receiver<Msg>,
        dropped: &AtomicU64,
        retention: &Retention,
    ) {
        let mut last_expiry: Option<Instant> = None;
        // Ends when the host (the only sender) is dropped.
        while let Ok(first) = rx.recv() {
            let mut batch = Vec::new();
            let mut acks = Vec::new();
            let mut next = Some(first);
            while let Some(msg) = next {
                match msg {
                    Msg::Event(mut e) => {
                        e.host.get_or_insert_with(|| host.to_owned());
                        batch.push(e);
                    }
                    Msg::Flush(ack) => acks.push(ack),
                }
                next = if batch.len() < BATCH {
                    rx.try_recv().ok()
                } else {
                    None
                };
            }
            if !batch.is_empty()
                && let Err(e) = registry.record_events(&batch)
            {
                dropped.fetch_add(batch.len() as u64, Ordering::Relaxed);
                tracing::error!(error = %e, lost = batch.len(), "could not record receipts in the registry");
            }
            // The table would grow without bound: expire what is past the
            // retention, off the dispatch path, at most once an hour.
            if let Some(keep) = retention.keep
                && last_expiry.is_none_or(|t| t.elapsed() >= EXPIRE_EVERY)
            {
                last_expiry = Some(Instant::now());
                match registry.expire_events(keep, &retention.actor) {
                    Ok(0) => {}
                    Ok(n) => {
                        tracing::info!(expired = n, "expired runtime events past the retention")
                    }
                    Err(e) => tracing::warn!(error = %e, "could not expire old runtime events"),
                }
            }
            // Acknowledged last: a flush returns once what it waited for is
            // written and the table is expired.
            for ack in acks {
                let _ = ack.send(());
            }
        }
    }
}

/// Without the `registry` feature there is nowhere to write events: no sink
/// can exist, and a record keeps its shape so the code building one does
/// not change.
#[cfg(not(feature = "registry"))]
pub(crate) enum EventLog {}

#[cfg(not(feature = "registry"))]
impl EventLog {
    pub(crate) fn send(&self, _event: EventRecord) {
        match *self {}
    }
    pub(crate) fn flush(&self) {
        match *self {}
    }
    pub(crate) fn dropped(&self) -> u64 {
        match *self {}
    }
}

/// The shape of a registry event record, for hosts without a registry.
#[cfg(not(feature = "registry"))]
#[allow(dead_code)]
pub(crate) struct EventRecord {
    pub(crate) id: i64,
    pub(crate) at: i64,
    pub(crate) kind: String,
    pub(crate) plugin: String,
    pub(crate) version: Option<String>,
    pub(crate) detail: serde_json::Value,
    pub(crate) host: Option<String>,
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
    sink: Option<&EventLog>,
    plugin: &PluginInfo,
    denials: &[Denial],
    subject: Option<&str>,
    during: &str,
) {
    let Some(sink) = sink else { return };
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

/// An event for the registry's events table, stamped now.
pub(crate) fn event(
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
        host: None,
    }
}

pub(crate) fn event_record(receipt: &Receipt, subject: Option<&str>) -> EventRecord {
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
