//! `yoi upgrade ID VERSION`: the difference between the active version and
//! a candidate (capabilities with today's decisions, hook points, tools,
//! services, settings), then the decisions on what it adds and the
//! activation with the active version's scope and rollout
//! (docs/operations.md, "Upgrading").

use std::io::{BufRead as _, IsTerminal as _};
use std::process::ExitCode;

use anyhow::{Result, bail};
use semver::Version;
use yoi_manifest::Changes;
use yoi_registry::{Operation, UpgradePlan};

use crate::ctx::{Ctx, print_json};
use crate::usage::UsageError;

/// What to do with capabilities the candidate requests and nobody decided.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Undecided {
    /// Ask on the terminal, one by one.
    Ask,
    /// Grant every one (`--grant-added`).
    Grant,
    /// Deny every one (`--deny-added`): the version runs without them.
    Deny,
}

/// The plan as text: what changes, and what is decided about each
/// capability today.
pub(crate) fn render(plugin: &str, plan: &UpgradePlan) -> String {
    let to = &plan.to.version;
    let mut out = match &plan.from {
        Some(from) => format!(
            "upgrade {plugin} {from} -> {to} (scope {}, {}% of subjects, as {from} runs)\n",
            plan.rollout.scope, plan.rollout.percent
        ),
        None => format!(
            "activate {plugin} {to} (no version runs now; scope {}, {}%)\n",
            plan.rollout.scope, plan.rollout.percent
        ),
    };
    out.push_str(&render_changes(
        &plan.capabilities,
        &plan.diff,
        &to.to_string(),
    ));
    out
}

/// What a version changes against another: capabilities (with today's
/// decisions), hook points, tools, providers, services, observations and
/// settings. `yoi upgrade` and `yoi outdated` print the same.
pub(crate) fn render_changes(
    capabilities: &[yoi_registry::CapabilityLine],
    d: &yoi_manifest::ManifestDiff,
    to: &str,
) -> String {
    let mut out = String::from("\ncapabilities\n");
    if capabilities.is_empty() {
        out.push_str("  (none requested)\n");
    }
    for line in capabilities {
        let mark = match line.change {
            "added" => '+',
            "removed" => '-',
            _ => ' ',
        };
        let granted = line
            .granted
            .iter()
            .map(|c| c.to_string())
            .collect::<Vec<_>>()
            .join(", ");
        let today = match (line.change, line.decision) {
            ("removed", "undecided") => "no longer asked for".to_owned(),
            ("removed", d) => format!("{d} today; no longer asked for"),
            (_, "partly") => format!("granted in part: {granted}"),
            (_, "undecided") => "not decided: a grant or a denial is needed".to_owned(),
            (_, d) => d.to_owned(),
        };
        out.push_str(&format!(
            "  {mark} {:<40} {today}\n",
            line.capability.to_string()
        ));
    }
    for (what, changes) in [
        ("hook points", &d.hooks),
        ("tools", &d.tools),
        ("providers", &d.providers),
        ("services", &d.services),
        ("observations", &d.observations),
    ] {
        if let Some(text) = listed(changes) {
            out.push_str(&format!("{what:<13}{text}\n"));
        }
    }
    let s = &d.settings;
    let mut settings = Vec::new();
    settings.extend(s.added.iter().map(|n| format!("  + {n}")));
    settings.extend(
        s.removed
            .iter()
            .map(|n| format!("  - {n} (its values are kept; {to} is not given them)")),
    );
    settings.extend(
        s.newly_required
            .iter()
            .map(|n| format!("  ! {n} is required by {to}")),
    );
    settings.extend(
        s.changed_type
            .iter()
            .map(|c| format!("  ~ {}: {} -> {}", c.name, c.from, c.to)),
    );
    if !settings.is_empty() {
        out.push_str("\nsettings\n");
        out.push_str(&settings.join("\n"));
        out.push('\n');
    }
    out
}

/// One line of added (`+`) and removed (`-`) items; `None` when nothing
/// changes.
fn listed(changes: &Changes<String>) -> Option<String> {
    if changes.is_same() {
        return None;
    }
    let mut parts: Vec<String> = changes.added.iter().map(|a| format!("+ {a}")).collect();
    parts.extend(changes.removed.iter().map(|r| format!("- {r}")));
    if !changes.unchanged.is_empty() {
        parts.push(format!("(kept: {})", changes.unchanged.join(", ")));
    }
    Some(parts.join("  "))
}

