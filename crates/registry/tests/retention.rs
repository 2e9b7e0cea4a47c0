//! Removing versions and pruning: what goes, what stays, and that every
//! attempt is audited.

mod common;

use std::time::Duration;

use semver::Version;
use yoi_registry::{Activation, EventRecord, Outcome, Registry, State};

fn v(s: &str) -> Version {
    Version::parse(s).expect("version")
}

fn publish(reg: &Registry, plugin: &str, version: &str, tag: &[u8], caps: &str) -> String {
    let package = common::package_with(plugin, version, tag.to_vec(), caps);
    let record = reg
        .publish(&package, &common::compat(), "tester")
        .expect("publish")
        .record;
    record.digest.to_string()
}

fn blob_exists(reg: &Registry, digest: &str) -> bool {
    let hex = digest.trim_start_matches("sha256:");
    reg.root().join("blobs/sha256").join(hex).is_file()
}

fn last_audit(reg: &Registry) -> yoi_registry::AuditRecord {
    reg.audits(None, 0, usize::MAX)
        .expect("audits")
        .pop()
        .expect("an audit record")
}

#[test]
fn an_inactive_version_is_removed_and_its_artifact_goes_with_it() {
    let dir = tempfile::tempdir().expect("temp dir");
    let reg = Registry::open(dir.path()).expect("registry");
    let caps = "secrets = [\"KEY\"]";
    let d1 = publish(&reg, "acme.r", "1.0.0", b"one", caps);
    let d2 = publish(&reg, "acme.r", "2.0.0", b"two", caps);
    reg.grant("acme.r", &["secret:KEY".to_owned()], true, "op")
        .expect("grant");
    reg.activate("acme.r", &v("2.0.0"), &Activation::by("op"))
        .expect("activate");

    let err = reg
        .remove("acme.r", &v("2.0.0"), "op")
        .expect_err("the active version stays");
    assert!(
        err.to_string().starts_with("R0111 acme.r@2.0.0 is active"),
        "{err}"
    );
    assert!(
        err.to_string().contains("yoi deactivate acme.r@2.0.0"),
        "{err}"
    );
    let audit = last_audit(&reg);
    assert_eq!(
        (audit.action.as_str(), audit.outcome),
        ("remove", Outcome::Error)
    );
    assert!(blob_exists(&reg, &d2));

    let removed = reg.remove("acme.r", &v("1.0.0"), "op").expect("remove");
    assert_eq!(removed.version, v("1.0.0"));
    assert!(!blob_exists(&reg, &d1), "no version refers to it any more");
    assert!(blob_exists(&reg, &d2));
    let audit = last_audit(&reg);
    assert_eq!(
        (audit.action.as_str(), audit.outcome),
        ("remove", Outcome::Ok)
    );
    assert_eq!(audit.version.as_deref(), Some("1.0.0"));
    // Another version remains, so the plugin's grants do too.
    assert_eq!(reg.grants("acme.r").expect("grants").len(), 1);
    assert!(reg.verify().expect("verify").is_empty());

    let err = reg
        .remove("acme.r", &v("1.0.0"), "op")
        .expect_err("already gone");
    assert!(err.to_string().starts_with("R0102"), "{err}");
}

#[test]
fn an_artifact_shared_by_two_plugins_stays_until_neither_refers_to_it() {
    let dir = tempfile::tempdir().expect("temp dir");
    let reg = Registry::open(dir.path()).expect("registry");
    let a = publish(&reg, "acme.a", "1.0.0", b"same", "");
    let b = publish(&reg, "acme.b", "1.0.0", b"same", "");
    assert_eq!(a, b, "the same bytes are stored once");

    reg.remove("acme.a", &v("1.0.0"), "op").expect("remove a");
    assert!(blob_exists(&reg, &b), "acme.b still refers to it");
    reg.remove_all("acme.b", "op").expect("remove b");
    assert!(!blob_exists(&reg, &b));
    assert!(reg.snapshot().expect("snapshot").versions.is_empty());
}

