//! Redact: masks secrets — API keys such as `sk-...` and `password=...`
//! values — in tool output before the model sees it (`tool.post_exec`),
//! in results before they are stored (`tool.result_persist`), and in
//! responses before they are delivered (`response.pre_deliver`).
//!
//! What it masks is a setting (`patterns` in plugin.toml's `[config]`):
//! each rule is a regular expression and its replacement (`${1}` keeps the
//! first group). The defaults mask `sk-` keys and `password=` values.

use std::sync::OnceLock;

use regex_lite::Regex;
use yoi_pdk::prelude::*;

/// One masking rule as the operator writes it.
#[derive(serde::Deserialize)]
struct Rule {
    pattern: String,
    replace: String,
}

/// The settings plugin.toml declares.
#[derive(serde::Deserialize)]
struct Settings {
    patterns: Vec<Rule>,
}

/// The rules, compiled once per instance (the settings do not change
/// during an instance's life).
fn rules() -> Result<&'static [(Regex, String)], Error> {
    static RULES: OnceLock<Result<Vec<(Regex, String)>, Error>> = OnceLock::new();
    let compiled = RULES.get_or_init(|| {
        let settings: &Settings = config::load()?;
        settings
            .patterns
            .iter()
            .enumerate()
            .map(|(i, rule)| {
                Regex::new(&rule.pattern)
                    .map(|re| (re, rule.replace.clone()))
                    .map_err(|e| {
                        Error::Config(format!(
                            "patterns[{i}] `{}` is not a regular expression: {e}",
                            rule.pattern
                        ))
                    })
            })
            .collect()
    });
    compiled.as_deref().map_err(Clone::clone)
}

struct Redact;

impl Plugin for Redact {
    fn tool_post_exec(result: ToolResult) -> HookResult<ToolResult> {
        masked(result, "tool output", |r| &mut r.output)
    }

    fn tool_result_persist(persist: PersistResult) -> HookResult<PersistResult> {
        masked(persist, "stored result", |p| &mut p.result)
    }

    fn response_pre_deliver(delivery: Delivery) -> HookResult<Delivery> {
        masked(delivery, "response", |d| &mut d.content)
    }
}

/// Masks the secrets in one text field of an event; changes the event only
/// when something was masked.
fn masked<E>(mut event: E, what: &str, field: impl Fn(&mut E) -> &mut String) -> HookResult<E> {
    let rules = rules()?;
    let text = field(&mut event);
    let (masked, count) = mask(text, rules);
    if count == 0 {
        return Ok(Outcome::Continue);
    }
    *text = masked;
    log::write(
        log::Level::Info,
        &format!("masked secrets in {what}"),
        &[("count", &count.to_string())],
    );
    Ok(Outcome::change(event))
}

/// Returns the text with every rule applied, and how many matches were
/// masked.
fn mask(text: &str, rules: &[(Regex, String)]) -> (String, usize) {
    let mut masked = text.to_owned();
    let mut count = 0;
    for (pattern, replace) in rules {
        count += pattern.find_iter(&masked).count();
        masked = pattern.replace_all(&masked, replace.as_str()).into_owned();
    }
    // Already-masked text matches the patterns too; it is not a new secret.
    if masked == text {
        return (masked, 0);
    }
    (masked, count)
}

yoi_pdk::register!(Redact => tool_post_exec, tool_result_persist, response_pre_deliver);

#[cfg(test)]
mod tests {
    use super::*;

    /// The defaults in plugin.toml, compiled.
    fn defaults() -> Vec<(Regex, String)> {
        let text = include_str!("../plugin.toml");
        let manifest: toml::Table = toml::from_str(text).expect("plugin.toml");
        manifest["config"]["patterns"]["default"]
            .as_array()
            .expect("a default list")
            .iter()
            .map(|rule| {
                let pattern = rule["pattern"].as_str().expect("pattern");
                let replace = rule["replace"].as_str().expect("replace");
                (Regex::new(pattern).expect("valid"), replace.to_owned())
            })
            .collect()
    }

    #[test]
    fn the_default_rules_mask_keys_and_passwords_only() {
        let rules = defaults();
        let (out, n) = mask(
            "key=sk-abcDEF123456 user=bob password=hunter2 Password: s3cr3t&x=1",
            &rules,
        );
        assert_eq!(out, "key=sk-**** user=bob password=**** Password: ****&x=1");
        assert_eq!(n, 3);
        assert_eq!(mask(&out, &rules), (out.clone(), 0));
        assert_eq!(
            mask("sk-short and passwordless", &rules),
            ("sk-short and passwordless".into(), 0)
        );
    }
}
