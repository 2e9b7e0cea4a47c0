//! Test packages: a manifest and artifact bytes built in memory, so registry
//! tests need no real component.

use std::path::PathBuf;

use yoi_manifest::{Digest, Manifest, Package};

/// A package of `plugin@version` whose artifact is `artifact`, requesting
/// `log` plus the given extra capability lines.
pub fn package_with(plugin: &str, version: &str, artifact: Vec<u8>, capabilities: &str) -> Package {
    let text = format!(
        "[plugin]\nid = \"{plugin}\"\nversion = \"{version}\"\ncontract = \"yoi:plugin@0.1.0\"\n\n\
         [runtime]\nkind = \"wasm-component\"\nartifact = \"p.wasm\"\ndigest = \"{}\"\n\n\
         [[hooks]]\npoint = \"tool.pre_exec\"\n\n[capabilities]\n{capabilities}log = true\n",
        Digest::of(&artifact)
    );
    Package {
        dir: PathBuf::from("."),
        manifest: Manifest::parse(&text).expect("test manifest"),
        manifest_text: text,
        artifact,
        tool_schemas: Vec::new(),
    }
}
