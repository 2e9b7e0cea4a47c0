//! A fleet on one PostgreSQL registry: real `yoi host` processes following
//! it and operators running real `yoi` commands against it at the same
//! time, with hosts, operators and PostgreSQL itself killed or restarted
//! mid-run. `cargo xtask e2e` starts the PostgreSQL server these tests use
//! (`YOI_TEST_POSTGRES`).

use std::collections::{BTreeMap, BTreeSet};
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::mpsc::{Receiver, RecvTimeoutError, channel};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::Value;
use yoi_registry::{Location, Registry, State};

use crate::support::example;

/// A new empty database on the test server, dropped afterwards.
struct Database {
    admin: String,
    name: String,
    url: String,
}

impl Database {
    fn new() -> Database {
        static NEXT: AtomicU32 = AtomicU32::new(0);
        let admin = std::env::var("YOI_TEST_POSTGRES").unwrap_or_else(|_| {
            panic!("YOI_TEST_POSTGRES is not set: run these tests with `cargo xtask e2e`, which starts PostgreSQL")
        });
        let name = format!(
            "yoi_fleet_{}_{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        );
        let mut client = postgres::Client::connect(&admin, postgres::NoTls).expect("connect");
        client
            .batch_execute(&format!("CREATE DATABASE {name}"))
            .expect("create database");
        let base = admin.rsplit_once('/').map_or(admin.as_str(), |(b, _)| b);
        let url = format!("{base}/{name}");
        Database { admin, name, url }
    }
}

impl Drop for Database {
    fn drop(&mut self) {
        if let Ok(mut client) = postgres::Client::connect(&self.admin, postgres::NoTls) {
            let _ = client.batch_execute(&format!(
                "DROP DATABASE IF EXISTS {} WITH (FORCE)",
                self.name
            ));
        }
    }
}

/// Stops or starts the test server (`pg_ctl` as xtask ran it).
fn pg_ctl(action: &str) {
    let var = |k: &str| {
        std::env::var(k).unwrap_or_else(|_| panic!("{k} is not set: run `cargo xtask e2e`"))
    };
    let ctl = var("YOI_TEST_POSTGRES_CTL");
    let mut words = ctl.split(' ');
    let mut cmd = Command::new(words.next().expect("pg_ctl"));
    cmd.args(words)
        .args(["-D", &var("YOI_TEST_POSTGRES_DATA"), "-w"]);
    match action {
        "stop" => cmd.args(["-m", "fast", "stop"]),
        _ => cmd.args([
            "-o",
            &var("YOI_TEST_POSTGRES_OPTIONS"),
            "-l",
            &var("YOI_TEST_POSTGRES_LOG"),
            "start",
        ]),
    };
    let out = cmd.output().expect("pg_ctl runs");
    assert!(
        out.status.success(),
        "pg_ctl {action}: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A `yoi` command against the database, as operator `actor`.
fn yoi_cmd(db: &Database, home: &Path, actor: &str, args: &[&str]) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_yoi"));
    cmd.args(["--actor", actor])
        .args(args)
        .env("YOI_REGISTRY", &db.url)
        .env("YOI_HOME", home)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    cmd
}

fn run(db: &Database, home: &Path, args: &[&str]) -> (i32, String) {
    let out = yoi_cmd(db, home, "setup", args).output().expect("yoi runs");
    (
        out.status.code().unwrap_or(-1),
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
    )
}

/// A running `yoi host`: its stdin for test calls, its JSON lines (with
/// when each arrived) on a channel.
struct HostProcess {
    name: String,
    scope: &'static str,
    child: Child,
    stdin: ChildStdin,
    lines: Receiver<(Instant, Value)>,
    /// The newest change counter a reload of this host reached.
    seq: i64,
}

impl HostProcess {
    fn start(db: &Database, home: &Path, name: &str, scope: &'static str) -> HostProcess {
        let mut child = Command::new(env!("CARGO_BIN_EXE_yoi"))
            .args(["host", "--name", name, "--scope", scope, "--json"])
            .env("YOI_REGISTRY", &db.url)
            .env("YOI_HOME", home)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("yoi host starts");
        let stdin = child.stdin.take().expect("stdin");
        let stdout = child.stdout.take().expect("stdout");
        let (tx, lines) = channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { return };
                if let Ok(value) = serde_json::from_str::<Value>(&line)
                    && tx.send((Instant::now(), value)).is_err()
                {
                    return;
                }
            }
        });
        HostProcess {
            name: name.to_owned(),
            scope,
            child,
            stdin,
            lines,
            seq: -1,
        }
    }

    /// Waits for the next line that `want` accepts; `None` past `timeout`.
    fn next(
        &mut self,
        timeout: Duration,
        want: impl Fn(&Value) -> bool,
    ) -> Option<(Instant, Value)> {
        let deadline = Instant::now() + timeout;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok((at, value)) => {
                    if value["event"] == "reload" {
                        self.seq = self
                            .seq
                            .max(value["report"]["change_seq"].as_i64().unwrap_or(-1));
                    }
                    if want(&value) {
                        return Some((at, value));
                    }
                }
                Err(RecvTimeoutError::Timeout | RecvTimeoutError::Disconnected) => return None,
            }
        }
    }

    /// When this host swapped in a snapshot at change `seq` or later.
    fn reached(&mut self, seq: i64, timeout: Duration) -> Option<Instant> {
        if self.seq >= seq {
            return Some(Instant::now());
        }
        self.next(timeout, |v| {
            v["event"] == "reload" && v["report"]["change_seq"].as_i64() >= Some(seq)
        })
        .map(|(at, _)| at)
    }

    /// The registry versions this host runs, asked over its stdin.
    fn loaded(&mut self) -> BTreeSet<(String, String, String)> {
        writeln!(self.stdin, "plugins").expect("write to the host");
        let (_, answer) = self
            .next(Duration::from_secs(10), |v| v["event"] == "plugins")
            .unwrap_or_else(|| panic!("host {} did not answer `plugins`", self.name));
        answer["plugins"]
            .as_array()
            .expect("plugins")
            .iter()
            .filter(|p| p["origin"] == "registry")
            .map(|p| {
                (
                    p["id"].as_str().unwrap_or_default().to_owned(),
                    p["version"].as_str().unwrap_or_default().to_owned(),
                    p["digest"].as_str().unwrap_or_default().to_owned(),
                )
            })
            .collect()
    }
}

