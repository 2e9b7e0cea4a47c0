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

impl Location {
    /// Whether the registry's traffic crosses a network unencrypted: a
    /// PostgreSQL database reached over TCP on another machine (Yoi speaks
    /// no TLS to PostgreSQL; docs/fleet.md). A folder, a Unix socket or a
    /// loopback address stay on this machine.
    pub fn in_clear_over_network(&self) -> bool {
        let Location::Postgres(url) = self else {
            return false;
        };
        let Ok(config) = url.parse::<postgres::Config>() else {
            return false;
        };
        config.get_hosts().iter().any(|host| match host {
            postgres::config::Host::Tcp(name) => {
                name != "localhost"
                    && !name
                        .trim_start_matches('[')
                        .trim_end_matches(']')
                        .parse::<std::net::IpAddr>()
                        .is_ok_and(|ip| ip.is_loopback())
            }
            _ => false,
        })
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

    fn log<R>(&self, f: impl FnMut(&mut dyn Tx) -> StoreResult<R>) -> StoreResult<R> {
        match self {
            Backend::Sqlite(s) => s.log(f),
            Backend::Postgres(s) => s.log(f),
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

/// The database file inside a registry folder.
pub const DATABASE_FILE: &str = "registry.db";

impl Backend {
    /// Opens (creating if needed) the store at `location`; a database file
    /// is checked for damage first when `check`.
    pub(crate) fn open(location: &Location, check: bool) -> Result<Backend, RegistryError> {
        match location {
            Location::Folder(dir) => {
                if let Some(why) = connection_string(&dir.to_string_lossy()) {
                    return Err(RegistryError::Invalid(why));
                }
                std::fs::create_dir_all(dir).map_err(|e| RegistryError::io(dir, e))?;
                let path = dir.join(DATABASE_FILE);
                Ok(SqliteStore::open_checked(&path, check)?.into())
            }
            Location::Postgres(url) => Ok(PostgresStore::connect(url)?.into()),
        }
    }
}

/// The keywords of a libpq `key=value` connection string.
const LIBPQ_KEYWORDS: [&str; 12] = [
    "host",
    "hostaddr",
    "port",
    "dbname",
    "user",
    "password",
    "passfile",
    "sslmode",
    "options",
    "service",
    "connect_timeout",
    "application_name",
];

/// Why `text`, taken as a folder, is really a libpq connection string
/// (`host=… dbname=…`): a folder of that name would be created, password
/// and all, and silently be an empty registry. `None` for a folder name.
pub(crate) fn connection_string(text: &str) -> Option<String> {
    let pairs: Vec<(&str, &str)> = text
        .split_whitespace()
        .filter_map(|t| t.split_once('='))
        // A relative folder may have been made absolute: the key is what
        // follows the last `/`.
        .map(|(k, v)| (k.rsplit('/').next().unwrap_or(k), v))
        .filter(|(k, _)| LIBPQ_KEYWORDS.contains(&k.to_ascii_lowercase().as_str()))
        .collect();
    if pairs.is_empty() {
        return None;
    }
    let get = |key: &str| {
        pairs
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(key))
            .map(|(_, v)| v.trim_matches(|c| c == '\'' || c == '"'))
    };
    let user = get("user").unwrap_or("USER");
    let host = get("host").or(get("hostaddr")).unwrap_or("HOST");
    let port = get("port").map(|p| format!(":{p}")).unwrap_or_default();
    let db = get("dbname").unwrap_or("DB");
    let password = if get("password").is_some() {
        ":PASSWORD"
    } else {
        ""
    };
    Some(format!(
        "the registry location is a libpq key=value connection string, which Yoi would take as a \
         folder name; write it as a URL: postgres://{user}{password}@{host}{port}/{db} \
         (docs/fleet.md)"
    ))
}

#[cfg(test)]
mod tests {
    use super::Location;

    #[test]
    fn only_a_database_on_another_machine_is_in_the_clear() {
        for (text, clear) in [
            ("/var/lib/yoi", false),
            ("postgres://yoi@127.0.0.1:5432/yoi", false),
            ("postgres://yoi@localhost/yoi", false),
            ("postgres://yoi@[::1]:5432/yoi", false),
            ("postgres://yoi@%2Frun%2Fpostgresql/yoi", false),
            ("postgres://yoi@db.internal:5432/yoi", true),
            ("postgres://yoi@10.0.0.7/yoi", true),
        ] {
            assert_eq!(
                Location::parse(text).in_clear_over_network(),
                clear,
                "{text}"
            );
        }
    }
}
