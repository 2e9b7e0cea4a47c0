//! Operator commands over the registry: publish, activate, grant, inspect.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{Context, Result, bail};
use semver::Version;
use serde::Serialize;
use yoi_host::Host;
use yoi_manifest::{Manifest, Package};
use yoi_registry::{Capability, Operation, Rollout, State};

use crate::ctx::{Ctx, answered, field, print_json, time};
use crate::usage::UsageError;

/// `ID@VERSION` → (id, version).
fn target(text: &str) -> Result<(String, Version)> {
    let Some((id, version)) = text.rsplit_once('@') else {
        return Err(UsageError(format!(
            "`{text}` must be ID@VERSION, e.g. acme.guard@1.2.0"
        ))
        .into());
    };
    let version = Version::parse(version).map_err(|e| {
        UsageError(format!(
            "`{version}` in `{text}` is not a semver version: {e}"
        ))
    })?;
    Ok((id.to_owned(), version))
}

impl Ctx {
    pub(crate) fn publish(&self, path: &Path) -> Result<ExitCode> {
        let dir = crate::plugin::package_dir(path);
        let opened = crate::plugin::open_package(&dir, true);
        let registry = self.open()?;
        // A refusal before the registry sees the package is audited too.
        let refused = |reason: &str| {
            let answer = crate::admission::refuse(
                &registry,
                &self.actor,
                &dir.display().to_string(),
                reason,
            );
            if answer.audit.is_none() {
                errln!("warning: the refusal could not be recorded in the audit log");
            }
        };
        let package = match opened {
            Ok(p) => p,
            Err(yoi_manifest::ArchiveError::Package(d)) => {
                let reason = d
                    .items()
                    .iter()
                    .map(|i| format!("{} {}: {}", i.code.as_str(), i.code.name(), i.message))
                    .collect::<Vec<_>>()
                    .join("; ");
                refused(&reason);
                outln!("{}", d.render(false));
                bail!(
                    "{} was not published: fix the problems above and publish again",
                    dir.display()
                );
            }
            Err(e) => {
                refused(&e.to_string());
                bail!("{e}")
            }
        };
        self.publish_package(&registry, &package, &dir.display().to_string(), None)
    }

    /// Publishes an opened package (from a folder, an archive or an OCI
    /// registry, named `from` in refusals) and says what to do next.
    pub(crate) fn publish_package(
        &self,
        registry: &yoi_registry::Registry,
        package: &Package,
        from: &str,
        source: Option<&yoi_registry::OciSource>,
    ) -> Result<ExitCode> {
        // What every host would find at load (a compile limit, an import of
        // the wrong type) is found here, before the registry takes it.
        if let Err(why) = crate::admission::loads(package) {
            let answer = crate::admission::refuse(registry, &self.actor, from, &why);
            if answer.audit.is_none() {
                errln!("warning: the refusal could not be recorded in the audit log");
            }
            bail!("{from} was not published: {why}");
        }
        let published =
            answered(registry.publish_answer(package, &Host::compat(), &self.actor, source))?;
        let record = &published["record"];
        let m = package.manifest();
        let signer = match registry.trust_policy()?.check(
            m.plugin.id.as_str(),
            package.manifest_text(),
            &m.runtime.digest,
            package.signature().map(|s| s.text()),
            yoi_registry::Checkpoint::Publish,
            false,
        ) {
            Ok(signer) => format!("signer: {signer}"),
            Err(refusal) => format!("signature: {}", refusal.why),
        };
        outln!(
            "published {}@{} ({}), {signer}{}",
            field(record, "plugin"),
            field(record, "version"),
            field(record, "digest"),
            if published["created"] == true {
                ""
            } else {
                "; it was already published with this digest"
            }
        );
        let requested = Capability::requested_by(package.manifest());
        if !requested.is_empty() {
            let caps: Vec<_> = requested.iter().map(|c| c.to_string()).collect();
            outln!(
                "  requests: {}\n  next: yoi grant {} {} && yoi activate {}@{}",
                caps.join(", "),
                field(record, "plugin"),
                caps.join(" "),
                field(record, "plugin"),
                field(record, "version")
            );
        }
        Ok(ExitCode::SUCCESS)
    }

    pub(crate) fn activate(&self, t: &str, scope: &str, percent: u8) -> Result<ExitCode> {
        let (id, version) = target(t)?;
        let scope = scope.parse().map_err(UsageError)?;
        if percent > 100 {
            return Err(
                UsageError(format!("--rollout {percent} is out of range; use 0 to 100")).into(),
            );
        }
        let activate = Operation::Activate {
            plugin: id.clone(),
            version: version.clone(),
            scope,
            rollout_pct: percent,
        };
        self.apply(&self.open()?, activate)?;
        outln!("activated {id}@{version} (scope {scope}, {percent}%)");
        Ok(ExitCode::SUCCESS)
    }