impl Drop for HostProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Package folders for `versions` of an example: its plugin.toml with the
/// version changed, beside its component.
fn versions_of(name: &str, versions: &[&str], into: &Path) -> Vec<PathBuf> {
    let src = example(name);
    let manifest = std::fs::read_to_string(src.join("plugin.toml")).expect("plugin.toml");
    let artifact = manifest
        .lines()
        .find_map(|l| l.trim().strip_prefix("artifact = \""))
        .and_then(|rest| rest.strip_suffix('"'))
        .expect("artifact line");
    versions
        .iter()
        .map(|v| {
            let dir = into.join(format!("{name}-{v}"));
            std::fs::create_dir_all(&dir).expect("package folder");
            std::fs::copy(src.join(artifact), dir.join(artifact)).expect("component");
            let text = manifest.replacen("version = \"0.1.0\"", &format!("version = \"{v}\""), 1);
            std::fs::write(dir.join("plugin.toml"), text).expect("plugin.toml");
            dir
        })
        .collect()
}

/// A small deterministic generator, so a failing run can be replayed.
struct Lcg(u64);

impl Lcg {
    fn below(&mut self, n: u64) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (self.0 >> 33) % n
    }
}

/// One operator command and how it ended: `Some(0)` acknowledged,
/// `Some(_)` refused or failed, `None` killed in flight.
#[derive(Debug, Clone)]
struct Done {
    actor: String,
    action: &'static str,
    plugin: String,
    version: Option<String>,
    code: Option<i32>,
    output: String,
}

const PLUGINS: [(&str, &str); 3] = [
    ("example.guard", "guard"),
    ("example.minimal", "minimal"),
    ("example.notes", "notes"),
];
const VERSIONS: [&str; 3] = ["1.0.0", "1.1.0", "1.2.0"];
const SCOPES: [&str; 2] = ["all", "canary"];

