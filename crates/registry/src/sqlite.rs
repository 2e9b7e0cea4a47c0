//! The default store: SQLite in WAL mode, one file, no server. Writes use
//! `BEGIN IMMEDIATE`, so writers in several processes are serialized and a
//! read-modify-write never loses an update; `synchronous = FULL` makes a
//! committed operation durable. A process killed at any instant leaves the
//! last committed state.

use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use rusqlite::{Connection, OptionalExtension, Row, Transaction, TransactionBehavior, params};
use semver::Version;

use crate::error::RegistryError;
use crate::mcp_pins::McpServerRecord;
use crate::model::Provenance;
use crate::trust::TrustPolicy;
use yoi_manifest::{PluginId, Rollout};

use crate::model::{
    AuditRecord, ConfigRecord, EventRecord, EventTotals, GrantRecord, HostRecord, Marks, Outcome,
    VersionRecord, Window,
};
use crate::store::{Store, StoreResult, Tx};

/// Schema migrations, applied in order; `PRAGMA user_version` records how
/// many ran. Never edit a released step: add a new one.
const MIGRATIONS: &[&str] = &[
    // 1: the initial schema.
    "CREATE TABLE versions (
        plugin       TEXT    NOT NULL,
        version      TEXT    NOT NULL,
        digest       TEXT    NOT NULL,
        manifest     TEXT    NOT NULL,
        state        TEXT    NOT NULL CHECK (state IN ('published', 'active', 'inactive', 'rolled_back')),
        scope        TEXT    NOT NULL CHECK (scope IN ('all', 'beta', 'canary', 'internal')),
        percent      INTEGER NOT NULL CHECK (percent BETWEEN 0 AND 100),
        published_at INTEGER NOT NULL,
        published_by TEXT    NOT NULL,
        updated_at   INTEGER NOT NULL,
        seq          INTEGER NOT NULL UNIQUE,
        PRIMARY KEY (plugin, version)
    );
    -- At most one active version per plugin, enforced by the database itself.
    CREATE UNIQUE INDEX one_active ON versions (plugin) WHERE state = 'active';
    CREATE TABLE grants (
        plugin     TEXT    NOT NULL,
        capability TEXT    NOT NULL,
        granted    INTEGER NOT NULL,
        by_actor   TEXT    NOT NULL,
        at         INTEGER NOT NULL,
        PRIMARY KEY (plugin, capability)
    );
    CREATE TABLE disabled (plugin TEXT PRIMARY KEY, reason TEXT NOT NULL);
    CREATE TABLE audit (
        id      INTEGER PRIMARY KEY AUTOINCREMENT,
        at      INTEGER NOT NULL,
        actor   TEXT    NOT NULL,
        action  TEXT    NOT NULL,
        plugin  TEXT,
        version TEXT,
        outcome TEXT    NOT NULL CHECK (outcome IN ('ok', 'error')),
        reason  TEXT    NOT NULL
    );
    CREATE INDEX audit_plugin ON audit (plugin, id);
    CREATE TABLE events (
        id      INTEGER PRIMARY KEY AUTOINCREMENT,
        at      INTEGER NOT NULL,
        kind    TEXT    NOT NULL,
        plugin  TEXT    NOT NULL,
        version TEXT,
        detail  TEXT    NOT NULL
    );
    CREATE INDEX events_plugin ON events (plugin, id);
    CREATE TABLE meta (key TEXT PRIMARY KEY, value INTEGER NOT NULL);
    INSERT INTO meta (key, value) VALUES ('change_seq', 0), ('version_seq', 0);",
    // 2: event retention deletes by age.
    "CREATE INDEX events_at ON events (at);",
    // 3: operators' setting values; a secret's value is sealed.
    "CREATE TABLE config (
        plugin  TEXT    NOT NULL,
        scope   TEXT    NOT NULL CHECK (scope IN ('all', 'beta', 'canary', 'internal')),
        key     TEXT    NOT NULL,
        value   TEXT    NOT NULL,
        secret  INTEGER NOT NULL,
        set_by  TEXT    NOT NULL,
        set_at  INTEGER NOT NULL,
        PRIMARY KEY (plugin, scope, key)
    );",
    // 4: the latest event of a kind per plugin (`yoi service list`).
    "CREATE INDEX events_kind ON events (kind, plugin, id);",
    // 5: hosts report themselves; events say which host recorded them.
    "CREATE TABLE hosts (
        name       TEXT    PRIMARY KEY,
        scope      TEXT    NOT NULL CHECK (scope IN ('all', 'beta', 'canary', 'internal')),
        contract   TEXT    NOT NULL,
        engine     TEXT    NOT NULL,
        started_at INTEGER NOT NULL,
        last_seen  INTEGER NOT NULL,
        change_seq INTEGER NOT NULL,
        loaded     TEXT    NOT NULL
    );
    ALTER TABLE events ADD COLUMN host TEXT;
    INSERT INTO meta (key, value) VALUES ('host_seq', 0);",
    // 7: writes are counted, and the count the last good copy holds, so
    // the copy is renewed after a few writes by any process.
    "INSERT INTO meta (key, value) VALUES ('writes', 0), ('backup_writes', 0);",
    // 8: how each host runs plugins (safe mode, limits), as it reports it.
    "ALTER TABLE hosts ADD COLUMN posture TEXT;",
    // 9: remote MCP servers an operator declared, with their pinned tools.
    "CREATE TABLE mcp_servers (name TEXT PRIMARY KEY, record TEXT NOT NULL, token TEXT);",
    // 10: signatures and sources of versions; the trust policy.
    "ALTER TABLE versions ADD COLUMN provenance TEXT;
    CREATE TABLE trust (id INTEGER PRIMARY KEY CHECK (id = 1), policy TEXT NOT NULL);",
];

