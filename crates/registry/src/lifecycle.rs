//! The lifecycle operations: publish, activate, deactivate, roll back,
//! grant and revoke, enable and disable, remove, prune and clear. Each runs
//! in one transaction with its audit record (`Registry::audited`).

use semver::Version;
use yoi_manifest::{Compat, Digest, Package};

use crate::config_rules::check_config;
use crate::model::{manifest_of, now_ms};
use yoi_manifest::{Capability, Rollout};

use crate::error::RegistryError;
use crate::model::{AuditRecord, GrantRecord, Outcome, Pruned, State, VersionRecord};
use crate::model::{OciSource, Provenance};
use crate::registry::{Activation, Audited, Published, Registry};
use crate::store::{Store, Tx};
use crate::trust::{Checkpoint, TrustRefusal};

pub(crate) fn wrong_state(r: &VersionRecord, why: impl Into<String>) -> RegistryError {
    RegistryError::WrongState {
        plugin: r.plugin.to_string(),
        version: r.version.to_string(),
        state: r.state.as_str(),
        why: why.into(),
    }
}

pub(crate) fn find(
    tx: &mut dyn Tx,
    plugin: &str,
    version: &Version,
) -> Result<VersionRecord, RegistryError> {
    tx.version(plugin, version)?
        .ok_or_else(|| RegistryError::NotFound {
            plugin: plugin.to_owned(),
            version: version.to_string(),
        })
}

pub(crate) fn active_of(
    tx: &mut dyn Tx,
    plugin: &str,
) -> Result<Option<VersionRecord>, RegistryError> {
    tx.active(plugin)
}

/// Drops what the registry keeps per plugin once it has no version left.
pub(crate) fn forget_plugin(tx: &mut dyn Tx, plugin: &str) -> Result<(), RegistryError> {
    for g in tx.grants(Some(plugin))? {
        tx.delete_grant(plugin, &g.capability.to_string())?;
    }
    tx.set_disabled(plugin, None)?;
    crate::config_rules::forget_config(tx, plugin)
}

/// Refuses to run a version whose requested capabilities lack a decision.
/// The capabilities `r` requests that no decision covers yet: activation
/// needs one (a grant within it, or its denial) for each.
pub(crate) fn undecided(
    tx: &mut dyn Tx,
    r: &VersionRecord,
) -> Result<Vec<Capability>, RegistryError> {
    let decisions = tx.grants(Some(r.plugin.as_str()))?;
    Ok(Capability::requested_by(&manifest_of(r)?)
        .into_iter()
        .filter(|req| {
            !decisions.iter().any(|g| {
                if g.granted {
                    g.capability.within(req)
                } else {
                    g.capability == *req
                }
            })
        })
        .collect())
}

pub(crate) fn check_grants(tx: &mut dyn Tx, r: &VersionRecord) -> Result<(), RegistryError> {
    let missing: Vec<String> = undecided(tx, r)?.iter().map(|c| c.to_string()).collect();
    if missing.is_empty() {
        Ok(())
    } else {
        Err(RegistryError::GrantsMissing {
            plugin: r.plugin.to_string(),
            version: r.version.to_string(),
            missing,
        })
    }
}

pub(crate) fn check_enabled(tx: &mut dyn Tx, plugin: &str) -> Result<(), RegistryError> {
    match tx.disabled(Some(plugin))?.into_iter().next() {
        Some((plugin, reason)) => Err(RegistryError::Disabled { plugin, reason }),
        None => Ok(()),
    }
}

pub(crate) fn describe(rollout: Rollout) -> String {
    format!("scope {} at {}%", rollout.scope, rollout.percent)
}

/// The checks every publish runs on a package, whoever built it.
/// The trust check at activation: the version's stored signature against
/// the policy of the scope it is activated on.
fn check_trust(
    tx: &mut dyn Tx,
    r: &VersionRecord,
    scope: yoi_manifest::Scope,
) -> Result<(), RegistryError> {
    tx.trust_policy()?
        .check(
            r.plugin.as_str(),
            &r.manifest,
            &r.digest,
            r.provenance.signature.as_deref(),
            Checkpoint::Scope(scope),
            false,
        )
        .map(|_| ())
        .map_err(|refusal| trust_error(refusal, r.plugin.as_str(), &r.version.to_string()))
}

