//! Snapshot tests of what authors see.
//!
//! - `ui/valid/NAME.toml`: must parse; its JSON form must equal `NAME.json`.
//! - `ui/invalid/NAME.toml`: must fail; the rendered diagnostics must equal
//!   `NAME.err`.
//! - `ui/packages/NAME/`: a package folder. `component.wat` is compiled to
//!   `component.wasm`, `{{digest}}` in `plugin.toml` becomes that file's
//!   digest, and a file `LARGE` asks for an oversized artifact. The result
//!   of `Package::open` must equal `expected.err` (or `ok`).
//!
//! `YOI_BLESS=1 cargo test -p yoi-manifest --test ui` rewrites the expected
//! files; review the diff before committing.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use yoi_manifest::{Code, Compat, Digest, HookPoint, MAX_ARTIFACT_BYTES, Manifest, Package};

fn ui_dir(sub: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/ui")
        .join(sub)
}

/// What the test host supports for manifests alone: contract 0.1.0 with two
/// hook points, the same imports the Yoi host allows, and no tools.
fn compat() -> Compat {
    Compat {
        contracts: vec!["yoi:plugin@0.1.0".parse().expect("contract")],
        engine: semver::Version::new(0, 1, 0),
        hook_points: vec![HookPoint::ToolPreExec, HookPoint::ToolPostExec],
        imports: [
            "wasi:cli/stdout",
            "wasi:io/streams",
            "yoi:plugin/types",
            "yoi:plugin/log",
        ]
        .map(String::from)
        .to_vec(),
        tools_interface: None,
    }
}

/// The test host for package folders: the same, with tools.
fn package_compat() -> Compat {
    Compat {
        tools_interface: Some("yoi:plugin/tools".into()),
        ..compat()
    }
}

fn bless() -> bool {
    std::env::var_os("YOI_BLESS").is_some()
}

/// Compares `actual` with the file at `expected`, or writes it when blessing.
fn expect(expected: &Path, actual: &str, failures: &mut Vec<String>) {
    if bless() {
        std::fs::write(expected, actual).expect("write expectation");
        return;
    }
    match std::fs::read_to_string(expected) {
        Ok(want) if want == actual => {}
        Ok(want) => failures.push(format!(
            "{}: output differs\n--- expected\n{want}\n--- actual\n{actual}",
            expected.display()
        )),
        Err(_) => failures.push(format!(
            "{}: missing (run with YOI_BLESS=1 to create it)\n--- actual\n{actual}",
            expected.display()
        )),
    }
}

fn files(dir: &Path, ext: &str) -> Vec<PathBuf> {
    let mut out: Vec<_> = std::fs::read_dir(dir)
        .expect("ui folder")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == ext))
        .collect();
    out.sort();
    out
}

fn finish(failures: Vec<String>) {
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

/// Codes found in the expected outputs, for the coverage check.
fn codes_in(text: &str) -> BTreeSet<&'static str> {
    Code::ALL
        .iter()
        .map(|c| c.as_str())
        .filter(|c| text.contains(&format!("[{c} ")))
        .collect()
}

#[test]
fn valid_manifests_parse_to_the_expected_json() {
    let mut failures = Vec::new();
    let cases = files(&ui_dir("valid"), "toml");
    assert!(cases.len() >= 3, "too few valid cases");
    for case in cases {
        let text = std::fs::read_to_string(&case).expect("read case");
        match Manifest::parse(&text) {
            Ok(m) => {
                let json = serde_json::to_string_pretty(&m).expect("json") + "\n";
                expect(&case.with_extension("json"), &json, &mut failures);
                // A valid case of a newer contract is checked against a
                // host that implements it too.
                let mut host = compat();
                if !host.runs(&m.plugin.contract) {
                    host.contracts.push(m.plugin.contract.clone());
                }
                let problems = m.compatibility(&host);
                if !problems.is_empty() {
                    failures.push(format!("{}: incompatible: {problems:?}", case.display()));
                }
            }
            Err(d) => failures.push(format!(
                "{}: should be valid:\n{}",
                case.display(),
                d.render(false)
            )),
        }
    }
    finish(failures);
}

