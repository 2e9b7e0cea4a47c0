//! The registry's records: versions, audit entries, runtime events, snapshots.

use std::collections::BTreeMap;
use std::str::FromStr;

use semver::Version;
use serde::{Deserialize, Serialize};
use yoi_manifest::{Capability, Digest, Manifest, PluginId, Rollout, Scope};

use crate::error::RegistryError;

/// The lifecycle state of a published version.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum State {
    /// Stored and verified; not running.
    Published,
    /// The running version of its plugin (at most one per plugin).
    Active,
    /// Was active; deactivated or replaced by another activation.
    Inactive,
    /// Was active and was rolled back to an earlier version.
    RolledBack,
}

impl State {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            State::Published => "published",
            State::Active => "active",
            State::Inactive => "inactive",
            State::RolledBack => "rolled_back",
        }
    }
}

impl FromStr for State {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        Ok(match s {
            "published" => State::Published,
            "active" => State::Active,
            "inactive" => State::Inactive,
            "rolled_back" => State::RolledBack,
            other => return Err(format!("unknown state `{other}`")),
        })
    }
}

/// What [`Registry::prune`](crate::Registry::prune) deleted.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Pruned {
    /// Runtime events older than the retention.
    pub events: u64,
    /// Stored artifacts no version referred to.
    pub blobs: u64,
    /// Bytes those artifacts took.
    pub bytes: u64,
}

/// One published version.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct VersionRecord {
    /// Plugin id.
    pub plugin: PluginId,
    /// Version.
    pub version: Version,
    /// Artifact digest (`sha256:<hex>` in text and JSON).
    pub digest: Digest,
    /// The `plugin.toml` text it was published with.
    pub manifest: String,
    /// Lifecycle state.
    pub state: State,
    /// Rollout while active (and the last one it had).
    pub rollout: Rollout,
    /// Publish time, milliseconds since the Unix epoch.
    pub published_at: i64,
    /// Who published it.
    pub published_by: String,
    /// Last change, milliseconds since the Unix epoch.
    pub updated_at: i64,
    /// Publish order across the registry (higher is later).
    pub seq: i64,
    /// Who signed it and where it came from.
    pub provenance: Provenance,
}

/// Where a version came from and who signed it, as published
/// (docs/distribution.md). Whether the signer is trusted is decided
/// against the trust policy each time it matters, not stored.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct Provenance {
    /// The author's signature: a Sigstore bundle's JSON, as published.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signature: Option<String>,
    /// The id of the key that made `signature`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key_id: Option<String>,
    /// The OCI registry it was pulled from.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<OciSource>,
}

impl Provenance {
    /// Whether there is nothing to store.
    pub fn is_empty(&self) -> bool {
        self.signature.is_none() && self.source.is_none()
    }

    /// The stored form: JSON, or nothing.
    pub(crate) fn to_column(&self) -> Option<String> {
        (!self.is_empty()).then(|| serde_json::to_string(self).unwrap_or_default())
    }

    /// Reads the stored form.
    pub(crate) fn from_column(text: Option<String>) -> Result<Provenance, String> {
        match text {
            None => Ok(Provenance::default()),
            Some(t) => serde_json::from_str(&t).map_err(|_| t),
        }
    }
}

/// An OCI reference a version was published from, and the manifest digest
/// it resolved to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct OciSource {
    /// As given, e.g. `oci://ghcr.io/acme/redact:1.2.0`.
    pub reference: String,
    /// The manifest digest it resolved to, `sha256:<hex>`.
    pub digest: String,
}

/// Whether an audited operation succeeded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Outcome {
    /// It took effect.
    Ok,
    /// It was refused or failed; nothing changed.
    Error,
}