#[test]
fn removing_a_whole_plugin_needs_it_inactive_and_takes_its_grants_and_flags() {
    let dir = tempfile::tempdir().expect("temp dir");
    let reg = Registry::open(dir.path()).expect("registry");
    let caps = "secrets = [\"KEY\"]";
    publish(&reg, "acme.w", "1.0.0", b"1", caps);
    publish(&reg, "acme.w", "1.1.0", b"2", caps);
    publish(&reg, "acme.other", "1.0.0", b"3", caps);
    for p in ["acme.w", "acme.other"] {
        reg.grant(p, &["secret:KEY".to_owned()], true, "op")
            .expect("grant");
    }
    reg.activate("acme.w", &v("1.1.0"), &Activation::by("op"))
        .expect("activate");
    reg.disable("acme.w", "flaky", "op").expect("disable");

    let err = reg.remove_all("acme.w", "op").expect_err("one is active");
    assert!(err.to_string().starts_with("R0111 acme.w@1.1.0"), "{err}");
    assert_eq!(reg.versions("acme.w").expect("versions").len(), 2);

    reg.deactivate("acme.w", &v("1.1.0"), "op")
        .expect("deactivate");
    let removed = reg.remove_all("acme.w", "op").expect("remove all");
    assert_eq!(removed.len(), 2);
    let snap = reg.snapshot().expect("snapshot");
    assert!(
        snap.versions
            .iter()
            .all(|v| v.plugin.as_str() == "acme.other")
    );
    assert!(
        snap.grants
            .iter()
            .all(|g| g.plugin.as_str() == "acme.other")
    );
    assert_eq!(snap.grants.len(), 1, "the other plugin keeps its grant");
    assert!(snap.disabled.is_empty(), "the flag went with the plugin");
    assert!(
        reg.remove_all("acme.w", "op")
            .expect_err("nothing left")
            .to_string()
            .starts_with("R0102")
    );
    assert!(reg.verify().expect("verify").is_empty());
}

#[test]
fn prune_drops_old_events_and_unreferenced_artifacts_only() {
    let dir = tempfile::tempdir().expect("temp dir");
    let reg = Registry::open(dir.path()).expect("registry");
    let kept = publish(&reg, "acme.p", "1.0.0", b"kept", "");
    reg.activate("acme.p", &v("1.0.0"), &Activation::by("op"))
        .expect("activate");
    // An artifact a publish stored before it was interrupted: no record.
    let orphan = yoi_manifest::Digest::of(b"orphan");
    std::fs::write(
        reg.root().join("blobs/sha256").join(orphan.hex()),
        b"orphan",
    )
    .expect("orphan blob");

    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock")
        .as_millis() as i64;
    let event = |at: i64| EventRecord {
        host: None,
        id: 0,
        at,
        kind: "receipt".into(),
        plugin: "acme.p".into(),
        version: Some("1.0.0".into()),
        detail: serde_json::json!({}),
    };
    let day = 24 * 3600 * 1000;
    reg.record_events(&[
        event(now - 40 * day),
        event(now - 31 * day),
        event(now - day),
        event(now),
    ])
    .expect("events");

    let pruned = reg
        .prune(Some(Duration::from_secs(30 * 24 * 3600)), "op")
        .expect("prune");
    assert_eq!((pruned.events, pruned.blobs, pruned.bytes), (2, 1, 6));
    assert_eq!(reg.events(None, 0, 100).expect("events").len(), 2);
    assert!(blob_exists(&reg, &kept));
    assert!(!blob_exists(&reg, &orphan.to_string()));
    let audit = last_audit(&reg);
    assert_eq!(audit.action, "prune");
    assert!(
        audit
            .reason
            .contains("2 events and 1 unreferenced artifacts"),
        "{}",
        audit.reason
    );

    // Without an age, only artifacts are collected; nothing is left to do.
    let pruned = reg.prune(None, "op").expect("prune");
    assert_eq!((pruned.events, pruned.blobs), (0, 0));
    assert_eq!(reg.events(None, 0, 100).expect("events").len(), 2);
    assert_eq!(
        reg.snapshot().expect("snapshot").versions[0].state,
        State::Active
    );
}
