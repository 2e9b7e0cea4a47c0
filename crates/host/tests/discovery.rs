//! Discovery is read-only: listing plugin folders parses manifests and
//! inspects components but never instantiates them.

use std::path::Path;

use yoi_host::{Host, HostConfig, discover};
use yoi_manifest::Digest;

/// A component whose instantiation traps: its core module's start function
/// is `unreachable`.
const TRAPS_ON_START: &str = r#"(component
  (core module $m (func $boom unreachable) (start $boom))
  (core instance (instantiate $m))
  (instance $hook)
  (export "yoi:plugin/tool-pre-exec@0.4.0" (instance $hook))
)"#;

fn package(dir: &Path, wasm: &[u8]) {
    std::fs::create_dir_all(dir).expect("dir");
    std::fs::write(dir.join("trap.wasm"), wasm).expect("artifact");
    std::fs::write(
        dir.join("plugin.toml"),
        format!(
            "[plugin]\nid = \"acme.trap\"\nversion = \"0.1.0\"\ncontract = \"yoi:plugin@0.4.0\"\n\n\
             [runtime]\nkind = \"wasm-component\"\nartifact = \"trap.wasm\"\ndigest = \"{}\"\n\n\
             [[hooks]]\npoint = \"tool.pre_exec\"\n\n\
             [capabilities]\nhttps = [\"api.example.com\"]\n",
            Digest::of(wasm)
        ),
    )
    .expect("manifest");
}

#[test]
fn a_component_that_traps_when_instantiated_is_listed_without_running() {
    let wasm = wat::parse_str(TRAPS_ON_START).expect("wat");
    // It really does trap when instantiated.
    let engine = wasmtime::Engine::default();
    let component = wasmtime::component::Component::new(&engine, &wasm).expect("compiles");
    let mut store = wasmtime::Store::new(&engine, ());
    let linker = wasmtime::component::Linker::<()>::new(&engine);
    let err = linker
        .instantiate(&mut store, &component)
        .expect_err("the start function traps");
    assert!(format!("{err:?}").contains("unreachable"), "{err:?}");

    let root = tempfile::tempdir().expect("temp dir");
    package(&root.path().join("trap"), &wasm);
    std::fs::create_dir_all(root.path().join("broken")).expect("dir");
    std::fs::write(root.path().join("broken/plugin.toml"), "[plugin\n").expect("broken");
    let found = discover(&[root.path().to_path_buf()]);
    assert_eq!(found.len(), 2, "{found:?}");
    let broken = found[0].package.as_ref().expect_err("broken is broken");
    assert!(broken.contains("E0001"), "{broken}");
    let listed = found[1].package.as_ref().expect("listed fine");
    assert_eq!(listed.id.as_str(), "acme.trap");
    assert_eq!(listed.hooks.len(), 1);
}

#[test]
fn a_configured_host_lists_its_folders_and_an_empty_file_grants_nothing() {
    let root = tempfile::tempdir().expect("temp dir");
    let wasm = wat::parse_str(TRAPS_ON_START).expect("wat");
    package(&root.path().join("plugins/trap"), &wasm);
    std::fs::write(
        root.path().join("yoi.toml"),
        "[plugins]\nfolders = [\"plugins\"]\n[host]\nhot_reload = false\n",
    )
    .expect("yoi.toml");
    let config = HostConfig::load(root.path().join("yoi.toml")).expect("valid");
    assert!(config.cap().allow_list().is_empty());
    let host = Host::builder()
        .config(root.path().join("yoi.toml"))
        .expect("config")
        .build()
        .expect("host");
    let found = host.discover();
    assert_eq!(found.len(), 1);
    assert!(found[0].package.is_ok());
    // Loading it compiles it and looks up its exports: the empty instance
    // has no handler, so it is refused, and nothing ran.
    let report = host.boot_report().expect("a folder report");
    assert_eq!(report.refused.len(), 1, "{report:?}");
    assert!(host.plugins().is_empty());
    // An empty capability list allows nothing, whoever grants it.
    let err = host
        .load_with_grants(root.path().join("plugins/trap"), &["https:api.example.com"])
        .expect_err("refused");
    assert!(
        err.to_string()
            .contains("the host's capability list does not allow `https:api.example.com`"),
        "{err}"
    );
}

#[test]
fn a_broken_yoi_toml_names_the_file_the_field_and_the_fix() {
    let root = tempfile::tempdir().expect("temp dir");
    let file = root.path().join("yoi.toml");
    std::fs::write(&file, "[limits]\nmemroy_mb = 64\n").expect("write");
    let err = Host::builder().config(&file).err().expect("refused");
    let text = err.to_string();
    assert!(
        text.contains("yoi.toml") && text.contains("memroy_mb") && text.contains("line 2"),
        "{text}"
    );
    let err = Host::builder()
        .config(root.path().join("missing.toml"))
        .err()
        .expect("refused");
    assert!(err.to_string().contains("cannot read it"), "{err}");
}

/// docs/configuration.md's `yoi.toml` parses, and its capability list
/// means what the text says.
#[test]
fn the_docs_yoi_toml_parses_and_caps_as_written() {
    let doc = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/configuration.md"),
    )
    .expect("docs/configuration.md");
    let start = doc
        .find("```toml\n# yoi.toml\n")
        .expect("the yoi.toml example");
    let block = &doc[start + "```toml\n".len()..];
    let block = &block[..block.find("```").expect("end of block")];
    let config = HostConfig::parse(block, "/srv/yoi".into()).expect("the example is valid");
    assert_eq!(config.host.name.as_deref(), Some("dev-host"));
    assert_eq!(config.folders()[0], Path::new("/srv/yoi/plugins"));
    let cap = config.cap();
    let allowed = |g: &str| cap.refuses(&g.parse().expect("grant")).is_none();
    assert!(allowed("https:api.example.com"));
    assert!(!allowed("https:admin.example.com"));
    assert!(!allowed("https:*.example.com"));
    assert!(allowed("fs:notes:rw"));
    assert!(!allowed("secret:OTHER"));
    assert_eq!(
        config.settings["example.guard"]["deny"],
        serde_json::json!(["shell", "rm"])
    );
    assert_eq!(config.mcp.recheck_s, Some(30));
    assert!(config.mcp.stdio_commands.is_empty());
}