/// One entry of the audit log.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AuditRecord {
    /// Position in the log (cursor).
    pub id: i64,
    /// Time, milliseconds since the Unix epoch.
    pub at: i64,
    /// Who did it.
    pub actor: String,
    /// The operation (`publish`, `activate`, ...).
    pub action: String,
    /// Plugin id, when the operation is about one.
    pub plugin: Option<String>,
    /// Version, when the operation is about one.
    pub version: Option<String>,
    /// Success or failure.
    pub outcome: Outcome,
    /// Why it failed, or what it did.
    pub reason: String,
}

/// A count of one kind of runtime event of one plugin
/// ([`Registry::event_totals`](crate::Registry::event_totals)).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct EventTotals {
    /// How many events.
    pub events: u64,
    /// The sum of the field asked for, over them.
    pub sum: u64,
    /// When the last one was, in milliseconds since the epoch.
    pub last_at: Option<i64>,
}

/// A runtime event a host reported (receipts, denials).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct EventRecord {
    /// Position (cursor).
    pub id: i64,
    /// Time, milliseconds since the Unix epoch.
    pub at: i64,
    /// Kind, e.g. `receipt` or `permission_denied`.
    pub kind: String,
    /// Plugin id.
    pub plugin: String,
    /// Version.
    pub version: Option<String>,
    /// Details as JSON.
    pub detail: serde_json::Value,
    /// The host that recorded it (its `name`), when a named host did.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub host: Option<String>,
}

/// A host as it last reported itself to the registry: who it is, what it
/// can run and what it runs (`yoi hosts`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HostRecord {
    /// The host's name, unique in the fleet.
    pub name: String,
    /// The host's scope: which rollouts apply to it.
    pub scope: Scope,
    /// The newest plugin contract it runs (e.g. `yoi:plugin@0.5.0`).
    pub contract: String,
    /// Its Yoi and engine versions.
    pub engine: String,
    /// When it started, ms since the Unix epoch.
    pub started_at: i64,
    /// When it last reported, ms since the Unix epoch.
    pub last_seen: i64,
    /// The registry change counter its loaded set reflects.
    pub change_seq: i64,
    /// The registry versions it runs, by plugin id.
    pub loaded: Vec<LoadedVersion>,
    /// How it runs plugins; `None` from a host that did not say (a Yoi
    /// from before 2026-12-07).
    #[serde(default)]
    pub posture: Option<HostPosture>,
}

/// How a host runs plugins, as it reports itself: what the page's hosts
/// table and header show about a fleet's sandboxes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HostPosture {
    /// It loads no plugin (safe mode).
    pub safe_mode: bool,
    /// Each plugin instance's memory cap, in MiB.
    pub memory_mib: u64,
    /// Time one hook point's whole chain may take, in ms.
    pub chain_budget_ms: u64,
    /// Time one tool call may take, in ms.
    pub tool_timeout_ms: u64,
    /// `true`: a fresh instance per event; `false`: instances are reused.
    pub fresh_instances: bool,
    /// Plugin calls running at once, host-wide.
    pub max_calls: u32,
    /// A host-wide capability list caps every grant.
    pub capability_cap: bool,
    /// The hook points it declares itself (contract 0.6.0), by name; empty
    /// from a host that declares none or did not say.
    #[serde(default)]
    pub points: Vec<String>,
}

/// One plugin version a host runs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LoadedVersion {
    /// Plugin id.
    pub plugin: String,
    /// Version.
    pub version: String,
    /// The artifact's digest (`sha256:<hex>`).
    pub digest: String,
}

/// `loaded` and `posture` of a host as stores keep them (JSON text).
pub(crate) fn host_json(h: &HostRecord) -> Result<(String, Option<String>), crate::RegistryError> {
    let bad = |e: serde_json::Error| crate::RegistryError::Schema(format!("host {}: {e}", h.name));
    Ok((
        serde_json::to_string(&h.loaded).map_err(bad)?,
        h.posture
            .as_ref()
            .map(serde_json::to_string)
            .transpose()
            .map_err(bad)?,
    ))
}