/// One random operation by `actor`, as a `yoi` process (its pid in
/// `running` while it runs, so the test can kill it mid-operation).
fn operate(
    db: &Database,
    home: &Path,
    packages: &Path,
    actor: &str,
    rng: &mut Lcg,
    running: &Mutex<Option<u32>>,
) -> Done {
    let (plugin, example_name) = PLUGINS[rng.below(3) as usize];
    let version = VERSIONS[rng.below(3) as usize];
    let target = format!("{plugin}@{version}");
    let dir = packages.join(format!("{example_name}-{version}"));
    let dir = dir.to_str().expect("utf-8").to_owned();
    let percent = (25 * (1 + rng.below(4))).to_string();
    let scope = SCOPES[rng.below(2) as usize];
    let (action, args): (&'static str, Vec<&str>) = match rng.below(10) {
        0..=2 => ("publish", vec!["publish", &dir]),
        3..=6 => (
            "activate",
            vec!["activate", &target, "--scope", scope, "--percent", &percent],
        ),
        7..=8 => ("rollback", vec!["rollback", &target]),
        _ => ("grant", vec!["grant", "example.notes", "fs:notes:rw"]),
    };
    let child = yoi_cmd(db, home, actor, &args).spawn().expect("yoi runs");
    *running.lock().expect("lock") = Some(child.id());
    let out = child.wait_with_output().expect("yoi finishes");
    *running.lock().expect("lock") = None;
    let killed = out.status.code().is_none();
    Done {
        actor: actor.to_owned(),
        action,
        plugin: if action == "grant" {
            "example.notes".to_owned()
        } else {
            plugin.to_owned()
        },
        version: (action != "grant").then(|| version.to_owned()),
        code: if killed { None } else { out.status.code() },
        output: format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
    }
}

/// What a host of `scope` must run: the active versions of enabled plugins
/// whose rollout applies to that scope.
fn deployment_for(registry: &Registry, scope: &str) -> BTreeSet<(String, String, String)> {
    let deployment = registry.deployment().expect("deployment");
    deployment
        .active
        .iter()
        .filter(|v| v.rollout.scope.as_str() == "all" || v.rollout.scope.as_str() == scope)
        .map(|v| {
            (
                v.plugin.to_string(),
                v.version.to_string(),
                v.digest.to_string(),
            )
        })
        .collect()
}

/// Waits until every host has swapped in the registry's current change.
fn converge(hosts: &mut [HostProcess], registry: &Registry, within: Duration) -> i64 {
    let seq = registry.change_seq().expect("change counter");
    for host in hosts.iter_mut() {
        assert!(
            host.reached(seq, within).is_some(),
            "host {} did not reach change {seq} within {within:?} (it is at {})",
            host.name,
            host.seq
        );
    }
    seq
}

/// One fleet test at a time: one restarts the server the others use.
static SERVER: Mutex<()> = Mutex::new(());

