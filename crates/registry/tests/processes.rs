//! Several OS processes on one registry: concurrent writers never lose an
//! update, and a process killed (SIGKILL) at any instant leaves a consistent
//! registry. Children are this test binary run again in "child" mode. Each
//! test runs on both stores (SQLite, and PostgreSQL when the tests have a
//! server).

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

mod common;

use common::TestStore;
use semver::Version;
use yoi_manifest::Package;
use yoi_registry::{Activation, Location, Outcome, Registry, RegistryError, State};

const CHILD_ENV: &str = "YOI_REGISTRY_TEST_CHILD";

fn package(plugin: &str, version: &str, variant: u32) -> Package {
    let artifact = format!("{plugin}-{version}-{variant}-{}", "x".repeat(4096)).into_bytes();
    common::package_with(plugin, version, artifact, "")
}

/// Runs this test binary's `child` test in a new process with `task`.
fn spawn(store: &TestStore, task: &str) -> Child {
    Command::new(std::env::current_exe().expect("test binary"))
        .args([
            "--exact",
            "child",
            "--ignored",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(
            CHILD_ENV,
            format!("{task}|{}|{}", store.home().display(), store.arg()),
        )
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn child")
}

/// The child side. Does nothing unless started by [`spawn`].
#[test]
#[ignore = "helper: run as a child process by the other tests"]
fn child() {
    let Ok(spec) = std::env::var(CHILD_ENV) else {
        return;
    };
    let mut parts = spec.splitn(3, '|');
    let (Some(task), Some(home), Some(location)) = (parts.next(), parts.next(), parts.next())
    else {
        panic!("task|home|location");
    };
    let reg = Registry::open_at(&Location::parse(location), Path::new(home)).expect("open");
    let v = |s: &str| Version::parse(s).expect("version");
    match task {
        // Both children publish the same version with different bytes.
        "publish-a" | "publish-b" => {
            let variant = u32::from(task == "publish-b");
            match reg.publish(
                &package("race.plugin", "1.0.0", variant),
                &common::compat(),
                task,
            ) {
                Ok(_) => std::process::exit(0),
                Err(RegistryError::VersionImmutable { .. }) => std::process::exit(3),
                Err(e) => panic!("{e}"),
            }
        }
        // Both children activate (different versions) many times.
        "activate-1" | "activate-2" => {
            let version = if task == "activate-1" {
                "1.0.0"
            } else {
                "2.0.0"
            };
            for _ in 0..25 {
                reg.activate("race.plugin", &v(version), &Activation::by(task))
                    .expect("activate");
            }
        }
        // Churns through every kind of write until killed, resuming after
        // the versions earlier (killed) children committed.
        "churn" => {
            let start = u32::try_from(reg.versions("churn.plugin").expect("versions").len())
                .expect("count");
            for i in start.. {
                let version = format!("{}.{}.0", i / 50, i % 50);
                reg.publish(
                    &package("churn.plugin", &version, i),
                    &common::compat(),
                    "churn",
                )
                .expect("publish");
                reg.activate("churn.plugin", &v(&version), &Activation::by("churn"))
                    .expect("activate");
                if i % 3 == 2 && i > start {
                    let earlier = format!("{}.{}.0", (i - 1) / 50, (i - 1) % 50);
                    reg.rollback("churn.plugin", &v(&earlier), "churn")
                        .expect("rollback");
                }
            }
        }
        other => panic!("unknown task {other}"),
    }
}

#[test]
fn two_processes_publishing_the_same_version_have_one_clear_winner() {
    for store in (0..5).flat_map(|_| common::stores()) {
        store.open();
        let a = spawn(&store, "publish-a");
        let b = spawn(&store, "publish-b");
        let codes: Vec<i32> = [a, b]
            .into_iter()
            .map(|c| {
                c.wait_with_output()
                    .expect("wait")
                    .status
                    .code()
                    .expect("exit code")
            })
            .collect();
        let mut sorted = codes.clone();
        sorted.sort();
        assert_eq!(
            sorted,
            vec![0, 3],
            "{}: one wins, one is refused as immutable: {codes:?}",
            store.label
        );

        let reg = store.open();
        let snap = reg.snapshot().expect("snapshot");
        assert_eq!(snap.versions.len(), 1);
        let winner = if codes[0] == 0 {
            "publish-a"
        } else {
            "publish-b"
        };
        assert_eq!(
            snap.versions[0].published_by, winner,
            "the stored digest is the winner's"
        );
        let outcomes: Vec<_> = snap
            .audits
            .iter()
            .map(|a| (a.actor.as_str(), a.outcome))
            .collect();
        assert_eq!(outcomes.len(), 2, "both attempts are audited: {outcomes:?}");
        assert!(outcomes.contains(&(winner, Outcome::Ok)));
        assert!(reg.verify().expect("verify").is_empty());
    }
}

#[test]
fn concurrent_activations_never_lose_an_update() {
    for store in common::stores() {
        concurrent_activations_on(&store);
    }
}

fn concurrent_activations_on(store: &TestStore) {
    let reg = store.open();
    for version in ["1.0.0", "2.0.0"] {
        reg.publish(
            &package("race.plugin", version, 0),
            &common::compat(),
            "setup",
        )
        .expect("publish");
    }
    let children = [spawn(store, "activate-1"), spawn(store, "activate-2")];
    for c in children {
        let status = c.wait_with_output().expect("wait").status;
        assert!(status.success(), "a child failed: {status}");
    }
    let snap = reg.snapshot().expect("snapshot");
    let active: Vec<_> = snap
        .versions
        .iter()
        .filter(|v| v.state == State::Active)
        .collect();
    assert_eq!(
        active.len(),
        1,
        "{}: exactly one active version",
        store.label
    );
    let last_activation = snap
        .audits
        .iter()
        .rev()
        .find(|a| a.action == "activate")
        .expect("activations audited");
    assert_eq!(
        last_activation.version.as_deref(),
        Some(active[0].version.to_string().as_str()),
        "the last committed activation is the one in effect"
    );
    let activations = snap
        .audits
        .iter()
        .filter(|a| a.action == "activate" && a.outcome == Outcome::Ok)
        .count();
    assert_eq!(
        activations, 50,
        "every activation of both processes is recorded"
    );
    assert_eq!(
        snap.change_seq,
        2 + 50,
        "every committed change bumped the counter once (2 publishes, 50 activations)"
    );
}

/// A small deterministic generator, so a failure can be replayed.
struct Lcg(u64);

impl Lcg {
    fn next(&mut self, below: u64) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (self.0 >> 33) % below
    }
}

/// Rounds of the kill test: 12 in CI; `cargo xtask soak` sets
/// `YOI_SOAK_KILLS=1000`.
fn kill_rounds() -> u32 {
    std::env::var("YOI_SOAK_KILLS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(12)
}

#[test]
fn a_process_killed_at_any_instant_leaves_a_consistent_registry() {
    let rounds = kill_rounds();
    let started = std::time::Instant::now();
    let mut committed = 0;
    // A fresh registry every 100 rounds, so each round's full check stays
    // the same size however long the soak runs.
    for batch in 0..rounds.div_ceil(100) {
        let n = (rounds - batch * 100).min(100);
        for store in common::stores() {
            committed += kill_rounds_on_one_registry(&store, n, 0x5eed + u64::from(batch));
        }
    }
    println!(
        "kill test: {rounds} SIGKILLs at random instants in {:.0} s; after each the registry \
         reopened, passed its integrity check and verify(), held at most one active version, \
         lost no committed version, left no temp file, and its change counter matched its \
         audit log; {committed} versions committed in all",
        started.elapsed().as_secs_f64()
    );
}

/// `rounds` kills of a churning writer on one registry; returns how many
/// versions were committed.
fn kill_rounds_on_one_registry(store: &TestStore, rounds: u32, seed: u64) -> usize {
    store.open();
    let mut rng = Lcg(seed);
    let mut last_versions = 0;
    for round in 0..rounds {
        let mut child = spawn(store, "churn");
        std::thread::sleep(Duration::from_millis(40 + rng.next(160)));
        child.kill().expect("SIGKILL");
        child.wait().expect("reap");

        // Reopening removes interrupted temp files; what remains must be whole.
        let reg = store.open();
        let problems = reg.verify().expect("verify");
        assert!(problems.is_empty(), "round {round}: {problems:?}");
        if let Location::Folder(dir) = &store.location {
            let leftovers = std::fs::read_dir(dir.join("blobs/tmp"))
                .expect("tmp dir")
                .count();
            assert_eq!(leftovers, 0, "round {round}: temp files left behind");
        }
        let snap = reg.snapshot().expect("snapshot");
        let active = snap
            .versions
            .iter()
            .filter(|v| v.state == State::Active)
            .count();
        assert!(active <= 1, "round {round}: {active} active versions");
        for v in &snap.versions {
            reg.artifact(&v.digest)
                .expect("every recorded artifact is readable and verified");
        }
        assert!(
            snap.versions.len() >= last_versions,
            "round {round}: committed versions vanished"
        );
        last_versions = snap.versions.len();
        let ok_audits = snap
            .audits
            .iter()
            .filter(|a| a.outcome == Outcome::Ok)
            .count() as i64;
        assert_eq!(
            snap.change_seq, ok_audits,
            "round {round}: counter and log disagree"
        );
    }
    assert!(
        last_versions >= rounds.min(12) as usize,
        "the children made too little progress to test anything: {last_versions}"
    );
    last_versions
}

#[test]
fn a_corrupt_blob_is_refused_and_the_rest_keeps_working() {
    let dir = tempfile::tempdir().expect("temp dir");
    let reg = Registry::open(dir.path()).expect("create");
    let bad = reg
        .publish(&package("bad.plugin", "1.0.0", 0), &common::compat(), "t")
        .expect("publish")
        .record;
    let good = reg
        .publish(&package("good.plugin", "1.0.0", 0), &common::compat(), "t")
        .expect("publish")
        .record;
    let hex = bad.digest.hex();
    let path = dir.path().join("blobs/sha256").join(hex);
    let mut bytes = std::fs::read(&path).expect("blob");
    bytes[0] ^= 0xff;
    std::fs::write(&path, bytes).expect("corrupt it");

    let err = reg.artifact(&bad.digest).expect_err("corruption detected");
    assert!(matches!(err, RegistryError::CorruptBlob { .. }), "{err}");
    assert!(
        err.to_string().contains("publish the package again"),
        "{err}"
    );
    assert!(
        reg.verify()
            .expect("verify")
            .iter()
            .any(|p| p.contains("bad.plugin"))
    );

    reg.artifact(&good.digest)
        .expect("other artifacts still verify");
    reg.activate("good.plugin", &good.version, &Activation::by("t"))
        .expect("activate");

    // Publishing the same package again restores the blob.
    std::fs::remove_file(&path).expect("remove corrupt blob");
    assert!(matches!(
        reg.artifact(&bad.digest),
        Err(RegistryError::MissingBlob { .. })
    ));
}