    pub(crate) fn deactivate(&self, t: &str) -> Result<ExitCode> {
        let (id, version) = target(t)?;
        let op = Operation::Deactivate {
            plugin: id.clone(),
            version: version.clone(),
        };
        self.apply(&self.open()?, op)?;
        outln!("deactivated {id}@{version}; {id} has no active version");
        Ok(ExitCode::SUCCESS)
    }

    pub(crate) fn rollback(&self, t: &str) -> Result<ExitCode> {
        let (id, version) = target(t)?;
        let op = Operation::Rollback {
            plugin: id.clone(),
            version: version.clone(),
        };
        self.apply(&self.open()?, op)?;
        outln!("rolled back {id} to {version}");
        Ok(ExitCode::SUCCESS)
    }

    pub(crate) fn grant(&self, plugin: &str, caps: &[String], granted: bool) -> Result<ExitCode> {
        let (plugin, capabilities) = (plugin.to_owned(), caps.to_vec());
        let op = if granted {
            Operation::Grant {
                plugin: plugin.clone(),
                capabilities,
            }
        } else {
            Operation::Deny {
                plugin: plugin.clone(),
                capabilities,
            }
        };
        let done = self.apply(&self.open()?, op)?;
        let verb = if granted { "granted" } else { "denied" };
        for cap in done.as_array().into_iter().flatten() {
            outln!("{verb} {} to {plugin}", cap.as_str().unwrap_or_default());
        }
        Ok(ExitCode::SUCCESS)
    }

    pub(crate) fn revoke(&self, plugin: &str, caps: &[String]) -> Result<ExitCode> {
        let op = Operation::Revoke {
            plugin: plugin.to_owned(),
            capabilities: caps.to_vec(),
        };
        self.apply(&self.open()?, op)?;
        outln!("revoked {} from {plugin}", caps.join(", "));
        Ok(ExitCode::SUCCESS)
    }

    pub(crate) fn enable(&self, plugin: &str) -> Result<ExitCode> {
        let op = Operation::Enable {
            plugin: plugin.to_owned(),
        };
        self.apply(&self.open()?, op)?;
        outln!("enabled {plugin}");
        Ok(ExitCode::SUCCESS)
    }

    pub(crate) fn disable(&self, plugin: &str, reason: &str) -> Result<ExitCode> {
        let op = Operation::Disable {
            plugin: plugin.to_owned(),
            reason: reason.to_owned(),
        };
        self.apply(&self.open()?, op)?;
        outln!("disabled {plugin}: {reason}");
        Ok(ExitCode::SUCCESS)
    }

    pub(crate) fn hosts(&self, json: bool) -> Result<ExitCode> {
        let registry = self.open()?;
        let (hosts, seq) = (registry.hosts()?, registry.change_seq()?);
        if json {
            return print_json(&serde_json::json!({ "seq": seq, "hosts": hosts }));
        }
        if hosts.is_empty() {
            outln!("no host has reported to this registry yet");
            return Ok(ExitCode::SUCCESS);
        }
        let now = yoi_registry::now_ms();
        outln!(
            "{:<24} {:<9} {:>10}  {:<16} LOADED",
            "HOST",
            "SCOPE",
            "SEEN",
            "STATE"
        );
        for h in &hosts {
            let age = now.saturating_sub(h.last_seen);
            let state = crate::push::host_state(h, seq, now);
            let loaded: Vec<String> = h
                .loaded
                .iter()
                .map(|l| format!("{}@{}", l.plugin, l.version))
                .collect();
            outln!(
                "{:<24} {:<9} {:>9}s  {:<16} {}",
                h.name,
                h.scope.as_str(),
                age / 1000,
                state,
                if loaded.is_empty() {
                    "-".to_owned()
                } else {
                    loaded.join(", ")
                }
            );
        }
        Ok(ExitCode::SUCCESS)
    }

