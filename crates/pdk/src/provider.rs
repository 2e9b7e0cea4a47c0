//! Serve model completions: a plugin that is a model provider.
//!
//! Implement [`Provider`], declare the providers and the models they serve
//! in plugin.toml (`[[providers]]`), and register it:
//!
//! ```no_run
//! use yoi_pdk::provider::{self, Completion, FinishReason, Provider, Request, Sink, Usage};
//!
//! struct Echo;
//!
//! impl Provider for Echo {
//!     fn complete(_name: &str, request: Request, sink: &Sink) -> Result<Completion, provider::Error> {
//!         let last = request.messages.last().map(|m| m.content.clone()).unwrap_or_default();
//!         for word in last.split_inclusive(' ') {
//!             if !sink.text(word) {
//!                 break; // the embedder stopped reading
//!             }
//!         }
//!         Ok(Completion {
//!             model: request.model,
//!             content: last,
//!             tool_calls: Vec::new(),
//!             finish_reason: FinishReason::Stop,
//!             usage: Usage { input_tokens: 0, output_tokens: 0 },
//!         })
//!     }
//! }
//!
//! yoi_pdk::register!(provider: Echo);
//! ```
//!
//! The host runs `model.pre_call` before and `model.post_call` after every
//! completion, whoever serves it. A provider reaches its service through
//! [`crate::http`] like any plugin, under the operator's `https` grants;
//! [`crate::http::Request::open`] reads a streamed answer as it arrives.

use crate::__private::provider::exports::yoi::plugin::provider::Guest;
use crate::__private::provider::yoi::plugin::completions as wit;

pub use wit::{
    Chunk, FinishReason, Message, RateLimit, Request, Role, ToolCall, ToolDefinition, Usage,
};

/// The whole answer a provider returns.
pub use wit::Response as Completion;

/// Why a completion failed: the host routes `Unavailable` to the next
/// provider of the model, and shows the others to the embedder.
pub use wit::ProviderError as Error;

/// Where a streamed answer goes: the embedder's end, lent for one call.
pub struct Sink<'a>(&'a wit::Sink);

impl Sink<'_> {
    /// Hands one piece of text to the embedder, in order. `false` when the
    /// embedder stopped reading: stop generating and return what there is.
    pub fn text(&self, text: &str) -> bool {
        self.0.push(&Chunk::Text(text.to_owned()))
    }

    /// Hands a complete tool call to the embedder.
    pub fn tool_call(&self, call: ToolCall) -> bool {
        self.0.push(&Chunk::ToolCall(call))
    }
}

/// A model provider.
pub trait Provider {
    /// Completes `request` as provider `name` (one of the `[[providers]]` in
    /// plugin.toml). When `request.stream` is set, push the answer into
    /// `sink` as it arrives; return the whole answer either way.
    fn complete(name: &str, request: Request, sink: &Sink) -> Result<Completion, Error>;
}

impl<P: Provider> Guest for P {
    fn complete(name: String, request: Request, sink: &wit::Sink) -> Result<Completion, Error> {
        P::complete(&name, request, &Sink(sink))
    }
}

impl From<crate::Error> for Error {
    /// A host API failure inside a provider: denials and bad requests are
    /// the caller's to fix; the rest means the service cannot be reached.
    fn from(e: crate::Error) -> Self {
        match e {
            crate::Error::Denied { .. } => Error::Auth(e.to_string()),
            crate::Error::Invalid(_) | crate::Error::Config(_) => Error::BadRequest(e.to_string()),
            crate::Error::Timeout(_) | crate::Error::Failed(_) => Error::Unavailable(e.to_string()),
            _ => Error::Other(e.to_string()),
        }
    }
}
