//! The storage seam: lifecycle code talks to a [`Store`] through
//! transactions, so the database behind it (SQLite for one machine,
//! PostgreSQL for fleets of hosts) is chosen without touching it.

use std::sync::Arc;

use semver::Version;

use crate::error::RegistryError;
use crate::mcp_pins::McpServerRecord;
use crate::model::{
    AuditRecord, ConfigRecord, EventRecord, EventTotals, GrantRecord, HostRecord, Marks,
    VersionRecord, Window,
};
use crate::trust::TrustPolicy;

/// Result of storage calls.
pub type StoreResult<T> = Result<T, RegistryError>;

/// A transactional store of registry records.
pub trait Store: Send + Sync {
    /// Runs `f` in one serializable write transaction: either all its
    /// changes are stored or none are. A store whose concurrent writers can
    /// conflict runs `f` again on a fresh transaction after rolling back the
    /// conflicting attempt, so `f` must not act outside the transaction.
    fn write<R>(&self, f: impl FnMut(&mut dyn Tx) -> StoreResult<R>) -> StoreResult<R>;

    /// Like [`Store::write`], for what hosts log as they run (receipts,
    /// denials, reports): such writes do not make the last good copy of a
    /// file store due (docs/operations.md, "Backups"), so a process that
    /// lives for one event is never the one that copies the database.
    fn log<R>(&self, f: impl FnMut(&mut dyn Tx) -> StoreResult<R>) -> StoreResult<R> {
        self.write(f)
    }

    /// Runs `f` on a consistent read-only view.
    fn read<R>(&self, f: impl FnOnce(&mut dyn Tx) -> StoreResult<R>) -> StoreResult<R>;

    /// Whether artifacts live in the database itself (read and written
    /// through [`Tx`], inside each operation's transaction) rather than as
    /// content-addressed files in the registry folder.
    fn artifacts_in_database(&self) -> bool {
        false
    }

    /// Has `wake` called with the change counter after every change any
    /// process commits (and with `-1` now and then, to ask whether anyone
    /// still listens: it returns `false` once nobody does), for stores that
    /// can push changes; returns whether this one can. Others' changes are
    /// otherwise seen by reading the counter.
    fn listen(&self, wake: Arc<dyn Fn(i64) -> bool + Send + Sync>) -> StoreResult<bool> {
        let _ = wake;
        Ok(false)
    }
}

fn files_only() -> RegistryError {
    RegistryError::Schema("this store keeps artifacts in files, not in the database".into())
}

/// What lifecycle code may do inside a transaction.
pub trait Tx {
    /// One version.
    fn version(&mut self, plugin: &str, version: &Version) -> StoreResult<Option<VersionRecord>>;
    /// All versions (of one plugin, or of all), in publish order.
    fn versions(&mut self, plugin: Option<&str>) -> StoreResult<Vec<VersionRecord>>;
    /// The active version of a plugin.
    fn active(&mut self, plugin: &str) -> StoreResult<Option<VersionRecord>>;
    /// Adds a version; `seq` is assigned by the store and returned.
    fn insert_version(&mut self, record: &VersionRecord) -> StoreResult<i64>;
    /// Stores a version's state, rollout and `updated_at`.
    fn update_version(&mut self, record: &VersionRecord) -> StoreResult<()>;
    /// Deletes a version; returns whether there was one.
    fn delete_version(&mut self, plugin: &str, version: &Version) -> StoreResult<bool>;
    /// The artifact digests versions refer to, as stored (`sha256:<hex>`).
    fn digests_in_use(&mut self) -> StoreResult<std::collections::BTreeSet<String>>;

    /// Decisions on a plugin's capabilities (of all plugins with `None`).
    fn grants(&mut self, plugin: Option<&str>) -> StoreResult<Vec<GrantRecord>>;
    /// Adds or replaces a decision.
    fn put_grant(&mut self, grant: &GrantRecord) -> StoreResult<()>;
    /// Removes a decision; returns whether there was one.
    fn delete_grant(&mut self, plugin: &str, capability: &str) -> StoreResult<bool>;

    /// Disabled plugins and why (`plugin` limits it to one).
    fn disabled(&mut self, plugin: Option<&str>) -> StoreResult<Vec<(String, String)>>;
    /// Disables (`Some(reason)`) or enables (`None`) a plugin.
    fn set_disabled(&mut self, plugin: &str, reason: Option<&str>) -> StoreResult<()>;

