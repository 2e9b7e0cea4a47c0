//! Booting from the registry and following its changes: build the next
//! snapshot off to the side, swap it in whole.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Weak};
use std::time::Duration;

use yoi_manifest::Scope;
use yoi_manifest::{Capability, Compat};
use yoi_registry::{Checkpoint, HostPosture, HostRecord, LoadedVersion, Registry, VersionRecord};

use crate::error::HostError;
use crate::host::{Host, Shared, Snapshot};
use crate::plugin::{LoadedPlugin, Origin};
use crate::report::{Refusal, ReloadReport};

impl Host {
    /// Makes the loaded plugins match the registry: loads newly active
    /// versions (re-verifying each artifact's digest before compiling),
    /// unloads deactivated or disabled ones, keeps the rest. The new set is
    /// swapped in at once; dispatches already running finish on the old one.
    ///
    /// A version that cannot be loaded is refused alone (its previous
    /// version keeps running, if there was one) and listed in the report.
    /// If the registry cannot be read, nothing changes and the error says why.
    pub fn reload(&self) -> Result<ReloadReport, HostError> {
        self.shared.reload()
    }

    /// Follows the registry in the background: reloads after every change
    /// made through this process's `Registry` or pushed by its database
    /// (PostgreSQL), and notices other processes' changes by polling every
    /// `poll` (the safety net: a host that missed a push while the database
    /// was unreachable catches up). Renews the host's report to the
    /// registry (`yoi hosts`) every [`HEARTBEAT`]. Stops when the returned
    /// [`Watcher`] is dropped.
    pub fn watch(&self, poll: Duration) -> Result<Watcher, HostError> {
        let registry = self
            .shared
            .options
            .registry
            .clone()
            .ok_or(HostError::NoRegistry)?;
        let changes = registry.subscribe();
        let stop = Arc::new(AtomicBool::new(false));
        let weak: Weak<Shared> = Arc::downgrade(&self.shared);
        let flag = Arc::clone(&stop);
        std::thread::Builder::new()
            .name("yoi-watch".into())
            .spawn(move || {
                let mut reported = std::time::Instant::now();
                while !flag.load(Ordering::Relaxed) {
                    let _ = changes.recv_timeout(poll.min(HEARTBEAT));
                    let Some(shared) = weak.upgrade() else { return };
                    if flag.load(Ordering::Relaxed) {
                        return;
                    }
                    let seen = shared.snapshot.load().change_seq;
                    let now = registry.change_seq().ok();
                    if now.is_some() && now != seen {
                        match shared.reload() {
                            Ok(report) => shared.announce(&report),
                            Err(e) => tracing::error!(error = %e, "reload failed; the previous plugins keep running"),
                        }
                        reported = std::time::Instant::now();
                    } else if now.is_some() && reported.elapsed() >= HEARTBEAT {
                        shared.report_self(&registry);
                        reported = std::time::Instant::now();
                    }
                }
            })
            .map_err(|e| HostError::Engine(format!("cannot start the watch thread: {e}")))?;
        Ok(Watcher { stop })
    }
}

/// How often a watching host renews its report to the registry.
pub const HEARTBEAT: Duration = Duration::from_secs(10);

/// Stops following the registry when dropped.
#[derive(Debug)]
pub struct Watcher {
    stop: Arc<AtomicBool>,
}

