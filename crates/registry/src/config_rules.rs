//! The rules operators' setting values meet, over one transaction: which
//! version a value is checked against, whether a version can run with the
//! values stored, and how a value shows in the audit log. Used by the
//! lifecycle operations (`registry`) and the settings operations
//! (`config`) alike (docs/configuration.md).

use serde_json::Value;
use yoi_manifest::{Manifest, Scope, Setting};

use crate::error::RegistryError;
use crate::model::{ConfigRecord, VersionRecord, manifest_of};
use crate::sealed::{ConfigKeys, row};
use crate::store::Tx;

/// The version a value of `key` is checked against: the one that governs
/// the plugin's settings ([`governing`]), or, when it does not declare
/// `key`, the newest version that does: a setting a newer version adds is
/// set before upgrading to it (its value is given to no version that does
/// not declare it).
pub(crate) fn governing_for(
    tx: &mut dyn Tx,
    plugin: &str,
    key: &str,
) -> Result<VersionRecord, RegistryError> {
    let r = governing(tx, plugin)?;
    if manifest_of(&r)?.setting(key).is_some() {
        return Ok(r);
    }
    for newer in tx.versions(Some(plugin))?.into_iter().rev() {
        if newer.seq > r.seq && manifest_of(&newer)?.setting(key).is_some() {
            return Ok(newer);
        }
    }
    Ok(r)
}

/// The version whose settings values are checked against: the active one,
/// else the newest published.
pub(crate) fn governing(tx: &mut dyn Tx, plugin: &str) -> Result<VersionRecord, RegistryError> {
    if let Some(active) = tx.active(plugin)? {
        return Ok(active);
    }
    tx.versions(Some(plugin))?
        .pop()
        .ok_or_else(|| RegistryError::Invalid(format!(
            "plugin {plugin} has no published version, so it has no settings\n  fix: `yoi list` shows the plugins; publish it first"
        )))
}

pub(crate) fn setting<'m>(
    manifest: &'m Manifest,
    r: &VersionRecord,
    key: &str,
) -> Result<&'m Setting, RegistryError> {
    manifest
        .setting(key)
        .ok_or_else(|| RegistryError::ConfigUndeclared {
            plugin: r.plugin.to_string(),
            version: r.version.to_string(),
            key: key.to_owned(),
            declared: manifest.config.iter().map(|s| s.name.clone()).collect(),
        })
}

/// A stored value as JSON: plain, or opened with `keys`.
pub(crate) fn open(
    record: &ConfigRecord,
    keys: Option<&ConfigKeys>,
) -> Result<Value, RegistryError> {
    match (&record.value, &record.sealed) {
        (Some(value), _) => Ok(value.clone()),
        (None, Some(sealed)) => {
            let keys = keys.ok_or_else(|| {
                RegistryError::ConfigKey(format!(
                    "the secret `{}` of {} is sealed, and the registry has no key file",
                    record.key, record.plugin
                ))
            })?;
            let aad = row(record.plugin.as_str(), record.scope.as_str(), &record.key);
            let plain = keys.open(&aad, sealed)?;
            serde_json::from_slice(&plain).map_err(|e| {
                RegistryError::ConfigKey(format!(
                    "the secret `{}` of {} opened to something that is not JSON: {e}",
                    record.key, record.plugin
                ))
            })
        }
        (None, None) => Err(RegistryError::Schema(format!(
            "the value of `{}` of {} is missing",
            record.key, record.plugin
        ))),
    }
}

/// Whether `target` can run with the values stored for its plugin, on
/// hosts of `scope`: every value of a setting it declares must be secret as
/// declared and meet its schema, and every required setting must have a
/// value for `all` or `scope`. Every problem is listed with its fix.
pub(crate) fn check_config(
    tx: &mut dyn Tx,
    keys: Option<&ConfigKeys>,
    target: &VersionRecord,
    scope: Scope,
) -> Result<(), RegistryError> {
    let manifest = manifest_of(target)?;
    let plugin = target.plugin.as_str();
    let stored = tx.config(Some(plugin))?;
    let mut problems = Vec::new();
    for r in &stored {
        let unset = format!("`yoi config unset {plugin} {} --scope {}`", r.key, r.scope);
        // A value of a setting this version does not declare is not given
        // to it (and applies again to a version that declares it, checked
        // then): it never blocks a rollback.
        let Some(setting) = manifest.setting(&r.key) else {
            continue;
        };
        if setting.secret != r.secret {
            let (was, now) = if r.secret {
                ("secret", "plain")
            } else {
                ("plain", "secret")
            };
            problems.push(format!(
                "  - `{}` (scope {}) was set as a {was} value but {} declares it {now}\n    fix: {unset}, then set it again",
                r.key, r.scope, target.version
            ));
            continue;
        }
        if let Err(why) = setting.check(&open(r, keys)?) {
            problems.push(format!(
                "  - the value of `{}` (scope {}) no longer fits: {why}\n    fix: {unset}, or `yoi config set {plugin} {} VALUE --scope {}` with a value {} accepts, before activating",
                r.key, r.scope, r.key, r.scope, target.version
            ));
        }
    }
    for s in manifest.config.iter().filter(|s| s.required) {
        let has = stored
            .iter()
            .any(|r| r.key == s.name && (r.scope == Scope::All || r.scope == scope));
        if !has {
            problems.push(format!(
                "  - `{}` is required by {} and has no value for scope {scope}\n    fix: `yoi config set {plugin} {} VALUE`",
                s.name, target.version, s.name
            ));
        }
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(RegistryError::ConfigIncompatible {
            plugin: plugin.to_owned(),
            version: target.version.to_string(),
            problems: problems.join("\n"),
        })
    }
}

/// Deletes every value of a plugin (it has no version left).
pub(crate) fn forget_config(tx: &mut dyn Tx, plugin: &str) -> Result<(), RegistryError> {
    for r in tx.config(Some(plugin))? {
        tx.delete_config(plugin, r.scope.as_str(), &r.key)?;
    }
    Ok(())
}

/// How a value shows in the audit log: never a secret's.
pub(crate) fn shown(value: &Value, secret: bool) -> String {
    if secret {
        return "a secret value (not recorded)".into();
    }
    let text = value.to_string();
    if text.chars().count() > 200 {
        format!("{}…", text.chars().take(200).collect::<String>())
    } else {
        text
    }
}