    /// Setting values (of one plugin, or of all), by plugin, scope, key.
    fn config(&mut self, plugin: Option<&str>) -> StoreResult<Vec<ConfigRecord>>;
    /// Adds or replaces a value (secrets as `sealed`, `value` `None`).
    fn put_config(&mut self, record: &ConfigRecord) -> StoreResult<()>;
    /// Removes a value; returns whether there was one.
    fn delete_config(&mut self, plugin: &str, scope: &str, key: &str) -> StoreResult<bool>;

    /// Appends to the audit log; returns the record's id.
    fn append_audit(&mut self, record: &AuditRecord) -> StoreResult<i64>;
    /// The audit records in `window` (of one plugin, or of all), oldest
    /// first.
    fn audits(&mut self, plugin: Option<&str>, window: Window) -> StoreResult<Vec<AuditRecord>>;

    /// Appends runtime events; returns the id of the last.
    fn append_events(&mut self, events: &[EventRecord]) -> StoreResult<i64>;
    /// Deletes events recorded before `at` (ms since the epoch); returns
    /// how many.
    fn delete_events_before(&mut self, at: i64) -> StoreResult<u64>;
    /// The events in `window` (of one plugin, or of all), oldest first.
    fn events(&mut self, plugin: Option<&str>, window: Window) -> StoreResult<Vec<EventRecord>>;
    /// How many events of `kind` a plugin has, the sum of their detail's
    /// numeric `field`, and when the last one was.
    fn event_totals(&mut self, plugin: &str, kind: &str, field: &str) -> StoreResult<EventTotals>;
    /// The newest event of `kind` for each plugin and value of its
    /// detail's `field` (of one plugin, or of all), by plugin and value.
    fn latest_events(
        &mut self,
        kind: &str,
        plugin: Option<&str>,
        field: &str,
    ) -> StoreResult<Vec<EventRecord>>;

    /// Increments the change counter; returns the new value.
    fn bump_change(&mut self) -> StoreResult<i64>;
    /// The change counter.
    fn change_seq(&mut self) -> StoreResult<i64>;
    /// The change counter and the newest audit and event ids, in one read.
    fn marks(&mut self) -> StoreResult<Marks>;

    /// Stores an artifact by digest (already verified); storing it again is
    /// a no-op. Only for stores whose artifacts live in the database.
    fn put_artifact(&mut self, digest: &str, bytes: &[u8]) -> StoreResult<()> {
        let _ = (digest, bytes);
        Err(files_only())
    }
    /// An artifact's bytes as stored (unverified), if present.
    fn artifact(&mut self, digest: &str) -> StoreResult<Option<Vec<u8>>> {
        let _ = digest;
        Err(files_only())
    }
    /// Every stored artifact: its digest and size in bytes.
    fn artifact_sizes(&mut self) -> StoreResult<Vec<(String, u64)>> {
        Err(files_only())
    }
    /// Deletes an artifact, if present; returns its size.
    fn delete_artifact(&mut self, digest: &str) -> StoreResult<u64> {
        let _ = digest;
        Err(files_only())
    }

    /// Adds or replaces a host's report of itself.
    fn put_host(&mut self, host: &HostRecord) -> StoreResult<()>;
    /// Increments the host-report counter ([`Marks::hosts`](crate::Marks)).
    fn bump_hosts(&mut self) -> StoreResult<i64>;
    /// Every host that reported itself, by name.
    fn hosts(&mut self) -> StoreResult<Vec<HostRecord>>;
    /// Forgets hosts last seen before `at` (ms since the epoch); returns
    /// how many.
    fn delete_hosts_seen_before(&mut self, at: i64) -> StoreResult<u64>;

    /// Every declared MCP server, by name.
    fn mcp_servers(&mut self) -> StoreResult<Vec<McpServerRecord>>;
    /// One declared MCP server.
    fn mcp_server(&mut self, name: &str) -> StoreResult<Option<McpServerRecord>>;
    /// Adds or replaces an MCP server.
    fn put_mcp_server(&mut self, server: &McpServerRecord) -> StoreResult<()>;
    /// Forgets an MCP server; returns whether there was one.
    fn delete_mcp_server(&mut self, name: &str) -> StoreResult<bool>;

    /// The trust policy (empty when none was written).
    fn trust_policy(&mut self) -> StoreResult<TrustPolicy>;
    /// Replaces the trust policy.
    fn put_trust_policy(&mut self, policy: &TrustPolicy) -> StoreResult<()>;

    /// Deletes versions, grants, settings, disabled flags, MCP servers and
    /// events (not the audit log).
    fn clear(&mut self) -> StoreResult<()>;
}
