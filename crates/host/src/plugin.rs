//! A loaded plugin: its manifest, compiled component and hook exports, checked
//! against the contract before anything runs.

use std::sync::Arc;

use serde::Serialize;
use wasmtime::Engine;
use wasmtime::component::{Component, InstancePre, Linker};
use yoi_manifest::{Digest, Hook, HookPoint, Package, PluginId};

use crate::CONTRACT;
use crate::bindings::exports::yoi::plugin::{tool_post_exec as post, tool_pre_exec as pre};
use crate::error::HostError;
use crate::sandbox::PluginState;

/// The hook points this host dispatches.
pub const SUPPORTED_POINTS: [HookPoint; 2] = [HookPoint::ToolPreExec, HookPoint::ToolPostExec];

/// Export lookups of a plugin's hook interfaces, resolved once at load.
#[derive(Default)]
pub(crate) struct HookExports {
    pub(crate) tool_pre_exec: Option<pre::GuestIndices>,
    pub(crate) tool_post_exec: Option<post::GuestIndices>,
}

/// What the host knows about a loaded plugin.
#[derive(Debug, Clone, Serialize)]
pub struct PluginInfo {
    /// Plugin id.
    pub id: PluginId,
    /// Plugin version.
    pub version: semver::Version,
    /// The artifact digest the plugin was loaded from.
    pub digest: Digest,
    /// Declared hooks, in manifest order.
    pub hooks: Vec<Hook>,
}

pub(crate) struct LoadedPlugin {
    pub(crate) info: PluginInfo,
    pub(crate) name: Arc<str>,
    pub(crate) pre: InstancePre<PluginState>,
    pub(crate) exports: HookExports,
    /// The plugin's `[limits] memory_mb`, clamped to the host's limit.
    pub(crate) memory_limit: usize,
}

/// The export name of a hook point's interface in this host's contract.
pub(crate) fn export_name(point: HookPoint) -> String {
    let version = CONTRACT.rsplit_once('@').map_or("", |(_, v)| v);
    format!("yoi:plugin/{}@{version}", point.wit_interface())
}

impl LoadedPlugin {
    /// Compiles and checks a package. Nothing in the component runs here.
    pub(crate) fn load(
        engine: &Engine,
        linker: &Linker<PluginState>,
        package: Package,
        host_memory_limit: usize,
    ) -> Result<LoadedPlugin, HostError> {
        let manifest = package.manifest;
        let plugin = manifest.plugin.id.clone();
        let version = manifest.plugin.version.clone();

        // Package::open already inspected the component against this host's
        // contract (imports, exports, hook points); compiling comes next.
        let component =
            Component::new(engine, &package.artifact).map_err(|e| HostError::Compile {
                plugin: plugin.clone(),
                version: version.clone(),
                reason: format!("{e:#}"),
            })?;

        let pre = linker
            .instantiate_pre(&component)
            .map_err(|e| HostError::Link {
                plugin: plugin.clone(),
                version: version.clone(),
                reason: format!("{e:#}"),
            })?;

        let mut exports = HookExports::default();
        for hook in &manifest.hooks {
            let missing = |_| HostError::MissingExport {
                plugin: plugin.clone(),
                version: version.clone(),
                point: hook.point,
                interface: export_name(hook.point),
            };
            match hook.point {
                HookPoint::ToolPreExec => {
                    exports.tool_pre_exec = Some(pre::GuestIndices::new(&pre).map_err(missing)?);
                }
                HookPoint::ToolPostExec => {
                    exports.tool_post_exec = Some(post::GuestIndices::new(&pre).map_err(missing)?);
                }
                // Not in SUPPORTED_POINTS: `Host::load_package` refuses it
                // through the manifest's compatibility check first.
                _ => {}
            }
        }

        let requested = manifest.limits.memory_mb.map(|mb| {
            usize::try_from(mb)
                .unwrap_or(usize::MAX)
                .saturating_mul(1024 * 1024)
        });
        Ok(LoadedPlugin {
            memory_limit: requested.map_or(host_memory_limit, |r| r.min(host_memory_limit)),
            name: Arc::from(plugin.as_str()),
            info: PluginInfo {
                id: plugin,
                version,
                digest: manifest.runtime.digest,
                hooks: manifest.hooks,
            },
            pre,
            exports,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn export_names_follow_the_contract() {
        assert_eq!(
            export_name(HookPoint::ToolPreExec),
            "yoi:plugin/tool-pre-exec@0.1.0"
        );
    }
}
