//! What the registry holds, read: the snapshot and its marks, the
//! deployment, hosts, versions and upgrade plans, grants, the audit log and
//! runtime events.

use std::collections::BTreeMap;

use semver::Version;

use crate::config_rules::check_config;
use crate::model::{manifest_of, now_ms};

use crate::error::RegistryError;
use crate::lifecycle::{active_of, find, undecided};
use crate::model::{
    AuditRecord, CapabilityLine, Deployment, EventRecord, EventTotals, GrantRecord, HostRecord,
    Marks, Snapshot, State, UpgradePlan, VersionRecord, Window,
};
use crate::registry::{Audited, Registry};
use crate::store::Store;

impl<S: Store> Registry<S> {
    /// Everything, at one instant: every audit record and every event.
    pub fn snapshot(&self) -> Result<Snapshot, RegistryError> {
        self.snapshot_page(Window::ALL, Window::ALL)
    }

    /// [`Registry::snapshot`] with a window of the audit log and one of the
    /// runtime events, each with the cursor of its next page
    /// (`audits_next`, `events_next`). Everything else is whole.
    pub fn snapshot_page(&self, audits: Window, events: Window) -> Result<Snapshot, RegistryError> {
        self.store.read(|tx| {
            let versions = tx.versions(None)?;
            let active_versions = versions
                .iter()
                .filter(|v| v.state == State::Active)
                .map(|v| (v.plugin.to_string(), v.version.clone()))
                .collect();
            let audit_page = tx.audits(None, audits)?;
            let event_page = tx.events(None, events)?;
            let trust = tx.trust_policy()?;
            let signers = versions
                .iter()
                .map(|v| (format!("{}@{}", v.plugin, v.version), trust.signer_of(v)))
                .collect();
            Ok(Snapshot {
                active_versions,
                versions,
                grants: tx.grants(None)?,
                disabled: tx.disabled(None)?.into_iter().collect(),
                config: tx.config(None)?,
                audits_next: audits.next(audit_page.iter().map(|a| a.id)),
                audits: audit_page,
                events_next: events.next(event_page.iter().map(|e| e.id)),
                events: event_page,
                services: tx.latest_events("service_status", None, "service")?,
                hosts: tx.hosts()?,
                mcp_servers: tx.mcp_servers()?,
                trust,
                signers,
                change_seq: tx.change_seq()?,
            })
        })
    }

    /// The change counter and the newest audit and event ids: cheap to
    /// poll, and each moves when its part of the registry is written, by
    /// this process or any other.
    pub fn marks(&self) -> Result<Marks, RegistryError> {
        self.store.read(|tx| tx.marks())
    }

    /// What hosts should run now, without the audit log: active versions of
    /// enabled plugins, their grants and setting values, the disabled set,
    /// in one read.
    pub fn deployment(&self) -> Result<Deployment, RegistryError> {
        self.store.read(|tx| {
            let disabled: BTreeMap<String, String> = tx.disabled(None)?.into_iter().collect();
            let active: Vec<VersionRecord> = tx
                .versions(None)?
                .into_iter()
                .filter(|v| v.state == State::Active && !disabled.contains_key(v.plugin.as_str()))
                .collect();
            let grants = tx
                .grants(None)?
                .into_iter()
                .filter(|g| active.iter().any(|v| v.plugin == g.plugin))
                .collect();
            let config = tx
                .config(None)?
                .into_iter()
                .filter(|c| active.iter().any(|v| v.plugin == c.plugin))
                .collect();
            Ok(Deployment {
                active,
                grants,
                disabled,
                config,
                mcp_servers: tx.mcp_servers()?,
                trust: tx.trust_policy()?,
                change_seq: tx.change_seq()?,
            })
        })
    }

    /// Records (or renews) a host's report of itself: what it runs, and
    /// that it is alive. Not a change: hosts do not reload for it, and it
    /// is not audited.
    pub fn register_host(&self, host: &HostRecord) -> Result<(), RegistryError> {
        if host.name.is_empty() || host.name.len() > 253 || host.name.chars().any(char::is_control)
        {
            return Err(RegistryError::Invalid(format!(
                "`{}` is not a host name: use 1-253 printable characters (e.g. the machine's hostname)",
                host.name.escape_debug()
            )));
        }
        self.store.log(|tx| {
            // A heartbeat alone is not news for dashboards following the marks.
            let news = tx
                .hosts()?
                .into_iter()
                .find(|h| h.name == host.name)
                .is_none_or(|h| {
                    HostRecord {
                        last_seen: host.last_seen,
                        ..h
                    } != *host
                });
            tx.put_host(host)?;
            if news {
                tx.bump_hosts()?;
            }
            Ok(())
        })
    }

    /// Forgets hosts that have not reported for `silent_for` (replaced,
    /// scaled down, renamed): they leave `yoi hosts`, and come back with
    /// their next report if they were only cut off. Audited; returns how
    /// many.
    pub fn forget_hosts(
        &self,
        silent_for: std::time::Duration,
        actor: &str,
    ) -> Result<u64, RegistryError> {
        self.forget_hosts_audited(silent_for, actor).result
    }

    /// [`Registry::forget_hosts`] with the audit record it wrote.
    pub(crate) fn forget_hosts_audited(
        &self,
        silent_for: std::time::Duration,
        actor: &str,
    ) -> Audited<u64> {
        let age = i64::try_from(silent_for.as_millis()).unwrap_or(i64::MAX);
        self.audited(actor, "forget_hosts", None, None, |tx| {
            let n = tx.delete_hosts_seen_before(now_ms().saturating_sub(age))?;
            if n > 0 {
                tx.bump_hosts()?;
            }
            Ok((
                n,
                format!("forgot {n} hosts silent for {}s", silent_for.as_secs()),
            ))
        })
    }

