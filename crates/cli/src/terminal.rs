//! Text on its way to a terminal. Much of what `yoi` prints came from
//! outside: plugin ids and reasons in the audit log, a manifest's setting
//! descriptions, a WebSocket peer's close reason, unknown JSON field names.
//! A control character in any of them could move the cursor, erase a line
//! and write a fake one, so every line the CLI prints goes through
//! [`safe`] ([`outln!`] and [`errln!`] instead of `println!` and
//! `eprintln!`): control characters, C1 controls and the bidirectional
//! overrides become `\u001b`-style escapes, which also stay valid inside
//! JSON strings. Newlines and tabs are kept. docs/operations.md.

use std::borrow::Cow;
use std::io::Write as _;

/// Whether `c` must not reach a terminal as it is.
fn hostile(c: char) -> bool {
    (c.is_control() && c != '\n' && c != '\t')
        // Bidirectional embeddings, overrides and isolates reorder what is
        // shown; line and paragraph separators break lines.
        || matches!(c, '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}' | '\u{2028}' | '\u{2029}')
}

/// `text` with every character that could act on a terminal escaped.
pub(crate) fn safe(text: &str) -> Cow<'_, str> {
    if !text.chars().any(hostile) {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 16);
    for c in text.chars() {
        if hostile(c) {
            out.push_str(&format!("\\u{:04x}", c as u32));
        } else {
            out.push(c);
        }
    }
    Cow::Owned(out)
}

/// `text` made safe, except for colour sequences (`ESC [ digits ; … m`),
/// which are kept: for output the CLI styled itself.
pub(crate) fn safe_styled(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find('\u{1b}') {
        out.push_str(&safe(&rest[..at]));
        let tail = &rest[at + 1..];
        let sgr = tail.strip_prefix('[').and_then(|t| {
            let end = t.find(|c: char| !(c.is_ascii_digit() || c == ';'))?;
            (t[end..].starts_with('m')).then_some(end + 2)
        });
        match sgr {
            Some(len) => {
                out.push_str(&rest[at..at + 1 + len]);
                rest = &tail[len..];
            }
            None => {
                out.push_str("\\u001b");
                rest = tail;
            }
        }
    }
    out.push_str(&safe(rest));
    out
}

/// Writes `text` made safe to standard output. A closed pipe (`yoi list |
/// head`) is not an error worth a panic.
pub(crate) fn write_out(text: &str) {
    let _ = std::io::stdout().lock().write_all(safe(text).as_bytes());
}

/// Writes `text` to standard output with its colours and nothing else
/// ([`safe_styled`]).
pub(crate) fn write_styled(text: &str) {
    let _ = std::io::stdout()
        .lock()
        .write_all(safe_styled(text).as_bytes());
}

/// Writes `text` made safe to standard error.
pub(crate) fn write_err(text: &str) {
    let _ = std::io::stderr().lock().write_all(safe(text).as_bytes());
}

/// `println!` through [`safe`].
macro_rules! outln {
    () => { $crate::terminal::write_out("\n") };
    ($($arg:tt)*) => { $crate::terminal::write_out(&format!("{}\n", format_args!($($arg)*))) };
}

/// `eprintln!` through [`safe`].
macro_rules! errln {
    () => { $crate::terminal::write_err("\n") };
    ($($arg:tt)*) => { $crate::terminal::write_err(&format!("{}\n", format_args!($($arg)*))) };
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn control_characters_are_escaped_and_text_kept() {
        assert_eq!(safe("plain text\n\tindented"), "plain text\n\tindented");
        assert_eq!(
            safe("ok\r\u{1b}[K fake line"),
            "ok\\u000d\\u001b[K fake line"
        );
        assert_eq!(safe("a\u{9b}31mb\u{7f}"), "a\\u009b31mb\\u007f");
        assert_eq!(safe("x\u{202e}gpj.exe"), "x\\u202egpj.exe");
        assert_eq!(safe("ünïcödé ✓"), "ünïcödé ✓");
        // Still a JSON string after escaping.
        let json = serde_json::to_string("a\u{9b}b\u{1b}").expect("json");
        let back: String = serde_json::from_str(&safe(&json)).expect("valid JSON");
        assert_eq!(back, "a\u{9b}b\u{1b}");
    }

    #[test]
    fn only_colour_sequences_survive_in_styled_text() {
        assert_eq!(
            safe_styled("\u{1b}[1;31merror\u{1b}[0m: \u{1b}]0;title\u{7}x\u{1b}[2J"),
            "\u{1b}[1;31merror\u{1b}[0m: \\u001b]0;title\\u0007x\\u001b[2J"
        );
        assert_eq!(safe_styled("end\u{1b}"), "end\\u001b");
    }
}
