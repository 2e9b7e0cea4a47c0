//! `plugin.schema.json` must agree with the parser: the same fields in every
//! table, the same hook points, and it must accept every valid manifest.

use std::path::Path;

use serde_json::Value;
use yoi_manifest::{HookPoint, MANIFEST_SCHEMA, ObservationKind, fields};

fn schema() -> Value {
    serde_json::from_str(MANIFEST_SCHEMA).expect("plugin.schema.json is JSON")
}

fn keys(v: &Value) -> Vec<String> {
    let mut k: Vec<String> = v["properties"]
        .as_object()
        .expect("properties")
        .keys()
        .cloned()
        .collect();
    k.sort();
    k
}

fn sorted(list: &[&str]) -> Vec<String> {
    let mut v: Vec<String> = list.iter().map(|s| (*s).to_owned()).collect();
    v.sort();
    v
}

#[test]
fn the_schema_is_a_valid_json_schema() {
    jsonschema::meta::validate(&schema()).expect("valid draft-07 schema");
}

#[test]
fn every_table_lists_exactly_the_parsers_fields() {
    let s = schema();
    let p = &s["properties"];
    let tables = [
        ("top level", &s, fields::TOP),
        ("plugin", &p["plugin"], fields::PLUGIN),
        ("runtime", &p["runtime"], fields::RUNTIME),
        ("hooks", &p["hooks"]["items"], fields::HOOK),
        ("tools", &p["tools"]["items"], fields::TOOL),
        ("capabilities", &p["capabilities"], fields::CAPABILITIES),
        (
            "capabilities.fs",
            &p["capabilities"]["properties"]["fs"]["items"],
            fields::FS,
        ),
        ("limits", &p["limits"], fields::LIMITS),
        ("providers", &p["providers"]["items"], fields::PROVIDER),
        ("observer", &p["observer"], fields::OBSERVER),
        ("services", &p["services"]["items"], fields::SERVICE),
        (
            "services.signature",
            &p["services"]["items"]["properties"]["signature"],
            fields::SIGNATURE,
        ),
        ("build", &p["build"], fields::BUILD),
        (
            "config.NAME",
            &p["config"]["additionalProperties"],
            fields::SETTING,
        ),
    ];
    for (name, table, expected) in tables {
        assert_eq!(keys(table), sorted(expected), "fields of {name}");
        assert_eq!(
            table["additionalProperties"], false,
            "{name} must refuse unknown fields"
        );
    }
}

#[test]
fn observation_kinds_match() {
    let s = schema();
    let listed: Vec<&str> = s["properties"]["observer"]["properties"]["kinds"]["items"]["enum"]
        .as_array()
        .expect("enum")
        .iter()
        .filter_map(Value::as_str)
        .collect();
    let known: Vec<&str> = ObservationKind::ALL.iter().map(|k| k.as_str()).collect();
    assert_eq!(listed, known);
}

#[test]
fn hook_points_match() {
    let s = schema();
    let point = &s["properties"]["hooks"]["items"]["properties"]["point"]["anyOf"];
    let listed: Vec<&str> = point[0]["enum"]
        .as_array()
        .expect("enum")
        .iter()
        .filter_map(Value::as_str)
        .collect();
    let known: Vec<&str> = HookPoint::ALL.iter().map(|p| p.as_str()).collect();
    assert_eq!(listed, known);
    // Host-defined points: the pattern excludes exactly Yoi's namespaces.
    let pattern = point[1]["pattern"].as_str().expect("pattern");
    let excluded = pattern
        .strip_prefix("^(?!(")
        .and_then(|p| p.split_once(")\\."))
        .map(|(names, _)| names.split('|').collect::<Vec<_>>())
        .expect("a lookahead of namespaces");
    assert_eq!(excluded, yoi_manifest::RESERVED_NAMESPACES);
    assert_eq!(
        point[1]["maxLength"].as_u64(),
        Some(yoi_manifest::HostPoint::MAX_LEN as u64)
    );
    let validator = jsonschema::validator_for(&point[1]).expect("compiles");
    assert!(validator.is_valid(&Value::from("build.pre_compile")));
    assert!(!validator.is_valid(&Value::from("tool.pre_exek")));
    assert!(!validator.is_valid(&Value::from("build")));
}

