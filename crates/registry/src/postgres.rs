//! The fleet store: one PostgreSQL database shared by every host and
//! operator (docs/fleet.md). Writes run at `SERIALIZABLE` and are retried
//! when PostgreSQL reports a conflict with a concurrent writer, so a
//! read-modify-write never loses an update; the schema itself keeps one
//! active version per plugin, published versions and artifacts immutable
//! and the audit log append-only. Artifacts are stored in the database, so
//! every host reads them from the one place it already trusts. Every
//! committed change is announced with `NOTIFY`.

use std::sync::Arc;
use std::time::Duration;

use postgres::error::SqlState;
use postgres::fallible_iterator::FallibleIterator;
use postgres::types::ToSql;
use postgres::{Client, Config, IsolationLevel, NoTls, Row, Statement};
use semver::Version;
use yoi_manifest::{PluginId, Rollout};

use crate::error::RegistryError;
use crate::model::{
    AuditRecord, ConfigRecord, EventRecord, EventTotals, GrantRecord, HostRecord, Marks, Outcome,
    VersionRecord, Window,
};
use crate::store::{Store, StoreResult, Tx};

/// Schema migrations, applied in order; `yoi_schema.version` records how
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
        published_at BIGINT  NOT NULL,
        published_by TEXT    NOT NULL,
        updated_at   BIGINT  NOT NULL,
        seq          BIGINT  NOT NULL UNIQUE,
        PRIMARY KEY (plugin, version)
    );
    -- At most one active version per plugin, enforced by the database itself.
    CREATE UNIQUE INDEX one_active ON versions (plugin) WHERE state = 'active';
    -- A published version keeps its digest and manifest for ever.
    CREATE FUNCTION yoi_version_immutable() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        IF NEW.plugin <> OLD.plugin OR NEW.version <> OLD.version OR NEW.digest <> OLD.digest
           OR NEW.manifest <> OLD.manifest OR NEW.published_at <> OLD.published_at
           OR NEW.published_by <> OLD.published_by OR NEW.seq <> OLD.seq THEN
            RAISE EXCEPTION 'published version %@% is immutable', OLD.plugin, OLD.version
                USING ERRCODE = 'integrity_constraint_violation';
        END IF;
        RETURN NEW;
    END $$;
    CREATE TRIGGER version_immutable BEFORE UPDATE ON versions
        FOR EACH ROW EXECUTE FUNCTION yoi_version_immutable();
    -- Artifacts and audit records are never changed once written (audit
    -- records are never deleted either).
    CREATE FUNCTION yoi_refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        RAISE EXCEPTION '% rows are never changed (%)', TG_TABLE_NAME, TG_OP
            USING ERRCODE = 'integrity_constraint_violation';
    END $$;
    CREATE TABLE artifacts (
        digest    TEXT   PRIMARY KEY CHECK (digest ~ '^sha256:[0-9a-f]{64}$'),
        bytes     BYTEA  NOT NULL,
        stored_at BIGINT NOT NULL
    );
    CREATE TRIGGER artifact_immutable BEFORE UPDATE ON artifacts
        FOR EACH ROW EXECUTE FUNCTION yoi_refuse_change();
    CREATE TABLE grants (
        plugin     TEXT    NOT NULL,
        capability TEXT    NOT NULL,
        granted    BOOLEAN NOT NULL,
        by_actor   TEXT    NOT NULL,
        at         BIGINT  NOT NULL,
        PRIMARY KEY (plugin, capability)
    );
    CREATE TABLE disabled (plugin TEXT PRIMARY KEY, reason TEXT NOT NULL);
    CREATE TABLE audit (
        id      BIGSERIAL PRIMARY KEY,
        at      BIGINT NOT NULL,
        actor   TEXT   NOT NULL,
        action  TEXT   NOT NULL,
        plugin  TEXT,
        version TEXT,
        outcome TEXT   NOT NULL CHECK (outcome IN ('ok', 'error')),
        reason  TEXT   NOT NULL
    );
    CREATE INDEX audit_plugin ON audit (plugin, id);
    CREATE TRIGGER audit_append_only BEFORE UPDATE OR DELETE ON audit
        FOR EACH ROW EXECUTE FUNCTION yoi_refuse_change();
    CREATE TABLE events (
        id      BIGSERIAL PRIMARY KEY,
        at      BIGINT NOT NULL,
        kind    TEXT   NOT NULL,
        plugin  TEXT   NOT NULL,
        version TEXT,
        host    TEXT,
        detail  JSONB  NOT NULL
    );
    CREATE INDEX events_plugin ON events (plugin, id);
    CREATE INDEX events_at ON events (at);
    CREATE INDEX events_kind ON events (kind, plugin, id);
    CREATE TABLE config (
        plugin  TEXT    NOT NULL,
        scope   TEXT    NOT NULL CHECK (scope IN ('all', 'beta', 'canary', 'internal')),
        key     TEXT    NOT NULL,
        value   TEXT    NOT NULL,
        secret  BOOLEAN NOT NULL,
        set_by  TEXT    NOT NULL,
        set_at  BIGINT  NOT NULL,
        PRIMARY KEY (plugin, scope, key)
    );
    CREATE TABLE hosts (
        name       TEXT   PRIMARY KEY,
        scope      TEXT   NOT NULL CHECK (scope IN ('all', 'beta', 'canary', 'internal')),
        contract   TEXT   NOT NULL,
        engine     TEXT   NOT NULL,
        started_at BIGINT NOT NULL,
        last_seen  BIGINT NOT NULL,
        change_seq BIGINT NOT NULL,
        loaded     JSONB  NOT NULL
    );
    CREATE TABLE meta (key TEXT PRIMARY KEY, value BIGINT NOT NULL);
    INSERT INTO meta (key, value) VALUES ('change_seq', 0), ('version_seq', 0), ('host_seq', 0);",
    // 2: how each host runs plugins (safe mode, limits), as it reports it.
    "ALTER TABLE hosts ADD COLUMN posture JSONB;",
];