/// SQLite storage in one database file.
pub struct SqliteStore {
    conn: Mutex<Connection>,
    /// Where the last good copy is kept (`<database>.bak`), for file
    /// stores; and when this process last failed to write it.
    backup: Option<(PathBuf, Mutex<Option<Instant>>)>,
}

/// Longest the integrity check at open may take; past it the open goes on
/// unverified rather than keep an operator waiting on a huge database.
const CHECK_LIMIT: Duration = Duration::from_secs(3);
/// How old a healthy registry's last good copy may get while writes come
/// in: the first write after that long renews it (docs/operations.md,
/// "Backups").
pub const BACKUP_EVERY: Duration = Duration::from_secs(5 * 60);
/// How many writes, by any process, the last good copy may miss: the write
/// that makes it that many renews it.
pub const BACKUP_WRITES: i64 = 10;
/// The suffix of the last good copy beside the database file.
pub const BACKUP_SUFFIX: &str = ".bak";

/// Whether a SQLite error says the file is damaged or not a database.
fn is_corruption(e: &rusqlite::Error) -> bool {
    matches!(
        e.sqlite_error_code(),
        Some(rusqlite::ErrorCode::DatabaseCorrupt | rusqlite::ErrorCode::NotADatabase)
    )
}

/// Runs `PRAGMA quick_check`, interrupted after [`CHECK_LIMIT`]. `Ok(None)`
/// means healthy (or not verified in time); `Ok(Some(why))` damaged.
fn quick_check(conn: &Connection) -> Result<Option<String>, rusqlite::Error> {
    let interrupt = conn.get_interrupt_handle();
    let (done, wait) = std::sync::mpsc::channel::<()>();
    let timer = std::thread::spawn(move || {
        if wait.recv_timeout(CHECK_LIMIT).is_err() {
            interrupt.interrupt();
        }
    });
    let result: Result<Vec<String>, rusqlite::Error> =
        conn.prepare("PRAGMA quick_check(8)").and_then(|mut st| {
            st.query_map([], |r| r.get::<_, String>(0))?
                .collect::<Result<Vec<_>, _>>()
        });
    let _ = done.send(());
    let _ = timer.join();
    match result {
        Ok(rows) if rows.len() == 1 && rows[0] == "ok" => Ok(None),
        Ok(rows) => Ok(Some(rows.join("; "))),
        Err(e) if e.sqlite_error_code() == Some(rusqlite::ErrorCode::OperationInterrupted) => {
            Ok(None)
        }
        Err(e) if is_corruption(&e) => Ok(Some(e.to_string())),
        Err(e) => Err(e),
    }
}

impl SqliteStore {
    /// Opens (creating if needed) the database at `path`, checks that it is
    /// not damaged (R0304 if it is, with the way back), and migrates it. A
    /// last good copy is kept beside it (`registry.db.bak`), written before
    /// every migration and at most every [`BACKUP_EVERY`].
    pub fn open(path: &Path) -> Result<Self, RegistryError> {
        Self::open_checked(path, true)
    }

