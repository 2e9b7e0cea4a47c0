//! The push contract's snapshot: the shape browser agents read through the
//! page's `window.yoi.getPluginSnapshot()` and the `yoi:plugins:updated`
//! event (docs/serve.md, "Scripts in the page"), served by
//! `GET /api/v1/snapshot?shape=contract`.
//!
//! The contract names three fields, `versions`, `activeVersions` and
//! `audits`, and each version's fields; Yoi's other fields (grants,
//! settings, hosts, services, events, cursors) stand beside them as the
//! plain snapshot has them.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};

use semver::Version;
use serde::Serialize;
use yoi_registry::{
    AuditRecord, Capability, CapabilityLine, ConfigRecord, EventRecord, GrantRecord, HostRecord,
    Snapshot, VersionRecord, now_ms,
};

/// A stored manifest, read once: as an object, and what it requests.
struct Parsed {
    object: serde_json::Value,
    requested: Vec<Capability>,
}

/// The manifests of the versions served, parsed once each: a published
/// version never changes, so (plugin, version, digest) names one manifest
/// for good. At 10,000 versions, parsing every manifest for every
/// snapshot would make each change cost the page hundreds of
/// milliseconds (docs/BENCHMARKS.md).
#[derive(Default)]
pub(crate) struct Manifests(Mutex<HashMap<(String, String, String), Arc<Parsed>>>);

impl Manifests {
    fn of(&self, v: &VersionRecord) -> Arc<Parsed> {
        let key = (
            v.plugin.to_string(),
            v.version.to_string(),
            v.digest.to_string(),
        );
        let mut parsed = self.0.lock().unwrap_or_else(|e| e.into_inner());
        Arc::clone(parsed.entry(key).or_insert_with(|| {
            Arc::new(Parsed {
                // Every stored manifest parsed when it was published; its
                // text stands in should one ever not.
                object: toml::from_str(&v.manifest)
                    .unwrap_or_else(|_| serde_json::Value::String(v.manifest.clone())),
                requested: yoi_manifest::Manifest::parse(&v.manifest)
                    .map(|m| Capability::requested_by(&m))
                    .unwrap_or_default(),
            })
        }))
    }

    /// Forgets the manifests of versions no longer in `snapshot` (removed).
    fn keep(&self, snapshot: &Snapshot) {
        let mut parsed = self.0.lock().unwrap_or_else(|e| e.into_inner());
        if parsed.len() > snapshot.versions.len() {
            let live: std::collections::HashSet<(String, String, String)> = snapshot
                .versions
                .iter()
                .map(|v| {
                    (
                        v.plugin.to_string(),
                        v.version.to_string(),
                        v.digest.to_string(),
                    )
                })
                .collect();
            parsed.retain(|k, _| live.contains(k));
        }
    }
}

/// A parsed manifest, serialized as its object.
struct ManifestObject(Arc<Parsed>);

impl Serialize for ManifestObject {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.0.object.serialize(s)
    }
}

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
    mcp_servers: &'a [yoi_registry::McpServerRecord],
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
    manifest: ManifestObject,
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
    /// Who signed it, as the trust policy sees it now: `unsigned`, a
    /// trusted key's name, or an untrusted key (docs/distribution.md).
    signer: String,
    /// The OCI reference it was published from, and its digest.
    source: Option<&'a yoi_registry::OciSource>,
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

/// What a version requests, each with today's decision among `decisions`
/// (those of its plugin).
fn requests(requested: &[Capability], decisions: &[GrantRecord]) -> Vec<Request> {
    requested
        .iter()
        .map(|cap| {
            let line = CapabilityLine::of(cap, "unchanged", decisions);
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
    /// `snapshot` in the contract's shape, its manifests read through
    /// `manifests`.
    pub(crate) fn of(snapshot: &'a Snapshot, manifests: &Manifests) -> Self {
        manifests.keep(snapshot);
        let mut decisions: HashMap<&str, Vec<GrantRecord>> = HashMap::new();
        for g in &snapshot.grants {
            decisions
                .entry(g.plugin.as_str())
                .or_default()
                .push(g.clone());
        }
        ContractSnapshot {
            versions: snapshot
                .versions
                .iter()
                .map(|v| {
                    let parsed = manifests.of(v);
                    let requests = requests(
                        &parsed.requested,
                        decisions.get(v.plugin.as_str()).map_or(&[], Vec::as_slice),
                    );
                    (v, parsed, requests)
                })
                .map(|(v, parsed, requests)| ContractVersion {
                    plugin_id: v.plugin.as_str(),
                    version: &v.version,
                    manifest: ManifestObject(parsed),
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
                    requests,
                    signer: crate::distribution::signer_of(&snapshot.trust, v),
                    source: v.provenance.source.as_ref(),
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
                    state: host_state(record, snapshot.change_seq, now_ms()),
                })
                .collect(),
            mcp_servers: &snapshot.mcp_servers,
            audits_next: snapshot.audits_next,
            events_next: snapshot.events_next,
            seq: snapshot.change_seq,
        }
    }
}

/// Where a host stands against the registry at change `seq`, at `now`:
/// `silent` after three missed heartbeats (gone or cut off), `behind
/// (ITS/SEQ)` before it reached the latest change, else `current`.
pub(crate) fn host_state(h: &yoi_registry::HostRecord, seq: i64, now: i64) -> String {
    let silent = i64::try_from(yoi_host::HEARTBEAT.as_millis() * 3).unwrap_or(i64::MAX);
    if now.saturating_sub(h.last_seen) > silent {
        "silent".to_owned()
    } else if h.change_seq < seq {
        format!("behind ({}/{seq})", h.change_seq)
    } else {
        "current".to_owned()
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
        let json = serde_json::to_value(ContractSnapshot::of(&snapshot, &Manifests::default()))
            .expect("json");
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
