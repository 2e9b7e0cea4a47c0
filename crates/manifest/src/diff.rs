//! What changes between two versions of a plugin, as an operator decides an
//! upgrade by: the capabilities it requests, its hook points, tools,
//! providers, services and observations, and its settings
//! (docs/operations.md, "Upgrading").

use std::collections::BTreeSet;

use serde::Serialize;

use crate::{Capability, Manifest, Setting, SettingType};

/// Items added, removed and kept between two versions, each list sorted.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Changes<T> {
    /// In the candidate only.
    pub added: Vec<T>,
    /// In the current version only.
    pub removed: Vec<T>,
    /// In both.
    pub unchanged: Vec<T>,
}

impl<T: Ord + Clone> Changes<T> {
    fn between(from: &[T], to: &[T]) -> Self {
        let from: BTreeSet<&T> = from.iter().collect();
        let to: BTreeSet<&T> = to.iter().collect();
        Changes {
            added: to.difference(&from).map(|t| (*t).clone()).collect(),
            removed: from.difference(&to).map(|t| (*t).clone()).collect(),
            unchanged: from.intersection(&to).map(|t| (*t).clone()).collect(),
        }
    }

    /// Whether nothing was added or removed.
    pub fn is_same(&self) -> bool {
        self.added.is_empty() && self.removed.is_empty()
    }
}

/// A setting whose type differs between the versions.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TypeChange {
    /// The setting.
    pub name: String,
    /// Its type in the current version.
    pub from: SettingType,
    /// Its type in the candidate.
    pub to: SettingType,
}

/// How the settings change.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SettingChanges {
    /// Declared by the candidate only.
    pub added: Vec<String>,
    /// Declared by the current version only: their values are kept but no
    /// longer given to the plugin.
    pub removed: Vec<String>,
    /// Required by the candidate and not by the current version (added
    /// required settings are listed here too).
    pub newly_required: Vec<String>,
    /// Declared by both with different types: a stored value may no longer
    /// fit.
    pub changed_type: Vec<TypeChange>,
}

/// What changes from one version of a plugin to another.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ManifestDiff {
    /// Requested capabilities, in `yoi grant` form.
    pub capabilities: Changes<Capability>,
    /// Hook points it handles.
    pub hooks: Changes<String>,
    /// Tools it serves.
    pub tools: Changes<String>,
    /// Model providers it serves.
    pub providers: Changes<String>,
    /// Services it runs.
    pub services: Changes<String>,
    /// Host observations it receives.
    pub observations: Changes<String>,
    /// Its settings.
    pub settings: SettingChanges,
}

