//! A throwaway PostgreSQL cluster for the tests: Debian's server binaries,
//! `initdb` into a temporary folder, a free loopback port, run as the
//! unprivileged `postgres` user when xtask runs as root, stopped and
//! deleted when dropped. The packages are installed with apt-get when
//! missing.

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, Result, bail};

/// Where Debian puts each major version's server binaries.
const DEBIAN_BIN: &str = "/usr/lib/postgresql";
/// The tests' environment: the server's URL, and that PostgreSQL tests
/// must run (a missing URL fails them instead of skipping).
pub(crate) const URL_ENV: &str = "YOI_TEST_POSTGRES";
pub(crate) const REQUIRE_ENV: &str = "YOI_REQUIRE_POSTGRES";

/// A running cluster; stopped and deleted on drop.
pub(crate) struct Cluster {
    bin: PathBuf,
    dir: PathBuf,
    user: Option<&'static str>,
    /// The server's options (port, socket folder, durability off).
    options: String,
    /// `postgres://yoi@127.0.0.1:PORT/postgres`
    pub(crate) url: String,
}

/// The newest installed server's `bin` folder.
fn find_bin() -> Option<PathBuf> {
    let mut versions: Vec<(u32, PathBuf)> = std::fs::read_dir(DEBIAN_BIN)
        .ok()?
        .filter_map(|e| e.ok())
        .filter_map(|e| {
            let major = e.file_name().to_str()?.parse::<u32>().ok()?;
            let bin = e.path().join("bin");
            (bin.join("initdb").is_file() && bin.join("pg_ctl").is_file()).then_some((major, bin))
        })
        .collect();
    versions.sort();
    versions.pop().map(|(_, bin)| bin)
}

fn free_port() -> Result<u16> {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").context("finding a free port")?;
    Ok(listener.local_addr()?.port())
}

impl Cluster {
    /// Starts a new cluster for tests (durability off: nothing in it
    /// outlives the run), installing PostgreSQL first if needed.
    pub(crate) fn start() -> Result<Cluster> {
        Self::start_with(false)
    }

    /// Starts a new cluster that syncs commits to disk like a production
    /// one, for benchmarks beside SQLite's `synchronous = FULL`.
    pub(crate) fn start_durable() -> Result<Cluster> {
        Self::start_with(true)
    }

    fn start_with(durable: bool) -> Result<Cluster> {
        let bin = match find_bin() {
            Some(bin) => bin,
            None => {
                eprintln!(
                    "xtask: PostgreSQL's server is missing; installing postgresql with apt-get"
                );
                let why = crate::apt_install(&["postgresql"]).err();
                find_bin().with_context(|| {
                    format!(
                        "the registry's PostgreSQL tests need Debian's postgresql package, and installing it failed{}\n  \
                         fix: `apt-get install postgresql` as root",
                        why.map_or_else(String::new, |e| format!(": {e:#}"))
                    )
                })?
            }
        };
        // PostgreSQL refuses to run as root: the cluster belongs to the
        // unprivileged `postgres` user the package creates.
        let user = crate::is_root().then_some("postgres");
        let dir = std::env::temp_dir().join(format!("yoi-pg-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
        if let Some(user) = user {
            let status = Command::new("chown")
                .args([user, &dir.display().to_string()])
                .status()
                .context("running chown")?;
            if !status.success() {
                bail!(
                    "`chown {user} {}` failed: is the postgresql package installed?",
                    dir.display()
                );
            }
        }
        let port = free_port()?;
        let options = format!(
            "-p {port} -k {} -h 127.0.0.1 -c max_connections=300{}",
            dir.display(),
            if durable {
                ""
            } else {
                " -c fsync=off -c synchronous_commit=off -c full_page_writes=off"
            }
        );
        let cluster = Cluster {
            bin,
            dir,
            user,
            options,
            url: format!("postgres://yoi@127.0.0.1:{port}/postgres"),
        };
        let data = cluster.dir.join("data");
        cluster.run(
            "initdb",
            &[
                "-D",
                &data.display().to_string(),
                "-A",
                "trust",
                "-U",
                "yoi",
                // initdb's own writes only; the server's durability is set
                // by its options below.
                "--no-sync",
                "-E",
                "UTF8",
                "--locale=C",
            ],
        )?;
        let log = cluster.dir.join("log");
        cluster
            .run(
                "pg_ctl",
                &[
                    "-D",
                    &data.display().to_string(),
                    "-o",
                    &cluster.options,
                    "-l",
                    &log.display().to_string(),
                    "-w",
                    "start",
                ],
            )
            .map_err(|e| {
                let log = std::fs::read_to_string(&log).unwrap_or_default();
                e.context(format!("PostgreSQL did not start; its log:\n{log}"))
            })?;
        eprintln!(
            "xtask: PostgreSQL running at {} (data in {})",
            cluster.url,
            cluster.dir.display()
        );
        Ok(cluster)
    }

    /// The environment that points the tests at this cluster, and lets a
    /// test stop and start the server itself (`pg_ctl` as the server's
    /// user, its data folder, its options, its log).
    pub(crate) fn env(&self) -> [(&'static str, String); 6] {
        [
            (URL_ENV, self.url.clone()),
            (REQUIRE_ENV, "1".into()),
            ("YOI_TEST_POSTGRES_CTL", self.ctl_command()),
            ("YOI_TEST_POSTGRES_DATA", self.data().display().to_string()),
            ("YOI_TEST_POSTGRES_OPTIONS", self.options.clone()),
            (
                "YOI_TEST_POSTGRES_LOG",
                self.dir.join("log").display().to_string(),
            ),
        ]
    }

    /// How to run `pg_ctl` on this cluster, as a line the tests split on
    /// spaces: the program and the arguments before pg_ctl's own.
    fn ctl_command(&self) -> String {
        let pg_ctl = self.bin.join("pg_ctl").display().to_string();
        match self.user {
            Some(user) => format!("runuser -u {user} -- {pg_ctl}"),
            None => pg_ctl,
        }
    }

    fn run(&self, program: &str, args: &[&str]) -> Result<()> {
        let path = self.bin.join(program);
        let mut cmd = match self.user {
            Some(user) => {
                let mut c = Command::new("runuser");
                c.args(["-u", user, "--"]).arg(&path);
                c
            }
            None => Command::new(&path),
        };
        // A folder the server user can enter, whatever xtask's own is.
        cmd.args(args).current_dir(&self.dir);
        let out = cmd
            .output()
            .with_context(|| format!("could not run {}", path.display()))?;
        if !out.status.success() {
            bail!(
                "`{program} {}` failed ({}): {}{}",
                args.join(" "),
                out.status,
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            );
        }
        Ok(())
    }

    fn data(&self) -> PathBuf {
        self.dir.join("data")
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        let data = self.data().display().to_string();
        if let Err(e) = self.run("pg_ctl", &["-D", &data, "-m", "immediate", "-w", "stop"]) {
            eprintln!("xtask: stopping PostgreSQL: {e:#}");
        }
        remove(&self.dir);
    }
}

fn remove(dir: &Path) {
    if let Err(e) = std::fs::remove_dir_all(dir) {
        eprintln!("xtask: removing {}: {e}", dir.display());
    }
}