#[test]
fn invalid_manifests_report_the_expected_diagnostics() {
    let mut failures = Vec::new();
    let cases = files(&ui_dir("invalid"), "toml");
    for case in &cases {
        let text = std::fs::read_to_string(case).expect("read case");
        let shown = match Manifest::parse(&text) {
            Err(d) => d.render(false),
            Ok(m) => {
                let problems = m.compatibility(&compat());
                if problems.is_empty() {
                    failures.push(format!("{}: should be invalid but parsed", case.display()));
                    continue;
                }
                yoi_manifest::Diagnostics::new(problems, "plugin.toml", Some(text.clone()))
                    .render(false)
            }
        };
        expect(&case.with_extension("err"), &(shown + "\n"), &mut failures);
    }
    finish(failures);
}

fn copy_case(src: &Path, dst: &Path) {
    for entry in std::fs::read_dir(src).expect("case folder") {
        let path = entry.expect("entry").path();
        let name = path.file_name().expect("name");
        match name.to_str() {
            Some("expected.err") => {}
            Some("component.wat") => {
                let wasm =
                    wat::parse_file(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
                std::fs::write(dst.join("component.wasm"), wasm).expect("write wasm");
            }
            Some("LARGE") => {
                let f = std::fs::File::create(dst.join("component.wasm")).expect("create");
                f.set_len(MAX_ARTIFACT_BYTES + 1).expect("sparse file");
            }
            _ => {
                std::fs::copy(&path, dst.join(name)).expect("copy");
            }
        }
    }
    let manifest = dst.join("plugin.toml");
    if let Ok(text) = std::fs::read_to_string(&manifest) {
        let digest = std::fs::read(dst.join("component.wasm"))
            .map(|b| Digest::of(&b).to_string())
            .unwrap_or_else(|_| Digest::of(b"").to_string());
        std::fs::write(&manifest, text.replace("{{digest}}", &digest)).expect("write manifest");
    }
}

#[test]
fn packages_report_the_expected_diagnostics() {
    let mut failures = Vec::new();
    let mut cases: Vec<_> = std::fs::read_dir(ui_dir("packages"))
        .expect("packages folder")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.is_dir())
        .collect();
    cases.sort();
    for case in cases {
        let tmp = tempfile::tempdir().expect("temp dir");
        copy_case(&case, tmp.path());
        let shown = match Package::open(tmp.path(), &package_compat()) {
            Ok(_) => "ok".to_owned(),
            Err(d) => d.with_file("plugin.toml").render(false),
        };
        expect(&case.join("expected.err"), &(shown + "\n"), &mut failures);
    }
    finish(failures);
}

#[test]
fn every_code_has_a_ui_case_and_there_are_at_least_40_invalid_ones() {
    let mut seen = BTreeSet::new();
    let mut invalid = 0;
    for case in files(&ui_dir("invalid"), "err") {
        invalid += 1;
        seen.extend(codes_in(&std::fs::read_to_string(case).expect("read")));
    }
    for entry in std::fs::read_dir(ui_dir("packages")).expect("packages") {
        let expected = entry.expect("entry").path().join("expected.err");
        if let Ok(text) = std::fs::read_to_string(expected) {
            if text.trim() != "ok" {
                invalid += 1;
            }
            seen.extend(codes_in(&text));
        }
    }
    let missing: Vec<_> = Code::ALL
        .iter()
        .map(|c| c.as_str())
        .filter(|c| !seen.contains(c))
        .collect();
    assert!(missing.is_empty(), "codes without a UI case: {missing:?}");
    assert!(invalid >= 40, "only {invalid} invalid cases");
}