/// A trust refusal as the registry reports it.
pub fn trust_error(refusal: TrustRefusal, plugin: &str, version: &str) -> RegistryError {
    RegistryError::Trust {
        code: refusal.code,
        plugin: plugin.to_owned(),
        version: version.to_owned(),
        why: refusal.why,
        fix: refusal.fix,
    }
}

pub(crate) fn check_package(package: &Package, compat: &Compat) -> Result<(), RegistryError> {
    // The digest was verified when the package was opened (a `Package`
    // cannot be changed afterwards). Opened against the registry's own
    // support, it was inspected then: once per publish. Opened against
    // another host's, compatibility and the component are checked against
    // the registry's.
    if package.inspected_against() == Some(compat) {
        return Ok(());
    }
    let m = package.manifest();
    let mut problems = Vec::new();
    let found = m
        .compatibility(compat)
        .into_iter()
        .chain(yoi_manifest::inspect(m, package.artifact(), compat));
    for d in found {
        problems.push(format!(
            "{} {}: {}",
            d.code.as_str(),
            d.code.name(),
            d.message
        ));
    }
    if problems.is_empty() {
        return Ok(());
    }
    Err(RegistryError::PackageRejected {
        plugin: m.plugin.id.to_string(),
        version: m.plugin.version.to_string(),
        problems: problems
            .iter()
            .map(|p| format!("  {p}"))
            .collect::<Vec<_>>()
            .join("\n"),
    })
}

impl<S: Store> Registry<S> {
    /// [`Registry::audited`] for an operation on one existing version.
    pub(crate) fn on_version<R>(
        &self,
        actor: &str,
        action: &str,
        plugin: &str,
        version: &Version,
        mut op: impl FnMut(&mut dyn Tx, VersionRecord) -> Result<(R, String), RegistryError>,
    ) -> Audited<R> {
        let v = version.to_string();
        self.audited(actor, action, Some(plugin), Some(&v), |tx| {
            let target = find(tx, plugin, version)?;
            op(tx, target)
        })
    }

    /// Stores a package as a new version in state `published`, after the
    /// checks every publish runs, whoever builds the [`Package`]: the
    /// artifact's bytes must match the manifest's digest, and the component
    /// is inspected against the manifest and `compat` (the contract, allowed
    /// imports, declared hooks and tools, code limits). Hosts booting from
    /// the registry rely on that inspection. Publishing the same (id,
    /// version) with the same digest again changes nothing; with another
    /// digest it is refused. Every attempt is audited.
    pub fn publish(
        &self,
        package: &Package,
        compat: &Compat,
        actor: &str,
    ) -> Result<Published, RegistryError> {
        self.publish_audited(package, compat, actor, None).result
    }

    /// [`Registry::publish`] of a package pulled from an OCI registry:
    /// `source` (the reference and the digest it resolved to) is kept with
    /// the version and written in the audit log.
    pub fn publish_from(
        &self,
        package: &Package,
        compat: &Compat,
        actor: &str,
        source: &OciSource,
    ) -> Result<Published, RegistryError> {
        self.publish_audited(package, compat, actor, Some(source))
            .result
    }

