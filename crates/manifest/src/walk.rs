//! Reads the spanned TOML tree field by field, so that every problem (missing
//! field, wrong type, unknown field, bad value) is reported at its place and
//! none stops the others from being found.

use std::ops::Range;

use toml::Spanned;
use toml::de::{DeTable, DeValue};

use crate::diagnostic::{Code, Diagnostic, Span};

/// A value with where it was written.
#[derive(Debug, Clone)]
pub(crate) struct Field<T> {
    pub(crate) value: T,
    pub(crate) span: Range<usize>,
}

/// Collects diagnostics against one manifest text.
pub(crate) struct Cx<'t> {
    pub(crate) text: &'t str,
    pub(crate) diags: Vec<Diagnostic>,
}

impl<'t> Cx<'t> {
    pub(crate) fn new(text: &'t str) -> Self {
        Self {
            text,
            diags: Vec::new(),
        }
    }

    pub(crate) fn span(&self, range: Option<Range<usize>>) -> Option<Span> {
        range.map(|r| Span::locate(self.text, r))
    }

    /// Records a problem at `range`.
    pub(crate) fn error(
        &mut self,
        code: Code,
        path: &str,
        range: Option<Range<usize>>,
        message: impl Into<String>,
        fix: impl Into<String>,
    ) {
        let span = self.span(range);
        self.diags
            .push(Diagnostic::new(code, path, message, fix).at(span));
    }
}

fn kind(v: &DeValue<'_>) -> &'static str {
    match v {
        DeValue::String(_) => "a string",
        DeValue::Integer(_) => "an integer",
        DeValue::Float(_) => "a float",
        DeValue::Boolean(_) => "a boolean",
        DeValue::Datetime(_) => "a date-time",
        DeValue::Array(_) => "an array",
        DeValue::Table(_) => "a table",
    }
}

/// The closest known name to `name`, if it is close enough to be a typo.
pub(crate) fn did_you_mean<'k>(name: &str, known: &[&'k str]) -> Option<&'k str> {
    known
        .iter()
        .map(|k| (*k, strsim::jaro_winkler(name, k)))
        .filter(|(_, score)| *score >= 0.8)
        .max_by(|a, b| a.1.total_cmp(&b.1))
        .map(|(k, _)| k)
}

/// A table of the manifest, with its path (`plugin`, `hooks[0]`, ...).
pub(crate) struct Table<'a, 'i> {
    pub(crate) path: String,
    pub(crate) span: Range<usize>,
    map: &'a DeTable<'i>,
}

impl<'a, 'i> Table<'a, 'i> {
    pub(crate) fn root(doc: &'a Spanned<DeTable<'i>>) -> Self {
        Self {
            path: String::new(),
            span: doc.span(),
            map: doc.get_ref(),
        }
    }

    pub(crate) fn field_path(&self, key: &str) -> String {
        if self.path.is_empty() {
            key.to_owned()
        } else {
            format!("{}.{key}", self.path)
        }
    }

    /// Reports every key not in `known`, with a "did you mean" when one is close.
    pub(crate) fn deny_unknown(&self, cx: &mut Cx<'_>, known: &[&str], docs: &str) {
        for (key, _) in self.map.iter() {
            let name = key.get_ref().as_ref();
            if known.contains(&name) {
                continue;
            }
            let fix = match did_you_mean(name, known) {
                Some(close) => format!("did you mean `{close}`?"),
                None => format!(
                    "remove it; the fields here are: {} (see {docs})",
                    known.join(", ")
                ),
            };
            cx.error(
                Code::UnknownField,
                &self.field_path(name),
                Some(key.span()),
                format!("unknown field `{}`", name.escape_default()),
                fix,
            );
        }
    }

    fn get(&self, key: &str) -> Option<&'a Spanned<DeValue<'i>>> {
        self.map.get(key)
    }