    /// Like [`SqliteStore::open`]; without the integrity check at open when
    /// `check` is false (damage is then refused when a damaged page is
    /// read, not before).
    pub(crate) fn open_checked(path: &Path, check: bool) -> Result<Self, RegistryError> {
        let mut backup = path.as_os_str().to_owned();
        backup.push(BACKUP_SUFFIX);
        let backup = PathBuf::from(backup);
        let corrupt = |detail: String| RegistryError::Corrupt {
            path: path.to_path_buf(),
            detail,
            backup: backup.exists().then(|| backup.clone()),
        };
        let conn = Connection::open(path).map_err(|e| {
            if is_corruption(&e) {
                corrupt(e.to_string())
            } else {
                e.into()
            }
        })?;
        match if check { quick_check(&conn) } else { Ok(None) } {
            Ok(None) => {}
            Ok(Some(why)) => return Err(corrupt(why)),
            Err(e) => return Err(e.into()),
        }
        let store = Self::init(conn, Some(backup.clone())).map_err(|e| match e {
            RegistryError::Database(e) if is_corruption(&e) => corrupt(e.to_string()),
            other => other,
        })?;
        store.backup_if_due(false);
        Ok(store)
    }

    /// An in-memory store, for tests.
    pub fn in_memory() -> Result<Self, RegistryError> {
        Self::init(Connection::open_in_memory()?, None)
    }

    /// Writes the last good copy when it is missing, misses
    /// [`BACKUP_WRITES`] writes, or misses any write and is older than
    /// [`BACKUP_EVERY`] (or always, with `now`). The copy is written with
    /// `VACUUM INTO` beside it, then renamed over the old one, so a crash
    /// leaves the old copy whole. A failed backup costs safety margin, never
    /// the operation: it is reported on stderr, and not tried again for a
    /// minute.
    fn backup_if_due(&self, now: bool) {
        let Some((path, failed)) = &self.backup else {
            return;
        };
        let mut failed = failed.lock().unwrap_or_else(|p| p.into_inner());
        if !now && failed.is_some_and(|t| t.elapsed() < Duration::from_secs(60)) {
            return;
        }
        let conn = self.conn.lock().unwrap_or_else(|p| p.into_inner());
        let counts = |conn: &Connection| -> Option<(i64, i64)> {
            let read = |key: &str| {
                conn.query_row("SELECT value FROM meta WHERE key = ?1", [key], |r| {
                    r.get::<_, i64>(0)
                })
                .ok()
            };
            Some((read("writes")?, read("backup_writes")?))
        };
        let (writes, backed) = counts(&conn).unwrap_or((0, 0));
        if !now && path.exists() {
            let missed = writes - backed;
            let old = std::fs::metadata(path)
                .and_then(|m| m.modified())
                .is_ok_and(|t| t.elapsed().is_ok_and(|age| age > BACKUP_EVERY));
            if missed <= 0 || (missed < BACKUP_WRITES && !old) {
                return;
            }
        }
        // Never replace a good copy with a copy of damage.
        if !matches!(quick_check(&conn), Ok(None)) {
            return;
        }
        // Copies interrupted by a crash are removed first.
        if let (Some(dir), Some(name)) = (path.parent(), path.file_name()) {
            let prefix = format!("{}.tmp-", name.to_string_lossy());
            for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
                if entry.file_name().to_string_lossy().starts_with(&prefix) {
                    let _ = std::fs::remove_file(entry.path());
                }
            }
        }
        let mut tmp = path.as_os_str().to_owned();
        tmp.push(format!(".tmp-{}", std::process::id()));
        let tmp = PathBuf::from(tmp);
        let written = conn
            .execute("VACUUM INTO ?1", params![tmp.to_string_lossy()])
            .map_err(|e| e.to_string())
            .and_then(|_| std::fs::rename(&tmp, path).map_err(|e| e.to_string()))
            .and_then(|()| {
                // What the copy holds, for the next write's decision (the
                // copy itself keeps the older mark: restored, it is
                // copied again at once).
                conn.execute(
                    "UPDATE meta SET value = ?1 WHERE key = 'backup_writes'",
                    [writes],
                )
                .map(drop)
                .map_err(|e| e.to_string())
            });
        *failed = written.is_err().then(Instant::now);
        if let Err(e) = written {
            let _ = std::fs::remove_file(&tmp);
            eprintln!(
                "yoi: warning: could not write the registry's last good copy {}: {e}",
                path.display()
            );
        }
    }

    fn init(conn: Connection, backup: Option<PathBuf>) -> Result<Self, RegistryError> {
        conn.busy_timeout(std::time::Duration::from_secs(30))?;
        conn.pragma_update(None, "journal_mode", "WAL")?;
        conn.pragma_update(None, "synchronous", "FULL")?;
        conn.pragma_update(None, "foreign_keys", "ON")?;
        // Snapshots read the whole log: keep it in memory between reads.
        conn.pragma_update(None, "cache_size", -32_768)?;
        conn.pragma_update(None, "mmap_size", 268_435_456)?;
        let applied: i64 = conn.pragma_query_value(None, "user_version", |r| r.get(0))?;
        let applied = usize::try_from(applied).unwrap_or(usize::MAX);
        if applied > MIGRATIONS.len() {
            return Err(RegistryError::Schema(format!(
                "schema version {applied} is newer than this Yoi knows ({})",
                MIGRATIONS.len()
            )));
        }
        let store = Self {
            conn: Mutex::new(conn),
            backup: backup.map(|p| (p, Mutex::new(None))),
        };
        if applied > 0 && applied < MIGRATIONS.len() {
            // A migration rewrites the schema: keep the data as it was.
            store.backup_if_due(true);
        }
        let mut conn = store.conn.lock().unwrap_or_else(|p| p.into_inner());
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        // Another process may have migrated meanwhile.
        let applied: i64 = tx.pragma_query_value(None, "user_version", |r| r.get(0))?;
        let applied = usize::try_from(applied).unwrap_or(usize::MAX);
        for (i, sql) in MIGRATIONS.iter().enumerate().skip(applied) {
            tx.execute_batch(sql)?;
            tx.pragma_update(
                None,
                "user_version",
                i64::try_from(i + 1).unwrap_or(i64::MAX),
            )?;
        }
        tx.commit()?;
        drop(conn);
        Ok(store)
    }

    /// Runs `f` in a transaction; `commit`: a write, counted towards the
    /// last good copy's freshness when `counted`.
    fn with<R>(
        &self,
        behavior: TransactionBehavior,
        commit: bool,
        counted: bool,
        f: impl FnOnce(&mut dyn Tx) -> StoreResult<R>,
    ) -> StoreResult<R> {
        // A panic while holding the lock cannot leave a half-done transaction
        // (it rolls back on drop), so a poisoned lock is safe to reuse.
        let mut conn = self.conn.lock().unwrap_or_else(|p| p.into_inner());
        let tx = conn.transaction_with_behavior(behavior)?;
        let mut sql = SqlTx { tx };
        let out = f(&mut sql)?;
        if commit {
            if counted {
                // Counted for the last good copy's freshness.
                sql.tx
                    .execute("UPDATE meta SET value = value + 1 WHERE key = 'writes'", [])?;
            }
            sql.tx.commit()?;
        }
        Ok(out)
    }
}

