//! Operators' values for plugins' settings (`[config]` in `plugin.toml`):
//! set per plugin and scope, checked against the schema of the version
//! they run with when set and again when another version is activated,
//! audited without ever recording a secret, and sealed at rest when the
//! setting is secret (docs/configuration.md).

use std::collections::BTreeMap;

use serde_json::Value;
use yoi_manifest::{Scope, Setting};

use crate::config_rules::{governing, governing_for, open, setting, shown};
use crate::error::RegistryError;
use crate::model::{ConfigRecord, VersionRecord};
use crate::model::{manifest_of, now_ms};
use crate::registry::{Audited, Registry};
use crate::sealed::row;
use crate::store::Store;

/// A value as an operator gives it.
#[derive(Debug, Clone, PartialEq)]
pub enum NewValue {
    /// JSON (the HTTP API, scripts).
    Json(Value),
    /// Text from a command line: taken as it is by a `string` setting,
    /// read as JSON by the others.
    Text(String),
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
        self.set_config_audited(plugin, scope, key, value, actor)
            .result
    }

    /// [`Registry::set_config`] with the audit record it wrote.
    pub(crate) fn set_config_audited(
        &self,
        plugin: &str,
        scope: Scope,
        key: &str,
        value: NewValue,
        actor: &str,
    ) -> Audited<ConfigRecord> {
        // Only a secret needs the key; creating it first keeps the write
        // below one transaction.
        let needs_key = self.store.read(|tx| {
            let r = governing_for(tx, plugin, key)?;
            Ok(manifest_of(&r)?.setting(key).is_some_and(|s| s.secret))
        });
        let keys = match needs_key.map(|secret| secret.then(|| self.config_keys(true))) {
            Ok(Some(Err(e))) => return Audited::failed(e),
            Ok(Some(Ok(keys))) => Some(keys),
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
        self.unset_config_audited(plugin, scope, key, actor).result
    }

    /// [`Registry::unset_config`] with the audit record it wrote.
    pub(crate) fn unset_config_audited(
        &self,
        plugin: &str,
        scope: Scope,
        key: &str,
        actor: &str,
    ) -> Audited<()> {
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
        self.rotate_config_key_audited(actor).result
    }

    /// [`Registry::rotate_config_key`] with the audit record it wrote.
    pub(crate) fn rotate_config_key_audited(&self, actor: &str) -> Audited<usize> {
        let new = match self.config_keys(true).and_then(|old| old.with_new_key()) {
            Ok(new) => new,
            Err(e) => return Audited::failed(e),
        };
        self.audited(actor, "config_rotate_key", None, None, |tx| {
            let mut n = 0;
            for mut r in tx.config(None)?.into_iter().filter(|r| r.secret) {
                let aad = row(r.plugin.as_str(), r.scope.as_str(), &r.key);
                let sealed = r.sealed.as_deref().unwrap_or_default();
                let plain = new.open(&aad, sealed)?;
                r.sealed = Some(new.seal(&aad, &plain)?);
                tx.put_config(&r)?;
                n += 1;
            }
            // MCP servers' tokens are sealed with the same keys.
            for mut s in tx.mcp_servers()? {
                let Some(sealed) = s.sealed_token.as_deref() else {
                    continue;
                };
                let aad = crate::mcp_servers::token_row(s.name.as_str());
                let plain = new.open(&aad, sealed)?;
                s.sealed_token = Some(new.seal(&aad, &plain)?);
                tx.put_mcp_server(&s)?;
                n += 1;
            }
            Ok((
                n,
                format!("sealed {n} secret values with key `{}`", new.current()),
            ))
        })
        .and_then(|n| {
            self.set_keys(new.keep_newest()?);
            Ok(n)
        })
    }
}
