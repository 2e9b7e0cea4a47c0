//! The host APIs a plugin may call, one unit each ([`HOST_APIS`]): `log`,
//! `context`, `config`, and the grant-gated `https`, `fs`, `secrets`, with
//! `completions`, the chunk sink of providers. A unit holds the interface
//! name a component imports (what `sandbox` allows), its calls as the
//! guest sees them, its linker entries (for the newest contract, and again
//! under an older one's names where that contract's interface did not
//! change), and its grant check. Adding a host API is a unit here, its WIT,
//! the manifest's grammar when it needs a grant, and the docs
//! (docs/architecture.md).
//!
//! Each loaded plugin gets one [`PluginApi`]: its grants (parsed from the
//! operator's `yoi grant` forms), what its manifest requested (to say how to
//! fix a denial), and the host's limits. Every call is checked against the
//! grants before anything is touched; a refusal becomes a [`Denial`] that the
//! guest receives as a typed error and the host records.

pub(crate) mod completions;
pub(crate) mod config;
pub(crate) mod context;
pub(crate) mod fs;
pub(crate) mod https;
pub(crate) mod log;
mod secrets;
pub(crate) mod state;

use std::sync::Arc;
use std::time::Duration;

use yoi_manifest::Capability;
use yoi_manifest::{FsMode, HttpsPattern, Manifest, PluginId};

pub(crate) use secrets::fetch_secret;
pub use secrets::{EnvSecrets, SecretSource};

use wasmtime::StoreContextMut;
use wasmtime::component::Linker;

use crate::bindings::latest::yoi::plugin::types::{ApiError, Denial as WitDenial};
use crate::receipt::Denial;
use state::PluginState;

/// One host API: the `yoi:plugin` interface a component imports, and how a
/// linker gets its calls.
pub(crate) struct HostApi {
    /// The interface, without package or version, e.g. `https`.
    pub(crate) interface: &'static str,
    /// Links its calls under the newest contract's names.
    pub(crate) link: fn(&mut Linker<PluginState>) -> wasmtime::Result<()>,
    /// Links the same calls under an older contract version's names, for a
    /// version whose interface did not change (the contract table's
    /// `shared`).
    pub(crate) link_as: fn(&mut Linker<PluginState>, &str) -> wasmtime::Result<()>,
}

/// Every host API, one unit each: `sandbox` allows exactly these imports
/// (with the records of `types`) and links them for every contract version.
pub(crate) const HOST_APIS: [HostApi; 7] = [
    log::API,
    context::API,
    config::API,
    https::API,
    fs::API,
    secrets::API,
    completions::API,
];

/// An interface of `version`'s contract, by name: `yoi:plugin/fs@0.4.0`.
pub(crate) fn versioned(interface: &str, version: &str) -> String {
    format!(
        "{}/{interface}@{version}",
        yoi_manifest::ContractVersion::PACKAGE
    )
}

/// The store a host call linked by hand reaches.
pub(crate) type Cx<'a> = StoreContextMut<'a, PluginState>;

/// Links one host call of an older contract's interface that waits,
/// answered by the newest contract's `Host` (`link_as`).
macro_rules! link_wait {
    ($inst:ident, $name:literal, |$s:ident $(, $a:ident: $t:ty)*| $call:expr) => {
        $inst.func_wrap_async(
            $name,
            |mut cx: crate::api::Cx<'_>, ($($a,)*): ($($t,)*)| {
                Box::new(async move {
                    let $s = cx.data_mut();
                    Ok(($call.await,))
                })
            },
        )?;
    };
}
pub(crate) use link_wait;

/// Links one host call of an older contract's interface that answers at
/// once (`link_as`).
macro_rules! link_now {
    ($inst:ident, $name:literal, |$s:ident $(, $a:ident: $t:ty)*| $call:expr) => {
        $inst.func_wrap($name, |mut cx: crate::api::Cx<'_>, ($($a,)*): ($($t,)*)| {
            let $s = cx.data_mut();
            Ok(($call,))
        })?;
    };
}
pub(crate) use link_now;

/// Runs a host call that may block (the filesystem, the embedder's secret
/// source) on a blocking thread. The kernel or a remote secret store may
/// not answer: the handler's host-side timer then abandons the wait and
/// the instance, and the executor never blocks.
pub(crate) async fn on_blocking_thread<T: Send + 'static>(
    api: &Arc<PluginApi>,
    call: impl FnOnce(&PluginApi) -> Result<T, ApiFailure> + Send + 'static,
) -> Result<T, ApiFailure> {
    let api = Arc::clone(api);
    tokio::task::spawn_blocking(move || call(&api))
        .await
        .unwrap_or_else(|e| {
            Err(ApiFailure::Failed(format!(
                "the filesystem call failed: {e}"
            )))
        })
}

/// One blocking import (`fs`, `secrets`): the call runs off the executor,
/// then settles.
macro_rules! blocking_call {
    ($self:ident, |$api:ident| $body:expr) => {{
        let r = crate::api::on_blocking_thread(&$self.api, move |$api| $body).await;
        $self.settle(r)
    }};
}
pub(crate) use blocking_call;