    /// [`Registry::publish`] with the audit record it wrote.
    pub(crate) fn publish_audited(
        &self,
        package: &Package,
        compat: &Compat,
        actor: &str,
        source: Option<&OciSource>,
    ) -> Audited<Published> {
        let m = package.manifest();
        let plugin = m.plugin.id.as_str();
        let version = m.plugin.version.to_string();
        let digest = m.runtime.digest;
        let signature = package.signature();
        let from = source
            .map(|s| format!(" from {} ({})", s.reference, s.digest))
            .unwrap_or_default();
        self.audited(actor, "publish", Some(plugin), Some(&version), |tx| {
            check_package(package, compat)?;
            // Checked before anything is stored: a refused package leaves
            // no blob and no record.
            let signer = tx
                .trust_policy()?
                .check(
                    plugin,
                    package.manifest_text(),
                    &digest,
                    signature.map(|s| s.text()),
                    Checkpoint::Publish,
                    false,
                )
                .map_err(|r| trust_error(r, plugin, &version))?;
            let provenance = Provenance {
                signature: signature.map(|s| s.text().to_owned()),
                key_id: signature.map(|s| s.key_id().to_owned()),
                source: source.cloned(),
            };
            if let Some(mut existing) = tx.version(plugin, &m.plugin.version)? {
                if existing.digest == digest {
                    // A signature (or a source) arriving for a version
                    // published without one is kept: the bytes are the same.
                    let adds = (existing.provenance.signature.is_none()
                        && provenance.signature.is_some())
                        || (existing.provenance.source.is_none() && provenance.source.is_some());
                    if adds && existing.manifest == package.manifest_text() {
                        if existing.provenance.signature.is_none() {
                            existing.provenance.signature = provenance.signature.clone();
                            existing.provenance.key_id = provenance.key_id.clone();
                        }
                        if existing.provenance.source.is_none() {
                            existing.provenance.source = provenance.source.clone();
                        }
                        existing.updated_at = now_ms();
                        tx.update_version(&existing)?;
                        let done = Published {
                            record: existing,
                            created: false,
                        };
                        return Ok((
                            done,
                            format!("already published with the same digest{from}; signed by {signer}, kept"),
                        ));
                    }
                    let done = Published {
                        record: existing,
                        created: false,
                    };
                    return Ok((
                        done,
                        "already published with the same digest; nothing changed".into(),
                    ));
                }
                return Err(RegistryError::VersionImmutable {
                    plugin: plugin.to_owned(),
                    version: version.clone(),
                    existing: existing.digest.to_string(),
                    attempted: digest.to_string(),
                });
            }
            // A host booting from the registry has only plugin.toml and the
            // artifact, so a schema kept in another file would be lost.
            for tool in &m.tools {
                if let yoi_manifest::InputSchema::File(file) = &tool.input_schema {
                    return Err(RegistryError::SchemaFile {
                        plugin: plugin.to_owned(),
                        version: version.clone(),
                        tool: tool.name.clone(),
                        file: file.clone(),
                    });
                }
            }
            // The blob goes first: a record never points at a missing blob,
            // and a blob without a record is harmless.
            self.put_artifact(tx, &digest.to_string(), package.artifact())?;
            let now = now_ms();
            let mut record = VersionRecord {
                plugin: m.plugin.id.clone(),
                version: m.plugin.version.clone(),
                digest,
                manifest: package.manifest_text().to_owned(),
                state: State::Published,
                rollout: Rollout::default(),
                published_at: now,
                published_by: actor.to_owned(),
                updated_at: now,
                seq: 0,
                provenance,
            };
            record.seq = tx.insert_version(&record)?;
            Ok((
                Published {
                    record,
                    created: true,
                },
                format!("published with digest {digest}{from}; signed by {signer}"),
            ))
        })
    }

    /// Makes a version the active one of its plugin. The previously active
    /// version becomes `inactive`. Every capability the version requests must
    /// have an operator decision (see [`Registry::grant`]).
    pub fn activate(
        &self,
        plugin: &str,
        version: &Version,
        how: &Activation,
    ) -> Result<VersionRecord, RegistryError> {
        self.activate_audited(plugin, version, how).result
    }

