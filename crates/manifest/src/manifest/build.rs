//! `[build]` and `[limits]`: how a package is built and what an instance may use.

use super::*;

pub(super) fn read_build(cx: &mut Cx<'_>, t: &Table<'_, '_>) -> Option<Build> {
    t.deny_unknown(cx, fields::BUILD, DOCS);
    let mut ok = true;
    let language = match t.string(cx, "language") {
        None => None,
        Some(f) => match f.value.parse::<Language>() {
            Ok(l) => Some(l),
            Err(_) => {
                cx.error(
                    Code::BuildLanguage,
                    "build.language",
                    Some(f.span),
                    format!("`{}` is not a language Yoi builds", f.value.escape_default()),
                    "write `language = \"rust\"`, `\"python\"` or `\"javascript\"`, or leave it out to let `yoi plugin pack` detect it",
                );
                ok = false;
                None
            }
        },
    };
    let entry = match t.string(cx, "entry") {
        None => None,
        Some(f) => match check_entry(language, f.value) {
            Ok(path) => Some(path),
            Err(why) => {
                cx.error(
                    Code::BuildEntry,
                    "build.entry",
                    Some(f.span),
                    format!("entry `{}` {why}", f.value.escape_default()),
                    "name the module holding the handlers, relative to the package folder: `entry = \"app.py\"` for Python, `entry = \"app.js\"` for JavaScript (the defaults); Rust plugins leave it out",
                );
                ok = false;
                None
            }
        },
    };
    ok.then_some(Build { language, entry })
}

pub(super) fn read_limits(cx: &mut Cx<'_>, t: &Table<'_, '_>) -> Option<Limits> {
    t.deny_unknown(cx, fields::LIMITS, DOCS);
    let memory_mb = match t.integer(cx, "memory_mb") {
        None => None,
        Some(f) if MEMORY_MB_RANGE.contains(&f.value) => u32::try_from(f.value).ok(),
        Some(f) => {
            cx.error(
                Code::LimitRange,
                "limits.memory_mb",
                Some(f.span),
                format!("{} MiB is out of bounds", f.value),
                format!(
                    "use {} to {} MiB; the host clamps it to its own maximum",
                    MEMORY_MB_RANGE.start(),
                    MEMORY_MB_RANGE.end()
                ),
            );
            return None;
        }
    };
    Some(Limits { memory_mb })
}
