//! Registry writes as data: operations parse from the JSON clients send,
//! and every answer carries the audit record the write left, refusals
//! included.

mod common;

use yoi_registry::{Answer, Operation, Outcome, Registry};

fn op(json: &str) -> Operation {
    serde_json::from_str(json).unwrap_or_else(|e| panic!("{json}: {e}"))
}

fn audit_of(answer: &Answer) -> &yoi_registry::AuditRecord {
    answer
        .audit
        .as_ref()
        .expect("every answer here has its audit record")
}

#[test]
fn operations_parse_with_defaults_and_refuse_what_they_do_not_know() {
    assert_eq!(
        op(r#"{"op": "activate", "plugin": "acme.g", "version": "1.2.0"}"#),
        Operation::Activate {
            plugin: "acme.g".into(),
            version: semver::Version::new(1, 2, 0),
            scope: yoi_registry::Scope::All,
            rollout_pct: 100,
        }
    );
    assert_eq!(
        op(r#"{"op": "remove", "plugin": "acme.g"}"#),
        Operation::Remove {
            plugin: "acme.g".into(),
            version: None
        }
    );
    assert_eq!(
        op(r#"{"op": "forget_hosts", "silent_for_secs": 3600}"#),
        Operation::ForgetHosts {
            silent_for_secs: 3600
        }
    );
    assert_eq!(
        op(r#"{"op": "config_rotate_key"}"#),
        Operation::ConfigRotateKey {}
    );
    for bad in [
        r#"{"op": "forget_hosts"}"#,
        r#"{"op": "config_rotate_key", "key": "mine"}"#,
        r#"{"op": "activate", "plugin": "acme.g", "version": "1.2.0", "force": true}"#,
        r#"{"op": "activate", "plugin": "acme.g", "version": "one"}"#,
        r#"{"op": "activate", "plugin": "acme.g", "version": "1.2.0", "scope": "moon"}"#,
        r#"{"op": "explode"}"#,
        r#"{"plugin": "acme.g"}"#,
        r#"{"op": "clear"}"#,
    ] {
        assert!(serde_json::from_str::<Operation>(bad).is_err(), "{bad}");
    }
}

#[test]
fn every_answer_carries_the_audit_record_it_wrote() {
    let dir = tempfile::tempdir().expect("temp dir");
    let reg = Registry::open(dir.path()).expect("registry");
    let activate = op(
        r#"{"op": "activate", "plugin": "acme.g", "version": "1.0.0", "scope": "canary", "rollout_pct": 25}"#,
    );

    let refused = reg.apply(&activate, "alice");
    assert!(!refused.ok);
    assert!(
        refused
            .error
            .as_deref()
            .is_some_and(|e| e.starts_with("R0102")),
        "{refused:?}"
    );
    let audit = audit_of(&refused);
    assert_eq!(
        (audit.action.as_str(), audit.outcome),
        ("activate", Outcome::Error)
    );
    assert_eq!(audit.actor, "alice");
    assert!(audit.id > 0);

    let package = common::package_with("acme.g", "1.0.0", b"g".to_vec(), "secrets = [\"K\"]");
    let published = reg.publish_answer(&package, &common::compat(), "ci", None);
    assert!(published.ok, "{published:?}");
    assert_eq!(audit_of(&published).action, "publish");
    let record = published.record.as_ref().expect("the version record");
    assert!(
        record["record"]["digest"]
            .as_str()
            .is_some_and(|d| d.starts_with("sha256:")),
        "{record:#}"
    );

    let missing = reg.apply(&activate, "alice");
    assert!(
        missing
            .error
            .as_deref()
            .is_some_and(|e| e.contains("R0104")),
        "{missing:?}"
    );
    let granted = reg.apply(
        &op(r#"{"op": "grant", "plugin": "acme.g", "capabilities": ["secret:K"]}"#),
        "alice",
    );
    assert_eq!(granted.record, Some(serde_json::json!(["secret:K"])));

    let done = reg.apply(&activate, "alice");
    assert!(done.ok, "{done:?}");
    let record = done.record.as_ref().expect("record");
    assert_eq!(record["state"], "active");
    assert_eq!(
        record["rollout"],
        serde_json::json!({"scope": "canary", "percent": 25})
    );
    let audit = audit_of(&done);
    assert_eq!(
        (audit.action.as_str(), audit.outcome),
        ("activate", Outcome::Ok)
    );
    assert!(audit.reason.contains("canary"), "{}", audit.reason);
    assert!(
        audit.id > audit_of(&granted).id,
        "each answer has its own record"
    );

    let json = serde_json::to_value(&done).expect("JSON");
    assert_eq!(json["ok"], true);
    assert!(json.get("error").is_none());
    assert_eq!(json["audit"]["id"], audit.id);
}

#[test]
fn clear_needs_its_confirmation_and_the_refusal_is_audited() {
    let dir = tempfile::tempdir().expect("temp dir");
    let reg = Registry::open(dir.path()).expect("registry");
    let p = common::package_with("acme.c", "1.0.0", b"c".to_vec(), "");
    reg.publish(&p, &common::compat(), "ci").expect("publish");

    let refused = reg.apply(&op(r#"{"op": "clear", "confirm": false}"#), "bob");
    assert!(!refused.ok);
    assert!(
        refused
            .error
            .as_deref()
            .is_some_and(|e| e.contains("\"confirm\": true")),
        "{refused:?}"
    );
    assert_eq!(audit_of(&refused).action, "clear");
    assert_eq!(audit_of(&refused).outcome, Outcome::Error);
    assert_eq!(
        reg.snapshot().expect("snapshot").versions.len(),
        1,
        "nothing wiped"
    );

    let cleared = reg.apply(&op(r#"{"op": "clear", "confirm": true}"#), "bob");
    assert!(cleared.ok, "{cleared:?}");
    assert_eq!(audit_of(&cleared).outcome, Outcome::Ok);
    assert!(reg.snapshot().expect("snapshot").versions.is_empty());
}

/// Names from a client that are not a plugin id or a version (a control
/// sequence, a NUL PostgreSQL cannot store) are refused alike on every
/// store before anything is looked up, and never stored as an id.
#[test]
fn names_that_are_not_ids_are_refused_the_same_on_every_store_and_never_stored_raw() {
    for store in common::stores() {
        let reg = store.open();
        for hostile in ["evil\u{1b}[2K\rok", "a\u{0}b", "UPPER", ""] {
            for json in [
                serde_json::json!({"op": "deactivate", "plugin": hostile, "version": "1.0.0"}),
                serde_json::json!({"op": "enable", "plugin": hostile}),
                serde_json::json!({"op": "remove", "plugin": hostile}),
            ] {
                let answer = reg.apply(&serde_json::from_value(json.clone()).expect("op"), "ops");
                let audit = audit_of(&answer);
                let error = answer.error.clone().unwrap_or_default();
                assert!(
                    error.starts_with("R0108 ") && error.contains("is not a plugin id"),
                    "{}: {json}: {error}",
                    store.label
                );
                assert_eq!(audit.plugin, None, "{}: {json}", store.label);
                assert!(
                    !audit.reason.contains('\u{1b}') && !audit.reason.contains('\u{0}'),
                    "{}: {:?}",
                    store.label,
                    audit.reason
                );
            }
        }
        let stored = reg.audits(None, 0, 1000).expect("audits");
        assert!(stored.iter().all(|a| a.plugin.is_none()), "{}", store.label);
    }
}

/// A store whose write commits and then loses the answer, as a PostgreSQL
/// connection dropped during COMMIT does.
struct LostAnswer(
    yoi_registry::SqliteStore,
    std::sync::Arc<std::sync::atomic::AtomicBool>,
);

impl yoi_registry::Store for LostAnswer {
    fn write<R>(
        &self,
        f: impl FnMut(&mut dyn yoi_registry::Tx) -> yoi_registry::StoreResult<R>,
    ) -> yoi_registry::StoreResult<R> {
        let out = self.0.write(f)?;
        if !self.1.load(std::sync::atomic::Ordering::Relaxed) {
            return Ok(out);
        }
        Err(yoi_registry::RegistryError::InDoubt {
            location: "postgres://db/yoi".into(),
            detail: "connection closed".into(),
        })
    }

    fn read<R>(
        &self,
        f: impl FnOnce(&mut dyn yoi_registry::Tx) -> yoi_registry::StoreResult<R>,
    ) -> yoi_registry::StoreResult<R> {
        self.0.read(f)
    }
}

/// A write whose outcome is unknown says so (R0314) and records no refusal:
/// it may have been applied, its audit record with it.
#[test]
fn a_write_in_doubt_says_so_and_records_no_refusal() {
    let dir = tempfile::tempdir().expect("dir");
    let store = yoi_registry::SqliteStore::open(&dir.path().join("registry.db")).expect("store");
    let lose = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let reg = Registry::with_store(dir.path(), LostAnswer(store, std::sync::Arc::clone(&lose)))
        .expect("registry");
    let p = common::package_with("c.plugin", "1.0.0", vec![1; 64], "");
    reg.publish(&p, &common::compat(), "ops").expect("publish");
    lose.store(true, std::sync::atomic::Ordering::Relaxed);
    let err = reg
        .disable("c.plugin", "maintenance", "ops")
        .expect_err("in doubt");
    assert!(err.to_string().starts_with("R0314"), "{err}");
    assert!(err.to_string().contains("yoi audit"), "{err}");
    let audits = reg.snapshot().expect("snapshot").audits;
    let disables: Vec<_> = audits.iter().filter(|a| a.action == "disable").collect();
    assert_eq!(disables.len(), 1, "{audits:?}");
    assert_eq!(disables[0].outcome, yoi_registry::Outcome::Ok);
}
