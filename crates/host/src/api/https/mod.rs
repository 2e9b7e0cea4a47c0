//! `https`: requests to the hosts the plugin's `https` grants name (the
//! client and its egress checks are `client`; without the `https` feature,
//! `unbuilt`). The unit: the calls as the guest sees them, at most
//! [`MAX_OPEN_BODIES`] response bodies held open per instance, and their
//! linker entries.

#[cfg(feature = "https")]
mod client;
#[cfg(not(feature = "https"))]
#[path = "unbuilt.rs"]
mod client;

use std::sync::Arc;

use wasmtime::component::{Linker, Resource, ResourceType};

pub(crate) use client::*;

use super::{Cx, HostApi, link_wait, versioned};
use crate::api::state::{HasState, PluginState};
use crate::bindings::latest::yoi::plugin::https;
use crate::bindings::latest::yoi::plugin::types::ApiError;

/// Most response bodies (`https.open`) one instance may hold open at once.
const MAX_OPEN_BODIES: usize = 4;

/// The unit.
pub(crate) const API: HostApi = HostApi {
    interface: "https",
    link,
    link_as,
};

fn link(l: &mut Linker<PluginState>) -> wasmtime::Result<()> {
    https::add_to_linker::<PluginState, HasState>(l, |s| s)
}

fn link_as(l: &mut Linker<PluginState>, version: &str) -> wasmtime::Result<()> {
    let mut i = l.instance(&versioned("https", version))?;
    i.resource_async(
        "incoming-body",
        ResourceType::host::<IncomingBody>(),
        |mut cx: Cx<'_>, rep| {
            Box::new(async move {
                https::HostIncomingBody::drop(cx.data_mut(), Resource::new_own(rep)).await
            })
        },
    )?;
    link_wait!(i, "send", |s, r: https::Request| https::Host::send(s, r));
    link_wait!(i, "open", |s, r: https::Request| https::Host::open(s, r));
    link_wait!(
        i,
        "[method]incoming-body.read",
        |s, b: Resource<IncomingBody>, max: u32| { https::HostIncomingBody::read(s, b, max) }
    );
    Ok(())
}

impl https::Host for PluginState {
    async fn send(&mut self, request: https::Request) -> Result<https::Response, ApiError> {
        let api = Arc::clone(&self.api);
        let result = api.send(request).await;
        self.settle(result)
    }

    async fn open(
        &mut self,
        request: https::Request,
    ) -> Result<(https::ResponseHead, Resource<IncomingBody>), ApiError> {
        if self.open_bodies >= MAX_OPEN_BODIES {
            return Err(ApiError::Failed(format!(
                "{MAX_OPEN_BODIES} responses are open already; drop one (read it to the end) first"
            )));
        }
        let api = Arc::clone(&self.api);
        let result = api.open(request).await;
        let (head, body) = self.settle(result)?;
        let body = self
            .table
            .push(body)
            .map_err(|e| ApiError::Failed(format!("cannot keep the response: {e}")))?;
        self.open_bodies += 1;
        Ok((head, body))
    }
}

impl https::HostIncomingBody for PluginState {
    async fn read(
        &mut self,
        body: Resource<IncomingBody>,
        max: u32,
    ) -> Result<Option<Vec<u8>>, ApiError> {
        let body = self
            .table
            .get_mut(&body)
            .map_err(|e| ApiError::Failed(format!("no such response: {e}")))?;
        let result = body.read(max).await;
        self.settle(result)
    }

    async fn drop(&mut self, body: Resource<IncomingBody>) -> wasmtime::Result<()> {
        self.table.delete(body)?;
        self.open_bodies = self.open_bodies.saturating_sub(1);
        Ok(())
    }
}