    /// [`Registry::activate`] with the audit record it wrote.
    pub(crate) fn activate_audited(
        &self,
        plugin: &str,
        version: &Version,
        how: &Activation,
    ) -> Audited<VersionRecord> {
        let keys = self.config_keys(false).ok();
        self.on_version(&how.actor, "activate", plugin, version, |tx, mut target| {
            if how.rollout.percent > 100 {
                return Err(RegistryError::Invalid(format!(
                    "rollout {}% is out of range; use 0 to 100",
                    how.rollout.percent
                )));
            }
            check_enabled(tx, plugin)?;
            check_grants(tx, &target)?;
            check_config(tx, keys.as_ref(), &target, how.rollout.scope)?;
            // The policy may have changed since publish.
            check_trust(tx, &target, how.rollout.scope)?;
            let now = now_ms();
            let mut reason = format!("active for {}", describe(how.rollout));
            if let Some(mut previous) = active_of(tx, plugin)?
                && previous.version != target.version
            {
                previous.state = State::Inactive;
                previous.updated_at = now;
                tx.update_version(&previous)?;
                reason.push_str(&format!("; {} is now inactive", previous.version));
            }
            target.state = State::Active;
            target.rollout = how.rollout;
            target.updated_at = now;
            tx.update_version(&target)?;
            Ok((target, reason))
        })
    }

    /// Stops the active version; the plugin then has no active version.
    pub fn deactivate(
        &self,
        plugin: &str,
        version: &Version,
        actor: &str,
    ) -> Result<VersionRecord, RegistryError> {
        self.deactivate_audited(plugin, version, actor).result
    }

    /// [`Registry::deactivate`] with the audit record it wrote.
    pub(crate) fn deactivate_audited(
        &self,
        plugin: &str,
        version: &Version,
        actor: &str,
    ) -> Audited<VersionRecord> {
        self.on_version(actor, "deactivate", plugin, version, |tx, mut target| {
            if target.state != State::Active {
                return Err(wrong_state(
                    &target,
                    "only the active version can be deactivated",
                ));
            }
            target.state = State::Inactive;
            target.updated_at = now_ms();
            tx.update_version(&target)?;
            Ok((
                target,
                "deactivated; the plugin has no active version".into(),
            ))
        })
    }

    /// Returns to `version`, published before the active one: the active
    /// version becomes `rolled_back` and `version` active with its rollout.
    pub fn rollback(
        &self,
        plugin: &str,
        version: &Version,
        actor: &str,
    ) -> Result<VersionRecord, RegistryError> {
        self.rollback_audited(plugin, version, actor).result
    }

    /// [`Registry::rollback`] with the audit record it wrote.
    pub(crate) fn rollback_audited(
        &self,
        plugin: &str,
        version: &Version,
        actor: &str,
    ) -> Audited<VersionRecord> {
        let keys = self.config_keys(false).ok();
        self.on_version(actor, "rollback", plugin, version, |tx, mut target| {
            let Some(mut current) = active_of(tx, plugin)? else {
                return Err(wrong_state(
                    &target,
                    format!("{plugin} has no active version to roll back from; use `yoi activate {plugin}@{version}`"),
                ));
            };
            if current.version == target.version {
                return Err(wrong_state(&target, "it is the active version already"));
            }
            if target.seq > current.seq {
                return Err(wrong_state(
                    &target,
                    format!(
                        "it was published after the active version {}; rollback returns to an earlier version (use `yoi activate` to move forward)",
                        current.version
                    ),
                ));
            }
            check_enabled(tx, plugin)?;
            check_grants(tx, &target)?;
            check_config(tx, keys.as_ref(), &target, current.rollout.scope)?;
            let now = now_ms();
            current.state = State::RolledBack;
            current.updated_at = now;
            tx.update_version(&current)?;
            target.state = State::Active;
            target.rollout = current.rollout;
            target.updated_at = now;
            tx.update_version(&target)?;
            Ok((target, format!("rolled back from {}", current.version)))
        })
    }

    /// Records the operator's decisions on capabilities of `plugin`: grants
    /// (`granted = true`), which must lie within what some published version
    /// requests, or denials, which must name a requested capability exactly.
    pub fn grant(
        &self,
        plugin: &str,
        capabilities: &[String],
        granted: bool,
        actor: &str,
    ) -> Result<Vec<Capability>, RegistryError> {
        self.grant_audited(plugin, capabilities, granted, actor)
            .result
    }

