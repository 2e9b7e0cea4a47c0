//! Test packages: a manifest and a small real component built in memory,
//! so registry tests need no build step.

use yoi_manifest::{Compat, Digest, HookPoint, Package};

/// What the registry's tests publish against: the 0.1.0 contract with every
/// hook point and tools.
pub fn compat() -> Compat {
    Compat {
        contracts: vec!["yoi:plugin@0.1.0".parse().expect("contract")],
        engine: semver::Version::new(0, 1, 0),
        hook_points: HookPoint::ALL.to_vec(),
        imports: vec!["yoi:plugin/log".into()],
        tools_interface: Some("yoi:plugin/tools".into()),
    }
}

/// A component exporting the `tool.pre_exec` hook, whose bytes carry `tag`
/// (in a data segment), so different tags give different digests.
pub fn component(tag: &[u8]) -> Vec<u8> {
    component_exporting(tag, &["tool-pre-exec"])
}

/// A component exporting the given `yoi:plugin` interfaces, carrying `tag`.
#[allow(dead_code)]
pub fn component_exporting(tag: &[u8], interfaces: &[&str]) -> Vec<u8> {
    let data: String = tag.iter().map(|b| format!("\\{b:02x}")).collect();
    let exports: String = interfaces
        .iter()
        .map(|i| format!("(export \"yoi:plugin/{i}@0.1.0\" (instance $i))"))
        .collect();
    wat::parse_str(format!(
        "(component (core module (memory 1) (data (i32.const 0) \"{data}\")) \
         (instance $i) {exports})"
    ))
    .expect("test component")
}

/// A package of `plugin@version` whose component carries `tag`, requesting
/// the given capability lines.
pub fn package_with(plugin: &str, version: &str, tag: Vec<u8>, capabilities: &str) -> Package {
    let artifact = component(&tag);
    let text = manifest_text(plugin, version, &artifact, capabilities);
    Package::from_bytes("test", &text, artifact, &compat()).expect("test package")
}

/// The `plugin.toml` text of [`package_with`].
pub fn manifest_text(plugin: &str, version: &str, artifact: &[u8], capabilities: &str) -> String {
    format!(
        "[plugin]\nid = \"{plugin}\"\nversion = \"{version}\"\ncontract = \"yoi:plugin@0.1.0\"\n\n\
         [runtime]\nkind = \"wasm-component\"\nartifact = \"p.wasm\"\ndigest = \"{}\"\n\n\
         [[hooks]]\npoint = \"tool.pre_exec\"\n\n[capabilities]\n{capabilities}",
        Digest::of(artifact)
    )
}