/// Limits on host API calls, set on the [`HostBuilder`](crate::HostBuilder).
#[derive(Debug, Clone)]
pub(crate) struct ApiLimits {
    /// Longest an `https` request may take, redirects included.
    pub(crate) http_timeout: Duration,
    /// Largest request body.
    pub(crate) http_request_bytes: usize,
    /// Largest response body.
    pub(crate) http_response_bytes: usize,
    /// Bytes a plugin may keep in its data root.
    pub(crate) fs_quota: u64,
    /// Files, folders and links a plugin may keep in its data root.
    pub(crate) fs_entries: u64,
    /// Largest file `fs.read` returns.
    #[cfg_attr(not(feature = "fs"), allow(dead_code))]
    pub(crate) fs_read_bytes: u64,
}

impl Default for ApiLimits {
    fn default() -> Self {
        ApiLimits {
            http_timeout: Duration::from_secs(10),
            http_request_bytes: 1024 * 1024,
            http_response_bytes: 4 * 1024 * 1024,
            fs_quota: 64 * 1024 * 1024,
            fs_entries: 10_000,
            fs_read_bytes: 16 * 1024 * 1024,
        }
    }
}

/// What the host gives every plugin's API context.
#[derive(Clone, Default)]
pub(crate) struct ApiSettings {
    pub(crate) limits: ApiLimits,
    /// The folder under which each plugin gets `<plugin id>/` as its data root.
    pub(crate) data_dir: Option<std::path::PathBuf>,
    pub(crate) secrets: Option<Arc<dyn SecretSource>>,
}

/// A plugin's grants, parsed, plus how to talk about them.
#[derive(Debug, Default)]
pub(crate) struct Grants {
    pub(crate) https: Vec<HttpsPattern>,
    pub(crate) fs: Vec<(String, FsMode)>,
    pub(crate) secrets: Vec<String>,
    /// Everything granted, in `yoi grant` form.
    pub(crate) all: Vec<Capability>,
}

impl Grants {
    /// Sorts the grants by kind. Grants are kept per plugin, not per
    /// version: one that the loaded version no longer requests is dropped
    /// (and logged), never widened.
    pub(crate) fn new(plugin: &str, list: &[Capability], requested: &[Capability]) -> Grants {
        let mut g = Grants::default();
        for cap in list {
            if !requested.iter().any(|r| cap.within(r)) {
                tracing::warn!(plugin, grant = %cap, "ignoring a grant this version does not request");
                continue;
            }
            match cap {
                Capability::Https(p) => g.https.push(p.clone()),
                Capability::Fs { path, mode } => g.fs.push((path.clone(), *mode)),
                Capability::Secret(k) => g.secrets.push(k.clone()),
                // The service drivers' grants: kept in `all`, used by the
                // service manager, not by the host APIs of a call.
                Capability::WebSocket(_) | Capability::Route(_) => {}
            }
            g.all.push(cap.clone());
        }
        g
    }

    /// The granted capabilities of one kind, in `yoi grant` form.
    fn of_kind(&self, kind: &str) -> Vec<String> {
        self.all
            .iter()
            .map(ToString::to_string)
            .filter(|c| c.split(':').next() == Some(kind))
            .collect()
    }
}

/// A plugin's view of the host APIs.
pub(crate) struct PluginApi {
    pub(crate) plugin: PluginId,
    pub(crate) grants: Grants,
    /// What the manifest requested: a grant can only narrow it.
    requested: Vec<Capability>,
    pub(crate) settings: ApiSettings,
    #[cfg_attr(not(feature = "https"), allow(dead_code))]
    pub(crate) http: https::HttpState,
    #[cfg_attr(not(feature = "fs"), allow(dead_code))]
    pub(crate) fs: fs::FsState,
    /// The settings its instances read (`config`).
    pub(crate) config: config::PluginConfig,
}

impl PluginApi {
    pub(crate) fn new(
        manifest: &Manifest,
        grants: &[Capability],
        settings: ApiSettings,
        config: config::PluginConfig,
    ) -> PluginApi {
        let requested = Capability::requested_by(manifest);
        PluginApi::with(
            manifest.plugin.id.clone(),
            requested,
            grants,
            settings,
            config,
        )
    }

    /// The same plugin under new grants and settings.
    pub(crate) fn redeployed(
        &self,
        grants: &[Capability],
        config: config::PluginConfig,
    ) -> PluginApi {
        PluginApi::with(
            self.plugin.clone(),
            self.requested.clone(),
            grants,
            self.settings.clone(),
            config,
        )
    }

    fn with(
        plugin: PluginId,
        requested: Vec<Capability>,
        grants: &[Capability],
        settings: ApiSettings,
        config: config::PluginConfig,
    ) -> PluginApi {
        let data_root = settings
            .data_dir
            .as_ref()
            .map(|dir| dir.join(plugin.as_str()));
        PluginApi {
            grants: Grants::new(plugin.as_str(), grants, &requested),
            requested,
            fs: fs::FsState::new(
                data_root,
                settings.limits.fs_quota,
                settings.limits.fs_entries,
            ),
            plugin,
            settings,
            http: https::HttpState::default(),
            config,
        }
    }

