//! One transaction on the fleet store: the rows of each table read and
//! written (`Tx`), with the codecs between rows and records.

use super::*;
use crate::mcp_pins::McpServerRecord;
use crate::model::Provenance;
use crate::trust::TrustPolicy;

/// A transaction in progress, with the connection's prepared statements.
pub(super) struct PgTx<'c> {
    pub(super) tx: postgres::Transaction<'c>,
    pub(super) statements: &'c mut std::collections::HashMap<String, Statement>,
    /// A statement failed because of a concurrent writer: the whole
    /// transaction is tried again.
    pub(super) conflict: bool,
    /// The connection was lost.
    pub(super) closed: bool,
}

/// Text as PostgreSQL can store it: it refuses the NUL character (in
/// `TEXT`, and as `\u0000` in `JSONB`), which SQLite keeps. Strings that
/// reach the log from outside (a refused operation's reason, an event's
/// target) carry U+FFFD in its place, rather than failing the write and,
/// for events, the batch they arrived in.
fn text(s: &str) -> std::borrow::Cow<'_, str> {
    if s.contains('\0') {
        std::borrow::Cow::Owned(s.replace('\0', "\u{fffd}"))
    } else {
        std::borrow::Cow::Borrowed(s)
    }
}

/// [`text`] for every string and key in a JSON value.
fn without_nul(v: &serde_json::Value) -> std::borrow::Cow<'_, serde_json::Value> {
    use serde_json::Value;
    fn has_nul(v: &Value) -> bool {
        match v {
            Value::String(s) => s.contains('\0'),
            Value::Array(a) => a.iter().any(has_nul),
            Value::Object(o) => o.iter().any(|(k, v)| k.contains('\0') || has_nul(v)),
            _ => false,
        }
    }
    fn clean(v: &Value) -> Value {
        match v {
            Value::String(s) => Value::String(text(s).into_owned()),
            Value::Array(a) => Value::Array(a.iter().map(clean).collect()),
            Value::Object(o) => Value::Object(
                o.iter()
                    .map(|(k, v)| (text(k).into_owned(), clean(v)))
                    .collect(),
            ),
            other => other.clone(),
        }
    }
    if has_nul(v) {
        std::borrow::Cow::Owned(clean(v))
    } else {
        std::borrow::Cow::Borrowed(v)
    }
}

fn bad(what: &str, value: &str) -> RegistryError {
    RegistryError::Schema(format!("stored {what} `{value}` is not valid"))
}

/// The columns `version_row` reads, in its order.
const VERSION_COLUMNS: &str = "plugin, version, digest, manifest, state, scope, percent, published_at, published_by, updated_at, seq, provenance";

fn version_row(row: &Row) -> StoreResult<VersionRecord> {
    let plugin: String = row.get(0);
    let version: String = row.get(1);
    let digest: String = row.get(2);
    let state: String = row.get(4);
    let scope: String = row.get(5);
    let percent: i32 = row.get(6);
    Ok(VersionRecord {
        plugin: PluginId::new(&plugin).map_err(|_| bad("plugin id", &plugin))?,
        version: Version::parse(&version).map_err(|_| bad("version", &version))?,
        digest: digest.parse().map_err(|_| bad("digest", &digest))?,
        manifest: row.get(3),
        state: state.parse().map_err(|_| bad("state", &state))?,
        rollout: Rollout {
            scope: scope.parse().map_err(|_| bad("scope", &scope))?,
            percent: u8::try_from(percent).map_err(|_| bad("percent", &percent.to_string()))?,
        },
        published_at: row.get(7),
        published_by: row.get(8),
        updated_at: row.get(9),
        seq: row.get(10),
        provenance: Provenance::from_column(row.get(11)).map_err(|t| bad("provenance", &t))?,
    })
}

const AUDIT_COLUMNS: &str = "id, at, actor, action, plugin, version, outcome, reason";

fn audit_row(row: &Row) -> AuditRecord {
    let outcome: &str = row.get(6);
    AuditRecord {
        id: row.get(0),
        at: row.get(1),
        actor: row.get(2),
        action: row.get(3),
        plugin: row.get(4),
        version: row.get(5),
        outcome: if outcome == "ok" {
            Outcome::Ok
        } else {
            Outcome::Error
        },
        reason: row.get(7),
    }
}

