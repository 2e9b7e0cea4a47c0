//! Redact: masks secrets in tool output before the model sees it
//! (`tool.post_exec`): API keys such as `sk-...` and `password=...` values.

use std::sync::LazyLock;

use regex_lite::Regex;
use yoi_pdk::prelude::*;

/// `sk-` keys (OpenAI-style and similar): the prefix stays, the rest is masked.
static API_KEY: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"\bsk-[A-Za-z0-9_-]{8,}").expect("valid pattern"));
/// `password=...`, `password: ...`, `PASSWORD = ...`: the value is masked.
static PASSWORD: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r#"(?i)\b(passw(?:or)?d\s*[=:]\s*)[^\s&"',;]+"#).expect("valid pattern")
});

struct Redact;

impl Plugin for Redact {
    fn tool_post_exec(mut result: ToolResult) -> HookResult<ToolResult> {
        let (masked, count) = mask(&result.output);
        if count == 0 {
            return Ok(Outcome::Continue);
        }
        log::write(
            log::Level::Info,
            "masked secrets in tool output",
            &[("count", &count.to_string())],
        );
        result.output = masked;
        Ok(Outcome::change(result))
    }
}

/// Returns the text with secrets masked, and how many were masked.
fn mask(text: &str) -> (String, usize) {
    let keys = API_KEY.find_iter(text).count();
    let text = API_KEY.replace_all(text, "sk-****");
    let passwords = PASSWORD.captures_iter(&text).count();
    let text = PASSWORD.replace_all(&text, "${1}****");
    (text.into_owned(), keys + passwords)
}

yoi_pdk::register!(Redact => tool_post_exec);

#[cfg(test)]
mod tests {
    use super::mask;

    #[test]
    fn masks_keys_and_passwords_only() {
        let (out, n) = mask("key=sk-abcDEF123456 user=bob password=hunter2 Password: s3cr3t&x=1");
        assert_eq!(out, "key=sk-**** user=bob password=**** Password: ****&x=1");
        assert_eq!(n, 3);
        assert_eq!(
            mask("sk-short and passwordless"),
            ("sk-short and passwordless".into(), 0)
        );
    }
}
