//! `yoi doctor`: what is wrong with a registry (and a host's compile cache),
//! each finding with its code and the fix. It never runs plugin code: it
//! reads the database, the stored artifacts and manifests, nothing else.
//! docs/operations.md ("Troubleshooting") is organised by the same codes.

use std::collections::BTreeSet;
use std::path::Path;
use std::process::ExitCode;

use anyhow::Result;
use serde::Serialize;
use yoi_host::{Capability, Host};
use yoi_manifest::Manifest;
use yoi_registry::{DATABASE_FILE, Location, Registry, RegistryError, State};

/// How much a finding matters.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
enum Severity {
    /// Something a host or an operator will trip over.
    Problem,
    /// Worth knowing; nothing is broken.
    Note,
}

/// One thing the doctor found.
#[derive(Debug, Serialize)]
struct Finding {
    severity: Severity,
    code: String,
    /// The plugin or version it is about, when there is one.
    subject: Option<String>,
    message: String,
    fix: Option<String>,
}

impl Finding {
    /// A finding from a coded registry error (`R0201 … \n  fix: …`).
    fn from_error(severity: Severity, subject: Option<String>, e: &RegistryError) -> Finding {
        let text = e.to_string();
        let (head, fix) = match text.split_once("\n  fix: ") {
            Some((head, fix)) => (head.to_owned(), Some(fix.trim().to_owned())),
            None => (text.clone(), None),
        };
        let (code, message) = match head.split_once(' ') {
            Some((code, rest)) if code.starts_with('R') => (code.to_owned(), rest.to_owned()),
            _ => ("R0302".to_owned(), head),
        };
        Finding {
            severity,
            code,
            subject,
            message,
            fix,
        }
    }
}

/// What `yoi doctor --json` prints (and `yoi serve` answers at
/// `/api/v1/doctor`).
#[derive(Serialize)]
pub(crate) struct Report {
    registry: String,
    healthy: bool,
    checked: Vec<String>,
    findings: Vec<Finding>,
}

