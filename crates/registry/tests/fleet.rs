//! What a fleet relies on: host reports on both stores, and on PostgreSQL
//! changes pushed to other processes' `Registry` values, a schema that keeps
//! the rules even against direct SQL, artifacts verified on read, and a
//! newer schema refused.

use std::time::Duration;

mod common;

use yoi_registry::{
    Activation, HostPosture, HostRecord, LoadedVersion, Location, Registry, RegistryError, Scope,
};

fn host(name: &str, seq: i64) -> HostRecord {
    HostRecord {
        name: name.to_owned(),
        scope: Scope::Canary,
        contract: "yoi:plugin@0.5.0".into(),
        engine: "yoi 0.1.0".into(),
        started_at: 10,
        last_seen: 20 + seq,
        change_seq: seq,
        loaded: vec![LoadedVersion {
            plugin: "a.one".into(),
            version: "1.0.0".into(),
            digest: format!("sha256:{:064x}", 7),
        }],
        // h1 says how it runs plugins; h2 is a host from before hosts did.
        posture: (name == "h1").then_some(HostPosture {
            safe_mode: true,
            memory_mib: 64,
            chain_budget_ms: 8000,
            tool_timeout_ms: 30_000,
            fresh_instances: true,
            max_calls: 64,
            capability_cap: false,
            points: vec!["build.pre_compile".into()],
        }),
    }
}

#[test]
fn hosts_report_themselves_and_a_report_replaces_the_last() {
    for store in common::stores() {
        let reg = store.open();
        let seq = reg.change_seq().expect("seq");
        reg.register_host(&host("h1", 1)).expect("report");
        reg.register_host(&host("h2", 1)).expect("report");
        reg.register_host(&host("h1", 2)).expect("report again");
        let hosts = reg.hosts().expect("hosts");
        assert_eq!(hosts.len(), 2, "{}: {hosts:#?}", store.label);
        assert_eq!(hosts[0], host("h1", 2), "{}", store.label);
        assert_eq!(hosts[1], host("h2", 1), "{}", store.label);
        assert_eq!(
            reg.change_seq().expect("seq"),
            seq,
            "{}: a report is not a change (hosts would reload each other for ever)",
            store.label
        );
        assert_eq!(reg.snapshot().expect("snapshot").hosts, hosts);
        // Three reports with news moved the hosts mark; a heartbeat does not.
        let marks = reg.marks().expect("marks");
        assert_eq!(marks.hosts, 3, "{}", store.label);
        let mut beat = host("h1", 2);
        beat.last_seen += 10_000;
        reg.register_host(&beat).expect("heartbeat");
        assert_eq!(reg.marks().expect("marks"), marks, "{}", store.label);
        assert_eq!(reg.hosts().expect("hosts")[0].last_seen, beat.last_seen);
        // h2 (last seen at 21) has been silent longest; h1 (10,022) too,
        // measured from now: both are forgotten, and it is audited.
        assert_eq!(
            reg.forget_hosts(Duration::from_secs(3600), "op")
                .expect("forget"),
            2
        );
        assert!(reg.hosts().expect("hosts").is_empty());
        let audits = reg.audits(None, 0, 100).expect("audits");
        assert!(
            audits
                .iter()
                .any(|a| a.action == "forget_hosts" && a.reason.starts_with("forgot 2 hosts"))
        );
        for bad in ["", "tab\there", &"x".repeat(254)] {
            let err = reg.register_host(&host(bad, 3)).expect_err("refused");
            assert!(err.to_string().starts_with("R0108"), "{err}");
        }
    }
}

/// A PostgreSQL test store, or `None` (with a note) without a server.
fn postgres() -> Option<common::TestStore> {
    common::postgres_store()
}

fn admin(store: &common::TestStore) -> postgres::Client {
    let Location::Postgres(url) = &store.location else {
        unreachable!("a PostgreSQL store")
    };
    postgres::Client::connect(url, postgres::NoTls).expect("connect")
}

