//! One table of hook points (`yoi_manifest::foreach_hook_point!`, read here
//! through `yoi_host::hook_points()`), and every other place that lists
//! them checked against it: the manifest's `HookPoint`, each contract version's WIT, the
//! manifest JSON schema and the docs table. The PDK derives its trait,
//! payload types and `register!` names from the newest WIT (its build
//! script), so checking the WIT checks the PDK; its naming rule is checked
//! here too. A point added in one place and missing in another fails here.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use yoi_host::{HookPoint, PointInfo, hook_points};

fn repo(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .join(rel)
}

fn read(rel: &str) -> String {
    std::fs::read_to_string(repo(rel)).unwrap_or_else(|e| panic!("{rel}: {e}"))
}

fn kebab(snake: &str) -> String {
    snake.replace('_', "-")
}

/// `work_item.pre_create` → `work-item-pre-create`, as the WIT names it.
fn interface_of(point: HookPoint) -> String {
    point.as_str().replace(['.', '_'], "-")
}

/// The contract folders the PDK ships, oldest first.
fn contract_dirs() -> Vec<PathBuf> {
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(repo("crates/pdk/wit"))
        .expect("wit folder")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.join("worlds.wit").is_file())
        .collect();
    dirs.sort();
    assert!(dirs.len() >= 2, "{dirs:?}");
    dirs
}

/// A WIT interface: its doc comment and the parameters of `handle`.
struct Interface {
    doc: String,
    handle: String,
}

fn interfaces(hooks_wit: &str) -> BTreeMap<String, Interface> {
    let lines: Vec<&str> = hooks_wit.lines().collect();
    let mut out = BTreeMap::new();
    for (i, line) in lines.iter().enumerate() {
        let Some(name) = line
            .trim()
            .strip_prefix("interface ")
            .and_then(|l| l.strip_suffix(" {"))
        else {
            continue;
        };
        let doc: Vec<&str> = lines[..i]
            .iter()
            .rev()
            .take_while(|l| l.trim().starts_with("///"))
            .map(|l| l.trim().trim_start_matches("///").trim())
            .collect();
        let handle = lines[i..]
            .iter()
            .find(|l| l.trim().starts_with("handle: func("))
            .map(|l| l.trim().to_owned())
            .unwrap_or_default();
        out.insert(
            name.to_owned(),
            Interface {
                doc: doc.into_iter().rev().collect::<Vec<_>>().join(" "),
                handle,
            },
        );
    }
    out
}

/// The fields of a WIT record, in order.
fn record_fields(types_wit: &str, record: &str) -> Vec<String> {
    let header = format!("record {record} {{");
    let start = types_wit
        .find(&header)
        .unwrap_or_else(|| panic!("no record {record}"));
    let body = &types_wit[start + header.len()..];
    let body = &body[..body.find('}').expect("record end")];
    body.lines()
        .map(str::trim)
        .filter(|l| !l.starts_with("//") && l.contains(':'))
        .map(|l| {
            l.split(':')
                .next()
                .unwrap_or_default()
                .trim_start_matches('%')
                .to_owned()
        })
        .collect()
}

/// `ToolCall` → `tool-call`.
fn record_name(camel: &str) -> String {
    let mut out = String::new();
    for (i, c) in camel.chars().enumerate() {
        if c.is_ascii_uppercase() && i > 0 {
            out.push('-');
        }
        out.push(c.to_ascii_lowercase());
    }
    out
}

fn table() -> Vec<PointInfo> {
    hook_points()
}

#[test]
fn the_manifest_enum_is_the_table() {
    let points: Vec<HookPoint> = table().iter().map(|i| i.point).collect();
    assert_eq!(points, HookPoint::ALL.to_vec());
    for p in HookPoint::ALL {
        assert_eq!(p.wit_interface(), interface_of(p), "{p}");
        assert_eq!(p.as_str().parse::<HookPoint>().ok(), Some(p));
    }
}

#[test]
fn every_contract_version_defines_the_table_in_wit() {
    for dir in contract_dirs() {
        let name = dir.display().to_string();
        let read = |f: &str| std::fs::read_to_string(dir.join(f)).expect(f);
        let (worlds, hooks, types) = (read("worlds.wit"), read("hooks.wit"), read("types.wit"));
        let found = interfaces(&hooks);
        let wanted: Vec<String> = table().iter().map(|i| interface_of(i.point)).collect();
        assert_eq!(
            found.keys().cloned().collect::<Vec<_>>(),
            {
                let mut w = wanted.clone();
                w.sort();
                w
            },
            "{name}: hooks.wit interfaces"
        );
        let world = &worlds[worlds
            .find("world hook-plugin {")
            .expect("hook-plugin world")..];
        let world = &world[..world.find('}').expect("world end")];
        let exported: Vec<String> = world
            .lines()
            .filter_map(|l| l.trim().strip_prefix("export "))
            .map(|l| l.trim_end_matches(';').to_owned())
            .collect();
        assert_eq!(exported, wanted, "{name}: world hook-plugin exports");

        for info in table() {
            let iface = &found[&interface_of(info.point)];
            let record = record_name(info.record);
            assert!(
                iface.handle.contains(&format!("event: {record})")),
                "{name}: {} handles `{}`, the table says `{record}`",
                info.point,
                iface.handle
            );
            let fields: Vec<String> = info.fields.iter().map(|f| kebab(f)).collect();
            assert_eq!(
                record_fields(&types, &record),
                fields,
                "{name}: record {record}"
            );
            assert!(
                iface.doc.starts_with(&format!("`{}`", info.point)),
                "{name}: {}: {}",
                info.point,
                iface.doc
            );
            let doc_blocks = iface.doc.contains("may block");
            assert_eq!(
                doc_blocks, info.can_block,
                "{name}: {} doc says may block = {doc_blocks}: {}",
                info.point, iface.doc
            );
            for field in info.changeable {
                assert!(
                    iface.doc.contains(&format!("`{}`", kebab(field))),
                    "{name}: {} doc does not name changeable `{}`: {}",
                    info.point,
                    kebab(field),
                    iface.doc
                );
            }
            if info.changeable.is_empty() {
                assert!(iface.doc.contains("May not change"), "{}", iface.doc);
            }
        }
    }
}

