//! `completions` (contract 0.4.0): the chunk sink a provider plugin
//! streams its answer into; the embedder takes each chunk (backpressure).
//! Providers themselves are `providers`.

use wasmtime::component::{Linker, Resource, ResourceType};

use super::{Cx, HostApi, link_wait, versioned};
use crate::api::state::{HasState, PluginState};
use crate::bindings::latest::yoi::plugin::completions as wit;
use crate::providerspec::{Chunk, ModelToolCall, Sink};
use crate::receipt::clean;

/// The unit.
pub(crate) const API: HostApi = HostApi {
    interface: "completions",
    link,
    link_as,
};

fn link(l: &mut Linker<PluginState>) -> wasmtime::Result<()> {
    wit::add_to_linker::<PluginState, HasState>(l, |s| s)
}

fn link_as(l: &mut Linker<PluginState>, version: &str) -> wasmtime::Result<()> {
    let mut i = l.instance(&versioned("completions", version))?;
    i.resource_async(
        "sink",
        ResourceType::host::<Sink>(),
        |mut cx: Cx<'_>, rep| {
            Box::new(
                async move { wit::HostSink::drop(cx.data_mut(), Resource::new_own(rep)).await },
            )
        },
    )?;
    link_wait!(
        i,
        "[method]sink.push",
        |s, sink: Resource<Sink>, chunk: wit::Chunk| { wit::HostSink::push(s, sink, chunk) }
    );
    Ok(())
}

impl wit::Host for PluginState {}

impl wit::HostSink for PluginState {
    async fn push(&mut self, sink: Resource<Sink>, chunk: wit::Chunk) -> bool {
        let Ok(sink) = self.table().get(&sink) else {
            return false;
        };
        let chunks = sink.chunks.clone();
        let chunk = match chunk {
            wit::Chunk::Text(text) => Chunk::Text(text),
            wit::Chunk::ToolCall(call) => Chunk::ToolCall(tool_call_from_wit(call)),
        };
        chunks.send(chunk).await
    }

    async fn drop(&mut self, sink: Resource<Sink>) -> wasmtime::Result<()> {
        // The host deletes the sink after the call; a guest cannot own one.
        if sink.owned() {
            self.table().delete(sink)?;
        }
        Ok(())
    }
}

/// A tool call a provider plugin reports, its names cut to size.
pub(crate) fn tool_call_from_wit(c: wit::ToolCall) -> ModelToolCall {
    ModelToolCall {
        id: clean(&c.id, 256),
        name: clean(&c.name, 256),
        arguments: c.arguments,
    }
}