/// A host row as stores keep it (scope as text, `loaded` and `posture` as
/// JSON).
#[allow(clippy::too_many_arguments)]
pub(crate) fn host_record(
    name: String,
    scope: String,
    contract: String,
    engine: String,
    started_at: i64,
    last_seen: i64,
    change_seq: i64,
    loaded: String,
    posture: Option<String>,
) -> Result<HostRecord, crate::RegistryError> {
    let bad = |why: String| crate::RegistryError::Schema(format!("host row {name}: {why}"));
    Ok(HostRecord {
        scope: scope.parse().map_err(|e: String| bad(e))?,
        loaded: serde_json::from_str(&loaded).map_err(|e| bad(e.to_string()))?,
        posture: posture
            .map(|p| serde_json::from_str(&p))
            .transpose()
            .map_err(|e| bad(e.to_string()))?,
        contract,
        engine,
        started_at,
        last_seen,
        change_seq,
        name,
    })
}

/// An operator's decision on one capability.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct GrantRecord {
    /// Plugin id.
    pub plugin: PluginId,
    /// The capability (`https:api.example.com` in text and JSON).
    pub capability: Capability,
    /// `true` for a grant, `false` for an explicit denial.
    pub granted: bool,
    /// Who decided.
    pub by: String,
    /// When, milliseconds since the Unix epoch.
    pub at: i64,
}

/// An operator's value for one setting of a plugin, in one scope.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ConfigRecord {
    /// Plugin id.
    pub plugin: PluginId,
    /// The hosts it is for: `all`, or one scope, which wins over `all`.
    pub scope: Scope,
    /// The setting's name.
    pub key: String,
    /// The value; `None` for a secret, which is never shown again.
    pub value: Option<serde_json::Value>,
    /// Whether the value is a secret (sealed at rest).
    pub secret: bool,
    /// Who set it.
    pub set_by: String,
    /// When, milliseconds since the Unix epoch.
    pub set_at: i64,
    /// The sealed value of a secret, as stored; never serialized.
    #[serde(skip)]
    pub sealed: Option<String>,
}

/// The whole registry at one instant.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Snapshot {
    /// Every version, in publish order.
    pub versions: Vec<VersionRecord>,
    /// Plugin id → its active version.
    pub active_versions: BTreeMap<String, Version>,
    /// Operator decisions on capabilities.
    pub grants: Vec<GrantRecord>,
    /// Disabled plugin ids, with the reason.
    pub disabled: BTreeMap<String, String>,
    /// Operators' setting values (secrets without their value).
    pub config: Vec<ConfigRecord>,
    /// The audit log, oldest first: all of it, or one page of it
    /// ([`Registry::snapshot_page`](crate::Registry::snapshot_page)).
    pub audits: Vec<AuditRecord>,
    /// The cursor of the next page of audit records (the last id on this
    /// page) when there may be more; `None` when this page reaches the end.
    pub audits_next: Option<i64>,
    /// Runtime events hosts reported (receipts, denials, auto-disables),
    /// oldest first: one window of them, like `audits`.
    pub events: Vec<EventRecord>,
    /// The cursor of the next page of events, like `audits_next`.
    pub events_next: Option<i64>,
    /// The last status hosts recorded of each plugin service (its newest
    /// `service_status` event), by plugin and service.
    pub services: Vec<EventRecord>,
    /// Every host that reported itself, by name.
    pub hosts: Vec<HostRecord>,
    /// Declared MCP servers with their pinned tools, by name.
    pub mcp_servers: Vec<crate::McpServerRecord>,
    /// The trust policy: trusted keys and where a signature is required.
    pub trust: crate::TrustPolicy,
    /// Who signed each version (`ID@VERSION`), as the policy sees it now:
    /// a trusted key, an untrusted key, `unsigned`.
    pub signers: BTreeMap<String, crate::Signer>,
    /// The change counter when the snapshot was taken.
    #[serde(rename = "seq")]
    pub change_seq: i64,
}