#[test]
#[ignore = "needs the example components and PostgreSQL: run `cargo xtask e2e`"]
fn a_fleet_converges_and_loses_nothing_through_kills_and_a_database_restart() {
    let _server = SERVER.lock().unwrap_or_else(|p| p.into_inner());
    let db = Database::new();
    let home = tempfile::tempdir().expect("home");
    let packages = tempfile::tempdir().expect("packages");
    for (_, name) in PLUGINS {
        versions_of(name, &VERSIONS, packages.path());
    }
    let (code, out) = run(&db, home.path(), &["list"]);
    assert_eq!(code, 0, "{out}");
    let mut hosts: Vec<HostProcess> = [
        ("h1", "all"),
        ("h2", "all"),
        ("h3", "canary"),
        ("h4", "beta"),
    ]
    .into_iter()
    .map(|(name, scope)| HostProcess::start(&db, home.path(), name, scope))
    .collect();
    for host in &mut hosts {
        assert!(
            host.reached(0, Duration::from_secs(30)).is_some(),
            "host {} did not boot",
            host.name
        );
    }

    let stop = Arc::new(AtomicBool::new(false));
    let running: Arc<Mutex<Option<u32>>> = Arc::new(Mutex::new(None));
    let done: Arc<Mutex<Vec<Done>>> = Arc::new(Mutex::new(Vec::new()));
    let db = Arc::new(db);
    let operators: Vec<_> = (0..2u64)
        .map(|i| {
            let (db, stop, done, running) = (
                Arc::clone(&db),
                Arc::clone(&stop),
                Arc::clone(&done),
                Arc::clone(&running),
            );
            let (home, packages) = (home.path().to_owned(), packages.path().to_owned());
            std::thread::spawn(move || {
                let mut rng = Lcg(0xf1ee7 + i);
                let actor = format!("operator-{i}");
                // Only operator-0's commands are killed mid-operation.
                let spare = Mutex::new(None);
                let slot = if i == 0 { &*running } else { &spare };
                while !stop.load(Ordering::Relaxed) {
                    let d = operate(&db, &home, &packages, &actor, &mut rng, slot);
                    done.lock().expect("lock").push(d);
                }
            })
        })
        .collect();

    // The chaos, while both operators work.
    std::thread::sleep(Duration::from_millis(1500));
    let h2 = hosts.remove(1);
    drop(h2); // SIGKILL
    std::thread::sleep(Duration::from_millis(300));
    hosts.insert(1, HostProcess::start(&db, home.path(), "h2", "all"));
    // SIGKILL operator-0's commands while they run until one is recorded
    // as killed: a command that ended just before the signal (a zombie
    // still takes it) is not counted, and the next one is tried.
    let deadline = Instant::now() + Duration::from_secs(20);
    while !done.lock().expect("lock").iter().any(|d| d.code.is_none()) {
        assert!(
            Instant::now() < deadline,
            "no operator command was caught in flight"
        );
        let pid = *running.lock().expect("lock");
        let alive = pid.is_some_and(|pid| {
            std::fs::read_to_string(format!("/proc/{pid}/stat"))
                .ok()
                .and_then(|s| s.rsplit(')').next().map(|r| r.trim_start().to_owned()))
                .is_some_and(|r| !r.starts_with('Z'))
        });
        if let Some(pid) = pid.filter(|_| alive)
            && Command::new("kill")
                .args(["-9", &pid.to_string()])
                .stderr(Stdio::null())
                .status()
                .is_ok_and(|s| s.success())
        {
            // Its end is recorded once its output is read.
            std::thread::sleep(Duration::from_millis(300));
        } else {
            std::thread::sleep(Duration::from_millis(7));
        }
    }
    std::thread::sleep(Duration::from_millis(500));
    pg_ctl("stop");
    // With the database down, every host goes on serving what it runs.
    for host in &mut hosts {
        host.loaded();
    }
    std::thread::sleep(Duration::from_millis(1000));
    pg_ctl("start");
    std::thread::sleep(Duration::from_millis(2500));
    stop.store(true, Ordering::Relaxed);
    for op in operators {
        op.join().expect("operator thread");
    }

    let registry = Registry::open_at(&Location::parse(&db.url), home.path()).expect("registry");
    let seq = converge(&mut hosts, &registry, Duration::from_secs(20));
    let done = done.lock().expect("lock").clone();
    let acknowledged: Vec<&Done> = done.iter().filter(|d| d.code == Some(0)).collect();
    let unavailable = done.iter().filter(|d| d.output.contains("R0310")).count();
    let killed = done.iter().filter(|d| d.code.is_none()).count();
    eprintln!(
        "fleet: {} operations ({} acknowledged, {} refused while PostgreSQL was down, {killed} killed in flight), change {seq}",
        done.len(),
        acknowledged.len(),
        unavailable
    );
    assert!(killed >= 1, "a command was killed in flight");
    assert!(
        acknowledged.len() >= 20,
        "too little happened to test anything: {done:#?}"
    );
    for d in &done {
        if d.code.is_some_and(|c| c != 0) {
            assert!(
                d.output.contains("error") || d.output.contains("R0"),
                "a failed command says why: {d:?}"
            );
        }
    }

    // Every acknowledged write is in the audit log, as it was acknowledged;
    // nothing is recorded that no operator did.
    let snapshot = registry.snapshot().expect("snapshot");
    let key = |actor: &str, action: &str, plugin: &str, version: Option<&str>| {
        format!("{actor} {action} {plugin} {}", version.unwrap_or("-"))
    };
    let mut audited: BTreeMap<String, usize> = BTreeMap::new();
    for a in snapshot
        .audits
        .iter()
        .filter(|a| a.outcome == yoi_registry::Outcome::Ok)
    {
        let version = if a.action == "grant" {
            None
        } else {
            a.version.as_deref()
        };
        *audited
            .entry(key(
                &a.actor,
                &a.action,
                a.plugin.as_deref().unwrap_or("-"),
                version,
            ))
            .or_default() += 1;
    }
    let mut acked: BTreeMap<String, usize> = BTreeMap::new();
    for d in &acknowledged {
        *acked
            .entry(key(&d.actor, d.action, &d.plugin, d.version.as_deref()))
            .or_default() += 1;
    }
    // Killed, or told R0314: the connection went while the write was
    // committing. Either may have been applied.
    let in_flight: Vec<&Done> = done
        .iter()
        .filter(|d| d.code.is_none() || d.output.contains("R0314"))
        .collect();
    for (k, n) in &acked {
        let got = audited.get(k).copied().unwrap_or(0);
        assert!(
            got >= *n,
            "acknowledged `{k}` {n} times, audited {got} times"
        );
    }
    for (k, n) in &audited {
        let want = acked.get(k).copied().unwrap_or(0);
        let killed = in_flight
            .iter()
            .filter(|d| key(&d.actor, d.action, &d.plugin, d.version.as_deref()) == *k)
            .count();
        assert!(
            *n <= want + killed,
            "`{k}` audited {n} times but acknowledged {want} times (+{killed} killed in flight or in doubt)"
        );
    }
    // Every acknowledged publish is stored; at most one version of each
    // plugin is active, and one is once any activation was acknowledged
    // (nothing in this run deactivates).
    for d in acknowledged.iter().filter(|d| d.action == "publish") {
        assert!(
            snapshot
                .versions
                .iter()
                .any(|v| v.plugin.as_str() == d.plugin && Some(v.version.to_string()) == d.version),
            "acknowledged publish {d:?} is missing"
        );
    }
    for (plugin, _) in PLUGINS {
        let active = snapshot
            .versions
            .iter()
            .filter(|v| v.plugin.as_str() == plugin && v.state == State::Active)
            .count();
        let activated = acknowledged
            .iter()
            .any(|d| d.plugin == plugin && (d.action == "activate" || d.action == "rollback"));
        assert!(active <= 1, "{plugin} has {active} active versions");
        assert!(
            !activated || active == 1,
            "{plugin} was activated but has no active version"
        );
    }
    assert!(registry.verify().expect("verify").is_empty());

    // Every host runs exactly the registry's deployment for its scope, and
    // says so in the registry.
    let reported = registry.hosts().expect("hosts");
    for host in &mut hosts {
        let want = deployment_for(&registry, host.scope);
        let got = host.loaded();
        assert_eq!(
            got, want,
            "host {} ({}) runs something else",
            host.name, host.scope
        );
        let record = reported
            .iter()
            .find(|r| r.name == host.name)
            .unwrap_or_else(|| panic!("host {} never reported itself", host.name));
        let listed: BTreeSet<(String, String, String)> = record
            .loaded
            .iter()
            .map(|l| (l.plugin.clone(), l.version.clone(), l.digest.clone()))
            .collect();
        assert_eq!(listed, want, "host {}'s report", host.name);
        assert_eq!(record.change_seq, seq, "host {}'s report", host.name);
    }
    let (code, out) = run(&db, home.path(), &["hosts"]);
    assert_eq!(code, 0, "{out}");
    for host in &hosts {
        assert!(
            out.lines()
                .any(|l| l.starts_with(&host.name) && l.contains("current")),
            "`yoi hosts` lists {} as current:\n{out}",
            host.name
        );
    }
}

