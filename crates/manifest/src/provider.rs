//! `[[providers]]`: model providers a plugin serves, and the model names
//! each one answers for.

use std::fmt;

use serde::Serialize;

/// One `[[providers]]` entry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Provider {
    /// Name, unique within the plugin: `[a-z][a-z0-9_-]{0,63}`. Hosts show
    /// it namespaced as `<plugin id>.<name>`.
    pub name: String,
    /// The models it serves, in file order: exact names or prefixes.
    pub models: Vec<ModelPattern>,
    /// Time limit of one completion, in milliseconds.
    pub timeout_ms: u32,
}

impl Provider {
    /// `timeout_ms` when the manifest does not say: a minute, since a long
    /// completion streams for that long.
    pub const DEFAULT_TIMEOUT_MS: u32 = 60_000;
    /// The largest `timeout_ms`: ten minutes.
    pub const MAX_TIMEOUT_MS: u32 = 600_000;

    /// Whether this provider serves `model`.
    pub fn serves(&self, model: &str) -> bool {
        self.models.iter().any(|m| m.matches(model))
    }
}

/// A model name a provider serves: `gpt-4o-mini` exactly, or every name
/// starting with `local-` (`local-*`).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum ModelPattern {
    /// This name only.
    Exact(String),
    /// Every name starting with this (written with a trailing `*`).
    Prefix(String),
}

/// Longest model name or pattern.
const MAX_MODEL_BYTES: usize = 128;

impl ModelPattern {
    /// Reads `gpt-4o` or `gpt-4o*`. Names are 1 to 128 printable ASCII
    /// characters without spaces; `*` may only end a pattern.
    pub fn parse(text: &str) -> Result<ModelPattern, String> {
        let (name, prefix) = match text.strip_suffix('*') {
            Some(rest) => (rest, true),
            None => (text, false),
        };
        if name.is_empty() && !prefix {
            return Err("is empty".into());
        }
        if text.len() > MAX_MODEL_BYTES {
            return Err(format!(
                "is {} bytes long; the limit is {MAX_MODEL_BYTES}",
                text.len()
            ));
        }
        if let Some(bad) = name.chars().find(|c| !c.is_ascii_graphic() || *c == '*') {
            return Err(format!(
                "contains `{}`; use printable ASCII without spaces, and `*` only at the end",
                bad.escape_default()
            ));
        }
        Ok(if prefix {
            ModelPattern::Prefix(name.to_owned())
        } else {
            ModelPattern::Exact(name.to_owned())
        })
    }

    /// Whether `model` is this name, or starts with this prefix.
    pub fn matches(&self, model: &str) -> bool {
        match self {
            ModelPattern::Exact(name) => model == name,
            ModelPattern::Prefix(prefix) => model.starts_with(prefix.as_str()),
        }
    }
}

impl fmt::Display for ModelPattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ModelPattern::Exact(name) => f.write_str(name),
            ModelPattern::Prefix(prefix) => write!(f, "{prefix}*"),
        }
    }
}

impl Serialize for ModelPattern {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn patterns_are_exact_names_or_trailing_star_prefixes() {
        let p = |s| ModelPattern::parse(s).unwrap();
        assert!(p("gpt-4o").matches("gpt-4o"));
        assert!(!p("gpt-4o").matches("gpt-4o-mini"));
        assert!(p("gpt-4o*").matches("gpt-4o-mini"));
        assert!(p("*").matches("anything"));
        assert_eq!(p("local-*").to_string(), "local-*");
        for bad in ["", "a b", "gp*t", "**", "é"] {
            assert!(ModelPattern::parse(bad).is_err(), "{bad:?}");
        }
        assert!(ModelPattern::parse(&"m".repeat(129)).is_err());
    }

    proptest::proptest! {
        #[test]
        fn a_parsed_pattern_prints_back_as_written(text in "[ -~]{0,140}") {
            if let Ok(p) = ModelPattern::parse(&text) {
                proptest::prop_assert_eq!(p.to_string(), text);
            }
        }
    }
}