/// The channel every committed change is announced on, with the change
/// counter as payload.
const CHANNEL: &str = "yoi_changes";
/// Advisory lock keys: one for migrations; one each so audit and event ids
/// are handed out in commit order (a reader paging by id never skips a
/// record committed late with a smaller id).
const MIGRATION_LOCK: i64 = 0x796f_6901;
const AUDIT_LOCK: i64 = 0x796f_6902;
const EVENT_LOCK: i64 = 0x796f_6903;
/// How often a write that conflicts with concurrent writers is tried.
const ATTEMPTS: u32 = 40;
/// Connections kept per process.
const POOL_SIZE: u32 = 8;
/// How long to wait for a connection before saying the database is down.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// Server-side bound on any one statement, so no registry call blocks for
/// ever on a stuck lock.
const STATEMENT_TIMEOUT_MS: u32 = 15_000;

/// One pooled connection with the statements it has prepared: each query
/// is parsed once per connection, not once per call.
struct Conn {
    client: Client,
    statements: std::collections::HashMap<String, Statement>,
}

/// Opens connections for the pool.
struct Manager(Config);

impl r2d2::ManageConnection for Manager {
    type Connection = Conn;
    type Error = postgres::Error;

    fn connect(&self) -> Result<Conn, postgres::Error> {
        Ok(Conn {
            client: self.0.connect(NoTls)?,
            statements: std::collections::HashMap::new(),
        })
    }

    fn is_valid(&self, conn: &mut Conn) -> Result<(), postgres::Error> {
        conn.client.simple_query("").map(|_| ())
    }

    fn has_broken(&self, conn: &mut Conn) -> bool {
        conn.client.is_closed()
    }
}

type Pool = r2d2::Pool<Manager>;

/// Registry storage in a PostgreSQL database, for many hosts and operators.
pub struct PostgresStore {
    pool: Pool,
    config: Config,
    location: String,
}

/// `postgres://user:secret@host/db` (or `...?password=secret`) shown
/// without its password.
pub(crate) fn redact(url: &str) -> String {
    let url = match url.split_once('?') {
        Some((base, query)) => {
            let query: Vec<String> = query
                .split('&')
                .map(|pair| match pair.split_once('=') {
                    // Keys are compared decoded: `pass%77ord` is `password`.
                    Some((key, _)) if decoded(key).eq_ignore_ascii_case("password") => {
                        format!("{key}=***")
                    }
                    _ => pair.to_owned(),
                })
                .collect();
            format!("{base}?{}", query.join("&"))
        }
        None => url.to_owned(),
    };
    let url = url.as_str();
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme), Some(at)) if at > scheme => {
            let userinfo = &url[scheme + 3..at];
            match userinfo.find(':') {
                Some(colon) => format!(
                    "{}{}:***{}",
                    &url[..scheme + 3],
                    &userinfo[..colon],
                    &url[at..]
                ),
                None => url.to_owned(),
            }
        }
        _ => url.to_owned(),
    }
}