/// What activating a candidate version would change and what it still
/// needs ([`Registry::upgrade_plan`](crate::Registry::upgrade_plan)).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct UpgradePlan {
    /// The active version, if one runs.
    pub from: Option<Version>,
    /// The candidate.
    pub to: VersionRecord,
    /// The scope and rollout the candidate takes: the active version's, or
    /// every host and subject when none runs.
    pub rollout: Rollout,
    /// What changes, from the active version (everything is added when
    /// none runs).
    pub diff: yoi_manifest::ManifestDiff,
    /// Today's decisions on the plugin's capabilities.
    pub decisions: Vec<GrantRecord>,
    /// Each capability the active version or the candidate requests: how
    /// the upgrade changes it and what is decided about it today.
    pub capabilities: Vec<CapabilityLine>,
    /// Capabilities the candidate requests that no decision covers:
    /// activation needs a grant or a denial of each.
    pub undecided: Vec<Capability>,
    /// Why the stored settings would not let it activate, with the fixes
    /// (the check activation makes); `None` when they would.
    pub settings: Option<String>,
    /// Why the plugin is disabled, when it is: enable it first.
    pub disabled: Option<String>,
}

/// One requested capability in an [`UpgradePlan`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CapabilityLine {
    /// The capability, as requested.
    pub capability: Capability,
    /// `added` (the candidate asks, the active version did not),
    /// `removed` or `unchanged`.
    pub change: &'static str,
    /// Today's decision: `granted`, `partly` (grants cover part of it),
    /// `denied` or `undecided`.
    pub decision: &'static str,
    /// The grants that cover it (narrower than the request when `partly`).
    pub granted: Vec<Capability>,
}

impl CapabilityLine {
    /// One line per capability of a diff: added, then removed, then
    /// unchanged, each with today's decision.
    pub fn all(
        changes: &yoi_manifest::Changes<Capability>,
        decisions: &[GrantRecord],
    ) -> Vec<CapabilityLine> {
        [
            ("added", &changes.added),
            ("removed", &changes.removed),
            ("unchanged", &changes.unchanged),
        ]
        .into_iter()
        .flat_map(|(change, caps)| caps.iter().map(move |cap| (change, cap)))
        .map(|(change, cap)| CapabilityLine::of(cap, change, decisions))
        .collect()
    }

    /// `capability`'s line, `change` as the diff says, from `decisions`.
    pub fn of(capability: &Capability, change: &'static str, decisions: &[GrantRecord]) -> Self {
        let granted: Vec<Capability> = decisions
            .iter()
            .filter(|g| g.granted && g.capability.within(capability))
            .map(|g| g.capability.clone())
            .collect();
        let denied = decisions
            .iter()
            .any(|g| !g.granted && g.capability == *capability);
        let decision = if granted.contains(capability) {
            "granted"
        } else if !granted.is_empty() {
            "partly"
        } else if denied {
            "denied"
        } else {
            "undecided"
        };
        CapabilityLine {
            capability: capability.clone(),
            change,
            decision,
            granted,
        }
    }
}

/// Which records of a log (the audit log, the runtime events) a snapshot
/// carries. Records always come oldest first.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Window {
    /// At most `limit` records with an id above `after`: paging from a
    /// cursor (`after: 0` is the start).
    After {
        /// The cursor: the last id the reader has.
        after: i64,
        /// Most records.
        limit: usize,
    },
    /// The newest `limit` records: what a dashboard shows.
    Latest {
        /// Most records.
        limit: usize,
    },
}

impl Window {
    /// Every record.
    pub const ALL: Window = Window::After {
        after: 0,
        limit: usize::MAX,
    };

    /// The window a reader's optional cursor asks for: the page after it,
    /// or without one the newest records.
    pub fn from_cursor(after: Option<i64>, limit: usize) -> Window {
        match after {
            Some(after) => Window::After { after, limit },
            None => Window::Latest { limit },
        }
    }