impl Drop for Watcher {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

/// Records that `record` was refused; the version running before (if any)
/// goes on running.
fn refuse(
    next: &mut Vec<Arc<LoadedPlugin>>,
    report: &mut ReloadReport,
    record: &VersionRecord,
    previous: Option<&Arc<LoadedPlugin>>,
    reason: String,
) {
    let kept_previous = previous.map(|p| {
        next.push(Arc::clone(p));
        p.info.version.to_string()
    });
    report.refused.push(Refusal {
        plugin: record.plugin.to_string(),
        version: record.version.to_string(),
        reason,
        kept_previous,
    });
}

impl Shared {
    pub(crate) fn reload(&self) -> Result<ReloadReport, HostError> {
        let registry = self.options.registry.clone().ok_or(HostError::NoRegistry)?;
        let update = self.update.lock().unwrap_or_else(|p| p.into_inner());
        let deployment = registry.deployment().map_err(HostError::Registry)?;
        let mut report = ReloadReport {
            change_seq: deployment.change_seq,
            ..ReloadReport::default()
        };
        let current = self.snapshot.load_full();
        if self.safe_mode {
            report.safe_mode = true;
            drop(update);
            // Listed in `yoi hosts`, running nothing.
            self.report_self(&registry);
            return Ok(report);
        }

        let mut next: Vec<Arc<LoadedPlugin>> = current
            .plugins
            .iter()
            .filter(|p| p.info.origin == Origin::Local)
            .cloned()
            .collect();
        let host_scope = self.options.scope;
        let compat = Host::compat();
        for record in &deployment.active {
            let previous = current
                .find(record.plugin.as_str())
                .filter(|p| p.info.origin == Origin::Registry);
            // Another scope's activation is not this host's to run at all
            // (Rollout::applies would refuse every event of it anyway).
            if record.rollout.scope != Scope::All && record.rollout.scope != host_scope {
                continue;
            }
            // Every load checks the trust policy as it is now: it may have
            // changed since the version was activated. The scope is this
            // host's: a version activated for all runs here under this
            // scope's requirement and keys. A refused version does not
            // run; the one before it goes on running only if the policy
            // still admits it.
            let admits = |r: &VersionRecord| {
                deployment.trust.check(
                    r.plugin.as_str(),
                    &r.manifest,
                    &r.digest,
                    r.provenance.signature.as_deref(),
                    Checkpoint::Scope(host_scope),
                    self.options.require_signatures,
                )
            };
            if let Err(refusal) = admits(record) {
                let still_admitted = previous.filter(|p| {
                    p.info.version != record.version
                        && registry.versions(record.plugin.as_str()).is_ok_and(|all| {
                            all.iter()
                                .find(|v| v.version == p.info.version)
                                .is_some_and(|v| admits(v).is_ok())
                        })
                });
                let error = yoi_registry::trust_error(
                    refusal,
                    record.plugin.as_str(),
                    &record.version.to_string(),
                );
                tracing::warn!(plugin = %record.plugin, version = %record.version, "{error}");
                // Recorded in the registry's event log: `yoi events`, the
                // page. Not a failure of the plugin's: the crash guard
                // does not count it.
                if let Some(sink) = &self.sink {
                    sink.send(crate::eventlog::event(
                        "trust_refused",
                        &record.plugin,
                        &record.version,
                        serde_json::json!({
                            "reason": error.to_string(),
                            "kept": still_admitted.map(|p| p.info.version.to_string()),
                        }),
                    ));
                }
                refuse(
                    &mut next,
                    &mut report,
                    record,
                    still_admitted,
                    error.to_string(),
                );
                continue;
            }
            let grants: Vec<Capability> = deployment
                .grants
                .iter()
                .filter(|g| g.plugin == record.plugin && g.granted)
                .map(|g| g.capability.clone())
                // The host's own capability list caps the registry's grants.
                .filter(|c| match self.options.cap.as_ref().and_then(|cap| cap.refuses(c)) {
                    None => true,
                    Some(why) => {
                        tracing::warn!(plugin = %record.plugin, grant = %c, "grant not given on this host: {why}");
                        false
                    }
                })
                .collect();
            let values = match registry.deployed_config(
                &deployment.config,
                record.plugin.as_str(),
                host_scope,
            ) {
                Ok(values) => values,
                Err(e) => {
                    // The settings cannot be read (a missing key file): the
                    // plugin keeps running as it was, or is not loaded.
                    refuse(&mut next, &mut report, record, previous, e.to_string());
                    continue;
                }
            };
            if let Some(p) = previous
                && p.info.version == record.version
                && p.info.digest == record.digest
            {
                report.kept.push(record.plugin.to_string());
                let config = p.api.config.with_deployed(values);
                match config {
                    Ok(config)
                        if p.info.rollout == Some(record.rollout)
                            && p.info.grants == grants
                            && config == p.api.config =>
                    {
                        next.push(Arc::clone(p));
                    }
                    // Same code, new rollout, grants or settings: no recompile.
                    Ok(config) => {
                        next.push(Arc::new(p.redeployed(Some(record.rollout), grants, config)));
                    }
                    Err(reason) => refuse(&mut next, &mut report, record, Some(p), reason),
                }
                continue;
            }
            match self.load_record(&registry, &compat, record, grants, values) {
                Ok(plugin) => {
                    self.load_failures
                        .lock()
                        .unwrap_or_else(|p| p.into_inner())
                        .remove(record.plugin.as_str());
                    report.loaded.push(plugin.info.clone());
                    next.push(Arc::new(plugin));
                }
                Err((reason, plugins_fault)) => {
                    if plugins_fault {
                        self.count_load_failure(record, &reason);
                    }
                    refuse(&mut next, &mut report, record, previous, reason);
                }
            }
        }
        for p in &current.plugins {
            if p.info.origin == Origin::Registry && !next.iter().any(|n| n.info.id == p.info.id) {
                report.unloaded.push(p.info.id.to_string());
            }
        }
        #[cfg(feature = "mcp")]
        let taken: std::collections::BTreeSet<String> = next
            .iter()
            .flat_map(|p| {
                std::iter::once(p.info.id.to_string())
                    .chain(p.tools.iter().map(|t| t.qualified.clone()))
            })
            .collect();
        self.publish(Snapshot::new(next, Some(deployment.change_seq)));
        #[cfg(feature = "mcp")]
        self.gateway
            .update(&deployment.mcp_servers, &registry, &taken);
        self.observe_reload(&report);
        // The report is a database write: other snapshot changes (a crash
        // guard's unload) need not wait for it.
        drop(update);
        self.report_self(&registry);
        Ok(report)
    }

