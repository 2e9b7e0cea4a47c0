//! The layering holds: crates depend one way (manifest ← registry ← host ←
//! cli), and no two modules of `yoi-host` reach each other in a circle, so
//! the dispatcher, the host and the tool registry can each be read (and
//! changed) without the others.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

/// Each module of `src/` and the modules its non-test code names
/// (`crate::<module>`, or a re-exported type of one).
fn module_graph() -> BTreeMap<String, BTreeSet<String>> {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files: Vec<_> = std::fs::read_dir(&src)
        .expect("src")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "rs"))
        .collect();
    files.sort();
    let modules: BTreeSet<String> = files
        .iter()
        .filter_map(|p| p.file_stem()?.to_str().map(str::to_owned))
        .collect();
    // Types used through their re-export at the crate root.
    let lib = std::fs::read_to_string(src.join("lib.rs")).expect("lib.rs");
    let mut reexports = BTreeMap::new();
    for line in lib.lines() {
        let Some(rest) = line.trim().strip_prefix("pub use ") else {
            continue;
        };
        let Some((module, names)) = rest.split_once("::") else {
            continue;
        };
        if !modules.contains(module) {
            continue;
        }
        for name in names
            .trim_end_matches(';')
            .trim_matches(|c| c == '{' || c == '}')
            .split(',')
        {
            reexports.insert(name.trim().to_owned(), module.to_owned());
        }
    }
    let mut graph = BTreeMap::new();
    for file in &files {
        let name = file.file_stem().and_then(|s| s.to_str()).expect("name");
        let text = std::fs::read_to_string(file).expect("source");
        let code: String = text
            .split("#[cfg(test)]")
            .next()
            .unwrap_or_default()
            .lines()
            .filter(|l| !l.trim_start().starts_with("//"))
            .collect::<Vec<_>>()
            .join("\n");
        let mut deps = BTreeSet::new();
        for (i, _) in code.match_indices("crate::") {
            let word: String = code[i + 7..]
                .chars()
                .take_while(|c| c.is_alphanumeric() || *c == '_')
                .collect();
            if modules.contains(&word) {
                deps.insert(word);
            } else if let Some(module) = reexports.get(&word) {
                deps.insert(module.clone());
            }
        }
        deps.remove(name);
        graph.insert(name.to_owned(), deps);
    }
    graph
}

/// A circle of modules, if there is one.
fn find_cycle(graph: &BTreeMap<String, BTreeSet<String>>) -> Option<Vec<String>> {
    fn visit(
        graph: &BTreeMap<String, BTreeSet<String>>,
        node: &str,
        path: &mut Vec<String>,
        done: &mut BTreeSet<String>,
    ) -> Option<Vec<String>> {
        if let Some(at) = path.iter().position(|n| n == node) {
            let mut cycle = path[at..].to_vec();
            cycle.push(node.to_owned());
            return Some(cycle);
        }
        if done.contains(node) {
            return None;
        }
        path.push(node.to_owned());
        for next in graph.get(node).into_iter().flatten() {
            if let Some(c) = visit(graph, next, path, done) {
                return Some(c);
            }
        }
        path.pop();
        done.insert(node.to_owned());
        None
    }
    let mut done = BTreeSet::new();
    graph
        .keys()
        .find_map(|n| visit(graph, n, &mut Vec::new(), &mut done))
}

#[test]
fn no_two_host_modules_depend_on_each_other_in_a_circle() {
    let graph = module_graph();
    for module in [
        "dispatch",
        "host",
        "tools",
        "instances",
        "exports",
        "events",
    ] {
        assert!(graph.contains_key(module), "src/{module}.rs");
    }
    // The host knows neither the dispatcher nor the tool registry: they
    // are layers on top of it.
    for upper in ["dispatch", "tools", "reload", "builder"] {
        assert!(!graph["host"].contains(upper), "host uses {upper}");
    }
    assert!(!graph["dispatch"].contains("tools"));
    if let Some(cycle) = find_cycle(&graph) {
        panic!("modules in a circle: {}", cycle.join(" -> "));
    }
}

#[test]
fn the_cycle_finder_finds_cycles() {
    let graph: BTreeMap<String, BTreeSet<String>> = [
        ("a", vec!["b"]),
        ("b", vec!["c"]),
        ("c", vec!["a"]),
        ("d", vec![]),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v.into_iter().map(str::to_owned).collect()))
    .collect();
    assert_eq!(
        find_cycle(&graph),
        Some(vec!["a".into(), "b".into(), "c".into(), "a".into()])
    );
}

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
