//! Receipts to the registry's events table, off the dispatch path: dispatch
//! hands a record to a bounded queue and returns; one thread writes them in
//! batches (one transaction per batch).

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{Receiver, Sender, SyncSender, TrySendError, channel, sync_channel};

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

pub(crate) struct EventSink {
    tx: SyncSender<Msg>,
    dropped: Arc<AtomicU64>,
}

impl EventSink {
    pub(crate) fn spawn(registry: Arc<Registry>) -> std::io::Result<Self> {
        let (tx, rx) = sync_channel(QUEUE);
        let dropped = Arc::new(AtomicU64::new(0));
        let counter = Arc::clone(&dropped);
        std::thread::Builder::new()
            .name("yoi-events".into())
            .spawn(move || write_loop(&registry, &rx, &counter))?;
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

fn write_loop(registry: &Registry, rx: &Receiver<Msg>, dropped: &AtomicU64) {
    // Ends when the host (the only sender) is dropped.
    while let Ok(first) = rx.recv() {
        let mut batch = Vec::new();
        let mut acks = Vec::new();
        let mut next = Some(first);
        while let Some(msg) = next {
            match msg {
                Msg::Event(e) => batch.push(e),
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
        for ack in acks {
            let _ = ack.send(());
        }
    }
}