    /// Tells the registry who this host is, how it runs plugins and what
    /// it runs (`yoi hosts`, the page's hosts table).
    /// A registry that cannot be written is logged; the host runs on.
    pub(crate) fn report_self(&self, registry: &Registry) {
        if !self.options.listed {
            return;
        }
        let snapshot = self.snapshot.load();
        let compat = Host::compat();
        let record = HostRecord {
            name: self.options.name.clone(),
            scope: self.options.scope,
            contract: compat
                .contracts
                .last()
                .map(ToString::to_string)
                .unwrap_or_default(),
            engine: format!("yoi {}", compat.engine),
            started_at: self.started_at,
            last_seen: crate::eventlog::now_ms(),
            change_seq: snapshot.change_seq.unwrap_or(0),
            loaded: snapshot
                .plugins
                .iter()
                .filter(|p| p.info.origin == Origin::Registry)
                .map(|p| LoadedVersion {
                    plugin: p.info.id.to_string(),
                    version: p.info.version.to_string(),
                    digest: p.info.digest.to_string(),
                })
                .collect(),
            posture: Some(HostPosture {
                safe_mode: self.safe_mode,
                memory_mib: (self.options.memory_limit / (1024 * 1024)) as u64,
                chain_budget_ms: millis(self.options.chain_budget),
                tool_timeout_ms: millis(self.options.tool_timeout),
                fresh_instances: !self.options.reuse_instances,
                max_calls: self.options.max_calls,
                capability_cap: self.options.cap.is_some(),
                points: self
                    .options
                    .host_points
                    .iter()
                    .map(|p| p.point().to_string())
                    .collect(),
            }),
        };
        if let Err(e) = registry.register_host(&record) {
            tracing::warn!(error = %e, "could not report this host to the registry");
        }
    }

    /// Loads one active version from the registry's stored artifact.
    fn load_record(
        &self,
        registry: &Registry,
        compat: &Compat,
        record: &VersionRecord,
        grants: Vec<Capability>,
        config: serde_json::Map<String, serde_json::Value>,
    ) -> Result<LoadedPlugin, (String, bool)> {
        // The registry reopens what it stored as a verified package: the
        // artifact's digest is checked before anything compiles (a changed
        // blob is refused, not run) and the manifest against this host's
        // contract. Bytes that match are the bytes inspected at publish, so
        // they are not inspected again (that would double the cost of a
        // warm boot); the linker still refuses any import this host does
        // not provide, and every declared hook's export is looked up before
        // the plugin is accepted.
        let package = registry
            .open_package(record, compat)
            .map_err(|e| (e.to_string(), false))?;
        LoadedPlugin::load(
            &self.engine,
            &self.linker,
            package,
            self.load_options(Origin::Registry, Some(record.rollout), grants, config),
        )
        .map_err(|e| {
            // Code that does not compile, link or export what it declares
            // is the plugin's failure; a compile given up for time may be
            // the host's load, so it is not counted.
            let fault = match &e {
                HostError::Compile { reason, .. } => !reason.contains("was given up"),
                HostError::Link { .. }
                | HostError::MissingExport { .. }
                | HostError::Tool { .. } => true,
                _ => false,
            };
            (e.to_string(), fault)
        })
    }

    /// A registry plugin's load failure counts for the crash guard like a
    /// failed call: enough of them within the window disable it in the
    /// registry, so a broken version stops costing every reload.
    fn count_load_failure(&self, record: &VersionRecord, reason: &str) {
        let limit = self.options.guard_failures;
        if limit == 0 {
            return;
        }
        let window = self.options.guard_window;
        let n = {
            let mut failures = self.load_failures.lock().unwrap_or_else(|p| p.into_inner());
            let seen = failures.entry(record.plugin.to_string()).or_default();
            crate::plugin::record_in_window(seen, window)
        };
        if n < limit as usize {
            return;
        }
        let first_line = reason.lines().next().unwrap_or_default();
        let why = format!(
            "{n} failures within {} s (crash guard); last: failed to load {}@{}: {first_line}",
            window.as_secs(),
            record.plugin,
            record.version
        );
        tracing::error!(plugin = %record.plugin, version = %record.version, "plugin disabled: {why}");
        if let Some(registry) = &self.options.registry
            && let Err(e) = registry.auto_disable(record.plugin.as_str(), &why, &self.options.name)
        {
            tracing::error!(plugin = %record.plugin, error = %e, "could not disable the plugin in the registry");
        }
        self.load_failures
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(record.plugin.as_str());
    }
}

/// A duration in whole milliseconds, for reports.
fn millis(d: std::time::Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}
