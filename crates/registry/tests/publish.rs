//! Publish refusals that depend on what a package holds.

mod common;

use yoi_registry::Registry;

#[test]
fn a_tool_schema_kept_in_a_file_is_refused_at_publish() {
    let dir = tempfile::tempdir().expect("temp dir");
    let reg = Registry::open(dir.path()).expect("registry");
    let pkg = tempfile::tempdir().expect("package dir");
    let artifact = common::component_exporting(b"\0asm", &["tool-pre-exec", "tools"]);
    let text = common::manifest_text("acme.files", "1.0.0", &artifact, "").replace(
        "[capabilities]",
        "[[tools]]\nname = \"lookup\"\ndescription = \"Looks up.\"\ninput_schema = \"schema.json\"\n\n[capabilities]",
    );
    std::fs::write(pkg.path().join("plugin.toml"), text).expect("manifest");
    std::fs::write(pkg.path().join("p.wasm"), &artifact).expect("artifact");
    std::fs::write(
        pkg.path().join("schema.json"),
        r#"{"type": "object", "properties": {}}"#,
    )
    .expect("schema");
    let package = yoi_manifest::Package::open(pkg.path(), &common::compat()).expect("opens");
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

/// The registry checks what it stores against its own contract, whatever
/// host the `Package` was opened for: a package opened by a host that
/// allows more imports, or runs other hook points, is refused, and every
/// refusal is audited.
#[test]
fn a_package_opened_for_another_host_is_checked_at_publish() {
    let dir = tempfile::tempdir().expect("temp dir");
    let reg = Registry::open(dir.path()).expect("registry");
    let compat = common::compat();
    let lenient = yoi_manifest::Compat {
        imports: vec!["yoi:plugin/log".into(), "wasi:sockets/tcp".into()],
        ..common::compat()
    };

    let sockets = wat::parse_str(
        "(component (import \"wasi:sockets/tcp@0.2.0\" (instance)) \
         (core module) (instance $i) (export \"yoi:plugin/tool-pre-exec@0.1.0\" (instance $i)))",
    )
    .expect("component");
    let text = common::manifest_text("acme.net", "1.0.0", &sockets, "");
    let opened = yoi_manifest::Package::from_bytes("test", &text, sockets, &lenient)
        .expect("the lenient host accepts it");
    let err = reg
        .publish(&opened, &compat, "tester")
        .unwrap_err()
        .to_string();
    assert!(err.starts_with("R0110 acme.net@1.0.0"), "{err}");
    assert!(err.contains("wasi:sockets/tcp"), "{err}");

    let other_points = yoi_manifest::Compat {
        contracts: vec!["yoi:plugin@0.2.0".parse().expect("contract")],
        ..common::compat()
    };
    let newer = common::component(b"n");
    let text = common::manifest_text("acme.newer", "1.0.0", &newer, "")
        .replace("yoi:plugin@0.1.0", "yoi:plugin@0.2.0");
    // Opened without inspection (as a registry reopens what it stored), so
    // only the contract differs.
    let opened = yoi_manifest::Package::from_published("test", &text, newer, &other_points)
        .expect("the other host accepts it");
    let err = reg
        .publish(&opened, &compat, "tester")
        .unwrap_err()
        .to_string();
    assert!(err.contains("E0107 contract-incompatible"), "{err}");

    assert!(reg.snapshot().expect("snapshot").versions.is_empty());
    let audits = reg.audits(None, 0, 10).expect("audits");
    let refused: Vec<_> = audits
        .iter()
        .filter(|a| a.action == "publish" && a.reason.starts_with("R0110"))
        .collect();
    assert_eq!(refused.len(), 2, "{audits:#?}");

    let answer = reg.refused(
        "tester",
        "publish",
        "./broken was refused: E0304 manifest-unreadable",
    );
    assert!(!answer.ok && answer.audit.is_some(), "{answer:?}");
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