#[test]
fn changes_are_pushed_to_every_process_and_survive_a_lost_connection() {
    let Some(store) = postgres() else { return };
    let follower = store.open();
    let changes = follower.subscribe();
    // Another process's registry: its changes reach the follower by NOTIFY.
    let operator = store.open();
    let package = common::package_with("a.one", "1.0.0", b"one".to_vec(), "");
    operator
        .publish(&package, &common::compat(), "op")
        .expect("publish");
    let seq = operator.change_seq().expect("seq");
    let got = wait_for(&changes, seq);
    assert!(got, "the publish was not pushed to the other registry");

    // The listener's connection is cut (a database restart, a proxy):
    // it reconnects and goes on receiving.
    let mut admin = admin(&store);
    let cut = admin
        .execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity \
             WHERE datname = current_database() AND application_name = 'yoi-listen'",
            &[],
        )
        .expect("terminate");
    assert_eq!(cut, 1, "one listening connection");
    std::thread::sleep(Duration::from_millis(200));
    operator
        .activate(
            "a.one",
            &semver::Version::new(1, 0, 0),
            &Activation::by("op"),
        )
        .expect("activate");
    let seq = operator.change_seq().expect("seq");
    assert!(
        wait_for(&changes, seq),
        "after the reconnection the activation was not pushed"
    );
}

/// Whether a change at `seq` or later arrives within five seconds.
fn wait_for(changes: &std::sync::mpsc::Receiver<yoi_registry::Change>, seq: i64) -> bool {
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    while let Some(left) = deadline.checked_duration_since(std::time::Instant::now()) {
        match changes.recv_timeout(left) {
            Ok(c) if c.seq >= seq => return true,
            Ok(_) => {}
            Err(_) => return false,
        }
    }
    false
}

#[test]
fn the_schema_keeps_the_rules_against_direct_sql() {
    let Some(store) = postgres() else { return };
    let reg = store.open();
    for v in ["1.0.0", "2.0.0"] {
        reg.publish(
            &common::package_with("a.one", v, v.as_bytes().to_vec(), ""),
            &common::compat(),
            "op",
        )
        .expect("publish");
    }
    reg.activate(
        "a.one",
        &semver::Version::new(1, 0, 0),
        &Activation::by("op"),
    )
    .expect("activate");
    let mut sql = admin(&store);
    let refused = |sql: &mut postgres::Client, statement: &str| {
        let err = sql.batch_execute(statement).expect_err(statement);
        err.as_db_error()
            .map(|d| d.message().to_owned())
            .unwrap_or_else(|| err.to_string())
    };
    let why = refused(
        &mut sql,
        "UPDATE versions SET state = 'active' WHERE version = '2.0.0'",
    );
    assert!(why.contains("one_active"), "{why}");
    let why = refused(
        &mut sql,
        "UPDATE versions SET digest = 'sha256:' || repeat('0', 64) WHERE version = '1.0.0'",
    );
    assert!(why.contains("immutable"), "{why}");
    let why = refused(&mut sql, "DELETE FROM audit");
    assert!(why.contains("never changed"), "{why}");
    let why = refused(&mut sql, "UPDATE artifacts SET bytes = 'x'");
    assert!(why.contains("never changed"), "{why}");
    assert!(reg.verify().expect("verify").is_empty());
}

#[test]
fn an_artifact_changed_in_the_database_is_refused_on_read() {
    let Some(store) = postgres() else { return };
    let reg = store.open();
    let record = reg
        .publish(
            &common::package_with("a.one", "1.0.0", b"one".to_vec(), ""),
            &common::compat(),
            "op",
        )
        .expect("publish")
        .record;
    // Only someone with the database's owner rights can get past the
    // trigger; the registry must still not trust what it reads.
    admin(&store)
        .batch_execute(
            "ALTER TABLE artifacts DISABLE TRIGGER artifact_immutable;
             UPDATE artifacts SET bytes = bytes || '\\x00'::bytea;
             ALTER TABLE artifacts ENABLE TRIGGER artifact_immutable;",
        )
        .expect("tamper");
    let err = reg.artifact(&record.digest).expect_err("refused");
    assert!(matches!(err, RegistryError::CorruptBlob { .. }), "{err}");
    assert!(
        reg.verify()
            .expect("verify")
            .iter()
            .any(|p| p.contains("a.one"))
    );
}