pub(crate) fn doctor(
    location: &Location,
    home: &Path,
    cache: Option<&Path>,
    json: bool,
) -> Result<ExitCode> {
    let mut report = examine(location, home, cache);
    agent_clis(&mut report);
    if json {
        outln!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        print_text(&report);
    }
    Ok(if report.healthy {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

/// Every check of the registry at `location` (and the compile `cache`),
/// run without running plugin code.
pub(crate) fn examine(location: &Location, home: &Path, cache: Option<&Path>) -> Report {
    let mut report = Report {
        registry: location.to_string(),
        healthy: true,
        checked: Vec::new(),
        findings: Vec::new(),
    };
    match location {
        Location::Folder(dir) if !dir.join(DATABASE_FILE).is_file() => {
            report.checked.push(format!(
                "no registry at {} yet (nothing was published there)",
                dir.display()
            ));
        }
        _ => check_registry(location, home, &mut report),
    }
    if let Some(cache) = cache {
        check_cache(location, home, cache, &mut report);
    }
    report.healthy = report.findings.iter().all(|f| f.severity == Severity::Note);
    report
}

/// The agent CLIs whose settings run `yoi hook`, with what each CLI's
/// protocol cannot carry of the chain's decisions (a note each).
fn agent_clis(report: &mut Report) {
    for (cli, path) in crate::hook_settings::installed() {
        report.checked.push(format!(
            "{} runs `yoi hook {}` ({})",
            cli.title(),
            cli.name(),
            path.display()
        ));
        report.findings.push(Finding {
            severity: Severity::Note,
            code: "R0313".into(),
            subject: Some(cli.name().to_owned()),
            message: format!(
                "{} cannot take every answer of Yoi's chain: {}",
                cli.title(),
                cli.cannot_express().join("; ")
            ),
            fix: Some("see docs/agent-clis.md, \"What each CLI cannot express\"".into()),
        });
    }
}

fn print_text(report: &Report) {
    outln!("registry: {}", report.registry);
    for line in &report.checked {
        outln!("  ok    {line}");
    }
    for f in &report.findings {
        let label = match f.severity {
            Severity::Problem => "error",
            Severity::Note => "note",
        };
        let subject = f
            .subject
            .as_deref()
            .map_or(String::new(), |s| format!(" {s}:"));
        outln!("{label}[{}]{subject} {}", f.code, f.message);
        if let Some(fix) = &f.fix {
            outln!("  fix: {fix}");
        }
    }
    let problems = report
        .findings
        .iter()
        .filter(|f| f.severity == Severity::Problem)
        .count();
    if problems == 0 {
        outln!("healthy");
    } else {
        outln!("{problems} problem(s)");
    }
}

fn check_registry(location: &Location, home: &Path, report: &mut Report) {
    // Opening runs SQLite's integrity check and the schema migrations.
    let opened = Registry::open_at(location, home).and_then(|reg| {
        let snap = reg.snapshot()?;
        Ok((reg, snap))
    });
    let (reg, snap) = match opened {
        Ok(opened) => opened,
        Err(e) => {
            report
                .findings
                .push(Finding::from_error(Severity::Problem, None, &e));
            return;
        }
    };
    report.checked.push(match location {
        Location::Folder(_) => "database integrity (quick_check) and schema".into(),
        Location::Postgres(_) => "database reachable, schema current".into(),
    });
    let compat = Host::compat();
    let plugins: BTreeSet<&str> = snap.versions.iter().map(|v| v.plugin.as_str()).collect();
    let active = snap
        .versions
        .iter()
        .filter(|v| v.state == State::Active)
        .count();
    let before = report.findings.len();
    for v in &snap.versions {
        let subject = Some(format!("{}@{}", v.plugin, v.version));
        // An active version must run on this build; any other must at least
        // still be there to roll back to.
        let checked = if v.state == State::Active {
            reg.open_package(v, &compat).map(drop)
        } else {
            reg.artifact(&v.digest).map(drop)
        };
        if let Err(e) = checked {
            report
                .findings
                .push(Finding::from_error(Severity::Problem, subject, &e));
        }
    }
    if report.findings.len() == before {
        report.checked.push(format!(
            "{} versions of {} plugins, {active} active: artifacts present and matching, active ones compatible with {}",
            snap.versions.len(),
            plugins.len(),
            compat.contracts_text()
        ));
    }
    check_grants(&snap, report);
    for (plugin, reason) in &snap.disabled {
        report.findings.push(Finding {
            severity: Severity::Note,
            code: "R0107".into(),
            subject: Some(plugin.clone()),
            message: format!("is disabled: {reason}"),
            fix: Some(format!("`yoi enable {plugin}` once the cause is fixed")),
        });
    }
    check_events(&reg, report);
    check_secrets(&reg, &snap, report);
    check_private_files(home, report);
}

/// Files whose reader gets an operator's authority or secrets must be
/// their owner's only: `yoi serve`'s tokens (R0308) and the key that seals
/// secret settings (R0309).
fn check_private_files(dir: &Path, report: &mut Report) {
    for (file, code, risk, fix) in [
        (
            crate::tokens::TOKENS_FILE,
            "R0308",
            "its tokens can write to the registry",
            "replace the tokens if others may have read them",
        ),
        (
            yoi_registry::CONFIG_KEY_FILE,
            "R0309",
            "it opens every secret setting",
            "rotate the key (`yoi config rotate-key`) if others may have read it",
        ),
    ] {
        let path = dir.join(file);
        let Ok(meta) = std::fs::metadata(&path) else {
            continue;
        };
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = meta.permissions().mode() & 0o777;
            if mode & 0o077 != 0 {
                report.findings.push(Finding {
                    severity: Severity::Problem,
                    code: code.into(),
                    subject: None,
                    message: format!(
                        "{} can be read by others (mode {mode:o}); {risk}",
                        path.display()
                    ),
                    fix: Some(format!("`chmod 600 {}`, and {fix}", path.display())),
                });
                continue;
            }
        }
        let _ = (meta, code, risk, fix);
        report
            .checked
            .push(format!("{} readable by its owner only", path.display()));
    }
}

/// Secret settings must open with the registry's key: a host could not
/// give them to its plugins otherwise.
fn check_secrets(reg: &Registry, snap: &yoi_registry::Snapshot, report: &mut Report) {
    let with_secrets: BTreeSet<&str> = snap
        .config
        .iter()
        .filter(|c| c.secret)
        .map(|c| c.plugin.as_str())
        .collect();
    let before = report.findings.len();
    for plugin in &with_secrets {
        // Every scope a secret was set for: a canary host opens the
        // canary's value, which `all` never reads.
        let scopes: BTreeSet<yoi_registry::Scope> = snap
            .config
            .iter()
            .filter(|c| c.secret && c.plugin.as_str() == *plugin)
            .map(|c| c.scope)
            .chain([yoi_registry::Scope::All])
            .collect();
        let opened = reg.settings(plugin).and_then(|(_, settings)| {
            scopes
                .iter()
                .try_for_each(|scope| reg.effective_config(plugin, &settings, *scope).map(|_| ()))
        });
        if let Err(e) = opened {
            report.findings.push(Finding::from_error(
                Severity::Problem,
                Some((*plugin).to_owned()),
                &e,
            ));
        }
    }
    if !with_secrets.is_empty() && report.findings.len() == before {
        report.checked.push(format!(
            "secret settings of {} plugins open with the registry's key",
            with_secrets.len()
        ));
    }
}

/// Grants wider than what the running (or newest) version requests now: a
/// later version may request less than the one the grant was made for.
fn check_grants(snap: &yoi_registry::Snapshot, report: &mut Report) {
    let mut wide = 0;
    for g in snap.grants.iter().filter(|g| g.granted) {
        let versions: Vec<_> = snap
            .versions
            .iter()
            .filter(|v| v.plugin == g.plugin)
            .collect();
        let current = versions
            .iter()
            .find(|v| v.state == State::Active)
            .or_else(|| versions.last());
        let Some(current) = current else { continue };
        let Ok(manifest) = Manifest::parse(&current.manifest) else {
            continue;
        };
        let requested = Capability::requested_by(&manifest);
        if requested.iter().any(|r| g.capability.within(r)) {
            continue;
        }
        wide += 1;
        let asks: Vec<String> = requested.iter().map(ToString::to_string).collect();
        report.findings.push(Finding {
            severity: Severity::Problem,
            code: "R0105".into(),
            subject: Some(g.plugin.to_string()),
            message: format!(
                "the grant `{}` is wider than what {}@{} requests ({})",
                g.capability,
                g.plugin,
                current.version,
                if asks.is_empty() {
                    "nothing".to_owned()
                } else {
                    asks.join(", ")
                }
            ),
            fix: Some(format!(
                "`yoi revoke {} {}`, then grant what the version requests",
                g.plugin, g.capability
            )),
        });
    }
    if wide == 0 {
        report
            .checked
            .push("every grant within what its plugin's current version requests".into());
    }
}

/// The events table: how far back it reaches (hosts keep 30 days).
fn check_events(reg: &Registry, report: &mut Report) {
    let Ok(oldest) = reg.events(None, 0, 1) else {
        return;
    };
    let Some(oldest) = oldest.first() else {
        report.checked.push("no runtime events recorded".into());
        return;
    };
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64);
    let days = (now - oldest.at).max(0) / (24 * 3600 * 1000);
    if days > 30 {
        report.findings.push(Finding {
            severity: Severity::Note,
            code: "R0306".into(),
            subject: None,
            message: format!(
                "the oldest runtime event is {days} days old; hosts keep 30 days by default, so no host with a retention writes here, or it was raised"
            ),
            fix: Some("`yoi prune --events-older-than 30d` deletes the older ones".into()),
        });
    } else {
        report
            .checked
            .push(format!("runtime events reach back {days} days"));
    }
}

/// A host's compile cache: its size and entries for artifacts no version
/// refers to any more (left after removals; safe to delete).
fn check_cache(location: &Location, home: &Path, cache: &Path, report: &mut Report) {
    let entries = match std::fs::read_dir(cache) {
        Ok(entries) => entries,
        Err(e) => {
            report.findings.push(Finding {
                severity: Severity::Problem,
                code: "R0302".into(),
                subject: None,
                message: format!("the compile cache {} cannot be read: {e}", cache.display()),
                fix: Some("pass the folder the host was given with `compile_cache`".into()),
            });
            return;
        }
    };
    let in_use: BTreeSet<String> = Registry::open_at(location, home)
        .and_then(|r| r.snapshot())
        .map(|s| s.versions.iter().map(|v| v.digest.hex()).collect())
        .unwrap_or_default();
    let (mut bytes, mut count, mut stale, mut stale_bytes) = (0u64, 0u64, 0u64, 0u64);
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        let Some(digest) = name
            .strip_suffix(".cwasm")
            .and_then(|n| n.split('-').next())
        else {
            continue;
        };
        let size = entry.metadata().map_or(0, |m| m.len());
        bytes += size;
        count += 1;
        if !in_use.contains(digest) {
            stale += 1;
            stale_bytes += size;
        }
    }
    report.checked.push(format!(
        "compile cache {}: {count} entries, {bytes} bytes",
        cache.display()
    ));
    if stale > 0 {
        report.findings.push(Finding {
            severity: Severity::Note,
            code: "R0307".into(),
            subject: None,
            message: format!(
                "{stale} compile cache entries ({stale_bytes} bytes) are for artifacts no version refers to"
            ),
            fix: Some(format!(
                "delete them, or the whole folder (hosts recompile what they need): {}",
                cache.display()
            )),
        });
    }
}
