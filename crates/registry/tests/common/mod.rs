//! Test packages: a manifest and a small real component built in memory,
//! so registry tests need no build step.

use yoi_manifest::{Compat, Digest, HookPoint, Package};

/// What the registry's tests publish against: the 0.1.0 contract with every
/// hook point and tools.
pub fn compat() -> Compat {
    Compat {
        contracts: vec!["yoi:plugin@0.1.0".parse().expect("contract")],
        engine: semver::Version::new(0, 1, 0),
        hook_points: HookPoint::ALL.to_vec(),
        imports: vec!["yoi:plugin/log".into()],
        tools_interface: Some("yoi:plugin/tools".into()),
    }
}

/// A component exporting the `tool.pre_exec` hook, whose bytes carry `tag`
/// (in a data segment), so different tags give different digests.
pub fn component(tag: &[u8]) -> Vec<u8> {
    component_exporting(tag, &["tool-pre-exec"])
}

/// A component exporting the given `yoi:plugin` interfaces, carrying `tag`.
#[allow(dead_code)]
pub fn component_exporting(tag: &[u8], interfaces: &[&str]) -> Vec<u8> {
    let data: String = tag.iter().map(|b| format!("\\{b:02x}")).collect();
    let exports: String = interfaces
        .iter()
        .map(|i| format!("(export \"yoi:plugin/{i}@0.1.0\" (instance $i))"))
        .collect();
    wat::parse_str(format!(
        "(component (core module (memory 1) (data (i32.const 0) \"{data}\")) \
         (instance $i) {exports})"
    ))
    .expect("test component")
}

/// A package of `plugin@version` whose component carries `tag`, requesting
/// the given capability lines.
pub fn package_with(plugin: &str, version: &str, tag: Vec<u8>, capabilities: &str) -> Package {
    let artifact = component(&tag);
    let text = manifest_text(plugin, version, &artifact, capabilities);
    Package::from_bytes("test", &text, artifact, &compat()).expect("test package")
}

/// The `plugin.toml` text of [`package_with`].
pub fn manifest_text(plugin: &str, version: &str, artifact: &[u8], capabilities: &str) -> String {
    format!(
        "[plugin]\nid = \"{plugin}\"\nversion = \"{version}\"\ncontract = \"yoi:plugin@0.1.0\"\n\n\
         [runtime]\nkind = \"wasm-component\"\nartifact = \"p.wasm\"\ndigest = \"{}\"\n\n\
         [[hooks]]\npoint = \"tool.pre_exec\"\n\n[capabilities]\n{capabilities}",
        Digest::of(artifact)
    )
}

/// The environment variable naming a PostgreSQL server for the tests
/// (`postgres://USER@127.0.0.1:PORT/postgres`); `cargo xtask` starts a
/// throwaway one and sets it.
pub const POSTGRES_ENV: &str = "YOI_TEST_POSTGRES";
/// Set (by `cargo xtask`) when running without PostgreSQL is a failure.
pub const REQUIRE_POSTGRES_ENV: &str = "YOI_REQUIRE_POSTGRES";

/// A fresh, empty registry location for one backend: a temporary folder
/// (SQLite) or a new database on the test server (PostgreSQL), dropped with
/// this value.
#[allow(dead_code)]
pub struct TestStore {
    /// `sqlite` or `postgres`, for messages.
    pub label: &'static str,
    /// Where the registry is.
    pub location: yoi_registry::Location,
    home: tempfile::TempDir,
    drop_db: Option<(String, String)>,
}

#[allow(dead_code)]
impl TestStore {
    /// Opens the registry (as a new process would).
    pub fn open(&self) -> yoi_registry::Registry {
        yoi_registry::Registry::open_at(&self.location, self.home.path())
            .unwrap_or_else(|e| panic!("opening the {} registry: {e}", self.label))
    }