/// Asks `question` on the terminal; `true` for yes.
fn ask(question: &str) -> Result<bool> {
    crate::terminal::write_out(&format!("{question} [y/N] "));
    let mut answer = String::new();
    std::io::stdin().lock().read_line(&mut answer)?;
    Ok(matches!(answer.trim(), "y" | "Y" | "yes" | "Yes"))
}

impl Ctx {
    /// `yoi upgrade`.
    pub(crate) fn upgrade(
        &self,
        target: &str,
        version: Option<&str>,
        yes: bool,
        undecided: Undecided,
        json: bool,
    ) -> Result<ExitCode> {
        let (id, version) = match (target.rsplit_once('@'), version) {
            (None, Some(v)) => (target.to_owned(), v.to_owned()),
            (Some((id, v)), None) => (id.to_owned(), v.to_owned()),
            _ => {
                return Err(UsageError(format!(
                    "name the plugin and the candidate: `yoi upgrade ID VERSION` (or ID@VERSION), not `{target}{}`",
                    version.map(|v| format!(" {v}")).unwrap_or_default()
                ))
                .into());
            }
        };
        let version = Version::parse(&version)
            .map_err(|e| UsageError(format!("`{version}` is not a semver version: {e}")))?;
        let registry = self.open()?;
        let plan = registry.upgrade_plan(&id, &version)?;
        if json {
            return print_json(&plan);
        }
        if plan.from.as_ref() == Some(&version) {
            outln!("{id} {version} is the active version already; nothing to do");
            return Ok(ExitCode::SUCCESS);
        }
        outln!("{}", render(&id, &plan));
        if let Some(why) = &plan.disabled {
            bail!("{id} is disabled ({why}); nothing changed. Enable it first: `yoi enable {id}`");
        }
        if let Some(problems) = &plan.settings {
            bail!(
                "{id} {version} cannot run with the stored settings; nothing changed. Fix these, then upgrade again:\n{problems}"
            );
        }
        let interactive = std::io::stdin().is_terminal();
        let mut decisions: Vec<(String, bool)> = Vec::new();
        for cap in &plan.undecided {
            let grant = match undecided {
                Undecided::Grant => true,
                Undecided::Deny => false,
                Undecided::Ask if interactive => ask(&format!("grant {cap} to {id}?"))?,
                Undecided::Ask => {
                    let list: Vec<String> = plan.undecided.iter().map(|c| c.to_string()).collect();
                    return Err(UsageError(format!(
                        "{version} requests {} that nobody decided on; nothing changed. Decide with \
                         --grant-added or --deny-added, or `yoi grant {id} CAPABILITY` (`--deny` to refuse) first",
                        list.join(", ")
                    ))
                    .into());
                }
            };
            decisions.push((cap.to_string(), grant));
        }
        let question = format!(
            "activate {id} {version} on scope {} at {}%?",
            plan.rollout.scope, plan.rollout.percent
        );
        if !yes {
            if !interactive {
                return Err(UsageError(format!(
                    "nothing changed: run `yoi upgrade {id} {version} --yes` to confirm"
                ))
                .into());
            }
            if !ask(&question)? {
                outln!("nothing changed");
                return Ok(ExitCode::SUCCESS);
            }
        }
        // Each decision is its own audited write, made before the
        // activation that needs it.
        for (cap, grant) in &decisions {
            let (plugin, capabilities) = (id.clone(), vec![cap.clone()]);
            let op = if *grant {
                Operation::Grant {
                    plugin,
                    capabilities,
                }
            } else {
                Operation::Deny {
                    plugin,
                    capabilities,
                }
            };
            self.apply(&registry, op)?;
            outln!("{} {cap}", if *grant { "granted" } else { "denied" });
        }
        let activate = Operation::Activate {
            plugin: id.clone(),
            version: version.clone(),
            scope: plan.rollout.scope,
            rollout_pct: plan.rollout.percent,
        };
        self.apply(&registry, activate)?;
        outln!(
            "activated {id}@{version} (scope {}, {}%){}",
            plan.rollout.scope,
            plan.rollout.percent,
            plan.from
                .map(|f| format!("; {f} is now inactive"))
                .unwrap_or_default()
        );
        Ok(ExitCode::SUCCESS)
    }
}
