//! A plugin's settings: the `[config]` section of `plugin.toml`, which
//! declares each value an operator may set (docs/configuration.md), and
//! the one check every value passes, whoever sets it.

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

use serde::Serialize;
use serde_json::Value;

/// The kinds of value a setting holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum SettingType {
    /// Text.
    String,
    /// A whole number (64-bit).
    Integer,
    /// Any number.
    Number,
    /// `true` or `false`.
    Boolean,
    /// A JSON array (`schema.items` narrows its elements).
    List,
    /// A JSON object (`schema.properties` narrows its fields).
    Object,
}

impl SettingType {
    /// Every type, as written in `plugin.toml`.
    pub const ALL: [SettingType; 6] = [
        SettingType::String,
        SettingType::Integer,
        SettingType::Number,
        SettingType::Boolean,
        SettingType::List,
        SettingType::Object,
    ];

    /// The name in `plugin.toml`.
    pub fn as_str(self) -> &'static str {
        match self {
            SettingType::String => "string",
            SettingType::Integer => "integer",
            SettingType::Number => "number",
            SettingType::Boolean => "boolean",
            SettingType::List => "list",
            SettingType::Object => "object",
        }
    }

    /// The JSON Schema `type` of its values.
    pub fn json_type(self) -> &'static str {
        match self {
            SettingType::List => "array",
            other => other.as_str(),
        }
    }

    /// An example value, for fixes.
    fn example(self) -> &'static str {
        match self {
            SettingType::String => "some text",
            SettingType::Integer => "42",
            SettingType::Number => "0.5",
            SettingType::Boolean => "true",
            SettingType::List => "[\"a\", \"b\"]",
            SettingType::Object => "{\"key\": \"value\"}",
        }
    }
}

impl fmt::Display for SettingType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for SettingType {
    type Err = ();

    fn from_str(s: &str) -> Result<Self, ()> {
        SettingType::ALL
            .into_iter()
            .find(|t| t.as_str() == s)
            .ok_or(())
    }
}

/// One declared setting, `[config.NAME]`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Setting {
    /// Its name: what the guest asks for and the operator sets.
    pub name: String,
    /// The kind of value.
    #[serde(rename = "type")]
    pub kind: SettingType,
    /// What it does, for operators.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// The value when the operator set none.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub default: Option<Value>,
    /// Never shown again once set; encrypted at rest; never audited.
    pub secret: bool,
    /// Must be set before a version declaring it can be activated.
    pub required: bool,
    /// More JSON Schema keywords values must meet (`enum`, `pattern`,
    /// `minimum`, `items`, ...), beside the type.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub schema: Option<Value>,
}

/// Whether `name` is a setting name: 1 to 64 lowercase letters, digits and
/// `_`, starting with a letter, so it is a field name in every guest
/// language.
pub fn valid_setting_name(name: &str) -> bool {
    let mut bytes = name.bytes();
    matches!(bytes.next(), Some(b'a'..=b'z'))
        && name.len() <= 64
        && bytes.all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
}

impl Setting {
    /// The whole JSON Schema a value must meet: the type and the extra
    /// keywords.
    pub fn json_schema(&self) -> Value {
        let mut schema = match &self.schema {
            Some(Value::Object(extra)) => extra.clone(),
            _ => serde_json::Map::new(),
        };
        schema.insert("type".into(), Value::String(self.kind.json_type().into()));
        Value::Object(schema)
    }

    /// Checks a value against the setting: why not, in one line.
    pub fn check(&self, value: &Value) -> Result<(), String> {
        let schema = self.json_schema();
        let validator = jsonschema::validator_for(&schema)
            .map_err(|e| format!("the setting's schema is not valid: {e}"))?;
        // A secret's refusal is stored in the audit log and printed: it
        // names what is wrong, never the value.
        let problems = if self.secret {
            crate::tool::schema_errors_masked(&validator, value)
        } else {
            crate::tool::schema_errors(&validator, value)
        };
        if problems.is_empty() {
            Ok(())
        } else {
            Err(format!(
                "`{}` must be {} ({}): {}",
                self.name,
                self.kind,
                short(&schema),
                problems.join("; ")
            ))
        }
    }

    /// Reads an operator's text as a value of this setting: a `string`
    /// setting takes the text as it is, the others take JSON. Then checks it.
    pub fn parse_value(&self, text: &str) -> Result<Value, String> {
        let value = match self.kind {
            SettingType::String => Value::String(text.to_owned()),
            kind => serde_json::from_str(text).map_err(|e| {
                format!(
                    "`{}` is a {kind} setting, written as JSON (for example `{}`): {e}",
                    self.name,
                    kind.example()
                )
            })?,
        };
        self.check(&value)?;
        Ok(value)
    }
}

/// A schema in one short line, for messages.
fn short(schema: &Value) -> String {
    let text = schema.to_string();
    if text.chars().count() > 160 {
        format!("{}…", text.chars().take(160).collect::<String>())
    } else {
        text
    }
}

/// The values a plugin runs with: every declared setting that has a value
/// (set by the operator, else its default), as one JSON object. `set`
/// holds the operator's values by name; names the manifest does not declare
/// are left out.
pub fn effective(
    settings: &[Setting],
    set: &BTreeMap<String, Value>,
) -> serde_json::Map<String, Value> {
    settings
        .iter()
        .filter_map(|s| {
            set.get(&s.name)
                .or(s.default.as_ref())
                .map(|v| (s.name.clone(), v.clone()))
        })
        .collect()
}
