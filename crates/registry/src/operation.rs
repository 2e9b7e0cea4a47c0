//! Registry writes as data: an [`Operation`] is what an operator's client
//! (the control plane's HTTP API, a script in the ops page) sends, and an
//! [`Answer`] is what it gets back: `{ ok, error?, audit, record? }`, with
//! the audit record the operation wrote, failures included.

use std::time::Duration;

use semver::Version;
use serde::{Deserialize, Serialize};
use yoi_manifest::{Compat, Package, Rollout, Scope};

use crate::config::NewValue;
use crate::error::RegistryError;
use crate::model::AuditRecord;
use crate::registry::{Activation, Audited, Registry};
use crate::store::Store;

/// One registry write (publishing, which carries a package, is
/// [`Registry::publish_answer`]). In JSON, `op` names
/// the operation: `{"op": "activate", "plugin": "acme.guard", "version":
/// "1.2.0", "scope": "canary", "rollout_pct": 25}`. Unknown fields are
/// refused.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case", deny_unknown_fields)]
pub enum Operation {
    /// Make a version active (default scope `all`, 100 %).
    Activate {
        /// Plugin id.
        plugin: String,
        /// Version.
        version: Version,
        /// Which hosts.
        #[serde(default = "all_hosts")]
        scope: Scope,
        /// Which share of subjects, 0–100.
        #[serde(default = "everyone")]
        rollout_pct: u8,
    },
    /// Stop the active version.
    Deactivate {
        /// Plugin id.
        plugin: String,
        /// Version.
        version: Version,
    },
    /// Return to an earlier version.
    Rollback {
        /// Plugin id.
        plugin: String,
        /// The earlier version.
        version: Version,
    },
    /// Grant requested capabilities (`yoi grant` forms).
    Grant {
        /// Plugin id.
        plugin: String,
        /// Capabilities.
        capabilities: Vec<String>,
    },
    /// Record refusals of requested capabilities.
    Deny {
        /// Plugin id.
        plugin: String,
        /// Capabilities.
        capabilities: Vec<String>,
    },
    /// Remove grants or refusals.
    Revoke {
        /// Plugin id.
        plugin: String,
        /// Capabilities, as decided.
        capabilities: Vec<String>,
    },
    /// Allow a disabled plugin to be activated again.
    Enable {
        /// Plugin id.
        plugin: String,
    },
    /// Stop a plugin from being activated.
    Disable {
        /// Plugin id.
        plugin: String,
        /// Why, for the audit log.
        reason: String,
    },
    /// Remove a version that is not active, or (no version) every version.
    Remove {
        /// Plugin id.
        plugin: String,
        /// The version; absent: all of them.
        #[serde(default)]
        version: Option<Version>,
    },
    /// Delete old events and unreferenced artifacts.
    Prune {
        /// Age of the oldest events kept, in seconds; absent: keep all.
        #[serde(default)]
        events_older_than_secs: Option<u64>,
    },
    /// Set a setting's value (`yoi config set`); a secret's is sealed.
    /// Give `value` (JSON) or `text` (as typed on a command line, read as
    /// the setting's type), not both.
    ConfigSet {
        /// Plugin id.
        plugin: String,
        /// The setting.
        key: String,
        /// The value, as JSON.
        #[serde(default)]
        value: Option<serde_json::Value>,
        /// The value as text, read as the setting's type.
        #[serde(default)]
        text: Option<String>,
        /// Which hosts (default `all`; a scope's value wins over `all`'s).
        #[serde(default = "all_hosts")]
        scope: Scope,
    },
    /// Remove a setting's value for a scope.
    ConfigUnset {
        /// Plugin id.
        plugin: String,
        /// The setting.
        key: String,
        /// Which hosts (default `all`).
        #[serde(default = "all_hosts")]
        scope: Scope,
    },
    /// Forget hosts that have not reported for a while (`yoi prune
    /// --hosts-silent-for`).
    ForgetHosts {
        /// Seconds without a report.
        silent_for_secs: u64,
    },
    /// Seal every secret setting value with a new key (`yoi config
    /// rotate-key`).
    ConfigRotateKey {},
    /// Stop serving a remote MCP server's tools and forget it.
    McpServerRemove {
        /// The server's name.
        name: String,
    },
    /// Pin an MCP server's changed tool list (`yoi mcp-server approve`);
    /// with `digest`, only if the waiting list is still that one.
    McpServerApprove {
        /// The server's name.
        name: String,
        /// The digest of the list the operator saw.
        #[serde(default)]
        digest: Option<String>,
    },
    /// Wipe the registry; `confirm` must be `true`.
    Clear {
        /// Says the caller means it.
        confirm: bool,
    },
}

fn all_hosts() -> Scope {
    Scope::All
}

fn everyone() -> u8 {
    100
}

/// What every registry write answers.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Answer {
    /// Whether it took effect.
    pub ok: bool,
    /// Why not, with its code and fix, when it did not.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// The audit record it wrote (a refusal is audited too); absent only
    /// when the store could not be written at all.
    pub audit: Option<AuditRecord>,
    /// What it produced, when it returns something: the version record,
    /// the capabilities decided, what was pruned.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub record: Option<serde_json::Value>,
    /// What took effect but deserves a look, e.g. an activated version
    /// handling a host-defined point no host declares.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<String>,
}