    fn missing(&self, cx: &mut Cx<'_>, key: &str, what: &str, fix: String) {
        let at = if self.path.is_empty() {
            None
        } else {
            Some(self.span.clone())
        };
        let container = if self.path.is_empty() {
            "the manifest".to_owned()
        } else {
            format!("`[{}]`", self.path)
        };
        cx.error(
            Code::MissingField,
            &self.field_path(key),
            at,
            format!("{container} is missing `{key}` ({what})"),
            fix,
        );
    }

    fn wrong(&self, cx: &mut Cx<'_>, key: &str, v: &Spanned<DeValue<'i>>, want: &str) {
        cx.error(
            Code::WrongType,
            &self.field_path(key),
            Some(v.span()),
            format!("expected {want}, found {}", kind(v.get_ref())),
            format!("write `{key}` as {want}"),
        );
    }

    /// An optional string field.
    pub(crate) fn string(&self, cx: &mut Cx<'_>, key: &str) -> Option<Field<&'a str>> {
        let v = self.get(key)?;
        match v.get_ref() {
            DeValue::String(s) => Some(Field {
                value: s.as_ref(),
                span: v.span(),
            }),
            _ => {
                self.wrong(cx, key, v, "a string");
                None
            }
        }
    }

    /// A required string field; `example` shows a valid line.
    pub(crate) fn required_string(
        &self,
        cx: &mut Cx<'_>,
        key: &str,
        what: &str,
        example: &str,
    ) -> Option<Field<&'a str>> {
        if self.get(key).is_none() {
            self.missing(cx, key, what, format!("add `{example}`"));
            return None;
        }
        self.string(cx, key)
    }

    /// An optional integer field.
    pub(crate) fn integer(&self, cx: &mut Cx<'_>, key: &str) -> Option<Field<i64>> {
        let v = self.get(key)?;
        match v.get_ref() {
            DeValue::Integer(i) => match i64::from_str_radix(i.as_str(), i.radix()) {
                Ok(n) => Some(Field {
                    value: n,
                    span: v.span(),
                }),
                Err(_) => {
                    self.wrong(cx, key, v, "an integer that fits in 64 bits");
                    None
                }
            },
            _ => {
                self.wrong(cx, key, v, "an integer");
                None
            }
        }
    }

    /// An optional boolean field.
    pub(crate) fn boolean(&self, cx: &mut Cx<'_>, key: &str) -> Option<Field<bool>> {
        let v = self.get(key)?;
        match v.get_ref() {
            DeValue::Boolean(b) => Some(Field {
                value: *b,
                span: v.span(),
            }),
            _ => {
                self.wrong(cx, key, v, "`true` or `false`");
                None
            }
        }
    }

