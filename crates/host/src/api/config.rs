//! The `config` host API (contract 0.3.0): a plugin's settings as its
//! instances read them. The values are fixed when the plugin is loaded or
//! redeployed (docs/configuration.md); a change reaches the next instance.

use std::sync::Arc;

use serde_json::{Map, Value};
use wasmtime::component::Linker;
use yoi_manifest::{Manifest, Setting};

use super::{HostApi, link_now, versioned};
use crate::api::state::{HasState, PluginState};
use crate::bindings::latest::yoi::plugin::config;

/// The unit.
pub(crate) const API: HostApi = HostApi {
    interface: "config",
    link,
    link_as,
};

fn link(l: &mut Linker<PluginState>) -> wasmtime::Result<()> {
    config::add_to_linker::<PluginState, HasState>(l, |s| s)
}

fn link_as(l: &mut Linker<PluginState>, version: &str) -> wasmtime::Result<()> {
    let mut i = l.instance(&versioned("config", version))?;
    link_now!(i, "get", |s, key: String| config::Host::get(s, key));
    link_now!(i, "all", |s| config::Host::all(s));
    Ok(())
}

impl config::Host for PluginState {
    fn get(&mut self, key: String) -> Result<Option<String>, config::ConfigError> {
        self.api
            .config
            .get(&key)
            .map_err(config::ConfigError::Undeclared)
    }

    fn all(&mut self) -> String {
        self.api.config.all()
    }
}

/// A plugin's declared settings and the values it runs with (the
/// operator's, else the defaults).
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct PluginConfig {
    /// `id@version`, for messages.
    whose: Arc<str>,
    settings: Arc<[Setting]>,
    values: Map<String, Value>,
}

impl PluginConfig {
    /// The configuration of `manifest`'s plugin with the operator's `set`
    /// values: each must be of a declared setting and meet its schema.
    pub(crate) fn new(
        manifest: &Manifest,
        set: &Map<String, Value>,
    ) -> Result<PluginConfig, String> {
        PluginConfig {
            whose: format!("{}@{}", manifest.plugin.id, manifest.plugin.version).into(),
            settings: manifest.config.clone().into(),
            values: Map::new(),
        }
        .with_values(set)
    }

    /// The same settings with the registry's values: those of settings
    /// this version does not declare (another version's) are not given to
    /// it; the rest are checked.
    pub(crate) fn with_deployed(
        &self,
        mut set: Map<String, Value>,
    ) -> Result<PluginConfig, String> {
        set.retain(|key, _| self.settings.iter().any(|s| s.name == *key));
        self.with_values(&set)
    }

    /// The same settings with other operator values.
    pub(crate) fn with_values(&self, set: &Map<String, Value>) -> Result<PluginConfig, String> {
        let mut problems = Vec::new();
        for (key, value) in set {
            match self.settings.iter().find(|s| s.name == *key) {
                None => problems.push(format!("`{key}` is not a setting of {}", self.whose)),
                Some(setting) => {
                    if let Err(why) = setting.check(value) {
                        problems.push(why);
                    }
                }
            }
        }
        if !problems.is_empty() {
            return Err(format!(
                "the configuration was refused: {}",
                problems.join("; ")
            ));
        }
        let set = set.clone().into_iter().collect();
        Ok(PluginConfig {
            whose: Arc::clone(&self.whose),
            settings: Arc::clone(&self.settings),
            values: yoi_manifest::effective(&self.settings, &set),
        })
    }

    /// One value as JSON text; `Err` names a setting the manifest does not
    /// declare.
    pub(crate) fn get(&self, key: &str) -> Result<Option<String>, String> {
        if !self.settings.iter().any(|s| s.name == key) {
            return Err(key.to_owned());
        }
        Ok(self.values.get(key).map(Value::to_string))
    }

    /// Every value, as one JSON object.
    pub(crate) fn all(&self) -> String {
        Value::Object(self.values.clone()).to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn manifest() -> Manifest {
        Manifest::parse(
            "[plugin]\nid = \"c.p\"\nversion = \"1.0.0\"\ncontract = \"yoi:plugin@0.3.0\"\n\
             [runtime]\nkind = \"wasm-component\"\nartifact = \"p.wasm\"\n\
             digest = \"sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad\"\n\
             [[hooks]]\npoint = \"tool.pre_exec\"\n\
             [config.deny]\ntype = \"list\"\ndefault = [\"shell\"]\n\
             [config.limit]\ntype = \"integer\"\n",
        )
        .expect("manifest")
    }

    #[test]
    fn values_are_checked_defaulted_and_undeclared_names_refused() {
        let m = manifest();
        let c = PluginConfig::new(&m, &Map::new()).expect("defaults");
        assert_eq!(c.get("deny").unwrap().as_deref(), Some("[\"shell\"]"));
        assert_eq!(c.get("limit").unwrap(), None, "declared, no value");
        assert_eq!(c.get("nope").unwrap_err(), "nope");
        assert_eq!(c.all(), "{\"deny\":[\"shell\"]}");

        let mut set = Map::new();
        set.insert("limit".into(), Value::from(3));
        let c = PluginConfig::new(&m, &set).expect("a value");
        assert_eq!(c.get("limit").unwrap().as_deref(), Some("3"));
        set.insert("limit".into(), Value::from("three"));
        assert!(PluginConfig::new(&m, &set).unwrap_err().contains("integer"));
        let mut set = Map::new();
        set.insert("colour".into(), Value::from("red"));
        // The registry may hold another version's settings: not given here.
        let c = PluginConfig::new(&m, &Map::new()).expect("defaults");
        assert_eq!(
            c.with_deployed(set.clone()).expect("ignored").all(),
            "{\"deny\":[\"shell\"]}"
        );
        assert!(
            PluginConfig::new(&m, &set)
                .unwrap_err()
                .contains("`colour` is not a setting")
        );
    }
}