impl Store for SqliteStore {
    fn write<R>(&self, f: impl FnMut(&mut dyn Tx) -> StoreResult<R>) -> StoreResult<R> {
        let out = self.with(TransactionBehavior::Immediate, true, true, f)?;
        self.backup_if_due(false);
        Ok(out)
    }

    fn log<R>(&self, f: impl FnMut(&mut dyn Tx) -> StoreResult<R>) -> StoreResult<R> {
        self.with(TransactionBehavior::Immediate, true, false, f)
    }

    fn read<R>(&self, f: impl FnOnce(&mut dyn Tx) -> StoreResult<R>) -> StoreResult<R> {
        self.with(TransactionBehavior::Deferred, false, false, f)
    }
}

struct SqlTx<'c> {
    tx: Transaction<'c>,
}

fn bad_row(what: &str, value: &str) -> rusqlite::Error {
    rusqlite::Error::FromSqlConversionFailure(
        0,
        rusqlite::types::Type::Text,
        format!("stored {what} `{value}` is not valid").into(),
    )
}

/// The columns `version_row` reads, in its order. Reading by position, not
/// by name, matters when a snapshot reads 100,000 rows.
const VERSION_COLUMNS: &str = "plugin, version, digest, manifest, state, scope, percent, published_at, published_by, updated_at, seq, provenance";

fn version_row(row: &Row<'_>) -> rusqlite::Result<VersionRecord> {
    let plugin: String = row.get(0)?;
    let version: String = row.get(1)?;
    let digest: String = row.get(2)?;
    let state: String = row.get(4)?;
    let scope: String = row.get(5)?;
    let percent: i64 = row.get(6)?;
    Ok(VersionRecord {
        plugin: PluginId::new(&plugin).map_err(|_| bad_row("plugin id", &plugin))?,
        version: Version::parse(&version).map_err(|_| bad_row("version", &version))?,
        digest: digest.parse().map_err(|_| bad_row("digest", &digest))?,
        manifest: row.get(3)?,
        state: state.parse().map_err(|_| bad_row("state", &state))?,
        rollout: Rollout {
            scope: scope.parse().map_err(|_| bad_row("scope", &scope))?,
            percent: u8::try_from(percent).map_err(|_| bad_row("percent", &percent.to_string()))?,
        },
        published_at: row.get(7)?,
        published_by: row.get(8)?,
        updated_at: row.get(9)?,
        seq: row.get(10)?,
        provenance: Provenance::from_column(row.get(11)?).map_err(|t| bad_row("provenance", &t))?,
    })
}