impl ManifestDiff {
    /// The changes from `from` (the running version; `None` when none runs,
    /// so everything is added) to `to`.
    pub fn between(from: Option<&Manifest>, to: &Manifest) -> ManifestDiff {
        let each = |f: fn(&Manifest) -> Vec<String>| {
            Changes::between(&from.map(f).unwrap_or_default(), &f(to))
        };
        let no_settings: &[Setting] = &[];
        let old = from.map_or(no_settings, |m| m.config.as_slice());
        let declared_by = |list: &[Setting], name: &str| list.iter().any(|s| s.name == name);
        let settings = SettingChanges {
            added: to
                .config
                .iter()
                .filter(|s| !declared_by(old, &s.name))
                .map(|s| s.name.clone())
                .collect(),
            removed: old
                .iter()
                .filter(|s| !declared_by(&to.config, &s.name))
                .map(|s| s.name.clone())
                .collect(),
            newly_required: to
                .config
                .iter()
                .filter(|s| s.required && !old.iter().any(|o| o.name == s.name && o.required))
                .map(|s| s.name.clone())
                .collect(),
            changed_type: to
                .config
                .iter()
                .filter_map(|s| {
                    let o = old.iter().find(|o| o.name == s.name)?;
                    (o.kind != s.kind).then(|| TypeChange {
                        name: s.name.clone(),
                        from: o.kind,
                        to: s.kind,
                    })
                })
                .collect(),
        };
        ManifestDiff {
            capabilities: Changes::between(
                &from.map(Capability::requested_by).unwrap_or_default(),
                &Capability::requested_by(to),
            ),
            hooks: each(|m| {
                m.hooks
                    .iter()
                    .map(|h| h.point.as_str().to_owned())
                    .collect()
            }),
            tools: each(|m| m.tools.iter().map(|t| t.name.clone()).collect()),
            providers: each(|m| m.providers.iter().map(|p| p.name.clone()).collect()),
            services: each(|m| m.services.iter().map(|s| s.name.clone()).collect()),
            observations: each(|m| {
                m.observer
                    .iter()
                    .flat_map(|o| o.kinds.iter().map(|k| k.as_str().to_owned()))
                    .collect()
            }),
            settings,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn manifest(extra: &str) -> Manifest {
        let text = format!(
            "[plugin]\nid = \"acme.demo\"\nversion = \"1.0.0\"\ncontract = \"yoi:plugin@0.5.0\"\n\
             [runtime]\nkind = \"wasm-component\"\nartifact = \"demo.wasm\"\n\
             digest = \"sha256:{}\"\n{extra}",
            "0".repeat(64)
        );
        Manifest::parse(&text).unwrap_or_else(|d| panic!("{d:?}\n{text}"))
    }

    #[test]
    fn an_upgrade_lists_what_it_adds_removes_and_keeps() {
        let from = manifest(
            "[[hooks]]\npoint = \"tool.pre_exec\"\n\
             [[tools]]\nname = \"old_tool\"\ndescription = \"d\"\ninput_schema = { type = \"object\" }\n\
             [capabilities]\nhttps = [\"api.example.com\", \"old.example.com\"]\n\
             [config.level]\ntype = \"integer\"\n\
             [config.gone]\ntype = \"string\"\n\
             [config.later]\ntype = \"string\"\n",
        );
        let to = manifest(
            "[[hooks]]\npoint = \"tool.pre_exec\"\n[[hooks]]\npoint = \"tool.post_exec\"\n\
             [[tools]]\nname = \"new_tool\"\ndescription = \"d\"\ninput_schema = { type = \"object\" }\n\
             [capabilities]\nhttps = [\"api.example.com\", \"new.example.com\"]\n\
             [config.level]\ntype = \"string\"\n\
             [config.later]\ntype = \"string\"\nrequired = true\n\
             [config.token]\ntype = \"string\"\nrequired = true\nsecret = true\n",
        );
        let diff = ManifestDiff::between(Some(&from), &to);
        let names = |c: &[Capability]| c.iter().map(|c| c.to_string()).collect::<Vec<_>>();
        assert_eq!(names(&diff.capabilities.added), ["https:new.example.com"]);
        assert_eq!(names(&diff.capabilities.removed), ["https:old.example.com"]);
        assert_eq!(
            names(&diff.capabilities.unchanged),
            ["https:api.example.com"]
        );
        assert_eq!(diff.hooks.added, ["tool.post_exec"]);
        assert_eq!(diff.hooks.unchanged, ["tool.pre_exec"]);
        assert_eq!(diff.tools.added, ["new_tool"]);
        assert_eq!(diff.tools.removed, ["old_tool"]);
        assert!(diff.providers.is_same() && diff.services.is_same());
        assert_eq!(diff.settings.added, ["token"]);
        assert_eq!(diff.settings.removed, ["gone"]);
        assert_eq!(diff.settings.newly_required, ["later", "token"]);
        assert_eq!(
            diff.settings.changed_type,
            [TypeChange {
                name: "level".into(),
                from: SettingType::Integer,
                to: SettingType::String,
            }]
        );
    }

    #[test]
    fn a_first_activation_adds_everything() {
        let to = manifest(
            "[capabilities]\nsecrets = [\"api_key\"]\n[[hooks]]\npoint = \"host.start\"\n",
        );
        let diff = ManifestDiff::between(None, &to);
        assert_eq!(diff.capabilities.added.len(), 1);
        assert!(diff.capabilities.removed.is_empty() && diff.capabilities.unchanged.is_empty());
        assert_eq!(diff.hooks.added, ["host.start"]);
    }

    #[test]
    fn the_same_version_changes_nothing() {
        let m = manifest(
            "[[hooks]]\npoint = \"host.start\"\n[capabilities]\nhttps = [\"api.example.com\"]\n",
        );
        let diff = ManifestDiff::between(Some(&m), &m);
        assert!(diff.capabilities.is_same() && diff.hooks.is_same() && diff.tools.is_same());
        assert_eq!(diff.capabilities.unchanged.len(), 1);
    }
}
