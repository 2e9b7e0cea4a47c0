//! Observe the host's own work: receipts, tool and model calls, denials,
//! crash-guard disables, reloads, and the embedder's own observations.
//!
//! Implement [`Observer`], say which kinds it receives in plugin.toml
//! (`[observer] kinds = ["model_call"]`), and register it:
//!
//! ```no_run
//! use yoi_pdk::observer::{Batch, Event, Observer};
//!
//! struct Tokens;
//!
//! impl Observer for Tokens {
//!     fn observe(batch: Batch) -> Result<(), yoi_pdk::Error> {
//!         let total: u64 = batch
//!             .observations
//!             .iter()
//!             .filter_map(|o| match &o.event {
//!                 Event::ModelCall(call) => Some(call.input_tokens + call.output_tokens),
//!                 _ => None,
//!             })
//!             .sum();
//!         yoi_pdk::log::info(&format!("{total} tokens, {} observations dropped", batch.dropped));
//!         Ok(())
//!     }
//! }
//!
//! yoi_pdk::register!(observer: Tokens);
//! ```
//!
//! Batches arrive off the host's dispatch path, in order. When the observer
//! falls behind, its queue drops the oldest observations and the next batch
//! says how many (`dropped`). An `Err` counts toward the plugin's crash
//! guard; the batch is not delivered again.

use crate::__private::observer::exports::yoi::plugin::observer as wit;

pub use wit::{
    Batch, Custom, Event, HandlerRan, ModelCalled, Observation, PermissionDenied, PluginDisabled,
    Reloaded, ToolRan,
};

/// A plugin that observes the host.
pub trait Observer {
    /// Receives one batch of observations, oldest first.
    fn observe(batch: Batch) -> Result<(), crate::Error>;
}

impl<O: Observer> wit::Guest for O {
    fn observe(batch: Batch) -> Result<(), String> {
        O::observe(batch).map_err(|e| e.to_string())
    }
}