    /// Every host that reported itself, by name, with what it runs.
    pub fn hosts(&self) -> Result<Vec<HostRecord>, RegistryError> {
        self.store.read(|tx| tx.hosts())
    }

    /// The host-defined hook points (contract 0.6.0) a version handles that
    /// no host reporting to this registry declares: its handlers there
    /// would never run, so activating it warns (docs/hooks.md,
    /// "Host-defined points").
    pub fn undeclared_points(&self, record: &VersionRecord) -> Result<Vec<String>, RegistryError> {
        let manifest = manifest_of(record)?;
        let wanted: Vec<&'static str> = manifest
            .hooks
            .iter()
            .filter_map(|h| h.point.host())
            .map(|p| p.as_str())
            .collect();
        if wanted.is_empty() {
            return Ok(Vec::new());
        }
        let hosts = self.hosts()?;
        let declared: std::collections::BTreeSet<&str> = hosts
            .iter()
            .filter_map(|h| h.posture.as_ref())
            .flat_map(|p| p.points.iter().map(String::as_str))
            .collect();
        Ok(wanted
            .into_iter()
            .filter(|p| !declared.contains(p))
            .map(str::to_owned)
            .collect())
    }

    /// The versions of one plugin, in publish order.
    pub fn versions(&self, plugin: &str) -> Result<Vec<VersionRecord>, RegistryError> {
        self.store.read(|tx| tx.versions(Some(plugin)))
    }

    /// What activating `version` of `plugin` would change and what it
    /// still needs, read without changing anything (`yoi upgrade`, the
    /// page's upgrade view; docs/operations.md, "Upgrading"). The
    /// candidate takes the active version's scope and rollout.
    pub fn upgrade_plan(
        &self,
        plugin: &str,
        version: &Version,
    ) -> Result<UpgradePlan, RegistryError> {
        let keys = self.config_keys(false).ok();
        self.store.read(|tx| {
            let target = find(tx, plugin, version)?;
            let active = active_of(tx, plugin)?;
            let rollout = active.as_ref().map(|a| a.rollout).unwrap_or_default();
            let from = active.as_ref().map(manifest_of).transpose()?;
            let diff = yoi_manifest::ManifestDiff::between(from.as_ref(), &manifest_of(&target)?);
            let settings = match check_config(tx, keys.as_ref(), &target, rollout.scope) {
                Ok(()) => None,
                Err(RegistryError::ConfigIncompatible { problems, .. }) => Some(problems),
                Err(e) => return Err(e),
            };
            let decisions = tx.grants(Some(plugin))?;
            let capabilities = CapabilityLine::all(&diff.capabilities, &decisions);
            Ok(UpgradePlan {
                from: active.map(|a| a.version),
                rollout,
                diff,
                decisions,
                capabilities,
                undecided: undecided(tx, &target)?,
                settings,
                disabled: tx
                    .disabled(Some(plugin))?
                    .into_iter()
                    .next()
                    .map(|(_, why)| why),
                to: target,
            })
        })
    }

    /// The active version of a plugin.
    pub fn active(&self, plugin: &str) -> Result<Option<VersionRecord>, RegistryError> {
        self.store.read(|tx| active_of(tx, plugin))
    }

    /// Decisions on a plugin's capabilities.
    pub fn grants(&self, plugin: &str) -> Result<Vec<GrantRecord>, RegistryError> {
        self.store.read(|tx| tx.grants(Some(plugin)))
    }

    /// Audit records after the cursor `after` (0 for the start).
    pub fn audits(
        &self,
        plugin: Option<&str>,
        after: i64,
        limit: usize,
    ) -> Result<Vec<AuditRecord>, RegistryError> {
        self.store
            .read(|tx| tx.audits(plugin, Window::After { after, limit }))
    }

    /// Records runtime events (receipts, denials) in one transaction.
    pub fn record_events(&self, events: &[EventRecord]) -> Result<i64, RegistryError> {
        self.store.log(|tx| tx.append_events(events))
    }

    /// Runtime events after the cursor `after` (0 for the start).
    pub fn events(
        &self,
        plugin: Option<&str>,
        after: i64,
        limit: usize,
    ) -> Result<Vec<EventRecord>, RegistryError> {
        self.store
            .read(|tx| tx.events(plugin, Window::After { after, limit }))
    }

    /// How many runtime events of `kind` `plugin` has (within the
    /// retention), the sum of their detail's numeric `field`, and when the
    /// last one was: e.g. the observations an observer dropped
    /// (`observer_dropped`, `dropped`).
    pub fn event_totals(
        &self,
        plugin: &str,
        kind: &str,
        field: &str,
    ) -> Result<EventTotals, RegistryError> {
        self.store.read(|tx| tx.event_totals(plugin, kind, field))
    }

    /// The newest runtime event of `kind` for each plugin and value of its
    /// detail's `field` (of `plugin`, or of all): e.g. each service's last
    /// recorded status (`service_status`, `service`).
    pub fn latest_events(
        &self,
        kind: &str,
        plugin: Option<&str>,
        field: &str,
    ) -> Result<Vec<EventRecord>, RegistryError> {
        self.store.read(|tx| tx.latest_events(kind, plugin, field))
    }
}
