//! The layering of the workspace's crates, checked on their source: no two
//! modules of `yoi-manifest`, `yoi-registry`, `yoi-host` or `yoi-cli` reach
//! each other in a circle, and the host's upper layers (the dispatcher, the
//! tool registry, reloads, the builder) stay above the host itself
//! (docs/architecture.md, "Layers").
//!
//! A module is a top-level file of `src/` or a folder with its files; it
//! depends on another when its non-test code names it (`crate::<module>`),
//! or a type the crate root re-exports from it.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};

/// Each module of a crate and the modules its non-test code names.
pub type Graph = BTreeMap<String, BTreeSet<String>>;

/// The crates checked, and their root file (which uses every module).
const CRATES: [(&str, &str); 4] = [
    ("crates/manifest", "lib"),
    ("crates/registry", "lib"),
    ("crates/host", "lib"),
    ("crates/cli", "main"),
];

/// Module pairs that must not depend on each other in this direction:
/// `(crate, lower, upper)`.
const ABOVE: [(&str, &str, &str); 5] = [
    ("crates/host", "host", "dispatch"),
    ("crates/host", "host", "tools"),
    ("crates/host", "host", "reload"),
    ("crates/host", "host", "builder"),
    ("crates/host", "dispatch", "tools"),
];

/// The `.rs` files of a module: the file, or every file in the folder.
fn files_of(path: &Path) -> Vec<PathBuf> {
    if path.is_file() {
        return vec![path.to_path_buf()];
    }
    let mut out = Vec::new();
    for entry in std::fs::read_dir(path).into_iter().flatten().flatten() {
        out.extend(files_of(&entry.path()));
    }
    out.retain(|p| p.extension().is_some_and(|e| e == "rs"));
    out
}

/// The code of a file without its tests and comments.
fn code(text: &str) -> String {
    text.split("#[cfg(test)]")
        .next()
        .unwrap_or_default()
        .lines()
        .filter(|l| !l.trim_start().starts_with("//"))
        .collect::<Vec<_>>()
        .join("\n")
}

/// The module graph of the crate whose `src` is `src` (`root`: its root
/// file's stem, left out).
pub fn graph(src: &Path, root: &str) -> Result<Graph> {
    let mut modules: BTreeMap<String, Vec<PathBuf>> = BTreeMap::new();
    for entry in std::fs::read_dir(src).with_context(|| format!("reading {}", src.display()))? {
        let path = entry?.path();
        let name = path
            .file_stem()
            .and_then(|s| s.to_str())
            .unwrap_or_default()
            .to_owned();
        if path.is_dir() || path.extension().is_some_and(|e| e == "rs") {
            modules.entry(name).or_default().extend(files_of(&path));
        }
    }
    let root_text = std::fs::read_to_string(src.join(format!("{root}.rs")))
        .with_context(|| format!("reading {root}.rs"))?;
    modules.remove(root);
    // Types used through their re-export at the crate root.
    let mut reexports = BTreeMap::new();
    for line in root_text.lines() {
        let Some((module, names)) = line
            .trim()
            .strip_prefix("pub use ")
            .and_then(|r| r.split_once("::"))
        else {
            continue;
        };
        if !modules.contains_key(module) {
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
    let mut graph = Graph::new();
    for (name, files) in &modules {
        let mut deps = BTreeSet::new();
        for file in files {
            let text = code(&std::fs::read_to_string(file)?);
            for (i, _) in text.match_indices("crate::") {
                let word: String = text[i + 7..]
                    .chars()
                    .take_while(|c| c.is_alphanumeric() || *c == '_')
                    .collect();
                if modules.contains_key(&word) {
                    deps.insert(word);
                } else if let Some(module) = reexports.get(&word) {
                    deps.insert(module.clone());
                }
            }
        }
        deps.remove(name);
        graph.insert(name.clone(), deps);
    }
    Ok(graph)
}

/// A circle of modules, if there is one.
pub fn find_cycle(graph: &Graph) -> Option<Vec<String>> {
    fn visit(
        graph: &Graph,
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

/// Checks every crate: no circle, and the host's layers in order.
pub fn check(root: &Path) -> Result<()> {
    let mut problems = Vec::new();
    for (krate, file) in CRATES {
        let graph = graph(&root.join(krate).join("src"), file)?;
        if let Some(cycle) = find_cycle(&graph) {
            problems.push(format!(
                "{krate}: modules in a circle: {}",
                cycle.join(" -> ")
            ));
        }
        for (_, lower, upper) in ABOVE.iter().filter(|(k, _, _)| *k == krate) {
            match graph.get(*lower) {
                None => problems.push(format!("{krate}: no module `{lower}` (rename the rule)")),
                Some(deps) if deps.contains(*upper) => problems.push(format!(
                    "{krate}: `{lower}` uses `{upper}`, a layer above it"
                )),
                Some(_) => {}
            }
        }
    }
    if problems.is_empty() {
        eprintln!(
            "xtask: layering ok: no module circle in {} crates",
            CRATES.len()
        );
        Ok(())
    } else {
        bail!(
            "the layering is broken (docs/architecture.md, \"Layers\"):\n  {}",
            problems.join("\n  ")
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_cycle_finder_finds_cycles() {
        let graph: Graph = [
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
        let acyclic: Graph = [("a", vec!["b"]), ("b", vec![])]
            .into_iter()
            .map(|(k, v)| (k.to_owned(), v.into_iter().map(str::to_owned).collect()))
            .collect();
        assert_eq!(find_cycle(&acyclic), None);
    }

    #[test]
    fn the_workspace_is_layered() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
        check(&root).expect("layered");
    }

    #[test]
    fn a_folder_module_counts_with_its_files() {
        let dir = tempfile::tempdir().expect("dir");
        let src = dir.path();
        std::fs::write(src.join("lib.rs"), "mod a;\nmod b;\n").expect("lib");
        std::fs::create_dir(src.join("a")).expect("a/");
        std::fs::write(src.join("a/mod.rs"), "mod inner;\n").expect("a");
        std::fs::write(src.join("a/inner.rs"), "use crate::b::X;\n").expect("inner");
        std::fs::write(src.join("b.rs"), "use crate::a::Y;\n").expect("b");
        let graph = graph(src, "lib").expect("graph");
        assert!(find_cycle(&graph).is_some(), "{graph:?}");
    }
}
