//! Snapshots page through the audit log with a cursor, and keep the shape
//! operators and the control plane read.

mod common;

use yoi_registry::Registry;

#[test]
fn the_audit_log_pages_with_a_cursor_and_the_rest_is_whole() {
    let dir = tempfile::tempdir().expect("temp dir");
    let reg = Registry::open(dir.path()).expect("registry");
    for (i, plugin) in ["s.a", "s.b", "s.c"].into_iter().enumerate() {
        let p = common::package_with(plugin, "1.0.0", vec![i as u8], "");
        reg.publish(&p, &common::compat(), "t").expect("publish");
    }
    assert!(reg.enable("s.a", "t").is_err(), "refused, and audited");

    let first = reg.snapshot_page(0, 3).expect("page");
    assert_eq!(first.versions.len(), 3, "versions are never paged");
    assert_eq!(first.audits.len(), 3);
    let next = first.audits_next.expect("more to come");
    assert_eq!(next, first.audits[2].id);
    let second = reg.snapshot_page(next, 3).expect("page");
    assert_eq!(second.audits.len(), 1);
    assert_eq!(second.audits[0].action, "enable");
    assert_eq!(second.audits_next, None, "the end");
    let whole = reg.snapshot().expect("snapshot");
    assert_eq!(whole.audits.len(), 4);
    assert_eq!(whole.audits_next, None);

    let json = serde_json::to_value(&whole).expect("JSON");
    for field in [
        "versions",
        "active_versions",
        "grants",
        "disabled",
        "audits",
        "audits_next",
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