/// The columns `audit_row` reads, in its order.
const AUDIT_COLUMNS: &str = "id, at, actor, action, plugin, version, outcome, reason";

fn audit_row(row: &Row<'_>) -> rusqlite::Result<AuditRecord> {
    let ok = matches!(row.get_ref(6)?, rusqlite::types::ValueRef::Text(b"ok"));
    Ok(AuditRecord {
        id: row.get(0)?,
        at: row.get(1)?,
        actor: row.get(2)?,
        action: row.get(3)?,
        plugin: row.get(4)?,
        version: row.get(5)?,
        outcome: if ok { Outcome::Ok } else { Outcome::Error },
        reason: row.get(7)?,
    })
}

fn event_row(row: &Row<'_>) -> rusqlite::Result<EventRecord> {
    let detail: String = row.get("detail")?;
    Ok(EventRecord {
        id: row.get("id")?,
        at: row.get("at")?,
        kind: row.get("kind")?,
        plugin: row.get("plugin")?,
        version: row.get("version")?,
        detail: serde_json::from_str(&detail).map_err(|_| bad_row("event detail", &detail))?,
        host: row.get("host")?,
    })
}

fn limit(n: usize) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

/// `select` (a query over a table with an `id` and a `plugin` column)
/// narrowed to a window, oldest first. Parameters: ?1 plugin or NULL, ?2
/// the cursor, ?3 the limit.
fn windowed(select: &str, window: Window) -> String {
    let filter = "(?1 IS NULL OR plugin = ?1)";
    match window {
        Window::After { .. } => format!("{select} WHERE id > ?2 AND {filter} ORDER BY id LIMIT ?3"),
        // The newest first to use the index, then turned around. `?2` is
        // unused but bound, so both forms take the same parameters.
        Window::Latest { .. } => format!(
            "SELECT * FROM ({select} WHERE {filter} AND ?2 = ?2 ORDER BY id DESC LIMIT ?3) ORDER BY id"
        ),
    }
}

fn cursor(window: Window) -> i64 {
    match window {
        Window::After { after, .. } => after,
        Window::Latest { .. } => 0,
    }
}

fn bound(window: Window) -> i64 {
    match window {
        Window::After { limit: n, .. } | Window::Latest { limit: n } => limit(n),
    }
}