    pub(crate) fn list(&self, json: bool) -> Result<ExitCode> {
        #[derive(Serialize)]
        struct Row {
            plugin: String,
            active: Option<Version>,
            rollout: Option<Rollout>,
            latest: Version,
            versions: usize,
            disabled: Option<String>,
        }
        let snap = self.open()?.snapshot()?;
        let mut rows: BTreeMap<String, Row> = BTreeMap::new();
        for v in &snap.versions {
            let row = rows.entry(v.plugin.to_string()).or_insert_with(|| Row {
                plugin: v.plugin.to_string(),
                active: None,
                rollout: None,
                latest: v.version.clone(),
                versions: 0,
                disabled: snap.disabled.get(v.plugin.as_str()).cloned(),
            });
            row.versions += 1;
            row.latest = v.version.clone();
            if v.state == State::Active {
                row.active = Some(v.version.clone());
                row.rollout = Some(v.rollout);
            }
        }
        let rows: Vec<Row> = rows.into_values().collect();
        if json {
            return print_json(&rows);
        }
        if rows.is_empty() {
            outln!("no plugins published (yoi publish DIR)");
        }
        for r in rows {
            let active = match (&r.active, r.rollout) {
                (Some(v), Some(ro)) => format!("active {v} ({} {}%)", ro.scope, ro.percent),
                _ => "no active version".to_owned(),
            };
            let disabled = r
                .disabled
                .map(|why| format!("  DISABLED: {why}"))
                .unwrap_or_default();
            outln!(
                "{:<32} {active:<32} latest {} ({} versions){disabled}",
                r.plugin,
                r.latest,
                r.versions
            );
        }
        Ok(ExitCode::SUCCESS)
    }

    pub(crate) fn show(&self, plugin: &str, json: bool) -> Result<ExitCode> {
        let registry = self.open()?;
        let versions = registry.versions(plugin)?;
        if versions.is_empty() {
            bail!("plugin {plugin} is not published; `yoi list` shows what is");
        }
        let grants = registry.grants(plugin)?;
        let latest = versions
            .last()
            .and_then(|v| Manifest::parse(&v.manifest).ok());
        let requested: Vec<String> = latest
            .as_ref()
            .map(|m| {
                Capability::requested_by(m)
                    .iter()
                    .map(|c| c.to_string())
                    .collect()
            })
            .unwrap_or_default();
        let providers = latest
            .as_ref()
            .map_or_else(Vec::new, |m| m.providers.clone());
        let observer = latest.as_ref().and_then(|m| m.observer.clone());
        let services = latest
            .as_ref()
            .map_or_else(Vec::new, |m| m.services.clone());
        // What hosts reported about it as an observer: drops are counted,
        // never hidden.
        let dropped = registry.event_totals(plugin, "observer_dropped", "dropped")?;
        let failed = registry.event_totals(plugin, "observer_failed", "batch")?;
        if json {
            return print_json(&serde_json::json!({
                "plugin": plugin,
                "versions": versions,
                "requested_by_latest": requested,
                "grants": grants,
                "providers": providers,
                "services": services,
                "observer": observer.as_ref().map(|o| serde_json::json!({
                    "declared": o,
                    "dropped": dropped.sum,
                    "last_dropped_at": dropped.last_at,
                    "failed_batches": failed.events,
                    "failed_observations": failed.sum,
                })),
            }));
        }
        outln!("{plugin}");
        for v in &versions {
            let rollout = if v.state == State::Active {
                format!(" ({} {}%)", v.rollout.scope, v.rollout.percent)
            } else {
                String::new()
            };
            outln!(
                "  {:<12} {:<12}{rollout} published {} by {}  {}",
                v.version.to_string(),
                v.state.as_str(),
                time(v.published_at),
                v.published_by,
                v.digest
            );
        }
        outln!(
            "  requested (latest): {}",
            if requested.is_empty() {
                "nothing".into()
            } else {
                requested.join(", ")
            }
        );
        for g in &grants {
            let verb = if g.granted { "granted" } else { "denied" };
            outln!("  {verb} {} by {} at {}", g.capability, g.by, time(g.at));
        }
        for p in &providers {
            let models: Vec<String> = p.models.iter().map(ToString::to_string).collect();
            outln!(
                "  provider {plugin}.{} serves {}",
                p.name,
                models.join(", ")
            );
        }
        for s in &services {
            let feeds: Vec<String> = s
                .websocket
                .iter()
                .map(|e| format!("websocket {e}"))
                .chain(s.http.iter().map(|r| format!("route {r}")))
                .collect();
            outln!(
                "  service {} ({}; queue {}, {}; `yoi service show {plugin}/{}`)",
                s.name,
                if feeds.is_empty() {
                    "timers and messages".to_owned()
                } else {
                    feeds.join(", ")
                },
                s.queue,
                s.backpressure.as_str(),
                s.name
            );
        }
        if let Some(o) = &observer {
            let kinds: Vec<&str> = o.kinds.iter().map(|k| k.as_str()).collect();
            outln!(
                "  observer of {} (queue {}, batches of {})",
                kinds.join(", "),
                o.queue,
                o.batch
            );
            let last = dropped
                .last_at
                .map_or(String::new(), |at| format!(", last at {}", time(at)));
            outln!(
                "    dropped {} observations (queue full){last}; {} batches failed",
                dropped.sum,
                failed.events
            );
        }
        Ok(ExitCode::SUCCESS)
    }