    /// The location as `--registry` takes it.
    pub fn arg(&self) -> String {
        match &self.location {
            yoi_registry::Location::Folder(dir) => dir.display().to_string(),
            yoi_registry::Location::Postgres(url) => url.clone(),
        }
    }

    /// Empties a PostgreSQL store (cheaper than a new database, for tests
    /// that need thousands of empty registries); `false` for folders, which
    /// are cheap to make anew.
    pub fn reset(&self) -> bool {
        let yoi_registry::Location::Postgres(url) = &self.location else {
            return false;
        };
        drop(self.open()); // creates the schema the first time
        let mut client = postgres::Client::connect(url, postgres::NoTls).expect("connect");
        client
            .batch_execute(
                "TRUNCATE versions, artifacts, grants, disabled, audit, events, config, hosts RESTART IDENTITY;
                 UPDATE meta SET value = 0;",
            )
            .expect("reset");
        true
    }

    /// The local folder beside the registry (its config key).
    pub fn home(&self) -> &std::path::Path {
        self.home.path()
    }
}

impl Drop for TestStore {
    fn drop(&mut self) {
        if let Some((admin, db)) = &self.drop_db
            && let Ok(mut client) = postgres::Client::connect(admin, postgres::NoTls)
        {
            let _ = client.batch_execute(&format!("DROP DATABASE IF EXISTS {db} WITH (FORCE)"));
        }
    }
}

/// The PostgreSQL server's URL, if the tests have one. Without one, a run
/// that must cover PostgreSQL fails here with what to do.
#[allow(dead_code)]
pub fn postgres_server() -> Option<String> {
    match std::env::var(POSTGRES_ENV) {
        Ok(url) if !url.is_empty() => Some(url),
        _ => {
            assert!(
                std::env::var_os(REQUIRE_POSTGRES_ENV).is_none(),
                "{REQUIRE_POSTGRES_ENV} is set but {POSTGRES_ENV} is not: run the tests with `cargo xtask ci`, which starts PostgreSQL"
            );
            eprintln!(
                "note: {POSTGRES_ENV} is not set; only SQLite is tested (`cargo xtask ci` tests PostgreSQL too)"
            );
            None
        }
    }
}

/// A new empty database on the test server.
#[allow(dead_code)]
pub fn postgres_store() -> Option<TestStore> {
    use std::sync::atomic::{AtomicU32, Ordering};
    static NEXT: AtomicU32 = AtomicU32::new(0);
    let admin = postgres_server()?;
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    let db = format!(
        "yoi_t_{}_{}_{nanos}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    );
    let mut client = postgres::Client::connect(&admin, postgres::NoTls)
        .unwrap_or_else(|e| panic!("connecting to the test PostgreSQL {admin}: {e}"));
    client
        .batch_execute(&format!("CREATE DATABASE {db}"))
        .unwrap_or_else(|e| panic!("creating a test database: {e}"));
    let url = match admin.rfind('/') {
        Some(slash)
            if admin[..slash].contains("://") && slash > admin.find("://").unwrap_or(0) + 2 =>
        {
            format!("{}/{db}", &admin[..slash])
        }
        _ => format!("{admin}/{db}"),
    };
    Some(TestStore {
        label: "postgres",
        location: yoi_registry::Location::Postgres(url),
        home: tempfile::tempdir().expect("temp dir"),
        drop_db: Some((admin, db)),
    })
}

/// A new empty registry folder.
#[allow(dead_code)]
pub fn sqlite_store() -> TestStore {
    let home = tempfile::tempdir().expect("temp dir");
    TestStore {
        label: "sqlite",
        location: yoi_registry::Location::Folder(home.path().join("registry")),
        home,
        drop_db: None,
    }
}

/// One fresh store of each backend under test: the test body runs on each.
#[allow(dead_code)]
pub fn stores() -> Vec<TestStore> {
    let mut all = vec![sqlite_store()];
    all.extend(postgres_store());
    all
}