const EVENT_COLUMNS: &str = "id, at, kind, plugin, version, detail::TEXT, host";

fn event_row(row: &Row) -> StoreResult<EventRecord> {
    let detail: String = row.get(5);
    Ok(EventRecord {
        id: row.get(0),
        at: row.get(1),
        kind: row.get(2),
        plugin: row.get(3),
        version: row.get(4),
        detail: serde_json::from_str(&detail).map_err(|_| bad("event detail", &detail))?,
        host: row.get(6),
    })
}

/// `select` over a table with `id` and `plugin` narrowed to a window, oldest
/// first. Parameters: $1 plugin or NULL, $2 the cursor, $3 the limit.
fn windowed(select: &str, window: Window) -> String {
    let filter = "($1::TEXT IS NULL OR plugin = $1)";
    match window {
        Window::After { .. } => {
            format!("{select} WHERE id > $2 AND {filter} ORDER BY id LIMIT $3")
        }
        Window::Latest { .. } => format!(
            "SELECT * FROM ({select} WHERE {filter} AND $2::BIGINT IS NOT NULL ORDER BY id DESC LIMIT $3) AS w ORDER BY id"
        ),
    }
}

fn window_bounds(window: Window) -> (i64, i64) {
    let n = |n: usize| i64::try_from(n).unwrap_or(i64::MAX);
    match window {
        Window::After { after, limit } => (after, n(limit)),
        Window::Latest { limit } => (0, n(limit)),
    }
}

impl PgTx<'_> {
    /// Notes what a failed statement means for the transaction.
    fn seen(&mut self, e: postgres::Error) -> RegistryError {
        if is_conflict(&e) {
            self.conflict = true;
        }
        if is_lost(&e) {
            self.closed = true;
        }
        pg_error(e)
    }

    /// `sql` prepared on this connection, once.
    fn statement(&mut self, sql: &str) -> StoreResult<Statement> {
        if let Some(st) = self.statements.get(sql) {
            return Ok(st.clone());
        }
        match self.tx.prepare(sql) {
            Ok(st) => {
                self.statements.insert(sql.to_owned(), st.clone());
                Ok(st)
            }
            Err(e) => Err(self.seen(e)),
        }
    }

    /// Runs `sql`, prepared once per connection, with `call`.
    fn run<T>(
        &mut self,
        sql: &str,
        call: impl FnOnce(&mut postgres::Transaction<'_>, &Statement) -> Result<T, postgres::Error>,
    ) -> StoreResult<T> {
        let st = self.statement(sql)?;
        call(&mut self.tx, &st).map_err(|e| self.seen(e))
    }

    fn query(&mut self, sql: &str, params: &[&(dyn ToSql + Sync)]) -> StoreResult<Vec<Row>> {
        self.run(sql, |tx, st| tx.query(st, params))
    }

    fn one(&mut self, sql: &str, params: &[&(dyn ToSql + Sync)]) -> StoreResult<Row> {
        self.run(sql, |tx, st| tx.query_one(st, params))
    }

    fn execute(&mut self, sql: &str, params: &[&(dyn ToSql + Sync)]) -> StoreResult<u64> {
        self.run(sql, |tx, st| tx.execute(st, params))
    }

    fn versions_where(
        &mut self,
        filter: &str,
        params: &[&(dyn ToSql + Sync)],
    ) -> StoreResult<Vec<VersionRecord>> {
        self.query(
            &format!("SELECT {VERSION_COLUMNS} FROM versions WHERE {filter} ORDER BY seq"),
            params,
        )?
        .iter()
        .map(version_row)
        .collect()
    }
}

