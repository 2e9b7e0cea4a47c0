//! Redact: masks secrets — API keys such as `sk-...` and `password=...`
//! values — in tool output before the model sees it (`tool.post_exec`),
//! in results before they are stored (`tool.result_persist`), and in
//! responses before they are delivered (`response.pre_deliver`).

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
    let text = field(&mut event);
    let (masked, count) = mask(text);
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

/// Returns the text with secrets masked, and how many were masked.
fn mask(text: &str) -> (String, usize) {
    let original = text;
    let keys = API_KEY.find_iter(text).count();
    let text = API_KEY.replace_all(text, "sk-****");
    let passwords = PASSWORD.captures_iter(&text).count();
    let masked = PASSWORD.replace_all(&text, "${1}****").into_owned();
    // Already-masked text matches the patterns too; it is not a new secret.
    if masked == original {
        return (masked, 0);
    }
    (masked, keys + passwords)
}

yoi_pdk::register!(Redact => tool_post_exec, tool_result_persist, response_pre_deliver);

#[cfg(test)]
mod tests {
    use super::mask;

    #[test]
    fn masks_keys_and_passwords_only() {
        let (out, n) = mask("key=sk-abcDEF123456 user=bob password=hunter2 Password: s3cr3t&x=1");
        assert_eq!(out, "key=sk-**** user=bob password=**** Password: ****&x=1");
        assert_eq!(n, 3);
        assert_eq!(mask(&out), (out.clone(), 0));
        assert_eq!(
            mask("sk-short and passwordless"),
            ("sk-short and passwordless".into(), 0)
        );
    }
}
