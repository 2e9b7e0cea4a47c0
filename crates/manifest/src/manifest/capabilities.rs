//! `[capabilities]`: what a plugin asks to be granted.

use super::*;

pub(super) fn read_capabilities(cx: &mut Cx<'_>, t: &Table<'_, '_>) -> Option<Capabilities> {
    t.deny_unknown(cx, fields::CAPABILITIES, DOCS);
    let mut ok = true;
    let dup = |cx: &mut Cx<'_>, path: &str, span, what: String| {
        cx.error(
            Code::CapabilityDuplicate,
            path,
            Some(span),
            format!("{what} is requested more than once"),
            "request each capability once",
        );
    };
    let mut https = Vec::new();
    for (i, f) in t.strings(cx, "https").into_iter().enumerate() {
        let path = format!("capabilities.https[{i}]");
        match f.value.parse::<HttpsPattern>() {
            Ok(p) if https.contains(&p) => {
                ok = false;
                dup(cx, &path, f.span, format!("`{p}`"));
            }
            Ok(p) => https.push(p),
            Err(why) => {
                ok = false;
                cx.error(
                    Code::HttpsPattern,
                    &path,
                    Some(f.span),
                    format!("`{}` {why}", f.value.escape_default()),
                    "write a host like `api.example.com`, `*.example.com` (subdomains only), optionally with `:port` or `http://`",
                );
            }
        }
    }
    let mut fs: Vec<FsAccess> = Vec::new();
    for entry in t.tables(cx, "fs") {
        entry.deny_unknown(cx, fields::FS, DOCS);
        let path = entry
            .required_string(cx, "path", "a path in the data root", "path = \"cache\"")
            .and_then(|f| match relative_path(f.value) {
                Ok(p) if fs.iter().any(|e| e.path == p) => {
                    dup(cx, &format!("{}.path", entry.path), f.span, format!("path `{p}`"));
                    None
                }
                Ok(p) => Some(p),
                Err(why) => {
                    cx.error(
                        Code::FsPath,
                        &format!("{}.path", entry.path),
                        Some(f.span),
                        format!("`{}` {why}", f.value.escape_default()),
                        "name a folder inside the plugin's data root with a relative path, e.g. `cache`",
                    );
                    None
                }
            });
        let mode = entry
            .required_string(cx, "mode", "`ro` or `rw`", "mode = \"ro\"")
            .and_then(|f| match f.value {
                "ro" => Some(FsMode::Ro),
                "rw" => Some(FsMode::Rw),
                other => {
                    cx.error(
                        Code::FsMode,
                        &format!("{}.mode", entry.path),
                        Some(f.span),
                        format!("`{}` is not an access mode", other.escape_default()),
                        "write `mode = \"ro\"` (read only) or `mode = \"rw\"` (read and write)",
                    );
                    None
                }
            });
        match (path, mode) {
            (Some(path), Some(mode)) => fs.push(FsAccess { path, mode }),
            _ => ok = false,
        }
    }
    let mut secrets: Vec<String> = Vec::new();
    for (i, f) in t.strings(cx, "secrets").into_iter().enumerate() {
        let path = format!("capabilities.secrets[{i}]");
        if !valid_secret_key(f.value) {
            ok = false;
            cx.error(
                Code::SecretKey,
                &path,
                Some(f.span),
                format!("`{}` is not a valid secret key", f.value.escape_default()),
                "use letters, digits, `_`, `.` or `-`, starting with a letter or `_`, e.g. `WEATHER_API_KEY`",
            );
        } else if secrets.iter().any(|s| s == f.value) {
            ok = false;
            dup(cx, &path, f.span, format!("secret `{}`", f.value));
        } else {
            secrets.push(f.value.to_owned());
        }
    }
    let websocket = read_patterns::<WebSocketPattern>(
        cx,
        t,
        "websocket",
        Code::WebSocketPattern,
        "write an endpoint host like `gateway.example.com` (wss://, the default) or `ws://127.0.0.1:9000`, optionally with `:port`; no path",
        &mut ok,
    );
    let routes = read_patterns::<RoutePattern>(
        cx,
        t,
        "routes",
        Code::RoutePattern,
        "write a path on the host's inbound listener, e.g. `/hooks/acme`: letters, digits, `-`, `_`, `.`, `~` between `/`",
        &mut ok,
    );
    let log = t.boolean(cx, "log").is_none_or(|f| f.value);
    ok.then_some(Capabilities {
        https,
        fs,
        secrets,
        websocket,
        routes,
        log,
    })
}

/// A list of patterns of one capability kind, each parsed, each once.
fn read_patterns<P>(
    cx: &mut Cx<'_>,
    t: &Table<'_, '_>,
    key: &str,
    code: Code,
    fix: &str,
    ok: &mut bool,
) -> Vec<P>
where
    P: std::str::FromStr<Err = String> + PartialEq + fmt::Display,
{
    let mut out: Vec<P> = Vec::new();
    for (i, f) in t.strings(cx, key).into_iter().enumerate() {
        let path = format!("capabilities.{key}[{i}]");
        match f.value.parse::<P>() {
            Ok(p) if out.contains(&p) => {
                *ok = false;
                cx.error(
                    Code::CapabilityDuplicate,
                    &path,
                    Some(f.span),
                    format!("`{p}` is requested more than once"),
                    "request each capability once",
                );
            }
            Ok(p) => out.push(p),
            Err(why) => {
                *ok = false;
                cx.error(
                    code,
                    &path,
                    Some(f.span),
                    format!("`{}` {why}", f.value.escape_default()),
                    fix,
                );
            }
        }
    }
    out
}