#[test]
fn the_pdk_names_every_point_as_register_expects() {
    // The PDK's trait methods and `register!` names are the WIT interface
    // names in snake case (its build script); the manifest's diagnostics
    // tell authors to add `point.as_str()` with `_` for `.`.
    for info in table() {
        assert_eq!(
            interface_of(info.point).replace('-', "_"),
            info.point.as_str().replace('.', "_"),
        );
    }
    let build = read("crates/pdk/build.rs");
    assert!(
        build.contains("world_lines(worlds, \"hook-plugin\", \"export \")"),
        "the PDK reads the same world"
    );
}

#[test]
fn the_manifest_schema_lists_the_table() {
    let schema: serde_json::Value =
        serde_json::from_str(yoi_manifest::MANIFEST_SCHEMA).expect("schema is JSON");
    let listed: Vec<String> = schema
        .pointer("/properties/hooks/items/properties/point/anyOf/0/enum")
        .and_then(|v| v.as_array())
        .expect("hooks.point enum")
        .iter()
        .map(|v| v.as_str().unwrap_or_default().to_owned())
        .collect();
    let table: Vec<String> = table().iter().map(|i| i.point.to_string()).collect();
    assert_eq!(listed, table);
}

/// The rows of the markdown table whose header starts with `header`.
fn doc_rows(doc: &str, header: &str) -> Vec<Vec<String>> {
    doc.lines()
        .skip_while(|l| !l.starts_with(header))
        .skip(2)
        .take_while(|l| l.starts_with('|'))
        .map(|l| {
            l.trim_matches('|')
                .split(" | ")
                .map(|c| c.trim().to_owned())
                .collect()
        })
        .collect()
}

/// The backticked names of a cell, notes in parentheses left out:
/// `` `input` (JSON text: `parse_input`), `turn` `` gives `input`, `turn`.
fn names(cell: &str) -> Vec<String> {
    let mut plain = String::new();
    let mut depth = 0usize;
    for c in cell.chars() {
        match c {
            '(' => depth += 1,
            ')' => depth = depth.saturating_sub(1),
            _ if depth == 0 => plain.push(c),
            _ => {}
        }
    }
    plain
        .split('`')
        .skip(1)
        .step_by(2)
        .map(str::to_owned)
        .collect()
}

#[test]
fn the_authoring_table_is_the_table() {
    let doc = read("docs/authoring.md");
    let rows = doc_rows(&doc, "| method (`register!` name) |");
    let mut seen = Vec::new();
    for row in &rows {
        for method in names(&row[0]) {
            let info = table()
                .into_iter()
                .find(|i| i.point.as_str().replace('.', "_") == method)
                .unwrap_or_else(|| panic!("docs/authoring.md: `{method}` is not a hook point"));
            assert_eq!(row[1], format!("`{}`", info.record), "{method}");
            assert_eq!(names(&row[2]), info.fields, "{method} fields");
            let changes = if row[3] == "—" {
                Vec::new()
            } else {
                names(&row[3])
            };
            assert_eq!(changes, info.changeable, "{method} may change");
            assert_eq!(row[4].starts_with("yes"), info.can_block, "{method}");
            seen.push(info.point);
        }
    }
    assert_eq!(seen, HookPoint::ALL.to_vec(), "docs/authoring.md methods");
}

#[test]
fn the_docs_table_is_the_table() {
    let doc = read("docs/hooks.md");
    let rows = doc_rows(&doc, "| point | embedder type |");
    let table = table();
    assert_eq!(rows.len(), table.len(), "docs/hooks.md rows");
    for (row, info) in rows.iter().zip(&table) {
        assert_eq!(row[0], format!("`{}`", info.point));
        assert_eq!(row[1], format!("`{}`", info.event), "{}", info.point);
        assert_eq!(names(&row[2]), info.fields, "{} event fields", info.point);
        let changes = if row[3] == "nothing" {
            Vec::new()
        } else {
            names(&row[3])
        };
        assert_eq!(changes, info.changeable, "{} may change", info.point);
        assert_eq!(
            row[4].starts_with("yes"),
            info.can_block,
            "{} may block",
            info.point
        );
    }
}

/// docs/hooks.md lists every contract version of the table, in order, and
/// the PDK ships each one's WIT folder.
#[test]
fn the_docs_and_the_wit_folders_list_the_contract_table() {
    let doc = read("docs/hooks.md");
    let listed: Vec<String> = doc_rows(&doc, "| version |")
        .into_iter()
        .map(|row| row[0].trim_matches('`').to_owned())
        .collect();
    let table: Vec<String> = yoi_manifest::ContractVersion::ALL
        .iter()
        .map(ToString::to_string)
        .collect();
    assert_eq!(listed, table);
    let folders: Vec<String> = contract_dirs()
        .iter()
        .filter_map(|d| d.file_name()?.to_str().map(str::to_owned))
        .map(|v| format!("yoi:plugin@{v}"))
        .collect();
    assert_eq!(folders, table);
}