    /// [`Registry::grant`] with the audit record it wrote.
    pub(crate) fn grant_audited(
        &self,
        plugin: &str,
        capabilities: &[String],
        granted: bool,
        actor: &str,
    ) -> Audited<Vec<Capability>> {
        let action = if granted { "grant" } else { "deny" };
        self.audited(actor, action, Some(plugin), None, |tx| {
            let mut requested = Vec::new();
            let mut plugin_id = None;
            for r in tx.versions(Some(plugin))? {
                plugin_id.get_or_insert_with(|| r.plugin.clone());
                for cap in Capability::requested_by(&manifest_of(&r)?) {
                    if !requested.contains(&cap) {
                        requested.push(cap);
                    }
                }
            }
            let names =
                |list: &[Capability]| list.iter().map(|c| c.to_string()).collect::<Vec<_>>();
            let mut done = Vec::new();
            for text in capabilities {
                let cap: Capability = text.parse()?;
                let ok = if granted {
                    requested.iter().any(|r| cap.within(r))
                } else {
                    requested.contains(&cap)
                };
                if !ok {
                    return Err(RegistryError::GrantNotRequested {
                        plugin: plugin.to_owned(),
                        capability: cap.to_string(),
                        why: if requested.is_empty() {
                            "no published version of it requests anything (or it is not published)"
                                .into()
                        } else {
                            "no published version requests it or anything that contains it".into()
                        },
                        requested: names(&requested),
                    });
                }
                // A capability was found within a request, so a version
                // (and with it the plugin's id) exists.
                let Some(id) = &plugin_id else { continue };
                tx.put_grant(&GrantRecord {
                    plugin: id.clone(),
                    capability: cap.clone(),
                    granted,
                    by: actor.to_owned(),
                    at: now_ms(),
                })?;
                done.push(cap);
            }
            let verb = if granted { "granted" } else { "denied" };
            Ok((done.clone(), format!("{verb} {}", names(&done).join(", "))))
        })
    }

    /// Removes decisions on capabilities of `plugin`.
    pub fn revoke(
        &self,
        plugin: &str,
        capabilities: &[String],
        actor: &str,
    ) -> Result<(), RegistryError> {
        self.revoke_audited(plugin, capabilities, actor).result
    }

    /// [`Registry::revoke`] with the audit record it wrote.
    pub(crate) fn revoke_audited(
        &self,
        plugin: &str,
        capabilities: &[String],
        actor: &str,
    ) -> Audited<()> {
        self.audited(actor, "revoke", Some(plugin), None, |tx| {
            let mut done = Vec::new();
            for text in capabilities {
                let cap = text.parse::<Capability>()?.to_string();
                if !tx.delete_grant(plugin, &cap)? {
                    return Err(RegistryError::Invalid(format!(
                        "{plugin} has no grant or denial for `{cap}`; `yoi show {plugin}` lists its grants"
                    )));
                }
                done.push(cap);
            }
            Ok(((), format!("revoked {}", done.join(", "))))
        })
    }

    /// Disables a plugin: it cannot be activated (or rolled back to) until
    /// enabled again. Hosts stop running it at their next reload.
    pub fn disable(&self, plugin: &str, reason: &str, actor: &str) -> Result<(), RegistryError> {
        self.disable_audited(plugin, reason, actor).result
    }

    /// [`Registry::disable`] with the audit record it wrote.
    pub(crate) fn disable_audited(&self, plugin: &str, reason: &str, actor: &str) -> Audited<()> {
        self.set_disabled_audited(
            actor,
            "disable",
            plugin,
            reason,
            format!("disabled: {reason}"),
        )
    }

    /// Disables a plugin on behalf of a host whose crash guard tripped. The
    /// audit entry has action `auto_disable`; re-enabling it is an operator's
    /// decision (`yoi enable`).
    pub fn auto_disable(
        &self,
        plugin: &str,
        reason: &str,
        host: &str,
    ) -> Result<(), RegistryError> {
        let done = format!("disabled by the crash guard: {reason}");
        self.set_disabled_audited(host, "auto_disable", plugin, reason, done)
            .result
    }

