//! Both packages' builders write `yoi.toml` fields by name
//! (`#set('limits', 'memory_mb', …)` in Node, `_set("limits", "memory_mb",
//! …)` in Python): each must be a field the host's configuration schema
//! has, so a renamed field cannot leave a builder method writing nothing
//! the host reads. (Building this test also builds the addon with the
//! workspace's features, which `cargo xtask ci` packs.)

use serde_json::Value;

/// Every `(section, key)` a builder sets, from its source.
fn settings(source: &str, call: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for part in source.split(call).skip(1) {
        let args: Vec<&str> = part
            .splitn(3, ',')
            .take(2)
            .map(|a| a.trim().trim_matches(|c| c == '\'' || c == '"'))
            .collect();
        if let [section, key] = args[..] {
            out.push((section.to_owned(), key.to_owned()));
        }
    }
    out
}

fn check(file: &str, call: &str) {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(file);
    let source = std::fs::read_to_string(&path).expect("builder source");
    let schema: Value = serde_json::from_str(yoi_host::CONFIG_SCHEMA).expect("schema");
    let found = settings(&source, call);
    assert!(found.len() >= 15, "{file}: only {found:?}");
    for (section, key) in found {
        if section == "section" {
            continue; // the helper's own definition
        }
        let props = &schema["properties"][&section];
        assert!(
            props.is_object(),
            "{file}: no section `{section}` in yoi.toml"
        );
        // grants and settings are maps by plugin id: any key.
        if props["additionalProperties"].is_object() {
            continue;
        }
        assert!(
            props["properties"][&key].is_object(),
            "{file}: `{section}.{key}` is not a yoi.toml field"
        );
    }
}

#[test]
fn every_builder_option_is_a_yoi_toml_field() {
    check("index.js", "this.#set(");
    check("../python/python/yoi_host/__init__.py", "self._set(");
}

#[test]
fn the_addon_serves_the_declarations_of_this_build() {
    assert_eq!(
        yoi_node::hook_declarations(),
        yoi_host::embedding::typescript_declarations()
    );
}
