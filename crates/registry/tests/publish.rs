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
    package.artifact = common::component_exporting(b"\0asm", &["tool-pre-exec", "tools"]);
    let text = text.replace(
        &package.manifest.runtime.digest.to_string(),
        &yoi_manifest::Digest::of(&package.artifact).to_string(),
    );
    package.manifest = yoi_manifest::Manifest::parse(&text).expect("manifest");
    package.manifest_text = text;
    let err = reg
        .publish(&package, &common::compat(), "tester")
        .unwrap_err()
        .to_string();
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

/// The registry checks what it stores whoever built the `Package`: a
/// library caller cannot publish bytes that do not match their digest or an
/// uninspected component, and every refusal is audited.
#[test]
fn a_hand_built_package_is_checked_at_publish() {
    let dir = tempfile::tempdir().expect("temp dir");
    let reg = Registry::open(dir.path()).expect("registry");
    let compat = common::compat();

    let mut swapped = common::package_with("acme.swap", "1.0.0", b"a".to_vec(), "");
    swapped.artifact = common::component(b"b");
    let err = reg
        .publish(&swapped, &compat, "tester")
        .unwrap_err()
        .to_string();
    assert!(err.starts_with("R0110 acme.swap@1.0.0"), "{err}");
    assert!(err.contains("E0302 digest-mismatch"), "{err}");

    let mut not_a_component = common::package_with("acme.core", "1.0.0", b"a".to_vec(), "");
    not_a_component.artifact = wat::parse_str("(module)").expect("module");
    not_a_component.manifest.runtime.digest = yoi_manifest::Digest::of(&not_a_component.artifact);
    let err = reg
        .publish(&not_a_component, &compat, "tester")
        .unwrap_err()
        .to_string();
    assert!(err.contains("E0401 not-a-component"), "{err}");

    let mut missing_hook = common::package_with("acme.hooks", "1.0.0", b"a".to_vec(), "");
    missing_hook.manifest = yoi_manifest::Manifest::parse(
        &missing_hook
            .manifest_text
            .replace("tool.pre_exec", "model.pre_call"),
    )
    .expect("manifest");
    let err = reg
        .publish(&missing_hook, &compat, "tester")
        .unwrap_err()
        .to_string();
    assert!(err.contains("E0405 hook-not-exported"), "{err}");

    assert!(reg.snapshot().expect("snapshot").versions.is_empty());
    let audits = reg.audits(None, 0, 10).expect("audits");
    let refused: Vec<_> = audits
        .iter()
        .filter(|a| a.action == "publish" && a.reason.starts_with("R0110"))
        .collect();
    assert_eq!(refused.len(), 3, "{audits:#?}");

    reg.record_refused_publish(
        "tester",
        "./broken",
        None,
        None,
        "E0304 manifest-unreadable",
    )
    .expect("recorded");
    let audits = reg.audits(None, 0, 10).expect("audits");
    assert!(
        audits
            .iter()
            .any(|a| a.reason == "./broken was refused: E0304 manifest-unreadable")
    );

    let good = common::package_with("acme.good", "1.0.0", b"a".to_vec(), "");
    reg.publish(&good, &compat, "tester")
        .expect("a checked package publishes");
}
