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

mod schema;
mod tx;

use schema::MIGRATIONS;
use tx::PgTx;

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