#[test]
fn a_database_migrated_by_a_newer_yoi_is_refused() {
    let Some(store) = postgres() else { return };
    drop(store.open());
    admin(&store)
        .batch_execute("UPDATE yoi_schema SET version = 99")
        .expect("pretend");
    let Location::Postgres(url) = &store.location else {
        unreachable!()
    };
    let err = Registry::open_at(&store.location, store.home())
        .err()
        .expect("refused");
    let text = err.to_string();
    assert!(text.starts_with("R0303"), "{text}");
    assert!(text.contains("newer"), "{text}");
    assert!(!url.is_empty());
}

#[test]
fn a_password_never_appears_in_a_location_or_an_error() {
    let location = Location::parse("postgres://yoi:hunter2@127.0.0.1:1/db");
    assert_eq!(location.to_string(), "postgres://yoi:***@127.0.0.1:1/db");
    let err = Registry::open_at(&location, std::env::temp_dir().as_path())
        .err()
        .expect("nothing listens on port 1");
    let text = err.to_string();
    assert!(text.starts_with("R0310"), "{text}");
    assert!(!text.contains("hunter2"), "{text}");
    assert!(
        matches!(Location::parse("/var/lib/yoi"), Location::Folder(_)),
        "anything but a postgres URL is a folder"
    );
    // A key spelled with escapes is still the password.
    let escaped =
        Location::parse("postgres://yoi@127.0.0.1:1/db?pass%77ord=hunter2&sslmode=disable");
    assert!(!escaped.to_string().contains("hunter2"), "{escaped}");
    // A libpq key=value string is no folder: refused with the URL to write,
    // without the password, and no folder is made.
    let cwd = tempfile::tempdir().expect("temp");
    let kv = "host=127.0.0.1 port=5432 user=yoi password=hunter2 dbname=fleet";
    let dir = cwd.path().join(kv);
    let err = Registry::open_at(&Location::Folder(dir.clone()), cwd.path())
        .err()
        .expect("refused");
    let text = err.to_string();
    assert!(text.starts_with("R0108"), "{text}");
    assert!(
        text.contains("postgres://yoi:PASSWORD@127.0.0.1:5432/fleet"),
        "{text}"
    );
    assert!(!text.contains("hunter2"), "{text}");
    assert!(!dir.exists(), "a folder named after the connection string");
    let tls = Location::parse("postgres://yoi@127.0.0.1:1/db?sslmode=require");
    let text = Registry::open_at(&tls, std::env::temp_dir().as_path())
        .err()
        .expect("refused at once")
        .to_string();
    assert!(
        text.starts_with("R0108") && text.contains("sslmode=require"),
        "{text}"
    );
}

#[test]
fn artifacts_are_collected_with_their_last_version_on_both_stores() {
    for store in common::stores() {
        let reg = store.open();
        let compat = common::compat();
        let shared = common::package_with("a.one", "1.0.0", b"same".to_vec(), "");
        let again = common::package_with("a.one", "1.1.0", b"same".to_vec(), "");
        let alone = common::package_with("a.one", "2.0.0", b"alone".to_vec(), "");
        let shared = reg.publish(&shared, &compat, "op").expect("publish").record;
        let again = reg.publish(&again, &compat, "op").expect("publish").record;
        let alone = reg.publish(&alone, &compat, "op").expect("publish").record;
        assert_eq!(shared.digest, again.digest, "one artifact, two versions");

        reg.remove("a.one", &alone.version, "op").expect("remove");
        let gone = reg.artifact(&alone.digest).expect_err("collected");
        assert!(
            matches!(gone, RegistryError::MissingBlob { .. }),
            "{}: {gone}",
            store.label
        );
        reg.remove("a.one", &shared.version, "op").expect("remove");
        reg.artifact(&again.digest)
            .unwrap_or_else(|e| panic!("{}: still used by 1.1.0: {e}", store.label));
        let pruned = reg.prune(None, "op").expect("prune");
        assert_eq!((pruned.blobs, pruned.bytes), (0, 0), "{}", store.label);
        assert!(reg.verify().expect("verify").is_empty(), "{}", store.label);
        reg.clear("op").expect("clear");
        assert!(
            reg.artifact(&again.digest).is_err(),
            "{}: cleared",
            store.label
        );
    }
}