    /// A denial of `capability` for `target`, with the operator's fix: the
    /// `yoi grant` command for `needed`, or, when the manifest does not
    /// request it, the manifest change that has to come first.
    pub(crate) fn deny(
        &self,
        capability: &'static str,
        target: impl Into<String>,
        reason: impl Into<String>,
        needed: Option<Capability>,
    ) -> ApiFailure {
        let fix = match needed {
            Some(cap) if self.requested.iter().any(|r| cap.within(r)) => {
                format!("to allow it, run `yoi grant {} {cap}`", self.plugin)
            }
            Some(cap) => format!(
                "{} does not request `{cap}`: add it to [capabilities] in plugin.toml, publish a new version, then run `yoi grant {} {cap}`",
                self.plugin, self.plugin
            ),
            None => "no grant allows this; change the plugin".to_owned(),
        };
        self.refuse(capability, target, reason, fix)
    }

    /// A denial with a fix of its own.
    pub(crate) fn refuse(
        &self,
        capability: &'static str,
        target: impl Into<String>,
        reason: impl Into<String>,
        fix: impl Into<String>,
    ) -> ApiFailure {
        ApiFailure::Denied(Denial {
            capability: capability.to_owned(),
            target: target.into(),
            reason: reason.into(),
            granted: self.grants.of_kind(capability),
            fix: fix.into(),
        })
    }
}

/// Why a host API call did not succeed, before it becomes the guest's
/// `api-error`.
#[derive(Debug)]
pub(crate) enum ApiFailure {
    Denied(Denial),
    NotFound(String),
    Invalid(String),
    #[cfg_attr(not(any(feature = "https", feature = "fs")), allow(dead_code))]
    TooLarge(String),
    #[cfg_attr(not(feature = "https"), allow(dead_code))]
    Timeout(String),
    Failed(String),
}

impl ApiFailure {
    /// The guest's error, and the denial to record, if it was one.
    pub(crate) fn into_wit(self) -> (ApiError, Option<Denial>) {
        match self {
            ApiFailure::Denied(d) => (
                ApiError::Denied(WitDenial {
                    capability: d.capability.clone(),
                    target: d.target.clone(),
                    reason: d.reason.clone(),
                    fix: d.fix.clone(),
                }),
                Some(d),
            ),
            ApiFailure::NotFound(m) => (ApiError::NotFound(m), None),
            ApiFailure::Invalid(m) => (ApiError::Invalid(m), None),
            ApiFailure::TooLarge(m) => (ApiError::TooLarge(m), None),
            ApiFailure::Timeout(m) => (ApiError::Timeout(m), None),
            ApiFailure::Failed(m) => (ApiError::Failed(m), None),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The units are the newest contract's host APIs: every interface of
    /// its WIT that the `plugin` world does not export, but its records.
    #[test]
    fn the_units_are_the_contracts_host_apis() {
        let version = yoi_manifest::ContractVersion::CURRENT.0.to_string();
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("wit")
            .join(&version);
        let mut interfaces = Vec::new();
        let mut exported = Vec::new();
        for entry in std::fs::read_dir(&dir).expect("the contract's WIT") {
            let text = std::fs::read_to_string(entry.expect("entry").path()).expect("WIT");
            for line in text.lines().map(str::trim) {
                if let Some(name) = line.strip_prefix("interface ") {
                    interfaces.push(name.trim_end_matches(" {").to_owned());
                }
                if let Some(name) = line.strip_prefix("export ") {
                    exported.push(name.trim_end_matches(';').to_owned());
                }
            }
        }
        let mut apis: Vec<String> = interfaces
            .into_iter()
            .filter(|i| i != "types" && !exported.contains(i))
            .collect();
        apis.sort();
        let mut units: Vec<String> = HOST_APIS.iter().map(|a| a.interface.to_owned()).collect();
        units.sort();
        assert_eq!(units, apis);
    }

    #[test]
    fn grants_outside_the_request_are_dropped() {
        let requested: Vec<Capability> = ["https:*.example.com", "fs:notes:rw", "secret:A"]
            .iter()
            .map(|c| c.parse().unwrap())
            .collect();
        let given = Capability::parse_all(&[
            "https:api.example.com",
            "https:evil.net",
            "fs:notes/2026:ro",
            "fs:.:rw",
            "secret:A",
            "secret:B",
        ])
        .unwrap();
        let g = Grants::new("p", &given, &requested);
        let kept: Vec<String> = g.all.iter().map(ToString::to_string).collect();
        assert_eq!(
            kept,
            ["https:api.example.com", "fs:notes/2026:ro", "secret:A"]
        );
        assert_eq!(g.of_kind("fs"), ["fs:notes/2026:ro"]);
        assert_eq!(g.secrets, ["A"]);
    }
}