impl Tx for SqlTx<'_> {
    fn version(&mut self, plugin: &str, version: &Version) -> StoreResult<Option<VersionRecord>> {
        Ok(self
            .tx
            .query_row(
                &format!(
                    "SELECT {VERSION_COLUMNS} FROM versions WHERE plugin = ?1 AND version = ?2"
                ),
                params![plugin, version.to_string()],
                version_row,
            )
            .optional()?)
    }

    fn versions(&mut self, plugin: Option<&str>) -> StoreResult<Vec<VersionRecord>> {
        let mut stmt = self.tx.prepare_cached(&format!(
            "SELECT {VERSION_COLUMNS} FROM versions WHERE ?1 IS NULL OR plugin = ?1 ORDER BY seq"
        ))?;
        let rows = stmt.query_map(params![plugin], version_row)?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    fn active(&mut self, plugin: &str) -> StoreResult<Option<VersionRecord>> {
        Ok(self
            .tx
            .query_row(
                &format!(
                    "SELECT {VERSION_COLUMNS} FROM versions WHERE plugin = ?1 AND state = 'active'"
                ),
                params![plugin],
                version_row,
            )
            .optional()?)
    }

    fn insert_version(&mut self, r: &VersionRecord) -> StoreResult<i64> {
        let seq: i64 = self.tx.query_row(
            "UPDATE meta SET value = value + 1 WHERE key = 'version_seq' RETURNING value",
            [],
            |row| row.get(0),
        )?;
        self.tx.execute(
            "INSERT INTO versions (plugin, version, digest, manifest, state, scope, percent,
                                   published_at, published_by, updated_at, seq, provenance)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)",
            params![
                r.plugin.as_str(),
                r.version.to_string(),
                r.digest.to_string(),
                r.manifest,
                r.state.as_str(),
                r.rollout.scope.as_str(),
                r.rollout.percent,
                r.published_at,
                r.published_by,
                r.updated_at,
                seq,
                r.provenance.to_column()
            ],
        )?;
        Ok(seq)
    }

    fn update_version(&mut self, r: &VersionRecord) -> StoreResult<()> {
        self.tx.execute(
            "UPDATE versions SET state = ?3, scope = ?4, percent = ?5, updated_at = ?6, provenance = ?7
             WHERE plugin = ?1 AND version = ?2",
            params![
                r.plugin.as_str(),
                r.version.to_string(),
                r.state.as_str(),
                r.rollout.scope.as_str(),
                r.rollout.percent,
                r.updated_at,
                r.provenance.to_column()
            ],
        )?;
        Ok(())
    }

    fn grants(&mut self, plugin: Option<&str>) -> StoreResult<Vec<GrantRecord>> {
        let mut stmt = self.tx.prepare_cached(
            "SELECT * FROM grants WHERE ?1 IS NULL OR plugin = ?1 ORDER BY plugin, capability",
        )?;
        let rows = stmt.query_map(params![plugin], |row| {
            let id: String = row.get("plugin")?;
            let capability: String = row.get("capability")?;
            Ok(GrantRecord {
                plugin: PluginId::new(&id).map_err(|_| bad_row("plugin id", &id))?,
                capability: capability
                    .parse()
                    .map_err(|_| bad_row("capability", &capability))?,
                granted: row.get("granted")?,
                by: row.get("by_actor")?,
                at: row.get("at")?,
            })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    fn put_grant(&mut self, g: &GrantRecord) -> StoreResult<()> {
        self.tx.execute(
            "INSERT OR REPLACE INTO grants (plugin, capability, granted, by_actor, at)
             VALUES (?1, ?2, ?3, ?4, ?5)",
            params![
                g.plugin.as_str(),
                g.capability.to_string(),
                g.granted,
                g.by,
                g.at
            ],
        )?;
        Ok(())
    }

    fn delete_version(&mut self, plugin: &str, version: &Version) -> StoreResult<bool> {
        let n = self.tx.execute(
            "DELETE FROM versions WHERE plugin = ?1 AND version = ?2",
            params![plugin, version.to_string()],
        )?;
        Ok(n > 0)
    }

    fn digests_in_use(&mut self) -> StoreResult<std::collections::BTreeSet<String>> {
        let mut stmt = self
            .tx
            .prepare_cached("SELECT DISTINCT digest FROM versions")?;
        let rows = stmt.query_map([], |row| row.get::<_, String>(0))?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    fn delete_events_before(&mut self, at: i64) -> StoreResult<u64> {
        let n = self
            .tx
            .execute("DELETE FROM events WHERE at < ?1", params![at])?;
        Ok(n as u64)
    }

    fn delete_grant(&mut self, plugin: &str, capability: &str) -> StoreResult<bool> {
        let n = self.tx.execute(
            "DELETE FROM grants WHERE plugin = ?1 AND capability = ?2",
            params![plugin, capability],
        )?;
        Ok(n > 0)
    }

    fn disabled(&mut self, plugin: Option<&str>) -> StoreResult<Vec<(String, String)>> {
        let mut stmt = self.tx.prepare_cached(
            "SELECT plugin, reason FROM disabled WHERE ?1 IS NULL OR plugin = ?1 ORDER BY plugin",
        )?;
        let rows = stmt.query_map(params![plugin], |row| Ok((row.get(0)?, row.get(1)?)))?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    fn set_disabled(&mut self, plugin: &str, reason: Option<&str>) -> StoreResult<()> {
        match reason {
            Some(reason) => self.tx.execute(
                "INSERT OR REPLACE INTO disabled (plugin, reason) VALUES (?1, ?2)",
                params![plugin, reason],
            )?,
            None => self
                .tx
                .execute("DELETE FROM disabled WHERE plugin = ?1", params![plugin])?,
        };
        Ok(())
    }

    fn append_audit(&mut self, a: &AuditRecord) -> StoreResult<i64> {
        self.tx.execute(
            "INSERT INTO audit (at, actor, action, plugin, version, outcome, reason)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
            params![
                a.at,
                a.actor,
                a.action,
                a.plugin,
                a.version,
                if a.outcome == Outcome::Ok {
                    "ok"
                } else {
                    "error"
                },
                a.reason
            ],
        )?;
        Ok(self.tx.last_insert_rowid())
    }

    fn audits(&mut self, plugin: Option<&str>, window: Window) -> StoreResult<Vec<AuditRecord>> {
        let sql = windowed(&format!("SELECT {AUDIT_COLUMNS} FROM audit"), window);
        let mut stmt = self.tx.prepare_cached(&sql)?;
        let rows = stmt.query_map(params![plugin, cursor(window), bound(window)], audit_row)?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    fn append_events(&mut self, events: &[EventRecord]) -> StoreResult<i64> {
        let mut stmt = self.tx.prepare_cached(
            "INSERT INTO events (at, kind, plugin, version, detail, host) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        )?;
        for e in events {
            stmt.execute(params![
                e.at,
                e.kind,
                e.plugin,
                e.version,
                e.detail.to_string(),
                e.host
            ])?;
        }
        Ok(self.tx.last_insert_rowid())
    }

    fn events(&mut self, plugin: Option<&str>, window: Window) -> StoreResult<Vec<EventRecord>> {
        let sql = windowed("SELECT * FROM events", window);
        let mut stmt = self.tx.prepare_cached(&sql)?;
        let rows = stmt.query_map(params![plugin, cursor(window), bound(window)], event_row)?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    fn event_totals(&mut self, plugin: &str, kind: &str, field: &str) -> StoreResult<EventTotals> {
        let path = format!("$.{field}");
        Ok(self.tx.query_row(
            "SELECT COUNT(*), COALESCE(SUM(json_extract(detail, ?3)), 0), MAX(at) \
             FROM events WHERE plugin = ?1 AND kind = ?2",
            params![plugin, kind, path],
            |row| {
                Ok(EventTotals {
                    events: row.get::<_, i64>(0)?.max(0) as u64,
                    sum: row.get::<_, i64>(1)?.max(0) as u64,
                    last_at: row.get(2)?,
                })
            },
        )?)
    }

    fn latest_events(
        &mut self,
        kind: &str,
        plugin: Option<&str>,
        field: &str,
    ) -> StoreResult<Vec<EventRecord>> {
        let path = format!("$.{field}");
        let mut stmt = self.tx.prepare_cached(
            "SELECT * FROM events WHERE id IN ( \
                 SELECT MAX(id) FROM events WHERE kind = ?1 AND (?2 IS NULL OR plugin = ?2) \
                 GROUP BY plugin, json_extract(detail, ?3)) \
             ORDER BY plugin, json_extract(detail, ?3)",
        )?;
        let rows = stmt.query_map(params![kind, plugin, path], event_row)?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    fn bump_change(&mut self) -> StoreResult<i64> {
        Ok(self.tx.query_row(
            "UPDATE meta SET value = value + 1 WHERE key = 'change_seq' RETURNING value",
            [],
            |row| row.get(0),
        )?)
    }

    fn change_seq(&mut self) -> StoreResult<i64> {
        Ok(self.tx.query_row(
            "SELECT value FROM meta WHERE key = 'change_seq'",
            [],
            |row| row.get(0),
        )?)
    }

    fn config(&mut self, plugin: Option<&str>) -> StoreResult<Vec<ConfigRecord>> {
        let mut stmt = self.tx.prepare_cached(
            "SELECT plugin, scope, key, value, secret, set_by, set_at FROM config \
             WHERE (?1 IS NULL OR plugin = ?1) ORDER BY plugin, scope, key",
        )?;
        let rows = stmt.query_map(params![plugin], |row| {
            Ok((
                row.get::<_, String>(0)?,
                row.get::<_, String>(1)?,
                row.get::<_, String>(2)?,
                row.get::<_, String>(3)?,
                row.get::<_, bool>(4)?,
                row.get::<_, String>(5)?,
                row.get::<_, i64>(6)?,
            ))
        })?;
        let mut out = Vec::new();
        for row in rows {
            let (plugin, scope, key, value, secret, set_by, set_at) = row?;
            out.push(crate::model::stored_record(
                &plugin, &scope, key, value, secret, set_by, set_at,
            )?);
        }
        Ok(out)
    }

    fn put_config(&mut self, r: &ConfigRecord) -> StoreResult<()> {
        let stored = crate::model::stored_value(r)?;
        self.tx.execute(
            "INSERT OR REPLACE INTO config (plugin, scope, key, value, secret, set_by, set_at) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
            params![
                r.plugin.as_str(),
                r.scope.as_str(),
                r.key,
                stored,
                r.secret,
                r.set_by,
                r.set_at
            ],
        )?;
        Ok(())
    }

    fn delete_config(&mut self, plugin: &str, scope: &str, key: &str) -> StoreResult<bool> {
        Ok(self.tx.execute(
            "DELETE FROM config WHERE plugin = ?1 AND scope = ?2 AND key = ?3",
            params![plugin, scope, key],
        )? > 0)
    }

    fn marks(&mut self) -> StoreResult<Marks> {
        // MAX of an integer primary key is one index lookup.
        Ok(self.tx.query_row(
            "SELECT (SELECT value FROM meta WHERE key = 'change_seq'), \
                    (SELECT COALESCE(MAX(id), 0) FROM audit), \
                    (SELECT COALESCE(MAX(id), 0) FROM events), \
                    (SELECT value FROM meta WHERE key = 'host_seq')",
            [],
            |row| {
                Ok(Marks {
                    seq: row.get(0)?,
                    audit: row.get(1)?,
                    event: row.get(2)?,
                    hosts: row.get(3)?,
                })
            },
        )?)
    }

    fn put_host(&mut self, h: &HostRecord) -> StoreResult<()> {
        let (loaded, posture) = crate::model::host_json(h)?;
        self.tx.execute(
            "INSERT OR REPLACE INTO hosts (name, scope, contract, engine, started_at, last_seen, change_seq, loaded, posture)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
            params![
                h.name,
                h.scope.as_str(),
                h.contract,
                h.engine,
                h.started_at,
                h.last_seen,
                h.change_seq,
                loaded,
                posture
            ],
        )?;
        Ok(())
    }

    fn bump_hosts(&mut self) -> StoreResult<i64> {
        Ok(self.tx.query_row(
            "UPDATE meta SET value = value + 1 WHERE key = 'host_seq' RETURNING value",
            [],
            |row| row.get(0),
        )?)
    }

    fn delete_hosts_seen_before(&mut self, at: i64) -> StoreResult<u64> {
        let n = self
            .tx
            .execute("DELETE FROM hosts WHERE last_seen < ?1", params![at])?;
        Ok(n as u64)
    }

    fn hosts(&mut self) -> StoreResult<Vec<HostRecord>> {
        let mut stmt = self.tx.prepare_cached(
            "SELECT name, scope, contract, engine, started_at, last_seen, change_seq, loaded, posture
             FROM hosts ORDER BY name",
        )?;
        let rows = stmt.query_map([], |row| {
            Ok((
                (row.get(0)?, row.get(1)?, row.get(2)?, row.get(3)?),
                (row.get(4)?, row.get(5)?, row.get(6)?),
                (row.get(7)?, row.get(8)?),
            ))
        })?;
        let mut out = Vec::new();
        for row in rows {
            let (
                (name, scope, contract, engine),
                (started_at, last_seen, change_seq),
                (loaded, posture),
            ) = row?;
            out.push(crate::model::host_record(
                name, scope, contract, engine, started_at, last_seen, change_seq, loaded, posture,
            )?);
        }
        Ok(out)
    }

    fn mcp_servers(&mut self) -> StoreResult<Vec<McpServerRecord>> {
        let mut stmt = self
            .tx
            .prepare_cached("SELECT record, token FROM mcp_servers ORDER BY name")?;
        let rows = stmt.query_map([], |row| Ok((row.get::<_, String>(0)?, row.get(1)?)))?;
        let mut out = Vec::new();
        for row in rows {
            let (json, token) = row?;
            out.push(McpServerRecord::from_row(&json, token)?);
        }
        Ok(out)
    }

    fn mcp_server(&mut self, name: &str) -> StoreResult<Option<McpServerRecord>> {
        let row: Option<(String, Option<String>)> = self
            .tx
            .query_row(
                "SELECT record, token FROM mcp_servers WHERE name = ?1",
                params![name],
                |row| Ok((row.get(0)?, row.get(1)?)),
            )
            .optional()?;
        row.map(|(json, token)| McpServerRecord::from_row(&json, token))
            .transpose()
    }

    fn put_mcp_server(&mut self, server: &McpServerRecord) -> StoreResult<()> {
        let (json, token) = server.to_row()?;
        self.tx.execute(
            "INSERT OR REPLACE INTO mcp_servers (name, record, token) VALUES (?1, ?2, ?3)",
            params![server.name.as_str(), json, token],
        )?;
        Ok(())
    }

    fn trust_policy(&mut self) -> StoreResult<TrustPolicy> {
        let text: Option<String> = self
            .tx
            .query_row("SELECT policy FROM trust WHERE id = 1", [], |row| {
                row.get(0)
            })
            .optional()?;
        match text {
            None => Ok(TrustPolicy::default()),
            Some(t) => serde_json::from_str(&t)
                .map_err(|_| RegistryError::Schema("the stored trust policy is not valid".into())),
        }
    }

    fn put_trust_policy(&mut self, policy: &TrustPolicy) -> StoreResult<()> {
        let text = serde_json::to_string(policy).unwrap_or_default();
        self.tx.execute(
            "INSERT OR REPLACE INTO trust (id, policy) VALUES (1, ?1)",
            params![text],
        )?;
        Ok(())
    }

    fn delete_mcp_server(&mut self, name: &str) -> StoreResult<bool> {
        let n = self
            .tx
            .execute("DELETE FROM mcp_servers WHERE name = ?1", params![name])?;
        Ok(n > 0)
    }

    fn clear(&mut self) -> StoreResult<()> {
        self.tx.execute_batch(
            "DELETE FROM versions; DELETE FROM grants; DELETE FROM config; DELETE FROM disabled; DELETE FROM events; DELETE FROM mcp_servers;",
        )?;
        Ok(())
    }
}