#[test]
fn valid_manifests_and_the_examples_satisfy_the_schema() {
    let validator = jsonschema::validator_for(&schema()).expect("schema compiles");
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut files: Vec<_> = std::fs::read_dir(root.join("tests/ui/valid"))
        .expect("valid cases")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "toml"))
        .collect();
    for example in ["guard", "redact", "policy", "hostile/probe"] {
        files.push(
            root.join("../../examples")
                .join(example)
                .join("plugin.toml"),
        );
    }
    for file in files {
        let text = std::fs::read_to_string(&file).expect("read");
        let doc: toml::Value = toml::from_str(&text).expect("toml");
        let json = serde_json::to_value(doc).expect("json");
        let errors: Vec<String> = validator
            .iter_errors(&json)
            .map(|e| e.to_string())
            .collect();
        assert!(errors.is_empty(), "{}: {errors:?}", file.display());
    }
}

#[test]
fn the_schema_refuses_what_the_parser_refuses() {
    let validator = jsonschema::validator_for(&schema()).expect("schema compiles");
    for (name, bad) in [
        (
            "unknown field",
            r#"{"plugin": {"id": "a", "version": "1.0.0", "contract": "yoi:plugin@0.1.0", "licence": "MIT"}, "runtime": {}, "hooks": []}"#,
        ),
        (
            "core module kind",
            r#"{"plugin": {"id": "a", "version": "1.0.0", "contract": "yoi:plugin@0.1.0"}, "runtime": {"kind": "wasm", "artifact": "a.wasm", "digest": "sha256:0000000000000000000000000000000000000000000000000000000000000000"}, "hooks": [{"point": "tool.pre_exec"}]}"#,
        ),
        (
            "parent dir artifact",
            r#"{"plugin": {"id": "a", "version": "1.0.0", "contract": "yoi:plugin@0.1.0"}, "runtime": {"kind": "wasm-component", "artifact": "../a.wasm", "digest": "sha256:0000000000000000000000000000000000000000000000000000000000000000"}, "hooks": [{"point": "tool.pre_exec"}]}"#,
        ),
        (
            "no hooks or tools",
            r#"{"plugin": {"id": "a", "version": "1.0.0", "contract": "yoi:plugin@0.1.0"}, "runtime": {"kind": "wasm-component", "artifact": "a.wasm", "digest": "sha256:0000000000000000000000000000000000000000000000000000000000000000"}}"#,
        ),
    ] {
        let json: Value = serde_json::from_str(bad).expect("case is JSON");
        assert!(!validator.is_valid(&json), "schema accepted: {name}");
    }
}

fn doc(name: &str) -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../docs")
        .join(name);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

#[test]
fn every_code_is_documented() {
    let text = doc("diagnostics.md");
    for code in yoi_manifest::Code::ALL {
        let row = format!("| {} | {} |", code.as_str(), code.name());
        assert!(
            text.contains(&row),
            "docs/diagnostics.md lacks the row `{row}`"
        );
    }
}

#[test]
fn the_manifest_docs_example_parses() {
    let manifest = first_toml_example("manifest.md");
    assert_eq!(manifest.plugin.id.as_str(), "acme.weather");
    assert_eq!(manifest.tools.len(), 1);
}

