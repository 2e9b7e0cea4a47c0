//! Where a registry lives, and the store chosen for it at run time: a
//! folder (SQLite, the embedded default) or a PostgreSQL database shared by
//! a fleet of hosts (docs/fleet.md).

use std::path::PathBuf;
use std::sync::Arc;

use crate::error::RegistryError;
use crate::postgres::PostgresStore;
use crate::sqlite::SqliteStore;
use crate::store::{Store, StoreResult, Tx};

/// A registry location as operators write it (`--registry`, `YOI_REGISTRY`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Location {
    /// A registry folder: `registry.db` and the `blobs` folder.
    Folder(PathBuf),
    /// A PostgreSQL database: `postgres://user[:password]@host[:port]/db`.
    Postgres(String),
}

impl Location {
    /// Reads a location: a `postgres://` or `postgresql://` URL is a
    /// database, anything else a folder.
    pub fn parse(text: &str) -> Location {
        if text.starts_with("postgres://") || text.starts_with("postgresql://") {
            Location::Postgres(text.to_owned())
        } else {
            Location::Folder(PathBuf::from(text))
        }
    }
}

impl std::fmt::Display for Location {
    /// The location without a password.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Location::Folder(dir) => write!(f, "{}", dir.display()),
            Location::Postgres(url) => f.write_str(&crate::postgres::redact(url)),
        }
    }
}

/// The store of a registry opened by [`Location`]: either backend, with
/// the same operations, rules, error codes and audit semantics.
pub enum Backend {
    /// One SQLite file in a registry folder.
    Sqlite(SqliteStore),
    /// A PostgreSQL database.
    Postgres(PostgresStore),
}

impl From<SqliteStore> for Backend {
    fn from(store: SqliteStore) -> Self {
        Backend::Sqlite(store)
    }
}

impl From<PostgresStore> for Backend {
    fn from(store: PostgresStore) -> Self {
        Backend::Postgres(store)
    }
}

impl Store for Backend {
    fn write<R>(&self, f: impl FnMut(&mut dyn Tx) -> StoreResult<R>) -> StoreResult<R> {
        match self {
            Backend::Sqlite(s) => s.write(f),
            Backend::Postgres(s) => s.write(f),
        }
    }

    fn read<R>(&self, f: impl FnOnce(&mut dyn Tx) -> StoreResult<R>) -> StoreResult<R> {
        match self {
            Backend::Sqlite(s) => s.read(f),
            Backend::Postgres(s) => s.read(f),
        }
    }

    fn artifacts_in_database(&self) -> bool {
        match self {
            Backend::Sqlite(s) => s.artifacts_in_database(),
            Backend::Postgres(s) => s.artifacts_in_database(),
        }
    }

    fn listen(&self, wake: Arc<dyn Fn(i64) -> bool + Send + Sync>) -> StoreResult<bool> {
        match self {
            Backend::Sqlite(s) => s.listen(wake),
            Backend::Postgres(s) => s.listen(wake),
        }
    }
}

impl Backend {
    /// Opens (creating if needed) the store at `location`.
    pub(crate) fn open(location: &Location) -> Result<Backend, RegistryError> {
        match location {
            Location::Folder(dir) => {
                std::fs::create_dir_all(dir).map_err(|e| RegistryError::io(dir, e))?;
                Ok(SqliteStore::open(&dir.join(crate::registry::DATABASE_FILE))?.into())
            }
            Location::Postgres(url) => Ok(PostgresStore::connect(url)?.into()),
        }
    }
}