impl Tx for PgTx<'_> {
    fn version(&mut self, plugin: &str, version: &Version) -> StoreResult<Option<VersionRecord>> {
        let version = version.to_string();
        Ok(self
            .versions_where("plugin = $1 AND version = $2", &[&plugin, &version])?
            .pop())
    }

    fn versions(&mut self, plugin: Option<&str>) -> StoreResult<Vec<VersionRecord>> {
        self.versions_where("$1::TEXT IS NULL OR plugin = $1", &[&plugin])
    }

    fn active(&mut self, plugin: &str) -> StoreResult<Option<VersionRecord>> {
        Ok(self
            .versions_where("plugin = $1 AND state = 'active'", &[&plugin])?
            .pop())
    }

    fn insert_version(&mut self, r: &VersionRecord) -> StoreResult<i64> {
        let seq: i64 = self
            .one(
                "UPDATE meta SET value = value + 1 WHERE key = 'version_seq' RETURNING value",
                &[],
            )?
            .get(0);
        self.execute(
            "INSERT INTO versions (plugin, version, digest, manifest, state, scope, percent,
                                   published_at, published_by, updated_at, seq, provenance)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)",
            &[
                &r.plugin.as_str(),
                &r.version.to_string(),
                &r.digest.to_string(),
                &r.manifest,
                &r.state.as_str(),
                &r.rollout.scope.as_str(),
                &i32::from(r.rollout.percent),
                &r.published_at,
                &r.published_by,
                &r.updated_at,
                &seq,
                &r.provenance.to_column(),
            ],
        )?;
        Ok(seq)
    }

    fn update_version(&mut self, r: &VersionRecord) -> StoreResult<()> {
        self.execute(
            "UPDATE versions SET state = $3, scope = $4, percent = $5, updated_at = $6, provenance = $7
             WHERE plugin = $1 AND version = $2",
            &[
                &r.plugin.as_str(),
                &r.version.to_string(),
                &r.state.as_str(),
                &r.rollout.scope.as_str(),
                &i32::from(r.rollout.percent),
                &r.updated_at,
                &r.provenance.to_column(),
            ],
        )?;
        Ok(())
    }

    fn delete_version(&mut self, plugin: &str, version: &Version) -> StoreResult<bool> {
        let version = version.to_string();
        Ok(self.execute(
            "DELETE FROM versions WHERE plugin = $1 AND version = $2",
            &[&plugin, &version],
        )? > 0)
    }

    fn digests_in_use(&mut self) -> StoreResult<std::collections::BTreeSet<String>> {
        Ok(self
            .query("SELECT DISTINCT digest FROM versions", &[])?
            .iter()
            .map(|r| r.get(0))
            .collect())
    }

    fn grants(&mut self, plugin: Option<&str>) -> StoreResult<Vec<GrantRecord>> {
        self.query(
            "SELECT plugin, capability, granted, by_actor, at FROM grants
             WHERE $1::TEXT IS NULL OR plugin = $1 ORDER BY plugin, capability",
            &[&plugin],
        )?
        .iter()
        .map(|row| {
            let id: String = row.get(0);
            let capability: String = row.get(1);
            Ok(GrantRecord {
                plugin: PluginId::new(&id).map_err(|_| bad("plugin id", &id))?,
                capability: capability
                    .parse()
                    .map_err(|_| bad("capability", &capability))?,
                granted: row.get(2),
                by: row.get(3),
                at: row.get(4),
            })
        })
        .collect()
    }

    fn put_grant(&mut self, g: &GrantRecord) -> StoreResult<()> {
        self.execute(
            "INSERT INTO grants (plugin, capability, granted, by_actor, at)
             VALUES ($1, $2, $3, $4, $5)
             ON CONFLICT (plugin, capability) DO UPDATE
             SET granted = EXCLUDED.granted, by_actor = EXCLUDED.by_actor, at = EXCLUDED.at",
            &[
                &g.plugin.as_str(),
                &g.capability.to_string(),
                &g.granted,
                &g.by,
                &g.at,
            ],
        )?;
        Ok(())
    }

    fn delete_grant(&mut self, plugin: &str, capability: &str) -> StoreResult<bool> {
        Ok(self.execute(
            "DELETE FROM grants WHERE plugin = $1 AND capability = $2",
            &[&plugin, &capability],
        )? > 0)
    }

    fn disabled(&mut self, plugin: Option<&str>) -> StoreResult<Vec<(String, String)>> {
        Ok(self
            .query(
                "SELECT plugin, reason FROM disabled WHERE $1::TEXT IS NULL OR plugin = $1 ORDER BY plugin",
                &[&plugin],
            )?
            .iter()
            .map(|r| (r.get(0), r.get(1)))
            .collect())
    }

    fn set_disabled(&mut self, plugin: &str, reason: Option<&str>) -> StoreResult<()> {
        match reason {
            Some(reason) => self.execute(
                "INSERT INTO disabled (plugin, reason) VALUES ($1, $2)
                 ON CONFLICT (plugin) DO UPDATE SET reason = EXCLUDED.reason",
                &[&plugin, &text(reason)],
            )?,
            None => self.execute("DELETE FROM disabled WHERE plugin = $1", &[&plugin])?,
        };
        Ok(())
    }

    fn config(&mut self, plugin: Option<&str>) -> StoreResult<Vec<ConfigRecord>> {
        let rows = self.query(
            "SELECT plugin, scope, key, value, secret, set_by, set_at FROM config
             WHERE $1::TEXT IS NULL OR plugin = $1 ORDER BY plugin, scope, key",
            &[&plugin],
        )?;
        rows.iter()
            .map(|row| {
                let (plugin, scope, key, value): (String, String, String, String) =
                    (row.get(0), row.get(1), row.get(2), row.get(3));
                let secret: bool = row.get(4);
                crate::model::stored_record(
                    &plugin,
                    &scope,
                    key,
                    value,
                    secret,
                    row.get(5),
                    row.get(6),
                )
            })
            .collect()
    }

    fn put_config(&mut self, r: &ConfigRecord) -> StoreResult<()> {
        let stored = crate::model::stored_value(r)?;
        self.execute(
            "INSERT INTO config (plugin, scope, key, value, secret, set_by, set_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7)
             ON CONFLICT (plugin, scope, key) DO UPDATE
             SET value = EXCLUDED.value, secret = EXCLUDED.secret,
                 set_by = EXCLUDED.set_by, set_at = EXCLUDED.set_at",
            &[
                &r.plugin.as_str(),
                &r.scope.as_str(),
                &r.key,
                &stored,
                &r.secret,
                &r.set_by,
                &r.set_at,
            ],
        )?;
        Ok(())
    }

    fn delete_config(&mut self, plugin: &str, scope: &str, key: &str) -> StoreResult<bool> {
        Ok(self.execute(
            "DELETE FROM config WHERE plugin = $1 AND scope = $2 AND key = $3",
            &[&plugin, &scope, &key],
        )? > 0)
    }

    fn append_audit(&mut self, a: &AuditRecord) -> StoreResult<i64> {
        self.execute("SELECT pg_advisory_xact_lock($1)", &[&AUDIT_LOCK])?;
        let outcome = if a.outcome == Outcome::Ok {
            "ok"
        } else {
            "error"
        };
        let (actor, reason) = (text(&a.actor), text(&a.reason));
        let (plugin, version) = (
            a.plugin.as_deref().map(text),
            a.version.as_deref().map(text),
        );
        Ok(self
            .one(
                "INSERT INTO audit (at, actor, action, plugin, version, outcome, reason)
                 VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id",
                &[
                    &a.at, &actor, &a.action, &plugin, &version, &outcome, &reason,
                ],
            )?
            .get(0))
    }

    fn audits(&mut self, plugin: Option<&str>, window: Window) -> StoreResult<Vec<AuditRecord>> {
        let (after, limit) = window_bounds(window);
        let sql = windowed(&format!("SELECT {AUDIT_COLUMNS} FROM audit"), window);
        Ok(self
            .query(&sql, &[&plugin, &after, &limit])?
            .iter()
            .map(audit_row)
            .collect())
    }

    fn append_events(&mut self, events: &[EventRecord]) -> StoreResult<i64> {
        self.execute("SELECT pg_advisory_xact_lock($1)", &[&EVENT_LOCK])?;
        let mut last = 0;
        for e in events {
            let (kind, plugin) = (text(&e.kind), text(&e.plugin));
            let (version, host) = (e.version.as_deref().map(text), e.host.as_deref().map(text));
            let detail = without_nul(&e.detail).to_string();
            last = self
                .one(
                    "INSERT INTO events (at, kind, plugin, version, host, detail)
                     VALUES ($1, $2, $3, $4, $5, $6::TEXT::JSONB) RETURNING id",
                    &[&e.at, &kind, &plugin, &version, &host, &detail],
                )?
                .get(0);
        }
        Ok(last)
    }

    fn delete_events_before(&mut self, at: i64) -> StoreResult<u64> {
        self.execute("DELETE FROM events WHERE at < $1", &[&at])
    }

    fn events(&mut self, plugin: Option<&str>, window: Window) -> StoreResult<Vec<EventRecord>> {
        let (after, limit) = window_bounds(window);
        let sql = windowed(&format!("SELECT {EVENT_COLUMNS} FROM events"), window);
        self.query(&sql, &[&plugin, &after, &limit])?
            .iter()
            .map(event_row)
            .collect()
    }

    fn event_totals(&mut self, plugin: &str, kind: &str, field: &str) -> StoreResult<EventTotals> {
        let row = self.one(
            "SELECT COUNT(*),
                    COALESCE(SUM(CASE WHEN jsonb_typeof(detail -> $3) = 'number'
                                      THEN (detail ->> $3)::NUMERIC END), 0)::BIGINT,
                    MAX(at)
             FROM events WHERE plugin = $1 AND kind = $2",
            &[&plugin, &kind, &field],
        )?;
        Ok(EventTotals {
            events: row.get::<_, i64>(0).max(0) as u64,
            sum: row.get::<_, i64>(1).max(0) as u64,
            last_at: row.get(2),
        })
    }

    fn latest_events(
        &mut self,
        kind: &str,
        plugin: Option<&str>,
        field: &str,
    ) -> StoreResult<Vec<EventRecord>> {
        self.query(
            &format!(
                "SELECT {EVENT_COLUMNS} FROM (
                     SELECT DISTINCT ON (plugin, detail ->> $3) * FROM events
                     WHERE kind = $1 AND ($2::TEXT IS NULL OR plugin = $2)
                     ORDER BY plugin, detail ->> $3, id DESC
                 ) AS latest ORDER BY plugin, detail ->> $3"
            ),
            &[&kind, &plugin, &field],
        )?
        .iter()
        .map(event_row)
        .collect()
    }

    fn bump_change(&mut self) -> StoreResult<i64> {
        let seq: i64 = self
            .one(
                "UPDATE meta SET value = value + 1 WHERE key = 'change_seq' RETURNING value",
                &[],
            )?
            .get(0);
        // Delivered to every listening host when (and only if) this commits.
        self.execute("SELECT pg_notify($1, $2)", &[&CHANNEL, &seq.to_string()])?;
        Ok(seq)
    }

    fn change_seq(&mut self) -> StoreResult<i64> {
        Ok(self
            .one("SELECT value FROM meta WHERE key = 'change_seq'", &[])?
            .get(0))
    }

    fn marks(&mut self) -> StoreResult<Marks> {
        let row = self.one(
            "SELECT (SELECT value FROM meta WHERE key = 'change_seq'),
                    (SELECT COALESCE(MAX(id), 0) FROM audit),
                    (SELECT COALESCE(MAX(id), 0) FROM events),
                    (SELECT value FROM meta WHERE key = 'host_seq')",
            &[],
        )?;
        Ok(Marks {
            seq: row.get(0),
            audit: row.get(1),
            event: row.get(2),
            hosts: row.get(3),
        })
    }

    fn put_host(&mut self, h: &HostRecord) -> StoreResult<()> {
        let (loaded, posture) = crate::model::host_json(h)?;
        self.execute(
            "INSERT INTO hosts (name, scope, contract, engine, started_at, last_seen, change_seq, loaded, posture)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8::TEXT::JSONB, $9::TEXT::JSONB)
             ON CONFLICT (name) DO UPDATE
             SET scope = EXCLUDED.scope, contract = EXCLUDED.contract, engine = EXCLUDED.engine,
                 started_at = EXCLUDED.started_at, last_seen = EXCLUDED.last_seen,
                 change_seq = EXCLUDED.change_seq, loaded = EXCLUDED.loaded,
                 posture = EXCLUDED.posture",
            &[
                &h.name,
                &h.scope.as_str(),
                &h.contract,
                &h.engine,
                &h.started_at,
                &h.last_seen,
                &h.change_seq,
                &loaded,
                &posture,
            ],
        )?;
        Ok(())
    }

    fn put_artifact(&mut self, digest: &str, bytes: &[u8]) -> StoreResult<()> {
        let at = crate::model::now_ms();
        self.execute(
            "INSERT INTO artifacts (digest, bytes, stored_at) VALUES ($1, $2, $3)
             ON CONFLICT (digest) DO NOTHING",
            &[&digest, &bytes, &at],
        )?;
        Ok(())
    }

    fn artifact(&mut self, digest: &str) -> StoreResult<Option<Vec<u8>>> {
        Ok(self
            .query("SELECT bytes FROM artifacts WHERE digest = $1", &[&digest])?
            .first()
            .map(|r| r.get(0)))
    }

    fn artifact_sizes(&mut self) -> StoreResult<Vec<(String, u64)>> {
        Ok(self
            .query(
                "SELECT digest, octet_length(bytes)::BIGINT FROM artifacts ORDER BY digest",
                &[],
            )?
            .iter()
            .map(|r| (r.get(0), u64::try_from(r.get::<_, i64>(1)).unwrap_or(0)))
            .collect())
    }

    fn delete_artifact(&mut self, digest: &str) -> StoreResult<u64> {
        Ok(self
            .query(
                "DELETE FROM artifacts WHERE digest = $1 RETURNING octet_length(bytes)::BIGINT",
                &[&digest],
            )?
            .first()
            .map_or(0, |r| u64::try_from(r.get::<_, i64>(0)).unwrap_or(0)))
    }

    fn bump_hosts(&mut self) -> StoreResult<i64> {
        Ok(self
            .one(
                "UPDATE meta SET value = value + 1 WHERE key = 'host_seq' RETURNING value",
                &[],
            )?
            .get(0))
    }

    fn delete_hosts_seen_before(&mut self, at: i64) -> StoreResult<u64> {
        self.execute("DELETE FROM hosts WHERE last_seen < $1", &[&at])
    }

    fn hosts(&mut self) -> StoreResult<Vec<HostRecord>> {
        self.query(
            "SELECT name, scope, contract, engine, started_at, last_seen, change_seq, loaded::TEXT,
                    posture::TEXT
             FROM hosts ORDER BY name",
            &[],
        )?
        .iter()
        .map(|row| {
            crate::model::host_record(
                row.get(0),
                row.get(1),
                row.get(2),
                row.get(3),
                row.get(4),
                row.get(5),
                row.get(6),
                row.get(7),
                row.get(8),
            )
        })
        .collect()
    }

    fn mcp_servers(&mut self) -> StoreResult<Vec<McpServerRecord>> {
        self.query("SELECT record, token FROM mcp_servers ORDER BY name", &[])?
            .iter()
            .map(|row| McpServerRecord::from_row(row.get(0), row.get(1)))
            .collect()
    }

    fn mcp_server(&mut self, name: &str) -> StoreResult<Option<McpServerRecord>> {
        self.query(
            "SELECT record, token FROM mcp_servers WHERE name = $1",
            &[&name],
        )?
        .first()
        .map(|row| McpServerRecord::from_row(row.get(0), row.get(1)))
        .transpose()
    }

    fn put_mcp_server(&mut self, server: &McpServerRecord) -> StoreResult<()> {
        let (json, token) = server.to_row()?;
        self.execute(
            "INSERT INTO mcp_servers (name, record, token) VALUES ($1, $2, $3)
             ON CONFLICT (name) DO UPDATE SET record = EXCLUDED.record, token = EXCLUDED.token",
            &[&server.name.as_str(), &json, &token],
        )?;
        Ok(())
    }

    fn trust_policy(&mut self) -> StoreResult<TrustPolicy> {
        match self
            .query("SELECT policy FROM trust WHERE id = 1", &[])?
            .first()
        {
            None => Ok(TrustPolicy::default()),
            Some(row) => serde_json::from_str(row.get::<_, &str>(0))
                .map_err(|_| RegistryError::Schema("the stored trust policy is not valid".into())),
        }
    }

    fn put_trust_policy(&mut self, policy: &TrustPolicy) -> StoreResult<()> {
        let text = serde_json::to_string(policy).unwrap_or_default();
        self.execute(
            "INSERT INTO trust (id, policy) VALUES (1, $1)
             ON CONFLICT (id) DO UPDATE SET policy = EXCLUDED.policy",
            &[&text],
        )?;
        Ok(())
    }

    fn delete_mcp_server(&mut self, name: &str) -> StoreResult<bool> {
        Ok(self.execute("DELETE FROM mcp_servers WHERE name = $1", &[&name])? > 0)
    }

    fn clear(&mut self) -> StoreResult<()> {
        self.tx
            .batch_execute(
                "DELETE FROM versions; DELETE FROM grants; DELETE FROM config; DELETE FROM disabled; DELETE FROM events; DELETE FROM artifacts; DELETE FROM mcp_servers;",
            )
            .map_err(|e| self.seen(e))
    }
}
