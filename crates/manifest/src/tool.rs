//! `[[tools]]`: tools a plugin offers to the model.

use serde::Serialize;
use serde_json::Value;

/// Where a tool's input schema is.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum InputSchema {
    /// Written inline in `plugin.toml`.
    Inline(Value),
    /// A JSON file inside the package (relative, `/`-separated path).
    File(String),
}

/// One `[[tools]]` entry.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Tool {
    /// Name, unique within the plugin: `[a-z][a-z0-9_-]{0,63}`. Hosts show it
    /// namespaced as `<plugin id>.<name>`.
    pub name: String,
    /// What the tool does, for the model.
    pub description: String,
    /// JSON Schema of the tool's input; its root must be an object schema.
    pub input_schema: InputSchema,
}

/// Whether `name` is a valid tool, provider or service name:
/// `[a-z][a-z0-9_-]{0,63}`.
pub fn valid_tool_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars.next().is_some_and(|c| c.is_ascii_lowercase())
        && name.len() <= 64
        && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '_' | '-'))
}

/// Most schema errors reported for one value: the first few say what to fix.
pub const MAX_SCHEMA_ERRORS: usize = 8;

/// What `value` gets wrong against a compiled JSON Schema, one line per
/// error (`at /0: 1 is not of type "string"`), at most
/// [`MAX_SCHEMA_ERRORS`]. Empty when it fits. The one wording of a schema
/// error, for tool inputs and setting values alike.
pub fn schema_errors(validator: &jsonschema::Validator, value: &Value) -> Vec<String> {
    errors(validator, value, false)
}

/// [`schema_errors`] that never quote the value: for secrets, whose
/// refusals are stored and printed.
pub fn schema_errors_masked(validator: &jsonschema::Validator, value: &Value) -> Vec<String> {
    errors(validator, value, true)
}

fn errors(validator: &jsonschema::Validator, value: &Value, mask: bool) -> Vec<String> {
    validator
        .iter_errors(value)
        .take(MAX_SCHEMA_ERRORS)
        .map(|e| {
            let at = e.instance_path().to_string();
            let what = if mask {
                e.masked_with("the value").to_string()
            } else {
                e.to_string()
            };
            if at.is_empty() {
                what
            } else {
                format!("at {at}: {what}")
            }
        })
        .collect()
}

/// Checks that `schema` is a JSON Schema for an object input. Returns why not.
pub fn check_input_schema(schema: &Value) -> Result<(), String> {
    if !schema.is_object() {
        return Err("must be a JSON object (a schema), not a bare value".into());
    }
    jsonschema::meta::validate(schema).map_err(|e| {
        let at = e.instance_path().to_string();
        if at.is_empty() {
            format!("is not a valid JSON Schema: {e}")
        } else {
            format!("is not a valid JSON Schema at `{at}`: {e}")
        }
    })?;
    if schema.get("type").and_then(Value::as_str) != Some("object") {
        return Err("must describe an object: set `type = \"object\"` at its root".into());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn tool_names_follow_the_rule() {
        assert!(valid_tool_name("get_weather"));
        assert!(valid_tool_name("search-v2"));
        assert!(!valid_tool_name("GetWeather"));
        assert!(!valid_tool_name("_x"));
        assert!(!valid_tool_name(""));
        assert!(!valid_tool_name(&"a".repeat(65)));
    }

    #[test]
    fn schemas_must_be_valid_object_schemas() {
        assert!(
            check_input_schema(
                &json!({"type": "object", "properties": {"city": {"type": "string"}}})
            )
            .is_ok()
        );
        assert!(
            check_input_schema(&json!({"type": "objekt"}))
                .unwrap_err()
                .contains("not a valid JSON Schema")
        );
        assert!(
            check_input_schema(&json!({"type": "string"}))
                .unwrap_err()
                .contains("object")
        );
        assert!(check_input_schema(&json!(3)).is_err());
        assert!(check_input_schema(&json!({"type": "object", "required": "city"})).is_err());
    }
}