    /// An optional array of strings; wrong elements are reported and skipped.
    pub(crate) fn strings(&self, cx: &mut Cx<'_>, key: &str) -> Vec<Field<&'a str>> {
        let Some(v) = self.get(key) else {
            return Vec::new();
        };
        let DeValue::Array(items) = v.get_ref() else {
            self.wrong(cx, key, v, "an array of strings");
            return Vec::new();
        };
        let mut out = Vec::new();
        for (i, item) in items.iter().enumerate() {
            match item.get_ref() {
                DeValue::String(s) => out.push(Field {
                    value: s.as_ref(),
                    span: item.span(),
                }),
                other => cx.error(
                    Code::WrongType,
                    &format!("{}[{i}]", self.field_path(key)),
                    Some(item.span()),
                    format!("expected a string, found {}", kind(other)),
                    format!("write each entry of `{key}` as a quoted string"),
                ),
            }
        }
        out
    }

    /// A sub-table; `required` (what it must hold) reports it when missing.
    pub(crate) fn table(
        &self,
        cx: &mut Cx<'_>,
        key: &str,
        required: Option<&str>,
    ) -> Option<Table<'a, 'i>> {
        let Some(v) = self.get(key) else {
            if let Some(holds) = required {
                self.missing(
                    cx,
                    key,
                    "a table",
                    format!("add a `[{key}]` table with {holds}"),
                );
            }
            return None;
        };
        match v.get_ref() {
            DeValue::Table(map) => Some(Table {
                path: self.field_path(key),
                span: v.span(),
                map,
            }),
            _ => {
                self.wrong(cx, key, v, "a table");
                None
            }
        }
    }

    /// An array of tables (`[[key]]`, or an inline array of inline tables).
    pub(crate) fn tables(&self, cx: &mut Cx<'_>, key: &str) -> Vec<Table<'a, 'i>> {
        let Some(v) = self.get(key) else {
            return Vec::new();
        };
        let DeValue::Array(items) = v.get_ref() else {
            self.wrong(cx, key, v, &format!("an array of tables (`[[{key}]]`)"));
            return Vec::new();
        };
        let mut out = Vec::new();
        for (i, item) in items.iter().enumerate() {
            let path = format!("{}[{i}]", self.field_path(key));
            match item.get_ref() {
                DeValue::Table(map) => out.push(Table {
                    path,
                    span: item.span(),
                    map,
                }),
                other => cx.error(
                    Code::WrongType,
                    &path,
                    Some(item.span()),
                    format!("expected a table, found {}", kind(other)),
                    format!("write each entry as a `[[{key}]]` table"),
                ),
            }
        }
        out
    }

    /// Every entry of this table as a named sub-table (`[config.NAME]`),
    /// in file order, with the name and where it was written. An entry
    /// that is not a table is reported.
    pub(crate) fn named_tables(
        &self,
        cx: &mut Cx<'_>,
    ) -> Vec<(&'a str, Range<usize>, Table<'a, 'i>)> {
        let mut entries: Vec<_> = self.map.iter().collect();
        entries.sort_by_key(|(k, _)| k.span().start);
        let mut out = Vec::new();
        for (key, v) in entries {
            let name: &'a str = key.get_ref().as_ref();
            match v.get_ref() {
                DeValue::Table(map) => out.push((
                    name,
                    key.span(),
                    Table {
                        path: self.field_path(name),
                        span: v.span(),
                        map,
                    },
                )),
                _ => self.wrong(cx, name, v, "a table"),
            }
        }
        out
    }

    /// The raw value of `key`, for fields that accept several shapes.
    pub(crate) fn raw(&self, key: &str) -> Option<&'a Spanned<DeValue<'i>>> {
        self.get(key)
    }
}

/// Converts a TOML value to JSON (for inline JSON Schemas). Date-times
/// become strings; integers too large for JSON are refused.
pub(crate) fn to_json(v: &DeValue<'_>) -> Result<serde_json::Value, String> {
    use serde_json::Value;
    Ok(match v {
        DeValue::String(s) => Value::String(s.to_string()),
        DeValue::Integer(i) => i64::from_str_radix(i.as_str(), i.radix())
            .map(Value::from)
            .map_err(|_| format!("integer `{i}` does not fit in 64 bits"))?,
        DeValue::Float(f) => {
            let n: f64 = f
                .as_str()
                .replace('_', "")
                .parse()
                .map_err(|_| format!("float `{f}` cannot be read"))?;
            serde_json::Number::from_f64(n)
                .map(Value::Number)
                .ok_or_else(|| format!("float `{f}` (inf or nan) has no JSON form"))?
        }
        DeValue::Boolean(b) => Value::Bool(*b),
        DeValue::Datetime(d) => Value::String(d.to_string()),
        DeValue::Array(items) => Value::Array(
            items
                .iter()
                .map(|i| to_json(i.get_ref()))
                .collect::<Result<_, _>>()?,
        ),
        DeValue::Table(map) => Value::Object(
            map.iter()
                .map(|(k, v)| Ok((k.get_ref().to_string(), to_json(v.get_ref())?)))
                .collect::<Result<_, String>>()?,
        ),
    })
}