    /// The one way a plugin becomes disabled, audited as `action`.
    pub(crate) fn set_disabled_audited(
        &self,
        actor: &str,
        action: &str,
        plugin: &str,
        reason: &str,
        done: String,
    ) -> Audited<()> {
        self.audited(actor, action, Some(plugin), None, |tx| {
            if tx.versions(Some(plugin))?.is_empty() {
                return Err(RegistryError::Invalid(format!(
                    "plugin {plugin} is not published"
                )));
            }
            tx.set_disabled(plugin, Some(reason))?;
            Ok(((), done.clone()))
        })
    }

    /// Enables a disabled plugin.
    pub fn enable(&self, plugin: &str, actor: &str) -> Result<(), RegistryError> {
        self.enable_audited(plugin, actor).result
    }

    /// [`Registry::enable`] with the audit record it wrote.
    pub(crate) fn enable_audited(&self, plugin: &str, actor: &str) -> Audited<()> {
        self.audited(actor, "enable", Some(plugin), None, |tx| {
            if tx.disabled(Some(plugin))?.is_empty() {
                return Err(RegistryError::Invalid(format!(
                    "plugin {plugin} is not disabled"
                )));
            }
            tx.set_disabled(plugin, None)?;
            Ok(((), "enabled".into()))
        })
    }

    /// Removes a version that is not active (`R0111` otherwise), audited as
    /// `remove`. Its artifact is deleted when no other version refers to it.
    /// The plugin's grants and disabled flag stay while other versions
    /// remain.
    pub fn remove(
        &self,
        plugin: &str,
        version: &Version,
        actor: &str,
    ) -> Result<VersionRecord, RegistryError> {
        self.remove_audited(plugin, version, actor).result
    }

    /// [`Registry::remove`] with the audit record it wrote.
    pub(crate) fn remove_audited(
        &self,
        plugin: &str,
        version: &Version,
        actor: &str,
    ) -> Audited<VersionRecord> {
        self.on_version(actor, "remove", plugin, version, |tx, record| {
            if record.state == State::Active {
                return Err(RegistryError::RemoveActive {
                    plugin: plugin.to_owned(),
                    version: version.to_string(),
                });
            }
            tx.delete_version(plugin, version)?;
            let reason = if tx.versions(Some(plugin))?.is_empty() {
                forget_plugin(tx, plugin)?;
                "removed; it was the plugin's last version, so its grants went with it"
            } else {
                "removed"
            };
            Ok((record, reason.to_owned()))
        })
        .and_then(|removed| {
            self.collect_blob(&removed.digest)?;
            Ok(removed)
        })
    }

    /// Removes every version of a plugin, none of which may be active
    /// (`R0111`), with its grants and disabled flag; audited as `remove`.
    /// Artifacts no other plugin refers to are deleted.
    pub fn remove_all(
        &self,
        plugin: &str,
        actor: &str,
    ) -> Result<Vec<VersionRecord>, RegistryError> {
        self.remove_all_audited(plugin, actor).result
    }

    /// [`Registry::remove_all`] with the audit record it wrote.
    pub(crate) fn remove_all_audited(
        &self,
        plugin: &str,
        actor: &str,
    ) -> Audited<Vec<VersionRecord>> {
        self.audited(actor, "remove", Some(plugin), None, |tx| {
            let versions = tx.versions(Some(plugin))?;
            if versions.is_empty() {
                return Err(RegistryError::NotFound {
                    plugin: plugin.to_owned(),
                    version: "*".into(),
                });
            }
            if let Some(active) = versions.iter().find(|v| v.state == State::Active) {
                return Err(RegistryError::RemoveActive {
                    plugin: plugin.to_owned(),
                    version: active.version.to_string(),
                });
            }
            for v in &versions {
                tx.delete_version(plugin, &v.version)?;
            }
            forget_plugin(tx, plugin)?;
            let n = versions.len();
            Ok((
                versions,
                format!("removed all {n} versions, its grants and flags"),
            ))
        })
        .and_then(|removed| {
            for v in &removed {
                self.collect_blob(&v.digest)?;
            }
            Ok(removed)
        })
    }