#[test]
fn the_configuration_docs_example_parses() {
    let manifest = first_toml_example("configuration.md");
    let names: Vec<&str> = manifest.config.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(names, ["deny", "mode", "max_calls", "api_key"]);
    let api_key = manifest.setting("api_key").expect("api_key");
    assert!(api_key.secret && api_key.required);
    // The values the docs set are accepted, and the refusal they show is real.
    let deny = manifest.setting("deny").expect("deny");
    assert!(deny.parse_value(r#"["shell","rm"]"#).is_ok());
    assert!(
        manifest
            .setting("mode")
            .expect("mode")
            .parse_value("lenient")
            .is_ok()
    );
    let why = deny
        .parse_value("[1]")
        .expect_err("a number in a list of strings");
    assert!(why.contains("at /0: 1 is not of type \"string\""), "{why}");
}

/// The first ```toml block of a document in docs/, parsed as a manifest.
fn first_toml_example(name: &str) -> yoi_manifest::Manifest {
    parse_example(name, &first_toml_block(name))
}

fn first_toml_block(name: &str) -> String {
    let text = doc(name);
    let start = text.find("```toml\n").expect("a toml block") + "```toml\n".len();
    let end = start + text[start..].find("```").expect("block end");
    text[start..end].to_owned()
}

fn parse_example(name: &str, text: &str) -> yoi_manifest::Manifest {
    yoi_manifest::Manifest::parse(text)
        .map_err(|d| d.render(false))
        .unwrap_or_else(|e| panic!("the example in docs/{name} is not valid:\n{e}"))
}

/// docs/services.md's `[[services]]` example, under a plugin's head, is a
/// valid manifest that says what the page says.
#[test]
fn the_services_docs_example_parses() {
    let head = "[plugin]\nid = \"acme.bridge\"\nversion = \"1.0.0\"\ncontract = \"yoi:plugin@0.5.0\"\n\n\
                [runtime]\nkind = \"wasm-component\"\nartifact = \"bridge.wasm\"\n\
                digest = \"sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad\"\n\n";
    let m = parse_example(
        "services.md",
        &(head.to_owned() + &first_toml_block("services.md")),
    );
    let names: Vec<&str> = m.services.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(names, ["gateway", "webhook"]);
    let gateway = &m.services[0];
    assert_eq!(
        gateway
            .websocket
            .as_ref()
            .map(ToString::to_string)
            .as_deref(),
        Some("wss://gateway.example.com/socket")
    );
    assert_eq!(
        (
            gateway.queue,
            gateway.timeout_ms,
            gateway.backoff_ms,
            gateway.max_backoff_ms,
            gateway.max_restarts
        ),
        (
            yoi_manifest::Service::QUEUE.0,
            yoi_manifest::Service::TIMEOUT_MS.0,
            yoi_manifest::Service::BACKOFF_MS.0,
            yoi_manifest::Service::MAX_BACKOFF_MS.0,
            yoi_manifest::Service::MAX_RESTARTS.0
        ),
        "the example shows the defaults"
    );
    let signature = m.services[1].signature.as_ref().expect("signed");
    assert_eq!(
        (signature.header.as_str(), signature.prefix.as_str()),
        (
            yoi_manifest::Signature::DEFAULT_HEADER,
            yoi_manifest::Signature::DEFAULT_PREFIX
        )
    );
}

/// docs/observers.md lists every kind, in order, with the words the code
/// uses.
#[test]
fn observation_kinds_are_documented() {
    let doc = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/observers.md"),
    )
    .expect("docs/observers.md");
    let rows: Vec<(String, String)> = doc
        .lines()
        .skip_while(|l| !l.starts_with("| kind | what it reports |"))
        .skip(2)
        .take_while(|l| l.starts_with('|'))
        .map(|l| {
            let cells: Vec<&str> = l.trim_matches('|').split(" | ").map(str::trim).collect();
            (cells[0].trim_matches('`').to_owned(), cells[1].to_owned())
        })
        .collect();
    let expected: Vec<(String, String)> = ObservationKind::ALL
        .iter()
        .map(|k| (k.as_str().to_owned(), k.describe().to_owned()))
        .collect();
    assert_eq!(rows, expected);
}
