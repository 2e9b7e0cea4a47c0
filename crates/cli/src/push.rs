//! The push contract's snapshot: the shape browser agents read through the
//! page's `window.yoi.getPluginSnapshot()` and the `yoi:plugins:updated`
//! event (docs/ops.md, "Scripts in the page"), served by
//! `GET /api/v1/snapshot?shape=contract`.
//!
//! The contract names three fields, `versions`, `activeVersions` and
//! `audits`, and each version's fields; Yoi's other fields (grants,
//! settings, hosts, services, events, cursors) stand beside them as the
//! plain snapshot has them.

use std::collections::BTreeMap;

use semver::Version;
use serde::Serialize;
use yoi_registry::{
    AuditRecord, Capability, CapabilityLine, ConfigRecord, EventRecord, GrantRecord, HostRecord,
    Snapshot, now_ms,
};

/// A snapshot in the contract's shape.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct ContractSnapshot<'a> {
    versions: Vec<ContractVersion<'a>>,
    active_versions: &'a BTreeMap<String, Version>,
    audits: &'a [AuditRecord],
    // Yoi's own, beside the contract's.
    grants: &'a [GrantRecord],
    disabled: &'a BTreeMap<String, String>,
    config: &'a [ConfigRecord],
    events: &'a [EventRecord],
    services: &'a [EventRecord],
    hosts: Vec<Host<'a>>,
    audits_next: Option<i64>,
    events_next: Option<i64>,
    seq: i64,
}

/// A host as the plain snapshot has it, with where it stands (`current`,
/// `behind (ITS/SEQ)`, `silent`: the rule `yoi hosts` uses).
#[derive(Serialize)]
struct Host<'a> {
    #[serde(flatten)]
    record: &'a HostRecord,
    state: String,
}

/// One version as the contract has it.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ContractVersion<'a> {
    plugin_id: &'a str,
    version: &'a Version,
    /// `plugin.toml` as an object, as a script would publish it.
    manifest: serde_json::Value,
    digest: String,
    published_at: i64,
    published_by: &'a str,
    updated_at: i64,
    state: &'static str,
    rollout: ContractRollout,
    // Yoi's own: plugin.toml's text as published, the publish order, and
    // each capability it requests with today's decision on it.
    manifest_text: &'a str,
    seq: i64,
    requests: Vec<Request>,
}

/// A requested capability and what is decided about it today.
#[derive(Serialize)]
struct Request {
    capability: String,
    /// `granted`, `partly`, `denied` or `undecided`.
    decision: &'static str,
    /// The grants that cover it.
    granted: Vec<String>,
}

/// What `manifest` requests, each with today's decision among `grants`
/// (those of its plugin).
fn requests(manifest: &str, grants: &[&GrantRecord]) -> Vec<Request> {
    let Ok(manifest) = yoi_manifest::Manifest::parse(manifest) else {
        return Vec::new();
    };
    let decisions: Vec<GrantRecord> = grants.iter().map(|g| (*g).clone()).collect();
    Capability::requested_by(&manifest)
        .iter()
        .map(|cap| {
            let line = CapabilityLine::of(cap, "unchanged", &decisions);
            Request {
                capability: cap.to_string(),
                decision: line.decision,
                granted: line.granted.iter().map(|c| c.to_string()).collect(),
            }
        })
        .collect()
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ContractRollout {
    scope: &'static str,
    rollout_pct: u8,
}

impl<'a> ContractSnapshot<'a> {
    /// `snapshot` in the contract's shape.
    pub(crate) fn of(snapshot: &'a Snapshot) -> Self {
        ContractSnapshot {
            versions: snapshot
                .versions
                .iter()
                .map(|v| ContractVersion {
                    plugin_id: v.plugin.as_str(),
                    version: &v.version,
                    // Every stored manifest parsed when it was published;
                    // its text stands in should one ever not.
                    manifest: toml::from_str(&v.manifest)
                        .unwrap_or_else(|_| serde_json::Value::String(v.manifest.clone())),
                    digest: v.digest.to_string(),
                    published_at: v.published_at,
                    published_by: &v.published_by,
                    updated_at: v.updated_at,
                    state: v.state.as_str(),
                    rollout: ContractRollout {
                        scope: v.rollout.scope.as_str(),
                        rollout_pct: v.rollout.percent,
                    },
                    manifest_text: &v.manifest,
                    seq: v.seq,
                    requests: requests(
                        &v.manifest,
                        &snapshot
                            .grants
                            .iter()
                            .filter(|g| g.plugin == v.plugin)
                            .collect::<Vec<_>>(),
                    ),
                })
                .collect(),
            active_versions: &snapshot.active_versions,
            audits: &snapshot.audits,
            grants: &snapshot.grants,
            disabled: &snapshot.disabled,
            config: &snapshot.config,
            events: &snapshot.events,
            services: &snapshot.services,
            hosts: snapshot
                .hosts
                .iter()
                .map(|record| Host {
                    record,
                    state: crate::ops::host_state(record, snapshot.change_seq, now_ms()),
                })
                .collect(),
            audits_next: snapshot.audits_next,
            events_next: snapshot.events_next,
            seq: snapshot.change_seq,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_version_reads_by_the_contracts_names() {
        let dir = tempfile::tempdir().expect("dir");
        let registry = yoi_registry::Registry::open(dir.path()).expect("registry");
        let snapshot = registry.snapshot().expect("snapshot");
        let json = serde_json::to_value(ContractSnapshot::of(&snapshot)).expect("json");
        for key in [
            "versions",
            "activeVersions",
            "audits",
            "grants",
            "hosts",
            "seq",
        ] {
            assert!(json.get(key).is_some(), "{key} missing from {json}");
        }
        assert!(json.get("active_versions").is_none(), "{json}");
    }
}