/// An operation's outcome as an answer.
fn answered<T: Serialize>(done: Audited<T>) -> Answer {
    match done.result {
        Ok(value) => Answer {
            ok: true,
            error: None,
            audit: done.audit,
            record: serde_json::to_value(value).ok().filter(|v| !v.is_null()),
            warnings: Vec::new(),
        },
        Err(e) => Answer {
            ok: false,
            error: Some(e.to_string()),
            audit: done.audit,
            record: None,
            warnings: Vec::new(),
        },
    }
}

impl<S: Store> Registry<S> {
    /// Publishes `package` as `actor` ([`Registry::publish`]) and answers
    /// for it, with the audit record it wrote.
    /// `source` is the OCI reference it was pulled from, if it was.
    pub fn publish_answer(
        &self,
        package: &Package,
        compat: &Compat,
        actor: &str,
        source: Option<&crate::OciSource>,
    ) -> Answer {
        answered(self.publish_audited(package, compat, actor, source))
    }

    /// Refuses a request that never reached an operation (it does not
    /// parse, it lacks a confirmation, its package would not load): the
    /// refusal is audited as `action` and answered like any other.
    pub fn refused(&self, actor: &str, action: &str, why: &str) -> Answer {
        answered(match self.record_refusal(actor, action, None, None, why) {
            Ok(record) => Audited::<()> {
                result: Err(RegistryError::Invalid(why.to_owned())),
                audit: Some(record),
            },
            Err(e) => Audited::failed(e),
        })
    }

    /// What an activation of `plugin@version` deserves a warning for.
    pub fn activation_warnings(&self, plugin: &str, version: &Version) -> Vec<String> {
        let Ok(Some(record)) = self
            .versions(plugin)
            .map(|all| all.into_iter().find(|v| &v.version == version))
        else {
            return Vec::new();
        };
        match self.undeclared_points(&record) {
            Ok(points) => points
                .into_iter()
                .map(|p| {
                    format!(
                        "{plugin}@{version} handles `{p}`, which no host reporting to this registry declares: its handler runs nowhere until a host declares the point (docs/hooks.md, \"Host-defined points\")"
                    )
                })
                .collect(),
            Err(e) => vec![format!("could not check the host-defined points it handles: {e}")],
        }
    }

    /// Applies `operation` as `actor` and answers for it.
    pub fn apply(&self, operation: &Operation, actor: &str) -> Answer {
        match operation {
            Operation::Activate {
                plugin,
                version,
                scope,
                rollout_pct,
            } => {
                let how = Activation {
                    actor: actor.to_owned(),
                    rollout: Rollout {
                        scope: *scope,
                        percent: *rollout_pct,
                    },
                };
                let mut answer = answered(self.activate_audited(plugin, version, &how));
                answer.warnings = self.activation_warnings(plugin, version);
                answer
            }
            Operation::Deactivate { plugin, version } => {
                answered(self.deactivate_audited(plugin, version, actor))
            }
            Operation::Rollback { plugin, version } => {
                answered(self.rollback_audited(plugin, version, actor))
            }
            Operation::Grant {
                plugin,
                capabilities,
            } => answered(self.grant_audited(plugin, capabilities, true, actor)),
            Operation::Deny {
                plugin,
                capabilities,
            } => answered(self.grant_audited(plugin, capabilities, false, actor)),
            Operation::Revoke {
                plugin,
                capabilities,
            } => answered(self.revoke_audited(plugin, capabilities, actor)),
            Operation::Enable { plugin } => answered(self.enable_audited(plugin, actor)),
            Operation::Disable { plugin, reason } => {
                answered(self.disable_audited(plugin, reason, actor))
            }
            Operation::Remove {
                plugin,
                version: Some(version),
            } => answered(self.remove_audited(plugin, version, actor)),
            Operation::Remove {
                plugin,
                version: None,
            } => answered(self.remove_all_audited(plugin, actor)),
            Operation::Prune {
                events_older_than_secs,
            } => {
                let age = events_older_than_secs.map(Duration::from_secs);
                answered(self.prune_audited(age, actor))
            }
            Operation::ConfigSet {
                plugin,
                key,
                value,
                text,
                scope,
            } => {
                let value = match (value, text) {
                    (Some(v), None) => NewValue::Json(v.clone()),
                    (None, Some(t)) => NewValue::Text(t.clone()),
                    _ => {
                        return self.refused(
                            actor,
                            "config_set",
                            "config_set takes the value as `value` (JSON) or as `text`, one of them",
                        );
                    }
                };
                answered(self.set_config_audited(plugin, *scope, key, value, actor))
            }
            Operation::ConfigUnset { plugin, key, scope } => {
                answered(self.unset_config_audited(plugin, *scope, key, actor))
            }
            Operation::ForgetHosts { silent_for_secs } => {
                let silent = Duration::from_secs(*silent_for_secs);
                answered(self.forget_hosts_audited(silent, actor))
            }
            Operation::ConfigRotateKey {} => answered(self.rotate_config_key_audited(actor)),
            Operation::McpServerRemove { name } => {
                answered(self.remove_mcp_server_audited(name, actor))
            }
            Operation::McpServerApprove { name, digest } => {
                answered(self.approve_mcp_server_audited(name, digest.as_deref(), actor))
            }
            Operation::Clear { confirm: true } => answered(self.clear_audited(actor)),
            Operation::Clear { confirm: false } => self.refused(
                actor,
                "clear",
                "clear wipes every version, grant and stored artifact: send `\"confirm\": true` to mean it",
            ),
        }
    }
}
