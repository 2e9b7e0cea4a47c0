//! `context` (contract 0.2.0): the hook context of the running call, read
//! on demand; a plugin cannot change it.

use wasmtime::component::Linker;

use super::{HostApi, link_now, versioned};
use crate::api::state::{HasState, PluginState};
use crate::bindings::latest::yoi::plugin::context;
use crate::hookevents::HookContext;

/// The unit.
pub(crate) const API: HostApi = HostApi {
    interface: "context",
    link,
    link_as,
};

fn link(l: &mut Linker<PluginState>) -> wasmtime::Result<()> {
    context::add_to_linker::<PluginState, HasState>(l, |s| s)
}

fn link_as(l: &mut Linker<PluginState>, version: &str) -> wasmtime::Result<()> {
    let mut i = l.instance(&versioned("context", version))?;
    link_now!(i, "current", |s| context::Host::current(s));
    Ok(())
}

impl context::Host for PluginState {
    fn current(&mut self) -> context::HookContext {
        match &self.context {
            Some(c) => c.to_wit(&self.plugin),
            // Guest code runs only inside a call; a start function may ask
            // before any: it gets the plugin's id and nothing else.
            None => HookContext::default().to_wit(None, &self.plugin),
        }
    }
}
