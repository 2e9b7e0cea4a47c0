//! `[build]`: how `yoi plugin pack` turns the plugin's source into its
//! component. Hosts never read it; a package's component is what runs.

use std::fmt;
use std::str::FromStr;

use serde::Serialize;

/// The language a plugin is written in, and so the toolchain that builds it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Language {
    /// A Rust crate built with `yoi-pdk` for `wasm32-wasip2` (cargo).
    Rust,
    /// A Python module built with componentize-py.
    Python,
    /// A JavaScript module built with componentize-js.
    #[serde(rename = "javascript")]
    JavaScript,
}

impl Language {
    /// Every language, in the order `yoi plugin pack` detects them.
    pub const ALL: [Language; 3] = [Language::Rust, Language::Python, Language::JavaScript];

    /// The name written in `[build] language`.
    pub fn as_str(self) -> &'static str {
        match self {
            Language::Rust => "rust",
            Language::Python => "python",
            Language::JavaScript => "javascript",
        }
    }

    /// The module holding the handlers when `[build] entry` is not given
    /// (`None` for Rust, whose entry is the crate).
    pub fn default_entry(self) -> Option<&'static str> {
        match self {
            Language::Rust => None,
            Language::Python => Some("app.py"),
            Language::JavaScript => Some("app.js"),
        }
    }

    /// The file name endings an entry module may have.
    pub fn entry_extensions(self) -> &'static [&'static str] {
        match self {
            Language::Rust => &[],
            Language::Python => &["py"],
            Language::JavaScript => &["js", "mjs"],
        }
    }
}

impl fmt::Display for Language {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An unknown `[build] language`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown language `{0}`; use rust, python or javascript")]
pub struct UnknownLanguage(pub String);

impl FromStr for Language {
    type Err = UnknownLanguage;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "rust" => Ok(Language::Rust),
            "python" => Ok(Language::Python),
            "javascript" | "js" => Ok(Language::JavaScript),
            other => Err(UnknownLanguage(other.to_owned())),
        }
    }
}

/// `[build]`: the plugin's language and, for Python and JavaScript, the
/// module holding its handlers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Build {
    /// The language; `None` lets `yoi plugin pack` detect it from the
    /// folder (a `Cargo.toml`, `app.py` or `app.js`).
    pub language: Option<Language>,
    /// The entry module, relative to the package folder (`/`-separated).
    pub entry: Option<String>,
}

impl Build {
    /// The entry module for `language`: the declared one, else the default.
    pub fn entry_for(&self, language: Language) -> Option<&str> {
        self.entry.as_deref().or(language.default_entry())
    }
}

/// Checks an entry module's path: relative, inside the package, with the
/// language's file ending. Returns why not.
pub(crate) fn check_entry(language: Option<Language>, entry: &str) -> Result<String, String> {
    let path = crate::capability::relative_path(entry)?;
    // The path is written into generated import statements.
    if let Some(bad) = path
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.' | '/')))
    {
        return Err(format!(
            "contains `{}`; use letters, digits, `_`, `-`, `.` and `/`",
            bad.escape_default()
        ));
    }
    if path == "." {
        return Err("names the package folder, not a module".into());
    }
    let ext = path.rsplit_once('.').map(|(_, e)| e).unwrap_or("");
    let expected: Vec<&str> = match language {
        Some(l) => l.entry_extensions().to_vec(),
        None => Language::ALL
            .iter()
            .flat_map(|l| l.entry_extensions().iter().copied())
            .collect(),
    };
    if language == Some(Language::Rust) {
        return Err("is set, but a Rust plugin's entry is its crate (Cargo.toml)".into());
    }
    if !expected.contains(&ext) {
        return Err(format!(
            "does not end in {}",
            expected
                .iter()
                .map(|e| format!("`.{e}`"))
                .collect::<Vec<_>>()
                .join(" or ")
        ));
    }
    Ok(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn languages_round_trip_and_js_is_an_alias() {
        for l in Language::ALL {
            assert_eq!(l.as_str().parse::<Language>(), Ok(l));
        }
        assert_eq!("js".parse::<Language>(), Ok(Language::JavaScript));
        assert!("go".parse::<Language>().is_err());
    }

    #[test]
    fn entries_stay_inside_and_match_the_language() {
        assert_eq!(
            check_entry(Some(Language::Python), "src/./app.py").unwrap(),
            "src/app.py"
        );
        assert!(check_entry(Some(Language::JavaScript), "app.mjs").is_ok());
        assert!(check_entry(None, "app.js").is_ok());
        for (lang, bad) in [
            (Some(Language::Python), "../app.py"),
            (Some(Language::Python), "/app.py"),
            (Some(Language::Python), "app.js"),
            (Some(Language::Rust), "src/lib.rs"),
            (None, "."),
            (None, "app.rb"),
            (Some(Language::JavaScript), "it's.js"),
            (Some(Language::Python), "ünï.py"),
        ] {
            assert!(check_entry(lang, bad).is_err(), "{bad}");
        }
    }
}