    /// The audit log and the runtime events, merged in time order, every
    /// record to the end (read a page at a time); with `follow`, then what
    /// comes after, twice a second.
    pub(crate) fn audit(&self, plugin: Option<&str>, follow: bool, json: bool) -> Result<ExitCode> {
        const PAGE: usize = 10_000;
        let registry = self.open()?;
        let (mut audit_cursor, mut event_cursor) = (0i64, 0i64);
        let mut audits = std::collections::VecDeque::new();
        let mut events = std::collections::VecDeque::new();
        loop {
            // Each stream is read to its end before the merge moves past
            // the other's records, so the order holds across pages.
            let (mut audits_done, mut events_done) = (false, false);
            loop {
                if audits.is_empty() && !audits_done {
                    let page = registry.audits(plugin, audit_cursor, PAGE)?;
                    audits_done = page.len() < PAGE;
                    audit_cursor = page.last().map_or(audit_cursor, |a| a.id);
                    audits.extend(page);
                }
                if events.is_empty() && !events_done {
                    let page = registry.events(plugin, event_cursor, PAGE)?;
                    events_done = page.len() < PAGE;
                    event_cursor = page.last().map_or(event_cursor, |e| e.id);
                    events.extend(page);
                }
                let audit_first = match (audits.front(), events.front()) {
                    (None, None) => break,
                    (Some(a), Some(e)) => a.at <= e.at,
                    (a, _) => a.is_some(),
                };
                let line = if audit_first {
                    let Some(a) = audits.pop_front() else { break };
                    audit_line(&a, json)?
                } else {
                    let Some(e) = events.pop_front() else { break };
                    event_line(&e, json)?
                };
                outln!("{line}");
            }
            if !follow {
                return Ok(ExitCode::SUCCESS);
            }
            std::thread::sleep(Duration::from_millis(500));
        }
    }

    pub(crate) fn snapshot(
        &self,
        (audits, events): (yoi_registry::Window, yoi_registry::Window),
        json: bool,
    ) -> Result<ExitCode> {
        let snap = self.open()?.snapshot_page(audits, events)?;
        if json {
            return print_json(&snap);
        }
        let plugins: std::collections::BTreeSet<&str> =
            snap.versions.iter().map(|v| v.plugin.as_str()).collect();
        outln!(
            "change {}: {} versions of {} plugins, {} active, {} grant decisions, {} disabled",
            snap.change_seq,
            snap.versions.len(),
            plugins.len(),
            snap.active_versions.len(),
            snap.grants.len(),
            snap.disabled.len()
        );
        for (plugin, version) in &snap.active_versions {
            outln!("  active {plugin}@{version}");
        }
        for e in &snap.services {
            outln!(
                "  service {}/{}: {} (recorded {})",
                e.plugin,
                e.detail["service"].as_str().unwrap_or("?"),
                e.detail["state"].as_str().unwrap_or("?"),
                time(e.at)
            );
        }
        outln!(
            "{} audit records, {} runtime events",
            snap.audits.len(),
            snap.events.len()
        );
        if let Some(next) = snap.audits_next {
            outln!("more audit records: yoi snapshot --after {next}");
        }
        if let Some(next) = snap.events_next {
            outln!("more events: yoi snapshot --events-after {next}");
        }
        Ok(ExitCode::SUCCESS)
    }

    pub(crate) fn remove(&self, t: &str, all: bool) -> Result<ExitCode> {
        let reg = self.open()?;
        if all {
            if t.contains('@') {
                return Err(UsageError(format!(
                    "--all removes every version of a plugin: give its id alone, e.g. `yoi remove {} --all`",
                    t.split('@').next().unwrap_or(t)
                ))
                .into());
            }
            let op = Operation::Remove {
                plugin: t.to_owned(),
                version: None,
            };
            let removed = self.apply(&reg, op)?;
            let versions: Vec<&str> = removed
                .as_array()
                .into_iter()
                .flatten()
                .map(|r| field(r, "version"))
                .collect();
            outln!(
                "removed {t}: {} version(s) ({}), its grants and flags",
                versions.len(),
                versions.join(", ")
            );
            return Ok(ExitCode::SUCCESS);
        }
        let (id, version) = target(t).map_err(|_| {
            UsageError(format!(
                "`{t}` must be ID@VERSION (one version) or ID with --all (every version)"
            ))
        })?;
        let op = Operation::Remove {
            plugin: id.clone(),
            version: Some(version.clone()),
        };
        let r = self.apply(&reg, op)?;
        outln!("removed {id}@{version} ({})", field(&r, "digest"));
        Ok(ExitCode::SUCCESS)
    }