#[test]
fn text_from_outside_with_nul_characters_is_recorded_on_both_stores() {
    for store in common::stores() {
        let reg = store.open();
        // A plugin's denied target, an operator's reason: anything may
        // carry NUL, which PostgreSQL cannot store as is.
        let event = |detail| yoi_registry::EventRecord {
            id: 0,
            at: 1,
            kind: "permission_denied".into(),
            plugin: "a.one".into(),
            version: Some("1.0.0".into()),
            detail,
            host: Some("h\u{0}1".into()),
        };
        reg.record_events(&[
            event(serde_json::json!({"target": "https://x/\u{0}", "k\u{0}": ["\u{0}"]})),
            event(serde_json::json!({"target": "fine"})),
        ])
        .unwrap_or_else(|e| panic!("{}: the batch is recorded: {e}", store.label));
        let events = reg.events(None, 0, 10).expect("events");
        assert_eq!(events.len(), 2, "{}", store.label);
        let target = events[0].detail["target"].as_str().expect("target");
        assert!(
            target.starts_with("https://x/"),
            "{}: {target}",
            store.label
        );
        assert_eq!(events[1].detail["target"], "fine");
        reg.publish(
            &common::package_with("a.one", "1.0.0", b"one".to_vec(), ""),
            &common::compat(),
            "op",
        )
        .expect("publish");
        reg.disable("a.one", "because\u{0}", "op\u{0}")
            .unwrap_or_else(|e| panic!("{}: disabled: {e}", store.label));
        let snapshot = reg.snapshot().expect("snapshot");
        assert!(
            snapshot.disabled["a.one"].starts_with("because"),
            "{}",
            store.label
        );
        let last = snapshot.audits.last().expect("audited");
        assert_eq!(last.action, "disable", "{}", store.label);
        assert!(last.actor.starts_with("op"), "{}", store.label);
    }
}

/// A version handling a point its host declares itself (contract 0.6.0):
/// activating it warns until a host reporting to the registry declares the
/// point, and the answer says which point.
#[test]
fn activating_a_plugin_for_a_point_no_host_declares_warns() {
    let artifact = wat::parse_str(
        "(component (core module (memory 1)) (instance $i) \
         (export \"yoi:plugin/host-hooks@0.6.0\" (instance $i)))",
    )
    .expect("test component");
    let text = format!(
        "[plugin]\nid = \"acme.build-guard\"\nversion = \"1.0.0\"\ncontract = \"yoi:plugin@0.6.0\"\n\n\
         [runtime]\nkind = \"wasm-component\"\nartifact = \"p.wasm\"\ndigest = \"{}\"\n\n\
         [[hooks]]\npoint = \"build.pre_compile\"\n",
        yoi_manifest::Digest::of(&artifact)
    );
    let mut compat = common::compat();
    compat.contracts = vec!["yoi:plugin@0.6.0".parse().expect("contract")];
    let package =
        yoi_manifest::Package::from_bytes("test", &text, artifact, &compat).expect("package");
    for store in common::stores() {
        let reg = store.open();
        reg.publish(&package, &compat, "ci").expect("publish");
        let activate = yoi_registry::Operation::Activate {
            plugin: "acme.build-guard".into(),
            version: semver::Version::new(1, 0, 0),
            scope: yoi_manifest::Scope::All,
            rollout_pct: 100,
        };
        let answer = reg.apply(&activate, "op");
        assert!(answer.ok, "{}: {answer:?}", store.label);
        assert_eq!(answer.warnings.len(), 1, "{}: {answer:?}", store.label);
        assert!(
            answer.warnings[0].contains("`build.pre_compile`, which no host"),
            "{}: {answer:?}",
            store.label
        );
        // h1 declares the point (its posture says so): no warning now.
        reg.register_host(&host("h1", 1)).expect("report");
        let answer = reg.apply(&activate, "op");
        assert!(answer.warnings.is_empty(), "{}: {answer:?}", store.label);
    }
}
