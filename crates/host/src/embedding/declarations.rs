//! Type declarations of every hook point's event for the Node and Python
//! packages, generated from the hook table ([`crate::hook_points`]), so a
//! point or field added to the table reaches TypeScript and Python without
//! a hand-written line.

use std::fmt::Write;

/// The lines of a `stringify!`d run of `doc = "…"` attributes.
fn doc_lines(attrs: &str) -> Vec<String> {
    let mut lines = Vec::new();
    let mut rest = attrs;
    while let Some(start) = rest.find('"') {
        let body = &rest[start + 1..];
        let mut line = String::new();
        let mut chars = body.char_indices();
        let mut end = body.len();
        while let Some((i, c)) = chars.next() {
            match c {
                '\\' => match chars.next().map(|(_, c)| c) {
                    Some('n') => line.push('\n'),
                    Some('t') => line.push('\t'),
                    Some(other) => line.push(other),
                    None => {}
                },
                '"' => {
                    end = i + 1;
                    break;
                }
                c => line.push(c),
            }
        }
        lines.push(line.strip_prefix(' ').unwrap_or(&line).to_owned());
        rest = &body[end.min(body.len())..];
    }
    lines
}

/// The two languages declarations are written in.
#[derive(Clone, Copy)]
enum Lang {
    TypeScript,
    Python,
}

/// Each Rust type the hook table uses, as TypeScript and Python write it;
/// any other type (`Value`) is any JSON.
const TYPES: &[(&str, &str, &str)] = &[
    ("String", "string", "str"),
    ("bool", "boolean", "bool"),
    ("u32", "number", "int"),
    ("u64", "number", "int"),
    ("i32", "number", "int"),
    ("i64", "number", "int"),
    ("f32", "number", "float"),
    ("f64", "number", "float"),
    (
        "DeliveryMode",
        "'streaming' | 'final'",
        "Literal['streaming', 'final']",
    ),
];

/// A Rust type of the table in `lang`.
fn language_type(rust: &str, lang: Lang) -> String {
    let rust: String = rust.chars().filter(|c| !c.is_whitespace()).collect();
    if let Some(inner) = rust
        .strip_prefix("Option<")
        .and_then(|r| r.strip_suffix('>'))
    {
        let inner = language_type(inner, lang);
        return match lang {
            Lang::TypeScript => format!("{inner} | null"),
            Lang::Python => format!("Optional[{inner}]"),
        };
    }
    TYPES
        .iter()
        .find(|(r, _, _)| *r == rust)
        .map_or("Json", |(_, ts, py)| match lang {
            Lang::TypeScript => ts,
            Lang::Python => py,
        })
        .to_owned()
}

fn typescript_type(rust: &str) -> String {
    language_type(rust, Lang::TypeScript)
}

fn python_type(rust: &str) -> String {
    language_type(rust, Lang::Python)
}

fn header(comment: &str) -> String {
    format!(
        "{comment} Generated from Yoi's hook table (contract {}) by yoi-host {}.\n{comment} Do not edit: the package build writes it again.\n",
        crate::CONTRACT,
        env!("CARGO_PKG_VERSION")
    )
}

/// `hooks.d.ts`: one interface per hook point's event, the map from each
/// point's name to its event, and what a plugin may change there.
pub fn typescript_declarations() -> String {
    let points = crate::hook_points();
    let mut out = header("//");
    out.push_str(
        "\n/** Any JSON value. */\nexport type Json = null | boolean | number | string | Json[] | { [key: string]: Json };\n",
    );
    for p in &points {
        out.push_str("\n/**\n");
        for line in doc_lines(p.doc) {
            let _ = writeln!(out, " * {line}");
        }
        let _ = writeln!(out, " */\nexport interface {} {{", p.event);
        for (i, field) in p.fields.iter().enumerate() {
            let docs = doc_lines(p.docs.get(i).copied().unwrap_or_default()).join(" ");
            let right = if p.changeable.contains(field) {
                " Plugins may change it."
            } else {
                ""
            };
            let ty = typescript_type(p.types.get(i).copied().unwrap_or("Value"));
            let _ = writeln!(out, "  /** {docs}{right} */\n  {field}: {ty};");
        }
        out.push_str("}\n");
    }
    out.push_str("\n/** Each hook point of Yoi's by name, with its event. */\nexport interface HookEvents {\n");
    for p in &points {
        let _ = writeln!(out, "  '{}': {};", p.point.as_str(), p.event);
    }
    out.push_str("}\n\n/** The name of one of Yoi's hook points. */\nexport type HookPointName = keyof HookEvents;\n");
    out.push_str("\n/** The fields a plugin may change at each point (`never`: none). */\nexport interface ChangeableFields {\n");
    for p in &points {
        let fields = if p.changeable.is_empty() {
            "never".to_owned()
        } else {
            p.changeable
                .iter()
                .map(|f| format!("'{f}'"))
                .collect::<Vec<_>>()
                .join(" | ")
        };
        let _ = writeln!(out, "  '{}': {fields};", p.point.as_str());
    }
    out.push_str(
        "}\n\n/** The points where a plugin may block the event. */\nexport type BlockingPoint =",
    );
    let blocking: Vec<String> = points
        .iter()
        .filter(|p| p.can_block)
        .map(|p| format!("'{}'", p.point.as_str()))
        .collect();
    let _ = writeln!(out, " {};", blocking.join(" | "));
    out
}