/// `text` with its `%XX` escapes decoded (malformed ones kept as written).
fn decoded(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let byte = text
            .get(i + 1..i + 3)
            .filter(|_| bytes[i] == b'%')
            .and_then(|hex| u8::from_str_radix(hex, 16).ok());
        match byte {
            Some(b) => {
                out.push(b);
                i += 3;
            }
            None => {
                out.push(bytes[i]);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Whether a write failed because of a concurrent writer, so running it
/// again on fresh data is the fix. A unique violation counts: two
/// writers that each checked first (one publish of a version, one active
/// version) and collided on the index; run again, the check sees the
/// other's row and answers as the rules say.
fn is_conflict(e: &postgres::Error) -> bool {
    matches!(
        e.code(),
        Some(c) if *c == SqlState::T_R_SERIALIZATION_FAILURE
            || *c == SqlState::T_R_DEADLOCK_DETECTED
            || *c == SqlState::UNIQUE_VIOLATION
    )
}

/// A pause before the next attempt of a conflicting write: random, growing,
/// at most 50 ms, so writers that collided do not collide again in step.
fn backoff(attempt: u32) {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u32(attempt);
    let cap = (1u64 << attempt.min(6)).min(50);
    std::thread::sleep(Duration::from_micros(500 + h.finish() % (cap * 1000)));
}

impl PostgresStore {
    /// Connects to the database at `url` (`postgres://user[:password]@host[:port]/db`,
    /// or PostgreSQL's `key=value` form), and creates or migrates its schema.
    /// A database that cannot be reached is R0310; one migrated by a newer
    /// Yoi is R0303.
    pub fn connect(url: &str) -> Result<Self, RegistryError> {
        let location = redact(url);
        let mut config: Config = url.parse().map_err(|e| {
            RegistryError::Invalid(format!(
                "`{location}` is not a PostgreSQL location: {e}; write postgres://USER@HOST[:PORT]/DATABASE"
            ))
        })?;
        if config.get_ssl_mode() == postgres::config::SslMode::Require {
            return Err(RegistryError::Invalid(format!(
                "`{location}` asks for TLS (sslmode=require), which this Yoi cannot speak to PostgreSQL; \
                 reach the database over a private network, a Unix socket or a local TLS proxy, \
                 and drop sslmode=require (docs/fleet.md, \"Not yet\")"
            )));
        }
        if config.get_connect_timeout().is_none() {
            config.connect_timeout(CONNECT_TIMEOUT);
        }
        if config.get_options().is_none() {
            config.options(&format!(
                "-c statement_timeout={STATEMENT_TIMEOUT_MS} -c idle_in_transaction_session_timeout=60000"
            ));
        }
        if config.get_application_name().is_none() {
            config.application_name("yoi");
        }
        let pool = r2d2::Pool::builder()
            .max_size(POOL_SIZE)
            .min_idle(Some(0))
            .connection_timeout(CONNECT_TIMEOUT)
            .error_handler(Box::new(r2d2::NopErrorHandler))
            .build_unchecked(Manager(config.clone()));
        let store = PostgresStore {
            pool,
            config,
            location,
        };
        store.migrate()?;
        Ok(store)
    }

    /// The database, without its password.
    pub fn location(&self) -> &str {
        &self.location
    }

    fn unavailable(&self, detail: impl std::fmt::Display) -> RegistryError {
        RegistryError::Unavailable {
            location: self.location.clone(),
            detail: detail.to_string(),
        }
    }

    /// A PostgreSQL error as the registry reports it: a lost connection is
    /// the database being unreachable, anything else a database error.
    fn error(&self, e: postgres::Error) -> RegistryError {
        if is_lost(&e) {
            self.unavailable(e)
        } else {
            pg_error(e)
        }
    }

    fn connection(&self) -> Result<r2d2::PooledConnection<Manager>, RegistryError> {
        self.pool.get().map_err(|e| self.unavailable(e))
    }

    fn migrate(&self) -> Result<(), RegistryError> {
        let mut pooled = self.connection()?;
        let conn = &mut pooled.client;
        // Hosts starting together against a new database migrate one at a time.
        conn.execute("SELECT pg_advisory_lock($1)", &[&MIGRATION_LOCK])
            .map_err(|e| self.error(e))?;
        let result = self.migrate_locked(conn);
        let unlocked = conn.execute("SELECT pg_advisory_unlock($1)", &[&MIGRATION_LOCK]);
        result?;
        unlocked.map_err(|e| self.error(e))?;
        Ok(())
    }

    fn migrate_locked(&self, conn: &mut Client) -> Result<(), RegistryError> {
        conn.batch_execute(
            "CREATE TABLE IF NOT EXISTS yoi_schema (version INTEGER NOT NULL);
             INSERT INTO yoi_schema (version) SELECT 0 WHERE NOT EXISTS (SELECT 1 FROM yoi_schema);",
        )
        .map_err(|e| self.error(e))?;
        let applied: i32 = conn
            .query_one("SELECT version FROM yoi_schema", &[])
            .map_err(|e| self.error(e))?
            .get(0);
        let applied = usize::try_from(applied).unwrap_or(usize::MAX);
        if applied > MIGRATIONS.len() {
            return Err(RegistryError::Schema(format!(
                "schema version {applied} of {} is newer than this Yoi knows ({}); upgrade this Yoi",
                self.location,
                MIGRATIONS.len()
            )));
        }
        for (i, sql) in MIGRATIONS.iter().enumerate().skip(applied) {
            let mut tx = conn.transaction().map_err(|e| self.error(e))?;
            tx.batch_execute(sql).map_err(|e| self.error(e))?;
            let version = i32::try_from(i + 1).unwrap_or(i32::MAX);
            tx.execute("UPDATE yoi_schema SET version = $1", &[&version])
                .map_err(|e| self.error(e))?;
            tx.commit().map_err(|e| self.error(e))?;
        }
        Ok(())
    }
}

/// Whether an error means the connection is gone (the server stopped, the
/// network broke) rather than that a statement failed.
fn is_lost(e: &postgres::Error) -> bool {
    e.is_closed() || (e.code().is_none() && e.as_db_error().is_none())
}

fn pg_error(e: postgres::Error) -> RegistryError {
    match e.as_db_error() {
        Some(db) => RegistryError::Postgres(format!("{} ({})", db.message(), db.code().code())),
        None => RegistryError::Postgres(e.to_string()),
    }
}

impl Store for PostgresStore {
    fn write<R>(&self, mut f: impl FnMut(&mut dyn Tx) -> StoreResult<R>) -> StoreResult<R> {
        let mut pooled = self.connection()?;
        let Conn { client, statements } = &mut *pooled;
        for attempt in 1..=ATTEMPTS {
            let tx = client
                .build_transaction()
                .isolation_level(IsolationLevel::Serializable)
                .start()
                .map_err(|e| self.error(e))?;
            let mut pg = PgTx {
                tx,
                statements: &mut *statements,
                conflict: false,
                closed: false,
            };
            let out = f(&mut pg);
            let PgTx {
                tx,
                conflict,
                closed,
                ..
            } = pg;
            if closed {
                return Err(self.unavailable("the connection was lost during the operation"));
            }
            match out {
                Ok(value) => match tx.commit() {
                    Ok(()) => return Ok(value),
                    Err(e) if is_conflict(&e) => {}
                    // The COMMIT was sent; whether it was applied is lost
                    // with the connection.
                    Err(e) if is_lost(&e) => {
                        return Err(RegistryError::InDoubt {
                            location: self.location.clone(),
                            detail: e.to_string(),
                        });
                    }
                    Err(e) => return Err(self.error(e)),
                },
                Err(_) if conflict => drop(tx),
                Err(e) => return Err(e),
            }
            backoff(attempt);
        }
        Err(RegistryError::Contended { attempts: ATTEMPTS })
    }

    fn read<R>(&self, f: impl FnOnce(&mut dyn Tx) -> StoreResult<R>) -> StoreResult<R> {
        let mut pooled = self.connection()?;
        let Conn { client, statements } = &mut *pooled;
        // A read-only snapshot: it never conflicts with writers.
        let tx = client
            .build_transaction()
            .isolation_level(IsolationLevel::RepeatableRead)
            .read_only(true)
            .start()
            .map_err(|e| self.error(e))?;
        let mut pg = PgTx {
            tx,
            statements,
            conflict: false,
            closed: false,
        };
        let out = f(&mut pg);
        if pg.closed {
            return Err(self.unavailable("the connection was lost during the read"));
        }
        let out = out?;
        pg.tx.commit().map_err(|e| self.error(e))?;
        Ok(out)
    }

    fn artifacts_in_database(&self) -> bool {
        true
    }

    fn listen(&self, wake: Arc<dyn Fn(i64) -> bool + Send + Sync>) -> StoreResult<bool> {
        let mut config = self.config.clone();
        // Named, so an operator sees in pg_stat_activity which connections
        // are hosts waiting for changes.
        config.application_name("yoi-listen");
        std::thread::Builder::new()
            .name("yoi-listen".into())
            .spawn(move || listen(&config, &*wake))
            .map_err(|e| RegistryError::Postgres(format!("cannot start the listener: {e}")))?;
        Ok(true)
    }
}

/// Follows `NOTIFY yoi_changes` until `wake` says nobody listens any more.
/// After every (re)connection `wake` is called with the current counter, so
/// changes committed while the connection was down are caught up.
fn listen(config: &Config, wake: &(dyn Fn(i64) -> bool + Send + Sync)) {
    let mut pause = Duration::from_millis(50);
    loop {
        let connected = config.connect(NoTls).and_then(|mut client| {
            client.batch_execute(&format!("LISTEN {CHANNEL}"))?;
            let seq: i64 = client
                .query_one("SELECT value FROM meta WHERE key = 'change_seq'", &[])?
                .get(0);
            Ok((client, seq))
        });
        let (mut client, seq) = match connected {
            Ok(c) => c,
            Err(_) => {
                // Checked while waiting too, so a dropped registry does not
                // leave a thread retrying a dead database for ever.
                if !wake(-1) {
                    return;
                }
                std::thread::sleep(pause);
                pause = (pause * 2).min(Duration::from_secs(1));
                continue;
            }
        };
        pause = Duration::from_millis(50);
        if !wake(seq) {
            return;
        }
        loop {
            let next = client
                .notifications()
                .timeout_iter(Duration::from_millis(500))
                .next();
            match next {
                Ok(Some(n)) => {
                    if !wake(n.payload().parse().unwrap_or(-1)) {
                        return;
                    }
                }
                Err(_) => break,
                Ok(None) => {
                    // Quiet: make sure the connection is still there, since
                    // a dead one would wait for ever without an error.
                    if client.is_closed() || client.is_valid(Duration::from_secs(2)).is_err() {
                        break;
                    }
                    if !wake(-1) {
                        return;
                    }
                }
            }
        }
    }
}

struct PgTx<'c> {
    tx: postgres::Transaction<'c>,
    statements: &'c mut std::collections::HashMap<String, Statement>,
    /// A statement failed because of a concurrent writer: the whole
    /// transaction is tried again.
    conflict: bool,
    /// The connection was lost.
    closed: bool,
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
const VERSION_COLUMNS: &str = "plugin, version, digest, manifest, state, scope, percent, published_at, published_by, updated_at, seq";

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
                                   published_at, published_by, updated_at, seq)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
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
            ],
        )?;
        Ok(seq)
    }

    fn update_version(&mut self, r: &VersionRecord) -> StoreResult<()> {
        self.execute(
            "UPDATE versions SET state = $3, scope = $4, percent = $5, updated_at = $6
             WHERE plugin = $1 AND version = $2",
            &[
                &r.plugin.as_str(),
                &r.version.to_string(),
                &r.state.as_str(),
                &r.rollout.scope.as_str(),
                &i32::from(r.rollout.percent),
                &r.updated_at,
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

    fn clear(&mut self) -> StoreResult<()> {
        self.tx
            .batch_execute(
                "DELETE FROM versions; DELETE FROM grants; DELETE FROM config; DELETE FROM disabled; DELETE FROM events; DELETE FROM artifacts;",
            )
            .map_err(|e| self.seen(e))
    }
}

#[cfg(test)]
mod tests {
    use super::redact;

    #[test]
    fn passwords_are_redacted_wherever_they_are_written() {
        assert_eq!(
            redact("postgres://yoi:s3cret@db:5432/yoi"),
            "postgres://yoi:***@db:5432/yoi"
        );
        assert_eq!(
            redact("postgres://yoi:p@ss:w@db/yoi"),
            "postgres://yoi:***@db/yoi"
        );
        assert_eq!(
            redact("postgres://yoi@db/yoi?connect_timeout=3&PASSWORD=s3cret&x=1"),
            "postgres://yoi@db/yoi?connect_timeout=3&PASSWORD=***&x=1"
        );
        assert_eq!(redact("postgres://db/yoi"), "postgres://db/yoi");
    }
}
