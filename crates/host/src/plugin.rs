//! A loaded plugin: its manifest, compiled component and hook exports, checked
//! against the contract before anything runs.

use std::sync::Arc;

use serde::Serialize;
use wasmtime::Engine;
use wasmtime::component::{Component, InstancePre, Linker};
use yoi_manifest::{ContractVersion, Digest, Hook, HookPoint, Package, PluginId};

use crate::CONTRACT;
use crate::bindings::exports::yoi::plugin::{tool_post_exec as post, tool_pre_exec as pre};
use crate::error::HostError;
use crate::sandbox::{ALLOWED_IMPORTS, PluginState};

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
    ) -> Result<LoadedPlugin, HostError> {
        let manifest = package.manifest;
        let plugin = manifest.plugin.id.clone();
        let version = manifest.plugin.version.clone();

        for hook in &manifest.hooks {
            if !SUPPORTED_POINTS.contains(&hook.point) {
                return Err(HostError::UnsupportedHook {
                    plugin,
                    version,
                    point: hook.point,
                    contract: CONTRACT,
                    supported: SUPPORTED_POINTS.map(HookPoint::as_str).join(", "),
                });
            }
        }

        let component =
            Component::new(engine, &package.artifact).map_err(|e| HostError::Compile {
                plugin: plugin.clone(),
                version: version.clone(),
                reason: format!("{e:#}"),
            })?;

        let ty = component.component_type();
        let forbidden: Vec<String> = ty
            .imports(engine)
            .map(|(name, _)| name)
            .filter(|name| !import_allowed(name))
            .map(str::to_owned)
            .collect();
        if !forbidden.is_empty() {
            return Err(HostError::ForbiddenImports {
                plugin,
                version,
                imports: forbidden,
            });
        }
        for (name, _) in ty.exports(engine) {
            let Some(point) = SUPPORTED_POINTS
                .into_iter()
                .find(|p| export_name(*p) == name)
            else {
                continue;
            };
            if manifest.hook(point).is_none() {
                return Err(HostError::UndeclaredExport {
                    plugin,
                    version,
                    point,
                    interface: name.to_owned(),
                });
            }
        }

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
                // Refused above: not in SUPPORTED_POINTS.
                _ => {}
            }
        }

        Ok(LoadedPlugin {
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

/// Whether an import name is in [`ALLOWED_IMPORTS`] at a version this host
/// implements: WASI 0.2.x, and Yoi's contract by its compatibility rule.
fn import_allowed(name: &str) -> bool {
    let (base, version) = name.split_once('@').unwrap_or((name, ""));
    if !ALLOWED_IMPORTS.contains(&base) {
        return false;
    }
    let Ok(version) = semver::Version::parse(version) else {
        return false;
    };
    if base.starts_with("wasi:") {
        return version.major == 0 && version.minor == 2;
    }
    match CONTRACT.parse::<ContractVersion>() {
        Ok(host) => ContractVersion(version).runs_on(&host),
        Err(_) => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn imports_are_checked_by_name_and_version() {
        assert!(import_allowed("wasi:cli/stdout@0.2.6"));
        assert!(import_allowed("yoi:plugin/log@0.1.0"));
        assert!(!import_allowed("wasi:filesystem/types@0.2.6"));
        assert!(!import_allowed("wasi:sockets/tcp@0.2.0"));
        assert!(!import_allowed("wasi:cli/stdout@0.3.0"));
        assert!(!import_allowed("yoi:plugin/log@0.2.0"));
        assert!(!import_allowed("yoi:plugin/log"));
        assert!(!import_allowed("env"));
    }

    #[test]
    fn export_names_follow_the_contract() {
        assert_eq!(
            export_name(HookPoint::ToolPreExec),
            "yoi:plugin/tool-pre-exec@0.1.0"
        );
    }
}