/// `hooks.py`: one `TypedDict` per hook point's event (every key optional:
/// a missing field is the empty value, as in `Host::dispatch_json`), the
/// map from each point's name to its event type, and what a plugin may
/// change there.
pub fn python_declarations() -> String {
    let points = crate::hook_points();
    let mut out = header("#");
    out.push_str(
        "\"\"\"The events of Yoi's hook points, as typed dicts (generated from the hook table).\"\"\"\n\n\
         from typing import Any, Dict, List, Literal, Optional, TypedDict\n\n\
         Json = Any\n\"\"\"Any JSON value.\"\"\"\n",
    );
    for p in &points {
        let _ = writeln!(out, "\n\nclass {}(TypedDict, total=False):", p.event);
        let doc = doc_lines(p.doc).join("\n    ");
        let _ = writeln!(out, "    \"\"\"{}\"\"\"\n", doc.replace("\"\"\"", "'''"));
        for (i, field) in p.fields.iter().enumerate() {
            let docs = doc_lines(p.docs.get(i).copied().unwrap_or_default()).join(" ");
            let right = if p.changeable.contains(field) {
                " Plugins may change it."
            } else {
                ""
            };
            let ty = python_type(p.types.get(i).copied().unwrap_or("Value"));
            let _ = writeln!(
                out,
                "    {field}: {ty}\n    \"\"\"{}{right}\"\"\"",
                docs.replace("\"\"\"", "'''")
            );
        }
    }
    out.push_str("\n\nHookPointName = Literal[\n");
    for p in &points {
        let _ = writeln!(out, "    '{}',", p.point.as_str());
    }
    out.push_str(
        "]\n\"\"\"The name of one of Yoi's hook points.\"\"\"\n\nEVENTS: Dict[str, type] = {\n",
    );
    for p in &points {
        let _ = writeln!(out, "    '{}': {},", p.point.as_str(), p.event);
    }
    out.push_str("}\n\"\"\"Each hook point of Yoi's by name, with its event type.\"\"\"\n\nCHANGEABLE: Dict[str, List[str]] = {\n");
    for p in &points {
        let fields: Vec<String> = p.changeable.iter().map(|f| format!("'{f}'")).collect();
        let _ = writeln!(out, "    '{}': [{}],", p.point.as_str(), fields.join(", "));
    }
    out.push_str(
        "}\n\"\"\"The fields a plugin may change at each point.\"\"\"\n\nBLOCKING: List[str] = [",
    );
    let blocking: Vec<String> = points
        .iter()
        .filter(|p| p.can_block)
        .map(|p| format!("'{}'", p.point.as_str()))
        .collect();
    let _ = writeln!(
        out,
        "{}]\n\"\"\"The points where a plugin may block the event.\"\"\"",
        blocking.join(", ")
    );
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn doc_attributes_become_lines() {
        assert_eq!(
            doc_lines(r#"doc = " Tool name."doc = " With a \"quote\"."#),
            vec!["Tool name.", "With a \"quote\"."]
        );
        assert!(doc_lines("").is_empty());
    }

    #[test]
    fn every_point_and_field_is_declared_in_both_languages() {
        let ts = typescript_declarations();
        let py = python_declarations();
        for p in crate::hook_points() {
            assert!(
                ts.contains(&format!("export interface {} {{", p.event)),
                "{}",
                p.event
            );
            assert!(ts.contains(&format!("  '{}': {};", p.point.as_str(), p.event)));
            assert!(py.contains(&format!("class {}(TypedDict, total=False):", p.event)));
            assert_eq!(p.types.len(), p.fields.len());
            assert_eq!(p.docs.len(), p.fields.len());
            for (field, ty) in p.fields.iter().zip(p.types) {
                assert!(
                    ts.contains(&format!("  {field}: {};", typescript_type(ty))),
                    "{field}"
                );
                assert!(
                    py.contains(&format!("    {field}: {}", python_type(ty))),
                    "{field}"
                );
            }
        }
        assert!(ts.contains("temperature: number | null;"));
        assert!(ts.contains("mode: 'streaming' | 'final';"));
        assert!(py.contains("temperature: Optional[float]"));
        assert!(ts.contains("'tool.pre_exec': 'input';"));
        assert!(!ts.contains("Json;\n  /** \n"));
    }
}