    /// The cursor of the next page, given the page this window produced:
    /// the last id when the page is full (there may be more), else `None`.
    /// The newest records have nothing after them.
    pub(crate) fn next(
        self,
        ids: impl DoubleEndedIterator<Item = i64> + ExactSizeIterator,
    ) -> Option<i64> {
        match self {
            Window::After { limit, .. } if limit > 0 && ids.len() == limit => ids.last(),
            _ => None,
        }
    }
}

/// Where the registry stands: each mark moves when its part is written, so
/// a reader that polls them knows when to read again.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Marks {
    /// The change counter (lifecycle state: versions, grants, disabled).
    pub seq: i64,
    /// The newest audit record's id (refusals change no state but are
    /// audited).
    pub audit: i64,
    /// The newest runtime event's id.
    pub event: i64,
    /// A counter of changes to host reports (a host joining, reaching a
    /// change, loading or unloading something); heartbeats alone leave it.
    pub hosts: i64,
}

/// What hosts should run, read in one transaction: the active versions,
/// their operators' grants, and which plugins are disabled.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Deployment {
    /// Active versions of enabled plugins, by plugin id.
    pub active: Vec<VersionRecord>,
    /// Operator decisions on capabilities, of the plugins in `active`.
    pub grants: Vec<GrantRecord>,
    /// Disabled plugin ids, with the reason (their active versions are not
    /// in `active`).
    pub disabled: BTreeMap<String, String>,
    /// Operators' setting values of the plugins in `active`, as stored
    /// (secrets sealed; [`Registry::deployed_config`](crate::Registry::deployed_config)
    /// opens them for one plugin).
    pub config: Vec<ConfigRecord>,
    /// Declared MCP servers (tokens sealed; [`Registry::mcp_token`](crate::Registry::mcp_token)
    /// opens one).
    pub mcp_servers: Vec<crate::McpServerRecord>,
    /// The trust policy hosts check each version against at load.
    pub trust: crate::TrustPolicy,
    /// The change counter when it was read.
    pub change_seq: i64,
}

/// A change notification.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Change {
    /// The change counter after the change.
    pub seq: i64,
    /// The operation.
    pub action: String,
    /// The plugin it was about.
    pub plugin: Option<String>,
}

/// Now, in milliseconds since the Unix epoch: the registry's timestamps.
pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

pub(crate) fn manifest_of(r: &VersionRecord) -> Result<Manifest, RegistryError> {
    Manifest::parse(&r.manifest).map_err(|d| {
        RegistryError::Schema(format!(
            "the stored manifest of {}@{} no longer parses: {d}",
            r.plugin, r.version
        ))
    })
}

/// A setting value as stores keep it: a secret's sealed text, else JSON.
pub(crate) fn stored_value(r: &ConfigRecord) -> Result<String, RegistryError> {
    match (&r.sealed, &r.value) {
        (Some(sealed), _) if r.secret => Ok(sealed.clone()),
        (_, Some(value)) if !r.secret => Ok(value.to_string()),
        _ => Err(RegistryError::Schema(format!(
            "config {}/{}: a secret is stored sealed, a plain value as JSON",
            r.plugin, r.key
        ))),
    }
}

/// A stored setting row read back ([`stored_value`]'s inverse).
pub(crate) fn stored_record(
    plugin: &str,
    scope: &str,
    key: String,
    value: String,
    secret: bool,
    set_by: String,
    set_at: i64,
) -> Result<ConfigRecord, RegistryError> {
    let bad =
        |why: String| RegistryError::Schema(format!("config row {plugin}/{scope}/{key}: {why}"));
    let (value, sealed) = if secret {
        (None, Some(value))
    } else {
        (
            Some(serde_json::from_str(&value).map_err(|e| bad(e.to_string()))?),
            None,
        )
    };
    Ok(ConfigRecord {
        plugin: yoi_manifest::PluginId::new(plugin).map_err(|e| bad(e.to_string()))?,
        scope: scope.parse().map_err(|e: String| bad(e))?,
        key,
        value,
        secret,
        set_by,
        set_at,
        sealed,
    })
}
