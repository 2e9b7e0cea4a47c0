//! `secrets`: the embedder's secret source, read only for granted keys.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use wasmtime::component::Linker;
use yoi_manifest::Capability;

use super::{ApiFailure, HostApi, PluginApi, blocking_call, link_wait, versioned};
use crate::api::state::{HasState, PluginState};
use crate::bindings::latest::yoi::plugin::secrets;
use crate::bindings::latest::yoi::plugin::types::ApiError;

/// The unit.
pub(crate) const API: HostApi = HostApi {
    interface: "secrets",
    link,
    link_as,
};

fn link(l: &mut Linker<PluginState>) -> wasmtime::Result<()> {
    secrets::add_to_linker::<PluginState, HasState>(l, |s| s)
}

fn link_as(l: &mut Linker<PluginState>, version: &str) -> wasmtime::Result<()> {
    let mut i = l.instance(&versioned("secrets", version))?;
    link_wait!(i, "get", |s, key: String| secrets::Host::get(s, key));
    Ok(())
}

impl secrets::Host for PluginState {
    async fn get(&mut self, key: String) -> Result<String, ApiError> {
        // Refusals are decided inline; only the source is asked off-thread.
        let source = match self.api.secret_source(&key) {
            Ok(source) => source,
            Err(refused) => return self.settle(Err(refused)),
        };
        blocking_call!(self, |_api| fetch_secret(&*source, &key))
    }
}

/// Where the host gets secret values from. The embedder supplies one with
/// [`HostBuilder::secrets`](crate::HostBuilder::secrets); a plugin reaches a
/// key only if the operator granted `secret:KEY`.
pub trait SecretSource: Send + Sync {
    /// The value of `key`, or `None` if the source has no such secret.
    fn get(&self, key: &str) -> Option<String>;
}

impl SecretSource for HashMap<String, String> {
    fn get(&self, key: &str) -> Option<String> {
        HashMap::get(self, key).cloned()
    }
}

impl SecretSource for BTreeMap<String, String> {
    fn get(&self, key: &str) -> Option<String> {
        BTreeMap::get(self, key).cloned()
    }
}

/// Secrets from environment variables: key `K` is read from `<prefix>K`.
///
/// ```
/// let source = yoi_host::EnvSecrets::new("MYAPP_SECRET_");
/// // a plugin granted `secret:WEATHER_KEY` reads $MYAPP_SECRET_WEATHER_KEY
/// # let _ = source;
/// ```
#[derive(Debug, Clone)]
pub struct EnvSecrets {
    prefix: String,
}

impl EnvSecrets {
    /// Reads `<prefix><key>` from the environment.
    pub fn new(prefix: impl Into<String>) -> Self {
        EnvSecrets {
            prefix: prefix.into(),
        }
    }
}

impl SecretSource for EnvSecrets {
    fn get(&self, key: &str) -> Option<String> {
        std::env::var(format!("{}{key}", self.prefix)).ok()
    }
}

impl PluginApi {
    /// `secrets.get`, first half: checks the key and the grant and returns
    /// the source to ask. It touches nothing outside the host, so it runs
    /// inline; only asking the source (which may be remote) waits.
    pub(crate) fn secret_source(&self, key: &str) -> Result<Arc<dyn SecretSource>, ApiFailure> {
        // The key is shown back in messages; keep it printable and short.
        let shown: String = key
            .chars()
            .take(128)
            .flat_map(char::escape_default)
            .collect();
        if !yoi_manifest::valid_secret_key(key) {
            return Err(ApiFailure::Invalid(format!(
                "`{shown}` is not a secret key (letters, digits, `_`, `.`, `-`; at most 128)"
            )));
        }
        if !self.grants.secrets.iter().any(|k| k == key) {
            return Err(self.deny(
                "secret",
                key,
                format!("secret `{key}` is not granted"),
                Some(Capability::Secret(key.to_owned())),
            ));
        }
        self.settings.secrets.clone().ok_or_else(|| {
            ApiFailure::NotFound(format!(
                "secret `{key}`: this host has no secret source (HostBuilder::secrets)"
            ))
        })
    }
}

/// `secrets.get`, second half: the value from the source.
pub(crate) fn fetch_secret(source: &dyn SecretSource, key: &str) -> Result<String, ApiFailure> {
    source
        .get(key)
        .ok_or_else(|| ApiFailure::NotFound(format!("secret `{key}` is not set on this host")))
}
