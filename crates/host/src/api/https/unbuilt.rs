//! `https` in a host built without its feature (see the crate docs): still
//! linked, so a component importing it loads as it would anywhere, but
//! every call fails with what the embedder has to enable. A missing feature
//! is the host's limit, never a denial of the plugin's grants.

use crate::api::{ApiFailure, PluginApi};
use crate::bindings::latest::yoi::plugin::https as wit;

/// Nothing to keep without an HTTP client.
#[derive(Default)]
pub(crate) struct HttpState {}

pub use crate::resources::IncomingBody;

impl IncomingBody {
    pub(crate) async fn read(&mut self, _max: u32) -> Result<Option<Vec<u8>>, ApiFailure> {
        Err(not_built("https"))
    }
}

impl PluginApi {
    pub(crate) async fn send(&self, _req: wit::Request) -> Result<wit::Response, ApiFailure> {
        Err(not_built("https"))
    }

    pub(crate) async fn open(
        &self,
        _req: wit::Request,
    ) -> Result<(wit::ResponseHead, IncomingBody), ApiFailure> {
        Err(not_built("https"))
    }
}

fn not_built(feature: &str) -> ApiFailure {
    ApiFailure::Failed(format!(
        "this host was built without yoi-host's `{feature}` feature, so `{feature}` calls \
         cannot run; the embedder enables it in Cargo.toml (it is on by default)"
    ))
}
