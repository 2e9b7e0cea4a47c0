use std::path::PathBuf;

/// Why a registry operation was refused or failed. Every message says what to
/// do; refusals leave the registry unchanged and are recorded in the audit log.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RegistryError {
    /// `R0101`: the (id, version) exists with another digest.
    #[error(
        "R0101 {plugin}@{version} is already published with digest {existing}; versions are immutable, \
         so {attempted} cannot replace it\n  fix: bump plugin.version and publish again"
    )]
    VersionImmutable {
        /// Plugin id.
        plugin: String,
        /// Version.
        version: String,
        /// The stored digest.
        existing: String,
        /// The refused digest.
        attempted: String,
    },
    /// `R0102`: no such version.
    #[error(
        "R0102 {plugin}@{version} is not published\n  fix: `yoi list` shows what is; publish it first with `yoi publish DIR`"
    )]
    NotFound {
        /// Plugin id.
        plugin: String,
        /// Version.
        version: String,
    },
    /// `R0103`: the operation does not apply to the version's state.
    #[error("R0103 {plugin}@{version} is {state}: {why}")]
    WrongState {
        /// Plugin id.
        plugin: String,
        /// Version.
        version: String,
        /// Its state.
        state: &'static str,
        /// What the operation needed, and what to do.
        why: String,
    },
    /// `R0104`: activation needs operator decisions on requested capabilities.
    #[error(
        "R0104 {plugin}@{version} requests capabilities that have no grant yet: {}\n  fix: grant them (narrowing is allowed), e.g.\n{}",
        missing.join(", "),
        missing.iter().map(|c| format!("    yoi grant {plugin} {c}")).collect::<Vec<_>>().join("\n")
    )]
    GrantsMissing {
        /// Plugin id.
        plugin: String,
        /// Version.
        version: String,
        /// Requested capabilities without a decision.
        missing: Vec<String>,
    },
    /// `R0105`: a grant that is not within what the plugin requests.
    #[error("R0105 cannot grant `{capability}` to {plugin}: {why}\n  fix: a grant can only narrow a requested capability; requested: {}", if requested.is_empty() { "nothing".to_owned() } else { requested.join(", ") })]
    GrantNotRequested {
        /// Plugin id.
        plugin: String,
        /// The refused capability.
        capability: String,
        /// Why.
        why: String,
        /// What the plugin's versions request.
        requested: Vec<String>,
    },
    /// `R0106`: a capability string that cannot be read.
    #[error(
        "R0106 `{text}` is not a capability: {why}\n  fix: write https:HOST[:PORT], fs:PATH:ro|rw, secret:KEY, websocket:HOST[:PORT] or route:/PATH"
    )]
    BadCapability {
        /// The text.
        text: String,
        /// Why.
        why: String,
    },
    /// `R0107`: the plugin is disabled.
    #[error(
        "R0107 plugin {plugin} is disabled ({reason})\n  fix: `yoi enable {plugin}` once the cause is fixed"
    )]
    Disabled {
        /// Plugin id.
        plugin: String,
        /// Why it was disabled.
        reason: String,
    },
    /// `R0108`: a bad argument (rollout percent, id).
    #[error("R0108 {0}")]
    Invalid(String),
    /// `R0109`: a tool's input schema is a file in the package; the registry
    /// keeps `plugin.toml` and the artifact only.
    #[error(
        "R0109 {plugin}@{version}: tool `{tool}` takes its input schema from the file `{file}`, which the registry does not store\n  \
         fix: write the schema inline in plugin.toml (`input_schema = {{ type = \"object\", ... }}`) and publish again"
    )]
    SchemaFile {
        /// Plugin id.
        plugin: String,
        /// Version.
        version: String,
        /// The tool.
        tool: String,
        /// The schema file.
        file: String,
    },
    /// `R0110`: the package failed the checks every publish runs: its
    /// artifact does not match its digest, or the component does not fit
    /// its manifest or this Yoi's contract.
    #[error(
        "R0110 {plugin}@{version} was not published:\n{problems}\n  fix: fix the problems above (`yoi plugin check` shows them) and publish again"
    )]
    PackageRejected {
        /// Plugin id.
        plugin: String,
        /// Version.
        version: String,
        /// The problems, one per line, each with its code.
        problems: String,
    },
    /// `R0111`: an active version cannot be removed.
    #[error(
        "R0111 {plugin}@{version} is active and cannot be removed\n  fix: `yoi deactivate {plugin}@{version}` (or roll back to another version) first"
    )]
    RemoveActive {
        /// Plugin id.
        plugin: String,
        /// Version.
        version: String,
    },
    /// `R0112`: a setting the version does not declare.
    #[error(
        "R0112 `{key}` is not a setting of {plugin}@{version}; it declares: {}\n  fix: use one of those names (`yoi config show {plugin}` lists them)",
        if declared.is_empty() { "none".to_owned() } else { declared.join(", ") }
    )]
    ConfigUndeclared {
        /// Plugin id.
        plugin: String,
        /// The version whose manifest was read.
        version: String,
        /// The name asked for.
        key: String,
        /// The settings it declares.
        declared: Vec<String>,
    },
    /// `R0113`: a value the setting does not accept.
    #[error(
        "R0113 {plugin}@{version} does not accept this value: {why}\n  fix: `yoi config show {plugin}` shows each setting's type and schema"
    )]
    ConfigInvalid {
        /// Plugin id.
        plugin: String,
        /// The version whose schema refused it.
        version: String,
        /// The schema's reason.
        why: String,
    },
    /// `R0114`: a version cannot run with the stored settings.
    #[error("R0114 {plugin}@{version} cannot run with the stored settings:\n{problems}")]
    ConfigIncompatible {
        /// Plugin id.
        plugin: String,
        /// The version.
        version: String,
        /// One line per problem, each with its fix.
        problems: String,
    },
    /// `R0115`: no value is set for the setting in that scope.
    #[error(
        "R0115 {plugin} has no value for `{key}` in scope {scope}\n  fix: `yoi config show {plugin}` lists the values set, by scope"
    )]
    ConfigNotSet {
        /// Plugin id.
        plugin: String,
        /// The scope.
        scope: String,
        /// The setting.
        key: String,
    },
    /// `R0116`: an MCP server operation was refused.
    #[error("R0116 MCP server `{name}`: {why}\n  fix: {fix}")]
    McpServer {
        /// The server's name.
        name: String,
        /// What is wrong.
        why: String,
        /// How to fix it.
        fix: String,
    },
    /// `R0117`, `R0118`, `R0119`: the trust policy refused a version
    /// (unsigned where a signature is required, signed by a key not trusted
    /// for it, or a signature that is malformed, over another package,
    /// forged or expired).
    #[error("{} {plugin}@{version}: {why}\n  fix: {fix}", code.as_str())]
    Trust {
        /// Which refusal.
        code: TrustCode,
        /// Plugin id.
        plugin: String,
        /// Version.
        version: String,
        /// What is wrong.
        why: String,
        /// How to fix it.
        fix: String,
    },
    /// `R0120`: a trust policy change was refused (a bad key, name or
    /// pattern, or a key already trusted).
    #[error("R0120 trust: {why}\n  fix: {fix}")]
    TrustKey {
        /// What is wrong.
        why: String,
        /// How to fix it.
        fix: String,
    },
    /// `R0201`: a stored artifact no longer matches its digest.
    #[error(
        "R0201 the stored artifact {digest} is corrupt (its bytes hash to {actual}); it will not be used\n  \
         fix: publish the package again to restore it; other plugins are unaffected"
    )]
    CorruptBlob {
        /// The expected digest.
        digest: String,
        /// What the bytes hash to.
        actual: String,
    },
    /// `R0203`: a stored version cannot be reopened as a package for this
    /// host: its manifest no longer fits the host's contract or engine, or
    /// its stored manifest and artifact disagree.
    #[error(
        "R0203 {plugin}@{version} cannot run on this host:\n{detail}\n  fix: publish a version built for this host (`yoi plugin check` shows what it needs)"
    )]
    StoredPackage {
        /// Plugin id.
        plugin: String,
        /// Version.
        version: String,
        /// The problems, rendered.
        detail: String,
    },
    /// `R0202`: a stored artifact is missing.
    #[error(
        "R0202 the stored artifact {digest} is missing from {place}\n  fix: publish the package again to restore it"
    )]
    MissingBlob {
        /// The digest.
        digest: String,
        /// Where it should be: a file, or the database's artifacts table.
        place: String,
    },
    /// `R0301`: the database failed.
    #[error("R0301 registry database error: {0}")]
    Database(rusqlite::Error),
    /// `R0304`: the database file is damaged. Nothing is read from or
    /// written to it until it is restored.
    #[error(
        "R0304 the registry database {} is damaged ({detail}); nothing was read or written\n  fix: {}",
        path.display(),
        match backup {
            Some(b) => format!(
                "stop every process using the registry, move {} aside (with its -wal and -shm files), \
                 then copy the last good copy {} to {} (docs/operations.md, \"Backups\")",
                path.display(), b.display(), path.display()
            ),
            None => format!(
                "there is no last good copy; move {} aside and publish the plugins again (docs/operations.md, \"Backups\")",
                path.display()
            ),
        }
    )]
    Corrupt {
        /// The database file.
        path: PathBuf,
        /// What SQLite's check found.
        detail: String,
        /// The last good copy, when there is one.
        backup: Option<PathBuf>,
    },
    /// `R0305`: the key that seals secret settings is missing, unreadable
    /// or does not open a value.
    #[error(
        "R0305 secret settings cannot be read or written: {0}\n  fix: restore `config.key` in the registry folder from the backup made with the registry (docs/configuration.md, \"Secrets at rest\")"
    )]
    ConfigKey(String),
    /// `R0302`: a file operation failed.
    #[error("R0302 registry storage error at {}: {source}", path.display())]
    Io {
        /// The path.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// `R0310`: the registry database cannot be reached. Nothing was read or
    /// written; a host keeps running the plugins it has.
    #[error(
        "R0310 the registry database at {location} cannot be reached: {detail}\n  fix: check that PostgreSQL is running and accepts connections from this machine (`psql '{location}'`); hosts keep running their current plugins and catch up when it is back (docs/fleet.md)"
    )]
    Unavailable {
        /// The database, without its password.
        location: String,
        /// Why.
        detail: String,
    },
    /// `R0314`: the connection was lost while a write was committing: the
    /// database may have applied it or not, and nobody can tell from here.
    #[error(
        "R0314 the connection to the registry database at {location} was lost while the write was committing, so it may or may not have been applied: {detail}\n  fix: `yoi audit` shows whether it was (its last entries); run the operation again only if it is not there"
    )]
    InDoubt {
        /// The database, without its password.
        location: String,
        /// Why.
        detail: String,
    },
    /// `R0311`: a PostgreSQL statement failed.
    #[error("R0311 registry database error (PostgreSQL): {0}")]
    Postgres(String),
    /// `R0312`: concurrent writers kept conflicting with this operation;
    /// nothing was written.
    #[error(
        "R0312 the registry was too busy: {attempts} attempts conflicted with other operators' writes; nothing was written\n  fix: run the operation again"
    )]
    Contended {
        /// How many attempts were made.
        attempts: u32,
    },
    /// `R0303`: the stored data is not what this version of Yoi expects.
    #[error(
        "R0303 the registry data is unreadable: {0}\n  fix: it was written by a newer Yoi, or damaged; back up the registry folder and run `yoi doctor`"
    )]
    Schema(String),
}

impl RegistryError {
    pub(crate) fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        RegistryError::Io {
            path: path.into(),
            source,
        }
    }
}

impl From<rusqlite::Error> for RegistryError {
    fn from(e: rusqlite::Error) -> Self {
        RegistryError::Database(e)
    }
}

impl From<yoi_manifest::CapabilityError> for RegistryError {
    fn from(e: yoi_manifest::CapabilityError) -> Self {
        RegistryError::BadCapability {
            text: e.text,
            why: e.why,
        }
    }
}

/// Why a trust check refused, with its stable code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TrustCode {
    /// `R0117`: no signature where one is required.
    Unsigned,
    /// `R0118`: signed, but not by a key trusted for this plugin and scope.
    Untrusted,
    /// `R0119`: the signature is malformed, over another package, does not
    /// verify, or has expired.
    Invalid,
}

impl TrustCode {
    /// The code as printed.
    pub fn as_str(self) -> &'static str {
        match self {
            TrustCode::Unsigned => "R0117",
            TrustCode::Untrusted => "R0118",
            TrustCode::Invalid => "R0119",
        }
    }
}
