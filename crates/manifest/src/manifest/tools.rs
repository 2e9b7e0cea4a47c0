//! `[[tools]]`: the tools a plugin offers, each with its input schema.

use super::*;

pub(super) fn read_tools(
    cx: &mut Cx<'_>,
    root: &Table<'_, '_>,
    locs: &mut Locs,
) -> Option<Vec<Tool>> {
    let mut tools = Vec::new();
    let mut ok = true;
    let mut seen = BTreeSet::new();
    for t in root.tables(cx, "tools") {
        t.deny_unknown(cx, fields::TOOL, DOCS);
        let path = |key: &str| format!("{}.{key}", t.path);
        let name = t
            .required_string(cx, "name", "the tool's name", "name = \"get_weather\"")
            .and_then(|f| {
                locs.insert(path("name"), f.span.clone());
                if !valid_tool_name(f.value) {
                    cx.error(
                        Code::ToolName,
                        &path("name"),
                        Some(f.span),
                        format!("`{}` is not a valid tool name", f.value.escape_default()),
                        "use 1 to 64 lowercase letters, digits, `_` or `-`, starting with a letter, e.g. `get_weather`",
                    );
                    None
                } else if !seen.insert(f.value) {
                    cx.error(
                        Code::ToolDuplicate,
                        &path("name"),
                        Some(f.span),
                        format!("tool `{}` is declared more than once", f.value),
                        "give each tool a unique name",
                    );
                    None
                } else {
                    Some(f.value.to_owned())
                }
            });
        let description = t
            .required_string(
                cx,
                "description",
                "what the tool does, for the model",
                "description = \"Current weather for a city\"",
            )
            .and_then(|f| {
                if f.value.trim().is_empty() || f.value.chars().count() > 4096 {
                    cx.error(
                        Code::ToolDescription,
                        &path("description"),
                        Some(f.span),
                        "the description is empty or longer than 4096 characters",
                        "say in one or two sentences what the tool does and when to use it",
                    );
                    None
                } else {
                    Some(f.value.to_owned())
                }
            });
        let schema = match t.raw("input_schema") {
            None => {
                cx.error(
                    Code::MissingField,
                    &path("input_schema"),
                    Some(t.span.clone()),
                    format!("`[{}]` is missing `input_schema` (a JSON Schema)", t.path),
                    "add `input_schema = { type = \"object\", properties = { ... } }` or a path to a JSON file in the package",
                );
                None
            }
            Some(v) => match v.get_ref() {
                DeValue::String(file) => match relative_path(file) {
                    Ok(p) if p != "." => Some(InputSchema::File(p)),
                    other => {
                        let why = other.err().unwrap_or_else(|| "does not name a file".into());
                        cx.error(
                            Code::ToolSchemaFile,
                            &path("input_schema"),
                            Some(v.span()),
                            format!("schema file `{}` {why}", file.escape_default()),
                            "name a JSON file inside the package with a relative path, e.g. `schemas/input.json`",
                        );
                        None
                    }
                },
                DeValue::Table(_) => match to_json(v.get_ref())
                    .and_then(|json| check_input_schema(&json).map(|()| json))
                {
                    Ok(json) => Some(InputSchema::Inline(json)),
                    Err(why) => {
                        cx.error(
                            Code::ToolSchema,
                            &path("input_schema"),
                            Some(v.span()),
                            format!("the input schema {why}"),
                            "write a JSON Schema whose root is `type = \"object\"` (https://json-schema.org)",
                        );
                        None
                    }
                },
                _ => {
                    cx.error(
                        Code::WrongType,
                        &path("input_schema"),
                        Some(v.span()),
                        "expected a table (an inline JSON Schema) or a string (a schema file)",
                        "write `input_schema = { type = \"object\" }` or `input_schema = \"schemas/input.json\"`",
                    );
                    None
                }
            },
        };
        match (name, description, schema) {
            (Some(name), Some(description), Some(input_schema)) => tools.push(Tool {
                name,
                description,
                input_schema,
            }),
            _ => ok = false,
        }
    }
    ok.then_some(tools)
}
