//! Snapshots page through the audit log with a cursor, and keep the shape
//! operators and the control plane read.

mod common;

use yoi_registry::{EventRecord, Registry, Window};

#[test]
fn the_logs_page_with_a_cursor_or_show_the_newest_and_the_rest_is_whole() {
    let dir = tempfile::tempdir().expect("temp dir");
    let reg = Registry::open(dir.path()).expect("registry");
    for (i, plugin) in ["s.a", "s.b", "s.c"].into_iter().enumerate() {
        let p = common::package_with(plugin, "1.0.0", vec![i as u8], "");
        reg.publish(&p, &common::compat(), "t").expect("publish");
    }
    assert!(reg.enable("s.a", "t").is_err(), "refused, and audited");

    let events: Vec<EventRecord> = (0..5)
        .map(|i| EventRecord {
            host: None,
            id: 0,
            at: i,
            kind: "receipt".into(),
            plugin: "s.a".into(),
            version: None,
            detail: serde_json::json!({ "n": i }),
        })
        .collect();
    reg.record_events(&events).expect("events");
    let page = |after, limit| Window::After { after, limit };

    let first = reg.snapshot_page(page(0, 3), page(0, 2)).expect("page");
    assert_eq!(first.events.len(), 2);
    assert_eq!(first.events_next, Some(first.events[1].id));
    assert_eq!(first.versions.len(), 3, "versions are never paged");
    assert_eq!(first.audits.len(), 3);
    let next = first.audits_next.expect("more to come");
    assert_eq!(next, first.audits[2].id);
    let second = reg.snapshot_page(page(next, 3), page(0, 0)).expect("page");
    assert!(second.events.is_empty() && second.events_next.is_none());
    assert_eq!(second.audits.len(), 1);
    assert_eq!(second.audits[0].action, "enable");
    assert_eq!(second.audits_next, None, "the end");
    let whole = reg.snapshot().expect("snapshot");
    assert_eq!(whole.audits.len(), 4);
    assert_eq!(whole.audits_next, None);
    assert_eq!(whole.events.len(), 5);

    // Without a cursor: the newest records, still oldest first, and no
    // next page (nothing is newer).
    let newest = reg
        .snapshot_page(Window::Latest { limit: 2 }, Window::Latest { limit: 3 })
        .expect("newest");
    let ids = |s: &yoi_registry::Snapshot| -> Vec<i64> { s.audits.iter().map(|a| a.id).collect() };
    assert_eq!(ids(&newest), ids(&whole)[2..]);
    let details: Vec<i64> = newest
        .events
        .iter()
        .map(|e| e.detail["n"].as_i64().unwrap())
        .collect();
    assert_eq!(details, [2, 3, 4]);
    assert_eq!((newest.audits_next, newest.events_next), (None, None));

    let marks = reg.marks().expect("marks");
    assert_eq!(marks.seq, whole.change_seq);
    assert_eq!(marks.audit, whole.audits[3].id);
    assert_eq!(marks.event, whole.events[4].id);
    assert!(
        reg.enable("s.b", "t").is_err(),
        "a refusal changes no state..."
    );
    let after = reg.marks().expect("marks");
    assert_eq!(after.seq, marks.seq);
    assert!(after.audit > marks.audit, "...but moves the audit mark");

    let json = serde_json::to_value(&whole).expect("JSON");
    for field in [
        "versions",
        "active_versions",
        "grants",
        "disabled",
        "audits",
        "audits_next",
        "events",
        "events_next",
        "services",
        "seq",
    ] {
        assert!(json.get(field).is_some(), "{field} in {json:#}");
    }
    assert_eq!(json["seq"], whole.change_seq);
    assert!(
        json["versions"][0]["digest"]
            .as_str()
            .is_some_and(|d| d.starts_with("sha256:"))
    );
}
