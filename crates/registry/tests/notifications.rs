//! Change notifications, the change counter, runtime events with cursors,
//! and per-subject rollout decisions through the registry.

mod common;

use std::time::Duration;

use serde_json::json;
use yoi_registry::{Activation, EventRecord, Registry, Rollout, Scope};

fn event(i: i64, plugin: &str) -> EventRecord {
    EventRecord {
        host: None,
        id: 0,
        at: i,
        kind: "receipt".into(),
        plugin: plugin.into(),
        version: Some("1.0.0".into()),
        detail: json!({"status": "ok", "n": i}),
    }
}

#[test]
fn subscribers_and_the_counter_see_every_committed_change_only() {
    let dir = tempfile::tempdir().expect("temp dir");
    let reg = Registry::open(dir.path()).expect("registry");
    let changes = reg.subscribe();
    let seq0 = reg.change_seq().expect("seq");

    let p = common::package_with(
        "n.plugin",
        "1.0.0",
        b"bytes".to_vec(),
        "secrets = [\"N_KEY\"]\n",
    );
    let record = reg
        .publish(&p, &common::compat(), "t")
        .expect("publish")
        .record;
    let refused = reg.activate("n.plugin", &record.version, &Activation::by("t"));
    assert!(refused.is_err(), "no grant yet");
    reg.grant("n.plugin", &["secret:N_KEY".to_owned()], true, "t")
        .expect("grant");

    let got: Vec<_> = changes.try_iter().map(|c| (c.seq, c.action)).collect();
    assert_eq!(
        got,
        vec![
            (seq0 + 1, "publish".to_owned()),
            (seq0 + 2, "grant".to_owned())
        ]
    );
    assert_eq!(
        reg.change_seq().expect("seq"),
        seq0 + 2,
        "a refusal is not a change"
    );

    // Another handle (as another process would) sees the counter move.
    let other = Registry::open(dir.path()).expect("second handle");
    reg.activate("n.plugin", &record.version, &Activation::by("t"))
        .expect("activate");
    assert_eq!(other.change_seq().expect("seq"), seq0 + 3);
    let change = changes
        .recv_timeout(Duration::from_secs(1))
        .expect("notified");
    assert_eq!(change.plugin.as_deref(), Some("n.plugin"));
}

#[test]
fn events_page_by_cursor_and_filter_by_plugin() {
    let dir = tempfile::tempdir().expect("temp dir");
    let reg = Registry::open(dir.path()).expect("registry");
    let batch: Vec<_> = (0..25)
        .map(|i| event(i, if i % 5 == 0 { "b" } else { "a" }))
        .collect();
    let last = reg.record_events(&batch).expect("record");

    let mut cursor = 0;
    let mut seen = Vec::new();
    loop {
        let page = reg.events(None, cursor, 10).expect("page");
        if page.is_empty() {
            break;
        }
        assert!(page.len() <= 10);
        cursor = page.last().expect("non-empty").id;
        seen.extend(
            page.into_iter()
                .map(|e| e.detail["n"].as_i64().unwrap_or(-1)),
        );
    }
    assert_eq!(
        seen,
        (0..25).collect::<Vec<_>>(),
        "every event once, in order"
    );
    assert_eq!(cursor, last);
    let only_b = reg.events(Some("b"), 0, 100).expect("filtered");
    assert_eq!(only_b.len(), 5);
    assert!(only_b.iter().all(|e| e.plugin == "b"));
}

#[test]
fn applies_follows_the_active_rollout() {
    let dir = tempfile::tempdir().expect("temp dir");
    let reg = Registry::open(dir.path()).expect("registry");
    let p = common::package_with("r.plugin", "1.0.0", b"r".to_vec(), "");
    let v = reg
        .publish(&p, &common::compat(), "t")
        .expect("publish")
        .record
        .version;
    assert!(
        !reg.applies("r.plugin", "user-1", Scope::All)
            .expect("applies"),
        "not active"
    );
    let how = |scope, percent| Activation {
        actor: "t".into(),
        rollout: Rollout { scope, percent },
    };

    reg.activate("r.plugin", &v, &how(Scope::Canary, 50))
        .expect("activate");
    let users: Vec<String> = (0..400).map(|i| format!("user-{i}")).collect();
    let on_canary: Vec<bool> = users
        .iter()
        .map(|u| reg.applies("r.plugin", u, Scope::Canary).expect("applies"))
        .collect();
    let share = on_canary.iter().filter(|b| **b).count();
    assert!((150..250).contains(&share), "about half: {share}");
    assert!(
        users
            .iter()
            .all(|u| !reg.applies("r.plugin", u, Scope::Beta).expect("applies"))
    );
    let again: Vec<bool> = users
        .iter()
        .map(|u| reg.applies("r.plugin", u, Scope::Canary).expect("applies"))
        .collect();
    assert_eq!(on_canary, again, "deterministic per subject");

    reg.activate("r.plugin", &v, &how(Scope::All, 100))
        .expect("widen");
    assert!(
        users
            .iter()
            .all(|u| reg.applies("r.plugin", u, Scope::Beta).expect("applies"))
    );
}

#[test]
fn the_latest_event_of_a_kind_per_plugin_and_field() {
    let dir = tempfile::tempdir().expect("temp dir");
    let reg = Registry::open(dir.path()).expect("registry");
    let status = |i: i64, plugin: &str, service: &str| EventRecord {
        host: None,
        id: 0,
        at: i,
        kind: "service_status".into(),
        plugin: plugin.into(),
        version: Some("1.0.0".into()),
        detail: json!({"service": service, "n": i}),
    };
    let batch = vec![
        status(1, "a", "x"),
        status(2, "a", "y"),
        event(3, "a"),
        status(4, "a", "x"),
        status(5, "b", "x"),
        status(6, "a", "y"),
    ];
    reg.record_events(&batch).expect("record");
    let latest = reg
        .latest_events("service_status", None, "service")
        .expect("latest");
    let seen: Vec<(String, String, i64)> = latest
        .iter()
        .map(|e| {
            (
                e.plugin.clone(),
                e.detail["service"].as_str().unwrap_or_default().to_owned(),
                e.detail["n"].as_i64().unwrap_or(-1),
            )
        })
        .collect();
    assert_eq!(
        seen,
        [
            ("a".into(), "x".into(), 4),
            ("a".into(), "y".into(), 6),
            ("b".into(), "x".into(), 5)
        ]
    );
    let only_b = reg
        .latest_events("service_status", Some("b"), "service")
        .expect("latest of b");
    assert_eq!(only_b.len(), 1);
    assert!(
        reg.latest_events("nothing", None, "service")
            .expect("none")
            .is_empty()
    );
}
