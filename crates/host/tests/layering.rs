//! The layering holds: crates depend one way (manifest ← registry ← host ←
//! cli). That no two modules of a crate reach each other in a circle is
//! checked for every crate by `cargo xtask layering` (in `cargo xtask ci`).

use std::path::Path;

#[test]
fn crates_depend_one_way() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let deps = |krate: &str| -> String {
        let toml = std::fs::read_to_string(root.join(krate).join("Cargo.toml")).expect("toml");
        // Only what the library itself depends on.
        toml.split("[dev-dependencies]")
            .next()
            .unwrap_or_default()
            .to_owned()
    };
    let manifest = deps("manifest");
    for upper in ["yoi-registry", "yoi-host", "yoi-cli"] {
        assert!(!manifest.contains(upper), "yoi-manifest depends on {upper}");
    }
    let registry = deps("registry");
    assert!(!registry.contains("yoi-host") && !registry.contains("yoi-cli"));
    let host = deps("host");
    assert!(!host.contains("yoi-cli"));
    assert!(
        host.contains("yoi-registry = { workspace = true, optional = true }"),
        "the registry is an optional layer of the host"
    );
    let pdk = deps("pdk");
    for host_side in ["yoi-manifest", "yoi-registry", "yoi-host", "wasmtime"] {
        assert!(!pdk.contains(host_side), "yoi-pdk depends on {host_side}");
    }
}