    pub(crate) fn prune(
        &self,
        events_older_than: Option<&str>,
        hosts_silent_for: Option<&str>,
    ) -> Result<ExitCode> {
        let duration = |text: &str| {
            humantime::parse_duration(text).map_err(|e| {
                UsageError(format!(
                    "`{text}` is not a duration ({e}); write e.g. 30d, 12h or 90min"
                ))
            })
        };
        let age = events_older_than.map(duration).transpose()?;
        let silent = hosts_silent_for.map(duration).transpose()?;
        let registry = self.open()?;
        let op = Operation::Prune {
            events_older_than_secs: age.map(|a| a.as_secs()),
        };
        let p = self.apply(&registry, op)?;
        outln!(
            "pruned {} events and {} unreferenced artifacts ({} bytes)",
            p["events"],
            p["blobs"],
            p["bytes"]
        );
        if let Some(silent) = silent {
            let op = Operation::ForgetHosts {
                silent_for_secs: silent.as_secs(),
            };
            let n = self.apply(&registry, op)?;
            outln!(
                "forgot {n} hosts silent for {}",
                humantime::format_duration(silent)
            );
        }
        Ok(ExitCode::SUCCESS)
    }

    pub(crate) fn serve(&self, options: crate::serve::Options) -> Result<ExitCode> {
        let (location, home) = self.location()?;
        std::fs::create_dir_all(&home).with_context(|| format!("creating {}", home.display()))?;
        crate::serve::serve(&location, &home, options)
    }

    pub(crate) fn doctor(&self, cache: Option<&Path>, json: bool) -> Result<ExitCode> {
        let (location, home) = self.location()?;
        crate::doctor::doctor(&location, &home, cache, json)
    }

    pub(crate) fn clear(&self, yes: bool) -> Result<ExitCode> {
        let (location, _) = self.location()?;
        if !yes {
            return Err(UsageError(format!(
                "`yoi clear` wipes every version, grant and stored artifact in {location}; run `yoi clear --yes` to confirm"
            ))
            .into());
        }
        self.apply(&self.open()?, Operation::Clear { confirm: true })?;
        outln!("cleared the registry at {location} (the audit log is kept)");
        Ok(ExitCode::SUCCESS)
    }
}

/// One audit record as `yoi audit` prints it.
fn audit_line(a: &yoi_registry::AuditRecord, json: bool) -> Result<String> {
    if json {
        return Ok(serde_json::to_string(
            &serde_json::json!({"type": "audit", "record": a}),
        )?);
    }
    let what = match (&a.plugin, &a.version) {
        (Some(p), Some(v)) => format!("{p}@{v}"),
        (Some(p), None) => p.clone(),
        _ => String::new(),
    };
    let outcome = if a.outcome == yoi_registry::Outcome::Ok {
        "ok"
    } else {
        "REFUSED"
    };
    // The first line only: a reason's own lines never look like records.
    let reason = a.reason.lines().next().unwrap_or_default();
    Ok(format!(
        "{} {:<10} {:<24} {outcome:<7} by {}: {reason}",
        time(a.at),
        a.action,
        what,
        a.actor
    ))
}

/// One runtime event as `yoi audit` prints it.
fn event_line(e: &yoi_registry::EventRecord, json: bool) -> Result<String> {
    if json {
        return Ok(serde_json::to_string(
            &serde_json::json!({"type": "event", "record": e}),
        )?);
    }
    Ok(format!(
        "{} {:<10} {:<24} {}",
        time(e.at),
        e.kind,
        e.plugin,
        e.detail
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn targets_and_times_parse() {
        assert_eq!(target("acme.x@1.2.3").unwrap().1, Version::new(1, 2, 3));
        assert!(target("acme.x").is_err());
        assert!(target("acme.x@latest").is_err());
        assert_eq!(time(0), "1970-01-01 00:00:00Z");
        assert_eq!(time(1_763_769_600_000), "2025-11-22 00:00:00Z");
    }
}