    /// Deletes runtime events recorded more than `older_than` ago (when
    /// given) and every stored artifact no version refers to (left by
    /// removals, or by a publish interrupted between storing the artifact
    /// and its record). Audited as `prune`.
    pub fn prune(
        &self,
        older_than: Option<std::time::Duration>,
        actor: &str,
    ) -> Result<Pruned, RegistryError> {
        self.prune_audited(older_than, actor).result
    }

    /// [`Registry::prune`] with the audit record it wrote.
    pub(crate) fn prune_audited(
        &self,
        older_than: Option<std::time::Duration>,
        actor: &str,
    ) -> Audited<Pruned> {
        self.audited(actor, "prune", None, None, |tx| {
            let events = match older_than {
                Some(age) => {
                    let age = i64::try_from(age.as_millis()).unwrap_or(i64::MAX);
                    tx.delete_events_before(now_ms().saturating_sub(age))?
                }
                None => 0,
            };
            // Under the write lock: a publish stores its artifact inside its
            // own write transaction, so it cannot interleave with this.
            let in_use = tx.digests_in_use()?;
            let mut pruned = Pruned {
                events,
                ..Pruned::default()
            };
            for (digest, _) in self.artifact_sizes(tx)? {
                if !in_use.contains(&digest) {
                    pruned.bytes += self.delete_artifact(tx, &digest)?;
                    pruned.blobs += 1;
                }
            }
            let reason = format!(
                "deleted {} events and {} unreferenced artifacts ({} bytes)",
                pruned.events, pruned.blobs, pruned.bytes
            );
            Ok((pruned, reason))
        })
    }

    /// Deletes runtime events older than `older_than`: the retention a host
    /// applies to the events table as it writes to it. Audited (as
    /// `expire_events`, by `actor`) only when something was deleted, and it
    /// is not a change hosts reload for.
    pub fn expire_events(
        &self,
        older_than: std::time::Duration,
        actor: &str,
    ) -> Result<u64, RegistryError> {
        let age = i64::try_from(older_than.as_millis()).unwrap_or(i64::MAX);
        self.store.write(|tx| {
            let n = tx.delete_events_before(now_ms().saturating_sub(age))?;
            if n > 0 {
                tx.append_audit(&AuditRecord {
                    id: 0,
                    at: now_ms(),
                    actor: actor.to_owned(),
                    action: "expire_events".into(),
                    plugin: None,
                    version: None,
                    outcome: Outcome::Ok,
                    reason: format!(
                        "deleted {n} events older than {} s (the host's retention)",
                        older_than.as_secs()
                    ),
                })?;
            }
            Ok(n)
        })
    }

    /// Deletes one artifact if no version refers to it, under the write
    /// lock (see `prune`).
    pub(crate) fn collect_blob(&self, digest: &Digest) -> Result<(), RegistryError> {
        let digest = digest.to_string();
        self.store.write(|tx| {
            if !tx.digests_in_use()?.contains(&digest) {
                self.delete_artifact(tx, &digest)?;
            }
            Ok(())
        })
    }

    /// Wipes versions, grants, flags, events and stored artifacts. The audit
    /// log is kept, and records the wipe before it happens.
    pub fn clear(&self, actor: &str) -> Result<(), RegistryError> {
        self.clear_audited(actor).result
    }

    /// [`Registry::clear`] with the audit record it wrote.
    pub(crate) fn clear_audited(&self, actor: &str) -> Audited<()> {
        self.audited(actor, "clear", None, None, |tx| {
            let n = tx.versions(None)?.len();
            tx.clear()?;
            Ok(((), format!("cleared {n} versions")))
        })
        .and_then(|()| match &self.blobs {
            Some(files) => files.clear(),
            // Cleared with the records, in the same transaction.
            None => Ok(()),
        })
    }
}