#[test]
#[ignore = "needs the example components and PostgreSQL: run `cargo xtask e2e`"]
fn changes_reach_every_host_within_a_second() {
    let _server = SERVER.lock().unwrap_or_else(|p| p.into_inner());
    let db = Database::new();
    let home = tempfile::tempdir().expect("home");
    let packages = tempfile::tempdir().expect("packages");
    let dirs = versions_of("guard", &VERSIONS[..2], packages.path());
    for dir in &dirs {
        let (code, out) = run(&db, home.path(), &["publish", dir.to_str().expect("utf-8")]);
        assert_eq!(code, 0, "{out}");
    }
    let mut hosts: Vec<HostProcess> = (1..=4)
        .map(|i| HostProcess::start(&db, home.path(), &format!("h{i}"), "all"))
        .collect();
    let registry = Registry::open_at(&Location::parse(&db.url), home.path()).expect("registry");
    converge(&mut hosts, &registry, Duration::from_secs(30));
    let changes = propagation_changes();
    let mut latencies = Vec::with_capacity(changes);
    for i in 0..changes {
        let version = semver::Version::parse(VERSIONS[i % 2]).expect("version");
        registry
            .activate(
                "example.guard",
                &version,
                &yoi_registry::Activation::by("bench"),
            )
            .expect("activate");
        let committed = Instant::now();
        let seq = registry.change_seq().expect("change counter");
        let mut slowest = Duration::ZERO;
        for host in &mut hosts {
            let at = host
                .reached(seq, Duration::from_secs(10))
                .unwrap_or_else(|| panic!("host {} missed change {seq}", host.name));
            slowest = slowest.max(at.saturating_duration_since(committed));
        }
        latencies.push(slowest);
    }
    latencies.sort();
    let at = |q: f64| latencies[((latencies.len() - 1) as f64 * q).round() as usize];
    let (p50, p99) = (at(0.50), at(0.99));
    eprintln!(
        "propagation: {changes} activations, {} hosts, commit to every host swapped: p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms",
        hosts.len(),
        p50.as_secs_f64() * 1000.0,
        p99.as_secs_f64() * 1000.0,
        latencies[latencies.len() - 1].as_secs_f64() * 1000.0
    );
    // Pushed, not polled: polling every second would put the median near
    // half a second.
    assert!(
        p50 < Duration::from_millis(200) && p99 < Duration::from_secs(1),
        "every host must follow a change within a second, pushed: p50 {p50:?}, p99 {p99:?}"
    );
    for host in &mut hosts {
        let last = VERSIONS[(changes - 1) % 2];
        let loaded = host.loaded();
        assert!(
            loaded
                .iter()
                .any(|(p, v, _)| p == "example.guard" && v == last),
            "host {} runs {loaded:?}, not example.guard@{last}",
            host.name
        );
    }
}

/// Changes timed by the propagation test: 100 (`YOI_PROPAGATION_CHANGES`
/// sets another count).
fn propagation_changes() -> usize {
    std::env::var("YOI_PROPAGATION_CHANGES")
        .ok()
        .and_then(|v| v.parse().ok())
        .filter(|n| *n > 0)
        .unwrap_or(100)
}

#[test]
#[ignore = "needs PostgreSQL: run `cargo xtask e2e`"]
fn an_unreachable_database_is_a_coded_error_that_names_it() {
    // A loopback port nothing listens on.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port();
    let home = tempfile::tempdir().expect("home");
    let url = format!("postgres://yoi:hunter2@127.0.0.1:{port}/nowhere");
    let out = Command::new(env!("CARGO_BIN_EXE_yoi"))
        .args(["--registry", &url, "list"])
        .env("YOI_HOME", home.path())
        .output()
        .expect("yoi runs");
    let text = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(text.contains("R0310"), "{text}");
    assert!(
        text.contains(&format!("127.0.0.1:{port}/nowhere")),
        "{text}"
    );
    assert!(
        !text.contains("hunter2"),
        "the password is never printed: {text}"
    );
    assert!(text.contains("fix:"), "{text}");
}
