//! Operators' values for plugins' settings (`[config]` in `plugin.toml`):
//! set per plugin and scope, checked against the schema of the version
//! they run with when set and again when another version is activated,
//! audited without ever recording a secret, and sealed at rest when the
//! setting is secret (docs/configuration.md).

use std::collections::BTreeMap;

use serde_json::Value;
use yoi_manifest::{Manifest, Scope, Setting};

use crate::error::RegistryError;
use crate::model::{ConfigRecord, VersionRecord};
use crate::registry::{Registry, manifest_of, now_ms};
use crate::sealed::{ConfigKeys, row};
use crate::store::{Store, Tx};

/// A value as an operator gives it.
#[derive(Debug, Clone, PartialEq)]
pub enum NewValue {
    /// JSON (the HTTP API, scripts).
    Json(Value),
    /// Text from a command line: taken as it is by a `string` setting,
    /// read as JSON by the others.
    Text(String),
}

/// The version a value of `key` is checked against: the one that governs
/// the plugin's settings ([`governing`]), or, when it does not declare
/// `key`, the newest version that does: a setting a newer version adds is
/// set before upgrading to it (its value is given to no version that does
/// not declare it).
fn governing_for(tx: &mut dyn Tx, plugin: &str, key: &str) -> Result<VersionRecord, RegistryError> {
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
fn governing(tx: &mut dyn Tx, plugin: &str) -> Result<VersionRecord, RegistryError> {
    if let Some(active) = tx.active(plugin)? {
        return Ok(active);
    }
    tx.versions(Some(plugin))?
        .pop()
        .ok_or_else(|| RegistryError::Invalid(format!(
            "plugin {plugin} has no published version, so it has no settings\n  fix: `yoi list` shows the plugins; publish it first"
        )))
}

fn setting<'m>(
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
fn open(record: &ConfigRecord, keys: Option<&ConfigKeys>) -> Result<Value, RegistryError> {
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
fn shown(value: &Value, secret: bool) -> String {
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

impl<S: Store> Registry<S> {
    /// Sets `key` of `plugin` for hosts of `scope`. The value must be of a
    /// setting the plugin's active version (else its newest) declares and
    /// meet its schema; a secret one is sealed before it is stored, and the
    /// audit log records that it was set, never the value.
    pub fn set_config(
        &self,
        plugin: &str,
        scope: Scope,
        key: &str,
        value: NewValue,
        actor: &str,
    ) -> Result<ConfigRecord, RegistryError> {
        // Only a secret needs the key; creating it first keeps the write
        // below one transaction.
        let needs_key = self.store.read(|tx| {
            let r = governing_for(tx, plugin, key)?;
            Ok(manifest_of(&r)?.setting(key).is_some_and(|s| s.secret))
        });
        let keys = match needs_key {
            Ok(true) => Some(self.config_keys(true)?),
            _ => None,
        };
        self.audited(actor, "config_set", Some(plugin), None, |tx| {
            let r = governing_for(tx, plugin, key)?;
            let manifest = manifest_of(&r)?;
            let setting = setting(&manifest, &r, key)?;
            let invalid = |why: String| RegistryError::ConfigInvalid {
                plugin: plugin.to_owned(),
                version: r.version.to_string(),
                why,
            };
            let value = match &value {
                NewValue::Json(v) => {
                    setting.check(v).map_err(invalid)?;
                    v.clone()
                }
                NewValue::Text(text) => setting.parse_value(text).map_err(invalid)?,
            };
            let mut record = ConfigRecord {
                plugin: r.plugin.clone(),
                scope,
                key: key.to_owned(),
                value: Some(value.clone()),
                secret: setting.secret,
                set_by: actor.to_owned(),
                set_at: now_ms(),
                sealed: None,
            };
            if setting.secret {
                let keys = keys.as_ref().ok_or_else(|| {
                    RegistryError::ConfigKey(
                        "the setting became secret while it was set; try again".into(),
                    )
                })?;
                let aad = row(plugin, scope.as_str(), key);
                record.sealed = Some(keys.seal(&aad, value.to_string().as_bytes())?);
                record.value = None;
            }
            tx.put_config(&record)?;
            let reason = format!(
                "set `{key}` for scope {scope} to {} (checked against {})",
                shown(&value, setting.secret),
                r.version
            );
            Ok((record, reason))
        })
    }

    /// Removes the value of `key` for `scope`; the plugin then runs with
    /// the value for `all`, or the default.
    pub fn unset_config(
        &self,
        plugin: &str,
        scope: Scope,
        key: &str,
        actor: &str,
    ) -> Result<(), RegistryError> {
        self.audited(actor, "config_unset", Some(plugin), None, |tx| {
            if !tx.delete_config(plugin, scope.as_str(), key)? {
                return Err(RegistryError::ConfigNotSet {
                    plugin: plugin.to_owned(),
                    scope: scope.to_string(),
                    key: key.to_owned(),
                });
            }
            Ok(((), format!("unset `{key}` for scope {scope}")))
        })
    }

    /// The values set for `plugin`, by scope and key; secrets without
    /// their value.
    pub fn config(&self, plugin: &str) -> Result<Vec<ConfigRecord>, RegistryError> {
        self.store.read(|tx| tx.config(Some(plugin)))
    }

    /// The settings values are checked against for `plugin`: its active
    /// version's (else its newest's), with that version.
    pub fn settings(&self, plugin: &str) -> Result<(VersionRecord, Vec<Setting>), RegistryError> {
        self.store.read(|tx| {
            let r = governing(tx, plugin)?;
            let settings = manifest_of(&r)?.config;
            Ok((r, settings))
        })
    }

    /// What `plugin` runs with on hosts of `scope`, given the `settings`
    /// of its version: every declared setting with a value, the scope's
    /// over `all`'s over the default, secrets opened. For hosts; never
    /// print it.
    pub fn effective_config(
        &self,
        plugin: &str,
        settings: &[Setting],
        scope: Scope,
    ) -> Result<serde_json::Map<String, Value>, RegistryError> {
        let set = self.deployed_config(&self.config(plugin)?, plugin, scope)?;
        let set = set.into_iter().collect::<BTreeMap<_, _>>();
        Ok(yoi_manifest::effective(settings, &set))
    }

    /// The operator's values of `plugin` among `stored` (a
    /// [`Deployment`](crate::Deployment)'s `config`) for hosts of `scope`:
    /// the scope's over `all`'s, secrets opened. Defaults are not applied:
    /// the version's settings do that.
    pub fn deployed_config(
        &self,
        stored: &[ConfigRecord],
        plugin: &str,
        scope: Scope,
    ) -> Result<serde_json::Map<String, Value>, RegistryError> {
        let mine: Vec<&ConfigRecord> = stored
            .iter()
            .filter(|r| r.plugin.as_str() == plugin)
            .collect();
        // The key is read only when there is a secret to open.
        let keys = if mine.iter().any(|r| r.secret) {
            Some(self.config_keys(false)?)
        } else {
            None
        };
        let mut set = serde_json::Map::new();
        // `all` first, so the host's own scope wins.
        for r in mine.iter().filter(|r| r.scope == Scope::All).chain(
            mine.iter()
                .filter(|r| r.scope == scope && scope != Scope::All),
        ) {
            set.insert(r.key.clone(), open(r, keys.as_ref())?);
        }
        Ok(set)
    }

    /// Seals every secret value again with a new key, then drops the old
    /// keys. The key file holds both keys until every value is resealed, so
    /// a crash at any point leaves every value readable. Returns how many
    /// values were resealed.
    pub fn rotate_config_key(&self, actor: &str) -> Result<usize, RegistryError> {
        let old = self.config_keys(true)?;
        let new = old.with_new_key()?;
        let n = self.audited(actor, "config_rotate_key", None, None, |tx| {
            let mut n = 0;
            for mut r in tx.config(None)?.into_iter().filter(|r| r.secret) {
                let aad = row(r.plugin.as_str(), r.scope.as_str(), &r.key);
                let sealed = r.sealed.as_deref().unwrap_or_default();
                let plain = new.open(&aad, sealed)?;
                r.sealed = Some(new.seal(&aad, &plain)?);
                tx.put_config(&r)?;
                n += 1;
            }
            Ok((
                n,
                format!("sealed {n} secret values with key `{}`", new.current()),
            ))
        })?;
        let newest = new.keep_newest()?;
        self.set_keys(newest);
        Ok(n)
    }
}

/// A setting value as stores keep it: a secret's sealed text, else JSON.
pub(crate) fn stored_value(r: &ConfigRecord) -> Result<String, RegistryError> {
    match (&r.sealed, &r.value) {
        (Some(sealed), _) if r.secret => Ok(sealed.clone()),
        (_, Some(value)) if !r.secret => Ok(value.to_string()),
        _ => Err(RegistryError::Schema(format!(
            "config {}/{}: a secret is stored sealed, a plain value as JSON",
            r.plugin, r.key
        ))),
    }
}

/// A stored setting row read back ([`stored_value`]'s inverse).
pub(crate) fn stored_record(
    plugin: &str,
    scope: &str,
    key: String,
    value: String,
    secret: bool,
    set_by: String,
    set_at: i64,
) -> Result<ConfigRecord, RegistryError> {
    let bad =
        |why: String| RegistryError::Schema(format!("config row {plugin}/{scope}/{key}: {why}"));
    let (value, sealed) = if secret {
        (None, Some(value))
    } else {
        (
            Some(serde_json::from_str(&value).map_err(|e| bad(e.to_string()))?),
            None,
        )
    };
    Ok(ConfigRecord {
        plugin: yoi_manifest::PluginId::new(plugin).map_err(|e| bad(e.to_string()))?,
        scope: scope.parse().map_err(|e: String| bad(e))?,
        key,
        value,
        secret,
        set_by,
        set_at,
        sealed,
    })
}
