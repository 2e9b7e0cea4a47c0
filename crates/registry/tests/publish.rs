//! Publish refusals that depend on what a package holds.

mod common;

use yoi_registry::Registry;

#[test]
fn a_tool_schema_kept_in_a_file_is_refused_at_publish() {
    let dir = tempfile::tempdir().expect("temp dir");
    let reg = Registry::open(dir.path()).expect("registry");
    let mut package = common::package_with("acme.files", "1.0.0", b"\0asm".to_vec(), "");
    let text = package.manifest_text.replace(
        "[capabilities]",
        "[[tools]]\nname = \"lookup\"\ndescription = \"Looks up.\"\ninput_schema = \"schema.json\"\n\n[capabilities]",
    );
    package.manifest = yoi_manifest::Manifest::parse(&text).expect("manifest");
    package.manifest_text = text;
    let err = reg.publish(&package, "tester").unwrap_err().to_string();
    assert!(err.starts_with("R0109"), "{err}");
    assert!(
        err.contains("`schema.json`") && err.contains("inline"),
        "{err}"
    );
    assert!(
        reg.snapshot().expect("snapshot").versions.is_empty(),
        "nothing was stored"
    );
    let audits = reg.audits(None, 0, 10).expect("audits");
    assert!(
        audits.iter().any(|a| a.action == "publish"),
        "the refusal is audited"
    );
}
